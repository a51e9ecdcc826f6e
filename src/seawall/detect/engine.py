"""The DetectionEngine: records in, signals, rule changes and incidents out.

One code path live (fed by the edge's recorder), offline (fed by parsed logs, clocked by
their timestamps) and in the lab. `observe` only appends; `tick` does the work for the
interval in batch. Under an extreme rate the interval keeps a uniform sample of
`max_records` records (reservoir sampling) and every count is scaled by its weight.

Per tick: detectors look at the slice, baselines learn it (keys under attack are frozen),
each attack signal not already covered by a rule gets a signature scored against the
baseline window, the policy decides, the incident book folds it all in, and the slice's
sample joins the baseline window (late, and without the attack).
"""

from __future__ import annotations

import random
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import seawall.detect.detectors.behaviour
import seawall.detect.detectors.volume  # noqa: F401  (registers the volume detectors)
from seawall.core.challenge import PASS_PATH
from seawall.core.facts import ClientClass
from seawall.core.record import Record
from seawall.core.rules import RulesetDelta
from seawall.core.verdict import Action
from seawall.detect import signatures
from seawall.detect.baseline import Baselines
from seawall.detect.incidents import Incident, IncidentBook
from seawall.detect.policy import ActionEvent, Feedback, Policy, PolicySettings, rule_id
from seawall.detect.records import (
    NO_LOAD,
    Load,
    Slice,
    View,
    view_of,
)
from seawall.detect.signals import REGISTRY, Context, Detector, Signal
from seawall.detect.window import BaselineWindow

ANONYMOUS = ClientClass.ANONYMOUS
LEARNED = ("host", "route", "target", "class", "country", "asn", "header_fp")
ATTACK_SAMPLE = 4000  # views a signature is built from, at most
REBUILD_S = 5.0  # an unseparable surge's signature is rebuilt this often
MAX_UNSEPARABLE = 1024


@dataclass(frozen=True, slots=True)
class EngineSettings:
    interval: float = 1.0
    max_records: int = 50_000  # per interval; beyond, a uniform sample with weights
    detectors: Mapping[str, Mapping[str, float]] | None = None  # None: every registered one
    policy: PolicySettings = field(default_factory=PolicySettings)
    half_life: float = 300.0
    max_keys: int = 20_000
    window_seconds: int = 180
    window_per_second: int = 48
    window_lag: float = 2.0
    warmup: float = 5.0  # seconds of baseline before any detector may fire
    login_routes: tuple[str, ...] = ("login",)
    quiet: float = 30.0
    good_clients: int = 100_000  # addresses known to be people (solved, signed in)
    seed: int = 0


@dataclass(frozen=True, slots=True)
class TickResult:
    signals: list[Signal]
    delta: RulesetDelta
    events: list[ActionEvent]
    incident: Incident | None
    closed: Incident | None  # the incident this tick closed, if any


