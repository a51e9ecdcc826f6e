"""`seawall accounts hash|campaigns|audit`: account protection on the command line.

`hash` gives the keyed hash seawall uses for an identifier, for rules (`match.accounts`)
and for finding an account in campaigns and alerts. `campaigns` and `audit` read the
store the edge writes, so they work with the edge stopped. Heavy imports wait until a
command runs, so `seawall --help` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, NoReturn

import click


def _fail(message: str) -> NoReturn:
    click.echo(f"seawall accounts: {message}", err=True)
    sys.exit(2)


def _config(path: str) -> Any:
    from seawall.config.load import load_config  # noqa: PLC0415
    from seawall.core.errors import ConfigError  # noqa: PLC0415

    try:
        return load_config(path)
    except ConfigError as err:
        _fail(f"{path}: {err}")


def _store(config: str | None, store: str | None) -> Any:
    from seawall.store.accounts import AccountStore  # noqa: PLC0415

    path = store or (_config(config).store.path if config else "seawall.db")
    return AccountStore(path)


@click.group()
def accounts() -> None:
    """Account protection: hash identifiers, list campaigns and the audit log."""


@accounts.command("hash")
@click.argument("identifiers", nargs=-1, required=True)
@click.option("-c", "--config", "config", required=True, help="The edge's configuration.")
def hash_cmd(identifiers: tuple[str, ...], config: str) -> None:
    """Print the keyed hash of each IDENTIFIER (account, email or phone), one a line."""
    from seawall.core.auth import Hasher  # noqa: PLC0415

    cfg = _config(config)
    if len(cfg.accounts.secret) < 16:
        _fail(f"{config}: accounts.secret is not set")
    hasher = Hasher(cfg.accounts.secret)
    for ident in identifiers:
        click.echo(f"{hasher(ident)}  {ident}")


def detectors_markdown() -> str:
    """Every detector's options, defaults and help, as docs/accounts.md shows them."""
    from seawall.accounts.detectors import DETECTORS  # noqa: PLC0415
    from seawall.accounts.history import Base  # noqa: PLC0415

    out = ["Every detector also takes:", "", "| option | default | meaning |", "|---|---|---|"]
    out += [f"| `{o}` | {d:g} | {t} |" for o, (d, t) in Base.COMMON.items()]
    out.append("")
    for name, cls in DETECTORS.items():
        doc = (cls.__doc__ or "").strip().split("\n\n", 1)[0].replace("\n", " ")
        out += [f"### `{name}`", "", doc, "", "| option | default | meaning |", "|---|---|---|"]
        for opt, (default, text) in cls.OPTIONS.items():
            escaped = text.replace("|", "\\|")
            out.append(f"| `{opt}` | {default:g} | {escaped} |")
        out.append("")
    return "\n".join(out)


@accounts.command("detectors")
def detectors_cmd() -> None:
    """Print every account detector's options as Markdown (the reference in the docs)."""
    click.echo(detectors_markdown(), nl=False)


@accounts.command("campaigns")
@click.argument("campaign_id", required=False)
@click.option("-c", "--config", "config", help="Find the store through this configuration.")
@click.option("--store", help="The SQLite store (default: the configuration's store.path).")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def campaigns_cmd(
    campaign_id: str | None, config: str | None, store: str | None, as_json: bool
) -> None:
    """List campaigns, newest first, or show CAMPAIGN_ID in full with its alerts."""
    db = _store(config, store)
    try:
        if campaign_id:
            found = db.campaign(campaign_id)
            if found is None:
                _fail(f"no campaign {campaign_id!r}")
            found["alerts"] = db.alerts(campaign_id)
            click.echo(json.dumps(found, indent=2, sort_keys=True))
            return
        rows = [c for c in db.campaigns(1000) if not str(c["state"]).startswith("merged")]
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    for c in rows:
        start = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(c["start"]))
        decision = f" [{c['decision']}]" if c.get("decision") else ""
        click.echo(
            f"{c['id']}  {start}Z  {c['kind']:<8} {c['state']:<6} "
            f"conf {c['confidence']:.2f}  accounts {c['accounts_count']:>5}  "
            f"sources {c['sources']:>6}  {','.join(c['detectors'])}{decision}"
        )


@accounts.command("audit")
@click.option("-c", "--config", "config", help="Find the store through this configuration.")
@click.option("--store", help="The SQLite store (default: the configuration's store.path).")
@click.option("--limit", default=200, show_default=True, help="Most entries shown.")
def audit_cmd(config: str | None, store: str | None, limit: int) -> None:
    """The audit log: operators' decisions and threshold changes, newest first."""
    db = _store(config, store)
    try:
        for e in db.audit_log(limit):
            click.echo(json.dumps(e, sort_keys=True))
    finally:
        db.close()
