"""The detection policy as transcripts: signatures in, graded, reversible rules out.

(Named test_detect_policy: tests/edge/test_policy.py holds the basename.)
"""

from __future__ import annotations

import pytest

from seawall.core.facts import ClientClass
from seawall.core.rules import Rule
from seawall.core.verdict import Action
from seawall.detect.policy import (
    Feedback,
    Mode,
    Outcome,
    Policy,
    PolicySettings,
    Step,
    first_step,
    rule_id,
)
from seawall.detect.signals import Signal
from seawall.detect.signatures import Condition, Signature

BOT = "ba7ba7ba7ba7"


def sig(
    collateral: float = 0.0,
    *,
    known: bool = True,
    separable: bool = True,
    coverage: float = 1.0,
    fp: str = BOT,
) -> Signature:
    if not separable:  # where-only: the target alone
        conds = (Condition("target", frozenset({"/users/famous"}), 1.0, 0.0),)
    else:
        conds = (Condition("header_fp", frozenset({fp}), 1.0, collateral),)
    return Signature(conds, coverage, collateral, (), 0, 0, 400, 1000, known)


def signal(confidence: float = 1.0, detector: str = "fingerprint_surge") -> Signal:
    return Signal(detector, detector, (("header_fp", BOT),), 0.0, 400.0, 0.0, 50.0, confidence)


NONE = Feedback()


@pytest.mark.parametrize(
    ("signature", "confidence", "stressed", "step"),
    [
        (sig(0.001), 0.8, False, Step.BLOCK),  # both at their thresholds
        (sig(0.0), 0.79, False, Step.CHALLENGE),  # not confident enough to block
        (sig(0.0011), 1.0, False, Step.CHALLENGE),
        (sig(0.05), 1.0, False, Step.CHALLENGE),
        (sig(0.0501), 1.0, False, Step.THROTTLE),
        (sig(0.2), 1.0, False, Step.THROTTLE),
        (sig(0.2001), 1.0, False, Step.OBSERVE),
        (sig(0.2001), 1.0, True, Step.CHALLENGE),
        (sig(0.0, known=False), 1.0, False, Step.OBSERVE),  # baseline too short
        (sig(0.0, known=False), 1.0, True, Step.CHALLENGE),
        (sig(0.0, separable=False), 1.0, False, Step.OBSERVE),  # a crowd
        (sig(0.0, separable=False), 1.0, True, Step.CHALLENGE),  # ... on a struggling origin
        (sig(0.0, coverage=0.79), 1.0, False, Step.OBSERVE),  # covers too little
    ],
)
def test_first_step(signature: Signature, confidence: float, stressed: bool, step: Step) -> None:
    assert first_step(signature, signal(confidence), stressed, PolicySettings()) is step


def added(out: Outcome) -> list[tuple[str, str, float | None]]:
    return [(r.id, r.action.label, r.expires) for r in out.delta.add]


def verbs(out: Outcome) -> list[tuple[str, str]]:
    return [(e.verb, e.step) for e in out.events]


def test_block_at_once_then_renew_then_step_down_then_expire() -> None:
    p = Policy()
    s = sig(0.0)
    rid = rule_id(s)
    assert rid == f"auto-{s.id}"
    out = p.step(0.0, [(signal(), s)], NONE, False)
    assert verbs(out) == [("apply", "block")] and added(out) == [(rid, "block", 30.0)]
    for t in range(1, 15):  # the attack goes on; the rule is fresh enough
        out = p.step(float(t), [(signal(), s)], NONE, False)
        assert out.delta.add == () and out.events == [], t
    out = p.step(15.0, [(signal(), s)], NONE, False)  # ttl / 2: renewed
    assert added(out) == [(rid, "block", 45.0)] and out.events == []
    out = p.step(16.0, [], NONE, False, renew={rid})  # its rule decided the attack: still on
    assert out.delta.add == ()
    for t in range(17, 31):
        assert p.step(float(t), [], NONE, False).delta.add == ()  # gone for < hold
    out = p.step(31.0, [], NONE, False)  # gone for hold (15 s since 16)
    assert verbs(out) == [("step_down", "challenge")] and added(out) == [(rid, "challenge", 61.0)]
    assert p.step(45.0, [], NONE, False).events == []
    out = p.step(46.0, [], NONE, False)
    assert verbs(out) == [("expire", "observe")] and out.delta.remove == (rid,)
    assert p.active == {}


