"""Sketches against exact answers on seeded random streams.

Each property is checked on several seeds of a zipf-like stream (a few heavy keys and a
long tail), the shape attack traffic has, and on the edges: gaps, jumps, late data.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from collections import Counter

import pytest

from seawall.detect.sketch import (
    BottomK,
    HyperLogLog,
    SpaceSaving,
    TopCounts,
    _hash64,
    hash_texts,
)


def zipf_stream(seed: int, n: int, universe: int = 5000, s: float = 1.1) -> list[int]:
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) ** s for i in range(universe)]
    return rng.choices(range(universe), weights=weights, k=n)


def check_space_saving(ss: SpaceSaving[int], exact: dict[int, float]) -> None:
    """The guarantees: bounds on every monitored key, and every heavy hitter monitored."""
    total = sum(exact.values())
    assert ss.total == pytest.approx(total)
    assert len(ss) <= ss.k
    top = ss.top(ss.k)
    assert sum(c for _, c, _ in top) == pytest.approx(total)  # the counts partition the total
    for key, count, error in top:
        true = exact.get(key, 0.0)
        assert count - error <= true + 1e-6
        assert true <= count + 1e-6
    for key, true in exact.items():
        if true > total / ss.k:
            assert key in ss, key


# -- SpaceSaving -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [10, 100])
def test_space_saving_bounds_and_heavy_hitters_on_zipf(seed: int, k: int) -> None:
    stream = zipf_stream(seed, 20_000)
    ss: SpaceSaving[int] = SpaceSaving(k)
    for key in stream:
        ss.add(key)
    check_space_saving(ss, {key: float(n) for key, n in Counter(stream).items()})
    assert len(ss._heap) == len(ss)  # one heap entry per key: fixed memory


@pytest.mark.parametrize("seed", range(5))
def test_space_saving_weighted_adds(seed: int) -> None:
    rng = random.Random(seed)
    ss: SpaceSaving[int] = SpaceSaving(32)
    exact: Counter[int] = Counter()
    for key in zipf_stream(seed, 5000, universe=2000):
        w = rng.choice([0.5, 1.0, 3.0, 10.0])
        ss.add(key, w)
        exact[key] += w  # type: ignore[assignment]
    check_space_saving(ss, dict(exact))


@pytest.mark.parametrize("seed", range(5))
def test_space_saving_update_folds_interval_counters(seed: int) -> None:
    stream = zipf_stream(seed, 30_000)
    ss: SpaceSaving[int] = SpaceSaving(50)
    for i in range(0, len(stream), 1000):  # one exact Counter per interval
        ss.update(Counter(stream[i : i + 1000]))
    check_space_saving(ss, {key: float(n) for key, n in Counter(stream).items()})
    assert len(ss._heap) == len(ss)


@pytest.mark.parametrize("seed", range(3))
def test_space_saving_decay_keeps_the_bounds_against_decayed_truth(seed: int) -> None:
    stream = zipf_stream(seed, 12_000, universe=1000)
    ss: SpaceSaving[int] = SpaceSaving(40)
    exact: dict[int, float] = {}
    for i in range(0, len(stream), 2000):
        interval = Counter(stream[i : i + 2000])
        ss.update(interval)
        for key, n in interval.items():
            exact[key] = exact.get(key, 0.0) + n
        ss.decay(0.5)
        exact = {key: v * 0.5 for key, v in exact.items()}
    check_space_saving(ss, exact)
    # after decay, a new key still evicts the true minimum
    ss.add(-1, 1e6)
    assert ss.top(1)[0][0] == -1


def test_space_saving_a_recent_heavy_hitter_displaces_an_old_one_after_decay() -> None:
    ss: SpaceSaving[str] = SpaceSaving(4)
    ss.update({"old": 1000.0, "a": 1.0, "b": 1.0, "c": 1.0})
    for _ in range(10):
        ss.decay(0.5)  # old: ~1
        ss.update({"new": 50.0})
    assert ss.top(1)[0][0] == "new"


def test_space_saving_transcript() -> None:
    ss: SpaceSaving[str] = SpaceSaving(2)
    ss.add("a", 3)
    ss.add("b")
    ss.add("c")  # evicts b (1): c = 1 + 1, error 1
    assert ss.top(5) == [("a", 3.0, 0.0), ("c", 2.0, 1.0)]
    assert ss.estimate("b") == 0.0
    assert ss.estimate("c") == 2.0
    ss.add("a")
    ss.add("d", 0.5)  # evicts c (2): d = 2.5, error 2
    assert ss.top(1) == [("a", 4.0, 0.0)]
    assert ss.top(5)[1] == ("d", 2.5, 2.0)
    assert ss.total == 6.5


def test_space_saving_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        SpaceSaving(0)
    ss: SpaceSaving[str] = SpaceSaving(3)
    with pytest.raises(ValueError):
        ss.add("a", 0.0)
    with pytest.raises(ValueError):
        ss.update({"a": 1.0, "b": -1.0})
    with pytest.raises(ValueError):
        ss.decay(0.0)
    ss.update({})
    assert ss.total == 0.0
    assert len(ss) == 0


# -- HyperLogLog -------------------------------------------------------------------------


@pytest.mark.parametrize("p", [10, 12, 14])
@pytest.mark.parametrize("n", [10, 1000, 100_000])
def test_hll_relative_error_within_three_standard_errors(p: int, n: int) -> None:
    rng = random.Random(n * 31 + p)
    base = rng.randrange(1 << 32)
    values = [base + i for i in range(n)]  # consecutive ints: the hash must mix them
    h = HyperLogLog(p)
    h.add_many(values + values[: n // 2])  # repeats change nothing
    se = 1.04 / math.sqrt(1 << p)
    assert abs(h.count() - n) / n <= 3 * se


@pytest.mark.parametrize("n", [10, 1000, 100_000])
def test_hll_strings(n: int) -> None:
    h = HyperLogLog(12)
    h.add_many(f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(n))
    assert abs(h.count() - n) / n <= 3 * 1.04 / 64


def test_hll_add_and_add_many_agree_for_every_type() -> None:
    values: list[int | str | bytes] = [0, 1, 2**64 - 1, 2**64, 2**127 + 5, -3, True, "é", b"x"]
    values += list(range(1000)) + [str(i) for i in range(1000)]
    one, many = HyperLogLog(8), HyperLogLog(8)
    for v in values:
        one.add(v)
    many.add_many(iter(values))  # an iterator, not a collection
    assert one.registers == many.registers
    unhashable = HyperLogLog(8)
    unhashable.add_many([bytearray(b"x"), memoryview(b"x")])
    single = HyperLogLog(8)
    single.add(b"x")
    assert unhashable.registers == single.registers


def test_hll_merge_equals_the_union() -> None:
    rng = random.Random(7)
    a_vals = [rng.randrange(10**9) for _ in range(5000)]
    b_vals = [rng.randrange(10**9) for _ in range(5000)] + a_vals[:1000]
    a, b, union = HyperLogLog(11), HyperLogLog(11), HyperLogLog(11)
    a.add_many(a_vals)
    b.add_many(b_vals)
    union.add_many(a_vals + b_vals)
    a.merge(b)
    assert a.registers == union.registers
    assert a.count() == union.count()
    with pytest.raises(ValueError):
        a.merge(HyperLogLog(12))


def test_hll_is_stable_across_processes() -> None:
    # pinned values: a change here breaks sketches persisted or merged across versions
    assert _hash64(1) == 10451216379200822465
    assert _hash64("abc") == 6455300059550759896
    code = (
        "from seawall.detect.sketch import HyperLogLog\n"
        "h = HyperLogLog(6); h.add_many(['a', 'b', 1, 2**70, b'c']); print(h.registers.hex())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1


def test_hll_edges() -> None:
    assert HyperLogLog().count() == 0.0
    assert len(HyperLogLog(4).registers) == 16
    with pytest.raises(ValueError):
        HyperLogLog(3)
    with pytest.raises(ValueError):
        HyperLogLog(17)
    with pytest.raises(TypeError):
        HyperLogLog().add(1.5)  # type: ignore[arg-type]
    h = HyperLogLog(4)
    h.add_many(range(100_000))  # saturated small sketch: the raw estimate, finite
    assert math.isfinite(h.count())


def test_bottom_k_keeps_the_k_smallest_hashes_whatever_the_order_and_repeats() -> None:
    rng = random.Random(3)
    keys = list(range(5000))
    stream = keys + rng.sample(keys, 2000)  # repeats change nothing
    rng.shuffle(stream)
    b = BottomK(100)
    for start in range(0, len(stream), 333):
        b.add_many({key: str(key) for key in stream[start : start + 333]})
    expected = sorted(keys, key=_hash64)[:100]
    assert b.full and len(b) == 100
    assert b.labels() == [str(key) for key in expected]  # in hash order


def test_bottom_k_below_k_is_every_key_and_merge_is_the_union() -> None:
    a, b, both = BottomK(50), BottomK(50), BottomK(50)
    a.add_many({i: f"a{i}" for i in range(30)})
    assert not a.full and sorted(a.labels()) == sorted(f"a{i}" for i in range(30))
    b.add_many({i: f"a{i}" for i in range(20, 400)})
    both.add_many({i: f"a{i}" for i in range(400)})
    a.merge(b)
    assert a.labels() == both.labels() and a.full


def test_bottom_k_sample_is_uniform_over_distinct_keys_not_volume() -> None:
    """One key sent a million times is no likelier to be kept than any other."""
    heavy = 7
    kept = 0
    for trial in range(400):
        b = BottomK(10)
        keys = range(trial * 100, trial * 100 + 100)
        b.add_many({key: "x" for key in keys})
        kept += any(_hash64(key) == h for key in (trial * 100 + heavy,) for h in b._kept)
    assert 20 <= kept <= 65  # expected 40 (10 of 100 kept), about 6 standard deviations wide


def test_bottom_k_rejects_a_zero_k() -> None:
    with pytest.raises(ValueError):
        BottomK(0)


def test_hash_texts_is_hash64_of_text() -> None:
    values = ["192.0.2.1", "2001:db8::1", "", "\udcff"]
    assert hash_texts(values) == [_hash64(v) for v in values]


def test_hashed_adds_equal_plain_adds_for_both_sketches() -> None:
    values = [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(0, 300_000, 7)]
    a, b = HyperLogLog(12), HyperLogLog(12)
    a.add_many(values)
    b.add_hashes(hash_texts(values))
    assert a.registers == b.registers
    s1, s2 = BottomK(64), BottomK(64)
    s1.add_many({v: v for v in values})
    for start in range(0, len(values), 1000):  # in batches, so the bar filters later ones
        part = values[start : start + 1000]
        s2.add_hashed(hash_texts(part), part)
    assert s1.labels() == s2.labels()


def test_top_counts_are_exact_until_full_then_newcomers_are_untracked() -> None:
    t = TopCounts(cap=3)
    t.update({"a": 5, "b": 1})
    t.update({"a": 2, "c": 4, "d": 9})  # d arrives when the table is full
    t.update({"b": 1})
    assert t.top(2) == [("a", 7), ("c", 4)]
    assert dict(t.counts) == {"a": 7, "b": 2, "c": 4} and t.untracked == 9
    with pytest.raises(ValueError):
        TopCounts(0)
