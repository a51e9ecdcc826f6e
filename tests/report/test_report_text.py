"""Untrusted text made visible and inert; numbers, shares and times as a report says them."""

from __future__ import annotations

import pytest

from seawall.report.text import clean, count, duration, offset, pct, pct_fine, rate, when


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text", "plain text"),
        ("two\nlines\r\n", "two\\nlines\\r\\n"),
        ("tab\there", "tab\\there"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),
        ("abc\u202edcba", "abc\\u202edcba"),  # a bidi override cannot reorder the line
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("nbsp\u00a0", "nbsp\\xa0"),
        ("\ud800lone", "\\ud800lone"),  # a lone surrogate cannot break UTF-8 output
        ("ünïcode 路径", "ünïcode 路径"),
        ("\U000e0041tag", "\\U000e0041tag"),
        (42, "42"),
        (None, "None"),
    ],
)
def test_clean_escapes_what_a_screen_would_obey(raw: object, shown: str) -> None:
    assert clean(raw) == shown


def test_clean_cuts_long_values_and_says_so() -> None:
    assert clean("a" * 10, limit=4) == "aaaa… (6 more characters)"
    assert clean("a" * 10_000, limit=160).endswith("… (9,840 more characters)")
    assert clean("\n" * 5, limit=2) == "\\n\\n… (3 more characters)"


@pytest.mark.parametrize(
    ("share", "shown"),
    [
        (0.0, "0%"),
        (-1.0, "0%"),
        (float("nan"), "0%"),
        (0.004, "under 1%"),
        (0.01, "1%"),
        (0.085, "9%"),
        (0.0899, "9%"),
        (0.4, "40%"),
        (0.5, "50%"),
        (0.994, "over 99%"),
        (1.0, "100%"),
        (1.5, "100%"),
    ],
)
def test_pct(share: float, shown: str) -> None:
    assert pct(share) == shown


@pytest.mark.parametrize(
    ("share", "shown"),
    [(0.0, "0%"), (0.00001, "under 0.01%"), (0.001, "0.10%"), (0.0125, "1.2%"), (0.25, "25%")],
)
def test_pct_fine(share: float, shown: str) -> None:
    assert pct_fine(share) == shown


def test_counts_rates_and_times() -> None:
    assert count(1, "address", "addresses") == "1 address"
    assert count(48_112, "address", "addresses") == "48,112 addresses"
    assert count(2, "ASN") == "2 ASNs"
    assert rate(812.34) == "812.3/s"
    assert when(1_700_000_000.0) == "2023-11-14 22:13:20 UTC"
    assert [duration(s) for s in (1.5, 250, 7500)] == ["1.5 s", "4 min 10 s", "2 h 5 min"]
    assert offset(12.0, 2.0) == "+10.0 s"
    assert offset(1.0, 2.0) == "-1.0 s"
