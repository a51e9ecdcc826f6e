"""Clocks. The core never reads time itself; it is handed `now` from one of these."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; used for limits and timeouts."""

    def wall(self) -> float:
        """Seconds since the epoch; used for token expiry and logs."""


class SystemClock:
    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class ManualClock:
    """A clock moved by hand: tests and offline replay drive time explicitly."""

    __slots__ = ("_mono", "_wall")

    def __init__(self, start: float = 0.0, wall: float = 1_700_000_000.0) -> None:
        self._mono = start
        self._wall = wall

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._mono += seconds
        self._wall += seconds

    def set(self, monotonic: float) -> None:
        self.advance(monotonic - self._mono)
