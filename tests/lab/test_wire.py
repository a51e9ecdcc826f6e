"""PROXY v2 headers the lab writes, read back by the edge's own parser, and the two presentations."""

from __future__ import annotations

import pytest

from seawall.edge import proxy_protocol as pp
from seawall.lab.wire import V2_SIGNATURE, Presentation, Target, proxy_v2_header

REQUEST = b"GET / HTTP/1.1\r\nHost: microblog.lab\r\n\r\n"


def parsed(header: bytes) -> pp.ProxyInfo:
    """Parses `header` followed by a request, checking that exactly the header is consumed."""
    result = pp.parse_proxy_header(header + REQUEST)
    assert result is not None
    info, consumed = result
    assert consumed == len(header)
    return info


def test_an_ipv4_header_is_byte_for_byte_what_the_spec_says() -> None:
    header = proxy_v2_header("203.0.113.9", "127.0.0.1", 40000, 8080)
    assert header == (
        b"\r\n\r\n\x00\r\nQUIT\n"  # signature
        b"\x21"  # version 2, command PROXY
        b"\x11"  # TCP over IPv4
        b"\x00\x0c"  # 12 bytes follow
        b"\xcb\x00\x71\x09"  # 203.0.113.9
        b"\x7f\x00\x00\x01"  # 127.0.0.1
        b"\x9c\x40"  # 40000
        b"\x1f\x90"  # 8080
    )
    assert V2_SIGNATURE == pp.V2_SIGNATURE


def test_ipv4_round_trips_through_the_edge_parser() -> None:
    info = parsed(proxy_v2_header("203.0.113.9", "127.0.0.1", 40000, 8080))
    assert info.version == 2 and info.tlvs == ()
    assert info.source is not None and info.destination is not None
    assert (info.source.text, info.source.v6) == ("203.0.113.9", False)
    assert info.destination.text == "127.0.0.1"
    assert (info.source_port, info.destination_port) == (40000, 8080)


def test_ipv6_round_trips_through_the_edge_parser() -> None:
    header = proxy_v2_header("2001:db8::7", "::1", 1024, 443)
    assert header[13] == pp.FAM_TCP6 and len(header) == 16 + 36
    info = parsed(header)
    assert info.source is not None and info.destination is not None
    assert (info.source.text, info.source.v6) == ("2001:db8::7", True)
    assert info.destination.text == "::1"
    assert (info.source_port, info.destination_port) == (1024, 443)


def test_mixed_families_are_sent_as_ipv6_with_the_ipv4_side_mapped() -> None:
    # an IPv4 client reaching an IPv6 listener
    header = proxy_v2_header("198.51.100.7", "::1", 5000, 8443)
    assert header[13] == pp.FAM_TCP6
    assert header[16:32] == bytes(10) + b"\xff\xff" + bytes([198, 51, 100, 7])
    info = parsed(header)
    assert info.source is not None and info.destination is not None
    assert (info.source.text, info.source.v6) == ("198.51.100.7", False)  # unmapped again
    assert (info.destination.text, info.destination.v6) == ("::1", True)

    # an IPv6 client reaching an IPv4 listener
    info = parsed(proxy_v2_header("2001:db8::9", "127.0.0.1", 5001, 8080))
    assert info.source is not None and info.destination is not None
    assert (info.source.text, info.destination.text) == ("2001:db8::9", "127.0.0.1")
    assert (info.source_port, info.destination_port) == (5001, 8080)


def test_port_bounds() -> None:
    info = parsed(proxy_v2_header("192.0.2.1", "127.0.0.1", 0, 0xFFFF))
    assert (info.source_port, info.destination_port) == (0, 65535)
    for src_port, dst_port in ((-1, 80), (65536, 80), (80, -1), (80, 65536)):
        with pytest.raises(ValueError, match="port out of range"):
            proxy_v2_header("192.0.2.1", "127.0.0.1", src_port, dst_port)


def test_a_name_is_not_an_address() -> None:
    with pytest.raises(ValueError):
        proxy_v2_header("localhost", "127.0.0.1", 1, 2)


def test_behind_a_protection_the_client_is_named_in_the_preamble_only() -> None:
    target = Target("127.0.0.1", 8080, Presentation.PROXY_V2)
    preamble = target.preamble("203.0.113.9", 41000)
    assert preamble == proxy_v2_header("203.0.113.9", "127.0.0.1", 41000, 8080)
    info = parsed(preamble)
    assert info.source is not None and info.source.text == "203.0.113.9"
    assert info.destination_port == 8080
    assert target.header_lines("203.0.113.9") == b""


def test_without_a_protection_the_client_is_named_in_x_real_ip_only() -> None:
    target = Target("127.0.0.1", 8080, Presentation.REAL_IP_HEADER)
    assert target.preamble("203.0.113.9", 41000) == b""
    assert target.header_lines("203.0.113.9") == b"X-Real-IP: 203.0.113.9\r\n"
    assert target.header_lines("2001:db8::7") == b"X-Real-IP: 2001:db8::7\r\n"


def test_presentations_are_named_as_the_plans_write_them() -> None:
    assert Presentation("proxy-v2") is Presentation.PROXY_V2
    assert Presentation("x-real-ip") is Presentation.REAL_IP_HEADER
