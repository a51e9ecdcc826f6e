"""The baseline window: a fixed-size sample of recent legitimate-looking traffic.

Signatures are scored against it, so it must hold what normal traffic looks like, not
the attack. Three things keep the attack out: each second's sample waits `lag` seconds
before it joins (an attack is usually detected within that time), records already
decided by an automatic rule never enter, and when a sample matures, views matching a
signature that is active then are dropped.

Memory is fixed: at most `per_second` views for each of the last `seconds` seconds.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from seawall.detect.records import Slice, View, view_of


@dataclass(frozen=True, slots=True)
class Sample:
    time: float
    views: tuple[View, ...]
    weight: float  # real records per kept view


class BaselineWindow:
    __slots__ = ("_pending", "_ring", "lag", "per_second", "rng", "seconds")

    def __init__(
        self, seconds: int = 180, per_second: int = 48, lag: float = 3.0, seed: int = 0
    ) -> None:
        if seconds < 1 or per_second < 1:
            raise ValueError("a baseline window needs seconds and per_second >= 1")
        self.seconds = seconds
        self.per_second = per_second
        self.lag = lag
        self.rng = random.Random(seed)  # seeded: replaying a log gives the same window
        self._pending: deque[Sample] = deque()
        self._ring: deque[Sample] = deque(maxlen=seconds)

    def add(self, s: Slice) -> None:
        """Sample one interval's records that no automatic rule decided."""
        kept = [f for f, auto in zip(s.facts, s.auto, strict=True) if not auto]
        real = len(kept) * s.weight
        if len(kept) > self.per_second:
            kept = self.rng.sample(kept, self.per_second)
        if not kept:
            return
        views = tuple(view_of(f) for f in kept)
        self._pending.append(Sample(s.start, views, real / len(views)))

    def mature(self, now: float, exclude: Callable[[View], bool] | None = None) -> None:
        """Move samples older than `lag` into the window, without views `exclude` rejects."""
        pending = self._pending
        while pending and pending[0].time <= now - self.lag:
            sample = pending.popleft()
            views = sample.views
            if exclude is not None:
                views = tuple(v for v in views if not exclude(v))
            if views:
                self._ring.append(Sample(sample.time, views, sample.weight))

    def forget_pending(self, exclude: Callable[[View], bool]) -> None:
        """An attack was just recognised: drop its views from samples not yet matured."""
        self._pending = deque(
            Sample(s.time, tuple(v for v in s.views if not exclude(v)), s.weight)
            for s in self._pending
        )

    def __iter__(self) -> Iterator[tuple[View, float]]:
        for sample in self._ring:
            w = sample.weight
            for v in sample.views:
                yield v, w

    def __len__(self) -> int:
        return sum(len(s.views) for s in self._ring)

    @property
    def span(self) -> float:
        """Seconds of traffic the window covers."""
        return float(len(self._ring))

    def pairs(self) -> tuple[list[View], list[float]]:
        views: list[View] = []
        weights: list[float] = []
        for sample in self._ring:
            views.extend(sample.views)
            weights.extend([sample.weight] * len(sample.views))
        return views, weights
