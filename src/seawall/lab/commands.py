"""What `seawall lab list|run|compare` and `seawall demo` do, behind the click wiring."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvloop
from rich.console import Console
from rich.live import Live

from seawall.lab.chart import Phase, render_svg, write_chart
from seawall.lab.nginx import NginxError
from seawall.lab.present import (
    accounts_table,
    class_table,
    compare_table,
    live_table,
    markdown_report,
)
from seawall.lab.procs import LabSetupError
from seawall.lab.runner import LiveView, RunOptions, run
from seawall.lab.scenarios import SCENARIOS, get_scenario
from seawall.lab.scorecard import validate_scorecard

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def list_command() -> None:
    console = Console()
    for s in SCENARIOS.values():
        console.print(f"[bold]{s.name}[/bold] ({s.full_duration_s:.0f} s): {s.description}")


def _write(card: dict[str, Any], out_dir: Path, json_path: Path | None) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{card['scenario']}-{card['protection']}"
    path = json_path or out_dir / f"{stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    phases = [Phase(p["name"], p["start_s"], p["end_s"]) for p in card["phases"]]
    chart = write_chart(out_dir / f"{stem}.svg", render_svg(card, phases))
    report = out_dir / f"{stem}.md"
    report.write_text(markdown_report(card, chart.name), encoding="utf-8")
    return path, chart


async def _one(opts: RunOptions, console: Console) -> dict[str, Any]:
    view = LiveView()
    with Live(
        live_table(view, opts.scenario, opts.protection, opts.duration_s),
        console=console,
        refresh_per_second=2,
        transient=True,
    ) as live:

        def tick(v: LiveView) -> None:
            live.update(live_table(v, opts.scenario, opts.protection, opts.duration_s))

        def ready(capacity: float) -> None:
            console.print(
                f"{opts.scenario.name} under {opts.protection}: origin capacity "
                f"measured at {capacity:.0f} requests/s"
            )

        return await run(opts, on_tick=tick, on_ready=ready)


def run_command(
    name: str,
    protections: Sequence[str],
    duration: float | None,
    seed: int,
    out_dir: Path,
    json_path: Path | None = None,
) -> int:
    """Runs `name` under each protection in turn; prints tables; writes JSON and charts."""
    console = Console()
    try:
        scenario = get_scenario(name)
        runs = [
            RunOptions(scenario, p, duration or scenario.full_duration_s, seed) for p in protections
        ]
    except ValueError as exc:
        Console(stderr=True).print(f"seawall lab: {exc}")
        return EXIT_USAGE
    cards, status = [], EXIT_OK
    for opts in runs:
        try:
            card = uvloop.run(_one(opts, console))
        except (LabSetupError, NginxError) as exc:
            Console(stderr=True).print(f"seawall lab: {opts.protection}: {exc}")
            status = EXIT_FAILED
            continue
        cards.append(card)
        console.print(class_table(card))
        if "accounts" in card:
            console.print(accounts_table(card))
        path, chart = _write(card, out_dir, json_path if len(runs) == 1 else None)
        console.print(f"scorecard: {path}  chart: {chart}  report: {chart.with_suffix('.md')}")
        problems = validate_scorecard(card) + [f"traffic process: {e}" for e in card["errors"]]
        if problems:
            Console(stderr=True).print("scorecard problems:\n  " + "\n  ".join(problems))
            status = EXIT_FAILED
    if len(cards) > 1:
        console.print(compare_table(cards))
    return status


if __name__ == "__main__":  # lets `python -m seawall.lab.commands` run a scenario in tests
    sys.exit(run_command(sys.argv[1], sys.argv[2].split(","), float(sys.argv[3]), 7, Path(".")))
