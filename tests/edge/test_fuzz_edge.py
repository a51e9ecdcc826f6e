"""Hypothesis over real sockets: whatever bytes a client sends, the edge stays correct.

For any input the client sees only well-formed responses, each a 2xx from the origin or a 4xx
(or 501/505) from the edge, or a closed connection; never a hang past the edge's own timeouts and never a
5xx caused by the input. The strict h11 origin must never be handed a malformed request
(`origin.errors`), and the edge must serve a normal request afterwards. One edge serves all
the examples of a test function.
"""

from __future__ import annotations

import contextlib
import socket
import string
import time
from collections.abc import Iterator

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import Edge, Seen, connect, roundtrip

QUIET = 0.2  # no byte for this long: the edge is waiting for more input, so half-close
HANG = 4.0  # after the half-close the edge must close well within this
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def ok(req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Content-Length", "0")], b""  # the same framing whatever the method


@pytest.fixture
def edge() -> Iterator[Edge]:
    cfg = {
        "timeouts": {"head": 1.0, "idle": 1.0},
        "limits": {"max_body_bytes": 65536, "max_header_bytes": 4096, "max_url_bytes": 1024},
    }
    with Edge(handler=ok, config=cfg) as e:
        yield e
        assert_healthy(e)


def assert_healthy(e: Edge) -> None:
    # A client that went away mid-body leaves the origin a truncated request; nothing else
    # may upset it.
    truncated = "peer closed connection without sending complete message body"
    assert [err for err in e.origin.errors if not err.startswith(truncated)] == []
    resp, _ = roundtrip(e.port, b"GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
    assert resp.status_code == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and e.call(lambda: len(e.worker.ctx.connections)):
        time.sleep(0.05)
    assert e.call(lambda: len(e.worker.ctx.connections)) == 0


def send(port: int, data: bytes) -> tuple[bytes, bool]:
    """Send `data`; read until the edge closes, half-closing once it falls quiet.

    Returns what came back and whether the edge answered the half-close by closing.
    """
    got = b""
    with connect(port) as s:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(data)
        deadline = time.monotonic() + QUIET + HANG
        s.settimeout(QUIET)
        half_closed = False
        while (left := deadline - time.monotonic()) > 0:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                if not half_closed:
                    half_closed = True
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_WR)
                    s.settimeout(left)
                continue
            except ConnectionResetError:
                return got, True
            if not chunk:
                return got, True
            got += chunk
    return got, False


def _one(rest: bytes, method: str) -> tuple[int, bytes] | None:
    """The first response in `rest`, read strictly as the answer to `method`; None if it is not."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(rest)
    conn.receive_data(b"")
    status = 0
    try:
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                return status, conn.trailing_data[0]
            elif not isinstance(event, (h11.Data, h11.InformationalResponse)):
                return None
    except h11.RemoteProtocolError:
        return None


def statuses(raw: bytes, sent: bytes = b"") -> list[int]:
    """Status codes of the responses in `raw`, read strictly; a truncated last one is an error.

    An answer to a HEAD request has no body, so where the client sent HEAD each response may
    also be read that way: the reading that accounts for every byte wins.
    """
    methods = ("GET", "HEAD") if b"HEAD" in sent else ("GET",)

    def parse(rest: bytes) -> list[int] | None:
        if not rest:
            return []
        for method in methods:
            one = _one(rest, method)
            if one is not None:
                tail = parse(one[1])
                if tail is not None:
                    return [one[0], *tail]
        return None

    out = parse(raw)
    if out is None:
        raise AssertionError(f"malformed or truncated response: {raw!r}")
    return out


def check(e: Edge, data: bytes) -> None:
    raw, closed = send(e.port, data)
    assert closed, f"edge still holds the connection {HANG} s after a half-close: {data!r}"
    for status in statuses(raw, data):
        # 501 (a method) and 505 (an HTTP version) refuse what the client chose: its fault
        assert 200 <= status < 300 or 400 <= status < 500 or status in (501, 505), (data, raw)


# ---- random bytes -------------------------------------------------------------------------------


def test_random_bytes(edge: Edge) -> None:
    @SETTINGS
    @given(st.binary(max_size=400))
    def run(data: bytes) -> None:
        check(edge, data)

    run()


# ---- mutated valid requests --------------------------------------------------------------------

TCHAR = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
VCHAR = "".join(map(chr, range(0x20, 0x7F))) + "\t\x80\xa0\xff"

VALID = [
    b"GET /a/b?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\nConnection: close\r\n\r\n",
    b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    b"GET /old HTTP/1.0\r\n\r\n",
    b"PUT /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\nok",
    b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nCookie: b=2\r\nX-Forwarded-For: 6.6.6.6\r\n"
    b"Connection: keep-alive, close\r\n\r\n",
]
TOKENS = [
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b"\x00",
    b"\x0b",
    b"\x7f",
    b"\xff",
    b":",
    b",",
    b";",
    b"0",
    b"chunked",
    b"Content-Length: 5\r\n",
    b"Content-Length: 0\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: identity\r\n",
    b"Host: other\r\n",
    b"Expect: 100-continue\r\n",
    b"Connection: upgrade\r\nUpgrade: websocket\r\n",
    b"0\r\n\r\n",
    b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
    b"HTTP/1.0",
    b"%00",
]


# each op once, the gentle ones more often: most mutants should still parse
OPS = ["token", "token", "token", "text", "bytes", "delete", "replace", "duplicate"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    rnd = draw(st.randoms(use_true_random=False))  # positions uniform over the request
    for _ in range(draw(st.integers(1, 3))):
        pos = rnd.randrange(len(data) + 1)
        op = draw(st.sampled_from(OPS))
        if op == "token":
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "text":
            data[pos:pos] = draw(st.text(VCHAR, min_size=1, max_size=4)).encode("latin-1")
        elif op == "bytes":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif op == "replace" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 40))]
    return bytes(data)


def test_mutated_valid_requests(edge: Edge) -> None:
    @SETTINGS
    @given(mutated())
    def run(data: bytes) -> None:
        check(edge, data)

    run()


# ---- random header names and values ------------------------------------------------------------

NAMES = [
    b"Host",
    b"Content-Length",
    b"Transfer-Encoding",
    b"Connection",
    b"Expect",
    b"Cookie",
    b"X-Forwarded-For",
    b"X-Request-ID",
    b"Authorization",
    b"Te",
    b"Trailer",
    b"Upgrade",
    b"Via",
    b"Content-Type",
    b"X-A",
]
VALUES = [
    b"",
    b"0",
    b"5",
    b"-1",
    b"chunked",
    b"chunked, gzip",
    b"close",
    b"keep-alive",
    b"upgrade",
    b"websocket",
    b"100-continue",
    b"h",
    b"h, h",
    b"a=1",
    b"1.2.3.4, ::1",
    b"<script>",
]
METHODS = [b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"PURGE", b"FOO"]
TARGETS = [b"/", b"/a?b=c", b"*", b"http://h/x", b"//x", b"/%00", b"/a#b"]
VERSIONS = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.1", b"HTTP/2.0"]

# repeated alternatives weigh more: mostly plausible fields, sometimes raw bytes
token = st.text(TCHAR, min_size=1, max_size=12).map(str.encode)
text = st.text(VCHAR, max_size=24).map(lambda v: v.encode("latin-1"))
field_name = st.one_of(
    st.sampled_from(NAMES), st.sampled_from(NAMES), token, token, st.binary(max_size=12)
)
field_value = st.one_of(
    st.sampled_from(VALUES), st.sampled_from(VALUES), text, text, st.binary(max_size=24)
)
target = st.one_of(
    st.sampled_from(TARGETS),
    st.sampled_from(TARGETS),
    text.map(lambda v: b"/" + v),
    st.binary(min_size=1, max_size=12),
)
trailing = st.one_of(st.just(b""), st.just(b""), st.binary(max_size=16))


@st.composite
def with_headers(draw: st.DrawFn) -> bytes:
    line = b"%s %s %s\r\n" % (
        draw(st.sampled_from(METHODS)),
        draw(target),
        draw(st.sampled_from(VERSIONS)),
    )
    fields = draw(st.lists(st.tuples(field_name, field_value), max_size=8))
    if draw(st.booleans()):
        fields.insert(draw(st.integers(0, len(fields))), (b"Host", b"h"))
    head = line + b"".join(n + b": " + v + b"\r\n" for n, v in fields) + b"\r\n"
    return head + draw(trailing)


def test_random_header_fields(edge: Edge) -> None:
    @SETTINGS
    @given(with_headers())
    def run(data: bytes) -> None:
        check(edge, data)

    run()
