"""The space an ASN holds in the bundled data, checked against lookups of the same data."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest

from seawall.geo.lookup import BundledGeo
from seawall.geo.ranges import (
    Held,
    Network,
    country_of_network,
    held_segments,
    networks_of,
    routes_of,
)


def test_routes_of_drop_nested_prefixes_of_the_same_asn() -> None:
    routes = routes_of(35805)  # Silknet, Georgia
    assert routes[:3] == ("5.152.0.0/17", "31.146.0.0/16", "37.110.160.0/19")
    assert len(routes) == 20  # plevin announces 48 prefixes, 28 of them nested
    nets = [ipaddress.IPv4Network(r) for r in routes]
    assert nets == sorted(nets)
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(nets))
    assert routes_of(13335)[:2] == ("1.0.0.0/24", "1.1.1.0/24")
    assert routes_of(35805, 6) == ("2a01:9c80::/29",)


def test_routes_of_unknown_asn_is_empty_and_version_is_checked() -> None:
    assert routes_of(4_199_999_999) == ()
    with pytest.raises(ValueError):
        routes_of(7922, 5)


def test_networks_and_countries() -> None:
    assert networks_of(35805)[0] == Network("5.152.0.0/17", 35805, "GE")
    assert country_of_network("81.2.64.0/18") == "GB"
    assert country_of_network("81.2.69.142/18") == "GB"
    assert country_of_network("10.0.0.0/8") is None
    assert country_of_network("not a network") is None


def test_held_segments_are_exact_against_lookups() -> None:
    held = held_segments([7922, 4134, 35805, 4_199_999_999])
    assert held[4_199_999_999] == Held(4_199_999_999, (), exact=True)
    geo, rng = BundledGeo(), random.Random(7)
    for asn in (7922, 4134, 35805):
        found = held[asn]
        assert found.exact and found.size > 0
        assert all(a < b for a, b in found.segments)
        assert all(b < c for (_, b), (c, _) in itertools.pairwise(found.segments))
        for start, end in rng.sample(found.segments, min(40, len(found.segments))):
            for value in (start, end - 1, rng.randrange(start, end)):
                assert geo.lookup(str(ipaddress.IPv4Address(value))).asn == asn


def test_held_space_excludes_foreign_more_specifics() -> None:
    china = held_segments([4134])[4134]
    routed = sum(ipaddress.IPv4Network(r).num_addresses for r in routes_of(4134))
    assert 0.8 * routed < china.size < routed
