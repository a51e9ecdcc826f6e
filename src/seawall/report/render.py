"""One entry for the command line: an incident dict to a report in a named format."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args

from seawall.geo.lookup import GeoDb
from seawall.report.html import render_html
from seawall.report.json import render_json
from seawall.report.markdown import render_markdown
from seawall.report.model import check_incident
from seawall.report.sources import Dispersion, dispersion
from seawall.report.terminal import render_terminal

Format = Literal["text", "markdown", "html", "json"]
FORMATS: tuple[str, ...] = get_args(Format)
Renderer = Callable[[Mapping[str, Any], Dispersion, Mapping[str, Any] | None], str]
RENDERERS: dict[str, Renderer] = {
    "text": render_terminal,
    "markdown": render_markdown,
    "html": render_html,
    "json": render_json,
}


def render(
    incident: Mapping[str, Any],
    fmt: Format | str,
    geo: GeoDb,
    summary: Mapping[str, Any] | None = None,
) -> str:
    """The report of `incident` in `fmt`; `summary` is analyze's (lines, malformed,
    lines_per_s, files) when there is one. An unknown format is the caller's mistake."""
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown report format {fmt!r}: choose one of {', '.join(FORMATS)}")
    checked = check_incident(incident)
    return renderer(checked, dispersion(checked.get("sources"), geo), summary)
