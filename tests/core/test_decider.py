"""The Decider as transcripts: (time, facts) in, verdicts out, in time order.

A verdict is written `(action, rule_id, retry_after)`; the default allow has rule id "".
"""

from __future__ import annotations

import pytest

from seawall.core.decider import Decider
from seawall.core.facts import ClientClass, RequestFacts
from seawall.core.rules import LimitKey, Match, Rule, Ruleset, RulesetDelta
from seawall.core.verdict import Action, Verdict
from seawall.runtime.clock import ManualClock

from corefacts import make_facts

ALICE = make_facts(client="192.0.2.10")
BOB = make_facts(client="198.51.100.20")
OFFICE = make_facts(client="203.0.113.7")
APP = make_facts(client="192.0.2.99", klass=ClientClass.API_APP, principal="app-42")

Step = tuple[float, RequestFacts]
Said = tuple[str, str, float]


def said(v: Verdict) -> Said:
    return (v.action.label, v.rule_id, v.retry_after)


def transcript(d: Decider, steps: list[Step]) -> list[Said]:
    clock = ManualClock()
    out = []
    for t, facts in steps:
        clock.set(t)
        out.append(said(d.decide(facts, clock.monotonic())))
    return out


def decider(*rules: Rule, max_keys: int = 1000) -> Decider:
    return Decider(Ruleset(rules=rules), max_keys=max_keys)


OK: Said = ("allow", "", 0.0)


def test_no_rules_allows_everything() -> None:
    assert transcript(decider(), [(0.0, ALICE), (0.0, BOB)]) == [OK, OK]


def test_allow_rule_first_protects_from_a_later_block() -> None:
    d = decider(
        Rule("office", Action.ALLOW, Match(cidrs=("203.0.113.0/24",))),
        Rule("no-admin", Action.BLOCK, Match(paths=("/admin",))),
    )
    admin = {"path": "/admin/users"}
    assert transcript(
        d,
        [
            (0.0, make_facts(client="203.0.113.7", **admin)),
            (0.0, make_facts(client="192.0.2.10", **admin)),
            (0.0, make_facts(client="192.0.2.10", path="/home")),
        ],
    ) == [("allow", "office", 0.0), ("block", "no-admin", 0.0), OK]


def test_the_same_allow_rule_placed_after_the_block_protects_nothing() -> None:
    d = decider(
        Rule("no-admin", Action.BLOCK, Match(paths=("/admin",))),
        Rule("office", Action.ALLOW, Match(cidrs=("203.0.113.0/24",))),
    )
    assert transcript(d, [(0.0, make_facts(client="203.0.113.7", path="/admin"))]) == [
        ("block", "no-admin", 0.0)
    ]


def test_priority_beats_insertion_order() -> None:
    d = decider(
        Rule("no-admin", Action.BLOCK, Match(paths=("/admin",))),
        Rule("office", Action.ALLOW, Match(cidrs=("203.0.113.0/24",)), priority=10),
    )
    assert transcript(d, [(0.0, make_facts(client="203.0.113.7", path="/admin"))]) == [
        ("allow", "office", 0.0)
    ]


def test_rate_rule_fires_only_above_the_rate_with_retry_after() -> None:
    d = decider(Rule("flood", Action.THROTTLE, rate=2.0, burst=2))  # 2/s, 2 at once
    assert transcript(
        d,
        [
            (0.0, ALICE),
            (0.0, ALICE),
            (0.0, ALICE),  # above the rate
            (0.0, BOB),  # per address: Bob has his own allowance
            (0.25, ALICE),
            (0.5, ALICE),  # a slot has come
            (0.5, ALICE),
            (10.0, ALICE),
            (10.0, ALICE),
            (10.0, ALICE),
        ],
    ) == [
        OK,
        OK,
        ("throttle", "flood", 0.5),
        OK,
        ("throttle", "flood", 0.25),
        OK,
        ("throttle", "flood", 0.5),
        OK,
        OK,
        ("throttle", "flood", 0.5),
    ]


def test_a_rate_rule_that_does_not_fire_lets_later_rules_decide() -> None:
    d = decider(
        Rule("flood", Action.BLOCK, rate=1.0, burst=1),
        Rule("no-admin", Action.BLOCK, Match(paths=("/admin",))),
    )
    admin = make_facts(path="/admin")
    assert transcript(d, [(0.0, admin), (0.0, admin)]) == [
        ("block", "no-admin", 0.0),  # within the rate: the next rule still applies
        ("block", "flood", 1.0),
    ]


