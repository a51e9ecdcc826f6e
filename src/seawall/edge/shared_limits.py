"""Rate-limit state shared by every worker on a host, like nginx's shared memory zones.

One fixed-size open-addressing table in an anonymous shared mapping, created by the
supervisor before it forks the workers. A slot is 16 bytes: a 64-bit key hash and the
key's theoretical arrival time (GCRA). A slot whose time has passed holds no information
and is free for reuse; when a probe window is full, the slot that expires first is taken.
So the table is bounded by construction and costs 16 bytes a slot, whatever the load.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Hashable
from multiprocessing.synchronize import Lock

from seawall.core.rules import Rule

_SLOT = struct.Struct("<Qd")
_PROBE = 8  # slots looked at per key before one is evicted
_MASK64 = (1 << 64) - 1


class SharedGcraTable:
    """Must be created before fork; keys hash alike in every forked worker."""

    def __init__(self, min_slots: int, lock: Lock) -> None:
        slots = 1 << max(4, (min_slots - 1).bit_length())
        self.slots = slots
        self._mask = slots - 1
        self._mem = mmap.mmap(-1, slots * _SLOT.size)
        self._lock = lock
        self.evictions = 0  # this process's share

    def hit(self, key: Hashable, interval: float, tolerance: float, now: float) -> float:
        """0.0 when the request conforms, else the seconds until it would."""
        h = (hash(key) & _MASK64) | 1  # 0 marks an empty slot
        mem, mask, size = self._mem, self._mask, _SLOT.size
        start = h & mask
        with self._lock:
            found, stored = -1, 0.0
            spare, spare_tat, spare_free = start * size, float("inf"), False
            for i in range(_PROBE):
                off = ((start + i) & mask) * size
                k, tat = _SLOT.unpack_from(mem, off)
                if k == h:
                    found, stored = off, float(tat)
                    break
                if spare_free:
                    continue
                if k == 0 or tat < now:
                    spare, spare_free = off, True
                elif tat < spare_tat:
                    spare, spare_tat = off, float(tat)
            if found >= 0:
                tat = max(stored, now)
            else:
                found, tat = spare, now
                if not spare_free:
                    self.evictions += 1  # the key expiring soonest is forgotten
            wait = tat - now - tolerance
            if wait > 0:
                _SLOT.pack_into(mem, found, h, tat)
                return wait
            _SLOT.pack_into(mem, found, h, tat + interval)
            return 0.0

    def occupied(self, now: float) -> int:
        """Slots holding a live key (a full scan: for tests and occasional gauges)."""
        size = _SLOT.size
        return sum(
            1
            for off in range(0, self.slots * size, size)
            if _SLOT.unpack_from(self._mem, off)[1] >= now
        )


class SharedGcra:
    """One rule's view of the shared table; its keys are namespaced by the rule id."""

    __slots__ = ("_id", "_interval", "_table", "_tolerance")

    def __init__(self, rule: Rule, table: SharedGcraTable) -> None:
        self._id = rule.id
        self._interval = 1.0 / rule.rate
        self._tolerance = self._interval * (rule.burst - 1)
        self._table = table

    def hit(self, key: Hashable, now: float) -> float:
        return self._table.hit((self._id, key), self._interval, self._tolerance, now)

    def __len__(self) -> int:
        return 0  # counted host-wide by the table, not per rule


def shared_factory(table: SharedGcraTable) -> Callable[[Rule], SharedGcra]:
    return lambda rule: SharedGcra(rule, table)
