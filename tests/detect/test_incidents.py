"""The incident book as a transcript: ticks in, one incident opened, measured, closed."""

from __future__ import annotations

import json

import pytest

from detectrecords import many, record, slice_of, spread
from seawall.core.verdict import Action
from seawall.detect import incidents
from seawall.detect.incidents import IncidentBook
from seawall.detect.policy import ActionEvent
from seawall.detect.records import Slice
from seawall.detect.signals import Signal
from seawall.detect.signatures import Condition, Signature

FAMOUS = "/users/famous"
RID = "auto-95b599a827"
T0 = 1_700_000_000.0


def flood(t: float) -> Signal:
    return Signal("http_flood", "http_flood", (("target", FAMOUS),), t, 400.0, 2.0, 50.0, 1.0)


def stress(t: float) -> Signal:
    return Signal("origin_stress", "origin_stress", (), t, 0.0, 0.0, 0.0, 1.0, actionable=False)


SIG = Signature(
    (Condition("header_fp", frozenset({"ba7ba7ba7ba7"}), 1.0, 0.0),),
    1.0,
    0.0,
    (("anonymous", 0.0),),
    0,
    0,
    400,
    1000,
    True,
)


def event(t: float, verb: str, step: str) -> ActionEvent:
    return ActionEvent(t, RID, verb, step, "because", 0.0)


def quiet_slice(t: float) -> Slice:
    return slice_of(many(10, target="/"), start=t - 1.0)


def attack_slice(t: float, n: int = 100, blocked: bool = False) -> Slice:
    """`n` bot requests on FAMOUS from 50 addresses (one /24 each), plus 10 elsewhere."""
    if blocked:
        bots = spread(n, 50, target=FAMOUS, action=Action.BLOCK, rule_id=RID, origin_time=0.0)
    else:
        bots = spread(n, 50, target=FAMOUS)
    return slice_of(bots + many(10, target="/"), start=t - 1.0)


def test_observe_only_events_open_nothing() -> None:
    book = IncidentBook()
    got = book.update(T0, attack_slice(T0), [flood(T0)], {}, [event(T0, "observe", "observe")], 0)
    assert got is None and book.current is None
    assert book.update(T0 + 1, quiet_slice(T0 + 1), [stress(T0 + 1)], {}, [], 0) is None


def test_observe_mode_would_act_and_opens_one() -> None:
    book = IncidentBook()
    inc = book.update(T0, attack_slice(T0), [flood(T0)], {}, [event(T0, "observe", "block")], 0)
    assert inc is not None and inc.mitigated is None


def test_an_incident_from_start_to_close() -> None:
    book = IncidentBook(quiet=30.0)
    # tick at T0+61 covers second 60: the flood is seen, a block applied
    t = T0 + 61
    inc = book.update(
        t, attack_slice(t), [flood(t)], {RID: (flood(t), SIG)}, [event(t, "apply", "block")], 1
    )
    assert inc is not None and inc is book.current and inc.open
    assert inc.id == f"inc-{int(T0 + 60)}-1"
    assert (inc.start, inc.detected, inc.mitigated) == (T0 + 60, T0 + 61, T0 + 61)
    assert inc.peak_rps == 100.0  # 100 scoped records in a second
    for k in range(62, 91):  # the rule blocks; the flood's signals go on until T0+90
        t = T0 + k
        book.update(t, attack_slice(t, blocked=True), [flood(t)], {}, [], 1)
    for k in range(91, 150):  # over; the rule lapses at 120
        t = T0 + k
        book.update(t, quiet_slice(t), [], {}, [], 1 if k < 120 else 0)
        if k < 120:
            assert book.current is inc, k  # a rule is still in place
    assert book.current is None and book.closed == [inc]  # closed at 120 (30 s quiet)
    assert inc.end == T0 + 90  # the last signal
    d = inc.to_dict()
    assert d["status"] == "closed"
    assert d["time_to_detect_s"] == 1.0 and d["time_to_mitigate_s"] == 1.0
    assert d["targets"] == [FAMOUS] and d["vectors"] == ["http_flood"]
    assert d["attack_requests"] == 100 * 30  # seconds 60..89, 100 each
    assert d["sources"]["addresses"] == pytest.approx(50, abs=2)  # HLL, 50 addresses
    assert d["sources"]["prefixes"] == pytest.approx(50, abs=2)
    # the sample holds every distinct address (fewer than k), each exactly once
    bots = {f"10.0.{i}.1" for i in range(50)}
    assert sorted(d["sources"]["sample"]) == sorted(bots)
    assert d["sources"]["sample_size"] == incidents.SAMPLE_K
    top = d["sources"]["top_addresses"]
    assert {row["address"] for row in top} == bots
    assert all(row["requests"] == 60 for row in top)  # 2 a second for 30 s
    assert d["signatures"][0]["rule"] == RID
    assert d["actions"] == [
        {
            "time": T0 + 61,
            "rule": RID,
            "action": "apply",
            "step": "block",
            "reason": "because",
            "estimated_collateral": 0.0,  # no measured_collateral: not yet measured
        }
    ]


