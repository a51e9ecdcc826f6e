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
    network_type,
    open_geo,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "geo"
COUNTRY = DATA / "GeoIP2-Country-Test.mmdb"
ASN = DATA / "GeoLite2-ASN-Test.mmdb"
CONNECTION = DATA / "GeoIP2-Connection-Type-Test.mmdb"
ENTERPRISE = DATA / "GeoIP2-Enterprise-Test.mmdb"


def test_bundled_answers_country_and_network() -> None:
    geo = BundledGeo()
    # plevin classes AS20712 by its operator: tagged mobile, so every address of it is "mobile"
    assert geo.lookup("81.2.69.142") == GeoInfo("GB", 20712, "Andrews & Arnold Ltd", "mobile")
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
    with pytest.raises(GeoDataError, match=r"type 'GeoLite2-ASN' is not a network-type database"):
        MmdbGeo(network_path=ASN)
    with pytest.raises(GeoDataError, match=r"type 'GeoIP2-Connection-Type' is not a country"):
        MmdbGeo(CONNECTION)


def test_open_geo_chooses_mmdb_when_a_file_is_named() -> None:
    assert isinstance(open_geo(), BundledGeo)
    assert isinstance(open_geo(asn_mmdb=ASN), MmdbGeo)
    assert open_geo(COUNTRY).lookup("2.125.160.216").country == "GB"


@pytest.mark.parametrize(
    ("user_type", "connection_type", "expected"),
    [
        ("hosting", None, "hosting"),
        ("residential", "Cable/DSL", "residential"),
        ("cellular", "Cellular", "mobile"),
        ("business", None, "business"),
        ("government", "Corporate", "government"),  # the user type is the more specific
        ("content_delivery_network", None, "cdn"),
        (None, "Cellular", "mobile"),
        (None, "Cable/DSL", "residential"),
        (None, "Corporate", "business"),
        (None, "Satellite", "satellite"),
        (None, "Dialup", "dialup"),
        (None, "Carrier pigeon", None),
        ("", "", None),
        (None, None, None),
        (7, ["Cellular"], None),
    ],
)
def test_network_type_words(user_type: object, connection_type: object, expected: str) -> None:
    assert network_type(user_type, connection_type) == expected


def test_mmdb_connection_type_file_answers_network_type() -> None:
    geo = MmdbGeo(COUNTRY, ASN, CONNECTION)
    assert geo.lookup("1.0.0.1") == GeoInfo(None, 15169, "Google Inc.", "residential")
    assert geo.lookup("1.0.1.9") == GeoInfo(network_type="mobile")
    assert geo.lookup("149.101.100.3") == GeoInfo("US", 6167, "CELLCO-PART", "mobile")
    assert geo.lookup("216.160.83.57") == GeoInfo("US", 209, None, "business")
    assert geo.lookup("214.78.120.5") == GeoInfo(
        "US", 721, "DoD Network Information Center", "satellite"
    )
    assert geo.lookup("2003::1") == GeoInfo(None, 3320, "Deutsche Telekom AG", "residential")
    assert geo.lookup("89.160.20.112") == GeoInfo("SE", 29518, "Bredband2 AB", None)
    assert geo.source == f"mmdb: {COUNTRY}, {ASN}, {CONNECTION}"
    geo.close()


def test_mmdb_enterprise_file_answers_everything_it_holds() -> None:
    geo = MmdbGeo(ENTERPRISE)
    assert geo.lookup("74.209.24.7") == GeoInfo(
        "US", 14671, "FairPoint Communications", "residential"
    )
    assert geo.lookup("1.124.213.1") == GeoInfo(
        "IR", 44244, "Iran Cell Service and Communication Company", "mobile"
    )
    assert geo.lookup("214.214.214.220") == GeoInfo(None, None, None, "hosting")
    assert geo.lookup("1.9.127.107") == GeoInfo(None, None, None, "business")
    assert geo.lookup("214.214.214.221") == GeoInfo(None, None, None, "cdn")
    assert geo.lookup("81.2.69.170") == GeoInfo("GB", None, None, "government")
    assert geo.lookup("149.101.100.1") == GeoInfo("US", 6167, "CELLCO-PART", None)
    # an ASN file, when named, answers the ASN; the enterprise file still the rest
    with_asn = MmdbGeo(ENTERPRISE, ASN)
    assert with_asn.lookup("74.209.24.7") == GeoInfo("US", None, None, "residential")
    # as the network-type file beside a country file: its type, the country file's country
    beside = MmdbGeo(COUNTRY, None, ENTERPRISE)
    assert beside.lookup("74.209.24.7") == GeoInfo("US", None, None, "residential")
    assert beside.lookup("89.160.20.113") == GeoInfo("SE", None, None, "government")
    # a connection-type answer wins over the enterprise file's own
    both = MmdbGeo(ENTERPRISE, None, CONNECTION)
    assert both.lookup("216.160.83.56") == GeoInfo("US", 209, None, "business")
    for held in (geo, with_asn, beside, both):
        held.close()


def test_bundled_network_type_is_the_operators() -> None:
    geo = BundledGeo()
    assert geo.lookup("1.1.1.1").network_type == "hosting"
    assert geo.lookup("24.0.0.1") == GeoInfo(
        "US", 7922, "Comcast Cable Communications, LLC", "residential"
    )
    assert geo.lookup("172.56.1.1").network_type == "mobile"
    assert geo.lookup("10.0.0.1").network_type is None
    assert geo.source.endswith("(network type per operator)")


def test_open_geo_takes_a_network_type_file() -> None:
    geo = open_geo(network_mmdb=CONNECTION)
    assert isinstance(geo, MmdbGeo)
    assert geo.lookup("1.0.1.1") == GeoInfo(network_type="mobile")
