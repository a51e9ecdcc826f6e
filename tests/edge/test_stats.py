"""Worker counters: histogram buckets, plain-data snapshots, and summing across workers."""

from __future__ import annotations

import copy
import pickle
from collections import Counter
from typing import Any

import pytest

from seawall.core.facts import ClientClass
from seawall.core.verdict import Action
from seawall.edge.stats import LATENCY_BUCKETS, EdgeStats, Histogram, OriginHealth, merge

OVERFLOW = len(LATENCY_BUCKETS)


@pytest.mark.parametrize(("index", "bound"), list(enumerate(LATENCY_BUCKETS)))
def test_a_value_equal_to_a_bound_goes_into_that_bucket(index: int, bound: float) -> None:
    h = Histogram()
    h.observe(bound)
    h.observe(bound * 1.0001)  # just above: the next bucket
    expected = [0] * (OVERFLOW + 1)
    expected[index] += 1
    expected[index + 1] += 1
    assert h.counts == expected


def test_histogram_edges_and_sum() -> None:
    h = Histogram()
    assert len(h.counts) == len(LATENCY_BUCKETS) + 1
    for v in (0.0, 0.0001, 60.0, 1e9):
        h.observe(v)
    assert h.counts[0] == 2
    assert h.counts[OVERFLOW] == 2
    assert sum(h.counts) == 4
    assert h.sum == pytest.approx(0.0001 + 60.0 + 1e9)


def _busy(stats: EdgeStats) -> EdgeStats:
    stats.requests[(Action.ALLOW, ClientClass.ANONYMOUS, "home")] += 3
    stats.requests[(Action.BLOCK, ClientClass.ANONYMOUS, "login")] += 1
    stats.statuses[200] += 3
    stats.statuses[403] += 1
    stats.client_errors["bad_request"] += 1
    stats.origin_errors["connect"] += 2
    stats.observe_latency("home", 0.003)
    stats.observe_latency("home", 0.2)
    stats.origin_latency.observe(0.002)
    stats.connections_total = 7
    stats.connections_open = 2
    stats.connections_refused["per_address"] += 1
    stats.pool_created = 4
    stats.pool_reused = 9
    stats.gauges["pool_idle"] = 3
    return stats


_PLAIN = (dict, list, tuple, int, float, str)


def _assert_plain(value: Any, where: str = "snapshot") -> None:
    assert type(value) in _PLAIN, f"{where} is a {type(value).__name__}"
    if isinstance(value, dict):
        for k, v in value.items():
            _assert_plain(k, f"{where} key {k!r}")
            _assert_plain(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _assert_plain(v, f"{where}[{i}]")


def test_snapshot_is_plain_picklable_data() -> None:
    snap = _busy(EdgeStats()).snapshot()
    _assert_plain(snap)  # labels, not enums: nothing of seawall's needed to unpickle
    assert pickle.loads(pickle.dumps(snap)) == snap
    assert snap["requests"] == {
        ("allow", "anonymous", "home"): 3,
        ("block", "anonymous", "login"): 1,
    }
    counts, total = snap["latency"]["home"]
    assert sum(counts) == 2 and total == pytest.approx(0.203)


def test_snapshot_is_a_copy() -> None:
    stats = _busy(EdgeStats())
    snap = stats.snapshot()
    before = copy.deepcopy(snap)
    stats.statuses[200] += 1
    stats.observe_latency("home", 0.01)
    stats.gauges["pool_idle"] = 99
    assert snap == before


def test_merge_of_nothing_is_zeros() -> None:
    out = merge([])
    assert out == EdgeStats().snapshot()
    assert out["connections_total"] == 0
    assert out["origin_latency"] == ([0] * (OVERFLOW + 1), 0.0)
    assert out["requests"] == {} and out["latency"] == {} and out["gauges"] == {}


def test_merge_sums_counters_histograms_gauges_and_nested_dicts() -> None:
    a = _busy(EdgeStats()).snapshot()
    b_stats = EdgeStats()
    b_stats.requests[(Action.ALLOW, ClientClass.ANONYMOUS, "home")] += 2
    b_stats.requests[(Action.ALLOW, ClientClass.USER, "api")] += 5
    b_stats.statuses[200] += 7
    b_stats.observe_latency("home", 0.003)
    b_stats.observe_latency("api", 3.0)
    b_stats.origin_latency.observe(10.0)
    b_stats.connections_total = 1
    b_stats.gauges["pool_idle"] = 4
    b_stats.gauges["recorder_dropped"] = 1
    b = b_stats.snapshot()
    c = EdgeStats().snapshot()  # an idle worker
    inputs = copy.deepcopy([a, b, c])

    out = merge([a, b, c])

    assert out["requests"] == {
        ("allow", "anonymous", "home"): 5,
        ("block", "anonymous", "login"): 1,
        ("allow", "user", "api"): 5,
    }
    assert out["statuses"] == {200: 10, 403: 1}
    assert out["client_errors"] == {"bad_request": 1}
    assert out["origin_errors"] == {"connect": 2}
    assert out["connections_total"] == 8
    assert out["connections_open"] == 2
    assert out["connections_refused"] == {"per_address": 1}
    assert (out["pool_created"], out["pool_reused"]) == (4, 9)
    assert out["gauges"] == {"pool_idle": 7, "recorder_dropped": 1}

    home_counts, home_sum = out["latency"]["home"]
    assert home_counts == [
        x + y for x, y in zip(a["latency"]["home"][0], b["latency"]["home"][0], strict=True)
    ]
    assert sum(home_counts) == 3
    assert home_sum == pytest.approx(0.206)
    assert out["latency"]["api"] == b["latency"]["api"]  # a route only one worker saw
    origin_counts, origin_sum = out["origin_latency"]
    assert sum(origin_counts) == 2 and origin_counts[OVERFLOW] == 1
    assert origin_sum == pytest.approx(10.002)

    assert [a, b, c] == inputs  # the inputs are left alone
    _assert_plain(out)


def test_merge_equals_one_worker_seeing_everything() -> None:
    total = EdgeStats()
    parts = [EdgeStats() for _ in range(3)]
    for i in range(30):
        for s in (total, parts[i % 3]):
            s.statuses[200 + i % 2] += 1
            s.observe_latency(f"r{i % 4}", i / 100)
            s.origin_latency.observe(i / 1000)
            s.connections_total += 1
    merged = merge([p.snapshot() for p in parts])
    expected = total.snapshot()
    assert Counter(merged["statuses"]) == Counter(expected["statuses"])
    assert merged["connections_total"] == expected["connections_total"] == 30
    for route, (counts, total_s) in expected["latency"].items():
        assert merged["latency"][route][0] == counts
        assert merged["latency"][route][1] == pytest.approx(total_s)
    assert merged["origin_latency"][0] == expected["origin_latency"][0]


def test_origin_health_keeps_an_ewma_a_p90_and_failures() -> None:
    h = OriginHealth()
    assert h.p90() == 0.0
    for ms in range(1, 11):
        h.observe(ms / 1000, error=ms == 10)
    assert h.p90() == 0.010  # nearest rank over the last samples
    assert 0.002 < h.ewma < 0.006  # follows the samples, smoothed
    assert h.errors == 1
    for _ in range(300):
        h.observe(0.001, error=False)
    assert len(h.recent) == OriginHealth.WINDOW and h.p90() == 0.001  # a bounded window
    h.failed("connect")
    h.failed("connect")
    assert h.failures == {"connect": 2}
