"""Plain text for reports: untrusted strings made visible and inert, numbers, times.

`clean` is applied to every attacker-controlled string before any renderer's own escaping:
control and format characters (newlines, ANSI escapes, bidi overrides, zero-width marks)
are shown as escapes such as `\\n` or `\\u202e`, so nothing can move the cursor, recolour a
terminal, reorder a line or hide text; over-long values are cut and say so.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

MAX_TEXT = 160  # characters of one untrusted value shown before it is cut
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clean(value: object, limit: int = MAX_TEXT) -> str:
    """`value` as one visible line: unprintable characters escaped, cut after `limit`."""
    text = value if isinstance(value, str) else str(value)
    cut = ""
    if len(text) > limit:
        cut = f"… ({len(text) - limit:,} more characters)"
        text = text[:limit]
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else _escape(ch) for ch in text)
    return text + cut


def count(n: int, one: str, many: str | None = None) -> str:
    """'1 address', '48,112 addresses'."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def pct(share: float) -> str:
    """A share as a whole percentage that never rounds a part to all or a little to none."""
    if not math.isfinite(share) or share <= 0:
        return "0%"
    if share >= 1:
        return "100%"
    if share < 0.01:
        return "under 1%"
    if share > 0.99:
        return "over 99%"
    return f"{math.floor(share * 100 + 0.5)}%"


def pct_fine(share: float) -> str:
    """A small share (collateral, leaks) with the precision it needs: 0.12%, 3.4%."""
    if not math.isfinite(share) or share <= 0:
        return "0%"
    value = share * 100
    if value >= 10:
        return f"{value:.0f}%"
    if value >= 1:
        return f"{value:.1f}%"
    if value >= 0.01:
        return f"{value:.2f}%"
    return "under 0.01%"


def rate(rps: float) -> str:
    return f"{rps:,.1f}/s"


def when(t: float) -> str:
    """Epoch seconds as UTC: 2023-11-14 22:13:20 UTC."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    """1.5 s, 4 min 10 s, 2 h 5 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def offset(t: float, start: float) -> str:
    """A moment relative to the incident's start: +12.0 s."""
    return f"+{t - start:,.1f} s" if t >= start else f"-{start - t:,.1f} s"
