"""Everything one worker's connections share: settings, the decider, pools, stats, the recorder."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seawall.config.build import (
    build_admission,
    build_cache,
    build_limit,
    build_routes,
    build_ruleset,
)
from seawall.config.identity import build_classifier
from seawall.config.schema import Config
from seawall.core.classes import Classifier
from seawall.core.decider import Decider, LimiterFactory
from seawall.core.facts import ClientClass, RequestFacts
from seawall.core.net import Address, CidrSet
from seawall.core.record import Record
from seawall.core.routes import Router
from seawall.core.verdict import Action, Verdict
from seawall.edge.admission import AdmissionGate
from seawall.edge.authwatch import AuthWatch
from seawall.edge.cache import MicroCache
from seawall.edge.exchange import Exchange
from seawall.edge.passes import ChallengeDesk, secret_of
from seawall.edge.recorder import Recorder
from seawall.edge.stats import EdgeStats
from seawall.runtime.clock import Clock

if TYPE_CHECKING:
    from seawall.edge.connection import ClientConnection
    from seawall.edge.introspect import Introspector
    from seawall.edge.upstream import Origins


SLOW = Verdict(Action.ALLOW, "timed out")


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    """The options the hot path reads, flattened once so no lookup walks the config tree."""

    max_header_bytes: int
    max_headers: int
    max_url_bytes: int
    max_body_bytes: int
    max_connections: int
    max_connections_per_address: int
    head_timeout: float
    body_min_rate: int
    idle_timeout: float
    send_timeout: float
    drain_timeout: float

    @classmethod
    def from_config(cls, cfg: Config) -> EdgeSettings:
        lim, t = cfg.limits, cfg.timeouts
        return cls(
            lim.max_header_bytes,
            lim.max_headers,
            lim.max_url_bytes,
            lim.max_body_bytes,
            lim.max_connections,
            lim.max_connections_per_address,
            t.head,
            t.body_min_rate,
            t.idle,
            t.send,
            t.drain,
        )


class EdgeContext:
    def __init__(
        self,
        cfg: Config,
        clock: Clock,
        worker: int = 0,
        limiter_factory: LimiterFactory | None = None,
    ) -> None:
        self.config = cfg
        self.settings = EdgeSettings.from_config(cfg)
        self.clock = clock
        self.worker = worker
        self.decider = Decider(
            build_ruleset(cfg, clock.monotonic()), cfg.limits.max_tracked_keys, limiter_factory
        )
        self.classifier: Classifier = build_classifier(cfg)
        self.router = Router(build_routes(cfg))
        self.trusted = CidrSet(cfg.network.trusted_proxies, "network.trusted_proxies")
        self.stats = EdgeStats()
        self.recorder = Recorder()
        self.connections: set[ClientConnection] = set()
        self.per_address: Counter[int] = Counter()
        self.draining = False
        self.tasks: set[asyncio.Task[object]] = set()  # kept so none is collected mid-flight
        self.origins: Origins | None = None
        self.introspector: Introspector | None = None
        cache = build_cache(cfg)
        self.cache = None if cache is None else MicroCache(*cache, clock, self.stats)
        adm = build_admission(cfg)
        self.admission = (
            None if adm is None else AdmissionGate(adm, build_limit(cfg), clock, self.stats)
        )
        self.desk = ChallengeDesk(cfg.challenge, secret_of(cfg.challenge))
        watched = cfg.accounts.enabled and cfg.accounts.routes
        self.auth = AuthWatch(cfg.accounts) if watched else None
        self._rid_prefix = f"{os.urandom(4).hex()}{worker:x}-"
        self._rid_counter = 0

    def record(self, ex: Exchange) -> None:
        """Count a finished exchange and hand its record to the recorder."""
        f, v = ex.facts, ex.verdict
        if f is None or v is None:
            return
        latency = self.clock.monotonic() - ex.t0
        stats = self.stats
        stats.requests[(v.action, f.klass, f.route)] += 1
        stats.statuses[ex.status] += 1
        stats.observe_latency(f.route, latency)
        self.recorder.record(
            Record(
                f,
                v,
                ex.status,
                ex.body_bytes,
                ex.bytes_out,
                latency,
                ex.origin_time,
                ex.cache,
                ex.rid,
                ex.wall,
                ex.error,
                ex.target.decode("latin-1"),
                ex.queued_s,
            )
        )

    def record_slow(self, peer: Address, prefix: str, what: str) -> None:
        """A connection dropped for holding on: a record for detection (low_and_slow)."""
        facts = RequestFacts(
            client=peer,
            peer=peer,
            prefix=prefix,
            method="",
            host="",
            path="",
            query="",
            route="",
            target="",  # no request: volume detectors skip it, low_and_slow counts it
            query_shape="",
            header_fp="",
            user_agent="",
            has_cookie=False,
            has_auth=False,
            klass=ClientClass.ANONYMOUS,
            principal="",
        )
        wall = self.clock.wall()
        rec = Record(facts, SLOW, 408, 0, 0, 0.0, 0.0, "", "", wall, f"slow: {what}")
        self.recorder.record(rec)

    def next_request_id(self) -> str:
        self._rid_counter += 1
        return f"{self._rid_prefix}{self._rid_counter:x}"
