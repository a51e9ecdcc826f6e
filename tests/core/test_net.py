"""Client addresses: parsing, prefixes, CIDR sets and the trusted forwarding chain."""

from __future__ import annotations

import pytest

from seawall.core.errors import ConfigError
from seawall.core.net import (
    Address,
    CidrSet,
    forwarded_for_values,
    forwarding_chain,
    parse_address,
    parse_network,
    prefix_of,
    resolve_client,
)

from corefacts import addr

# ---------------------------------------------------------------- parse_address


@pytest.mark.parametrize(
    ("text", "expected", "v6"),
    [
        ("192.0.2.1", "192.0.2.1", False),
        (" 192.0.2.1 ", "192.0.2.1", False),
        ("192.0.2.1:8080", "192.0.2.1", False),
        ("2001:db8::1", "2001:db8::1", True),
        ("2001:DB8:0:0::1", "2001:db8::1", True),
        ("[2001:db8::1]", "2001:db8::1", True),
        ("[2001:db8::1]:4711", "2001:db8::1", True),
        ("fe80::1%eth0", "fe80::1", True),
        ("[fe80::1%eth0]:443", "fe80::1", True),
        ("::ffff:192.0.2.1", "192.0.2.1", False),
        ("[::ffff:192.0.2.1]:80", "192.0.2.1", False),
        ("::ffff:c000:201", "192.0.2.1", False),
    ],
)
def test_parse_address_accepts_literals_with_brackets_ports_and_zones(
    text: str, expected: str, v6: bool
) -> None:
    a = parse_address(text)
    assert a is not None
    assert (a.text, a.v6, a.bits) == (expected, v6, 128 if v6 else 32)


@pytest.mark.parametrize(
    "text",
    ["", "unknown", "_hidden", "[2001:db8::1", "192.0.2", "256.0.0.1", "01.2.3.4", "a.b.c.d"],
)
def test_parse_address_returns_none_for_anything_else(text: str) -> None:
    assert parse_address(text) is None


def test_address_value_is_the_integer_so_matching_never_reparses() -> None:
    assert addr("192.0.2.1").value == 0xC0000201
    assert addr("::1").value == 1
    # an IPv4-mapped address is the IPv4 address, not a distinct v6 one
    assert addr("::ffff:192.0.2.1") == addr("192.0.2.1")


# ---------------------------------------------------------------- prefix_of


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("192.0.2.77", "192.0.2.0/24"),
        ("192.0.2.0", "192.0.2.0/24"),
        ("198.51.100.255", "198.51.100.0/24"),
        ("::ffff:192.0.2.77", "192.0.2.0/24"),
        ("2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
        ("2001:db8:abcd:ffff:ffff:ffff:ffff:ffff", "2001:db8:abcd::/48"),
        ("2001:db8:abce::1", "2001:db8:abce::/48"),
    ],
)
def test_prefix_of_is_the_v4_slash_24_or_v6_slash_48(text: str, prefix: str) -> None:
    assert prefix_of(addr(text)) == prefix


# ---------------------------------------------------------------- CidrSet


def test_parse_network_accepts_host_bits_and_names_the_key_on_error() -> None:
    assert parse_network("10.1.2.3/8") == (False, 0x0A000000, 8)
    assert parse_network("2001:db8::1") == (True, addr("2001:db8::1").value, 128)
    with pytest.raises(ConfigError) as err:
        parse_network("10.0.0.0/33", "rules[2].match.cidrs[0]")
    assert err.value.key == "rules[2].match.cidrs[0]"
    assert "10.0.0.0/33" in str(err.value)


def test_cidr_set_with_mixed_prefix_lengths() -> None:
    s = CidrSet(
        [
            "10.0.0.0/8",
            "192.0.2.0/24",
            "198.51.100.7",  # a bare address is a /32
            "203.0.113.128/25",
            "2001:db8::/32",
            "2001:db8:ffff::1/128",
        ]
    )
    assert len(s) == 6
    assert s
    inside = ["10.255.1.1", "192.0.2.200", "198.51.100.7", "203.0.113.129", "2001:db8:1::5"]
    outside = [
        "11.0.0.1",
        "192.0.3.1",
        "198.51.100.8",
        "203.0.113.127",
        "2001:db9::1",
        # same integer as 10.0.0.1, but v6: the families never mix
        "::a00:1",
    ]
    assert [t for t in inside if s.contains(addr(t))] == inside
    assert [t for t in outside if s.contains(addr(t))] == []
    # IPv4-mapped clients are matched as the IPv4 address they are
    assert s.contains(addr("::ffff:10.1.2.3"))


def test_cidr_set_default_route_and_empty_set() -> None:
    everything_v4 = CidrSet(["0.0.0.0/0"])
    assert everything_v4.contains(addr("203.0.113.9"))
    assert not everything_v4.contains(addr("2001:db8::1"))
    empty = CidrSet()
    assert not empty
    assert len(empty) == 0
    assert not empty.contains(addr("192.0.2.1"))


def test_cidr_set_error_names_the_entry() -> None:
    with pytest.raises(ConfigError) as err:
        CidrSet(["10.0.0.0/8", "bogus"], key="network.trusted_proxies")
    assert err.value.key == "network.trusted_proxies[1]"
    assert "'bogus'" in err.value.reason


