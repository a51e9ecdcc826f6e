"""GCRA: burst, steady rate, exact retry-after, and bounded per-key state.

Rates and times are chosen so every interval and wait is an exact float.
"""

from __future__ import annotations

import gc
import time
import tracemalloc

import pytest

from seawall.core.limiter import Gcra


def transcript(g: Gcra, steps: list[tuple[float, object]]) -> list[tuple[float, object, float]]:
    """(now, key) in, (now, key, wait) out: 0.0 conforms, anything else is the retry-after."""
    return [(now, key, g.hit(key, now)) for now, key in steps]


def test_burst_then_steady_rate() -> None:
    g = Gcra(rate=2.0, burst=3, max_keys=10)  # one every 0.5 s, three at once
    assert transcript(
        g,
        [
            (0.0, "a"),
            (0.0, "a"),
            (0.0, "a"),  # the burst
            (0.0, "a"),  # over: wait for the next 0.5 s slot
            (0.0, "a"),  # a refused request does not use up a slot
            (0.25, "a"),
            (0.5, "a"),  # the slot comes
            (0.5, "a"),
            (0.75, "a"),
            (1.0, "a"),
            (1.5, "a"),
            (2.0, "a"),
            (2.0, "a"),
        ],
    ) == [
        (0.0, "a", 0.0),
        (0.0, "a", 0.0),
        (0.0, "a", 0.0),
        (0.0, "a", 0.5),
        (0.0, "a", 0.5),
        (0.25, "a", 0.25),
        (0.5, "a", 0.0),
        (0.5, "a", 0.5),
        (0.75, "a", 0.25),
        (1.0, "a", 0.0),
        (1.5, "a", 0.0),
        (2.0, "a", 0.0),
        (2.0, "a", 0.5),
    ]


def test_quiet_key_earns_its_whole_burst_back_and_no_more() -> None:
    g = Gcra(rate=4.0, burst=2, max_keys=10)
    assert transcript(g, [(0.0, "a"), (0.0, "a"), (0.0, "a")]) == [
        (0.0, "a", 0.0),
        (0.0, "a", 0.0),
        (0.0, "a", 0.25),
    ]
    # an hour of silence buys the burst of 2, not 14,400 requests
    assert transcript(g, [(3600.0, "a"), (3600.0, "a"), (3600.0, "a")]) == [
        (3600.0, "a", 0.0),
        (3600.0, "a", 0.0),
        (3600.0, "a", 0.25),
    ]


def test_burst_of_one_is_a_strict_interval() -> None:
    g = Gcra(rate=1.0, burst=1, max_keys=10)
    assert transcript(g, [(0.0, 1), (0.0, 1), (0.75, 1), (1.0, 1), (1.5, 1)]) == [
        (0.0, 1, 0.0),
        (0.0, 1, 1.0),
        (0.75, 1, 0.25),
        (1.0, 1, 0.0),
        (1.5, 1, 0.5),
    ]


def test_keys_are_independent() -> None:
    g = Gcra(rate=1.0, burst=1, max_keys=10)
    assert transcript(g, [(0.0, "a"), (0.0, "b"), (0.0, "a"), (0.0, None), (0.0, None)]) == [
        (0.0, "a", 0.0),
        (0.0, "b", 0.0),
        (0.0, "a", 1.0),
        (0.0, None, 0.0),
        (0.0, None, 1.0),
    ]
    assert len(g) == 3


def test_lru_bound_forgets_the_quietest_key_and_counts_it() -> None:
    g = Gcra(rate=1.0, burst=1, max_keys=2)
    assert transcript(
        g,
        [
            (0.0, "a"),
            (0.0, "b"),
            (0.1, "a"),  # refused, but seen: "a" is now the most recent
            (0.2, "c"),  # full: "b", the least recently seen, is forgotten
            (0.3, "a"),  # still remembered, still owes its interval
            (0.4, "b"),  # forgotten, so it starts afresh; "c" goes this time
        ],
    ) == [
        (0.0, "a", 0.0),
        (0.0, "b", 0.0),
        (0.1, "a", 0.9),
        (0.2, "c", 0.0),
        (0.3, "a", 0.7),
        (0.4, "b", 0.0),
    ]
    assert (len(g), g.evictions) == (2, 2)
    assert g.hit("c", 0.5) == 0.0  # "c" was forgotten too


