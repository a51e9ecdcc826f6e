"""The micro-cache through the running edge: flash crowds, coalescing, stale copies, Vary.

Real sockets on loopback: client threads talk to the edge, which runs with a strict origin
in its own thread. The origin counts what reaches it, so the tests see how much work the
cache saved it, not just what the edge says about itself.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from seawall.config.build import build_cache
from seawall.config.load import validate
from seawall.core.errors import ConfigError

from harness import Answer, Edge, Seen, at_once, connect, read_response, timed_exchange, wait_until
from harness import RecordSink as Sink

Reply = tuple[int, list[tuple[str, str]], bytes]
NO_ADMISSION = {"admission": {"enabled": False}}  # the origin's count is the cache's alone


def ask(
    port: int,
    path: str = "/page",
    *,
    method: str = "GET",
    extra: str = "",
    body: bytes = b"",
    timeout: float = 5.0,
) -> Answer:
    lines = [f"{method} {path} HTTP/1.1", "Host: site.test", "Connection: close"]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode() + body
    return timed_exchange(port, raw, method, timeout)


@dataclass
class Page:
    """An origin handler: one page, its Cache-Control, a delay, and a switchable status."""

    cache_control: str | None = "public, max-age=60"
    delay: float = 0.0
    body: bytes = b"page-v1\n"
    status: int = 200
    extra: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrivals: list[tuple[float, str, str]] = field(default_factory=list)  # when, method, target

    def __call__(self, req: Seen) -> Any:
        return self._answer(req)

    async def _answer(self, req: Seen) -> Reply:
        with self.lock:
            self.arrivals.append((time.monotonic(), req.method, req.target))
            status, cc, delay, body = self.status, self.cache_control, self.delay, self.body
        await asyncio.sleep(delay)
        headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        if cc is not None:
            headers.append(("Cache-Control", cc))
        return status, headers + self.extra, body

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def set(self, **changes: Any) -> None:
        with self.lock:
            for name, value in changes.items():
                setattr(self, name, value)


def cache_stats(e: Edge) -> dict[str, int]:
    return e.call(lambda: dict(e.worker.ctx.stats.cache))  # type: ignore[no-any-return]


# ---- 1. a flash crowd ------------------------------------------------------------------------


def test_flash_crowd_reaches_the_origin_about_once_a_ttl() -> None:
    page = Page(cache_control="public, max-age=1", delay=0.05, body=b"the same page for all\n")
    with Edge(config=NO_ADMISSION, handler=page) as e:
        clients, rounds, spacing = 50, 4, 0.5  # 200 requests over ~2 s
        t0 = time.monotonic()

        def client(i: int) -> Callable[[], list[Answer]]:
            def run() -> list[Answer]:
                got = []
                for r in range(rounds):
                    # spread the clients over each round so arrivals are continuous
                    start = t0 + r * spacing + (i / clients) * spacing
                    time.sleep(max(0.0, start - time.monotonic()))
                    got.append(ask(e.port))
                return got

            return run

        results: list[list[Answer]] = [[] for _ in range(clients)]
        threads = []
        for i in range(clients):
            run = client(i)

            def job(i: int = i, run: Callable[[], list[Answer]] = run) -> None:
                results[i] = run()

            threads.append(threading.Thread(target=job, daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, t0 + 8.0 - time.monotonic()))
        assert not any(t.is_alive() for t in threads), "client threads still running"
        duration = time.monotonic() - t0
        answers = [a for got in results for a in got]

    assert len(answers) == clients * rounds
    assert {a.status for a in answers} == {200}
    assert {a.body for a in answers} == {b"the same page for all\n"}
    assert page.count() <= duration / 1.0 + 2, (page.count(), duration)
    kinds = [a.header("x-cache") for a in answers]
    assert set(kinds) <= {None, "HIT", "STALE"}
    hits = [a for a in answers if a.header("x-cache") == "HIT"]
    assert len(hits) >= 100, kinds
    for a in hits:
        age = a.header("age")
        assert age is not None and age.isdigit() and int(age) <= 1, a.headers
    # whatever the edge served from memory was never counted as an origin answer
    assert sum(k is None for k in kinds) <= page.count()


# ---- 2. coalescing ---------------------------------------------------------------------------


def test_concurrent_misses_for_a_cold_key_reach_the_origin_once() -> None:
    page = Page(cache_control="public, max-age=30", delay=0.3, body=b"cold then warm\n")
    with Edge(config=NO_ADMISSION, handler=page) as e:
        answers = at_once([lambda: ask(e.port, "/cold")] * 30)
        stats = cache_stats(e)
    assert page.count() == 1
    assert len(answers) == 30
    assert all(a.status == 200 and a.body == b"cold then warm\n" for a in answers)
    assert stats["miss"] == 1 and stats["stored"] == 1
    # the followers waited for the leader rather than each asking the origin
    assert stats["coalesced"] == 29 and stats["hit"] == 29, stats
    assert sum(a.header("x-cache") == "HIT" for a in answers) == 29


def test_followers_of_a_leader_slower_than_the_lock_timeout_go_on_by_themselves() -> None:
    page = Page(cache_control="public, max-age=30", delay=3.8, body=b"slow first\n")
    with Edge(config=NO_ADMISSION, handler=page) as e:
        got: list[Answer] = []
        leader = threading.Thread(target=lambda: got.append(ask(e.port, timeout=6)), daemon=True)
        leader.start()
        assert wait_until(lambda: page.count() == 1)
        page.set(delay=0.0, body=b"quick later\n")
        t0 = time.monotonic()
        followers = at_once([lambda: ask(e.port, timeout=6)] * 3)
        took = time.monotonic() - t0
        leader.join(6)
        assert not leader.is_alive()
        stats = cache_stats(e)
        after = ask(e.port)
    # the 3 s lock (checked every 0.25 s), not the leader's 3.8 s
    assert 2.5 < took < 3.6, took
    assert [a.body for a in followers] == [b"quick later\n"] * 3
    assert page.count() == 4 and stats["lock_timeout"] == 1
    assert got[0].body == b"slow first\n"
    # the leader's late answer was still kept (it is the last to be stored)
    assert after.header("x-cache") == "HIT" and after.body in {b"slow first\n", b"quick later\n"}


def test_followers_are_released_when_their_leader_leaves() -> None:
    page = Page(cache_control="public, max-age=30", delay=0.5)
    with Edge(config=NO_ADMISSION, handler=page) as e:
        leader = connect(e.port)
        leader.sendall(b"GET /page HTTP/1.1\r\nHost: site.test\r\n\r\n")  # keep-alive
        assert wait_until(lambda: page.count() == 1)
        page.set(delay=0.2)
        out: list[Answer] = []
        runner = threading.Thread(
            target=lambda: out.extend(at_once([lambda: ask(e.port)] * 4)), daemon=True
        )
        t0 = time.monotonic()
        runner.start()
        assert wait_until(lambda: cache_stats(e).get("coalesced", 0) == 4)
        leader.close()  # before the origin answered it
        runner.join(6)
        took = time.monotonic() - t0
        assert not runner.is_alive()
    assert [a.status for a in out] == [200] * 4
    assert took < 1.5, took  # not held until the 3 s lock timeout
    assert page.count() >= 2


# ---- 3. what is not cached -------------------------------------------------------------------

REQUEST_SIDE = {
    "cookie": ("GET", "Cookie: session=abc\r\n"),
    "authorization": ("GET", "Authorization: Basic dXNlcjpwYXNz\r\n"),
    "post": ("POST", ""),
}


@pytest.mark.parametrize("case", sorted(REQUEST_SIDE))
def test_requests_that_are_not_anonymous_get_or_head_always_reach_the_origin(case: str) -> None:
    method, extra = REQUEST_SIDE[case]
    page = Page(cache_control="public, max-age=60")
    with Edge(config=NO_ADMISSION, handler=page) as e:
        body = b"x" if method == "POST" else b""
        answers = [ask(e.port, method=method, extra=extra, body=body) for _ in range(3)]
        assert page.count() == 3
        assert all(a.status == 200 and a.header("x-cache") is None for a in answers)
        # nor did they fill the cache for anonymous clients
        first = ask(e.port)
        assert page.count() == 4 and first.header("x-cache") is None
        assert ask(e.port).header("x-cache") == "HIT" and page.count() == 4


RESPONSE_SIDE: dict[str, tuple[str | None, list[tuple[str, str]]]] = {
    "private": ("private, max-age=60", []),
    "no-store": ("public, max-age=60, no-store", []),
    "no-cache": ("public, max-age=60, no-cache", []),
    "set-cookie": ("public, max-age=60", [("Set-Cookie", "id=1")]),
    "no-cache-control": (None, []),
}


@pytest.mark.parametrize("case", sorted(RESPONSE_SIDE))
def test_responses_the_origin_does_not_allow_are_never_kept(case: str) -> None:
    cc, extra = RESPONSE_SIDE[case]
    page = Page(cache_control=cc, extra=extra)
    with Edge(config=NO_ADMISSION, handler=page) as e:
        answers = [ask(e.port) for _ in range(3)]
        stats = cache_stats(e)
    assert page.count() == 3
    assert all(a.status == 200 and a.header("x-cache") is None for a in answers)
    assert stats.get("stored", 0) == 0 and stats.get("hit", 0) == 0, stats


class SlowBodyOrigin:
    """Sends each response head at once and its body `body_delay` later; keep-alive.

    The harness origin writes whole responses; this one is needed to see whether coalesced
    followers wait for a leader's head or for its whole body.
    """

    def __init__(self, body_delay: float, cache_control: str | None = None) -> None:
        self.body_delay = body_delay
        self.cache_control = cache_control
        self.lock = threading.Lock()
        self.arrivals: list[float] = []
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> SlowBodyOrigin:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping = True
        for t in list(self.threads):
            t.join(5)
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        buf = b""
        body = b"slow body\n"
        cc = f"Cache-Control: {self.cache_control}\r\n" if self.cache_control else ""
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{cc}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with conn:
            while not self.stopping:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\r\n\r\n" in buf:  # GET requests only: no bodies to read
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    with self.lock:
                        self.arrivals.append(time.monotonic())
                    try:
                        conn.sendall(head)
                        time.sleep(self.body_delay)
                        conn.sendall(body)
                    except OSError:
                        return


def test_followers_of_an_uncacheable_response_are_released_at_its_head() -> None:
    delay, n = 0.6, 8
    with SlowBodyOrigin(body_delay=delay) as slow:
        url = f"http://127.0.0.1:{slow.port}"
        with Edge(config=NO_ADMISSION, origin_url=url) as e:
            t0 = time.monotonic()
            answers = at_once([lambda: ask(e.port, "/uncacheable")] * n)
            took = time.monotonic() - t0
        arrivals = sorted(a - t0 for a in slow.arrivals)
    assert len(answers) == n
    assert all(a.status == 200 and a.body == b"slow body\n" for a in answers)
    assert len(arrivals) == n  # nothing to share: each asked the origin
    # released when the leader's head arrived, not after its body: all asked at once ...
    assert arrivals[-1] - arrivals[0] < delay / 2, arrivals
    # ... and all were answered in about one origin time, not two (or n)
    assert took < delay * 1.5, (took, [round(a.took, 3) for a in answers])


# ---- 4. Vary ---------------------------------------------------------------------------------


def test_vary_keeps_one_variant_per_accept_encoding() -> None:
    def handler(req: Seen) -> Reply:
        enc = req.header("accept-encoding") or "identity"
        body = f"encoded as {enc}\n".encode()
        headers = [
            ("Content-Length", str(len(body))),
            ("Cache-Control", "public, max-age=60"),
            ("Vary", "Accept-Encoding"),
        ]
        return 200, headers, body

    with Edge(config=NO_ADMISSION, handler=handler) as e:
        gz = "Accept-Encoding: gzip\r\n"
        ident = "Accept-Encoding: identity\r\n"
        first = [ask(e.port, extra=gz), ask(e.port, extra=ident)]
        assert len(e.origin.seen) == 2  # a variant the cache does not hold is a miss
        again = [ask(e.port, extra=gz), ask(e.port, extra=ident), ask(e.port, extra=gz)]
        # concurrent clients of both kinds each get their own variant
        mixed = at_once([lambda: ask(e.port, extra=gz), lambda: ask(e.port, extra=ident)] * 10)
        origin_seen = len(e.origin.seen)
    assert [a.body for a in first] == [b"encoded as gzip\n", b"encoded as identity\n"]
    assert [a.body for a in again] == [
        b"encoded as gzip\n",
        b"encoded as identity\n",
        b"encoded as gzip\n",
    ]
    assert all(a.header("x-cache") == "HIT" for a in again + mixed)
    assert sorted(a.body for a in mixed) == sorted(
        [b"encoded as gzip\n", b"encoded as identity\n"] * 10
    )
    assert origin_seen == 2


# ---- 5. HEAD ---------------------------------------------------------------------------------


def test_head_is_answered_from_a_get_filled_entry_without_a_body() -> None:
    page = Page(cache_control="public, max-age=60", body=b"twenty-one bytes long")
    with Edge(config=NO_ADMISSION, handler=page) as e:
        got = ask(e.port)
        head = ask(e.port, method="HEAD")
        # on a kept-alive connection too: a body would be read as the next response
        with connect(e.port) as s:
            s.sendall(b"HEAD /page HTTP/1.1\r\nHost: site.test\r\n\r\n")
            kept, kept_body = read_response(s, "HEAD")
            s.sendall(b"GET /page HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
            after, after_body = read_response(s)
    assert got.status == 200 and got.body == b"twenty-one bytes long"
    assert page.count() == 1
    assert head.status == 200 and head.body == b""
    assert head.header("content-length") == "21"
    assert head.header("x-cache") == "HIT"
    assert kept.status_code == 200 and kept_body == b""
    assert after.status_code == 200 and after_body == b"twenty-one bytes long"


def test_a_cold_head_goes_to_the_origin_and_fills_nothing() -> None:
    page = Page(cache_control="public, max-age=60")
    with Edge(config=NO_ADMISSION, handler=page) as e:
        head = ask(e.port, method="HEAD")
        get = ask(e.port)
        methods = [m for _, m, _ in page.arrivals]
    assert head.status == 200 and head.body == b"" and head.header("x-cache") is None
    assert get.body == b"page-v1\n" and get.header("x-cache") is None
    assert methods == ["HEAD", "GET"]


def test_a_cached_answer_carries_one_age_and_one_x_cache() -> None:
    # the origin may itself be a cache: its Age is counted in, not repeated beside ours
    page = Page(cache_control="public, max-age=60", extra=[("Age", "5"), ("X-Cache", "MISS")])
    with Edge(config=NO_ADMISSION, handler=page) as e:
        ask(e.port)
        time.sleep(1.05)
        with connect(e.port) as s:
            s.sendall(b"GET /page HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
            resp, _ = read_response(s)
    ages = [v for k, v in resp.headers if k.lower() == b"age"]
    marks = [v for k, v in resp.headers if k.lower() == b"x-cache"]
    assert ages == [b"6"] and marks == [b"HIT"], resp.headers


# ---- 6. stale-if-error -----------------------------------------------------------------------


def test_stale_if_error_serves_the_old_copy_while_the_origin_fails_then_gives_up() -> None:
    page = Page(cache_control="public, max-age=1, stale-if-error=1")
    config = {**NO_ADMISSION, "cache": {"stale_while_revalidate": 0}}
    with Edge(config=config, handler=page) as e:
        assert ask(e.port).header("x-cache") is None
        filled = time.monotonic()  # the entry was stored before this
        assert ask(e.port).header("x-cache") == "HIT"
        page.set(status=503, body=b"origin down\n")
        time.sleep(max(0.0, filled + 1.3 - time.monotonic()))
        stale = ask(e.port)
        assert page.count() == 2  # it did ask the origin
        # many at once while the origin fails: one asks, all get the stale copy
        page.set(delay=0.2)
        crowd = at_once([lambda: ask(e.port)] * 8)
        assert page.count() == 3
        page.set(delay=0.0)
        time.sleep(max(0.0, filled + 2.3 - time.monotonic()))
        late = ask(e.port)
    assert (stale.status, stale.body, stale.header("x-cache")) == (200, b"page-v1\n", "STALE")
    assert stale.header("age") in {"1", "2"}
    assert all(
        (a.status, a.body, a.header("x-cache")) == (200, b"page-v1\n", "STALE") for a in crowd
    )
    assert (late.status, late.body, late.header("x-cache")) == (503, b"origin down\n", None)


def test_stale_if_error_does_not_hide_an_error_from_a_client_with_a_cookie() -> None:
    page = Page(cache_control="public, max-age=1, stale-if-error=30")
    config = {**NO_ADMISSION, "cache": {"stale_while_revalidate": 0}}
    with Edge(config=config, handler=page) as e:
        ask(e.port)
        page.set(status=503, body=b"origin down\n")
        time.sleep(1.1)
        cookie = ask(e.port, extra="Cookie: session=abc\r\n")
        anon = ask(e.port)
    assert (cookie.status, cookie.header("x-cache")) == (503, None)
    assert (anon.status, anon.header("x-cache")) == (200, "STALE")


def test_stale_if_error_covers_an_origin_that_is_down() -> None:
    page = Page(cache_control="public, max-age=1, stale-if-error=30")
    config = {**NO_ADMISSION, "cache": {"stale_while_revalidate": 0}}
    with Edge(config=config, handler=page) as e:
        ask(e.port)

        async def down() -> None:
            assert e.origin.server is not None
            e.origin.server.close()
            for w in list(e.origin.writers):
                w.close()

        e.call(lambda: asyncio.ensure_future(down()))
        time.sleep(1.2)
        got = ask(e.port)
    assert (got.status, got.header("x-cache")) == (200, "STALE"), (got.status, got.body)


def test_stale_if_error_serves_the_old_copy_when_admission_sheds() -> None:
    page = Page(cache_control="public, max-age=1, stale-if-error=30", delay=1.5)
    config = {
        "admission": {"fixed_limit": 1, "max_queue": 0, "reserve": 0},
        "cache": {"stale_while_revalidate": 0},
    }
    with Edge(config=config, handler=page) as e:
        page.set(delay=0.0)
        ask(e.port)
        page.set(delay=1.5)
        time.sleep(1.1)
        hog: list[Answer] = []
        t = threading.Thread(target=lambda: hog.append(ask(e.port, "/other")), daemon=True)
        t.start()
        assert wait_until(lambda: page.count() == 2)  # the origin's one slot is taken
        got = ask(e.port)
        shed = ask(e.port, "/cold")
        t.join(5)
        assert not t.is_alive()
    assert (got.status, got.body, got.header("x-cache")) == (200, b"page-v1\n", "STALE")
    assert shed.status == 503 and shed.header("x-cache") is None
    assert page.count() == 2


# ---- 7. stale-while-revalidate ---------------------------------------------------------------


def test_stale_while_revalidate_refreshes_once_and_serves_the_others_at_once() -> None:
    page = Page(cache_control="public, max-age=1, stale-while-revalidate=5")
    with Edge(config=NO_ADMISSION, handler=page) as e:
        ask(e.port)
        filled = time.monotonic()
        page.set(delay=0.6, body=b"page-v2\n")
        time.sleep(max(0.0, filled + 1.2 - time.monotonic()))
        answers = at_once([lambda: ask(e.port)] * 10)
        after = ask(e.port)
    assert page.count() == 2  # one refresh for the ten
    fresh = [a for a in answers if a.body == b"page-v2\n"]
    stale = [a for a in answers if a.body == b"page-v1\n"]
    assert len(fresh) == 1 and len(stale) == 9
    assert fresh[0].header("x-cache") is None and fresh[0].took >= 0.55
    assert all(a.header("x-cache") == "STALE" and a.status == 200 for a in stale)
    assert all(a.took < 0.4 for a in stale), [round(a.took, 3) for a in stale]
    assert all(a.header("age") in {"1", "2"} for a in stale)
    assert (after.body, after.header("x-cache"), after.header("age")) == (b"page-v2\n", "HIT", "0")


# ---- 8. configuration ------------------------------------------------------------------------


def test_a_disabled_cache_keeps_nothing() -> None:
    page = Page(cache_control="public, max-age=60")
    with Edge(config={**NO_ADMISSION, "cache": {"enabled": False}}, handler=page) as e:
        answers = [ask(e.port) for _ in range(3)]
        crowd = at_once([lambda: ask(e.port)] * 5)
        assert e.call(lambda: e.worker.ctx.cache) is None
    assert page.count() == 8
    assert all(a.header("x-cache") is None and a.status == 200 for a in answers + crowd)


def test_route_ttls_naming_an_unknown_route_is_a_config_error() -> None:
    cfg = validate(
        {
            "routes": [{"name": "news", "pattern": "/news/*"}],
            "cache": {"route_ttls": {"news": 1.0, "nope": 5.0}},
        }
    )
    with pytest.raises(ConfigError) as err:
        build_cache(cfg)
    assert "cache.route_ttls" in str(err.value) and "nope" in str(err.value)
    ok = validate(
        {"routes": [{"name": "news", "pattern": "/news/*"}], "cache": {"route_ttls": {"news": 1}}}
    )
    built = build_cache(ok)
    assert built is not None and built[1] == {"news": 1.0}
    assert build_cache(validate({"cache": {"enabled": False}})) is None


def test_a_route_ttl_is_the_default_ttl_for_that_route_only() -> None:
    page = Page(cache_control="public")  # no max-age: the default TTL applies
    config = {
        **NO_ADMISSION,
        "routes": [{"name": "news", "pattern": "/news/*"}],
        "cache": {"default_ttl": 5, "route_ttls": {"news": 0.5}, "stale_while_revalidate": 0},
    }
    with Edge(config=config, handler=page) as e:
        ask(e.port, "/news/a")
        ask(e.port, "/other")
        time.sleep(0.7)
        news = ask(e.port, "/news/a")
        other = ask(e.port, "/other")
    assert news.header("x-cache") is None  # its route's 0.5 s had passed: asked again
    assert other.header("x-cache") == "HIT"
    assert page.count() == 3


# ---- 9. the record -------------------------------------------------------------------------


def test_the_record_names_how_the_cache_answered() -> None:
    page = Page(cache_control="public, max-age=1, stale-if-error=30")
    config = {**NO_ADMISSION, "cache": {"stale_while_revalidate": 0}}
    sink = Sink()
    with Edge(config=config, handler=page) as e:
        e.call(lambda: e.worker.ctx.recorder.add_sink(sink))
        ask(e.port, extra="X-Request-ID: r-miss\r\n")
        ask(e.port, extra="X-Request-ID: r-hit\r\n")
        ask(e.port, method="POST", body=b"x", extra="X-Request-ID: r-post\r\n")
        page.set(status=503)
        time.sleep(1.1)
        ask(e.port, extra="X-Request-ID: r-stale\r\n")
        assert wait_until(lambda: len(e.call(lambda: list(sink.records))) >= 4)
        records = e.call(lambda: list(sink.records))
    got = {r.request_id: (r.cache, r.status) for r in records}
    assert got == {
        "r-miss": ("miss", 200),
        "r-hit": ("hit", 200),
        "r-post": ("", 200),
        "r-stale": ("stale", 200),
    }


def test_an_uncacheable_page_is_passed_straight_through_after_its_first_answer() -> None:
    page = Page(cache_control=None, delay=0.3)
    with Edge(config=NO_ADMISSION, handler=page) as e:
        assert ask(e.port).status == 200  # the first answer says: not cacheable
        t0 = time.monotonic()
        answers = at_once([lambda: ask(e.port) for _ in range(8)])
        took = time.monotonic() - t0
        assert [a.status for a in answers] == [200] * 8
        assert page.count() == 9  # every request reached the origin
        assert took < 0.3 * 2.5  # together, not one behind another's answer
        stats = cache_stats(e)
        assert stats.get("pass") == 8 and stats.get("coalesced", 0) == 0