# ---------------------------------------------------------------- resolve_client

TRUSTED = CidrSet(["10.0.0.0/8", "2001:db8:ffff::/48"])
PROXY = addr("10.0.0.1")
STRANGER = addr("203.0.113.5")


@pytest.mark.parametrize(
    ("peer", "xff", "believed"),
    [
        # an untrusted peer's X-Forwarded-For is ignored, whatever it says
        (STRANGER, "192.0.2.1", "203.0.113.5"),
        (STRANGER, "10.0.0.9, 192.0.2.1", "203.0.113.5"),
        # a trusted peer without the header is the client itself
        (PROXY, None, "10.0.0.1"),
        (PROXY, "", "10.0.0.1"),
        # one trusted hop: the entry it appended
        (PROXY, "192.0.2.1", "192.0.2.1"),
        # right to left through trusted hops, stopping at the first untrusted one;
        # what the client wrote to its left (6.6.6.6) is never believed
        (PROXY, "6.6.6.6, 192.0.2.1, 10.0.0.3, 10.0.0.2", "192.0.2.1"),
        # v6 hops with brackets and ports, IPv4-mapped trusted hops
        (PROXY, "[2001:db8::77]:4711, [2001:db8:ffff::2]:80", "2001:db8::77"),
        (PROXY, "192.0.2.1, ::ffff:10.0.0.2", "192.0.2.1"),
        # every hop trusted: the leftmost is the best we know
        (PROXY, "10.0.0.3, 10.0.0.2", "10.0.0.3"),
        # garbage stops belief at the last trusted address seen
        (PROXY, "unknown", "10.0.0.1"),
        (PROXY, "192.0.2.1, garbage, 10.0.0.2", "10.0.0.2"),
        (PROXY, "192.0.2.1,, 10.0.0.2", "10.0.0.2"),
    ],
)
def test_resolve_client(peer: Address, xff: str | None, believed: str) -> None:
    assert resolve_client(peer, xff, TRUSTED).text == believed


def test_resolve_client_without_trusted_proxies_always_believes_the_peer() -> None:
    assert resolve_client(PROXY, "192.0.2.1", CidrSet()) is PROXY


def test_resolve_client_reads_at_most_max_hops_from_the_right() -> None:
    chain = ", ".join(["192.0.2.1"] + [f"10.0.0.{i}" for i in range(2, 22)])  # 20 trusted hops
    # the client's entry is beyond 16 hops: the leftmost hop inside the window is believed
    assert resolve_client(PROXY, chain, TRUSTED).text == "10.0.0.6"
    assert resolve_client(PROXY, chain, TRUSTED, max_hops=21).text == "192.0.2.1"


# ---------------------------------------------------------------- forwarding_chain


@pytest.mark.parametrize(
    ("peer", "xff", "client", "sent"),
    [
        (STRANGER, "1.2.3.4", "203.0.113.5", "203.0.113.5"),
        (PROXY, None, "10.0.0.1", "10.0.0.1"),
        (PROXY, "192.0.2.1", "192.0.2.1", "192.0.2.1, 10.0.0.1"),
        # what the client forged to the left of its own address is dropped
        (
            PROXY,
            "6.6.6.6, 7.7.7.7, 192.0.2.1, 10.0.0.2",
            "192.0.2.1",
            "192.0.2.1, 10.0.0.2, 10.0.0.1",
        ),
        (PROXY, "unknown", "10.0.0.1", "10.0.0.1"),
        (PROXY, "[2001:db8::77]:4711", "2001:db8::77", "[2001:db8::77]:4711, 10.0.0.1"),
    ],
)
def test_forwarding_chain_keeps_only_the_trusted_part(
    peer: Address, xff: str | None, client: str, sent: str
) -> None:
    believed, outgoing = forwarding_chain(peer, xff, TRUSTED)
    assert (believed.text, outgoing) == (client, sent)
    # an origin reading the leftmost entry sees the address the edge believed
    assert addr(outgoing.split(",")[0]) == believed


# ---------------------------------------------------------------- RFC 7239 Forwarded


@pytest.mark.parametrize(
    ("header", "xff"),
    [
        ('for="[2001:db8::1]:4711";proto=http, for=192.0.2.60', "[2001:db8::1]:4711, 192.0.2.60"),
        ("For=192.0.2.1;By=10.0.0.1", "192.0.2.1"),
        ("proto=https;by=10.0.0.1", ""),
        ("for=unknown, for=_hidden", "unknown, _hidden"),
    ],
)
def test_forwarded_for_values(header: str, xff: str) -> None:
    assert forwarded_for_values(header) == xff


def test_forwarded_header_feeds_the_same_chain() -> None:
    xff = forwarded_for_values('for="[2001:db8::1]:4711";proto=http, for=192.0.2.60')
    assert resolve_client(PROXY, xff, TRUSTED).text == "192.0.2.60"
    assert resolve_client(PROXY, xff, CidrSet(["10.0.0.0/8", "192.0.2.60"])).text == "2001:db8::1"
