"""Stopping a service's background tasks, broker and database, shared by every service runtime."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, Self

from services.kit.commits import OffsetCommits


class Running(ABC):
    """stop() and running() for a runtime whose start() fills _tasks and opens broker and db."""

    _tasks: list[asyncio.Task[Any]]
    broker: Any
    db: Any
    commits: OffsetCommits

    @abstractmethod
    async def start(self) -> None:
        """Open what stop() closes and start the background tasks."""

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.commits.flush()  # while the consumer is still in its group
        await self.broker.stop()
        await self.db.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()
