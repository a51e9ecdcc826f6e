"""The report's sections as plain tables, shared by the terminal, Markdown and HTML renderers.

Every cell is a cleaned string (`text.clean`): untrusted values arrive here escaped for any
terminal and cut to length, and each renderer adds only its own medium's escaping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seawall.report.model import (
    VERDICTS,
    Report,
    class_order,
    field,
    mappings,
    num,
    texts,
    why,
)
from seawall.report.sources import Placed, Share
from seawall.report.text import (
    clean,
    duration,
    offset,
    pct,
    pct_fine,
    rate,
    when,
)

TOP_ROWS = 15
VALUES_SHOWN = 8  # attribute values listed per condition; the rest are counted


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def _maybe(value: float | None, show: Callable[[float], str]) -> str:
    return "—" if value is None else show(value)


def overview(r: Report) -> Table:
    i, start = r.incident, r.start
    end, detected, mitigated = field(i, "end"), field(i, "detected"), field(i, "mitigated")
    rows = [
        ("incident", clean(i.get("id"))),
        ("status", clean(i.get("status", "open" if end is None else "closed"))),
        ("start", when(start)),
        ("end", "still open" if end is None else f"{when(end)} ({duration(end - start)})"),
        ("detected", _maybe(detected, lambda t: f"{offset(t, start)} after the start")),
        ("mitigated", _maybe(mitigated, lambda t: f"{offset(t, start)} after the start")),
        ("peak attack rate", _maybe(field(i, "peak_rps"), rate)),
        ("attack requests", _maybe(field(i, "attack_requests"), lambda n: f"{round(n):,}")),
        ("leak after mitigation", _maybe(field(i, "leak_after_mitigation"), pct_fine)),
        ("vectors", ", ".join(clean(v) for v in texts(i.get("vectors"))) or "—"),
    ]
    return Table("Incident", ("", ""), tuple(rows))


def summary(r: Report) -> Table | None:
    s = r.summary
    if s is None:
        return None
    rows = []
    for key, label in (
        ("lines", "log lines read"),
        ("malformed", "malformed lines"),
        ("lines_per_s", "lines per second"),
    ):
        value = num(s.get(key))
        if value is not None:
            rows.append((label, f"{round(value):,}"))
    files = texts(s.get("files"))
    if files:
        rows.append(("files", ", ".join(clean(f) for f in files)))
    return Table("Analysis", ("", ""), tuple(rows))


def phases(r: Report) -> Table:
    rows = []
    for p in r.phases:
        end = "open" if p.end is None else offset(p.end, r.start)
        verdicts = (
            "—"
            if p.verdicts is None
            else ", ".join(
                f"{v} {rate(x)}" for v, x in zip(VERDICTS, p.verdicts, strict=True) if x > 0
            )
            or "none"
        )
        rows.append(
            (
                p.label,
                f"{offset(p.start, r.start)} to {end}",
                rate(p.mean_total),
                rate(p.mean_attack),
                rate(p.peak_attack),
                verdicts,
            )
        )
    headers = ("phase", "from / to", "mean total", "mean attack", "peak attack", "verdicts")
    return Table("Phases", headers, tuple(rows))


def targets(r: Report) -> Table:
    """Targets in the incident's order (most requested first); with counts where it has them."""
    rows = []
    held = r.incident.get("targets")
    for n, t in enumerate(held if isinstance(held, list | tuple) else (), 1):
        if isinstance(t, Mapping):
            requests = num(t.get("requests"))
            shown = "" if requests is None else f"{round(requests):,}"
            rows.append((str(n), clean(t.get("target", "")), shown))
        elif t is not None:
            rows.append((str(n), clean(t), ""))
    if all(row[2] == "" for row in rows):
        return Table(
            "Targets", ("rank", "target"), tuple(r[:2] for r in rows), "most requested first"
        )
    return Table("Targets", ("rank", "target", "requests"), tuple(rows))


def _values(values: Sequence[str]) -> str:
    shown = ", ".join(clean(v, 80) for v in values[:VALUES_SHOWN])
    more = len(values) - VALUES_SHOWN
    return shown + (f" (+{more} more)" if more > 0 else "")


@dataclass(frozen=True, slots=True)
class SignatureView:
    title: str
    match: str
    why: str
    attributes: Table
    strengths: tuple[tuple[str, float], ...]  # (attribute, signal strength) for charts
    evidence: Table


def _signature(s: Mapping[str, Any]) -> SignatureView:
    rows, strengths = [], []
    for a in mappings(s.get("attributes")):
        name = clean(a.get("attribute", ""))
        strength = field(a, "signal_strength")
        strengths.append((name, strength or 0.0))
        rows.append(
            (
                name,
                _values(texts(a.get("values"))),
                _maybe(field(a, "attack_share"), pct),
                _maybe(field(a, "baseline_share"), pct_fine),
                _maybe(strength, lambda v: f"{v:.2f}"),
            )
        )
    evidence = s.get("evidence")
    ev_rows = (
        tuple(
            (clean(k, 60), clean(v, 120))
            for k, v in sorted(evidence.items(), key=lambda kv: str(kv[0]))
        )
        if isinstance(evidence, Mapping)
        else ()
    )
    title = " · ".join(clean(s.get(k, ""), 80) for k in ("rule", "detector", "vector") if s.get(k))
    headers = ("attribute", "values", "attack share", "baseline share", "signal strength")
    return SignatureView(
        title or "signature",
        clean(s.get("match", ""), 400),
        why(s),
        Table("Attributes", headers, tuple(rows)),
        tuple(strengths),
        Table("Evidence", ("", ""), ev_rows),
    )


