"""HTTP floods: their rate and accounting against the real lab origin, and their exact bytes
against a capturing loopback server."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from seawall.lab import flood as fl
from seawall.lab.flood import MIRAI_UAS, MODERN_UAS, Flood, FloodCounts, FloodSpec, Style
from seawall.lab.origin import start_origin
from seawall.lab.origin_data import NO_COSTS
from seawall.lab.wire import Presentation, Target

from harness import free_port
from labservers import Loopback, read_request

ADDRS = tuple(f"198.51.100.{i}" for i in range(1, 21))
PATHS = ("/", "/users/cyxymu", "/search?q=storm")
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def spec(**kw: Any) -> FloodSpec:
    args: dict[str, Any] = {
        "klass": "botnet",
        "style": Style.MIRAI,
        "addresses": ADDRS,
        "rate": 100.0,
        "start_s": 0.0,
        "end_s": 0.5,
        "paths": PATHS,
        **kw,
    }
    return FloodSpec(**args)


def sent(c: FloodCounts) -> int:
    return sum(c.sent_by_second.values())


# ---- the spec ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"addresses": ()}, "addresses and paths"),
        ({"paths": ()}, "addresses and paths"),
        ({"rate": -1.0}, "rate >= 0"),
        ({"start_s": 5.0, "end_s": 4.0}, "end >= start"),
        ({"per_session": (0, 3)}, "per_session"),
        ({"per_session": (4, 3)}, "per_session"),
        ({"per_session": (1, 101)}, "per_session"),
    ],
)
def test_bad_specs_are_refused(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        spec(**kw)


def test_edge_specs_are_accepted() -> None:
    s = spec(rate=0.0, start_s=3.0, end_s=3.0, per_session=(100, 100))
    assert s.per_session == (100, 100) and not s.rotate


def test_a_flood_only_goes_to_loopback() -> None:
    for host in ("10.0.0.1", "example.com", "127.example.com"):
        with pytest.raises(ValueError, match="loopback"):
            Flood(spec(), Target(host, 80, Presentation.PROXY_V2), time.time(), 1)


def test_a_zero_rate_sends_nothing() -> None:
    target = Target("127.0.0.1", free_port(), Presentation.REAL_IP_HEADER)
    counts = asyncio.run(Flood(spec(rate=0.0), target, time.time(), 1).run())
    assert counts == FloodCounts()


# ---- against the real origin -------------------------------------------------------------------


def test_a_flood_keeps_its_rate_and_every_request_is_accounted_for() -> None:
    rate, duration = 300.0, 1.5

    async def main() -> tuple[FloodCounts, dict[str, int], Counter[int]]:
        origin = await start_origin(costs=NO_COSTS)
        target = Target(origin.host, origin.port, Presentation.REAL_IP_HEADER)
        try:
            f = Flood(spec(rate=rate, end_s=duration), target, time.time(), 7)
            async with asyncio.timeout(15):
                counts = await f.run()
            assert not f.tasks
            return counts, dict(origin.stats.addresses), Counter(origin.stats.statuses)
        finally:
            await origin.close()

    began = time.monotonic()
    counts, addresses, statuses = asyncio.run(main())
    assert time.monotonic() - began < duration + 2.0
    total = sent(counts)
    assert abs(total - rate * duration) <= 0.15 * rate * duration
    assert set(counts.sent_by_second) <= {0, 1}
    answered = sum(counts.statuses.values())
    assert answered + counts.dropped == total  # each sent request answered or dropped
    assert counts.connect_errors == 0 and counts.shortfall == 0
    assert 2 <= total / counts.sessions <= 6  # per_session (2, 6)
    # the origin saw exactly the flood's addresses, and as many requests as were answered
    assert set(addresses) <= set(ADDRS) and len(addresses) >= len(ADDRS) // 2
    assert sum(addresses.values()) == answered
    assert counts.statuses == statuses  # what the flood counted is what the origin answered


# ---- exact bytes, against a capturing server ---------------------------------------------------


@dataclass
class Capture(Loopback):
    """Keeps each connection's requests; answers each with `first` (its first) or OK."""

    first: bytes = OK
    silent: bool = False  # never answer
    connections: list[list[bytes]] = field(default_factory=list)

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        requests: list[bytes] = []
        self.connections.append(requests)
        for _ in range(200):
            requests.append(await read_request(r))
            if self.silent:
                await r.read()
                return
            w.write(self.first if len(requests) == 1 else OK)
            await w.drain()

    @property
    def requests(self) -> list[bytes]:
        return [r for conn in self.connections for r in conn]


def capture(s: FloodSpec, server: Capture | None = None) -> tuple[FloodCounts, Capture]:
    server = server or Capture()

    async def main(target: Target) -> FloodCounts:
        async with asyncio.timeout(10):
            return await Flood(s, target, time.time(), 3).run()

    counts = asyncio.run(server.run(main))
    assert server.requests, "the flood sent nothing"
    assert sent(counts) == len(server.requests) == sum(counts.statuses.values())
    return counts, server


