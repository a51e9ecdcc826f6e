"""The lab's HTTP/1.1 client against real loopback servers that answer byte for byte."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from seawall.edge.proxy_protocol import parse_proxy_header
from seawall.lab import client as cl
from seawall.lab.client import (
    Connection,
    RequestFailed,
    Response,
    check_loopback,
    request_head,
    retry_after_s,
)
from seawall.lab.wire import Presentation, Target

from harness import free_port
from labservers import Handler, Server, read_request, replies, serve

HEAD = request_head("GET", "/", [("Host", "microblog.lab")])
CLIENT = "192.0.2.1"


def ok(body: bytes = b"ok", *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def open_conn(t: Target, client: str = CLIENT) -> Connection:
    return await Connection.open(t, client, 2.0, random.Random(1))


async def one(t: Target, head: bytes = HEAD, body: bytes = b"", wait: float = 2.0) -> Response:
    conn = await open_conn(t)
    try:
        return await conn.request(head, body, wait)
    finally:
        conn.close()


def test_keep_alive_carries_two_requests_on_one_connection() -> None:
    async def body(t: Target, s: Server) -> Any:
        conn = await open_conn(t)
        first = await conn.request(request_head("GET", "/a", [("Host", "h")]), b"", 2.0)
        second = await conn.request(request_head("GET", "/b", [("Host", "h")]), b"", 2.0)
        assert conn.usable and conn.requests == 2
        conn.close()
        assert not conn.usable
        return first, second

    (first, second), s = serve(replies(ok(b"first"), ok(b"second")), body)
    assert (first.status, first.body, first.keep_alive) == (200, b"first", True)
    assert (second.status, second.body) == (200, b"second")
    assert s.connections == 1
    assert [r.split(b"\r\n", 1)[0] for r in s.requests] == [b"GET /a HTTP/1.1", b"GET /b HTTP/1.1"]


def test_a_connection_close_answer_closes_the_connection() -> None:
    async def body(t: Target, s: Server) -> Any:
        conn = await open_conn(t)
        r = await conn.request(HEAD, b"", 2.0)
        assert not conn.usable
        with pytest.raises(RequestFailed, match="already closed"):
            await conn.request(HEAD, b"", 2.0)
        return r

    r, s = serve(replies(ok(b"bye", "Connection: close"), ok(b"never")), body)
    assert (r.status, r.body, r.keep_alive) == (200, b"bye", False)
    assert r.header("connection") == "close"
    assert len(s.requests) == 1 and s.connections == 1


def test_an_http_1_0_answer_is_not_kept_alive() -> None:
    async def body(t: Target, s: Server) -> Any:
        conn = await open_conn(t)
        r = await conn.request(HEAD, b"", 2.0)
        return r, conn.usable

    (r, usable), _ = serve(replies(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), body)
    assert r.status == 200 and r.keep_alive is False and usable is False


def test_a_chunked_body_is_joined() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )

    async def body(t: Target, s: Server) -> Any:
        conn = await open_conn(t)
        first = await conn.request(HEAD, b"", 2.0)
        second = await conn.request(HEAD, b"", 2.0)  # the framing left nothing behind
        return first, second

    (first, second), _ = serve(replies(chunked, ok(b"next")), body)
    assert first.body == b"hello world" and first.header("transfer-encoding") == "chunked"
    assert second.body == b"next"


def test_every_set_cookie_is_kept_and_names_are_lower_case() -> None:
    answer = ok(
        b"",
        "Set-Cookie: session=abc; Path=/; HttpOnly",
        "X-Thing: one",
        "set-cookie: theme=dark",
        "X-Thing: two",
    )
    r, _ = serve(replies(answer), lambda t, s: one(t))
    assert r.set_cookies == ["session=abc; Path=/; HttpOnly", "theme=dark"]
    assert r.header("set-cookie") == "theme=dark"  # last wins in the plain map
    assert r.header("x-thing") == "two"
    assert r.header("X-Thing") == "" and r.header("retry-after", "none") == "none"


def big_answer(total: int) -> Handler:
    """Answers with a response of exactly `total` bytes, head included, in 64 KiB writes."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
        s.requests.append(await read_request(r))
        size = len("HTTP/1.1 200 OK\r\nContent-Length: 0123456789\r\n\r\n")
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {total - size:010d}\r\n\r\n"
        w.write(head.encode())
        left = total - len(head)
        for _ in range(200):  # 200 * 64 KiB > 12 MiB
            if left <= 0:
                break
            piece = min(left, 64 * 1024)
            w.write(b"x" * piece)
            left -= piece
            await w.drain()
        await r.read()

    return handler


def test_a_response_at_the_limit_is_read_and_one_byte_more_fails() -> None:
    limit = cl.MAX_RESPONSE_BYTES
    r, _ = serve(big_answer(limit), lambda t, s: one(t))
    assert r.status == 200 and len(r.body) > limit - 100

    async def body(t: Target, s: Server) -> Any:
        conn = await open_conn(t)
        with pytest.raises(RequestFailed, match="too large"):
            await conn.request(HEAD, b"", 5.0)
        await asyncio.sleep(0.01)
        return conn.usable

    usable, _ = serve(big_answer(limit + 1), body)
    assert usable is False  # the connection was aborted


