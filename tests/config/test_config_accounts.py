"""Account protection's configuration: watched routes, secrets, webhooks, and marked rules."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from seawall.config.build import build_rule, build_ruleset, rule_to_spec
from seawall.config.load import load_config_text, validate
from seawall.config.rulespec import RuleSpec
from seawall.core.errors import ConfigError
from seawall.core.rules import LimitKey
from seawall.core.verdict import Action

SECRET = "0123456789abcdef-secret"
ROUTES = [
    {"name": "login", "pattern": "/login"},
    {"name": "reset", "pattern": "/reset"},
    {"name": "contact", "pattern": "/users/{name}/contact", "target": "/users/{name}"},
]
LOGIN = {"route": "login", "kind": "login", "account_field": "username"}


def config(accounts: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"routes": ROUTES, "accounts": {"enabled": True, "secret": SECRET, **accounts}, **top}


def refused(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        validate(data)
    return err.value


def test_a_watched_route_reads_with_its_defaults() -> None:
    cfg = validate(config({"routes": [{**LOGIN, "method": "post"}]}))
    (r,) = cfg.accounts.routes
    assert (r.route, r.kind, r.method, r.account_from, r.account_field) == (
        "login",
        "login",
        "POST",
        "body",
        "username",
    )
    assert 302 in r.success_status and 401 in r.failure_status
    assert r.result_header == "" and r.success_location == ""
    assert cfg.accounts.step_up == "challenge"
    assert cfg.accounts.step_up_header == "Seawall-Step-Up"


@pytest.mark.parametrize("where", ["body", "query"])
def test_a_body_or_query_route_needs_its_account_field(where: str) -> None:
    err = refused(config({"routes": [{"route": "login", "kind": "login", "account_from": where}]}))
    assert err.key == "accounts.routes[0]"
    assert "account_field" in str(err) and where in str(err)


def test_a_target_route_needs_no_field() -> None:
    cfg = validate(
        config({"routes": [{"route": "contact", "kind": "pii_view", "account_from": "target"}]})
    )
    assert cfg.accounts.routes[0].account_field == ""


def test_a_watched_route_must_name_a_configured_route() -> None:
    err = refused(config({"routes": [LOGIN, {**LOGIN, "route": "signin"}]}))
    assert "accounts.routes[1].route" in str(err)
    assert "'signin'" in str(err)


def test_an_unknown_route_is_refused_even_when_accounts_are_off() -> None:
    data = config({"enabled": False, "routes": [{**LOGIN, "route": "nowhere"}]})
    assert "accounts.routes[0].route" in str(refused(data))


@pytest.mark.parametrize(
    ("kind", "field"),
    [("kind", "signup"), ("account_from", "cookie"), ("uniform_status", 101)],
)
def test_route_options_are_checked(kind: str, field: Any) -> None:
    err = refused(config({"routes": [{**LOGIN, kind: field}]}))
    assert err.key == f"accounts.routes[0].{kind}"


def test_a_short_secret_is_refused_when_enabled_only() -> None:
    err = refused(config({"secret": "x" * 15}))
    assert err.key.startswith("accounts") and "secret" in str(err) and "16" in str(err)
    assert validate({"accounts": {"enabled": False, "secret": "short"}}).accounts.secret == "short"
    assert validate(config({"secret": "x" * 16})).accounts.enabled


def _whsec(n: int) -> str:
    return "whsec_" + base64.b64encode(b"k" * n).decode()


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        ("whsec_not base64!", "base64"),
        ("whsec_abc", "base64"),  # not a whole number of base64 quanta
        (_whsec(8), "24 to 64 bytes"),
        (_whsec(65), "24 to 64 bytes"),
    ],
)
def test_a_bad_webhook_secret_is_refused(secret: str, says: str) -> None:
    hook = {"url": "https://hooks.example.org/seawall", "secret": secret}
    err = refused(config({"warnings": {"webhooks": [hook]}}))
    assert err.key == "accounts.warnings.webhooks[0].secret"
    assert says in str(err)


@pytest.mark.parametrize("n", [24, 32, 64])
def test_a_good_webhook_secret_is_kept_as_given(n: int) -> None:
    hook = {"url": "https://hooks.example.org/seawall", "secret": _whsec(n)}
    cfg = validate(config({"warnings": {"webhooks": [hook]}}))
    assert cfg.accounts.warnings.webhooks[0].secret == _whsec(n)


def test_the_accounts_section_reads_from_toml() -> None:
    text = f"""
