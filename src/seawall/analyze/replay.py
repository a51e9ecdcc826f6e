"""Replay: parsed log lines through the same DetectionEngine, clocked by their timestamps.

Replay is the edge with the network taken away. Every second of the log becomes one
engine interval, ticked at the second's end; the rules the engine writes go into a
Decider, which decides the following seconds' requests exactly as the edge would have.
So incidents, signatures, collateral estimates, escalations and the leak after
mitigation come out as they would have live, had seawall been in front.

Logs written by several workers are not quite in order: a second is closed only once
the log has moved `reorder` seconds past it, and a line older than that is counted as
late and folded into the oldest open second. Long quiet stretches with nothing going
on are ticked as one interval (baselines treat missing seconds as zeros in closed form).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any

from msgspec.structs import replace as replace_struct

from seawall.analyze.facts import FactsMaker, klass_of, recorded_verdict
from seawall.analyze.formats import Batch
from seawall.core.decider import Decider
from seawall.core.facts import ClientClass
from seawall.core.record import Record
from seawall.core.rules import Ruleset, RulesetDelta
from seawall.core.verdict import ALLOW, Action, Verdict
from seawall.detect.engine import DetectionEngine, EngineSettings, TickResult
from seawall.detect.signals import REGISTRY

IDLE_JUMP = 60  # empty seconds, with nothing open, ticked as one interval beyond this
MAX_SKEW = 3600.0  # a line further ahead than this is held until the next one agrees
FORWARDED = frozenset({Action.ALLOW, Action.CACHE})
_TIME = attrgetter("time")
Observer = Callable[[Record], None]  # sees every replayed record (what-if tallies)


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    engine: EngineSettings = field(default_factory=EngineSettings)
    reorder: float = 2.0  # seconds a line may come late and still join its own second
    since: float | None = None
    until: float | None = None
    drop_fingerprint: bool = True  # logs carry no header order: its detector would misread ""


@dataclass(slots=True)
class ReplayCounts:
    records: int = 0
    late: int = 0  # lines older than the open seconds, folded into the oldest one
    skewed: int = 0  # lone lines dated far ahead of their neighbours, left out
    outside: int = 0  # lines before --since or after --until
    bad_addresses: int = 0
    ticks: int = 0
    first: float | None = None
    last: float | None = None


class Replay:
    def __init__(
        self,
        settings: ReplaySettings | None = None,
        maker: FactsMaker | None = None,
        rules: Ruleset | None = None,
        observers: tuple[Observer, ...] = (),
    ) -> None:
        self.settings = s = settings or ReplaySettings()
        self.engine = DetectionEngine(_engine_settings(s))
        self.decider = Decider(rules)
        self.maker = maker or FactsMaker()
        self.observers = observers
        self.counts = ReplayCounts()
        self.incidents: list[dict[str, Any]] = []
        self._seconds: dict[int, list[Record]] = {}
        self._next: int | None = None  # the oldest second not yet replayed
        self._high = float("-inf")  # the latest time seen
        self._limit = float("inf")  # lines after this are far ahead of the log so far
        self._held: Record | None = None  # a far-ahead line, kept until the next one agrees

    # ---- input -----------------------------------------------------------------------

    def feed(self, batch: Batch) -> None:
        """Add a batch of parsed lines and replay every second the log has moved past."""
        self._collect(batch)
        self._advance(self._high - self.settings.reorder)

    def _collect(self, b: Batch) -> None:
        """Lines to records, each into the list of its second (the hot loop of analyze)."""
        s, c, maker = self.settings, self.counts, self.maker
        since = s.since if s.since is not None else float("-inf")
        until = s.until if s.until is not None else float("inf")
        clients, wheres, make = maker.clients, maker.wheres, maker.make
        klasses = [klass_of(k) for k in b.extra["class"]] if b.extra.get("class") else None
        caches = b.extra.get("cache") or None
        verdicts = _kept_verdicts(b.extra)
        seconds, nxt = self._seconds, self._next
        cur_sec, cur = -1, []
        limit, held = self._limit, self._held
        if limit == float("inf") and b.time:
            limit = sorted(b.time)[len(b.time) // 2] + MAX_SKEW  # the first batch's median
        anonymous = ClientClass.ANONYMOUS
        cols = zip(
            b.time, b.client, b.method, b.host, b.uri, b.user_agent, b.status, b.bytes_out,
            b.latency, strict=True,
        )  # fmt: skip
        for i, (t, client, method, host, uri, ua, status, size, latency) in enumerate(cols):
            if not since <= t <= until:
                c.outside += 1
                continue
            who = clients.get(client) or maker.client(client)
            if who is None:
                maker.bad_addresses += 1
                continue
            where = wheres.get(uri) or maker.where(uri)
            f = make(who, where, method, host, ua, klasses[i] if klasses else anonymous)
            kept = verdicts[i] if verdicts else None
            cache = caches[i] if caches else ""
            if kept is not None:
                rec = Record(f, kept, status, 0, size, latency, 0.0, cache, "", t)
            else:
                sent = max(latency, 1e-6) if cache != "hit" else 0.0  # it reached the origin
                rec = Record(f, ALLOW, status, 0, size, latency, sent, cache, "", t)
            if t > limit:
                # one line far ahead of the rest (a broken clock) must not drag the replay's
                # clock along; a real jump (a quiet night) is confirmed by the next line
                if held is None or t < held.time - MAX_SKEW:
                    held = rec
                    c.skewed += 1
                    continue
                c.skewed -= 1
                seconds.setdefault(int(held.time), []).append(held)
                held, cur_sec, limit = None, -1, t + MAX_SKEW
            else:
                held = None  # the line before was a lone one: it stays left out
                if t + MAX_SKEW > limit:  # noqa: PLR1730 (a compare is cheaper than max())
                    limit = t + MAX_SKEW
            sec = int(t)
            if sec != cur_sec:
                if nxt is not None and sec < nxt:
                    c.late += 1
                    sec = nxt
                cur_sec, cur = sec, seconds.setdefault(sec, [])
            cur.append(rec)
        self._limit, self._held = limit, held
        if seconds:
            self._high = max(self._high, max(seconds) + 0.999)
        c.bad_addresses = maker.bad_addresses

    def finish(self) -> list[dict[str, Any]]:
        """Replay what is left, let an open incident close if the log ends quietly, and
        return every incident (an attack still on at the log's end stays open)."""
        if self._seconds:
            self._advance(max(self._seconds) + 1)
        if self._next is not None:
            stop = self._next + int(self.engine.settings.quiet) + 2
            while self.engine.book.current is not None and self._next < stop:
                self._tick(self._next + 1)
        if self.engine.book.current is not None:
            self.incidents.append(self.engine.book.current.to_dict())
        return self.incidents

    # ---- the seconds -----------------------------------------------------------------

    def _advance(self, horizon: float) -> None:
        seconds = self._seconds
        if not seconds:
            return
        if self._next is None:
            self._next = min(seconds)
        while self._next + 1 <= horizon:
            sec = self._next
            rows = seconds.pop(sec, None)
            if rows is None and self._idle():
                # never past the horizon: seconds inside the reorder window stay open
                nearest = min(seconds) if seconds else sec + 1
                ahead = nearest if nearest <= horizon else math.floor(horizon)
                if ahead - sec > IDLE_JUMP:
                    self._tick(ahead)  # one interval for the quiet stretch
                    continue
            if rows:
                self._replay(rows)
            self._tick(sec + 1)

    def _idle(self) -> bool:
        e = self.engine
        return e.book.current is None and not e.policy.active

    def _replay(self, recs: list[Record]) -> None:
        recs.sort(key=_TIME)
        if self.decider.ruleset.rules:
            recs = [self._decided(r) for r in recs]
        for observe in self.observers:
            for rec in recs:
                observe(rec)
        self.engine.observe_many(recs)
        c = self.counts
        c.records += len(recs)
        c.first = recs[0].time if c.first is None else min(c.first, recs[0].time)
        c.last = recs[-1].time if c.last is None else max(c.last, recs[-1].time)

    def _decided(self, rec: Record) -> Record:
        """The record as the edge would have handled it under the rules in force."""
        if rec.verdict is not ALLOW:
            return rec  # the operator's recorded decision stands
        v = self.decider.decide(rec.facts, rec.time)
        if v.action in FORWARDED:
            return rec
        return replace_struct(rec, verdict=v, status=v.status, bytes_out=0, origin_time=0.0)

    def _tick(self, now: int) -> TickResult:
        got = self.engine.tick(float(now), wall=float(now))
        self.counts.ticks += 1
        self._next = now
        d = self.decider
        delta = got.delta
        expired = d.expired(float(now))
        if delta.add or delta.remove or expired.remove:
            d.apply(RulesetDelta(delta.add, delta.remove + expired.remove))
        if got.closed is not None:
            self.incidents.append(got.closed.to_dict())
        return got


def _engine_settings(s: ReplaySettings) -> EngineSettings:
    e = s.engine
    if not s.drop_fingerprint:
        return e
    chosen = e.detectors if e.detectors is not None else {n: {} for n in REGISTRY}
    return replace(e, detectors={k: v for k, v in chosen.items() if k != "fingerprint_surge"})


def _kept_verdicts(extra: dict[str, list[str]]) -> list[Verdict | None] | None:
    """The operator's rules' verdicts, when the log records verdicts (seawall's own does)."""
    actions = extra.get("verdict")
    if not actions:
        return None
    reasons = extra.get("reason") or [""] * len(actions)
    rules = extra.get("rule") or [""] * len(actions)
    return [recorded_verdict(*row) for row in zip(actions, reasons, rules, strict=True)]
