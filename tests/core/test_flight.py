"""Transcripts of single flight: joins in, lead/wait/full and waiters out."""

from __future__ import annotations

from seawall.core.flight import Join, SingleFlight


def test_single_flight_lead_wait_full_finish() -> None:
    sf: SingleFlight[str] = SingleFlight(max_waiters=2, max_keys=2)
    assert [
        sf.join("/a", "r1"),
        sf.join("/a", "r2"),
        sf.join("/a", "r3"),
        sf.join("/a", "r4"),  # over max_waiters
        sf.join("/b", "r5"),
        sf.join("/c", "r6"),  # over max_keys in flight
    ] == [Join.LEAD, Join.WAIT, Join.WAIT, Join.FULL, Join.LEAD, Join.FULL]
    assert (len(sf), sf.full) == (2, 2)
    assert sf.finish("/a") == ["r2", "r3"]  # the leader is not among its waiters
    assert sf.finish("/a") == []  # finishing twice is harmless
    assert sf.join("/a", "r7") == Join.LEAD  # a later miss starts a new flight
    assert sf.join("/c", "r8") == Join.FULL
    assert sf.finish("/b") == []
    assert sf.join("/c", "r8") == Join.LEAD
