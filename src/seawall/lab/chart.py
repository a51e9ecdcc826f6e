"""The lab's chart: a scorecard timeline as a standalone SVG 1.1 document.

No plotting dependency, so the lab can draw its result anywhere Python runs. Legitimate
classes are solid lines on the left axis ("served req/s", from `<class>_ok`). The attack
(`attack_sent`) and what of it reached the origin (`attack_reached_origin`) are dashed lines
on a right axis ("attack req/s"): attack rates are typically 10-100x legitimate ones and
would flatten the legitimate lines on a shared axis. Each point sits in the middle of its
one-second bucket, since a timeline row counts the requests of [t, t + 1).
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

# Okabe-Ito, colour-blind safe. Black and vermillion are kept back for the attack lines.
LEGIT_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442")
ATTACK_SENT_COLOUR = "#000000"
ATTACK_REACHED_COLOUR = "#D55E00"
VALUE_CAP = 1e300  # keeps the tick arithmetic finite for absurd inputs
MIN_WIDTH, MIN_HEIGHT = 320, 240
LEGEND_ITEM_W, LEGEND_ROW_H, LABEL_MAX = 170, 18, 24
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP = 72, 72, 56
BOTTOM_BASE = 70  # x tick labels and the x-axis label; legend rows go below it
MIN_PLOT_H = 80  # legend rows are dropped ("+N more") before the plot gets flatter than this
SVG_NS = "http://www.w3.org/2000/svg"


@dataclass(frozen=True, slots=True)
class Phase:
    """An attack phase to shade, in seconds since the scenario started."""

    name: str
    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise ValueError(f"phase bounds must be finite, got {self.start_s!r}..{self.end_s!r}")
        if not self.start_s < self.end_s:
            raise ValueError(f"phase must start before it ends: {self.start_s}..{self.end_s}")


def nice_ticks(max_value: float, target: int = 5) -> list[float]:
    """Ticks 0, s, 2s, ... up to the first multiple of s >= max_value; s is 1, 2 or 5 x 10^k.

    s is the smallest such step giving at most about `target` intervals. [0.0, 1.0] when
    max_value is below 1e-9 or not finite (nothing to scale); capped at VALUE_CAP.
    """
    if not (math.isfinite(max_value) and max_value >= 1e-9):
        return [0.0, 1.0]
    top = min(max_value, VALUE_CAP)
    raw = top / max(1, target)
    k = math.floor(math.log10(raw))
    frac = raw / 10.0**k
    m = next(c for c in (1, 2, 5, 10) if frac <= c * (1 + 1e-9))
    step = m * 10.0**k
    n = math.ceil(top / step * (1 - 1e-12))  # float noise must not add an empty interval
    digits = max(0, -k)  # rounding removes 0.1 * 3 == 0.30000000000000004
    return [round(i * step, digits) for i in range(n + 1)]


def fmt(x: float) -> str:
    """A coordinate with at most 2 decimals and no trailing zeros."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def tick_label(v: float) -> str:
    """A compact tick label: 2.5k, 12M, 0.2; scientific beyond 10^15 or below 0.01."""
    a = abs(v)
    if a >= 1e15 or 0 < a < 0.01:
        return f"{v:.3g}"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return fmt(v / div) + suffix
    return fmt(v)


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot carry at all, even escaped (NUL, most C0 controls)."""
    return "".join(
        c
        for c in text
        if c in "\t\n\r"
        or "\x20" <= c <= "\ud7ff"
        or "\ue000" <= c <= "\ufffd"
        or c >= "\U00010000"
    )


def _text(s: str) -> str:
    return escape(_clean(s))


def _attr(s: str) -> str:
    return quoteattr(_clean(s))


def _num(v: Any) -> float:
    """A plottable value: missing, non-numeric, negative or NaN is 0; huge is capped."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return 0.0
    try:
        f = float(v)
    except OverflowError:  # an int too big for a float
        return VALUE_CAP
    return 0.0 if math.isnan(f) or f <= 0 else min(f, VALUE_CAP)


@dataclass(frozen=True, slots=True)
class _Series:
    label: str
    values: tuple[float, ...]
    colour: str
    css: str  # the element's class, so readers (and tests) can tell the lines apart
    dash: str | None = None
    right: bool = False  # drawn against the attack axis


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot box in pixels and the top of each axis's domain (all bottoms are 0)."""

    left: float
    top: float
    right: float
    bottom: float
    x_ticks: list[float]
    y_ticks: list[float]
    y2_ticks: list[float]

    def x(self, t: float) -> float:
        span = self.x_ticks[-1]
        return self.left + (self.right - self.left) * min(max(t, 0.0), span) / span

    def y(self, v: float, right: bool = False) -> float:
        span = (self.y2_ticks if right else self.y_ticks)[-1]
        return self.bottom - (self.bottom - self.top) * min(max(v, 0.0), span) / span


