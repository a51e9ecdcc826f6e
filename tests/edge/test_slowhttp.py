"""Debian's slowhttptest against the edge: slowloris, slow POST and slow read.

Each attack runs for a few seconds with 200 connections from 127.0.0.1 while a normal
client keeps asking for a page. The normal client must still be served, the edge's own
timeouts must be what ends the attack connections, and the connection count must come back
down afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field

import pytest

from harness import Edge, Seen, default_handler, roundtrip

SLOWHTTPTEST = shutil.which("slowhttptest") or "/usr/bin/slowhttptest"
pytestmark = pytest.mark.skipif(
    shutil.which("slowhttptest") is None,
    reason="slowhttptest is not installed (Debian: apt-get install slowhttptest)",
)

BIG = 640 * 1024  # with -k 3, more than the kernel socket buffers absorb (~1 MiB)
TIMEOUTS = {"head": 1.0, "idle": 1.0, "send": 1.0, "body_min_rate": 1024}


def handler(req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
    if req.target == "/big":
        return 200, [("Content-Type", "text/plain"), ("Content-Length", str(BIG))], b"x" * BIG
    return default_handler(req)


@dataclass
class NormalClient:
    """A well-behaved client: a new connection per request, every 50 ms, until stopped."""

    port: int
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        deadline = time.monotonic() + 30  # a hard bound, whatever happens to `stop`
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                resp, body = roundtrip(
                    self.port, b"GET /page HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                )
                if resp.status_code == 200 and body == b"GET /page 0\n":
                    self.ok += 1
                else:
                    self.failed.append(f"status {resp.status_code}")
            except Exception as exc:
                self.failed.append(repr(exc))
            time.sleep(0.05)

    @property
    def total(self) -> int:
        return self.ok + len(self.failed)


def attack(e: Edge, args: list[str], seconds: int) -> NormalClient:
    """Run slowhttptest with a normal client alongside; return the normal client's tally."""
    normal = NormalClient(e.port)
    thread = threading.Thread(target=normal.run, name="normal-client", daemon=True)
    thread.start()
    try:
        cmd = [SLOWHTTPTEST, *args, "-c", "200", "-r", "100", "-l", str(seconds), "-p", "2"]
        proc = subprocess.run(cmd, capture_output=True, timeout=seconds + 20, check=False)
    finally:
        normal.stop.set()
        thread.join(10)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    assert b"Exit status" in proc.stdout, proc.stdout.decode(errors="replace")[-2000:]
    return normal


def assert_survived(e: Edge, normal: NormalClient) -> None:
    assert normal.total >= 20, normal
    assert normal.ok / normal.total >= 0.95, normal.failed[:5]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and e.call(lambda: len(e.worker.ctx.connections)):
        time.sleep(0.05)
    assert e.call(lambda: len(e.worker.ctx.connections)) == 0
    assert e.call(lambda: dict(e.worker.ctx.per_address)) == {}
    assert roundtrip(e.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code == 200


def test_slowloris_is_cut_by_the_head_timeout() -> None:
    with Edge(handler=handler, config={"timeouts": TIMEOUTS}) as e:
        url = f"http://127.0.0.1:{e.port}/"
        normal = attack(e, ["-H", "-i", "1", "-u", url], seconds=4)
        assert_survived(e, normal)
        assert e.call(lambda: e.worker.ctx.stats.client_errors["408"]) >= 100


def test_slow_post_is_cut_by_the_body_rate() -> None:
    # 7 s rather than 4: the minimum body rate applies only after its fixed 5 s grace
    with Edge(handler=handler, config={"timeouts": TIMEOUTS}) as e:
        url = f"http://127.0.0.1:{e.port}/upload"
        normal = attack(e, ["-B", "-i", "1", "-s", "8192", "-x", "10", "-u", url], seconds=7)
        assert_survived(e, normal)
        assert e.call(lambda: e.worker.ctx.stats.client_errors["408"]) >= 50
        assert not [s for s in e.origin.seen if s.method == "POST"]  # no body ever completed


def test_slow_read_is_cut_by_the_send_timeout() -> None:
    with Edge(handler=handler, config={"timeouts": TIMEOUTS}) as e:
        url = f"http://127.0.0.1:{e.port}/big"
        args = ["-X", "-k", "3", "-n", "1", "-w", "1", "-y", "16", "-z", "5", "-u", url]
        normal = attack(e, args, seconds=5)
        assert_survived(e, normal)
        assert e.call(lambda: e.worker.ctx.stats.client_errors["send_timeout"]) >= 100
