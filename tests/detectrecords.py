"""Records for detection tests: facts (see corefacts) plus a verdict and an outcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seawall.core.facts import RequestFacts
from seawall.core.record import Record
from seawall.core.verdict import Action, Verdict
from seawall.detect.records import Slice

from corefacts import make_facts


def record(
    facts: RequestFacts | None = None,
    *,
    action: Action = Action.ALLOW,
    rule_id: str = "",
    status: int = 200,
    origin_time: float = 0.01,
    error: str = "",
    time: float = 0.0,
    **overrides: Any,
) -> Record:
    """One record; `overrides` go to make_facts when no facts are given."""
    f = facts if facts is not None else make_facts(**overrides)
    v = Verdict(action, "test", rule_id)
    return Record(f, v, status, 0, 500, 0.01, origin_time, "", "r", time, error)


def many(n: int, **kw: Any) -> list[Record]:
    return [record(**kw) for _ in range(n)]


def spread(n: int, clients: int, **kw: Any) -> list[Record]:
    """`n` records from `clients` distinct addresses in 10.x.y.1 (one /24 each)."""
    return [
        record(client=f"10.{(i % clients) // 256}.{(i % clients) % 256}.1", **kw) for i in range(n)
    ]


def slice_of(records: Sequence[Record], start: float = 0.0, seconds: float = 1.0) -> Slice:
    return Slice(list(records), start, seconds)
