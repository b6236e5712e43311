"""A front for SeaweedFS's S3 API that answers Tansu's LISTs itself (local durable broker only).

Tansu 0.6 keeps each produced batch as one S3 object, and every fetch that finds new records
LISTs all the batch objects of the partition (tansu-storage, dynostore fetch) to find the ones
from the fetch offset on. Every service reads rx.events, so that LIST ran about 40 times a
second, SeaweedFS spent about 10 µs per listed object on it, and the log's growth took its CPU
from a quarter of a core to all of one: a 10,000-prescription run stalled.

This proxy passes every request through unchanged (the SigV4 signature covers the host and the
query as sent, so both go on as they came), keeps its own copy of each listing, loaded from
SeaweedFS once and kept current by the writes it relays (infra/s3_listing.py says how, and why
that is consistent), and answers LISTs from it. It also gives readers the batch objects that
another reader has just fetched (infra/s3_objects.py). Identical LISTs or GETs sent on to
SeaweedFS at the same moment, with no write completed in between, share one request.

Answers from the front skip SeaweedFS's signature check. Both listen on 127.0.0.1 with
throwaway credentials (infra.launchers.S3_ENV), and a listing is only loaded from a signed request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from infra.s3_listing import Listings, answerable, parse_page
from infra.s3_objects import ObjectCache, StoredObject, kept_kind
from infra.s3_writes import DELETED, UNKNOWN, Outcome, write_outcome

log = logging.getLogger("rxflow.s3cache")

# Headers of one connection, not of the request (RFC 9110 section 7.6.1); the body's length is
# set again by whoever writes it.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "transfer-encoding", "upgrade", "content-length"})
READS = frozenset({"GET", "HEAD"})
STATS_EVERY_S = 60.0
# Not an S3 path: bucket names cannot hold an underscore.
STATS_PATH = "/_rxflow/stats"


@dataclass(frozen=True)
class _Answer:
    """What SeaweedFS answered (502 and nothing else when it could not be reached)."""

    status: int
    headers: CIMultiDict[str]
    body: bytes
    length: str | None = None  # its Content-Length, which a HEAD answer carries without a body

    def response(self) -> web.Response:
        return web.Response(status=self.status, headers=self.headers, body=self.body)


def _kind(key: str) -> str:
    """What an object is, for the counts: a batch, or the file name (watermark.json, meta.json...)."""
    return "records" if key.endswith(".batch") else key.rsplit("/", 1)[-1] or "(bucket)"


def _bucket_and_key(path: str) -> tuple[str, str]:
    """Path-style addressing, as Tansu uses: /bucket/key, from the decoded path (aiohttp's
    request.path), as the prefix is read from the decoded query."""
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


class S3ListCache:
    """The proxy: an aiohttp server forwarding to one S3 endpoint."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.listings = Listings()
        # LISTs and batch GETs sent on to S3 and not answered yet, by what they ask and how many
        # writes had completed in the bucket when they were sent.
        self._in_flight: dict[tuple[str, ...], asyncio.Future[_Answer]] = {}
        self._writes: dict[str, int] = {}  # writes completed per bucket
        self.objects = ObjectCache()
        self.answered = 0  # LISTs answered from a kept listing
        self.shared = 0  # LISTs answered by one already out
        self.sent = 0  # LISTs sent on to S3
        self.relayed: Counter[str] = Counter()  # other requests, by method and kind of object
        self.session: ClientSession | None = None

    async def start(self, app: web.Application) -> None:
        # Bytes pass as they are: no decompression, and no Accept-Encoding of our own that would
        # make SeaweedFS compress answers Tansu did not ask to have compressed.
        self.session = ClientSession(connector=TCPConnector(limit=64), auto_decompress=False,
                                     timeout=ClientTimeout(total=120), skip_auto_headers=("Accept-Encoding",))
        app["stats"] = asyncio.create_task(self._log_stats())

    async def stop(self, app: web.Application) -> None:
        app["stats"].cancel()
        if self.session is not None:
            await self.session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == STATS_PATH:
            return web.json_response(self.stats())
        bucket, key = _bucket_and_key(request.path)
        if request.method == "GET" and not key and "list-type" in request.query:  # ListObjectsV2
            return await self._list(request, bucket)
        if request.method == "GET" and kept_kind(key, request.headers, request.query_string):
            return await self._get_batch(request, bucket, key)
        self.relayed[f"{request.method} {_kind(key)}"] += 1
        if request.method in READS:
            return await self._forward(request)
        outcome: Outcome = UNKNOWN  # until the answer says otherwise
        try:
            answer = await self._send(request)
            outcome = write_outcome(request, key, await request.read(), answer.status, answer.headers)
            return answer.response()
        finally:  # before Tansu hears of the write, so that its next LIST or GET shows it
            self._writes[bucket] = self._writes.get(bucket, 0) + 1
            self.objects.drop(bucket, key)
            self._record(bucket, key, outcome)

    async def _get_batch(self, request: web.Request, bucket: str, key: str) -> web.StreamResponse:
        """A batch object, from the front's copy or from S3 (readers asking at once share one GET)."""
        stored = self.objects.get(bucket, key)
        if stored is None:
            writes = self._writes.get(bucket, 0)
            shared, sent = self._once(("GET", bucket, key, str(writes)), lambda: self._send(request))
            self.relayed["GET records"] += sent
            answer = await asyncio.shield(shared)
            if answer.status != 200:
                return answer.response()
            stored = StoredObject(answer.headers, answer.body)
            if writes == self._writes.get(bucket, 0):  # no write relayed while it was out
                self.objects.keep(bucket, key, stored)
        return web.Response(headers=stored.headers, body=stored.body)

    def _once(self, ask: tuple[str, ...],
              send: Callable[[], Awaitable[_Answer]]) -> tuple[asyncio.Future[_Answer], bool]:
        """The request for `ask` already out, or `send` sent now (True) as a task of its own, so
        that a reader who hangs up does not take it from the others."""
        shared = self._in_flight.get(ask)
        if shared is not None:
            return shared, False
        shared = self._in_flight[ask] = asyncio.ensure_future(send())
        shared.add_done_callback(lambda _: self._in_flight.pop(ask, None))
        return shared, True

    def _record(self, bucket: str, key: str, outcome: Outcome) -> None:
        if outcome is UNKNOWN or not key:  # (no key: a bucket-wide request)
            self.listings.unknown(bucket, key)
        elif outcome is DELETED:
            self.listings.delete(bucket, key)
        elif isinstance(outcome, str):
            self.listings.put(bucket, key, outcome)

    async def _list(self, request: web.Request, bucket: str) -> web.StreamResponse:
        prefix = request.query.get("prefix", "")
        kept = self.listings.answer(bucket, prefix, request.query)
        if kept is not None:
            self.answered += 1
            return web.Response(body=kept, content_type="application/xml")
        return (await self._list_once(request, bucket, prefix)).response()

    async def _list_once(self, request: web.Request, bucket: str, prefix: str) -> _Answer:
        # One produce wakes every reader of the partition at once, and each LISTs it: those that
        # ask while the same LIST is out, with no write completed since it was sent, share it.
        # The answer depends on the query's parameters, not on its signature or date.
        query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(request.query_string, keep_blank_values=True)))
        ask = ("LIST", bucket, query, str(self._writes.get(bucket, 0)))
        shared, sent = self._once(ask, lambda: self._load(request, bucket, prefix))
        self.sent += sent
        self.shared += not sent
        return await asyncio.shield(shared)

    async def _load(self, request: web.Request, bucket: str, prefix: str) -> _Answer:
        """Send a LIST on to S3, and keep what it says as (a page of) the listing to answer from."""
        token = request.query.get("continuation-token")
        if not answerable(request.query):
            handle = None
        elif token:
            handle = self.listings.resume(bucket, prefix, token)
        else:
            handle = self.listings.begin(bucket, prefix)
        page = None
        try:
            answer = await self._send(request)
            if handle is not None and answer.status == 200:
                try:
                    page = parse_page(answer.body)
                except ValueError as error:
                    log.warning("not keeping a LIST answer of %s/%s: %s", bucket, prefix, error)
            return answer
        finally:
            if handle is not None:
                self.listings.loaded(handle, page)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        answer = await self._send(request)
        if request.method == "HEAD":
            # A HEAD answer carries the object's length with no body: keep SeaweedFS's header.
            response = web.StreamResponse(status=answer.status, headers=answer.headers)
            if answer.length is not None:
                response.content_length = int(answer.length)
            return response
        return answer.response()

    async def _send(self, request: web.Request) -> _Answer:
        assert self.session is not None
        headers = _end_to_end(request.headers)
        # encoded=True: the path and query go on byte for byte, as the signature covers them.
        url = URL(self.upstream + request.raw_path, encoded=True)
        data = None if request.method in READS else await request.read()
        try:
            async with self.session.request(request.method, url, headers=headers, data=data,
                                            allow_redirects=False) as upstream:
                body = await upstream.read()
                return _Answer(upstream.status, _end_to_end(upstream.headers), body,
                               upstream.headers.get("Content-Length"))
        except (ClientError, OSError, TimeoutError) as error:  # Tansu retries what fails
            log.warning("upstream %s %s failed: %s", request.method, request.path, error)
            return _Answer(502, CIMultiDict(), b"")

    def stats(self) -> dict[str, Any]:
        return {"list_answered_by_front": self.answered, "list_shared_in_flight": self.shared,
                "list_sent_on": self.sent, "listings_dropped": self.listings.dropped,
                "batch_gets_answered_by_front": self.objects.hits, "relayed": dict(self.relayed)}

    async def _log_stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            log.info("LIST answered by the front %(list_answered_by_front)d, shared in flight "
                     "%(list_shared_in_flight)d, sent on %(list_sent_on)d; listings dropped %(listings_dropped)d",
                     self.stats())


def _end_to_end(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP)


def read_stats(port: int) -> dict[str, Any]:
    """The LIST counts of the front listening on 127.0.0.1:port (for the bench and the tests)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{STATS_PATH}", timeout=5) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


def app(upstream: str) -> web.Application:
    proxy = S3ListCache(upstream)
    application = web.Application(client_max_size=64 << 20)  # a produce batch is at most 1 MiB
    application.on_startup.append(proxy.start)
    application.on_cleanup.append(proxy.stop)
    application.router.add_route("*", "/{tail:.*}", proxy.handle)
    return application


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.s3_list_cache", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="where Tansu sends its S3 requests")
    parser.add_argument("--upstream", required=True, help="the S3 endpoint, e.g. http://127.0.0.1:8333")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    web.run_app(app(args.upstream), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