class DetectionEngine:
    def __init__(self, settings: EngineSettings | None = None) -> None:
        s = self.settings = settings or EngineSettings()
        chosen = s.detectors if s.detectors is not None else {n: {} for n in REGISTRY}
        self.detectors: list[Detector] = []
        for name, options in chosen.items():
            if name not in REGISTRY:
                raise ValueError(f"no detector {name!r}; known: {', '.join(sorted(REGISTRY))}")
            self.detectors.append(REGISTRY[name](options))
        self.baselines = Baselines(half_life=s.half_life, max_keys=s.max_keys)
        self.window = BaselineWindow(s.window_seconds, s.window_per_second, s.window_lag, s.seed)
        self.policy = Policy(s.policy)
        self.book = IncidentBook(s.quiet)
        self.rng = random.Random(s.seed)
        self._buf: list[Record] = []
        self._seen = 0  # records offered this interval (>= len(_buf) when sampling)
        self._last: float | None = None
        self._stress: deque[bool] = deque(maxlen=3)
        self._good: OrderedDict[str, None] = OrderedDict()
        # signals whose signature could not separate (a crowd): rebuilt only every few s
        self._unseparable: dict[tuple[str, object], float] = {}
        self.observed = 0
        self.sampled_out = 0

    # ---- input -------------------------------------------------------------------------

    def observe(self, rec: Record) -> None:
        self._seen += 1
        buf = self._buf
        if len(buf) < self.settings.max_records:
            buf.append(rec)
            return
        j = self.rng.randrange(self._seen)  # reservoir: every record kept with equal chance
        if j < len(buf):
            buf[j] = rec
        self.sampled_out += 1

    def observe_many(self, recs: Iterable[Record]) -> None:
        room = self.settings.max_records - len(self._buf)
        recs = list(recs)
        if len(recs) <= room:
            self._buf.extend(recs)
            self._seen += len(recs)
            return
        for rec in recs:
            self.observe(rec)

    def approve(self, rule: str) -> bool:
        return self.policy.approve(rule)

    # ---- the interval ----------------------------------------------------------------------

    def tick(self, now: float, load: Load = NO_LOAD, wall: float | None = None) -> TickResult:
        """Process the interval ending at `now` (the rules' clock); `wall` dates incidents."""
        wall = now if wall is None else wall
        start = self._last if self._last is not None else now - self.settings.interval
        self._last = now
        buf, seen = self._buf, self._seen
        self._buf, self._seen = [], 0
        self.observed += seen
        s = Slice(buf, start, now - start, seen / len(buf) if buf else 1.0)
        ctx = Context(self.baselines, load, self._warm(), self.settings.login_routes)
        signals: list[Signal] = []
        for d in self.detectors:
            d.observe(s, ctx)
            signals.extend(d.tick(now))
        self._learn(s)
        self._stress.append(any(not sig.actionable for sig in signals))
        stressed = sum(self._stress) >= 2
        found, renew = self._signatures(s, signals)
        outcome = self.policy.step(now, list(found.values()), self._feedback(s), stressed, renew)
        # the attack's signatures so far, for the window (kept out) and the incident (its
        # sources): the rules in force and the ones written this tick
        fresh = [sig for _, sig in found.values() if sig.conditions]
        known = [a.signature for a in self.policy.active.values() if a.signature.conditions]
        known += fresh
        self._update_window(s, now, fresh, known)
        before = self.book.current
        inc = self.book.update(
            wall, s, signals, found, outcome.events, len(self.policy.active), known
        )
        closed = before if before is not None and self.book.current is None else None
        return TickResult(signals, outcome.delta, outcome.events, inc, closed)

    def _warm(self) -> bool:
        return self.window.span >= self.settings.warmup

    def _learn(self, s: Slice) -> None:
        """Baselines learn what no automatic rule decided: the attack is not normal."""
        b, t = self.baselines, s.start
        clean = s.weight * (len(s.auto) - sum(s.auto)) / s.seconds
        b.observe(("global", ""), clean, t)
        for dim in LEARNED:
            b.observe_many({(dim, k): r for k, r in s.clean_rates(dim).items()}, t)

    def _signatures(
        self, s: Slice, signals: list[Signal]
    ) -> tuple[dict[str, tuple[Signal, signatures.Signature]], set[str]]:
        """A signature per attack signal whose records no automatic rule decides yet, and
        the rules that decided this interval's attack records (so it is still on)."""
        found: dict[str, tuple[Signal, signatures.Signature]] = {}
        renew: set[str] = set()
        baseline: list[tuple[list[View], list[float]]] = []  # the window, read once if needed
        for sig in signals:
            if sig.actionable and sig.mitigable:
                made = self._signature(s, sig, renew, baseline)
                if made is not None:
                    found.setdefault(rule_id(made[1]), made)
        if len(self._unseparable) > MAX_UNSEPARABLE:
            self._unseparable.clear()
        return found, renew

    def _signature(
        self,
        s: Slice,
        sig: Signal,
        renew: set[str],
        baseline: list[tuple[list[View], list[float]]],
    ) -> tuple[Signal, signatures.Signature] | None:
        facts, auto, records = s.facts, s.auto, s.records
        scoped = [i for i in s.members(sig.scope) if facts[i].klass is ANONYMOUS]
        decided = {records[i].verdict.rule_id for i in scoped if auto[i]}
        renew.update(decided)
        fresh = [facts[i] for i in scoped if not auto[i]]
        # what the rules leave is the scope's ordinary traffic, unless it is well above
        # the scope's baseline: then part of the attack slips past them (a value the first
        # signature's sample missed) and gets a signature of its own
        usual = sig.baseline * s.seconds / s.weight
        excess = max(0.0, sig.rate - sig.baseline) * s.seconds / s.weight
        if not fresh or (decided and len(fresh) <= max(1.5 * usual + 5, 0.05 * excess)):
            return None  # the rules in place already take (nearly) all of it
        if self._unseparable.get(sig.key, -1e18) > s.start - REBUILD_S:
            return None
        if not sig.sources:  # counted here, only for what may become a rule
            sig = replace(sig, sources=len({facts[i].client.value for i in scoped}))
        if len(fresh) > ATTACK_SAMPLE:
            fresh = self.rng.sample(fresh, ATTACK_SAMPLE)
        if not baseline:
            baseline.append(self.window.pairs())
        share = 1.0 - sig.baseline / sig.rate if sig.rate > 0 else 1.0
        made = signatures.build([view_of(f) for f in fresh], *baseline[0], attack_share=share)
        if not made.separable:
            self._unseparable[sig.key] = s.start
        return sig, made

    def _feedback(self, s: Slice) -> Feedback:
        hits: Counter[str] = Counter()
        good: Counter[str] = Counter()
        verified: Counter[str] = Counter()
        shown: Counter[str] = Counter()
        solved: Counter[str] = Counter()
        known = self._good
        for f in s.facts:
            if f.passed or f.klass is ClientClass.USER:
                known[f.client.text] = None
                known.move_to_end(f.client.text)
        auto = s.auto
        decided = [r for r, a in zip(s.records, auto, strict=True) if a]
        answers = [r for r in decided if r.facts.path == PASS_PATH]
        solved.update(r.verdict.rule_id for r in answers if r.status == 303)
        if answers:
            decided = [r for r in decided if r.facts.path != PASS_PATH]
        hits.update(r.verdict.rule_id for r in decided)
        shown.update(r.verdict.rule_id for r in decided if r.verdict.action is Action.CHALLENGE)
        verified.update(r.verdict.rule_id for r in decided if r.facts.klass is not ANONYMOUS)
        good.update(
            r.verdict.rule_id
            for r in decided
            if r.facts.klass is ANONYMOUS and r.facts.client.text in known
        )
        while len(known) > self.settings.good_clients:
            known.popitem(last=False)
        return Feedback(hits, good, verified, shown, solved)

    def _update_window(
        self,
        s: Slice,
        now: float,
        fresh: list[signatures.Signature],
        known: list[signatures.Signature],
    ) -> None:
        if fresh:
            self.window.forget_pending(lambda v: any(sig.matches(v) for sig in fresh))
        self.window.add(s)
        self.window.mature(now, (lambda v: any(sig.matches(v) for sig in known)) if known else None)