def signatures(r: Report) -> tuple[SignatureView, ...]:
    return tuple(_signature(s) for s in mappings(r.incident.get("signatures")))


def actions(r: Report) -> Table:
    rows = []
    for a in r.actions:
        attack = (
            f"{_maybe(a.attack_before, rate)} → {_maybe(a.attack_after, rate)}"
            if a.attack_before is not None or a.attack_after is not None
            else "—"
        )
        allowed = (
            f"{_maybe(a.allowed_before, rate)} → {_maybe(a.allowed_after, rate)}"
            if a.allowed_before is not None or a.allowed_after is not None
            else "—"
        )
        rows.append(
            (
                offset(a.time, r.start),
                clean(a.action, 40),
                clean(a.step, 40),
                clean(a.rule, 60),
                clean(a.reason, 200),
                _maybe(a.estimated, pct_fine),
                _maybe(a.measured, pct_fine),
                attack,
                allowed,
            )
        )
    headers = (
        "time",
        "action",
        "step",
        "rule",
        "reason",
        "estimated collateral",
        "measured collateral",
        "attack /s, 10 s before → after",
        "let through /s, before → after",
    )
    return Table("Actions", headers, tuple(rows))


def collateral(r: Report) -> Table:
    rows = []
    for s in mappings(r.incident.get("signatures")):
        by_class = s.get("collateral_by_class")
        per = (
            ", ".join(
                f"{clean(k, 20)} {pct_fine(num(v) or 0.0)}"
                for k, v in sorted(by_class.items(), key=lambda kv: class_order(str(kv[0])))
            )
            if isinstance(by_class, Mapping)
            else ""
        )
        rows.append(
            (
                f"estimated, {clean(s.get('rule', 'signature'), 60)}",
                _maybe(field(s, "estimated_collateral"), pct_fine) + (f" ({per})" if per else ""),
            )
        )
    for a in r.actions:
        if a.measured is not None:
            rows.append(
                (f"measured, {clean(a.rule, 60)} ({clean(a.action, 20)})", pct_fine(a.measured))
            )
    leak = field(r.incident, "leak_after_mitigation")
    rows.append(("attack let through after mitigation", _maybe(leak, pct_fine)))
    return Table("Collateral", ("", ""), tuple(rows), "share of baseline legitimate traffic hit")


def dispersion(r: Report) -> Table:
    d = r.dispersion
    bound = "at least " if d.at_least else ""
    rows = [
        ("distinct addresses", ("" if d.complete else "~") + f"{d.addresses:,}"),
        ("distinct prefixes (/24, /48)", ("" if d.complete else "~") + f"{d.prefixes:,}"),
        (
            "sample",
            f"{d.sampled:,} addresses"
            + (", complete" if d.complete else f" of ~{d.addresses:,} (uniform)"),
        ),
        ("countries", f"{bound}{d.countries:,}"),
        ("ASNs", f"{bound}{d.asns:,}"),
        ("country entropy", f"{d.country_entropy:.2f} bits"),
        ("top country", f"{d.top_country} ({pct(d.top_country_share)})" if d.top_country else "—"),
        ("top ASN", _top_asn(r)),
        ("no country or network known", pct(d.unknown_share)),
        ("private or unroutable", pct(d.unroutable_share)),
    ]
    typed = d.typed_share > 0
    for kind in ("hosting", "residential", "mobile", "business"):
        share = d.type_share(kind)
        rows.append((f"{kind} networks", pct(share) if share is not None else "not known"))
    note = (
        "network types as the geo database classes them"
        if typed
        else ("the geo database does not say network types")
    )
    return Table(
        "Dispersion", ("", ""), tuple(rows), f"{note}; geo data: {clean(d.geo_source, 400)}"
    )


def _top_asn(r: Report) -> str:
    d = r.dispersion
    if d.top_asn is None:
        return "—"
    org = f" {clean(d.top_asn_org, 80)}" if d.top_asn_org else ""
    return f"AS{d.top_asn}{org} ({pct(d.top_asn_share)})"


def shares(title: str, items: Sequence[Share], key: str, limit: int = TOP_ROWS) -> Table:
    """Countries, ASNs or network types with their sampled addresses; a name column only
    when some row has a name."""
    named = any(s.name for s in items[:limit])
    rows = tuple(
        (
            clean(s.key, 40),
            *((clean(s.name or "", 80),) if named else ()),
            f"{s.count:,}",
            pct(s.share),
        )
        for s in items[:limit]
    )
    more = len(items) - limit
    headers = (key, *(("name",) if named else ()), "addresses", "share")
    return Table(title, headers, rows, f"{more:,} more not shown" if more > 0 else "")


def placed(title: str, items: Sequence[Placed], key: str) -> Table:
    rows = tuple(
        (
            clean(p.key, 60),
            f"{p.requests:,}",
            clean(p.country) if p.country else "—",
            f"AS{p.asn}" if p.asn is not None else "—",
            clean(p.as_org, 60) if p.as_org else "",
            clean(p.network_type) if p.network_type else "",
        )
        for p in items
    )
    headers = (key, "requests (at least)", "country", "ASN", "network", "type")
    return Table(title, headers, rows)
