"""The baseline window: late joining, a fixed sample per second, and the attack kept out."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from detectrecords import many, record, spread
from seawall.core.verdict import Action
from seawall.detect.records import ATTR_INDEX, Slice, View
from seawall.detect.window import BaselineWindow

_TARGET = ATTR_INDEX["target"]


def _on(target: str) -> Callable[[View], bool]:
    return lambda v: v[_TARGET] == target


def test_a_sample_joins_only_after_lag_seconds() -> None:
    w = BaselineWindow(seconds=60, per_second=10, lag=5.0)
    w.add(Slice(many(3), start=100.0, seconds=1.0))
    w.mature(104.0)
    assert len(w) == 0 and w.span == 0.0  # 100 > 104 - 5: still pending
    w.mature(104.999)
    assert len(w) == 0
    w.mature(105.0)  # 100 <= 105 - 5
    assert len(w) == 3 and w.span == 1.0
    assert [weight for _, weight in w] == [1.0, 1.0, 1.0]


def test_per_second_cap_keeps_a_sample_weighted_real_over_kept() -> None:
    w = BaselineWindow(seconds=60, per_second=10, lag=0.0)
    w.add(Slice(spread(100, 100), start=0.0, seconds=1.0))
    w.add(Slice(spread(30, 30), start=1.0, seconds=1.0, weight=4.0))  # sampled upstream
    w.add(Slice(spread(6, 6), start=2.0, seconds=1.0))
    w.mature(2.0)
    views, weights = w.pairs()
    assert len(views) == 10 + 10 + 6
    assert weights == [10.0] * 10 + [12.0] * 10 + [1.0] * 6  # 100/10; 30 * 4 / 10; 6/6
    assert len(set(views[:10])) == 10  # a sample without repeats


def test_records_an_automatic_rule_decided_never_join() -> None:
    w = BaselineWindow(seconds=60, per_second=10, lag=0.0)
    recs = [
        *many(3, target="/ok"),
        record(target="/attacked", action=Action.BLOCK, rule_id="auto-1"),
        record(target="/attacked", action=Action.CHALLENGE, rule_id="auto-1"),
        record(target="/by-operator", action=Action.BLOCK, rule_id="cfg-1"),  # kept
    ]
    w.add(Slice(recs, start=0.0, seconds=1.0))
    w.add(Slice(many(5, action=Action.BLOCK, rule_id="auto-1"), start=1.0, seconds=1.0))
    w.mature(10.0)
    assert sorted(v[_TARGET] for v, _ in w) == ["/by-operator", "/ok", "/ok", "/ok"]
    assert w.span == 1.0  # the all-attack second left nothing to keep


def test_mature_with_exclude_drops_matching_views() -> None:
    w = BaselineWindow(seconds=60, per_second=10, lag=5.0)
    w.add(Slice(many(2, target="/a") + many(3, target="/b"), start=0.0, seconds=1.0))
    w.add(Slice(many(4, target="/b"), start=1.0, seconds=1.0))
    w.mature(6.0, exclude=_on("/b"))
    assert [v[_TARGET] for v, _ in w] == ["/a", "/a"]
    assert w.span == 1.0  # the second made only of /b is not kept at all


def test_forget_pending_drops_views_not_yet_matured_only() -> None:
    w = BaselineWindow(seconds=60, per_second=10, lag=5.0)
    w.add(Slice(many(2, target="/x"), start=0.0, seconds=1.0))
    w.mature(5.0)  # second 0 has joined
    w.add(Slice(many(2, target="/x") + many(1, target="/y"), start=3.0, seconds=1.0))
    w.forget_pending(_on("/x"))
    w.mature(8.0)
    assert [v[_TARGET] for v, _ in w] == ["/x", "/x", "/y"]  # matured /x stays


def test_the_ring_holds_the_last_seconds_only() -> None:
    w = BaselineWindow(seconds=3, per_second=5, lag=0.0)
    for t in range(5):
        w.add(Slice(many(1, target=f"/t{t}"), start=float(t), seconds=1.0))
        w.mature(float(t))
    assert [v[_TARGET] for v, _ in w] == ["/t2", "/t3", "/t4"]
    assert w.span == 3.0 and len(w) == 3


def _fill(seed: int) -> list[View]:
    w = BaselineWindow(seconds=10, per_second=5, lag=0.0, seed=seed)
    for t in range(4):
        w.add(Slice(spread(50, 50), start=float(t), seconds=1.0))
    w.mature(4.0)
    return w.pairs()[0]


def test_the_sample_is_seeded() -> None:
    assert _fill(7) == _fill(7)
    assert _fill(7) != _fill(8)


@pytest.mark.parametrize(("seconds", "per_second"), [(0, 10), (10, 0)])
def test_a_window_needs_room(seconds: int, per_second: int) -> None:
    with pytest.raises(ValueError, match="seconds and per_second"):
        BaselineWindow(seconds=seconds, per_second=per_second)
