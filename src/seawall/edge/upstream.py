"""The origin side: keep-alive connections, a bounded pool per origin, and response relay.

Over 400 lines because the three belong together: a connection returns itself to its pool,
and the pools are what `Origins` spreads requests over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

import httptools

from seawall.config.schema import Origin
from seawall.edge.authwatch import AuthWatch, outcome
from seawall.edge.exchange import LAST_CHUNK, Exchange, frame
from seawall.edge.plumbing import IDLE
from seawall.edge.request import response_head
from seawall.edge.responses import simple_response, uniform_response
from seawall.edge.stats import EdgeStats, OriginHealth
from seawall.runtime.clock import Clock

if TYPE_CHECKING:
    from seawall.edge.dispatch import ClientDispatch

log = logging.getLogger("seawall.upstream")
_NO_BODY_STATUS = frozenset({204, 304})


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to an origin, lent to one client exchange at a time."""

    def __init__(self, pool: OriginPool) -> None:
        self.pool = pool
        self.read_timeout = pool.read_timeout
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.client: ClientDispatch | None = None
        self.ex: Exchange | None = None
        self.closed = False
        self.reused = False
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.got_bytes = False
        self.tunnel = False

    # ---- asyncio -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        client, ex = self.client, self.ex
        if client is None or ex is None:
            return
        if self.tunnel:
            client.close()
        elif ex.resp_until_close and ex.resp_started:
            self.on_message_complete()
        elif self.reused and not self.got_bytes and not ex.retried and not ex.has_body:
            # a pooled connection the origin had already closed: try once on a fresh one
            ex.retried = True
            self.unbind()
            client.upstream = None
            client.forward(ex)
        else:
            self.fail("reset", 502, "the origin closed the connection early")

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is None:
            self.close()  # an idle connection must not speak
            return
        if self.tunnel:
            client.set_deadline(IDLE)  # either side speaking keeps a tunnel alive
            client.write(data)
            return
        self.got_bytes = True
        client.upstream_deadline = self.pool.clock.monotonic() + self.read_timeout
        client.cork()
        try:
            self._feed(data)
        finally:
            client.uncork()

    def _feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self.start_tunnel(data[offset:])
        except httptools.HttpParserCallbackError as exc:
            log.error("internal error relaying a response", exc_info=exc.__context__ or exc)
            self.fail("internal", 502, "internal error relaying the response")
        except httptools.HttpParserError as exc:
            self.fail("protocol", 502, f"the origin sent a malformed response ({exc})")

    def pause_writing(self) -> None:
        if self.client is not None:
            self.client.pause_reading(8)

    def resume_writing(self) -> None:
        if self.client is not None:
            self.client.resume_reading(8)

    # ---- used by the client side -------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def bind(self, client: ClientDispatch, ex: Exchange) -> None:
        if self.ex is None:
            self.pool.inflight += 1
        self.client, self.ex = client, ex
        self.headers, self.reason, self.got_bytes = [], b"", False

    def unbind(self) -> None:
        if self.ex is not None:
            self.pool.inflight -= 1
        self.client = self.ex = None

    def detach_and_close(self) -> None:
        self.unbind()
        self.close()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()
        self.pool.forget(self)

    def timed_out(self) -> None:
        self.fail("timeout", 504, "the origin did not answer in time")

    def fail(self, kind: str, status: int, reason: str) -> None:
        """The exchange cannot complete: tell the client if it can still be told."""
        client, ex = self.client, self.ex
        self.pool.stats.origin_errors[kind] += 1
        self.pool.health.failed(kind)
        self.detach_and_close()
        if client is None or ex is None:
            return
        ex.error = reason
        if ex.resp_started:
            ex.status = ex.status or 502
            client.finish(ex)
            client.upstream = None
            client.abort()
            return
        ex.status = status
        client.upstream = None
        cache = client.ctx.cache
        if cache is not None and cache.serve_stale(client, ex):
            return  # the origin failed us: a stale copy answers instead
        client.write(
            simple_response(status, reason, close=True, request_id=ex.rid, head_only=ex.is_head)
        )
        client.done(ex, True)

    def start_tunnel(self, rest: bytes) -> None:
        client, ex = self.client, self.ex
        if client is None or ex is None or ex.status != 101:
            self.fail("protocol", 502, "the origin switched protocols unasked")
            return
        self.tunnel = True
        client.tunnel = True
        client.upstream_deadline = 0.0
        client.finish(ex)
        if rest:
            client.write(rest)
        if ex.early:
            self.send(ex.early)
        client.resume_reading(0xFF)

    # ---- httptools callbacks -----------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        client, ex = self.client, self.ex
        if client is None or ex is None:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers, self.reason = [], b""  # interim responses are not relayed
            return
        ex.status = status
        ex.resp_started = True
        ex.origin_time = self.pool.clock.monotonic() - ex.origin_t0
        self.pool.stats.origin_latency.observe(ex.origin_time)
        self.pool.health.observe(ex.origin_time, status >= 500)
        ctx = client.ctx
        if ex.auth is not None and ctx.auth is not None:
            self._auth_outcome(ctx.auth, ex, status)
        if ctx.admission is not None:
            # the origin has done its work once it answers: a slow reader must not hold a slot
            ctx.admission.release(ex)
        if ctx.cache is not None:
            if status >= 500 and ex.stale is not None:
                self.unbind()  # drop the error: a stale copy answers instead
                self.close()
                client.upstream = None
                ctx.cache.serve_stale(client, ex)
                return
            ctx.cache.capture(ex, status, self.headers)
        if status == 101:
            upgrade = b"Connection: upgrade\r\nUpgrade: %s\r\n" % ex.head.upgrade.encode("latin-1")
            client.write(response_head(status, self.reason, self.headers, upgrade, False, ex.rid))
            return
        # an answer before the whole request arrived: the rest of the body is unread, so close
        close = ex.head.close or client.ctx.draining or bool(ex.head.upgrade) or not ex.complete
        framing = self._framing(ex, status)
        if ex.resp_until_close and not ex.resp_chunked:
            close = True
        v = ex.verdict
        if ex.auth is not None and v is not None and v.mark == "uniform" and ex.auth.recovery:
            ex.swallow = True  # the origin's body is read and dropped: the same answer for all
            body = ex.auth.uniform
            ex.status, ex.bytes_out = ex.auth.uniform_status, len(body)
            client.write(uniform_response(ex.status, body, close, ex.rid, ex.is_head))
        else:
            client.write(response_head(status, self.reason, self.headers, framing, close, ex.rid))
        ex.head.close = close
        if ex.is_head or status in _NO_BODY_STATUS:
            # llhttp cannot be told a response to HEAD has no body: finish here, fresh parser
            self.parser = httptools.HttpResponseParser(self)
            self.on_message_complete()

    def _auth_outcome(self, watch: AuthWatch, ex: Exchange, status: int) -> None:
        """How a watched attempt ended, as an event now (the client may leave before the
        body ends); the app's result header goes before anything (cache included) sees it."""
        assert ex.auth is not None
        ended = outcome(ex.auth, status, self.headers)
        if watch.strip:
            self.headers = [(n, v) for n, v in self.headers if n.lower() not in watch.strip]
        if ended is not None and ex.facts is not None:
            watch.emit(watch.event(ex.rid, ex.facts, ex.wall, *ended))

    def _framing(self, ex: Exchange, status: int) -> bytes:
        length = None
        chunked = False
        for name, value in self.headers:
            lname = name.lower()
            if lname == b"content-length":
                length = value.strip()
            elif lname == b"transfer-encoding":
                chunked = True
        if length is not None and not chunked:
            return b"Content-Length: %s\r\n" % length
        if ex.is_head or status in _NO_BODY_STATUS:
            return b""
        if not chunked:
            ex.resp_until_close = True
        http11 = not ex.head.close
        ex.resp_chunked = http11
        return b"Transfer-Encoding: chunked\r\n" if http11 else b""

    def on_body(self, body: bytes) -> None:
        client, ex = self.client, self.ex
        if client is None or ex is None or not ex.resp_started:
            return
        if ex.swallow:
            return
        ex.bytes_out += len(body)
        if ex.capture is not None and (cache := client.ctx.cache) is not None:
            cache.body(ex, body)
        client.write(frame(body, ex.resp_chunked))

    def on_message_complete(self) -> None:
        client, ex = self.client, self.ex
        if client is None or ex is None or not ex.resp_started or ex.status == 101:
            return  # a 101 is followed by the tunnel, not by another message
        if ex.resp_chunked and not ex.swallow:
            client.write(LAST_CHUNK)
        if ex.capture is not None and (cache := client.ctx.cache) is not None:
            cache.complete(ex)
        reusable = (
            not ex.resp_until_close and ex.complete and not self.closed and not ex.head.upgrade
        )
        self.unbind()
        if reusable and self.parser.should_keep_alive():
            self.pool.give_back(self)
        else:
            self.close()
        client.done(ex, ex.head.close)


