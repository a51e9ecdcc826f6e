"""Request heads: framing checks, header indexing, request ids, and the heads sent on."""

from __future__ import annotations

import h11
import pytest

from seawall.core.errors import ClientError
from seawall.edge.request import (
    HOP_BY_HOP,
    Head,
    inspect_head,
    request_id,
    response_head,
    upstream_head,
)

MAX = 1000
H = list[tuple[bytes, bytes]]


def head(*pairs: tuple[bytes, bytes], http11: bool = True, max_body: int = MAX) -> Head:
    return inspect_head(list(pairs), http11, max_body)


def refused(*pairs: tuple[bytes, bytes], http11: bool = True, max_body: int = MAX) -> ClientError:
    with pytest.raises(ClientError) as info:
        inspect_head(list(pairs), http11, max_body)
    return info.value


HOST = (b"Host", b"example.test")


# ---- inspect_head: framing -------------------------------------------------------------------


def test_a_plain_get() -> None:
    h = head(HOST, (b"User-Agent", b"t"))
    assert h.headers == {"host": "example.test", "user-agent": "t"}
    assert (h.content_length, h.chunked, h.expect_continue, h.upgrade, h.close) == (
        None,
        False,
        False,
        "",
        False,
    )


@pytest.mark.parametrize(("value", "length"), [(b"0", 0), (b"42", 42), (b" 7 ", 7), (b"1000", MAX)])
def test_content_length(value: bytes, length: int) -> None:
    h = head(HOST, (b"Content-Length", value))
    assert h.content_length == length
    assert not h.chunked


@pytest.mark.parametrize("value", [b"chunked", b"Chunked", b" chunked "])
def test_chunked(value: bytes) -> None:
    h = head(HOST, (b"Transfer-Encoding", value))
    assert h.chunked
    assert h.content_length is None


def test_content_length_over_the_limit_is_413() -> None:
    err = refused(HOST, (b"Content-Length", b"1001"))
    assert err.status == 413
    assert "1001" in err.reason


