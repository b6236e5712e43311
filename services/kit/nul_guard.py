"""Requests that hold U+0000 are refused at the door, with a 422 that says so.

A NUL in a path, a query or a JSON body would reach a handler as ordinary text, and PostgreSQL's
text type cannot store it (events/text.py): the request would end in a 500 there, and an event
sealed with it is refused by every consumer's verifier. Pure ASGI, so a request costs one check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import JSONResponse

from events.text import holds_nul

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class RefuseNul:
    """ASGI middleware: 422 for a path, query string or body holding U+0000; else the app, as is."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        query = scope.get("query_string", b"")
        if "\x00" in scope["path"]:
            return await _refuse(scope, receive, send, "path")
        if b"%00" in query or b"\x00" in query:
            return await _refuse(scope, receive, send, "query")
        if scope["method"] in _NO_BODY:
            return await self.app(scope, receive, send)
        # The whole body is read before the app sees any of it: a refusal must come first.
        messages, chunks = [], []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away: the app hears it as it would have
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"\x00" in body or holds_nul(body):
            return await _refuse(scope, receive, send, "body")
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, where: str) -> None:
    error = {"type": "value_error", "loc": [where], "msg": "text may not hold U+0000 (NUL)", "input": None}
    await JSONResponse({"detail": [error]}, 422)(scope, receive, send)
