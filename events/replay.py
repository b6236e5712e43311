"""Replay: verify a log from the start, learning keys from the key events as they come."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from events.keyring import Keyring
from events.rejection import Rejected
from events.schemas import KeyRegistered, KeyRevoked
from events.verifier import Accepted, Verifier


@dataclass(frozen=True)
class LogMessage:
    """One message as stored on the log: its bytes and, when known, the broker's append time."""

    raw: bytes
    received_at: datetime | None = None


def verify_log(messages: Iterable[LogMessage], keyring: Keyring) -> Iterator[Accepted | Rejected]:
    """Verify each message in log order; key events that verify are folded into the keyring."""
    verifier = Verifier(keyring)
    for message in messages:
        result = verifier.verify(message.raw, message.received_at)
        if isinstance(result, Accepted) and isinstance(result.event.payload, KeyRegistered | KeyRevoked):
            keyring.apply(result.event.payload)
        yield result
