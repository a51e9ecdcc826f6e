"""Clocks: the system one moves by itself, the manual one only when told."""

from __future__ import annotations

import pytest

from seawall.runtime.clock import ManualClock, SystemClock


def test_manual_clock_moves_only_when_told_and_never_back() -> None:
    c = ManualClock(start=10.0, wall=1000.0)
    assert (c.monotonic(), c.wall()) == (10.0, 1000.0)
    c.advance(2.5)
    assert (c.monotonic(), c.wall()) == (12.5, 1002.5)
    c.set(20.0)
    assert (c.monotonic(), c.wall()) == (20.0, 1010.0)
    with pytest.raises(ValueError):
        c.advance(-1)
    with pytest.raises(ValueError):
        c.set(19.0)


def test_system_clock_is_monotonic_and_near_wall_time() -> None:
    import time

    c = SystemClock()
    a, b = c.monotonic(), c.monotonic()
    assert b >= a
    assert abs(c.wall() - time.time()) < 1.0
