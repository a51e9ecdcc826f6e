"""One host incident from its workers' shares: joined by overlap, merged field by field."""

from __future__ import annotations

from typing import Any

from seawall.detect.sketch import BottomK, HyperLogLog
from seawall.edge.incidents import MAX_OPEN, HostIncidents, merge


def _hll(values: range) -> str:
    h = HyperLogLog(12)
    h.add_many(list(values))
    return h.registers.hex()


def report(n: int, start: float, end: float | None, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"inc-{int(start)}-{n}",
        "status": "open" if end is None else "closed",
        "start": start,
        "end": end,
        "detected": start + 1.0,
        "mitigated": start + 1.5,
        "peak_rps": 100.0,
        "targets": ["/users/x"],
        "vectors": ["http_flood"],
        "signatures": [{"rule": "auto-a", "match": "header_fp=f"}],
        "actions": [{"time": start + 1.5, "rule": "auto-a", "action": "apply", "step": "block"}],
        "sources": {"addresses": 0, "prefixes": 0, "top_prefixes": []},
        "attack_requests": 1000,
        "leak_after_mitigation": 0.01,
        "timeline": [[start + 1.0, 120.0, 100.0]],
    }
    base.update(kw)
    return base


def test_two_workers_shares_of_one_attack_are_one_incident() -> None:
    host = HostIncidents(quiet=30.0)
    w0 = report(
        1, 100.0, None, sketches={"addresses": _hll(range(0, 600)), "prefixes": _hll(range(10))}
    )
    w1 = report(
        1,
        100.4,
        None,
        detected=100.9,
        mitigated=101.2,
        peak_rps=80.0,
        attack_requests=3000,
        leak_after_mitigation=0.0,
        targets=["/users/x", "/"],
        vectors=["fingerprint_surge"],
        signatures=[{"rule": "auto-a", "match": "header_fp=f"}, {"rule": "auto-b", "match": "x"}],
        actions=[{"time": 101.2, "rule": "auto-b", "action": "apply", "step": "challenge"}],
        timeline=[[101.0, 80.0, 60.0], [102.0, 10.0, 0.0]],
        sketches={"addresses": _hll(range(400, 1000)), "prefixes": _hll(range(5, 15))},
    )
    first = host.fold(0, {**w0, "worker": 0})
    merged = host.fold(1, {**w1, "worker": 1})
    assert first["id"] == merged["id"] == "inc-100-1-host"
    assert merged["workers"] == [0, 1] and merged["status"] == "open"
    assert (merged["start"], merged["detected"], merged["mitigated"]) == (100.0, 100.9, 101.2)
    assert (merged["time_to_detect_s"], merged["time_to_mitigate_s"]) == (0.9, 1.2)
    assert merged["peak_rps"] == 180.0 and merged["attack_requests"] == 4000
    assert merged["leak_after_mitigation"] == 0.0025  # (1000 x 1% + 3000 x 0%) / 4000
    assert merged["targets"] == ["/users/x", "/"]
    assert merged["vectors"] == ["fingerprint_surge", "http_flood"]
    assert [s["rule"] for s in merged["signatures"]] == ["auto-a", "auto-b"]
    assert [a["rule"] for a in merged["actions"]] == ["auto-b", "auto-a"]  # by time
    # older three-element points still merge; they have no class or verdict split
    assert merged["timeline"] == [[101.0, 200.0, 160.0, {}, {}], [102.0, 10.0, 0.0, {}, {}]]
    # 1000 distinct addresses, 200 of them seen by both workers: counted once (HLL, 1.6%)
    assert abs(merged["sources"]["addresses"] - 1000) <= 50
    assert abs(merged["sources"]["prefixes"] - 15) <= 1
    assert "sketches" not in merged


