"""Client plumbing: corked writes leave in one send, read pauses nest, deadlines follow the clock."""

from __future__ import annotations

from typing import Any

from seawall.config.load import validate
from seawall.core.net import parse_address
from seawall.edge.context import EdgeContext
from seawall.edge.plumbing import BODY, HEAD, IDLE, NONE, SEND, ClientPlumbing
from seawall.runtime.clock import ManualClock


class FakeTransport:
    """An in-memory transport: records writes and pause state."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.paused = False
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("198.51.100.4", 1234) if name == "peername" else default


def plumbing(**timeouts: float) -> tuple[ClientPlumbing, FakeTransport, ManualClock]:
    clock = ManualClock(100.0)
    cfg = validate({"timeouts": {"head": 2.0, "idle": 30.0, "send": 5.0, **timeouts}})
    p = ClientPlumbing(EdgeContext(cfg, clock))
    t = FakeTransport()
    p.transport = t  # type: ignore[assignment]
    return p, t, clock


def test_corked_writes_leave_in_one_send_and_close_flushes_first() -> None:
    p, t, _ = plumbing()
    p.cork()
    p.cork()
    p.write(b"head ")
    p.write(b"body")
    p.uncork()
    assert t.writes == []  # still corked once
    p.uncork()
    assert t.writes == [b"head body"]
    p.cork()
    p.write(b"last")
    p.close()
    assert t.writes[-1] == b"last" and t.closed


def test_read_pauses_are_reasons_and_reading_resumes_only_when_none_is_left() -> None:
    p, t, _ = plumbing()
    p.pause_reading(1)
    p.pause_reading(2)
    assert t.paused
    p.resume_reading(1)
    assert t.paused
    p.resume_reading(4)  # not a reason it was paused for
    assert t.paused
    p.resume_reading(2)
    assert not t.paused


def test_deadlines_follow_the_injected_clock() -> None:
    p, _, clock = plumbing()
    for kind, expected in ((HEAD, 102.0), (IDLE, 130.0), (SEND, 105.0), (BODY, 105.0)):
        p.set_deadline(kind)
        assert (p.kind, p.deadline) == (kind, expected)
    p.set_deadline(NONE)
    assert p.deadline == 0.0
    clock.advance(1.0)
    p.set_deadline(HEAD)
    assert p.deadline == 103.0


def test_proxy_header_sets_the_peer_and_garbage_aborts() -> None:
    p, t, _ = plumbing()
    p.proxy_buf = bytearray()
    assert p._read_proxy(b"PROXY TCP4 203.0.113.7 10.0.0.1 4000 443\r\nGET")
    assert p.peer.text == "203.0.113.7" and p.peer_prefix == "203.0.113.0/24"
    assert bytes(p.proxy_buf) == b"GET"
    q, t2, _ = plumbing()
    q.proxy_buf = bytearray()
    assert not q._read_proxy(b"GET / HTTP/1.1\r\n")
    assert t2.aborted and q.ctx.stats.client_errors["proxy_protocol"] == 1


def test_connections_per_address_are_capped() -> None:
    p, _, _ = plumbing()
    ctx = p.ctx
    addr = parse_address("198.51.100.4")
    assert addr is not None
    transports = []
    for _ in range(p.s.max_connections_per_address + 1):
        conn = ClientPlumbing(ctx)
        transports.append(FakeTransport())
        conn.transport = transports[-1]  # type: ignore[assignment]
        conn._set_peer(addr)
    assert [t.aborted for t in transports].count(True) == 1 and transports[-1].aborted
    assert ctx.stats.connections_refused["per_address"] == 1
    assert ctx.per_address[addr.value] == p.s.max_connections_per_address


class _SocketOnly:
    """What peer_closed reads of a transport: the socket under it."""

    def __init__(self, sock: object) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> object:
        return self.sock if name == "socket" else None


def test_peer_closed_reads_the_kernels_tcp_state() -> None:
    import socket
    import time

    from seawall.edge.plumbing import peer_closed

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
        with ours:
            transport = _SocketOnly(ours)
            assert peer_closed(transport) is False  # type: ignore[arg-type]
            client.close()  # a FIN we never read
            time.sleep(0.05)
            assert peer_closed(transport) is True  # type: ignore[arg-type]
    assert peer_closed(_SocketOnly(None)) is None  # type: ignore[arg-type]
