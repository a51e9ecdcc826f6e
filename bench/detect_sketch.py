"""Throughput of the detection sketches and baselines, as a Markdown table.

Run: python3 bench/detect_sketch.py [--scale 1.0] [--repeat 3]

Every loop is bounded: a fixed number of operations over pre-built, seeded inputs (a
zipf-like key stream, as attack traffic looks). The best of `--repeat` runs is reported.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from seawall.detect.baseline import Baselines
from seawall.detect.sketch import HyperLogLog, SpaceSaving


def zipf_keys(rng: random.Random, n: int, universe: int) -> list[int]:
    weights = [1.0 / (i + 1) ** 1.1 for i in range(universe)]
    return rng.choices(range(universe), weights=weights, k=n)


def best(repeat: int, ops: int, run: Callable[[], None]) -> float:
    """Operations per second: the best of `repeat` timed runs of `run`, which does `ops`."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return ops / min(times)


@dataclass(frozen=True, slots=True)
class Inputs:
    keys: list[int]  # a zipf-like stream over 100k keys
    intervals: list[Counter[int]]  # exact per-interval tallies, 1000 keys each
    ints: list[int]  # distinct IPv4-sized ints
    strs: list[str]  # distinct prefixes as text
    rates: list[dict[int, float]]  # one second's rates for 1000 keys, per second
    rounds: int  # how often the intervals are folded


def inputs(scale: float) -> Inputs:
    rng = random.Random(42)
    n = int(200_000 * scale)
    ints = [rng.randrange(1 << 32) for _ in range(n)]
    second = {rng.randrange(1 << 32): rng.uniform(0, 50) for _ in range(1000)}
    return Inputs(
        keys=zipf_keys(rng, n, 100_000),
        intervals=[
            Counter(dict(Counter(zipf_keys(rng, 5000, 100_000)).most_common(1000)))
            for _ in range(20)
        ],
        ints=ints,
        strs=[f"2001:db8:{i:x}::/48" for i in ints[: n // 2]],
        rates=[dict(second) for _ in range(max(1, int(50 * scale)))],
        rounds=max(1, int(10 * scale)),
    )


def ss_add(d: Inputs) -> None:
    add = SpaceSaving[int](1024).add
    for k in d.keys:
        add(k)


def ss_update(d: Inputs) -> None:
    ss = SpaceSaving[int](1024)
    for _ in range(d.rounds):
        for c in d.intervals:
            ss.update(c)


def hll_add(values: list[int] | list[str]) -> None:
    add = HyperLogLog(12).add
    for v in values:
        add(v)


def baselines(d: Inputs) -> None:
    b = Baselines(half_life=300.0, max_keys=100_000)
    for t, rates in enumerate(d.rates):
        b.observe_many(rates, float(t))


def cases(d: Inputs) -> list[tuple[str, str, int, Callable[[], None]]]:
    n, updates = len(d.keys), d.rounds * len(d.intervals)
    return [
        ("SpaceSaving.add (k=1024, zipf)", "add", n, lambda: ss_add(d)),
        ("SpaceSaving.update (1000-key Counter)", "update", updates, lambda: ss_update(d)),
        ("SpaceSaving.update, per key folded", "key", updates * 1000, lambda: ss_update(d)),
        ("HyperLogLog.add, ints (p=12)", "add", n, lambda: hll_add(d.ints)),
        ("HyperLogLog.add, strs (p=12)", "add", len(d.strs), lambda: hll_add(d.strs)),
        ("HyperLogLog.add_many, ints", "value", n, lambda: HyperLogLog().add_many(d.ints)),
        (
            "HyperLogLog.add_many, strs",
            "value",
            len(d.strs),
            lambda: HyperLogLog().add_many(d.strs),
        ),
        (
            "HyperLogLog.add_many, zipf ints (repeats)",
            "value",
            n,
            lambda: HyperLogLog().add_many(d.keys),
        ),
        ("Baselines.observe_many (1000 keys)", "call", len(d.rates), lambda: baselines(d)),
        ("Baselines.observe_many, per key", "key", len(d.rates) * 1000, lambda: baselines(d)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every loop's size")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per case; best is kept")
    args = ap.parse_args()
    print("| operation | unit | ops/s | ns/op |")
    print("|---|---|---:|---:|")
    for name, unit, ops, run in cases(inputs(args.scale)):
        rate = best(args.repeat, ops, run)
        print(f"| {name} | {unit} | {rate:,.0f} | {1e9 / rate:,.0f} |")


if __name__ == "__main__":
    main()
