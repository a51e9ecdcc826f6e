"""Where an attack's sources are: enrichment with geo/ASN data and the dispersion figures.

Pure given a `GeoDb`. The incident keeps a uniform sample of its distinct attacking
addresses (bottom-k by a stable hash); every country, ASN and network-type figure here is
counted over that sample, so it is exact when the sample is complete (fewer addresses than
`sample_size`) and a lower bound for counts ("at least") when it is not. Shares are of
sampled addresses, all of them, so an address the database cannot place still counts in the
denominator and shows up as `unknown_share`. The country entropy is over placed addresses.

Top addresses are placed by a lookup of their own; a top prefix where most of its sampled
addresses are (a /24's first address may sit in another network), else by its first address.

The sample is de-duplicated and sorted before anything is counted, and every ranking breaks
ties by its key, so the same sources always give the same figures.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from seawall.core.net import parse_address, prefix_of
from seawall.geo.lookup import GeoDb, GeoInfo, global_address

TOP_SOURCES = 20  # top addresses and prefixes enriched
TYPES_SHOWN = ("hosting", "residential", "mobile", "business")


@dataclass(frozen=True, slots=True)
class Placed:
    """One top source (an address or a prefix) with what the geo database says of it."""

    key: str
    requests: int
    country: str | None
    asn: int | None
    as_org: str | None
    network_type: str | None


@dataclass(frozen=True, slots=True)
class Share:
    """Sampled addresses in one country, ASN (key "AS15169", name its holder) or type."""

    key: str
    count: int
    share: float
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Dispersion:
    """How spread the sources are; see the module docstring for what each figure counts."""

    addresses: int  # distinct addresses: exact when complete, else the estimate
    estimated_addresses: int  # the incident's HyperLogLog estimate, as reported
    prefixes: int
    sampled: int
    sample_size: int | None
    complete: bool
    countries: int
    asns: int
    by_country: tuple[Share, ...]
    by_asn: tuple[Share, ...]
    by_network_type: tuple[Share, ...]
    country_entropy: float  # bits
    top_country: str | None
    top_country_share: float
    top_asn: int | None
    top_asn_org: str | None
    top_asn_share: float
    top_asn_network_type: str | None
    unknown_share: float  # neither country nor ASN known
    unroutable_share: float  # private, reserved or not an address at all
    typed_share: float  # with a network type
    top_addresses: tuple[Placed, ...]
    top_prefixes: tuple[Placed, ...]
    geo_source: str

    @property
    def at_least(self) -> bool:
        """Counts from an incomplete sample are lower bounds."""
        return self.sampled > 0 and not self.complete

    def type_share(self, kind: str) -> float | None:
        """The share of sampled addresses of one network type; None when the database said
        no type for any of them."""
        if self.typed_share == 0:
            return None
        return next((s.share for s in self.by_network_type if s.key == kind), 0.0)

    def to_dict(self) -> dict[str, Any]:
        shares = _shares_dict
        return {
            "addresses": self.addresses,
            "estimated_addresses": self.estimated_addresses,
            "prefixes": self.prefixes,
            "sampled": self.sampled,
            "sample_size": self.sample_size,
            "complete": self.complete,
            "at_least": self.at_least,
            "countries": self.countries,
            "asns": self.asns,
            "country_entropy": round(self.country_entropy, 4),
            "top_country": self.top_country,
            "top_country_share": round(self.top_country_share, 4),
            "top_asn": self.top_asn,
            "top_asn_org": self.top_asn_org,
            "top_asn_share": round(self.top_asn_share, 4),
            "top_asn_network_type": self.top_asn_network_type,
            "unknown_share": round(self.unknown_share, 4),
            "unroutable_share": round(self.unroutable_share, 4),
            "typed_share": round(self.typed_share, 4),
            "network_types": {
                kind: None if (v := self.type_share(kind)) is None else round(v, 4)
                for kind in TYPES_SHOWN
            },
            "by_country": shares(self.by_country, 250),
            "by_asn": shares(self.by_asn, 100),
            "by_network_type": shares(self.by_network_type, 50),
            "top_addresses": [_placed_dict(p) for p in self.top_addresses],
            "top_prefixes": [_placed_dict(p) for p in self.top_prefixes],
            "geo_source": self.geo_source,
        }


def _shares_dict(items: Iterable[Share], limit: int) -> list[dict[str, Any]]:
    out = []
    for s in list(items)[:limit]:
        row: dict[str, Any] = {"key": s.key, "count": s.count, "share": round(s.share, 4)}
        if s.name is not None:
            row["name"] = s.name
        out.append(row)
    return out


def _placed_dict(p: Placed) -> dict[str, Any]:
    return {
        "key": p.key,
        "requests": p.requests,
        "country": p.country,
        "asn": p.asn,
        "as_org": p.as_org,
        "network_type": p.network_type,
    }


def _count(value: object) -> int:
    """A non-negative whole count from JSON-ish input; anything else counts as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and math.isfinite(value):
        return max(round(value), 0)
    return 0


