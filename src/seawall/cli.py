"""The `seawall` command: wiring only."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from seawall import __version__
from seawall.accounts.commands import accounts
from seawall.core.errors import ConfigError
from seawall.intel.commands import intel


def _fail(err: ConfigError, path: str | None) -> None:
    where = f" in {path}" if path else ""
    click.echo(f"seawall: configuration error{where}: {err}", err=True)
    sys.exit(2)


def _load(path: str | None, overrides: dict[str, Any]) -> Any:
    from seawall.config import load_config  # noqa: PLC0415  (keep `--help` fast)

    try:
        return load_config(path, overrides)
    except ConfigError as err:
        _fail(err, path)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="seawall")
def main() -> None:
    """seawall keeps a web platform online, and its users safe, while it is under attack.

    \b
    Start here:
      seawall demo                         see it work in front of a built-in origin
      seawall edge --origin http://127.0.0.1:8000 --listen 0.0.0.0:8080
      seawall config check seawall.toml    validate a configuration file
      seawall config reference             every option, with its default and meaning
    """


@main.command()
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="TOML file.")
@click.option("--listen", multiple=True, help="host:port to accept clients on (repeatable).")
@click.option(
    "--origin", multiple=True, help="Origin URL such as http://127.0.0.1:8000 (repeatable)."
)
@click.option("--workers", type=int, help="Worker processes (SO_REUSEPORT).")
@click.option("--admin", "admin_listen", help="Admin API host:port ('' turns it off).")
@click.option(
    "--admin-token",
    envvar="SEAWALL_ADMIN_TOKEN",
    help="Admin bearer token [env SEAWALL_ADMIN_TOKEN].",
)
@click.option("--access-log", help="Access log path, '-' for stdout, '' for none.")
@click.option("--trust", multiple=True, help="CIDR of a proxy whose X-Forwarded-For is believed.")
def edge(config_path: str | None, **flags: Any) -> None:
    """Run the edge: a reverse proxy that decides allow, throttle, challenge or block per request.

    Flags override the file. Example:

    \b
      seawall edge --listen 0.0.0.0:8080 --origin http://127.0.0.1:8000
    """
    overrides = _overrides(config_path, flags)
    cfg = _load(config_path, overrides)
    if not cfg.origins:
        _fail(ConfigError("origins", "at least one origin is needed (--origin URL)"), config_path)
    logging.basicConfig(
        level=cfg.log.level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from seawall.accounts.service import AccountService  # noqa: PLC0415
    from seawall.edge.run import run_edge  # noqa: PLC0415

    try:
        run_edge(cfg, AccountService)
    except ConfigError as err:
        _fail(err, config_path)
    except OSError as err:
        click.echo(f"seawall: cannot start the edge: {err}", err=True)
        sys.exit(1)


def _overrides(path: str | None, flags: dict[str, Any]) -> dict[str, Any]:
    """CLI flags as config fragments, merged over the file's sections."""
    import tomllib  # noqa: PLC0415

    base: dict[str, Any] = {}
    if path:
        try:
            base = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            base = {}  # load_config reports the real problem
    out: dict[str, Any] = {}
    listen, origin, trust = flags["listen"], flags["origin"], flags["trust"]
    workers, access_log = flags["workers"], flags["access_log"]
    admin_listen, admin_token = flags["admin_listen"], flags["admin_token"]
    if listen:
        out["listeners"] = [{"address": a} for a in listen]
    if origin:
        out["origins"] = [{"url": u} for u in origin]
    if workers is not None:
        out["workers"] = workers
    admin = dict(base.get("admin", {}))
    if admin_listen is not None:
        admin["listen"] = admin_listen
    if admin_token is not None:
        admin["token"] = admin_token
    if admin:
        out["admin"] = admin
    if access_log is not None:
        out["log"] = {**base.get("log", {}), "access_log": access_log}
    if trust:
        out["network"] = {**base.get("network", {}), "trusted_proxies": list(trust)}
    return out


@main.group()
def config() -> None:
    """Check configuration files and read the reference."""


@config.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def config_check(path: str) -> None:
    """Validate PATH; print the effective configuration as JSON; exit 2 on an error."""
    cfg = _load(path, {})
    from seawall.config.identity import build_classifier  # noqa: PLC0415
    from seawall.core.routes import Router, RouteSpec  # noqa: PLC0415
    from seawall.edge.run import preflight  # noqa: PLC0415
    from seawall.edge.tls import server_context  # noqa: PLC0415

    try:  # deeper checks than the schema: files, keys, certificates, route templates
        build_classifier(cfg)
        preflight(cfg)
        Router([RouteSpec(r.name, r.pattern, r.target) for r in cfg.routes])
        for i, listener in enumerate(cfg.listeners):
            server_context(listener, i)
    except ConfigError as err:
        _fail(err, path)
    click.echo(json.dumps(cfg.model_dump(mode="json"), indent=2))
    click.echo(f"{path}: OK", err=True)


@config.command("reference")
def config_reference() -> None:
    """Print the configuration reference (Markdown), generated from the schema."""
    from seawall.config.docs import reference_markdown  # noqa: PLC0415

    click.echo(reference_markdown(), nl=False)


@main.command()
@click.option("--duration", type=float, default=30.0, show_default=True, help="Seconds to run.")
@click.option(
    "--out",
    "out_dir",
    default="seawall-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the scorecard and chart go.",
)
def demo(duration: float, out_dir: str) -> None:
    """Replay the 2009 attack (cyxymu-2009) on loopback, seawall in front; show the scorecard."""
    from seawall.lab.commands import run_command  # noqa: PLC0415

    sys.exit(run_command("cyxymu-2009", ("seawall",), duration, 7, Path(out_dir)))