def _rows(scorecard: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = scorecard.get("timeline")
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        return []
    return [r for r in rows if isinstance(r, Mapping)]


def _series(scorecard: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> list[_Series]:
    classes = scorecard.get("classes")
    names = [str(k) for k in classes] if isinstance(classes, Mapping | list | tuple) else []
    out = [
        _Series(n, tuple(_num(r.get(f"{n}_ok")) for r in rows), LEGIT_PALETTE[i % 6], "legit")
        for i, n in enumerate(names)
    ]
    for key, label, colour, dash in (
        ("attack_sent", "attack sent", ATTACK_SENT_COLOUR, "6 4"),
        ("attack_reached_origin", "attack reached origin", ATTACK_REACHED_COLOUR, "2 3"),
    ):
        values = tuple(_num(r.get(key)) for r in rows)
        out.append(_Series(label, values, colour, key.replace("_", "-"), dash, right=True))
    return out


def _times(rows: list[Mapping[str, Any]]) -> list[float]:
    """Each row's bucket midpoint; a row without a usable t is taken to be its index."""
    return [min(_num(r.get("t", i)), VALUE_CAP / 2) + 0.5 for i, r in enumerate(rows)]


def _frame(
    scorecard: Mapping[str, Any],
    times: list[float],
    series: list[_Series],
    size: tuple[int, int],
    legend_rows: int,
) -> _Frame:
    width, height = size
    span = max(max(times) + 0.5, _num(scorecard.get("duration_s")))  # phases are clipped to it
    y_max = max((max(s.values) for s in series if not s.right), default=0.0)
    y2_max = max((max(s.values) for s in series if s.right), default=0.0)
    bottom = height - BOTTOM_BASE - legend_rows * LEGEND_ROW_H
    return _Frame(
        MARGIN_LEFT,
        MARGIN_TOP,
        width - MARGIN_RIGHT,
        bottom,
        nice_ticks(span),
        nice_ticks(y_max),
        nice_ticks(y2_max),
    )


def _default_title(scorecard: Mapping[str, Any]) -> str:
    return f"{scorecard.get('scenario', '?')} — {scorecard.get('protection', '?')}"


def _phases(f: _Frame, phases: Sequence[Phase]) -> list[str]:
    out: list[str] = []
    for p in phases:
        x0, x1 = f.x(p.start_s), f.x(p.end_s)
        if x1 <= x0:  # entirely outside the run
            continue
        out.append(
            f'<g class="phase"><rect x="{fmt(x0)}" y="{fmt(f.top)}" width="{fmt(x1 - x0)}"'
            f' height="{fmt(f.bottom - f.top)}" fill="#888888" fill-opacity="0.18"/>'
            f'<text x="{fmt((x0 + x1) / 2)}" y="{fmt(f.top + 14)}" text-anchor="middle"'
            f' fill="#444444">{_text(p.name)}</text></g>'
        )
    return out


def _axes(f: _Frame, width: int) -> list[str]:
    out = [
        f'<g class="axes" stroke="#333333"><line x1="{fmt(f.left)}" y1="{fmt(f.top)}"'
        f' x2="{fmt(f.left)}" y2="{fmt(f.bottom)}"/><line x1="{fmt(f.left)}"'
        f' y1="{fmt(f.bottom)}" x2="{fmt(f.right)}" y2="{fmt(f.bottom)}"/><line'
        f' x1="{fmt(f.right)}" y1="{fmt(f.top)}" x2="{fmt(f.right)}" y2="{fmt(f.bottom)}"/></g>'
    ]
    for v in f.y_ticks:
        y = fmt(f.y(v))
        out.append(
            f'<line x1="{fmt(f.left)}" y1="{y}" x2="{fmt(f.right)}" y2="{y}" stroke="#e5e5e5"/>'
            f'<text class="ytick" x="{fmt(f.left - 8)}" y="{y}" dy="0.35em"'
            f' text-anchor="end">{tick_label(v)}</text>'
        )
    for v in f.y2_ticks:
        y = fmt(f.y(v, right=True))
        out.append(
            f'<text class="y2tick" x="{fmt(f.right + 8)}" y="{y}" dy="0.35em">'
            f"{tick_label(v)}</text>"
        )
    for v in f.x_ticks:
        x = fmt(f.x(v))
        out.append(
            f'<line x1="{x}" y1="{fmt(f.bottom)}" x2="{x}" y2="{fmt(f.bottom + 5)}"'
            f' stroke="#333333"/><text class="xtick" x="{x}" y="{fmt(f.bottom + 18)}"'
            f' text-anchor="middle">{tick_label(v)}</text>'
        )
    return out + _axis_labels(f, width)


def _axis_labels(f: _Frame, width: int) -> list[str]:
    mid_y = fmt((f.top + f.bottom) / 2)
    return [
        f'<text class="xlabel" x="{fmt((f.left + f.right) / 2)}" y="{fmt(f.bottom + 40)}"'
        ' text-anchor="middle">seconds</text>',
        f'<text class="ylabel" x="18" y="{mid_y}" text-anchor="middle"'
        f' transform="rotate(-90 18 {mid_y})">served req/s</text>',
        f'<text class="y2label" x="{width - 14}" y="{mid_y}" text-anchor="middle"'
        f' transform="rotate(90 {width - 14} {mid_y})">attack req/s</text>',
    ]


def _stroke(s: _Series) -> str:
    dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
    return f'stroke="{s.colour}" stroke-width="2"{dash}'


def _lines(f: _Frame, times: list[float], series: list[_Series]) -> list[str]:
    out: list[str] = []
    for s in series:
        pts = [(f.x(t), f.y(v, s.right)) for t, v in zip(times, s.values, strict=True)]
        out.append(
            f'<polyline class="{s.css}" fill="none" {_stroke(s)}'
            f' points="{" ".join(f"{fmt(x)},{fmt(y)}" for x, y in pts)}">'
            f"<title>{_text(s.label)}</title></polyline>"
        )
        if len(pts) == 1:  # a one-point polyline draws nothing; mark the point instead
            x, y = pts[0]
            out.append(f'<circle cx="{fmt(x)}" cy="{fmt(y)}" r="3" fill="{s.colour}"/>')
    return out


def _legend_layout(series: list[_Series], size: tuple[int, int]) -> tuple[int, int, int]:
    """(items per row, rows, items shown): rows are dropped before the plot gets too flat."""
    width, height = size
    per_row = max(1, (width - MARGIN_LEFT - MARGIN_RIGHT) // LEGEND_ITEM_W)
    fit = max(1, (height - MARGIN_TOP - BOTTOM_BASE - MIN_PLOT_H) // LEGEND_ROW_H)
    rows = min(math.ceil(len(series) / per_row), fit)
    shown = len(series) if len(series) <= rows * per_row else rows * per_row - 1
    return per_row, rows, shown


def _legend(f: _Frame, series: list[_Series], size: tuple[int, int]) -> list[str]:
    per_row, _, shown = _legend_layout(series, size)
    out: list[str] = ['<g class="legend">']
    for i, s in enumerate(series[:shown]):
        x = f.left + (i % per_row) * LEGEND_ITEM_W
        y = f.bottom + 60 + (i // per_row) * LEGEND_ROW_H
        label = s.label if len(s.label) <= LABEL_MAX else s.label[: LABEL_MAX - 1] + "…"
        out.append(
            f'<line x1="{fmt(x)}" y1="{fmt(y)}" x2="{fmt(x + 22)}" y2="{fmt(y)}" {_stroke(s)}/>'
            f'<text x="{fmt(x + 28)}" y="{fmt(y)}" dy="0.35em">{_text(label)}</text>'
        )
    if shown < len(series):
        x = f.left + (shown % per_row) * LEGEND_ITEM_W
        y = f.bottom + 60 + (shown // per_row) * LEGEND_ROW_H
        out.append(
            f'<text x="{fmt(x)}" y="{fmt(y)}" dy="0.35em">+{len(series) - shown} more</text>'
        )
    return [*out, "</g>"]


def render_svg(
    scorecard: Mapping[str, Any],
    phases: Sequence[Phase],
    title: str | None = None,
    width: int = 960,
    height: int = 540,
) -> str:
    """The scorecard's timeline as a standalone SVG 1.1 document (see the module docstring)."""
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"chart must be at least {MIN_WIDTH}x{MIN_HEIGHT}, got {width}x{height}")
    heading = _default_title(scorecard) if title is None else title
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
        f'<svg xmlns="{SVG_NS}" version="1.1" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{_text(heading)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text class="title" x="{fmt(width / 2)}" y="28" text-anchor="middle"'
        f' font-size="16">{_text(heading)}</text>',
    ]
    rows = _rows(scorecard)
    if not rows:
        parts.append(
            f'<text class="no-data" x="{fmt(width / 2)}" y="{fmt(height / 2)}"'
            ' text-anchor="middle" fill="#666666">no data</text>'
        )
    else:
        series, times, size = _series(scorecard, rows), _times(rows), (width, height)
        f = _frame(scorecard, times, series, size, _legend_layout(series, size)[1])
        parts += _phases(f, phases) + _axes(f, width) + _lines(f, times, series)
        parts += _legend(f, series, size)
    return "\n".join([*parts, "</svg>"]) + "\n"


def write_chart(path: Path, svg: str) -> Path:
    """Write `svg` to `path` as UTF-8, atomically: readers see the old file or the new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(svg)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a chart is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
