"""The regulator on a real broker: a short journey through the stack, then verify from the topics alone."""

from __future__ import annotations

import asyncio
import base64
import json
import re

import httpx
import pytest

from events.identities import load_identities
from infra.demo import play
from infra.demo_client import Api
from infra.stack import Stack, StackConfig
from services.audit.cli import main as audit
from services.audit.exportfile import load_record
from tests.integration.stack_support import read_log, republish

pytestmark = pytest.mark.integration
SCENARIOS = ("hospital", "retail", "delivered", "cancelled", "rejected")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    config = StackConfig(var_dir=tmp_path_factory.mktemp("audit-stack"), broker_kind="tansu-memory",
                         fixed_ports=False, service_env={"audit": {"AUDIT_CHECKPOINT_INTERVAL_S": "0.3"}})
    with Stack(config) as running:
        yield running


def regulator(stack: Stack, *args: str) -> list[str]:
    """Arguments of `rxflow audit` that read this stack's broker with nothing but the root key."""
    return [*args, "--root-pub", str(stack.keys_dir / "root.pub"), "--workers", "1"]


async def covered(stack: Stack, timeout_s: float = 30.0) -> int:
    """Wait until the audit service's latest checkpoint covers every message on rx.keys and rx.events."""
    bootstrap = stack.broker.bootstrap  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=stack.url("audit")) as client:
        for _ in range(int(timeout_s / 0.2)):
            total = len(await read_log(bootstrap, "rx.keys")) + len(await read_log(bootstrap, "rx.events"))
            reply = await client.get("/api/checkpoints/latest")
            if reply.status_code == 200 and reply.json()["tree_size"] == total:
                return total
            await asyncio.sleep(0.2)
    raise TimeoutError("the audit ledger did not catch up with the log")


async def test_the_log_verifies_from_kafka_and_a_tampered_copy_does_not(stack, tmp_path, capsys):
    tokens = load_identities(stack.keys_dir).secrets.tokens  # type: ignore[union-attr]
    urls = {name: stack.url(name) for name in ("prescriber", "review", "pharmacy", "delivery")}
    api = Api(urls, tokens)
    try:
        await asyncio.gather(*(play(api, n, scenario) for n, scenario in enumerate(SCENARIOS)))
    finally:
        await api.close()
    await asyncio.sleep(1.0)  # the last reactions (delivery, expiry sweeps) reach the log
    entries = await covered(stack)

    bootstrap = stack.broker.bootstrap  # type: ignore[union-attr]
    assert await asyncio.to_thread(audit, regulator(stack, "verify", "--bootstrap", bootstrap, "--json")) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["ok"] and facts["entries"] == entries and facts["checkpoints"] >= 1 and not facts["unsealed_tail"]

    export = tmp_path / "ledger.jsonl"
    assert await asyncio.to_thread(audit, ["export", "--url", stack.url("audit"), "--out", str(export)]) == 0
    assert await asyncio.to_thread(audit, regulator(stack, "verify", "--file", str(export))) == 0
    lines = export.read_bytes().splitlines(keepends=True)
    victim = next(i for i, line in enumerate(lines) if b'"type":"prescription.dispensed"' in line)
    entry = load_record(lines[victim])
    message = base64.b64decode(entry["message"]).replace(b'"batch_no":"B', b'"batch_no":"X', 1)
    entry["message"] = base64.b64encode(message).decode()  # a dispensed batch number, changed after the fact
    lines[victim] = json.dumps(entry, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert await asyncio.to_thread(audit, regulator(stack, "verify", "--file", str(tampered))) == 1
    reported = capsys.readouterr().out
    # The tampered entry is the first bad entry (the sequence gap its refusal opens can sit at an
    # earlier line, and is reported after it: services/audit/problems.py).
    assert re.search(rf"first bad entry: line {victim + 1}\b", reported), reported

    forged = next(json.loads(raw) for raw in await read_log(bootstrap) if b'"prescription.issued"' in raw)
    forged["payload"]["items"][0]["quantity"] = "30"  # a forgery put on the log itself
    await republish(bootstrap, [json.dumps(forged).encode()])
    await covered(stack)
    capsys.readouterr()
    assert await asyncio.to_thread(audit, regulator(stack, "verify", "--bootstrap", bootstrap)) == 1
    assert "rejected: bad_signature" in capsys.readouterr().out
    argv = regulator(stack, "verify", "--bootstrap", bootstrap, "--allow-rejected")
    assert await asyncio.to_thread(audit, argv) == 0  # kept with its reason, the ledger is whole
