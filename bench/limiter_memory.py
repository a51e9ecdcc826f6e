"""Memory per tracked address for the rate limiters, under a botnet of many sources.

Run: python3 bench/limiter_memory.py [--keys 1000000]

Measures bytes per tracked IPv4 address for the in-process GCRA table (a dict) on a fresh
fill and in the steady state of a botnet rotating through twice the cap, and for the
host-wide shared table (fixed 16-byte slots). Prints a table and checks the cap holds.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import time
import tracemalloc

from seawall.core.limiter import Gcra
from seawall.core.rules import Rule
from seawall.core.verdict import Action
from seawall.edge.shared_limits import SharedGcra, SharedGcraTable

BASE = 0x0B000000  # 11.0.0.0: addresses as the ints the edge keys by


def dict_limiter(keys: int) -> tuple[float, float, int]:
    gc.collect()
    tracemalloc.start()
    g = Gcra(rate=1.0, burst=5, max_keys=keys)
    now = 0.0
    for i in range(keys):
        g.hit(BASE + i, now)
    fresh = tracemalloc.get_traced_memory()[0] / keys
    for i in range(keys, 3 * keys):  # the botnet rotates: two more waves of new sources
        g.hit(BASE + i, now)
    steady = tracemalloc.get_traced_memory()[0] / len(g)
    tracemalloc.stop()
    return fresh, steady, len(g)


def shared_table(keys: int) -> tuple[float, float, int]:
    table = SharedGcraTable(2 * keys, mp.get_context("fork").Lock())
    g = SharedGcra(Rule("r", Action.THROTTLE, rate=1.0, burst=5), table)
    t0 = time.perf_counter()
    for i in range(3 * keys):
        g.hit(BASE + i, 0.0)
    per_hit = (time.perf_counter() - t0) / (3 * keys)
    assert table.occupied(0.0) <= table.slots  # bounded by construction
    return table.slots * 16 / keys, per_hit * 1e6, table.occupied(0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1_000_000, help="the cap: addresses tracked")
    args = ap.parse_args()
    fresh, steady, held = dict_limiter(args.keys)
    per_key, us, occupied = shared_table(args.keys)
    print(f"tracked addresses (cap): {args.keys:,}")
    print(
        f"in-process dict  : {fresh:6.1f} B/address fresh, {steady:6.1f} B/address steady; "
        f"held {held:,} after {3 * args.keys:,} sources"
    )
    print(
        f"shared table     : {per_key:6.1f} B/address (fixed), {us:.2f} us/hit; "
        f"{occupied:,} live slots after {3 * args.keys:,} sources"
    )
    assert held <= args.keys


if __name__ == "__main__":
    main()
