"""Detection in a worker: records from the recorder into the engine, its output onwards.

The engine is the same one offline analysis and the lab use. Here it is fed by the
recorder (a sink: records arrive in batches, off the hot path) and ticked on the
monotonic clock, with the admission layer's load as origin-side context. What it decides
goes to `on_delta` (the decider in a single process, the supervisor with several
workers, which forwards to all of them within a second), and each changed incident goes
to `on_incident` (the store).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from seawall.core.record import Record
from seawall.core.rules import RulesetDelta
from seawall.detect.engine import DetectionEngine, EngineSettings
from seawall.detect.records import Load
from seawall.edge.context import EdgeContext

log = logging.getLogger("seawall.detect")

IncidentSink = Callable[[dict[str, Any]], None]


class DetectionLoop:
    """A record sink that feeds the engine, and the task that ticks it."""

    name = "detection"

    def __init__(
        self,
        ctx: EdgeContext,
        settings: EngineSettings,
        on_delta: Callable[[RulesetDelta], None],
        on_incident: IncidentSink | None = None,
        sketches: bool = False,
    ) -> None:
        """`sketches`: reports carry their source sketches, for a supervisor to merge."""
        self.ctx = ctx
        self.sketches = sketches
        self.engine = DetectionEngine(settings)
        self.on_delta = on_delta
        self.on_incident = on_incident
        self._shed_seen = 0

    def consume(self, records: list[Record]) -> None:
        self.engine.observe_many(records)

    def close(self) -> None:
        """Nothing to flush: rules expire by themselves, incidents are saved as they change."""

    def load(self) -> Load:
        gate = self.ctx.admission
        shed_total = sum(self.ctx.stats.shed.values())
        shed, self._shed_seen = shed_total - self._shed_seen, shed_total
        if gate is None:
            return Load(shed=shed)
        return gate.load(shed)

    def tick(self) -> None:
        ctx = self.ctx
        ctx.recorder.drain()  # the interval's records, all of them
        res = self.engine.tick(ctx.clock.monotonic(), self.load(), ctx.clock.wall())
        for e in res.events:
            log.info("rule %s: %s %s: %s", e.rule_id, e.verb, e.step, e.reason)
        if res.delta.add or res.delta.remove:
            self.on_delta(res.delta)
        stats = ctx.stats.gauges
        stats["detection_rules"] = len(self.engine.policy.active)
        stats["detection_sampled_out"] = self.engine.sampled_out
        stats["detection_incident_open"] = int(self.engine.book.current is not None)
        for inc in (res.closed, res.incident):
            if inc is not None and self.on_incident is not None:
                self.on_incident(inc.to_dict(self.sketches))

    async def run(self) -> None:
        interval = self.engine.settings.interval
        while True:
            await asyncio.sleep(interval)
            try:
                self.tick()
            except Exception:  # detection failing must never take the edge down
                log.exception("a detection tick failed; the edge goes on without it")

    def suggestions(self) -> list[dict[str, Any]]:
        return [
            {
                "id": a.rule_id,
                "step": a.step.label,
                "match": a.signature.describe(),
                "estimated_collateral": a.signature.collateral,
                "reason": a.signal.describe(),
            }
            for a in self.engine.policy.pending()
        ]