@main.group()
def lab() -> None:
    """Replay real attacks on loopback against a demo platform, and score the protection."""


@lab.command("list")
def lab_list() -> None:
    """The scenarios, with one line each."""
    from seawall.lab.commands import list_command  # noqa: PLC0415

    list_command()


_PROTECTION = click.Choice(["seawall", "none", "nginx"])
_SEED = click.option(
    "--seed", type=int, default=7, show_default=True, help="Seeds every random choice."
)
_OUT_DIR = click.option(
    "--out",
    "out_dir",
    default="seawall-lab",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where scorecards and charts go.",
)


@lab.command("run")
@click.argument("scenario")
@click.option("--protection", type=_PROTECTION, default="seawall", show_default=True)
@click.option("--duration", type=float, help="Seconds (default: the scenario's full length).")
@_SEED
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the scorecard.")
@_OUT_DIR
def lab_run(
    scenario: str,
    protection: str,
    duration: float | None,
    seed: int,
    json_path: str | None,
    out_dir: str,
) -> None:
    """Run SCENARIO once under one protection and print its scorecard."""
    from seawall.lab.commands import run_command  # noqa: PLC0415

    sys.exit(
        run_command(
            scenario,
            (protection,),
            duration,
            seed,
            Path(out_dir),
            Path(json_path) if json_path else None,
        )
    )


@lab.command("compare")
@click.argument("scenario")
@click.option("--duration", type=float, help="Seconds per run (default: the full length).")
@_SEED
@click.option(
    "--protections",
    default="none,nginx,seawall",
    show_default=True,
    help="Comma-separated, run in this order.",
)
@_OUT_DIR
def lab_compare(
    scenario: str, duration: float | None, seed: int, protections: str, out_dir: str
) -> None:
    """Run SCENARIO under none, nginx and seawall in turn; print them side by side."""
    from seawall.lab.commands import run_command  # noqa: PLC0415

    chosen = tuple(p.strip() for p in protections.split(",") if p.strip())
    bad = [p for p in chosen if p not in ("none", "nginx", "seawall")]
    if bad or not chosen:
        raise click.BadParameter(f"unknown protections {bad}; choose from none, nginx, seawall")
    sys.exit(run_command(scenario, chosen, duration, seed, Path(out_dir)))


_GEO = click.option(
    "--geo",
    "geo",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="MaxMind/DB-IP .mmdb (country or ASN; repeat for both). Default: the bundled data.",
)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    help="auto, combined, common, apache, nginx, nginx-json, caddy or seawall.",
)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML file (routes, detection settings).",
)
@_GEO
@click.option("--report", "report_path", help="Write the report: .html, .md, .json, else text.")
@click.option("--json", "json_path", help="Write the summary and incidents as JSON.")
@click.option("--since", help="Only lines from this time (epoch or ISO 8601).")
@click.option("--until", help="Only lines up to this time (epoch or ISO 8601).")
@click.option(
    "--what-if",
    "what_if",
    type=click.Path(dir_okay=False, exists=True),
    help="TOML of candidate [[rules]]: what they would have caught and cost.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def analyze(
    paths: tuple[str, ...],
    fmt: str,
    config_path: str | None,
    geo: tuple[str, ...],
    report_path: str | None,
    json_path: str | None,
    since: str | None,
    until: str | None,
    what_if: str | None,
    no_progress: bool,
) -> None:
    """Find attacks in access logs (plain or gzip) with the same engine the edge runs.

    \b
    seawall analyze /var/log/nginx/access.log.1 /var/log/nginx/access.log.2.gz \\
        --report incident.html --json analysis.json
    """
    from rich.console import Console  # noqa: PLC0415

    from seawall import forensics as fx  # noqa: PLC0415

    req = fx.AnalyzeRequest(
        paths, fmt, config_path, report_path, json_path, since, until, what_if, not no_progress
    )
    out, err = Console(), Console(stderr=True)
    try:
        db = fx.geo_from(geo)
        summary = fx.run_analyze(req, err, db)
        fx.print_summary(summary, out, db)
    except fx.ERRORS as exc:
        fx.fail(exc)


@main.command()
@click.argument("incident_id")
@click.option(
    "--format", "fmt", default="text", show_default=True, help="text, markdown, html or json."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file.")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="The edge's TOML file (for its [store] path).",
)
@click.option("--store", type=click.Path(dir_okay=False), help="The edge's SQLite store.")
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, exists=True),
    help="An incident JSON, or the output of analyze --json.",
)
@_GEO
def report(
    incident_id: str,
    fmt: str,
    output: str | None,
    config_path: str | None,
    store: str | None,
    source: str | None,
    geo: tuple[str, ...],
) -> None:
    """Render a stored incident: timeline, signatures, actions, sources and attribution."""
    from seawall import forensics as fx  # noqa: PLC0415

    try:
        text = fx.report_incident(incident_id, fmt, store, config_path, source, fx.geo_from(geo))
    except fx.ERRORS as exc:
        fx.fail(exc)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"report: {output}", err=True)
    else:
        click.echo(text, nl=False)


main.add_command(intel)
main.add_command(accounts)


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"seawall {__version__}")


if __name__ == "__main__":
    main()