def test_the_server_closing_mid_response_fails_the_request() -> None:
    async def body(t: Target, s: Server) -> Any:
        conn = await open_conn(t)
        with pytest.raises(RequestFailed, match="connection closed"):
            await conn.request(HEAD, b"", 2.0)
        return conn.usable

    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nonly ten b"
    usable, _ = serve(replies(cut), body)
    assert usable is False


def test_garbage_instead_of_a_response_fails_the_request() -> None:
    async def body(t: Target, s: Server) -> None:
        with pytest.raises(RequestFailed, match="bad response"):
            await one(t)

    serve(replies(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), body)


def test_no_answer_times_out_and_the_connection_is_not_reused() -> None:
    async def late_then_quick(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
        for n in range(2):
            s.requests.append(await read_request(r))
            if n == 0:
                await asyncio.sleep(0.4)  # answers the first request only after its timeout
            w.write(ok(b"first" if n == 0 else b"second"))
            await w.drain()
        await r.read()

    async def body(t: Target, s: Server) -> Any:
        conn = await open_conn(t)
        began = time.monotonic()
        with pytest.raises(TimeoutError):
            await conn.request(HEAD, b"", 0.2)
        waited = time.monotonic() - began
        assert not conn.usable  # its answer may still come: it must never be taken for another's
        with pytest.raises(RequestFailed, match="already closed"):
            await conn.request(HEAD, b"", 1.0)
        fresh = await open_conn(t)
        r = await fresh.request(HEAD, b"", 1.0)
        fresh.close()
        return waited, r

    (waited, r), s = serve(late_then_quick, body)
    assert 0.18 <= waited < 0.6
    assert r.body == b"first"  # the new connection's first answer
    assert s.connections == 2


def test_connect_refused_is_a_failed_request() -> None:
    target = Target("127.0.0.1", free_port(), Presentation.REAL_IP_HEADER)
    with pytest.raises(RequestFailed, match="connect"):
        asyncio.run(Connection.open(target, CLIENT, 2.0, random.Random(1)))


def test_the_proxy_v2_preamble_comes_first_and_only_once() -> None:
    seen: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
        fixed = await r.readexactly(16)
        seen.append(fixed + await r.readexactly(int.from_bytes(fixed[14:16], "big")))
        for _ in range(2):
            s.requests.append(await read_request(r))
            w.write(ok())
            await w.drain()
        await r.read()

    async def body(t: Target, s: Server) -> int:
        conn = await open_conn(t, "203.0.113.9")
        await conn.request(request_head("GET", "/first", [("Host", "h")]), b"", 2.0)
        await conn.request(request_head("GET", "/second", [("Host", "h")]), b"", 2.0)
        conn.close()
        return t.port

    port, s = serve(handler, body, Presentation.PROXY_V2)
    result = parse_proxy_header(seen[0] + s.requests[0])
    assert result is not None
    info, consumed = result
    assert consumed == len(seen[0])
    assert info.source is not None and info.source.text == "203.0.113.9"
    assert info.destination is not None and info.destination.text == "127.0.0.1"
    assert info.destination_port == port and 1024 <= info.source_port < 65536
    assert s.requests == [
        b"GET /first HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /second HTTP/1.1\r\nHost: h\r\n\r\n",
    ]


def test_x_real_ip_is_added_after_the_given_headers_in_their_order() -> None:
    head = request_head(
        "POST", "/login", [("User-Agent", "ua"), ("Host", "h"), ("Content-Length", "5")]
    )

    async def body(t: Target, s: Server) -> Response:
        return await one(t, head, b"hello")

    r, s = serve(replies(ok()), body)
    assert r.status == 200
    assert s.requests == [
        b"POST /login HTTP/1.1\r\nUser-Agent: ua\r\nHost: h\r\nContent-Length: 5\r\n"
        b"X-Real-IP: 192.0.2.1\r\n\r\nhello"
    ]


def test_request_head_keeps_the_order_it_is_given() -> None:
    headers = [("User-Agent", "bot"), ("Accept", "*/*"), ("Host", "h"), ("accept", "again")]
    assert request_head("GET", "/x?y=1", headers) == (
        b"GET /x?y=1 HTTP/1.1\r\nUser-Agent: bot\r\nAccept: */*\r\nHost: h\r\naccept: again\r\n"
    )
    assert request_head("GET", "/", []) == b"GET / HTTP/1.1\r\n"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    check_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["10.0.0.1", "192.0.2.1", "2001:db8::1", "example.com", "", "127.example.com", "localhost"],
)
def test_anything_else_is_refused_before_a_connection(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        check_loopback(host)
    target = Target(host, 80, Presentation.REAL_IP_HEADER)
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(Connection.open(target, CLIENT, 1.0, random.Random(1)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1.0),
        ("120", 120.0),
        ("0", 0.0),
        (None, 7.0),
        ("", 7.0),
        ("-1", 7.0),
        ("1.5", 7.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 7.0),
        ("\xb2", 7.0),  # a superscript two is a "digit" to str.isdigit, not to float
    ],
)
def test_retry_after_in_seconds_or_the_default(value: str | None, expected: float) -> None:
    r = Response(429, {} if value is None else {"retry-after": value})
    assert retry_after_s(r, 7.0) == expected
