"""The one entry the command line uses: an incident in any of the four formats."""

from __future__ import annotations

import json

import pytest
import reportcase as rc

from seawall.report.model import IncidentDataError
from seawall.report.render import FORMATS, render


def test_every_format_renders_the_same_incident() -> None:
    geo = rc.mmdb()
    out = {fmt: render(rc.incident(), fmt, geo) for fmt in FORMATS}
    assert set(out) == {"text", "markdown", "html", "json"}
    statement = "Sources: 40 addresses in 4 countries and 3 ASNs; the top country holds 40%."
    assert statement in out["markdown"]
    assert statement in out["html"]
    assert json.loads(out["json"])["attribution"].startswith(statement)
    assert "Sources: 40 addresses in 4 countries and 3 ASNs" in out["text"]
    assert out["html"].startswith("<!DOCTYPE html>")


def test_an_analyze_summary_reaches_the_report() -> None:
    text = render(rc.incident(), "markdown", rc.mmdb(), {"lines": 2_000, "malformed": 3})
    assert "| log lines read | 2,000 |" in text and "| malformed lines | 3 |" in text


def test_mistakes_are_named() -> None:
    with pytest.raises(ValueError, match=r"unknown report format 'pdf': choose one of text, "):
        render(rc.incident(), "pdf", rc.mmdb())
    with pytest.raises(IncidentDataError, match="'id' is missing"):
        render({"start": 1.0}, "text", rc.mmdb())
