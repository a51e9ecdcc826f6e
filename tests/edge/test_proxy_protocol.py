"""PROXY protocol v1/v2: valid headers in, ProxyInfo out; anything else is the peer's 400."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawall.core.errors import ClientError
from seawall.core.net import Address, parse_address
from seawall.edge.proxy_protocol import (
    MAX_HEADER_BYTES,
    MAX_V1_LINE,
    PP2_CLIENT_SSL,
    PP2_TYPE_ALPN,
    PP2_TYPE_AUTHORITY,
    PP2_TYPE_CRC32C,
    PP2_TYPE_NOOP,
    PP2_TYPE_SSL,
    PP2_TYPE_UNIQUE_ID,
    V1_SIGNATURE,
    V2_SIGNATURE,
    ProxyInfo,
    crc32c,
    parse_proxy_header,
)

PAYLOAD = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


# ---- building v2 headers from fields -------------------------------------------------------------


def tlv(kind: int, value: bytes) -> bytes:
    return bytes([kind]) + len(value).to_bytes(2, "big") + value


def ssl_tlv(client: int = PP2_CLIENT_SSL, verify: int = 0, version: bytes = b"TLSv1.3") -> bytes:
    return tlv(PP2_TYPE_SSL, bytes([client]) + verify.to_bytes(4, "big") + tlv(0x21, version))


def v2(
    *,
    command: int = 1,
    fam: int = 0x11,
    src: str = "192.0.2.1",
    dst: str = "198.51.100.2",
    sport: int = 51234,
    dport: int = 443,
    tlvs: bytes = b"",
    crc: bool = False,
    version: int = 2,
    length: int | None = None,
    block: bytes | None = None,
) -> bytes:
    """A v2 header from its fields; `block`/`length` override the computed parts for bad cases."""
    if block is None:
        if fam >> 4 == 1:
            block = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
            block += struct.pack("!HH", sport, dport)
        elif fam >> 4 == 2:
            block = ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed
            block += struct.pack("!HH", sport, dport)
        elif fam >> 4 == 3:
            block = src.encode().ljust(108, b"\0") + dst.encode().ljust(108, b"\0")
        else:
            block = b""
    body = block + tlvs + (tlv(PP2_TYPE_CRC32C, b"\0\0\0\0") if crc else b"")
    size = len(body) if length is None else length
    header = V2_SIGNATURE + bytes([version << 4 | command, fam]) + size.to_bytes(2, "big") + body
    if crc:
        header = header[:-4] + crc32c(header).to_bytes(4, "big")
    return header


def addr(text: str) -> Address:
    a = parse_address(text)
    assert a is not None
    return a


# ---- valid headers -------------------------------------------------------------------------------

VALID: list[tuple[str, bytes, ProxyInfo | None]] = [
    (
        "v1 tcp4",
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
        ProxyInfo(addr("192.168.0.1"), addr("192.168.0.11"), 56324, 443, 1),
    ),
    (
        "v1 tcp4 extremes",
        b"PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n",
        ProxyInfo(addr("255.255.255.255"), addr("0.0.0.0"), 65535, 0, 1),
    ),
    (
        "v1 tcp6",
        b"PROXY TCP6 2001:db8::1 2001:DB8::2 1 80\r\n",
        ProxyInfo(addr("2001:db8::1"), addr("2001:db8::2"), 1, 80, 1),
    ),
    (
        "v1 tcp6 longest line",
        b"PROXY TCP6 " + b"ffff:" * 7 + b"ffff " + b"ffff:" * 7 + b"ffff 65535 65535\r\n",
        ProxyInfo(addr("ffff:" * 7 + "ffff"), addr("ffff:" * 7 + "ffff"), 65535, 65535, 1),
    ),
    (
        "v1 tcp6 mapped v4 is a v4 client",
        b"PROXY TCP6 ::ffff:203.0.113.9 ::1 4000 443\r\n",
        ProxyInfo(addr("203.0.113.9"), addr("::1"), 4000, 443, 1),
    ),
    ("v1 unknown short", b"PROXY UNKNOWN\r\n", ProxyInfo(None, None, 0, 0, 1)),
    (
        "v1 unknown with ignored rest",
        b"PROXY UNKNOWN " + b"ffff:" * 7 + b"ffff " + b"ffff:" * 7 + b"ffff 65535 65535\r\n",
        ProxyInfo(None, None, 0, 0, 1),
    ),
    (
        "v2 proxy ipv4",
        v2(),
        ProxyInfo(addr("192.0.2.1"), addr("198.51.100.2"), 51234, 443, 2),
    ),
    (
        "v2 proxy ipv6",
        v2(fam=0x21, src="2001:db8::a", dst="2001:db8::b", sport=1, dport=8443),
        ProxyInfo(addr("2001:db8::a"), addr("2001:db8::b"), 1, 8443, 2),
    ),
    (
        "v2 proxy ipv6 mapped v4",
        v2(fam=0x21, src="::ffff:10.1.2.3", dst="2001:db8::b"),
        ProxyInfo(addr("10.1.2.3"), addr("2001:db8::b"), 51234, 443, 2),
    ),
    ("v2 local", v2(command=0, fam=0x00), ProxyInfo(None, None, 0, 0, 2)),
    (
        "v2 local ignores family and block",
        v2(command=0, fam=0x11),
        ProxyInfo(None, None, 0, 0, 2),
    ),
    (
        "v2 local ignores an unknown family",
        v2(command=0, fam=0x77, block=b"junk"),
        ProxyInfo(None, None, 0, 0, 2),
    ),
    ("v2 proxy unspec", v2(fam=0x00, block=b"opaque"), ProxyInfo(None, None, 0, 0, 2)),
    (
        "v2 udp falls back to the real peer",
        v2(fam=0x12, tlvs=tlv(PP2_TYPE_ALPN, b"h3")),
        ProxyInfo(None, None, 0, 0, 2, ((PP2_TYPE_ALPN, b"h3"),)),
    ),
    ("v2 unix stream", v2(fam=0x31, src="/a", dst="/b"), ProxyInfo(None, None, 0, 0, 2)),
    (
        "v2 with tlvs",
        v2(
            tlvs=tlv(PP2_TYPE_ALPN, b"h2")
            + tlv(PP2_TYPE_AUTHORITY, "bücher.example".encode())
            + ssl_tlv()
            + tlv(PP2_TYPE_NOOP, b"")
            + tlv(PP2_TYPE_UNIQUE_ID, b"u" * 128)
        ),
        ProxyInfo(
            addr("192.0.2.1"),
            addr("198.51.100.2"),
            51234,
            443,
            2,
            (
                (PP2_TYPE_ALPN, b"h2"),
                (PP2_TYPE_AUTHORITY, "bücher.example".encode()),
                (PP2_TYPE_SSL, b"\x01\0\0\0\0" + tlv(0x21, b"TLSv1.3")),
                (PP2_TYPE_NOOP, b""),
                (PP2_TYPE_UNIQUE_ID, b"u" * 128),
            ),
        ),
    ),
    (
        "v2 with a good crc32c",
        v2(tlvs=tlv(PP2_TYPE_AUTHORITY, b"a.example"), crc=True),
        None,  # tlvs include the checksum; checked below
    ),
]


@pytest.mark.parametrize(("name", "raw", "expected"), VALID, ids=[v[0] for v in VALID])
def test_valid_header_is_parsed_and_consumed_exactly(
    name: str, raw: bytes, expected: ProxyInfo | None
) -> None:
    result = parse_proxy_header(raw + PAYLOAD)
    assert result is not None
    info, used = result
    assert used == len(raw)
    if expected is not None:
        assert info == expected
    assert parse_proxy_header(raw) == result  # no payload: same answer


@pytest.mark.parametrize(("name", "raw", "expected"), VALID, ids=[v[0] for v in VALID])
def test_byte_by_byte_feeding_waits_then_gives_the_same_result(
    name: str, raw: bytes, expected: ProxyInfo | None
) -> None:
    whole = parse_proxy_header(raw)
    for k in range(len(raw)):
        assert parse_proxy_header(raw[:k]) is None, k
    assert parse_proxy_header(bytearray(raw)) == whole
    assert parse_proxy_header(memoryview(raw + PAYLOAD)) == whole


def test_authority_and_ssl_conveniences() -> None:
    raw = v2(tlvs=tlv(PP2_TYPE_AUTHORITY, b"api.example.com") + ssl_tlv())
    info, _ = parse_proxy_header(raw) or pytest.fail("incomplete")
    assert info.authority == "api.example.com"
    assert info.ssl is True
    assert info.tlv(PP2_TYPE_ALPN) is None
    plain = v2(tlvs=ssl_tlv(client=0x02))
    info, _ = parse_proxy_header(plain) or pytest.fail("incomplete")
    assert (info.authority, info.ssl) == (None, False)


def test_crc32c_known_vector_and_good_checksum() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    raw = v2(tlvs=tlv(PP2_TYPE_AUTHORITY, b"a.example"), crc=True)
    info, used = parse_proxy_header(raw) or pytest.fail("incomplete")
    assert used == len(raw)
    assert info.authority == "a.example"
    assert info.tlv(PP2_TYPE_CRC32C) == raw[-4:]


def test_info_is_a_frozen_slotted_dataclass() -> None:
    info = ProxyInfo(None, None, 0, 0, 1)
    assert not hasattr(info, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.version = 2  # type: ignore[misc]


# ---- invalid headers ----------------------------------------------------------------------------


def bad_crc() -> bytes:
    raw = bytearray(v2(tlvs=tlv(PP2_TYPE_AUTHORITY, b"a.example"), crc=True))
    raw[-1] ^= 0xFF
    return bytes(raw)


INVALID: list[tuple[str, bytes, str]] = [
    ("http request", b"GET / HTTP/1.1\r\n", "neither the v1 nor the v2"),
    ("first byte alone", b"G", "neither the v1 nor the v2"),
    ("tls client hello", b"\x16\x03\x01\x02\x00", "neither the v1 nor the v2"),
    ("near v1", b"PROXX", "neither the v1 nor the v2"),
    ("v1 lowercase", b"proxy TCP4", "neither the v1 nor the v2"),
    ("near v2", b"\r\n\r\nGET", "neither the v1 nor the v2"),
    ("v1 no space", b"PROXY\r\n", "neither the v1 nor the v2"),
    ("v1 bad protocol early", b"PROXY UDP4 ", "TCP4, TCP6 or UNKNOWN"),
    ("v1 double space early", b"PROXY  TCP4", "TCP4, TCP6 or UNKNOWN"),
    ("v1 unknownx", b"PROXY UNKNOWNX\r\n", "TCP4, TCP6 or UNKNOWN"),
    ("v1 too long", b"PROXY UNKNOWN " + b"x" * 100, f"first {MAX_V1_LINE} bytes"),
    ("v1 108 with crlf", b"PROXY UNKNOWN " + b"x" * 92 + b"\r\n", f"first {MAX_V1_LINE} bytes"),
    ("v1 bare lf", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "CRLF"),
    ("v1 bare cr", b"PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", "CR not followed by LF"),
    ("v1 cr then junk", b"PROXY TCP4 1.2.3.4\rx", "CR not followed by LF"),
    ("v1 empty protocol", b"PROXY \r\n", "is not TCP4, TCP6 or UNKNOWN"),
    ("v1 tcp5", b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "is not TCP4, TCP6 or UNKNOWN"),
    ("v1 missing port", b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "5 fields"),
    ("v1 extra field", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "7 fields"),
    ("v1 double space", b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "7 fields"),
    ("v1 trailing space", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "7 fields"),
    ("v1 tab", b"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "5 fields"),
    ("v1 v6 in tcp4", b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "source address '::1' is not a TCP4"),
    ("v1 v4 in tcp6", b"PROXY TCP6 ::1 5.6.7.8 1 2\r\n", "destination address '5.6.7.8'"),
    ("v1 leading zero octet", b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "source address"),
    ("v1 octet over 255", b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "source address"),
    ("v1 bracketed v6", b"PROXY TCP6 [::1] ::2 1 2\r\n", "source address"),
    ("v1 zoned v6", b"PROXY TCP6 fe80::1%eth0 ::2 1 2\r\n", "source address"),
    ("v1 v4 with port", b"PROXY TCP4 1.2.3.4:80 5.6.7.8 1 2\r\n", "source address"),
    ("v1 port over", b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "source port 65536"),
    ("v1 port plus", b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", "source port '+1'"),
    ("v1 port leading zero", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n", "destination port '080'"),
    ("v1 port negative", b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "source port"),
    ("v1 port long", b"PROXY TCP4 1.2.3.4 5.6.7.8 000001 2\r\n", "source port"),
    ("v1 port unicode digit", "PROXY TCP4 1.2.3.4 5.6.7.8 \u0661 2\r\n".encode(), "not ASCII"),
    ("v2 version 1", v2(version=1), "version nibble is 1"),
    ("v2 version 3 early", V2_SIGNATURE + b"\x31", "version nibble is 3"),
    ("v2 command 2", v2(command=2), "unknown command 2"),
    ("v2 family 4", v2(fam=0x41, block=b""), "family/transport byte 0x41"),
    ("v2 transport 3", v2(fam=0x13, block=b"\0" * 12), "family/transport byte 0x13"),
    ("v2 inet unspec transport", v2(fam=0x10, block=b"\0" * 12), "byte 0x10"),
    ("v2 short ipv4 block", v2(block=b"\0" * 11), "11 bytes, family 0x11 needs 12"),
    ("v2 short ipv6 block", v2(fam=0x21, block=b"\0" * 12), "needs 36"),
    ("v2 short unix block", v2(fam=0x31, block=b"\0" * 200), "needs 216"),
    ("v2 over the bound", V2_SIGNATURE + b"\x21\x11\x10\x01", "4097 exceeds the limit"),
    ("v2 huge length", V2_SIGNATURE + b"\x21\x11\xff\xff", "65535 exceeds the limit"),
    ("v2 truncated tlv", v2(tlvs=b"\x01\x00"), "truncated TLV header"),
    ("v2 tlv overrun", v2(tlvs=b"\x01\x00\x05ab"), "TLV 0x01 length overruns"),
    ("v2 authority not utf8", v2(tlvs=tlv(PP2_TYPE_AUTHORITY, b"\xff\xfe")), "not UTF-8"),
    ("v2 ssl too short", v2(tlvs=tlv(PP2_TYPE_SSL, b"\x01\0\0")), "SSL TLV is 3 bytes"),
    ("v2 ssl sub overrun", v2(tlvs=tlv(PP2_TYPE_SSL, b"\x01\0\0\0\0\x21\0\x09ab")), "sub-TLV"),
    ("v2 crc size", v2(tlvs=tlv(PP2_TYPE_CRC32C, b"\0\0")), "CRC32C TLV is 2 bytes"),
    ("v2 crc mismatch", bad_crc(), "CRC32C checksum does not match"),
    ("v2 two crcs", v2(tlvs=tlv(PP2_TYPE_CRC32C, b"\0" * 4), crc=True), "more than one"),
    ("v2 unique id too long", v2(tlvs=tlv(PP2_TYPE_UNIQUE_ID, b"u" * 129)), "over 128"),
]


@pytest.mark.parametrize(("name", "raw", "reason"), INVALID, ids=[v[0] for v in INVALID])
def test_invalid_header_is_the_peers_fault(name: str, raw: bytes, reason: str) -> None:
    with pytest.raises(ClientError) as caught:
        parse_proxy_header(raw + PAYLOAD)
    assert caught.value.status == 400
    assert reason in caught.value.reason
    with pytest.raises(ClientError):  # and without the payload (as soon as it is known)
        parse_proxy_header(raw)


@pytest.mark.parametrize(
    "raw",
    [b"G", b"\x16", b"\x00", b"p", b"PRO\x00", b"\r\r", b"PROXY X", b"PROXY TCP4\r"],
)
def test_a_non_proxy_peer_is_refused_as_soon_as_it_can_be(raw: bytes) -> None:
    for k in range(len(raw)):
        assert parse_proxy_header(raw[:k]) is None
    with pytest.raises(ClientError):
        parse_proxy_header(raw)


def test_empty_and_signature_prefixes_wait() -> None:
    assert parse_proxy_header(b"") is None
    for sig in (V1_SIGNATURE + b"TCP6 ::1 ::2 1 2\r", V2_SIGNATURE + b"\x21\x11\x00\x0c"):
        for k in range(len(sig) + 1):
            assert parse_proxy_header(sig[:k]) is None


# ---- properties ---------------------------------------------------------------------------------


def check_invariants(buf: bytes) -> None:
    """Parse or the peer's 400, never a crash; None only for short, prefix-consistent input."""
    try:
        result = parse_proxy_header(buf)
    except ClientError as exc:
        assert exc.status == 400
        return
    if result is None:
        assert len(buf) < MAX_HEADER_BYTES
        assert parse_proxy_header(buf[: len(buf) // 2]) is None
        return
    info, used = result
    assert 0 < used <= len(buf)
    assert info.version in (1, 2)
    assert 0 <= info.source_port <= 0xFFFF
    assert parse_proxy_header(buf[:used]) == result
    assert parse_proxy_header(buf + b"tail") == result


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_fuzz_any_bytes(buf: bytes) -> None:
    check_invariants(buf)


@settings(max_examples=400)
@given(
    st.sampled_from([V1_SIGNATURE, V1_SIGNATURE + b"TCP4 ", V1_SIGNATURE + b"TCP6 ", V2_SIGNATURE]),
    st.binary(max_size=300),
)
def test_fuzz_bytes_after_a_signature(sig: bytes, tail: bytes) -> None:
    check_invariants(sig + tail)


@settings(max_examples=400)
@given(
    st.sampled_from([0x20, 0x21, 0x22]),
    st.sampled_from([0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32, 0x10, 0x41]),
    st.integers(0, 300),
    st.binary(max_size=400),
)
def test_fuzz_v2_fixed_part_then_bytes(ver_cmd: int, fam: int, length: int, tail: bytes) -> None:
    check_invariants(V2_SIGNATURE + bytes([ver_cmd, fam]) + length.to_bytes(2, "big") + tail)


_PLAIN_TLV_TYPES = st.sampled_from([PP2_TYPE_ALPN, PP2_TYPE_NOOP, PP2_TYPE_UNIQUE_ID, 0x30, 0xE0])


@st.composite
def v2_fields(draw: st.DrawFn) -> tuple[bytes, ProxyInfo]:
    six = draw(st.booleans())
    bits = 128 if six else 32
    src, dst = draw(st.integers(0, 2**bits - 1)), draw(st.integers(0, 2**bits - 1))
    sport, dport = draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFFFF))
    kinds = draw(st.lists(st.tuples(_PLAIN_TLV_TYPES, st.binary(max_size=64)), max_size=6))
    host = draw(st.none() | st.text(max_size=40))
    ssl = draw(st.none() | st.integers(0, 7))
    pairs = list(kinds)
    if host is not None:
        pairs.append((PP2_TYPE_AUTHORITY, host.encode()))
    if ssl is not None:
        pairs.append((PP2_TYPE_SSL, bytes([ssl]) + b"\0\0\0\0" + tlv(0x22, b"cn")))
    crc = draw(st.booleans())
    ip = ipaddress.IPv6Address if six else ipaddress.IPv4Address
    raw = v2(
        fam=0x21 if six else 0x11,
        src=str(ip(src)),
        dst=str(ip(dst)),
        sport=sport,
        dport=dport,
        tlvs=b"".join(tlv(k, v) for k, v in pairs),
        crc=crc,
    )
    if crc:
        pairs.append((PP2_TYPE_CRC32C, raw[-4:]))
    info = ProxyInfo(addr(str(ip(src))), addr(str(ip(dst))), sport, dport, 2, tuple(pairs))
    return raw, info


