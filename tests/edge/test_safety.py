"""Safety at the edge, over real sockets: smuggling vectors, size limits and client timeouts.

Every request-smuggling vector is refused by the edge itself (a short 400, or 501/417 where
that is the better word), the connection is closed, and the strict h11 origin never sees a
request. Limits answer 413/414/431 before anything unbounded is buffered, connection caps
refuse the excess, and every client-side timeout ends what it should. The vector catalogue
comes from RFC 9112, nginx's behaviour and the llhttp test corpus (test/request/*.md).

Each vector here once found a bug, or guards against one; this module is a catalogue, hence
its length.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import h11
import pytest

from harness import (
    Edge,
    Seen,
    connect,
    default_handler,
    header,
    read_response,
    roundtrip,
    wait_until,
)

GET = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"

# ---- helpers -------------------------------------------------------------------------------------


@dataclass
class Reply:
    data: bytes
    closed: bool  # the edge closed the connection (FIN or RST) within the wait
    elapsed: float


def exchange(port: int, data: bytes, *, wait: float = 3.0, source: str = "127.0.0.1") -> Reply:
    """Send bytes, then read until the edge closes the connection or `wait` runs out."""
    t0 = time.monotonic()
    out = b""
    closed = False
    with connect(port, source) as s:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(data)
        deadline = t0 + wait
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
    return Reply(out, closed, time.monotonic() - t0)


def parse_responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Every complete response in `raw`, strictly (h11); interim 1xx responses are skipped."""
    out: list[tuple[int, dict[str, str], bytes]] = []
    rest = raw
    while rest:
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        conn.receive_data(rest)
        conn.receive_data(b"")
        status, headers, body = 0, {}, b""
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.InformationalResponse):
                continue
            else:
                raise AssertionError(f"truncated response: {raw!r}")
        out.append((status, headers, body))
        rest = conn.trailing_data[0]
    return out


def assert_refused(
    e: Edge, data: bytes, statuses: tuple[int, ...] = (400,), wait: float = 3.0
) -> int:
    """One short error response from the edge, a closed connection, nothing at the origin."""
    reply = exchange(e.port, data, wait=wait)
    responses = parse_responses(reply.data)
    assert len(responses) == 1, reply.data
    status, headers, body = responses[0]
    assert status in statuses, reply.data
    assert len(body) < 200
    assert headers.get("connection") == "close"
    assert reply.closed, "the edge left the connection open after refusing a request"
    time.sleep(0.05)
    assert e.origin.seen == []
    return status


def open_connections(e: Edge) -> int:
    return int(e.call(lambda: len(e.worker.ctx.connections)))


def client_errors(e: Edge, kind: str) -> int:
    return int(e.call(lambda: e.worker.ctx.stats.client_errors[kind]))


def stream_until_stopped(
    s: socket.socket, first: bytes, piece: bytes, *, limit: int, seconds: float
) -> tuple[bytes, bool, int]:
    """Send `first`, then `piece` repeatedly (up to `limit` bytes), until the edge answers or
    closes or `seconds` run out.

    Returns what was received, whether the edge closed or answered, and the bytes sent.
    """
    s.setblocking(False)
    sent = 0
    got = b""
    buf = first
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        writing = sent < limit
        readable, writable, _ = select.select([s], [s] if writing else [], [], 0.05)
        if readable:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return got, True, sent
            if not chunk:
                return got, True, sent
            got += chunk
            if b"\r\n\r\n" in got:
                return got, True, sent
        if writable and writing:
            buf = buf or piece
            try:
                n = s.send(buf)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                return got, True, sent
            sent += n
            buf = buf[n:]
    return got, False, sent


# ---- request smuggling -------------------------------------------------------------------------

BAD_TE = (400, 501)
H = b"POST / HTTP/1.1\r\nHost: h\r\n"
SMUGGLED = b"GET /admin HTTP/1.1\r\nHost: h\r\n\r\n"

