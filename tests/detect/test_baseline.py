"""Baselines: learning a steady rate, scoring a step, lazy zeros, the LRU cap and freezing.

Transcripts run second by second; `now` is the second a rate belongs to.
"""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from seawall.detect.baseline import Baselines, Stat


def test_a_constant_rate_is_learned_and_scores_zero() -> None:
    b = Baselines(half_life=10.0)
    for t in range(300):
        b.observe("site", 50.0, float(t))
    st = b.stat("site", 300.0)
    assert st is not None
    assert st.mean == pytest.approx(50.0, rel=1e-6)
    assert st.std < 0.01
    assert st.samples == 300
    assert b.score("site", 50.0, 300.0, floor=1.0) == pytest.approx(0.0, abs=1e-3)


def test_a_step_up_scores_high_and_a_normal_wobble_does_not() -> None:
    rng = random.Random(3)
    b = Baselines(half_life=30.0)
    for t in range(600):
        b.observe("/users/cyxymu", rng.gauss(40.0, 4.0), float(t))
    st = b.stat("/users/cyxymu", 600.0)
    assert st is not None
    assert st.mean == pytest.approx(40.0, abs=2.0)
    assert st.std == pytest.approx(4.0, abs=1.5)
    assert abs(b.score("/users/cyxymu", 44.0, 600.0, floor=2.0)) < 2.0
    assert b.score("/users/cyxymu", 400.0, 600.0, floor=2.0) > 50.0


def test_a_young_baseline_reads_what_it_saw_not_a_fraction() -> None:
    b = Baselines(half_life=1.0)  # a = 1/2
    b.observe("k", 8.0, 0.0)
    # young keys average with equal weights: one value, no deviation yet
    assert b.stat("k", 1.0) == Stat(mean=8.0, std=0.0, samples=1)
    slow = Baselines(half_life=300.0)
    for t in range(10):
        slow.observe("k", 50.0, float(t))
    got = slow.stat("k", 10.0)
    assert got is not None and got.mean == pytest.approx(50.0) and got.std == pytest.approx(0.0)
    for t in range(10, 1000):  # past the young phase into the EWMA, still steady
        slow.observe("k", 50.0, float(t))
    late = slow.stat("k", 1000.0)
    assert late is not None and late.mean == pytest.approx(50.0) and late.std < 1e-6


@pytest.mark.parametrize("gap", [2, 3, 10, 57])
def test_lazy_decay_equals_explicit_zero_observations(gap: int) -> None:
    rng = random.Random(gap)
    lazy, explicit = Baselines(half_life=20.0), Baselines(half_life=20.0)
    rates = [rng.uniform(5.0, 50.0) for _ in range(40)]
    for t, r in enumerate(rates):
        lazy.observe("k", r, float(t))
        explicit.observe("k", r, float(t))
    end = len(rates) - 1 + gap
    for t in range(len(rates), end):
        explicit.observe("k", 0.0, float(t))  # the seconds the key was absent
    got, want = lazy.stat("k", float(end)), explicit.stat("k", float(end))
    assert got is not None and want is not None
    assert got.mean == pytest.approx(want.mean, rel=1e-9)
    assert got.std == pytest.approx(want.std, rel=1e-9)
    assert got.samples == want.samples
    lazy.observe("k", 30.0, float(end))
    explicit.observe("k", 30.0, float(end))
    got, want = lazy.stat("k", end + 1.0), explicit.stat("k", end + 1.0)
    assert got is not None and want is not None
    assert got.mean == pytest.approx(want.mean, rel=1e-9)
    assert got.std == pytest.approx(want.std, rel=1e-9)
    assert got.samples == want.samples == len(rates) + gap


def test_stat_is_read_only() -> None:
    b = Baselines(half_life=5.0)
    b.observe("k", 10.0, 0.0)
    before = b.stat("k", 1.0)
    assert b.stat("k", 100.0) != before  # decayed to then
    assert b.stat("k", 1.0) == before  # but nothing was written
    assert b.stat("unknown", 1.0) is None


