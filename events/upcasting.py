"""Upcasters: old payloads are read at the current schema version, never rewritten on the log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]


class UnknownVersion(LookupError):
    """No chain of upcasters leads from this version to the current one."""


class Upcasters:
    """A registry of one-step upcasters, keyed by (event type, from version)."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: register a function that turns version N of a payload into N+1."""

        def add(step: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._steps:
                raise ValueError(f"an upcaster for {event_type} v{from_version} exists already")
            self._steps[key] = step
            return step

        return add

    def upcast(self, event_type: str, version: int, current: int, payload: Payload) -> Payload:
        """Apply each step from version to current; raise UnknownVersion if a step is missing."""
        if version > current:
            raise UnknownVersion(f"{event_type} v{version} is newer than this reader's v{current}")
        while version < current:
            step = self._steps.get((event_type, version))
            if step is None:
                raise UnknownVersion(f"no upcaster for {event_type} v{version}")
            payload = step(dict(payload))
            version += 1
        return payload


# The platform's registry. No event type has changed incompatibly yet, so it is empty;
# tests/unit/test_upcasting.py shows a worked example of a version bump.
UPCASTERS = Upcasters()
