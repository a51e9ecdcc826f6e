"""The Markdown report: escaped cells and lines, and every section with its figures."""

from __future__ import annotations

import re

import pytest
import reportcase as rc

from seawall.report.markdown import md, render_markdown
from seawall.report.sources import dispersion


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("`code`", "\\`code\\`"),
        ("line\nbreak", "line\\\\nbreak"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("a & b", "a &amp; b"),
        ("**bold** _it_ ~~x~~", "\\*\\*bold\\*\\* \\_it\\_ \\~\\~x\\~\\~"),
        ("[click](javascript:alert(1))", "\\[click\\](javascript:alert(1))"),
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("back\\slash", "back\\\\slash"),
        ("\x1b[31m", "\\\\x1b\\[31m"),
    ],
)
def test_md_escapes(raw: str, escaped: str) -> None:
    assert md(raw) == escaped


def report() -> str:
    inc = rc.incident()
    summary = {"lines": 1_300_000, "malformed": 12, "lines_per_s": 512_345.6, "files": ["a.log"]}
    return render_markdown(inc, dispersion(inc["sources"], rc.mmdb()), summary)


def test_hostile_values_stay_text_in_their_cells() -> None:
    text = report()
    assert "<script>" not in text and "<img" not in text
    assert '| 1 | /x"&gt;&lt;img src=x onerror=alert(1)&gt; |' in text
    assert (
        "| ua | &lt;script&gt;document.title='pwned'&lt;/script&gt; | 98% | 1.0% | 0.97 |" in text
    )
    # every table row keeps its column count: no value split a cell
    for block in re.split(r"\n\n", text):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            widths = {len(re.split(r"(?<!\\)\|", r)) for r in rows}
            assert len(widths) == 1, block


def test_the_report_has_every_section_and_figure() -> None:
    text = report()
    for heading in (
        "# seawall incident inc-1700000000-1",
        "## Analysis",
        "## Attribution",
        "## Timeline",
        "## Targets",
        "## Signatures",
        "## Actions and their effect",
        "## Collateral",
        "## Sources",
        "### Countries",
        "### Networks (ASN)",
        "### Network types",
        "### Top prefixes",
        "### Top addresses",
    ):
        assert f"\n{heading}\n" in f"\n{text}", heading
    assert (
        "> Sources: 40 addresses in 4 countries and 3 ASNs; the top country holds 40%. The "
        "geolocation of bots shows where infected devices are, not who controls them;" in text
    )
    assert (
        "| mitigated | \\+5.0 s to +9.0 s | 820.0/s | 800.0/s | 800.0/s | allow 30.0/s, block 790.0/s |"
        in text
    )
    assert "| country entropy | 1.75 bits |" in text
    assert "| hosting networks | 0% |" in text
    assert "| SE | 16 | 40% |" in text
    assert "| AS29518 | Bredband2 AB | 16 | 40% |" in text
    assert "| 89.160.20.0/24 | 900 | SE | AS29518 | Bredband2 AB |  |" in text
    assert "| attack let through after mitigation | 1.2% |" in text
    assert "| lines per second | 512,346 |" in text
    assert "Why: matches 97% of the attack's requests;" in text
    assert text.endswith(".\\_\n") is False and text.endswith("._\n")


def test_an_empty_incident_still_renders() -> None:
    text = render_markdown({"id": "inc|1", "start": 0.0}, dispersion(None, rc.FakeGeo()))
    assert text.startswith("# seawall incident inc\\|1\n")
    assert "_No signature was chosen._" in text
    assert "> No attacking source addresses were recorded" in text
