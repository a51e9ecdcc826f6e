"""Inline SVG charts for the HTML report, drawn in Python.

Every text that reaches the SVG is cleaned (`text.clean`) and XML-escaped here; the charts
carry no script, no external reference and no `style` attribute (the report's CSP allows
only its own stylesheet), only presentation attributes. A long timeline is reduced to at
most `MAX_POINTS` columns, each the maximum of the seconds it covers, so peaks survive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from seawall.report.model import Phase
from seawall.report.text import clean

MAX_POINTS = 720
LABEL_CHARS = 48  # a bar's label is cut here; the tables beside it show the whole value
COLOURS = {
    "total": "#6b6b6b",
    "attack": "#c0392b",
    "api_app": "#1f77b4",
    "gateway": "#17becf",
    "user": "#2ca02c",
    "anonymous": "#ff7f0e",
    "allow": "#2ca02c",
    "cache": "#17becf",
    "throttle": "#bcbd22",
    "challenge": "#9467bd",
    "block": "#d62728",
}
PHASE_FILLS = {
    "before_detection": "#fdebd0",
    "detected": "#fadbd8",
    "mitigated": "#d5f5e3",
    "after": "#eaecee",
}
BAR_FILL = "#2e6da4"


def esc(text: object, limit: int = LABEL_CHARS) -> str:
    """Text safe inside SVG/HTML text and attribute values."""
    return escape(clean(text, limit), quote=True)


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float, ...]


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (1 for nothing)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= value)


def downsample(
    times: Sequence[float], series: Sequence[Series], limit: int = MAX_POINTS
) -> tuple[tuple[float, ...], tuple[Series, ...]]:
    """At most `limit` columns: each the first time and the maximum of every series."""
    if len(times) <= limit:
        return tuple(times), tuple(series)
    step = math.ceil(len(times) / limit)
    cuts = range(0, len(times), step)
    return tuple(times[i] for i in cuts), tuple(
        Series(s.name, tuple(max(s.values[i : i + step]) for i in cuts)) for s in series
    )


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot area and its scales."""

    left: float
    top: float
    width: float
    height: float
    t0: float
    t1: float
    ymax: float
    origin: float  # the moment axis labels count from (the incident's start)

    def x(self, t: float) -> float:
        span = self.t1 - self.t0 or 1.0
        return self.left + (min(max(t, self.t0), self.t1) - self.t0) / span * self.width

    def y(self, v: float) -> float:
        return self.top + self.height - min(v, self.ymax) / self.ymax * self.height


def _phases_svg(frame: _Frame, phases: Sequence[Phase]) -> list[str]:
    out = ['<g class="phases">']
    for p in phases:
        x0, x1 = frame.x(p.start), frame.x(p.end if p.end is not None else frame.t1)
        if x1 <= x0:
            continue
        out.append(
            f'<rect class="phase" data-phase="{esc(p.name)}" x="{x0:.1f}" y="{frame.top:.1f}"'
            f' width="{x1 - x0:.1f}" height="{frame.height:.1f}"'
            f' fill="{PHASE_FILLS.get(p.name, "#eeeeee")}"><title>{esc(p.label)}</title></rect>'
        )
        if x1 - x0 >= 6 * len(p.label) + 6:  # a narrow phase is named in the legend only
            out.append(
                f'<text class="phase-label" x="{x0 + 3:.1f}" y="{frame.top + 11:.1f}"'
                f' font-size="10" fill="#555555">{esc(p.label)}</text>'
            )
    out.append("</g>")
    return out