def test_observe_many_touches_only_the_keys_given() -> None:
    b = Baselines(half_life=10.0)
    b.observe_many({"a": 10.0, "b": 20.0}, 0.0)
    b.observe_many({"a": 10.0}, 1.0)
    sa, sb = b.stat("a", 2.0), b.stat("b", 2.0)
    assert sa is not None and sb is not None
    assert (sa.samples, sb.samples) == (2, 2)  # b's second 1 was a lazy zero
    single = Baselines(half_life=10.0)
    single.observe("b", 20.0, 0.0)
    single.observe("b", 0.0, 1.0)
    assert single.stat("b", 2.0) == pytest.approx(sb)


def test_unknown_keys_score_against_zero_and_the_floor() -> None:
    b = Baselines()
    assert b.score(("login", "/session"), 30.0, 5.0, floor=3.0) == 10.0
    assert b.score("x", 0.0, 5.0, floor=0.0) == 0.0
    assert b.score("x", 1.0, 5.0, floor=0.0) == math.inf
    assert b.score("x", -1.0, 5.0, floor=0.0) == -math.inf


def test_the_lru_cap_holds_and_evictions_are_counted() -> None:
    b = Baselines(half_life=10.0, max_keys=128)
    rng = random.Random(1)
    for t in range(200):
        b.observe("hot", 5.0, float(t))  # observed every second: never the oldest
        b.observe_many({rng.randrange(10_000): 1.0 for _ in range(20)}, float(t))
        assert len(b) <= 128
    assert b.evictions > 0
    assert b.evictions % 2 == 0  # in batches of max_keys // 64
    assert b.stat("hot", 200.0) is not None
    b.freeze("frozen-new", 500.0)  # freezing a new key also respects the cap
    assert len(b) <= 128


def test_evictions_count_every_key_dropped() -> None:
    b = Baselines(max_keys=10)
    for i in range(100):
        b.observe(i, 1.0, float(i))
    assert len(b) + b.evictions == 100
    assert b.stat(99, 100.0) is not None
    assert b.stat(0, 100.0) is None  # the least recently observed went first


def test_freeze_ignores_the_attack_and_the_frozen_seconds() -> None:
    b = Baselines(half_life=10.0)
    for t in range(100):
        b.observe("/login", 20.0, float(t))
    learned = b.stat("/login", 100.0)
    b.freeze("/login", until=160.0)
    assert b.frozen("/login", 100.0)
    for t in range(100, 160):
        b.observe("/login", 2000.0, float(t))  # the attack
        assert b.stat("/login", float(t)) == learned
    assert not b.frozen("/login", 160.0)
    assert b.stat("/login", 160.0) == learned  # frozen seconds were not zeros either
    b.observe("/login", 20.0, 160.0)
    st = b.stat("/login", 161.0)
    assert st is not None and st.mean == pytest.approx(20.0, rel=1e-3)
    assert st.samples == 101
    assert b.score("/login", 2000.0, 161.0, floor=2.0) > 100


def test_freeze_without_observations_does_not_decay_until_thaw() -> None:
    b = Baselines(half_life=10.0)
    b.observe("k", 10.0, 0.0)
    at_one = b.stat("k", 1.0)
    b.freeze("k", 50.0)
    assert b.stat("k", 30.0) == at_one
    assert b.stat("k", 50.0) == at_one  # seconds 1..49 were frozen
    later = b.stat("k", 53.0)  # seconds 50, 51, 52 were quiet
    assert later is not None and at_one is not None
    # young: one 10 and three zeros, averaged with equal weights
    assert later.mean == pytest.approx(10.0 / 4)
    b.freeze("new", 10.0)
    b.observe("new", 5.0, 3.0)
    assert b.stat("new", 4.0) == Stat(0.0, 0.0, 0)  # held, but learned nothing yet


def test_stat_is_a_frozen_slotted_record_and_arguments_are_checked() -> None:
    st = Stat(1.0, 2.0, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.mean = 2.0  # type: ignore[misc]
    assert not hasattr(st, "__dict__")
    with pytest.raises(ValueError):
        Baselines(half_life=0.0)
    with pytest.raises(ValueError):
        Baselines(max_keys=0)
