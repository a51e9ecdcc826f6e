"""Plain formats: blocklists, an nginx `geo` include and an nftables set file, out and in.

Exports hold only live indicators, with any address or network inside another dropped
(nftables refuses overlapping intervals). Every comment line is cleaned to printable
ASCII, since targets and descriptions are attacker-controlled text and a newline in one
would otherwise become a line of configuration.

A plain list is read line by line: one address or CIDR a line, `#` and `;` comments,
blank lines, and "address,comment" or "address comment" tolerated. A bad line is
counted and reported with its number; it never stops the import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import PurePath

from seawall.intel.indicators import (
    DEFAULT_READING,
    Collector,
    Indicator,
    IntelError,
    Parsed,
    Reading,
    clean_text,
    collapse,
)

MAX_LINE = 4096
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SEPARATORS = re.compile(r"[,;#\s]")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def live(indicators: Iterable[Indicator], now: float) -> list[Indicator]:
    """The indicators still valid at `now`, none inside another, in address order."""
    return collapse(i for i in indicators if i.valid_until > now)[0]


def header(kept: list[Indicator], now: float, title: str) -> list[str]:
    """Comment lines (without the comment mark) that say what a file holds and until when."""

    def names(values: Iterable[str]) -> str:
        found = sorted(set(values) - {""})
        shown = ", ".join(clean_text(v, 60, ascii_only=True) for v in found[:10])
        return (shown + (", ..." if len(found) > 10 else "")) or "none"

    lines = [
        f"seawall {title}",
        f"generated: {_iso(now)}",
        f"incidents: {names(i.incident for i in kept)}",
        f"provenance: {names(i.source for i in kept)}",
        f"entries: {len(kept)}",
    ]
    if kept:
        first, last = min(i.valid_until for i in kept), max(i.valid_until for i in kept)
        lines.append(f"expires: {_iso(first)}" + (f" to {_iso(last)}" if last > first else ""))
    return lines


def to_blocklist(indicators: Iterable[Indicator], now: float) -> str:
    kept = live(indicators, now)
    lines = [f"# {h}" for h in header(kept, now, "blocklist")]
    lines += [i.value for i in kept]
    return "\n".join(lines) + "\n"


def to_nginx_geo(
    indicators: Iterable[Indicator], now: float, variable: str = "seawall_blocked"
) -> str:
    """A file to `include` inside http {}: $variable is 1 for a listed client, else 0."""
    if not _NAME.fullmatch(variable):
        raise ValueError(f"{variable!r} is not an nginx variable name")
    kept = live(indicators, now)
    lines = [f"# {h}" for h in header(kept, now, "nginx geo include")]
    lines += [
        "# nginx has no expiry of its own: write this file again before it expires.",
        "# use, inside http {}:",
        "#   include /etc/nginx/seawall-blocked.conf;",
        "# and in a server or location:",
        f"#   if (${variable}) {{ return 403; }}",
        f"geo ${variable} {{",
        "    default 0;",
    ]
    lines += [f"    {i.value} 1;" for i in kept]
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_nftables(indicators: Iterable[Indicator], now: float, table: str = "seawall") -> str:
    """`table inet <table>` with sets blocked4 and blocked6; each entry times out itself."""
    if not _NAME.fullmatch(table):
        raise ValueError(f"{table!r} is not an nftables table name")
    kept = live(indicators, now)
    lines = [f"# {h}" for h in header(kept, now, "nftables sets")]
    lines += [
        "# load with `nft -f FILE`; then drop the listed clients with, for instance:",
        f"#   nft add chain inet {table} input '{{ type filter hook input priority -10; }}'",
        f"#   nft add rule inet {table} input ip saddr @blocked4 drop",
        f"#   nft add rule inet {table} input ip6 saddr @blocked6 drop",
        "# this drops every client in these networks, verified or not; the edge's own rules",
        "# (POST /v1/intel) spare api_app, gateway and user clients.",
        f"table inet {table} {{",
    ]
    for name, family, v6 in (("blocked4", "ipv4_addr", False), ("blocked6", "ipv6_addr", True)):
        lines += [f"    set {name} {{", f"        type {family}", "        flags interval, timeout"]
        elements = [
            f"{i.value} timeout {max(1, int(i.valid_until - now))}s" for i in kept if i.v6 == v6
        ]
        if elements:
            lines.append("        elements = {")
            lines += [f"            {e}," for e in elements[:-1]] + [f"            {elements[-1]}"]
            lines.append("        }")
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def parse_list(
    data: bytes | str, where: str, now: float, reading: Reading = DEFAULT_READING
) -> Parsed:
    """The addresses of a plain list; bad lines are counted and named, never fatal."""
    if len(data) > reading.max_bytes:
        raise IntelError(where, f"is {len(data)} bytes; at most {reading.max_bytes} are read")
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    out = Collector(reading.bounds)
    fields = {
        "valid_from": now,
        "valid_until": now + reading.ttl,
        "confidence": reading.confidence,
        "source": clean_text(reading.source or PurePath(where).name or "list", 100),
    }
    # only "\n" ends a line, so numbers match what an editor shows (\r\n is tolerated)
    for n, raw in enumerate(text.removeprefix("\ufeff").split("\n"), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if len(line) > MAX_LINE:
            out.skip("not_an_address", f"{where}:{n}: a line longer than {MAX_LINE} characters")
            continue
        address, comment = _split(line)
        out.add(address, f"{where}:{n}", description=clean_text(comment, 200), **fields)
    return out.result()


def _split(line: str) -> tuple[str, str]:
    """('1.2.3.0/24', 'SBL123') from '1.2.3.0/24 ; SBL123', '"1.2.3.4",x' and the like."""
    m = _SEPARATORS.search(line)
    address, rest = (line[: m.start()], line[m.end() :]) if m else (line, "")
    return address.strip().strip("\"'"), rest.strip(" \t,;#\"'")
