"""Per-key baselines of a per-second rate: exponentially weighted mean and variance.

Each key's baseline is an EWMA of its rate and an EWMA of the variance (Finch 2009,
"Incremental calculation of weighted mean and variance", section 9), with a weight per
second of ``a = 1 - 2**(-1/half_life)``: an observation's weight halves every
`half_life` seconds. A key that is absent in a second had rate 0 then. Those zeros are
applied lazily, in closed form, when the key is next observed or read: after g zero
observations from (mean, var), with b = 1 - a,

    mean_g = b**g * mean
    var_g  = b**g * (var + mean**2 * (1 - b**g))

which is exactly what g explicit zero observations give (up to rounding). So a quiet
key costs nothing per second, and memory is bounded by `max_keys` with LRU eviction.
A young key is an equal-weight average: its n-th second has weight 1/n (Welford) until
that falls below `a`, then the EWMA takes over. So after a few seconds of a steady rate
the baseline reads that rate with no deviation, not a fraction of it ramping up from 0.
Zeros in that phase have their own closed form, n / (n + g) for the mean. A key never
seen scores against mean 0 and variance 0.

Pure: `now` is an argument, in seconds. Observe each key at most once per second, and
score a second's rate before observing it, so the attack is compared with the past.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

K = TypeVar("K", bound=Hashable)  # any key type; a Mapping is invariant in its keys

_MEAN, _VAR, _LAST, _SAMPLES, _UNTIL = range(5)
_NEVER = -math.inf


@dataclass(frozen=True, slots=True)
class Stat:
    """A key's baseline at some moment; `samples` counts the seconds it has learned from."""

    mean: float
    std: float
    samples: int


class Baselines:
    """Online per-key rate baselines, bounded to `max_keys` (the least recently observed go).

    State per key: [mean, var, last observed time, samples, frozen until]. While a key is
    frozen (``freeze(key, until)``) its observations are ignored, so an attack is not
    learned as normal, and the frozen seconds are not counted as zeros afterwards either.
    """

    __slots__ = (
        "_a",
        "_b",
        "_batch",
        "_states",
        "_young",
        "evictions",
        "half_life",
        "max_keys",
    )

    def __init__(self, half_life: float = 300.0, max_keys: int = 100_000) -> None:
        if half_life <= 0:
            raise ValueError("half_life must be positive")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.half_life = half_life
        self.max_keys = max_keys
        self._b = 2.0 ** (-1.0 / half_life)
        self._a = 1.0 - self._b
        self._young = float(int(1.0 / self._a))  # samples averaged with equal weight
        self._states: dict[Hashable, list[float]] = {}
        self.evictions = 0
        # evicting in batches keeps the scan past the dict's leading holes O(1) amortised
        self._batch = max(1, max_keys // 64)

    def __len__(self) -> int:
        return len(self._states)

    def observe(self, key: Hashable, rate: float, now: float) -> None:
        self._observe(((key, rate),), now)

    def observe_many(self, rates: Mapping[K, float], now: float) -> None:
        """One second's rates; keys not in `rates` had rate 0 and are decayed lazily."""
        self._observe(rates.items(), now)

    def _observe(self, items: Iterable[tuple[Hashable, float]], now: float) -> None:
        states, a = self._states, self._a
        for key, x in items:
            st = states.pop(key, None)
            if st is None:
                if len(states) >= self.max_keys:
                    self._evict()
                st = [0.0, 0.0, now, 0.0, _NEVER]
            elif st[_UNTIL] > now:
                st[_LAST] = now  # frozen: keep the key, learn nothing
                states[key] = st
                continue
            elif st[_SAMPLES]:
                # the seconds strictly between the last observation (or the thaw) and now
                zeros = now - max(st[_LAST], st[_UNTIL] - 1.0) - 1.0
                if zeros > 0.0:
                    st[_MEAN], st[_VAR], n = self._zeros(st[_MEAN], st[_VAR], st[_SAMPLES], zeros)
                    st[_SAMPLES] = n
            w = 1.0 / (st[_SAMPLES] + 1.0) if st[_SAMPLES] < self._young else a
            d = x - st[_MEAN]
            inc = w * d
            st[_MEAN] += inc
            st[_VAR] = (1.0 - w) * (st[_VAR] + d * inc)
            st[_LAST] = now
            st[_SAMPLES] += 1.0
            states[key] = st

    def _zeros(self, mean: float, var: float, n: float, g: float) -> tuple[float, float, float]:
        """(mean, var, samples) after `g` seconds at rate 0, in closed form."""
        g = float(int(g))
        if n < self._young:  # equal weights: the plain average of n values and k zeros
            k = min(g, self._young - n)
            m2 = mean * n / (n + k)
            var = max(0.0, n * (var + mean * mean) / (n + k) - m2 * m2)
            mean, n, g = m2, n + k, g - k
        if g > 0.0:
            f = self._b**g
            var = f * (var + mean * mean * (1.0 - f))
            mean *= f
            n += g
        return mean, var, n

    def _evict(self) -> None:
        states = self._states
        for victim in list(islice(states, self._batch)):
            del states[victim]
        self.evictions += self._batch

    def _decayed(self, key: Hashable, now: float) -> tuple[float, float, int] | None:
        st = self._states.get(key)
        if st is None:
            return None
        mean, var, samples = st[_MEAN], st[_VAR], int(st[_SAMPLES])
        if st[_UNTIL] <= now and samples:
            zeros = now - max(st[_LAST], st[_UNTIL] - 1.0) - 1.0
            if zeros > 0.0:
                mean, var, n = self._zeros(mean, var, float(samples), zeros)
                samples = int(n)
        return mean, var, samples

    def stat(self, key: Hashable, now: float) -> Stat | None:
        """The key's baseline just before second `now` is observed; None for an unknown key."""
        got = self._decayed(key, now)
        if got is None:
            return None
        mean, var, samples = got
        return Stat(mean, math.sqrt(max(var, 0.0)), samples)

    def score(self, key: Hashable, rate: float, now: float, floor: float) -> float:
        """(rate - mean) / sqrt(var + floor**2): a z-score that a quiet key cannot blow up."""
        got = self._decayed(key, now)
        mean, var = (0.0, 0.0) if got is None else got[:2]
        diff = rate - mean
        den = math.sqrt(max(var, 0.0) + floor * floor)
        if den == 0.0:
            return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
        return diff / den

    def freeze(self, key: Hashable, until: float) -> None:
        """Ignore the key's observations before `until` (the last call wins); an attack is
        not learned as the new normal, and the frozen seconds do not decay the baseline."""
        st = self._states.pop(key, None)
        if st is None:
            if len(self._states) >= self.max_keys:
                self._evict()
            st = [0.0, 0.0, until, 0.0, until]
        st[_UNTIL] = until
        self._states[key] = st

    def frozen(self, key: Hashable, now: float) -> bool:
        st = self._states.get(key)
        return st is not None and st[_UNTIL] > now
