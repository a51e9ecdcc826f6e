"""One traffic process of a lab run: its share of the clients, reported back in batches.

A run splits its traffic over a few processes, since one Python process can't make the
flood rates. Each gets a picklable `WorkerPlan`, runs it on uvloop from the shared start
time `t0` and sends messages to the runner's queue: `("attempts", i, [Attempt...])` every
half second, `("flood", i, (klass, counts))` and `("slow", i, (klass, counts))` at the end
(an account siege's botnet reports as a flood does), `("accounts", i, counts)` from a
process with an account siege's people, then `("done", i, None)`, or `("error", i, text)`
if it failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import traceback
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field, fields
from multiprocessing.queues import Queue
from typing import Any

import uvloop

from seawall.lab import traffic as tr
from seawall.lab.flood import Flood, FloodSpec
from seawall.lab.origin_data import FAMOUS, generate, password_for
from seawall.lab.siege import BOT, BotCounts, botnet, people_jobs
from seawall.lab.siege_plan import BotPlan, PeoplePlan
from seawall.lab.slow import SlowAttack, SlowKind, run_slow
from seawall.lab.wire import Target

REPORT_EVERY_S = 0.5
Message = tuple[str, int, Any]


@dataclass(frozen=True, slots=True)
class LegitPlan:
    browsers: tuple[str, ...] = ()
    api_apps: tuple[tuple[str, str], ...] = ()  # (address, bearer token)
    api_interval_s: float = 1.0
    sms: tuple[str, float] | None = None  # (address, posts/s)
    crowd: tuple[tuple[str, float], ...] = ()  # (address, arrival offset in seconds)


@dataclass(frozen=True, slots=True)
class SlowPlan:
    kind: SlowKind
    addresses: tuple[str, ...]
    per_address: int
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    index: int
    target: Target
    t0: float
    duration_s: float
    seed: int
    site_seed: int
    gateway_secret: str
    legit: LegitPlan = field(default_factory=LegitPlan)
    floods: tuple[FloodSpec, ...] = ()
    slow: tuple[SlowPlan, ...] = ()
    people: PeoplePlan | None = None  # an account siege's people and owners
    bots: BotPlan | None = None  # an account siege's botnet


def site_for(seed: int) -> tr.Site:
    data = generate(seed)
    names = tuple(u.name for u in data.users)
    famous_id = next(u.id for u in data.users if u.name == FAMOUS)
    posts = tuple(p.id for p in data.posts if p.user_id == famous_id)[:50]
    return tr.Site(names, {n: password_for(n, seed) for n in names}, FAMOUS, posts)


def _legit_tasks(plan: WorkerPlan, rep: tr.Reporter) -> list[Coroutine[Any, Any, None]]:
    lp, until, rng = plan.legit, plan.t0 + plan.duration_s, random.Random(plan.seed)
    site = site_for(plan.site_seed)

    def client(addr: str, klass: str, policy: tr.Policy) -> tr.Client:
        return tr.Client(plan.target, addr, klass, policy, rep, random.Random(rng.random()))

    jobs: list[Coroutine[Any, Any, None]] = []
    for i, addr in enumerate(lp.browsers):
        jobs.append(
            _staggered(
                tr.browse(client(addr, "browser", tr.BROWSER), site, until, signs_in=i % 3 == 0),
                rng.uniform(0, 2),
            )
        )
    for addr, token in lp.api_apps:
        jobs.append(
            _staggered(
                tr.api_app(client(addr, "api_app", tr.API_APP), token, lp.api_interval_s, until),
                rng.uniform(0, 1),
            )
        )
    if lp.sms is not None:
        addr, rate = lp.sms
        jobs.append(
            tr.sms_gateway(
                client(addr, "sms_gateway", tr.GATEWAY), plan.gateway_secret, rate, until
            )
        )
    for addr, offset in lp.crowd:
        visit = tr.visit_famous(client(addr, "flash_crowd", tr.BROWSER), site, until)
        jobs.append(_at(visit, plan.t0 + offset))
    return jobs


async def _staggered(job: Coroutine[Any, Any, None], delay: float) -> None:
    await asyncio.sleep(delay)
    await job


async def _at(job: Coroutine[Any, Any, None], when: float) -> None:
    await asyncio.sleep(max(0.0, when - time.time()))
    await job


async def _slow(plan: WorkerPlan, sp: SlowPlan) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, plan.t0 + sp.start_s - time.time()))
    path = "/login" if sp.kind is SlowKind.SLOW_POST else f"/users/{FAMOUS}"  # a form takes posts
    attack = SlowAttack(sp.kind, sp.addresses, sp.per_address, 1.0, path, tr.HOST)
    result = await run_slow(plan.target, attack, max(0.1, sp.end_s - sp.start_s))
    return plain(result)


def plain(record: Any) -> dict[str, Any]:
    """A dataclass as a dict, Counters as plain dicts (`asdict` would mangle them)."""
    out = {f.name: getattr(record, f.name) for f in fields(record)}
    return {k: dict(v) if isinstance(v, Counter) else v for k, v in out.items()}


async def _report(rep: tr.Reporter, queue: Queue[Message], index: int) -> None:
    while True:
        await asyncio.sleep(REPORT_EVERY_S)
        if batch := rep.drain():
            queue.put(("attempts", index, batch))


def _people(
    plan: WorkerPlan, rep: tr.Reporter, counts: Counter[str]
) -> list[Coroutine[Any, Any, None]]:
    if plan.people is None:
        return []
    until, rng = plan.t0 + plan.duration_s, random.Random(plan.seed + 1)
    return people_jobs(plan.people, plan.target, rep, plan.site_seed, until, rng, counts)


def _siege_reports(
    plan: WorkerPlan, queue: Queue[Message], bots: asyncio.Task[None] | None, c: _SiegeCounts
) -> None:
    if bots is not None:
        if not bots.cancelled() and bots.done() and (exc := bots.exception()) is not None:
            queue.put(("error", plan.index, f"account siege bots: {exc!r}"))
        queue.put(("flood", plan.index, (BOT, plain(c.bots) | {"done": bots.done()})))
    if plan.bots is not None:  # takeovers belong with the accounts' figures
        c.people["breached_tries"] += c.bots.breached_tries
        c.people["takeovers"] += c.bots.takeovers
    if plan.people is not None or plan.bots is not None:
        queue.put(("accounts", plan.index, dict(c.people)))


@dataclass(slots=True)
class _SiegeCounts:
    people: Counter[str] = field(default_factory=Counter)
    bots: BotCounts = field(default_factory=BotCounts)


def _botnet(plan: WorkerPlan, counts: BotCounts) -> asyncio.Task[None] | None:
    if plan.bots is None:
        return None
    job = botnet(plan.bots, plan.target, plan.t0, plan.seed, counts)
    return asyncio.create_task(job, name="lab-siege-bots")


async def run_plan(plan: WorkerPlan, queue: Queue[Message]) -> None:
    rep, siege = tr.Reporter(plan.t0), _SiegeCounts()
    reporter = asyncio.create_task(_report(rep, queue, plan.index), name="lab-report")
    legit = _legit_tasks(plan, rep) + _people(plan, rep, siege.people)
    jobs = [asyncio.create_task(j, name=f"lab-legit-{i}") for i, j in enumerate(legit)]
    bots = _botnet(plan, siege.bots)
    floods = [
        Flood(f, plan.target, plan.t0, plan.seed * 1000 + i) for i, f in enumerate(plan.floods)
    ]
    flood_tasks = [
        asyncio.create_task(f.run(), name=f"lab-flood-{i}") for i, f in enumerate(floods)
    ]
    slow_tasks = [
        asyncio.create_task(_slow(plan, s), name=f"lab-slow-{i}") for i, s in enumerate(plan.slow)
    ]
    grace = plan.t0 + plan.duration_s + 15.0 - time.time()
    everything = [*jobs, *flood_tasks, *slow_tasks, *([bots] if bots else [])]
    if everything:
        _, late = await asyncio.wait(everything, timeout=max(1.0, grace))
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    reporter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reporter
    if batch := rep.drain():
        queue.put(("attempts", plan.index, batch))
    for f, task in zip(floods, flood_tasks, strict=True):
        queue.put(("flood", plan.index, (f.spec.klass, plain(f.counts) | {"done": task.done()})))
    _siege_reports(plan, queue, bots, siege)
    for s, task in zip(plan.slow, slow_tasks, strict=True):
        if task.cancelled():
            queue.put(("error", plan.index, f"{s.kind}: did not end within the grace"))
        elif (exc := task.exception()) is not None:
            queue.put(("error", plan.index, f"{s.kind}: {exc!r}"))
        else:
            queue.put(("slow", plan.index, (s.kind.value, task.result())))


def worker_main(plan: WorkerPlan, queue: Queue[Message]) -> None:
    """The process entry point."""
    try:
        uvloop.run(run_plan(plan, queue))
    except BaseException:
        queue.put(("error", plan.index, traceback.format_exc()))
        raise
    finally:
        queue.put(("done", plan.index, None))
