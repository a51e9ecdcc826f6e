"""A worker: where it listens, its sweeper, log reopening, and a graceful drain."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seawall.config.load import validate
from seawall.config.schema import Config
from seawall.core.rules import Rule, RulesetDelta
from seawall.core.verdict import Action
from seawall.edge.server import SWEEP_INTERVAL, EdgeWorker, split_hostport
from seawall.runtime.clock import ManualClock

from harness import Edge, Seen, connect, free_port, header, read_response, roundtrip


def config(**extra: Any) -> Config:
    data: dict[str, Any] = {
        "listeners": [{"address": "127.0.0.1:0"}],
        "origins": [{"url": f"http://127.0.0.1:{free_port()}"}],
        "log": {"access_log": ""},
        "admin": {"listen": ""},
        **extra,
    }
    return validate(data)


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("[::1]:80", ("::1", 80)),
        ("[2001:db8::1]:8443", ("2001:db8::1", 8443)),
        ("[::]:0", ("::", 0)),
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_split_hostport(address: str, expected: tuple[str, int]) -> None:
    assert split_hostport(address) == expected


def test_start_on_port_zero_reports_the_kernels_ports() -> None:
    cfg = config(listeners=[{"address": "127.0.0.1:0"}, {"address": "127.0.0.1:0"}])

    async def main() -> None:
        worker = EdgeWorker(cfg, ManualClock(), index=2)
        assert worker.addresses == []
        await worker.start()
        try:
            addrs = worker.addresses
            assert len(addrs) == 2
            assert all(host == "127.0.0.1" and port > 0 for host, port in addrs)
            assert addrs[0][1] != addrs[1][1]
            for _, port in addrs:  # both accept
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
            assert {t.get_name() for t in worker.tasks} == {
                "sweeper-2",
                "recorder-2",
                "detection-2",
            }
        finally:
            await worker.stop()
        assert worker.tasks == []

    asyncio.run(main())


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_listener() -> None:
    cfg = config(listeners=[{"address": "[::1]:0"}])

    async def main() -> None:
        worker = EdgeWorker(cfg, ManualClock())
        await worker.start()
        try:
            [(host, port)] = worker.addresses
            assert host == "::1" and port > 0
            _, writer = await asyncio.open_connection("::1", port)
            writer.close()
            await writer.wait_closed()
        finally:
            await worker.stop()

    asyncio.run(main())


def test_the_sweeper_removes_expired_rules_and_sets_gauges() -> None:
    clock = ManualClock(start=100.0)
    cfg = config()

    async def main() -> None:
        worker = EdgeWorker(cfg, clock)
        await worker.start()
        try:
            worker.apply(
                RulesetDelta(
                    add=(
                        Rule("temp", Action.BLOCK, expires=105.0),
                        Rule("kept", Action.BLOCK, expires=None),
                    )
                )
            )
            decider = worker.ctx.decider
            version = decider.ruleset.version
            await asyncio.sleep(SWEEP_INTERVAL * 2.5)  # sweeps happen; nothing has expired yet
            assert decider.ruleset.version == version
            assert worker.ctx.stats.gauges["ruleset_version"] == version
            assert {"recorder_dropped", "tracked_limit_keys", "pool_idle"} <= set(
                worker.ctx.stats.gauges
            )
            clock.advance(5.0)  # expires at 105 <= now
            await eventually(lambda: decider.ruleset.version == version + 1)
            assert [r.id for r in decider.ruleset.rules] == ["kept"]
            await eventually(lambda: worker.ctx.stats.gauges["ruleset_version"] == version + 1)
            await asyncio.sleep(SWEEP_INTERVAL * 2.5)
            assert decider.ruleset.version == version + 1  # no empty deltas afterwards
        finally:
            await worker.stop()

    asyncio.run(main())


def test_reopen_logs_after_rotation(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with Edge(config={"log": {"access_log": str(log)}}) as e:
        roundtrip(e.port, b"GET /before HTTP/1.1\r\nHost: h\r\n\r\n")
        e.call(e.worker.ctx.recorder.drain)
        log.rename(tmp_path / "access.log.1")
        e.call(e.worker.reopen_logs)
        roundtrip(e.port, b"GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
        e.call(e.worker.ctx.recorder.drain)
    assert [json.loads(x)["path"] for x in log.read_text().splitlines()] == ["/after"]
    rotated = (tmp_path / "access.log.1").read_text().splitlines()
    assert [json.loads(x)["path"] for x in rotated] == ["/before"]


# ---- drain -----------------------------------------------------------------------------------


def _slow_handler(started: list[str]) -> Callable[[Seen], Any]:
    async def handler(req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        if req.target == "/slow":
            started.append(req.target)
            await asyncio.sleep(1.0)
        body = req.target.encode()
        return 200, [("Content-Length", str(len(body)))], body

    return handler


def test_drain_closes_idle_connections_finishes_in_flight_and_stops_accepting() -> None:
    started: list[str] = []
    with Edge(handler=_slow_handler(started), config={"timeouts": {"drain": 10}}) as e:
        idle = connect(e.port)
        idle.sendall(b"GET /fast HTTP/1.1\r\nHost: h\r\n\r\n")
        resp, body = read_response(idle)
        assert (resp.status_code, body) == (200, b"/fast")  # now an idle keep-alive connection

        busy = connect(e.port)
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        deadline = time.monotonic() + 5
        while not started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started, "the slow request never reached the origin"

        t0 = time.monotonic()
        drained = asyncio.run_coroutine_threadsafe(e.worker.drain(), e.loop)

        idle.settimeout(5)
        assert idle.recv(1) == b""  # closed at once, not after the in-flight request
        assert time.monotonic() - t0 < 0.8
        assert not drained.done()
        idle.close()

        with pytest.raises(ConnectionRefusedError):
            connect(e.port).close()

        resp, body = read_response(busy)
        assert (resp.status_code, body) == (200, b"/slow")
        assert header(resp, "connection") == "close"
        busy.settimeout(5)
        assert busy.recv(1) == b""
        busy.close()

        drained.result(10)
        assert e.worker.ctx.connections == set()
        assert time.monotonic() - t0 < 5  # not the whole drain timeout
