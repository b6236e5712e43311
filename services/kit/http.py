"""HTTP conventions shared by the services: who is calling, and errors that say why."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from events.secrets_store import token_digest
from events.signing import Signer
from services.kit import gc_policy
from services.kit.errors import NotFound, NotYet, Refused
from services.kit.nul_guard import RefuseNul
from services.kit.running import Running

__all__ = ["ActorDep", "NotFound", "NotYet", "Refused", "WaitDep", "current_actor", "install_error_handlers",
           "require_role", "service_app"]


def service_app(title: str, runtime: Running, routers: Sequence[APIRouter],
                health: Callable[[], Awaitable[dict[str, Any]]]) -> FastAPI:
    """A service's HTTP app: its routers, refusals that say why, and /health. Serving it runs the
    service and then, the process being a long-running server from there on, settles its garbage
    collector (gc_policy); unless a test has started the service itself (app.state.started_outside)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "started_outside", False):
            yield
        else:
            async with runtime.running():
                gc_policy.settle()
                yield

    async def health_and_gc() -> dict[str, Any]:
        return {**await health(), "gc": gc_policy.stats()}

    app = FastAPI(title=title, lifespan=lifespan)
    app.add_middleware(RefuseNul)
    app.state.service = runtime
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    app.get("/health", tags=["ops"])(health_and_gc)
    return app


def install_error_handlers(app: FastAPI) -> None:
    """Refusals become 409/404 with a reason code and a sentence."""

    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> JSONResponse:
        detail: dict[str, object] = {"reason": exc.reason, "message": exc.message}
        if exc.facts:
            detail["facts"] = exc.facts
        return JSONResponse({"detail": detail}, exc.status)



async def current_actor(request: Request) -> Signer:
    """The actor behind the bearer token; 401 without one, 403 if this service does not act for them."""
    # async although it never awaits: FastAPI runs a plain def dependency on its thread pool,
    # a thread hand-off per request for a dictionary lookup.
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, {"reason": "unauthenticated", "message": "Bearer token required"})
    keystore = request.app.state.service.keystore
    actor_id = keystore.token_digests.get(token_digest(token.strip()))
    if actor_id is None:
        raise HTTPException(403, {"reason": "forbidden", "message": "token not valid for this service"})
    return keystore.signer(actor_id)


ActorDep = Annotated[Signer, Depends(current_actor)]


def require_role(actor: Signer, *roles: str) -> None:
    """403 unless the actor holds one of the roles."""
    if actor.role not in roles:
        raise HTTPException(403, {"reason": "forbidden", "message": f"role {actor.role} may not do this"})


MAX_WAIT_S = 10.0  # a client may hold a request this long for the log to catch up, no longer
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d+)\"?", re.IGNORECASE)


async def prefer_wait(request: Request) -> float:
    """Seconds the client will wait for this service to catch up with the log (RFC 7240
    `Prefer: wait=N`), at most MAX_WAIT_S; 0 without the header, or with one that names no wait."""
    found = _PREFER_WAIT.search(request.headers.get("prefer", ""))
    return min(float(found.group(1)), MAX_WAIT_S) if found else 0.0


WaitDep = Annotated[float, Depends(prefer_wait)]
