"""Slow-attack clients against real loopback servers: they hold, dribble, reconnect, and stop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from typing import Any

import pytest

from seawall.edge.proxy_protocol import parse_proxy_header
from seawall.lab.slow import (
    POST_LENGTH,
    EventKind,
    SlowAttack,
    SlowEvent,
    SlowKind,
    SlowResult,
    run_slow,
)
from seawall.lab.wire import V2_SIGNATURE, Presentation, Target

from harness import Edge, free_port
from labservers import Handler, Server


async def record(reader: asyncio.StreamReader, conn: bytearray, stop: float) -> None:
    while time.monotonic() < stop:
        data = await reader.read(4096)
        if not data:
            return
        conn += data


async def patient(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
    """Never times anything out: reads whatever comes until the client leaves."""
    conn = bytearray()
    s.received.append(conn)
    await record(r, conn, time.monotonic() + 30)


async def strict(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
    """Closes (without answering) any connection whose head is not complete within 0.3 s."""
    conn = bytearray()
    s.received.append(conn)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.3):
            while b"\r\n\r\n" not in conn:
                data = await r.read(4096)
                if not data:
                    return
                conn += data
    s.notes["complete"] = s.notes.get("complete", 0) + (b"\r\n\r\n" in conn)


def attack(kind: SlowKind, *addresses: str, **kw: Any) -> SlowAttack:
    return SlowAttack(kind, addresses, **{"interval_s": 0.1, **kw})


def run(
    handler: Handler,
    a: SlowAttack,
    duration: float,
    p: Presentation = Presentation.REAL_IP_HEADER,
    events: list[SlowEvent] | None = None,
) -> tuple[SlowResult, Server]:
    server = Server(handler)

    async def body(target: Target) -> SlowResult:
        return await run_slow(target, a, duration, events.append if events is not None else None)

    result = asyncio.run(server.run(body, p))
    assert result.opened == result.closed_by_peer + result.dropped_after_answer + (
        result.held_at_end
    )
    return result, server


def test_slowloris_holds_every_connection_against_a_patient_server() -> None:
    events: list[SlowEvent] = []
    a = attack(SlowKind.SLOWLORIS, "198.51.100.7", "203.0.113.9", connections_per_address=3)
    result, server = run(patient, a, 1.5, events=events)
    assert result.opened == result.held_at_end == result.max_concurrent_open == 6
    assert result.closed_by_peer == result.refused == result.reconnects == 0
    assert result.held_seconds >= 6 * 1.5 * 0.9
    assert not result.answered
    assert len(server.received) == 6
    for conn in server.received:
        assert conn.startswith(b"GET /users/cyxymu HTTP/1.1\r\nHost: lab.test\r\nX-Real-IP: ")
        assert b"\r\n\r\n" not in conn  # partial heads only
        assert conn.count(b"X-Pad-") >= 10  # a line per 0.1 s tick
    ips = sorted(bytes(c).split(b"X-Real-IP: ")[1].split(b"\r\n")[0] for c in server.received)
    assert ips == [b"198.51.100.7"] * 3 + [b"203.0.113.9"] * 3
    assert [e.kind for e in events].count(EventKind.OPENED) == 6
    ends = [e for e in events if e.kind is EventKind.HELD_AT_END]
    assert len(ends) == 6 and all(e.held_s > 1.3 for e in ends)


def test_a_head_timeout_sheds_slowloris_which_keeps_reconnecting() -> None:
    a = attack(SlowKind.SLOWLORIS, "198.51.100.7", "203.0.113.9", connections_per_address=3)

    async def both() -> tuple[SlowResult, SlowResult]:
        async def go(handler: Handler) -> SlowResult:
            return await Server(handler).run(
                lambda t: run_slow(t, a, 1.5), Presentation.REAL_IP_HEADER
            )

        return await asyncio.gather(go(patient), go(strict))

    held, shed = asyncio.run(both())
    assert shed.closed_by_peer >= 6 and shed.reconnects >= 6
    assert shed.opened == shed.closed_by_peer + shed.held_at_end
    assert shed.max_concurrent_open <= 6
    assert not shed.answered  # closed without a word
    # connect, cut at 0.3 s, 0.5 s pause, again: about 0.6 of every 1.5 s
    assert shed.held_seconds < 0.5 * held.held_seconds
    assert held.held_seconds >= 6 * 1.5 * 0.9


async def post_sink(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
    head = await r.readuntil(b"\r\n\r\n")
    body = bytearray()
    s.notes.setdefault("heads", []).append(head)
    s.notes.setdefault("bodies", []).append(body)
    await record(r, body, time.monotonic() + 30)


def test_slow_post_sends_a_whole_head_then_a_trickle_of_body() -> None:
    a = attack(SlowKind.SLOW_POST, "192.0.2.1", path="/login", connections_per_address=2)
    result, server = run(post_sink, a, 1.2)
    assert result.opened == result.held_at_end == 2
    heads, bodies = server.notes["heads"], server.notes["bodies"]
    assert len(heads) == 2
    for head, body in zip(heads, bodies, strict=True):
        assert head.startswith(b"POST /login HTTP/1.1\r\n")
        assert f"Content-Length: {POST_LENGTH}\r\n".encode() in head
        assert b"X-Real-IP: 192.0.2.1\r\n" in head
        assert 20 <= len(body) <= 4 * 14  # 4 bytes a 0.1 s tick, of a promised 1 MiB


BIG = 8 * 1024 * 1024


async def big_writer(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
    head = await r.readuntil(b"\r\n\r\n")
    s.notes["head"] = head
    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG + b"x" * BIG)
    high = w.transport.get_write_buffer_limits()[1]
    try:
        await asyncio.wait_for(w.drain(), 1.0)
        s.notes["drained"] = True
    except TimeoutError:
        s.notes["drained"] = False
    s.notes["high"] = high
    s.notes["queued_after_1s"] = w.transport.get_write_buffer_size()
    await record(r, bytearray(), time.monotonic() + 30)


def test_slow_read_backs_up_the_servers_writes() -> None:
    events: list[SlowEvent] = []
    a = attack(SlowKind.SLOW_READ, "192.0.2.44", interval_s=0.05)
    result, server = run(big_writer, a, 1.5, events=events)
    assert result.opened == result.held_at_end == 1
    assert result.answered == {200: 1}  # the status line came in byte by byte
    assert server.notes["head"].startswith(b"GET /users/cyxymu HTTP/1.1\r\n")
    assert server.notes["drained"] is False  # drain blocked for a whole second
    assert server.notes["queued_after_1s"] > max(server.notes["high"], BIG // 2)


async def big_then_reset(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
    await r.readuntil(b"\r\n\r\n")
    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG + b"x" * BIG)
    await asyncio.sleep(0.3)
    # a send timeout that resets (like nginx's reset_timedout_connection): linger 0 makes
    # close() send RST; a plain close would leave the kernel flushing into the zero window
    w.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    w.transport.abort()


def test_slow_read_notices_a_reset_at_once_and_reconnects() -> None:
    events: list[SlowEvent] = []
    a = attack(SlowKind.SLOW_READ, "192.0.2.44", interval_s=0.05, reconnect_pause_s=0.2)
    result, _ = run(big_then_reset, a, 1.5, events=events)
    cut = [e for e in events if e.kind is EventKind.CLOSED_BY_PEER]
    assert len(cut) >= 2 and result.reconnects >= 2
    assert all(0.25 < e.held_s < 0.5 for e in cut)  # not after the buffered kilobytes


def test_proxy_v2_names_each_simulated_address() -> None:
    a = attack(SlowKind.SLOWLORIS, "203.0.113.9", "2001:db8::7")
    result, server = run(patient, a, 0.6, p=Presentation.PROXY_V2)
    assert result.opened == 2
    sources = set()
    for conn in server.received:
        assert conn.startswith(V2_SIGNATURE)
        parsed = parse_proxy_header(bytes(conn))
        assert parsed is not None
        info, consumed = parsed
        assert info.version == 2 and info.source is not None and info.destination is not None
        sources.add(info.source.text)
        assert info.destination.text == "127.0.0.1"
        assert info.destination_port == server.port and info.source_port > 0
        assert conn[consumed:].startswith(b"GET /users/cyxymu HTTP/1.1\r\nHost: lab.test\r\n")
        assert b"X-Real-IP" not in conn
    assert sources == {"203.0.113.9", "2001:db8::7"}


def test_nothing_listening_counts_refusals_and_stops_on_time() -> None:
    a = attack(SlowKind.SLOWLORIS, "192.0.2.1", connections_per_address=2)
    target = Target("127.0.0.1", free_port(), Presentation.REAL_IP_HEADER)
    began = time.monotonic()
    result = asyncio.run(run_slow(target, a, 0.6))
    assert time.monotonic() - began < 1.5
    assert result.opened == 0 and result.held_seconds == 0
    assert 2 <= result.refused <= 2 * 4  # one try per 0.25 s per slot


@pytest.mark.parametrize("host", ["10.0.0.1", "192.0.2.1", "2001:db8::1", "example.com", ""])
def test_non_loopback_targets_are_refused(host: str) -> None:
    target = Target(host, 80, Presentation.PROXY_V2)
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(run_slow(target, attack(SlowKind.SLOWLORIS, "192.0.2.1"), 1.0))


def test_loopback_forms_are_accepted_but_bad_durations_are_not() -> None:
    a = attack(SlowKind.SLOWLORIS, "192.0.2.1")
    for duration in (0.0, -1.0, 3601.0, float("nan")):
        with pytest.raises(ValueError, match="duration_s"):
            asyncio.run(run_slow(Target("127.0.0.2", 80, Presentation.PROXY_V2), a, duration))
    with pytest.raises(ValueError, match="port"):
        asyncio.run(run_slow(Target("::1", 0, Presentation.PROXY_V2), a, 1.0))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"addresses": ()}, "at least one"),
        ({"addresses": ("not-an-ip",)}, "not an IP"),
        ({"connections_per_address": 0}, "at least 1"),
        ({"addresses": ("192.0.2.1", "192.0.2.2"), "connections_per_address": 2501}, "5000"),
        ({"interval_s": 0.0}, "interval_s"),
        ({"interval_s": -1.0}, "interval_s"),
        ({"reconnect_pause_s": 0.0}, "reconnect_pause_s"),
        ({"ramp_per_s": 0.0}, "ramp_per_s"),
        ({"path": "users"}, "start with /"),
        ({"path": "/a b"}, "path"),
        ({"host_header": "h\r\nX-Evil: 1"}, "host_header"),
        ({"kind": "slow_dance"}, "slow_dance"),
    ],
)
def test_bad_attack_parameters_are_refused(kw: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"kind": "slowloris", "addresses": ("192.0.2.1",), **kw}
    with pytest.raises(ValueError, match=match):
        SlowAttack(**args)


def test_the_edge_answers_slowloris_with_408_after_its_head_timeout() -> None:
    cfg = {
        "listeners": [{"address": "127.0.0.1:0", "proxy_protocol": True}],
        "timeouts": {"head": 0.5},
    }
    a = attack(SlowKind.SLOWLORIS, "198.51.100.7", "203.0.113.9", connections_per_address=2)
    events: list[SlowEvent] = []
    with Edge(config=cfg) as e:
        target = Target("127.0.0.1", e.port, Presentation.PROXY_V2)
        result = asyncio.run(run_slow(target, a, 2.0, events.append))
        assert e.origin.seen == []
    assert result.answered[408] >= 4 and set(result.answered) == {408}
    assert result.closed_by_peer >= 4 and result.reconnects >= 4
    cut = [e for e in events if e.kind is EventKind.CLOSED_BY_PEER]
    # the edge checks deadlines on a coarse timer, so a head may live a little past 0.5 s
    assert all(e.status == 408 and 0.45 < e.held_s < 1.0 for e in cut)
    assert result.held_seconds < 0.85 * 4 * 2.0


def test_cancelling_a_run_closes_every_connection_and_leaves_no_tasks() -> None:
    a = attack(SlowKind.SLOWLORIS, "192.0.2.1", "192.0.2.2", connections_per_address=3)
    server = Server(patient)

    async def body(target: Target) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(run_slow(target, a, 30.0), 0.5)
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("slow-")]
        await asyncio.sleep(0.1)
        assert len(server.received) == 6 and not server.writers  # every handler saw EOF

    began = time.monotonic()
    asyncio.run(server.run(body, Presentation.REAL_IP_HEADER))
    assert time.monotonic() - began < 1.0
