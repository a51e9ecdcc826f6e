"""Legitimate lab clients: one logical request's outcome against scripted servers, then the
programs (browser, API app, SMS gateway, flash crowd) against the real lab origin."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

import pytest

from seawall.core.challenge import ChallengeKeys, issue, solves
from seawall.edge.challenge import challenge_page
from seawall.lab import traffic as tr
from seawall.lab.origin import DEFAULT_SECRETS, RunningOrigin, make_app_token, start_origin
from seawall.lab.origin_data import NO_COSTS
from seawall.lab.scorecard import Attempt, ClientOutcome
from seawall.lab.wire import Presentation, Target
from seawall.lab.worker import site_for

from harness import free_port
from labservers import Handler, Server, read_request, replies, serve

FAST = tr.Policy(timeout_s=2.0, retries=2, max_wait_s=5.0, backoff_s=0.05, solves_challenges=False)
HEADERS = [("Host", tr.HOST), ("User-Agent", "test")]
ME = "198.51.100.20"


def answer(status: int, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def client(target: Target, policy: tr.Policy = FAST, seed: int = 1) -> tr.Client:
    return tr.Client(target, ME, "browser", policy, tr.Reporter(time.time()), random.Random(seed))


def scripted(
    *answers: bytes | None,
    policy: tr.Policy = FAST,
    body: Callable[[tr.Client], Awaitable[None]] | None = None,
) -> tuple[list[Attempt], Server, tr.Client]:
    """Runs `body` (by default one GET /) with a client against a server scripted so."""
    return with_client(replies(*answers), policy, body)


def with_client(
    handler: Handler,
    policy: tr.Policy = FAST,
    body: Callable[[tr.Client], Awaitable[None]] | None = None,
) -> tuple[list[Attempt], Server, tr.Client]:
    """Runs `body` (by default one GET /) with a client against a server serving `handler`."""

    async def main(target: Target, server: Server) -> tr.Client:
        c = client(target, policy)
        try:
            if body is None:
                await c.fetch("GET", "/", HEADERS)
            else:
                await body(c)
        finally:
            c.close()
        return c

    c, server = serve(handler, main)
    return c.reporter.drain(), server, c


def only(attempts: list[Attempt]) -> Attempt:
    assert len(attempts) == 1
    a = attempts[0]
    assert a.klass == "browser" and a.legit and a.t >= 0
    return a


def test_200_succeeds() -> None:
    attempts, server, _ = scripted(answer(200, body=b"hi"))
    a = only(attempts)
    assert a.outcome is ClientOutcome.SUCCEEDED
    assert not a.challenged and not a.throttled and a.latency_s < 1.0
    assert server.lines() == [b"GET / HTTP/1.1"]


def test_a_303_after_a_post_is_followed_with_get_and_the_cookie_is_kept() -> None:
    extra, form_body = tr.form({"user": "gosaka68", "password": "p w&x"})
    assert form_body == b"user=gosaka68&password=p%20w%26x"

    async def body(c: tr.Client) -> None:
        await c.fetch("POST", "/login", HEADERS + extra, form_body)
        await c.fetch("GET", "/users/cyxymu", HEADERS)

    see_other = answer(
        303, "Location: http://microblog.lab/home?x=1", "Set-Cookie: session=s1; Path=/; HttpOnly"
    )
    attempts, server, c = scripted(see_other, answer(200), answer(200), body=body)
    assert [a.outcome for a in attempts] == [ClientOutcome.SUCCEEDED] * 2
    assert server.lines() == [
        b"POST /login HTTP/1.1",
        b"GET /home?x=1 HTTP/1.1",
        b"GET /users/cyxymu HTTP/1.1",
    ]
    assert server.requests == [
        b"POST /login HTTP/1.1\r\nHost: microblog.lab\r\nUser-Agent: test\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 32\r\n"
        b"X-Real-IP: 198.51.100.20\r\n\r\nuser=gosaka68&password=p%20w%26x",
        b"GET /home?x=1 HTTP/1.1\r\nHost: microblog.lab\r\nUser-Agent: test\r\n"
        b"Cookie: session=s1\r\nX-Real-IP: 198.51.100.20\r\n\r\n",
        b"GET /users/cyxymu HTTP/1.1\r\nHost: microblog.lab\r\nUser-Agent: test\r\n"
        b"Cookie: session=s1\r\nX-Real-IP: 198.51.100.20\r\n\r\n",
    ]
    assert c.cookies == {"session": "s1"} and server.connections == 1


def test_a_307_keeps_the_method_and_body_and_an_off_site_redirect_is_not_followed() -> None:
    async def body(c: tr.Client) -> None:
        await c.fetch("POST", "/a", [*HEADERS, ("Content-Length", "3")], b"abc")
        await c.fetch("GET", "/b", HEADERS)

    attempts, server, _ = scripted(
        answer(307, "Location: /a2"),
        answer(200),
        answer(302, "Location: https://elsewhere.example/"),
        body=body,
    )
    assert [a.outcome for a in attempts] == [ClientOutcome.SUCCEEDED] * 2
    assert server.lines() == [b"POST /a HTTP/1.1", b"POST /a2 HTTP/1.1", b"GET /b HTTP/1.1"]
    assert server.requests[1].endswith(b"Content-Length: 3\r\nX-Real-IP: 198.51.100.20\r\n\r\nabc")


def test_429_with_retry_after_is_honoured_then_succeeds() -> None:
    attempts, server, _ = scripted(answer(429, "Retry-After: 1"), answer(200))
    a = only(attempts)
    assert a.outcome is ClientOutcome.SUCCEEDED and a.throttled and not a.challenged
    assert 0.78 <= a.latency_s < 2.0  # Retry-After 1 s, jittered by -20 % .. +20 %
    assert server.lines() == [b"GET / HTTP/1.1"] * 2


def test_429_past_the_retry_budget_is_throttled() -> None:
    attempts, server, _ = scripted(answer(429, "Retry-After: 0"))
    a = only(attempts)
    assert a.outcome is ClientOutcome.THROTTLED and a.throttled
    assert len(server.requests) == FAST.retries + 1


def test_503_past_the_retry_budget_is_an_error() -> None:
    attempts, server, _ = scripted(answer(503))  # no Retry-After: backoff 0.05, then 0.1
    a = only(attempts)
    assert a.outcome is ClientOutcome.ERROR and a.throttled
    assert len(server.requests) == FAST.retries + 1
    assert a.latency_s >= 0.8 * (0.05 + 0.1)


def test_a_retry_after_longer_than_the_client_waits_ends_at_once() -> None:
    attempts, server, _ = scripted(answer(503, "Retry-After: 60"), answer(200))
    a = only(attempts)
    assert a.outcome is ClientOutcome.ERROR and a.latency_s < 1.0
    assert len(server.requests) == 1


def _challenge_page() -> bytes:
    keys = ChallengeKeys(b"k" * 32)
    return challenge_page(issue(keys, "127.0.0.0/24", "ua", "r1", 8, 1e9), "/")


def test_a_browser_solves_the_challenge_and_comes_back_with_its_pass() -> None:
    attempts, server, _ = scripted(
        answer(403, body=_challenge_page()),
        answer(303, "Location: /", "Set-Cookie: seawall_pass=p1; Path=/"),
        answer(200),
        policy=dataclasses.replace(FAST, solves_challenges=True),
    )
    a = only(attempts)
    assert a.outcome is ClientOutcome.SUCCEEDED and a.challenged and not a.throttled
    answer_line = server.requests[1].split(b"\r\n", 1)[0]
    assert answer_line.startswith(b"GET /.seawall/pass?seed=1.")
    seed = unquote(answer_line.split(b"seed=")[1].split(b"&")[0].decode())
    nonce = answer_line.split(b"nonce=")[1].split(b"&")[0].decode()
    assert solves(seed, nonce, 8)  # real work, not a placeholder
    assert b"seawall_pass=p1" in server.requests[2]


def test_a_client_that_does_not_solve_reports_the_challenge() -> None:
    a = only(scripted(answer(403, body=_challenge_page()), policy=FAST)[0])
    assert a.outcome is ClientOutcome.CHALLENGED and a.challenged and not a.throttled


@pytest.mark.parametrize(
    ("response", "outcome"),
    [
        (answer(403, body=b"forbidden\n"), ClientOutcome.BLOCKED),
        (answer(403, body=b"you need a challenge"), ClientOutcome.BLOCKED),
        (answer(404), ClientOutcome.BLOCKED),
        (answer(401), ClientOutcome.BLOCKED),
        (answer(408, "Connection: close"), ClientOutcome.ERROR),
        (answer(500), ClientOutcome.ERROR),
        (answer(302), ClientOutcome.SUCCEEDED),  # no Location: nothing to follow
    ],
)
def test_other_answers(response: bytes, outcome: ClientOutcome) -> None:
    attempts, server, _ = scripted(response, answer(200))
    a = only(attempts)
    assert a.outcome is outcome and not a.challenged and not a.throttled
    assert len(server.requests) == 1  # none of these is retried


def test_a_dropped_connection_is_retried_on_a_new_one() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\nConnection: close\r\n\r\npartial"
    attempts, server, _ = scripted(cut, answer(200))
    a = only(attempts)
    assert a.outcome is ClientOutcome.SUCCEEDED and not a.throttled
    assert server.connections == 2 and len(server.requests) == 2


def test_connection_refused_is_an_error_after_the_retries() -> None:
    target = Target("127.0.0.1", free_port(), Presentation.REAL_IP_HEADER)
    c = client(target)
    began = time.monotonic()
    asyncio.run(c.fetch("GET", "/", HEADERS))
    a = only(c.reporter.drain())
    assert a.outcome is ClientOutcome.ERROR and not a.throttled
    assert 0.8 * (0.05 + 0.1) <= time.monotonic() - began < 2.0


def test_no_answer_is_a_timeout() -> None:
    quick = tr.Policy(
        timeout_s=0.3, retries=3, max_wait_s=5.0, backoff_s=0.05, solves_challenges=False
    )
    attempts, server, c = scripted(None, policy=quick)
    a = only(attempts)
    assert a.outcome is ClientOutcome.TIMEOUT and 0.28 <= a.latency_s < 1.0
    assert len(server.requests) == 1  # a timeout is not retried
    assert c.conn is None


def test_one_client_shared_by_two_tasks_keeps_each_answer_with_its_request() -> None:
    """The SMS gateway shares its clients between overlapping posts."""
    seen: list[bytes] = []

    async def slow_second(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
        for n in range(3):
            seen.append((await read_request(r)).split(b"\r\n", 1)[0])
            if n == 1:
                await asyncio.sleep(0.3)
            w.write(answer(200, body=b"%d" % n))
            await w.drain()
        await r.read()

    async def body(c: tr.Client) -> None:
        await c.fetch("GET", "/zero", HEADERS)  # the connection now exists
        await asyncio.gather(c.fetch("GET", "/one", HEADERS), c.fetch("GET", "/two", HEADERS))

    attempts, _, _ = with_client(slow_second, body=body)
    assert [a.outcome for a in attempts] == [ClientOutcome.SUCCEEDED] * 3
    assert all(a.latency_s < 1.0 for a in attempts)
    assert seen == [b"GET /zero HTTP/1.1", b"GET /one HTTP/1.1", b"GET /two HTTP/1.1"]


# ---- the programs, against the real origin ---------------------------------------------------

SITE = site_for(7)
BROWSER, APP, GATEWAY = "198.51.100.1", "198.51.100.2", "198.51.100.3"
CROWD = ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4")
SMS_RATE = 20.0
RUN_S = 2.0


@dataclass
class Programs:
    origin: RunningOrigin
    attempts: dict[str, list[Attempt]]
    clients: dict[str, tr.Client]


def run_programs() -> Programs:
    async def main() -> Programs:
        origin = await start_origin(costs=NO_COSTS)
        target = Target(origin.host, origin.port, Presentation.REAL_IP_HEADER)
        reporters: dict[str, tr.Reporter] = {}
        clients: dict[str, tr.Client] = {}

        def make(klass: str, addr: str, policy: tr.Policy, seed: int) -> tr.Client:
            rep = reporters.setdefault(klass, tr.Reporter(time.time()))
            clients[addr] = tr.Client(target, addr, klass, policy, rep, random.Random(seed))
            return clients[addr]

        until = time.time() + RUN_S
        token = make_app_token(DEFAULT_SECRETS, "app", user=SITE.users[1])
        jobs = [
            tr.browse(make("browser", BROWSER, tr.BROWSER, 1), SITE, until, signs_in=True),
            tr.api_app(make("api_app", APP, tr.API_APP, 2), token, 0.15, until),
            tr.sms_gateway(
                make("sms_gateway", GATEWAY, tr.GATEWAY, 3),
                DEFAULT_SECRETS.gateway,
                SMS_RATE,
                until,
            ),
            *(
                tr.visit_famous(make("flash_crowd", a, tr.BROWSER, 10 + i), SITE, until)
                for i, a in enumerate(CROWD)
            ),
        ]
        try:
            async with asyncio.timeout(RUN_S + 3):
                await asyncio.gather(*jobs)
        finally:
            for c in clients.values():
                c.close()
            await origin.close()
        return Programs(origin, {k: r.drain() for k, r in reporters.items()}, clients)

    return asyncio.run(main())


@pytest.fixture(scope="module")
def programs() -> Programs:
    began = time.monotonic()
    p = run_programs()
    assert RUN_S - 0.1 <= time.monotonic() - began < RUN_S + 2.5  # they stop on time
    return p


def test_every_program_succeeds_in_its_own_class(programs: Programs) -> None:
    assert set(programs.attempts) == {"browser", "api_app", "sms_gateway", "flash_crowd"}
    for klass, attempts in programs.attempts.items():
        assert attempts, klass
        assert {a.klass for a in attempts} == {klass}
        assert all(a.legit and a.outcome is ClientOutcome.SUCCEEDED for a in attempts), klass
    stats = programs.origin.stats
    assert 401 not in stats.statuses and 403 not in stats.statuses
    assert stats.no_real_ip == 0 and stats.bad_real_ip == 0


def test_the_browser_signs_in_and_keeps_its_session(programs: Programs) -> None:
    stats = programs.origin.stats
    assert stats.served["login"] == 1 and stats.statuses[303] == 1
    assert set(programs.clients[BROWSER].cookies) == {"session"}
    # the sign-in is one attempt but two requests: the POST and the redirect's GET
    assert stats.addresses[BROWSER] == len(programs.attempts["browser"]) + 1


def test_the_api_app_polls_with_a_valid_token_and_posts_every_tenth_time(
    programs: Programs,
) -> None:
    stats, n = programs.origin.stats, len(programs.attempts["api_app"])
    assert 10 <= n <= 16  # every 0.15 s (+-20 %) for 2 s
    assert stats.served["timeline"] == n - n // 10
    assert stats.served["api_post"] == n // 10 and stats.statuses[201] == n // 10
    assert stats.addresses[APP] == n


def test_the_sms_gateway_posts_at_its_rate(programs: Programs) -> None:
    stats, n = programs.origin.stats, len(programs.attempts["sms_gateway"])
    assert abs(n - SMS_RATE * RUN_S) <= 2
    assert stats.served["sms"] == n and stats.addresses[GATEWAY] == n


def test_the_crowd_visits_the_famous_profile(programs: Programs) -> None:
    stats, visits = programs.origin.stats, programs.attempts["flash_crowd"]
    assert len(visits) >= len(CROWD)
    assert stats.served["profile"] >= len(CROWD)
    assert sum(stats.addresses[a] for a in CROWD) == len(visits)
    assert all(stats.addresses[a] >= 1 for a in CROWD)


def test_the_origin_saw_only_the_programs_addresses(programs: Programs) -> None:
    stats = programs.origin.stats
    assert set(stats.addresses) == {BROWSER, APP, GATEWAY, *CROWD}
    assert sum(stats.addresses.values()) == stats.arrived


# ---- arrivals and rates ------------------------------------------------------------------------


def test_poisson_starts_at_a_constant_rate() -> None:
    starts = tr.poisson_starts(random.Random(5), lambda t: 50.0, 10.0, 20.0, 10_000)
    assert abs(len(starts) - 500) <= 75  # 500 expected; sd about 22
    assert starts == sorted(starts) and all(10.0 <= t < 20.0 for t in starts)
    assert starts == tr.poisson_starts(random.Random(5), lambda t: 50.0, 10.0, 20.0, 10_000)
    assert starts != tr.poisson_starts(random.Random(6), lambda t: 50.0, 10.0, 20.0, 10_000)


def test_poisson_starts_follow_a_rising_rate() -> None:
    rate = tr.ramp(0.0, 100.0, 0.0, 10.0, 0.5)  # integral: 250 in the rise, then 500
    starts = tr.poisson_starts(random.Random(9), rate, 0.0, 10.0, 10_000)
    assert abs(len(starts) - 750) <= 90
    rising = sum(1 for t in starts if t < 5.0)
    assert abs(rising - 250) <= 50
    assert sum(1 for t in starts if t < 1.0) < sum(1 for t in starts if 4.0 <= t < 5.0)


def test_poisson_starts_respect_the_cap_and_a_zero_rate() -> None:
    assert len(tr.poisson_starts(random.Random(1), lambda t: 1000.0, 0.0, 10.0, 25)) == 25
    assert tr.poisson_starts(random.Random(1), lambda t: 0.0, 0.0, 10.0, 100) == []
    assert tr.poisson_starts(random.Random(1), lambda t: 50.0, 5.0, 5.0, 100) == []


def test_ramp_rises_then_holds() -> None:
    rate = tr.ramp(2.0, 10.0, 100.0, 110.0, 0.5)
    assert [rate(t) for t in (99.0, 100.0, 102.5, 105.0, 109.0, 200.0)] == [
        2.0,
        2.0,
        6.0,
        10.0,
        10.0,
        10.0,
    ]
    step = tr.ramp(1.0, 9.0, 0.0, 10.0, 0.0)
    assert (step(0.0), step(0.001)) == (1.0, 9.0)


def test_spread_deals_items_out_like_cards() -> None:
    items = ["a", "b", "c", "d", "e", "f", "g"]
    parts = [tr.spread(items, 3, i) for i in range(3)]
    assert parts == [["a", "d", "g"], ["b", "e"], ["c", "f"]]
    assert sorted(x for p in parts for x in p) == items
    assert tr.spread(items, 10, 8) == []


def test_clamp_rate() -> None:
    assert [tr.clamp_rate(v) for v in (5.0, 0.0, -1.0, float("nan"), float("inf"))] == [
        5.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ]


def test_the_reporter_hands_attempts_over_once() -> None:
    rep = tr.Reporter(time.time() + 60)  # a start in the future still gives t >= 0
    assert rep.now() == 0.0
    rep.add(Attempt(0.0, "browser", True, ClientOutcome.SUCCEEDED, 0.1))
    assert len(rep.drain()) == 1 and rep.drain() == []


def test_think_stops_at_the_end_of_the_scenario() -> None:
    began = time.monotonic()
    assert asyncio.run(tr.think(random.Random(1), 5.0, 6.0, time.time() + 0.2)) is False
    assert time.monotonic() - began < 1.0
    assert asyncio.run(tr.think(random.Random(1), 0.01, 0.02, time.time() + 5)) is True