def test_throttle_escalates_to_challenge_after_escalate_after() -> None:
    p = Policy()
    s = sig(0.1)
    out = p.step(0.0, [(signal(), s)], NONE, False)
    assert verbs(out) == [("apply", "throttle")]
    (rule,) = out.delta.add
    assert (rule.action, rule.rate, rule.burst) == (Action.THROTTLE, 5.0, 20)
    for t in range(1, 5):
        assert p.step(float(t), [(signal(), s)], NONE, False).events == []
    out = p.step(5.0, [(signal(), s)], NONE, False)
    assert verbs(out) == [("escalate", "challenge")]
    assert out.events[0].reason == "still on after throttling"
    (rule,) = out.delta.add
    assert (rule.action, rule.strikes, rule.strike_window, rule.expires) == (
        Action.CHALLENGE,
        6,
        60.0,
        35.0,
    )


def _challenging(collateral: float = 0.005) -> tuple[Policy, Signature, str]:
    p = Policy()
    s = sig(collateral)
    out = p.step(0.0, [(signal(0.5), s)], NONE, False)  # not confident: challenge
    assert verbs(out) == [("apply", "challenge")]
    return p, s, rule_id(s)


def test_challenge_escalates_to_block_when_nobody_solves() -> None:
    p, s, rid = _challenging()
    fb = Feedback(hits={rid: 99}, challenges={rid: 99})
    assert p.step(1.0, [(signal(0.5), s)], fb, False).events == []  # 99 < min_challenges
    fb = Feedback(hits={rid: 1}, challenges={rid: 1})
    out = p.step(2.0, [(signal(0.5), s)], fb, False)
    assert verbs(out) == [("escalate", "block")]
    assert out.events[0].reason == "0 of 100 challenges solved: bots, not people"
    assert [r.action for r in out.delta.add] == [Action.BLOCK]


@pytest.mark.parametrize(
    ("collateral", "solves"),
    [(0.005, 1), (0.011, 0)],  # 1 of 100 solved is the floor; 1.1% is over 10 x 0.1%
)
def test_challenge_stays_when_people_solve_or_collateral_is_high(
    collateral: float, solves: int
) -> None:
    p, s, rid = _challenging(collateral)
    fb = Feedback(hits={rid: 100}, challenges={rid: 100}, solves={rid: solves})
    assert p.step(1.0, [(signal(0.5), s)], fb, False).events == []


def test_rollback_block_to_challenge_then_removed_and_vetoed() -> None:
    p = Policy()
    s = sig(0.0)
    rid = rule_id(s)
    p.step(0.0, [(signal(), s)], NONE, False)
    # 19 hits all on known people: under min_hits, no verdict yet
    out = p.step(1.0, [(signal(), s)], Feedback(hits={rid: 19}, good_hits={rid: 19}), False)
    assert out.events == []
    # 1 more hit: 19 of 20 = 95% > 3 x 0% + 1%
    out = p.step(2.0, [(signal(), s)], Feedback(hits={rid: 1}), False)
    assert verbs(out) == [("rollback", "challenge")]
    assert out.events[0].reason.startswith("measured collateral 95.0% (19 of 20 hits")
    assert [r.action for r in out.delta.add] == [Action.CHALLENGE]
    # the count starts over at the challenge: 20 hits, 1 a signed-in user (verified)
    out = p.step(3.0, [(signal(), s)], Feedback(hits={rid: 20}, verified_hits={rid: 1}), False)
    assert verbs(out) == [("rollback", "observe")] and out.delta.remove == (rid,)
    assert p.vetoed == {rid: 303.0}
    out = p.step(4.0, [(signal(), s)], NONE, False)  # vetoed: observed, not applied
    assert verbs(out) == [("observe", "block")] and out.delta.add == ()
    out = p.step(303.0, [(signal(), s)], NONE, False)  # the veto's last tick
    assert out.events == [] and out.delta.add == ()
    out = p.step(304.0, [(signal(), s)], NONE, False)  # over
    assert verbs(out) == [("apply", "block")]


def test_measured_collateral_at_the_margin_is_not_rolled_back() -> None:
    p = Policy()
    s = sig(0.0)
    rid = rule_id(s)
    p.step(0.0, [(signal(), s)], NONE, False)
    out = p.step(1.0, [(signal(), s)], Feedback(hits={rid: 100}, good_hits={rid: 1}), False)
    assert out.events == []  # 1% is not over 3 x 0% + 1%


def test_observe_mode_logs_without_rules() -> None:
    p = Policy(PolicySettings(mode=Mode.OBSERVE))
    s = sig(0.0)
    out = p.step(0.0, [(signal(), s)], NONE, False)
    assert verbs(out) == [("observe", "block")] and out.delta.add == ()
    assert p.active == {}


