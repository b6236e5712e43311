"""Serving a service's HTTP API: the same uvicorn settings for every service."""

from __future__ import annotations

import uvicorn

from services.kit.service import Service

# Clients (pages, other tools, the demo) pool their connections; a server that drops idle
# ones after uvicorn's default 5 s races the client's reuse and surfaces as read errors.
KEEP_ALIVE_S = 75


def serve(service: Service) -> None:
    """Run the service's FastAPI app (its lifespan starts the consumers and the outbox)."""
    s = service.settings
    uvicorn.run(service.http, host=s.host, port=s.port, log_level="warning", timeout_keep_alive=KEEP_ALIVE_S)
