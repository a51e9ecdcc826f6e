"""`seawall lab run`: one scenario under one protection, measured into a scorecard.

The runner owns the labels: it draws every client's address (real ranges by country and
ASN), keeps which class each belongs to, and gives the traffic processes only the
addresses they must send from. It starts the origin (which measures its capacity), the
protection, and the traffic processes, then, every second, reads the origin's arrivals per
address and credits them to the classes by those labels. That is how `none` and every other
protection are measured the same way: by what reached the origin. A scenario with account
traffic also gets an `AccountWatch`: the webhook receiver the edge warns through, and the
scorecard's `accounts` object from what the edge reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import queue as queue_mod
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from seawall.lab import plan as lab_plan
from seawall.lab.addresses import Labels
from seawall.lab.procs import OriginProcess, protection
from seawall.lab.scenarios import Scenario
from seawall.lab.scorecard import Scorecard
from seawall.lab.siege_watch import AccountWatch
from seawall.lab.worker import Message, WorkerPlan, worker_main

POLL_S = 1.0
START_DELAY_S = 1.5  # lets every traffic process come up before the scenario clock starts
WORKER_GRACE_S = 25.0
SETTLE_S = 3.0  # after the traffic, for the edge's last warnings to be delivered


@dataclass(frozen=True, slots=True)
class RunOptions:
    scenario: Scenario
    protection: str
    duration_s: float
    seed: int = 7
    flood_processes: int = 2

    def __post_init__(self) -> None:
        if not 5 <= self.duration_s <= 3600:
            raise ValueError("duration must be between 5 and 3600 seconds")
        if not 1 <= self.flood_processes <= 8:
            raise ValueError("flood processes: 1 to 8")


@dataclass(slots=True)
class LiveView:
    """What the progress display shows: per-second counts by class."""

    t: float = 0.0
    ok: Counter[tuple[int, str]] = field(default_factory=Counter)
    fail: Counter[tuple[int, str]] = field(default_factory=Counter)
    reached: Counter[tuple[int, str]] = field(default_factory=Counter)
    utilization: float = 0.0


@dataclass(slots=True)
class _Collect:
    card: Scorecard
    labels: Labels
    live: LiveView
    reached: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    floods: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    slow: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    accounts: Counter[str] = field(default_factory=Counter)
    done: set[int] = field(default_factory=set)
    last_addresses: dict[str, int] = field(default_factory=dict)

    def take(self, msg: Message) -> None:
        kind, index, payload = msg
        if kind == "attempts":
            for a in payload:
                self.card.add(a)
                (self.live.ok if a.outcome == "succeeded" else self.live.fail)[
                    (int(a.t), a.klass)
                ] += 1
        elif kind == "flood":
            self.floods.append(payload)
        elif kind == "slow":
            self.slow.append(payload)
        elif kind == "error":
            self.errors.append(str(payload))
        elif kind == "accounts":
            self.accounts.update(payload)
        elif kind == "done":
            self.done.add(index)

    def origin_sample(self, t: float, snap: dict[str, Any], workers: int) -> None:
        sec = max(0, int(t) - 1)  # arrivals since the last poll belong to the second just ended
        addresses: dict[str, int] = snap.get("addresses", {})
        for addr, n in addresses.items():
            delta = n - self.last_addresses.get(addr, 0)
            if delta > 0:
                klass = self.labels.klass_of(addr) or "unlabelled"
                self.reached[klass][sec] += delta
                self.live.reached[(sec, klass)] += delta
        self.last_addresses = dict(addresses)
        errors = sum(v for k, v in snap.get("statuses", {}).items() if k.startswith("5"))
        in_flight = int(snap.get("in_flight", 0))
        self.live.utilization = in_flight / workers
        self.card.add_origin_sample(t, int(snap.get("arrived", 0)), in_flight, workers, errors)


async def _poll_origin(session: aiohttp.ClientSession, port: int) -> dict[str, Any] | None:
    try:
        async with session.get(f"http://127.0.0.1:{port}/_lab/stats") as r:
            data: dict[str, Any] = await r.json()
            return data
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None  # an overwhelmed origin may not answer: the next poll catches up


def _drain(q: Any, c: _Collect) -> None:
    while True:
        try:
            c.take(q.get_nowait())
        except queue_mod.Empty:
            return


async def _collect(
    opts: RunOptions,
    plans: list[WorkerPlan],
    origin: OriginProcess,
    c: _Collect,
    on_tick: Callable[[LiveView], None],
) -> None:
    ctx = mp.get_context("spawn")
    q: Any = ctx.Queue()
    procs = [
        ctx.Process(target=worker_main, args=(p, q), name=f"lab-traffic-{p.index}", daemon=True)
        for p in plans
    ]
    for p in procs:
        p.start()
    t0, end = plans[0].t0, plans[0].t0 + opts.duration_s
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        next_poll = t0
        while len(c.done) < len(procs) and time.time() < end + WORKER_GRACE_S:
            _drain(q, c)
            if time.time() >= next_poll:
                next_poll += POLL_S
                if (
                    snap := await _poll_origin(session, origin.port)
                ) is not None and time.time() >= t0:
                    c.origin_sample(time.time() - t0, snap, 16)
                c.live.t = time.time() - t0
                on_tick(c.live)
            await asyncio.sleep(0.1)
        if (snap := await _poll_origin(session, origin.port)) is not None:
            c.origin_sample(time.time() - t0, snap, 16)
    _drain(q, c)
    for p in procs:
        await asyncio.to_thread(p.join, 5.0)
        if p.is_alive():
            p.kill()


def account_watch(scenario: Scenario, seed: int) -> AccountWatch | None:
    """The run's `AccountWatch`, for a scenario with account traffic."""
    if scenario.siege is None:
        return None
    return AccountWatch(*lab_plan.siege_accounts(scenario, seed))


