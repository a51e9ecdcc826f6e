"""Host-wide rate limits: one table in shared memory, used alike by every forked worker."""

from __future__ import annotations

import multiprocessing as mp

from seawall.core.rules import Rule
from seawall.core.verdict import Action
from seawall.edge.shared_limits import SharedGcra, SharedGcraTable

CTX = mp.get_context("fork")


def rule(rid: str = "r", rate: float = 10.0, burst: int = 5) -> Rule:
    return Rule(rid, Action.THROTTLE, rate=rate, burst=burst)


def test_gcra_transcript_matches_the_in_process_limiter() -> None:
    g = SharedGcra(rule(), SharedGcraTable(64, CTX.Lock()))
    assert [round(g.hit("a", 0.0), 3) for _ in range(7)] == [0.0] * 5 + [0.1, 0.1]
    assert g.hit("a", 0.1) == 0.0  # one interval later, one more fits
    assert round(g.hit("a", 0.1), 3) == 0.1
    assert g.hit("b", 0.1) == 0.0  # other keys are independent


def test_rules_do_not_share_keys() -> None:
    table = SharedGcraTable(64, CTX.Lock())
    tight, loose = (
        SharedGcra(rule("tight", 1, 1), table),
        SharedGcra(rule("loose", 100, 100), table),
    )
    assert tight.hit(7, 0.0) == 0.0 and tight.hit(7, 0.0) > 0
    assert loose.hit(7, 0.0) == 0.0


def test_the_table_is_bounded_and_forgets_the_soonest_to_expire() -> None:
    table = SharedGcraTable(16, CTX.Lock())
    g = SharedGcra(rule(rate=1, burst=1), table)
    for key in range(1000):  # a botnet's worth of addresses into 16 slots
        g.hit(key, 0.0)
    assert table.slots == 16
    assert table.occupied(0.0) <= 16
    assert table.evictions > 0
    assert g.hit(999, 0.0) > 0  # the latest key is still remembered


def _worker(table: SharedGcraTable, out: mp.queues.Queue[int]) -> None:
    g = SharedGcra(rule(rate=0.001, burst=50), table)
    out.put(sum(1 for _ in range(40) if g.hit(("198.51.100.9",), 0.0) == 0.0))


def test_two_processes_share_one_budget() -> None:
    """Burst 50 for the host: two workers sending 40 each get 50 between them, not 80."""
    table = SharedGcraTable(1024, CTX.Lock())
    out: mp.queues.Queue[int] = CTX.Queue()
    procs = [CTX.Process(target=_worker, args=(table, out)) for _ in range(2)]
    for p in procs:
        p.start()
    allowed = [out.get(timeout=10), out.get(timeout=10)]
    for p in procs:
        p.join(10)
    assert sum(allowed) == 50