[[routes]]
name = "login"
pattern = "/login"

[accounts]
enabled = true
secret = "{SECRET}"
step_up = "header"
max_body_bytes = 4096

[[accounts.routes]]
route = "login"
kind = "login"
account_field = "user.email"
result_header = "X-Auth-Result"
"""
    cfg = load_config_text(text)
    assert cfg.accounts.step_up == "header" and cfg.accounts.max_body_bytes == 4096
    assert cfg.accounts.routes[0].account_field == "user.email"
    assert cfg.accounts.routes[0].result_header == "X-Auth-Result"


# ---- rules: marks, accounts and the fingerprint key -------------------------------------

ALICE_H, BOB_H = "a1" * 16, "b2" * 16


def spec(**fields: Any) -> RuleSpec:
    return RuleSpec.model_validate({"id": "r", "action": "allow", **fields})


def test_a_marked_rule_round_trips_through_build_and_back() -> None:
    s = spec(
        mark="step-up",
        match={"accounts": [BOB_H, ALICE_H], "routes": ["login"]},
        ttl=60,
        reason="campaign c1",
    )
    rule = build_rule(s, now=100.0, origin="accounts")
    assert rule.mark == "step-up" and rule.action is Action.ALLOW
    assert rule.match.accounts == frozenset({ALICE_H, BOB_H})
    assert rule.expires == 160.0
    shown = rule_to_spec(rule, now=100.0)
    assert shown["mark"] == "step-up"
    assert shown["match"] == {"accounts": [ALICE_H, BOB_H], "routes": ["login"]}
    assert shown["origin"] == "accounts"
    shown.pop("origin")
    again = build_rule(RuleSpec.model_validate(shown), now=100.0, origin="accounts")
    assert again == rule


def test_a_uniform_mark_and_an_unmarked_rule_round_trip() -> None:
    for s in (spec(mark="uniform", match={"routes": ["reset"]}), spec(action="block")):
        rule = build_rule(s, now=0.0)
        shown = rule_to_spec(rule, now=0.0)
        shown.pop("origin")
        assert build_rule(RuleSpec.model_validate(shown), now=0.0) == rule
    assert rule_to_spec(build_rule(spec(action="block"), 0.0), 0.0)["mark"] == ""


def test_the_fingerprint_key_counts_per_header_fingerprint() -> None:
    s = spec(action="throttle", rate=2.0, key="fingerprint", match={"routes": ["login"]})
    rule = build_rule(s, now=0.0)
    assert rule.key is LimitKey.FINGERPRINT
    assert rule_to_spec(rule, 0.0)["key"] == "fingerprint"


@pytest.mark.parametrize("action", ["block", "challenge", "throttle"])
def test_only_an_allow_rule_can_carry_a_mark(action: str) -> None:
    err = refused({"rules": [{"id": "m", "action": action, "rate": 1, "mark": "step-up"}]})
    assert err.key == "rules[0]" and "allow" in str(err)


def test_an_unknown_mark_is_refused() -> None:
    err = refused({"rules": [{"id": "m", "action": "allow", "mark": "shout"}]})
    assert err.key == "rules[0].mark"


def test_configured_rules_carry_marks_and_accounts_into_the_ruleset() -> None:
    data = config(
        {"routes": [LOGIN]},
        rules=[
            {"id": "su", "action": "allow", "mark": "step-up", "match": {"accounts": [ALICE_H]}},
            {"id": "ch", "action": "challenge", "match": {"accounts": [BOB_H]}},
        ],
    )
    rules = {r.id: r for r in build_ruleset(validate(data), 0.0).rules}
    assert rules["su"].mark == "step-up" and rules["su"].match.accounts == {ALICE_H}
    assert rules["ch"].mark == "" and rules["ch"].action is Action.CHALLENGE
