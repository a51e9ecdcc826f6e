"""`seawall analyze` and `seawall report` from the command line: logs in, reports out."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from seawall.cli import main
from seawall.forensics import UsageError, geo_from, is_major, parse_time
from seawall.geo.lookup import BundledGeo, MmdbGeo
from seawall.store.incidents import IncidentStore

from replaylog import FAMOUS, attack_log, combined_log

GEO = Path(__file__).parent / "data" / "geo"
REQUIRED_SOURCES = {
    "addresses",
    "prefixes",
    "asns",
    "countries",
    "country_entropy",
    "top_country",
    "top_country_share",
    "top_asn_share",
}


@pytest.fixture(scope="module")
def access_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "access.log"
    path.write_text(combined_log(attack_log()) + "this is not a log line\n")
    return path


def analyze(*args: str) -> tuple[int, str]:
    got = CliRunner().invoke(main, ["analyze", "--no-progress", *args])
    return got.exit_code, got.output


def test_analyze_finds_the_flood_and_writes_json_and_an_html_report(
    access_log: Path, tmp_path: Path
) -> None:
    out_json, out_html = tmp_path / "a.json", tmp_path / "r.html"
    code, text = analyze(str(access_log), "--json", str(out_json), "--report", str(out_html))
    assert code == 0, text
    summary = json.loads(out_json.read_text())
    assert summary["lines"] == 150 * 40 + 30 * 600 + 1
    assert summary["malformed"] == 1 and summary["lines_per_s"] > 0
    assert summary["malformed_samples"][0]["line"] == summary["lines"]
    (inc,) = summary["incidents"]
    for key in (
        "id",
        "start",
        "end",
        "targets",
        "vectors",
        "peak_rps",
        "signatures",
        "attribution",
    ):
        assert key in inc, key
    assert set(inc["sources"]) >= REQUIRED_SOURCES
    assert FAMOUS in inc["targets"] and "http_flood" in inc["vectors"]
    assert 280 <= inc["sources"]["addresses"] <= 320
    assert "do not support attributing" in inc["attribution"] or "addresses" in inc["attribution"]
    html = out_html.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and FAMOUS in html
    assert "access.log (combined, 24,001 lines)" in html  # the files read, as prose
    assert "1 incident(s)" in text and "malformed" in text


def test_what_if_scores_candidate_rules(access_log: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\nid = "old-chrome"\naction = "block"\nmatch = { ua_families = ["Chrome/49"] }\n'
    )
    out = tmp_path / "a.json"
    code, text = analyze(str(access_log), "--what-if", str(rules), "--json", str(out))
    assert code == 0, text
    (row,) = json.loads(out.read_text())["what_if"]["rules"]
    assert row["rule"] == "old-chrome" and row["caught_share"] >= 0.95
    assert row["collateral_requests"] == 0
    assert "what-if" in text


def test_a_gzip_with_a_corrupt_tail_is_read_up_to_the_damage(
    access_log: Path, tmp_path: Path
) -> None:
    data = gzip.compress(access_log.read_bytes())
    broken = tmp_path / "access.log.gz"
    broken.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "a.json"
    code, text = analyze(str(broken), "--json", str(out))
    assert code == 0, text
    summary = json.loads(out.read_text())
    assert summary["corrupt"] and 5000 < summary["lines"] < 24_000
    assert "corrupt" in text


def test_since_and_until_take_iso_times() -> None:
    assert parse_time("2023-11-14T22:13:20Z", "since") == 1_700_000_000.0
    assert parse_time("2023-11-14T22:13:20", "since") == 1_700_000_000.0  # naive is UTC
    assert parse_time("1700000000.5", "until") == 1_700_000_000.5
    assert parse_time(None, "since") is None
    with pytest.raises(UsageError, match="ISO 8601"):
        parse_time("yesterday", "since")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/access.log"], "no such file"),
        (["{log}", "--format", "klingon"], "klingon"),
        (["{log}", "--since", "soon"], "ISO 8601"),
    ],
)
def test_operator_mistakes_exit_2_with_a_clear_message(
    access_log: Path, args: list[str], message: str
) -> None:
    code, text = analyze(*[a.replace("{log}", str(access_log)) for a in args])
    assert code == 2 and message in text and "Traceback" not in text


def test_a_file_in_no_known_format_is_refused_by_name(tmp_path: Path) -> None:
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"\x00\x01binary\xff\n" * 20)
    code, text = analyze(str(junk))
    assert code == 2 and "junk.log" in text


def test_geo_databases_are_told_apart_by_their_type() -> None:
    geo = geo_from((str(GEO / "GeoLite2-ASN-Test.mmdb"), str(GEO / "GeoIP2-Country-Test.mmdb")))
    assert isinstance(geo, MmdbGeo)
    info = geo.lookup("81.2.69.160")
    assert info.country == "GB"
    assert isinstance(geo_from(()), BundledGeo)
    with pytest.raises(UsageError, match="second country"):
        geo_from((str(GEO / "GeoIP2-Country-Test.mmdb"),) * 2)
    with pytest.raises(UsageError, match="not a readable"):
        geo_from((str(GEO / "LICENSE-MIT"),))


def test_report_renders_an_incident_from_analyze_json_and_from_the_store(
    access_log: Path, tmp_path: Path
) -> None:
    out = tmp_path / "a.json"
    assert analyze(str(access_log), "--json", str(out))[0] == 0
    inc = json.loads(out.read_text())["incidents"][0]
    runner = CliRunner()
    got = runner.invoke(main, ["report", inc["id"], "--from", str(out), "--format", "markdown"])
    assert got.exit_code == 0, got.output
    assert got.output.startswith("#") and FAMOUS in got.output
    db = tmp_path / "seawall.db"
    store = IncidentStore(str(db))
    store.save({k: v for k, v in inc.items() if k not in ("dispersion", "attribution")})
    store.close()
    html = tmp_path / "r.html"
    got = runner.invoke(
        main, ["report", inc["id"], "--store", str(db), "--format", "html", "-o", str(html)]
    )
    assert got.exit_code == 0, got.output
    assert "<svg" in html.read_text()
    got = runner.invoke(main, ["report", "inc-nope", "--store", str(db)])
    assert got.exit_code == 2 and inc["id"] in got.output  # names what is there


def test_probes_are_listed_and_floods_shown_in_full() -> None:
    assert is_major({"vectors": ["http_flood"], "attack_requests": 10})
    assert not is_major({"vectors": ["scanner"], "attack_requests": 12})
    assert is_major({"vectors": ["scanner"], "attack_requests": 5000})
