"""Deciding and answering, with an in-memory transport: refusals, ordering, records."""

from __future__ import annotations

from typing import Any

from seawall.config.load import validate
from seawall.edge.connection import ClientConnection
from seawall.edge.context import EdgeContext
from seawall.runtime.clock import ManualClock


class FakeTransport:
    def __init__(self) -> None:
        self.data = b""
        self.closed = self.aborted = self.paused = False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("192.0.2.44", 4000) if name == "peername" else default


class FakeOrigins:
    """Answers every forwarded request at once, in memory; keeps the heads it was given."""

    default_host = b"origin.test"

    def __init__(self) -> None:
        self.heads: list[bytes] = []

    def dispatch(self, client: Any, ex: Any, head: bytes) -> None:
        self.heads.append(head)
        ex.status = 200
        client.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        client.done(ex, False)


def connection(
    rules: list[dict[str, Any]],
) -> tuple[ClientConnection, FakeTransport, EdgeContext, FakeOrigins]:
    cfg = validate(
        {"origins": [{"url": "http://127.0.0.1:9"}], "rules": rules, "log": {"access_log": ""}}
    )
    ctx = EdgeContext(cfg, ManualClock(50.0))
    origins = FakeOrigins()
    ctx.origins = origins  # type: ignore[assignment]
    conn, t = ClientConnection(ctx, False), FakeTransport()
    conn.connection_made(t)  # type: ignore[arg-type]
    return conn, t, ctx, origins


GET = b"GET /%s HTTP/1.1\r\nHost: h\r\n\r\n"


def test_pipelined_requests_are_decided_and_answered_in_order() -> None:
    rules = [
        {"id": "no-a", "action": "block", "match": {"paths": ["/a"]}},
        {"id": "slow", "action": "throttle", "rate": 0.5, "burst": 1, "match": {"paths": ["/b"]}},
    ]
    conn, t, ctx, origins = connection(rules)
    conn.data_received(GET % b"a" + GET % b"b" + GET % b"b")
    responses = t.data.split(b"HTTP/1.1 ")[1:]
    assert [r[:3] for r in responses] == [b"403", b"200", b"429"]
    assert b"refused by policy" in responses[0]
    assert b"Retry-After: 2\r\n" in responses[2]
    assert len(origins.heads) == 1 and origins.heads[0].startswith(b"GET /b HTTP/1.1\r\n")
    assert not t.closed
    ctx.recorder.drain()
    assert ctx.recorder.recorded == 3
    assert ctx.stats.snapshot()["requests"] == {
        ("block", "anonymous", "other"): 1,
        ("allow", "anonymous", "other"): 1,
        ("throttle", "anonymous", "other"): 1,
    }


def test_a_silent_block_closes_without_an_answer() -> None:
    conn, t, _, _ = connection([{"id": "tarpit", "action": "block", "close": True}])
    conn.data_received(GET % b"x")
    assert t.data == b"" and t.aborted


def test_a_refused_request_with_an_unread_body_closes_the_connection() -> None:
    conn, t, _, _ = connection(
        [{"id": "no-post", "action": "block", "match": {"methods": ["POST"]}}]
    )
    conn.data_received(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
    assert t.data.startswith(b"HTTP/1.1 403 ") and b"Connection: close" in t.data and t.closed


def test_a_bad_request_after_a_refused_one_is_answered_second() -> None:
    conn, t, _, _ = connection([{"id": "no-a", "action": "block", "match": {"paths": ["/a"]}}])
    conn.data_received(GET % b"a" + b"GET /\x01 HTTP/1.1\r\n\r\n")
    statuses = [r[:3] for r in t.data.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [b"403", b"400"] and t.closed


def test_an_error_answer_to_head_has_no_body() -> None:
    conn, t, _, _ = connection([])
    conn.data_received(
        b"HEAD /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"
    )
    assert t.data.startswith(b"HTTP/1.1 400 ")
    conn2, t2, _, _ = connection([])
    conn2.data_received(b"HEAD /x HTTP/1.1\r\nHost: h\r\nX-Too-Big: " + b"a" * 20_000 + b"\r\n\r\n")
    head, _, body = t2.data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ") and body == b""
