"""The JSON report: the incident dict, its sources' figures, dispersion, attribution, phases.

`incident_report` is what `seawall analyze --json` prints for each incident: the incident as
it is, with the dispersion headline figures put into `sources` (addresses, prefixes, asns,
countries, country_entropy, top_country, top_country_share, top_asn_share, ...), the whole
`dispersion`, the `attribution` statement as text and the derived `phases`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from seawall.geo.lookup import GeoDb
from seawall.report.model import Report, build, check_incident
from seawall.report.sources import Dispersion, dispersion

_INERT = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
MAX_DEPTH = 32  # nesting kept from the incident; deeper is not an incident's shape


def _plain(value: object, depth: int = 0) -> Any:
    """JSON-safe: non-finite floats become null, unknown types their text, depth bounded."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def report_dict(report: Report) -> dict[str, Any]:
    d = report.dispersion
    out: dict[str, Any] = _plain(report.incident)
    held = out.get("sources")
    sources: dict[str, Any] = held if isinstance(held, dict) else {}
    sources.update(
        {
            "addresses": d.addresses,
            "estimated_addresses": d.estimated_addresses,
            "prefixes": d.prefixes,
            "asns": d.asns,
            "countries": d.countries,
            "at_least": d.at_least,
            "country_entropy": round(d.country_entropy, 4),
            "top_country": d.top_country,
            "top_country_share": round(d.top_country_share, 4),
            "top_asn": d.top_asn,
            "top_asn_org": d.top_asn_org,
            "top_asn_share": round(d.top_asn_share, 4),
        }
    )
    out["sources"] = sources
    out["dispersion"] = d.to_dict()
    out["attribution"] = report.attribution.text
    out["attribution_case"] = report.attribution.case
    out["phases"] = [p.to_dict() for p in report.phases]
    if report.summary is not None:
        out["analysis"] = _plain(report.summary)
    return out


def incident_report(incident: Mapping[str, Any], geo: GeoDb) -> dict[str, Any]:
    """The incident as `seawall analyze --json` reports it (see the module docstring)."""
    checked = check_incident(incident)
    return report_dict(build(checked, dispersion(checked.get("sources"), geo)))


def render_json(
    incident: Mapping[str, Any],
    dispersion: Dispersion,
    summary: Mapping[str, Any] | None = None,
) -> str:
    report = report_dict(build(incident, dispersion, summary))
    text = json.dumps(report, indent=2, sort_keys=True, ensure_ascii=True)
    # <, > and & occur only inside strings: escaped, the JSON stays inert if pasted into HTML
    return text.translate(_INERT) + "\n"
