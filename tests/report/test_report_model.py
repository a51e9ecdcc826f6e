"""Reading the incident dict: checks, timeline, phases, actions' measured effect, why."""

from __future__ import annotations

from typing import Any

import pytest
import reportcase as rc

from seawall.report.model import (
    IncidentDataError,
    Phase,
    Point,
    actions,
    build,
    check_incident,
    phases,
    timeline,
    why,
)
from seawall.report.sources import dispersion

T0 = rc.T0


@pytest.mark.parametrize(
    ("incident", "message"),
    [
        ([], r"expected an object, got list \(the incident data is malformed\)"),
        ({}, "'id' is missing"),
        ({"id": ""}, "'id' is missing"),
        ({"id": "inc-1"}, r"incident data 'inc-1': 'start' is missing or not a number"),
        ({"id": "inc-1", "start": "yesterday"}, "'start' is missing or not a number"),
        ({"id": "inc-1", "start": float("nan")}, "'start' is missing or not a number"),
    ],
)
def test_an_incident_without_id_or_start_is_refused(incident: Any, message: str) -> None:
    with pytest.raises(IncidentDataError, match=message):
        check_incident(incident)


def test_the_minimal_incident_is_enough() -> None:
    r = build({"id": "inc-1", "start": T0}, dispersion(None, rc.FakeGeo()))
    assert r.points == () and r.actions == ()
    assert [p.name for p in r.phases] == ["before_detection"]
    assert r.phases[0].end is None
    assert r.attribution.case == "none"


def test_timeline_reads_full_old_and_malformed_points() -> None:
    raw = {
        "timeline": [
            [T0 + 1, 10, 5, {"user": 2, "anonymous": 8, "bogus": 9}, {"allow": 7, "block": 3}],
            [T0, 4.0, 1.0],
            [T0 + 2, "x", 1],
            [T0 + 3, 1],
            "junk",
            [T0 + 4, -5, 2, None, "no"],
        ]
    }
    assert timeline(raw) == (
        Point(T0, 4.0, 1.0, None, None),
        Point(T0 + 1, 10.0, 5.0, (0.0, 0.0, 2.0, 8.0), (7.0, 0.0, 0.0, 0.0, 3.0)),
        Point(T0 + 4, 0.0, 2.0, None, None),
    )
    assert timeline({"timeline": None}) == ()


def test_phases_of_a_closed_mitigated_incident() -> None:
    inc = rc.incident()
    got = phases(inc, timeline(inc))
    assert got == (
        Phase(
            "before_detection",
            "before detection",
            T0,
            T0 + 2,
            2,
            370.0,
            350.0,
            400.0,
            (370.0, 0.0, 0.0, 0.0, 0.0),
        ),
        Phase(
            "detected",
            "detected, not yet mitigated",
            T0 + 2,
            T0 + 5,
            3,
            820.0,
            800.0,
            800.0,
            (820.0, 0.0, 0.0, 0.0, 0.0),
        ),
        Phase(
            "mitigated",
            "mitigated",
            T0 + 5,
            T0 + 9,
            4,
            820.0,
            800.0,
            800.0,
            (30.0, 0.0, 0.0, 0.0, 790.0),
        ),
        Phase(
            "after", "after the end", T0 + 9, T0 + 9, 1, 20.0, 0.0, 0.0, (20.0, 0.0, 0.0, 0.0, 0.0)
        ),
    )
    assert got[2].to_dict() == {
        "name": "mitigated",
        "start": T0 + 5,
        "end": T0 + 9,
        "points": 4,
        "mean_total_rps": 820.0,
        "mean_attack_rps": 800.0,
        "peak_attack_rps": 800.0,
        "verdict_rps": {
            "allow": 30.0,
            "cache": 0.0,
            "throttle": 0.0,
            "challenge": 0.0,
            "block": 790.0,
        },
    }


def test_phases_of_an_open_unmitigated_incident() -> None:
    inc = rc.incident(end=None, mitigated=None, timeline=[[T0 + i, 10, 5] for i in range(4)])
    got = phases(inc, timeline(inc))
    assert [(p.name, p.start, p.end, p.points, p.verdicts) for p in got] == [
        ("before_detection", T0, T0 + 2, 2, None),
        ("detected", T0 + 2, None, 2, None),
    ]


def test_detection_at_the_start_leaves_no_empty_phase() -> None:
    inc = rc.incident(detected=T0, mitigated=T0, timeline=[])
    assert [p.name for p in phases(inc, ())] == ["mitigated"]


def test_actions_carry_their_measured_effect() -> None:
    inc = rc.incident()
    first, second = actions(inc, timeline(inc))
    assert first.time == T0 + 5
    assert (first.action, first.step, first.rule) == ("apply", "block", "auto-3f2a")
    assert (first.estimated, first.measured) == (0.001, 0.0)
    # 10 s before: 300, 400, 800, 800, 800 attack/s; after: 800 x4 and 0
    assert (first.attack_before, first.attack_after) == (620.0, 640.0)
    # let through (allow + cache): 320, 420, 820 x3 before; 30 x4 and 20 after
    assert (first.allowed_before, first.allowed_after) == (640.0, 28.0)
    assert second.measured is None
    old = rc.incident(timeline=[[T0 + 4, 10, 5]])
    only = actions(old, timeline(old))[0]
    assert (only.attack_before, only.attack_after, only.allowed_before) == (5.0, None, None)


def test_actions_without_a_time_are_left_out() -> None:
    assert actions({"actions": [{"action": "apply"}, "junk"]}, ()) == ()


def test_why_says_what_made_the_signature_usable() -> None:
    sig = rc.INCIDENT["signatures"][0]
    assert why(sig) == (
        "matches 97% of the attack's requests; would also hit 0.10% of legitimate traffic "
        "(user 0%, anonymous 0.10%); 0 verified users and 0 verified apps matched; "
        "detector confidence 0.90; score 12.0"
    )
    crowd = sig | {"separable": False, "baseline_known": False, "verified_users_matched": 3}
    assert why(crowd) == (
        "matches 97% of the attack's requests; would also hit 0.10% of legitimate traffic "
        "(user 0%, anonymous 0.10%); 3 verified users and 0 verified apps matched; "
        "no baseline was known, so the collateral is a guess; not separable: told apart only "
        "by where it goes (it may be a crowd); detector confidence 0.90; score 12.0"
    )
    assert why({}) == "0 verified users and 0 verified apps matched"
