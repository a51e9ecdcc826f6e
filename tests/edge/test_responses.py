"""Responses the edge writes itself, read back by h11 as a strict client."""

from __future__ import annotations

import h11
import pytest

from seawall.edge.responses import CONTINUE_100, simple_response


def parse(data: bytes, method: str = "GET") -> tuple[h11.Response, bytes, h11.Connection]:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    resp: h11.Response | None = None
    body = b""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            resp = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
        else:
            raise AssertionError(f"incomplete response: {event!r}")
    assert resp is not None
    assert conn.trailing_data == (b"", False), "bytes after the response"
    return resp, body, conn


def headers(resp: h11.Response) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in resp.headers:
        out.setdefault(k.decode(), []).append(v.decode())
    return out


def test_a_complete_response_with_a_one_line_body() -> None:
    resp, body, conn = parse(simple_response(429, "slow down"))
    assert resp.status_code == 429
    assert resp.reason == b"Too Many Requests"
    assert resp.http_version == b"1.1"
    assert body == b"429 Too Many Requests: slow down\n"
    h = headers(resp)
    assert h["content-length"] == [str(len(body))]
    assert h["content-type"] == ["text/plain; charset=utf-8"]
    assert h["server"] == ["seawall"]
    assert h["cache-control"] == ["no-store"]
    assert "retry-after" not in h and "x-request-id" not in h
    assert "connection" not in h
    assert conn.their_state is h11.DONE  # keep-alive: the connection can be reused


def test_content_length_counts_bytes_not_characters() -> None:
    resp, body, _ = parse(simple_response(403, "blocked: naïve ☃"))
    assert headers(resp)["content-length"] == [str(len(body))]
    assert body.decode() == "403 Forbidden: blocked: naïve ☃\n"


def test_connection_close_only_when_asked() -> None:
    resp, _, conn = parse(simple_response(400, "bad", close=True))
    assert headers(resp)["connection"] == ["close"]
    assert conn.their_state is h11.MUST_CLOSE


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(0.0, None), (-1.0, None), (0.001, "1"), (0.5, "1"), (1.0, "1"), (1.01, "2"), (29.5, "30")],
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(
    retry_after: float, expected: str | None
) -> None:
    resp, _, _ = parse(simple_response(429, "wait", retry_after=retry_after))
    assert headers(resp).get("retry-after", [None]) == [expected]


def test_request_id_and_extra_headers() -> None:
    data = simple_response(
        403,
        "challenge",
        request_id="abc-1",
        extra=(("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Seawall-Rule", "r7")),
    )
    resp, _, _ = parse(data)
    h = headers(resp)
    assert h["x-request-id"] == ["abc-1"]
    assert h["set-cookie"] == ["a=1", "b=2"]
    assert h["x-seawall-rule"] == ["r7"]


def test_head_only_has_the_head_and_the_length_of_the_body_it_omits() -> None:
    full = simple_response(503, "busy", head_only=False)
    head = simple_response(503, "busy", head_only=True)
    assert full.startswith(head)
    assert head.endswith(b"\r\n\r\n")
    resp, body, conn = parse(head, method="HEAD")
    assert body == b""
    assert conn.their_state is h11.DONE
    assert headers(resp)["content-length"] == [str(len(full) - len(head))]


def test_unknown_status_still_parses() -> None:
    resp, body, _ = parse(simple_response(599, "odd"))
    assert resp.status_code == 599
    assert resp.reason == b"Unknown"
    assert body == b"599 Unknown: odd\n"


def test_100_continue_is_an_interim_response() -> None:
    conn = h11.Connection(h11.CLIENT)
    conn.send(
        h11.Request(
            method="POST",
            target="/",
            headers=[("Host", "x"), ("Content-Length", "1"), ("Expect", "100-continue")],
        )
    )
    conn.receive_data(CONTINUE_100 + simple_response(200, "ok"))
    event = conn.next_event()
    assert isinstance(event, h11.InformationalResponse)
    assert event.status_code == 100
    assert isinstance(conn.next_event(), h11.Response)
