"""HTTP access to the running services as the demo community's people, with patience for the log."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx


class DemoError(RuntimeError):
    """A step of the demo did not go as a real user would expect."""


class DemoAbort(DemoError):
    """A refusal that waiting will not cure: stop polling and say why."""


class Api:
    """One HTTP client per service; each call is made as a named actor with their token."""

    def __init__(self, urls: dict[str, str], tokens: dict[str, str]) -> None:
        self.tokens = tokens
        self.clients = {name: httpx.AsyncClient(base_url=url, timeout=30.0) for name, url in urls.items()}

    async def call(self, service: str, method: str, path: str, actor: str, body: Any = None,
                   expect: tuple[int, ...] = (200, 201)) -> Any:
        """Call an API as an actor; raise DemoError on an unexpected status."""
        headers = {"Authorization": f"Bearer {self.tokens[actor]}"}
        resp = await self.clients[service].request(method, path, json=body, headers=headers)
        if resp.status_code not in expect:
            raise DemoError(f"{actor} {method} {service}{path} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None

    async def until(self, probe: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 30.0) -> Any:
        """Poll until probe returns something truthy: the services converge through the log."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            try:
                found = await probe()
            except DemoAbort:
                raise
            except DemoError:
                found = None
            if found:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise DemoError(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)

    async def status_in(self, service: str, pid: str, actor: str, *statuses: str) -> dict[str, Any] | None:
        """The prescription as a service shows it, if its status is one of statuses."""
        found = await self.call(service, "GET", f"/api/prescriptions/{pid}", actor, expect=(200, 404))
        return found if found and found.get("status") in statuses else None

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
