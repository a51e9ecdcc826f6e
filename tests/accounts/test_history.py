"""Bounded per-key history: LRU tables, sliding windows, listings and option resolution."""

from __future__ import annotations

import math

import pytest

from seawall.accounts.events import MAX_LISTED, AuthEvent, EventKind
from seawall.accounts.history import (
    Base,
    Listing,
    Table,
    Window,
    dec,
    grow,
    heaviest,
    inc,
    resolve,
)

from authsim import event, hashed

FAIL = EventKind.LOGIN_FAILED


def fail(t: float, account: str = "a", source: str = "192.0.2.1") -> AuthEvent:
    return event(t, FAIL, account, source)


def aged(t: float) -> Window:
    w = Window()
    w.push(fail(t), 8)
    return w


# ---- Table -------------------------------------------------------------------------------


def test_table_keeps_at_most_cap_keys_and_evicts_the_least_recently_touched() -> None:
    t: Table[str, Window] = Table(3)
    for key in "abc":
        t.touch(key, Window)
    t.touch("a", Window)  # a is fresh again: b is now the oldest
    t.touch("d", Window)
    assert list(t) == ["c", "a", "d"] and t.evicted == 1 and len(t) == 3
    assert "b" not in t and t.get("b") is None


def test_touch_returns_the_same_value_and_make_runs_only_for_new_keys() -> None:
    t: Table[str, Window] = Table(2)
    made = []

    def make() -> Window:
        made.append(1)
        return Window()

    first = t.touch("k", make)
    assert t.touch("k", make) is first and made == [1]


def test_hit_refreshes_but_never_makes() -> None:
    t: Table[str, Window] = Table(2)
    assert t.hit("x") is None and len(t) == 0
    t.touch("a", Window)
    t.touch("b", Window)
    assert t.hit("a") is not None
    t.touch("c", Window)  # b, not a, goes
    assert list(t) == ["a", "c"]


def test_forget_before_drops_idle_keys_from_the_oldest_end() -> None:
    t: Table[str, Window] = Table(10)
    t.touch("old", lambda: aged(10.0))
    t.touch("older", lambda: aged(5.0))
    t.touch("new", lambda: aged(100.0))
    assert t.forget_before(50.0) == 2 and list(t) == ["new"]
    assert t.forget_before(50.0) == 0


def test_forget_before_stops_at_the_first_recent_key() -> None:
    t: Table[str, Window] = Table(10)
    t.touch("recent", lambda: aged(100.0))
    t.touch("stale", lambda: aged(1.0))  # touched later, so behind a recent key
    assert t.forget_before(50.0) == 0 and len(t) == 2


def test_a_table_needs_room() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        Table(0)


def test_pop() -> None:
    t: Table[str, Window] = Table(2)
    w = t.touch("a", Window)
    assert t.pop("a") is w and t.pop("a") is None


# ---- Window ------------------------------------------------------------------------------


class Sources(Window):
    __slots__ = ("sources",)

    def __init__(self) -> None:
        super().__init__()
        self.sources: dict[str, int] = {}

    def _add(self, ev: AuthEvent) -> None:
        inc(self.sources, ev.source)

    def _remove(self, ev: AuthEvent) -> None:
        dec(self.sources, ev.source)


def test_window_caps_events_drops_the_oldest_and_counts_the_drop() -> None:
    w = Sources()
    for i in range(7):
        w.push(fail(float(i), source=f"192.0.2.{i % 2}"), 5)
    assert [e.time for e in w.events] == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert w.dropped == 2 and w.last == 6.0 and w.first == 2.0
    assert w.sources == {"192.0.2.0": 3, "192.0.2.1": 2}  # counts follow the cut


def test_window_expire_forgets_old_events_and_their_counts() -> None:
    w = Sources()
    for t, src in [(1.0, "x"), (2.0, "y"), (3.0, "x"), (9.0, "z")]:
        w.push(fail(t, source=src), 100)
    w.expire(3.0)
    assert [e.time for e in w.events] == [3.0, 9.0] and w.sources == {"x": 1, "z": 1}
    w.expire(10.0)
    assert w.events == [] and w.sources == {} and w.dropped == 0
    assert w.first == 9.0  # an empty window reports its last time


def test_window_version_moves_with_its_events_only() -> None:
    w = Window()
    w.push(fail(1.0), 4)
    w.push(fail(5.0), 4)
    v = w.version
    w.expire(1.0)  # nothing older than 1.0
    assert w.version == v
    w.expire(2.0)
    assert w.version == v + 1 and len(w.events) == 1


def test_window_clear() -> None:
    w = Sources()
    w.push(fail(1.0), 4)
    w.clear()
    assert w.events == [] and w.sources == {}


def test_dec_removes_keys_at_zero() -> None:
    c: dict[str, int] = {}
    inc(c, "a")
    inc(c, "a")
    dec(c, "a")
    assert c == {"a": 1}
    dec(c, "a")
    assert c == {}