SMUGGLING: dict[str, tuple[bytes, tuple[int, ...]]] = {
    # Content-Length and Transfer-Encoding together, in both orders
    "cl-then-te": (
        H + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
        (400,),
    ),
    "te-then-cl": (
        H + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n" + SMUGGLED,
        (400,),
    ),
    "te-identity-with-cl": (
        H + b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nWorld",
        BAD_TE,
    ),
    "cl-in-chunked-trailer": (
        H + b"Transfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n",
        (400,),
    ),
    # duplicate or malformed Content-Length
    "cl-duplicate-equal": (H + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", (400,)),
    "cl-duplicate-different": (H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx", (400,)),
    "cl-list": (H + b"Content-Length: 1, 1\r\n\r\nx", (400,)),
    "cl-plus-sign": (H + b"Content-Length: +1\r\n\r\nx", (400,)),
    "cl-minus-sign": (H + b"Content-Length: -1\r\n\r\nx", (400,)),
    "cl-hex": (H + b"Content-Length: 0x1\r\n\r\nx", (400,)),
    "cl-inner-space": (H + b"Content-Length: 1 0\r\n\r\nx", (400,)),
    "cl-empty": (H + b"Content-Length:\r\n\r\nx", (400,)),
    "cl-vertical-tab": (H + b"Content-Length: \x0b1\r\n\r\nx", (400,)),
    "cl-nbsp": (H + b"Content-Length: 1\xa0\r\n\r\nx", (400,)),
    "cl-overflow": (H + b"Content-Length: 1000000000000000000000000\r\n\r\nx", (400,)),
    "cl-nineteen-digits": (H + b"Content-Length: 0000000000000000001\r\n\r\nx", (400,)),
    "cl-name-space-before-colon": (H + b"Content-Length : 1\r\n\r\nx", (400,)),
    "cl-name-with-cr": (H + b"Content\rLength: 1\r\n\r\nx", (400,)),
    # Transfer-Encoding other than exactly one 'chunked'
    "te-chunked-gzip": (H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-gzip-chunked": (H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-chunked-chunked": (H + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-empty-element": (H + b"Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-xchunked": (H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-chunkedx": (H + b"Transfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-quoted": (H + b'Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n', BAD_TE),
    "te-identity": (H + b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-pigeons": (H + b"Transfer-Encoding: pigeons\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-empty": (H + b"Transfer-Encoding:\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-vertical-tab-before": (H + b"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-form-feed-after": (H + b"Transfer-Encoding: chunked\x0c\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-nbsp-after": (H + b"Transfer-Encoding: chunked\xa0\r\n\r\n0\r\n\r\n", BAD_TE),
    "te-duplicate-chunked": (
        H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        BAD_TE,
    ),
    "te-duplicate-identity": (
        H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        BAD_TE,
    ),
    "te-three-empty-with-cl": (
        H
        + b"Content-Length: 10\r\nTransfer-Encoding:\r\nTransfer-Encoding:\r\n\r\n2\r\nAA\r\n0\r\n\r\n",
        BAD_TE,
    ),
    "te-name-space-before-colon": (H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", (400,)),
    "te-name-vertical-tab": (H + b"Transfer-Encoding\x0b: chunked\r\n\r\n0\r\n\r\n", (400,)),
    "te-obs-fold": (H + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", (400,)),
    # bad chunk framing
    "chunk-size-not-hex": (H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n", (400,)),
    "chunk-size-0x": (H + b"Transfer-Encoding: chunked\r\n\r\n0x1\r\nx\r\n0\r\n\r\n", (400,)),
    "chunk-size-negative": (H + b"Transfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n", (400,)),
    "chunk-size-overflow": (
        H + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\nx\r\n0\r\n\r\n",
        (400,),
    ),
    "chunk-size-space-no-semicolon": (
        H + b"Transfer-Encoding: chunked\r\n\r\n2 erfrf\r\naa\r\n0\r\n\r\n",
        (400,),
    ),
    "chunk-data-missing-crlf": (H + b"Transfer-Encoding: chunked\r\n\r\n1\r\nxx0\r\n\r\n", (400,)),
    "chunk-bare-lf": (H + b"Transfer-Encoding: chunked\r\n\r\n1\nx\n0\n\n", (400,)),
    "chunk-extension-bare-lf": (
        H + b"Transfer-Encoding: chunked\r\n\r\n2;\nxx\r\n4c\r\n0\r\n\r\n",
        (400,),
    ),
    "chunk-extension-unbalanced-quote": (
        H + b'Transfer-Encoding: chunked\r\n\r\n5;a="b; c\r\nhello\r\n0\r\n\r\n',
        (400,),
    ),
    "chunk-missing-last-crlf-then-request": (
        H + b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n" + SMUGGLED,
        (400,),
    ),
    # header line syntax
    "obs-fold": (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", (400,)),
    "obs-fold-hides-cl": (
        b"POST /hello HTTP/1.1\r\nHost: h\r\nFoo: bar\r\n Content-Length: 38\r\n\r\n" + SMUGGLED,
        (400,),
    ),
    "bare-cr-between-headers": (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\rX-B: 2\r\n\r\n", (400,)),
    "bare-cr-in-value": (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", (400,)),
    "bare-cr-then-junk-after-headers": (
        b"GET / HTTP/1.1\r\nConnection: close\r\nHost: a\r\n\rZGET /evil: HTTP/1.1\r\nHost: a\r\n\r\n",
        (400,),
    ),
    "bare-lf-between-headers": (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\nX-B: 2\r\n\r\n", (400,)),
    "bare-lf-hides-te": (
        b"POST / HTTP/1.1\r\nHost: h\r\nx:x\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n\r\n",
        (400,),
    ),
    "bare-lf-hides-cl": (
        b"GET / HTTP/1.1\r\nHost: h\r\nDummy: x\nContent-Length: 23\r\n\r\n"
        b"GET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: h\r\n\r\n",
        (400,),
    ),
    "empty-value-bare-cr-hides-te": (
        b"POST / HTTP/1.1\r\nHost: h\r\nx:\rTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n\r\n",
        (400,),
    ),
    "bare-lf-after-request-line": (b"GET / HTTP/1.1\nHost: h\r\n\r\n", (400,)),
    "lf-only-message": (b"GET / HTTP/1.1\nHost: h\n\n", (400,)),
    "lf-only-end-of-head": (b"GET / HTTP/1.1\r\nHost: h\r\n\n", (400,)),
    "nul-in-value": (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", (400,)),
    "ctl-in-value": (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n", (400,)),
    "del-in-value": (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7fb\r\n\r\n", (400,)),
    "space-before-colon": (b"GET / HTTP/1.1\r\nHost: h\r\nX-A : b\r\n\r\n", (400,)),
    "space-before-first-header": (b"GET / HTTP/1.1\r\n Host: h\r\n\r\n", (400,)),
    "invalid-header-token": (b"GET / HTTP/1.1\r\nHost: h\r\nFo@: x\r\n\r\n", (400,)),
    "empty-header-name": (b"GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", (400,)),
    "high-byte-in-header-name": (b"GET / HTTP/1.1\r\nHost: h\r\nX\xff: x\r\n\r\n", (400,)),
    "name-without-colon-folded": (b"GET / HTTP/1.1\r\nHost: h\r\nname\r\n : value\r\n\r\n", (400,)),
    "corrupted-connection-header": (
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection\r\x1b5\xd5eep-Alive\r\n\r\n",
        (400,),
    ),
    # Host
    "missing-host-http11": (b"GET / HTTP/1.1\r\n\r\n", (400,)),
    "missing-host-absolute-form": (b"GET http://evil.test/ HTTP/1.1\r\n\r\n", (400,)),
    "two-host-headers": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", (400,)),
    "two-host-headers-same": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", (400,)),
    "host-list": (b"GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", (400,)),
    # request line
    "unknown-method": (b"FOO / HTTP/1.1\r\nHost: h\r\n\r\n", (400, 501)),
    "method-not-a-token": (b"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", (400, 501)),
    "method-lowercase": (b"get / HTTP/1.1\r\nHost: h\r\n\r\n", (400, 501)),
    "method-prefix-of-known": (b"MKCOLA / HTTP/1.1\r\nHost: h\r\n\r\n", (400, 501)),
    "method-rtsp-with-http": (b"ANNOUNCE / HTTP/1.1\r\nHost: h\r\n\r\n", (400, 501)),
    "connect-is-not-proxied": (b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", (400, 405, 501)),
    "http2-preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (400, 505)),
    "version-5.6": (b"GET / HTTP/5.6\r\nHost: h\r\n\r\n", (400, 505)),
    "version-1.2": (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", (400, 505)),
    "version-3.0": (b"GET / HTTP/3.0\r\nHost: h\r\n\r\n", (400, 505)),
    "protocol-ice-with-get": (b"GET / ICE/1.0\r\nHost: h\r\n\r\n", (400,)),
    "protocol-rtsp-with-put": (b"PUT / RTSP/1.0\r\nHost: h\r\n\r\n", (400,)),
    "protocol-ihttp": (b"GET / IHTTP/1.0\r\nHost: h\r\n\r\n", (400,)),
    "target-control-char": (b"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", (400,)),
    "target-del": (b"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", (400,)),
    "target-high-byte": (b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n", (400,)),
    "target-tab": (b"GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", (400,)),
    "target-no-slash": (b"GET a HTTP/1.1\r\nHost: h\r\n\r\n", (400,)),
    # expectations
    "expect-unknown": (H + b"Expect: foo\r\nContent-Length: 1\r\n\r\nx", (417,)),
}


@pytest.mark.parametrize(("data", "statuses"), SMUGGLING.values(), ids=SMUGGLING.keys())
def test_smuggling_vector_is_refused_by_the_edge(data: bytes, statuses: tuple[int, ...]) -> None:
    with Edge() as e:
        assert_refused(e, data, statuses)
        assert roundtrip(e.port, GET)[0].status_code == 200  # and the edge is still fine


def test_bad_chunk_after_the_head_was_forwarded_never_completes_at_the_origin() -> None:
    # without admission the head goes on before the body (streamed)
    with Edge(config={"admission": {"enabled": False}}) as e, connect(e.port) as s:
        s.sendall(H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel")
        assert wait_until(lambda: e.origin.connections == 1, 2)  # the head went on already
        s.sendall(b"lo\r\nzz\r\n" + SMUGGLED)
        resp, _ = read_response(s)
        assert resp.status_code == 400
        time.sleep(0.1)
        assert e.origin.seen == []


def test_a_buffered_body_with_a_bad_chunk_never_reaches_the_origin_at_all() -> None:
    # with admission (the default) a small body is taken whole before the origin hears of it
    with Edge() as e, connect(e.port) as s:
        s.sendall(H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel")
        time.sleep(0.2)
        assert e.origin.connections == 0
        s.sendall(b"lo\r\nzz\r\n" + SMUGGLED)
        resp, _ = read_response(s)
        assert resp.status_code == 400
        time.sleep(0.1)
        assert e.origin.seen == [] and e.origin.connections == 0


def test_chunked_body_with_pipelined_request_is_two_requests_not_one() -> None:
    """The well-formed version of the TE.CL probe: the edge frames it exactly as llhttp did."""
    with Edge() as e:
        last = SMUGGLED.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        reply = exchange(e.port, H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + last)
        assert [s for s, _, _ in parse_responses(reply.data)] == [200, 200]
        assert [(s.method, s.target, s.body) for s in e.origin.seen] == [
            ("POST", "/", b""),
            ("GET", "/admin", b""),
        ]


@pytest.mark.parametrize(
    "value",
    [b"chunked ", b"\tchunked", b"CHUNKED", b"Chunked"],
    ids=["sp", "tab", "upper", "title"],
)
def test_chunked_with_optional_whitespace_or_case_is_still_chunked(value: bytes) -> None:
    with Edge() as e:
        req = H + b"Transfer-Encoding: " + value + b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        resp, _ = roundtrip(e.port, req)
        assert resp.status_code == 200
        assert e.origin.seen[0].body == b"abc"
        assert e.origin.seen[0].header("transfer-encoding") == "chunked"


@pytest.mark.parametrize(
    "target",
    [b"http://evil.test/x", b"http://user:pw@evil.test/x", b"https://evil.test/x"],
    ids=["plain", "userinfo", "https"],
)
def test_absolute_form_target_is_sent_in_origin_form_with_its_authority_as_host(
    target: bytes,
) -> None:
    """RFC 9112 §3.2.2: with absolute-form, the target's authority wins over Host.

    The origin sees origin-form and one Host, the target's authority (userinfo dropped), so
    an origin routing by target and a rule or cache keyed on Host cannot disagree.
    """
    with Edge() as e:
        resp, _ = roundtrip(e.port, b"GET %s HTTP/1.1\r\nHost: good.test\r\n\r\n" % target)
        assert resp.status_code == 200
        seen = e.origin.seen[0]
        assert (seen.target, seen.header("host")) == ("/x", "evil.test")


@pytest.mark.parametrize(
    "target",
    [b"HTTP://evil.test/x", b"hTTps://evil.test/x", b"ftp://evil.test/x"],
    ids=["http-upper", "https-mixed", "ftp"],
)
def test_absolute_form_with_any_scheme_spelling_never_reaches_the_origin_as_is(
    target: bytes,
) -> None:
    with Edge() as e:
        reply = exchange(e.port, b"GET %s HTTP/1.1\r\nHost: good.test\r\n\r\n" % target, wait=1.0)
        [(status, _, _)] = parse_responses(reply.data)
        seen = [(s.target, s.header("host")) for s in e.origin.seen]
        assert (status, seen) == (400, []) or seen == [("/x", "evil.test")]


def test_absolute_form_with_empty_authority_is_refused() -> None:
    with Edge() as e:
        assert_refused(e, b"GET http:///x HTTP/1.1\r\nHost: good.test\r\n\r\n", wait=1.0)


@pytest.mark.parametrize(
    "trailer",
    [b"X-Injected: 1\r\n", b"Authorization: Bearer x\r\nCookie: s=1\r\n", b"Host: evil\r\n"],
    ids=["custom", "credentials", "host"],
)
def test_trailer_fields_never_reach_the_origin_as_headers(trailer: bytes) -> None:
    with Edge() as e:
        reply = exchange(
            e.port,
            H
            + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nx\r\n0\r\n"
            + trailer
            + b"\r\n",
        )
        [(status, _, _)] = parse_responses(reply.data)
        assert status in (200, 400)
        assert e.origin.errors == []
        names = {name for seen in e.origin.seen for name, _ in seen.headers}
        assert not names & {"x-injected", "authorization", "cookie"}
        assert [seen.header("host") for seen in e.origin.seen] in ([], ["h"])


@pytest.mark.parametrize(
    "data",
    [
        b"GET /\r\n\r\n",
        b"GET /\r\nHost: h\r\n\r\n",
        b"GET / HTTP/0.9\r\nHost: h\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
    ],
    ids=["http09-bare", "http09-with-headers", "version-0.9", "version-2.0"],
)
def test_http09_and_http2_text_requests_are_refused(data: bytes) -> None:
    with Edge() as e:
        assert_refused(e, data, (400, 505), wait=1.0)


@pytest.mark.parametrize(
    "data",
    [b"SOURCE / ICE/1.0\r\nHost: h\r\n\r\n", b"DESCRIBE / RTSP/1.0\r\nHost: h\r\n\r\n"],
    ids=["ice-source", "rtsp-describe"],
)
def test_non_http_protocols_are_refused(data: bytes) -> None:
    with Edge() as e:
        assert_refused(e, data, (400, 501, 505), wait=1.0)


@pytest.mark.parametrize(
    "host",
    [b"a b", b"a/b", b"a@b", b"h:port", b"h\tx"],
    ids=["space", "slash", "at", "port", "tab"],
)
def test_invalid_host_value_is_refused(host: bytes) -> None:
    with Edge() as e:
        assert_refused(e, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", wait=1.0)


def test_http10_with_transfer_encoding_closes_the_connection() -> None:
    with Edge() as e:
        reply = exchange(
            e.port,
            b"POST / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked"
            b"\r\n\r\n1\r\nx\r\n0\r\n\r\nGET /second HTTP/1.0\r\nHost: h\r\n\r\n",
        )
        responses = parse_responses(reply.data)
        assert len(responses) == 1
        assert responses[0][0] == 400 or responses[0][1].get("connection") == "close"
        assert [s.target for s in e.origin.seen] in ([], ["/"])


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: 3\r\n\r\nabc", b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"],
    ids=["content-length", "chunked"],
)
def test_upgrade_request_with_a_body_is_refused_or_forwarded_whole(framing: bytes) -> None:
    with Edge() as e:
        reply = exchange(
            e.port,
            b"POST / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
            + framing,
            wait=2.0,
        )
        statuses = [s for s, _, _ in parse_responses(reply.data)]
        assert statuses in ([400], [200])
        assert [s.body for s in e.origin.seen] in ([], [b"abc"])


def test_malformed_pipelined_request_is_answered_after_the_one_in_flight() -> None:
    async def slow(req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        if req.target == "/slow":
            await asyncio.sleep(0.5)
        return default_handler(req)

    with Edge(handler=slow) as e, connect(e.port) as s:
        s.sendall(b"POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx")
        assert wait_until(lambda: e.origin.connections == 1, 2)
        s.sendall(b"GET /bad HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        first, _ = read_response(s)
        assert first.status_code == 200  # the origin did process POST /slow


@pytest.mark.parametrize(
    "first",
    [
        b"GET /first HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        b"GET /first HTTP/1.0\r\n\r\n",
    ],
    ids=["connection-close", "http10"],
)
def test_request_before_data_after_close_is_still_answered(first: bytes) -> None:
    with Edge() as e:
        reply = exchange(e.port, first + GET)
        assert [s for s, _, _ in parse_responses(reply.data)] == [200]
        assert [s.target for s in e.origin.seen] == ["/first"]


# ---- limits ------------------------------------------------------------------------------------

SMALL = {"max_header_bytes": 1024, "max_url_bytes": 256, "max_headers": 10}


def test_url_at_the_limit_passes_and_over_it_is_414() -> None:
    with Edge(config={"limits": SMALL}) as e:
        ok = b"/" + b"a" * 255
        assert roundtrip(e.port, b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % ok)[0].status_code == 200
        assert (
            assert_refused_after_ok(e, b"GET /%s HTTP/1.1\r\nHost: h\r\n\r\n" % (b"a" * 300)) == 414
        )


def assert_refused_after_ok(e: Edge, data: bytes) -> int:
    """Like assert_refused, for an edge whose origin has already seen one good request."""
    before = len(e.origin.seen)
    reply = exchange(e.port, data)
    [(status, headers, body)] = parse_responses(reply.data)
    assert reply.closed and headers.get("connection") == "close" and len(body) < 200
    time.sleep(0.05)
    assert len(e.origin.seen) == before
    return status


def test_endless_url_is_cut_at_the_limit() -> None:
    with Edge(config={"limits": SMALL}) as e, connect(e.port) as s:
        got, stopped, sent = stream_until_stopped(
            s, b"GET /", b"a" * 4096, limit=8 * 2**20, seconds=5
        )
        assert stopped, f"edge still reading a {sent}-byte URL"
        assert got == b"" or got.startswith(b"HTTP/1.1 414 ")
        assert client_errors(e, "414") == 1
        assert e.origin.seen == []


def test_header_count_at_the_limit_passes_and_over_it_is_431() -> None:
    def head(n: int) -> bytes:
        return (
            b"GET / HTTP/1.1\r\nHost: h\r\n"
            + b"".join(b"X-%d: v\r\n" % i for i in range(n - 1))
            + b"\r\n"
        )

    with Edge(config={"limits": SMALL}) as e:
        assert roundtrip(e.port, head(10))[0].status_code == 200
        assert assert_refused_after_ok(e, head(11)) == 431


def test_head_well_over_the_limit_is_431() -> None:
    with Edge(config={"limits": SMALL}) as e:
        big = b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 4000 + b"\r\n\r\n"
        assert assert_refused(e, big, (431,)) == 431


def test_many_small_headers_over_the_byte_limit_are_431() -> None:
    with Edge(config={"limits": {**SMALL, "max_headers": 100}}) as e:
        fields = b"".join(b"X-%02d: %s\r\n" % (i, b"v" * 60) for i in range(40))
        assert assert_refused(e, b"GET / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n", (431,)) == 431


def test_head_just_over_max_header_bytes_is_431() -> None:
    with Edge(config={"limits": SMALL}) as e:
        head = b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 1100 + b"\r\n\r\n"
        assert assert_refused(e, head, (431,), wait=1.0) == 431


def test_one_endless_header_line_is_cut_without_buffering_it() -> None:
    with Edge(config={"limits": SMALL}) as e, connect(e.port) as s:
        got, stopped, sent = stream_until_stopped(
            s, b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: ", b"a" * 4096, limit=8 * 2**20, seconds=5
        )
        assert stopped, f"edge still reading a {sent}-byte header line"
        assert got == b"" or got.startswith(b"HTTP/1.1 431 ")
        assert client_errors(e, "431") == 1


def test_endless_header_name_is_cut_without_buffering_it() -> None:
    with Edge(config={"limits": SMALL}) as e, connect(e.port) as s:
        got, stopped, sent = stream_until_stopped(
            s, b"GET / HTTP/1.1\r\nHost: h\r\nX", b"a" * 4096, limit=8 * 2**20, seconds=5
        )
        assert stopped, f"edge still reading a {sent}-byte header name"
        assert got == b"" or got.startswith(b"HTTP/1.1 431 ")


def test_endless_trailer_line_is_cut_without_buffering_it() -> None:
    cfg = {"limits": SMALL, "timeouts": {"body_min_rate": 0}}
    with Edge(config=cfg) as e, connect(e.port) as s:
        first = H + b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Trailer: "
        got, stopped, sent = stream_until_stopped(
            s, first, b"a" * 65536, limit=64 * 2**20, seconds=3
        )
        assert stopped, f"edge still reading a {sent}-byte trailer line"
        assert e.origin.seen == []


def test_content_length_over_the_body_limit_is_413_before_any_body_is_read() -> None:
    with Edge(config={"limits": {"max_body_bytes": 4096}}) as e:
        head = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 4097\r\n\r\n"
        assert assert_refused(e, head, (413,)) == 413
        continued = head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
        reply = exchange(e.port, continued)
        assert reply.data.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in reply.data
        assert e.origin.connections == 0  # the origin was never even contacted


def test_content_length_at_the_body_limit_passes() -> None:
    with Edge(config={"limits": {"max_body_bytes": 4096}}) as e:
        body = b"x" * 4096
        req = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 4096\r\n\r\n" + body
        assert roundtrip(e.port, req)[0].status_code == 200
        assert e.origin.seen[0].body == body


def test_chunked_body_over_the_limit_is_cut_and_never_completes_at_the_origin() -> None:
    with Edge(config={"limits": {"max_body_bytes": 4096}}) as e, connect(e.port) as s:
        s.sendall(b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"3e8\r\n" + b"x" * 1000 + b"\r\n"
        got, stopped, _ = stream_until_stopped(s, b"", chunk, limit=200 * len(chunk), seconds=5)
        assert stopped
        assert got == b"" or got.startswith(b"HTTP/1.1 413 ")
        assert client_errors(e, "413") == 1
        time.sleep(0.1)
        assert e.origin.seen == []


def test_connections_over_the_per_address_cap_are_refused_and_others_served() -> None:
    with Edge(config={"limits": {"max_connections_per_address": 2}}) as e:
        with connect(e.port) as a, connect(e.port) as b:
            for s in (a, b):
                s.sendall(GET)
                assert read_response(s)[0].status_code == 200
            reply = exchange(e.port, GET, wait=2)
            assert reply.closed and reply.data == b""
            assert e.call(lambda: e.worker.ctx.stats.connections_refused["per_address"]) == 1
            other = exchange(
                e.port,
                GET + GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"),
                source="127.0.0.2",
            )
            assert [s for s, _, _ in parse_responses(other.data)] == [200, 200]
        assert wait_until(lambda: open_connections(e) == 0, 3)
        assert e.call(lambda: dict(e.worker.ctx.per_address)) == {}  # counters come back down
        assert roundtrip(e.port, GET)[0].status_code == 200


def test_connections_over_the_total_cap_are_refused() -> None:
    with Edge(config={"limits": {"max_connections": 3}}) as e:
        socks = [connect(e.port, f"127.0.0.{i + 1}") for i in range(3)]
        try:
            for s in socks:
                s.sendall(GET)
                assert read_response(s)[0].status_code == 200
                s.sendall(b"GET /busy HTTP/1.1\r\n")  # mid-head: not idle, not reclaimable
            time.sleep(0.1)
            reply = exchange(e.port, GET, wait=2, source="127.0.0.9")
            assert reply.closed and reply.data == b""
            assert e.call(lambda: e.worker.ctx.stats.connections_refused["total"]) == 1
        finally:
            for s in socks:
                s.close()
        assert wait_until(lambda: open_connections(e) == 0, 3)
        assert roundtrip(e.port, GET)[0].status_code == 200


def test_at_the_cap_an_idle_keep_alive_connection_makes_room_for_a_new_client() -> None:
    with Edge(config={"limits": {"max_connections": 3}}) as e:
        socks = [connect(e.port, f"127.0.0.{i + 1}") for i in range(3)]
        try:
            for s in socks:
                s.sendall(GET)
                assert read_response(s)[0].status_code == 200  # then idle, kept alive
            assert roundtrip(e.port, GET)[0].status_code == 200  # a fourth client is served
            refused = e.call(lambda: dict(e.worker.ctx.stats.connections_refused))
            assert refused == {"reclaimed_idle": 1}
            closed = 0
            for s in socks:
                s.settimeout(1)
                try:
                    closed += s.recv(1) == b""
                except (TimeoutError, ConnectionResetError):
                    pass
            assert closed == 1  # exactly one idle connection was let go
        finally:
            for s in socks:
                s.close()


# ---- timeouts ----------------------------------------------------------------------------------


def test_half_a_head_gets_408_after_the_head_timeout() -> None:
    with Edge(config={"timeouts": {"head": 0.5}}) as e:
        reply = exchange(e.port, b"GET / HTTP/1.1\r\nHost: h\r\n", wait=4)
        [(status, headers, _)] = parse_responses(reply.data)
        assert status == 408 and headers.get("connection") == "close"
        assert reply.closed and 0.4 < reply.elapsed < 2.0
        assert e.origin.seen == []


def test_slowloris_trickle_does_not_extend_the_head_timeout() -> None:
    with Edge(config={"timeouts": {"head": 0.5}}) as e, connect(e.port) as s:
        t0 = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n")
        s.settimeout(0.15)
        got = b""
        for i in range(30):  # a header line every 0.15 s; at most 4.5 s
            with contextlib.suppress(TimeoutError):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                s.sendall(b"X-%d: a\r\n" % i)
        assert got.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - t0 < 2.0


def test_silent_new_connection_is_closed_after_the_head_timeout() -> None:
    with Edge(config={"timeouts": {"head": 0.5, "idle": 30.0}}) as e:
        reply = exchange(e.port, b"", wait=3)
        assert reply.closed and reply.elapsed < 2.0


def test_idle_keep_alive_connection_is_closed() -> None:
    with Edge(config={"timeouts": {"idle": 0.5}}) as e, connect(e.port) as s:
        s.sendall(GET)
        assert read_response(s)[0].status_code == 200
        t0 = time.monotonic()
        s.settimeout(4)
        assert s.recv(100) == b""  # closed quietly, without a response
        assert 0.4 < time.monotonic() - t0 < 2.0


def test_silent_new_connection_is_closed() -> None:
    with Edge(config={"timeouts": {"head": 0.5, "idle": 0.5}}) as e:
        reply = exchange(e.port, b"", wait=4)
        assert reply.closed and reply.data == b"" and reply.elapsed < 2.0


def test_body_below_the_minimum_rate_gets_408_after_the_grace() -> None:
    with Edge(config={"timeouts": {"body_min_rate": 1000}}) as e, connect(e.port) as s:
        s.sendall(b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n")
        t0 = time.monotonic()
        s.settimeout(0.5)
        got = b""
        while time.monotonic() - t0 < 7.5 and not got:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                s.sendall(b"x" * 10)  # 20 B/s, far below 1000 B/s
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                got = s.recv(65536) or b"closed"
        elapsed = time.monotonic() - t0
        assert got.startswith(b"HTTP/1.1 408 "), got
        assert 4.9 < elapsed < 7.0  # the 5 s grace, then the rate applies
        assert e.origin.seen == []


def test_upload_slower_than_the_origin_read_timeout_is_not_a_504() -> None:
    with Edge(origin_options={"read_timeout": 1.0}) as e, connect(e.port) as s:
        s.sendall(b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3000\r\n\r\n")
        for _ in range(3):  # 3000 bytes over 2.1 s: well within the body grace
            time.sleep(0.7)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                s.sendall(b"x" * 1000)
        resp, body = read_response(s)
        assert resp.status_code == 200, body


class RawOrigin:
    """An origin that answers 401 as soon as it has the head of /up, without reading the body."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RawOrigin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        data = b""
        with conn:
            deadline = time.monotonic() + 8
            while b"\r\n\r\n" not in data and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    data += conn.recv(65536)
            if data.startswith(b"POST /up "):
                conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope")
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            while time.monotonic() < deadline and not self.stop.is_set():
                try:
                    if not conn.recv(65536):
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break


def test_early_origin_response_leaves_the_connection_usable_or_closed() -> None:
    no_buffering = {"admission": {"enabled": False}}  # the head must reach the origin first
    with (
        RawOrigin() as origin,
        Edge(origin_url=f"http://127.0.0.1:{origin.port}", config=no_buffering) as e,
    ):
        with connect(e.port) as s:
            body = b"y" * 200_000
            s.sendall(b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body))
            resp, _ = read_response(s)
            assert resp.status_code == 401
            s.sendall(body + GET)
            s.settimeout(3)
            try:
                rest = s.recv(65536)
            except TimeoutError:
                pytest.fail("connection stalled after an early response")
            except ConnectionResetError:
                rest = b""
            assert rest == b"" or rest.startswith(b"HTTP/1.1 200 ")


def _big_handler(size: int) -> Callable[[Seen], Any]:
    def handler(req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        if req.target == "/big":
            return 200, [("Content-Length", str(size))], b"x" * size
        return default_handler(req)

    return handler


@contextlib.contextmanager
def small_window_client(port: int) -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    with s:
        yield s


def test_client_that_never_reads_is_aborted_after_the_send_timeout() -> None:
    cfg = {"timeouts": {"send": 0.5}}
    with Edge(handler=_big_handler(8 * 2**20), config=cfg) as e:
        with small_window_client(e.port) as s:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
            t0 = time.monotonic()
            assert wait_until(lambda: client_errors(e, "send_timeout") == 1, 5)
            assert time.monotonic() - t0 > 0.4
            assert wait_until(lambda: open_connections(e) == 0, 2)
        resp, body = roundtrip(e.port, b"GET /small HTTP/1.1\r\nHost: h\r\n\r\n")
        assert resp.status_code == 200 and body == b"GET /small 0\n"


def test_slow_but_steady_reader_is_not_aborted() -> None:
    size = 512 * 1024
    with Edge(handler=_big_handler(size), config={"timeouts": {"send": 0.5}}) as e:
        with small_window_client(e.port) as s:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            got = b""
            for _ in range(400):  # 16 KiB every 20 ms at most, bounded at ~8 s
                chunk = s.recv(16384)
                if not chunk:
                    break
                got += chunk
                time.sleep(0.02)
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and len(body) == size
        assert client_errors(e, "send_timeout") == 0
        assert header(roundtrip(e.port, GET)[0], "content-length") == "8"
