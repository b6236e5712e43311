"""Refusals: what a domain function raises when an action is not allowed. Pure, no web imports."""

from __future__ import annotations


class Refused(Exception):
    """A business refusal with a reason code and a sentence; HTTP maps it to 409 (or 404)."""

    status = 409

    def __init__(self, reason: str, message: str, facts: dict[str, object] | None = None) -> None:
        super().__init__(message)
        # facts: what a page needs to explain the refusal in its own language (the message is English).
        self.reason, self.message, self.facts = reason, message, facts


class NotFound(Refused):
    status = 404

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"{what} not found")


class NotYet(Refused):
    """A refusal the log may still lift: what the action needs (an approval, a delivery job) is
    not in this service's copy of the stream yet, and may be on its way. A caller that asked to
    wait (Prefer: wait) is answered once it arrives."""
