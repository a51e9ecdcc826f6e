"""The account siege's traffic programs against the real lab origin (no protection)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from seawall.lab import siege as sg
from seawall.lab import traffic as tr
from seawall.lab.accounts_data import identities
from seawall.lab.accounts_origin import STEP_UP_HEADER
from seawall.lab.origin import RunningOrigin, start_origin
from seawall.lab.origin_data import NO_COSTS
from seawall.lab.scorecard import Attempt, ClientOutcome
from seawall.lab.siege_plan import BotPlan, Journey, Owner, Path, PeoplePlan
from seawall.lab.wire import Presentation, Target

from labservers import Server, read_request, serve

T = TypeVar("T")
SMALL: dict[str, Any] = {"users": 30, "posts_per_user": 2, "quiet_users": 20}
PEOPLE = identities(7, 30, 20)
ME = "198.51.100.30"
OK_PAGE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture(autouse=True)
def quick_people(monkeypatch: pytest.MonkeyPatch) -> None:
    """People think for a tenth of a second here, not for seconds."""
    for name in ("RETYPE_S", "RECOVER_S", "READ_S"):
        monkeypatch.setattr(sg, name, (0.05, 0.1))


def with_origin(body: Callable[[RunningOrigin, Target], Awaitable[T]]) -> T:
    async def main() -> T:
        origin = await start_origin(costs=NO_COSTS, **SMALL)
        try:
            target = Target("127.0.0.1", origin.port, Presentation.REAL_IP_HEADER)
            return await asyncio.wait_for(body(origin, target), 20)
        finally:
            await origin.close()

    return asyncio.run(main())


def client(target: Target, klass: str = sg.USER, address: str = ME) -> tr.Client:
    return tr.Client(target, address, klass, tr.BROWSER, tr.Reporter(time.time()), random.Random(3))


def run_journey(j: Journey, until_s: float = 30.0) -> tuple[list[Attempt], Counter[str], Any]:
    async def body(o: RunningOrigin, target: Target) -> tuple[list[Attempt], Counter[str], Any]:
        c, counts = client(target), Counter[str]()
        await sg.journey(c, j, 7, (PEOPLE[1].name,), time.time() + until_s, counts)
        return c.reporter.drain(), counts, o.stats.snapshot()

    return with_origin(body)


def test_a_person_who_gets_it_right_signs_in_once() -> None:
    name = PEOPLE[-1].name
    attempts, counts, stats = run_journey(Journey(0.0, ME, name, Path.RIGHT, 0, looks_up=True))
    (a,) = attempts
    assert (a.klass, a.legit, a.outcome) == (sg.USER, True, ClientOutcome.SUCCEEDED)
    assert stats["served"]["lookup"] == 1 and stats["served"]["login"] == 1
    assert stats["addresses"][ME] >= 3  # lookup, sign-in, the page it leads to
    assert counts == Counter({"journeys": 1})


def test_a_person_who_mistypes_tries_again_and_gets_in() -> None:
    j = Journey(0.0, ME, PEOPLE[-2].name, Path.MISTYPE, 2, looks_up=False)
    attempts, counts, stats = run_journey(j)
    assert [a.outcome for a in attempts] == [ClientOutcome.SUCCEEDED]
    assert stats["served"]["login"] == 3 and stats["statuses"]["401"] == 2
    assert attempts[0].latency_s < 0.1  # the answers only, not the two pauses (>= 0.1 s)


def test_a_person_who_forgot_resets_their_own_password() -> None:
    j = Journey(0.0, ME, PEOPLE[-3].name, Path.FORGOT, 3, looks_up=False)
    attempts, _, stats = run_journey(j)
    assert [a.outcome for a in attempts] == [ClientOutcome.SUCCEEDED]
    assert stats["served"]["login"] == 3 and stats["served"]["reset"] == 1
    direct = Journey(0.0, ME, PEOPLE[-4].name, Path.RESET, 0, looks_up=False)
    attempts, _, stats = run_journey(direct)
    assert [a.outcome for a in attempts] == [ClientOutcome.SUCCEEDED]
    assert stats["served"]["reset"] == 1 and stats["served"]["login"] == 0


def test_a_journey_the_run_ends_in_the_middle_of_is_not_reported() -> None:
    j = Journey(0.0, ME, PEOPLE[-5].name, Path.FORGOT, 4, looks_up=False)
    attempts, counts, _ = run_journey(j, until_s=0.12)
    assert attempts == [] and counts == Counter({"journeys_cut": 1})


def test_a_refused_person_counts_as_refused_with_the_reason() -> None:
    async def body(target: Target, server: Server) -> tuple[list[Attempt], Counter[str]]:
        c, counts = client(target), Counter[str]()
        j = Journey(0.0, ME, "someone", Path.RIGHT, 0, looks_up=True, shared=True)
        await sg.journey(c, j, 7, ("x",), time.time() + 5, counts)
        return c.reporter.drain(), counts

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
        s.requests.append(await read_request(r))
        w.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await w.drain()

    (attempts, counts), server = serve(handler, body)
    assert [a.outcome for a in attempts] == [ClientOutcome.BLOCKED]
    assert counts["journeys_failed_shared"] == 1 and counts["refused:right+lookup"] == 1
    assert server.lines() == [b"POST /account/lookup HTTP/1.1"]  # it stopped there


def test_asked_for_a_code_the_owner_gives_it() -> None:
    async def body(o: RunningOrigin, target: Target) -> tuple[bool, bool, Any]:
        c, trail = client(target, sg.OWNER), sg._Trail()
        headers = [*tr.browser_headers(tr.CHROME_UA), (STEP_UP_HEADER, "mfa")]  # as the edge
        _, ok, asked = await sg.sign_in(c, headers, PEOPLE[2].name, 7, trail)
        c.close()
        return ok, asked, o.stats.snapshot()

    ok, asked, stats = with_origin(body)
    assert ok and asked
    assert stats["served"]["login"] == 2 and stats["statuses"]["401"] == 1


def run_owner(budget_s: float) -> tuple[list[Attempt], Counter[str]]:
    owner = Owner(PEOPLE[2].name, ("198.51.100.61", "198.51.100.62"))
    plan = PeoplePlan((), (owner,), (0.2, 0.3), budget_s, ())

    async def body(o: RunningOrigin, target: Target) -> tuple[list[Attempt], Counter[str]]:
        rep, counts = tr.Reporter(time.time()), Counter[str]()
        until = time.time() + 1.5
        await sg.owner(owner, plan, target, rep, 7, until, counts, random.Random(5))
        return rep.drain(), counts

    return with_origin(body)


def test_an_owner_keeps_signing_in() -> None:
    attempts, counts = run_owner(15.0)
    assert 3 <= len(attempts) <= 8
    assert all(a.klass == sg.OWNER and a.outcome is ClientOutcome.SUCCEEDED for a in attempts)
    n = len(attempts)
    assert counts == Counter({"owner_sign_ins": n, "owner_signed_in": n})


def test_an_owner_sign_in_past_its_budget_does_not_count() -> None:
    attempts, counts = run_owner(0.0)
    assert attempts and all(a.outcome is ClientOutcome.TIMEOUT for a in attempts)
    assert counts["owner_signed_in"] == 0 and counts["owner_sign_ins"] == len(attempts)


def test_people_jobs_start_every_journey_and_owner() -> None:
    journeys = tuple(
        Journey(0.1 * i, f"198.51.100.{70 + i}", PEOPLE[-i - 1].name, Path.RIGHT, 0, False)
        for i in range(3)
    )
    owner = Owner(PEOPLE[3].name, ("198.51.100.90",))
    plan = PeoplePlan(journeys, (owner,), (5.0, 6.0), 10.0, (PEOPLE[1].name,))

    async def body(o: RunningOrigin, target: Target) -> tuple[list[Attempt], Counter[str]]:
        rep, counts = tr.Reporter(time.time()), Counter[str]()
        jobs = sg.people_jobs(plan, target, rep, 7, time.time() + 1.5, random.Random(1), counts)
        assert len(jobs) == 4
        await asyncio.gather(*jobs)
        return rep.drain(), counts

    attempts, counts = with_origin(body)
    assert Counter(a.klass for a in attempts)[sg.USER] == 3
    assert counts["journeys"] == 3 and counts["owner_sign_ins"] <= 1


def bot_plan(addresses: tuple[str, ...], end_s: float, guess: float, harvest: float) -> BotPlan:
    targets = (PEOPLE[4].name, PEOPLE[5].name)
    ids = (PEOPLE[4].email, PEOPLE[4].phone, PEOPLE[5].email, PEOPLE[5].phone)
    made_up = ("nobody123@post.example", "+15559000001")
    aims = tuple((0, 1) for _ in addresses)
    return BotPlan(addresses, targets, aims, 0.0, end_s, guess, harvest, ids, made_up)


def test_the_botnet_guesses_and_harvests_at_its_rates() -> None:
    plan = bot_plan(tuple(f"192.0.2.{i}" for i in range(1, 11)), 2.0, 10.0, 10.0)

    async def body(o: RunningOrigin, target: Target) -> tuple[sg.BotCounts, Any]:
        counts = sg.BotCounts()
        await sg.botnet(plan, target, time.time(), 1, counts)
        return counts, o.stats.snapshot()

    counts, stats = with_origin(body)
    sent = sum(counts.sent_by_second.values())
    assert sent == counts.guesses + counts.lookups + counts.resets
    assert 5 <= counts.guesses <= 45 and 5 <= counts.lookups + counts.resets <= 45
    assert set(counts.sent_by_second) <= {0, 1}  # nothing after the end
    assert counts.statuses[401] == counts.guesses  # every guess is wrong
    assert counts.statuses[200] == counts.lookups and counts.statuses[202] == counts.resets
    assert stats["served"]["login"] == counts.guesses
    assert set(stats["addresses"]) <= set(plan.addresses)
    assert counts.connect_errors == counts.timeouts == counts.dropped == 0


def test_every_bot_speaks_the_same_tool() -> None:
    plan = bot_plan(("192.0.2.1", "192.0.2.2", "192.0.2.3"), 1.0, 12.0, 6.0)

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
        while True:
            try:
                s.requests.append(await read_request(r))
            except asyncio.IncompleteReadError:
                return
            w.write(OK_PAGE)
            await w.drain()

    async def body(target: Target, server: Server) -> sg.BotCounts:
        counts = sg.BotCounts()
        await sg.botnet(plan, target, time.time(), 2, counts)
        return counts

    counts, server = serve(handler, body)
    assert server.requests and counts.statuses[200] == len(server.requests)
    names = set()
    for raw in server.requests:
        head = raw.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
        names.add(tuple(h.split(":", 1)[0] for h in head))
        ua = next(h for h in head if h.startswith("User-Agent:"))
        assert "Chrome/119." in ua
    orders = {n[:5] for n in names}
    assert orders == {("Host", "User-Agent", "Accept-Encoding", "Accept", "Connection")}
