"""The terminal report: sections and figures, and nothing from the incident drives the screen."""

from __future__ import annotations

import io

import reportcase as rc
from rich.console import Console

from seawall.report.model import build
from seawall.report.sources import dispersion
from seawall.report.terminal import render_terminal, renderable

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31m"
MARKUP = "[bold red]not bold[/bold red]"


def hostile() -> dict[str, object]:
    inc = rc.incident()
    inc["targets"] = [f"/t{ESCAPES}", MARKUP]
    inc["signatures"][0]["attributes"][0]["values"] = [f"UA {ESCAPES}\nX-Injected: 1"]
    return inc


def test_the_report_shows_every_section() -> None:
    inc = rc.incident()
    text = render_terminal(inc, dispersion(inc["sources"], rc.mmdb()), {"lines": 10}, width=240)
    for part in (
        "inc-1700000000-1",
        "2023-11-14 22:13:20 UTC",
        "Attribution",
        "Sources: 40 addresses in 4 countries and 3 ASNs; the top country holds 40%.",
        "Phases",
        "before detection",
        "allow 30.0/s, block 790.0/s",
        "Targets",
        "/users/cyxymu",
        "auto-3f2a · http_flood · http_flood",
        "signal strength",
        "Actions",
        "620.0/s → 640.0/s",
        "Collateral",
        "Dispersion",
        "1.75 bits",
        "AS29518 Bredband2 AB (40%)",
        "Countries",
        "Network types",
        "Top prefixes",
        "149.101.100.1",
        "log lines read",
    ):
        assert part in text, part
    assert "\x1b" not in text  # no colour asked for, none given


def test_escape_sequences_and_markup_in_the_incident_are_shown_not_obeyed() -> None:
    inc = hostile()
    for color in (False, True):
        text = render_terminal(inc, dispersion(inc["sources"], rc.mmdb()), color=color, width=200)
        assert "\x1b]" not in text and "\x07" not in text and "\x1b[2J" not in text
        assert "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31m" in text
        assert MARKUP in text
        assert "X-Injected: 1" in text and "\nX-Injected" not in text
    colored = render_terminal(inc, dispersion(inc["sources"], rc.mmdb()), color=True)
    assert "\x1b[" in colored  # our own styling, when asked for


def test_renderable_prints_on_a_callers_console() -> None:
    inc = rc.incident()
    out = io.StringIO()
    Console(file=out, width=120).print(
        renderable(build(inc, dispersion(inc["sources"], rc.mmdb())))
    )
    assert "Bredband2 AB" in out.getvalue()
