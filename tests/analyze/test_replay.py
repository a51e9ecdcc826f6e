"""Replay: parsed lines through the engine on their own clock, as the edge would have seen them."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from seawall.analyze.replay import IDLE_JUMP, Replay, ReplaySettings
from seawall.core.facts import ClientClass
from seawall.core.record import Record
from seawall.core.rules import Match, Rule, Ruleset
from seawall.core.verdict import Action

from replaylog import FAMOUS, LEGACY, MODERN, T0, Line, attack_log, batch, batches, ordinary


def run(
    lines: list[Line], size: int = 5000, **settings: Any
) -> tuple[Replay, list[dict[str, Any]]]:
    r = Replay(ReplaySettings(**settings))
    for b in batches(lines, size):
        r.feed(b)
    return r, r.finish()


@pytest.fixture(scope="module")
def attack() -> tuple[Replay, list[dict[str, Any]]]:
    return run(attack_log())


def test_a_flood_in_a_log_is_one_incident_detected_and_mitigated_in_seconds(
    attack: tuple[Replay, list[dict[str, Any]]],
) -> None:
    r, incidents = attack
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc["status"] == "closed"
    assert T0 + 60 <= inc["start"] <= T0 + 62
    assert inc["time_to_mitigate_s"] is not None and inc["time_to_mitigate_s"] <= 3.0
    assert T0 + 88 <= inc["end"] <= T0 + 92  # the flood stopped at T0+90
    assert FAMOUS in inc["targets"] and "http_flood" in inc["vectors"]
    sig = inc["signatures"][0]
    assert sig["separable"] and sig["estimated_collateral"] <= 0.01
    assert {a["attribute"] for a in sig["attributes"]} & {"ua_family", "prefix"}
    assert inc["leak_after_mitigation"] <= 0.01
    assert 280 <= inc["sources"]["addresses"] <= 320  # 300 bots (HyperLogLog)
    assert len(inc["sources"]["sample"]) == 300  # every distinct bot: fewer than k
    assert all(a.startswith("203.") for a in inc["sources"]["sample"])
    assert r.counts.records == 150 * 40 + 30 * 600 and r.counts.late == 0


def test_the_rules_decide_the_following_requests_as_the_edge_would(
    attack: tuple[Replay, list[dict[str, Any]]],
) -> None:
    r, incidents = attack
    actions = [a for a in incidents[0]["actions"] if a["action"] == "apply"]
    assert actions and actions[0]["step"] in ("block", "challenge")
    # by the end every automatic rule has stepped down and lapsed
    assert not r.decider.ruleset.rules or all(
        x.expires is not None and x.expires <= r.counts.last + 60 for x in r.decider.ruleset.rules
    )


def test_batch_sizes_and_small_disorder_change_nothing(
    attack: tuple[Replay, list[dict[str, Any]]],
) -> None:
    _, expected = attack
    lines = attack_log()
    rng = random.Random(5)
    jittered = [replace(x, time=x.time) for x in lines]
    for i in range(0, len(jittered) - 8, 7):  # swap neighbours: out of order by < 1 s
        if rng.random() < 0.5:
            jittered[i], jittered[i + 3] = jittered[i + 3], jittered[i]
    for size, log in ((997, lines), (60_000, lines), (4096, jittered)):
        _, got = run(log, size)
        assert [_core(i) for i in got] == [_core(i) for i in expected], size


def _core(inc: dict[str, Any]) -> tuple[Any, ...]:
    return (inc["start"], inc["end"], inc["mitigated"], inc["attack_requests"], inc["targets"])


def test_a_line_later_than_the_window_is_counted_and_kept() -> None:
    lines = ordinary(T0, 20, 5)
    stray = Line(T0 + 2.5, "198.18.0.10", "/", MODERN)  # 17 s late
    r = Replay()
    r.feed(batch(lines))
    r.feed(batch([stray]))
    r.finish()
    assert r.counts.late == 1 and r.counts.records == len(lines) + 1


def test_since_and_until_leave_lines_out_and_count_them() -> None:
    lines = ordinary(T0, 30, 5)
    r = Replay(ReplaySettings(since=T0 + 10, until=T0 + 20))
    r.feed(batch(lines))
    r.finish()
    inside = sum(1 for x in lines if T0 + 10 <= x.time <= T0 + 20)
    assert r.counts.records == inside and r.counts.outside == len(lines) - inside


def test_a_quiet_day_between_two_bursts_is_ticked_as_one_interval() -> None:
    lines = ordinary(T0, 30, 5) + ordinary(T0 + 86_400, 30, 5, seed=3)
    r, incidents = run(lines)
    assert incidents == []
    assert r.counts.ticks < 30 + 30 + IDLE_JUMP + 10


def test_unparseable_client_addresses_are_counted_not_raised() -> None:
    lines = [*ordinary(T0, 3, 5), Line(T0 + 1.5, "not-an-address", "/", MODERN)]
    r, _ = run(sorted(lines, key=lambda x: x.time))
    assert r.counts.bad_addresses == 1 and r.counts.records == 15


def test_verified_classes_in_a_log_are_never_hit_by_automatic_rules() -> None:
    apps = [
        Line(T0 + 40 + i * 0.05, f"198.19.0.{i % 5 + 1}", FAMOUS, LEGACY, klass="api_app")
        for i in range(50 * 20)
    ]
    bots = attack_log()
    seen: list[Record] = []
    r = Replay(observers=(seen.append,))
    for b in batches(sorted(bots + apps, key=lambda x: x.time), 5000):
        r.feed(b)
    assert r.finish()
    verdicts = {x.verdict.action for x in seen if x.facts.klass is ClientClass.API_APP}
    assert verdicts == {Action.ALLOW}
    assert any(x.verdict.rule_id.startswith("auto-") for x in seen)


def test_the_operators_recorded_decisions_are_kept_and_automatic_ones_remade() -> None:
    kept = Line(
        T0 + 1.2,
        "198.18.0.10",
        "/admin",
        MODERN,
        403,
        extra={"verdict": "block", "rule": "deny-admin", "reason": "rule"},
    )
    remade = Line(
        T0 + 1.4,
        "198.18.0.11",
        "/",
        MODERN,
        403,
        extra={"verdict": "block", "rule": "auto-x", "reason": "rule"},
    )
    seen: list[Record] = []
    r = Replay(observers=(seen.append,))
    r.feed(batch([kept, remade]))
    r.finish()
    by_path = {x.facts.path: x for x in seen}
    assert by_path["/admin"].verdict.rule_id == "deny-admin"
    assert by_path["/admin"].status == 403 and by_path["/admin"].origin_time == 0.0
    assert by_path["/"].verdict.action is Action.ALLOW and by_path["/"].origin_time > 0


def test_starting_rules_decide_from_the_first_line() -> None:
    deny = Rule("deny", Action.BLOCK, Match(paths=("/users/",)))
    seen: list[Record] = []
    r = Replay(rules=Ruleset(1, (deny,)), observers=(seen.append,))
    r.feed(batch(ordinary(T0, 5, 10)))
    r.finish()
    blocked = [x for x in seen if x.facts.path.startswith("/users/")]
    assert blocked and all(x.verdict.rule_id == "deny" and x.status == 403 for x in blocked)
    assert all(x.bytes_out == 0 for x in blocked)


def test_a_lone_line_dated_far_ahead_is_left_out_and_does_not_move_the_clock() -> None:
    lines = ordinary(T0, 60, 5)
    broken = Line(T0 + 1e7, "198.18.0.10", "/", MODERN)
    after = ordinary(T0 + 60, 60, 5, seed=4)
    r = Replay()
    r.feed(batch([*lines, broken, *after]))
    r.finish()
    assert r.counts.skewed == 1 and r.counts.late == 0
    assert r.counts.records == len(lines) + len(after)
    assert r.counts.last is not None and r.counts.last < T0 + 120


def test_a_real_jump_in_a_sparse_log_keeps_every_line() -> None:
    night = [Line(T0 + i * 7200.0, "198.18.0.10", "/", MODERN) for i in range(6)]
    r = Replay()
    r.feed(batch(night))
    r.finish()
    assert r.counts.records == 6 and r.counts.skewed == 0
    assert (r.counts.first, r.counts.last) == (T0, T0 + 5 * 7200.0)


def test_a_quiet_stretch_never_closes_seconds_inside_the_reorder_window() -> None:
    r = Replay()
    r.feed(
        batch([Line(T0, "198.18.0.10", "/", MODERN), Line(T0 + 100.0, "198.18.0.11", "/", MODERN)])
    )
    r.feed(batch([Line(T0 + 99.5, "198.18.0.12", "/", MODERN)]))  # 0.5 s behind: on time
    r.finish()
    assert r.counts.late == 0 and r.counts.records == 3
