"""Rules: match semantics and how rulesets change."""

from __future__ import annotations

from typing import Any

import pytest

from seawall.core.errors import ConfigError
from seawall.core.facts import ClientClass, RequestFacts
from seawall.core.rules import CompiledMatch, Match, Rule, Ruleset, RulesetDelta
from seawall.core.verdict import Action

from corefacts import make_facts


def matches(m: Match, *facts: RequestFacts) -> list[bool]:
    compiled = CompiledMatch(m)
    return [compiled(f) for f in facts]


# ---------------------------------------------------------------- Match


def test_empty_match_matches_everything() -> None:
    assert matches(Match(), make_facts(), make_facts(client="2001:db8::1", method="POST")) == [
        True,
        True,
    ]


def test_fields_are_and_values_within_a_field_are_or() -> None:
    m = Match(methods=frozenset({"POST", "PUT"}), paths=("/login", "/signup"))
    assert matches(
        m,
        make_facts(method="POST", path="/login"),
        make_facts(method="PUT", path="/signup/step2"),
        make_facts(method="GET", path="/login"),  # path yes, method no
        make_facts(method="POST", path="/home"),  # method yes, path no
    ) == [True, True, False, False]


@pytest.mark.parametrize(
    ("field", "value", "hit", "miss"),
    [
        (
            "cidrs",
            ("192.0.2.0/24", "2001:db8::/32"),
            {"client": "2001:db8::5"},
            {"client": "198.51.100.1"},
        ),
        ("methods", frozenset({"DELETE"}), {"method": "DELETE"}, {"method": "GET"}),
        (
            "hosts",
            frozenset({"API.example.org"}),
            {"host": "api.example.org"},
            {"host": "example.org"},
        ),
        ("routes", frozenset({"profile"}), {"route": "profile"}, {"route": "other"}),
        (
            "targets",
            frozenset({"/users/cyxymu"}),
            {"target": "/users/cyxymu"},
            {"target": "/users/bob"},
        ),
        (
            "classes",
            frozenset({ClientClass.USER}),
            {"klass": ClientClass.USER},
            {"klass": ClientClass.ANONYMOUS},
        ),
        (
            "header_fps",
            frozenset({"aaaaaaaaaaaa"}),
            {"header_fp": "aaaaaaaaaaaa"},
            {"header_fp": "bbbbbbbbbbbb"},
        ),
        ("countries", frozenset({"NL"}), {"country": "NL"}, {"country": "DE"}),
        ("asns", frozenset({64500}), {"asn": 64500}, {"asn": 64501}),
    ],
)
def test_each_field_narrows_the_match(
    field: str, value: Any, hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    assert matches(Match(**{field: value}), make_facts(**hit), make_facts(**miss)) == [True, False]


def test_client_cidrs_match_the_believed_client_not_the_peer() -> None:
    m = Match(cidrs=("192.0.2.0/24",))
    assert matches(
        m,
        make_facts(client="192.0.2.7", peer="10.0.0.1"),
        make_facts(client="10.0.0.1", peer="192.0.2.7"),
    ) == [True, False]


def test_paths_are_prefixes_and_a_trailing_dollar_means_exact() -> None:
    m = Match(paths=("/admin", "/login$"))
    assert matches(
        m,
        make_facts(path="/admin"),
        make_facts(path="/admin/users"),
        make_facts(path="/administrator"),  # a prefix is a string prefix, not a segment
        make_facts(path="/login"),
        make_facts(path="/login/"),
        make_facts(path="/login$"),
        make_facts(path="/"),
    ) == [True, True, True, True, False, False, False]


def test_user_agent_is_a_case_insensitive_substring() -> None:
    m = Match(user_agents=("python-requests", "CURL/"))
    assert matches(
        m,
        make_facts(user_agent="python-requests/2.31.0"),
        make_facts(user_agent="Python-Requests/2.31.0"),
        make_facts(user_agent="curl/8.5.0"),
        make_facts(user_agent="Mozilla/5.0 Firefox/128.0"),
        make_facts(user_agent=""),
    ) == [True, True, True, False, False]


def test_a_bad_cidr_in_a_match_names_its_key() -> None:
    with pytest.raises(ConfigError) as err:
        CompiledMatch(Match(cidrs=("192.0.2.0/24", "nope")), "rules[x].match")
    assert err.value.key == "rules[x].match.cidrs[1]"


# ---------------------------------------------------------------- Ruleset


def rule(rule_id: str, priority: int = 100, action: Action = Action.BLOCK, **kw: object) -> Rule:
    return Rule(rule_id, action, priority=priority, **kw)  # type: ignore[arg-type]


def ids(rs: Ruleset) -> list[str]:
    return [r.id for r in rs.rules]


def test_apply_adds_in_priority_order_and_ties_keep_insertion_order() -> None:
    rs = Ruleset().apply(
        RulesetDelta(add=(rule("b"), rule("late", 200), rule("first", 10), rule("c")))
    )
    assert (rs.version, ids(rs)) == (1, ["first", "b", "c", "late"])
    rs = rs.apply(RulesetDelta(add=(rule("d"), rule("early", 10))))
    assert (rs.version, ids(rs)) == (2, ["first", "early", "b", "c", "d", "late"])


def test_apply_replaces_same_ids_and_removes() -> None:
    rs = Ruleset().apply(RulesetDelta(add=(rule("a"), rule("b"), rule("c"))))
    rs = rs.apply(RulesetDelta(add=(rule("b", reason="tightened"),), remove=("c", "missing")))
    assert ids(rs) == ["a", "b"]
    assert [r.reason for r in rs.rules] == ["", "tightened"]
    assert rs.version == 2


def test_a_replaced_rule_keeps_its_place() -> None:
    """An allow rule re-posted to extend its ttl must still run before the block after it."""
    rs = Ruleset().apply(RulesetDelta(add=(rule("allow", action=Action.ALLOW), rule("block"))))
    rs = rs.apply(RulesetDelta(add=(rule("allow", action=Action.ALLOW, reason="extended"),)))
    assert ids(rs) == ["allow", "block"]
    assert rs.rules[0].reason == "extended"


def test_duplicate_ids_in_one_delta_keep_the_last() -> None:
    rs = Ruleset().apply(RulesetDelta(add=(rule("a"), rule("a", reason="second"))))
    assert ids(rs) == ["a"] and rs.rules[0].reason == "second"


def test_a_full_resync_takes_the_new_order() -> None:
    rs = Ruleset().apply(RulesetDelta(add=(rule("a"), rule("b"))))
    rs = rs.apply(RulesetDelta(add=(rule("b"), rule("a")), remove=("a", "b")))
    assert ids(rs) == ["b", "a"]


def test_adding_and_removing_one_id_in_one_delta_keeps_the_addition() -> None:
    rs = Ruleset().apply(RulesetDelta(add=(rule("a"),)))
    rs = rs.apply(RulesetDelta(add=(rule("a", reason="new"),), remove=("a",)))
    assert [(r.id, r.reason) for r in rs.rules] == [("a", "new")]


def test_apply_never_changes_the_old_ruleset() -> None:
    old = Ruleset().apply(RulesetDelta(add=(rule("a"),)))
    new = old.apply(RulesetDelta(remove=("a",)))
    assert (ids(old), ids(new)) == (["a"], [])
