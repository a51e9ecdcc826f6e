"""Dispersion figures from an incident's sources, exact on MaxMind's test databases."""

from __future__ import annotations

import random

import pytest
import reportcase as rc

from seawall.geo.lookup import GeoInfo, MmdbGeo
from seawall.report.sources import Placed, Share, dispersion, distinct_sample, entropy


def test_a_complete_sample_gives_exact_figures() -> None:
    d = dispersion(rc.sources(), rc.mmdb())
    assert (d.addresses, d.estimated_addresses, d.sampled, d.sample_size) == (40, 40, 40, 4096)
    assert d.complete and not d.at_least
    assert d.prefixes == 7  # five public /24 or /48 and two private /24
    assert (d.countries, d.asns) == (4, 3)
    assert d.by_country == (
        Share("SE", 16, 0.4),
        Share("US", 12, 0.3),
        Share("GB", 8, 0.2),
        Share("JP", 2, 0.05),
    )
    assert d.by_asn == (
        Share("AS29518", 16, 0.4, "Bredband2 AB"),
        Share("AS209", 8, 0.2, None),
        Share("AS6167", 4, 0.1, "CELLCO-PART"),
    )
    assert d.country_entropy == pytest.approx(rc.ENTROPY, abs=1e-12)
    assert (d.top_country, d.top_country_share) == ("SE", 0.4)
    assert (d.top_asn, d.top_asn_org, d.top_asn_share) == (29518, "Bredband2 AB", 0.4)
    assert d.top_asn_network_type is None  # the connection-type file says nothing of it
    assert (d.unknown_share, d.unroutable_share) == (0.05, 0.05)
    assert d.by_network_type == (
        Share("business", 8, 0.2),
        Share("residential", 8, 0.2),
        Share("mobile", 4, 0.1),
    )
    assert d.typed_share == 0.5
    assert [d.type_share(k) for k in ("hosting", "residential", "mobile", "business")] == [
        0.0,
        0.2,
        0.1,
        0.2,
    ]
    assert d.geo_source.startswith("mmdb: ")


def test_an_incomplete_sample_gives_lower_bounds_and_the_estimate() -> None:
    d = dispersion(rc.sources(addresses=48_112, prefixes=3_000, sample_size=40), rc.mmdb())
    assert not d.complete and d.at_least
    assert (d.addresses, d.estimated_addresses, d.prefixes) == (48_112, 48_112, 3_000)
    assert (d.countries, d.asns, d.top_country_share) == (4, 3, 0.4)  # counted in the sample
    # an estimate below what the sample already holds is raised to the sample
    low = dispersion(rc.sources(addresses=10, prefixes=1, sample_size=40), rc.mmdb())
    assert (low.addresses, low.prefixes) == (40, 7)


def test_without_sample_size_the_sample_is_complete_when_it_covers_the_estimate() -> None:
    held = rc.sources()
    del held["sample_size"]
    assert dispersion(held, rc.mmdb()).complete
    assert not dispersion(held | {"addresses": 41}, rc.mmdb()).complete


def test_order_duplicates_and_spellings_do_not_change_the_figures() -> None:
    shuffled = [*rc.SAMPLE, "::ffff:89.160.20.112", " 89.160.20.113", "2001:0218::1"]
    random.Random(7).shuffle(shuffled)
    a = dispersion(rc.sources(shuffled, addresses=40), rc.mmdb())
    b = dispersion(rc.sources(), rc.mmdb())
    assert a == b
    assert distinct_sample(["10.0.0.2", "2001:db8::1", "junk", "10.0.0.1", "10.0.0.2"]) == (
        "10.0.0.1",
        "10.0.0.2",
        "2001:db8::1",
        "junk",
    )


