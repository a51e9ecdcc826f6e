"""The app's event batches: validated one by one, hashed at once, bounded as a whole."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from seawall.accounts.ingest import MAX_BATCH, MAX_BODY, MAX_SKEW, BatchError, read_batch
from seawall.core.auth import AuthEvent, EventKind, Hasher, Result

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
HASH = Hasher("ingest-test-secret-key")


def ev(**fields: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "type": "login_failed",
        "account": "Alice@Example.org",
        "source": "198.51.100.7",
        **fields,
    }


def one(**fields: Any) -> AuthEvent:
    got = read_batch(json.dumps([ev(**fields)]).encode(), HASH, NOW)
    assert got.rejected == [], got.rejected
    (event,) = got.events
    return event


def why(**fields: Any) -> str:
    got = read_batch(json.dumps({"events": [ev(**fields)]}).encode(), HASH, NOW)
    assert got.events == []
    (rejected,) = got.rejected
    assert rejected["index"] == 0
    return str(rejected["error"])


def test_an_event_is_read_hashed_and_placed() -> None:
    e = one(
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        device="dev-42",
        password_hash="app-keyed-hash-0f",
        fingerprint="fp-1",
    )
    assert e.id == "app:e1" and e.origin == "app"
    assert e.kind is EventKind.LOGIN_FAILED and e.result is Result.FAILED
    assert e.account == HASH("alice@example.org")
    assert e.device == HASH("dev-42") and e.password == HASH("app-keyed-hash-0f")
    assert e.source == "198.51.100.7" and e.prefix == "198.51.100.0/24"
    assert e.ua_family.startswith("Firefox") and e.fingerprint == "fp-1"
    assert e.time == NOW  # no time: when it arrived


def test_the_clear_identifiers_never_reach_the_event() -> None:
    e = one(account="alice.smith@example.org", device="iphone-of-alice", password_hash="pw-hash")
    text = json.dumps(msgspec.to_builtins(e)).lower()
    for clear in ("alice", "example.org", "iphone", "pw-hash"):
        assert clear not in text


def test_a_bare_list_and_an_object_are_both_batches() -> None:
    a = read_batch(json.dumps([ev()]).encode(), HASH, NOW)
    b = read_batch(json.dumps({"events": [ev()]}).encode(), HASH, NOW)
    assert a.events == b.events and len(a.events) == 1


@pytest.mark.parametrize(
    ("kind", "result"),
    [
        ("login_failed", Result.FAILED),
        ("mfa_failed", Result.FAILED),
        ("login_succeeded", Result.OK),
        ("session_created", Result.OK),
        ("password_reset_requested", Result.UNKNOWN),
        ("recovery_lookup", Result.UNKNOWN),
        ("credentials_changed", Result.UNKNOWN),
    ],
)
def test_each_type_has_a_default_result(kind: str, result: Result) -> None:
    assert one(type=kind).result is result


def test_a_given_result_wins() -> None:
    e = one(type="recovery_lookup", result="not_found")
    assert (e.kind, e.result) == (EventKind.RECOVERY_LOOKUP, Result.NOT_FOUND)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"type": "password_guessed"}, "type"),
        ({"type": 3}, "type"),
        ({"result": "maybe"}, "result"),
        ({"id": ""}, "id"),
        ({"id": "x" * 129}, "id"),
        ({"id": 7}, "id"),
        ({"account": ""}, "account"),
        ({"account": "a" * 513}, "account"),
        ({"account": None}, "account"),
        ({"source": "localhost"}, "source"),
        ({"source": "999.1.1.1"}, "source"),
        ({"source": ""}, "source"),
        ({"user_agent": 5}, "user_agent"),
        ({"colour": "blue"}, "colour"),  # unknown fields are refused, not ignored
        ({"time": True}, "time"),
        ({"time": "yesterday"}, "time"),
        ({"time": "1700000000"}, "time"),
        ({"time": "2023-11-14T22:13:20"}, "time"),  # no offset: whose zone?
        ({"time": NOW - MAX_SKEW - 1}, "time"),
        ({"time": NOW + MAX_SKEW + 1}, "time"),
        ({"time": NOW * 1000}, "time"),  # milliseconds, a common slip
    ],
)
def test_a_bad_event_is_rejected_with_the_reason(fields: dict[str, Any], says: str) -> None:
    assert says in why(**fields)


def test_a_missing_field_is_rejected() -> None:
    for name in ("id", "type", "account", "source"):
        item = ev()
        del item[name]
        got = read_batch(json.dumps([item]).encode(), HASH, NOW)
        assert got.events == [] and name in str(got.rejected[0]["error"])


@pytest.mark.parametrize(
    ("given", "source", "prefix"),
    [
        ("192.0.2.1:443", "192.0.2.1", "192.0.2.0/24"),
        ("[2001:db8::1]:443", "2001:db8::1", "2001:db8::/48"),
        ("::ffff:192.0.2.1", "192.0.2.1", "192.0.2.0/24"),
        (" 192.0.2.1 ", "192.0.2.1", "192.0.2.0/24"),
    ],
)
def test_source_addresses_are_read_as_the_edge_reads_them(
    given: str, source: str, prefix: str
) -> None:
    e = one(source=given)
    assert (e.source, e.prefix) == (source, prefix)


@pytest.mark.parametrize(
    ("given", "time"),
    [
        (NOW - 30, NOW - 30),
        (int(NOW), NOW),
        (NOW - MAX_SKEW, NOW - MAX_SKEW),
        (NOW + MAX_SKEW, NOW + MAX_SKEW),
        ("2023-11-14T22:13:20Z", NOW),
        ("2023-11-14T22:13:20+00:00", NOW),
        ("2023-11-14T23:13:20+01:00", NOW),
        ("2023-11-14T22:12:20.5Z", NOW - 59.5),
        (None, NOW),
    ],
)
def test_times_are_epoch_seconds_or_iso_with_an_offset(given: Any, time: float) -> None:
    assert one(time=given).time == time


def test_the_rest_of_a_batch_goes_on_past_bad_events() -> None:
    items: list[Any] = [
        ev(id="a"),
        ev(id="b", source="nowhere"),
        "not an object",
        None,
        ev(id="c", type="login_succeeded"),
        [1, 2],
    ]
    got = read_batch(json.dumps(items).encode(), HASH, NOW)
    assert [e.id for e in got.events] == ["app:a", "app:c"]
    assert [r["index"] for r in got.rejected] == [1, 2, 3, 5]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"events": [',
        b'{"events": 5}',
        b'{"evnts": []}',
        b'"events"',
        b"42",
        b"null",
        b"\xff\xfe",
    ],
)
def test_an_unreadable_batch_is_a_batch_error(body: bytes) -> None:
    with pytest.raises(BatchError):
        read_batch(body, HASH, NOW)


def test_a_batch_error_is_a_value_error_for_the_endpoint() -> None:
    assert issubclass(BatchError, ValueError)


def test_batches_are_bounded_in_count_and_bytes() -> None:
    full = [ev(id=str(i)) for i in range(MAX_BATCH)]
    assert len(read_batch(json.dumps(full).encode(), HASH, NOW).events) == MAX_BATCH
    with pytest.raises(BatchError, match=str(MAX_BATCH)):
        read_batch(json.dumps([*full, ev(id="one-more")]).encode(), HASH, NOW)
    with pytest.raises(BatchError, match="bytes"):
        read_batch(b"[" + b" " * MAX_BODY + b"]", HASH, NOW)
    assert read_batch(b"[" + b" " * (MAX_BODY - 2) + b"]", HASH, NOW).events == []


def test_long_texts_are_cut() -> None:
    e = one(user_agent="u" * 2000, fingerprint="f" * 500)
    assert len(e.user_agent) == 512 and len(e.fingerprint) == 128