def test_it_stays_open_while_a_rule_is_left() -> None:
    book = IncidentBook(quiet=5.0)
    book.update(T0, attack_slice(T0), [flood(T0)], {}, [event(T0, "apply", "block")], 1)
    for k in range(1, 50):
        book.update(T0 + k, quiet_slice(T0 + k), [], {}, [], 1)
    assert book.current is not None
    book.update(T0 + 50, quiet_slice(T0 + 50), [], {}, [], 0)
    assert book.current is None and book.closed[0].end == T0


def test_nothing_leaks_before_mitigation() -> None:
    book = IncidentBook()
    # a suggestion opens it (it would act) but mitigates nothing: 100 forwarded, no leak
    book.update(T0, attack_slice(T0), [flood(T0)], {}, [event(T0, "suggest", "block")], 1)
    book.update(T0 + 1, attack_slice(T0 + 1), [flood(T0 + 1)], {}, [], 1)
    inc = book.current
    assert inc is not None and inc.mitigated is None
    assert (inc.matched, inc.leaked) == (200.0, 0.0)
    assert inc.to_dict()["leak_after_mitigation"] == 0.0


def test_leak_counts_only_records_after_mitigation() -> None:
    book = IncidentBook()
    book.update(T0, attack_slice(T0), [flood(T0)], {}, [event(T0, "apply", "block")], 1)
    inc = book.current
    assert inc is not None and inc.mitigated == T0
    # the next interval: half the attack still reaches the origin
    half = slice_of(
        spread(50, 50, target=FAMOUS)
        + spread(50, 50, target=FAMOUS, action=Action.BLOCK, rule_id=RID, origin_time=0.0),
        start=T0,
    )
    book.update(T0 + 1, half, [flood(T0 + 1)], {}, [], 1)
    assert inc.matched == 200.0
    assert inc.leaked == 50.0  # the first 100 came before the rule existed
    assert inc.to_dict()["leak_after_mitigation"] == 0.25


def test_to_dict_is_json() -> None:
    book = IncidentBook()
    inc = book.update(
        T0,
        attack_slice(T0),
        [flood(T0), stress(T0)],
        {RID: (flood(T0), SIG)},
        [event(T0, "apply", "block")],
        1,
    )
    assert inc is not None
    d = inc.to_dict()
    assert set(d) == {
        "id",
        "status",
        "start",
        "end",
        "detected",
        "mitigated",
        "time_to_detect_s",
        "time_to_mitigate_s",
        "peak_rps",
        "targets",
        "vectors",
        "signatures",
        "actions",
        "sources",
        "attack_requests",
        "leak_after_mitigation",
        "timeline",
    }
    assert d["status"] == "open" and d["end"] is None
    # total/s, attack/s, then per class and per verdict
    assert d["timeline"] == [[round(T0, 1), 110.0, 100.0, {"anonymous": 110.0}, {"allow": 110.0}]]
    assert d["vectors"] == ["http_flood"]  # origin stress is context, not a vector
    assert json.loads(json.dumps(d)) == d


def test_timeline_and_actions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(incidents, "MAX_TIMELINE", 5)
    monkeypatch.setattr(incidents, "MAX_ACTIONS", 3)
    book = IncidentBook()
    for k in range(10):
        t = T0 + k
        book.update(t, attack_slice(t), [flood(t)], {}, [event(t, "apply", "block")], 1)
    inc = book.current
    assert inc is not None
    assert len(inc.timeline) == 5 and len(inc.actions) == 3
    assert inc.matched == 1000.0  # still measured after the timeline is full


def test_closed_incidents_are_kept_up_to_keep() -> None:
    book = IncidentBook(quiet=0.0, keep=2)
    for k in range(4):
        t = T0 + 10 * k
        book.update(t, attack_slice(t), [flood(t)], {}, [event(t, "apply", "block")], 0)
    assert [i.id for i in book.closed] == [f"inc-{int(T0 + 10 * k) - 1}-{k + 1}" for k in (2, 3)]


def test_peak_rps_is_the_busiest_tick() -> None:
    book = IncidentBook()
    book.update(T0, attack_slice(T0, 40), [flood(T0)], {}, [event(T0, "apply", "block")], 1)
    book.update(T0 + 1, attack_slice(T0 + 1, 250), [flood(T0 + 1)], {}, [], 1)
    book.update(T0 + 2, attack_slice(T0 + 2, 90), [flood(T0 + 2)], {}, [], 1)
    assert book.current is not None and book.current.peak_rps == 250.0


def test_a_record_outside_any_scope_is_not_the_attack() -> None:
    book = IncidentBook()
    elsewhere = slice_of([record(target="/other")] * 30, start=T0 - 1)
    book.update(T0, elsewhere, [flood(T0)], {}, [event(T0, "apply", "block")], 1)
    assert book.current is not None and book.current.matched == 0.0
