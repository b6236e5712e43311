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
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from services.kit.errors import NotFound, NotYet

T = TypeVar("T")


class StreamNews:
    """Futures per stream, set when the consumer commits events of that stream."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}

    def arrived(self, stream_ids: Iterable[str]) -> None:
        """After a consumer transaction committed events of these streams."""
        for stream_id in set(stream_ids):
            for future in self._waiting.pop(stream_id, ()):
                if not future.done():
                    future.set_result(None)

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
