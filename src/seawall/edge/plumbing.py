"""Socket plumbing of a client connection: deadlines, corked writes, read pauses.

Kept apart from the HTTP logic in connection.py so each stays readable.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

from seawall.core.errors import ClientError
from seawall.core.net import Address, parse_address, prefix_of
from seawall.edge.proxy_protocol import parse_proxy_header

if TYPE_CHECKING:
    from seawall.edge.context import EdgeContext

log = logging.getLogger("seawall.edge")
UNKNOWN = Address("0.0.0.0", 0, False)

# client-side deadline kinds
IDLE, HEAD, BODY, SEND, NONE = range(5)
BODY_GRACE = 5.0  # seconds before the minimum body rate applies


TCP_ESTABLISHED = 1  # tcpi_state, the first byte of Linux's struct tcp_info


def peer_closed(transport: asyncio.BaseTransport) -> bool | None:
    """Whether the peer sent FIN or RST, from the kernel's TCP state: a transport that is
    not reading (paused, or its buffer full) sees neither. None where the state is unknown."""
    sock = transport.get_extra_info("socket")
    if sock is None or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != TCP_ESTABLISHED)
    except OSError:
        return True


class ClientPlumbing(asyncio.Protocol):
    def __init__(self, ctx: EdgeContext) -> None:
        self.ctx = ctx
        self.s = ctx.settings
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.read_pauses = 0  # bitmask of reasons reading is paused
        self.corked = 0
        self.out: list[bytes] = []
        self.deadline = 0.0
        self.kind = IDLE
        self.body_since = 0.0
        self.upstream_deadline = 0.0
        self.peer = UNKNOWN
        self.peer_prefix = ""
        self.counted = False
        self.proxy_buf: bytearray | None = None

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.flush()
            self.closed = True
            self.transport.close()

    def set_deadline(self, kind: int) -> None:
        self.kind = kind
        if kind == NONE:
            self.deadline = 0.0
            return
        s = self.s
        now = self.ctx.clock.monotonic()
        if kind == IDLE:
            self.deadline = now + s.idle_timeout
        elif kind == HEAD:
            self.deadline = now + s.head_timeout
        elif kind == SEND:
            self.deadline = now + s.send_timeout
        else:  # BODY
            self.body_since = now
            self.deadline = now + BODY_GRACE

    def write(self, data: bytes) -> None:
        if self.corked:
            self.out.append(data)
        elif self.transport is not None and not self.closed:
            self.transport.write(data)

    def cork(self) -> None:
        """Hold writes until uncork: a response head and body leave in one send."""
        self.corked += 1

    def uncork(self) -> None:
        self.corked -= 1
        if not self.corked and self.out:
            self.flush()

    def flush(self) -> None:
        out, self.out = self.out, []
        if out and self.transport is not None and not self.closed:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    def pause_reading(self, reason: int) -> None:
        if not self.read_pauses and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self.read_pauses |= reason

    def resume_reading(self, reason: int) -> None:
        if not self.read_pauses & reason:
            return
        self.read_pauses &= ~reason
        if not self.read_pauses and self.transport is not None and not self.closed:
            self.transport.resume_reading()

    # ---- who is on the other end -------------------------------------------------------

    def _set_peer(self, addr: Address) -> None:
        self.peer = addr
        self.peer_prefix = prefix_of(addr)
        per = self.ctx.per_address
        if per[addr.value] >= self.s.max_connections_per_address:
            self.ctx.stats.connections_refused["per_address"] += 1
            self.abort()
            return
        per[addr.value] += 1
        self.counted = True

    def _read_proxy(self, data: bytes) -> bool:
        """Consume the PROXY header; True once done (the rest is left in proxy_buf)."""
        buf = self.proxy_buf
        assert buf is not None
        buf += data
        try:
            parsed = parse_proxy_header(buf)
        except ClientError as exc:
            self.ctx.stats.client_errors["proxy_protocol"] += 1
            log.debug("bad PROXY header from %s: %s", self.transport_peer(), exc.reason)
            self.abort()
            return False
        if parsed is None:
            return False
        info, used = parsed
        del buf[:used]
        if info.source is not None:
            self._set_peer(info.source)
        else:
            peer = self.transport.get_extra_info("peername") if self.transport else None
            self._set_peer((parse_address(peer[0]) if peer else None) or UNKNOWN)
        return not self.closed

    def transport_peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return str(peer[0]) if peer else "?"
