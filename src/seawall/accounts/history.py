"""Bounded per-key history for the account detectors, and the base they share.

A `Table` maps keys (accounts, addresses, prefixes, fingerprints) to their history and
holds at most `cap` keys, evicting the least recently touched. A `Window` is one key's
recent events, oldest first, at most `cap` of them; it drops the oldest beyond that.
Both count what they drop, so a count is known to be a floor when they did.

Windows hold the events themselves: an event is immutable and shared by every detector
that keeps it, so a reference costs a pointer, not a copy.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import ClassVar, Generic, Protocol, TypeVar

from seawall.accounts.events import MAX_LISTED, AuthEvent, Finding

K = TypeVar("K", bound=Hashable)
T = TypeVar("T", bound=Hashable)


class Aged(Protocol):
    @property
    def last(self) -> float: ...


V = TypeVar("V", bound=Aged)


class Table(Generic[K, V]):
    """A dict of at most `cap` keys in least-recently-touched order; `evicted` counts drops."""

    __slots__ = ("_data", "cap", "evicted")

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("a table needs room for at least one key")
        self.cap = cap
        self.evicted = 0
        self._data: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def hit(self, key: K) -> V | None:
        """The key's value if present, now the most recently touched; never makes one."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def touch(self, key: K, make: Callable[[], V]) -> V:
        """The key's value, made if missing, now the most recently touched."""
        data = self._data
        value = data.get(key)
        if value is not None:
            data.move_to_end(key)
            return value
        value = data[key] = make()
        if len(data) > self.cap:
            data.popitem(last=False)
            self.evicted += 1
        return value

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def forget_before(self, t: float) -> int:
        """Drops keys idle since before `t`, oldest touch first; returns how many."""
        data, n = self._data, 0
        while data:
            key, value = next(iter(data.items()))
            if value.last >= t:
                break
            del data[key]
            n += 1
        return n


class Window:
    """One key's events in time order, at most `cap`; subclasses keep running counts."""

    __slots__ = ("dropped", "events", "last", "version")

    def __init__(self) -> None:
        self.events: list[AuthEvent] = []
        self.dropped = 0  # events pushed out by the cap, not by age
        self.last = 0.0
        self.version = 0  # changes whenever the events do, so a judgement can be reused

    def push(self, ev: AuthEvent, cap: int) -> None:
        self.events.append(ev)
        self._add(ev)
        self.version += 1
        self.last = max(self.last, ev.time)
        over = len(self.events) - cap
        if over > 0:
            self._cut(over)
            self.dropped += over

    def expire(self, before: float) -> None:
        """Forgets events older than `before` (arrival order is close to time order)."""
        events = self.events
        if not events or events[0].time >= before:
            return
        i, n = 1, len(events)
        while i < n and events[i].time < before:
            i += 1
        self._cut(i)

    def clear(self) -> None:
        self._cut(len(self.events))

    @property
    def first(self) -> float:
        return self.events[0].time if self.events else self.last

    def _cut(self, n: int) -> None:
        if n <= 0:
            return
        for old in self.events[:n]:
            self._remove(old)
        del self.events[:n]
        self.version += 1

    def _add(self, ev: AuthEvent) -> None:
        """Counts an event in (subclasses)."""

    def _remove(self, ev: AuthEvent) -> None:
        """Counts an event out (subclasses)."""


W = TypeVar("W", bound=Window)


def inc(counts: dict[T, int], key: T) -> None:
    counts[key] = counts.get(key, 0) + 1


def dec(counts: dict[T, int], key: T) -> None:
    n = counts[key] - 1
    if n:
        counts[key] = n
    else:
        del counts[key]


def heaviest(counts: Mapping[T, float], n: int = MAX_LISTED) -> tuple[T, ...]:
    """Keys by count, heaviest first, ties in key order; at most `n`."""
    if len(counts) > n:
        return tuple(heapq.nsmallest(n, counts, key=lambda k: (-counts[k], k)))
    return tuple(sorted(counts, key=lambda k: (-counts[k], k)))


def grow(n: float, bar: float) -> float:
    """0.5 at the bar, rising towards 1 as evidence doubles and doubles again."""
    if n <= 0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - bar / (2.0 * n)))


class SourcesWindow(Window):
    """A window that also counts the distinct addresses of its events."""

    __slots__ = ("sources",)

    def __init__(self) -> None:
        super().__init__()
        self.sources: dict[str, int] = {}

    def _add(self, ev: AuthEvent) -> None:
        if ev.source:
            inc(self.sources, ev.source)

    def _remove(self, ev: AuthEvent) -> None:
        if ev.source:
            dec(self.sources, ev.source)