def test_missing_or_malformed_sources_give_empty_figures() -> None:
    geo = rc.mmdb()
    for raw in (None, {}, {"sample": "1.2.3.4", "addresses": "many", "sample_size": -3}):
        d = dispersion(raw, geo)
        assert (d.addresses, d.sampled, d.countries, d.asns, d.prefixes) == (0, 0, 0, 0, 0)
        assert d.top_country is None and d.top_asn is None
        assert d.country_entropy == 0.0
        assert d.type_share("hosting") is None
    d = dispersion(
        {"sample": ["junk", 7, None, "10.1.1.1"], "top_prefixes": [{"prefix": "x"}]}, geo
    )
    assert (d.sampled, d.unknown_share, d.unroutable_share, d.prefixes) == (2, 1.0, 1.0, 1)
    assert d.top_prefixes == (Placed("x", 0, None, None, None, None),)


def test_top_sources_are_placed() -> None:
    d = dispersion(rc.sources(), rc.mmdb())
    assert d.top_addresses == (
        Placed("89.160.20.112", 120, "SE", 29518, "Bredband2 AB", None),
        Placed("149.101.100.1", 80, "US", 6167, "CELLCO-PART", "mobile"),
    )
    # 89.160.20.0 itself is in no country of the test data: the prefix is placed where its
    # sampled addresses are
    assert d.top_prefixes == (
        Placed("89.160.20.0/24", 900, "SE", 29518, "Bredband2 AB", None),
        Placed("216.160.83.0/24", 400, "US", 209, None, "business"),
    )
    unsampled = dispersion(
        rc.sources([]) | {"top_prefixes": [{"prefix": "89.160.20.0/24"}]}, rc.mmdb()
    )
    assert unsampled.top_prefixes == (
        Placed("89.160.20.0/24", 0, None, 29518, "Bredband2 AB", None),
    )


def test_the_top_network_type_is_its_addresses_commonest() -> None:
    geo = rc.FakeGeo(
        {
            "1.0.0.1": GeoInfo("DE", 64500, "Host A", "hosting"),
            "1.0.0.2": GeoInfo("DE", 64500, "Host A", "hosting"),
            "1.0.0.3": GeoInfo("DE", 64500, "Host A", "business"),
            "1.0.0.4": GeoInfo("FR", 64501, "Other", "residential"),
        }
    )
    d = dispersion({"sample": ["1.0.0.1", "1.0.0.2", "1.0.0.3", "1.0.0.4"]}, geo)
    assert (d.top_asn, d.top_asn_org, d.top_asn_share, d.top_asn_network_type) == (
        64500,
        "Host A",
        0.75,
        "hosting",
    )
    assert d.geo_source == "fake: test table"


def test_without_network_types_the_shares_are_unknown_not_zero() -> None:
    d = dispersion(rc.sources(), MmdbGeo(rc.COUNTRY, rc.ASN))
    assert d.typed_share == 0.0
    assert d.type_share("hosting") is None
    assert d.to_dict()["network_types"] == {
        "hosting": None,
        "residential": None,
        "mobile": None,
        "business": None,
    }


def test_to_dict_carries_the_figures() -> None:
    out = dispersion(rc.sources(), rc.mmdb()).to_dict()
    assert out["country_entropy"] == 1.7474
    assert out["network_types"] == {
        "hosting": 0.0,
        "residential": 0.2,
        "mobile": 0.1,
        "business": 0.2,
    }
    assert out["by_asn"][1] == {"key": "AS209", "count": 8, "share": 0.2}
    assert out["top_prefixes"][0]["country"] == "SE"
    assert (out["complete"], out["at_least"]) == (True, False)


@pytest.mark.parametrize(
    ("counts", "bits"),
    [([1, 1, 1, 1], 2.0), ([5], 0.0), ([], 0.0), ([0, 0], 0.0), ([2, 1, 1], 1.5), ([3, 0, 3], 1.0)],
)
def test_entropy(counts: list[int], bits: float) -> None:
    assert entropy(counts) == pytest.approx(bits, abs=1e-12)
