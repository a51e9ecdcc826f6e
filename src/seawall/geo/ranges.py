"""The IPv4 space an ASN holds in the bundled data, and the country of a network.

`routes_of` answers from plevin's public `routes()`: every prefix the ASN is announced as.
A more specific prefix of the same ASN inside a wider one adds no space, so it is dropped;
the answer is sorted by address. It still covers more-specifics that *other* ASNs announce
inside those prefixes (about 1% of China Telecom's space, for example).

`held_segments` is exact: the address intervals for which a lookup answers that ASN, with
foreign more-specifics cut out and each piece clipped to its own announced prefix. It reads
the bundled database's IPv4 spine in one pass for many ASNs at once (about 0.2 s), because
asking `routes()` costs about 50 ms per ASN. When the installed plevin stores its data in a
layout this code does not know, it falls back to `routes_of` and says so (`exact=False`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import iptocc
import plevin
from plevin.reader import Column, Index

V4_END = 1 << 32


@dataclass(frozen=True, slots=True)
class Network:
    """One announced network: its prefix, the ASN announcing it and its country (RIR data)."""

    cidr: str
    asn: int
    country: str | None


@dataclass(frozen=True, slots=True)
class Held:
    """The IPv4 space an ASN holds, as sorted half-open intervals [start, end) of integers."""

    asn: int
    segments: tuple[tuple[int, int], ...]
    exact: bool

    @property
    def size(self) -> int:
        return sum(end - start for start, end in self.segments)


@lru_cache(maxsize=4096)
def routes_of(asn: int, version: int = 4) -> tuple[str, ...]:
    """The prefixes an ASN is announced as, sorted, without its own nested more-specifics."""
    if version not in (4, 6):
        raise ValueError(f"IP version must be 4 or 6, not {version}")
    found = plevin.routes(asn)
    spans = found.ipv4 if version == 4 else found.ipv6
    networks = sorted(
        (ipaddress.ip_network(span.cidr) for span in spans),
        key=lambda net: (int(net.network_address), net.prefixlen),
    )
    kept: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    reach = -1
    for net in networks:
        last = int(net.broadcast_address)
        if last <= reach:
            continue  # inside a wider prefix of the same ASN
        kept.append(net)
        reach = last
    return tuple(str(net) for net in kept)


def networks_of(asn: int) -> tuple[Network, ...]:
    """The announced IPv4 networks of an ASN, each with its own country."""
    return tuple(Network(cidr, asn, country_of_network(cidr)) for cidr in routes_of(asn))


def country_of_network(cidr: str) -> str | None:
    """The country (RIR delegation) of a network's first address; None for bad text."""
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None
    return iptocc.country_code(str(network.network_address))


def _from_routes(asn: int) -> Held:
    segments = []
    for cidr in routes_of(asn):
        net = ipaddress.IPv4Network(cidr)
        segments.append((int(net.network_address), int(net.broadcast_address) + 1))
    return Held(asn, tuple(segments), exact=False)


def _append(segments: list[tuple[int, int]], start: int, end: int) -> None:
    if segments and segments[-1][1] == start:
        segments[-1] = (segments[-1][0], end)
    else:
        segments.append((start, end))


def held_segments(asns: Iterable[int]) -> dict[int, Held]:
    """The exact IPv4 space each ASN holds in the bundled data (see the module docstring)."""
    wanted_asns = sorted(set(asns))
    database = plevin.database().file
    spine = database.sections.get("spine.v4")
    links = database.sections.get("spine.v4.network")
    prefixes = database.sections.get("spine.v4.prefix")
    if not (
        isinstance(spine, Index) and isinstance(links, Column) and isinstance(prefixes, Column)
    ):
        return {asn: _from_routes(asn) for asn in wanted_asns}
    wanted: dict[int, int] = {}
    for asn in wanted_asns:
        row = database.system_row(asn)
        if row >= 0:
            wanted[row + 1] = asn
    rows: dict[int, list[int]] = {asn: [] for asn in wanted_asns}
    for block in range(links.blocks):
        base = block * links.per_block
        for place, link in enumerate(links.whole(block)):
            owner = wanted.get(link)
            if owner is not None:
                rows[owner].append(base + place)
    held: dict[int, Held] = {}
    for asn, found in rows.items():
        segments: list[tuple[int, int]] = []
        for row in found:
            start = int(spine[row])
            following = int(spine[row + 1]) if row + 1 < spine.count else V4_END
            spare = 32 - int(prefixes[row])
            block_end = ((start >> spare) << spare) + (1 << spare)
            end = min(following, block_end, V4_END)
            if end > start:
                _append(segments, start, end)
        held[asn] = Held(asn, tuple(segments), exact=True)
    return held
