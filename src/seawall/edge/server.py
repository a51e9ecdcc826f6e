"""A worker: listeners, the timeout sweeper, the recorder, rule updates and a graceful drain."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from seawall.config.engine import engine_settings
from seawall.config.schema import Config
from seawall.core.rules import RulesetDelta
from seawall.edge.accesslog import AccessLog
from seawall.edge.connection import ClientConnection
from seawall.edge.context import EdgeContext
from seawall.edge.detection import DetectionLoop, IncidentSink
from seawall.edge.introspect import Introspector
from seawall.edge.shared_limits import SharedGcraTable, shared_factory
from seawall.edge.tls import server_context
from seawall.edge.upstream import Origins
from seawall.runtime.clock import Clock

log = logging.getLogger("seawall.edge")
SWEEP_INTERVAL = 0.25


def split_hostport(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class EdgeWorker:
    """One process's share of the edge. Several run side by side on SO_REUSEPORT sockets."""

    def __init__(
        self,
        cfg: Config,
        clock: Clock,
        index: int = 0,
        reuse_port: bool = False,
        shared: SharedGcraTable | None = None,
        on_delta: Callable[[RulesetDelta], None] | None = None,
        on_incident: IncidentSink | None = None,
        incident_sketches: bool = False,
    ) -> None:
        """`shared`: rate-limit state for the whole host, when several workers run.

        `on_delta`: where detection's rule changes go (default: this worker's decider);
        `on_incident`: where its incidents go (default: nowhere), with their source
        sketches when `incident_sketches` (a supervisor merges the workers' shares).
        """
        self.cfg = cfg
        self.on_delta = on_delta or self.apply
        self.on_incident = on_incident
        self.incident_sketches = incident_sketches
        self.detection: DetectionLoop | None = None
        self.ctx = EdgeContext(cfg, clock, index, shared_factory(shared) if shared else None)
        self.reuse_port = reuse_port
        self.servers: list[asyncio.Server] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.access_log: AccessLog | None = None

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where the listeners ended up (port 0 resolves to the kernel's choice)."""
        out = []
        for srv in self.servers:
            for sock in srv.sockets:
                name = sock.getsockname()
                out.append((str(name[0]), int(name[1])))
        return out

    async def start(self) -> None:
        ctx, cfg = self.ctx, self.cfg
        ctx.origins = Origins(list(cfg.origins), ctx.stats, ctx.clock)
        intro = cfg.classes.api_app.introspection
        if intro.url:
            ctx.introspector = Introspector(
                intro.url,
                intro.client_id,
                intro.client_secret,
                intro.timeout,
                ctx.classifier.introspection_cache,
                intro.cache_ttl,
                ctx.clock,
            )
        if cfg.log.access_log:
            self.access_log = AccessLog(cfg.log.access_log, cfg.log.access_format)
            ctx.recorder.add_sink(self.access_log)
        loop = asyncio.get_running_loop()
        for i, listener in enumerate(cfg.listeners):
            host, port = split_hostport(listener.address)
            tls = server_context(listener, i)
            pp = listener.proxy_protocol
            srv = await loop.create_server(
                lambda pp=pp: ClientConnection(ctx, pp),
                host,
                port,
                ssl=tls,
                reuse_port=self.reuse_port,
                backlog=4096,
                family=socket.AF_INET6 if ":" in host else socket.AF_INET,
            )
            self.servers.append(srv)
        self.tasks.append(loop.create_task(self._sweep(), name=f"sweeper-{ctx.worker}"))
        self.tasks.append(loop.create_task(ctx.recorder.run(), name=f"recorder-{ctx.worker}"))
        if cfg.detection.enabled:
            self.detection = DetectionLoop(
                ctx,
                engine_settings(cfg),
                self.on_delta,
                self.on_incident,
                self.incident_sketches,
            )
            ctx.recorder.add_sink(self.detection)
            self.tasks.append(
                loop.create_task(self.detection.run(), name=f"detection-{ctx.worker}")
            )
        log.info("worker %d listening on %s", ctx.worker, self.addresses)

    async def _sweep(self) -> None:
        ctx = self.ctx
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = ctx.clock.monotonic()
            for conn in list(ctx.connections):
                conn.check_timeouts(now)
            if ctx.admission is not None:
                ctx.admission.tick()
                ctx.desk.pressure = ctx.admission.load().pressure
            if ctx.cache is not None:
                ctx.cache.tick()
            expired = ctx.decider.expired(now)
            if expired.remove:
                ctx.decider.apply(expired)
            ctx.stats.gauges["recorder_dropped"] = ctx.recorder.dropped
            ctx.stats.gauges["tracked_limit_keys"] = ctx.decider.tracked_keys()
            ctx.stats.gauges["ruleset_version"] = ctx.decider.ruleset.version
            if ctx.origins is not None:
                ctx.stats.gauges["pool_idle"] = sum(len(p.idle) for p in ctx.origins.pools)
                ctx.stats.origins = {
                    p.name: (
                        p.inflight,
                        p.health.ewma,
                        p.health.p90(),
                        p.health.errors,
                        sum(p.health.failures.values()),
                    )
                    for p in ctx.origins.pools
                }

    def reopen_logs(self) -> None:
        """SIGHUP: reopen the access log after rotation."""
        if self.access_log is not None:
            self.access_log.reopen()

    def apply(self, delta: RulesetDelta) -> None:
        self.ctx.decider.apply(delta)

    async def drain(self) -> None:
        """Stop accepting, let in-flight exchanges finish, then close what is left."""
        ctx = self.ctx
        ctx.draining = True
        for srv in self.servers:
            srv.close()
        for conn in list(ctx.connections):
            if conn.active is None and conn.parsing is None:
                conn.close()
        deadline = ctx.clock.monotonic() + ctx.settings.drain_timeout
        while ctx.connections and ctx.clock.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for conn in list(ctx.connections):
            conn.abort()
        await self.stop()

    async def stop(self) -> None:
        for srv in self.servers:
            srv.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        for conn in list(self.ctx.connections):
            conn.abort()
        if self.ctx.origins is not None:
            self.ctx.origins.close()
        if self.ctx.introspector is not None:
            await self.ctx.introspector.close()
        self.ctx.recorder.close()
