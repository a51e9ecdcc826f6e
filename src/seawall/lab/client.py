"""A small, fast HTTP/1.1 client for the lab's simulated clients.

One `Connection` is one TCP connection from one simulated source address: it opens with the
target's preamble (a PROXY v2 header, or nothing), then carries keep-alive requests one at a
time. Responses are parsed with httptools. Everything is bounded: a response head and body
past `MAX_RESPONSE_BYTES` fail the request, and every wait has a timeout. Requests are
built byte for byte, so each class controls its own header order, as real clients differ.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from dataclasses import dataclass, field
from typing import cast

import httptools

from seawall.lab.wire import Target

MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class RequestFailed(Exception):
    """The connection failed before a whole response arrived (refused, reset, closed)."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, last wins
    set_cookies: list[str] = field(default_factory=list)
    body: bytes = b""
    keep_alive: bool = True

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


def check_loopback(host: str) -> None:
    """The lab sends traffic to loopback only: a loopback IP literal, never a name."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"lab traffic goes to loopback only, not to {host!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.current: Response | None = None
        self.header_name = b""
        self.size = 0
        self.body_parts: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(RequestFailed(f"connection closed: {exc or 'by peer'}"))

    def data_received(self, data: bytes) -> None:
        self.size += len(data)
        try:
            if self.size > MAX_RESPONSE_BYTES:
                raise RequestFailed("response too large")
            self.parser.feed_data(data)
        except (httptools.HttpParserError, RequestFailed) as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(RequestFailed(f"bad response: {exc}"))
            if self.transport is not None:
                self.transport.abort()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.current = Response(0)
        self.body_parts = []

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.current is not None
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key == "set-cookie":
            self.current.set_cookies.append(text)
        self.current.headers[key] = text

    def on_body(self, body: bytes) -> None:
        self.body_parts.append(body)

    def on_message_complete(self) -> None:
        r = self.current
        assert r is not None
        r.status = self.parser.get_status_code()
        r.keep_alive = self.parser.should_keep_alive()
        r.body = b"".join(self.body_parts)
        self.size = 0
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(r)


class Connection:
    """One keep-alive connection from `client` to `target`."""

    def __init__(self, target: Target, client: str, proto: _Protocol) -> None:
        self.target, self.client, self._p = target, client, proto
        self._extra = target.header_lines(client)
        self.requests = 0

    @classmethod
    async def open(
        cls, target: Target, client: str, wait_s: float, rng: random.Random
    ) -> Connection:
        check_loopback(target.host)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(wait_s):
                _, proto = await loop.create_connection(_Protocol, target.host, target.port)
        except OSError as exc:
            raise RequestFailed(f"connect: {exc}") from exc
        assert proto.transport is not None
        proto.transport.write(target.preamble(client, rng.randrange(1024, 65536)))
        return cls(target, client, proto)

    @property
    def usable(self) -> bool:
        return not self._p.closed

    async def request(self, head: bytes, body: bytes, wait_s: float) -> Response:
        """Sends one request (`head` = request line + headers, without the blank line)."""
        p = self._p
        if p.closed or p.transport is None:
            raise RequestFailed("connection already closed")
        p.waiter = asyncio.get_running_loop().create_future()
        p.transport.write(b"".join((head, self._extra, b"\r\n", body)))
        self.requests += 1
        try:
            async with asyncio.timeout(wait_s):
                response = await p.waiter
        except TimeoutError:
            self.close()  # its answer may still come; it must not be taken for the next one's
            raise
        if not response.keep_alive:
            self.close()
        return response

    def close(self) -> None:
        if self._p.transport is not None and not self._p.closed:
            self._p.transport.close()
            self._p.closed = True


def request_head(method: str, path: str, headers: list[tuple[str, str]]) -> bytes:
    """Request line and header lines in exactly the given order."""
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def retry_after_s(response: Response, default: float) -> float:
    """Retry-After in seconds (delta form); `default` when absent or unreadable."""
    value = response.header("retry-after")
    return float(value) if value.isascii() and value.isdigit() else default
