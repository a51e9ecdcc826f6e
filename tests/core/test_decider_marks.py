"""Marks as transcripts: (time, facts) in, (action, rule id, retry, mark) out, in time order.

A marking rule never decides. The first mark that matches annotates the ALLOW that
results when nothing else fires; a refusal needs no mark, and an allow rule that fires
answers with its own verdict, unmarked.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from seawall.core.decider import Decider
from seawall.core.facts import RequestFacts
from seawall.core.rules import LimitKey, Match, Rule, Ruleset, RulesetDelta
from seawall.core.verdict import Action, Verdict
from seawall.runtime.clock import ManualClock

from corefacts import make_facts

ALICE_H = "a1" * 16  # keyed hashes, as the edge puts them in the facts
BOB_H = "b2" * 16
LOGIN = {"route": "login", "method": "POST", "path": "/login"}

ALICE = make_facts(client="192.0.2.10", account=ALICE_H, **LOGIN)
BOB = make_facts(client="192.0.2.10", account=BOB_H, **LOGIN)
NOBODY = make_facts(client="192.0.2.10", **LOGIN)  # no account found in the body
ELSEWHERE = make_facts(client="192.0.2.10", path="/feed", route="feed")

Said = tuple[str, str, float, str]
OK: Said = ("allow", "", 0.0, "")


def said(v: Verdict) -> Said:
    return (v.action.label, v.rule_id, v.retry_after, v.mark)


def transcript(d: Decider, steps: list[tuple[float, RequestFacts]]) -> list[Said]:
    clock = ManualClock()
    out = []
    for t, facts in steps:
        clock.set(t)
        out.append(said(d.decide(facts, clock.monotonic())))
    return out


def decider(*rules: Rule) -> Decider:
    return Decider(Ruleset(rules=rules), max_keys=100)


def step_up(rid: str = "su", *accounts: str) -> Rule:
    return Rule(
        rid, Action.ALLOW, Match(accounts=frozenset(accounts or (ALICE_H,))), mark="step-up"
    )


def test_a_mark_alone_allows_with_the_mark() -> None:
    d = decider(step_up())
    assert transcript(d, [(0.0, ALICE), (0.1, ALICE)]) == [("allow", "su", 0.0, "step-up")] * 2


def test_a_mark_follows_the_account_and_only_it() -> None:
    d = decider(step_up())
    assert transcript(d, [(0.0, ALICE), (0.0, BOB), (0.0, NOBODY), (0.0, ELSEWHERE)]) == [
        ("allow", "su", 0.0, "step-up"),
        OK,
        OK,
        OK,
    ]


def test_accounts_match_is_an_or_within_the_field_and_an_and_with_others() -> None:
    rule = Rule(
        "pair",
        Action.BLOCK,
        Match(accounts=frozenset({ALICE_H, BOB_H}), routes=frozenset({"login"})),
    )
    d = decider(rule)
    alice_elsewhere = make_facts(account=ALICE_H, route="reset")
    assert transcript(d, [(0.0, ALICE), (0.0, BOB), (0.0, NOBODY), (0.0, alice_elsewhere)]) == [
        ("block", "pair", 0.0, ""),
        ("block", "pair", 0.0, ""),
        OK,
        OK,
    ]


def test_a_throttle_above_its_rate_refuses_a_marked_request_without_the_mark() -> None:
    d = decider(
        step_up(),
        Rule("slow", Action.THROTTLE, Match(routes=frozenset({"login"})), rate=1.0, burst=1),
    )
    assert transcript(d, [(0.0, ALICE), (0.0, ALICE), (1.0, ALICE)]) == [
        ("allow", "su", 0.0, "step-up"),  # within the rate: the mark stands
        ("throttle", "slow", 1.0, ""),  # above it: refused, no mark needed
        ("allow", "su", 0.0, "step-up"),
    ]


def test_a_refusal_before_the_mark_wins_too() -> None:
    d = decider(
        Rule("deny", Action.BLOCK, Match(cidrs=("192.0.2.0/24",)), priority=1),
        step_up(),
    )
    assert transcript(d, [(0.0, ALICE)]) == [("block", "deny", 0.0, "")]


def test_an_allowlist_that_fires_answers_with_its_own_verdict() -> None:
    office = Rule("office", Action.ALLOW, Match(cidrs=("192.0.2.0/24",)))
    # the allowlist after the mark: it still ends evaluation, and carries no mark
    assert transcript(decider(step_up(), office), [(0.0, ALICE)]) == [("allow", "office", 0.0, "")]
    # and before it: the mark is never reached
    assert transcript(decider(office, step_up()), [(0.0, ALICE)]) == [("allow", "office", 0.0, "")]


def test_an_allowance_over_its_rate_lets_the_mark_through() -> None:
    allowance = Rule(
        "allowance", Action.ALLOW, Match(routes=frozenset({"login"})), rate=1.0, burst=1
    )
    d = decider(step_up(), allowance)
    assert transcript(d, [(0.0, ALICE), (0.0, ALICE)]) == [
        ("allow", "allowance", 0.0, ""),  # within the allowance: its own verdict
        ("allow", "su", 0.0, "step-up"),  # above it, nothing fires: the mark
    ]


def test_the_first_of_two_marks_annotates() -> None:
    uniform = Rule(
        "uni", Action.ALLOW, Match(routes=frozenset({"login"})), mark="uniform", priority=5
    )
    d = decider(uniform, step_up())
    assert transcript(d, [(0.0, ALICE), (0.0, BOB)]) == [
        ("allow", "uni", 0.0, "uniform"),
        ("allow", "uni", 0.0, "uniform"),
    ]
    later = replace(uniform, priority=500)  # now after the step-up mark
    assert transcript(decider(step_up(), later), [(0.0, ALICE), (0.0, BOB)]) == [
        ("allow", "su", 0.0, "step-up"),
        ("allow", "uni", 0.0, "uniform"),  # Bob has no step-up: the next mark annotates
    ]


def test_an_expired_mark_no_longer_annotates() -> None:
    rule = Rule(
        "su", Action.ALLOW, Match(accounts=frozenset({ALICE_H})), mark="step-up", expires=5.0
    )
    d = decider(rule)
    assert transcript(d, [(4.9, ALICE), (5.0, ALICE)]) == [("allow", "su", 0.0, "step-up"), OK]


def test_a_mark_is_taken_away_with_its_rule() -> None:
    d = decider(step_up())
    assert transcript(d, [(0.0, ALICE)]) == [("allow", "su", 0.0, "step-up")]
    d.apply(RulesetDelta(remove=("su",)))
    assert transcript(d, [(1.0, ALICE)]) == [OK]


def test_a_fingerprint_limit_counts_per_header_fingerprint() -> None:
    d = decider(Rule("fp", Action.THROTTLE, Match(), rate=1.0, burst=2, key=LimitKey.FINGERPRINT))
    kit = {"header_fp": "bot-kit-fp"}
    first = make_facts(client="198.51.100.1", **kit)
    second = make_facts(client="203.0.113.2", **kit)  # another address, the same client kit
    browser = make_facts(client="198.51.100.1", header_fp="browser-fp")
    assert transcript(d, [(0.0, first), (0.0, second), (0.0, first), (0.0, browser)]) == [
        OK,
        OK,
        ("throttle", "fp", 1.0, ""),  # the kit's third request at once: over, whatever address
        OK,  # the same address with another fingerprint is counted apart
    ]


@pytest.mark.parametrize("action", [Action.BLOCK, Action.THROTTLE, Action.CHALLENGE, Action.CACHE])
def test_a_mark_on_anything_but_an_allow_rule_raises(action: Action) -> None:
    with pytest.raises(ValueError, match="allow"):
        Rule("bad", action, rate=1.0, mark="step-up")


def test_an_unknown_mark_raises() -> None:
    with pytest.raises(ValueError, match="mark"):
        Rule("bad", Action.ALLOW, mark="shout")
