"""Fixed-memory stream summaries: heavy hitters and distinct counts.

Pure and deterministic: no clocks (time is an argument), no I/O, no unseeded randomness,
and no dependence on PYTHONHASHSEED in anything a result depends on.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping
from heapq import heapify, heappush, heapreplace, nlargest
from operator import itemgetter
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
Item = int | str | bytes | bytearray | memoryview  # what a HyperLogLog counts

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes
_count_at = itemgetter(1)


class SpaceSaving(Generic[K]):
    """Heavy hitters over a weighted stream in `k` counters (Metwally, Agrawal, El Abbadi 2005).

    Guarantees, for positive weights and with `total` the stream's weight: every key whose
    true weight exceeds total/k is monitored, and for a monitored key
    ``count - error <= true <= count``. The counts of all monitored keys sum to `total`.
    After ``decay(f)`` the same holds against the true weights multiplied by f.

    Cost: O(1) for a monitored key (one dict update); O(log k) amortised for a new one.
    The heap holds exactly one entry per key, a lower bound of its count (counts only
    grow between heapifies); a stale minimum is refreshed when popped, which is paid for
    by the increments that made it stale.
    """

    __slots__ = ("_counts", "_errors", "_heap", "_seq", "k", "total")

    def __init__(self, k: int) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        self.k = k
        self.total = 0.0
        self._counts: dict[K, float] = {}
        self._errors: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._seq = 0  # a tie-break, so keys themselves are never compared

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, key: object) -> bool:
        return key in self._counts

    def add(self, key: K, weight: float = 1.0) -> None:
        """Count `weight` (> 0) for `key`."""
        if weight <= 0.0:
            raise ValueError("weight must be positive")
        self.total += weight
        counts = self._counts
        c = counts.get(key)
        if c is None:
            self._insert(((key, weight),))
        else:
            counts[key] = c + weight

    def update(self, counts: Mapping[K, float]) -> None:
        """Fold in an exact per-interval tally, such as a Counter; weights must be positive."""
        if not counts:
            return
        if min(counts.values()) <= 0:
            raise ValueError("weights must be positive")
        self.total += sum(counts.values())
        mine = self._counts
        get = mine.get
        new = []
        for item in counts.items():
            c = get(item[0])
            if c is None:
                new.append(item)
            else:
                mine[item[0]] = c + item[1]
        if new:
            # heaviest first: a key entering earlier inherits a smaller minimum as its error
            new.sort(key=_count_at, reverse=True)
            self._insert(new)

    def _insert(self, items: Iterable[tuple[K, float]]) -> None:
        """Monitor new keys: fill free counters, then each takes over the minimum's."""
        counts, errors, heap, k = self._counts, self._errors, self._heap, self.k
        seq = self._seq
        for key, weight in items:
            seq += 1
            if len(counts) < k:
                counts[key] = weight
                errors[key] = 0.0
                heappush(heap, (weight, seq, key))
                continue
            while True:
                low, old, victim = heap[0]
                now = counts[victim]
                if now == low:
                    break
                heapreplace(heap, (now, old, victim))  # stale: refresh and look again
            heapreplace(heap, (low + weight, seq, key))
            del counts[victim], errors[victim]
            counts[key] = low + weight
            errors[key] = low
        self._seq = seq

    def decay(self, factor: float) -> None:
        """Multiply every count, error and the total by `factor` in (0, 1]: O(k)."""
        if not 0.0 < factor <= 1.0:
            raise ValueError("factor must be in (0, 1]")
        self.total *= factor
        counts, errors = self._counts, self._errors
        for key in counts:
            counts[key] *= factor
            errors[key] *= factor
        # rebuilt rather than scaled: products of rounded floats must match the dict exactly
        self._heap = [(counts[key], seq, key) for _, seq, key in self._heap]
        heapify(self._heap)

    def estimate(self, key: K) -> float:
        """The key's count (an upper bound of its weight), or 0.0 when it is not monitored."""
        return self._counts.get(key, 0.0)

    def top(self, n: int) -> list[tuple[K, float, float]]:
        """Up to `n` (key, count, error) by count, largest first."""
        errors = self._errors
        return [(k, c, errors[k]) for k, c in nlargest(n, self._counts.items(), key=_count_at)]


