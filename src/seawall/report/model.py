"""What every report shows, read once from the incident dict: its timeline, its phases, its
actions with their measured effect, and why each signature was chosen.

The incident dict is the interface (its shape is documented beside the incident code). It
may come from a file, an older version or another worker, so it is read defensively: a
missing optional key is an empty value, a malformed timeline point is skipped, and only the
keys without which there is no report (`id`, `start`) raise `IncidentDataError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seawall.report.attribution import Attribution, attribution
from seawall.report.sources import Dispersion
from seawall.report.text import clean, pct, pct_fine

CLASSES = ("api_app", "gateway", "user", "anonymous")
VERDICTS = ("allow", "cache", "throttle", "challenge", "block")
# name, label; the bounds are start, detected, mitigated, end and the last point
PHASES = (
    ("before_detection", "before detection"),
    ("detected", "detected, not yet mitigated"),
    ("mitigated", "mitigated"),
    ("after", "after the end"),
)
EFFECT_WINDOW = 10.0  # seconds before and after an action compared for its effect


class IncidentDataError(ValueError):
    """The incident data cannot make a report; the message names the key (the data's fault)."""


def num(value: object) -> float | None:
    """A finite number from JSON-ish input, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def field(held: Mapping[str, Any], key: str) -> float | None:
    return num(held.get(key))


def texts(value: object) -> tuple[str, ...]:
    """The strings of a JSON list (targets, vectors, values); anything else is left out."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(v if isinstance(v, str) else str(v) for v in value if v is not None)


def mappings(value: object) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(v for v in value if isinstance(v, Mapping))


def check_incident(incident: object) -> Mapping[str, Any]:
    """The incident when it can make a report; IncidentDataError naming what is wrong."""
    if not isinstance(incident, Mapping):
        raise IncidentDataError(
            f"incident data: expected an object, got {type(incident).__name__} "
            "(the incident data is malformed)"
        )
    if not isinstance(incident.get("id"), str) or not incident["id"]:
        raise IncidentDataError("incident data: 'id' is missing or not a non-empty string")
    if field(incident, "start") is None:
        raise IncidentDataError(
            f"incident data {incident['id']!r}: 'start' is missing or not a number"
        )
    return incident


@dataclass(frozen=True, slots=True)
class Point:
    """One second of the timeline; classes and verdicts follow CLASSES and VERDICTS, and are
    None for older reports that kept only the first three figures."""

    t: float
    total: float
    attack: float
    classes: tuple[float, ...] | None
    verdicts: tuple[float, ...] | None


def _rates(value: object, names: Sequence[str]) -> tuple[float, ...] | None:
    if not isinstance(value, Mapping):
        return None
    return tuple(max(num(value.get(n)) or 0.0, 0.0) for n in names)


def timeline(incident: Mapping[str, Any]) -> tuple[Point, ...]:
    points = []
    for raw in incident.get("timeline") or ():
        if not isinstance(raw, list | tuple) or len(raw) < 3:
            continue
        t, total, attack = (num(v) for v in raw[:3])
        if t is None or total is None or attack is None:
            continue
        classes = _rates(raw[3], CLASSES) if len(raw) > 3 else None
        verdicts = _rates(raw[4], VERDICTS) if len(raw) > 4 else None
        points.append(Point(t, max(total, 0.0), max(attack, 0.0), classes, verdicts))
    points.sort(key=lambda p: p.t)
    return tuple(points)


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    label: str
    start: float
    end: float | None  # None: still going
    points: int
    mean_total: float
    mean_attack: float
    peak_attack: float
    verdicts: tuple[float, ...] | None  # mean rate per VERDICTS

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "start": round(self.start, 3),
            "end": None if self.end is None else round(self.end, 3),
            "points": self.points,
            "mean_total_rps": round(self.mean_total, 1),
            "mean_attack_rps": round(self.mean_attack, 1),
            "peak_attack_rps": round(self.peak_attack, 1),
        }
        if self.verdicts is not None:
            out["verdict_rps"] = {
                v: round(r, 1) for v, r in zip(VERDICTS, self.verdicts, strict=True)
            }
        return out


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def _phase(name: str, label: str, start: float, end: float | None, pts: list[Point]) -> Phase:
    verdicts = None
    if pts and all(p.verdicts is not None for p in pts):
        verdicts = tuple(
            _mean([p.verdicts[i] for p in pts if p.verdicts is not None])
            for i in range(len(VERDICTS))
        )
    return Phase(
        name,
        label,
        start,
        end,
        len(pts),
        _mean([p.total for p in pts]),
        _mean([p.attack for p in pts]),
        max((p.attack for p in pts), default=0.0),
        verdicts,
    )


