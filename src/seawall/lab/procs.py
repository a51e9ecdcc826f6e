"""The processes of a lab run: the origin, and the protection in front of it.

The origin runs in its own process, so that a flood that saturates it doesn't also starve
the runner and the traffic. It measures its capacity before any traffic starts. The
protection is `none` (clients reach the origin and name themselves in X-Real-IP, as the
balancer would), `nginx` (Debian's, see `lab.nginx`) or `seawall` (the edge in its own
process, with its defaults plus the platform's routes and client classes; for a
scenario with account traffic, also its account protection, whose campaigns are read
from the edge's store once it stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import tomli_w
import uvloop

from seawall.core.errors import ConfigError
from seawall.lab.accounts_data import Identity
from seawall.lab.nginx import NginxProtection, RunningNginx
from seawall.lab.origin import DEFAULT_SECRETS, LabSecrets, measure_capacity, start_origin
from seawall.lab.wire import Presentation, Target
from seawall.store.incidents import IncidentStore

LOOPBACK = "127.0.0.1"
PROTECTIONS = ("none", "nginx", "seawall")
START_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0
INCIDENTS_DB = "incidents.db"
DIRECTORY = "directory.csv"
MAX_CAMPAIGNS = 1000


class LabSetupError(RuntimeError):
    """A part of the lab would not start; the message says which and why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


async def _serve_origin(pipe: Pipe, seed: int, measure_s: float, quiet: int) -> None:
    origin = await start_origin(LOOPBACK, 0, seed=seed, quiet_users=quiet)
    capacity = await measure_capacity(origin.base_url, measure_s) if measure_s > 0 else 0.0
    origin.stats.reset()
    pipe.send((origin.port, capacity))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(pipe.fileno(), stop.set)  # any message or EOF: stop
    await stop.wait()
    loop.remove_reader(pipe.fileno())
    await origin.close()


def _origin_main(pipe: Pipe, seed: int, measure_s: float, quiet: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner stops us through the pipe
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)  # clients hanging up is the point
    uvloop.run(_serve_origin(pipe, seed, measure_s, quiet))


class OriginProcess:
    """The lab origin in a child process; `capacity` is its measured requests/s.

    `quiet_users` adds accounts that only sign in (see `accounts_data`)."""

    def __init__(self, seed: int, measure_s: float = 3.0, quiet_users: int = 0) -> None:
        ctx = mp.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_origin_main,
            args=(child, seed, measure_s, quiet_users),
            name="lab-origin",
            daemon=True,
        )
        self.port, self.capacity = 0, 0.0

    async def start(self) -> OriginProcess:
        self._proc.start()
        ready = await asyncio.to_thread(self._pipe.poll, START_TIMEOUT_S)
        try:
            if not ready:
                raise LabSetupError("the lab origin did not come up within 30 s")
            self.port, self.capacity = self._pipe.recv()
        except EOFError:
            raise LabSetupError(
                f"the lab origin exited at start (status {self._proc.exitcode})"
            ) from None
        finally:
            if not self.port:
                self.stop()
        return self

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._pipe.send("stop")
        self._proc.join(STOP_GRACE_S)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(STOP_GRACE_S)


@dataclass(frozen=True, slots=True)
class EdgeAccounts:
    """What the platform tells the edge about its accounts, and where warnings go."""

    high_risk: tuple[str, ...]  # account names
    directory: tuple[Identity, ...]  # every account: written to workdir/DIRECTORY
    webhook_url: str  # on loopback
    webhook_secret: str  # whsec_...


ROUTES = (  # the platform's routes, as its operator names them to the edge
    ("profile", "/users/{name}"),
    ("post", "/users/{name}/posts/{id}"),
    ("home", "/"),
    ("search", "/search"),
    ("login", "/login"),
    ("reset", "/password/reset"),
    ("lookup", "/account/lookup"),
    ("api", "/api/{rest*}"),
    ("sms", "/sms/inbound"),
)
_AUTH_ROUTES = (  # route, kind, form field naming the account
    ("login", "login", "user"),
    ("reset", "password_reset", "email"),
    ("lookup", "recovery_lookup", "identifier"),
)


def accounts_section(accounts: EdgeAccounts, workdir: Path, secret: str) -> dict[str, Any]:
    """The edge's [accounts] for the platform: its auth routes, high-risk accounts, directory."""
    return {
        "enabled": True,
        "secret": secret,
        "step_up": "header",  # the app asks for its own one-time code
        "high_risk": list(accounts.high_risk),
        "directory": str(workdir / DIRECTORY),
        "routes": [
            {"route": r, "kind": k, "account_field": f, "result_header": "X-Auth-Result"}
            for r, k, f in _AUTH_ROUTES
        ],
        "warnings": {
            "webhooks": [{"url": accounts.webhook_url, "secret": accounts.webhook_secret}],
            "log": False,
            "site_name": "microblog",
        },
    }


def write_directory(path: Path, people: Sequence[Identity]) -> None:
    """CSV rows of name,email,phone (no header): how the edge ties an account's names."""
    path.write_text("".join(f"{i.name},{i.email},{i.phone}\n" for i in people), encoding="utf-8")


