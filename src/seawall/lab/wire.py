"""How a lab client's source address reaches the protection in front of the origin.

The lab plays the balancer in front of every protection. Behind `edge` and `nginx` it
speaks PROXY protocol v2, as a TCP balancer would, so both see the simulated client as the
peer of the connection. With no protection (`none`) it talks to the origin directly and
names the client in `X-Real-IP`, as the balancer would. Nothing else about a client, its
class least of all, is ever put on the wire.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import StrEnum

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_VER_CMD_PROXY = 0x21  # version 2, command PROXY
_TCP4, _TCP6 = 0x11, 0x21
_V4 = struct.Struct("!4s4sHH")
_V6 = struct.Struct("!16s16sHH")


class Presentation(StrEnum):
    PROXY_V2 = "proxy-v2"
    REAL_IP_HEADER = "x-real-ip"


def proxy_v2_header(src: str, dst: str, src_port: int, dst_port: int) -> bytes:
    """A PROXY v2 header (command PROXY, TCP over IPv4 or IPv6) for one connection."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version != d.version:
        if s.version == 4:
            s = ipaddress.IPv6Address(f"::ffff:{s}")
        else:
            d = ipaddress.IPv6Address(f"::ffff:{d}")
    for port in (src_port, dst_port):
        if not 0 <= port <= 0xFFFF:
            raise ValueError(f"port out of range: {port}")
    if s.version == 4:
        fam, block = _TCP4, _V4.pack(s.packed, d.packed, src_port, dst_port)
    else:
        fam, block = _TCP6, _V6.pack(s.packed, d.packed, src_port, dst_port)
    return V2_SIGNATURE + struct.pack("!BBH", _VER_CMD_PROXY, fam, len(block)) + block


@dataclass(frozen=True, slots=True)
class Target:
    """Where lab clients connect, and how they present their addresses there."""

    host: str
    port: int
    presentation: Presentation

    def preamble(self, client: str, client_port: int) -> bytes:
        """Bytes sent first on a new connection from `client`."""
        if self.presentation is Presentation.PROXY_V2:
            return proxy_v2_header(client, self.host, client_port, self.port)
        return b""

    def header_lines(self, client: str) -> bytes:
        """Header lines (CRLF-terminated) every request from `client` carries."""
        if self.presentation is Presentation.REAL_IP_HEADER:
            return b"X-Real-IP: " + client.encode("ascii") + b"\r\n"
        return b""
