"""The fold cache gives what folding the whole stream gives, whatever order the lists come in."""

import random
from datetime import timedelta

import pytest

from events.authority import AUTHORITY
from events.lifecycle import fold
from events.seal import seal
from events.verifier import read_verified
from services.audit.synth import T0, journey
from services.kit.fold_cache import FoldCache


def stream(identities, n: int):
    """The events of synthetic prescription n, with a void one added: a stale copy of step 2."""
    steps = journey(n, T0)
    events = [read_verified(seal(s.payload, stream_id=str(s.payload.prescription_id), stream_version=v,
                                 producer=AUTHORITY[s.payload.TYPE].producer, signer=identities.signer(s.actor),
                                 producer_seq=v, occurred_at=T0 + timedelta(minutes=v)))
              for v, s in enumerate(steps, 1)]
    stale = read_verified(seal(steps[1].payload, stream_id=events[0].stream_id, stream_version=2,
                               producer=events[1].producer, signer=identities.signer(steps[1].actor),
                               producer_seq=99, occurred_at=T0 + timedelta(minutes=30)))
    return [*events[:3], stale, *events[3:]]


@pytest.mark.parametrize("size", [1, 2, 64])
def test_cached_folds_equal_full_folds_over_growing_shrinking_and_reordered_lists(identities, size):
    rng, cache = random.Random(size), FoldCache(streams=size)
    streams = {n: stream(identities, n) for n in (1, 7, 11)}
    for _ in range(400):
        n = rng.choice(list(streams))
        events = streams[n]
        listed = events[:rng.randint(1, len(events))]
        if len(listed) > 2 and rng.random() < 0.3:  # an own pending event came back behind another's
            i = rng.randrange(1, len(listed) - 1)
            listed[i], listed[i + 1] = listed[i + 1], listed[i]
        sid = events[0].stream_id
        assert cache.fold(sid, listed) == fold(sid, listed)


def test_a_grown_stream_is_folded_only_where_it_grew(identities):
    events, cache = stream(identities, 7), FoldCache()
    sid = events[0].stream_id
    cache.fold(sid, events[:3])
    assert cache.events_folded == 3
    state, voids = cache.fold(sid, events)
    assert cache.events_folded == len(events) and (state, voids) == fold(sid, events)
    assert len(voids) == 1 and voids[0].version == 2  # the stale copy, remembered with the fold
    cache.fold(sid, events)
    assert cache.events_folded == len(events)  # nothing new: nothing folded