def test_a_full_table_forgets_its_oldest_sixty_fourth_at_once() -> None:
    """One scan for the oldest keys evicts a batch, so churn costs O(1) a hit."""
    g = Gcra(rate=1.0, burst=1, max_keys=128)
    transcript(g, [(0.0, k) for k in range(128)])
    assert transcript(g, [(0.5, 0), (0.5, 128)]) == [(0.5, 0, 0.5), (0.5, 128, 0.0)]
    assert (len(g), g.evictions) == (127, 2)
    # keys 1 and 2 were the quietest; 0 was seen again just before, 3 is next in line
    assert transcript(g, [(0.5, 1), (0.5, 3), (0.5, 0)]) == [
        (0.5, 1, 0.0),  # forgotten: a fresh start
        (0.5, 3, 0.5),
        (0.5, 0, 0.5),
    ]
    assert (len(g), g.evictions) == (128, 2)


def test_a_known_key_never_evicts_another() -> None:
    g = Gcra(rate=1.0, burst=1, max_keys=2)
    transcript(g, [(0.0, "a"), (0.0, "b"), (5.0, "a"), (5.0, "b"), (9.0, "a")])
    assert (len(g), g.evictions) == (2, 0)


@pytest.mark.parametrize(
    ("rate", "burst", "max_keys", "message"),
    [
        (0.0, 1, 1, "rate"),
        (-1.0, 1, 1, "rate"),
        (1.0, 0, 1, "burst"),
        (1.0, 1, 0, "max_keys"),
    ],
)
def test_refuses_nonsense(rate: float, burst: int, max_keys: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Gcra(rate, burst, max_keys)


# ---------------------------------------------------------------- memory

N = 100_000
BASE = 0xC6120000  # 198.18.0.0: keys are IPv4 addresses as ints, as the Decider passes them


def _traced(fn: object) -> int:
    """Bytes still allocated after `fn` runs (everything it made and kept)."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    fn()  # type: ignore[operator]
    gc.collect()
    return int(tracemalloc.get_traced_memory()[0] - before)


def test_memory_per_ipv4_key_is_under_150_bytes() -> None:
    """DESIGN §6: ≤ 150 bytes per tracked address. The key ints are made inside the traced
    window because the table keeps them alive: they are part of the cost."""
    g = Gcra(rate=1.0, burst=5, max_keys=N)

    def fill() -> None:
        for i in range(N):
            g.hit(BASE + i, 0.5)

    tracemalloc.start()
    try:
        per_key = _traced(fill) / N
    finally:
        tracemalloc.stop()
    assert len(g) == N
    assert per_key < 150, f"{per_key:.1f} bytes per key"


def test_memory_stays_flat_under_a_churning_botnet() -> None:
    """Past the cap, new addresses evict old ones and memory does not grow."""
    g = Gcra(rate=1.0, burst=5, max_keys=N)
    wave = iter(range(10))

    def one_wave() -> None:
        w = next(wave)
        for i in range(N):
            g.hit(BASE + w * N + i, float(w))

    tracemalloc.start()
    try:
        sizes = [_traced(one_wave) for _ in range(6)]
    finally:
        tracemalloc.stop()
    assert N - N // 64 <= len(g) <= N
    assert g.evictions == 6 * N - len(g)  # every key is either tracked or counted as evicted
    grown_after_warmup = sum(sizes[2:])
    assert abs(grown_after_warmup) < 0.05 * sum(sizes[:2]), sizes
    # Known gap: under churn the dict settles at twice the slots a fresh fill has, about
    # 165 bytes a key on CPython 3.11, above DESIGN §6's 150. This only guards against worse.
    steady_per_key = sum(sizes) / N
    assert steady_per_key < 200, f"{steady_per_key:.1f} bytes per key"


def test_churn_costs_about_what_a_fresh_key_costs() -> None:
    """Eviction must not scan the table: a botnet rotating addresses past the cap is the
    moment the limiter matters most. (Scanning for the oldest key one eviction at a time
    once cost 60 times a plain hit at this size.)"""
    full = Gcra(rate=1.0, burst=5, max_keys=N)
    roomy = Gcra(rate=1.0, burst=5, max_keys=4 * N)
    for i in range(N):
        full.hit(BASE + i, 0.0)
        roomy.hit(BASE + i, 0.0)

    def cost(g: Gcra) -> float:
        start = time.perf_counter()
        for i in range(N, 3 * N):
            g.hit(BASE + i, 1.0)
        return time.perf_counter() - start

    roomy_cost, full_cost = cost(roomy), cost(full)
    assert full.evictions >= 2 * N - N // 64
    assert roomy.evictions == 0
    assert full_cost < 5 * roomy_cost, (full_cost, roomy_cost)
