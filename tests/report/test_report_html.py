"""The single-file HTML report: self-contained, locked down by its CSP, hostile text inert,
charts drawn; and a real headless Chromium showing the hostile text without running it."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import reportcase as rc
from markupsafe import escape

from seawall.report.html import csp, render_html, stylesheet
from seawall.report.sources import dispersion

from browser import chromium

TITLE = "seawall incident inc-1700000000-1"


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each <svg> text element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.svg_texts: list[str] = []
        self._in_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_text = tag == "text"

    def handle_endtag(self, tag: str) -> None:
        self._in_text = False

    def handle_data(self, data: str) -> None:
        if self._in_text:
            self.svg_texts.append(data)


def page(**overrides: Any) -> str:
    inc = rc.incident(**overrides)
    return render_html(inc, dispersion(inc["sources"], rc.mmdb()), {"lines": 1_000})


def parsed(html: str) -> Elements:
    found = Elements()
    found.feed(html)
    return found


def test_the_page_loads_nothing_from_anywhere() -> None:
    html = page()
    tags = parsed(html).tags
    assert not [(t, a) for t, a in tags if {"src", "href", "srcset", "action", "style"} & set(a)]
    assert not [t for t, _ in tags if t in ("script", "link", "iframe", "object", "embed", "img")]
    for external in ("http://", "https://", "url(", "@import", "//cdn", "@font-face"):
        assert external not in html


def test_a_url_in_the_incident_stays_text() -> None:
    ua = "Mozilla/5.0 (compatible; bot; +https://evil.example/x.js)"
    sig = rc.INCIDENT["signatures"][0] | {"match": f"ua={ua}"}
    html = page(signatures=[sig])
    assert "https://evil.example/x.js" in html  # shown, as text
    assert not [a for _, a in parsed(html).tags if any("evil" in (v or "") for v in a.values())]


def test_the_csp_allows_only_the_pages_own_stylesheet() -> None:
    html = page()
    css = stylesheet()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; "
        "form-action 'none'"
    )
    assert csp(css) == policy
    attribute = str(escape(policy))  # autoescaped, as every attribute: the browser reads it back
    assert f'<meta http-equiv="Content-Security-Policy" content="{attribute}">' in html
    assert f"<style>{css}</style>" in html  # exactly the text the hash covers
    assert html.count("<style>") == 1


def test_hostile_strings_are_escaped_everywhere() -> None:
    html = page()
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html
    assert "/x&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "onerror=" not in re.sub(r"&lt;img src=x onerror=alert\(1\)&gt;", "", html)


def test_the_charts_are_drawn() -> None:
    html = page()
    found = parsed(html)
    svgs = [a.get("class") for t, a in found.tags if t == "svg"]
    assert svgs.count("chart timeline") == 2
    series = [a.get("data-series") for t, a in found.tags if t == "polyline"]
    assert series == [
        "total", "attack", "api_app", "gateway", "user", "anonymous",
        "allow", "cache", "throttle", "challenge", "block",
    ]  # fmt: skip
    shaded = [a.get("data-phase") for t, a in found.tags if t == "rect" and "data-phase" in a]
    assert shaded == ["before_detection", "detected", "mitigated"] * 2  # 'after' has no width
    bars = [a.get("data-label") for t, a in found.tags if t == "g" and "data-label" in a]
    assert bars == [
        "ua", "prefix",  # signal strength
        "SE", "US", "GB", "JP",  # countries
        "AS29518 Bredband2 AB", "AS209", "AS6167 CELLCO-PART",  # networks
        "business", "residential", "mobile",  # network types
        "89.160.20.0/24", "216.160.83.0/24",  # prefixes
    ]  # fmt: skip
    texts = found.svg_texts
    for label in ("16 (40%)", "12 (30%)", "2 (5%)", "0.97", "0.55", "900", "400"):
        assert label in texts, label
    assert "before detection" in texts and "mitigated" in texts and "1000/s" in texts


def test_targets_with_counts_get_bars() -> None:
    html = page(
        targets=[{"target": rc.HOSTILE_PATH, "requests": 500}, {"target": "/b", "requests": 5}]
    )
    labels = [a.get("data-label") for t, a in parsed(html).tags if "data-label" in a]
    assert rc.HOSTILE_PATH in labels and "/b" in labels
    assert "Requests per target" in html


def test_an_old_timeline_draws_total_and_attack_only() -> None:
    html = page(timeline=[[rc.T0 + i, 30.0, 10.0] for i in range(5)])
    series = [a.get("data-series") for t, a in parsed(html).tags if t == "polyline"]
    assert series == ["total", "attack"]
    empty = page(timeline=[])
    assert "No timeline was recorded." in empty


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def test_chromium_shows_the_hostile_text_and_runs_none_of_it(browser: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    report = tmp_path / "incident.html"
    report.write_text(page(), encoding="utf-8")
    browser.get(report.as_uri())
    body = browser.find_element(By.TAG_NAME, "body").text
    assert rc.HOSTILE_UA in body  # shown as text ...
    assert rc.HOSTILE_PATH in body
    assert browser.title == TITLE  # ... and never run
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    assert browser.find_elements(By.TAG_NAME, "img") == []
    assert browser.find_elements(By.TAG_NAME, "script") == []
    # the stylesheet is applied, so its hash in the CSP is right
    border = browser.find_element(By.CSS_SELECTOR, "p.attribution").value_of_css_property(
        "border-left-color"
    )
    assert border == "rgba(46, 109, 164, 1)"
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) >= 6 and all(c.size["width"] > 100 for c in charts)
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "svg.bars g.bar text.label")]
    assert labels[:6] == ["ua", "prefix", "SE", "US", "GB", "JP"]
    complaints = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert complaints == []  # no refused load, no blocked script or style
