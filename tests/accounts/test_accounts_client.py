"""The app's events client against a small scripted HTTP server on loopback.

The server answers each POST with the next status of its script (the last one repeats)
and keeps every body it was sent, so retries can be compared with what went first.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from seawall.accounts.client import EventsClient, EventsError, EventsRefused
from seawall.core.auth import EventKind

from harness import free_port

TOKEN = "app-token"
OK_ANSWER = {"accepted": 1, "duplicates": 0, "dropped": 0, "rejected": []}


class Script(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.statuses = statuses
        self.bodies: list[dict[str, Any]] = []
        self.heads: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


class Handler(http.server.BaseHTTPRequestHandler):
    server: Script

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.bodies.append(json.loads(body))
            self.server.heads.append({k.lower(): v for k, v in self.headers.items()})
            self.server.paths.append(self.path)
        status = self.server.next_status()
        events = json.loads(body)["events"]
        answer = {**OK_ANSWER, "accepted": len(events)} if status < 300 else {"error": "no"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Script] = []

    def start(*statuses: int) -> Script:
        s = Script(list(statuses))
        threading.Thread(
            target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


class Naps:
    """An injected sleep: records the delays instead of waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client(port: int, **options: Any) -> tuple[EventsClient, Naps]:
    naps = Naps()
    c = EventsClient(
        f"http://127.0.0.1:{port}/",
        TOKEN,
        timeout=2.0,
        sleep=naps,
        clock=lambda: 1_700_000_000.0,
        **options,
    )
    return c, naps


def test_a_flush_posts_the_queued_events_with_the_token(serve: Any) -> None:
    srv = serve(200)
    c, naps = client(srv.server_address[1])
    first = c.login_failed("alice@example.org", "198.51.100.7", user_agent="UA", device=None)
    second = c.login_succeeded("alice@example.org", "198.51.100.7", id="fixed-id", time=5.0)
    c.event("recovery_lookup", "bob@example.org", "198.51.100.8", result="not_found")
    assert c.flush() == {**OK_ANSWER, "accepted": 3}
    assert c.pending == [] and naps.delays == []
    (body,) = srv.bodies
    assert [e["id"] for e in body["events"]][:2] == [first, "fixed-id"] and second == "fixed-id"
    assert body["events"][0] == {
        "id": first,
        "type": "login_failed",
        "account": "alice@example.org",
        "source": "198.51.100.7",
        "time": 1_700_000_000.0,
        "user_agent": "UA",  # and no "device": empty fields are left out
    }
    assert body["events"][1]["time"] == 5.0
    assert body["events"][2]["type"] == EventKind.RECOVERY_LOOKUP.value
    assert srv.paths == ["/v1/events"]
    assert srv.heads[0]["authorization"] == f"Bearer {TOKEN}"
    assert srv.heads[0]["content-type"] == "application/json"
    assert c.flush() == {}  # nothing queued, nothing sent
    assert len(srv.bodies) == 1


def test_an_unknown_type_is_refused_before_anything_is_queued(serve: Any) -> None:
    c, _ = client(free_port())
    with pytest.raises(ValueError):
        c.event("password_guessed", "alice", "198.51.100.7")
    assert c.pending == []


def test_a_busy_answer_is_retried_with_the_same_ids(serve: Any) -> None:
    srv = serve(503, 503, 200)
    c, naps = client(srv.server_address[1])
    ids = [c.login_failed(f"user{i}", "198.51.100.7") for i in range(3)]
    assert c.flush()["accepted"] == 3
    assert len(srv.bodies) == 3
    assert srv.bodies[0] == srv.bodies[1] == srv.bodies[2]  # byte for byte the same batch
    assert [e["id"] for e in srv.bodies[2]["events"]] == ids
    assert naps.delays == [0.5, 1.0]  # backing off
    assert c.pending == [] and c.dropped == 0


def test_a_refusal_is_not_retried_and_its_batch_is_dropped(serve: Any) -> None:
    srv = serve(400, 200)
    c, naps = client(srv.server_address[1])
    c.login_failed("alice", "198.51.100.7")
    with pytest.raises(EventsRefused, match="400"):
        c.flush()
    assert len(srv.bodies) == 1 and naps.delays == []
    # sending it again would be refused again: it is gone, counted, and the next goes on
    assert c.pending == [] and c.dropped == 1
    c.login_failed("bob", "198.51.100.7")
    assert c.flush()["accepted"] == 1
    assert [e["account"] for e in srv.bodies[1]["events"]] == ["bob"]


def test_a_refusal_is_an_events_error() -> None:
    assert issubclass(EventsRefused, EventsError)


def test_busy_to_the_end_is_an_error_that_keeps_the_queue(serve: Any) -> None:
    srv = serve(503)
    c, naps = client(srv.server_address[1], retries=2)
    c.login_failed("alice", "198.51.100.7")
    with pytest.raises(EventsError, match="503") as err:
        c.flush()
    assert not isinstance(err.value, EventsRefused)
    assert len(srv.bodies) == 3 and naps.delays == [0.5, 1.0]
    assert len(c.pending) == 1 and c.dropped == 0


def test_an_unreachable_seawall_is_an_error_after_the_retries(serve: Any) -> None:
    c, naps = client(free_port(), retries=3)
    eid = c.login_failed("alice", "198.51.100.7")
    with pytest.raises(EventsError, match="cannot reach"):
        c.flush()
    assert naps.delays == [0.5, 1.0, 2.0]
    assert [e["id"] for e in c.pending] == [eid]  # kept for later, under the same id
    # seawall is back: the kept event goes with its first id
    srv = serve(200)
    c.url = f"http://127.0.0.1:{srv.server_address[1]}/v1/events"
    c.flush()
    assert [e["id"] for e in srv.bodies[0]["events"]] == [eid]


def test_a_full_batch_is_sent_at_once(serve: Any) -> None:
    srv = serve(200)
    c, _ = client(srv.server_address[1], batch=2)
    c.login_failed("a", "198.51.100.7")
    assert srv.bodies == []
    c.login_failed("b", "198.51.100.7")
    assert [len(b["events"]) for b in srv.bodies] == [2] and c.pending == []
    c.login_failed("c", "198.51.100.7")
    c.close()  # close flushes what is left
    assert [len(b["events"]) for b in srv.bodies] == [2, 1]


def test_batches_are_never_bigger_than_seawall_takes(serve: Any) -> None:
    c, _ = client(free_port(), batch=5000, retries=0)
    assert c.batch == 1000
    c.batch = 3  # a long outage queues more than one batch
    for i in range(2):
        c.pending.append({"id": str(i)})
    with pytest.raises(EventsError):
        c.login_failed("x", "198.51.100.7")  # the third fills a batch: unreachable
    for i in range(3, 8):
        c.pending.append({"id": str(i)})
    srv = serve(200)
    c.url = f"http://127.0.0.1:{srv.server_address[1]}/v1/events"
    c.flush()
    assert [len(b["events"]) for b in srv.bodies] == [3, 3, 2]
    assert c.pending == []


def test_the_queue_is_bounded_while_seawall_is_away(serve: Any) -> None:
    c, _ = client(free_port(), batch=10, retries=0, max_pending=20)
    c.batch = 1000  # never flush on its own here: only the bound is under test
    ids = [c.login_failed(f"u{i}", "198.51.100.7") for i in range(25)]
    assert len(c.pending) == 20 and c.dropped == 5
    assert [e["id"] for e in c.pending] == ids[5:]  # the oldest went first