def parse(request: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, _, body = request.partition(b"\r\n\r\n")
    line, *lines = head.decode("latin-1").split("\r\n")
    return line, [(k, v.strip()) for k, _, v in (x.partition(":") for x in lines)], body


def test_mirai_sends_old_user_agents_first_in_its_odd_order() -> None:
    _, server = capture(spec())
    for request in server.requests:
        line, headers, body = parse(request)
        method, path, version = line.split(" ")
        assert (method, version, body) == ("GET", "HTTP/1.1", b"")
        assert path in PATHS
        assert [k for k, _ in headers] == [
            "User-Agent",
            "Accept",
            "Host",
            "Connection",
            "X-Real-IP",
        ]
        values = dict(headers)
        assert values["User-Agent"] in MIRAI_UAS and values["Host"] == "microblog.lab"
        assert values["X-Real-IP"] in ADDRS
    for conn in server.connections:  # one bot address per connection
        assert len({dict(parse(r)[1])["X-Real-IP"] for r in conn}) == 1
        assert 2 <= len(conn) <= 6


def test_adaptive_busts_caches_and_keeps_a_browsers_order() -> None:
    _, server = capture(spec(style=Style.ADAPTIVE))
    busted = re.compile(r"(/|/users/cyxymu)\?_=\d+|/search\?q=storm&_=\d+")
    for request in server.requests:
        line, headers, _ = parse(request)
        _, path, _ = line.split(" ")
        assert busted.fullmatch(path), path
        assert [k for k, _ in headers] == [
            "Host",
            "Connection",
            "User-Agent",
            "Accept",
            "Accept-Language",
            "X-Real-IP",
        ]
        assert dict(headers)["User-Agent"] in MODERN_UAS
    assert len({parse(r)[0] for r in server.requests}) > len(server.requests) // 2


def test_the_first_answer_teaches_the_cookie_and_the_redirect() -> None:
    first = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nSet-Cookie: bot=1; Path=/\r\nContent-Length: 0\r\n\r\n"
    counts, server = capture(spec(per_session=(3, 3)), Capture(first=first))
    assert counts.statuses[302] == len(server.connections)
    assert counts.statuses[200] == 2 * len(server.connections)
    for conn in server.connections:
        assert len(conn) == 3
        assert b"Cookie" not in conn[0]
        for later in conn[1:]:
            line, headers, _ = parse(later)
            assert line == "GET /next HTTP/1.1"
            assert headers[-2] == ("Cookie", "bot=1")


def test_rotation_uses_every_address_once_before_any_twice() -> None:
    five = ADDRS[:5]
    _, server = capture(spec(addresses=five, rotate=True, per_session=(1, 1), rate=40.0))
    per_address = Counter(dict(parse(conn[0])[1])["X-Real-IP"] for conn in server.connections)
    assert len(server.connections) >= 10
    assert set(per_address) == set(five)
    assert max(per_address.values()) - min(per_address.values()) <= 1


def test_login_posts_carry_a_form_body_of_the_stated_length() -> None:
    _, server = capture(spec(paths=("POST /login",)))
    for request in server.requests:
        line, headers, body = parse(request)
        assert line == "POST /login HTTP/1.1"
        assert [k for k, _ in headers] == [
            "User-Agent",
            "Host",
            "Content-Type",
            "Content-Length",
            "X-Real-IP",
        ]
        values = dict(headers)
        assert values["Content-Type"] == "application/x-www-form-urlencoded"
        assert int(values["Content-Length"]) == len(body)
        assert re.fullmatch(rb"user=admin\d+&password=\d+", body)


def test_a_full_session_cap_is_counted_as_shortfall(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fl, "MAX_SESSIONS", 1)
    monkeypatch.setattr(fl, "SESSION_TIMEOUT_S", 0.5)
    began = time.monotonic()
    counts, server = None, Capture(silent=True)

    async def main(target: Target) -> FloodCounts:
        s = spec(rate=20.0, end_s=0.4, per_session=(2, 2))
        return await Flood(s, target, time.time(), 1).run()

    counts = asyncio.run(server.run(main))
    assert time.monotonic() - began < 2.0
    assert counts.sessions == 1 and len(server.connections) == 1
    assert sent(counts) == 1 and counts.dropped == 1  # the first request, never answered
    assert not counts.statuses
    assert abs(counts.shortfall - (0.4 * 20 - 2)) <= 2


def test_connect_refused_counts_connect_errors() -> None:
    target = Target("127.0.0.1", free_port(), Presentation.REAL_IP_HEADER)
    s = spec(rate=50.0, end_s=0.3, per_session=(2, 2))
    counts = asyncio.run(Flood(s, target, time.time(), 1).run())
    assert counts.sessions >= 3
    assert counts.connect_errors == counts.sessions
    assert counts.shortfall == 2 * counts.sessions  # none of their requests was sent
    assert sent(counts) == 0 and not counts.statuses and counts.dropped == 0


@dataclass
class Closer(Capture):
    """Answers each connection's first request with 429 and closes it."""

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections.append([await read_request(r)])
        w.write(b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await w.drain()
        w.close()


def test_requests_a_closed_session_never_sent_are_cut_short_not_sent() -> None:
    counts, server = capture(spec(), Closer())
    sessions = len(server.connections)
    assert sent(counts) == sessions == counts.statuses[429]  # one request per session
    assert sessions <= counts.cut_short <= 5 * sessions  # the other 1-5 of each session
    assert counts.shortfall == 0 and counts.dropped == 0
