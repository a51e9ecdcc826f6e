"""Access log formats: the column batch they parse into, their registry by name, detection.

A format parses a whole chunk of lines at once with polars string kernels, so a line costs
a few hundred nanoseconds; the helpers here turn the resulting frame into the Python lists
of a Batch and keep what did not parse as malformed samples.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import polars as pl

from seawall.analyze.read import is_blank

MAX_SAMPLES = 20  # malformed lines kept per batch, with their line numbers
SAMPLE_CHARS = 200
DETECT_SHARE = 0.5  # a format must parse at least this share of the sniffed lines
COLUMNS = (
    "line",
    "time",
    "client",
    "method",
    "host",
    "uri",
    "status",
    "bytes_out",
    "user_agent",
    "latency",
)
LOCAL_TIME = "%d/%b/%Y:%H:%M:%S %z"  # nginx's $time_local, Apache's %t
_PROBE = 1024  # rows looked at to guess whether a text column has few distinct values
_FEW = 64


@dataclass(frozen=True, slots=True)
class Batch:
    """One chunk's parsed lines, column-wise: row i of each column is one good line."""

    line: list[int]  # 1-based line number in its file
    time: list[float]  # epoch seconds, UTC (timezone offsets applied)
    client: list[str]  # client address text as logged (IPv6 without brackets/port)
    method: list[str]  # "" if the log has only a status (e.g. 400 with "-" request)
    host: list[str]  # lowercased, no port; "" when the format doesn't log it
    uri: list[str]  # request target as logged; absolute-form kept as logged
    status: list[int]
    bytes_out: list[int]  # 0 for "-"
    user_agent: list[str]  # "" for "-"
    latency: list[float]  # seconds, 0.0 when not logged
    extra: dict[str, list[str]]  # format-specific columns, as long as the others
    malformed: list[tuple[int, str]]  # up to MAX_SAMPLES: (line number, line cut to 200 chars)
    malformed_count: int  # non-blank lines of the chunk that did not parse

    def __len__(self) -> int:
        return len(self.line)


class LogFormat(Protocol):
    name: str  # "combined", "common", "nginx-json", "caddy", "seawall"

    def sniff(self, lines: Sequence[str]) -> float:
        """Share of these lines it parses, 0..1 (blank lines do not count)."""
        ...

    def parse(self, lines: Sequence[str], first_line: int) -> Batch:
        """Lines without line terminators; first_line is the 1-based number of lines[0]."""
        ...


@runtime_checkable
class Binds(Protocol):
    """A format whose field mapping varies by file: detect() binds it to the sniffed lines."""

    def bind(self, lines: Sequence[str]) -> LogFormat: ...


class LogFormatError(ValueError):
    """The file's format is not one we read, or the operator named an unknown format."""


FORMATS: dict[str, LogFormat] = {}
ALIASES = {"apache": "combined", "nginx": "combined"}
HELP: dict[str, str] = {}  # name -> one line for `--format` help
# JSON formats overlap (seawall's log would pass as some nginx JSON), so ties go to the
# more specific one; names registered later come after these.
_SPECIFIC_FIRST = ("seawall", "caddy", "nginx-json", "combined", "common")


def register(fmt: LogFormat, help: str, *names: str) -> None:
    """Register fmt under its name and any other names it answers to."""
    for name in (fmt.name, *names):
        FORMATS[name] = fmt
        HELP[name] = help


def known() -> str:
    names = sorted(FORMATS) + sorted(f"{a} (= {t})" for a, t in ALIASES.items())
    return ", ".join(names)


def get(name: str) -> LogFormat:
    """The format registered as name (or an alias of one); "auto" is the caller's business."""
    fmt = FORMATS.get(ALIASES.get(name, name))
    if fmt is None:
        raise LogFormatError(f"unknown log format {name!r} (the operator's); known: {known()}")
    return fmt


def detect(lines: Sequence[str]) -> LogFormat:
    """The format that parses most of these lines, at least half of them."""
    order = [n for n in _SPECIFIC_FIRST if n in FORMATS]
    order += [n for n in FORMATS if n not in order]
    best: LogFormat | None = None
    best_share = 0.0
    seen: set[int] = set()
    for name in order:
        fmt = FORMATS[name]
        if id(fmt) in seen:
            continue  # "common" is "combined" under another name
        seen.add(id(fmt))
        share = fmt.sniff(lines)
        if share > best_share:
            best, best_share = fmt, share
    if best is None or best_share < DETECT_SHARE:
        shown = f"{best.name} parsed {best_share:.0%}" if best is not None else "none parsed any"
        raise LogFormatError(
            f"the file's format is not recognised ({shown} of its first "
            f"{sum(1 for x in lines if not is_blank(x))} lines); known formats: {known()}; "
            "name one with --format if it is one of them"
        )
    return best.bind(lines) if isinstance(best, Binds) else best


# ---- helpers for the formats ------------------------------------------------------------


