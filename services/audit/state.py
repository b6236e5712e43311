"""The ledger read back from SQL: the in-memory state rebuilt after a restart, and the export streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from events.verifier import read_verified
from services.audit import store
from services.audit.exportfile import decode_message, load_record
from services.audit.ledger import Ledger, encode_checkpoint
from services.kit.db import Database


async def load(db: Database, ledger: Ledger) -> Ledger:
    """Fold every stored entry into an empty ledger: tree, chain end, offsets, keys, sequences."""
    async with db.read() as s:
        async for row in store.all_rows(s):
            _replay_row(ledger, row)
        latest = await store.latest_checkpoint(s)
    ledger.checkpoints = latest.number if latest else 0
    return ledger


def _replay_row(ledger: Ledger, row: Any) -> None:
    leaf = bytes(row.leaf)
    ledger.tree.append(leaf)
    ledger.prev = leaf.hex()
    source = (row.topic, row.partition)
    ledger.next_offsets[source] = max(ledger.next_offsets.get(source, 0), row.offset + 1)
    if row.accepted and row.producer and row.producer_seq:
        ledger.gaps.observe(row.producer, row.producer_seq)
    if row.accepted and (row.type or "").startswith("key."):
        raw = decode_message((load_record(bytes(row.line)) or {}).get("message"))
        if raw:  # verified when it was ledgered; keys are learned in ledger order, as before
            ledger.keyring.apply(read_verified(raw).payload)


async def export_lines(db: Database) -> AsyncIterator[bytes]:
    """The export (docs/audit-format.md): entries, each checkpoint after the entry that completes it."""
    async with db.read() as s:
        cps = list(await store.checkpoint_rows(s, 0, 10**9))
        sizes = {c.tree_size: c for c in cps}
        end = cps[-1].tree_size if cps else 0
        async for row in store.all_rows(s):
            if row.seq >= end:
                break
            cp = sizes.get(row.seq + 1)
            yield bytes(row.line) + b"\n" + (encode_checkpoint(bytes(cp.raw)) + b"\n" if cp else b"")