class Listing:
    """Who took part in some events, for a finding's lists (unknowns left out)."""

    __slots__ = ("accounts", "asns", "fingerprints", "prefixes", "sources")

    def __init__(self, events: Iterable[AuthEvent]) -> None:
        self.accounts: dict[str, int] = {}
        self.sources: dict[str, int] = {}
        self.prefixes: dict[str, int] = {}
        self.asns: dict[int, int] = {}
        self.fingerprints: dict[str, int] = {}
        for ev in events:
            if ev.account:
                inc(self.accounts, ev.account)
            if ev.source:
                inc(self.sources, ev.source)
            if ev.prefix:
                inc(self.prefixes, ev.prefix)
            if ev.asn:
                inc(self.asns, ev.asn)
            if ev.fingerprint:
                inc(self.fingerprints, ev.fingerprint)

    def finding(
        self,
        detector: str,
        key: str,
        window: Window | list[AuthEvent],
        confidence: float,
        evidence: Iterable[tuple[str, float]],
        *,
        broad: bool = False,
    ) -> Finding:
        events = window.events if isinstance(window, Window) else window
        return Finding(
            detector,
            key,
            heaviest(self.accounts),
            heaviest(self.sources),
            events[0].time if events else 0.0,
            max((e.time for e in events), default=0.0),
            len(events),
            round(min(1.0, max(0.0, confidence)), 4),
            heaviest(self.prefixes),
            heaviest(self.asns),
            heaviest(self.fingerprints),
            tuple((name, float(value)) for name, value in evidence),
            broad,
        )


class Base:
    """Options resolved once (declared defaults, then the configuration), and the
    bookkeeping every detector shares: its tables, candidate keys and horizon.

    `threshold_factor` multiplies every count threshold (the min_*, high_risk_* and
    fingerprint_*/password_* counts), never a share, a window or a shape limit such as
    max_tries or broad_*; `max_entries` caps each key's window. Tables made by `table`
    are pruned by `forget_before`; a window left in a table is pruned when it is next
    touched, so a count never reaches behind the horizon.
    """

    name: str = ""
    OPTIONS: ClassVar[dict[str, tuple[float, str]]] = {}
    COMMON: ClassVar[dict[str, tuple[float, str]]] = {
        "threshold_factor": (
            1.0,
            "Multiplies every count threshold (an operator's dismissals raise it).",
        ),
        "max_entries": (512.0, "Events kept per key; older ones are dropped first."),
    }

    def __init__(self, options: Mapping[str, float] | None = None, max_keys: int = 100_000):
        self.opt = resolve(self.name, self.OPTIONS, options or {})
        self.factor = self.opt["threshold_factor"]
        self.cap = max(1, int(self.opt["max_entries"]))
        self.max_keys = max_keys
        self.horizon = -math.inf  # forget_before's latest t
        self._forgets: list[Callable[[float], int]] = []

    def set_factor(self, factor: float) -> None:
        """A new `threshold_factor` (an operator's dismissal), from the next event on."""
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"accounts.detectors.{self.name}.threshold_factor: must be > 0")
        self.factor = self.opt["threshold_factor"] = factor

    def bar(self, option: str) -> float:
        """A count threshold, scaled by `threshold_factor`."""
        return self.opt[option] * self.factor

    def table(self, kind: type[W]) -> Table[str, W]:
        """A table of `kind` windows, capped at `max_keys` and reached by forget_before."""
        made: Table[str, W] = Table(self.max_keys)
        self._forgets.append(made.forget_before)
        return made

    def since(self, now: float) -> float:
        return max(now - self.opt["window"], self.horizon)

    def forget_before(self, t: float) -> None:
        self.horizon = max(self.horizon, t)
        for forget in self._forgets:
            forget(t)


def resolve(
    name: str, declared: Mapping[str, tuple[float, str]], given: Mapping[str, float]
) -> dict[str, float]:
    """Declared defaults overridden by `given`; errors name the configuration key."""
    where = f"accounts.detectors.{name}"
    known = {**declared, **Base.COMMON}
    for option in given:
        if option not in known:
            raise ValueError(f"{where}.{option}: unknown option; known: {', '.join(sorted(known))}")
    out: dict[str, float] = {}
    for option, (default, _) in known.items():
        try:
            value = float(given.get(option, default))
        except (TypeError, ValueError):
            raise ValueError(f"{where}.{option}: must be a number") from None
        positive = option in ("window", "threshold_factor", "max_entries")
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise ValueError(f"{where}.{option}: must be {'> 0' if positive else '>= 0'}")
        if option.endswith("share") and value > 1:
            raise ValueError(f"{where}.{option}: a share is at most 1")
        out[option] = value
    return out
