"""Throughput of the DetectionEngine alone, in records per CPU second, as Markdown tables.

Run: python3 bench/detect_engine.py [--quick] [--profile] [--warmup 40] [--seconds 20]

Target (DESIGN.md §6): detection must never lag the edge, >= 200,000 records/s per core.

The traffic comes from the seeded synthetic site of the detection tests (tests/detectsite.py):
browsers, signed-in users and api apps across 62 targets, and a flood of bots that share one
header fingerprint, from thousands of addresses, on one target. Every request's facts are
built before anything is timed. Each simulated second, untimed, the second's facts go
through a real Decider holding the rules the engine has written so far (the loop is closed,
as at the edge: once a rule is in, the flood arrives as blocked records) and become Records.
Only `engine.observe_many(batch)` plus `engine.tick(now)` are timed, per second: CPU time
(time.process_time) for records/s, wall time for the per-tick p50 and max.

Scenarios, each warmed up with `--warmup` seconds of baseline traffic (untimed) and then
timed for `--seconds` seconds:
  baseline  steady baseline traffic at N records per tick;
  flood     N per tick of which 90% is a flood starting on the first timed tick, so the
            timed ticks include detection and signature building on that first tick;
  sampling  a flood above `max_records` (50,000): the reservoir-sampling path.
In the flood scenarios the warm-up runs at the baseline's share of N (10%).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from detectsite import Site
from seawall.core.decider import Decider
from seawall.core.facts import RequestFacts
from seawall.core.record import Record
from seawall.core.verdict import Action
from seawall.detect.engine import DetectionEngine, EngineSettings

TARGET = 200_000  # records/s per core
FLOOD_SHARE = 0.9
FLOOD_SOURCES = 5000
T0 = 1_700_000_000.0
MAX_POOL = 120_000  # distinct facts per pool, at most; seconds take rotating windows of it


@dataclass(frozen=True, slots=True)
class Case:
    scenario: str
    per_tick: int  # records offered per simulated second, timed part
    flood_share: float  # of per_tick


@dataclass(slots=True)
class Outcome:
    case: Case
    records: int
    ticks: int
    cpu: float
    walls: list[float]
    first_flood: float | None  # wall seconds of the first flood tick
    sampled_out: int
    rules: int  # rules the engine added during the timed part
    setup: float  # wall seconds spent outside the timed calls (decider, records)
    refused: float  # share of the last tick's records the rules refused (closed loop)

    @property
    def rate(self) -> float:
        return self.records / self.cpu if self.cpu > 0 else float("inf")


class Pool:
    """Pre-built facts, handed out in rotating windows (each second a different slice)."""

    def __init__(self, facts: list[RequestFacts]) -> None:
        self.facts = facts
        self.at = 0

    def take(self, n: int) -> list[RequestFacts]:
        out: list[RequestFacts] = []
        while len(out) < n:
            chunk = self.facts[self.at : self.at + n - len(out)]
            out.extend(chunk)
            self.at = (self.at + len(chunk)) % len(self.facts)
        return out


def baseline_pool(n: int, seed: int) -> Pool:
    site = Site(seed=seed, legit_rate=n)
    return Pool(site.second(0))


def flood_pool(n: int, seed: int) -> Pool:
    site = Site(seed=seed, legit_rate=0)
    site.wave("bots", 0, 1, n, FLOOD_SOURCES)
    return Pool(site.second(0))


def records(decider: Decider, facts: list[RequestFacts], now: float) -> list[Record]:
    """What the edge hands the engine for these requests, under the rules in force."""
    out = []
    t = T0 + now
    for f in facts:
        v = decider.decide(f, now)
        forwarded = v.action <= Action.CACHE
        status = 200 if forwarded else (444 if v.close else v.status)
        out.append(Record(f, v, status, 0, 500, 0.01, 0.01 if forwarded else 0.0, "", "r", t))
    return out


def run(
    case: Case,
    base: Pool,
    flood: Pool,
    warmup: int,
    seconds: int,
    seed: int,
    profile: cProfile.Profile | None = None,
) -> Outcome:
    engine = DetectionEngine(EngineSettings(seed=seed))
    decider = Decider()
    rng = random.Random(seed)
    n_flood = round(case.per_tick * case.flood_share)
    n_base = case.per_tick - n_flood
    walls: list[float] = []
    cpu = 0.0
    offered = rules = 0
    first_flood: float | None = None
    setup = 0.0
    batch: list[Record] = []
    for t in range(warmup + seconds):
        timed = t >= warmup
        s0 = time.perf_counter()
        facts = base.take(n_base)
        if timed and n_flood:
            facts += flood.take(n_flood)
            rng.shuffle(facts)
        batch = records(decider, facts, float(t))
        setup += time.perf_counter() - s0
        now = float(t + 1)
        if profile is not None and timed:
            profile.enable()
        c0, w0 = time.process_time(), time.perf_counter()
        engine.observe_many(batch)
        res = engine.tick(now, wall=T0 + now)
        w1, c1 = time.perf_counter(), time.process_time()
        if profile is not None and timed:
            profile.disable()
        decider.apply(res.delta)
        if timed:
            cpu += c1 - c0
            walls.append(w1 - w0)
            offered += len(batch)
            rules += len(res.delta.add)
            if n_flood and first_flood is None:
                first_flood = w1 - w0
    refused = sum(1 for r in batch if r.verdict.action > Action.CACHE) / max(1, len(batch))
    return Outcome(
        case, offered, seconds, cpu, walls, first_flood, engine.sampled_out, rules, setup, refused
    )


def cases(quick: bool) -> list[Case]:
    steady = (2_000, 20_000) if quick else (2_000, 20_000, 50_000)
    above = (100_000,) if quick else (100_000, 200_000)
    return (
        [Case("baseline", n, 0.0) for n in steady]
        + [Case("flood 90%", n, FLOOD_SHARE) for n in steady]
        + [Case("sampling (flood > max_records)", n, FLOOD_SHARE) for n in above]
    )


def row(o: Outcome) -> str:
    c = o.case
    ms = [w * 1000 for w in o.walls]
    first = f"{o.first_flood * 1000:,.1f}" if o.first_flood is not None else "-"
    verdict = "yes" if o.rate >= TARGET else "no"
    return (
        f"| {c.scenario} | {c.per_tick:,} | {round(c.per_tick * c.flood_share):,} | {o.ticks} "
        f"| {o.records:,} | {o.cpu:.3f} | {o.rate:,.0f} | {verdict} "
        f"| {statistics.median(ms):,.1f} | {max(ms):,.1f} | {first} "
        f"| {o.sampled_out:,} | {o.rules} | {o.refused:.0%} |"
    )


HEADER = (
    "| scenario | records/tick | flood/tick | timed ticks | records | CPU s | records/CPU s "
    f"| >= {TARGET:,} | p50 tick ms | max tick ms | first flood tick ms | sampled out | rules added "
    "| refused, last tick |\n"
    "|---|---:|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|---:|"
)


def machine() -> None:
    print(f"- python: {sys.version.splitlines()[0]}")
    print(f"- executable: {sys.executable}")
    print(f"- implementation: {platform.python_implementation()} {platform.python_build()}")
    print(f"- machine: {platform.platform()}, {platform.machine()}, {platform.processor() or '?'}")
    print(f"- os.cpu_count: {os.cpu_count()}")
    if hasattr(os, "sched_getaffinity"):
        print(f"- usable CPUs: {len(os.sched_getaffinity(0))}")


def pools(per_tick: Sequence[int], seed: int) -> tuple[Pool, Pool]:
    biggest = max(per_tick)
    base = baseline_pool(min(MAX_POOL, 2 * biggest), seed)
    flood = flood_pool(min(MAX_POOL, biggest), seed + 1)
    return base, flood


def profile_flood(per_tick: int, warmup: int, seconds: int, seed: int, top: int) -> None:
    case = Case("flood 90%", per_tick, FLOOD_SHARE)
    base, flood = pools([per_tick], seed)
    gc.collect()
    gc.freeze()
    prof = cProfile.Profile()
    o = run(case, base, flood, warmup, seconds, seed, prof)
    print(f"\n## cProfile: flood 90% at {per_tick:,}/tick, {seconds} timed ticks\n")
    print(f"(under the profiler: {o.rate:,.0f} records/CPU s; only the timed calls profiled)\n")
    for key in ("cumulative", "tottime"):
        print(f"### top {top} by {key}\n")
        print("```")
        pstats.Stats(prof, stream=sys.stdout).strip_dirs().sort_stats(key).print_stats(top)
        print("```")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--quick", action="store_true", help="fewer ticks and sizes (a smoke run)")
    ap.add_argument("--warmup", type=int, help="untimed seconds of baseline (default 40; 10 quick)")
    ap.add_argument("--seconds", type=int, help="timed seconds per scenario (default 20; 5 quick)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--profile", action="store_true", help="also run cProfile once on the flood scenario"
    )
    ap.add_argument("--profile-rate", type=int, default=20_000, help="records/tick profiled")
    ap.add_argument("--top", type=int, default=10, help="functions listed per profile sort")
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else (10 if args.quick else 40)
    seconds = args.seconds if args.seconds is not None else (5 if args.quick else 20)
    if warmup < 0 or seconds < 1:
        ap.error("--warmup must be >= 0 and --seconds >= 1")

    print("# DetectionEngine throughput\n")
    machine()
    print(f"- warm-up {warmup} s (untimed), timed {seconds} s per scenario, seed {args.seed}")
    print("- timed: engine.observe_many(batch) + engine.tick(now), per simulated second\n")

    todo = cases(args.quick)
    s0 = time.perf_counter()
    base, flood = pools([c.per_tick for c in todo], args.seed)
    gc.collect()
    gc.freeze()  # the pre-built facts are not the engine's garbage to scan
    print(
        f"(built {len(base.facts):,} baseline and {len(flood.facts):,} flood facts "
        f"in {time.perf_counter() - s0:.1f} s)\n"
    )
    print(HEADER)
    for case in todo:
        o = run(case, base, flood, warmup, seconds, args.seed)
        print(row(o), flush=True)
    if args.profile:
        profile_flood(args.profile_rate, warmup, seconds, args.seed, args.top)


if __name__ == "__main__":
    main()