async def run(
    opts: RunOptions,
    on_tick: Callable[[LiveView], None] = lambda _: None,
    on_ready: Callable[[float], None] = lambda _: None,
) -> dict[str, Any]:
    """Runs the scenario and returns the scorecard dict (with the lab's extras)."""
    siege, watch = opts.scenario.siege, account_watch(opts.scenario, opts.seed)
    # The site's dataset is SITE_SEED's in every run: the traffic signs in with its passwords.
    quiet = siege.quiet_accounts if siege is not None else 0
    origin = await OriginProcess(lab_plan.SITE_SEED, quiet_users=quiet).start()
    try:
        on_ready(origin.capacity)
        drawn = lab_plan.draw_addresses(opts.scenario, opts.seed)
        incidents: list[dict[str, Any]] = []
        async with contextlib.AsyncExitStack() as stack:
            edge_accounts = None
            if watch is not None:
                edge_accounts = await stack.enter_async_context(watch.receiving())
            campaigns = watch.campaigns if watch is not None else None
            target = await stack.enter_async_context(
                protection(
                    opts.protection, origin.port, drawn.sms, incidents, edge_accounts, campaigns
                )
            )
            plans = lab_plan.worker_plans(
                opts, drawn, target, origin.capacity, time.time() + START_DELAY_S
            )
            c = _Collect(Scorecard(random.Random(opts.seed)), drawn.labels, LiveView())
            await _collect(opts, plans, origin, c, on_tick)
            if watch is not None and opts.protection == "seawall":
                await asyncio.sleep(SETTLE_S)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(origin.stop)
    res = lab_plan.result(opts, c.card, c, drawn, origin.capacity)
    res["incidents"] = incidents
    if watch is not None:
        starts = [p["start_s"] for p in res.get("phases", []) if p["name"] == "account_siege"]
        begun = plans[0].t0 + starts[0] if starts and plans else None
        res["accounts"] = watch.score(c.accounts, begun)
    return res
