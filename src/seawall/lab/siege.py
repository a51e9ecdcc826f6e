"""The account siege's traffic: people signing in, the targets' owners, and the botnet.

A person's sign-in is one logical request of class `account_user`, however many steps it
took (a lookup of their own email, wrong passwords, a reset, the page after): it succeeded
when it ended as that person meant it to, signed in with a session or with a reset
accepted. An owner's sign-in (`account_owner`) succeeded when it ended in the 303 with a
session within the owner's budget; asked for a code (`X-MFA-Required`), the owner posts it.
People have authenticators too, and post theirs when asked, but each time is counted: an
untargeted person stepped up is collateral.

The botnet is one tool on 400 addresses: one User-Agent family, one header order, each
address trying a few of the targets every half minute or so with wrong passwords, and
the same addresses harvesting recovery details. Its requests are counted like a flood's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from seawall.lab import traffic as tr
from seawall.lab.accounts_data import email_of, otp_for
from seawall.lab.accounts_origin import MFA_HEADER, SESSION_COOKIE
from seawall.lab.origin_data import password_for
from seawall.lab.scorecard import Attempt, ClientOutcome
from seawall.lab.siege_plan import BotPlan, Journey, Owner, Path, PeoplePlan
from seawall.lab.wire import Target

USER, OWNER, BOT = "account_user", "account_owner", "account_siege"
BOT_POLICY = tr.Policy(
    timeout_s=5.0, retries=0, max_wait_s=0.0, backoff_s=1.0, solves_challenges=False
)
BOT_UAS = tuple(  # one family (Chrome/119), a few builds, as the tool rotates them
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    f"Chrome/119.0.6045.{patch} Safari/537.36"
    for patch in (105, 123, 159, 160, 199)
)
GUESSES = ("123456", "password1", "qwerty123", "{name}2024", "{name}!", "Summer2024!", "letmein")
MAX_PENDING = 256  # harvest requests in flight; past that one is dropped (and counted)
TYPO = "x"
RETYPE_S = (1.5, 4.0)  # a person's pause before typing the password again
RECOVER_S = (2.0, 5.0)  # before the last try, or before giving up and resetting
READ_S = (1.0, 3.0)  # on the page a sign-in leads to, before the next


@dataclass(slots=True)
class BotCounts:
    """What the botnet sent and got back; merged like a flood's counts by the runner."""

    sent_by_second: Counter[int] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    guesses: int = 0
    lookups: int = 0
    resets: int = 0
    connect_errors: int = 0
    timeouts: int = 0
    dropped: int = 0  # harvest requests not started: too many in flight
    breached_tries: int = 0  # guesses with a target's real password (from a breach)
    takeovers: int = 0  # of those, sign-ins that worked: the attacker holds a session

    def add(self, second: int, ex: tr.Exchange) -> None:
        """One request, counted in the second the bot decided to send it."""
        self.sent_by_second[second] += 1
        if ex.response is not None:
            self.statuses[ex.response.status] += 1
        elif ex.outcome is ClientOutcome.TIMEOUT:
            self.timeouts += 1
        else:
            self.connect_errors += 1


@dataclass(slots=True)
class _Trail:
    """A multi-step sign-in: when it began and what its exchanges cost in waiting."""

    t: float | None = None
    latency_s: float = 0.0
    challenged: bool = False
    throttled: bool = False

    def add(self, ex: tr.Exchange) -> tr.Exchange:
        self.t = ex.t if self.t is None else self.t
        self.latency_s += ex.latency_s
        self.challenged |= ex.challenged
        self.throttled |= ex.throttled
        return ex

    def attempt(self, klass: str, outcome: ClientOutcome) -> Attempt:
        t = self.t or 0.0
        return Attempt(t, klass, True, outcome, self.latency_s, self.challenged, self.throttled)


def mfa_asked(ex: tr.Exchange) -> bool:
    r = ex.response
    return r is not None and r.status == 401 and r.header(MFA_HEADER.lower()) == "1"


def refused(ex: tr.Exchange) -> ClientOutcome:
    """The outcome to report for a step that did not go as its person meant."""
    ok = ex.outcome is ClientOutcome.SUCCEEDED
    return ClientOutcome.BLOCKED if ok else ex.outcome


async def sign_in(
    c: tr.Client, headers: list[tuple[str, str]], name: str, seed: int, trail: _Trail
) -> tuple[tr.Exchange, bool, bool]:
    """The right password, then the code if asked: (last exchange, signed in, asked)."""
    c.cookies.pop(SESSION_COOKIE, None)
    creds = {"user": name, "password": password_for(name, seed)}
    extra, body = tr.form(creds)
    ex = trail.add(await c.exchange("POST", "/login", headers + extra, body))
    asked = mfa_asked(ex)
    if asked:
        extra, body = tr.form(creds | {"otp": otp_for(name, seed)})
        ex = trail.add(await c.exchange("POST", "/login", headers + extra, body))
    ok = ex.outcome is ClientOutcome.SUCCEEDED and SESSION_COOKIE in c.cookies
    return ex, ok, asked


