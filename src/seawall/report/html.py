"""The single-file HTML report: opens offline, loads nothing, runs nothing.

jinja2 renders it with autoescaping on; every value from the incident was cleaned first
(`tables`), and the charts are inline SVG drawn in Python (`charts`), which escapes its own
text. The page carries a strict Content-Security-Policy: no script, no fetch, no frame, no
font; styles only from its one stylesheet, allowed by its hash; images only as data URLs.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2
from markupsafe import Markup

from seawall.report import tables
from seawall.report.charts import Series, bar_chart, line_chart
from seawall.report.model import CLASSES, VERDICTS, Report, build, mappings, num
from seawall.report.sources import Dispersion, Share
from seawall.report.text import clean, pct

BARS = 15  # bars per chart; the tables below list the same rows


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("seawall.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def stylesheet() -> str:
    return files("seawall.report").joinpath("templates", "report.css").read_text("utf-8")


def csp(css: str) -> str:
    """The page's policy: nothing but its own stylesheet (by hash) and data: images."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def _timeline(r: Report) -> list[tuple[str, Markup]]:
    pts = r.points
    if not pts:
        return []
    times = [p.t for p in pts]
    base = [
        Series("total", tuple(p.total for p in pts)),
        Series("attack", tuple(p.attack for p in pts)),
    ]
    charts = []
    if all(p.classes is not None for p in pts):
        by_class = [
            Series(c, tuple(p.classes[i] for p in pts if p.classes is not None))
            for i, c in enumerate(CLASSES)
        ]
        title = "Requests per second: total, attack and by class"
        charts.append((title, Markup(line_chart(title, times, base + by_class, r.phases, r.start))))
    else:
        title = "Requests per second: total and attack"
        charts.append((title, Markup(line_chart(title, times, base, r.phases, r.start))))
    if all(p.verdicts is not None for p in pts):
        by_verdict = [
            Series(v, tuple(p.verdicts[i] for p in pts if p.verdicts is not None))
            for i, v in enumerate(VERDICTS)
        ]
        title = "Requests per second by verdict"
        charts.append((title, Markup(line_chart(title, times, by_verdict, r.phases, r.start))))
    return charts


def _share_bars(title: str, items: tuple[Share, ...], named: bool = False) -> Markup:
    rows = [
        (
            f"{s.key} {s.name}" if named and s.name else s.key,
            s.share,
            f"{s.count:,} ({pct(s.share)})",
        )
        for s in items[:BARS]
    ]
    return Markup(bar_chart(title, rows))


def _targets_bars(incident: Mapping[str, Any]) -> Markup:
    """Bars only when the incident counts requests per target; a plain list says only rank."""
    rows = []
    for t in mappings(incident.get("targets"))[:BARS]:
        n = num(t.get("requests"))
        if isinstance(t.get("target"), str) and n is not None:
            rows.append((str(t["target"]), n, f"{round(n):,}"))
    return Markup(bar_chart("Requests per target", rows))


def _signatures(r: Report) -> list[dict[str, Any]]:
    out = []
    for s in tables.signatures(r):
        rows = [(name, v, f"{v:.2f}") for name, v in s.strengths]
        chart = Markup(bar_chart("Signal strength per attribute", rows, scale_max=1.0))
        out.append(
            {
                "title": s.title,
                "match": s.match,
                "why": s.why,
                "attributes": s.attributes,
                "evidence": s.evidence,
                "chart": chart,
            }
        )
    return out


def _context(r: Report) -> dict[str, Any]:
    d = r.dispersion
    css = stylesheet()
    return {
        "title": f"seawall incident {clean(r.incident.get('id'), 80)}",
        "csp": csp(css),
        "css": Markup(css),
        "overview": tables.overview(r),
        "summary": tables.summary(r),
        "attribution": r.attribution.text,
        "timeline": _timeline(r),
        "phases": tables.phases(r),
        "targets": tables.targets(r),
        "targets_chart": _targets_bars(r.incident),
        "signatures": _signatures(r),
        "actions": tables.actions(r),
        "collateral": tables.collateral(r),
        "dispersion": tables.dispersion(r),
        "countries": tables.shares("Countries", d.by_country, "country"),
        "countries_chart": _share_bars("Sampled addresses per country", d.by_country),
        "asns": tables.shares("Networks", d.by_asn, "ASN"),
        "asns_chart": _share_bars("Sampled addresses per ASN", d.by_asn, named=True),
        "types": tables.shares("Network types", d.by_network_type, "type"),
        "types_chart": _share_bars("Sampled addresses per network type", d.by_network_type),
        "prefixes_chart": Markup(
            bar_chart(
                "Requests per prefix (at least)",
                [(p.key, p.requests, f"{p.requests:,}") for p in d.top_prefixes[:BARS]],
            )
        ),
        "top_prefixes": tables.placed("Top prefixes", d.top_prefixes, "prefix"),
        "top_addresses": tables.placed("Top addresses", d.top_addresses, "address"),
        "geo_source": clean(d.geo_source, 400),
    }


def render_html(
    incident: Mapping[str, Any],
    dispersion: Dispersion,
    summary: Mapping[str, Any] | None = None,
) -> str:
    """The whole report as one HTML document."""
    report = build(incident, dispersion, summary)
    return _environment().get_template("report.html.j2").render(_context(report))
