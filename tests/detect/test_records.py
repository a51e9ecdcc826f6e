"""Records as detection sees them: slices, views, load and which records a rule took."""

from __future__ import annotations

from collections import Counter

import pytest

from detectrecords import record
from seawall.core.facts import ClientClass
from seawall.core.record import Record
from seawall.core.verdict import Action
from seawall.detect.records import (
    ATTR_INDEX,
    ATTRS,
    CLIENT,
    PRINCIPAL,
    Load,
    Slice,
    getter,
    is_auto,
    view_of,
)

from corefacts import make_facts


def _three() -> list[Record]:
    return [
        record(target="/a", client="192.0.2.1"),
        record(target="/a", client="192.0.2.2", klass=ClientClass.USER),
        record(target="/b", client="198.51.100.7"),
    ]


def test_a_slice_counts_and_rates_per_second() -> None:
    s = Slice(_three(), start=10.0, seconds=2.0)
    assert len(s) == 3
    assert s.total == 3.0
    assert s.count_by("target") == Counter({"/a": 2, "/b": 1})
    # 2 records over 2 s is 1/s; 1 record is 0.5/s
    assert s.rates("target") == {"/a": 1.0, "/b": 0.5}
    assert s.rates("class") == {"anonymous": 1.0, "user": 0.5}
    assert s.count_by("target") is s.count_by("target")  # computed once, shared
    assert s.members((("target", "/a"),)) == [0, 1]
    assert s.members((("target", "/a"), ("class", "anonymous"))) == [0]
    assert s.members((("target", "/nowhere"),)) == [] and s.members(()) == [0, 1, 2]
    assert s.members((("target", "/a"),)) is s.members((("target", "/a"),))  # computed once
    assert s.auto == [False, False, False]


def test_a_weighted_slice_scales_rates_and_total_but_not_raw_counts() -> None:
    s = Slice(_three(), start=0.0, seconds=2.0, weight=10.0)
    assert s.total == 30.0  # 3 kept records standing for 10 real ones each
    assert s.count_by("target") == Counter({"/a": 2, "/b": 1})  # unweighted, as documented
    assert s.rates("target") == {"/a": 10.0, "/b": 5.0}  # 2 * 10 / 2 s, 1 * 10 / 2 s


def test_a_zero_length_slice_does_not_divide_by_zero() -> None:
    s = Slice(_three()[:1], start=5.0, seconds=0.0)
    assert s.seconds == 1e-3
    assert s.rates("target") == {"/a": 1000.0}


def test_an_empty_slice() -> None:
    s = Slice([], start=0.0, seconds=1.0)
    assert len(s) == 0 and s.total == 0.0
    assert s.rates("target") == {} and s.auto == [] and s.members(()) == []


def test_view_fields_follow_attrs_then_principal_then_client() -> None:
    f = make_facts(
        client="203.0.113.9",
        method="POST",
        path="/search",
        route="search",
        target="/search",
        query_shape="q=s",
        header_fp="feedfacecafe",
        user_agent="Mozilla/5.0 (X11) Firefox/128.0",
        country="NZ",
        asn=64500,
        klass=ClientClass.USER,
        principal="user:42",
    )
    v = view_of(f)
    assert v == (
        "/search",
        "search",
        "POST",
        "feedfacecafe",
        "Firefox/128",
        "q=s",
        "NZ",
        64500,
        "203.0.113.0/24",
        "user",
        "user:42",
        "203.0.113.9",
    )
    for name in ATTRS:  # every attribute sits where ATTR_INDEX says, as its getter reads it
        assert v[ATTR_INDEX[name]] == getter(name)(f), name
    assert len(ATTRS) == PRINCIPAL and len(ATTRS) + 1 == CLIENT
    assert view_of(f) == v


@pytest.mark.parametrize(
    ("load", "pressure"),
    [
        (Load(), 0.0),  # idle
        (Load(queued=5, limit=0.0, inflight=9), 0.0),  # no limit known yet
        (Load(queued=0, limit=10.0, inflight=15), 0.0),  # busy but nothing waits
        (Load(queued=5, limit=10.0, inflight=10), 0.5),  # (10 + 5) / 10 - 1
        (Load(queued=10, limit=10.0, inflight=10), 1.0),  # the queue holds a limit's worth
        (Load(queued=20, limit=10.0, inflight=10), 2.0),  # (10 + 20) / 10 - 1 = 2
        (Load(queued=90, limit=10.0, inflight=10), 2.0),  # capped at 2
        (Load(shed=7), 0.0),  # shedding alone is not pressure (origin_stress reads shed)
    ],
)
def test_load_pressure(load: Load, pressure: float) -> None:
    assert load.pressure == pytest.approx(pressure)


@pytest.mark.parametrize(
    ("rule_id", "action", "auto"),
    [
        ("auto-95b599a827", Action.BLOCK, True),
        ("auto-95b599a827", Action.CHALLENGE, True),
        ("auto-95b599a827", Action.THROTTLE, True),
        ("auto-95b599a827", Action.ALLOW, False),  # a pass let through: not decided by it
        ("block-scanners", Action.BLOCK, False),  # an operator's rule
        ("", Action.ALLOW, False),
    ],
)
def test_is_auto(rule_id: str, action: Action, auto: bool) -> None:
    assert is_auto(record(action=action, rule_id=rule_id)) is auto


def test_clean_rates_leave_out_what_automatic_rules_decided() -> None:
    blocked = [
        record(make_facts(target="/x"), action=Action.BLOCK, rule_id="auto-1") for _ in range(8)
    ]
    by_operator = [record(make_facts(target="/x"), action=Action.BLOCK, rule_id="mine")]
    people = [record(make_facts(target="/x")), record(make_facts(target="/y"))]
    s = Slice(blocked + by_operator + people, start=0.0, seconds=2.0)
    assert s.rates("target") == {"/x": 5.0, "/y": 0.5}  # everything that came
    # what baselines learn: the operator's own blocks count, the engine's do not
    assert s.clean_rates("target") == {"/x": 1.0, "/y": 0.5}
