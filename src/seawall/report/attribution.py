"""The attribution statement: what the source figures do and do not show, in plain words.

It is written only from a `Dispersion`, and never names a country as the attacker: the
geolocation of bots shows where infected or rented machines are, not who controls them.
The first case whose condition holds is the one used:

| case        | when                                          | says                         |
|-------------|-----------------------------------------------|------------------------------|
| none        | no address recorded                           | nothing can be said          |
| unsampled   | addresses counted, none sampled               | countries, networks unknown  |
| no_geo      | no sampled address placed (no country or ASN) | nothing about where or who   |
| few         | fewer than `FEW` addresses                    | too few to attribute         |
| one_network | one ASN holds at least `MOSTLY` of addresses  | infrastructure, not operator |
| hosting     | hosting networks hold at least `MOSTLY`       | infrastructure, not operator |
| one_country | one country holds at least `MOSTLY`           | devices' place, not control  |
| dispersed   | otherwise                                     | devices' place, not control  |

After the case's sentences come, where they apply, the share that could not be placed and
how the figures were sampled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seawall.report.sources import Dispersion
from seawall.report.text import clean, count, pct

FEW = 20  # fewer addresses than this could be anyone's: a few proxies or rented servers
MOSTLY = 0.5  # one network, country or network type holding this share is "mostly"

NOT_COUNTRY = (
    "The geolocation of bots shows where infected devices are, not who controls them; "
    "these data do not support attributing the attack to any country."
)
NOT_OPERATOR = "This identifies infrastructure the attack used, not who operated it."
# The top network's type (the one most of its addresses have) is named as the database's
# word, not as a fact: the bundled data classes whole operators.
NETWORK_KINDS = ("hosting", "residential", "mobile", "business")


@dataclass(frozen=True, slots=True)
class Attribution:
    case: str
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def _about(n: int, d: Dispersion) -> str:
    """'48,112 addresses', or '~48,112 addresses' for an estimate."""
    return ("" if d.complete else "~") + count(n, "address", "addresses")


def _lead(d: Dispersion) -> str:
    """'Sources: 48,112 addresses in 131 countries and 2,904 ASNs' ('at least' when sampled)."""
    bound = "at least " if d.at_least else ""
    return (
        f"Sources: {_about(d.addresses, d)} in {bound}{count(d.countries, 'country', 'countries')}"
        f" and {bound}{count(d.asns, 'ASN')}"
    )


def _network(d: Dispersion) -> str:
    org = f" ({clean(d.top_asn_org, 80)})" if d.top_asn_org else ""  # a database's text
    kind = d.top_asn_network_type
    classed = f", which the geo database classes as {kind}" if kind in NETWORK_KINDS else ""
    return f"AS{d.top_asn}{org}{classed}"


def _none(d: Dispersion) -> tuple[str, ...]:
    return (
        "No attacking source addresses were recorded for this incident, so nothing can be "
        "said about where the attack came from.",
    )


def _unsampled(d: Dispersion) -> tuple[str, ...]:
    return (
        f"Sources: {_about(d.addresses, d)}; no sample of them was kept, so their countries "
        "and networks are unknown.",
        "These data do not support attributing the attack to anyone.",
    )


def _no_geo(d: Dispersion) -> tuple[str, ...]:
    private = (
        f" ({pct(d.unroutable_share)} are private or unroutable addresses)"
        if d.unroutable_share > 0
        else ""
    )
    whom = f"none of the {d.sampled:,} sampled" if d.at_least else "none of them"
    return (
        f"Sources: {_about(d.addresses, d)}; the geo database places {whom}{private}.",
        "These data say nothing about where the sources are, or who controls them.",
    )


def _few(d: Dispersion) -> tuple[str, ...]:
    return (
        _lead(d) + ".",
        "So few addresses may be proxies, rented servers or hijacked machines; these data do "
        "not support attributing the attack to any country or organisation.",
    )


def _one_network(d: Dispersion) -> tuple[str, ...]:
    return (
        f"{_lead(d)}; {pct(d.top_asn_share)} of them are in {_network(d)}.",
        f"The traffic came mostly from that network. {NOT_OPERATOR}",
    )


def _hosting(d: Dispersion) -> tuple[str, ...]:
    share = d.type_share("hosting") or 0.0
    return (
        f"{_lead(d)}; {pct(share)} of them are in networks the geo database classes as "
        "hosting (servers, not homes or phones).",
        f"{NOT_OPERATOR} {NOT_COUNTRY}",
    )


def _one_country(d: Dispersion) -> tuple[str, ...]:
    where = clean(d.top_country, 8)
    return (
        f"{_lead(d)}; {pct(d.top_country_share)} of them are geolocated in {where}.",
        NOT_COUNTRY,
    )


def _dispersed(d: Dispersion) -> tuple[str, ...]:
    return (f"{_lead(d)}; the top country holds {pct(d.top_country_share)}.", NOT_COUNTRY)


Case = tuple[str, Callable[[Dispersion], bool], Callable[[Dispersion], tuple[str, ...]]]
CASES: tuple[Case, ...] = (
    ("none", lambda d: d.sampled == 0 and d.addresses == 0, _none),
    ("unsampled", lambda d: d.sampled == 0, _unsampled),
    ("no_geo", lambda d: d.countries == 0 and d.asns == 0, _no_geo),
    ("few", lambda d: d.addresses < FEW, _few),
    ("one_network", lambda d: d.top_asn_share >= MOSTLY, _one_network),
    ("hosting", lambda d: (d.type_share("hosting") or 0.0) >= MOSTLY, _hosting),
    ("one_country", lambda d: d.top_country_share >= MOSTLY, _one_country),
    ("dispersed", lambda d: True, _dispersed),
)


def _unplaced(d: Dispersion) -> str | None:
    if d.unknown_share <= 0:
        return None
    return (
        f"The geo database places {pct(d.unknown_share)} of them in no country and no network "
        "(private, unroutable or unlisted addresses)."
    )


def _sampled(d: Dispersion) -> str | None:
    if not d.at_least:
        return None
    return (
        "Country and network figures are estimated from a uniform sample of "
        f"{d.sampled:,} of ~{d.addresses:,} addresses."
    )


def attribution(d: Dispersion) -> Attribution:
    """The statement for these figures: the first case of `CASES` that holds."""
    case, _, write = next(c for c in CASES if c[1](d))
    sentences = list(write(d))
    if case not in ("none", "unsampled", "no_geo"):
        sentences += [s for s in (_unplaced(d), _sampled(d)) if s is not None]
    return Attribution(case, tuple(sentences))
