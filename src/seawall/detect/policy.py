"""Policy: signatures in, graded and reversible rules out, with every step explained.

First step, from the signature's confidence and estimated collateral (the share of
baseline anonymous requests it would hit). "Separable" means it tells attack from people
by who sends it or how; "known" means the baseline is long enough to estimate collateral.

| signature                                                         | first step |
|-------------------------------------------------------------------|------------|
| separable, known, collateral <= block_collateral, confident       | block      |
| separable, known, collateral <= challenge_collateral              | challenge  |
| separable, known, collateral <= throttle_collateral               | throttle   |
| anything else, origin stressed                                    | challenge  |
| anything else (a crowd: cache and admission serve it)             | observe    |

Then, every tick:

| state                                                     | becomes                    |
|-----------------------------------------------------------|----------------------------|
| throttle, attack still on after `escalate_after` s        | challenge                  |
| challenge, `min_challenges` shown, solve rate under       | block                      |
|   `solve_floor`, collateral <= 10 x block_collateral      |                            |
| block, attack gone for `hold` s                           | challenge (step down)      |
| challenge or throttle, attack gone for `hold` s           | removed                    |
| measured collateral > `rollback_margin` x estimate + 1%   | block: challenge; others:  |
|                                                           |   removed, vetoed `veto` s |

Automatic rules match anonymous clients only: verified api_apps, gateways and users are
never challenged or blocked by them. Every rule carries an expiry (`ttl`), renewed while
its attack goes on, so rules lapse by themselves if the engine stops.

Modes, global or per detector family: observe (log what would be done), suggest (rules
wait for `approve`), enforce.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from seawall.core.rules import LimitKey, Rule, RulesetDelta
from seawall.core.verdict import Action
from seawall.detect.records import AUTO_PREFIX
from seawall.detect.signals import Signal
from seawall.detect.signatures import Signature


class Mode(enum.StrEnum):
    OBSERVE = "observe"
    SUGGEST = "suggest"
    ENFORCE = "enforce"


class Step(enum.IntEnum):
    OBSERVE = 0
    THROTTLE = 1
    CHALLENGE = 2
    BLOCK = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class PolicySettings:
    mode: Mode = Mode.ENFORCE
    family_modes: Mapping[str, Mode] = field(default_factory=dict)
    block_collateral: float = 0.001
    block_confidence: float = 0.8
    challenge_collateral: float = 0.05
    throttle_collateral: float = 0.2
    ttl: float = 30.0
    hold: float = 15.0
    escalate_after: float = 5.0
    throttle_rate: float = 5.0
    throttle_burst: int = 20
    strikes: int = 6
    strike_window: float = 60.0
    min_challenges: int = 100
    solve_floor: float = 0.01
    rollback_margin: float = 3.0
    min_hits: int = 20
    veto: float = 300.0
    max_rules: int = 64
    priority: int = 150  # after the operator's rules (100), so their allowlists win


@dataclass(frozen=True, slots=True)
class Feedback:
    """What rules really hit over a tick, from the records they decided."""

    hits: Mapping[str, int] = field(default_factory=dict)
    good_hits: Mapping[str, int] = field(default_factory=dict)  # clients known to be human
    verified_hits: Mapping[str, int] = field(default_factory=dict)  # api_app, gateway, user
    challenges: Mapping[str, int] = field(default_factory=dict)
    solves: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActionEvent:
    time: float
    rule_id: str
    verb: str  # apply, escalate, step_down, expire, rollback, suggest, observe, approve
    step: str
    reason: str
    estimate: float  # estimated collateral when decided
    measured: float = -1.0  # measured collateral when known


@dataclass(slots=True)
class Active:
    """A rule the policy keeps: its signature, its step and what it has really hit."""

    rule_id: str
    signal: Signal
    signature: Signature
    step: Step
    since: float
    last_seen: float
    approved: bool
    renewed: float = 0.0  # when its rule was last (re)written with a fresh expiry
    hits: int = 0
    good: int = 0
    challenges: int = 0
    solves: int = 0

    @property
    def measured(self) -> float:
        return self.good / self.hits if self.hits else 0.0


def first_step(sig: Signature, signal: Signal, stressed: bool, s: PolicySettings) -> Step:
    if sig.separable:
        if (
            sig.known
            and sig.collateral <= s.block_collateral
            and signal.confidence >= s.block_confidence
        ):
            return Step.BLOCK
        if sig.known and sig.collateral <= s.challenge_collateral:
            return Step.CHALLENGE
        if sig.known and sig.collateral <= s.throttle_collateral:
            return Step.THROTTLE
    return Step.CHALLENGE if stressed else Step.OBSERVE


def rule_id(sig: Signature) -> str:
    """One rule per signature, whichever detectors found it."""
    return f"{AUTO_PREFIX}{sig.id}"


_ACTIONS = {
    Step.THROTTLE: Action.THROTTLE,
    Step.CHALLENGE: Action.CHALLENGE,
    Step.BLOCK: Action.BLOCK,
}


def make_rule(a: Active, now: float, s: PolicySettings) -> Rule:
    rule = Rule(
        a.rule_id,
        _ACTIONS[a.step],
        a.signature.to_match(),
        priority=s.priority,
        expires=now + s.ttl,
        origin="auto",
        reason=f"auto: {a.signal.vector} ({a.signature.describe()})",
    )
    if a.step is Step.BLOCK:
        return replace(rule, close=True)
    if a.step is Step.CHALLENGE:
        return replace(rule, strikes=s.strikes, strike_window=s.strike_window)
    return replace(rule, rate=s.throttle_rate, burst=s.throttle_burst, key=LimitKey.ADDRESS)


@dataclass(slots=True)
class Outcome:
    delta: RulesetDelta
    events: list[ActionEvent]


@dataclass(slots=True)
class _Changes:
    """What one step decides: rules to (re)write, rules to remove, and why."""

    add: dict[str, Rule] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    events: list[ActionEvent] = field(default_factory=list)


class Policy:
    """Keeps the automatic rules: decides, escalates, verifies, steps down, expires."""

    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.s = settings or PolicySettings()
        self.active: dict[str, Active] = {}
        self.vetoed: dict[str, float] = {}  # rule id -> until
        self.observed: dict[str, float] = {}  # rule id -> when last logged as observed
        self._approvals: set[str] = set()

    def mode_of(self, family: str) -> Mode:
        return self.s.family_modes.get(family, self.s.mode)

    def approve(self, rule_id: str) -> bool:
        """An operator approved a suggested rule: it is applied at the next tick."""
        a = self.active.get(rule_id)
        if a is None or a.approved:
            return False
        self._approvals.add(rule_id)
        return True

    def pending(self) -> list[Active]:
        return [a for a in self.active.values() if not a.approved]

    def step(
        self,
        now: float,
        found: list[tuple[Signal, Signature]],
        feedback: Feedback,
        stressed: bool,
        renew: set[str] | None = None,
    ) -> Outcome:
        """`renew`: rules that decided this tick's attack records (so it is still on)."""
        out = _Changes()
        self._learn(feedback)
        seen = self._consider(now, found, stressed, out) | (renew or set())
        for rid in seen:
            if rid in self.active:
                self.active[rid].last_seen = now
        for rid in list(self.active):
            self._review(self.active[rid], now, rid in seen, out)
        self.vetoed = {r: t for r, t in self.vetoed.items() if t > now}
        self.observed = {r: t for r, t in self.observed.items() if now - t < self.s.hold}
        return Outcome(RulesetDelta(tuple(out.add.values()), tuple(out.remove)), out.events)

    def _learn(self, fb: Feedback) -> None:
        for rid, a in self.active.items():
            a.hits += fb.hits.get(rid, 0)
            a.good += fb.good_hits.get(rid, 0) + fb.verified_hits.get(rid, 0)
            a.challenges += fb.challenges.get(rid, 0)
            a.solves += fb.solves.get(rid, 0)

    def _consider(
        self,
        now: float,
        found: list[tuple[Signal, Signature]],
        stressed: bool,
        out: _Changes,
    ) -> set[str]:
        seen: set[str] = set()
        for signal, sig in found:
            rid = rule_id(sig)
            seen.add(rid)
            a = self.active.get(rid)
            if a is not None:
                a.last_seen = now
                continue
            step = first_step(sig, signal, stressed, self.s)
            if step is Step.OBSERVE or rid in self.vetoed or not sig.conditions:
                self._observe(now, rid, step, _why(signal, sig), sig, out)
                continue
            if len(self.active) >= self.s.max_rules:
                out.events.append(_event(now, rid, "observe", step, "rule table full", sig))
                continue
            mode = self.mode_of(signal.detector)
            if mode is Mode.OBSERVE:
                self._observe(now, rid, step, _why(signal, sig), sig, out)
                continue
            a = Active(rid, signal, sig, step, now, now, mode is Mode.ENFORCE)
            self.active[rid] = a
            if a.approved:
                self._put(a, now, out)
            out.events.append(
                _event(now, rid, "apply" if a.approved else "suggest", step, _why(signal, sig), sig)
            )
        return seen

    def _review(
        self,
        a: Active,
        now: float,
        seen: bool,
        out: _Changes,
    ) -> None:
        rid, s = a.rule_id, self.s
        if not a.approved:
            if rid in self._approvals:
                self._approvals.discard(rid)
                a.approved, a.since = True, now
                self._put(a, now, out)
                out.events.append(_event(now, rid, "approve", a.step, "approved by an operator", a))
            elif now - a.last_seen >= s.hold:
                del self.active[rid]  # a suggestion nobody took, for an attack now over
            return
        if a.hits >= s.min_hits and a.measured > s.rollback_margin * a.signature.collateral + 0.01:
            self._rollback(a, now, out)
            return
        gone = now - a.last_seen
        if gone >= s.hold:
            self._step_down(a, now, out)
            return
        nxt = self._escalation(a, now)
        if nxt is not None:
            a.step, a.since = nxt, now
            self._put(a, now, out)
            out.events.append(_event(now, rid, "escalate", nxt, self._escalation_why(a), a))
        elif seen and now - a.renewed >= s.ttl / 2:
            self._put(a, now, out)  # renewed: the attack goes on

    def _observe(
        self, now: float, rid: str, step: Step, why: str, sig: Signature, out: _Changes
    ) -> None:
        """Logged once per `hold` while it lasts, not every tick."""
        if rid not in self.observed:
            out.events.append(_event(now, rid, "observe", step, why, sig))
        self.observed[rid] = now

    def _put(self, a: Active, now: float, out: _Changes) -> None:
        a.renewed = now
        out.add[a.rule_id] = make_rule(a, now, self.s)

    def _escalation(self, a: Active, now: float) -> Step | None:
        s = self.s
        if a.step is Step.THROTTLE and now - a.since >= s.escalate_after:
            return Step.CHALLENGE
        if (
            a.step is Step.CHALLENGE
            and a.challenges >= s.min_challenges
            and a.solves < s.solve_floor * a.challenges
            and a.signature.known
            and a.signature.collateral <= 10 * s.block_collateral
        ):
            return Step.BLOCK
        return None

    def _escalation_why(self, a: Active) -> str:
        if a.step is Step.CHALLENGE:
            return "still on after throttling"
        return f"{a.solves} of {a.challenges} challenges solved: bots, not people"

    def _step_down(
        self,
        a: Active,
        now: float,
        out: _Changes,
    ) -> None:
        if a.step is Step.BLOCK:
            a.step, a.since, a.last_seen = Step.CHALLENGE, now, now
            a.challenges = a.solves = 0  # judged afresh, not on the attack it already saw
            self._put(a, now, out)
            out.events.append(_event(now, a.rule_id, "step_down", a.step, "attack over", a))
            return
        del self.active[a.rule_id]
        out.remove.append(a.rule_id)
        out.events.append(_event(now, a.rule_id, "expire", Step.OBSERVE, "attack over", a))

    def _rollback(
        self,
        a: Active,
        now: float,
        out: _Changes,
    ) -> None:
        why = (
            f"measured collateral {a.measured:.1%} ({a.good} of {a.hits} hits on known people) "
            f"exceeds the estimate {a.signature.collateral:.2%}"
        )
        if a.step is Step.BLOCK:
            a.step, a.since = Step.CHALLENGE, now
            self._put(a, now, out)
            out.events.append(_event(now, a.rule_id, "rollback", a.step, why + "; challenging", a))
            a.hits = a.good = 0  # the challenge is judged on its own hits
            return
        del self.active[a.rule_id]
        out.remove.append(a.rule_id)
        self.vetoed[a.rule_id] = now + self.s.veto
        out.events.append(_event(now, a.rule_id, "rollback", Step.OBSERVE, why + "; removed", a))


def _why(signal: Signal, sig: Signature) -> str:
    return (
        f"{signal.describe()}; signature {sig.describe()} covers {sig.coverage:.0%} "
        f"of the attack, would hit {sig.collateral:.2%} of baseline anonymous requests"
        + ("" if sig.known else " (baseline too short to know)")
    )


def _event(
    now: float, rid: str, verb: str, step: Step, reason: str, about: Active | Signature
) -> ActionEvent:
    if isinstance(about, Active):
        return ActionEvent(
            now, rid, verb, step.label, reason, about.signature.collateral, about.measured
        )
    return ActionEvent(now, rid, verb, step.label, reason, about.collateral)
