"""Running the edge: one process, or a supervisor with workers on SO_REUSEPORT sockets.

The supervisor holds the authoritative ruleset and the admin API. Workers receive every
rule change over a pipe (well within a second) and report their counters each second.
Over 400 lines because both ways of running must offer the admin API the same control
(rules, stats, incidents, suggestions, account protection), side by side here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection as mpc
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from seawall.config.engine import engine_settings
from seawall.config.schema import Config
from seawall.core.challenge import ChallengeKeys
from seawall.core.errors import ConfigError
from seawall.core.rules import Ruleset, RulesetDelta
from seawall.edge.admin import make_app, start_admin
from seawall.edge.admin_accounts import (
    AccountsFactory,
    AccountsRuntime,
    start_accounts,
    stop_accounts,
)
from seawall.edge.incidents import HostIncidents
from seawall.edge.passes import secret_of
from seawall.edge.server import EdgeWorker, split_hostport
from seawall.edge.shared_limits import SharedGcraTable
from seawall.edge.stats import merge
from seawall.runtime.clock import SystemClock
from seawall.store.incidents import IncidentStore

log = logging.getLogger("seawall.run")
STATS_INTERVAL = 1.0
_PR_SET_PDEATHSIG = 1


def saver(store: IncidentStore) -> Callable[[dict[str, Any]], None]:
    """Saves incident reports in a thread; a failed save is logged, never raised."""

    def save(report: dict[str, Any]) -> None:
        fut = asyncio.get_running_loop().run_in_executor(None, store.save, report)
        fut.add_done_callback(_log_failure)

    return save


def _log_failure(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("could not save an incident: %s", fut.exception())


class LocalControl:
    """The admin API's view of a single in-process worker."""

    def __init__(
        self,
        worker: EdgeWorker,
        store: IncidentStore | None = None,
        accounts: AccountsRuntime | None = None,
    ) -> None:
        self.worker = worker
        self.store = store or IncidentStore("")
        self.accounts = accounts

    def incidents(self) -> list[dict[str, Any]]:
        return self.store.list()

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        return self.store.get(incident_id)

    def suggestions(self) -> list[dict[str, Any]]:
        d = self.worker.detection
        return [] if d is None else d.suggestions()

    def approve(self, rule_id: str) -> bool:
        d = self.worker.detection
        return d is not None and d.engine.approve(rule_id)

    def ruleset(self) -> Ruleset:
        return self.worker.ctx.decider.ruleset

    def apply(self, delta: RulesetDelta) -> Ruleset:
        return self.worker.ctx.decider.apply(delta)

    def stats(self) -> dict[str, Any]:
        snap = self.worker.ctx.stats.snapshot()
        if self.accounts is not None:
            snap["gauges"].update(self.accounts.stats())
        return snap

    def ready(self) -> bool:
        return bool(self.worker.servers) and not self.worker.ctx.draining


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)  # workers reopen their own logs


async def serve_single(
    cfg: Config,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[EdgeWorker], None] | None = None,
    accounts: AccountsFactory | None = None,
) -> None:
    clock = SystemClock()
    stop = stop or asyncio.Event()
    _install_stop(stop)
    store = IncidentStore(cfg.store.path)
    worker = EdgeWorker(cfg, clock, on_incident=saver(store))
    await worker.start()
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, worker.reopen_logs)
    svc, svc_task = start_accounts(cfg, accounts, worker.apply, clock)
    if svc is not None and worker.ctx.auth is not None:
        svc.sources.append(worker.ctx.auth.drain)
    runner = None
    if cfg.admin.listen:
        host, port = split_hostport(cfg.admin.listen)
        control = LocalControl(worker, store, svc)
        runner = await start_admin(
            make_app(control, cfg.admin.token, clock, accounts=svc), host, port
        )
    if on_ready is not None:
        on_ready(worker)
    try:
        await stop.wait()
        log.info("draining (up to %.0f s)", cfg.timeouts.drain)
        await worker.drain()
    finally:
        await worker.stop()
        if runner is not None:
            await runner.cleanup()
        await stop_accounts(svc, svc_task)
        store.close()


# ---- several workers ---------------------------------------------------------------------------


