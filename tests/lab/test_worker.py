"""One traffic process, run in this process against the real lab origin on loopback."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from seawall.lab.accounts_data import identities
from seawall.lab.flood import FloodCounts, FloodSpec, Style
from seawall.lab.origin import DEFAULT_SECRETS, make_app_token, start_origin
from seawall.lab.origin_data import FAMOUS, NO_COSTS, generate
from seawall.lab.scorecard import Attempt, ClientOutcome
from seawall.lab.siege_plan import BotPlan, Journey, Owner, Path, PeoplePlan
from seawall.lab.wire import Presentation, Target
from seawall.lab.worker import (
    LegitPlan,
    Message,
    WorkerPlan,
    plain,
    run_plan,
    site_for,
    worker_main,
)

BROWSERS = ("198.51.100.11", "198.51.100.12")
APP = "198.51.100.21"
SMS = "198.51.100.31"
CROWD = "198.51.100.41"
BOTS = ("203.0.113.1", "203.0.113.2", "203.0.113.3")


@dataclass
class ListQueue:
    """What `run_plan` needs of a multiprocessing queue: `put`."""

    items: list[Message] = field(default_factory=list)

    def put(self, item: Message) -> None:
        self.items.append(item)


def test_site_for_knows_cyxymu_and_his_posts() -> None:
    site = site_for(7)
    data = generate(7)
    assert site.users[0] == FAMOUS == site.famous
    assert site.users == tuple(u.name for u in data.users)
    assert set(site.passwords) == set(site.users)
    famous_id = next(u.id for u in data.users if u.name == FAMOUS)
    by_id = {p.id: p for p in data.posts}
    assert 0 < len(site.famous_posts) <= 50
    assert all(by_id[i].user_id == famous_id for i in site.famous_posts)
    assert site_for(7) == site  # the same dataset in every process


def test_plain_keeps_counters_as_plain_dicts() -> None:
    counts = FloodCounts(Counter({3: 5}), Counter({200: 4, 503: 1}), sessions=2, dropped=1)
    out = plain(counts)
    assert out == {
        "sent_by_second": {3: 5},
        "statuses": {200: 4, 503: 1},
        "sessions": 2,
        "connect_errors": 0,
        "dropped": 1,
        "shortfall": 0,
        "cut_short": 0,
    }
    assert type(out["sent_by_second"]) is dict and type(out["statuses"]) is dict


def _plan(port: int, t0: float, duration: float) -> WorkerPlan:
    user = site_for(7).users[1]
    token = make_app_token(DEFAULT_SECRETS, "app-0", user, ttl=600)
    legit = LegitPlan(BROWSERS, ((APP, token),), 0.5, (SMS, 5.0), ((CROWD, 0.3),))
    flood = FloodSpec("botnet", Style.MIRAI, BOTS, 100.0, 0.5, 1.5, (f"/users/{FAMOUS}", "/"))
    target = Target("127.0.0.1", port, Presentation.REAL_IP_HEADER)
    return WorkerPlan(
        3, target, t0, duration, 11, 7, DEFAULT_SECRETS.gateway, legit=legit, floods=(flood,)
    )


def test_run_plan_reports_every_class_and_the_flood_then_ends() -> None:
    duration = 2.5
    q = ListQueue()

    async def main() -> tuple[float, float, dict[str, Any]]:
        origin = await start_origin(costs=NO_COSTS)
        try:
            t0 = time.time() + 0.2
            await asyncio.wait_for(run_plan(_plan(origin.port, t0, duration), q), 30)  # type: ignore[arg-type]
            return t0, time.time(), origin.stats.snapshot()
        finally:
            await origin.close()

    t0, ended, stats = asyncio.run(main())
    # every job ends with the scenario (the grace is 15 s past it; nothing needed it)
    assert ended - t0 < duration + 5.0
    kinds = [m[0] for m in q.items]
    assert set(kinds) == {"attempts", "flood"}
    assert all(m[1] == 3 for m in q.items)
    assert kinds[-1] == "flood" and kinds.count("flood") == 1
    attempts: list[Attempt] = [a for m in q.items if m[0] == "attempts" for a in m[2]]
    by_class = Counter(a.klass for a in attempts)
    assert set(by_class) == {"browser", "api_app", "sms_gateway", "flash_crowd"}
    assert by_class["sms_gateway"] >= 8  # 5/s for 2.5 s
    assert by_class["api_app"] >= 3  # every 0.5 s
    assert by_class["browser"] >= 2
    assert all(a.legit and 0 <= a.t < duration + 5 for a in attempts)
    ok = Counter(a.klass for a in attempts if a.outcome is ClientOutcome.SUCCEEDED)
    assert ok == by_class, [a for a in attempts if a.outcome is not ClientOutcome.SUCCEEDED]

    _, _, (klass, counts) = q.items[-1]
    assert klass == "botnet"
    assert counts["done"] is True
    sent = sum(counts["sent_by_second"].values())
    assert 90 <= sent <= 110  # 100 req/s for 1 s
    assert set(counts["sent_by_second"]) <= {0, 1, 2}
    assert sum(counts["statuses"].values()) == sent
    assert counts["statuses"].get(200, 0) > 0
    assert counts["dropped"] == counts["shortfall"] == counts["connect_errors"] == 0
    # every client presented its own address to the origin, and only those
    seen = stats["addresses"]
    assert set(seen) == {*BROWSERS, APP, SMS, CROWD, *BOTS}
    assert sum(seen[b] for b in BOTS) == sent


def test_worker_main_reports_a_failure_and_still_says_done() -> None:
    flood = FloodSpec("botnet", Style.MIRAI, BOTS, 10.0, 0.0, 1.0, ("/",))
    off_box = Target("192.0.2.1", 80, Presentation.PROXY_V2)  # lab traffic is loopback only
    plan = WorkerPlan(5, off_box, time.time(), 5.0, 1, 7, "s", floods=(flood,))
    q = ListQueue()
    with pytest.raises(ValueError, match="loopback only"):
        worker_main(plan, q)  # type: ignore[arg-type]
    assert [m[:2] for m in q.items] == [("error", 5), ("done", 5)]
    assert "loopback only" in q.items[0][2]


def test_run_plan_carries_an_account_siege_and_reports_its_counts() -> None:
    people = identities(7, 300, 10)
    journeys = tuple(
        Journey(0.1 * k, f"198.51.100.{50 + k}", people[-k - 1].name, Path.RIGHT, 0, False)
        for k in range(3)
    )
    owner = Owner(people[5].name, ("198.51.100.60",))
    who = PeoplePlan(journeys, (owner,), (0.5, 0.8), 10.0, (people[1].name,))
    ids = (people[5].email, people[5].phone)
    bots = BotPlan(BOTS, (people[5].name,), ((0,),) * 3, 0.2, 1.2, 6.0, 4.0, ids, ("x@y.example",))
    q = ListQueue()

    async def main() -> None:
        origin = await start_origin(costs=NO_COSTS, quiet_users=10)
        try:
            target = Target("127.0.0.1", origin.port, Presentation.REAL_IP_HEADER)
            plan = WorkerPlan(2, target, time.time() + 0.1, 1.5, 3, 7, "s", people=who, bots=bots)
            await asyncio.wait_for(run_plan(plan, q), 30)  # type: ignore[arg-type]
        finally:
            await origin.close()

    asyncio.run(main())
    kinds = [m[0] for m in q.items]
    assert kinds[-2:] == ["flood", "accounts"]
    _, _, (klass, counts) = q.items[-2]
    assert klass == "account_siege" and counts["done"] is True
    assert (
        sum(counts["sent_by_second"].values())
        == counts["guesses"] + counts["lookups"] + (counts["resets"])
        > 0
    )
    assert q.items[-1][2]["journeys"] == 3 and q.items[-1][2]["owner_signed_in"] >= 1
    attempts: list[Attempt] = [a for m in q.items if m[0] == "attempts" for a in m[2]]
    assert Counter(a.klass for a in attempts)["account_user"] == 3
    assert all(a.outcome is ClientOutcome.SUCCEEDED for a in attempts)
