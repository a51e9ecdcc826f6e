"""`seawall intel import|export`: the command-line wiring of indicator sharing.

This file is CLI wiring, like cli.py: besides `core` and `intel` it reads the operator's
configuration (`seawall.config`) and the incident store (`seawall.store`). The layering
test allows that for this one file; the rest of `intel` stays importable by the edge.
Heavy imports wait until a command runs, so `seawall --help` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_ADMIN = "http://127.0.0.1:9901"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_REPORT_BYTES = 256 * 1024 * 1024  # `seawall analyze --json` of many incidents
POST_TIMEOUT_S = 120.0
_MEDIA = {"stix": "application/stix+json", "list": "text/plain; charset=utf-8"}
_ACTIONS = click.Choice(["block", "challenge", "throttle"])


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"seawall intel: {message}", err=True)
    sys.exit(code)


def _read(path: str, limit: int) -> bytes:
    """A file's bytes ('-': standard input), refused beyond `limit`."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(path).open("rb") as f:
                data = f.read(limit + 1)
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    if len(data) > limit:
        _fail(f"{path} is larger than {limit} bytes; split it")
    return data


@click.group()
def intel() -> None:
    """Share attack indicators: an incident's out (STIX 2.1, blocklist, nginx, nftables),
    a peer's in (STIX 2.1 or a plain list) as rules for anonymous clients only."""


@intel.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "stix", "list"]),
    default="auto",
    show_default=True,
)
@click.option("--action", type=_ACTIONS, default="block", show_default=True)
@click.option(
    "--ttl",
    type=click.FloatRange(min=1, max=30 * 86400),
    default=86400.0,
    show_default=True,
    help="Longest a rule lives; the validity of entries that state none.",
)
@click.option("--source", default="", help="Provenance tag (default: the STIX creator or file).")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="TOML file.")
@click.option(
    "--admin", "admin_url", help=f"Admin API URL [default: [admin] listen or {DEFAULT_ADMIN}]."
)
@click.option(
    "--token", envvar="SEAWALL_ADMIN_TOKEN", help="Admin token [env SEAWALL_ADMIN_TOKEN]."
)
@click.option("--dry-run", is_flag=True, help="Read and summarise; change nothing.")
def import_command(
    file: str,
    fmt: str,
    action: str,
    ttl: float,
    source: str,
    config_path: str | None,
    admin_url: str | None,
    token: str | None,
    dry_run: bool,
) -> None:
    """Read FILE and send its indicators to the running edge (POST /v1/intel)."""
    from seawall.intel.feed import sniff  # noqa: PLC0415
    from seawall.intel.indicators import to_rules  # noqa: PLC0415

    data = _read(file, MAX_FILE_BYTES)
    where = "standard input" if file == "-" else file
    chosen = sniff(data) if fmt == "auto" else fmt
    tag = source or (PurePath(where).name if chosen == "list" else "")
    now = time.time()
    parsed = _parse(data, where, now, chosen, ttl, tag)
    batch = to_rules(parsed.indicators, now, time.monotonic(), action, ttl)
    _summary(where, chosen, parsed, [r.id for r in batch.rules], batch.expired, dry_run)
    if dry_run:
        return
    url, secret = _admin(config_path, admin_url, token)
    from urllib.parse import urlencode  # noqa: PLC0415

    query = {"action": action, "ttl": repr(ttl)} | ({"source": tag} if tag else {})
    answer = _post(f"{url.rstrip('/')}/v1/intel?{urlencode(query)}", secret, data, chosen)
    click.echo(
        f"applied: {len(answer.get('rules', []))} rules holding "
        f"{answer.get('indicators', 0)} indicators; skipped {answer.get('skipped', {})}"
    )
    for rule_id in answer.get("rules", []):
        click.echo(f"  {rule_id}")


def _parse(data: bytes, file: str, now: float, fmt: str, ttl: float, tag: str) -> Any:
    from seawall.intel.feed import parse_feed  # noqa: PLC0415
    from seawall.intel.indicators import IntelError, Reading  # noqa: PLC0415

    try:
        return parse_feed(data, file, now, fmt, Reading(ttl=ttl, source=tag))[1]
    except IntelError as exc:
        _fail(f"{exc} (the file's fault; nothing was imported)")


def _summary(
    file: str, fmt: str, parsed: Any, rules: list[str], expired: int, dry_run: bool
) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    kinds: dict[str, int] = {}
    for ind in parsed.indicators:
        kinds[ind.kind] = kinds.get(ind.kind, 0) + 1
    table = Table(title=f"{PurePath(file).name} ({fmt})", show_header=False, box=None)
    table.add_row("indicators", str(len(parsed.indicators)))
    for kind, n in sorted(kinds.items()):
        table.add_row(f"  {kind}", str(n))
    skipped = dict(parsed.skipped) | ({"expired": expired} if expired else {})
    for reason, n in sorted(skipped.items()):
        table.add_row(f"skipped: {reason}", str(n))
    table.add_row("rules" + (" (dry run: none applied)" if dry_run else ""), "\n".join(rules))
    Console(highlight=False).print(table)
    for problem in parsed.problems:  # whole lines: a path or a value must not wrap
        click.echo(f"  {problem}")


def _admin(config_path: str | None, url: str | None, token: str | None) -> tuple[str, str]:
    """The admin API's URL and token: flags first, then the configuration file."""
    cfg_token = ""
    if config_path and (url is None or not token):
        from seawall.config import load_config  # noqa: PLC0415
        from seawall.core.errors import ConfigError  # noqa: PLC0415

        try:
            cfg = load_config(config_path)
        except ConfigError as err:
            _fail(f"configuration error in {config_path}: {err}")
        cfg_token = cfg.admin.token
        if url is None:
            if not cfg.admin.listen:
                _fail(f"the admin API is off in {config_path} ([admin] listen is empty)")
            url = "http://" + _loopback(cfg.admin.listen)
    secret = token or cfg_token
    if not secret:
        _fail("an admin token is needed: --token, SEAWALL_ADMIN_TOKEN or [admin] token")
    return url or DEFAULT_ADMIN, secret


