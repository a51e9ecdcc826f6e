"""`seawall demo`: origin + edge + mixed traffic on loopback, then a table of what happened.

The traffic generator plays a trusted balancer: it presents each simulated client's
address in X-Forwarded-For, which the edge believes only because 127.0.0.1 is listed
in `network.trusted_proxies`. Labels (which group a client is in) stay here.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import jwt
from rich.console import Console
from rich.live import Live
from rich.table import Table

from seawall.config.load import validate
from seawall.edge.server import EdgeWorker
from seawall.lab.origin import DEFAULT_SECRETS, start_origin
from seawall.runtime.clock import SystemClock

DEMO_SECRET = DEFAULT_SECRETS.app_jwt  # the lab origin verifies app tokens too


@dataclass
class Group:
    name: str
    addresses: list[str]
    rate: float  # requests/s per address
    paths: tuple[str, ...]
    token: str = ""
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def _groups() -> list[Group]:
    token = jwt.encode({"sub": "app-42", "exp": int(time.time()) + 3600}, DEMO_SECRET, "HS256")
    return [
        Group(
            "visitors",
            [f"198.51.100.{i}" for i in range(1, 41)],
            1.0,
            ("/", "/users/cyxymu"),
        ),
        Group("api app", ["192.0.2.10"], 40.0, ("/api/v1/timeline",), token=token),
        Group("scraper", ["192.0.2.77"], 60.0, ("/users/cyxymu",)),
        Group("blocklisted", ["203.0.113.5"], 5.0, ("/",)),
    ]


def demo_config(port: int, origin_port: int) -> dict[str, object]:
    return {
        "listeners": [{"address": f"127.0.0.1:{port}"}],
        "origins": [{"url": f"http://127.0.0.1:{origin_port}"}],
        "network": {"trusted_proxies": ["127.0.0.1/32"]},
        "admin": {"listen": ""},
        "log": {"access_log": ""},
        "routes": [
            {"name": "profile", "pattern": "/users/{name}"},
            {"name": "api", "pattern": "/api/{rest*}"},
        ],
        "classes": {"api_app": {"jwt_keys": [{"alg": "HS256", "secret": DEMO_SECRET}]}},
        "rules": [
            {
                "id": "known-bad",
                "action": "block",
                "match": {"cidrs": ["203.0.113.0/24"]},
                "reason": "listed by a peer platform",
            },
            {
                "id": "per-address",
                "action": "throttle",
                "rate": 10,
                "burst": 20,
                "match": {"classes": ["anonymous", "user"]},
                "reason": "more than 10 requests/s",
            },
        ],
    }


async def _client(
    session: aiohttp.ClientSession, base: str, g: Group, addr: str, until: float
) -> None:
    interval = 1.0 / g.rate
    i = 0
    headers = {"X-Forwarded-For": addr, "User-Agent": f"demo/{g.name}"}
    if g.token:
        headers["Authorization"] = f"Bearer {g.token}"
    next_at = time.monotonic()
    while time.monotonic() < until:
        path = g.paths[i % len(g.paths)]
        i += 1
        t0 = time.monotonic()
        try:
            async with session.get(base + path, headers=headers) as resp:
                await resp.read()
                g.statuses[resp.status] += 1
        except (aiohttp.ClientError, TimeoutError):
            g.errors += 1
        g.latencies.append(time.monotonic() - t0)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def _table(groups: list[Group], elapsed: float) -> Table:
    t = Table(title=f"seawall demo — {elapsed:4.1f} s of traffic through the edge")
    t.add_column("clients", no_wrap=True)
    for col in ("sent", "2xx", "429", "403", "errors", "p50 ms", "p99 ms"):
        t.add_column(col, justify="right", no_wrap=True)
    for g in groups:
        lat = sorted(g.latencies)
        p50 = statistics.median(lat) * 1000 if lat else 0.0
        p99 = (
            lat[int(len(lat) * 0.99) - 1] * 1000
            if len(lat) >= 100
            else (lat[-1] * 1000 if lat else 0.0)
        )
        ok = sum(n for s, n in g.statuses.items() if 200 <= s < 300)
        t.add_row(
            g.name,
            str(len(lat)),
            str(ok),
            str(g.statuses[429]),
            str(g.statuses[403]),
            str(g.errors + sum(n for s, n in g.statuses.items() if s >= 500)),
            f"{p50:.1f}",
            f"{p99:.1f}",
        )
    return t


async def _run(duration: float, port: int, keep: bool) -> int:
    console = Console()
    origin = await start_origin()
    origin_port = origin.port
    cfg = validate(demo_config(port, origin_port))
    worker = EdgeWorker(cfg, SystemClock())
    await worker.start()
    console.print(f"origin on 127.0.0.1:{origin_port}, edge on 127.0.0.1:{port}")
    groups = _groups()
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    until = t0 + duration
    conn = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(
        connector=conn, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        tasks = [
            asyncio.create_task(_client(session, base, g, a, until), name=f"demo-{g.name}-{a}")
            for g in groups
            for a in g.addresses
        ]
        with Live(_table(groups, 0), console=console, refresh_per_second=4) as live:
            while time.monotonic() < until:
                await asyncio.sleep(0.5)
                live.update(_table(groups, time.monotonic() - t0))
            await asyncio.gather(*tasks)
            live.update(_table(groups, time.monotonic() - t0))
    console.print()
    verdicts = Counter[str]()
    for (verdict, klass, _route), n in worker.ctx.stats.snapshot()["requests"].items():
        verdicts[f"{verdict}/{klass}"] += n
    console.print(
        "edge verdicts by class: " + ", ".join(f"{k}={v}" for k, v in sorted(verdicts.items()))
    )
    if keep:
        console.print(f"edge still running on {base}; Ctrl-C to stop")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    await worker.stop()
    await origin.close()
    served = {g.name: sum(n for s, n in g.statuses.items() if 200 <= s < 300) for g in groups}
    healthy = served["visitors"] > 0 and served["api app"] > 0 and groups[3].statuses[403] > 0
    return 0 if healthy else 1


def run_demo(duration: float, port: int, keep: bool) -> int:
    import uvloop  # noqa: PLC0415

    try:
        return uvloop.run(_run(duration, port, keep))
    except OSError as exc:  # most often: the port is taken
        Console(stderr=True).print(
            f"seawall demo: cannot listen on 127.0.0.1:{port}: {exc.strerror}; "
            "choose another with --port"
        )
        return 1