def chunk_frame(lines: Sequence[str], first_line: int) -> pl.DataFrame:
    """The chunk's non-blank lines as columns line (number) and text."""
    text = pl.Series("text", lines, dtype=pl.String)
    frame = pl.DataFrame(
        {"line": pl.int_range(first_line, first_line + len(text), eager=True), "text": text}
    )
    blank = text.str.contains(r"^[ \t\x0b\x0c\r]*$")  # read.BLANK
    return frame.filter(~blank) if blank.any() else frame


def share_parsed(fmt: LogFormat, lines: Sequence[str]) -> float:
    """What sniff() answers: the share of non-blank lines that parse."""
    batch = fmt.parse(lines, 1)
    total = len(batch.line) + batch.malformed_count
    return len(batch.line) / total if total else 0.0


def strings(column: pl.Series, normal: Callable[[pl.Series], pl.Series] | None = None) -> list[str]:
    """A text column as a list; repeated values share one str (less memory, often faster).
    normal, if given, maps the values (on the distinct ones only, when they are few)."""
    n = column.len()
    if n == 0:
        return []
    head = column.head(_PROBE)
    few = head.n_unique()
    if few == 1 and (column == head[0]).all():  # a comparison is cheaper than hashing
        one: list[str] = (normal(head.head(1)) if normal else head.head(1)).to_list()
        return one * n
    if few <= _FEW:
        uniq = column.unique()
        names: list[str] = (normal(uniq) if normal else uniq).to_list()
        if len(names) == 1:
            return names * n
        codes = column.cast(pl.Enum(uniq.to_list())).to_physical().to_list()
        return [names[i] for i in codes]
    values: list[str] = (normal(column) if normal else column).to_list()
    return values


def numbers(column: pl.Series) -> list[Any]:
    n = column.len()
    if n and column.min() == column.max():
        return [column[0]] * n
    values: list[Any] = column.to_list()
    return values


def scaled(expr: pl.Expr, unit: float) -> pl.Expr:
    """expr / unit, to the nearest float as Python divides: polars multiplies by 1/unit,
    which is an ulp off for a third of epoch times; whole units and the rest apart are not."""
    return (expr // unit) + (expr % unit) / unit


def epoch(expr: pl.Expr) -> pl.Expr:
    """A UTC datetime expression as float epoch seconds."""
    return scaled(expr.dt.epoch("us").cast(pl.Float64), 1e6)


def epoch_any(expr: pl.Expr) -> pl.Expr:
    """Epoch seconds from a text field: a number (s, ms, us or ns), ISO 8601, or nginx's local."""
    number = expr.cast(pl.Float64, strict=False)
    number = (
        pl.when(number > 1e17)
        .then(scaled(number, 1e9))
        .when(number > 1e14)
        .then(scaled(number, 1e6))
        .when(number > 1e11)
        .then(scaled(number, 1e3))
        .otherwise(number)
    )
    iso = epoch(expr.str.to_datetime("%+", strict=False, time_unit="us", time_zone="UTC"))
    local = epoch(expr.str.to_datetime(LOCAL_TIME, strict=False, time_unit="us"))
    return pl.coalesce(number, iso, local)


def bare_host(hosts: pl.Series) -> pl.Series:
    """Lowercased, without a port (IPv6 literals keep their brackets)."""
    return hosts.str.to_lowercase().str.replace(r"^([^:\[\]]*|\[[^\]]*\]):[0-9]*$", "${1}")


def build_batch(good: pl.DataFrame, bad: pl.DataFrame, extra: Sequence[str] = ()) -> Batch:
    """Rows of good (the COLUMNS plus extra) in line order; bad (line, text) as malformed."""
    if good.height > 1 and not good["line"].is_sorted():
        good = good.sort("line")
    samples = bad.head(MAX_SAMPLES)
    return Batch(
        line=good["line"].to_list(),
        time=good["time"].to_list(),
        client=strings(good["client"]),
        method=strings(good["method"]),
        host=strings(good["host"], bare_host),
        uri=strings(good["uri"]),
        status=numbers(good["status"]),
        bytes_out=good["bytes_out"].to_list(),
        user_agent=strings(good["user_agent"]),
        latency=numbers(good["latency"]),
        extra={name: strings(good[name]) for name in extra},
        malformed=[
            (n, t[:SAMPLE_CHARS])
            for n, t in zip(samples["line"].to_list(), samples["text"].to_list(), strict=True)
        ],
        malformed_count=bad.height,
    )


def split_valid(frame: pl.DataFrame, valid: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows where valid holds, rows where it does not or is null)."""
    mask = frame.select(valid.fill_null(False)).to_series()
    if mask.all():
        return frame, frame.clear()
    return frame.filter(mask), frame.filter(~mask)


# The formats register themselves; they import this module for Batch, so they load last.
for _module in ("seawall.analyze.textlogs", "seawall.analyze.jsonlogs"):
    importlib.import_module(_module)
