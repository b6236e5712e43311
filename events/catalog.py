"""Which payload belongs to which event type, and the discriminated union of all events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, create_model

from events.envelope import Envelope
from events.schemas import ALL_PAYLOADS, EventPayload


def _typed_envelope(payload_cls: type[EventPayload]) -> type[Envelope[Any]]:
    return create_model(
        f"{payload_cls.__name__}Event",
        __base__=Envelope[payload_cls],  # type: ignore[valid-type]
        type=(Literal[payload_cls.TYPE], ...),  # type: ignore[valid-type]
    )


class Catalog:
    """The event types a reader understands, at their current schema versions."""

    def __init__(self, payloads: Iterable[type[EventPayload]]) -> None:
        self.payloads: Mapping[str, type[EventPayload]] = {p.TYPE: p for p in payloads}
        self.envelopes = {t: _typed_envelope(p) for t, p in self.payloads.items()}
        union = Union[tuple(self.envelopes.values())]  # type: ignore[valid-type]  # noqa: UP007
        self.adapter: TypeAdapter[Any] = TypeAdapter(Annotated[union, Field(discriminator="type")])

    def knows(self, event_type: str) -> bool:
        return event_type in self.payloads

    def current_version(self, event_type: str) -> int:
        return self.payloads[event_type].SCHEMA_VERSION

    def parse(self, envelope: dict[str, Any]) -> Envelope[Any]:
        """Validate an envelope dict (payload already upcast) into its typed envelope."""
        return self.adapter.validate_python(envelope)


DEFAULT_CATALOG = Catalog(ALL_PAYLOADS)

# One discriminated union over every event on the log: AnyEvent validates any envelope.
AnyEvent = DEFAULT_CATALOG.adapter
