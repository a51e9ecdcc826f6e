"""Indicators from an incident report (the dict `Incident.to_dict()` produces).

Confidence of an indicator derived from an incident (0-100):

| evidence | confidence |
|---|---|
| a prefix value of a separable signature | 100 x confidence x coverage x collateral factor |
| a top prefix or address with ≥ 10 x min_requests attack requests | 70 |
| a top prefix or address with ≥ min_requests attack requests | 50 |
| fewer | not exported ("few_requests") |

Exporting a prefix drops the signature's other conjuncts, so the collateral that counts is
the prefix attribute's own `baseline_share` (legitimate baseline traffic from those
prefixes), not the signature's:

| baseline share of the prefixes | collateral factor |
|---|---|
| ≤ 0.001 | 1.0 |
| ≤ 0.01 | 0.75 |
| ≤ 0.05 | 0.5 |
| more | not exported ("collateral") |

| signature coverage | coverage factor |
|---|---|
| ≥ 0.9 | 1.0 |
| ≥ 0.5 | 0.8 |
| less | 0.6 |

A signature without a known baseline, or one that matched verified users or apps, counts
half; a missing signature confidence counts as 0.5. Private, loopback, reserved and
over-wide networks are never derived unless `Bounds.allow_special` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seawall.intel.indicators import (
    DEFAULT_BOUNDS,
    DEFAULT_TTL,
    Bounds,
    Collector,
    Indicator,
    IntelError,
    Parsed,
    clean_text,
    collapse,
)

COLLATERAL_FACTORS = ((0.001, 1.0), (0.01, 0.75), (0.05, 0.5))
COVERAGE_FACTORS = ((0.9, 1.0), (0.5, 0.8), (0.0, 0.6))
STRONG_SOURCE, SOURCE = 70, 50


def _factor(value: float, table: tuple[tuple[float, float], ...], up: bool) -> float:
    for bound, factor in table:
        if (value <= bound) if up else (value >= bound):
            return factor
    return 0.0


def _num(d: Mapping[str, Any], key: str, default: float) -> float:
    v = d.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else default


def signature_confidence(sig: Mapping[str, Any], attr: Mapping[str, Any]) -> int:
    """The table in the module docstring; 0 means 'do not export'."""
    collateral = _factor(_num(attr, "baseline_share", 1.0), COLLATERAL_FACTORS, up=True)
    coverage = _factor(_num(sig, "coverage", 0.0), COVERAGE_FACTORS, up=False)
    c = _num(sig, "confidence", 0.5) * coverage * collateral
    verified = _num(sig, "verified_users_matched", 0) + _num(sig, "verified_apps_matched", 0)
    if sig.get("baseline_known") is False or verified > 0:
        c /= 2
    return max(0, min(100, round(100 * c)))


@dataclass(frozen=True, slots=True)
class Derivation:
    """How `from_incident` reads an incident; `source` is the provenance of what it finds."""

    ttl: float = DEFAULT_TTL
    source: str = "seawall"
    min_requests: int = 10
    bounds: Bounds = DEFAULT_BOUNDS


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def derive(incident: Mapping[str, Any], now: float, how: Derivation | None = None) -> Parsed:
    """`from_incident` with the skips counted by reason."""
    how = how or Derivation()
    if not isinstance(incident, Mapping) or not isinstance(incident.get("id"), str):
        raise IntelError("incident", "is not an incident report (an object with a text 'id')")
    inc_id = clean_text(incident["id"], 100)
    out = Collector(how.bounds)
    common = {
        "valid_from": _num(incident, "start", now),
        "valid_until": now + how.ttl,
        "source": how.source,
        "incident": inc_id,
    }
    for sig in _dicts(incident.get("signatures")):
        if sig.get("separable") is not True:
            continue
        for attr in _dicts(sig.get("attributes")):
            if attr.get("attribute") != "prefix" or not isinstance(attr.get("values"), list):
                continue
            conf = signature_confidence(sig, attr)
            what = f"{clean_text(sig.get('vector', 'attack'), 40)} signature "
            what += clean_text(sig.get("rule", ""), 60)
            for value in attr["values"]:
                if conf <= 0:
                    out.skip("collateral")
                    continue
                if isinstance(value, str):
                    out.add(value, f"{inc_id} {what}", confidence=conf, description=what, **common)
    sources = incident.get("sources")
    sources = sources if isinstance(sources, Mapping) else {}
    for key, field in (("top_prefixes", "prefix"), ("top_addresses", "address")):
        entries = sources.get(key)
        for entry in entries if isinstance(entries, list) else []:
            _add_source(out, entry, field, how.min_requests, common)
    kept, covered = collapse(out.found.values())
    skipped = dict(out.skipped)
    if covered:
        skipped["covered"] = covered
    return Parsed(tuple(kept), skipped, tuple(out.problems))


def _add_source(
    out: Collector, entry: object, field: str, least: int, common: dict[str, Any]
) -> None:
    if not isinstance(entry, Mapping):
        out.skip("bad_entry", f"{common['incident']} sources: an entry is not an object")
        return
    value, requests = entry.get(field), _num(entry, "requests", 0)
    if not isinstance(value, str):
        out.skip("bad_entry", f"{common['incident']} sources: an entry has no text {field!r}")
        return
    if requests < max(least, 1):
        out.skip("few_requests")
        return
    conf = STRONG_SOURCE if requests >= 10 * least else SOURCE
    desc = f"top attacking {field}: {int(requests)} attack requests"
    out.add(value, f"{common['incident']} sources", confidence=conf, description=desc, **common)


def from_incident(
    incident: Mapping[str, Any],
    now: float,
    ttl: float = DEFAULT_TTL,
    *,
    source: str = "seawall",
    min_requests: int = 10,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> list[Indicator]:
    """The indicators an incident report supports, valid from its start until now + ttl.

    Prefixes of separable signatures, and top prefixes and addresses with at least
    `min_requests` attack requests; an address or prefix inside another is dropped.
    """
    how = Derivation(ttl, source, min_requests, bounds)
    return list(derive(incident, now, how).indicators)
