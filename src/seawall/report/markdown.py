"""The Markdown report: the same sections as the HTML one, as GitHub-flavoured tables.

Every cell and line is escaped by `md`: backslashes, backticks, emphasis and link marks,
table pipes, `#` and tildes are backslash-escaped, `<`, `>` and `&` become entities (so no
HTML passes through), and newlines never reach the text (`text.clean` shows them as `\\n`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seawall.report import tables
from seawall.report.model import Report, build
from seawall.report.sources import Dispersion
from seawall.report.tables import Table
from seawall.report.text import clean

_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "|": "\\|",
        "#": "\\#",
        "~": "\\~",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
    }
)
_LEADING = ("-", "+", "=")  # would start a list item or a heading underline at a line's start


def md(value: object) -> str:
    """Text safe as Markdown inline content and inside a table cell."""
    text = clean(value, 10_000).translate(_ESCAPES)
    if text.startswith(_LEADING):
        text = "\\" + text
    return text


def table(t: Table, kv: bool = False) -> list[str]:
    if not t.rows:
        return ["_None recorded._", ""]
    headers = ("", "") if kv else t.headers
    out = [
        "| " + " | ".join(md(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    out += ["| " + " | ".join(md(c) for c in row) + " |" for row in t.rows]
    if t.note:
        out += ["", f"_{md(t.note)}_"]
    return [*out, ""]


def _signatures(r: Report) -> list[str]:
    out = ["## Signatures", ""]
    views = tables.signatures(r)
    if not views:
        return [*out, "_No signature was chosen._", ""]
    for s in views:
        out += [f"### {md(s.title)}", "", f"Match: {md(s.match)}", "", f"Why: {md(s.why)}", ""]
        out += table(s.attributes)
        if s.evidence.rows:
            out += ["Evidence:", "", *table(s.evidence, kv=True)]
    return out


def _sources(r: Report) -> list[str]:
    d = r.dispersion
    out = ["## Sources", "", *table(tables.dispersion(r), kv=True)]
    out += ["### Countries", "", *table(tables.shares("Countries", d.by_country, "country"))]
    out += ["### Networks (ASN)", "", *table(tables.shares("Networks", d.by_asn, "ASN"))]
    if d.by_network_type:
        out += ["### Network types", ""]
        out += table(tables.shares("Network types", d.by_network_type, "type"))
    out += ["### Top prefixes", "", *table(tables.placed("Top prefixes", d.top_prefixes, "prefix"))]
    out += ["### Top addresses", ""]
    out += table(tables.placed("Top addresses", d.top_addresses, "address"))
    return out


def render_markdown(
    incident: Mapping[str, Any],
    dispersion: Dispersion,
    summary: Mapping[str, Any] | None = None,
) -> str:
    r = build(incident, dispersion, summary)
    lines = [f"# seawall incident {md(r.incident.get('id'))}", ""]
    lines += table(tables.overview(r), kv=True)
    extra = tables.summary(r)
    if extra is not None:
        lines += ["## Analysis", "", *table(extra, kv=True)]
    lines += ["## Attribution", "", f"> {md(r.attribution.text)}", ""]
    lines += ["## Timeline", "", *table(tables.phases(r))]
    lines += ["## Targets", "", *table(tables.targets(r))]
    lines += _signatures(r)
    lines += ["## Actions and their effect", "", *table(tables.actions(r))]
    lines += ["## Collateral", "", *table(tables.collateral(r), kv=True)]
    lines += _sources(r)
    lines += [
        f"_Made by seawall from the incident's own records. Geo data: {md(dispersion.geo_source)}._"
    ]
    return "\n".join(lines) + "\n"