# ---- listing -----------------------------------------------------------------------------


def test_heaviest_first_ties_in_key_order_and_bounded() -> None:
    assert heaviest({"b": 2, "a": 2, "c": 5, "d": 1}) == ("c", "a", "b", "d")
    assert heaviest({"b": 2, "a": 2, "c": 5, "d": 1}, 2) == ("c", "a")
    many = {f"k{i:05d}": i % 7 for i in range(MAX_LISTED + 500)}
    top = heaviest(many)
    assert len(top) == MAX_LISTED and all(many[k] == 6 for k in top[:100])
    assert top == tuple(sorted(many, key=lambda k: (-many[k], k))[:MAX_LISTED])


def test_grow_is_half_at_the_bar_and_rises_with_evidence() -> None:
    assert grow(10, 10) == 0.5 and grow(20, 10) == 0.75 and grow(40, 10) == 0.875
    assert grow(0, 10) == 0.0 and grow(5, 10) == 0.0  # below half the bar: nothing
    assert grow(10**9, 10) < 1.0


def test_listing_counts_people_and_leaves_unknowns_out() -> None:
    evs = [
        event(1.0, FAIL, "acct1", "192.0.2.1", fingerprint="fp1", asn=64500),
        event(2.0, FAIL, "acct1", "192.0.2.2", fingerprint="fp1", asn=64500),
        event(3.0, FAIL, "acct2", "198.51.100.9"),
    ]
    f = Listing(evs).finding("d", "k", evs, 1.7, [("failures", 3)], broad=True)
    assert f.accounts == ("acct1", "acct2")
    assert f.sources == ("192.0.2.1", "192.0.2.2", "198.51.100.9")
    assert f.prefixes == ("192.0.2.0/24", "198.51.100.0/24")
    assert f.asns == (64500,) and f.fingerprints == ("fp1",)
    assert (f.first, f.last, f.count, f.confidence) == (1.0, 3.0, 3, 1.0)  # clamped
    assert f.evidence == (("failures", 3.0),) and f.broad


def test_a_findings_lists_are_bounded_by_max_listed() -> None:
    evs = [fail(float(i), hashed(f"u{i}"), f"10.{i // 250}.0.{i % 250}") for i in range(1500)]
    f = Listing(evs).finding("d", "k", evs, 0.5, [])
    assert len(f.accounts) == MAX_LISTED and len(f.sources) == MAX_LISTED
    assert len(f.prefixes) == 1500 // 250 and f.count == 1500


# ---- options -----------------------------------------------------------------------------


class Toy(Base):
    name = "toy"
    OPTIONS = {
        "window": (60.0, "Seconds."),
        "min_things": (4.0, "Things."),
        "max_share": (0.5, "A share."),
    }


def test_defaults_then_given_options_and_the_common_ones() -> None:
    d = Toy({"min_things": 6, "threshold_factor": 1.5}, max_keys=7)
    assert d.opt == {
        "window": 60.0,
        "min_things": 6.0,
        "max_share": 0.5,
        "threshold_factor": 1.5,
        "max_entries": 512.0,
    }
    assert d.bar("min_things") == 9.0 and d.cap == 512 and d.table(Window).cap == 7


def test_set_factor_raises_the_bar() -> None:
    d = Toy()
    d.set_factor(2.0)
    assert d.bar("min_things") == 8.0 and d.opt["threshold_factor"] == 2.0
    with pytest.raises(ValueError, match=r"accounts\.detectors\.toy\.threshold_factor"):
        d.set_factor(0.0)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"min_thing": 3}, r"accounts\.detectors\.toy\.min_thing: unknown option"),
        ({"window": 0}, r"accounts\.detectors\.toy\.window: must be > 0"),
        ({"min_things": -1}, r"accounts\.detectors\.toy\.min_things: must be >= 0"),
        ({"min_things": math.nan}, r"toy\.min_things: must be >= 0"),
        ({"max_share": 1.5}, r"accounts\.detectors\.toy\.max_share: a share is at most 1"),
        ({"max_entries": "lots"}, r"accounts\.detectors\.toy\.max_entries: must be a number"),
        ({"threshold_factor": 0}, r"toy\.threshold_factor: must be > 0"),
    ],
)
def test_bad_options_name_their_configuration_key(given: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve("toy", Toy.OPTIONS, given)


def test_forget_before_reaches_every_table_and_sets_the_horizon() -> None:
    d = Toy(max_keys=5)
    a, b = d.table(Window), d.table(Window)
    a.touch("x", lambda: aged(1.0))
    b.touch("y", lambda: aged(2.0))
    b.touch("z", lambda: aged(50.0))
    d.forget_before(10.0)
    assert len(a) == 0 and list(b) == ["z"]
    assert d.since(30.0) == 10.0  # the horizon wins over now - window
    assert d.since(100.0) == 40.0
