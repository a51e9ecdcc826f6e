"""The edge's micro-cache: anonymous GET/HEAD answered from memory, misses coalesced.

`core.cache` decides what may be kept and for how long; this module carries it out.
- `lookup` runs before admission. A fresh entry is served at once. A stale one inside
  stale-while-revalidate is served too, unless nobody is refreshing the key yet: then this
  request refreshes it, so there is no background fetch to manage. A miss joins the
  key's single flight: the first request goes to the origin, the others wait for it.
- `capture` and `complete` record the leader's response as it streams to its client, and
  store it when the origin allows. `settle` wakes the followers whatever happened:
  they are served from the new entry, or from a stale copy, or sent on one by one.
- While the origin is overloaded or down (admission sheds, or it answers 5xx), a copy
  within stale-if-error is served to anonymous clients rather than an error.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import TYPE_CHECKING

from seawall.core.cache import (
    CacheSettings,
    Entry,
    Lookup,
    ResponseCache,
    primary_key,
    request_cacheable,
    response_freshness,
)
from seawall.core.facts import ClientClass
from seawall.core.flight import Join, SingleFlight
from seawall.edge.request import response_head

if TYPE_CHECKING:
    from seawall.edge.dispatch import ClientDispatch
    from seawall.edge.exchange import Exchange
    from seawall.edge.stats import EdgeStats
    from seawall.runtime.clock import Clock

Waiter = tuple["ClientDispatch", "Exchange"]
PASS_S = 10.0  # how long an uncacheable answer exempts its key from the cache
MAX_PASSES = 10_000
LOCK_TIMEOUT_S = 3.0  # as nginx's proxy_cache_lock_timeout: then fetch uncoalesced
_OWN = frozenset({"age", "x-cache"})  # stated afresh on every answer, never the stored copy's


class MicroCache:
    def __init__(
        self,
        settings: CacheSettings,
        route_ttls: dict[str, float],
        clock: Clock,
        stats: EdgeStats,
    ) -> None:
        self.store = ResponseCache(settings)
        self.flights: SingleFlight[Waiter] = SingleFlight()
        self.settings = settings
        self.by_route = {
            r: dataclasses.replace(settings, default_ttl_s=t) for r, t in route_ttls.items()
        }
        self.clock = clock
        self.stats = stats
        self.leaders: dict[str, tuple[float, Exchange]] = {}  # key -> (since, leading exchange)
        # hit-for-pass: keys the origin last answered uncacheable skip the cache for a while
        self.passes: OrderedDict[str, float] = OrderedDict()

    def lookup(self, client: ClientDispatch, ex: Exchange) -> bool:
        """True when the cache answered or parked the request; False: forward it."""
        f = ex.facts
        assert f is not None
        if f.klass is not ClientClass.ANONYMOUS or ex.method not in (b"GET", b"HEAD"):
            return False
        key = primary_key(f.host, ex.target.decode("latin-1"))
        now = self.clock.monotonic()
        until = self.passes.get(key)
        if until is not None and until > now:
            self.stats.cache["pass"] += 1  # cheap: no header work for a page never cached
            return False
        headers = list(ex.head.headers.items())
        if not request_cacheable(ex.method.decode("latin-1"), headers):
            return False
        state, entry = self.store.lookup(key, headers, now)
        if state is Lookup.FRESH and entry is not None:
            self.serve(client, ex, entry, "hit")
            return True
        if state is Lookup.STALE_REVALIDATE and entry is not None and key in self.flights:
            self.serve(client, ex, entry, "stale")  # someone is refreshing it already
            return True
        if state is not Lookup.MISS:
            ex.stale = entry  # usable if the origin fails us
        ex.cache_key = key
        joined = self.flights.join(key, (client, ex))
        if joined is Join.LEAD:
            ex.cache_lead, ex.cache = True, "miss"
            self.leaders[key] = (self.clock.monotonic(), ex)
            self.stats.cache["miss"] += 1
            return False
        if joined is Join.FULL:
            self.stats.cache["bypass"] += 1
            return False
        self.stats.cache["coalesced"] += 1
        return True  # parked until the leader settles

    def serve(self, client: ClientDispatch, ex: Exchange, entry: Entry, how: str) -> None:
        """Answer `ex` from `entry`; `how` is hit or stale (for logs and metrics)."""
        age = self.store.age(entry, self.clock.monotonic())
        raw = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in entry.headers
            if k.lower() not in _OWN  # the stored Age is counted in `age` already
        ]
        framing = b"Content-Length: %d\r\nAge: %d\r\nX-Cache: %s\r\n" % (
            len(entry.body),
            age,
            how.upper().encode(),
        )
        close = not ex.complete or ex.head.close
        head = response_head(entry.status, b"", raw, framing, close, ex.rid)
        body = b"" if ex.is_head else entry.body
        ex.status, ex.cache, ex.bytes_out = entry.status, how, len(body)
        self.stats.cache[how] += 1
        if how == "stale":
            self.store.note_stale_served()
        client.write(head + body)
        client.done(ex, close)

    def serve_stale(self, client: ClientDispatch, ex: Exchange) -> bool:
        """While the origin fails: answer from a stale copy if there is one."""
        entry, ex.stale = ex.stale, None
        if entry is None or client.closed or client.active is not ex:
            return False
        self.serve(client, ex, entry, "stale")
        return True

    def capture(self, ex: Exchange, status: int, raw: list[tuple[bytes, bytes]]) -> None:
        """The leader's response head arrived: keep its body if the origin allows caching."""
        if not ex.cache_lead or ex.method != b"GET":
            return  # a HEAD has no body to keep
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        assert ex.facts is not None
        settings = self.by_route.get(ex.facts.route, self.settings)
        fresh = response_freshness(status, headers, settings)
        if fresh is not None:
            ex.capture = (status, tuple(headers), fresh, [])
        else:
            self._pass(ex)
            self.settle(ex)  # nothing to share: the followers need not wait for the body

    def _pass(self, ex: Exchange) -> None:
        """Remember that the origin answered this key uncacheable: skip it for PASS_S."""
        assert ex.cache_key is not None
        self.passes[ex.cache_key] = self.clock.monotonic() + PASS_S
        self.passes.move_to_end(ex.cache_key)
        while len(self.passes) > MAX_PASSES:
            self.passes.popitem(last=False)

    def body(self, ex: Exchange, chunk: bytes) -> None:
        cap = ex.capture
        if cap is None:
            return
        cap[3].append(chunk)
        if sum(len(c) for c in cap[3]) > self.settings.max_object_bytes:
            ex.capture = None  # too big to keep: stream it and forget it

    def complete(self, ex: Exchange) -> None:
        """The leader's response is whole: store it."""
        cap, ex.capture = ex.capture, None
        if cap is None or ex.cache_key is None:
            return
        status, headers, fresh, parts = cap
        now = self.clock.monotonic()
        entry = Entry(status, headers, b"".join(parts), now, fresh)
        request_headers = list(ex.head.headers.items())
        if self.store.store(ex.cache_key, request_headers, entry, now):
            self.stats.cache["stored"] += 1

    def settle(self, ex: Exchange) -> None:
        """The leader is done, stored or not: answer or release its followers."""
        key = ex.cache_key
        if key is None or not ex.cache_lead:
            return
        ex.cache_lead = False
        lead = self.leaders.get(key)
        if lead is None or lead[1] is not ex:
            return  # the lock timed out: tick already let the followers go
        del self.leaders[key]
        self._release(key, failed=ex.status >= 500 or ex.cache == "stale")

    def tick(self) -> None:
        """Followers of a leader slower than LOCK_TIMEOUT_S go on by themselves."""
        now = self.clock.monotonic()
        late = [k for k, (since, _) in self.leaders.items() if now - since > LOCK_TIMEOUT_S]
        for key in late:
            del self.leaders[key]
            self.stats.cache["lock_timeout"] += 1
            self._release(key, failed=False)
        for k, v in self.store.stats().items():
            self.stats.gauges[f"cache_{k}"] = v

    def _release(self, key: str, failed: bool) -> None:
        now = self.clock.monotonic()
        for client, waiter in self.flights.finish(key):
            if client.closed or client.active is not waiter:
                continue
            state, entry = self.store.lookup(key, list(waiter.head.headers.items()), now)
            if entry is not None and state in (Lookup.FRESH, Lookup.STALE_REVALIDATE):
                self.serve(client, waiter, entry, "hit" if state is Lookup.FRESH else "stale")
            elif waiter.stale is not None and failed:
                self.serve_stale(client, waiter)
            else:
                waiter.cache_key = None
                client.forward(waiter)