class OriginPool:
    """Idle keep-alive connections to one origin, most recently used first."""

    def __init__(self, origin: Origin, stats: EdgeStats, clock: Clock) -> None:
        u = urlsplit(origin.url)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 80
        self.max_idle = origin.pool_size
        self.connect_timeout = origin.connect_timeout
        self.read_timeout = origin.read_timeout
        self.stats = stats
        self.clock = clock
        self.idle: list[UpstreamConnection] = []
        self.failures = 0
        self.down_until = 0.0
        self.name = f"{self.host}:{self.port}"
        self.health = OriginHealth()
        self.inflight = 0  # exchanges bound to this origin's connections now
        self.closing = False  # the worker stops: nothing goes back to the pool

    def take(self) -> UpstreamConnection | None:
        while self.idle:
            up = self.idle.pop()
            if not up.closed:
                up.reused = True
                self.stats.pool_reused += 1
                return up
        return None

    async def connect(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        _, proto = await asyncio.wait_for(
            loop.create_connection(lambda: UpstreamConnection(self), self.host, self.port),
            self.connect_timeout,
        )
        self.stats.pool_created += 1
        self.failures = 0
        return proto

    def give_back(self, up: UpstreamConnection) -> None:
        # a connect that finished as the worker stopped must not outlive it (asyncio's
        # wait_for can hand back a result though cancelled), or the loop never closes
        if not self.closing and len(self.idle) < self.max_idle:
            self.idle.append(up)
        else:
            up.close()

    def forget(self, up: UpstreamConnection) -> None:
        with contextlib.suppress(ValueError):
            self.idle.remove(up)

    def close(self) -> None:
        self.closing = True
        for up in list(self.idle):
            up.close()
        self.idle.clear()


class Origins:
    """Round-robin over origins, skipping one that failed to connect until it cools down."""

    def __init__(self, origins: list[Origin], stats: EdgeStats, clock: Clock) -> None:
        self.pools = [OriginPool(o, stats, clock) for o in origins]
        first = self.pools[0]
        self.default_host = f"{first.host}:{first.port}".encode("latin-1")
        self.clock = clock
        self.stats = stats
        self._next = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def pick(self) -> OriginPool:
        if len(self.pools) == 1:
            return self.pools[0]  # nothing to choose: a down origin is still the only one
        now = self.clock.monotonic()
        n = len(self.pools)
        for _ in range(n):
            pool = self.pools[self._next % n]
            self._next += 1
            if pool.down_until <= now:
                return pool
        return min(self.pools, key=lambda p: p.down_until)

    def dispatch(self, client: ClientDispatch, ex: Exchange, head: bytes) -> None:
        pool = self.pick()
        up = pool.take()
        if up is not None:
            up.bind(client, ex)
            client.attach(up, ex, head)
            return
        task = asyncio.get_running_loop().create_task(
            self._connect_then_send(pool, client, ex, head), name=f"connect-{ex.rid}"
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect_then_send(
        self, pool: OriginPool, client: ClientDispatch, ex: Exchange, head: bytes
    ) -> None:
        try:
            up = await pool.connect()
        except (OSError, TimeoutError) as exc:
            pool.failures += 1
            pool.health.failed("timeout" if isinstance(exc, TimeoutError) else "connect")
            pool.down_until = self.clock.monotonic() + min(10.0, 0.25 * 2**pool.failures)
            kind = "timeout" if isinstance(exc, TimeoutError) else "connect"
            self.stats.origin_errors[kind] += 1
            if client.closed or client.active is not ex:
                return
            status = 504 if kind == "timeout" else 502
            ex.status, ex.error = status, f"origin {pool.host}:{pool.port}: {kind} failed"
            if client.ctx.cache is not None and client.ctx.cache.serve_stale(client, ex):
                return  # the origin is down: a stale copy answers instead
            client.write(
                simple_response(
                    status,
                    "the origin is unreachable",
                    close=True,
                    request_id=ex.rid,
                    head_only=ex.is_head,
                )
            )
            client.done(ex, True)
            return
        if client.closed or client.active is not ex:
            pool.give_back(up)
            return
        up.bind(client, ex)
        client.attach(up, ex, head)

    def close(self) -> None:
        for pool in self.pools:
            pool.close()
        for task in self.tasks:
            task.cancel()