def test_allow_with_rate_is_an_allowance_and_above_it_the_rest_applies() -> None:
    d = decider(
        Rule(
            "apps",
            Action.ALLOW,
            Match(classes=frozenset({ClientClass.API_APP})),
            rate=1.0,
            burst=2,
            key=LimitKey.TOKEN,
        ),
        Rule("everyone", Action.THROTTLE, rate=1.0, burst=1),
    )
    assert transcript(
        d,
        [
            (0.0, APP),
            (0.0, APP),  # the allowance: 2 at once, then 1/s
            (0.0, APP),  # above it, the general limit takes over
            (0.0, APP),
            (0.5, APP),
            (1.0, APP),  # the allowance has a slot again
            (1.0, ALICE),
            (1.0, ALICE),
        ],
    ) == [
        ("allow", "apps", 0.0),
        ("allow", "apps", 0.0),
        OK,
        ("throttle", "everyone", 1.0),
        ("throttle", "everyone", 0.5),
        ("allow", "apps", 0.0),
        OK,
        ("throttle", "everyone", 1.0),
    ]


def test_expired_rules_are_skipped_and_reported() -> None:
    d = decider(
        Rule("temp", Action.BLOCK, Match(paths=("/login",)), expires=10.0),
        Rule("forever", Action.BLOCK, Match(paths=("/wp-admin",))),
    )
    login = make_facts(path="/login")
    assert transcript(d, [(5.0, login), (9.5, login), (10.0, login), (11.0, login)]) == [
        ("block", "temp", 0.0),
        ("block", "temp", 0.0),
        OK,  # expiry is inclusive: at 10.0 the rule is gone
        OK,
    ]
    assert d.expired(9.5) == RulesetDelta()
    delta = d.expired(10.0)
    assert delta == RulesetDelta(remove=("temp",))
    d.apply(delta)
    assert [r.id for r in d.ruleset.rules] == ["forever"]
    assert d.expired(1e9) == RulesetDelta()


def test_verdict_status_reason_and_close() -> None:
    d = decider(
        Rule("legal", Action.BLOCK, Match(paths=("/banned",)), status=451, reason="court order"),
        Rule("silent", Action.BLOCK, Match(paths=("/xmlrpc.php",)), close=True),
        Rule("pow", Action.CHALLENGE, Match(paths=("/signup",))),
        Rule("slow", Action.THROTTLE, Match(paths=("/search",)), rate=1.0),
    )
    verdicts = [
        d.decide(make_facts(path=p), 0.0)
        for p in ("/banned", "/xmlrpc.php", "/signup", "/search", "/search")
    ]
    assert [(v.action, v.reason, v.status, v.close) for v in verdicts] == [
        (Action.BLOCK, "court order", 451, False),
        (Action.BLOCK, "silent", 403, True),
        (Action.CHALLENGE, "pow", 403, False),
        (Action.ALLOW, "default", 200, False),
        (Action.THROTTLE, "slow", 429, False),
    ]


# ---------------------------------------------------------------- apply and limiter state

FLOOD = Rule("flood", Action.THROTTLE, rate=1.0, burst=1)


def test_apply_keeps_limiter_state_when_the_limit_is_unchanged() -> None:
    d = decider(FLOOD)
    assert transcript(d, [(0.0, ALICE)]) == [OK]
    # a new reason, match or priority is not a new limit: Alice still owes her interval
    d.apply(RulesetDelta(add=(Rule("flood", Action.THROTTLE, rate=1.0, reason="flood v2"),)))
    d.apply(RulesetDelta(add=(Rule("other", Action.BLOCK, Match(paths=("/x",))),)))
    assert transcript(d, [(0.5, ALICE)]) == [("throttle", "flood", 0.5)]
    assert d.tracked_keys() == 1


