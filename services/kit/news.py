"""Commands that wait for the log: woken when the consumer commits events of their stream.

Every service learns of other services' events from the log, a little after they happened, and
a client can know of one sooner (a patient's phone shows the approval; the benchmark reads the
log itself). Without waiting, a claim arriving in that gap is refused and the client polls; with
`Prefer: wait=N` (RFC 7240) the command is tried again each time the consumer brings the stream
forward, for up to N seconds, and only then refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TypeVar

from services.kit.errors import NotFound, NotYet

T = TypeVar("T")


class StreamNews:
    """Futures per stream, set when the consumer commits events of that stream."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}
        self._watches: dict[str, set[Watch]] = {}

    def arrived(self, events: Iterable[tuple[str, str]]) -> None:
        """After a consumer transaction committed these events: (stream_id, event_id) pairs."""
        by_stream: dict[str, set[str]] = {}
        for stream_id, event_id in events:
            by_stream.setdefault(stream_id, set()).add(event_id)
        for stream_id, event_ids in by_stream.items():
            for future in self._waiting.pop(stream_id, ()):
                if not future.done():
                    future.set_result(None)
            for watch in self._watches.get(stream_id, ()):
                watch.saw(event_ids)

    @contextlib.contextmanager
    def watch(self, stream_id: str) -> Iterator[Watch]:
        """Collect the ids of events consumed on a stream from now on (open it before reading
        what to wait for, so that nothing consumed in between is missed)."""
        watch = Watch()
        self._watches.setdefault(stream_id, set()).add(watch)
        try:
            yield watch
        finally:
            watches = self._watches[stream_id]
            watches.discard(watch)
            if not watches:
                del self._watches[stream_id]

    async def when_caught_up(self, stream_id: str, wait_s: float, command: Callable[[], Awaitable[T]]) -> T:
        """Run command; while it is refused as not yet possible (NotYet, or the stream unknown),
        run it again after each arrival on the stream, until wait_s has passed."""
        deadline = time.monotonic() + wait_s
        while True:
            # Registered before the command reads the stream: an arrival in between wakes us.
            news = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(stream_id, set()).add(news)
            try:
                return await command()
            except (NotYet, NotFound):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(news, remaining)
            finally:
                self._forget(stream_id, news)

    def _forget(self, stream_id: str, future: asyncio.Future[None]) -> None:
        waiting = self._waiting.get(stream_id)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                del self._waiting[stream_id]


class Watch:
    """The event ids consumed on one stream while it is open (StreamNews.watch)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._missing: set[str] = set()
        self._done: asyncio.Future[None] | None = None

    def saw(self, event_ids: set[str]) -> None:
        self.seen |= event_ids
        if self._done is not None and not self._done.done() and self._missing <= self.seen:
            self._done.set_result(None)

    async def all_of(self, event_ids: Iterable[str], wait_s: float) -> bool:
        """True once every one of these events has been consumed (now or within wait_s)."""
        self._missing = set(event_ids)
        if self._missing <= self.seen:
            return True
        self._done = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self._done, wait_s)
        except TimeoutError:
            return False
        return True