async def _steps(
    c: tr.Client, j: Journey, seed: int, pages: tuple[str, ...], until: float, trail: _Trail
) -> tuple[ClientOutcome | None, bool]:
    """A person's steps: (outcome, stepped up); outcome None when the run ended first."""
    headers = tr.browser_headers(tr.CHROME_UA if c.rng.random() < 0.7 else tr.FIREFOX_UA)
    if j.looks_up:
        extra, body = tr.form({"identifier": email_of(j.account)})
        ex = trail.add(await c.exchange("POST", "/account/lookup", headers + extra, body))
        if ex.outcome is not ClientOutcome.SUCCEEDED:
            return ex.outcome, False
    for k in range(j.mistakes):
        if k and not await tr.think(c.rng, *RETYPE_S, until):
            return None, False
        wrong = password_for(j.account, seed) + TYPO * (k + 1)
        extra, body = tr.form({"user": j.account, "password": wrong})
        ex = trail.add(await c.exchange("POST", "/login", headers + extra, body))
        if ex.response is None or ex.response.status != 401:
            return refused(ex), False
    if j.mistakes and not await tr.think(c.rng, *RECOVER_S, until):
        return None, False
    if j.path in (Path.FORGOT, Path.RESET):
        extra, body = tr.form({"email": email_of(j.account)})
        ex = trail.add(await c.exchange("POST", "/password/reset", headers + extra, body))
        return ex.outcome, False
    ex, ok, asked = await sign_in(c, headers, j.account, seed, trail)
    if not ok:
        return refused(ex), asked
    if c.rng.random() < 0.5 and await tr.think(c.rng, *READ_S, until):
        ex = trail.add(await c.exchange("GET", f"/users/{c.rng.choice(pages)}", headers))
        return ex.outcome, asked
    return ClientOutcome.SUCCEEDED, asked


async def journey(
    c: tr.Client, j: Journey, seed: int, pages: tuple[str, ...], until: float, counts: Counter[str]
) -> None:
    """One person's sign-in, reported as one attempt of class `account_user`."""
    await asyncio.sleep(max(0.0, c.reporter.t0 + j.at_s - time.time()))
    trail = _Trail()
    try:
        outcome, asked = await _steps(c, j, seed, pages, until, trail)
    finally:
        c.close()
    counts["users_stepped_up"] += asked
    if outcome is None:
        counts["journeys_cut"] += 1
        return
    counts["journeys"] += 1
    if outcome is not ClientOutcome.SUCCEEDED:
        counts["journeys_failed_shared" if j.shared else "journeys_failed_own"] += 1
        counts[f"refused:{j.path.value}{'+lookup' if j.looks_up else ''}"] += 1
    c.reporter.add(trail.attempt(USER, outcome))


async def owner(
    o: Owner,
    plan: PeoplePlan,
    target: Target,
    rep: tr.Reporter,
    seed: int,
    until: float,
    counts: Counter[str],
    rng: random.Random,
) -> None:
    """An owner signing in every `every_s`, from home mostly, else from the phone."""
    clients = [tr.Client(target, a, OWNER, tr.BROWSER, rep, rng) for a in o.addresses]
    headers = tr.browser_headers(tr.CHROME_UA)
    try:
        if not await tr.think(rng, 0.0, plan.every_s[1], until):
            return
        while time.time() < until:
            c = clients[0] if rng.random() < 0.7 else clients[-1]
            trail = _Trail()
            last, ok, asked = await sign_in(c, headers, o.account, seed, trail)
            outcome = ClientOutcome.SUCCEEDED if ok else refused(last)
            if ok and trail.latency_s > plan.budget_s:
                outcome = ClientOutcome.TIMEOUT  # signed in, but too late to count
            counts["owner_sign_ins"] += 1
            counts["owner_signed_in"] += outcome is ClientOutcome.SUCCEEDED
            counts["owner_mfa_prompts"] += asked
            rep.add(trail.attempt(OWNER, outcome))
            if not await tr.think(rng, *plan.every_s, until):
                break
    finally:
        for c in clients:
            c.close()


