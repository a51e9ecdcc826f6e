"""The edge forwards faithfully, over real sockets, to an origin that parses with h11."""

from __future__ import annotations

import socket
import time

from harness import Edge, Seen, connect, header, raw_roundtrip, read_response, roundtrip


def test_get_is_forwarded_with_forwarding_headers() -> None:
    with Edge() as e:
        resp, body = roundtrip(
            e.port, b"GET /a/b?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\n\r\n"
        )
        assert resp.status_code == 200
        assert body == b"GET /a/b?x=1 0\n"
        seen = e.origin.seen[0]
        assert seen.header("host") == "example.test"
        assert seen.header("x-forwarded-for") == "127.0.0.1"
        assert seen.header("x-real-ip") == "127.0.0.1"
        assert seen.header("x-forwarded-proto") == "http"
        assert seen.header("via") == "1.1 seawall"
        rid = seen.header("x-request-id")
        assert rid and header(resp, "x-request-id") == rid


def test_hop_by_hop_headers_are_stripped_both_ways() -> None:
    def handler(req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        return 200, [("Content-Length", "2"), ("Keep-Alive", "timeout=5"), ("X-Origin", "1")], b"ok"

    with Edge(handler=handler) as e:
        req = (
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\n"
            b"TE: trailers\r\nProxy-Authorization: Basic x\r\nX-Keep: yes\r\n\r\n"
        )
        resp, _ = roundtrip(e.port, req)
        seen = e.origin.seen[0]
        names = {k for k, _ in seen.headers}
        assert not names & {"keep-alive", "te", "proxy-authorization"}
        assert seen.header("x-keep") == "yes"
        assert header(resp, "keep-alive") is None
        assert header(resp, "x-origin") == "1"


def test_client_supplied_forwarding_headers_are_not_believed() -> None:
    with Edge() as e:
        roundtrip(
            e.port,
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n"
            b"X-Request-ID: ok-123\r\n\r\n",
        )
        seen = e.origin.seen[0]
        assert seen.header("x-forwarded-for") == "127.0.0.1"
        assert seen.header("x-real-ip") == "127.0.0.1"
        assert seen.header("x-request-id") == "ok-123"


def test_trusted_proxy_chain_is_believed_up_to_the_first_untrusted_hop() -> None:
    with Edge(config={"network": {"trusted_proxies": ["127.0.0.0/8", "10.0.0.0/8"]}}) as e:
        roundtrip(
            e.port,
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.1.2.3\r\n\r\n",
        )
        seen = e.origin.seen[0]
        assert seen.header("x-real-ip") == "203.0.113.9"
        assert seen.header("x-forwarded-for") == "203.0.113.9, 10.1.2.3, 127.0.0.1"


def test_hostile_request_id_is_replaced() -> None:
    with Edge() as e:
        roundtrip(e.port, b"GET / HTTP/1.1\r\nHost: h\r\nX-Request-ID: <script>\r\n\r\n")
        assert e.origin.seen[0].header("x-request-id") != "<script>"


def test_content_length_body_is_streamed() -> None:
    with Edge() as e:
        body = b"x" * 300_000
        resp, out = roundtrip(
            e.port, b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        assert resp.status_code == 200
        assert out == b"POST /up 300000\n"
        assert e.origin.seen[0].body == body


def test_chunked_request_body_is_forwarded_chunked() -> None:
    with Edge() as e:
        req = b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
        resp, _out = roundtrip(e.port, req)
        assert resp.status_code == 200
        seen = e.origin.seen[0]
        assert seen.body == b"hello world"
        assert seen.header("transfer-encoding") == "chunked"


def test_chunked_response_is_relayed() -> None:
    def handler(req: Seen) -> bytes:
        return (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        )

    with Edge(handler=handler) as e:
        resp, body = roundtrip(e.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert body == b"abcdefg"
        assert header(resp, "transfer-encoding") == "chunked"


def test_response_delimited_by_close_is_rechunked() -> None:
    def handler(req: Seen) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close"

    with Edge(handler=handler) as e:
        _resp, body = roundtrip(e.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert body == b"until close"


def test_head_response_has_no_body_and_connection_is_reused() -> None:
    with Edge() as e, connect(e.port) as s:
        s.sendall(b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n")
        resp, body = read_response(s, "HEAD")
        assert resp.status_code == 200 and body == b""
        assert header(resp, "content-length") is not None
        s.sendall(b"GET /y HTTP/1.1\r\nHost: h\r\n\r\n")
        resp, body = read_response(s)
        assert body == b"GET /y 0\n"


def test_keep_alive_reuses_client_and_origin_connections() -> None:
    with Edge() as e, connect(e.port) as s:
        for i in range(20):
            s.sendall(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i)
            _resp, body = read_response(s)
            assert body == b"GET /%d 0\n" % i
        assert e.origin.connections == 1


def test_pipelined_requests_are_answered_in_order() -> None:
    with Edge() as e, connect(e.port) as s:
        s.sendall(b"".join(b"GET /p%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(5)))
        for i in range(5):
            _, body = read_response(s)
            assert body == b"GET /p%d 0\n" % i


def test_expect_100_continue() -> None:
    with Edge() as e, connect(e.port) as s:
        s.sendall(
            b"POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        s.settimeout(5)
        interim = s.recv(100)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"data")
        rest = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n") :]
        assert rest == b"" or rest.startswith(b"HTTP/1.1 200")
        deadline = time.monotonic() + 5
        while b"POST /e 4" not in rest and time.monotonic() < deadline:
            rest += s.recv(65536)
        assert b"POST /e 4" in rest
        assert e.origin.seen[0].header("expect") is None


def test_http10_client_gets_a_closed_connection() -> None:
    with Edge() as e:
        out = raw_roundtrip(e.port, b"GET /old HTTP/1.0\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200")
        assert b"GET /old 0" in out


def test_dead_origin_gives_502_with_our_fault() -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with Edge(origin_url=f"http://127.0.0.1:{port}") as e:
        resp, body = roundtrip(e.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert resp.status_code == 502
        assert b"origin" in body
        assert e.worker.ctx.stats.origin_errors["connect"] == 1


def test_slow_origin_gives_504() -> None:
    import asyncio

    async def slow(req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        await asyncio.sleep(3)
        return 200, [("Content-Length", "0")], b""

    with Edge(handler=slow, origin_options={"read_timeout": 0.5}) as e:
        t0 = time.monotonic()
        resp, _ = roundtrip(e.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert resp.status_code == 504
        assert time.monotonic() - t0 < 2.5
