"""The edge side of priority admission: tickets on exchanges, waiting requests, shedding.

`core.admission` decides; this gate carries the decisions out. An allowed request enters
the gate before it is forwarded. Admitted now, it goes on at once. Queued, it waits here
and goes on when `release` frees a slot for it. Shed, it gets a 503 with Retry-After: a
small page for browsers, JSON for API clients. Every admitted exchange gives its origin
time to the adaptive limit when it ends, and a refusal from the origin (502/503/504)
counts as a drop. `tick` (from the sweeper) sheds what waited past its deadline.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from seawall.core.admission import (
    Admission,
    AdmissionSettings,
    Decision,
    LimitSource,
    ShedReason,
    Ticket,
    Tier,
    tier_for,
)
from seawall.core.concurrency import AdaptiveLimit
from seawall.core.facts import ClientClass
from seawall.detect.records import Load
from seawall.edge.plumbing import peer_closed
from seawall.edge.responses import busy_response
from seawall.edge.stats import HOT_TARGETS

if TYPE_CHECKING:
    from seawall.edge.dispatch import ClientDispatch
    from seawall.edge.exchange import Exchange
    from seawall.edge.stats import EdgeStats
    from seawall.runtime.clock import Clock

DROP_STATUSES = frozenset({502, 503, 504})
RETRY_AFTER_S = (1.0, 2.0, 5.0, 10.0)  # by tier: the less trusted, the longer to wait


def wants(ex: Exchange) -> str:
    """What kind of 503 body the client can use: json, html or text."""
    assert ex.facts is not None
    accept = ex.head.headers.get("accept", "")
    if ex.facts.klass is ClientClass.API_APP or "application/json" in accept:
        return "json"
    return "html" if "text/html" in accept else "text"


class AdmissionGate:
    def __init__(
        self, settings: AdmissionSettings, limit: LimitSource, clock: Clock, stats: EdgeStats
    ) -> None:
        self.core = Admission(settings, limit)
        self.limit = limit
        self.clock = clock
        self.stats = stats
        self.waiting: dict[int, tuple[ClientDispatch, Exchange, bytes]] = {}
        self._ids = itertools.count(1)

    def enter(self, client: ClientDispatch, ex: Exchange, head: bytes) -> bool:
        """True: forward now. False: the gate queued or shed the request."""
        f = ex.facts
        assert f is not None
        now = self.clock.monotonic()
        known = f.klass is ClientClass.ANONYMOUS and self.core.is_known(f.client.text, now)
        t = Ticket(next(self._ids), tier_for(f.klass, known), f.prefix, f.target, f.route, now)
        offer = self.core.offer(t, now)
        if offer.evicted is not None:
            self._shed_waiting(offer.evicted, ShedReason.EVICTED)
        if offer.decision is Decision.ADMIT:
            ex.ticket = t
            return True
        if offer.decision is Decision.QUEUE:
            ex.ticket = t
            self.waiting[t.id] = (client, ex, head)
            return False
        assert offer.reason is not None
        self._shed(client, ex, t.tier, offer.reason)
        return False

    def leave(self, ex: Exchange) -> None:
        """The exchange ended (answered, refused, or its client left)."""
        f = ex.facts
        if f is not None and f.klass is ClientClass.ANONYMOUS:
            self.core.note(f.client.text, 200 <= ex.status < 400, self.clock.monotonic())
        self.release(ex)

    def release(self, ex: Exchange) -> None:
        """The origin is done with the exchange (or it never got there). Idempotent."""
        t, ex.ticket = ex.ticket, None
        if t is None:
            return
        now = self.clock.monotonic()
        if self.waiting.pop(t.id, None) is not None:
            self.core.cancel(t)
            return
        if ex.origin_t0 and isinstance(self.limit, AdaptiveLimit):
            rtt = ex.origin_time or (now - ex.origin_t0)
            dropped = ex.status in DROP_STATUSES
            self.limit.on_sample(now, rtt, self.core.inflight, dropped)
        self._carry_out(*self.core.release(t, now))

    def load(self, shed: int = 0) -> Load:
        """What the gate says about the origin now, as detection and the challenge read it."""
        return Load(self.core.queued, float(self.limit.limit), self.core.inflight, shed)

    def tick(self) -> None:
        """Shed what waited too long; forget who left; admit what a grown limit lets through."""
        now = self.clock.monotonic()
        self._forget_departed()
        for t in self.core.expire(now):
            self._shed_waiting(t, ShedReason.DEADLINE)
        self._carry_out(*self.core.drain(now))
        g = self.stats.gauges
        g["admission_limit"] = self.limit.limit
        g["admission_inflight"] = self.core.inflight
        g["admission_queued"] = self.core.queued
        self.stats.hot_targets = self.core.hottest(HOT_TARGETS)

    def _forget_departed(self) -> None:
        """A queued client that hung up is forgotten, even where reading was paused after a
        `Connection: close` request (a paused transport does not see the FIN itself)."""
        for tid, (client, ex, _) in list(self.waiting.items()):
            gone = client.transport is not None and peer_closed(client.transport) is True
            if client.closed or gone:
                del self.waiting[tid]
                t, ex.ticket = ex.ticket, None
                if t is not None:
                    self.core.cancel(t)
                client.abort()

    def _carry_out(self, admitted: list[Ticket], shed: list[Ticket]) -> None:
        for t in shed:
            self._shed_waiting(t, ShedReason.BULKHEAD)
        now = self.clock.monotonic()
        for t in admitted:
            client, ex, head = self.waiting.pop(t.id)
            if client.closed or client.active is not ex:
                ex.ticket = None
                self._carry_out(*self.core.release(t, now))
                continue
            ex.queued_s = now - t.enqueued
            self.stats.admission_wait.observe(ex.queued_s)
            assert client.ctx.origins is not None
            client.ctx.origins.dispatch(client, ex, head)

    def _shed_waiting(self, t: Ticket, reason: ShedReason) -> None:
        got = self.waiting.pop(t.id, None)
        if got is None:
            return
        client, ex, _ = got
        ex.ticket = None
        ex.queued_s = self.clock.monotonic() - t.enqueued
        if not client.closed and client.active is ex:
            self._shed(client, ex, t.tier, reason)

    def _shed(self, client: ClientDispatch, ex: Exchange, tier: Tier, reason: ShedReason) -> None:
        self.stats.shed[(tier.name.lower(), reason.value)] += 1
        cache = client.ctx.cache
        if cache is not None and cache.serve_stale(client, ex):
            return  # a stale page beats a busy page
        ex.status, ex.error = 503, f"shed: {reason.value}"
        retry = RETRY_AFTER_S[tier]
        client.write(busy_response(retry, wants=wants(ex), request_id=ex.rid,
                                   head_only=ex.is_head))  # fmt: skip
        client.done(ex, not ex.complete or ex.head.close)
