"""The lab scorecard: counting rules, leak, time to mitigate, percentiles and validation."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from seawall.lab.account_score import account_scores
from seawall.lab.scorecard import (
    Attempt,
    ClientOutcome,
    Reservoir,
    Scorecard,
    nearest_rank,
    time_to_mitigate,
    validate_scorecard,
)

OK = ClientOutcome.SUCCEEDED


def _transcript() -> dict[str, Any]:
    """Two legitimate classes and a botnet over three seconds, with hand-computed totals."""
    sc = Scorecard(rng=random.Random(7))
    for a in (
        Attempt(0.2, "browser", True, OK, 0.010, reached_origin=True),
        Attempt(0.5, "browser", True, OK, 0.500, challenged=True),  # solved the challenge
        Attempt(1.1, "browser", True, ClientOutcome.CHALLENGED, 2.0),  # never solved it
        Attempt(1.5, "browser", True, ClientOutcome.BLOCKED, 0.001),
        Attempt(0.1, "api_app", True, OK, 1.0, throttled=True),  # honoured Retry-After
        Attempt(1.2, "api_app", True, ClientOutcome.THROTTLED, 3.0, throttled=True),  # gave up
        Attempt(2.3, "api_app", True, ClientOutcome.ERROR, 0.2),
        Attempt(2.9, "api_app", True, ClientOutcome.TIMEOUT, 10.0),
        Attempt(0.3, "botnet", False, ClientOutcome.BLOCKED, 0.001),
        Attempt(1.3, "botnet", False, ClientOutcome.BLOCKED, 0.001),
        Attempt(1.4, "botnet", False, OK, 0.001),
    ):
        sc.add(a)
    sc.add_origin_sample(1.0, requests=100, in_flight=4, capacity=16, errors=0)
    sc.add_origin_sample(2.0, requests=250, in_flight=20, capacity=16, errors=3)
    sc.add_origin_sample(3.0, requests=300, in_flight=8, capacity=16, errors=5)
    return sc.result(
        scenario="cyxymu-2009",
        protection="none",
        seed=7,
        duration_s=3.0,
        origin_capacity_rps=400.0,
        attack_start_s=0.0,
        attack_sent=300,
        attack_reached_origin_by_second={0: 50, 1: 10, 2: 1},
        attack_sent_by_second={0: 100, 1: 100, 2: 100},
    )


def test_transcript_class_arithmetic() -> None:
    card = _transcript()
    assert card["classes"]["browser"] == {
        "sent": 4,
        "succeeded": 2,
        "success_rate": 0.5,
        "challenged": 2,  # the solved one and the abandoned one
        "throttled": 0,
        "blocked": 1,
        "errors": 0,
        "timeouts": 0,
        "gave_up": 1,
        "reached_origin": 1,
        "p50_ms": 10.0,
        "p99_ms": 500.0,
    }
    assert card["classes"]["api_app"] == {
        "sent": 4,
        "succeeded": 1,
        "success_rate": 0.25,
        "challenged": 0,
        "throttled": 2,  # the patient one (succeeded) and the one that gave up
        "blocked": 0,
        "errors": 1,
        "timeouts": 1,
        "gave_up": 1,
        "reached_origin": 0,
        "p50_ms": 1000.0,
        "p99_ms": 1000.0,
    }
    assert "botnet" not in card["classes"]
    assert list(card["classes"]) == ["api_app", "browser"]


def test_transcript_attack_origin_and_header() -> None:
    card = _transcript()
    assert card["scenario"] == "cyxymu-2009" and card["protection"] == "none"
    assert card["seed"] == 7 and card["duration_s"] == 3.0
    assert card["origin_capacity_rps"] == 400.0
    assert card["attack"] == {"sent": 300, "reached_origin": 61, "leak_rate": 61 / 300}
    # second 0 and 1 leak (50/100, 10/100), second 2 does not (1/100 < 5%)
    assert card["time_to_mitigate_s"] == 2.0
    assert card["origin"] == {"requests": 300, "peak_utilization": 1.25, "errors": 5}


def test_transcript_timeline() -> None:
    card = _transcript()
    assert card["timeline"] == [
        {
            "t": 0,
            "api_app_ok": 1,
            "api_app_fail": 0,
            "browser_ok": 2,
            "browser_fail": 0,
            "botnet_sent": 1,
            "attack_sent": 100,
            "attack_reached_origin": 50,
        },
        {
            "t": 1,
            "api_app_ok": 0,
            "api_app_fail": 1,
            "browser_ok": 0,
            "browser_fail": 2,
            "botnet_sent": 2,
            "attack_sent": 100,
            "attack_reached_origin": 10,
        },
        {
            "t": 2,
            "api_app_ok": 0,
            "api_app_fail": 2,
            "browser_ok": 0,
            "browser_fail": 0,
            "botnet_sent": 0,
            "attack_sent": 100,
            "attack_reached_origin": 1,
        },
    ]


def test_transcript_is_valid_and_survives_json() -> None:
    card = _transcript()
    assert validate_scorecard(card) == []
    again = json.loads(json.dumps(card))
    assert again == card
    assert validate_scorecard(again) == []


def test_never_mitigated_is_null_in_json() -> None:
    sc = Scorecard(rng=random.Random(1))
    card = sc.result(
        "mirai-2025", "none", 1, 2.0, 400.0, 0.0, 200, {0: 90, 1: 90}, {0: 100, 1: 100}
    )
    assert card["time_to_mitigate_s"] is None
    assert '"time_to_mitigate_s": null' in json.dumps(card)
    assert card["attack"]["leak_rate"] == 0.9
    assert validate_scorecard(card) == []


def test_empty_scorecard_without_attack_is_valid() -> None:
    card = Scorecard(rng=random.Random(1)).result(
        "flash-crowd", "seawall", 1, 2.5, 400.0, None, 0, {}, {}
    )
    assert card["attack"] == {"sent": 0, "reached_origin": 0, "leak_rate": 0.0}
    assert card["time_to_mitigate_s"] == 0.0
    assert card["origin"] == {"requests": 0, "peak_utilization": 0.0, "errors": 0}
    assert [r["t"] for r in card["timeline"]] == [0, 1, 2]
    assert validate_scorecard(card) == []


def _seconds(first: int, last: int, n: int) -> dict[int, int]:
    return dict.fromkeys(range(first, last + 1), n)


def test_time_to_mitigate_never_leaks() -> None:
    sent = _seconds(10, 20, 1000)
    assert time_to_mitigate(10.0, sent, _seconds(10, 20, 49)) == 0.0
    assert time_to_mitigate(10.0, sent, {}) == 0.0


def test_time_to_mitigate_at_three_seconds() -> None:
    sent = _seconds(10, 20, 1000)
    reached = _seconds(10, 12, 800) | _seconds(13, 20, 10)
    assert time_to_mitigate(10.0, sent, reached) == 3.0


def test_time_to_mitigate_leaks_again_later() -> None:
    sent = _seconds(10, 20, 1000)
    reached = _seconds(10, 12, 800) | _seconds(13, 20, 10) | {16: 300}
    assert time_to_mitigate(10.0, sent, reached) == 7.0


def test_time_to_mitigate_never_mitigated() -> None:
    sent = _seconds(10, 20, 1000)
    assert time_to_mitigate(10.0, sent, _seconds(10, 20, 900)) is None
    # leaking in the last second with attack traffic is never mitigated
    assert time_to_mitigate(10.0, sent, {20: 50}) is None


def test_time_to_mitigate_threshold_and_quiet_seconds() -> None:
    # exactly 5% is a leak, just under is not
    assert time_to_mitigate(0.0, {0: 100, 1: 100}, {0: 5, 1: 4}) == 1.0
    assert time_to_mitigate(0.0, {0: 100, 1: 100}, {0: 4, 1: 4}) == 0.0
    # seconds without attack traffic neither leak nor count as mitigated
    assert time_to_mitigate(0.0, {0: 100, 1: 0, 2: 100}, {0: 50, 1: 50, 2: 0}) == 1.0
    assert time_to_mitigate(0.0, {}, {3: 50}) == 0.0
    # a fractional attack start counts from the start, not the bucket
    assert time_to_mitigate(10.5, {10: 100, 11: 100}, {10: 50}) == 0.5


def test_nearest_rank_percentiles() -> None:
    hundred = [float(v) for v in range(100, 0, -1)]
    assert nearest_rank(hundred, 50) == 50.0
    assert nearest_rank(hundred, 99) == 99.0
    assert nearest_rank(hundred, 100) == 100.0
    ten = [float(v) for v in range(1, 11)]
    assert nearest_rank(ten, 50) == 5.0
    assert nearest_rank(ten, 99) == 10.0
    assert nearest_rank([3.0], 50) == 3.0 and nearest_rank([3.0], 0) == 3.0
    assert nearest_rank([], 50) is None


def test_percentiles_only_count_successes() -> None:
    sc = Scorecard(rng=random.Random(3))
    for ms in range(1, 101):
        sc.add(Attempt(0.0, "browser", True, OK, ms / 1000))
    sc.add(Attempt(0.0, "browser", True, ClientOutcome.TIMEOUT, 30.0))
    card = sc.result("s", "p", 3, 1.0, 1.0, None, 0, {}, {})
    assert card["classes"]["browser"]["p50_ms"] == 50.0
    assert card["classes"]["browser"]["p99_ms"] == 99.0


def test_reservoir_is_bounded_uniform_and_reproducible() -> None:
    def fill(seed: int) -> Reservoir:
        r = Reservoir(cap=100)
        rng = random.Random(seed)
        for v in range(10_000):
            r.add(float(v), rng)
        return r

    r = fill(5)
    assert len(r.values) == 100 and r.seen == 10_000
    assert len(set(r.values)) == 100 and all(0 <= v < 10_000 for v in r.values)
    assert sum(1 for v in r.values if v >= 5_000) > 25  # not just the first 100
    assert fill(5).values == r.values
    assert fill(6).values != r.values


def test_scorecard_counts_beyond_the_reservoir() -> None:
    sc = Scorecard(rng=random.Random(9), reservoir_size=50)
    for i in range(1000):
        sc.add(Attempt(i / 100, "api_app", True, OK, (i + 1) / 1000))
    c = sc.result("s", "p", 9, 10.0, 1.0, None, 0, {}, {})["classes"]["api_app"]
    assert c["sent"] == 1000 and c["succeeded"] == 1000
    assert 1.0 <= c["p50_ms"] <= c["p99_ms"] <= 1000.0


def test_records_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="time"):
        Attempt(-1.0, "browser", True, OK, 0.1)
    with pytest.raises(ValueError, match="latency"):
        Attempt(1.0, "browser", True, OK, float("nan"))
    with pytest.raises(ValueError, match="class"):
        Attempt(1.0, "", True, OK, 0.1)
    sc = Scorecard(rng=random.Random(1))
    sc.add_origin_sample(2.0, requests=10, in_flight=1, capacity=16, errors=1)
    with pytest.raises(ValueError, match="time order"):
        sc.add_origin_sample(1.0, requests=20, in_flight=1, capacity=16, errors=1)
    with pytest.raises(ValueError, match="running totals"):
        sc.add_origin_sample(3.0, requests=5, in_flight=1, capacity=16, errors=1)
    with pytest.raises(ValueError, match="capacity"):
        sc.add_origin_sample(3.0, requests=20, in_flight=1, capacity=0, errors=1)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, leaf = path.split(".")

    def mutate(card: dict[str, Any]) -> None:
        node: Any = card
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[leaf] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, leaf = path.split(".")

    def mutate(card: dict[str, Any]) -> None:
        node: Any = card
        for p in parents:
            node = node[p]
        del node[leaf]

    return mutate


def _bump_ok(card: dict[str, Any]) -> None:
    card["timeline"][0]["browser_ok"] += 1


def _reverse_timeline(card: dict[str, Any]) -> None:
    card["timeline"].reverse()


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (_drop("timeline"), "missing timeline"),
        (_drop("classes.browser.p99_ms"), "missing p99_ms"),
        (_drop("attack.leak_rate"), "attack: missing"),
        (_drop("origin.errors"), "origin: missing"),
        (_set("classes.browser.succeeded", 5), "succeeded 5 > sent 4"),
        (_set("classes.browser.success_rate", 1.5), "outside [0, 1]"),
        (_set("classes.browser.success_rate", 0.75), "!= 2/4"),
        (_set("classes.browser.blocked", 2), "add up to 5, sent 4"),
        (_set("classes.browser.gave_up", 0), "add up to 3, sent 4"),
        (_set("classes.browser.challenged", 9), "challenged 9 > sent 4"),
        (_set("classes.browser.errors", -1), "errors: not a non-negative integer"),
        (_set("classes.browser.p50_ms", 900.0), "p50_ms > p99_ms"),
        (_set("classes.browser.p50_ms", None), "percentiles missing"),
        (_set("attack.reached_origin", 301), "reached_origin 301 > sent 300"),
        (_set("attack.leak_rate", 1.2), "leak_rate outside [0, 1]"),
        (_set("attack.leak_rate", 0.5), "leak_rate != reached_origin / sent"),
        (_set("time_to_mitigate_s", -1.0), "time_to_mitigate_s"),
        (_set("duration_s", 0), "duration_s"),
        (_set("origin.peak_utilization", -0.1), "peak_utilization"),
        (_set("origin.requests", "many"), "origin.requests"),
        (_bump_ok, "browser_ok/browser_fail do not add up"),
        (_reverse_timeline, "not strictly increasing"),
        (_set("classes", []), "classes: not an object"),
    ],
)
def test_validate_catches_each_inconsistency(
    mutate: Callable[[dict[str, Any]], None], needle: str
) -> None:
    card = copy.deepcopy(_transcript())
    mutate(card)
    problems = validate_scorecard(card)
    assert any(needle in p for p in problems), problems


def test_validate_rejects_non_objects() -> None:
    assert validate_scorecard([]) == ["scorecard: not an object"]
    card = _transcript()
    card["classes"]["browser"] = 3
    assert validate_scorecard(card) == ["classes.browser: not an object"]


def test_validate_checks_the_accounts_object_when_there_is_one() -> None:
    card = _transcript()
    card["accounts"] = account_scores({"t1", "t2"}, [], [], 0, {"owner_sign_ins": 0})
    assert validate_scorecard(card) == []
    card["accounts"]["campaign_recall"] = 2.0
    assert validate_scorecard(card) == ["accounts.campaign_recall: not null or in [0, 1]"]
    del card["accounts"]["warned"]
    assert validate_scorecard(card) == ["accounts: missing warned"]
