"""One exchange's state, and body chunks framed for the wire."""

from __future__ import annotations

import h11
import pytest

from seawall.edge.exchange import LAST_CHUNK, Exchange, frame
from seawall.edge.request import inspect_head


def exchange(method: bytes = b"GET", *extra: tuple[bytes, bytes]) -> Exchange:
    raw = [(b"Host", b"h"), *extra]
    return Exchange(method, b"/", raw, inspect_head(raw, True, 1 << 20), 1.0, 1_700_000_000.0, "r1")


@pytest.mark.parametrize(
    ("chunk", "wire"),
    [
        (b"hello", b"5\r\nhello\r\n"),
        (b"x" * 16, b"10\r\n" + b"x" * 16 + b"\r\n"),
        (b"y" * 300, b"12c\r\n" + b"y" * 300 + b"\r\n"),
        (b"a\r\n0\r\n\r\n", b"8\r\na\r\n0\r\n\r\n\r\n"),  # body bytes that look like framing
    ],
)
def test_frame_chunk_encodes(chunk: bytes, wire: bytes) -> None:
    assert frame(chunk, True) == wire


def test_frame_passes_through_when_not_chunked() -> None:
    assert frame(b"hello", False) == b"hello"
    assert frame(b"", False) == b""


def test_framed_chunks_and_the_last_chunk_decode_to_the_body() -> None:
    chunks = [b"first ", b"\x00\xff binary ", b"x" * 70_000, b"\r\n0\r\n\r\n"]
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "h")]))
    client.send(h11.EndOfMessage())
    client.receive_data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    client.receive_data(b"".join(frame(c, True) for c in chunks) + LAST_CHUNK)
    body = b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
        else:
            assert isinstance(event, h11.Response), event
    assert body == b"".join(chunks)


def test_last_chunk() -> None:
    assert LAST_CHUNK == b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("extra", "has_body"),
    [
        ((), False),
        (((b"Content-Length", b"0"),), False),
        (((b"Content-Length", b"1"),), True),
        (((b"Transfer-Encoding", b"chunked"),), True),
    ],
)
def test_has_body(extra: tuple[tuple[bytes, bytes], ...], has_body: bool) -> None:
    assert exchange(b"POST", *extra).has_body is has_body


@pytest.mark.parametrize(
    ("method", "is_head"), [(b"HEAD", True), (b"GET", False), (b"head", False), (b"HEADX", False)]
)
def test_is_head(method: bytes, is_head: bool) -> None:
    assert exchange(method).is_head is is_head


def test_a_new_exchange_has_not_started() -> None:
    ex = exchange()
    assert (ex.method, ex.target, ex.rid, ex.t0, ex.wall) == (
        b"GET",
        b"/",
        "r1",
        1.0,
        1_700_000_000.0,
    )
    assert ex.facts is None and ex.verdict is None
    assert ex.body == [] and ex.body_bytes == 0
    assert not (ex.complete or ex.resp_started or ex.resp_chunked or ex.resp_until_close)
    assert (ex.status, ex.bytes_out, ex.error, ex.forwarded_for) == (0, 0, "", "")
    assert not ex.retried and not ex.waiting
    with pytest.raises(AttributeError):
        ex.surprise = 1  # type: ignore[attr-defined]  # slotted: a typo cannot add state
