"""Ports for launched children come from below the kernel's ephemeral range (infra/procs.py says why)."""

import itertools
import socket

from infra import procs
from infra.procs import LISTEN_PORTS_FROM, ephemeral_ports_from, free_port_pair, free_ports


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range():
    ports = free_ports(24)
    assert len(set(ports)) == 24
    assert all(LISTEN_PORTS_FROM <= p < ephemeral_ports_from() for p in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_pair_is_offset_apart_and_both_below_the_ephemeral_range():
    low, high = free_port_pair(10000)
    assert high == low + 10000
    assert low >= LISTEN_PORTS_FROM and high < ephemeral_ports_from()


def _unused_ports(count: int) -> list[int]:
    """Ports free now that this process has not handed out (free_ports would never offer them)."""
    candidates = (p for p in range(LISTEN_PORTS_FROM + 5000, 30000) if p not in procs._HANDED_OUT)
    return list(itertools.islice((p for p in candidates if procs._bindable(p)), count))


def test_a_port_held_by_a_listener_is_passed_over(monkeypatch):
    held_port, other = _unused_ports(2)
    with socket.socket() as held:
        held.bind(("127.0.0.1", held_port))
        held.listen()
        # The random choice offers the held port first, twice, then another one.
        offers = iter([held_port, held_port, other])
        monkeypatch.setattr("infra.procs.random.randrange", lambda *_: next(offers))
        assert free_ports(1) == [other]


def test_a_port_handed_out_once_is_never_offered_again_even_while_still_unbound(monkeypatch):
    first, second = _unused_ports(2)
    offers = iter([first, first, second])  # nothing binds `first` in between: a child not yet up
    monkeypatch.setattr("infra.procs.random.randrange", lambda *_: next(offers))
    assert free_ports(1) == [first]
    assert free_ports(1) == [second]