def test_a_later_report_replaces_the_workers_earlier_one_and_closing_ends_it() -> None:
    host = HostIncidents(quiet=30.0)
    host.fold(0, report(1, 100.0, None, worker=0))
    host.fold(1, report(1, 101.0, None, worker=1))
    update = host.fold(0, report(1, 100.0, 150.0, worker=0, attack_requests=5000))
    assert update["status"] == "open" and update["attack_requests"] == 6000  # w1 still open
    done = host.fold(1, report(1, 101.0, 160.0, worker=1))
    assert done["status"] == "closed" and done["end"] == 160.0
    assert host.hosts == {}  # let go once saved as closed
    later = host.fold(0, report(2, 500.0, None, worker=0))
    assert later["id"] == "inc-500-2-host"  # long after: a new incident


def test_an_attack_after_the_quiet_period_is_a_new_incident_while_one_is_still_open() -> None:
    host = HostIncidents(quiet=30.0)
    a = host.fold(0, report(1, 100.0, 120.0, worker=0))
    host.fold(1, report(1, 100.0, None, worker=1))  # keeps the first open
    b = host.fold(0, report(2, 130.0, None, worker=0))  # within end 120 + quiet 30: joins
    assert a["id"] == b["id"]


def test_a_share_left_open_does_not_swallow_later_attacks_and_memory_is_bounded() -> None:
    host = HostIncidents(quiet=30.0)
    ids = set()
    for i in range(MAX_OPEN + 5):  # a worker that died leaves each share open
        ids.add(host.fold(1, report(i, 1000.0 * i, None, worker=1))["id"])
    assert len(ids) == MAX_OPEN + 5  # each attack its own incident
    assert len(host.hosts) == MAX_OPEN


def test_reports_without_sketches_count_the_largest_share() -> None:
    m = merge(
        "h",
        [
            report(
                1,
                1.0,
                None,
                sources={
                    "addresses": 70,
                    "prefixes": 9,
                    "top_prefixes": [{"prefix": "p", "requests": 5}],
                },
            ),
            report(
                1,
                1.0,
                None,
                sources={
                    "addresses": 90,
                    "prefixes": 4,
                    "top_prefixes": [{"prefix": "p", "requests": 2}],
                },
            ),
        ],
    )
    assert m["sources"] == {
        "addresses": 90,
        "prefixes": 9,
        "top_prefixes": [{"prefix": "p", "requests": 7}],
        "top_addresses": [],
    }


def _sample(first: int, last: int, k: int) -> list[str]:
    b = BottomK(k)
    b.add_many({t: t for t in (f"10.0.{i // 256}.{i % 256}" for i in range(first, last))})
    return b.labels()


def test_samples_merge_as_the_sample_of_the_union_and_mixes_add_up() -> None:
    k = 64
    s0 = {"addresses": 300, "prefixes": 2, "top_prefixes": [], "sample_size": k}
    w0 = report(
        1,
        100.0,
        None,
        sources={
            **s0,
            "sample": _sample(0, 300, k),
            "top_addresses": [
                {"address": "10.0.0.1", "requests": 7},
                {"address": "10.0.0.2", "requests": 1},
            ],
        },
        timeline=[
            [101.0, 50.0, 40.0, {"anonymous": 45.0, "user": 5.0}, {"block": 40.0, "allow": 10.0}]
        ],
    )
    w1 = report(
        1,
        100.2,
        None,
        sources={
            **s0,
            "sample": _sample(200, 500, k),
            "top_addresses": [{"address": "10.0.0.2", "requests": 9}],
        },
        timeline=[[101.0, 20.0, 10.0, {"anonymous": 20.0}, {"block": 10.0, "allow": 10.0}]],
    )
    host = HostIncidents(quiet=30.0)
    host.fold(0, {**w0, "worker": 0})
    merged = host.fold(1, {**w1, "worker": 1})
    src = merged["sources"]
    assert src["sample"] == _sample(0, 500, k) and src["sample_size"] == k
    assert src["top_addresses"] == [
        {"address": "10.0.0.2", "requests": 10},
        {"address": "10.0.0.1", "requests": 7},
    ]
    assert merged["timeline"] == [
        [101.0, 70.0, 50.0, {"anonymous": 65.0, "user": 5.0}, {"allow": 20.0, "block": 50.0}]
    ]