async def _worker_main(
    cfg: Config, index: int, pipe: mpc.Connection, shared: SharedGcraTable
) -> None:
    worker = EdgeWorker(
        cfg,
        SystemClock(),
        index,
        reuse_port=True,
        shared=shared,
        on_delta=lambda delta: pipe.send(("delta", delta)),
        on_incident=lambda report: pipe.send(("incident", report)),
        incident_sketches=True,
    )
    await worker.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, lambda: None)  # the supervisor decides
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGHUP, worker.reopen_logs)

    def on_message() -> None:
        try:
            kind, payload = pipe.recv()
        except (EOFError, OSError):
            stop.set()  # the supervisor is gone
            return
        if kind == "sync":
            current = worker.ctx.decider.ruleset
            worker.apply(RulesetDelta(add=payload.rules, remove=tuple(r.id for r in current.rules)))
        elif kind == "apply":
            worker.apply(payload)
        elif kind == "approve" and worker.detection is not None:
            worker.detection.engine.approve(payload)
        elif kind == "drain":
            stop.set()

    loop.add_reader(pipe.fileno(), on_message)
    pipe.send(("ready", worker.addresses))

    async def report() -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            pipe.send(("stats", worker.ctx.stats.snapshot()))
            if worker.ctx.auth is not None and worker.ctx.auth.queue:
                pipe.send(("auth", worker.ctx.auth.drain()))
            if worker.detection is not None:
                pipe.send(("suggestions", worker.detection.suggestions()))

    reporter = loop.create_task(report(), name=f"stats-{index}")
    await stop.wait()
    reporter.cancel()
    loop.remove_reader(pipe.fileno())
    await worker.drain()
    with contextlib.suppress(OSError):
        pipe.send(("stats", worker.ctx.stats.snapshot()))


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the supervisor dies, even by SIGKILL.

    A pipe EOF is not enough: every forked worker inherits the others' pipe ends.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        log.warning("cannot ask to be told of the supervisor's death; orphans are possible")


def _worker_entry(cfg: Config, index: int, pipe: mpc.Connection, shared: SharedGcraTable) -> None:
    _die_with_parent()
    if os.getppid() == 1:  # the supervisor died before we could ask
        return
    logging.basicConfig(
        level=cfg.log.level.upper(), format=f"%(asctime)s w{index} %(levelname)s %(message)s"
    )
    uvloop.run(_worker_main(cfg, index, pipe, shared))


