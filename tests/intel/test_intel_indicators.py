"""Indicators: normalised, bounded, de-duplicated; rules for anonymous clients only."""

from __future__ import annotations

import re

import pytest
from intelcases import NOW, START, TTL, ind

from seawall.core.decider import Decider
from seawall.core.facts import ClientClass
from seawall.core.rules import CompiledMatch, LimitKey, Ruleset
from seawall.core.verdict import Action
from seawall.intel.indicators import (
    Bounds,
    Collector,
    RuleShape,
    clean_text,
    collapse,
    slug,
    to_rules,
)

from corefacts import make_facts

FIELDS = {"valid_from": START, "valid_until": NOW + TTL, "confidence": 60, "source": "t"}


@pytest.mark.parametrize(
    ("given", "kind", "value"),
    [
        ("45.10.20.7", "ipv4", "45.10.20.7"),
        (" 45.10.20.7/32 ", "ipv4", "45.10.20.7"),
        ("45.10.20.7/24", "cidr4", "45.10.20.0/24"),  # host bits dropped
        ("2A02:1234:5678::1", "ipv6", "2a02:1234:5678::1"),
        ("2a02:1234:5678:9::/48", "cidr6", "2a02:1234:5678::/48"),
        ("::ffff:45.10.20.7", "ipv4", "45.10.20.7"),  # IPv4-mapped: the IPv4 address
    ],
)
def test_values_are_normalised(given: str, kind: str, value: str) -> None:
    c = Collector(Bounds())
    assert c.add(given, "x", **FIELDS)
    (found,) = c.result().indicators
    assert (found.kind, found.value) == (kind, value)


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("10.1.2.3", "special"),
        ("192.168.0.0/16", "special"),
        ("127.0.0.1", "special"),
        ("169.254.1.1", "special"),
        ("224.0.0.5", "special"),
        ("240.0.0.1", "special"),
        ("100.64.1.1", "special"),
        ("203.0.113.9", "special"),  # documentation
        ("::1", "special"),
        ("fe80::1", "special"),
        ("fc00::1", "special"),
        ("0.0.0.0/0", "too_wide"),  # global, by ipaddress's reckoning
        ("45.0.0.0/8", "too_wide"),
        ("2a00::/12", "too_wide"),
        ("45.10.20.300", "not_an_address"),
        ("example.org", "not_an_address"),
        ("1" * 100, "not_an_address"),
    ],
)
def test_what_would_hurt_bystanders_is_refused(given: str, reason: str) -> None:
    c = Collector(Bounds())
    assert not c.add(given, "f:1", **FIELDS)
    assert c.result().skipped == {reason: 1}
    assert c.result().problems[0].startswith("f:1: ")


def test_a_refusal_says_why() -> None:
    c = Collector(Bounds())
    c.add("45.0.0.0/8", "f:1", **FIELDS)
    c.add("192.168.1.1", "f:2", **FIELDS)
    assert c.result().problems == (
        "f:1: 45.0.0.0/8 is wider than /16 (IPv4) or /32 (IPv6)",
        "f:2: 192.168.1.1/32 is private, loopback, reserved or multicast",
    )


def test_special_networks_and_wide_ones_when_the_operator_says_so() -> None:
    c = Collector(Bounds(allow_special=True, min_prefix_v4=8))
    assert c.add("10.1.2.3", "x", **FIELDS) and c.add("45.0.0.0/8", "x", **FIELDS)


def test_the_cap_counts_what_it_drops_and_duplicates_keep_the_surer() -> None:
    c = Collector(Bounds(max_indicators=2))
    assert c.add("45.1.1.1", "x", **FIELDS)
    assert c.add("45.1.1.2", "x", **FIELDS)
    assert not c.add("45.1.1.3", "x", **FIELDS)
    assert c.add("45.1.1.1", "x", **{**FIELDS, "confidence": 90})  # known value: no new slot
    assert not c.add("45.1.1.2", "x", **{**FIELDS, "confidence": 10})
    r = c.result()
    assert [(i.value, i.confidence) for i in r.indicators] == [("45.1.1.1", 90), ("45.1.1.2", 60)]
    assert r.skipped == {"over_cap": 1, "duplicate": 2}


def test_confidence_is_clamped_and_times_are_whole_seconds() -> None:
    c = Collector(Bounds())
    c.add("45.1.1.1", "x", **{**FIELDS, "confidence": 300, "valid_until": NOW + 0.9})
    (i,) = c.result().indicators
    assert (i.confidence, i.valid_until) == (100, NOW)


def test_problems_are_bounded_but_every_skip_is_counted() -> None:
    c = Collector(Bounds(), max_problems=3)
    for n in range(10):
        c.add(f"bad{n}", f"f:{n}", **FIELDS)
    assert len(c.result().problems) == 3 and c.result().skipped == {"not_an_address": 10}


