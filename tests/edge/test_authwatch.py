"""The auth watch's tables: where a request names its account, and how the origin said it ended."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from seawall.config.accounts import AccountsConfig, AuthRoute
from seawall.core.auth import AuthEvent, EventKind, Hasher, Result
from seawall.core.facts import ClientClass
from seawall.edge.authwatch import AuthSpec, AuthWatch, identifier_in, outcome

from corefacts import make_facts

SECRET = "0123456789abcdef-secret"
FORM = "application/x-www-form-urlencoded"


def spec(**fields: Any) -> AuthSpec:
    base: dict[str, Any] = {"route": "login", "kind": "login", "account_field": "username"}
    return AuthSpec.of(AuthRoute.model_validate({**base, **fields}))


# ---- identifier_in ----------------------------------------------------------------------

BODY_CASES = [
    # (field, content type, body, identifier)
    ("username", FORM, b"username=Alice%40Example.com&password=hunter2", "Alice@Example.com"),
    ("username", FORM + "; charset=UTF-8", b"password=x&username=bob", "bob"),
    ("username", "Application/X-WWW-Form-Urlencoded", b"username=carol", "carol"),
    ("username", FORM, b"username=d%C3%BCrer", "d\u00fcrer"),
    ("username", FORM, b"username=first&username=second", "first"),
    ("username", FORM, b"user=bob&password=x", ""),  # another field
    ("username", FORM, b"username=&password=x", ""),  # a blank value names nobody
    ("username", FORM, b"&".join([b"f=1"] * 150) + b"&username=bob", ""),  # not a form of ours
    ("username", "application/json", b'{"username": "erin", "password": "x"}', "erin"),
    ("user.email", "application/json", b'{"user": {"email": "f@example.org"}}', "f@example.org"),
    ("a.b.c", "application/json; charset=utf-8", b'{"a": {"b": {"c": "deep"}}}', "deep"),
    ("user.email", "application/vnd.api+json", b'{"user": {"email": "g@x.org"}}', "g@x.org"),
    ("phone", "application/json", b'{"phone": 15550102030}', "15550102030"),
    ("user.email", "application/json", b'{"user.email": "flat"}', ""),  # dots mean nesting
    ("user.email", "application/json", b'{"user": ["h@x.org"]}', ""),
    ("user.email", "application/json", b'{"user": "h@x.org"}', ""),
    ("admin", "application/json", b'{"admin": true}', ""),  # a bool is no identifier
    ("n", "application/json", b'{"n": 1.5}', ""),
    ("n", "application/json", b'{"n": null}', ""),
    ("username", "application/json", b'["username", "ivan"]', ""),
    ("username", "application/json", b'{"username": "trunc', ""),
    ("username", "application/json", b"\xff\xfe\x00garbage", ""),
    ("username", "application/json", b"[" * 100_000, ""),  # too deep to parse
    ("username", "text/plain", b"username=judy", ""),  # not a type the watch reads
    ("username", "", b"username=judy", ""),
    ("username", "multipart/form-data; boundary=x", b"--x\r\n", ""),
]


@pytest.mark.parametrize(("field", "ctype", "body", "found"), BODY_CASES)
def test_identifier_in_a_body(field: str, ctype: str, body: bytes, found: str) -> None:
    s = spec(account_field=field)
    assert identifier_in(s, make_facts(method="POST", route="login"), body, ctype) == found


@pytest.mark.parametrize(
    ("query", "found"),
    [("user=mallory&next=/", "mallory"), ("next=/&user=a%2Bb%40x.org", "a+b@x.org"), ("", "")],
)
def test_identifier_in_the_query(query: str, found: str) -> None:
    s = spec(account_from="query", account_field="user")
    facts = make_facts(route="login", query=query)
    assert identifier_in(s, facts, b"username=not-this-one", FORM) == found


@pytest.mark.parametrize(
    ("target", "found"),
    [("/users/oscar", "oscar"), ("/users/oscar/", "oscar"), ("/", ""), ("", "")],
)
def test_identifier_in_the_target(target: str, found: str) -> None:
    s = spec(account_from="target", account_field="")
    facts = make_facts(route="contact", target=target)
    assert identifier_in(s, facts, b'{"username": "x"}', "application/json") == found


# ---- outcome ----------------------------------------------------------------------------

H = b"X-Auth-Result"
LOGIN = spec(result_header="X-Auth-Result", success_location="/home")
PLAIN_LOGIN = spec()
ABS_LOGIN = spec(success_location="/home")
RESET = spec(kind="password_reset", result_header="x-auth-result")
LOOKUP = spec(kind="recovery_lookup")
PII = spec(kind="pii_view", account_from="target", account_field="")

S, F, M = EventKind.LOGIN_SUCCEEDED, EventKind.LOGIN_FAILED, EventKind.MFA_FAILED
R, L = EventKind.PASSWORD_RESET_REQUESTED, EventKind.RECOVERY_LOOKUP

OUTCOMES = [
    # (spec, status, headers, (kind, result))
    (LOGIN, 200, [(H, b"ok")], (S, Result.OK)),
    (LOGIN, 200, [(H, b"success")], (S, Result.OK)),
    (LOGIN, 200, [(b"x-auth-result", b" FAILED ")], (F, Result.FAILED)),
    (LOGIN, 200, [(H, b"failure")], (F, Result.FAILED)),
    (LOGIN, 200, [(H, b"mfa_failed")], (M, Result.FAILED)),
    (LOGIN, 302, [(b"Location", b"/home"), (H, b"failed")], (F, Result.FAILED)),  # header wins
    (LOGIN, 401, [(H, b"ok")], (S, Result.OK)),
    (LOGIN, 302, [(b"Location", b"/home/feed")], (S, Result.OK)),
    (LOGIN, 303, [(b"location", b"/login?error=1")], (F, Result.FAILED)),
    (LOGIN, 302, [], (F, Result.FAILED)),  # a redirect to nowhere in particular
    (LOGIN, 200, [(H, b"maybe"), (b"Location", b"/home")], (S, Result.OK)),  # unknown word: status
    (LOGIN, 200, [(H, b"maybe")], (S, Result.OK)),
    (LOGIN, 500, [(H, b"maybe")], None),  # never a success on an unknown word
    (LOGIN, 500, [(H, b"failed")], (F, Result.FAILED)),  # the app's word beats its status
    (LOGIN, 401, [], (F, Result.FAILED)),
    (LOGIN, 500, [], None),  # an origin failing says nothing of the attempt
    (LOGIN, 418, [], (F, Result.UNKNOWN)),
    (PLAIN_LOGIN, 302, [(b"Location", b"/anywhere")], (S, Result.OK)),  # statuses alone
    (PLAIN_LOGIN, 200, [(H, b"failed")], (S, Result.OK)),  # no result header configured
    (PLAIN_LOGIN, 422, [], (F, Result.FAILED)),
    (PLAIN_LOGIN, 429, [], None),  # shedding load is no failed sign-in
    (ABS_LOGIN, 302, [(b"Location", b"https://site.example/home/feed")], (S, Result.OK)),
    (ABS_LOGIN, 302, [(b"Location", b"https://site.example/login?e=1")], (F, Result.FAILED)),
    (ABS_LOGIN, 302, [(b"Location", b"https://site.example")], (F, Result.FAILED)),
    (RESET, 200, [], (R, Result.FOUND)),
    (RESET, 404, [], (R, Result.NOT_FOUND)),
    (RESET, 200, [(H, b"not_found")], (R, Result.NOT_FOUND)),  # the header tells the truth
    (RESET, 200, [(H, b"found")], (R, Result.FOUND)),
    (RESET, 200, [(H, b"ok")], (R, Result.FOUND)),
    (RESET, 200, [(H, b"failed")], (R, Result.NOT_FOUND)),
    (RESET, 502, [], None),
    (LOOKUP, 200, [], (L, Result.FOUND)),
    (LOOKUP, 404, [], (L, Result.NOT_FOUND)),
    (PII, 200, [], (EventKind.PII_VIEWED, Result.OK)),
    (PII, 403, [], (EventKind.PII_VIEWED, Result.FAILED)),
]


@pytest.mark.parametrize(("s", "status", "headers", "said"), OUTCOMES)
def test_outcome(
    s: AuthSpec,
    status: int,
    headers: list[tuple[bytes, bytes]],
    said: tuple[EventKind, Result] | None,
) -> None:
    assert outcome(s, status, headers) == said


def test_a_route_spec_is_flattened_for_the_hot_path() -> None:
    s = spec(
        kind="recovery_lookup",
        method="post",
        result_header="X-Auth-Result",
        uniform_status=202,
        uniform_body="Check your inbox.\n",
    )
    assert s.method == "POST" and s.result_header == b"x-auth-result"
    assert s.uniform == b"Check your inbox.\n" and s.uniform_status == 202
    assert s.recovery and not spec().recovery


# ---- AuthWatch --------------------------------------------------------------------------


def watch(max_queue: int = 3, **accounts: Any) -> AuthWatch:
    cfg = AccountsConfig.model_validate(
        {
            "enabled": True,
            "secret": SECRET,
            "routes": [
                {"route": "login", "kind": "login", "account_field": "u", "result_header": "X-R"},
                {"route": "reset", "kind": "password_reset", "account_field": "email"},
            ],
            **accounts,
        }
    )
    return AuthWatch(cfg, max_queue=max_queue)


def an_event(i: int) -> AuthEvent:
    return AuthEvent(f"r{i}", float(i), EventKind.LOGIN_FAILED, "ab" * 16, "192.0.2.1")


def test_the_queue_is_bounded_and_counts_what_it_drops() -> None:
    w = watch(max_queue=3)
    for i in range(5):
        w.emit(an_event(i))
    assert [e.id for e in w.queue] == ["r0", "r1", "r2"]
    assert w.dropped == 2
    assert [e.id for e in w.drain()] == ["r0", "r1", "r2"]
    assert w.queue == [] and w.drain() == []
    w.emit(an_event(9))  # room again once drained; the count stays
    assert [e.id for e in w.drain()] == ["r9"] and w.dropped == 2


def test_only_the_configured_method_on_a_watched_route_is_watched() -> None:
    w = watch()
    login = w.spec(make_facts(route="login", method="POST"))
    assert login is not None and login.kind == "login"
    assert w.spec(make_facts(route="login", method="GET")) is None
    assert w.spec(make_facts(route="feed", method="POST")) is None


def test_result_headers_are_stripped_and_step_up_headers_dropped_lowercase() -> None:
    w = watch(step_up_header="X-Step-Up")
    assert w.strip == frozenset({b"x-r"})
    assert w.step_up == b"X-Step-Up" and w.drop_in == frozenset({b"x-step-up"})
    assert watch().drop_in == frozenset({b"seawall-step-up"})
    assert w.max_body == 16_384


def test_an_event_carries_hashes_and_the_request_never_the_identifier() -> None:
    w = watch()
    account = w.hasher("alice@example.org")
    assert account == Hasher(SECRET)("Alice@Example.org")
    facts = make_facts(
        client="198.51.100.7",
        method="POST",
        route="login",
        account=account,
        user_agent="curl/8.5.0 " + "x" * 500,
        country="NL",
        asn=64_500,
    )
    ev = w.event("rid-1", facts, 1_700_000_000.0, EventKind.LOGIN_FAILED, Result.FAILED)
    assert (ev.id, ev.time, ev.kind, ev.result) == (
        "rid-1",
        1_700_000_000.0,
        EventKind.LOGIN_FAILED,
        Result.FAILED,
    )
    assert ev.account == account and ev.source == "198.51.100.7"
    assert ev.prefix == "198.51.100.0/24" and ev.fingerprint == facts.header_fp
    assert (ev.asn, ev.country, ev.origin) == (64_500, "NL", "edge")
    assert len(ev.user_agent) == 256 and ev.ua_family.startswith("curl")
    assert "alice" not in json.dumps(msgspec.to_builtins(ev)).lower()
    user_facts = msgspec.structs.replace(facts, klass=ClientClass.USER)
    user = w.event("r2", user_facts, 1.0, S, Result.OK)
    assert user.origin == "edge:user"
