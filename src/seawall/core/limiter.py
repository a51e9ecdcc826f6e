"""GCRA rate limiting with bounded per-key state."""

from __future__ import annotations

from collections.abc import Hashable
from itertools import islice
from typing import Protocol


class Limiter(Protocol):
    """Per-key rate state for one rule: in this process, or shared by a host's workers."""

    def hit(self, key: Hashable, now: float) -> float:
        """0.0 when the request conforms, else the seconds until it would."""

    def __len__(self) -> int: ...


class Gcra:
    """Generic cell-rate algorithm: one float per key, LRU-bounded.

    A key's state is its theoretical arrival time (TAT). A key whose TAT has passed holds
    no information, so evicting the least recently used keys when the table is full (the
    quietest 1/64 at once) only ever forgets the clients that were quiet the longest.
    """

    __slots__ = ("_batch", "_interval", "_tat", "_tolerance", "evictions", "max_keys")

    def __init__(self, rate: float, burst: int, max_keys: int) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._interval = 1.0 / rate
        self._tolerance = self._interval * (burst - 1)
        self._tat: dict[Hashable, float] = {}
        self.max_keys = max_keys
        self.evictions = 0
        # Finding the oldest key scans past the holes that earlier evictions left at the
        # front of the dict (until it is next resized), so one scan evicts a batch: O(1)
        # amortized per eviction instead of O(max_keys) each, under a churning botnet.
        self._batch = max(1, max_keys // 64)

    def __len__(self) -> int:
        return len(self._tat)

    def hit(self, key: Hashable, now: float) -> float:
        """0.0 when the request conforms, else the seconds until it would."""
        tats = self._tat
        tat = tats.pop(key, None)
        if tat is None or tat < now:
            tat = now
            if len(tats) >= self.max_keys:
                for victim in list(islice(tats, self._batch)):
                    del tats[victim]
                self.evictions += self._batch
        wait = tat - now - self._tolerance
        if wait > 0:
            tats[key] = tat
            return wait
        tats[key] = tat + self._interval
        return 0.0
