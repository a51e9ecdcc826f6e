"""The runner's bookkeeping: options, messages from traffic processes, origin samples by label."""

from __future__ import annotations

import asyncio
import queue
import random
from collections import Counter
from typing import Any

import aiohttp
import pytest

from seawall.lab.addresses import Labels
from seawall.lab.procs import free_port
from seawall.lab.runner import LiveView, RunOptions, _Collect, _drain, _poll_origin
from seawall.lab.scenarios import get_scenario
from seawall.lab.scorecard import Attempt, ClientOutcome, Scorecard, validate_scorecard

CYXYMU = get_scenario("cyxymu-2009")


@pytest.mark.parametrize("duration", [5.0, 20.0, 3600.0])
def test_run_options_take_a_sane_duration(duration: float) -> None:
    opts = RunOptions(CYXYMU, "none", duration)
    assert (opts.seed, opts.flood_processes) == (7, 2)


@pytest.mark.parametrize("duration", [4.99, 0.0, -5.0, 3600.5, float("nan")])
def test_run_options_refuse_other_durations(duration: float) -> None:
    with pytest.raises(ValueError, match="duration must be between 5 and 3600"):
        RunOptions(CYXYMU, "none", duration)


@pytest.mark.parametrize("processes", [0, -1, 9])
def test_run_options_bound_the_flood_processes(processes: int) -> None:
    with pytest.raises(ValueError, match="flood processes: 1 to 8"):
        RunOptions(CYXYMU, "none", 20.0, flood_processes=processes)
    assert RunOptions(CYXYMU, "none", 20.0, flood_processes=8).flood_processes == 8


def collect() -> _Collect:
    labels = Labels()
    labels.add(["198.51.100.1", "198.51.100.2"], "browser")
    labels.add(["203.0.113.1", "203.0.113.2"], "botnet")
    return _Collect(Scorecard(random.Random(1)), labels, LiveView())


def test_take_sorts_each_message_where_it_belongs() -> None:
    c = collect()
    ok, err = ClientOutcome.SUCCEEDED, ClientOutcome.ERROR
    batch = [
        Attempt(0.4, "browser", True, ok, 0.05),
        Attempt(1.9, "browser", True, ok, 0.07),
        Attempt(1.1, "browser", True, err, 1.0),
        Attempt(1.5, "api_app", True, ok, 0.02),
    ]
    c.take(("attempts", 0, batch))
    c.take(("flood", 1, ("botnet", {"sent_by_second": {3: 10}})))
    c.take(("slow", 0, ("slowloris", {"opened": 4})))
    c.take(("error", 2, "Traceback ..."))
    c.take(("done", 1, None))
    c.take(("done", 2, None))
    c.take(("nonsense", 3, None))  # ignored
    assert c.live.ok == Counter({(0, "browser"): 1, (1, "browser"): 1, (1, "api_app"): 1})
    assert c.live.fail == Counter({(1, "browser"): 1})
    assert c.floods == [("botnet", {"sent_by_second": {3: 10}})]
    assert c.slow == [("slowloris", {"opened": 4})]
    assert c.errors == ["Traceback ..."]
    assert c.done == {1, 2}
    res = c.card.result("cyxymu-2009", "none", 7, 5.0, 400.0, None, 0, {}, {})
    assert res["classes"]["browser"]["sent"] == 3
    assert res["classes"]["browser"]["succeeded"] == 2
    assert res["classes"]["api_app"]["sent"] == 1
    assert validate_scorecard(res) == []


def snap(arrived: int, addresses: dict[str, int], in_flight: int = 0, **statuses: int) -> Any:
    return {
        "arrived": arrived,
        "in_flight": in_flight,
        "addresses": addresses,
        "statuses": {k.removeprefix("s"): v for k, v in statuses.items()},
    }


def test_origin_samples_credit_per_address_deltas_to_the_labelled_class() -> None:
    c = collect()
    b1, b2, bot1, bot2, stranger = (
        "198.51.100.1",
        "198.51.100.2",
        "203.0.113.1",
        "203.0.113.2",
        "192.0.2.50",
    )
    c.origin_sample(0.3, snap(0, {}), 16)  # nothing yet; second 0 at the start
    c.origin_sample(1.1, snap(9, {b1: 2, bot1: 5, stranger: 2}, 4, s200=7, s503=2), 16)
    c.origin_sample(2.05, snap(30, {b1: 3, b2: 1, bot1: 15, bot2: 4, stranger: 2}, 16, s503=2), 16)
    c.origin_sample(3.2, snap(41, {b1: 3, b2: 1, bot1: 25, bot2: 5, stranger: 3}, 8, s503=9), 16)

    # arrivals since the last poll belong to the second that just ended
    assert dict(c.reached["browser"]) == {0: 2, 1: 2}
    assert dict(c.reached["botnet"]) == {0: 5, 1: 14, 2: 11}
    assert dict(c.reached["unlabelled"]) == {0: 2, 2: 1}
    assert sum(sum(v.values()) for v in c.reached.values()) == 3 + 1 + 25 + 5 + 3
    assert c.live.reached[(1, "botnet")] == 14 and c.live.reached[(2, "unlabelled")] == 1
    assert c.live.utilization == 0.5  # 8 of 16 busy at the last sample
    assert c.last_addresses[bot1] == 25

    res = c.card.result("cyxymu-2009", "none", 7, 5.0, 400.0, None, 0, {}, {})
    # running totals from the last sample; errors are the 5xx statuses; peak 16/16
    assert res["origin"] == {"requests": 41, "peak_utilization": 1.0, "errors": 9}


def test_an_origin_counter_that_did_not_grow_credits_nothing() -> None:
    c = collect()
    c.origin_sample(1.0, snap(5, {"203.0.113.1": 5}), 16)
    c.origin_sample(2.0, snap(5, {"203.0.113.1": 5}), 16)
    c.origin_sample(3.0, snap(6, {"203.0.113.1": 4, "198.51.100.1": 1}), 16)  # fewer: no credit
    assert dict(c.reached["botnet"]) == {0: 5}
    assert dict(c.reached["browser"]) == {2: 1}


def test_drain_takes_everything_waiting() -> None:
    q: queue.Queue[Any] = queue.Queue()
    for i in range(3):
        q.put(("done", i, None))
    q.put(("error", 0, "x"))
    c = collect()
    _drain(q, c)
    assert c.done == {0, 1, 2} and c.errors == ["x"]
    assert q.empty()


def test_poll_origin_gives_none_when_nobody_answers() -> None:
    async def main() -> Any:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
            return await _poll_origin(s, free_port())

    assert asyncio.run(main()) is None
