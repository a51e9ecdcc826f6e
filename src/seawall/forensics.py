"""Wiring for `seawall analyze` and `seawall report`: logs or the store in, reports out.

Analysis and reports live in packages that never import each other (`analyze/`,
`report/`); this module joins them for the command line, as cli.py does for the rest.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import maxminddb
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from seawall.analyze.facts import FactsMaker
from seawall.analyze.formats import LogFormatError
from seawall.analyze.replay import Replay, ReplaySettings
from seawall.analyze.run import AnalyzeOptions, analyze
from seawall.analyze.whatif import WhatIf, load_candidates
from seawall.config.build import build_routes
from seawall.config.detection import StoreConfig
from seawall.config.engine import engine_settings
from seawall.config.load import load_config
from seawall.config.schema import Config
from seawall.core.errors import ConfigError
from seawall.core.routes import Router
from seawall.geo.lookup import GeoDataError, GeoDb, open_geo
from seawall.report.json import incident_report
from seawall.report.model import IncidentDataError
from seawall.report.render import FORMATS, render
from seawall.store.incidents import IncidentStore

SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json"}
SHOWN = 5  # incidents printed in full on the terminal; the rest are listed


class UsageError(Exception):
    """The operator's mistake on the command line: the message says what to change."""


@dataclass(frozen=True, slots=True)
class AnalyzeRequest:
    paths: tuple[str, ...]
    fmt: str = "auto"
    config: str | None = None
    report: str | None = None
    json_path: str | None = None
    since: str | None = None
    until: str | None = None
    what_if: str | None = None
    progress: bool = True


