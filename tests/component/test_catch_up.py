"""Prefer: wait (RFC 7240): a command that needs an event still on its way to this service is
answered once the consumer brings it, instead of refused for the client to poll."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from services.kit.http import MAX_WAIT_S, prefer_wait
from tests.component.test_delivery import dl, upstream  # noqa: F401  (dl is a fixture)
from tests.component.test_pharmacy import ph  # noqa: F401  (a fixture)
from tests.component.test_pharmacy_support import History, act, reason


def _waiting(headers: dict[str, str], seconds: str) -> dict[str, str]:
    return {**headers, "Prefer": f"wait={seconds}"}


async def _still_waiting(task: asyncio.Task) -> bool:  # type: ignore[type-arg]
    for _ in range(20):  # let the request reach its wait
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    return not task.done()


async def _woken(task: asyncio.Task):  # type: ignore[no-untyped-def,type-arg]
    """The answer, which the arrival brings well before the 10 s wait would have run out."""
    return await asyncio.wait_for(task, 5)


async def test_a_claim_that_prefers_to_wait_is_answered_once_the_approval_arrives(ph, identities):  # noqa: F811
    rx = History(identities)
    await rx.publish(ph)  # issued, not yet approved here
    assert reason(await act(ph, rx.pid, "claim", "ph-county")) == "not_approved"  # no Prefer: at once
    issued_only = len(rx.raws)
    rx.approved()
    claim = asyncio.create_task(ph.client.post(
        f"/api/prescriptions/{rx.pid}/claim", headers=_waiting(ph.tokens["ph-county"], "10")))
    assert await _still_waiting(claim)
    await rx.publish(ph, rx.raws[issued_only:])  # the approval reaches the pharmacy
    answer = await _woken(claim)
    assert answer.status_code == 200 and answer.json()["status"] == "claimed"
    assert ph.service.news._waiting == {}  # nothing left behind


async def test_a_wait_that_runs_out_gives_the_refusal_it_waited_on(ph, identities):  # noqa: F811
    rx = await History(identities).publish(ph)
    refused = await ph.client.post(f"/api/prescriptions/{rx.pid}/claim", headers=_waiting(ph.tokens["ph-county"], "1"))
    assert reason(refused) == "not_approved"
    unknown = await ph.client.post(f"/api/prescriptions/{History(identities).pid}/claim",
                                   headers=_waiting(ph.tokens["ph-county"], "1"))
    assert unknown.status_code == 404
    # A refusal the log cannot lift is not waited on: a pharmacy the prescription is not routed to.
    other = asyncio.create_task(ph.client.post(f"/api/prescriptions/{rx.pid}/claim",
                                               headers=_waiting(ph.tokens["ph-renhe"], "10")))
    assert not await _still_waiting(other)
    assert reason(await other) == "not_routed_here"
    assert ph.service.news._waiting == {}


async def test_a_courier_who_prefers_to_wait_gets_the_job_once_the_dispense_arrives(dl, identities):  # noqa: F811
    pid, history = upstream(identities)
    for raw in history[:-1]:
        await dl.publish(raw, key=pid)  # claimed, not yet dispensed: no job yet
    assert (await dl.client.post(f"/api/jobs/{pid}/accept", headers=dl.c1)).status_code == 404
    accept = asyncio.create_task(dl.client.post(f"/api/jobs/{pid}/accept", headers=_waiting(dl.c1, "10")))
    assert await _still_waiting(accept)
    await dl.publish(history[-1], key=pid)
    answer = await _woken(accept)
    assert answer.status_code == 200 and answer.json()["status"] == "assigned"


@pytest.mark.parametrize("header, seconds", [
    (None, 0.0), ("wait=3", 3.0), ("respond-async, wait=5", 5.0), ("return=minimal; wait=\"2\"", 2.0),
    ("WAIT=4", 4.0), ("wait=100000", MAX_WAIT_S), ("wait=soon", 0.0), ("handling=lenient", 0.0), ("await=3", 0.0),
])
async def test_prefer_wait_is_read_as_rfc_7240_says_and_capped(header, seconds):
    headers = [] if header is None else [(b"prefer", header.encode())]
    assert await prefer_wait(Request({"type": "http", "headers": headers})) == seconds
