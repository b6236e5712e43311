"""A front for SeaweedFS's S3 API that answers Tansu's repeated LISTs (local durable broker only).

Tansu 0.6 keeps each produced batch as one S3 object, and every fetch that finds new records
LISTs all the batch objects of the partition (tansu-storage, dynostore fetch) to find the one
holding the fetch offset. Every service reads rx.events, so that LIST ran about 40 times a
second, SeaweedFS spent about 10 µs per listed object on it, and the log's growth took its CPU
from a quarter of a core to all of one: a 10,000-prescription run stalled. Between two
produces those LISTs all return the same bytes.

This proxy passes every request through unchanged (the SigV4 signature covers the host and the
query as sent, so both go on as they came) and answers a LIST again from the bytes of the last
identical one, until a write under its prefix has completed. A LIST that was in flight while
such a write completed is not kept, so what a cached answer omits is only what a LIST sent at
the same moment could have missed too. A write's outcome is never guessed: success, failure or
a broken connection all drop the cache for the prefixes the key falls under.

Cached answers skip SeaweedFS's signature check. Both listen on 127.0.0.1 with throwaway
credentials (infra.launchers.S3_ENV), and an answer is only cached from a signed request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

log = logging.getLogger("rxflow.s3cache")

# Headers of one connection, not of the request (RFC 9110 section 7.6.1); the body's length is
# set again by whoever writes it.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "transfer-encoding", "upgrade", "content-length"})
READS = frozenset({"GET", "HEAD"})
STATS_EVERY_S = 60.0
# Not an S3 path: bucket names cannot hold an underscore.
STATS_PATH = "/_rxflow/stats"


@dataclass
class _Listing:
    generation: int
    status: int
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class ListCache:
    """LIST answers per (bucket, prefix) and query, valid until a write under the prefix completes."""

    generations: dict[tuple[str, str], int] = field(default_factory=dict)
    answers: dict[tuple[str, str], dict[str, _Listing]] = field(default_factory=dict)
    hits: int = 0

    def generation(self, bucket: str, prefix: str) -> int:
        return self.generations.setdefault((bucket, prefix), 0)

    def lookup(self, bucket: str, prefix: str, query: str) -> _Listing | None:
        answer = self.answers.get((bucket, prefix), {}).get(query)
        self.hits += answer is not None
        return answer

    def keep(self, bucket: str, prefix: str, query: str, answer: _Listing) -> None:
        """Keep an answer taken at answer.generation, unless a write under the prefix completed
        while that LIST was in flight (it may or may not show that write)."""
        if answer.generation == self.generation(bucket, prefix):
            self.answers.setdefault((bucket, prefix), {})[query] = answer

    def wrote(self, bucket: str, key: str) -> None:
        """A write to bucket/key completed (or may have): listings that could show it are stale.
        An empty key is a bucket-wide request (a multi-object delete): every prefix is stale."""
        for (b, prefix), generation in self.generations.items():
            if b == bucket and (not key or key.startswith(prefix)):
                self.generations[(b, prefix)] = generation + 1
                self.answers.pop((b, prefix), None)


def _bucket_and_key(path: str) -> tuple[str, str]:
    """Path-style addressing, as Tansu uses: /bucket/key, from the decoded path (aiohttp's
    request.path), as the prefix is read from the decoded query."""
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


class S3ListCache:
    """The proxy: an aiohttp server forwarding to one S3 endpoint."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.cache = ListCache()
        self._in_flight: dict[tuple[str, str, str, int], asyncio.Task[_Listing]] = {}
        self.shared = 0  # LISTs answered by one already out
        self.sent = 0  # LISTs sent on to S3
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
        if request.method in READS:
            return await self._forward(request)
        try:
            return await self._forward(request)
        finally:  # whatever became of the write, listings taken before it are not trusted
            self.cache.wrote(bucket, key)

    async def _list(self, request: web.Request, bucket: str) -> web.StreamResponse:
        prefix = request.query.get("prefix", "")
        # The answer depends on the query's parameters, not on its signature or date.
        query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(request.query_string, keep_blank_values=True)))
        answer = self.cache.lookup(bucket, prefix, query) or await self._list_once(request, bucket, prefix, query)
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    async def _list_once(self, request: web.Request, bucket: str, prefix: str, query: str) -> _Listing:
        # One produce wakes every reader of the partition at once, and each LISTs it: those that
        # ask while the same LIST is out, with no write completed since it was sent, share it.
        # It runs as a task of its own, so a reader that hangs up does not take it from the rest.
        key = (bucket, prefix, query, self.cache.generation(bucket, prefix))
        shared = self._in_flight.get(key)
        if shared is not None:
            self.shared += 1
        else:
            self.sent += 1
            shared = self._in_flight[key] = asyncio.ensure_future(self._fetch_listing(request, key))
            shared.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return await asyncio.shield(shared)

    async def _fetch_listing(self, request: web.Request, key: tuple[str, str, str, int]) -> _Listing:
        bucket, prefix, query, generation = key
        status, headers, body, _ = await self._send(request)
        answer = _Listing(generation, status, headers, body)
        if status == 200:
            self.cache.keep(bucket, prefix, query, answer)
        return answer

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        status, headers, body, length = await self._send(request)
        if request.method == "HEAD":
            # A HEAD answer carries the object's length with no body: keep SeaweedFS's header.
            response = web.StreamResponse(status=status, headers=headers)
            if length is not None:
                response.content_length = int(length)
            return response
        return web.Response(status=status, headers=headers, body=body)

    async def _send(self, request: web.Request) -> tuple[int, CIMultiDict[str], bytes, str | None]:
        assert self.session is not None
        headers = _end_to_end(request.headers)
        # encoded=True: the path and query go on byte for byte, as the signature covers them.
        url = URL(self.upstream + request.raw_path, encoded=True)
        data = None if request.method in READS else await request.read()
        try:
            async with self.session.request(request.method, url, headers=headers, data=data,
                                            allow_redirects=False) as upstream:
                body = await upstream.read()
                return upstream.status, _end_to_end(upstream.headers), body, upstream.headers.get("Content-Length")
        except (ClientError, OSError, TimeoutError) as error:  # Tansu retries what fails
            log.warning("upstream %s %s failed: %s", request.method, request.path, error)
            return 502, CIMultiDict(), b"", None

    def stats(self) -> dict[str, int]:
        return {"list_answered_from_cache": self.cache.hits, "list_shared_in_flight": self.shared,
                "list_sent_on": self.sent}

    async def _log_stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            log.info("LIST answered from cache %(list_answered_from_cache)d, shared in flight "
                     "%(list_shared_in_flight)d, sent on %(list_sent_on)d", self.stats())


def _end_to_end(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP)


def read_stats(port: int) -> dict[str, int]:
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