@settings(max_examples=300)
@given(v2_fields(), st.binary(max_size=64))
def test_v2_round_trip(fields: tuple[bytes, ProxyInfo], payload: bytes) -> None:
    raw, expected = fields
    info, used = parse_proxy_header(raw + payload) or pytest.fail("incomplete")
    assert used == len(raw)
    assert info == expected
    assert info.ssl == any(k == PP2_TYPE_SSL and v[0] & PP2_CLIENT_SSL for k, v in expected.tlvs)
    assert info.authority == next((v.decode() for k, v in expected.tlvs if k == 2), None)
    assert parse_proxy_header(raw[: len(raw) - 1]) is None


@settings(max_examples=200)
@given(st.booleans(), st.integers(0, 2**128 - 1), st.integers(0, 0xFFFF))
def test_v1_round_trip_follows_parse_address(six: bool, value: int, port: int) -> None:
    text = str(ipaddress.IPv6Address(value)) if six else str(ipaddress.IPv4Address(value >> 96))
    proto = "TCP6" if six else "TCP4"
    raw = f"PROXY {proto} {text} {text} {port} {port}\r\n".encode()
    info, used = parse_proxy_header(raw) or pytest.fail("incomplete")
    assert used == len(raw) <= MAX_V1_LINE
    assert info.source == parse_address(text) == info.destination
    assert info.source_port == port


def test_worst_case_headers_finish_fast() -> None:
    many_tlvs = tlv(PP2_TYPE_NOOP, b"") * ((4096 - 12 - 7) // 3)
    worst = [
        v2(tlvs=many_tlvs, crc=True),
        V1_SIGNATURE + b"UNKNOWN" + b" " * 98,
        v2(tlvs=tlv(PP2_TYPE_ALPN, b"x" * 4000))[:-1],
    ]
    start = time.perf_counter()
    for raw in worst:
        for _ in range(10):
            with contextlib.suppress(ClientError):
                parse_proxy_header(raw)
    assert time.perf_counter() - start < 2.0