def parse_time(text: str | None, name: str) -> float | None:
    """Epoch seconds, or ISO 8601 (UTC unless it says otherwise)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--{name} {text!r}: give epoch seconds or ISO 8601, e.g. 2026-11-24T06:00:00Z"
        ) from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def geo_from(paths: tuple[str, ...]) -> GeoDb:
    """The bundled data, or the named .mmdb files sorted by their type into country (or
    city, or enterprise), ASN and network type (connection type)."""
    chosen: dict[str, Path] = {}
    for p in paths:
        try:
            with maxminddb.open_database(p) as reader:
                kind = str(reader.metadata().database_type).lower()
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise UsageError(f"--geo {p}: not a readable MaxMind DB ({exc})") from None
        role = "asn" if "asn" in kind else "network" if "connection" in kind else "country"
        if role in chosen:
            raise UsageError(f"--geo {p}: a second {role} database ({chosen[role]} is one)")
        chosen[role] = Path(p)
    try:
        return open_geo(chosen.get("country"), chosen.get("asn"), chosen.get("network"))
    except GeoDataError as exc:
        raise UsageError(f"--geo: {exc}") from None


def _config(path: str | None) -> Config | None:
    return None if path is None else load_config(path)


def build_replay(req: AnalyzeRequest) -> tuple[Replay, WhatIf | None]:
    cfg = _config(req.config)
    settings = ReplaySettings(
        since=parse_time(req.since, "since"), until=parse_time(req.until, "until")
    )
    if cfg is not None:
        settings = ReplaySettings(engine_settings(cfg), since=settings.since, until=settings.until)
    maker = FactsMaker(Router(build_routes(cfg)) if cfg is not None else None)
    replay = Replay(settings, maker)
    whatif = None
    if req.what_if is not None:
        whatif = WhatIf(load_candidates(req.what_if), replay.decider)
        replay.observers = (whatif,)
    return replay, whatif


def run_analyze(req: AnalyzeRequest, console: Console, geo: GeoDb) -> dict[str, Any]:
    """The whole `seawall analyze`: the summary it prints and writes. One `geo` serves the
    JSON, the reports and the terminal, so its cache is warm after the first."""
    for p in req.paths:
        if p != "-" and not Path(p).is_file():
            raise UsageError(f"{p}: no such file")
    replay, whatif = build_replay(req)
    with _progress(console, req.progress) as tick:
        summary = analyze(AnalyzeOptions(req.paths, req.fmt), replay, tick)
    summary["incidents"] = [incident_report(inc, geo) for inc in summary["incidents"]]
    summary["geo"] = geo.source
    if whatif is not None:
        summary["what_if"] = whatif.report()
    if req.json_path:
        Path(req.json_path).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if req.report:
        summary["reports"] = write_reports(summary, req.report, geo)
    return summary


def write_reports(summary: dict[str, Any], target: str, geo: GeoDb) -> list[str]:
    """One report per incident: `target` itself for one, `name-<id>.ext` for several."""
    path = Path(target)
    fmt = SUFFIX_FORMATS.get(path.suffix.lower(), "text")
    incidents = summary["incidents"]
    header = {k: summary[k] for k in ("lines", "malformed", "lines_per_s")}
    header["files"] = [
        f"{f['path']} ({f['format']}, {f['lines']:,} lines"
        + (f", damaged: {f['corrupt']}" if f["corrupt"] else "")
        + ")"
        for f in summary["files"]
    ]
    written = []
    for inc in incidents:
        out = (
            path if len(incidents) == 1 else path.with_name(f"{path.stem}-{inc['id']}{path.suffix}")
        )
        out.write_text(render(inc, fmt, geo, header), encoding="utf-8")
        written.append(str(out))
    return written


class _progress:
    """A rich progress bar on stderr (bytes read, lines/s) when it is a terminal."""

    def __init__(self, console: Console, wanted: bool) -> None:
        self.on = wanted and console.is_terminal
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[lines]:,} lines  {task.fields[rate]:,.0f} lines/s"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Callable[[str, int, int, int], None] | None:
        if not self.on:
            return None
        self.bar.start()
        return self.update

    def update(self, path: str, done: int, total: int, lines: int) -> None:
        task = self.tasks.get(path)
        if task is None:
            task = self.tasks[path] = self.bar.add_task(
                Path(path).name, total=total or None, lines=0, rate=0.0
            )
        elapsed = self.bar.tasks[task].elapsed or 1e-9
        self.bar.update(task, completed=done, lines=lines, rate=lines / elapsed)

    def __exit__(self, *exc: object) -> None:
        if self.on:
            self.bar.stop()


def print_summary(summary: Mapping[str, Any], console: Console, geo: GeoDb) -> None:
    c = console
    c.print(
        f"[bold]{summary['lines']:,}[/] lines, {summary['malformed']:,} malformed, "
        f"{summary['lines_per_s']:,} lines/s ({summary['seconds']} s)",
        highlight=False,
    )
    for f in summary["files"]:
        note = f"  corrupt: {f['corrupt']}" if f["corrupt"] else ""
        c.print(
            f"  {f['path']}: {f['format']}, {f['lines']:,} lines{note}",
            highlight=False,
            markup=False,
        )
    for s in summary["malformed_samples"][:5]:
        c.print(
            f"  malformed {s['file']}:{s['line']}: {s['text']!r}", highlight=False, markup=False
        )
    incidents = summary["incidents"]
    major = sorted((i for i in incidents if is_major(i)), key=_size, reverse=True)[:SHOWN]
    c.print(
        f"[bold]{len(incidents)}[/] incident(s); in full: floods and probing of {SIZEABLE:,}+"
        " requests",
        highlight=False,
    )
    for inc in major:
        c.out(render(inc, "text", geo), highlight=False)
    for inc in incidents:
        if inc not in major:
            c.print(
                f"  {inc['id']}: {', '.join(inc['vectors'])}, {inc['attack_requests']:,} requests"
                f" from ~{inc['sources']['addresses']:,} addresses",
                markup=False,
                highlight=False,
            )
    if "what_if" in summary:
        _print_whatif(summary["what_if"], c)
    for path in summary.get("reports", []):
        c.print(f"report: {path}", highlight=False, markup=False)


PROBES = frozenset({"scanner", "low_and_slow"})
SIZEABLE = 1000  # attack requests that make a probe worth a full report


def is_major(incident: Mapping[str, Any]) -> bool:
    """A flood of any size, or probing big enough to read about; other probes get a line."""
    vectors = set(incident.get("vectors", ()))
    return bool(vectors - PROBES) or int(incident.get("attack_requests", 0)) >= SIZEABLE


def _size(incident: Mapping[str, Any]) -> int:
    return int(incident.get("attack_requests", 0))


def _print_whatif(w: Mapping[str, Any], c: Console) -> None:
    from rich.table import Table  # noqa: PLC0415

    t = Table(
        title=f"what-if: {w['attack_requests']:,} attack requests, {w['other_requests']:,} others"
    )
    for col in ("rule", "action", "caught", "collateral", "by class", "addresses hit"):
        t.add_column(col)
    for r in w["rules"]:
        caught = "-" if r["caught_share"] is None else f"{r['caught_share']:.1%}"
        by_class = ", ".join(f"{k} {v:.2%}" for k, v in r["collateral_by_class"].items())
        t.add_row(
            r["rule"],
            r["action"],
            caught,
            "-" if r["collateral_share"] is None else f"{r['collateral_share']:.3%}",
            by_class or "-",
            f"{r['collateral_addresses']:,}",
        )
    c.print(t)


def report_incident(
    incident_id: str,
    fmt: str,
    store: str | None,
    config: str | None,
    source: str | None,
    geo: GeoDb,
) -> str:
    """A stored incident (the edge's store, or an analyze --json file) rendered in `fmt`."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    incident = _find(incident_id, store, config, source)
    return render(incident, fmt, geo)


def _find(
    incident_id: str, store: str | None, config: str | None, source: str | None
) -> dict[str, Any]:
    if source is not None:
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--from {source}: cannot read it as JSON ({exc})") from None
        found = data.get("incidents", [data]) if isinstance(data, dict) else data
        for inc in found if isinstance(found, list) else []:
            if isinstance(inc, dict) and inc.get("id") == incident_id:
                return inc
        raise UsageError(f"{source} has no incident {incident_id!r}")
    path = store
    if path is None:  # the edge's own default when no config says otherwise
        cfg = _config(config)
        path = cfg.store.path if cfg is not None else StoreConfig().path
    if not path:
        raise UsageError("the store is in memory only: name one with --store PATH")
    if not Path(path).is_file():
        raise UsageError(f"store {path}: no such file (has the edge run with this store?)")
    held = IncidentStore(path)
    try:
        got = held.get(incident_id)
        if got is None:
            recent = ", ".join(i["id"] for i in held.list(10)) or "none"
            raise UsageError(f"store {path} has no incident {incident_id!r}; recent: {recent}")
        return got
    finally:
        held.close()


ERRORS = (UsageError, ConfigError, LogFormatError, IncidentDataError, OSError)


def fail(exc: BaseException) -> None:
    kind = "configuration error" if isinstance(exc, ConfigError) else "error"
    print(f"seawall: {kind}: {exc}", file=sys.stderr)
    sys.exit(2)
