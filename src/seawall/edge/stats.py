"""Per-worker counters kept as plain ints: cheap on the hot path, summed across workers."""

from __future__ import annotations

import bisect
from collections import Counter, deque
from typing import Any

from seawall.core.facts import ClientClass
from seawall.core.verdict import Action

HOT_TARGETS = 5  # targets shown in the bulkhead gauge
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, value)] += 1
        self.sum += value


class EdgeStats:
    """Everything /metrics shows. Keys are bounded: verdicts, classes and configured routes."""

    def __init__(self) -> None:
        # (Action, ClientClass, route): enums stay ints on the hot path, labels at snapshot
        self.requests: Counter[tuple[int, int, str]] = Counter()
        self.statuses: Counter[int] = Counter()
        self.client_errors: Counter[str] = Counter()  # reason kind
        self.origin_errors: Counter[str] = Counter()  # connect, timeout, reset, protocol
        self.latency: dict[str, Histogram] = {}  # by route
        self.origin_latency = Histogram()
        self.connections_total = 0
        self.connections_open = 0
        self.connections_refused: Counter[str] = Counter()  # total, per_address
        self.pool_created = 0
        self.pool_reused = 0
        self.gauges: dict[str, float] = {}  # set by owners: pool idle, recorder drops...
        self.shed: Counter[tuple[str, str]] = Counter()  # (tier, reason)
        self.admission_wait = Histogram()
        self.cache: Counter[str] = Counter()  # hit, stale, miss, coalesced, stored, bypass
        self.hot_targets: list[tuple[str, int]] = []  # set by admission: top targets in flight
        # per origin: (in flight, latency EWMA s, latency p90 s, 5xx answers, failures)
        self.origins: dict[str, tuple[int, float, float, int, int]] = {}

    def observe_latency(self, route: str, seconds: float) -> None:
        h = self.latency.get(route)
        if h is None:
            h = self.latency[route] = Histogram()
        h.observe(seconds)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": {
                (Action(a).label, ClientClass(k).label, r): n
                for (a, k, r), n in self.requests.items()
            },
            "statuses": dict(self.statuses),
            "client_errors": dict(self.client_errors),
            "origin_errors": dict(self.origin_errors),
            "latency": {k: (list(h.counts), h.sum) for k, h in self.latency.items()},
            "origin_latency": (list(self.origin_latency.counts), self.origin_latency.sum),
            "connections_total": self.connections_total,
            "connections_open": self.connections_open,
            "connections_refused": dict(self.connections_refused),
            "pool_created": self.pool_created,
            "pool_reused": self.pool_reused,
            "gauges": dict(self.gauges),
            "shed": dict(self.shed),
            "cache": dict(self.cache),
            "hot_targets": list(self.hot_targets),
            "origins": dict(self.origins),
            "admission_wait": (list(self.admission_wait.counts), self.admission_wait.sum),
        }


def merge(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum worker snapshots into one host-wide view."""
    out: dict[str, Any] = EdgeStats().snapshot()
    for snap in snapshots:
        for key, value in snap.items():
            if key in ("latency",):
                for route, (counts, total) in value.items():
                    c0, s0 = out["latency"].get(route, ([0] * len(counts), 0.0))
                    out["latency"][route] = (
                        [a + b for a, b in zip(c0, counts, strict=True)],
                        s0 + total,
                    )
            elif key in ("origin_latency", "admission_wait"):
                c0, s0 = out[key]
                out[key] = ([a + b for a, b in zip(c0, value[0], strict=True)], s0 + value[1])
            elif key == "origins":
                for name, (inflight, ewma, p90, errors, failures) in value.items():
                    i0, e0, p0, r0, f0 = out[key].get(name, (0, 0.0, 0.0, 0, 0))
                    # counts add up across workers; latencies: the worst worker's view
                    out[key][name] = (
                        i0 + inflight,
                        max(e0, ewma),
                        max(p0, p90),
                        r0 + errors,
                        f0 + failures,
                    )
            elif key == "hot_targets":
                merged = dict(out[key])
                for target, n in value:
                    merged[target] = merged.get(target, 0) + n
                out[key] = sorted(merged.items(), key=lambda kv: -kv[1])[:HOT_TARGETS]
            elif isinstance(value, dict):
                for k, v in value.items():
                    out[key][k] = out[key].get(k, 0) + v
            else:
                out[key] += value
    return out


class OriginHealth:
    """Latency (EWMA and the p90 of the last samples) and failures of one origin."""

    WINDOW = 256
    ALPHA = 0.1

    def __init__(self) -> None:
        self.ewma = 0.0
        self.recent: deque[float] = deque(maxlen=self.WINDOW)
        self.errors = 0  # 5xx answers
        self.failures: Counter[str] = Counter()  # connect, timeout, reset, protocol

    def observe(self, seconds: float, error: bool) -> None:
        self.ewma = seconds if not self.recent else self.ewma + self.ALPHA * (seconds - self.ewma)
        self.recent.append(seconds)
        self.errors += error

    def failed(self, kind: str) -> None:
        self.failures[kind] += 1

    def p90(self) -> float:
        if not self.recent:
            return 0.0
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
