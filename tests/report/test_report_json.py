"""The JSON report and what `seawall analyze --json` carries for each incident."""

from __future__ import annotations

import json

import pytest
import reportcase as rc

from seawall.report.json import incident_report, render_json
from seawall.report.model import IncidentDataError
from seawall.report.sources import dispersion


def test_incident_report_carries_what_analyze_json_needs() -> None:
    out = incident_report(rc.incident(), rc.mmdb())
    for key in ("id", "start", "end", "targets", "vectors", "peak_rps", "signatures"):
        assert out[key] == rc.INCIDENT[key]
    sources = out["sources"]
    assert {
        k: sources[k]
        for k in (
            "addresses",
            "prefixes",
            "asns",
            "countries",
            "country_entropy",
            "top_country",
            "top_country_share",
            "top_asn",
            "top_asn_org",
            "top_asn_share",
            "at_least",
        )
    } == {
        "addresses": 40,
        "prefixes": 7,
        "asns": 3,
        "countries": 4,
        "country_entropy": 1.7474,
        "top_country": "SE",
        "top_country_share": 0.4,
        "top_asn": 29518,
        "top_asn_org": "Bredband2 AB",
        "top_asn_share": 0.4,
        "at_least": False,
    }
    assert sources["sample"] == rc.SAMPLE  # the incident's own keys are kept
    assert out["attribution"].startswith("Sources: 40 addresses in 4 countries and 3 ASNs;")
    assert out["attribution_case"] == "dispersed"
    assert [p["name"] for p in out["phases"]] == [
        "before_detection",
        "detected",
        "mitigated",
        "after",
    ]
    assert out["dispersion"]["network_types"]["mobile"] == 0.1
    assert "analysis" not in out
    assert rc.INCIDENT["sources"]["addresses"] == 40  # the input is not changed


def test_a_sampled_incident_says_at_least() -> None:
    inc = rc.incident(sources=rc.sources(addresses=48_112, prefixes=3_000, sample_size=40))
    out = incident_report(inc, rc.mmdb())
    assert (out["sources"]["addresses"], out["sources"]["at_least"]) == (48_112, True)
    assert out["sources"]["estimated_addresses"] == 48_112
    assert out["attribution"].endswith("uniform sample of 40 of ~48,112 addresses.")


def test_render_json_is_valid_inert_and_stable() -> None:
    inc = rc.incident(peak_rps=float("nan"))
    inc["signatures"][0]["evidence"]["ratio"] = float("inf")
    d = dispersion(inc["sources"], rc.mmdb())
    text = render_json(inc, d, {"lines": 5, "files": ["a.log"]})
    assert text == render_json(inc, d, {"lines": 5, "files": ["a.log"]})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert back["peak_rps"] is None
    assert back["signatures"][0]["evidence"]["ratio"] is None
    assert back["targets"][0] == rc.HOSTILE_PATH
    assert back["analysis"] == {"lines": 5, "files": ["a.log"]}
    assert back["dispersion"]["geo_source"] == d.geo_source


def test_bad_incidents_are_refused_with_their_fault() -> None:
    with pytest.raises(IncidentDataError, match="'start' is missing"):
        incident_report({"id": "inc-2"}, rc.mmdb())
    with pytest.raises(IncidentDataError, match="expected an object"):
        incident_report("inc-2", rc.mmdb())  # type: ignore[arg-type]
