"""From validated config to core records, and back to the admin API's JSON."""

from __future__ import annotations

from typing import Any

from seawall.config.build import build_routes, build_rule, build_ruleset, rule_to_spec
from seawall.config.load import validate
from seawall.config.rulespec import RuleSpec
from seawall.core.facts import ClientClass
from seawall.core.routes import RouteSpec
from seawall.core.rules import LimitKey, Match, Rule
from seawall.core.verdict import Action

NOW = 1000.0

SPEC: dict[str, Any] = {
    "id": "scanner",
    "action": "throttle",
    "match": {
        "cidrs": ["203.0.113.0/24", "2001:db8::/32"],
        "methods": ["GET", "POST"],
        "hosts": ["api.example.org", "example.org"],
        "paths": ["/search", "/login$"],
        "routes": ["profile"],
        "targets": ["/users/cyxymu"],
        "classes": ["anonymous", "user"],
        "user_agents": ["sqlmap", "Nikto"],
        "header_fps": ["0123456789ab"],
    },
    "rate": 2.5,
    "burst": 5,
    "key": "prefix",
    "status": 503,
    "close": False,
    "priority": 7,
    "ttl": 600.0,
    "reason": "scanning the search page",
}


def test_build_rule() -> None:
    rule = build_rule(RuleSpec.model_validate(SPEC), NOW, origin="admin")
    assert rule == Rule(
        id="scanner",
        action=Action.THROTTLE,
        match=Match(
            cidrs=("203.0.113.0/24", "2001:db8::/32"),
            methods=frozenset({"GET", "POST"}),
            hosts=frozenset({"api.example.org", "example.org"}),
            paths=("/search", "/login$"),
            routes=frozenset({"profile"}),
            targets=frozenset({"/users/cyxymu"}),
            classes=frozenset({ClientClass.ANONYMOUS, ClientClass.USER}),
            user_agents=("sqlmap", "Nikto"),
            header_fps=frozenset({"0123456789ab"}),
        ),
        rate=2.5,
        burst=5,
        key=LimitKey.PREFIX,
        status=503,
        close=False,
        priority=7,
        expires=1600.0,
        origin="admin",
        reason="scanning the search page",
    )


def test_methods_are_upper_cased() -> None:
    spec = RuleSpec(id="r", action="block", match={"methods": ["get", "Post"]})
    assert build_rule(spec, NOW).match.methods == {"GET", "POST"}


def test_ttl_is_an_expiry_relative_to_now() -> None:
    spec = RuleSpec(id="r", action="block", ttl=30.0)
    assert build_rule(spec, 0.0).expires == 30.0
    assert build_rule(spec, NOW).expires == 1030.0
    assert build_rule(RuleSpec(id="r", action="block"), NOW).expires is None


def test_rule_to_spec_shows_the_remaining_ttl() -> None:
    rule = build_rule(RuleSpec(id="r", action="block", ttl=30.0), NOW)
    assert [rule_to_spec(rule, t)["ttl"] for t in (NOW, NOW + 10.0, NOW + 29.9996)] == [
        30.0,
        20.0,
        0.0,
    ]
    forever = build_rule(RuleSpec(id="r", action="block"), NOW)
    assert rule_to_spec(forever, NOW + 1e6)["ttl"] == 0.0


def test_rule_to_spec_is_the_inverse_of_build_rule() -> None:
    spec = RuleSpec.model_validate(SPEC)
    rule = build_rule(spec, NOW, origin="admin")
    shown = rule_to_spec(rule, NOW)
    assert shown["origin"] == "admin"
    back = {k: v for k, v in shown.items() if k != "origin"}
    # spec -> rule -> JSON -> spec is the same spec (lists come back sorted)
    assert RuleSpec.model_validate(back) == spec
    # and rule -> JSON -> rule is the same rule, expiry included, even later on
    later = NOW + 100.0
    again = {k: v for k, v in rule_to_spec(rule, later).items() if k != "origin"}
    assert again["ttl"] == 500.0
    assert build_rule(RuleSpec.model_validate(again), later, origin="admin") == rule


def test_rule_to_spec_leaves_out_empty_match_fields() -> None:
    shown = rule_to_spec(build_rule(RuleSpec(id="r", action="block"), NOW), NOW)
    assert shown == {
        "id": "r",
        "action": "block",
        "match": {},
        "rate": 0.0,
        "burst": 1,
        "key": "address",
        "status": 0,
        "close": False,
        "priority": 100,
        "ttl": 0.0,
        "reason": "",
        "origin": "config",
        "strikes": 0,
        "strike_window": 60.0,
        "mark": "",
    }


def test_build_ruleset_orders_by_priority_keeping_file_order() -> None:
    cfg = validate(
        {
            "rules": [
                {"id": "b", "action": "block"},
                {"id": "late", "action": "block", "priority": 500},
                {"id": "first", "action": "allow", "priority": 1},
                {"id": "c", "action": "challenge"},
            ]
        }
    )
    rs = build_ruleset(cfg, NOW)
    assert rs.version == 1
    assert [(r.id, r.action) for r in rs.rules] == [
        ("first", Action.ALLOW),
        ("b", Action.BLOCK),
        ("c", Action.CHALLENGE),
        ("late", Action.BLOCK),
    ]
    assert {r.origin for r in rs.rules} == {"config"}


def test_build_routes() -> None:
    cfg = validate(
        {
            "routes": [
                {"name": "post", "pattern": "/users/{name}/posts/{id}", "target": "/users/{name}"},
                {"name": "static", "pattern": "/static/*"},
            ]
        }
    )
    assert build_routes(cfg) == [
        RouteSpec("post", "/users/{name}/posts/{id}", "/users/{name}"),
        RouteSpec("static", "/static/*", ""),
    ]