def edge_config(
    port: int,
    origin_port: int,
    gateway: str,
    workdir: Path,
    secrets: LabSecrets = DEFAULT_SECRETS,
    accounts: EdgeAccounts | None = None,
) -> dict[str, Any]:
    """seawall's defaults plus what any operator of this platform would declare."""
    config = {
        "listeners": [{"address": f"{LOOPBACK}:{port}", "proxy_protocol": True}],
        "origins": [{"url": f"http://{LOOPBACK}:{origin_port}"}],
        "admin": {"listen": ""},
        "log": {"access_log": str(workdir / "access.log")},
        "store": {"path": str(workdir / INCIDENTS_DB)},
        "challenge": {"secret": secrets.challenge},
        "routes": [{"name": n, "pattern": p} for n, p in ROUTES],
        "classes": {
            "api_app": {"jwt_keys": [{"alg": "HS256", "secret": secrets.app_jwt}]},
            "gateways": [
                {
                    "name": "sms",
                    "cidrs": [f"{gateway}/32"],
                    "secret_header": "X-Gateway-Secret",
                    "secret": secrets.gateway,
                }
            ],
            "user": {"cookie": "session", "mode": "signed", "secret": secrets.session},
        },
    }
    if accounts is not None:
        config["accounts"] = accounts_section(accounts, workdir, secrets.accounts)
    return config


def _tail(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return ": " + path.read_text(errors="replace").strip()[-2000:]


async def _wait_port(
    port: int, proc: subprocess.Popen[bytes], what: str, errors: Path | None = None
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = _tail(errors)
            raise LabSetupError(f"{what} exited with status {proc.returncode} at start{detail}")
        with contextlib.suppress(OSError):
            _, w = await asyncio.open_connection(LOOPBACK, port)
            w.close()
            return
        await asyncio.sleep(0.05)
    raise LabSetupError(f"{what} did not listen on {LOOPBACK}:{port} within 30 s")


def _spawn_edge(workdir: Path, config: dict[str, Any]) -> subprocess.Popen[bytes]:
    """`seawall edge` on `config`, in its own session, errors into workdir/edge.err."""
    conf = workdir / "edge.toml"
    conf.write_text(tomli_w.dumps(config))
    with (workdir / "edge.err").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "seawall.cli", "edge", "--config", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )


def read_campaigns(db: Path, limit: int = MAX_CAMPAIGNS) -> list[dict[str, Any]]:
    """The account campaigns in the edge's store, each with its accounts; [] when the
    store has none (or this seawall has no account protection)."""
    try:
        from seawall.store.accounts import AccountStore  # noqa: PLC0415
    except ImportError:
        return []
    if not db.exists():
        return []
    store = AccountStore(str(db))
    try:
        found = store.campaigns(limit=limit)
        return [c if "accounts" in c else (store.campaign(str(c["id"])) or c) for c in found]
    except (sqlite3.DatabaseError, ConfigError):
        return []
    finally:
        store.close()


@contextlib.asynccontextmanager
async def seawall_edge(
    origin_port: int,
    gateway: str,
    incidents: list[dict[str, Any]] | None = None,
    accounts: EdgeAccounts | None = None,
    campaigns: list[dict[str, Any]] | None = None,
) -> AsyncIterator[Target]:
    """The edge in its own process; once it stops, its incidents are read into `incidents`
    and, with `accounts`, its account campaigns into `campaigns`."""
    with tempfile.TemporaryDirectory(prefix="seawall-lab-") as tmp:
        workdir, port = Path(tmp), free_port()
        if accounts is not None:
            write_directory(workdir / DIRECTORY, accounts.directory)
        config = edge_config(port, origin_port, gateway, workdir, accounts=accounts)
        proc = _spawn_edge(workdir, config)
        try:
            await _wait_port(port, proc, "the seawall edge", workdir / "edge.err")
            yield Target(LOOPBACK, port, Presentation.PROXY_V2)
        finally:
            _stop(proc)
            if incidents is not None and (workdir / INCIDENTS_DB).exists():
                store = IncidentStore(str(workdir / INCIDENTS_DB))
                incidents.extend(store.get(i["id"]) or i for i in reversed(store.list()))
                store.close()
            if accounts is not None and campaigns is not None:
                campaigns.extend(read_campaigns(workdir / INCIDENTS_DB))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_GRACE_S)


@contextlib.asynccontextmanager
async def protection(
    name: str,
    origin_port: int,
    gateway: str,
    incidents: list[dict[str, Any]] | None = None,
    accounts: EdgeAccounts | None = None,
    campaigns: list[dict[str, Any]] | None = None,
) -> AsyncIterator[Target]:
    """The target lab clients connect to, with `name` in front of the origin.

    seawall's incidents, as its store kept them, are added to `incidents` at the end, and
    with `accounts` (seawall's account protection switched on) its campaigns to `campaigns`.
    """
    if name == "none":
        yield Target(LOOPBACK, origin_port, Presentation.REAL_IP_HEADER)
    elif name == "nginx":
        running = await RunningNginx.start(NginxProtection(origin_port=origin_port))
        try:
            yield Target(LOOPBACK, running.port, Presentation.PROXY_V2)
        finally:
            await running.stop()
    elif name == "seawall":
        async with seawall_edge(origin_port, gateway, incidents, accounts, campaigns) as target:
            yield target
    else:
        raise ValueError(f"unknown protection {name!r}; known: {', '.join(PROTECTIONS)}")
