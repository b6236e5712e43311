"""Folds remembered per stream, so that a stream loaded again is folded only where it grew.

A stream is loaded and folded at every step of its life, by the consumer for each batch that
touches it and by each command: its first events were folded again and again. Folding is a pure
function of the events in order, and an event id names one event (the inbox and the event store
keep each id once), so the fold of a list whose ids begin with the ids of a remembered fold is
that fold, carried on over the rest. Nothing here is ever wrong, only missing: a stream whose
remembered list is not a prefix (our own pending event came back from the log behind another
service's) is folded in full.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from events.envelope import Envelope
from events.lifecycle import Prescription, Void, fold_on

# Streams remembered: enough for every prescription in flight in a busy service (a few hundred),
# small enough that the states (a few kB each) stay a small part of a service's memory.
DEFAULT_STREAMS = 2048


class FoldCache:
    """events.lifecycle.fold, remembering the last fold of each stream."""

    def __init__(self, streams: int = DEFAULT_STREAMS) -> None:
        self.streams = streams
        self._folds: OrderedDict[str, tuple[tuple[UUID, ...], Prescription, tuple[Void, ...]]] = OrderedDict()
        self.events_folded = 0  # evolve() calls made: what the cache saves shows here

    def fold(self, stream_id: str, events: Sequence[Envelope[Any]]) -> tuple[Prescription, list[Void]]:
        """The same as fold(stream_id, events)."""
        ids = tuple(e.event_id for e in events)
        known = self._folds.get(stream_id)
        if known is not None and ids[:len(known[0])] == known[0]:
            done, state, voids = known
        else:
            done, state, voids = (), Prescription(stream_id), ()
        rest = events[len(done):]
        if rest:
            state, more = fold_on(state, rest)
            voids = (*voids, *more)
            self.events_folded += len(rest)
        self.remember(stream_id, ids, state, voids)
        return state, list(voids)

    def remember(self, stream_id: str, ids: tuple[UUID, ...], state: Prescription, voids: tuple[Void, ...]) -> None:
        """Keep a fold made elsewhere: `state` and `voids` must be the fold of the events with these ids."""
        self._folds[stream_id] = (ids, state, voids)
        self._folds.move_to_end(stream_id)
        if len(self._folds) > self.streams:
            self._folds.popitem(last=False)
