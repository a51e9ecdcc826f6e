"""Indicators from an incident report: what is evidence, how sure, and what is never shared."""

from __future__ import annotations

from typing import Any

import pytest
from intelcases import NOW, START, TTL, incident

from seawall.intel import Bounds, IntelError, from_incident
from seawall.intel.derive import Derivation, derive, signature_confidence


def _table(found: list[Any]) -> list[tuple[str, str, int, str]]:
    return [(i.kind, i.value, i.confidence, i.description) for i in found]


def test_an_incident_yields_its_separable_prefixes_and_busiest_sources() -> None:
    found = from_incident(incident(), NOW, TTL)
    assert _table(found) == [
        ("cidr4", "45.10.20.0/24", 90, "http_flood signature auto-3f2a0000"),
        ("cidr4", "81.2.3.0/24", 70, "top attacking prefix: 1000 attack requests"),
        ("cidr4", "92.5.6.0/24", 50, "top attacking prefix: 12 attack requests"),
        ("cidr6", "2a02:1234:5678::/48", 90, "http_flood signature auto-3f2a0000"),
        ("ipv6", "2a05:d014::7", 50, "top attacking address: 15 attack requests"),
    ]
    for i in found:
        assert (i.valid_from, i.valid_until) == (START, NOW + TTL)
        assert (i.source, i.incident) == ("seawall", "inc-1700000000-1")


def test_what_was_left_out_is_counted_by_reason() -> None:
    parsed = derive(incident(), NOW, Derivation(ttl=TTL))
    assert parsed.skipped == {
        "special": 3,  # 10.1.2.0/24, 198.18.0.1, 127.0.0.1
        "duplicate": 1,  # 45.10.20.0/24 again, as a top prefix (the surer one kept)
        "few_requests": 1,  # 93.184.216.34 with 9
        "covered": 1,  # 45.10.20.7 inside 45.10.20.0/24
    }
    assert any("10.1.2.0/24 is private" in p for p in parsed.problems)


def test_private_and_reserved_networks_only_when_asked() -> None:
    how = Derivation(ttl=TTL, bounds=Bounds(allow_special=True))
    values = {i.value for i in derive(incident(), NOW, how).indicators}
    assert {"10.1.2.0/24", "198.18.0.1", "127.0.0.1"} <= values


def test_min_requests_is_configurable() -> None:
    values = {i.value for i in from_incident(incident(), NOW, TTL, min_requests=5)}
    assert "93.184.216.34" in values
    values = {i.value for i in from_incident(incident(), NOW, TTL, min_requests=20)}
    assert "92.5.6.0/24" not in values and "2a05:d014::7" not in values


def test_a_non_separable_signature_is_no_evidence() -> None:
    assert all(i.value != "77.88.99.0/24" for i in from_incident(incident(), NOW, TTL))


@pytest.mark.parametrize(
    ("sig", "attr", "confidence"),
    [
        ({"confidence": 0.9, "coverage": 0.97}, {"baseline_share": 0.0005}, 90),
        ({"confidence": 0.9, "coverage": 0.97}, {"baseline_share": 0.005}, 68),  # x 0.75
        ({"confidence": 0.9, "coverage": 0.97}, {"baseline_share": 0.03}, 45),  # x 0.5
        ({"confidence": 0.9, "coverage": 0.97}, {"baseline_share": 0.2}, 0),  # not exported
        ({"confidence": 0.9, "coverage": 0.6}, {"baseline_share": 0.0}, 72),  # x 0.8
        ({"confidence": 0.9, "coverage": 0.1}, {"baseline_share": 0.0}, 54),  # x 0.6
        ({"coverage": 1.0}, {"baseline_share": 0.0}, 50),  # no confidence: 0.5
        ({"confidence": 1.0, "coverage": 1.0, "baseline_known": False}, {"baseline_share": 0}, 50),
        ({"confidence": 1.0, "coverage": 1.0, "verified_users_matched": 3}, {}, 0),  # share 1.0
        (
            {"confidence": 1.0, "coverage": 1.0, "verified_apps_matched": 1},
            {"baseline_share": 0.0},
            50,
        ),
    ],
)
def test_signature_confidence_follows_the_table(
    sig: dict[str, Any], attr: dict[str, Any], confidence: int
) -> None:
    assert signature_confidence(sig, attr) == confidence


def test_a_prefix_with_too_much_collateral_is_not_exported() -> None:
    inc = incident()
    inc["signatures"][0]["attributes"][1]["baseline_share"] = 0.2
    parsed = derive(inc, NOW, Derivation(ttl=TTL))
    assert "2a02:1234:5678::/48" not in {i.value for i in parsed.indicators}
    assert parsed.skipped["collateral"] == 3
    # the busiest sources still count, on their own evidence
    assert ("45.10.20.0/24", 70) in {(i.value, i.confidence) for i in parsed.indicators}


def test_malformed_parts_are_skipped_and_a_non_incident_refused() -> None:
    inc = incident()
    inc["sources"]["top_addresses"] = [
        "45.1.1.1",
        {"address": 7, "requests": 100},
        {"address": "not-an-ip", "requests": 100},
        {"address": "45.1.1.2", "requests": "many"},
    ]
    inc["signatures"].append({"separable": True, "attributes": "prefix"})
    inc["timeline"] = None
    parsed = derive(inc, NOW)
    assert parsed.skipped["bad_entry"] == 2  # "45.1.1.1" is no object; 7 is no text
    assert parsed.skipped["not_an_address"] == 1
    assert parsed.skipped["few_requests"] == 1  # "many" requests count as none
    assert any("'not-an-ip' is not an address" in p for p in parsed.problems)
    for bad in ([], {"status": "open"}, {"id": 3}):
        with pytest.raises(IntelError, match="not an incident report"):
            derive(bad, NOW)  # type: ignore[arg-type]


def test_untrusted_text_in_an_incident_stays_on_one_line() -> None:
    inc = incident()
    inc["id"] = "inc-1\n45.0.0.0/8 1;"
    inc["signatures"][0]["vector"] = "flood\r\n}"
    found = from_incident(inc, NOW, TTL)
    assert all("\n" not in i.incident + i.description for i in found)
    assert found[0].incident == "inc-1?45.0.0.0/8 1;"