def _hash64(value: Item) -> int:
    """A stable 64-bit hash: splitmix64's finalizer for ints, BLAKE2b for text and bytes.

    Values that are equal hash equal (True and 1 too), so a batch may be deduplicated.
    """
    if isinstance(value, int) and 0 <= value <= _M64:
        z = (int(value) + _GOLDEN) & _M64
        z = ((z ^ (z >> 30)) * _MIX1) & _M64
        z = ((z ^ (z >> 27)) * _MIX2) & _M64
        return z ^ (z >> 31)
    if isinstance(value, str):
        data: bytes | bytearray | memoryview = value.encode("utf-8", "surrogatepass")
    elif isinstance(value, int):  # negatives and IPv6-sized ints
        data = value.to_bytes(value.bit_length() // 8 + 1, "little", signed=True)
    elif isinstance(value, bytes | bytearray | memoryview):
        data = value
    else:
        raise TypeError(f"cannot hash {type(value).__name__} for a HyperLogLog")
    return _from_bytes(_blake2b(data, digest_size=8).digest(), "little")


def hash_texts(values: Iterable[str]) -> list[int]:
    """`_hash64` of each text (BLAKE2b), for sketches fed the same keys in several ways."""
    blake2b, from_bytes = _blake2b, _from_bytes
    return [
        from_bytes(blake2b(v.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
        for v in values
    ]


class HyperLogLog:
    """Distinct count in 2**p one-byte registers (Flajolet, Fusy, Gandouet, Meunier 2007).

    Relative standard error 1.04/sqrt(2**p). Small cardinalities use linear counting
    (while the raw estimate is at most 2.5*2**p and a register is still zero); the 64-bit
    hash makes the large-range correction unnecessary. Just past the switch (2.5 to 3
    times 2**p) the raw estimator reads about 1.7% high at p=12, inside its standard
    error; HyperLogLog++'s empirical bias tables would remove that, and are not kept here.
    Adding a value twice changes nothing, and ``a.merge(b)`` equals the sketch of the
    union of both streams. Ints and text hash the same in every process and version.
    """

    __slots__ = ("_regs", "m", "p")

    def __init__(self, p: int = 12) -> None:
        if not 4 <= p <= 16:
            raise ValueError("p must be in 4..16")
        self.p = p
        self.m = 1 << p
        self._regs = bytearray(self.m)

    @property
    def registers(self) -> bytes:
        return bytes(self._regs)

    @classmethod
    def from_registers(cls, data: bytes) -> HyperLogLog:
        """The sketch whose registers are `data` (another process's, to merge with)."""
        p = len(data).bit_length() - 1
        if len(data) != 1 << p or not 4 <= p <= 16:
            raise ValueError(f"{len(data)} registers is not 2**p for p in 4..16")
        h = cls(p)
        h._regs[:] = data
        return h

    def add(self, value: Item) -> None:
        if type(value) is int and 0 <= value <= _M64:  # _hash64 inline: the common case
            z = (value + _GOLDEN) & _M64
            z = ((z ^ (z >> 30)) * _MIX1) & _M64
            z = ((z ^ (z >> 27)) * _MIX2) & _M64
            h = z ^ (z >> 31)
        else:
            h = _hash64(value)
        width = 64 - self.p
        rank = width + 1 - (h & ((1 << width) - 1)).bit_length()
        j = h >> width
        if rank > self._regs[j]:  # noqa: PLR1730 (a compare is cheaper than max())
            self._regs[j] = rank

    def add_many(self, values: Iterable[Item]) -> None:
        """Add every value; duplicates in the batch are dropped first (at C speed)."""
        seq = values if isinstance(values, Collection) else list(values)
        try:
            # dict, not set: it keeps the batch's order, so the loop reads memory in order
            distinct: Iterable[Item] = dict.fromkeys(seq)
        except TypeError:  # bytearray and memoryview are unhashable
            distinct = seq
        regs, width, hash64 = self._regs, 64 - self.p, _hash64
        low, top = (1 << width) - 1, width + 1
        m64, golden, mix1, mix2 = _M64, _GOLDEN, _MIX1, _MIX2
        blake2b, from_bytes = _blake2b, _from_bytes
        for v in distinct:
            if type(v) is int and 0 <= v <= m64:  # splitmix64 inline: the common case
                z = (v + golden) & m64
                z = ((z ^ (z >> 30)) * mix1) & m64
                z = ((z ^ (z >> 27)) * mix2) & m64
                h = z ^ (z >> 31)
            elif type(v) is str:
                h = from_bytes(
                    blake2b(v.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
                )
            else:
                h = hash64(v)
            rank = top - (h & low).bit_length()
            j = h >> width
            if rank > regs[j]:  # noqa: PLR1730 (a compare is cheaper than max())
                regs[j] = rank

    def add_hashes(self, hashes: Iterable[int]) -> None:
        """Add values already hashed with `hash_texts` (one hash serves several sketches)."""
        regs, width = self._regs, 64 - self.p
        low, top = (1 << width) - 1, width + 1
        for h in hashes:
            rank = top - (h & low).bit_length()
            j = h >> width
            if rank > regs[j]:  # noqa: PLR1730 (a compare is cheaper than max())
                regs[j] = rank

    def count(self) -> float:
        m = self.m
        regs = self._regs
        z = 0.0
        for r in range(max(regs) + 1):
            z += regs.count(r) * 2.0**-r
        if m == 16:
            alpha = 0.673
        elif m == 32:
            alpha = 0.697
        elif m == 64:
            alpha = 0.709
        else:
            alpha = 0.7213 / (1.0 + 1.079 / m)
        estimate = alpha * m * m / z
        zeros = regs.count(0)
        if estimate <= 2.5 * m and zeros:
            return m * math.log(m / zeros)
        return estimate

    def merge(self, other: HyperLogLog) -> None:
        """Fold `other` in: afterwards this sketch counts the union of both streams."""
        if other.p != self.p:
            raise ValueError(f"cannot merge p={other.p} into p={self.p}")
        self._regs = bytearray(map(max, self._regs, other._regs))


class BottomK:
    """A uniform sample of the distinct keys of a stream: the `k` with the smallest hash.

    Every distinct key is equally likely to be kept, however often it recurs, so the
    sample speaks for the population of sources rather than for their volume (a report's
    country spread is over addresses, not requests). ``a.merge(b)`` equals the sample of
    the union of both streams, so workers' samples fold into one host's. Keys are hashed
    stably (`_hash64`); each keeps a label (an address's text is its own key).
    """

    __slots__ = ("_heap", "_kept", "k")

    def __init__(self, k: int = 4096) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        self.k = k
        self._kept: dict[int, str] = {}  # hash -> label
        self._heap: list[int] = []  # negated hashes: the largest kept hash on top

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def full(self) -> bool:
        """Whether keys may have been left out (below k, the sample is every key)."""
        return len(self._kept) >= self.k

    def add_many(self, labelled: Mapping[Item, str]) -> None:
        """Offer keys with their labels; a key already kept changes nothing."""
        self.add_hashed([_hash64(key) for key in labelled], labelled.values())

    def add_hashed(self, hashes: Iterable[int], labels: Iterable[str]) -> None:
        """Offer keys already hashed with `hash_texts`; once full, only those under the bar."""
        offer = self._offer
        pairs: Iterable[tuple[int, str]] = zip(hashes, labels, strict=True)
        if len(self._kept) >= self.k:
            bar = -self._heap[0]
            pairs = [(h, label) for h, label in pairs if h < bar]
        for h, label in pairs:
            offer(h, label)

    def merge(self, other: BottomK) -> None:
        """Fold `other` in: afterwards this is the sample of the union of both streams."""
        offer = self._offer
        for h, label in other._kept.items():
            offer(h, label)

    def _offer(self, h: int, label: str) -> None:
        kept, heap = self._kept, self._heap
        if h in kept:
            return
        if len(kept) < self.k:
            kept[h] = label
            heappush(heap, -h)
        elif h < -heap[0]:
            del kept[-heapreplace(heap, -h)]
            kept[h] = label

    def labels(self) -> list[str]:
        """The kept labels, in hash order (stable across processes)."""
        return [self._kept[h] for h in sorted(self._kept)]


class TopCounts:
    """Exact counts for the first `cap` distinct keys; later newcomers only in `untracked`.

    Heavy hitters without Space-Saving's churn: a botnet of thousands of addresses sending
    a few requests each costs one C-level dict update per interval, not a heap operation
    per address. A key that arrives once the table is full is not tracked individually
    (its prefix still is, in the prefix table); `untracked` says how much that was.
    """

    __slots__ = ("cap", "counts", "untracked")

    def __init__(self, cap: int = 65_536) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self.cap = cap
        self.counts: Counter[str] = Counter()
        self.untracked = 0.0

    def update(self, counts: Mapping[str, float]) -> None:
        held = self.counts
        if len(held) + len(counts) <= self.cap:
            held.update(counts)
            return
        for key, n in counts.items():
            if key in held or len(held) < self.cap:
                held[key] += n  # type: ignore[assignment]
            else:
                self.untracked += n

    def top(self, n: int) -> list[tuple[str, float]]:
        return nlargest(n, self.counts.items(), key=_count_at)
