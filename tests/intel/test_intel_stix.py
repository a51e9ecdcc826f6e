"""STIX 2.1 out (validated) and in (simple address patterns only; hostile input refused)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stix2validator
from hypothesis import example, given, settings
from hypothesis import strategies as st
from intelcases import NOW, START, TTL, incident, ind

from seawall.core.facts import ClientClass
from seawall.intel import IntelError, Reading, from_incident, to_rules
from seawall.intel.stix import export_stix, parse_pattern, parse_stix, validation_errors

IDENTITY = "identity--0b5a6f0e-6f1c-4a3c-9b3b-1b0c4a0b9f10"


def _valid(text: str) -> bool:
    options = stix2validator.ValidationOptions(version="2.1")
    return bool(stix2validator.validate_parsed_json(json.loads(text), options).is_valid)


@pytest.fixture(scope="module")
def exported() -> str:
    return export_stix(from_incident(incident(), NOW, TTL), NOW, incident())


def test_the_export_is_valid_stix_2_1(exported: str) -> None:
    assert _valid(exported)
    assert validation_errors(exported) == []


def test_the_export_holds_identity_indicators_and_the_report(exported: str) -> None:
    objs = json.loads(exported)["objects"]
    assert [o["type"] for o in objs] == ["identity"] + ["indicator"] * 5 + ["report"]
    ident, first, report = objs[0], objs[1], objs[-1]
    assert (ident["name"], ident["identity_class"]) == ("seawall", "system")
    assert first["pattern"] == "[ipv4-addr:value = '45.10.20.0/24']"
    assert first["pattern_type"] == "stix" and first["confidence"] == 90
    assert first["valid_from"] == "2023-11-14T22:13:20Z"
    assert first["valid_until"] == "2023-11-14T23:20:00Z"  # NOW + TTL
    assert first["labels"] == first["indicator_types"] == ["malicious-activity"]
    assert all(o["created_by_ref"] == ident["id"] for o in objs[1:])
    assert objs[4]["pattern"] == "[ipv6-addr:value = '2a02:1234:5678::/48']"
    assert report["object_refs"] == [o["id"] for o in objs[1:-1]]
    assert report["published"] == "2023-11-14T22:20:00Z"
    assert report["external_references"] == [
        {"source_name": "seawall", "external_id": "inc-1700000000-1"}
    ]
    desc = report["description"]
    assert "/users/cyxymu" in desc and "http_flood, fingerprint_surge" in desc and "812" in desc


def test_the_export_is_reproducible_and_names_the_platform() -> None:
    inds = from_incident(incident(), NOW, TTL, source="example-social")
    a = export_stix(inds, NOW, incident(), platform="example-social")
    assert a == export_stix(inds, NOW, incident(), platform="example-social")
    assert json.loads(a)["objects"][0]["name"] == "example-social"
    later = json.loads(export_stix(inds, NOW + 60, incident(), platform="example-social"))
    # a later export: new versions of the same objects
    assert [o["id"] for o in later["objects"]] == [o["id"] for o in json.loads(a)["objects"]]


def test_expired_indicators_are_not_exported_and_an_empty_report_is_still_valid() -> None:
    text = export_stix([ind("45.1.1.1", valid_until=NOW)], NOW, incident())
    objs = json.loads(text)["objects"]
    assert [o["type"] for o in objs] == ["identity", "report"] and _valid(text)
    # indicators alone (a peer's, passed on): no report
    text = export_stix([ind("45.1.1.1")], NOW)
    assert [o["type"] for o in json.loads(text)["objects"]] == ["identity", "indicator"]
    assert _valid(text)


def test_round_trip_gives_the_same_indicators_and_the_same_rules(exported: str) -> None:
    original = from_incident(incident(), NOW, TTL)
    back = parse_stix(exported, "peer.json", NOW + 5)
    assert back.skipped == {} and back.problems == ()
    assert sorted(back.indicators, key=lambda i: i.value) == sorted(original, key=lambda i: i.value)
    wall, mono = NOW + 5, 1234.5
    mine = to_rules(original, wall, mono)
    theirs = to_rules(back.indicators, wall, mono)
    assert mine == theirs and len(mine.rules) == 1
    (rule,) = theirs.rules
    assert rule.match.classes == frozenset({ClientClass.ANONYMOUS})
    assert rule.expires == mono + TTL - 5
    assert set(rule.match.cidrs) == {i.value for i in original}


def _bundle(*objects: dict[str, Any]) -> str:
    return json.dumps({"type": "bundle", "id": "bundle--1", "objects": list(objects)})


def _indicator(pattern: str, n: int = 1, **extra: Any) -> dict[str, Any]:
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
        "created": "2023-11-14T00:00:00Z",
        "modified": "2023-11-14T00:00:00Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2023-11-14T00:00:00Z",
        "created_by_ref": IDENTITY,
    }
    obj.update(extra)
    return obj


PEER = {"type": "identity", "id": IDENTITY, "name": "Peer CERT", "identity_class": "organization"}


def test_a_peer_bundle_takes_simple_address_patterns_and_skips_the_rest() -> None:
    text = _bundle(
        PEER,
        _indicator("[ipv4-addr:value = '45.1.1.1' OR ipv4-addr:value = '45.1.2.0/24']", 1),
        _indicator(
            "[ipv6-addr:value ISSUBSET '2a02:1234::/32'] OR [ipv4-addr:value = '45.1.3.3']", 2
        ),
        _indicator("[domain-name:value = 'evil.example']", 3),
        _indicator("[ipv4-addr:value = '45.9.9.1' AND ipv4-addr:value = '45.9.9.2']", 4),
        _indicator("[ipv4-addr:value != '45.9.9.3']", 5),
        _indicator("[ipv4-addr:value = '45.9.9.4'] WITHIN 10 SECONDS", 6),
        _indicator("[network-traffic:src_ref.value = '45.9.9.5']", 7),
        _indicator("alert tcp any any", 8, pattern_type="snort"),
        _indicator("[ipv4-addr:value = '45.9.9.6']", 9, revoked=True),
        _indicator("[ipv4-addr:value = '45.9.9.7']", 10, valid_until="2023-11-14T01:00:00Z"),
        _indicator("[ipv4-addr:value = '45.9.9.8']", 11, valid_from="2030-01-01T00:00:00Z"),
        _indicator("[ipv4-addr:value = '2a02::1']", 12),
        _indicator("[ipv4-addr:value = '10.0.0.1']", 13),
        {"type": "malware", "id": "malware--1", "name": "x"},
    )
    parsed = parse_stix(text, "peer.json", NOW)
    assert sorted(i.value for i in parsed.indicators) == [
        "2a02:1234::/32",
        "45.1.1.1",
        "45.1.2.0/24",
        "45.1.3.3",
    ]
    assert parsed.skipped == {
        "unsupported_pattern": 6,
        "revoked": 1,
        "expired": 1,
        "not_yet_valid": 1,
        "not_an_address": 1,
        "special": 1,
        "not_an_indicator": 1,
    }
    first = parsed.indicators[0]
    assert (first.source, first.confidence, first.valid_until) == ("Peer CERT", 50, NOW + 86400)
    assert any("evil.example" in p and "only ipv4-addr" in p for p in parsed.problems)


def test_the_newest_version_counts_and_provenance_can_be_given() -> None:
    old = _indicator("[ipv4-addr:value = '45.1.1.1']", 1, modified="2023-11-14T00:00:00Z")
    new = _indicator(
        "[ipv4-addr:value = '45.2.2.2']", 1, modified="2023-11-14T01:00:00Z", confidence=85
    )
    parsed = parse_stix(_bundle(new, old), "b.json", NOW, Reading(source="feed-7", ttl=60))
    (got,) = parsed.indicators
    assert (got.value, got.confidence, got.source) == ("45.2.2.2", 85, "feed-7")
    assert got.valid_until == NOW + 60 and parsed.skipped == {"older_version": 1}
    no_creator = _indicator("[ipv4-addr:value = '45.3.3.3']", 2, created_by_ref=None)
    (got,) = parse_stix(_bundle(no_creator), "b.json", NOW).indicators
    assert got.source == "b.json"


@pytest.mark.parametrize(
    ("pattern", "found"),
    [
        ("[ipv4-addr:value = '1.2.3.4']", [("ipv4-addr", "1.2.3.4")]),
        (" [ ipv4-addr:value='1.2.3.0/24' or ipv4-addr:value = '5.6.7.8' ] ", None),
        ("[ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '5.6.7.8']", 2),
        ("[ipv6-addr:value ISSUBSET '2a02::/32']", [("ipv6-addr", "2a02::/32")]),
        ("[ipv6-addr:value issubset '2a02::/32']", None),  # keywords are upper case
        ("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']", None),
        ("[ipv4-addr:value = '1.2.3.4'] AND [ipv4-addr:value = '1.2.3.5']", None),
        ("[ipv4-addr:value MATCHES '^1\\.2']", None),
        ("[ipv4-addr:value = 'x' ]", None),
        ("[ipv4-addr:value = '1.2.3.4'", None),
        ("[ipv4-addr:value = '1.2.3.4' OR " * 5000 + "]", None),
    ],
)
def test_patterns(pattern: str, found: list[tuple[str, str]] | int | None) -> None:
    got = parse_pattern(pattern)
    if isinstance(found, int):
        assert got is not None and len(got) == found
    else:
        assert got == found


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not json at all", "is not JSON"),
        (b"\xff\xfe{}", "is not UTF-8"),
        (b"[1, 2]", "is not a STIX bundle"),
        (b'{"type": "report"}', "is not a STIX bundle"),
        (b'{"type": "bundle", "objects": {"a": 1}}', '"objects" is not a list'),
        (b"[" * 100_000 + b"]" * 100_000, "nests JSON deeper than 32"),
        (b'{"type": "bundle", "objects": ' + b"[" * 40 + b"]" * 40 + b"}", "deeper than 32"),
        (b" " * (2 * 1024 * 1024 + 1), "at most 2097152"),
    ],
)
def test_hostile_input_is_refused_with_the_file_named(data: bytes, says: str) -> None:
    with pytest.raises(IntelError) as err:
        parse_stix(data, "peer.json", NOW, Reading(max_bytes=2 * 1024 * 1024))
    assert str(err.value).startswith("peer.json: ") and says in str(err.value)


def test_wrong_types_inside_a_bundle_are_skipped_not_fatal() -> None:
    text = _bundle(
        "a string",  # type: ignore[arg-type]
        {"type": "indicator"},
        _indicator(7, 1),  # type: ignore[arg-type]
        _indicator("[ipv4-addr:value = '45.1.1.1']", 2, confidence="high"),
        _indicator("[ipv4-addr:value = '45.1.1.1']", 3, confidence=True),
        _indicator("[ipv4-addr:value = '45.1.1.1']", 4, valid_until=12),
        _indicator("[ipv4-addr:value = '45.1.1.1']", 5, valid_from="yesterday"),
        _indicator("[ipv4-addr:value = '45.1.1.1']", 6, modified=None),
        {"type": "report", "id": "report--1", "object_refs": "all", "external_references": 5},
        {"type": "identity", "id": "identity--2", "name": ["x"]},
    )
    parsed = parse_stix(text, "peer.json", NOW)
    assert [i.value for i in parsed.indicators] == ["45.1.1.1"]
    assert parsed.skipped == {"bad_object": 7}
    assert parsed.problems[:3] == (
        "peer.json: objects[0] is not a STIX object with an id",
        "peer.json: objects[1] is not a STIX object with an id",
        "peer.json: indicator--00000000-0000-4000-8000-000000000001: pattern is not text",
    )
    assert "confidence is not an integer 0-100" in parsed.problems[3]
    assert "valid_from or valid_until is not a timestamp" in parsed.problems[5]


def test_validation_errors_catch_a_broken_bundle() -> None:
    broken = _bundle(_indicator("[ipv4-addr:value = '45.1.1.1']", pattern_type=None))
    assert validation_errors(broken)
    assert not _valid(broken)


def test_a_start_time_is_kept_on_import() -> None:
    (got,) = parse_stix(_bundle(_indicator("[ipv4-addr:value = '45.1.1.1']")), "x", NOW).indicators
    assert got.valid_from == START - 22 * 3600 - 13 * 60 - 20  # 2023-11-14T00:00:00Z


# ---- fuzzed: any input is read or refused with IntelError, never anything else --------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=30,
)
KEYS = st.sampled_from(
    [
        "type",
        "id",
        "pattern",
        "pattern_type",
        "valid_from",
        "valid_until",
        "revoked",
        "confidence",
        "created_by_ref",
        "modified",
        "name",
        "object_refs",
        "external_references",
        "description",
    ]
)
OBJECT = st.dictionaries(KEYS, JSON | st.sampled_from(["indicator", "identity", "report"]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_read_or_refused(data: bytes) -> None:
    try:
        parse_stix(data, "f", NOW)
    except IntelError as err:
        assert str(err).startswith("f: ")


@settings(max_examples=300, deadline=None)
@given(st.lists(OBJECT | JSON, max_size=6))
@example([{"type": "report", "id": "report--x", "external_references": [{}]}])  # once raised
def test_any_objects_in_a_bundle_are_read_or_skipped(objects: list[Any]) -> None:
    parsed = parse_stix(_bundle(*objects), "f", NOW)
    assert len(parsed.problems) <= 20
    for i in parsed.indicators:
        assert i.valid_until > NOW and 0 <= i.confidence <= 100


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="[]' =ORANDipv46-addr:value0123456789./afISUBET", max_size=80))
def test_any_pattern_parses_or_is_unsupported(pattern: str) -> None:
    found = parse_pattern(pattern)
    assert found is None or all(f in ("ipv4-addr", "ipv6-addr") for f, _ in found)
