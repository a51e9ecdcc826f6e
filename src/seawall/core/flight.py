"""Single flight: concurrent misses for one key wait for the one request that fetches it.

Pure and bounded: waiters per key and keys in flight are both capped.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar

W = TypeVar("W")


class Join(StrEnum):
    LEAD = "lead"  # fetch from the origin, then call finish(key)
    WAIT = "wait"  # queued: the leader's finish(key) hands you back
    FULL = "full"  # no room to queue: fetch uncoalesced or shed, the shell's choice


class SingleFlight(Generic[W]):
    """Concurrent misses for one key: the first leads (fetches), the others wait for it.

    The shell must call finish(key) in a `finally`, so a failed or cancelled leader frees
    its waiters (they then retry, or take a stale-if-error copy). Both waiters per key and
    keys in flight are capped.
    """

    __slots__ = ("_flights", "full", "max_keys", "max_waiters")

    def __init__(self, max_waiters: int = 10_000, max_keys: int = 100_000) -> None:
        if max_waiters < 0 or max_keys < 1:
            raise ValueError("max_waiters must be >= 0 and max_keys >= 1")
        self.max_waiters = max_waiters
        self.max_keys = max_keys
        self._flights: dict[str, list[W]] = {}
        self.full = 0  # joins refused, for stats

    def __len__(self) -> int:
        return len(self._flights)

    def __contains__(self, key: str) -> bool:
        """Whether someone is already fetching `key`."""
        return key in self._flights

    def join(self, key: str, waiter: W) -> Join:
        waiters = self._flights.get(key)
        if waiters is None:
            if len(self._flights) >= self.max_keys:
                self.full += 1
                return Join.FULL
            self._flights[key] = []
            return Join.LEAD
        if len(waiters) >= self.max_waiters:
            self.full += 1
            return Join.FULL
        waiters.append(waiter)
        return Join.WAIT

    def finish(self, key: str) -> list[W]:
        """End the flight; the waiters, in arrival order, to answer from the new entry or retry."""
        return self._flights.pop(key, [])