def test_observe_events_are_logged_once_while_the_attack_lasts() -> None:
    p = Policy(PolicySettings(mode=Mode.OBSERVE))
    s = sig(0.0)
    events = []
    for t in range(40):
        events += p.step(float(t), [(signal(), s)], NONE, False).events
    assert [e.time for e in events] == [0.0]
    for t in range(40, 55):  # quiet for hold seconds
        events += p.step(float(t), [], NONE, False).events
    events += p.step(55.0, [(signal(), s)], NONE, False).events
    assert [e.time for e in events] == [0.0, 55.0]


def test_suggest_mode_waits_for_approval() -> None:
    p = Policy(PolicySettings(mode=Mode.SUGGEST))
    s = sig(0.0)
    rid = rule_id(s)
    out = p.step(0.0, [(signal(), s)], NONE, False)
    assert verbs(out) == [("suggest", "block")] and out.delta.add == ()
    assert [a.rule_id for a in p.pending()] == [rid]
    assert p.step(1.0, [(signal(), s)], NONE, False).delta.add == ()
    assert not p.approve("auto-nothing")
    assert p.approve(rid)
    out = p.step(2.0, [(signal(), s)], NONE, False)
    assert verbs(out) == [("approve", "block")]
    assert added(out) == [(rid, "block", 32.0)]
    assert p.pending() == [] and not p.approve(rid)


def test_a_suggestion_nobody_takes_lapses_with_its_attack() -> None:
    p = Policy(PolicySettings(mode=Mode.SUGGEST))
    s = sig(0.0)
    p.step(0.0, [(signal(), s)], NONE, False)
    p.step(14.0, [], NONE, False)
    assert len(p.pending()) == 1
    out = p.step(15.0, [], NONE, False)
    assert p.pending() == [] and out.events == [] and out.delta.remove == ()


def test_a_family_mode_overrides_the_global_one() -> None:
    p = Policy(PolicySettings(family_modes={"scanner": Mode.OBSERVE}))
    a, b = sig(0.0), sig(0.0, fp="0123abcd4567")
    out = p.step(0.0, [(signal(detector="scanner"), a), (signal(), b)], NONE, False)
    assert verbs(out) == [("observe", "block"), ("apply", "block")]
    assert [r.id for r in out.delta.add] == [rule_id(b)]
    assert p.mode_of("scanner") is Mode.OBSERVE and p.mode_of("http_flood") is Mode.ENFORCE


def test_max_rules() -> None:
    p = Policy(PolicySettings(max_rules=1))
    a, b = sig(0.0), sig(0.0, fp="0123abcd4567")
    out = p.step(0.0, [(signal(), a), (signal(), b)], NONE, False)
    assert verbs(out) == [("apply", "block"), ("observe", "block")]
    assert out.events[1].reason == "rule table full"
    assert list(p.active) == [rule_id(a)]


def test_never_a_rule_without_conditions() -> None:
    p = Policy()
    empty = Signature((), 0.0, 1.0, (), 0, 0, 400, 1000, True)
    out = p.step(0.0, [(signal(), empty)], NONE, True)  # stressed: would challenge
    assert verbs(out) == [("observe", "challenge")] and out.delta.add == ()
    assert p.active == {}


def test_every_rule_is_for_anonymous_clients_and_expires() -> None:
    p = Policy()
    made: list[Rule] = []
    sigs = [sig(0.0), sig(0.01, fp="1"), sig(0.1, fp="2"), sig(0.5, separable=False)]
    for t in range(60):
        found = [(signal(0.5 if i % 2 else 1.0), s) for i, s in enumerate(sigs)] if t < 20 else []
        out = p.step(float(t), found, NONE, True)
        made += out.delta.add
    assert {r.action for r in made} == {Action.BLOCK, Action.CHALLENGE, Action.THROTTLE}
    for r in made:
        assert r.match.classes == frozenset({ClientClass.ANONYMOUS}), r
        assert r.expires is not None and r.origin == "auto" and r.priority == 150, r
        assert r.id.startswith("auto-") and r.reason.startswith("auto: "), r


def test_a_rollback_event_carries_the_measured_collateral() -> None:
    p = Policy()
    s = sig(0.0)
    rid = rule_id(s)
    p.step(0.0, [(signal(), s)], NONE, False)
    out = p.step(1.0, [(signal(), s)], Feedback(hits={rid: 20}, good_hits={rid: 19}), False)
    assert verbs(out) == [("rollback", "challenge")]
    assert out.events[0].measured == 0.95
