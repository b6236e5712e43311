"""The expiry sweep: prescriptions past their validity are written down as expired, by the service."""

from __future__ import annotations

import asyncio
import logging

from services.kit.errors import Refused
from services.kit.service import Service
from services.kit.store import Decision
from services.pharmacy import domain, store

log = logging.getLogger(__name__)
SERVICE_ACTOR = "svc-pharmacy"


async def expire_due(service: Service) -> int:
    """Expire every overdue, undispensed prescription once; returns how many expired now."""
    now = service.clock()
    async with service.db.read() as s:
        due = await store.due_for_expiry(s, now)
    signer = service.keystore.service_signer(SERVICE_ACTOR)
    expired = 0
    for pid in due:
        try:
            await service.execute(pid, lambda st: [Decision(domain.decide_expire(st, now), signer, service.new_id())])
        except Refused:  # dispensed or cancelled meanwhile: the log decided, nothing to do
            continue
        expired += 1
    return expired


async def expiry_loop(service: Service) -> None:
    """Sweep every expiry_interval_s; a failed sweep is logged and tried again next time."""
    interval = getattr(service.settings, "expiry_interval_s", 5.0)
    while True:
        try:
            if n := await expire_due(service):
                log.info("expired %d prescriptions", n)
        except asyncio.CancelledError:
            raise
        except Exception:  # database busy or down: the next sweep catches up
            log.exception("expiry sweep failed")
        await asyncio.sleep(interval)