class Supervisor:
    """Starts workers, forwards rule changes, sums their counters, restarts a crashed one."""

    def __init__(self, cfg: Config, accounts: AccountsFactory | None = None) -> None:
        self.accounts_factory = accounts
        self.accounts: AccountsRuntime | None = None
        if not cfg.challenge.secret:  # one key for all workers, or passes fail across them
            key = secret_of(cfg.challenge).decode()
            cfg = cfg.model_copy(
                update={"challenge": cfg.challenge.model_copy(update={"secret": key})}
            )
        self.cfg = cfg
        self.clock = SystemClock()
        from seawall.config.build import build_ruleset  # noqa: PLC0415

        self.rules = build_ruleset(cfg, self.clock.monotonic())
        self.procs: dict[int, multiprocessing.process.BaseProcess] = {}
        self.pipes: dict[int, mpc.Connection] = {}
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.suggested: dict[int, list[dict[str, Any]]] = {}
        self.store = IncidentStore(cfg.store.path)
        self.save = saver(self.store)
        self.host_incidents = HostIncidents(cfg.detection.quiet)
        self.readiness: set[int] = set()
        self.stopping = False
        self._mp = multiprocessing.get_context("fork")  # workers inherit the shared table
        # two slots per tracked key keeps probe chains short
        self.shared = SharedGcraTable(2 * cfg.limits.max_tracked_keys, self._mp.Lock())

    def ruleset(self) -> Ruleset:
        return self.rules

    def apply(self, delta: RulesetDelta) -> Ruleset:
        self.rules = self.rules.apply(delta)
        for pipe in self.pipes.values():
            try:
                pipe.send(("apply", delta))
            except OSError:
                log.warning("a worker missed a rule change; it is resynced when restarted")
        return self.rules

    def stats(self) -> dict[str, Any]:
        merged = merge(list(self.snapshots.values()))
        if self.accounts is not None:
            merged["gauges"].update(self.accounts.stats())
        return merged

    def incidents(self) -> list[dict[str, Any]]:
        return self.store.list()

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        return self.store.get(incident_id)

    def suggestions(self) -> list[dict[str, Any]]:
        """Each worker detects on its share of traffic; the same rule may come from several."""
        merged = {s["id"]: s for found in self.suggested.values() for s in found}
        return list(merged.values())

    def approve(self, rule_id: str) -> bool:
        if all(s["id"] != rule_id for s in self.suggestions()):
            return False
        for pipe in self.pipes.values():
            with contextlib.suppress(OSError):
                pipe.send(("approve", rule_id))
        return True

    def ready(self) -> bool:
        return not self.stopping and len(self.readiness) == self.cfg.workers

    def spawn(self, index: int) -> None:
        parent, child = self._mp.Pipe()
        proc = self._mp.Process(
            target=_worker_entry,
            args=(self.cfg, index, child, self.shared),
            name=f"seawall-worker-{index}",
        )
        proc.start()
        child.close()
        self.procs[index], self.pipes[index] = proc, parent
        loop = asyncio.get_running_loop()
        loop.add_reader(parent.fileno(), self._on_message, index)
        loop.add_reader(proc.sentinel, self._on_exit, index)
        parent.send(("sync", self.rules))

    def _on_message(self, index: int) -> None:
        pipe = self.pipes[index]
        try:
            kind, payload = pipe.recv()
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(pipe.fileno())
            return
        if kind == "ready":
            self.readiness.add(index)
        elif kind == "stats":
            self.snapshots[index] = payload
        elif kind == "delta":
            self.apply(payload)  # one worker saw it: every worker enforces it
        elif kind == "incident":
            payload["worker"] = index
            self.save(self.host_incidents.fold(index, payload))
        elif kind == "suggestions":
            self.suggested[index] = payload
        elif kind == "auth" and self.accounts is not None:
            self.accounts.submit(payload)

    def _on_exit(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        proc = self.procs[index]
        loop.remove_reader(proc.sentinel)
        self.readiness.discard(index)
        if self.stopping:
            return
        log.error("worker %d exited with %s; restarting it", index, proc.exitcode)
        loop.remove_reader(self.pipes[index].fileno())
        loop.call_later(0.5, self.spawn, index)

    def forward_signal(self, sig: int) -> None:
        for proc in self.procs.values():
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, sig)

    async def run(self, stop: asyncio.Event) -> None:
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, self.forward_signal, signal.SIGHUP
        )
        svc, svc_task = start_accounts(self.cfg, self.accounts_factory, self.apply, self.clock)
        self.accounts = svc
        for i in range(self.cfg.workers):
            self.spawn(i)
        runner = None
        if self.cfg.admin.listen:
            host, port = split_hostport(self.cfg.admin.listen)
            app = make_app(self, self.cfg.admin.token, self.clock, accounts=svc)
            runner = await start_admin(app, host, port)
        await stop.wait()
        self.stopping = True
        for pipe in self.pipes.values():
            with contextlib.suppress(OSError):
                pipe.send(("drain", None))
        deadline = self.clock.monotonic() + self.cfg.timeouts.drain + 5
        for proc in self.procs.values():
            left = max(0.1, deadline - self.clock.monotonic())
            await asyncio.to_thread(proc.join, left)
            if proc.is_alive():
                proc.kill()
        if runner is not None:
            await runner.cleanup()
        await stop_accounts(svc, svc_task)
        self.store.close()


async def serve_workers(
    cfg: Config, stop: asyncio.Event | None = None, accounts: AccountsFactory | None = None
) -> None:
    stop = stop or asyncio.Event()
    _install_stop(stop)
    await Supervisor(cfg, accounts).run(stop)


def preflight(cfg: Config) -> None:
    """Checks that need more than the schema, before any worker starts (a worker that
    failed on them would be restarted forever): detectors and their options, the pass
    key, the store's directory. Raises ConfigError naming the key."""
    if cfg.detection.enabled:
        engine_settings(cfg)
    c = cfg.challenge
    if c.secret:
        ChallengeKeys(c.secret.encode(), c.previous_secret.encode())
    if cfg.store.path and not Path(cfg.store.path).resolve().parent.is_dir():
        parent = Path(cfg.store.path).resolve().parent
        raise ConfigError("store.path", f"directory {parent} does not exist")


def run_edge(cfg: Config, accounts: AccountsFactory | None = None) -> None:
    """Blocking entry point for `seawall edge`; `accounts` builds account protection."""
    preflight(cfg)
    if cfg.workers == 1:
        uvloop.run(serve_single(cfg, accounts=accounts))
    else:
        uvloop.run(serve_workers(cfg, accounts=accounts))
