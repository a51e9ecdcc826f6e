"""Client addresses: parsing, prefixes, CIDR sets and the trusted forwarding chain."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from seawall.core.errors import ConfigError

_V4_BITS = 32
_V6_BITS = 128
_V4_PREFIX = 24
_V6_PREFIX = 48


@dataclass(frozen=True, slots=True)
class Address:
    """One client address as an integer, so matching never re-parses text."""

    text: str
    value: int
    v6: bool

    @property
    def bits(self) -> int:
        return _V6_BITS if self.v6 else _V4_BITS


def parse_address(text: str) -> Address | None:
    """Parse an IPv4/IPv6 literal (brackets, port or zone tolerated); None when it is not one."""
    t = text.strip()
    if t.startswith("["):
        end = t.find("]")
        if end < 0:
            return None
        t = t[1:end]
    elif t.count(":") == 1:  # IPv4 with a port
        t = t.split(":", 1)[0]
    t = t.split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(t)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return Address(str(ip), int(ip), ip.version == 6)


def prefix_of(addr: Address) -> str:
    """The /24 (IPv4) or /48 (IPv6) a client sits in: the unit most botnets and ISPs share."""
    if addr.v6:
        net = addr.value >> (_V6_BITS - _V6_PREFIX) << (_V6_BITS - _V6_PREFIX)
        return f"{ipaddress.IPv6Address(net)}/{_V6_PREFIX}"
    net = addr.value & 0xFFFFFF00
    return f"{ipaddress.IPv4Address(net)}/{_V4_PREFIX}"


def parse_network(text: str, key: str = "") -> tuple[bool, int, int]:
    """(v6, network int, prefix length) for a CIDR or bare address; ConfigError names `key`."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ConfigError(key, f"{text!r} is not a CIDR or address ({exc})") from None
    return net.version == 6, int(net.network_address), net.prefixlen


class CidrSet:
    """Membership of an address in many CIDRs: one set lookup per distinct prefix length."""

    __slots__ = ("_size", "_v4", "_v6")

    def __init__(self, cidrs: Iterable[str] = (), key: str = "") -> None:
        self._v4: dict[int, set[int]] = {}
        self._v6: dict[int, set[int]] = {}
        self._size = 0
        for i, c in enumerate(cidrs):
            self.add(c, f"{key}[{i}]" if key else "")

    def add(self, cidr: str, key: str = "") -> None:
        v6, value, plen = parse_network(cidr, key)
        table = self._v6 if v6 else self._v4
        bits = _V6_BITS if v6 else _V4_BITS
        table.setdefault(plen, set()).add(value >> (bits - plen))
        self._size += 1

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def contains(self, addr: Address) -> bool:
        if addr.v6:
            table, bits = self._v6, _V6_BITS
        else:
            table, bits = self._v4, _V4_BITS
        value = addr.value
        for plen, nets in table.items():  # noqa: SIM110  (a loop beats any() + genexpr here)
            if value >> bits - plen in nets:
                return True
        return False


def resolve_client(
    peer: Address, forwarded_for: str | None, trusted: CidrSet, max_hops: int = 16
) -> Address:
    """The address we believe: walk X-Forwarded-For right to left while hops are trusted.

    Only an entry appended by a trusted proxy is believed; anything a client wrote itself
    stays to the left of the first untrusted hop and is ignored.
    """
    if not forwarded_for or not trusted or not trusted.contains(peer):
        return peer
    current = peer
    for hop in reversed(forwarded_for.split(",")[-max_hops:]):
        addr = parse_address(hop)
        if addr is None:
            return current  # garbage from the left of a trusted hop: stop believing
        current = addr
        if not trusted.contains(addr):
            return addr
    return current


def forwarded_for_values(forwarded: str) -> str:
    """The for= values of an RFC 7239 Forwarded header, as an X-Forwarded-For style list."""
    out = []
    for element in forwarded.split(","):
        for pair in element.split(";"):
            name, _, value = pair.strip().partition("=")
            if name.lower() == "for":
                out.append(value.strip().strip('"'))
    return ", ".join(out)


def forwarding_chain(
    peer: Address, forwarded_for: str | None, trusted: CidrSet, max_hops: int = 16
) -> tuple[Address, str]:
    """(believed client, X-Forwarded-For to send on): only the trusted part of the chain survives.

    Entries a client wrote itself are dropped, so an origin reading the leftmost entry
    sees the address the edge believed.
    """
    client = resolve_client(peer, forwarded_for, trusted, max_hops)
    if client is peer or not forwarded_for:
        return peer, peer.text
    hops = [h.strip() for h in forwarded_for.split(",")[-max_hops:]]
    keep: list[str] = []
    for hop in reversed(hops):
        addr = parse_address(hop)
        keep.append(hop)
        if addr is not None and addr.value == client.value and addr.v6 == client.v6:
            break
    keep.reverse()
    keep.append(peer.text)
    return client, ", ".join(keep)
