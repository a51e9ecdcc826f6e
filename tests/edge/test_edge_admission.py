"""Priority admission through the running edge: floods, bulkheads, shed answers, deadlines.

Real sockets on loopback: client threads talk to the edge, which runs with a strict origin
in its own thread. The origin counts the requests it holds at once, so the tests see what
reached it and when, not just what the edge says about itself.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, cast

import jwt
from prometheus_client.parser import text_string_to_metric_families

from harness import (
    Answer,
    Edge,
    Seen,
    at_once,
    connect,
    default_handler,
    read_response,
    timed_exchange,
    wait_until,
)

SECRET = "an-hs256-secret-that-is-long-enough-0123456789"
API_APP = {"api_app": {"jwt_keys": [{"alg": "HS256", "secret": SECRET}]}}
TRUST_LOOPBACK = {"trusted_proxies": ["127.0.0.1/32"]}  # X-Forwarded-For names the client


class SlowOrigin:
    """An origin handler that answers after a delay by path prefix and counts what it holds."""

    def __init__(self, delays: dict[str, float] | None = None, default: float = 0.0) -> None:
        self.delays = delays or {}
        self.default = default
        self.lock = threading.Lock()
        self.inflight = 0
        self.peak = 0
        self.groups: dict[str, int] = {}  # in flight by first path segment
        self.group_peaks: dict[str, int] = {}
        self.arrivals: list[tuple[float, str, str, int]] = []  # (when, method, target, body)

    def delay(self, target: str) -> float:
        for prefix, seconds in self.delays.items():
            if target.startswith(prefix):
                return seconds
        return self.default

    def __call__(self, req: Seen) -> Coroutine[Any, Any, tuple[int, list[tuple[str, str]], bytes]]:
        return self._answer(req)

    async def _answer(self, req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        group = req.target.split("/")[1]
        with self.lock:
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
            self.groups[group] = now = self.groups.get(group, 0) + 1
            self.group_peaks[group] = max(self.group_peaks.get(group, 0), now)
            self.arrivals.append((time.monotonic(), req.method, req.target, len(req.body)))
        try:
            await asyncio.sleep(self.delay(req.target))
        finally:
            with self.lock:
                self.inflight -= 1
                self.groups[group] -= 1
        return default_handler(req)

    def targets(self) -> list[str]:
        with self.lock:
            return [target for _, _, target, _ in self.arrivals]


def request(
    path: str = "/",
    *,
    method: str = "GET",
    xff: str | None = None,
    extra: str = "",
    close: bool = True,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: h"]
    if close:
        lines.append("Connection: close")
    if xff is not None:
        lines.append(f"X-Forwarded-For: {xff}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


ask = timed_exchange


def bearer() -> str:
    token = jwt.encode({"sub": "app-1", "exp": int(time.time()) + 60}, SECRET, "HS256")
    return f"Authorization: Bearer {token}\r\n"


def run_threads(jobs: Sequence[Callable[[], object]], timeout: float) -> None:
    """Run the jobs in threads at once; fail on any exception or on a job still running."""
    at_once(jobs, timeout)


def inflight(e: Edge) -> int:
    def read() -> int:
        gate = e.worker.ctx.admission
        assert gate is not None
        return gate.core.inflight

    return cast(int, e.call(read))


def queued(e: Edge) -> tuple[int, int]:
    """(queued in the core, waiting in the gate): both must agree."""

    def read() -> tuple[int, int]:
        gate = e.worker.ctx.admission
        assert gate is not None
        return gate.core.queued, len(gate.waiting)

    return cast(tuple[int, int], e.call(read))


def shed_counts(e: Edge) -> dict[tuple[str, str], int]:
    return cast(dict[tuple[str, str], int], e.call(lambda: dict(e.worker.ctx.stats.shed)))


def hold(e: AdmissionEdge, path: str, into: list[Answer]) -> threading.Thread:
    """Start a request in the background; wait until the origin holds it."""

    def run() -> None:
        into.append(ask(e.port, request(path), timeout=8.0))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert wait_until(lambda: path in e.origin_targets()), f"{path} never reached the origin"
    return t


class AdmissionEdge(Edge):
    """The harness edge with a SlowOrigin handler it can ask about."""

    def __enter__(self) -> AdmissionEdge:
        super().__enter__()
        return self

    def origin_targets(self) -> list[str]:
        assert isinstance(self.handler, SlowOrigin)
        return self.handler.targets()


# ---- 1. trusted clients through an anonymous flood ---------------------------------------------


def test_an_api_app_is_served_through_an_anonymous_flood_within_the_limit() -> None:
    origin = SlowOrigin(default=0.1)
    config = {
        "network": TRUST_LOOPBACK,
        "classes": API_APP,
        "admission": {"fixed_limit": 4, "reserve": 0.25},
    }
    auth = bearer()
    with AdmissionEdge(config=config, handler=origin) as e:
        anon: list[Answer] = []
        app: list[Answer] = []
        stop_at = time.monotonic() + 2.0

        def flood(i: int) -> None:
            for n in range(200):
                if time.monotonic() >= stop_at:
                    return
                anon.append(ask(e.port, request(f"/page/{i}/{n}", xff=f"198.18.{i}.1")))

        def api() -> None:
            for n in range(200):
                if time.monotonic() >= stop_at:
                    return
                app.append(ask(e.port, request(f"/api/{n}", extra=auth)))

        jobs = [functools.partial(flood, i) for i in range(40)]
        run_threads([*jobs, api], timeout=10)

        assert len(app) >= 8, f"the api client got only {len(app)} answers in 2 s"
        assert [a.status for a in app] == [200] * len(app)
        assert max(a.took for a in app) < 0.5  # never queued behind the flood
        statuses = {a.status for a in anon}
        assert statuses == {200, 503}, statuses
        shed = [a for a in anon if a.status == 503]
        assert all(a.header("retry-after") for a in shed)
        assert origin.peak <= 4, f"the origin held {origin.peak} requests at once"
        # the reserve: anonymous clients never hold more than 4 - ceil(4 * 0.25) slots
        assert origin.group_peaks["page"] == 3, origin.group_peaks
        assert wait_until(lambda: inflight(e) == 0 and queued(e) == (0, 0))
        assert shed_counts(e).get(("trusted", "deadline"), 0) == 0


# ---- 2. bulkheads ----------------------------------------------------------------------------


def test_a_flooded_page_is_bulkheaded_and_other_pages_keep_their_latency() -> None:
    origin = SlowOrigin({"/users/cyxymu": 1.0}, default=0.1)
    config = {
        "network": TRUST_LOOPBACK,
        "routes": [{"name": "profile", "pattern": "/users/{name}"}],
        "admission": {"fixed_limit": 8, "target_share": 0.25},
    }
    with AdmissionEdge(config=config, handler=origin) as e:
        calm = [ask(e.port, request("/users/other", xff="192.0.2.10")) for _ in range(3)]
        assert [a.status for a in calm] == [200] * 3
        baseline = max(a.took for a in calm)

        flood_answers: list[Answer] = []
        other: list[Answer] = []
        stop_at = time.monotonic() + 2.5

        def flood(i: int) -> None:
            for _ in range(200):
                if time.monotonic() >= stop_at:
                    return
                got = ask(e.port, request("/users/cyxymu", xff=f"198.18.{i}.1"))
                flood_answers.append(got)
                if got.status == 503:
                    time.sleep(0.05)

        def visitor() -> None:
            time.sleep(0.3)  # the flood is on
            for _ in range(100):
                if time.monotonic() >= stop_at:
                    return
                other.append(ask(e.port, request("/users/other", xff="192.0.2.10")))

        jobs = [functools.partial(flood, i) for i in range(30)]
        run_threads([*jobs, visitor], timeout=10)

        assert len(other) >= 5
        assert [a.status for a in other] == [200] * len(other)
        worst = max(a.took for a in other)
        assert worst < 3 * baseline, f"other page took {worst:.3f}s, unloaded {baseline:.3f}s"
        assert any(a.status == 503 for a in flood_answers)
        assert shed_counts(e).get(("unknown", "bulkhead"), 0) > 0
        assert origin.peak <= 8


# ---- 3. what a shed client gets ----------------------------------------------------------------


def test_shed_answers_suit_the_client_and_are_not_cached() -> None:
    origin = SlowOrigin({"/hold": 1.5})
    config = {
        "classes": API_APP,
        "admission": {"fixed_limit": 1, "reserve": 0.0, "max_queue": 0},
    }
    with AdmissionEdge(config=config, handler=origin) as e:
        held: list[Answer] = []
        t = hold(e, "/hold", held)

        page = ask(e.port, request("/a", extra="Accept: text/html,application/xhtml+xml\r\n"))
        assert page.status == 503
        assert page.header("content-type") == "text/html; charset=utf-8"
        assert b"<h1>We're busy right now</h1>" in page.body
        assert page.header("retry-after") == "10"  # unknown clients wait longest
        assert page.header("cache-control") == "no-store"
        assert page.header("x-request-id")

        api = ask(e.port, request("/b", extra="Accept: application/json\r\n"))
        assert api.status == 503 and api.header("content-type") == "application/json"
        assert json.loads(api.body)["error"] == "overloaded"
        assert api.header("retry-after") == "10"
        assert api.header("cache-control") == "no-store"

        app = ask(e.port, request("/c", extra=bearer()))  # an api_app, whatever it accepts
        assert app.status == 503 and app.header("content-type") == "application/json"
        assert app.header("retry-after") == "1"  # trusted clients come back soonest

        head = ask(e.port, request("/d", method="HEAD", extra="Accept: text/html\r\n"), "HEAD")
        assert head.status == 503 and head.body == b""
        assert head.header("content-length") == page.header("content-length")
        assert head.header("retry-after") == "10" and head.header("cache-control") == "no-store"

        plain = ask(e.port, request("/e"))
        assert plain.status == 503
        assert (plain.header("content-type") or "").startswith("text/plain")
        assert plain.header("retry-after") and plain.header("cache-control") == "no-store"

        t.join(5)
        assert [a.status for a in held] == [200]
        assert e.origin_targets() == ["/hold"]  # nothing shed reached the origin
        assert shed_counts(e) == {("unknown", "queue_full"): 4, ("trusted", "queue_full"): 1}


def test_a_shed_request_leaves_its_keep_alive_connection_usable() -> None:
    origin = SlowOrigin({"/hold": 0.8})
    config = {"admission": {"fixed_limit": 1, "reserve": 0.0, "max_queue": 0}}
    with AdmissionEdge(config=config, handler=origin) as e:
        held: list[Answer] = []
        t = hold(e, "/hold", held)
        with connect(e.port) as s:
            s.sendall(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            resp, _ = read_response(s)
            assert resp.status_code == 503
            t.join(5)
            assert [a.status for a in held] == [200]
            s.sendall(b"GET /y HTTP/1.1\r\nHost: h\r\n\r\n")
            resp, body = read_response(s)
            assert resp.status_code == 200 and body == b"GET /y 0\n"


# ---- 4. deadlines ----------------------------------------------------------------------------


def test_a_queued_request_is_shed_at_its_deadline_not_when_the_origin_answers() -> None:
    origin = SlowOrigin({"/hold": 2.5})
    config = {"admission": {"fixed_limit": 1, "reserve": 0.0, "deadlines": [5, 3, 2, 0.5]}}
    with AdmissionEdge(config=config, handler=origin) as e:
        held: list[Answer] = []
        t = hold(e, "/hold", held)
        waited = ask(e.port, request("/queued"))
        assert waited.status == 503 and waited.header("retry-after")
        # the sweeper runs every 0.25 s: shed within a sweep or two of the 0.5 s deadline
        assert 0.45 <= waited.took < 1.3, waited.took
        assert shed_counts(e) == {("unknown", "deadline"): 1}
        assert queued(e) == (0, 0)
        t.join(5)
        assert [a.status for a in held] == [200]
        assert held[0].took >= 2.4
        assert "/queued" not in e.origin_targets()


# ---- 5. clients that leave ---------------------------------------------------------------------


def test_clients_that_leave_while_queued_or_served_leak_no_slot() -> None:
    origin = SlowOrigin({"/hold": 1.0, "/slow": 1.0})
    config = {"admission": {"fixed_limit": 1, "reserve": 0.0, "deadlines": [5, 5, 5, 5]}}
    with AdmissionEdge(config=config, handler=origin) as e:
        held: list[Answer] = []
        t = hold(e, "/hold", held)
        socks: list[socket.socket] = []
        for i in range(3):
            s = connect(e.port)
            s.sendall(request(f"/queued/{i}", close=False))
            socks.append(s)
        assert wait_until(lambda: queued(e) == (3, 3))
        for s in socks:
            s.close()
        assert wait_until(lambda: queued(e) == (0, 0)), queued(e)
        t.join(5)
        assert [a.status for a in held] == [200]
        assert wait_until(lambda: inflight(e) == 0)

        fresh = ask(e.port, request("/fresh"))
        assert fresh.status == 200 and fresh.took < 0.5  # admitted at once

        # a client that leaves while the origin works on its request frees the slot too
        with connect(e.port) as s:
            s.sendall(request("/slow"))
            assert wait_until(lambda: "/slow" in e.origin_targets())
            assert inflight(e) == 1
        assert wait_until(lambda: inflight(e) == 0)
        after = ask(e.port, request("/after"))
        assert after.status == 200
        assert not any(target.startswith("/queued") for target in e.origin_targets())
        assert shed_counts(e) == {}


def test_a_connection_close_client_that_leaves_while_queued_is_not_forwarded() -> None:
    origin = SlowOrigin({"/hold": 0.6})
    config = {"admission": {"fixed_limit": 1, "reserve": 0.0, "deadlines": [5, 5, 5, 5]}}
    with AdmissionEdge(config=config, handler=origin) as e:
        held: list[Answer] = []
        t = hold(e, "/hold", held)
        with connect(e.port) as s:
            s.sendall(request("/gone"))  # Connection: close, as urllib, ab and HTTP/1.0 send
            assert wait_until(lambda: queued(e) == (1, 1))
        t.join(5)
        assert [a.status for a in held] == [200]
        assert wait_until(lambda: inflight(e) == 0 and queued(e) == (0, 0))
        assert "/gone" not in e.origin_targets()  # the origin worked for nobody


# ---- 6. slow uploads -------------------------------------------------------------------------


def test_a_slow_upload_does_not_hold_the_only_slot_until_its_body_is_complete() -> None:
    origin = SlowOrigin()
    config = {"admission": {"fixed_limit": 1, "reserve": 0.0}}
    body = bytes(range(100))
    with AdmissionEdge(config=config, handler=origin) as e:
        upload: list[Answer] = []
        last_byte: list[float] = []
        gets: list[Answer] = []
        started = threading.Event()

        def uploader() -> None:
            t0 = time.monotonic()
            with connect(e.port) as s:
                s.sendall(b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n")
                for i in range(10):
                    s.sendall(body[i * 10 : (i + 1) * 10])
                    started.set()
                    if i < 9:
                        time.sleep(0.2)
                last_byte.append(time.monotonic())
                resp, got = read_response(s, "POST")
                upload.append(Answer(resp.status_code, {}, got, time.monotonic() - t0))

        def reader() -> None:
            assert started.wait(5)
            for n in range(6):
                gets.append(ask(e.port, request(f"/get/{n}")))
                time.sleep(0.2)

        run_threads([uploader, reader], timeout=8)

        assert [a.status for a in gets] == [200] * 6
        assert max(a.took for a in gets) < 0.5
        assert [(a.status, a.body) for a in upload] == [(200, b"POST /upload 100\n")]
        posts = [(when, size) for when, method, _, size in origin.arrivals if method == "POST"]
        assert len(posts) == 1
        when, size = posts[0]
        assert size == 100
        assert when >= last_byte[0] - 0.01  # the origin saw it only once the body was whole
        gets_at = [w for w, method, _, _ in origin.arrivals if method == "GET"]
        assert min(gets_at) < last_byte[0] - 0.5  # GETs were served during the upload


# ---- 7. metrics ------------------------------------------------------------------------------


def _metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    req.add_header("Authorization", "Bearer s3cret")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as err:
        raise AssertionError(f"/metrics answered {err.code}") from err
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_show_shedding_waiting_and_the_limit() -> None:
    origin = SlowOrigin({"/hold": 0.6})
    config = {"admission": {"fixed_limit": 3, "reserve": 0.0, "max_queue": 1}}
    with AdmissionEdge(config=config, handler=origin) as e:
        held: list[Answer] = []
        threads = [hold(e, f"/hold/{i}", held) for i in range(3)]
        waiter: list[Answer] = []
        w = threading.Thread(target=lambda: waiter.append(ask(e.port, request("/w"))))
        w.start()
        assert wait_until(lambda: queued(e) == (1, 1))

        def hot() -> set[str]:
            m = _metrics(e.admin_port)
            return {
                dict(labels)["target"] for name, labels in m if name == "seawall_bulkhead_inflight"
            }

        assert wait_until(lambda: hot() == {"/hold/0", "/hold/1", "/hold/2"})
        full = ask(e.port, request("/full"))
        assert full.status == 503
        w.join(5)
        for t in threads:
            t.join(5)
        assert [a.status for a in waiter] == [200] and waiter[0].took >= 0.3

        def settled() -> bool:
            return _metrics(e.admin_port).get(("seawall_admission_inflight", ())) == 0

        assert wait_until(settled)  # the sweeper sets the gauges every 0.25 s
        m = _metrics(e.admin_port)
        assert m[("seawall_shed_total", (("reason", "queue_full"), ("tier", "unknown")))] == 1
        assert m[("seawall_admission_wait_seconds_count", ())] == 1
        assert m[("seawall_admission_wait_seconds_sum", ())] >= 0.3
        assert m[("seawall_admission_limit", ())] == 3
        assert m[("seawall_admission_inflight", ())] == 0
        assert m[("seawall_admission_queued", ())] == 0
        assert m[("seawall_cache_total", (("result", "miss"),))] >= 1  # every GET asked the cache
        p90 = [v for (name, _), v in m.items() if name == "seawall_origin_latency_p90_seconds"]
        assert len(p90) == 1 and p90[0] >= 0.3  # the held requests took 0.6 s at the origin


# ---- 8. admission off ------------------------------------------------------------------------


def test_with_admission_off_a_burst_all_reaches_the_origin() -> None:
    origin = SlowOrigin(default=0.5)
    config = {"admission": {"enabled": False, "fixed_limit": 1, "max_queue": 0}}
    with AdmissionEdge(config=config, handler=origin) as e:
        assert e.worker.ctx.admission is None
        got: list[Answer] = []

        def one(n: int) -> None:
            got.append(ask(e.port, request(f"/burst/{n}")))

        run_threads([functools.partial(one, n) for n in range(20)], timeout=6)
        assert [a.status for a in got] == [200] * 20
        assert origin.peak == 20
        assert shed_counts(e) == {}