def distinct_sample(raw: object) -> tuple[str, ...]:
    """The sample's distinct addresses in canonical text, sorted by family and value; an
    entry that is no address is kept (it stays unknown) after the addresses, by its text."""
    if not isinstance(raw, list | tuple):
        return ()
    addresses: dict[str, tuple[int, int, str]] = {}
    for item in raw:
        if not isinstance(item, str):
            continue
        parsed = parse_address(item)
        if parsed is None:
            addresses.setdefault(item, (7, 0, item))  # after every address
        else:
            addresses.setdefault(parsed.text, (6 if parsed.v6 else 4, parsed.value, ""))
    return tuple(sorted(addresses, key=addresses.__getitem__))


def entropy(counts: Iterable[int]) -> float:
    """Shannon entropy in bits of a distribution given by counts."""
    held = sorted(c for c in counts if c > 0)
    total = sum(held)
    if total == 0:
        return 0.0
    return max(0.0, -math.fsum(c / total * math.log2(c / total) for c in held))


def _ranked(counter: Counter[Any]) -> list[tuple[Any, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def _commonest(infos: list[GeoInfo]) -> GeoInfo:
    """The answer most of a prefix's sampled addresses share (ties by its fields)."""
    ranked = sorted(
        Counter(infos).items(),
        key=lambda kv: (
            -kv[1],
            kv[0].country or "",
            kv[0].asn or -1,
            kv[0].as_org or "",
            kv[0].network_type or "",
        ),
    )
    return ranked[0][0]


def _top(
    geo: GeoDb, raw: object, field: str, placed: Mapping[str, list[GeoInfo]] | None = None
) -> tuple[Placed, ...]:
    """Top addresses (field "address") or prefixes ("prefix"). A prefix is placed where most
    of its sampled addresses are, or else by its first address."""
    rows = []
    for item in raw if isinstance(raw, list | tuple) else ():
        key = item.get(field) if isinstance(item, Mapping) else None
        if not isinstance(key, str):
            continue
        held = placed.get(key) if placed is not None else None
        if held:
            info = _commonest(held)
        elif field == "prefix":
            try:
                first = ipaddress.ip_network(key.strip(), strict=False).network_address
            except ValueError:
                first = None
            info = geo.lookup(str(first)) if first is not None else GeoInfo()
        else:
            info = geo.lookup(key)
        requests = _count(item.get("requests"))
        rows.append(Placed(key, requests, info.country, info.asn, info.as_org, info.network_type))
    rows.sort(key=lambda p: (-p.requests, p.key))
    return tuple(rows[:TOP_SOURCES])


def _by_prefix(infos: Mapping[str, GeoInfo]) -> dict[str, list[GeoInfo]]:
    """Sampled addresses' answers grouped by /24 or /48."""
    found: dict[str, list[GeoInfo]] = {}
    for text, info in infos.items():
        parsed = parse_address(text)
        if parsed is not None:
            found.setdefault(prefix_of(parsed), []).append(info)
    return found


@dataclass(slots=True)
class _Tally:
    """Counters over the sample, filled in one pass."""

    countries: Counter[str]
    asns: Counter[int]
    types: Counter[str]
    asn_types: dict[int, Counter[str]]
    orgs: dict[int, str]
    unknown: int = 0
    unroutable: int = 0

    @classmethod
    def of(cls, infos: Mapping[str, GeoInfo]) -> _Tally:
        tally = cls(Counter(), Counter(), Counter(), {}, {})
        for address, info in infos.items():
            tally.add(address, info)
        return tally

    def add(self, address: str, info: GeoInfo) -> None:
        if global_address(address) is None:
            self.unroutable += 1
        if info.country is None and info.asn is None:
            self.unknown += 1
        if info.country is not None:
            self.countries[info.country] += 1
        if info.network_type is not None:
            self.types[info.network_type] += 1
        if info.asn is not None:
            self.asns[info.asn] += 1
            if info.as_org and info.asn not in self.orgs:
                self.orgs[info.asn] = info.as_org  # the first in address order: stable
            if info.network_type is not None:
                self.asn_types.setdefault(info.asn, Counter())[info.network_type] += 1

    def figures(self, n: int) -> dict[str, Any]:
        """What the tally says of `n` sampled addresses, as `Dispersion` fields."""

        def share(k: int) -> float:
            return k / n if n else 0.0

        countries, asns = _ranked(self.countries), _ranked(self.asns)
        by_country = tuple(Share(c, k, share(k)) for c, k in countries)
        by_asn = tuple(Share(f"AS{a}", k, share(k), self.orgs.get(a)) for a, k in asns)
        top_asn = asns[0][0] if asns else None
        top_types = _ranked(self.asn_types.get(top_asn, Counter())) if top_asn is not None else []
        return {
            "countries": len(countries),
            "asns": len(asns),
            "by_country": by_country,
            "by_asn": by_asn,
            "by_network_type": tuple(Share(t, k, share(k)) for t, k in _ranked(self.types)),
            "country_entropy": entropy(self.countries.values()),
            "top_country": by_country[0].key if by_country else None,
            "top_country_share": by_country[0].share if by_country else 0.0,
            "top_asn": top_asn,
            "top_asn_org": self.orgs.get(top_asn) if top_asn is not None else None,
            "top_asn_share": by_asn[0].share if by_asn else 0.0,
            "top_asn_network_type": top_types[0][0] if top_types else None,
            "unknown_share": share(self.unknown),
            "unroutable_share": share(self.unroutable),
            "typed_share": share(sum(self.types.values())),
        }


def dispersion(sources: Mapping[str, Any] | None, geo: GeoDb) -> Dispersion:
    """The dispersion figures of an incident's `sources` (see the module docstring)."""
    src: Mapping[str, Any] = sources if isinstance(sources, Mapping) else {}
    sample = distinct_sample(src.get("sample"))
    n = len(sample)
    estimate = _count(src.get("addresses"))
    size = src.get("sample_size")
    sample_size = _count(size) if isinstance(size, int | float) and _count(size) > 0 else None
    complete = n < sample_size if sample_size is not None else n > 0 and n >= estimate
    infos = {address: geo.lookup(address) for address in sample}  # in sample order
    placed = _by_prefix(infos)
    return Dispersion(
        addresses=n if complete else max(estimate, n),
        estimated_addresses=estimate,
        prefixes=len(placed) if complete else max(len(placed), _count(src.get("prefixes"))),
        sampled=n,
        sample_size=sample_size,
        complete=complete,
        top_addresses=_top(geo, src.get("top_addresses"), "address"),
        top_prefixes=_top(geo, src.get("top_prefixes"), "prefix", placed),
        geo_source=geo.source,
        **_Tally.of(infos).figures(n),
    )
