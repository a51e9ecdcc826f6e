"""Facts from log fields: cached per distinct value, bad addresses counted, classes kept."""

from __future__ import annotations

from seawall.analyze import facts as facts_mod
from seawall.analyze.facts import FactsMaker, recorded_verdict
from seawall.core.facts import ClientClass
from seawall.core.routes import Router, RouteSpec
from seawall.core.verdict import Action


def test_facts_carry_what_a_log_says_and_derive_the_rest() -> None:
    maker = FactsMaker(Router([RouteSpec("profile", "/users/{name}", "/users/{name}")]))
    f = maker.facts("2001:db8::7", "GET", "example.org", "/users/%61lice?b=2&a=x", "UA/1")
    assert f is not None
    assert (f.client.text, f.prefix) == ("2001:db8::7", "2001:db8::/48")
    assert (f.path, f.query, f.route, f.target) == (
        "/users/alice",
        "b=2&a=x",
        "profile",
        "/users/alice",
    )
    assert f.query_shape == "a=s&b=n"
    assert f.header_fp == "" and f.user_agent == "UA/1"
    assert f.klass is ClientClass.ANONYMOUS and not f.has_cookie


def test_a_class_named_by_the_log_is_kept_and_unknown_names_are_anonymous() -> None:
    maker = FactsMaker()
    app = maker.facts("192.0.2.1", "GET", "", "/api", "", "api_app")
    odd = maker.facts("192.0.2.1", "GET", "", "/api", "", "wizard")
    assert app is not None and app.klass is ClientClass.API_APP
    assert odd is not None and odd.klass is ClientClass.ANONYMOUS


def test_absolute_form_and_junk_targets_become_paths() -> None:
    maker = FactsMaker()
    assert maker.where("http://example.org/a/b?x=1").path == "/a/b"
    assert maker.where("*").path == "/"
    assert maker.where("").path == "/"


def test_bad_addresses_are_counted_and_caches_stay_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(facts_mod, "CACHE_KEYS", 10)
    maker = FactsMaker()
    assert maker.facts("-", "GET", "", "/", "") is None
    assert maker.facts("999.1.1.1", "GET", "", "/", "") is None
    assert maker.bad_addresses == 2
    for i in range(50):
        assert maker.facts(f"192.0.2.{i}", "GET", "", f"/p{i}", "") is not None
    assert len(maker.clients) <= 10 and len(maker.wheres) <= 10


def test_only_the_operators_recorded_decisions_are_kept() -> None:
    kept = recorded_verdict("block", "rule", "deny-admin")
    assert kept is not None and kept.action is Action.BLOCK and kept.rule_id == "deny-admin"
    assert recorded_verdict("block", "rule", "auto-1234") is None  # the engine remakes these
    assert recorded_verdict("allow", "default", "") is None
    assert recorded_verdict("dance", "", "x") is None
