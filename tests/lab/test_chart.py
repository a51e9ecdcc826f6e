"""The lab chart: nice ticks, scales, escaping, edge cases and the atomic write."""

from __future__ import annotations

import itertools
import math
import os
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from seawall.lab.chart import (
    LEGIT_PALETTE,
    Phase,
    nice_ticks,
    render_svg,
    tick_label,
    write_chart,
)
from seawall.lab.scorecard import Attempt, ClientOutcome, Scorecard

NS = {"s": "http://www.w3.org/2000/svg"}
OK = ClientOutcome.SUCCEEDED
WEIRD = "a<b&c"  # a class name that breaks XML unless escaped
ATTACK = {s: 100 * (s + 1) if 2 <= s < 7 else 0 for s in range(10)}  # peak 700 at s = 6
REACHED = {s: n // 10 for s, n in ATTACK.items()}


def _card(classes: tuple[str, str] = ("browser", WEIRD)) -> dict[str, Any]:
    """~10 s: `browser` serves s + 1 req in second s (peak 10); the other class 3 ok + 1 fail."""
    first, second = classes
    sc = Scorecard(rng=random.Random(1))
    for s in range(10):
        for i in range(s + 1):
            sc.add(Attempt(s + i / 20, first, True, OK, 0.01))
        for i in range(3):
            sc.add(Attempt(s + 0.1 * i, second, True, OK, 0.02))
        sc.add(Attempt(s + 0.5, second, True, ClientOutcome.BLOCKED, 0.001))
        for i in range(ATTACK[s] // 50):
            sc.add(Attempt(s + i / 100, "botnet", False, ClientOutcome.BLOCKED, 0.001))
    return sc.result(
        scenario="cyxymu-2009",
        protection="none",
        seed=1,
        duration_s=10.0,
        origin_capacity_rps=50.0,
        attack_start_s=2.0,
        attack_sent=sum(ATTACK.values()),
        attack_reached_origin_by_second=REACHED,
        attack_sent_by_second=ATTACK,
    )


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def _polylines(root: ET.Element, css: str) -> list[ET.Element]:
    return [p for p in root.iter(f"{{{NS['s']}}}polyline") if p.get("class") == css]


def _points(line: ET.Element) -> list[tuple[float, float]]:
    pairs = [p.split(",") for p in line.get("points", "").split()]
    return [(float(x), float(y)) for x, y in pairs]


def _ticks(root: ET.Element, css: str) -> dict[str, float]:
    """Tick label -> its pixel coordinate (y for y axes, x for the x axis)."""
    axis = "x" if css == "xtick" else "y"
    return {
        t.text or "": float(t.get(axis, "nan"))
        for t in root.iter(f"{{{NS['s']}}}text")
        if t.get("class") == css
    }


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{{{NS['s']}}}text")]


def _scale(ticks: dict[str, float], top: float, value: float) -> float:
    """Where `value` lands, from the pixel positions of the 0 tick and the top tick."""
    lo, hi = ticks["0"], ticks[tick_label(top)]
    return lo + (hi - lo) * value / top


@pytest.mark.parametrize(
    ("max_value", "expected"),
    [
        (0, [0.0, 1.0]),
        (7, [0.0, 2.0, 4.0, 6.0, 8.0]),
        (430, [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]),
        (12000, [0.0, 5000.0, 10000.0, 15000.0]),
        (10, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
        (1, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.3, [0.0, 0.1, 0.2, 0.3]),
        (-5, [0.0, 1.0]),
        (math.nan, [0.0, 1.0]),
        (math.inf, [0.0, 1.0]),
    ],
)
def test_nice_ticks_exact(max_value: float, expected: list[float]) -> None:
    assert nice_ticks(max_value) == expected


@pytest.mark.parametrize("max_value", [0.03, 3, 99, 101, 999, 1234, 5e6, 7.7e12, 1e300])
def test_nice_ticks_properties(max_value: float) -> None:
    ticks = nice_ticks(max_value)
    step = ticks[1]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 5))
    assert ticks[0] == 0 and ticks[-1] >= max_value > ticks[-2]
    assert 2 <= len(ticks) <= 7
    assert all(math.isclose(b - a, step, rel_tol=1e-9) for a, b in itertools.pairwise(ticks))


def test_tick_labels_compact() -> None:
    assert [tick_label(v) for v in (0, 0.2, 8, 2500, 15000, 1.5e6, 2e9, 3e12)] == [
        "0", "0.2", "8", "2.5k", "15k", "1.5M", "2G", "3T",
    ]  # fmt: skip
    assert tick_label(2e299) == "2e+299"


def test_one_polyline_per_legit_class_with_a_point_per_row() -> None:
    card = _card()
    root = _parse(render_svg(card, []))
    lines = _polylines(root, "legit")
    assert [line.findtext("s:title", namespaces=NS) for line in lines] == sorted(card["classes"])
    assert all(len(_points(line)) == len(card["timeline"]) == 10 for line in lines)
    assert {line.get("stroke") for line in lines} == set(LEGIT_PALETTE[:2])


def test_point_for_a_known_second_matches_the_axis_scale() -> None:
    card = _card(("browser", "api"))
    root = _parse(render_svg(card, []))
    browser = next(
        x for x in _polylines(root, "legit") if x.findtext("s:title", namespaces=NS) == "browser"
    )
    assert card["timeline"][4]["browser_ok"] == 5
    top = nice_ticks(10)[-1]  # the browser peak is 10 req/s, so the axis runs 0..10
    yt, xt = _ticks(root, "ytick"), _ticks(root, "xtick")
    assert set(yt) == {tick_label(v) for v in nice_ticks(10)}
    x, y = _points(browser)[4]
    assert y == pytest.approx(_scale(yt, top, 5), abs=0.01)
    assert x == pytest.approx(_scale(xt, nice_ticks(10)[-1], 4.5), abs=0.01)  # bucket middle
    ys = [p[1] for p in _points(browser)]
    assert ys == sorted(ys, reverse=True)  # rising rate = falling pixel y


def test_attack_lines_dashed_on_the_right_axis() -> None:
    card = _card()
    root = _parse(render_svg(card, []))
    (sent,) = _polylines(root, "attack-sent")
    (reached,) = _polylines(root, "attack-reached-origin")
    assert sent.get("stroke-dasharray") and reached.get("stroke-dasharray")
    assert sent.get("stroke-dasharray") != reached.get("stroke-dasharray")
    y2 = _ticks(root, "y2tick")
    top = nice_ticks(700)[-1]
    assert set(y2) == {tick_label(v) for v in nice_ticks(700)}
    assert _points(sent)[6][1] == pytest.approx(_scale(y2, top, 700), abs=0.01)
    assert _points(reached)[6][1] == pytest.approx(_scale(y2, top, 70), abs=0.01)
    assert "attack req/s" in _texts(root) and "served req/s" in _texts(root)
    assert "seconds" in _texts(root)


def test_phases_shaded_with_their_names() -> None:
    card = _card()
    phases = [Phase("flood", 2.0, 7.0), Phase("x<y & z", 8.0, 9.5), Phase("later", 50, 60)]
    root = _parse(render_svg(card, phases))
    groups = [g for g in root.iter(f"{{{NS['s']}}}g") if g.get("class") == "phase"]
    assert ["".join(g.itertext()) for g in groups] == ["flood", "x<y & z"]  # "later" is outside
    xt = _ticks(root, "xtick")
    rect = groups[0].find("s:rect", NS)
    assert rect is not None and 0 < float(rect.get("fill-opacity", "1")) < 1
    assert float(rect.get("x", "nan")) == pytest.approx(_scale(xt, 10, 2.0), abs=0.01)
    assert float(rect.get("width", "nan")) == pytest.approx(_scale(xt, 10, 5.0) - xt["0"], abs=0.02)


def test_text_is_escaped_and_default_title() -> None:
    card = _card()
    svg = render_svg(card, [Phase('"q" <p>', 1, 2)])
    assert WEIRD not in svg and "a&lt;b&amp;c" in svg
    root = _parse(svg)
    texts = _texts(root)
    assert "cyxymu-2009 — none" in texts and WEIRD in texts and '"q" <p>' in texts
    root = _parse(render_svg(card, [], title="<script>&\x00\x07'\""))
    assert "<script>&'\"" in _texts(root)  # control characters XML cannot carry are dropped


def test_empty_timeline_says_no_data() -> None:
    card = _card()
    card["timeline"] = []
    root = _parse(render_svg(card, [Phase("flood", 1, 2)]))
    assert "no data" in _texts(root)
    assert not list(root.iter(f"{{{NS['s']}}}polyline"))
    assert "no data" in _texts(_parse(render_svg({}, [])))  # nothing at all
    assert "? — ?" in _texts(_parse(render_svg({}, [])))


def test_all_zero_class_single_row_and_missing_keys() -> None:
    card: dict[str, Any] = {
        "scenario": "s",
        "protection": "p",
        "duration_s": 1.0,
        "classes": {"idle": {}, "web": {}},
        "timeline": [{"t": 0, "web_ok": 4}],  # no idle_ok, no attack keys
    }
    root = _parse(render_svg(card, []))
    idle, web = _polylines(root, "legit")
    yt = _ticks(root, "ytick")
    assert _points(idle) == [(pytest.approx(_points(idle)[0][0]), yt["0"])]
    assert _points(web)[0][1] == pytest.approx(_scale(yt, 4, 4), abs=0.01)
    assert len(list(root.iter(f"{{{NS['s']}}}circle"))) == 4  # one marker per series
    (sent,) = _polylines(root, "attack-sent")
    assert _points(sent)[0][1] == _ticks(root, "y2tick")["0"]


def test_huge_and_bad_values_stay_finite_and_compact() -> None:
    card = _card()
    card["timeline"][3]["browser_ok"] = 10**400  # too big for a float
    card["timeline"][4]["browser_ok"] = math.inf
    card["timeline"][5]["browser_ok"] = "lots"
    card["timeline"][6]["attack_sent"] = 7 * 10**15
    svg = render_svg(card, [])
    root = _parse(svg)
    numbers = re.findall(
        r"-?\d+\.?\d*", " ".join(p.get("points", "") for p in root.iter(f"{{{NS['s']}}}polyline"))
    )
    assert all(math.isfinite(float(n)) and 0 <= float(n) <= 960 for n in numbers)
    assert all(len(n.partition(".")[2]) <= 2 for n in numbers)
    assert "nan" not in svg and "inf" not in svg
    assert "8P" not in svg and "8e+15" in _texts(root)  # attack axis tops out at 8e15


def test_many_classes_collapse_the_legend() -> None:
    names = [f"c{i}" for i in range(200)]
    card = {"classes": names, "timeline": [{"t": 0}, {"t": 1}]}
    root = _parse(render_svg(card, [], width=400, height=300))
    assert len(_polylines(root, "legit")) == 200
    assert any(t.startswith("+") and t.endswith(" more") for t in _texts(root))
    (sent,) = _polylines(root, "attack-sent")
    assert _ticks(root, "ytick")["0"] - _ticks(root, "ytick")["1"] >= 80  # plot not squashed


def test_phase_and_size_validation() -> None:
    for bad in ((2.0, 2.0), (3.0, 1.0), (math.nan, 1.0), (0.0, math.inf)):
        with pytest.raises(ValueError):
            Phase("p", *bad)
    with pytest.raises(ValueError):
        render_svg({}, [], width=100)


def test_write_chart_atomic_utf8(tmp_path: Path) -> None:
    target = tmp_path / "chart.svg"
    target.write_text("old", encoding="utf-8")
    svg = render_svg(_card(), [Phase("flood", 2, 7)])
    assert write_chart(target, svg) == target
    assert target.read_bytes() == svg.encode("utf-8")
    assert os.listdir(tmp_path) == ["chart.svg"]  # no temp file left behind
    _parse(target.read_text(encoding="utf-8"))
    with pytest.raises(FileNotFoundError):
        write_chart(tmp_path / "missing" / "c.svg", svg)
    assert os.listdir(tmp_path) == ["chart.svg"]


def test_write_chart_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "chart.svg"
    target.write_text("old", encoding="utf-8")

    def boom(src: str, dst: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_chart(target, "<svg/>")
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["chart.svg"]