def _axes_svg(frame: _Frame) -> list[str]:
    out = ['<g class="axes" font-size="10" fill="#333333">']
    for i in range(5):
        v = frame.ymax * i / 4
        y = frame.y(v)
        out.append(
            f'<line x1="{frame.left:.1f}" x2="{frame.left + frame.width:.1f}" y1="{y:.1f}"'
            f' y2="{y:.1f}" stroke="#dddddd"/>'
            f'<text x="{frame.left - 4:.1f}" y="{y + 3:.1f}" text-anchor="end">{_fmt(v)}/s</text>'
        )
        t = frame.t0 + (frame.t1 - frame.t0) * i / 4
        x = frame.x(t)
        since = t - frame.origin
        out.append(
            f'<text x="{x:.1f}" y="{frame.top + frame.height + 14:.1f}" text-anchor="middle">'
            f"{'-' if since < 0 else '+'}{_fmt(abs(since))} s</text>"
        )
    out.append("</g>")
    return out


def _series_svg(frame: _Frame, times: Sequence[float], series: Sequence[Series]) -> list[str]:
    out = ['<g class="series">']
    for s in series:
        points = " ".join(
            f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in zip(times, s.values, strict=True)
        )
        out.append(
            f'<polyline data-series="{esc(s.name)}" fill="none" stroke-width="1.5"'
            f' stroke="{COLOURS.get(s.name, "#000000")}" points="{points}"/>'
        )
    out.append("</g>")
    return out


def _legend_svg(left: float, y: float, keys: Sequence[tuple[str, str]]) -> list[str]:
    """One line of (colour, name) swatches."""
    out = ['<g class="legend" font-size="11" fill="#333333">']
    x = left
    for colour, name in keys:
        out.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14:.1f}" y="{y:.1f}">{esc(name)}</text>'
        )
        x += 24 + 7 * len(name)
    out.append("</g>")
    return out


def line_chart(
    title: str,
    times: Sequence[float],
    series: Sequence[Series],
    phases: Sequence[Phase] = (),
    origin: float | None = None,
    width: int = 880,
    height: int = 266,
) -> str:
    """Rates over time, one polyline per series, the phases shaded behind them; the time
    axis counts seconds from `origin` (default: the first moment shown)."""
    if not times:
        return ""
    times, series = downsample(times, series)
    t0 = min([times[0], *(p.start for p in phases)])
    t1 = max([times[-1], *(p.end for p in phases if p.end is not None)])
    peak = max((v for s in series for v in s.values), default=0.0)
    frame = _Frame(
        64, 10, width - 80, height - 76, t0, t1, nice_max(peak), t0 if origin is None else origin
    )
    keys = [(COLOURS.get(s.name, "#000000"), s.name) for s in series]
    shaded = [(PHASE_FILLS.get(p.name, "#eeeeee"), p.label) for p in phases]
    parts = [
        f'<svg class="chart timeline" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}"><title>{esc(title, 200)}</title>',
        *_phases_svg(frame, phases),
        *_axes_svg(frame),
        *_series_svg(frame, times, series),
        *_legend_svg(frame.left, height - 24, keys),
        *_legend_svg(frame.left, height - 8, shaded),
        "</svg>",
    ]
    return "".join(parts)


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, float, str]],
    scale_max: float | None = None,
    width: int = 880,
) -> str:
    """Horizontal bars: (label, value, value text) each; the longest bar is `scale_max` (or
    the largest value)."""
    if not rows:
        return ""
    label_w, value_w, bar_h, gap = 300, 110, 16, 6
    top = max([scale_max or 0.0, *(v for _, v, _ in rows)]) or 1.0
    height = len(rows) * (bar_h + gap) + gap
    span = width - label_w - value_w
    parts = [
        f'<svg class="chart bars" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-size="11"><title>{esc(title, 200)}</title>'
    ]
    for i, (label, value, shown) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(value, 0.0) / top * span
        parts.append(
            f'<g class="bar" data-label="{esc(label)}">'
            f'<text class="label" x="{label_w - 6}" y="{y + 12}" text-anchor="end"'
            f' fill="#333333">{esc(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{BAR_FILL}"/>'
            f'<text class="value" x="{label_w + w + 4:.1f}" y="{y + 12}"'
            f' fill="#333333">{esc(shown)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
