"""The client side of the edge: parse, decide, answer or hand the exchange to an upstream."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from seawall.core.errors import ClientError
from seawall.core.facts import NO_TLS
from seawall.core.net import (
    parse_address,
)
from seawall.edge.dispatch import ClientDispatch
from seawall.edge.exchange import BODY_BUFFER, LAST_CHUNK, Exchange, frame
from seawall.edge.facts import tls_facts, to_origin_form
from seawall.edge.plumbing import (
    BODY,
    BODY_GRACE,
    HEAD,
    IDLE,
    NONE,
    SEND,
    UNKNOWN,
)
from seawall.edge.request import inspect_head, request_id

if TYPE_CHECKING:
    from seawall.edge.context import EdgeContext
    from seawall.edge.upstream import UpstreamConnection

log = logging.getLogger("seawall.edge")

_MAX_PENDING = 8  # pipelined requests parsed ahead of the one in flight
RECLAIM_SCAN = 256  # idle connections looked at when the connection cap is reached
# RTSP and ICE methods llhttp knows; never HTTP, so never forwarded
NOT_HTTP = frozenset(
    m.encode()
    for m in (
        "DESCRIBE",
        "ANNOUNCE",
        "SETUP",
        "PLAY",
        "PAUSE",
        "TEARDOWN",
        "GET_PARAMETER",
        "SET_PARAMETER",
        "REDIRECT",
        "RECORD",
        "FLUSH",
        "SOURCE",
    )
)


class ClientConnection(ClientDispatch):
    """One client connection. All work happens in callbacks; no task per request."""

    def __init__(self, ctx: EdgeContext, proxy_protocol: bool) -> None:
        super().__init__(ctx)
        self.parser = httptools.HttpRequestParser(self)
        self.tls = NO_TLS
        self.proxy_buf = bytearray() if proxy_protocol else None
        self.closing = False  # a request that ends the connection has been read
        self.deferred: ClientError | None = None  # error for a request after the one in flight
        self.body_fed = 0
        self.chunks = 0
        # the request being parsed
        self.url = b""
        self.raw: list[tuple[bytes, bytes]] = []
        self.raw_size = 0
        self.head_bytes = 0
        self.parsing: Exchange | None = None
        # exchanges: the one in flight, then those parsed ahead of it
        self.active: Exchange | None = None
        self.pending: deque[Exchange] = deque()
        self.upstream: UpstreamConnection | None = None
        self.tunnel = False

    # ---- lifecycle -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        ctx = self.ctx
        ctx.stats.connections_total += 1
        full = len(ctx.connections) >= self.s.max_connections
        if ctx.draining or (full and not self._reclaim_idle()):
            ctx.stats.connections_refused["total"] += 1
            transport.abort()
            self.closed = True
            return
        ctx.connections.add(self)
        ctx.stats.connections_open = len(ctx.connections)
        peer = transport.get_extra_info("peername")
        addr = parse_address(peer[0]) if peer else None
        self.tls = tls_facts(transport)
        self.set_deadline(HEAD)  # like client_header_timeout: silence is not an idle keep-alive
        if self.proxy_buf is None:
            self._set_peer(addr or UNKNOWN)

    def _reclaim_idle(self) -> bool:
        """At the connection cap, close the idle keep-alive connection nearest its timeout
        (as nginx reuses its idle connections) rather than refuse a new client."""
        victim: ClientConnection | None = None
        for i, conn in enumerate(self.ctx.connections):
            if i >= RECLAIM_SCAN:
                break
            idle = conn.kind == IDLE and conn.active is None and conn.parsing is None
            if idle and (victim is None or conn.deadline < victim.deadline):
                victim = conn
        if victim is None:
            return False
        self.ctx.stats.connections_refused["reclaimed_idle"] += 1
        victim.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ctx = self.ctx
        ctx.connections.discard(self)
        ctx.stats.connections_open = len(ctx.connections)
        if self.counted:
            self.counted = False
            per = ctx.per_address
            per[self.peer.value] -= 1
            if per[self.peer.value] <= 0:
                del per[self.peer.value]
        up, self.upstream = self.upstream, None
        if up is not None:
            up.detach_and_close()
        ex = self.active
        if ex is not None and not ex.status:
            ex.status = 499
            ex.error = "client closed the connection"
            self.finish(ex)
        elif ex is not None:  # the client left mid-answer: free the origin slot, wake followers
            if ctx.admission is not None:
                ctx.admission.release(ex)
            if ctx.cache is not None:
                ctx.cache.settle(ex)

    def check_timeouts(self, now: float) -> None:
        """Called by the worker's sweeper: nginx-style timers without a handle per request."""
        if self.closed:
            return
        if self.upstream_deadline and now > self.upstream_deadline and self.upstream is not None:
            self.upstream.timed_out()
            return
        if not self.deadline or now <= self.deadline:
            return
        kind = self.kind
        if kind == BODY:
            ex = self.parsing
            rate = self.s.body_min_rate
            if (
                ex is None
                or not rate
                or ex.body_bytes >= rate * (now - self.body_since - BODY_GRACE)
            ):
                self.deadline = now + 1.0
                return
            self.ctx.record_slow(self.peer, self.peer_prefix, "body")
            self.client_error(ClientError(408, "request body arrived too slowly"))
        elif kind == HEAD:
            if self.head_bytes:
                self.ctx.record_slow(self.peer, self.peer_prefix, "head")
                self.client_error(ClientError(408, "request head not received in time"))
            else:
                self.abort()
        elif kind == SEND:
            self.ctx.stats.client_errors["send_timeout"] += 1
            self.ctx.record_slow(self.peer, self.peer_prefix, "read")
            self.abort()
        else:  # idle keep-alive
            self.close()

    # ---- reading ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.tunnel:
            self.set_deadline(IDLE)
            if self.upstream is not None:
                self.upstream.send(data)
            return
        if self.proxy_buf is not None and not self._read_proxy(data):
            return
        if self.proxy_buf is not None:
            data, self.proxy_buf = bytes(self.proxy_buf), None
            if not data:
                return
        if self.kind == IDLE:
            self.set_deadline(HEAD)
        if self.parsing is None:
            self.head_bytes += len(data)
        self.cork()
        try:
            self._feed(data)
        finally:
            self.uncork()

    def _feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._upgrade_data(data[exc.args[0] :] if exc.args else b"")
        except httptools.HttpParserCallbackError as exc:
            self._callback_failed(exc)
        except httptools.HttpParserError as exc:
            if not self.closing:  # bytes after a request that ends the connection are not ours
                reason = str(exc) or "malformed request"
                too_long = "URL" in reason and len(self.url) > self.s.max_url_bytes
                self.client_error(ClientError(414 if too_long else 400, reason))
        else:
            if (
                self.parsing is None
                and self.head_bytes > self.s.max_header_bytes + self.s.max_url_bytes
            ):
                self.client_error(ClientError(431, "request head too large"))
            elif self.parsing is not None and self.parsing.head.chunked:
                self._check_trailers(self.parsing, len(data))
        if not self.closed:
            self.pump()  # requests parsed before an error still get their answers, in order

    def _check_trailers(self, ex: Exchange, fed: int) -> None:
        """Bound what llhttp buffers outside the body: chunk lines and trailer fields."""
        self.body_fed += fed
        framing = self.body_fed - ex.body_bytes - 32 * self.chunks
        if framing > 2 * self.s.max_header_bytes + self.s.max_url_bytes:
            self.client_error(ClientError(431, "chunk framing or trailer fields too large"))

    def _callback_failed(self, exc: Exception) -> None:
        cause = exc.__context__
        if isinstance(cause, ClientError):
            self.client_error(cause)
            return
        log.error("internal error parsing a request", exc_info=cause or exc)
        self.ctx.stats.client_errors["internal"] += 1
        self.respond_and_close(500, "internal error in the edge")

    def _upgrade_data(self, rest: bytes) -> None:
        ex = self.pending[-1] if self.pending else self.active
        if ex is not None and ex.head.upgrade:
            ex.early = rest
        self.pause_reading(4)  # nothing more is HTTP until the origin answers the upgrade

    # ---- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.raw = []
        self.raw_size = 0
        self.body_fed = 0
        self.chunks = 0

    def on_chunk_header(self) -> None:
        self.chunks += 1

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.s.max_url_bytes:
            raise ClientError(414, f"request target over {self.s.max_url_bytes} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_size += len(name) + len(value) + 4
        if self.raw_size > self.s.max_header_bytes:
            raise ClientError(431, f"header fields over {self.s.max_header_bytes} bytes")
        if self.parsing is not None:
            return  # a trailer field: counted, never forwarded (it could smuggle a header)
        self.raw.append((name, value))
        if len(self.raw) > self.s.max_headers:
            raise ClientError(431, f"more than {self.s.max_headers} header fields")

    def on_headers_complete(self) -> None:
        p = self.parser
        version = p.get_http_version()
        if version not in ("1.1", "1.0"):
            raise ClientError(505, f"HTTP/{version} is not supported; use HTTP/1.1")
        http11 = version == "1.1"
        method = p.get_method()
        if method == b"CONNECT":
            raise ClientError(405, "CONNECT is not proxied")
        if method in NOT_HTTP:
            raise ClientError(400, f"{method.decode('latin-1')} is not an HTTP method")
        head = inspect_head(self.raw, http11, self.s.max_body_bytes)
        ctx = self.ctx
        rid = request_id(head.headers.get("x-request-id"), "") or ctx.next_request_id()
        ex = Exchange(
            method, self.url, self.raw, head, ctx.clock.monotonic(), ctx.clock.wall(), rid
        )
        if not ex.target.startswith(b"/") and ex.target != b"*":
            to_origin_form(ex)  # may refuse the request, at parse time and in order
        self.head_bytes = 0
        self.body_fed = 0
        self.raw_size = 0  # from here on it counts trailer fields
        self.parsing = ex
        self.set_deadline(BODY if ex.has_body else NONE)
        if self.active is None:
            self.active = ex
        else:
            self.pending.append(ex)
            if len(self.pending) >= _MAX_PENDING:
                self.pause_reading(1)

    def on_body(self, body: bytes) -> None:
        ex = self.parsing
        if ex is None:
            return
        ex.body_bytes += len(body)
        if ex.body_bytes > self.s.max_body_bytes:
            raise ClientError(413, f"body over the limit of {self.s.max_body_bytes} bytes")
        if ex is self.active and self.upstream is not None and ex.verdict is not None:
            self.upstream.send(frame(body, ex.head.chunked))
            return
        ex.body.append(body)
        watch = self.ctx.auth
        if ex.auth_wait and ex is self.active and watch and ex.body_bytes > watch.max_body:
            self.pump()  # too big for a sign-in form: decide without the account
            return
        if ex.body_bytes > BODY_BUFFER:  # held here until an upstream is attached
            self.pause_reading(2)
            if ex.buffering == 1 and ex is self.active:
                self.forward(ex)  # too big to buffer: stream the rest once admitted

    def on_message_complete(self) -> None:
        ex = self.parsing
        if ex is None:
            return
        ex.complete = True
        self.parsing = None
        if ex.head.close:
            self.closing = True  # nothing after this request is read
            self.pause_reading(16)
        self.set_deadline(NONE if self.active is not None else IDLE)
        if ex.buffering == 1 and ex is self.active:
            self.forward(ex)  # the whole body is here: now ask for an origin slot
            return
        if ex.auth_wait and ex is self.active:
            self.pump()  # the account is in the body, which is whole now
            return
        up = self.upstream
        if ex is self.active and up is not None and ex.verdict is not None:
            if ex.head.chunked:
                up.send(LAST_CHUNK)
            # the origin's time starts once it has the whole request, not during the upload
            self.upstream_deadline = self.ctx.clock.monotonic() + up.read_timeout

    # ---- flow control ----------------------------------------------------------------------

    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()
        self.set_deadline(SEND)

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()
        self.set_deadline(NONE if self.active is not None else IDLE)
