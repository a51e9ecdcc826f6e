"""Incidents: an attack from start to end, with what was seen, decided and measured.

An incident opens when the policy first acts on a signal (or would, in observe mode) and
closes after `quiet` seconds with no attack signal and no automatic rule left. While it
is open, every tick adds a point to its timeline and folds the attack's sources (the
records its rules decided, or its signals scoped) into fixed-size sketches.

Times are wall-clock seconds (the records' own in offline analysis), so reports mean
the same thing live and replayed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import attrgetter
from typing import Any

from seawall.detect.policy import ActionEvent
from seawall.detect.records import Slice, view_of
from seawall.detect.signals import Signal
from seawall.detect.signatures import Signature
from seawall.detect.sketch import BottomK, HyperLogLog, TopCounts, hash_texts

_TEXT = attrgetter("client.text")
_VERDICT = attrgetter("verdict.action")
_PREFIX = attrgetter("prefix")
MAX_TIMELINE = 3600  # points (one per tick): an hour at one-second ticks
MAX_ACTIONS = 500
ENFORCING = frozenset({"apply", "escalate", "approve"})
SAMPLE_K = 4096  # distinct source addresses kept as a uniform sample, for reports
TOP_ADDRESSES = 1000  # heaviest sources reported by name (blocklists are made from them)
TOP_PREFIXES = 100
# a timeline point: time, all requests/s, attack requests/s, per class, per verdict
Point = tuple[float, float, float, dict[str, float], dict[str, float]]


@dataclass(slots=True)
class Incident:
    id: str
    start: float
    detected: float
    end: float | None = None
    mitigated: float | None = None
    peak_rps: float = 0.0
    targets: Counter[str] = field(default_factory=Counter)
    vectors: Counter[str] = field(default_factory=Counter)
    signatures: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: list[ActionEvent] = field(default_factory=list)
    timeline: list[Point] = field(default_factory=list)
    addresses: HyperLogLog = field(default_factory=lambda: HyperLogLog(12))
    prefixes: HyperLogLog = field(default_factory=lambda: HyperLogLog(10))
    top_prefixes: TopCounts = field(default_factory=TopCounts)
    top_addresses: TopCounts = field(default_factory=TopCounts)
    sample: BottomK = field(default_factory=lambda: BottomK(SAMPLE_K))
    matched: float = 0.0  # attack requests seen (decided by its rules or in its scopes)
    leaked: float = 0.0  # of those, let through to the origin after mitigation
    last_signal: float = 0.0

    @property
    def open(self) -> bool:
        return self.end is None

    def to_dict(self, sketches: bool = False) -> dict[str, Any]:
        """The report; `sketches` adds the source sketches' registers (hex) so another
        process can merge this with other workers' shares of the same attack."""

        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {
            "id": self.id,
            "status": "open" if self.open else "closed",
            "start": r(self.start),
            "end": r(self.end),
            "detected": r(self.detected),
            "mitigated": r(self.mitigated),
            "time_to_detect_s": r(self.detected - self.start),
            "time_to_mitigate_s": r(
                None if self.mitigated is None else self.mitigated - self.start
            ),
            "peak_rps": round(self.peak_rps, 1),
            "targets": [t for t, _ in self.targets.most_common(10)],
            "vectors": sorted(self.vectors),
            "signatures": list(self.signatures.values()),
            "actions": [_action(a) for a in self.actions],
            "sources": {
                "addresses": round(self.addresses.count()),
                "prefixes": round(self.prefixes.count()),
                # at least this many each: exact unless the table filled before they came
                "top_prefixes": [
                    {"prefix": p, "requests": round(n)}
                    for p, n in self.top_prefixes.top(TOP_PREFIXES)
                ],
                "top_addresses": [
                    {"address": a, "requests": round(n)}
                    for a, n in self.top_addresses.top(TOP_ADDRESSES)
                ],
                "sample": self.sample.labels(),
                "sample_size": self.sample.k,
            },
            "attack_requests": round(self.matched),
            "leak_after_mitigation": round(self.leaked / self.matched, 4) if self.matched else 0.0,
            "timeline": [_point(p) for p in self.timeline],
        } | (
            {
                "sketches": {
                    "addresses": self.addresses.registers.hex(),
                    "prefixes": self.prefixes.registers.hex(),
                }
            }
            if sketches
            else {}
        )


def _point(p: Point) -> list[Any]:
    t, total, attack, by_class, by_verdict = p
    return [
        round(t, 1),
        round(total, 1),
        round(attack, 1),
        {k: round(v, 1) for k, v in by_class.items()},
        {k: round(v, 1) for k, v in by_verdict.items()},
    ]


def _action(a: ActionEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "time": round(a.time, 3),
        "rule": a.rule_id,
        "action": a.verb,
        "step": a.step,
        "reason": a.reason,
        "estimated_collateral": round(a.estimate, 5),
    }
    if a.measured >= 0:
        out["measured_collateral"] = round(a.measured, 5)
    return out