def _loopback(listen: str) -> str:
    """host:port to reach a listener on: a wildcard address means this host."""
    host, _, port = listen.rpartition(":")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
    return f"{host}:{port}"


def _post(url: str, token: str, data: bytes, fmt: str) -> dict[str, Any]:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", _MEDIA[fmt])
    try:
        with urllib.request.urlopen(req, timeout=POST_TIMEOUT_S) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        detail = err.read(2000).decode("utf-8", "replace").strip()
        _fail(f"the admin API at {url} refused the import ({err.code}): {detail}", EXIT_FAILED)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        _fail(f"cannot reach the admin API at {url}: {reason}", EXIT_FAILED)
    except ValueError:
        _fail(f"the admin API at {url} answered something other than JSON", EXIT_FAILED)
    return answer if isinstance(answer, dict) else {}


@intel.command("export")
@click.argument("incident_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["stix", "blocklist", "nginx", "nftables"]),
    required=True,
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="TOML file.")
@click.option("--store", "store_path", help="SQLite incident store [default: [store] path].")
@click.option(
    "--from",
    "from_path",
    type=click.Path(dir_okay=False),
    help="A JSON incident, or `seawall analyze --json` output, instead of the store.",
)
@click.option("--ttl", type=click.FloatRange(min=1), default=86400.0, show_default=True)
@click.option("--min-requests", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--name", default="seawall", show_default=True, help="Who shares (provenance).")
@click.option("--include-private", is_flag=True, help="Keep private and reserved networks.")
def export_command(
    incident_id: str,
    fmt: str,
    output: str | None,
    config_path: str | None,
    store_path: str | None,
    from_path: str | None,
    ttl: float,
    min_requests: int,
    name: str,
    include_private: bool,
) -> None:
    """Write the indicators of incident INCIDENT_ID in FORMAT."""
    from seawall.intel.derive import Derivation, derive  # noqa: PLC0415
    from seawall.intel.indicators import Bounds, IntelError  # noqa: PLC0415

    if from_path:
        incident = _incident_from_file(from_path, incident_id)
    else:
        incident = _incident_from_store(incident_id, config_path, store_path)
    now = time.time()
    how = Derivation(ttl, name, min_requests, Bounds(allow_special=include_private))
    try:
        parsed = derive(incident, now, how)
    except IntelError as exc:
        _fail(f"{exc} (in {from_path or 'the store'})")
    text = _render(fmt, parsed.indicators, now, incident, name)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(parsed.skipped.items())) or "none"
    click.echo(
        f"{incident_id}: {len(parsed.indicators)} indicators as {fmt}"
        f"{' to ' + output if output else ''}; skipped: {skipped}",
        err=True,
    )


def _render(fmt: str, indicators: Any, now: float, incident: Mapping[str, Any], name: str) -> str:
    from seawall.intel import lists  # noqa: PLC0415
    from seawall.intel.stix import StixExportError, export_stix  # noqa: PLC0415

    if fmt == "blocklist":
        return lists.to_blocklist(indicators, now)
    if fmt == "nginx":
        return lists.to_nginx_geo(indicators, now)
    if fmt == "nftables":
        return lists.to_nftables(indicators, now)
    try:
        return export_stix(indicators, now, incident, platform=name)
    except StixExportError as exc:
        _fail(f"{exc} (a seawall bug; please report it)", EXIT_FAILED)


def _incident_from_file(path: str, incident_id: str) -> Mapping[str, Any]:
    from seawall.intel.indicators import IntelError  # noqa: PLC0415
    from seawall.intel.stix import load_json  # noqa: PLC0415

    try:
        doc = load_json(_read(path, MAX_REPORT_BYTES), path, MAX_REPORT_BYTES, 64)
    except IntelError as exc:
        _fail(str(exc))
    found = doc.get("incidents") if isinstance(doc, dict) else None
    candidates = found if isinstance(found, list) else [doc]
    ids = [c.get("id") for c in candidates if isinstance(c, dict)]
    for c in candidates:
        if isinstance(c, dict) and c.get("id") == incident_id:
            return c
    if not any(isinstance(i, str) for i in ids):
        _fail(f'{path} holds neither an incident nor {{"incidents": [...]}}')
    _fail(f"{path} has no incident {incident_id!r}; it has {ids[:10]}")


def _incident_from_store(
    incident_id: str, config_path: str | None, store_path: str | None
) -> Mapping[str, Any]:
    from seawall.core.errors import ConfigError  # noqa: PLC0415
    from seawall.store.incidents import IncidentStore  # noqa: PLC0415

    path = store_path
    if path is None:
        from seawall.config import load_config  # noqa: PLC0415

        try:
            path = load_config(config_path).store.path
        except ConfigError as err:
            _fail(f"configuration error in {config_path}: {err}")
    if not path:
        _fail("the store keeps incidents in memory only ([store] path is empty); use --from")
    if not Path(path).is_file():
        _fail(f"no incident store at {path} (give --store, -c or --from)")
    store = IncidentStore(path)
    try:
        found = store.get(incident_id)
        recent = [i["id"] for i in store.list(10)] if found is None else []
    except ConfigError as err:
        _fail(str(err))
    finally:
        store.close()
    if found is None:
        _fail(f"no incident {incident_id!r} in {path}; the newest are {recent}")
    return found
