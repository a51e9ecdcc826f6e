"""The report's sections as tables: what each row says, from the constructed incident."""

from __future__ import annotations

import reportcase as rc

from seawall.report import tables
from seawall.report.model import build
from seawall.report.sources import Share, dispersion


def report(**overrides: object) -> tables.Report:
    inc = rc.incident(**overrides)
    return build(inc, dispersion(inc["sources"], rc.mmdb()))


def test_overview() -> None:
    assert dict(tables.overview(report()).rows) == {
        "incident": "inc-1700000000-1",
        "status": "closed",
        "start": "2023-11-14 22:13:20 UTC",
        "end": "2023-11-14 22:13:29 UTC (9.0 s)",
        "detected": "+2.0 s after the start",
        "mitigated": "+5.0 s after the start",
        "peak attack rate": "812.3/s",
        "attack requests": "6,500",
        "leak after mitigation": "1.2%",
        "vectors": "fingerprint_surge, http_flood",
    }
    still = dict(tables.overview(report(end=None, mitigated=None, status="open")).rows)
    assert (still["end"], still["mitigated"], still["status"]) == ("still open", "—", "open")


def test_dispersion_rows() -> None:
    t = tables.dispersion(report())
    assert dict(t.rows) == {
        "distinct addresses": "40",
        "distinct prefixes (/24, /48)": "7",
        "sample": "40 addresses, complete",
        "countries": "4",
        "ASNs": "3",
        "country entropy": "1.75 bits",
        "top country": "SE (40%)",
        "top ASN": "AS29518 Bredband2 AB (40%)",
        "no country or network known": "5%",
        "private or unroutable": "5%",
        "hosting networks": "0%",
        "residential networks": "20%",
        "mobile networks": "10%",
        "business networks": "20%",
    }
    assert t.note.startswith("network types as the geo database classes them; geo data: mmdb: ")
    sampled = report(sources=rc.sources(addresses=48_112, prefixes=3_000, sample_size=40))
    rows = dict(tables.dispersion(sampled).rows)
    assert rows["distinct addresses"] == "~48,112"
    assert rows["sample"] == "40 addresses of ~48,112 (uniform)"
    assert (rows["countries"], rows["ASNs"]) == ("at least 4", "at least 3")


def test_shares_and_placed_sources() -> None:
    d = report().dispersion
    countries = tables.shares("Countries", d.by_country, "country", limit=2)
    assert countries.headers == ("country", "addresses", "share")
    assert countries.rows == (("SE", "16", "40%"), ("US", "12", "30%"))
    assert countries.note == "2 more not shown"
    asns = tables.shares("Networks", d.by_asn, "ASN")
    assert asns.headers == ("ASN", "name", "addresses", "share")
    assert asns.rows[1] == ("AS209", "", "8", "20%")
    placed = tables.placed("Top addresses", d.top_addresses, "address")
    assert placed.rows[1] == ("149.101.100.1", "80", "US", "AS6167", "CELLCO-PART", "mobile")
    hostile = tables.shares("x", (Share("a\x1b[2Jb", 1, 1.0),), "k")
    assert hostile.rows == (("a\\x1b[2Jb", "1", "100%"),)


def test_targets_with_and_without_counts() -> None:
    plain = tables.targets(report())
    assert plain.headers == ("rank", "target")
    assert plain.rows[0] == ("1", rc.HOSTILE_PATH)
    counted = tables.targets(report(targets=[{"target": "/a", "requests": 10}, "/b", None, 3]))
    assert counted.headers == ("rank", "target", "requests")
    assert counted.rows == (("1", "/a", "10"), ("2", "/b", ""), ("4", "3", ""))
    assert tables.targets(report(targets="/not-a-list")).rows == ()


def test_signature_attributes_actions_collateral() -> None:
    (sig,) = tables.signatures(report())
    assert sig.title == "auto-3f2a · http_flood · http_flood"
    assert sig.attributes.rows[0] == ("ua", rc.HOSTILE_UA, "98%", "1.0%", "0.97")
    assert sig.strengths == (("ua", 0.97), ("prefix", 0.55))
    assert dict(sig.evidence.rows)["path"] == rc.HOSTILE_PATH
    many = rc.INCIDENT["signatures"][0] | {
        "attributes": [{"attribute": "prefix", "values": [f"10.0.{i}.0/24" for i in range(11)]}]
    }
    (wide,) = tables.signatures(report(signatures=[many]))
    assert wide.attributes.rows[0][1].endswith("10.0.7.0/24 (+3 more)")
    actions = tables.actions(report())
    assert actions.rows[0] == (
        "+5.0 s",
        "apply",
        "block",
        "auto-3f2a",
        f"auto: http_flood (ua={rc.HOSTILE_UA})",
        "0.10%",
        "0%",
        "620.0/s → 640.0/s",
        "640.0/s → 28.0/s",
    )
    assert tables.collateral(report()).rows == (
        ("estimated, auto-3f2a", "0.10% (user 0%, anonymous 0.10%)"),
        ("measured, auto-3f2a (apply)", "0%"),
        ("attack let through after mitigation", "1.2%"),
    )


def test_analysis_summary() -> None:
    inc = rc.incident()
    r = build(
        inc,
        dispersion(inc["sources"], rc.mmdb()),
        {
            "lines": 1_300_000,
            "malformed": 12,
            "lines_per_s": 512_345.6,
            "files": ["a.log", "b\n.log"],
        },
    )
    t = tables.summary(r)
    assert t is not None
    assert t.rows == (
        ("log lines read", "1,300,000"),
        ("malformed lines", "12"),
        ("lines per second", "512,346"),
        ("files", "a.log, b\\n.log"),
    )
    assert tables.summary(build(inc, r.dispersion)) is None
