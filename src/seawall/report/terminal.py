"""The terminal report: rich tables for a human at a console.

Cells are rich `Text` objects, never markup strings, so a `[bold]` in a User-Agent is shown
as typed; and every value was cleaned first (`tables`), so no escape sequence from the
incident reaches the terminal.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table as RichTable
from rich.text import Text

from seawall.report import tables
from seawall.report.model import Report, build
from seawall.report.sources import Dispersion
from seawall.report.tables import Table

WIDTH = 110


def _table(t: Table, kv: bool = False) -> RenderableType:
    if not t.rows:
        return Text(f"{t.title}: none recorded", style="dim")
    out = RichTable(
        title=Text(t.title, style="bold"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_header=not kv,
        caption=Text(t.note, style="dim") if t.note else None,
        caption_justify="left",
    )
    for i, h in enumerate(t.headers):
        out.add_column(Text(h), style="dim" if kv and i == 0 else "", overflow="fold")
    for row in t.rows:
        out.add_row(*(Text(cell) for cell in row))
    return out


def _signatures(r: Report) -> list[RenderableType]:
    views = tables.signatures(r)
    if not views:
        return [Text("No signature was chosen.", style="dim")]
    out: list[RenderableType] = []
    for s in views:
        out += [
            Text(s.title, style="bold"),
            Text.assemble(("match ", "dim"), s.match),
            Text.assemble(("why ", "dim"), s.why),
            _table(s.attributes),
        ]
        if s.evidence.rows:
            out.append(_table(s.evidence, kv=True))
    return out


def renderable(report: Report) -> RenderableType:
    """The report as one rich renderable, for a caller that prints to its own console."""
    d = report.dispersion
    parts: list[RenderableType] = [_table(tables.overview(report), kv=True)]
    summary = tables.summary(report)
    if summary is not None:
        parts.append(_table(summary, kv=True))
    parts += [
        Panel(Text(report.attribution.text), title="Attribution", title_align="left"),
        Rule("Timeline", align="left"),
        _table(tables.phases(report)),
        Rule("Targets and signatures", align="left"),
        _table(tables.targets(report)),
        *_signatures(report),
        Rule("Actions", align="left"),
        _table(tables.actions(report)),
        _table(tables.collateral(report), kv=True),
        Rule("Sources", align="left"),
        _table(tables.dispersion(report), kv=True),
        _table(tables.shares("Countries", d.by_country, "country", limit=10)),
        _table(tables.shares("Networks", d.by_asn, "ASN", limit=10)),
    ]
    if d.by_network_type:
        parts.append(_table(tables.shares("Network types", d.by_network_type, "type")))
    parts += [
        _table(tables.placed("Top prefixes", d.top_prefixes[:10], "prefix")),
        _table(tables.placed("Top addresses", d.top_addresses[:10], "address")),
    ]
    return Group(*parts)


def render_terminal(
    incident: Mapping[str, Any],
    dispersion: Dispersion,
    summary: Mapping[str, Any] | None = None,
    *,
    color: bool = False,
    width: int = WIDTH,
) -> str:
    """The terminal report as text; ANSI colours only when `color`."""
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        markup=False,
        legacy_windows=False,
    )
    console.print(renderable(build(incident, dispersion, summary)))
    return out.getvalue()
