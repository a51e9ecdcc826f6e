"""The lab scorecard: per-class outcomes, attack leak, time to mitigate, origin load, timeline.

Pure arithmetic: the lab's traffic programs report one `Attempt` per logical legitimate
request (after all its retries and challenges) and per recorded attack request, the origin
sampler reports running totals, and `Scorecard.result` turns them into the JSON shape of the
lab issue. `validate_scorecard` says what is wrong with any such dict.

Counting rules:
- A legitimate request *succeeded* when the client finally got the real answer (origin or
  edge cache, after a solved challenge, or after honouring Retry-After within its budget).
  Whether it was challenged or throttled on the way is recorded separately, so `challenged`
  and `throttled` count every attempt that met one, successful or not.
- `blocked`, `errors` (5xx or connection errors) and `timeouts` count failures; `gave_up`
  counts failures where the client gave up on a challenge or a throttle. Hence
  `succeeded + blocked + errors + timeouts + gave_up == sent` for every class.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from seawall.lab.account_score import account_problems

LEAK_DIVISOR = 20  # 5%: a second leaks when reached * 20 >= sent
DEFAULT_RESERVOIR = 100_000

CLASS_FIELDS = (
    "sent",
    "succeeded",
    "success_rate",
    "challenged",
    "throttled",
    "blocked",
    "errors",
    "timeouts",
    "gave_up",
    "reached_origin",
    "p50_ms",
    "p99_ms",
)
COUNT_FIELDS = tuple(k for k in CLASS_FIELDS if k not in ("success_rate", "p50_ms", "p99_ms"))
TOP_FIELDS = (
    "scenario",
    "protection",
    "seed",
    "duration_s",
    "origin_capacity_rps",
    "classes",
    "attack",
    "time_to_mitigate_s",
    "origin",
    "timeline",
)
ATTACK_FIELDS = ("sent", "reached_origin", "leak_rate")
ORIGIN_FIELDS = ("requests", "peak_utilization", "errors")


class ClientOutcome(StrEnum):
    """How a client's request finally ended."""

    SUCCEEDED = "succeeded"
    BLOCKED = "blocked"
    THROTTLED = "throttled"  # gave up on 429/503 (budget exhausted)
    CHALLENGED = "challenged"  # gave up on, or could not solve, a challenge
    ERROR = "error"  # 5xx or connection error
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One logical request by one client, `t` seconds after scenario start (when it began)."""

    t: float
    klass: str
    legit: bool
    outcome: ClientOutcome
    latency_s: float
    challenged: bool = False
    throttled: bool = False
    reached_origin: bool | None = None

    def __post_init__(self) -> None:
        if not (self.t >= 0 and math.isfinite(self.t)):
            raise ValueError(f"attempt time must be finite and >= 0, got {self.t!r}")
        if not (self.latency_s >= 0 and math.isfinite(self.latency_s)):
            raise ValueError(f"latency must be finite and >= 0, got {self.latency_s!r}")
        if not self.klass:
            raise ValueError("attempt class must be non-empty")


@dataclass(slots=True)
class Reservoir:
    """A uniform sample of at most `cap` values (algorithm R), plus the exact count seen."""

    cap: int
    values: list[float] = field(default_factory=list)
    seen: int = 0

    def add(self, value: float, rng: random.Random) -> None:
        self.seen += 1
        if len(self.values) < self.cap:
            self.values.append(value)
            return
        j = rng.randrange(self.seen)
        if j < self.cap:
            self.values[j] = value


def nearest_rank(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class _ClassTally:
    reservoir: Reservoir
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, a: Attempt, rng: random.Random) -> None:
        c = self.counts
        c["sent"] += 1
        c["challenged"] += a.challenged or a.outcome is ClientOutcome.CHALLENGED
        c["throttled"] += a.throttled or a.outcome is ClientOutcome.THROTTLED
        c["reached_origin"] += a.reached_origin is True
        match a.outcome:
            case ClientOutcome.SUCCEEDED:
                c["succeeded"] += 1
                self.reservoir.add(a.latency_s * 1000, rng)
            case ClientOutcome.BLOCKED:
                c["blocked"] += 1
            case ClientOutcome.ERROR:
                c["errors"] += 1
            case ClientOutcome.TIMEOUT:
                c["timeouts"] += 1
            case ClientOutcome.THROTTLED | ClientOutcome.CHALLENGED:
                c["gave_up"] += 1

    def summary(self) -> dict[str, Any]:
        c = self.counts
        out: dict[str, Any] = {k: c[k] for k in COUNT_FIELDS}
        out["success_rate"] = c["succeeded"] / c["sent"]
        for key, pct in (("p50_ms", 50.0), ("p99_ms", 99.0)):
            v = nearest_rank(self.reservoir.values, pct)
            out[key] = None if v is None else round(v, 3)
        return {k: out[k] for k in CLASS_FIELDS}


def time_to_mitigate(
    attack_start_s: float,
    sent_by_second: dict[int, int],
    reached_by_second: dict[int, int],
) -> float | None:
    """Seconds from attack start until the origin leak stays below 5% of the attack rate.

    Only seconds with attack traffic count. A second leaks when what reached the origin is
    at least 5% of what was sent in it. 0.0 when no second leaked (or there was no attack);
    None when the last second with attack traffic still leaked (never mitigated).
    """
    active = sorted(s for s, n in sent_by_second.items() if n > 0)
    leaking = [s for s in active if reached_by_second.get(s, 0) * LEAK_DIVISOR >= sent_by_second[s]]
    if not leaking:
        return 0.0
    if leaking[-1] == active[-1]:
        return None
    return max(0.0, float(leaking[-1] + 1) - attack_start_s)


@dataclass(slots=True)
class Scorecard:
    """Accumulates attempts and origin samples; memory is bounded per class."""

    rng: random.Random
    reservoir_size: int = DEFAULT_RESERVOIR
    _classes: dict[str, _ClassTally] = field(default_factory=dict)
    _timeline: dict[int, Counter[str]] = field(default_factory=dict)
    _legit_classes: set[str] = field(default_factory=set)
    _attack_classes: set[str] = field(default_factory=set)
    _origin_last: tuple[float, int, int] | None = None
    _peak_utilization: float = 0.0

    def add(self, attempt: Attempt) -> None:
        bucket = self._timeline.setdefault(int(attempt.t), Counter())
        if not attempt.legit:
            self._attack_classes.add(attempt.klass)
            bucket[f"{attempt.klass}_sent"] += 1
            return
        self._legit_classes.add(attempt.klass)
        tally = self._classes.get(attempt.klass)
        if tally is None:
            tally = self._classes[attempt.klass] = _ClassTally(Reservoir(self.reservoir_size))
        tally.add(attempt, self.rng)
        ok = attempt.outcome is ClientOutcome.SUCCEEDED
        bucket[f"{attempt.klass}_{'ok' if ok else 'fail'}"] += 1

    def add_attack_counts(self, klass: str, sent_by_second: dict[int, int]) -> None:
        """Attack requests sent per second by `klass` (floods count, they don't report each)."""
        if not klass or any(n < 0 or s < 0 for s, n in sent_by_second.items()):
            raise ValueError("attack counts need a class and non-negative seconds and counts")
        self._attack_classes.add(klass)
        for sec, n in sent_by_second.items():
            self._timeline.setdefault(sec, Counter())[f"{klass}_sent"] += n

    def add_origin_sample(
        self, t: float, requests: int, in_flight: int, capacity: int, errors: int
    ) -> None:
        """Record the origin's running totals (`requests`, `errors`) and load at time `t`."""
        if capacity <= 0 or in_flight < 0 or requests < 0 or errors < 0:
            raise ValueError("origin sample counts must be >= 0 and capacity > 0")
        if self._origin_last is not None:
            last_t, last_req, last_err = self._origin_last
            if t < last_t or requests < last_req or errors < last_err:
                raise ValueError("origin samples must be in time order with running totals")
        self._origin_last = (t, requests, errors)
        self._peak_utilization = max(self._peak_utilization, in_flight / capacity)

    def _timeline_rows(
        self, duration_s: float, sent: dict[int, int], reached: dict[int, int]
    ) -> list[dict[str, int]]:
        last = max([*self._timeline, *sent, *reached, math.ceil(duration_s) - 1, 0])
        keys = [f"{k}_{s}" for k in sorted(self._legit_classes) for s in ("ok", "fail")]
        keys += [f"{k}_sent" for k in sorted(self._attack_classes)]
        rows: list[dict[str, int]] = []
        for sec in range(last + 1):
            bucket = self._timeline.get(sec, Counter())
            row = {"t": sec} | {k: bucket[k] for k in keys}
            row["attack_sent"] = sent.get(sec, 0)
            row["attack_reached_origin"] = reached.get(sec, 0)
            rows.append(row)
        return rows

    def result(
        self,
        scenario: str,
        protection: str,
        seed: int,
        duration_s: float,
        origin_capacity_rps: float,
        attack_start_s: float | None,
        attack_sent: int,
        attack_reached_origin_by_second: dict[int, int],
        attack_sent_by_second: dict[int, int],
    ) -> dict[str, Any]:
        """The scorecard as a JSON-ready dict (see the lab issue for the shape)."""
        reached = sum(attack_reached_origin_by_second.values())
        ttm = time_to_mitigate(
            attack_start_s or 0.0, attack_sent_by_second, attack_reached_origin_by_second
        )
        _, origin_requests, origin_errors = self._origin_last or (0.0, 0, 0)
        return {
            "scenario": scenario,
            "protection": protection,
            "seed": seed,
            "duration_s": duration_s,
            "origin_capacity_rps": origin_capacity_rps,
            "classes": {k: self._classes[k].summary() for k in sorted(self._classes)},
            "attack": _attack_summary(attack_sent, reached),
            "time_to_mitigate_s": ttm,
            "origin": {
                "requests": origin_requests,
                "peak_utilization": round(self._peak_utilization, 4),
                "errors": origin_errors,
            },
            "timeline": self._timeline_rows(
                duration_s, attack_sent_by_second, attack_reached_origin_by_second
            ),
        }


def _attack_summary(sent: int, reached: int) -> dict[str, Any]:
    return {"sent": sent, "reached_origin": reached, "leak_rate": reached / sent if sent else 0.0}


def _is_count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_rate(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 1.0


def _class_problems(name: str, c: Any) -> list[str]:
    if not isinstance(c, dict):
        return [f"classes.{name}: not an object"]
    missing = [k for k in CLASS_FIELDS if k not in c]
    if missing:
        return [f"classes.{name}: missing {', '.join(missing)}"]
    bad = [k for k in COUNT_FIELDS if not _is_count(c[k])]
    if bad:
        return [f"classes.{name}.{k}: not a non-negative integer" for k in bad]
    p: list[str] = []
    sent, ok = c["sent"], c["succeeded"]
    if ok > sent:
        p.append(f"classes.{name}: succeeded {ok} > sent {sent}")
    for k in ("challenged", "throttled", "reached_origin"):
        if c[k] > sent:
            p.append(f"classes.{name}: {k} {c[k]} > sent {sent}")
    if not _is_rate(c["success_rate"]):
        p.append(f"classes.{name}.success_rate outside [0, 1]: {c['success_rate']!r}")
    elif sent and not math.isclose(c["success_rate"], ok / sent, abs_tol=1e-9):
        p.append(f"classes.{name}.success_rate {c['success_rate']} != {ok}/{sent}")
    total = ok + c["blocked"] + c["errors"] + c["timeouts"] + c["gave_up"]
    if total != sent:
        p.append(f"classes.{name}: outcomes add up to {total}, sent {sent}")
    if c["gave_up"] > c["challenged"] + c["throttled"]:
        p.append(f"classes.{name}: gave_up exceeds challenged + throttled")
    return p + _percentile_problems(name, c)


def _percentile_problems(name: str, c: dict[str, Any]) -> list[str]:
    p50, p99 = c["p50_ms"], c["p99_ms"]
    if c["succeeded"] == 0:
        ok = p50 is None and p99 is None
        return [] if ok else [f"classes.{name}: percentiles without successes"]
    if not all(isinstance(v, int | float) and v >= 0 for v in (p50, p99)):
        return [f"classes.{name}: percentiles missing or negative"]
    return [f"classes.{name}: p50_ms > p99_ms"] if p50 > p99 else []


def _attack_problems(a: Any) -> list[str]:
    if not isinstance(a, dict) or any(k not in a for k in ATTACK_FIELDS):
        return ["attack: missing sent, reached_origin or leak_rate"]
    if not (_is_count(a["sent"]) and _is_count(a["reached_origin"])):
        return ["attack: sent and reached_origin must be non-negative integers"]
    p: list[str] = []
    if a["reached_origin"] > a["sent"]:
        p.append(f"attack: reached_origin {a['reached_origin']} > sent {a['sent']}")
    if not _is_rate(a["leak_rate"]):
        p.append(f"attack.leak_rate outside [0, 1]: {a['leak_rate']!r}")
    elif a["sent"] and not math.isclose(
        a["leak_rate"], a["reached_origin"] / a["sent"], abs_tol=1e-9
    ):
        p.append("attack.leak_rate != reached_origin / sent")
    return p


def _origin_problems(o: Any) -> list[str]:
    if not isinstance(o, dict) or any(k not in o for k in ORIGIN_FIELDS):
        return ["origin: missing requests, peak_utilization or errors"]
    p = [
        f"origin.{k}: not a non-negative integer"
        for k in ("requests", "errors")
        if not _is_count(o[k])
    ]
    u = o["peak_utilization"]
    if not (isinstance(u, int | float) and not isinstance(u, bool) and u >= 0):
        p.append(f"origin.peak_utilization: not a non-negative number: {u!r}")
    return p


def _timeline_problems(rows: Any, classes: dict[str, Any]) -> list[str]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "t" in r for r in rows):
        return ["timeline: not a list of objects with t"]
    p: list[str] = []
    ts = [r["t"] for r in rows]
    if ts != sorted(set(ts)):
        p.append("timeline: t not strictly increasing")
    for name, c in classes.items():
        if not isinstance(c, dict) or not _is_count(c.get("sent")):
            continue
        ok = sum(r.get(f"{name}_ok", 0) for r in rows)
        fail = sum(r.get(f"{name}_fail", 0) for r in rows)
        if ok != c.get("succeeded") or ok + fail != c["sent"]:
            p.append(f"timeline: {name}_ok/{name}_fail do not add up to the class totals")
    return p


def validate_scorecard(d: Any) -> list[str]:
    """Every problem found in a scorecard dict; an empty list means complete and consistent."""
    if not isinstance(d, dict):
        return ["scorecard: not an object"]
    missing = [k for k in TOP_FIELDS if k not in d]
    if missing:
        return [f"scorecard: missing {', '.join(missing)}"]
    p: list[str] = []
    if not isinstance(d["duration_s"], int | float) or d["duration_s"] <= 0:
        p.append("duration_s: not a positive number")
    if not isinstance(d["origin_capacity_rps"], int | float) or d["origin_capacity_rps"] < 0:
        p.append("origin_capacity_rps: not a non-negative number")
    ttm = d["time_to_mitigate_s"]
    if ttm is not None and not (isinstance(ttm, int | float) and ttm >= 0):
        p.append(f"time_to_mitigate_s: not null or >= 0: {ttm!r}")
    classes = d["classes"]
    if not isinstance(classes, dict):
        return [*p, "classes: not an object"]
    for name, c in classes.items():
        p += _class_problems(name, c)
    p += _attack_problems(d["attack"])
    p += _origin_problems(d["origin"])
    if "accounts" in d:  # scenarios with account traffic only
        p += account_problems(d["accounts"])
    return p + _timeline_problems(d["timeline"], classes)