def people_jobs(
    plan: PeoplePlan,
    target: Target,
    rep: tr.Reporter,
    seed: int,
    until: float,
    rng: random.Random,
    counts: Counter[str],
) -> list[Coroutine[Any, Any, None]]:
    """Every journey (each waits for its time), and every owner's sign-in loop."""
    jobs: list[Coroutine[Any, Any, None]] = []
    for j in plan.journeys:
        c = tr.Client(target, j.address, USER, tr.BROWSER, rep, random.Random(rng.random()))
        jobs.append(journey(c, j, seed, plan.pages, until, counts))
    for o in plan.owners:
        jobs.append(owner(o, plan, target, rep, seed, until, counts, random.Random(rng.random())))
    return jobs


def bot_headers(ua: str) -> list[tuple[str, str]]:
    """The tool's header order, the same on every address: no browser sends this one."""
    return [
        ("Host", tr.HOST),
        ("User-Agent", ua),
        ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
    ]


@dataclass(slots=True)
class _Bot:
    client: tr.Client
    headers: list[tuple[str, str]]
    aim: tuple[int, ...]

    async def send(
        self, path: str, fields: dict[str, str], counts: BotCounts, second: int | None = None
    ) -> int:
        """The answer's status (0: none came)."""
        second = int(self.client.reporter.now()) if second is None else second
        extra, body = tr.form(fields)
        ex = await self.client.exchange("POST", path, self.headers + extra, body)
        counts.add(second, ex)
        return ex.response.status if ex.response is not None else 0


async def _pause(rng: random.Random, mean_s: float, end: float) -> bool:
    """An exponential pause (a Poisson process); False when `end` comes first."""
    await asyncio.sleep(max(0.0, min(rng.expovariate(1.0 / mean_s), end - time.time())))
    return time.time() < end


async def _guess(bot: _Bot, plan: BotPlan, every_s: float, end: float, counts: BotCounts) -> None:
    """One address: a password for one of its targets, every `every_s` on average; the
    real one (from a breach) on `breach_share` of the guesses at a breached target."""
    rng, leaked = bot.client.rng, dict(plan.breached)
    while await _pause(rng, every_s, end):
        name = plan.targets[rng.choice(bot.aim)]
        counts.guesses += 1
        password = rng.choice(GUESSES).format(name=name)
        real = name in leaked and rng.random() < plan.breach_share
        if real:
            password = leaked[name]
            counts.breached_tries += 1
        await bot.send("/login", {"user": name, "password": password}, counts)
        if bot.client.cookies.pop(SESSION_COOKIE, None) is not None:
            counts.takeovers += 1  # a session: the account is the attacker's now
            # the client followed the redirect to the page behind the sign-in: sent too
            counts.sent_by_second[int(bot.client.reporter.now())] += 1


async def _quietly(sent: Coroutine[Any, Any, int]) -> None:
    await sent


async def _harvest(
    bots: list[_Bot], plan: BotPlan, end: float, counts: BotCounts, rng: random.Random
) -> None:
    """Lookups at `harvest_rate`: the targets' emails and phones among the list's."""
    pending = set[asyncio.Task[None]]()
    while await _pause(rng, 1.0 / plan.harvest_rate, end):
        if len(pending) >= MAX_PENDING:
            counts.dropped += 1
            continue
        pool = plan.identifiers if rng.random() < 0.4 else plan.made_up
        identifier, bot = rng.choice(pool), rng.choice(bots)
        if "@" in identifier and rng.random() < 0.5:
            counts.resets += 1
            path, fields = "/password/reset", {"email": identifier}
        else:
            counts.lookups += 1
            path, fields = "/account/lookup", {"identifier": identifier}
        second = int(bot.client.reporter.now())  # now, not when the task gets to run
        job = _quietly(bot.send(path, fields, counts, second))
        task = asyncio.create_task(job, name="lab-siege-harvest")
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=BOT_POLICY.timeout_s * 2)


async def botnet(plan: BotPlan, target: Target, t0: float, seed: int, counts: BotCounts) -> None:
    """The whole botnet from `start_s` to `end_s`: guessing on every address, harvesting."""
    rng, rep = random.Random(seed), tr.Reporter(t0)
    bots = [
        _Bot(
            tr.Client(target, a, BOT, BOT_POLICY, rep, random.Random(rng.random())),
            bot_headers(rng.choice(BOT_UAS)),
            aim,
        )
        for a, aim in zip(plan.addresses, plan.aims, strict=True)
    ]
    await asyncio.sleep(max(0.0, t0 + plan.start_s - time.time()))
    end = t0 + plan.end_s
    every_s = len(bots) / plan.guess_rate
    jobs = [_guess(b, plan, every_s, end, counts) for b in bots]
    jobs.append(_harvest(bots, plan, end, counts, random.Random(rng.random())))
    try:
        await asyncio.gather(*jobs)
    finally:
        for b in bots:
            b.client.close()
