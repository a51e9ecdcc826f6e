"""Country and ASN of an address: bundled data, a user's .mmdb files, and the choice between."""

from __future__ import annotations

from pathlib import Path

import pytest

from seawall.geo.lookup import (
    BundledGeo,
    GeoDataError,
    GeoInfo,
    MmdbGeo,
    global_address,
    open_geo,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "geo"
COUNTRY = DATA / "GeoIP2-Country-Test.mmdb"
ASN = DATA / "GeoLite2-ASN-Test.mmdb"


def test_bundled_answers_country_and_network() -> None:
    geo = BundledGeo()
    assert geo.lookup("81.2.69.142") == GeoInfo("GB", 20712, "Andrews & Arnold Ltd")
    assert geo.lookup("1.1.1.1").asn == 13335
    assert geo.lookup("1.1.1.1").as_org == "Cloudflare, Inc."
    assert geo.lookup("8.8.8.8").asn == 15169
    assert geo.lookup("2001:4860:4860::8888").asn == 15169
    assert geo.source.startswith("bundled: iptocc")


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "192.168.0.1",
        "127.0.0.1",
        "::1",
        "192.0.2.7",
        "100.64.0.1",
        "fe80::1",
        "224.0.0.1",
        "",
        "garbage",
        "999.1.1.1",
        "1.2.3",
    ],
)
def test_non_global_or_bad_addresses_answer_empty(address: str) -> None:
    assert BundledGeo().lookup(address) == GeoInfo()


def test_bundled_network_answers_are_cached_and_bounded() -> None:
    geo = BundledGeo(cache_size=2)
    for address in ("1.1.1.1", "1.1.1.1", "8.8.8.8", "81.2.69.142", "1.1.1.1"):
        geo.lookup(address)
    assert (geo.hits, geo.misses) == (1, 4)
    assert len(geo._networks) == 2
    with pytest.raises(ValueError):
        BundledGeo(cache_size=0)


def test_global_address_parses_only_routable_text() -> None:
    assert str(global_address(" 1.1.1.1 ")) == "1.1.1.1"
    assert global_address("10.0.0.1") is None
    assert global_address("nope") is None


def test_mmdb_reads_country_and_asn_files() -> None:
    geo = MmdbGeo(COUNTRY, ASN)
    assert geo.lookup("81.2.69.142") == GeoInfo("GB", None, None)
    assert geo.lookup("89.160.20.112") == GeoInfo("SE", 29518, "Bredband2 AB")
    assert geo.lookup("216.160.83.56") == GeoInfo("US", 209, None)
    assert geo.lookup("1.128.0.0") == GeoInfo(None, 1221, "Telstra Pty Ltd")
    assert geo.lookup("2001:218::1") == GeoInfo("JP", None, None)
    assert geo.lookup("10.0.0.1") == GeoInfo()
    assert geo.lookup("rubbish") == GeoInfo()
    assert geo.source == f"mmdb: {COUNTRY}, {ASN}"
    geo.close()


def test_mmdb_with_one_file_answers_only_its_part() -> None:
    assert MmdbGeo(asn_path=ASN).lookup("89.160.20.112") == GeoInfo(None, 29518, "Bredband2 AB")
    assert MmdbGeo(country_path=COUNTRY).lookup("89.160.20.112") == GeoInfo("SE")


def test_mmdb_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mmdb"
    with pytest.raises(GeoDataError, match=r"country database .*nope\.mmdb: no such file"):
        MmdbGeo(missing, None)
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database at all" * 10)
    with pytest.raises(GeoDataError, match=r"ASN database .*junk\.mmdb: not a readable"):
        MmdbGeo(None, junk)
    with pytest.raises(GeoDataError, match=r"GeoLite2-ASN-Test\.mmdb: type 'GeoLite2-ASN'"):
        MmdbGeo(ASN, None)
    with pytest.raises(GeoDataError, match="is not a ASN database"):
        MmdbGeo(None, COUNTRY)
    with pytest.raises(GeoDataError, match="needs a country database"):
        MmdbGeo()


def test_open_geo_chooses_mmdb_when_a_file_is_named() -> None:
    assert isinstance(open_geo(), BundledGeo)
    assert isinstance(open_geo(asn_mmdb=ASN), MmdbGeo)
    assert open_geo(COUNTRY).lookup("2.125.160.216").country == "GB"