def phases(incident: Mapping[str, Any], points: Sequence[Point]) -> tuple[Phase, ...]:
    """Before detection [start, detected), detected [detected, mitigated or end), mitigated
    [mitigated, end), after [end, last point]. A phase with no length and no point is left
    out; an open incident's last phase has no end."""
    start = field(incident, "start") or 0.0
    detected, mitigated = field(incident, "detected"), field(incident, "mitigated")
    end = field(incident, "end")
    cuts = [("before_detection", start)]
    if detected is not None:
        cuts.append(("detected", max(detected, start)))
    if mitigated is not None:
        cuts.append(("mitigated", max(mitigated, cuts[-1][1])))
    labels = dict(PHASES)
    out = []
    for i, (name, lo) in enumerate(cuts):
        hi = cuts[i + 1][1] if i + 1 < len(cuts) else end
        pts = [p for p in points if p.t >= lo and (hi is None or p.t < hi)]
        if hi is None or hi > lo or pts:
            out.append(_phase(name, labels[name], lo, hi, pts))
    after = [p for p in points if end is not None and p.t >= end]
    if end is not None and after:
        out.append(_phase("after", labels["after"], end, after[-1].t, after))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Action:
    """One action of the policy with what was measured around it."""

    time: float
    action: str
    step: str
    rule: str
    reason: str
    estimated: float | None
    measured: float | None
    attack_before: float | None  # mean attack rps in EFFECT_WINDOW before
    attack_after: float | None
    allowed_before: float | None  # mean rate let through (allow + cache) before
    allowed_after: float | None


def _window(points: Sequence[Point], lo: float, hi: float) -> list[Point]:
    return [p for p in points if lo <= p.t < hi]


def actions(incident: Mapping[str, Any], points: Sequence[Point]) -> tuple[Action, ...]:
    out = []
    for raw in mappings(incident.get("actions")):
        t = field(raw, "time")
        if t is None:
            continue
        before = _window(points, t - EFFECT_WINDOW, t)
        after = _window(points, t, t + EFFECT_WINDOW)

        def attack(pts: list[Point]) -> float | None:
            return _mean([p.attack for p in pts]) if pts else None

        def allowed(pts: list[Point]) -> float | None:
            if not pts or any(p.verdicts is None for p in pts):
                return None
            return _mean([p.verdicts[0] + p.verdicts[1] for p in pts if p.verdicts is not None])

        out.append(
            Action(
                t,
                str(raw.get("action", "")),
                str(raw.get("step", "")),
                str(raw.get("rule", "")),
                str(raw.get("reason", "")),
                field(raw, "estimated_collateral"),
                field(raw, "measured_collateral"),
                attack(before),
                attack(after),
                allowed(before),
                allowed(after),
            )
        )
    out.sort(key=lambda a: a.time)
    return tuple(out)


def class_order(name: str) -> tuple[int, str]:
    """Classes in priority order (CLASSES), any other name after them."""
    return (CLASSES.index(name) if name in CLASSES else len(CLASSES), name)


def why(signature: Mapping[str, Any]) -> str:
    """Why the policy could act on this signature, from its own figures."""
    parts = []
    coverage = field(signature, "coverage")
    if coverage is not None:
        parts.append(f"matches {pct(coverage)} of the attack's requests")
    collateral = field(signature, "estimated_collateral")
    if collateral is not None:
        by_class = signature.get("collateral_by_class")
        classes = ""
        if isinstance(by_class, Mapping) and by_class:
            ordered = sorted(by_class.items(), key=lambda kv: class_order(str(kv[0])))
            shown = (f"{clean(k, 20)} {pct_fine(num(v) or 0.0)}" for k, v in ordered)
            classes = " (" + ", ".join(shown) + ")"
        parts.append(f"would also hit {pct_fine(collateral)} of legitimate traffic{classes}")
    users = num(signature.get("verified_users_matched")) or 0
    apps = num(signature.get("verified_apps_matched")) or 0
    parts.append(f"{int(users)} verified users and {int(apps)} verified apps matched")
    if signature.get("baseline_known") is False:
        parts.append("no baseline was known, so the collateral is a guess")
    if signature.get("separable") is False:
        parts.append("not separable: told apart only by where it goes (it may be a crowd)")
    confidence, score = field(signature, "confidence"), field(signature, "score")
    if confidence is not None:
        parts.append(f"detector confidence {confidence:.2f}")
    if score is not None:
        parts.append(f"score {score:.1f}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the renderers show, read once."""

    incident: Mapping[str, Any]
    dispersion: Dispersion
    attribution: Attribution
    points: tuple[Point, ...]
    phases: tuple[Phase, ...]
    actions: tuple[Action, ...]
    summary: Mapping[str, Any] | None

    @property
    def start(self) -> float:
        return field(self.incident, "start") or 0.0


def build(
    incident: Mapping[str, Any], dispersion: Dispersion, summary: Mapping[str, Any] | None = None
) -> Report:
    checked = check_incident(incident)
    points = timeline(checked)
    return Report(
        checked,
        dispersion,
        attribution(dispersion),
        points,
        phases(checked, points),
        actions(checked, points),
        summary if isinstance(summary, Mapping) else None,
    )
