"""PROXY protocol v1 (text) and v2 (binary) headers, as HAProxy's proxy-protocol.txt defines them.

Pure: bytes in, `(ProxyInfo, consumed)` out, `None` while the header is incomplete, and a
`ClientError(400)` as soon as the bytes cannot be (a prefix of) a valid header. Every wait is
bounded: a v1 line by 107 bytes, a v2 header by 16 + `MAX_V2_LENGTH` bytes, so `None` always
means fewer than `MAX_HEADER_BYTES` bytes were given.

Choices where the spec leaves room:
- v2 LOCAL: the protocol block (family, addresses, TLVs) is discarded, as the spec says.
- v2 PROXY with UNSPEC (0x00): the block is ignored (its layout is unknown), `tlvs` is empty.
- v2 UDP or UNIX families fall back to UNSPEC: no addresses, but the TLVs after the
  (fixed-size) address part are parsed and checked.
- TLVs are kept raw and in order, NOOP included; AUTHORITY must be UTF-8, SSL well formed,
  UNIQUE_ID at most 128 bytes, and a CRC32C TLV is verified.
- IPv4-mapped IPv6 addresses become IPv4 `Address`es, as `parse_address` does.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from seawall.core.errors import ClientError
from seawall.core.net import Address

V1_SIGNATURE = b"PROXY "
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
MAX_V1_LINE = 107  # the longest line the spec allows, CRLF included
MAX_V2_LENGTH = 4096  # our bound on the v2 length field (the spec allows 65535)
V2_FIXED = 16
MAX_HEADER_BYTES = V2_FIXED + MAX_V2_LENGTH

PP2_TYPE_ALPN = 0x01
PP2_TYPE_AUTHORITY = 0x02
PP2_TYPE_CRC32C = 0x03
PP2_TYPE_NOOP = 0x04
PP2_TYPE_UNIQUE_ID = 0x05
PP2_TYPE_SSL = 0x20
PP2_TYPE_NETNS = 0x30
PP2_CLIENT_SSL = 0x01
MAX_UNIQUE_ID = 128

CMD_LOCAL = 0x0
CMD_PROXY = 0x1
FAM_UNSPEC = 0x00
FAM_TCP4 = 0x11
FAM_TCP6 = 0x21
# family/transport byte -> size of the address part; anything else is refused
_V2_FAMILIES = {0x00: 0, 0x11: 12, 0x12: 12, 0x21: 36, 0x22: 36, 0x31: 216, 0x32: 216}
_V4_BLOCK = struct.Struct("!IIHH")
_V6_PORTS = struct.Struct("!HH")
_V1_PROTOCOLS = (b"TCP4 ", b"TCP6 ", b"UNKNOWN ", b"UNKNOWN\r")
_SSL_FIXED = 5  # client (1) + verify (4)
_MAPPED_V4 = 0xFFFF
_HEX_V6 = frozenset("0123456789abcdefABCDEF:.")


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    """What a PROXY header says about the connection; `source` None means use the real peer."""

    source: Address | None
    destination: Address | None
    source_port: int
    destination_port: int
    version: int
    tlvs: tuple[tuple[int, bytes], ...] = ()

    def tlv(self, kind: int) -> bytes | None:
        """The value of the first TLV of type `kind`, or None."""
        for t, value in self.tlvs:
            if t == kind:
                return value
        return None

    @property
    def authority(self) -> str | None:
        """The host name the client asked for (SNI with TLS), from PP2_TYPE_AUTHORITY."""
        value = self.tlv(PP2_TYPE_AUTHORITY)
        return None if value is None else value.decode("utf-8", "replace")

    @property
    def ssl(self) -> bool:
        """True when the balancer says the client connected over TLS (PP2_CLIENT_SSL)."""
        value = self.tlv(PP2_TYPE_SSL)
        return bool(value and value[0] & PP2_CLIENT_SSL)


_UNKNOWN_V1 = ProxyInfo(None, None, 0, 0, 1)
_UNKNOWN_V2 = ProxyInfo(None, None, 0, 0, 2)


def _bad(reason: str) -> ClientError:
    return ClientError(400, reason)


def parse_proxy_header(
    buf: bytes | bytearray | memoryview,
) -> tuple[ProxyInfo, int] | None:
    """(info, bytes consumed) for a complete header at the start of `buf`; None if more is needed.

    Raises ClientError(400) as soon as `buf` cannot be the start of a valid v1 or v2 header.
    Bytes after the header (the client's first request) are never consumed.
    """
    if isinstance(buf, memoryview):
        buf = bytes(buf[:MAX_HEADER_BYTES])
    if not buf:
        return None
    first = buf[0]
    if first == 0x0D:
        return _parse_v2(buf)
    if first == 0x50:  # "P"
        return _parse_v1(buf)
    raise _bad("not a PROXY protocol header (neither the v1 nor the v2 signature)")


# ---- version 2 ---------------------------------------------------------------------------------


def _parse_v2(buf: bytes | bytearray) -> tuple[ProxyInfo, int] | None:
    n = len(buf)
    sig = buf[:12]
    if sig != V2_SIGNATURE[: len(sig)]:
        raise _bad("not a PROXY protocol header (neither the v1 nor the v2 signature)")
    if n < 13:
        return None
    version, command = buf[12] >> 4, buf[12] & 0x0F
    if version != 2:
        raise _bad(f"PROXY v2: version nibble is {version}, not 2")
    if command > CMD_PROXY:
        raise _bad(f"PROXY v2: unknown command {command} (only LOCAL 0 and PROXY 1)")
    if n < 14:
        return None
    fam = buf[13]
    need = _V2_FAMILIES.get(fam, -1) if command == CMD_PROXY else 0
    if need < 0:
        raise _bad(f"PROXY v2: unknown address family/transport byte 0x{fam:02x}")
    if n < V2_FIXED:
        return None
    length = (buf[14] << 8) | buf[15]
    if length > MAX_V2_LENGTH:
        raise _bad(f"PROXY v2: header length {length} exceeds the limit of {MAX_V2_LENGTH}")
    if length < need:
        raise _bad(f"PROXY v2: address block of {length} bytes, family 0x{fam:02x} needs {need}")
    end = V2_FIXED + length
    if n < end:
        return None
    if command == CMD_LOCAL or fam == FAM_UNSPEC:
        return _UNKNOWN_V2, end
    tlvs = _v2_tlvs(buf, V2_FIXED + need, end)
    return _v2_addresses(buf, fam, tlvs), end


def _v2_addresses(
    buf: bytes | bytearray, fam: int, tlvs: tuple[tuple[int, bytes], ...]
) -> ProxyInfo:
    if fam == FAM_TCP4:
        src, dst, sport, dport = _V4_BLOCK.unpack_from(buf, V2_FIXED)
        return ProxyInfo(_v4_address(src), _v4_address(dst), sport, dport, 2, tlvs)
    if fam == FAM_TCP6:
        src = int.from_bytes(buf[16:32], "big")
        dst = int.from_bytes(buf[32:48], "big")
        sport, dport = _V6_PORTS.unpack_from(buf, 48)
        return ProxyInfo(_v6_address(src), _v6_address(dst), sport, dport, 2, tlvs)
    return ProxyInfo(None, None, 0, 0, 2, tlvs)  # UDP or UNIX: fall back to the real peer


def _v4_address(value: int) -> Address:
    text = f"{value >> 24}.{(value >> 16) & 0xFF}.{(value >> 8) & 0xFF}.{value & 0xFF}"
    return Address(text, value, False)


def _v6_address(value: int) -> Address:
    if value >> 32 == _MAPPED_V4:  # ::ffff:a.b.c.d is an IPv4 client, as parse_address says
        return _v4_address(value & 0xFFFFFFFF)
    return Address(str(ipaddress.IPv6Address(value)), value, True)


def _walk_tlvs(buf: bytes | bytearray, pos: int, end: int, what: str) -> list[tuple[int, int, int]]:
    """(type, value start, value end) of each TLV in buf[pos:end]; raises if one overruns."""
    out = []
    while pos < end:
        if end - pos < 3:
            raise _bad(f"PROXY v2: truncated {what} header ({end - pos} bytes left)")
        kind = buf[pos]
        start = pos + 3
        pos = start + ((buf[pos + 1] << 8) | buf[pos + 2])
        if pos > end:
            raise _bad(f"PROXY v2: {what} 0x{kind:02x} length overruns the header by {pos - end}")
        out.append((kind, start, pos))
    return out


def _v2_tlvs(buf: bytes | bytearray, pos: int, end: int) -> tuple[tuple[int, bytes], ...]:
    tlvs = []
    crc_at = -1
    for kind, start, stop in _walk_tlvs(buf, pos, end, "TLV"):
        value = bytes(buf[start:stop])
        _check_tlv(kind, value)
        if kind == PP2_TYPE_CRC32C:
            if crc_at >= 0:
                raise _bad("PROXY v2: more than one CRC32C TLV")
            crc_at = start
        tlvs.append((kind, value))
    if crc_at >= 0:
        _check_crc(buf, crc_at, end)
    return tuple(tlvs)


def _check_tlv(kind: int, value: bytes) -> None:
    if kind == PP2_TYPE_AUTHORITY:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("PROXY v2: AUTHORITY TLV is not UTF-8") from None
    elif kind == PP2_TYPE_CRC32C and len(value) != 4:
        raise _bad(f"PROXY v2: CRC32C TLV is {len(value)} bytes, not 4")
    elif kind == PP2_TYPE_UNIQUE_ID and len(value) > MAX_UNIQUE_ID:
        raise _bad(f"PROXY v2: UNIQUE_ID TLV is {len(value)} bytes, over {MAX_UNIQUE_ID}")
    elif kind == PP2_TYPE_SSL:
        if len(value) < _SSL_FIXED:
            raise _bad(f"PROXY v2: SSL TLV is {len(value)} bytes, under {_SSL_FIXED}")
        _walk_tlvs(value, _SSL_FIXED, len(value), "SSL sub-TLV")


def _check_crc(buf: bytes | bytearray, at: int, end: int) -> None:
    expected = int.from_bytes(buf[at : at + 4], "big")
    header = bytearray(buf[:end])
    header[at : at + 4] = b"\0\0\0\0"
    if crc32c(header) != expected:
        raise _bad("PROXY v2: CRC32C checksum does not match the header")


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes | bytearray) -> int:
    """CRC-32C (Castagnoli, RFC 4960 appendix B), as the PP2_TYPE_CRC32C TLV carries it."""
    c = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---- version 1 ---------------------------------------------------------------------------------


def _parse_v1(buf: bytes | bytearray) -> tuple[ProxyInfo, int] | None:
    head = bytes(buf[:MAX_V1_LINE])
    sig = head[:6]
    if sig != V1_SIGNATURE[: len(sig)]:
        raise _bad("not a PROXY protocol header (neither the v1 nor the v2 signature)")
    lf = head.find(b"\n")
    cr = head.find(b"\r")
    if lf < 0:
        if 0 <= cr < len(head) - 1:
            raise _bad("PROXY v1: CR not followed by LF")
        if len(head) >= MAX_V1_LINE:
            raise _bad(f"PROXY v1: no CRLF within the first {MAX_V1_LINE} bytes")
        rest = head[6:14]
        if not any(p[: len(rest)] == rest[: len(p)] for p in _V1_PROTOCOLS):
            raise _bad("PROXY v1: protocol must be TCP4, TCP6 or UNKNOWN")
        return None
    if cr < 0 or cr >= lf:
        raise _bad("PROXY v1: line ends with a bare LF, not CRLF")
    if cr != lf - 1:
        raise _bad("PROXY v1: CR not followed by LF")
    return _v1_fields(head[:cr]), lf + 1


def _v1_fields(line: bytes) -> ProxyInfo:
    if line[6:13] == b"UNKNOWN" and (len(line) == 13 or line[13] == 0x20):
        return _UNKNOWN_V1  # the rest of the line is to be ignored
    try:
        parts = line.decode("ascii").split(" ")
    except UnicodeDecodeError:
        raise _bad("PROXY v1: line is not ASCII") from None
    proto = parts[1]
    if proto not in ("TCP4", "TCP6"):
        raise _bad(f"PROXY v1: protocol {proto[:8]!r} is not TCP4, TCP6 or UNKNOWN")
    if len(parts) != 6:
        raise _bad(f"PROXY v1: {len(parts)} fields, expected 6 separated by single spaces")
    v6 = proto == "TCP6"
    return ProxyInfo(
        _v1_address(parts[2], v6, "source"),
        _v1_address(parts[3], v6, "destination"),
        _v1_port(parts[4], "source"),
        _v1_port(parts[5], "destination"),
        1,
    )


def _v1_address(token: str, v6: bool, what: str) -> Address:
    try:
        if v6:
            if not token or not _HEX_V6.issuperset(token):
                raise ValueError(token)
            return _v6_address(int(ipaddress.IPv6Address(token)))
        return _v4_address(int(ipaddress.IPv4Address(token)))
    except ValueError:
        family = "TCP6" if v6 else "TCP4"
        raise _bad(f"PROXY v1: {what} address {token[:40]!r} is not a {family} address") from None


def _v1_port(token: str, what: str) -> int:
    if not (0 < len(token) <= 5 and token.isdigit()) or (token[0] == "0" and len(token) > 1):
        raise _bad(f"PROXY v1: {what} port {token[:8]!r} is not a decimal 0-65535")
    port = int(token)
    if port > 0xFFFF:
        raise _bad(f"PROXY v1: {what} port {port} is over 65535")
    return port