@pytest.mark.parametrize(
    "pairs",
    [
        [(b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")],
        [(b"Content-Length", b"5"), (b"Content-Length", b"5")],
        [(b"Content-Length", b"5"), (b"content-length", b"6")],
        [(b"Transfer-Encoding", b"chunked"), (b"Transfer-Encoding", b"chunked")],
        [(b"Transfer-Encoding", b"gzip, chunked")],
        [(b"Transfer-Encoding", b"identity")],
        [(b"Content-Length", b"-1")],
        [(b"Content-Length", b"+5")],
        [(b"Content-Length", b"0x10")],
        [(b"Content-Length", b"")],
        [(b"Content-Length", b"5, 5")],
        [(b"Content-Length", b"1" * 19)],
    ],
    ids=lambda p: b"|".join(b"%s=%s" % kv for kv in p).decode(),
)
def test_smuggling_shapes_are_400(pairs: H) -> None:
    assert refused(HOST, *pairs).status == 400


def test_host_is_required_in_http11_only() -> None:
    assert refused((b"Accept", b"*/*")).status == 400
    assert "host" not in head((b"Accept", b"*/*"), http11=False).headers


def test_two_hosts_are_400() -> None:
    assert refused(HOST, (b"Host", b"other.test")).status == 400


# ---- inspect_head: expect, upgrade, close ----------------------------------------------------


@pytest.mark.parametrize("value", [b"100-continue", b"100-Continue"])
def test_expect_100_continue(value: bytes) -> None:
    assert head(HOST, (b"Content-Length", b"3"), (b"Expect", value)).expect_continue


@pytest.mark.parametrize("value", [b"200-ok", b"100-continue-please", b"nothing"])
def test_unknown_expect_is_417(value: bytes) -> None:
    assert refused(HOST, (b"Expect", value)).status == 417


def test_upgrade_needs_connection_upgrade() -> None:
    h = head(HOST, (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"))
    assert h.upgrade == "websocket"
    assert (
        head(HOST, (b"Connection", b"keep-alive, upgrade"), (b"Upgrade", b"h2c")).upgrade == "h2c"
    )
    assert head(HOST, (b"Upgrade", b"websocket")).upgrade == ""
    assert head(HOST, (b"Connection", b"keep-alive"), (b"Upgrade", b"websocket")).upgrade == ""


@pytest.mark.parametrize(
    ("http11", "connection", "close"),
    [
        (True, None, False),
        (True, b"keep-alive", False),
        (True, b"close", True),
        (True, b"Close", True),
        (True, b"upgrade, close", True),
        (False, None, True),
        (False, b"close", True),
        (False, b"keep-alive", False),
        (False, b"Keep-Alive", False),
    ],
)
def test_close_semantics(http11: bool, connection: bytes | None, close: bool) -> None:
    pairs = [HOST] if connection is None else [HOST, (b"Connection", connection)]
    assert head(*pairs, http11=http11).close is close


def test_connection_options_are_tokens() -> None:
    assert head(HOST, (b"Connection", b"x-close-notify")).close is False
    h = head(HOST, (b"Connection", b"x-noupgrade"), (b"Upgrade", b"websocket"))
    assert h.upgrade == ""


# ---- inspect_head: indexing ------------------------------------------------------------------


def test_names_are_lowercased_and_duplicates_joined() -> None:
    h = head(
        HOST,
        (b"Cookie", b"a=1"),
        (b"Accept", b"text/html"),
        (b"cookie", b"b=2"),
        (b"ACCEPT", b"*/*"),
        (b"Cookie", b"c=3"),
    )
    assert h.headers["cookie"] == "a=1; b=2; c=3"
    assert h.headers["accept"] == "text/html, */*"
    assert set(h.headers) == {"host", "cookie", "accept"}


def test_values_are_latin1_text() -> None:
    h = head(HOST, (b"User-Agent", "naïve".encode()))
    assert h.headers["user-agent"] == "naïve".encode().decode("latin-1")


# ---- request_id ------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["abc-123", "A.b_c:d-e", "x" * 128, "0"])
def test_a_well_formed_request_id_is_kept(given: str) -> None:
    assert request_id(given, "ours") == given


@pytest.mark.parametrize(
    "given", [None, "", "<script>", "a b", "x" * 129, "ok\n", "ok\r\nX-Evil: 1", "ünï", "a,b"]
)
def test_a_missing_or_hostile_request_id_is_replaced(given: str | None) -> None:
    assert request_id(given, "ours") == "ours"


# ---- upstream_head ---------------------------------------------------------------------------


def send_on(
    raw: H,
    http11: bool = True,
    method: bytes = b"GET",
    target: bytes = b"/p?q=1",
    default_host: bytes = b"origin.internal:8000",
) -> tuple[bytes, h11.Request]:
    h = inspect_head(raw, http11, MAX)
    data = upstream_head(
        method, target, raw, h, "198.51.100.7", "198.51.100.7", "https", "rid-1", default_host
    )
    server = h11.Connection(h11.SERVER)  # the origin's view, parsed strictly
    server.receive_data(data)
    event = server.next_event()
    assert isinstance(event, h11.Request), event
    return data, event


def names(req: h11.Request) -> list[str]:
    return [k.decode() for k, _ in req.headers]


def values(req: h11.Request, name: str) -> list[str]:
    return [v.decode() for k, v in req.headers if k == name.encode()]


def test_request_line_and_forwarding_headers() -> None:
    data, req = send_on([HOST, (b"Accept", b"*/*")], method=b"POST", target=b"/a%2Fb?x=1")
    assert data.startswith(b"POST /a%2Fb?x=1 HTTP/1.1\r\nHost: example.test\r\n")
    assert data.endswith(b"\r\n\r\n")
    assert req.http_version == b"1.1"
    assert values(req, "x-forwarded-for") == ["198.51.100.7"]
    assert values(req, "x-real-ip") == ["198.51.100.7"]
    assert values(req, "x-forwarded-proto") == ["https"]
    assert values(req, "x-request-id") == ["rid-1"]
    assert values(req, "via") == ["1.1 seawall"]


def test_header_order_and_spelling_are_kept() -> None:
    raw = [HOST, (b"X-B", b"2"), (b"x-a", b"1"), (b"X-B", b"3")]
    data, _ = send_on(raw)
    assert b"Host: example.test\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\n" in data


def test_hop_by_hop_and_rewritten_headers_are_dropped() -> None:
    raw = [
        HOST,
        (b"Connection", b"keep-alive"),
        (b"Keep-Alive", b"timeout=5"),
        (b"TE", b"trailers"),
        (b"Trailer", b"X-Sum"),
        (b"Upgrade", b"websocket"),
        (b"Proxy-Connection", b"keep-alive"),
        (b"Proxy-Authorization", b"Basic eDp5"),
        (b"Proxy-Authenticate", b"Basic"),
        (b"X-Forwarded-For", b"6.6.6.6"),
        (b"X-Real-IP", b"6.6.6.6"),
        (b"X-Forwarded-Proto", b"http"),
        (b"X-Request-ID", b"theirs"),
        (b"Forwarded", b"for=6.6.6.6"),
        (b"Expect", b"100-continue"),
        (b"Content-Length", b"3"),
        (b"X-Keep", b"yes"),
    ]
    _, req = send_on(raw, method=b"POST")
    got = names(req)
    for name in HOP_BY_HOP:
        assert name.decode() not in got
    assert "forwarded" not in got and "expect" not in got
    assert values(req, "x-forwarded-for") == ["198.51.100.7"]
    assert values(req, "x-real-ip") == ["198.51.100.7"]
    assert values(req, "x-forwarded-proto") == ["https"]
    assert values(req, "x-request-id") == ["rid-1"]
    assert values(req, "content-length") == ["3"]
    assert values(req, "x-keep") == ["yes"]


def test_headers_named_in_connection_are_dropped() -> None:
    raw = [
        HOST,
        (b"Connection", b"keep-alive, X-Secret, x-other"),
        (b"X-Secret", b"s"),
        (b"X-Other", b"o"),
        (b"X-Keep", b"yes"),
    ]
    _, req = send_on(raw)
    assert "x-secret" not in names(req)
    assert "x-other" not in names(req)
    assert values(req, "x-keep") == ["yes"]


def test_host_is_added_for_an_http10_request_without_one() -> None:
    data, req = send_on([(b"Accept", b"*/*")], http11=False)
    assert values(req, "host") == ["origin.internal:8000"]
    assert data.startswith(b"GET /p?q=1 HTTP/1.1\r\nHost: origin.internal:8000\r\n")


def test_a_present_host_is_passed_once_and_untouched() -> None:
    _, req = send_on([(b"Host", b"Example.Test:8443")])
    assert values(req, "host") == ["Example.Test:8443"]


def test_via_is_appended_to_an_existing_via() -> None:
    _, req = send_on([HOST, (b"Via", b"1.0 corp-proxy"), (b"Via", b"1.1 cdn")])
    assert values(req, "via") == ["1.0 corp-proxy, 1.1 cdn, 1.1 seawall"]


def test_framing_is_ours() -> None:
    _, req = send_on([HOST, (b"Content-Length", b"0")], method=b"POST")
    assert values(req, "content-length") == ["0"]
    _, req = send_on([HOST, (b"Transfer-Encoding", b"Chunked")], method=b"POST")
    assert values(req, "transfer-encoding") == ["chunked"]
    assert "content-length" not in names(req)
    _, req = send_on([HOST])
    assert "content-length" not in names(req) and "transfer-encoding" not in names(req)


def test_an_upgrade_is_passed_on_with_our_connection_header() -> None:
    raw = [HOST, (b"Connection", b"keep-alive, Upgrade"), (b"Upgrade", b"websocket")]
    _, req = send_on(raw)
    assert values(req, "connection") == ["upgrade"]
    assert values(req, "upgrade") == ["websocket"]


# ---- response_head ---------------------------------------------------------------------------


def relay(
    raw: H,
    framing: bytes = b"Content-Length: 2\r\n",
    close: bool = False,
    status: int = 200,
    reason: bytes = b"OK",
) -> tuple[bytes, h11.Response, h11.Connection]:
    data = response_head(status, reason, raw, framing, close, "rid-1")
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    event = client.next_event()
    assert isinstance(event, h11.Response), event
    return data, event, client


def rvalues(resp: h11.Response, name: str) -> list[str]:
    return [v.decode() for k, v in resp.headers if k == name.encode()]


def test_response_head_drops_hop_by_hop_and_uses_our_framing() -> None:
    raw = [
        (b"Content-Type", b"text/plain"),
        (b"Connection", b"keep-alive"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Content-Length", b"999"),
        (b"Trailer", b"X-Sum"),
        (b"Upgrade", b"h2c"),
        (b"Proxy-Authenticate", b"Basic"),
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
    ]
    data, resp, client = relay(raw, framing=b"Transfer-Encoding: chunked\r\n")
    got = {k.decode() for k, _ in resp.headers}
    assert not got & {h.decode() for h in HOP_BY_HOP} - {"transfer-encoding"}
    assert rvalues(resp, "transfer-encoding") == ["chunked"]
    assert "content-length" not in got
    assert rvalues(resp, "set-cookie") == ["a=1", "b=2"]
    assert rvalues(resp, "content-type") == ["text/plain"]
    assert client.their_state is h11.SEND_BODY
    client.receive_data(b"2\r\nok\r\n0\r\n\r\n")
    assert isinstance(client.next_event(), h11.Data)
    assert isinstance(client.next_event(), h11.EndOfMessage)
    assert data.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")


def test_response_head_replaces_the_origins_request_id() -> None:
    _, resp, _ = relay([(b"X-Request-ID", b"origin-made"), (b"x-request-id", b"again")])
    assert rvalues(resp, "x-request-id") == ["rid-1"]


def test_response_head_close_and_content_length() -> None:
    _, resp, _ = relay([(b"Connection", b"keep-alive")], close=True)
    assert rvalues(resp, "connection") == ["close"]
    assert rvalues(resp, "content-length") == ["2"]
    _, resp, _ = relay([])
    assert rvalues(resp, "connection") == []


def test_response_head_without_a_reason_phrase() -> None:
    data, resp, _ = relay([], status=204, reason=b"", framing=b"")
    assert data.startswith(b"HTTP/1.1 204 -\r\n")
    assert resp.status_code == 204


def test_response_headers_named_in_connection_are_dropped() -> None:
    _, resp, _ = relay([(b"Connection", b"X-Internal"), (b"X-Internal", b"secret")])
    assert rvalues(resp, "x-internal") == []
