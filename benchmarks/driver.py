"""The load driver: people using the HTTP APIs, told what happened by the log, not by polling.

Each prescription goes issue -> (review approves it by itself) -> claim -> dispense -> courier
accepts, picks up, delivers. The driver reads rx.events itself (no consumer group), so it acts
as soon as the event it waits for is on the log; it only retries when a service has not yet
consumed that event (a 404/409 from the API), and it counts those retries.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.demo_scenarios import dispense_lines, form
from services.kit.offsets import OffsetWatch, take_records

DOCTORS = ("dr-wang", "dr-liu", "dr-li")
COURIERS = ("courier-1", "courier-2")
PHARMACIST = "ph-county"  # form(n, "delivered") routes home deliveries to pharm-county
REVIEWER = "rph-zhao"
DONE = "delivery.delivered"
# Before reading a hole again, and the least time between the starts of two reads that found
# records: a service's batch interval (consume_interval_ms). Every read that finds something new
# costs the embedded broker a LIST of the partition; reading as often as records came, the driver
# made a fifth of them (1,841 against 1,463 LISTs in runs of 2,000, Tansu 2.8 against 2.4 ms of
# CPU per prescription). The lifecycle latencies come from the events' occurred_at, which this
# does not move; the log delay, taken when the driver reads an event, now waits for a read as a
# service's does.
READ_INTERVAL_S = 0.1
CATCH_UP_WAIT_S = 5  # how long a service may hold a claim or an accept for its log to catch up


@dataclass
class Seen:
    """One event as the driver saw it on the log."""

    occurred_at: float  # the signed envelope's occurred_at (the producing service's clock), epoch s
    seen_at: float  # the driver's clock when it read the event, epoch s


class LogWatcher:
    """Reads rx.events from its current end and wakes whoever waits for (stream, type)."""

    def __init__(self, bootstrap: str, topic: str = "rx.events", keep_raw_streams: int = 0) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.keep_raw_streams = keep_raw_streams
        self.waiters: dict[tuple[str, str], list[asyncio.Future[Seen]]] = defaultdict(list)
        self.reset()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    def reset(self) -> None:
        """Forget what was seen (after the warm-up)."""
        self.events: dict[str, dict[str, Seen]] = defaultdict(dict)
        self.raw: dict[str, list[bytes]] = {}  # whole envelopes of the first few streams, for the baselines
        self.count = 0
        self.bytes = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    async def start(self) -> None:
        consumer = self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                                     fetch_max_wait_ms=20, max_partition_fetch_bytes=4 << 20)
        await consumer.start()
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for p in parts:  # resolve the end now, before the first prescription is issued
            await consumer.position(p)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        watch = OffsetWatch()  # the broker may skip records under load: read them again (offsets.py)
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.time()
            hole = False
            for records in batches.values():
                taken = take_records(watch, records, self._consumer, "bench driver")
                for r in taken.records:
                    self._saw(r.value, now)
                hole = hole or bool(taken.reread)
            if hole:
                # The missing batch is still being stored. Read again at once, it looked lost: the
                # watch's rereads ran out within milliseconds and the driver went on without a whole
                # produce request (500 events), whose prescriptions then failed after 120 s (twice in
                # 2,000-runs here). The services read a hole again a batch interval later.
                await asyncio.sleep(READ_INTERVAL_S)
            elif batches:
                await asyncio.sleep(max(0.0, began + READ_INTERVAL_S - loop.time()))

    def _saw(self, raw: bytes, now: float) -> None:
        obj = json.loads(raw)
        stream, kind = obj["stream_id"], obj["type"]
        at = datetime.fromisoformat(obj["occurred_at"].replace("Z", "+00:00")).timestamp()
        self.count += 1
        self.bytes += len(raw)
        self.first_at = now if self.first_at is None else self.first_at
        self.last_at = now
        seen = self.events[stream].setdefault(kind, Seen(at, now))
        if stream in self.raw or len(self.raw) < self.keep_raw_streams:
            self.raw.setdefault(stream, []).append(raw)
        for fut in self.waiters.pop((stream, kind), ()):
            if not fut.done():
                fut.set_result(seen)

    async def wait(self, stream: str, *kinds: str, timeout_s: float) -> tuple[str, Seen]:
        """The first of these event types on the stream (already seen, or when it comes)."""
        known = self.events.get(stream, {})
        for kind in kinds:
            if kind in known:
                return kind, known[kind]
        loop = asyncio.get_running_loop()
        futs = {kind: loop.create_future() for kind in kinds}
        for kind, fut in futs.items():
            self.waiters[(stream, kind)].append(fut)
        done, _ = await asyncio.wait(futs.values(), timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        for fut in futs.values():
            fut.cancel()
        if not done:
            raise TimeoutError(f"{stream}: none of {kinds} on the log after {timeout_s}s")
        kind = next(k for k, f in futs.items() if f in done)
        return kind, futs[kind].result()


class ApiError(RuntimeError):
    pass


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    flagged: int = 0
    failed: list[str] = field(default_factory=list)
    issued_at_client: dict[str, float] = field(default_factory=dict)  # pid -> client clock at the POST
    done_at_client: dict[str, float] = field(default_factory=dict)  # pid -> client clock, delivered seen
    stopped: str | None = None  # why the run stopped before all were played


class Driver:
    """Plays prescriptions through the four services' HTTP APIs."""

    def __init__(self, urls: dict[str, str], tokens: dict[str, str], log: LogWatcher,
                 step_timeout_s: float = 120.0) -> None:
        self.urls, self.tokens, self.log = urls, tokens, log
        self.step_timeout_s = step_timeout_s
        self.stats = Stats()
        self.http: aiohttp.ClientSession | None = None

    def reset(self) -> None:
        self.stats = Stats()

    async def __aenter__(self) -> Driver:
        # One keep-alive pool for all four services; no per-request connection setup.
        connector = aiohttp.TCPConnector(limit=512, limit_per_host=256, ttl_dns_cache=None)
        self.http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http:
            await self.http.close()

    async def call(self, service: str, method: str, path: str, actor: str, body: Any = None,
                   retry_on: tuple[int, ...] = (), wait_s: int = 0) -> Any:
        """One API call as an actor; retried (briefly) while the service has not caught up.
        wait_s: ask the service to wait that long for the log itself (Prefer: wait) first."""
        assert self.http is not None
        headers = {"Authorization": f"Bearer {self.tokens[actor]}"}
        if wait_s:
            headers["Prefer"] = f"wait={wait_s}"
        delay = 0.02
        deadline = time.monotonic() + self.step_timeout_s
        while True:
            self.stats.requests += 1
            async with self.http.request(method, self.urls[service] + path, json=body, headers=headers) as resp:
                text = await resp.read()
                if resp.status in (200, 201):
                    return json.loads(text) if text else None
                if resp.status not in retry_on or time.monotonic() > deadline:
                    raise ApiError(f"{actor} {method} {service}{path} -> {resp.status}: {text[:300]!r}")
            self.stats.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def play(self, n: int) -> str | None:
        """One prescription's whole life; returns its id, or None if it went wrong (counted)."""
        body = form(n, "delivered")  # home delivery from the county hospital pharmacy
        try:
            self.stats.issued_at_client[str(n)] = time.time()
            issued = await self.call("prescriber", "POST", "/api/prescriptions", DOCTORS[n % len(DOCTORS)], body)
            pid, code = issued["prescription_id"], issued["pickup_code"]
            self.stats.issued_at_client[pid] = self.stats.issued_at_client.pop(str(n))
            kind, _ = await self.log.wait(pid, "prescription.approved", "review.flagged", timeout_s=self.step_timeout_s)
            if kind == "review.flagged":  # the rule pack wants a pharmacist: one signs it off
                self.stats.flagged += 1
                await self._sign_off(pid)
            # The pharmacy may not have consumed the approval yet: it waits for it (Prefer: wait),
            # and past that answers 404/409 until it has.
            await self.call("pharmacy", "POST", f"/api/prescriptions/{pid}/claim", PHARMACIST, retry_on=(404, 409),
                            wait_s=CATCH_UP_WAIT_S)
            # 409 claim_unconfirmed: the claim is not back from the log yet; the page says "try again".
            await self.call("pharmacy", "POST", f"/api/prescriptions/{pid}/dispense", PHARMACIST,
                            {"lines": dispense_lines(body["items"], pid)}, retry_on=(409,))
            await self.log.wait(pid, "delivery.requested", timeout_s=self.step_timeout_s)
            courier = COURIERS[n % len(COURIERS)]
            for step in ("accept", "pickup"):
                await self.call("delivery", "POST", f"/api/jobs/{pid}/{step}", courier, retry_on=(404, 409),
                                wait_s=CATCH_UP_WAIT_S)
            await self.call("delivery", "POST", f"/api/jobs/{pid}/deliver", courier, {"pickup_code": code})
            await self.log.wait(pid, DONE, timeout_s=self.step_timeout_s)
            self.stats.done_at_client[pid] = time.time()
            return pid
        except (ApiError, TimeoutError, aiohttp.ClientError, KeyError) as exc:
            self.stats.failed.append(f"#{n}: {exc}"[:400])
            return None

    async def _sign_off(self, pid: str) -> None:
        found = await self.call("review", "GET", f"/api/prescriptions/{pid}", REVIEWER, retry_on=(404,))
        overrides = [{"rule_id": r, "reason": "已与开方医师电话确认"} for r in found.get("needs_override", [])]
        await self.call("review", "POST", f"/api/prescriptions/{pid}/approve", REVIEWER,
                        {"overrides": overrides, "note": "已核对"}, retry_on=(409,))
        await self.log.wait(pid, "prescription.approved", timeout_s=self.step_timeout_s)

    async def run(self, n: int, rate: float | None, concurrency: int,
                  stall_s: float | None = None, stall_fraction: float = 0.2) -> list[str | None]:
        """Play n prescriptions: started at `rate` per second (open loop, at most `concurrency`
        in flight), or as fast as `concurrency` prescriptions in flight allow (closed loop).

        With stall_s, the run stops once the last stall_s delivered fewer than stall_fraction
        of the best stall_s so far: what is in flight is abandoned and the rest never start
        (stats.stopped says why). A stack that no longer keeps its own pace (the embedded
        broker slows as the log grows) would otherwise crawl on for hours."""
        gate = asyncio.Semaphore(concurrency)
        start = time.monotonic()

        async def one(i: int) -> str | None:
            if rate:
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            async with gate:
                return await self.play(i)

        tasks = [asyncio.create_task(one(i)) for i in range(n)]
        watchdog = (asyncio.create_task(self._stop_when_stalled(tasks, stall_s, stall_fraction))
                    if stall_s else None)
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if watchdog:
                watchdog.cancel()
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                raise r
        return [r if isinstance(r, str) else None for r in results]

    async def _stop_when_stalled(self, tasks: list[asyncio.Task[str | None]], window_s: float,
                                 fraction: float) -> None:
        tick = min(5.0, window_s / 6)
        counts: deque[int] = deque(maxlen=max(2, round(window_s / tick)) + 1)  # deliveries, a tick apart
        best = 0
        while True:
            await asyncio.sleep(tick)
            counts.append(len(self.stats.done_at_client))
            if len(counts) < counts.maxlen:  # type: ignore[operator]
                continue
            recent = counts[-1] - counts[0]
            best = max(best, recent)
            if recent <= fraction * best or recent == 0:
                unfinished = [t for t in tasks if not t.done()]
                self.stats.stopped = (
                    f"stopped: {recent} delivered in the last {window_s:.0f} s against {best} in the best "
                    f"{window_s:.0f} s; {counts[-1]} delivered, {len(unfinished)} abandoned or never started")
                for t in unfinished:
                    t.cancel()
                return
