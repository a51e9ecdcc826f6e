"""The attribution statement, case by case, with the exact sentences it must say."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import reportcase as rc
from hypothesis import given, settings
from hypothesis import strategies as st

from seawall.geo.lookup import GeoInfo
from seawall.report.attribution import CASES, NOT_COUNTRY, attribution
from seawall.report.sources import Dispersion, dispersion

FIRST = int(ipaddress.IPv4Address("16.0.0.0"))
NOT_COUNTRY_TEXT = (
    "The geolocation of bots shows where infected devices are, not who controls them; "
    "these data do not support attributing the attack to any country."
)


def spread(groups: list[tuple[int, GeoInfo]], **sources: Any) -> Dispersion:
    """A dispersion of consecutive public addresses, `n` of them answering each GeoInfo."""
    answers: dict[str, GeoInfo] = {}
    for n, info in groups:
        for _ in range(n):
            answers[str(ipaddress.IPv4Address(FIRST + len(answers)))] = info
    held = {"sample": list(answers), "addresses": len(answers), "sample_size": 65_536}
    return dispersion(held | sources, rc.FakeGeo(answers))


def world(total: int, top: int, countries: int, asns: int) -> list[tuple[int, GeoInfo]]:
    """`total` addresses: `top` in country C000, the rest evenly over the other countries;
    address i in ASN i mod `asns`."""
    codes = [f"C{i:03d}" for i in range(countries)]
    per_address = [codes[0]] * top + [codes[1 + i % (countries - 1)] for i in range(total - top)]
    return [(1, GeoInfo(c, 64_512 + i % asns, None)) for i, c in enumerate(per_address)]


def test_dispersed_sources_the_brief_example() -> None:
    d = spread(world(48_112, 4_330, 131, 2_904))
    a = attribution(d)
    assert a.case == "dispersed"
    assert a.sentences == (
        "Sources: 48,112 addresses in 131 countries and 2,904 ASNs; the top country holds 9%.",
        NOT_COUNTRY_TEXT,
    )
    assert a.text == " ".join(a.sentences)


def test_dispersed_sources_from_a_sample() -> None:
    d = spread(world(4_096, 369, 131, 2_904), addresses=48_112, sample_size=4_096)
    assert attribution(d).sentences == (
        "Sources: ~48,112 addresses in at least 131 countries and at least 2,904 ASNs; "
        "the top country holds 9%.",
        NOT_COUNTRY_TEXT,
        "Country and network figures are estimated from a uniform sample of 4,096 of "
        "~48,112 addresses.",
    )


def test_dispersed_with_unplaced_addresses() -> None:
    a = attribution(dispersion(rc.sources(), rc.mmdb()))
    assert a.case == "dispersed"
    assert a.sentences == (
        "Sources: 40 addresses in 4 countries and 3 ASNs; the top country holds 40%.",
        NOT_COUNTRY_TEXT,
        "The geo database places 5% of them in no country and no network (private, "
        "unroutable or unlisted addresses).",
    )


def test_one_hosting_network() -> None:
    host = GeoInfo("NL", 14061, "DigitalOcean, LLC", "hosting")
    others = [(1, GeoInfo(f"C{i:02d}", 100 + i, f"ISP {i}", "residential")) for i in range(6)]
    a = attribution(spread([(24, host), *others]))
    assert a.case == "one_network"
    assert a.sentences == (
        "Sources: 30 addresses in 7 countries and 7 ASNs; 80% of them are in AS14061 "
        "(DigitalOcean, LLC), which the geo database classes as hosting.",
        "The traffic came mostly from that network. This identifies infrastructure the attack "
        "used, not who operated it.",
    )


def test_one_network_without_a_name_or_a_type() -> None:
    a = attribution(spread([(15, GeoInfo("US", 209)), (5, GeoInfo("US", 7018, "AT&T"))]))
    assert a.sentences[0] == (
        "Sources: 20 addresses in 1 country and 2 ASNs; 75% of them are in AS209."
    )


def test_hosting_networks_without_one_network() -> None:
    hosts = [(5, GeoInfo(f"H{i}", 200 + i, f"Host {i}", "hosting")) for i in range(4)]
    homes = [(1, GeoInfo(f"R{i}", 300 + i, f"ISP {i}", "residential")) for i in range(10)]
    a = attribution(spread(hosts + homes))
    assert a.case == "hosting"
    assert a.sentences == (
        "Sources: 30 addresses in 14 countries and 14 ASNs; 67% of them are in networks the "
        "geo database classes as hosting (servers, not homes or phones).",
        "This identifies infrastructure the attack used, not who operated it. " + NOT_COUNTRY_TEXT,
    )


def test_one_country_is_a_place_not_an_attacker() -> None:
    cn = [(2, GeoInfo("CN", 4000 + i, None, "mobile")) for i in range(10)]
    rest = [(1, GeoInfo(f"C{i}", 5000 + i)) for i in range(10)]
    a = attribution(spread(cn + rest))
    assert a.case == "one_country"
    assert a.sentences == (
        "Sources: 30 addresses in 11 countries and 20 ASNs; 67% of them are geolocated in CN.",
        NOT_COUNTRY_TEXT,
    )


def test_few_sources() -> None:
    a = attribution(spread([(2, GeoInfo("DE", 3320, "Deutsche Telekom AG")), (1, GeoInfo("FR"))]))
    assert a.case == "few"
    assert a.sentences == (
        "Sources: 3 addresses in 2 countries and 1 ASN.",
        "So few addresses may be proxies, rented servers or hijacked machines; these data do not "
        "support attributing the attack to any country or organisation.",
    )
    one = attribution(spread([(1, GeoInfo("DE", 3320))]))
    assert one.sentences[0] == "Sources: 1 address in 1 country and 1 ASN."


def test_no_geo_data() -> None:
    private = {"sample": [f"10.0.0.{i}" for i in range(12)], "addresses": 12, "sample_size": 64}
    a = attribution(dispersion(private, rc.mmdb()))
    assert a.case == "no_geo"
    assert a.sentences == (
        "Sources: 12 addresses; the geo database places none of them (100% are private or "
        "unroutable addresses).",
        "These data say nothing about where the sources are, or who controls them.",
    )
    unlisted = dispersion(
        {"sample": ["16.0.0.1", "16.0.0.2"], "addresses": 900, "sample_size": 2}, rc.FakeGeo()
    )
    assert attribution(unlisted).sentences[0] == (
        "Sources: ~900 addresses; the geo database places none of the 2 sampled."
    )


def test_unsampled_and_no_sources() -> None:
    a = attribution(dispersion({"addresses": 48_112, "sample": []}, rc.mmdb()))
    assert a.case == "unsampled"
    assert a.sentences == (
        "Sources: ~48,112 addresses; no sample of them was kept, so their countries and "
        "networks are unknown.",
        "These data do not support attributing the attack to anyone.",
    )
    none = attribution(dispersion({}, rc.mmdb()))
    assert none.case == "none"
    assert none.sentences == (
        "No attacking source addresses were recorded for this incident, so nothing can be said "
        "about where the attack came from.",
    )


def test_every_case_is_tested_here() -> None:
    assert [c[0] for c in CASES] == [
        "none",
        "unsampled",
        "no_geo",
        "few",
        "one_network",
        "hosting",
        "one_country",
        "dispersed",
    ]
    assert NOT_COUNTRY == NOT_COUNTRY_TEXT


COUNTRIES = st.sampled_from(["CN", "RU", "US", "KP", "IR", "BR", "DE", None])
TYPES = st.sampled_from(["hosting", "residential", "mobile", None])
GROUP = st.tuples(
    st.integers(1, 40),
    st.builds(GeoInfo, COUNTRIES, st.sampled_from([None, 1, 2, 3, 4]), st.none(), TYPES),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(GROUP, max_size=8), st.booleans())
def test_no_statement_names_a_country_as_the_attacker(
    groups: list[tuple[int, GeoInfo]], sampled: bool
) -> None:
    d = spread(groups)
    if sampled:
        d = spread(groups, addresses=100_000, sample_size=max(1, sum(n for n, _ in groups)))
    text = attribution(d).text
    named = re.findall(r"\b(CN|RU|US|KP|IR|BR|DE)\b", text)
    assert not named or NOT_COUNTRY_TEXT in text  # a place is always said to be only a place
    assert named in ([], [d.top_country])
    for claim in ("attacker is", "attributed to", "launched by", "originated in", "responsible"):
        assert claim not in text.lower()
    assert (
        "do not support" in text
        or "say nothing" in text
        or "not who operated" in text
        or ("nothing can be said" in text)
    )
