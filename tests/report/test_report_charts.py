"""Inline SVG charts: scales, downsampling that keeps peaks, escaped text, no outside refs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from seawall.report.charts import (
    MAX_POINTS,
    Series,
    bar_chart,
    downsample,
    line_chart,
    nice_max,
)
from seawall.report.model import Phase

HOSTILE = "<script>alert(1)</script>\n&"


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1.0), (-3, 1.0), (0.3, 0.5), (1, 1.0), (7, 10.0), (812.3, 1000.0), (150, 200.0)],
)
def test_nice_max(value: float, top: float) -> None:
    assert nice_max(value) == pytest.approx(top)


def test_downsample_keeps_every_peak() -> None:
    times = [float(t) for t in range(3600)]
    values = [1.0] * 3600
    values[1234] = 99.0
    t, (s,) = downsample(times, [Series("attack", tuple(values))])
    assert len(t) <= MAX_POINTS and len(s.values) == len(t)
    assert max(s.values) == 99.0
    assert t[0] == 0.0
    short, _ = downsample(times[:10], [Series("x", tuple(values[:10]))])
    assert short == tuple(times[:10])


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def test_line_chart_draws_series_over_shaded_phases() -> None:
    phases = [
        Phase("before_detection", "before detection", 0.0, 2.0, 2, 0, 0, 0, None),
        Phase("mitigated", "mitigated", 2.0, 4.0, 2, 0, 0, 0, None),
    ]
    svg = line_chart(
        "rates " + HOSTILE,
        [0.0, 1.0, 2.0, 3.0, 4.0],
        [Series("attack", (0, 400, 800, 10, 0)), Series("total", (20, 420, 820, 30, 20))],
        phases,
    )
    root = _parse(svg)
    lines = {p.get("data-series"): p.get("points") for p in root.iter("polyline")}
    assert set(lines) == {"attack", "total"}
    # the plot spans x 64..864 (200 px a second) and y 200..10 (0..1000/s): 800/s is y=48
    assert lines["attack"] == "64.0,200.0 264.0,124.0 464.0,48.0 664.0,198.1 864.0,200.0"
    rects = [r for r in root.iter("rect") if r.get("data-phase")]
    assert [(r.get("data-phase"), r.get("x"), r.get("width")) for r in rects] == [
        ("before_detection", "64.0", "400.0"),
        ("mitigated", "464.0", "400.0"),
    ]
    texts = [t.text for t in root.iter("text")]
    assert "1000/s" in texts and "+4 s" in texts and "mitigated" in texts
    assert root.find("title") is not None
    assert root.find("title").text == "rates <script>alert(1)</script>\\n&"  # type: ignore[union-attr]
    assert "<script>" not in svg
    assert line_chart("empty", [], []) == ""


def test_line_chart_counts_from_the_origin_and_names_narrow_phases_in_its_legend() -> None:
    phases = [
        Phase("before_detection", "before detection", 1.0, 1.1, 0, 0, 0, 0, None),
        Phase("detected", "detected, not yet mitigated", 1.1, 5.0, 4, 0, 0, 0, None),
    ]
    root = _parse(line_chart("x", [0.0, 5.0], [Series("attack", (1.0, 2.0))], phases, 1.0))
    labels = [t.text for t in root.iter("text") if t.get("class") == "phase-label"]
    assert labels == ["detected, not yet mitigated"]  # 16 px is too narrow for its name
    axis = [t.text for t in root.iter("text") if (t.text or "").endswith(" s")]
    assert axis == ["-1 s", "+0.2 s", "+1.5 s", "+2.8 s", "+4 s"]
    legend = [t.text for t in root.iter("text") if t.text in ("attack", "before detection")]
    assert legend == ["attack", "before detection"]


def test_bar_chart_escapes_labels_and_scales_bars() -> None:
    svg = bar_chart("countries", [("CN", 0.5, "50%"), (HOSTILE, 0.25, "25%")])
    root = _parse(svg)
    bars = root.findall("g")
    assert [b.get("data-label") for b in bars] == ["CN", "<script>alert(1)</script>\\n&"]
    widths = [b.find("rect").get("width") for b in bars]  # type: ignore[union-attr]
    assert widths == ["470.0", "235.0"]  # the largest fills the 470 px between the columns
    assert [t.text for t in root.iter("text")] == [
        "CN",
        "50%",
        "<script>alert(1)</script>\\n&",
        "25%",
    ]
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert bar_chart("none", []) == ""
    fixed = _parse(bar_chart("strength", [("ua", 0.5, "0.50")], scale_max=1.0))
    assert fixed.find("g/rect").get("width") == "235.0"  # type: ignore[union-attr]


def test_charts_reference_nothing_outside() -> None:
    svg = line_chart("x", [0.0, 1.0], [Series("attack", (1.0, 2.0))]) + bar_chart(
        "y", [("a", 1.0, "1")]
    )
    assert not re.search(r"(href|src|url\(|style=|<script|xmlns)", svg)
