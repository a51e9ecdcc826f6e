"""Priority admission to the origin: a bounded queue by tier, fair across prefixes, with a
reserve for trusted clients, deadlines, and per-target and per-route bulkheads. Pure.

The shell asks `offer(ticket, now)` before it forwards an allowed request, and calls
`release(ticket, now)` when the origin is done with it. The concurrency limit comes from
outside (an `AdaptiveLimit` or a constant), read at every decision.

| situation | answer |
|---|---|
| a slot is free for the ticket's tier, and its target and route are under their shares | ADMIT |
| the origin is stressed and the ticket's target or route is at its share | SHED `bulkhead` |
| no slot: room in the queue | QUEUE |
| queue full, a lower tier queued | QUEUE; the newest of the lowest tier is shed `evicted` |
| no slot, queue full, nothing lower queued | SHED `queue_full` |
| queued longer than its tier's deadline | shed `deadline` by `expire` |

Tiers, best first: trusted (api_app, gateway), user (verified session), known (anonymous
with a good history), unknown. `reserve` is a share of the limit that only trusted
clients may use, so apps and gateways are served however large the anonymous load is.
Within a tier, the queue takes turns across client prefixes, so one source can't starve
the others. The origin counts as stressed when anything is queued, the in-flight count
reaches `stressed_at` of the limit, or the untrusted in-flight count reaches `stressed_at`
of what they may use (the limit less the reserve). Only then do the bulkheads apply: a
calm origin lets a hot page use all of it.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Protocol

from seawall.core.facts import ClientClass


class Tier(IntEnum):
    TRUSTED = 0
    USER = 1
    KNOWN = 2
    UNKNOWN = 3


class Decision(StrEnum):
    ADMIT = "admit"
    QUEUE = "queue"
    SHED = "shed"


class ShedReason(StrEnum):
    BULKHEAD = "bulkhead"
    QUEUE_FULL = "queue_full"
    EVICTED = "evicted"
    DEADLINE = "deadline"


class LimitSource(Protocol):
    @property
    def limit(self) -> int: ...


@dataclass(slots=True)
class FixedLimit:
    """A constant limit (tests, or an operator who knows the origin)."""

    limit: int


@dataclass(frozen=True, slots=True)
class AdmissionSettings:
    max_queue: int = 2048
    deadlines_s: tuple[float, float, float, float] = (5.0, 3.0, 2.0, 1.0)  # by tier
    reserve: float = 0.25  # share of the limit only trusted clients may use
    target_share: float = 0.25  # most of the limit one target may hold while stressed
    route_shares: tuple[tuple[str, float], ...] = ()  # per route, while stressed
    stressed_at: float = 0.8
    history_size: int = 100_000
    good_after_s: float = 30.0  # known: first seen at least this long ago...
    good_min_ok: int = 3  # ...with at least this many successful requests

    def __post_init__(self) -> None:
        if self.max_queue < 0 or self.history_size < 1 or self.good_min_ok < 0:
            raise ValueError("max_queue >= 0, history_size >= 1 and good_min_ok >= 0 needed")
        if len(self.deadlines_s) != len(Tier) or any(d <= 0 for d in self.deadlines_s):
            raise ValueError("deadlines_s needs one positive deadline per tier")
        shares = [
            self.reserve,
            self.target_share,
            self.stressed_at,
            *dict(self.route_shares).values(),
        ]
        if not all(0 <= s <= 1 for s in shares) or self.reserve >= 1:
            raise ValueError("reserve, shares and stressed_at must be within [0, 1], reserve < 1")
        if any(v <= 0 for _, v in self.route_shares) or self.target_share <= 0:
            raise ValueError("target and route shares must be above 0")
        if self.good_after_s < 0:
            raise ValueError("good_after_s must be >= 0")


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    tier: Tier
    prefix: str  # fairness key: the client's /24 or /48
    target: str
    route: str
    enqueued: float


@dataclass(frozen=True, slots=True)
class Offer:
    decision: Decision
    reason: ShedReason | None = None
    evicted: Ticket | None = None  # a queued ticket pushed out to make room: shed it


@dataclass(slots=True)
class History:
    """Anonymous addresses that have been around and served well: bounded, LRU."""

    cap: int
    seen: OrderedDict[str, tuple[float, int]] = field(default_factory=OrderedDict)

    def note(self, address: str, ok: bool, now: float) -> None:
        first, oks = self.seen.pop(address, (now, 0))
        self.seen[address] = (first, oks + ok)
        while len(self.seen) > self.cap:
            self.seen.popitem(last=False)

    def is_known(self, address: str, now: float, after_s: float, min_ok: int) -> bool:
        got = self.seen.get(address)
        return got is not None and got[0] <= now - after_s and got[1] >= min_ok


def tier_for(klass: ClientClass, known: bool) -> Tier:
    if klass in (ClientClass.API_APP, ClientClass.GATEWAY):
        return Tier.TRUSTED
    if klass is ClientClass.USER:
        return Tier.USER
    return Tier.KNOWN if known else Tier.UNKNOWN


class _TierQueue:
    """FIFO per prefix, taking turns across prefixes; arrival order kept for deadlines."""

    __slots__ = ("live", "order", "ring")

    def __init__(self) -> None:
        self.ring: OrderedDict[str, deque[Ticket]] = OrderedDict()
        self.order: deque[Ticket] = deque()
        self.live: dict[int, Ticket] = {}

    def push(self, t: Ticket) -> None:
        self.ring.setdefault(t.prefix, deque()).append(t)
        self.order.append(t)
        self.live[t.id] = t

    def peek(self) -> Ticket | None:
        while self.ring:
            prefix, q = next(iter(self.ring.items()))
            while q and q[0].id not in self.live:
                q.popleft()
            if q:
                return q[0]
            del self.ring[prefix]
        return None

    def pop(self) -> Ticket:
        t = self.peek()
        assert t is not None
        q = self.ring.pop(t.prefix)
        q.popleft()
        if q:
            self.ring[t.prefix] = q  # to the back: the next prefix has its turn
        del self.live[t.id]
        return t

    def remove(self, t: Ticket) -> bool:
        return self.live.pop(t.id, None) is not None  # lazily dropped from ring and order

    def newest(self) -> Ticket | None:
        while self.order and self.order[-1].id not in self.live:
            self.order.pop()
        return self.order[-1] if self.order else None

    def expired(self, now: float, deadline: float) -> list[Ticket]:
        out = []
        while self.order:
            t = self.order[0]
            if t.id not in self.live:
                self.order.popleft()
            elif now - t.enqueued > deadline:
                self.order.popleft()
                del self.live[t.id]
                out.append(t)
            else:
                break
        return out


class Admission:
    def __init__(self, settings: AdmissionSettings, limit: LimitSource) -> None:
        self.s, self.source = settings, limit
        self.queues = [_TierQueue() for _ in Tier]
        self.history = History(settings.history_size)
        self.inflight = 0
        self.inflight_trusted = 0
        self.by_target: dict[str, int] = {}
        self.by_route: dict[str, int] = {}
        self.route_shares = dict(settings.route_shares)
        self.shed: dict[tuple[Tier, ShedReason], int] = {}
        self.admitted = 0
        self.queued_total = 0

    @property
    def queued(self) -> int:
        return sum(len(q.live) for q in self.queues)

    def stressed(self) -> bool:
        limit = self.source.limit
        if self.queued > 0 or self.inflight >= self.s.stressed_at * limit:
            return True
        # the untrusted can only fill the limit less the reserve: measure them against that,
        # or a hot target takes every untrusted slot before the bulkheads ever apply
        others = self.inflight - self.inflight_trusted
        return others >= self.s.stressed_at * (limit - math.ceil(limit * self.s.reserve))

    def _cap(self, share: float) -> int:
        return max(1, math.floor(self.source.limit * share))

    def _bulkheaded(self, t: Ticket) -> bool:
        if t.tier is Tier.TRUSTED or not self.stressed():
            return False
        limit = self.source.limit
        cap = self._cap(self.s.target_share)
        if cap < limit and self.by_target.get(t.target, 0) >= cap:
            return True  # a cap as large as the limit binds nothing: wait like everyone else
        share = self.route_shares.get(t.route)
        if share is None:
            return False
        cap = self._cap(share)
        return cap < limit and self.by_route.get(t.route, 0) >= cap

    def _slot_free(self, t: Ticket) -> bool:
        limit = self.source.limit
        if t.tier is Tier.TRUSTED:
            return self.inflight < limit
        others = self.inflight - self.inflight_trusted
        return self.inflight < limit and others < limit - math.ceil(limit * self.s.reserve)

    def _admit(self, t: Ticket) -> None:
        self.inflight += 1
        self.inflight_trusted += t.tier is Tier.TRUSTED
        self.by_target[t.target] = self.by_target.get(t.target, 0) + 1
        self.by_route[t.route] = self.by_route.get(t.route, 0) + 1
        self.admitted += 1

    def _count_shed(self, t: Ticket, reason: ShedReason) -> None:
        self.shed[(t.tier, reason)] = self.shed.get((t.tier, reason), 0) + 1

    def offer(self, t: Ticket, now: float) -> Offer:
        """Admit, queue or shed a new request (see the table above)."""
        if self._bulkheaded(t):
            self._count_shed(t, ShedReason.BULKHEAD)
            return Offer(Decision.SHED, ShedReason.BULKHEAD)
        ahead = any(self.queues[k].live for k in Tier if k <= t.tier)
        if not ahead and self._slot_free(t):
            self._admit(t)
            return Offer(Decision.ADMIT)
        evicted = None
        if self.queued >= self.s.max_queue:
            evicted = self._evict_below(t.tier)
            if evicted is None:
                self._count_shed(t, ShedReason.QUEUE_FULL)
                return Offer(Decision.SHED, ShedReason.QUEUE_FULL)
        self.queues[t.tier].push(t)
        self.queued_total += 1
        return Offer(Decision.QUEUE, None, evicted)

    def _evict_below(self, tier: Tier) -> Ticket | None:
        for lower in reversed(Tier):
            if lower <= tier:
                return None
            victim = self.queues[lower].newest()
            if victim is not None:
                self.queues[lower].remove(victim)
                self._count_shed(victim, ShedReason.EVICTED)
                return victim
        return None

    def release(self, t: Ticket, now: float) -> tuple[list[Ticket], list[Ticket]]:
        """An admitted ticket is done; returns (now admitted, shed by bulkhead) from the queue."""
        self.inflight -= 1
        self.inflight_trusted -= t.tier is Tier.TRUSTED
        for table, key in ((self.by_target, t.target), (self.by_route, t.route)):
            left = table[key] - 1
            if left:
                table[key] = left
            else:
                del table[key]
        return self.drain(now)

    def drain(self, now: float) -> tuple[list[Ticket], list[Ticket]]:
        """Admit queued tickets while slots are free, best tier first."""
        admitted: list[Ticket] = []
        shed: list[Ticket] = []
        for q in self.queues:
            while (t := q.peek()) is not None and self._slot_free(t):
                q.pop()
                if self._bulkheaded(t):
                    self._count_shed(t, ShedReason.BULKHEAD)
                    shed.append(t)
                    continue
                self._admit(t)
                admitted.append(t)
        return admitted, shed

    def cancel(self, t: Ticket) -> bool:
        """A queued ticket's client left: forget it. False if it was not queued."""
        return self.queues[t.tier].remove(t)

    def expire(self, now: float) -> list[Ticket]:
        """Queued tickets past their tier's deadline: the shell sheds them."""
        out: list[Ticket] = []
        for tier, q in zip(Tier, self.queues, strict=True):
            for t in q.expired(now, self.s.deadlines_s[tier]):
                self._count_shed(t, ShedReason.DEADLINE)
                out.append(t)
        return out

    def is_known(self, address: str, now: float) -> bool:
        return self.history.is_known(address, now, self.s.good_after_s, self.s.good_min_ok)

    def note(self, address: str, ok: bool, now: float) -> None:
        self.history.note(address, ok, now)

    def hottest(self, n: int) -> list[tuple[str, int]]:
        """The targets holding the most origin slots now (bounded by the in-flight count)."""
        return sorted(self.by_target.items(), key=lambda kv: -kv[1])[:n]
