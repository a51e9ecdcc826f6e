"""nginx and Apache "combined" and "common" access logs, with or without a syslog prefix.

    %h %l %u [%d/%b/%Y:%H:%M:%S %z] "%r" %>s %b "%{Referer}i" "%{User-agent}i"

A chunk goes through a strict regex first, written so that the regex engine can capture in
one pass (no ambiguity anywhere): that covers nearly every line a server writes. Lines it
does not take go through a lenient one: syslog prefixes (RFC 3164 and 5424), Apache's
vhost_combined (`host:port ` in front), escaped quotes, and request lines that are not
`METHOD target HTTP/x` (nginx logs 400s with "-" or the raw junk a scanner sent). Fields
after the user agent (nginx's "main" adds X-Forwarded-For) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from seawall.analyze.formats import (
    Batch,
    build_batch,
    chunk_frame,
    epoch,
    register,
    share_parsed,
    split_valid,
)

_Q = r'(?:[^"\\]|\\.)*'  # a quoted field's text: nginx writes " as \x22, Apache as \"
FAST = (
    r"^(?P<client>[^ ]+) [^ ]+ [^ ]+ \[(?P<date>[^\]]*)\] "
    r'"(?P<method>[A-Z]+) (?P<uri>[^ "\\]+) HTTP/[0-9.]+" '
    r"(?P<status>[0-9]{3}) (?P<bytes>[0-9]{1,18}|-)"
    rf'(?: "{_Q}" "(?P<ua>{_Q})"(?: .*)?)?$'
)
_SYSLOG = (
    # RFC 5424: <PRI>VERSION TIMESTAMP HOST APP PROCID MSGID STRUCTURED-DATA [BOM]
    r"<[0-9]{1,3}>[0-9]{1,2} [^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ "
    r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+) \x{FEFF}?"
    # RFC 3164 (and rsyslog's ISO-stamped variant): [<PRI>]TIMESTAMP HOST TAG[PID]:
    r"|(?:<[0-9]{1,3}>)?(?:[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}T[^ ]+) [^ ]+ [^ :\[]+(?:\[[0-9]+\])?: "
)
FULL = (
    rf"^(?:{_SYSLOG})?(?:(?P<vhost>[^ :\[\]]+|\[[^\]]*\]):[0-9]+ )?"
    r"(?P<client>[^ ]+) [^ ]+ [^ ]+ \[(?P<date>[^\]]*)\] "
    rf'"(?P<request>{_Q})" (?P<status>[0-9]{{3}}) (?P<bytes>[0-9]{{1,18}}|-)'
    rf'(?: "{_Q}" "(?P<ua>{_Q})")?(?: .*)?$'
)
# a whole file behind syslog or vhost_combined would be slow through FULL: the prefix goes
# first, then the strict regexes again (both one-pass); only for many lines, as each pass
# costs a millisecond or two
STRIP = rf"^(?:{_SYSLOG})"
FAST_VHOST = r"^(?P<vhost>[^ :\[\]]+|\[[^\]]*\]):[0-9]+ " + FAST[1:]
BULK = 1024
REQUEST = r"^(?P<method>[A-Z][A-Z0-9_-]{0,31}) (?P<uri>.+?)(?: HTTP/[0-9]+(?:\.[0-9]+)?)?$"
DATE = "%d/%b/%Y:%H:%M:%S %z"
EXTRA = ("request",)  # the raw request line when it is not METHOD target [HTTP/x], else ""

_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[\"\\nrt])")
_SIMPLE = {b'"': b'"', b"\\": b"\\", b"n": b"\n", b"r": b"\r", b"t": b"\t"}


def unescape(text: str) -> str:
    """A quoted field as the client sent it: nginx's \\xHH bytes, Apache's \\" and \\\\."""

    def one(m: re.Match[bytes]) -> bytes:
        code = m.group(1)
        return bytes([int(code[1:], 16)]) if code[:1] == b"x" else _SIMPLE[code]

    return _ESCAPE.sub(one, text.encode("utf-8", "surrogatepass")).decode("utf-8", "replace")