def signature_summary(rule: str, signal: Signal, sig: Signature) -> dict[str, Any]:
    return {
        "rule": rule,
        "detector": signal.detector,
        "vector": signal.vector,
        "match": sig.describe(),
        "attributes": [
            {
                "attribute": c.attr,
                "values": sorted(map(str, c.values)),
                "attack_share": round(c.attack_share, 4),
                "baseline_share": round(c.baseline_share, 4),
                "signal_strength": round(c.strength, 4),
            }
            for c in sig.conditions
        ],
        "separable": sig.separable,  # False: told apart only by where it goes (a crowd)
        "coverage": round(sig.coverage, 4),
        "estimated_collateral": round(sig.collateral, 5),
        "collateral_by_class": {k: round(v, 5) for k, v in sig.by_class},
        "verified_users_matched": sig.users,
        "verified_apps_matched": sig.apps,
        "baseline_known": sig.known,
        "confidence": signal.confidence,
        "score": signal.score,
        "evidence": dict(signal.evidence),
    }


class IncidentBook:
    """The open incident (at most one: concurrent vectors are one attack) and closed ones."""

    def __init__(self, quiet: float = 30.0, keep: int = 100) -> None:
        self.quiet = quiet
        self.keep = keep
        self.current: Incident | None = None
        self.closed: list[Incident] = []
        self._seq = 0

    def update(
        self,
        wall: float,
        s: Slice,
        signals: list[Signal],
        found: dict[str, tuple[Signal, Signature]],
        events: list[ActionEvent],
        rules_left: int,
        known: Sequence[Signature] = (),
    ) -> Incident | None:
        """Fold one tick in; returns the incident it changed, if any. `known` are the
        attack's signatures so far: where there are any, the records of a signal's scope
        count as the attack only when one matches (people on the attacked page are not
        its sources, nor its leak)."""
        attack = [sig for sig in signals if sig.actionable]
        acting = [e for e in events if e.step != "observe" or e.verb != "observe"]
        evidence_only = [sig for sig in attack if not sig.mitigable]
        inc = self.current
        if inc is None:
            if not acting and not evidence_only:
                return None
            inc = self.current = self._open(wall, s)
        if attack:
            inc.last_signal = wall
        for sig in attack:
            inc.vectors[sig.vector] += 1
            for attr, value in sig.scope:
                if attr == "target":
                    inc.targets[str(value)] += 1
                elif attr == "route":
                    inc.targets[f"route:{value}"] += 1
        for rid, (signal, signature) in found.items():
            inc.signatures.setdefault(rid, signature_summary(rid, signal, signature))
        self._fold(inc, wall, s, attack, known)  # this tick's records predate its decisions
        for e in events:
            if len(inc.actions) < MAX_ACTIONS:
                inc.actions.append(replace(e, time=wall))  # reports speak wall-clock time
            if e.verb in ENFORCING and inc.mitigated is None:
                inc.mitigated = wall
        if rules_left == 0 and wall - inc.last_signal >= self.quiet:
            inc.end = inc.last_signal
            self._close(inc)
        return inc

    def _open(self, wall: float, s: Slice) -> Incident:
        self._seq += 1
        start = wall - s.seconds  # the interval that showed it
        return Incident(f"inc-{int(start)}-{self._seq}", start=start, detected=wall)

    def _fold(
        self, inc: Incident, wall: float, s: Slice, attack: list[Signal], known: Sequence[Signature]
    ) -> None:
        auto, records, facts = s.auto, s.records, s.facts
        extra: set[int] = set()  # in an attack's scope, not decided by a rule
        for sig in attack:
            if sig.scope:
                extra.update(i for i in s.members(sig.scope) if not auto[i])
        matchers = [k for k in known if k.conditions]
        if matchers and extra:
            views = {i: view_of(facts[i]) for i in extra}  # one view each, for every matcher
            extra = {i for i, v in views.items() if any(k.matches(v) for k in matchers)}
        attackers = list(compress(facts, auto))  # what the rules decided, at C speed
        attackers += [facts[i] for i in extra]
        w = s.weight
        inc.matched += len(attackers) * w
        if inc.mitigated is not None:
            inc.leaked += sum(1 for i in extra if records[i].origin_time > 0) * w
        by_address = Counter(map(_TEXT, attackers))
        by_prefix = Counter(map(_PREFIX, attackers))
        # an address or prefix already counted changes no sketch: hash only newcomers
        seen, seen_prefixes = inc.top_addresses.counts, inc.top_prefixes.counts
        fresh = [a for a in by_address if a not in seen]
        hashes = hash_texts(fresh)  # one hash each, for the distinct count and the sample
        inc.addresses.add_hashes(hashes)
        inc.sample.add_hashed(hashes, fresh)
        inc.prefixes.add_many([p for p in by_prefix if p not in seen_prefixes])
        inc.top_prefixes.update(by_prefix)
        inc.top_addresses.update(by_address)
        rate = len(attackers) * w / s.seconds
        inc.peak_rps = max(inc.peak_rps, rate)
        if len(inc.timeline) < MAX_TIMELINE:
            inc.timeline.append((wall, s.total / s.seconds, rate, *_mix(s)))

    def _close(self, inc: Incident) -> None:
        self.closed.append(inc)
        del self.closed[: -self.keep]
        self.current = None


def _mix(s: Slice) -> tuple[dict[str, float], dict[str, float]]:
    """Requests/s of an interval per class and per verdict, for the report's timeline."""
    scale = s.weight / s.seconds
    by_class = {str(k): n * scale for k, n in s.count_by("class").items()}
    by_verdict = {a.label: n * scale for a, n in Counter(map(_VERDICT, s.records)).items()}
    return by_class, by_verdict
