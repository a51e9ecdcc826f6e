"""What a campaign asks of the edge, checked through the real Decider."""

from __future__ import annotations

import dataclasses

import pytest

from seawall.accounts.events import Campaign
from seawall.accounts.responses import ResponseSettings, rules_for
from seawall.core.decider import Decider
from seawall.core.facts import ClientClass
from seawall.core.rules import LimitKey, RulesetDelta
from seawall.core.verdict import Action

from corefacts import make_facts as facts

S = ResponseSettings(
    login_routes=frozenset({"login"}),
    recovery_routes=frozenset({"lookup"}),
    auth_routes=frozenset({"login", "lookup"}),
    step_up="header",
    ttl=600.0,
)


def campaign(**kw: object) -> Campaign:
    base: dict[str, object] = {
        "id": "acct-1",
        "kind": "targeted",
        "start": 0.0,
        "last": 100.0,
        "confidence": 0.9,
        "accounts": ("h1", "h2"),
        "detectors": ("distributed_guessing",),
        "sources": 2,
        "prefixes": 2,
        "asns": 1,
        "top_sources": ("203.0.113.9", "198.51.100.7"),
        "fingerprints": ("fpbot",),
    }
    base.update(kw)
    return Campaign(**base)  # type: ignore[arg-type]


def decider_for(c: Campaign, s: ResponseSettings = S) -> Decider:
    d = Decider()
    d.apply(RulesetDelta(add=rules_for(c, s, now=100.0, mono=1000.0)))
    return d


def test_targeted_accounts_are_stepped_up_for_anonymous_logins_only() -> None:
    d = decider_for(campaign())
    v = d.decide(facts(route="login", account="h1", client="192.0.2.1"), 1000.0)
    assert (v.action, v.mark) == (Action.ALLOW, "step-up")
    assert d.decide(facts(route="login", account="other", client="192.0.2.1"), 1000.0).mark == ""
    signed_in = facts(route="login", account="h1", client="192.0.2.1", klass=ClientClass.USER)
    assert d.decide(signed_in, 1000.0).mark == ""


def test_challenge_mode_challenges_instead_and_never_blocks_the_owner_outright() -> None:
    s = dataclasses.replace(S, step_up="challenge")
    d = decider_for(campaign(), s)
    v = d.decide(facts(route="login", account="h2", client="192.0.2.1"), 1000.0)
    assert v.action is Action.CHALLENGE
    assert all(r.action is not Action.BLOCK for r in d.ruleset.rules)


def test_attacking_addresses_are_throttled_on_auth_routes_not_elsewhere() -> None:
    d = decider_for(campaign())
    bot = "203.0.113.9"
    verdicts = [d.decide(facts(route="login", client=bot), 1000.0 + i * 0.01) for i in range(6)]
    assert [v.action for v in verdicts].count(Action.THROTTLE) == 6 - S.throttle_burst
    assert d.decide(facts(route="home", client=bot), 1000.0).action is Action.ALLOW


def test_harvesting_gives_uniform_answers_and_throttles_lookups_per_fingerprint() -> None:
    # fingerprints merely seen among the attackers may be any browser's: never throttled
    seen_only = {r.id for r in rules_for(campaign(harvesting=True), S, 100.0, 1000.0)}
    assert "acct-1-lookups-fp" not in seen_only
    c = campaign(harvesting=True, flagged_fingerprints=("fpbot",))
    rules = {r.id: r for r in rules_for(c, S, 100.0, 1000.0)}
    assert rules["acct-1-lookups-fp"].key is LimitKey.FINGERPRINT
    assert rules["acct-1-lookups-fp"].match.header_fps == {"fpbot"}
    d = decider_for(c)
    v = d.decide(facts(route="lookup", client="192.0.2.50"), 1000.0)
    assert (v.action, v.mark) == (Action.ALLOW, "uniform")
    # a signed-in user asking also gets the uniform answer, and is never throttled
    user = facts(route="lookup", client="192.0.2.51", klass=ClientClass.USER)
    assert [d.decide(user, 1000.0).action for _ in range(20)] == [Action.ALLOW] * 20


@pytest.mark.parametrize(
    "change", [{"decision": "dismissed"}, {"state": "closed"}, {"last": 100.0 - 601.0}]
)
def test_no_rules_for_dismissed_closed_or_long_quiet_campaigns(change: dict[str, object]) -> None:
    assert rules_for(campaign(**change), S, 100.0, 1000.0) == ()


def test_rules_expire_ttl_after_the_last_activity() -> None:
    rules = rules_for(campaign(last=40.0), S, now=100.0, mono=1000.0)
    assert {r.expires for r in rules} == {1000.0 + 600.0 - 60.0}
    assert {r.origin for r in rules} == {"accounts"}