def _finish(frame: pl.LazyFrame, zones: bool = False) -> pl.LazyFrame:
    """Typed columns from the captured text; a bad date or number leaves a null."""
    date = pl.col("date")
    time = date.str.to_datetime(DATE, strict=False, time_unit="us")
    if zones:  # some servers write a zone name: [24/Mar/2013:08:58:32 GMT]
        named = date.str.replace(r" (?:GMT|UTC|Z)$", " +0000")
        time = pl.coalesce(time, named.str.to_datetime(DATE, strict=False, time_unit="us"))
    ua = pl.col("ua").fill_null("")
    return frame.select(
        "line",
        "text",
        epoch(time).alias("time"),
        "client",
        pl.col("method").fill_null(""),
        pl.col("vhost").fill_null("").alias("host"),
        pl.col("uri").fill_null(""),
        pl.col("status").cast(pl.Int64, strict=False),
        pl.when(pl.col("bytes") == "-")
        .then(pl.lit(0, pl.Int64))
        .otherwise(pl.col("bytes").cast(pl.Int64, strict=False))
        .alias("bytes_out"),
        pl.when(ua == "-").then(pl.lit("")).otherwise(ua).alias("user_agent"),
        pl.lit(0.0).alias("latency"),
        pl.col("request").fill_null(""),
    )


_VALID = (
    pl.col("client").is_not_null()
    & pl.col("time").is_not_null()
    & pl.col("status").is_not_null()
    & pl.col("bytes_out").is_not_null()
)


def _strict(frame: pl.DataFrame, regex: str, strip: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows the strict regex takes, the other lines)."""
    text = pl.col("text").str.replace(STRIP, "") if strip else pl.col("text")
    parsed = frame.lazy().with_columns(text.str.extract_groups(regex).alias("g")).unnest("g")
    if "vhost" not in regex:
        parsed = parsed.with_columns(vhost=pl.lit(None, pl.String))
    rows = _finish(parsed.with_columns(request=pl.lit(None, pl.String))).collect()
    ok = rows.select(_VALID.fill_null(False)).to_series()
    if ok.all():
        return rows, frame.clear()
    return rows.filter(ok), frame.filter(~ok)


def _lenient(frame: pl.DataFrame) -> pl.DataFrame:
    request = pl.col("request").str.extract_groups(REQUEST).alias("r")
    parsed = (
        frame.lazy()
        .with_columns(pl.col("text").str.extract_groups(FULL).alias("g"))
        .unnest("g")
        .with_columns(request)
        .unnest("r")
        # keep the raw request line only when it did not split
        .with_columns(request=pl.when(pl.col("method").is_null()).then(pl.col("request")))
    )
    return _finish(parsed, zones=True).collect()


def _unescape_agents(good: pl.DataFrame) -> pl.DataFrame:
    """Escaped user agents decoded, each distinct one once (a flood repeats its own)."""
    agents = good["user_agent"]
    escaped = agents.filter(agents.str.contains("\\", literal=True)).unique().to_list()
    if not escaped:
        return good
    return good.with_columns(agents.replace(escaped, [unescape(x) for x in escaped]))


class CombinedFormat:
    """nginx/Apache combined; common (no referer, no user agent) parses as well."""

    name = "combined"

    def sniff(self, lines: Sequence[str]) -> float:
        return share_parsed(self, lines)

    def parse(self, lines: Sequence[str], first_line: int) -> Batch:
        good, rest = _strict(chunk_frame(lines, first_line), FAST, strip=False)
        parts = [good]
        for regex in (FAST, FAST_VHOST) if rest.height >= BULK else ():
            more, rest = _strict(rest, regex, strip=True)
            parts.append(more)
        bad = rest
        if rest.height:  # and lines whose date the strict regex could not read
            more, bad = split_valid(_lenient(rest), _VALID)
            parts.append(more)
        good = pl.concat(parts) if len(parts) > 1 else good
        return build_batch(_unescape_agents(good), bad.select("line", "text"), EXTRA)


COMBINED = CombinedFormat()
register(
    COMBINED,
    'nginx/Apache access log: combined or common, also behind a syslog prefix or "host:port "',
    "common",
)