def test_collapse_drops_what_another_covers() -> None:
    kept, dropped = collapse(
        [
            ind("45.10.20.7"),
            ind("45.10.0.0/16"),
            ind("45.10.20.0/24"),
            ind("45.11.0.1"),
            ind("2a02:1234:5678::/48"),
            ind("2a02:1234:5678::9"),
            ind("45.10.0.0/16"),  # twice: one goes
        ]
    )
    assert [i.value for i in kept] == ["45.10.0.0/16", "45.11.0.1", "2a02:1234:5678::/48"]
    assert dropped == 4


def test_clean_text() -> None:
    assert clean_text("a\nb\x00c") == "a?b?c"
    assert clean_text("x" * 300, 10) == "xxxxxxx..."
    assert clean_text("café", ascii_only=True) == "caf?"
    assert clean_text("café") == "café"
    assert slug("Peer X / CERT") == "peer-x-cert" and slug("\n") == "unknown"


# ---- rules ----------------------------------------------------------------------------------

MONO = 5000.0


def test_one_rule_per_provenance_for_anonymous_clients_only() -> None:
    batch = to_rules(
        [ind("45.10.20.0/24"), ind("2a02:1234:5678::/48"), ind("81.2.3.4", source="Other CERT")],
        NOW,
        MONO,
    )
    assert [r.id.rsplit("-", 1)[0] for r in batch.rules] == ["intel-other-cert", "intel-peer-x"]
    other, peer = batch.rules
    assert peer.match.cidrs == ("45.10.20.0/24", "2a02:1234:5678::/48")
    assert other.match.cidrs == ("81.2.3.4",)
    for r in batch.rules:
        assert re.fullmatch(r"intel-[a-z0-9-]+-[0-9a-f]{12}", r.id)
        assert r.match.classes == frozenset({ClientClass.ANONYMOUS})
        assert (r.action, r.origin, r.expires) == (Action.BLOCK, "intel", MONO + TTL)
    assert peer.reason == "intel from peer-x: 2 networks"
    assert (batch.indicators, batch.expired, batch.dropped) == (3, 0, 0)


def test_expiry_is_capped_and_the_expired_are_counted() -> None:
    batch = to_rules(
        [ind("45.1.1.1", valid_until=NOW + 10 * 86400), ind("45.1.1.2", valid_until=NOW)],
        NOW,
        MONO,
        max_ttl=600,
    )
    (rule,) = batch.rules
    assert rule.expires == MONO + 600 and rule.match.cidrs == ("45.1.1.1",)
    assert batch.expired == 1


def test_the_same_networks_give_the_same_rule_id_in_any_order() -> None:
    a = to_rules([ind("45.1.1.1"), ind("45.1.1.2")], NOW, MONO)
    b = to_rules([ind("45.1.1.2"), ind("45.1.1.1")], NOW + 1, MONO + 9)  # later: a ttl bump
    c = to_rules([ind("45.1.1.2")], NOW, MONO)
    d = to_rules([ind("45.1.1.1"), ind("45.1.1.2")], NOW, MONO, action="challenge")
    assert a.rules[0].id == b.rules[0].id != c.rules[0].id != d.rules[0].id
    assert b.rules[0].expires == MONO + 9 + TTL - 1


def test_many_lifetimes_share_few_rules_and_none_outlives_its_indicators() -> None:
    inds = [ind(f"45.1.1.{n}", valid_until=NOW + 100 * n) for n in range(1, 11)]
    batch = to_rules(inds, NOW, MONO, shape=RuleShape(max_rules_per_source=3))
    assert len(batch.rules) == 3
    for rule in batch.rules:
        for cidr in rule.match.cidrs:
            n = int(cidr.rsplit(".", 1)[1])
            assert rule.expires is not None and rule.expires <= MONO + 100 * n
    assert sum(len(r.match.cidrs) for r in batch.rules) == 10


def test_throttle_rules_have_a_rate_and_the_cap_drops_the_rest() -> None:
    shape = RuleShape(max_indicators=2, throttle_rate=2.0, throttle_burst=4)
    batch = to_rules([ind(f"45.1.1.{n}") for n in range(5)], NOW, MONO, "throttle", shape=shape)
    (rule,) = batch.rules
    assert (rule.action, rule.rate, rule.burst, rule.key) == (
        Action.THROTTLE,
        2.0,
        4,
        LimitKey.ADDRESS,
    )
    assert (batch.indicators, batch.dropped) == (2, 3)
    with pytest.raises(ValueError, match="action"):
        to_rules([], NOW, MONO, "allow")


def test_the_decider_blocks_anonymous_clients_only() -> None:
    (rule,) = to_rules([ind("45.10.20.0/24")], NOW, MONO).rules
    decider = Decider(Ruleset(1, (rule,)))
    inside, outside = "45.10.20.99", "45.10.21.1"
    assert decider.decide(make_facts(client=inside), MONO).action is Action.BLOCK
    assert decider.decide(make_facts(client=outside), MONO).action is Action.ALLOW
    for klass in (ClientClass.API_APP, ClientClass.GATEWAY, ClientClass.USER):
        facts = make_facts(client=inside, klass=klass)
        assert decider.decide(facts, MONO).action is Action.ALLOW
        assert not CompiledMatch(rule.match)(facts)
    assert decider.decide(make_facts(client=inside), MONO + TTL + 1).action is Action.ALLOW