@pytest.mark.parametrize(
    "changed",
    [
        Rule("flood", Action.THROTTLE, rate=2.0, burst=1),
        Rule("flood", Action.THROTTLE, rate=1.0, burst=2),
        Rule("flood", Action.THROTTLE, rate=1.0, burst=1, key=LimitKey.PREFIX),
    ],
    ids=["rate", "burst", "key"],
)
def test_apply_resets_limiter_state_when_the_limit_changes(changed: Rule) -> None:
    d = decider(FLOOD)
    assert transcript(d, [(0.0, ALICE), (0.0, ALICE)]) == [OK, ("throttle", "flood", 1.0)]
    d.apply(RulesetDelta(add=(changed,)))
    assert d.tracked_keys() == 0
    assert transcript(d, [(0.0, ALICE)]) == [OK]


def test_removing_a_rate_rule_drops_its_state() -> None:
    d = decider(FLOOD)
    transcript(d, [(0.0, ALICE), (0.0, BOB)])
    assert d.tracked_keys() == 2
    d.apply(RulesetDelta(remove=("flood",)))
    assert d.tracked_keys() == 0
    d.apply(RulesetDelta(add=(FLOOD,)))
    assert transcript(d, [(0.0, ALICE)]) == [OK]


def test_max_keys_bounds_every_limit() -> None:
    d = decider(FLOOD, max_keys=3)
    transcript(d, [(0.0, make_facts(client=f"192.0.2.{i}")) for i in range(10)])
    assert d.tracked_keys() == 3


# ---------------------------------------------------------------- limit keys

SAME_KEY: dict[LimitKey, tuple[RequestFacts, RequestFacts, RequestFacts]] = {
    # (first, shares its bucket, has its own bucket)
    LimitKey.ADDRESS: (
        make_facts(client="192.0.2.1", path="/a"),
        make_facts(client="192.0.2.1", path="/b"),
        make_facts(client="192.0.2.2", path="/a"),
    ),
    LimitKey.PREFIX: (
        make_facts(client="192.0.2.1"),
        make_facts(client="192.0.2.254"),
        make_facts(client="192.0.3.1"),
    ),
    LimitKey.TOKEN: (
        make_facts(client="192.0.2.1", principal="app-1"),
        make_facts(client="198.51.100.1", principal="app-1"),
        make_facts(client="192.0.2.1", principal="app-2"),
    ),
    LimitKey.ROUTE: (
        make_facts(client="192.0.2.1", route="profile", target="/users/a"),
        make_facts(client="192.0.2.2", route="profile", target="/users/b"),
        make_facts(client="192.0.2.1", route="search", target="/search"),
    ),
    LimitKey.TARGET: (
        make_facts(client="192.0.2.1", route="profile", target="/users/cyxymu"),
        make_facts(client="198.51.100.1", route="profile", target="/users/cyxymu"),
        make_facts(client="192.0.2.1", route="profile", target="/users/bob"),
    ),
}


@pytest.mark.parametrize("key", list(SAME_KEY), ids=lambda k: k.value)
def test_limit_keys(key: LimitKey) -> None:
    first, same, other = SAME_KEY[key]
    d = decider(Rule("limit", Action.THROTTLE, rate=1.0, key=key))
    assert transcript(d, [(0.0, first), (0.0, same), (0.0, other)]) == [
        OK,
        ("throttle", "limit", 1.0),
        OK,
    ]


def test_token_key_falls_back_to_the_address_without_a_principal() -> None:
    d = decider(Rule("limit", Action.THROTTLE, rate=1.0, key=LimitKey.TOKEN))
    assert transcript(
        d,
        [
            (0.0, make_facts(client="192.0.2.1")),
            (0.0, make_facts(client="192.0.2.2")),
            (0.0, make_facts(client="192.0.2.1", path="/other")),
        ],
    ) == [OK, OK, ("throttle", "limit", 1.0)]


def test_global_key_is_one_bucket_for_everyone() -> None:
    d = decider(
        Rule(
            "limit",
            Action.THROTTLE,
            Match(paths=("/search",)),
            rate=1.0,
            burst=2,
            key=LimitKey.GLOBAL,
        )
    )
    search = {"path": "/search"}
    assert transcript(
        d,
        [
            (0.0, make_facts(client="192.0.2.1", **search)),
            (0.0, make_facts(client="2001:db8::1", **search)),
            (0.0, make_facts(client="198.51.100.1", **search)),
            (0.0, make_facts(client="198.51.100.1", path="/home")),  # not matched, not counted
        ],
    ) == [OK, OK, ("throttle", "limit", 1.0), OK]
    assert d.tracked_keys() == 1
