"""The admin API: health, readiness, Prometheus metrics, rules and shared indicators,
behind a bearer token."""

from __future__ import annotations

import asyncio
import hmac
import json
import math
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seawall.config.build import build_rule, rule_to_spec
from seawall.config.rulespec import RuleSpec
from seawall.core.rules import Ruleset, RulesetDelta
from seawall.edge.admin_accounts import AccountsPort, add_routes
from seawall.edge.stats import LATENCY_BUCKETS
from seawall.intel.feed import CONTENT_TYPES, parse_feed
from seawall.intel.indicators import ACTIONS, IntelError, Parsed, Reading, RuleBatch, to_rules
from seawall.runtime.clock import Clock

INTEL_MAX_BYTES = 16 * 1024 * 1024  # a STIX bundle of some 30,000 indicators
INTEL_MAX_TTL = 30 * 86400.0


class Control(Protocol):
    """What the admin API drives: one worker in-process, or a supervisor of several."""

    def ruleset(self) -> Ruleset: ...

    def apply(self, delta: RulesetDelta) -> Ruleset: ...

    def stats(self) -> dict[str, Any]: ...

    def ready(self) -> bool: ...

    def incidents(self) -> list[dict[str, Any]]: ...

    def incident(self, incident_id: str) -> dict[str, Any] | None: ...

    def suggestions(self) -> list[dict[str, Any]]: ...

    def approve(self, rule_id: str) -> bool: ...


class RulesChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    add: list[RuleSpec] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


def _buckets(counts: list[int], total: float) -> tuple[list[tuple[str, float]], float]:
    out, running = [], 0
    for bound, n in zip(LATENCY_BUCKETS, counts, strict=False):
        running += n
        out.append((repr(bound), float(running)))
    running += counts[-1]
    out.append(("+Inf", float(running)))
    return out, total


class StatsCollector:
    """Turns the summed worker counters into Prometheus families at scrape time."""

    def __init__(self, control: Control) -> None:
        self.control = control

    def collect(self) -> Iterator[Metric]:
        s = self.control.stats()
        req = CounterMetricFamily(
            "seawall_requests",
            "Requests by verdict, class and route.",
            labels=["verdict", "class", "route"],
        )
        for (verdict, klass, route), n in sorted(s["requests"].items()):
            req.add_metric([verdict, klass, route], n)
        yield req
        st = CounterMetricFamily("seawall_responses", "Responses by status.", labels=["status"])
        for status, n in sorted(s["statuses"].items()):
            st.add_metric([str(status)], n)
        yield st
        ce = CounterMetricFamily("seawall_client_errors", "Refused client input.", labels=["kind"])
        for kind, n in sorted(s["client_errors"].items()):
            ce.add_metric([kind], n)
        yield ce
        oe = CounterMetricFamily("seawall_origin_errors", "Origin failures.", labels=["kind"])
        for kind, n in sorted(s["origin_errors"].items()):
            oe.add_metric([kind], n)
        yield oe
        lat = HistogramMetricFamily(
            "seawall_request_duration_seconds", "Time from head to last byte.", labels=["route"]
        )
        for route, (counts, total) in sorted(s["latency"].items()):
            b, t = _buckets(counts, total)
            lat.add_metric([route], b, t)
        yield lat
        olat = HistogramMetricFamily("seawall_origin_duration_seconds", "Origin time to head.")
        b, t = _buckets(*s["origin_latency"])
        olat.add_metric([], b, t)
        yield olat
        wait = HistogramMetricFamily(
            "seawall_admission_wait_seconds", "Time queued requests waited for the origin."
        )
        b, t = _buckets(*s["admission_wait"])
        wait.add_metric([], b, t)
        yield wait
        shed = CounterMetricFamily(
            "seawall_shed", "Requests shed by admission.", labels=["tier", "reason"]
        )
        for (tier, reason), n in sorted(s["shed"].items()):
            shed.add_metric([tier, reason], n)
        yield shed
        cache = CounterMetricFamily(
            "seawall_cache",
            "Micro-cache results (hit, stale, miss, coalesced...).",
            labels=["result"],
        )
        for result, n in sorted(s["cache"].items()):
            cache.add_metric([result], n)
        yield cache
        by = ["origin"]
        per_origin: list[GaugeMetricFamily | CounterMetricFamily] = [
            GaugeMetricFamily("seawall_origin_inflight", "Requests at the origin.", labels=by),
            GaugeMetricFamily(
                "seawall_origin_latency_ewma_seconds", "Time to head, EWMA.", labels=by
            ),
            GaugeMetricFamily(
                "seawall_origin_latency_p90_seconds", "Time to head, p90.", labels=by
            ),
            CounterMetricFamily("seawall_origin_5xx", "Origin 5xx answers.", labels=by),
            CounterMetricFamily("seawall_origin_failures", "Failed exchanges.", labels=by),
        ]
        for name, values in sorted(s["origins"].items()):
            for family, value in zip(per_origin, values, strict=True):
                family.add_metric([name], value)
        yield from per_origin
        hot = GaugeMetricFamily(
            "seawall_bulkhead_inflight",
            "Origin slots held by the hottest targets.",
            labels=["target"],
        )
        for target, n in s["hot_targets"]:
            hot.add_metric([target], n)
        yield hot
        yield CounterMetricFamily(
            "seawall_connections", "Client connections accepted.", value=s["connections_total"]
        )
        yield GaugeMetricFamily(
            "seawall_connections_open", "Client connections open.", value=s["connections_open"]
        )
        ref = CounterMetricFamily(
            "seawall_connections_refused", "Connections refused by caps.", labels=["cap"]
        )
        for cap, n in sorted(s["connections_refused"].items()):
            ref.add_metric([cap], n)
        yield ref
        yield CounterMetricFamily(
            "seawall_pool_created", "Origin connections opened.", value=s["pool_created"]
        )
        yield CounterMetricFamily(
            "seawall_pool_reused", "Origin connections reused.", value=s["pool_reused"]
        )
        for name, value in sorted(s["gauges"].items()):
            yield GaugeMetricFamily(f"seawall_{name}", f"{name.replace('_', ' ')}.", value=value)


@dataclass(frozen=True, slots=True)
class IntelQuery:
    action: str
    ttl: float
    source: str


def _intel_query(request: web.Request) -> IntelQuery:
    """?action=block|challenge|throttle&ttl=SECONDS&source=TAG, or a 400 that says why."""
    q = request.query
    action = q.get("action", "block")
    if action not in ACTIONS:
        raise web.HTTPBadRequest(text=f"action must be one of {', '.join(ACTIONS)}\n")
    try:
        ttl = float(q.get("ttl", "86400"))
    except ValueError:
        ttl = math.nan
    if not 0 < ttl <= INTEL_MAX_TTL:
        raise web.HTTPBadRequest(text=f"ttl must be seconds in (0, {INTEL_MAX_TTL:.0f}]\n")
    source = q.get("source", "")
    if len(source) > 100 or not source.isprintable():
        raise web.HTTPBadRequest(text="source must be printable text of at most 100 characters\n")
    return IntelQuery(action, ttl, source)


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed `limit`."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise web.HTTPRequestEntityTooLarge(limit, declared)
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


def _intel_rules(
    body: bytes, fmt: str, reading: Reading, query: IntelQuery, wall: float, mono: float
) -> tuple[Parsed, RuleBatch]:
    _, parsed = parse_feed(body, "request body", wall, fmt, reading)
    return parsed, to_rules(parsed.indicators, wall, mono, query.action, query.ttl)


def intel_handler(
    control: Control,
    clock: Clock,
    authorized: Callable[[web.Request], None],
    max_bytes: int,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """POST /v1/intel: a peer's indicators (STIX bundle or plain list) in, as rules.

    The rules hold anonymous clients only, expire with the indicators (at most `ttl`),
    and reach every worker through `control.apply`.
    """

    async def post_intel(request: web.Request) -> web.Response:
        """A peer's indicators (STIX bundle or plain list) in, as anonymous-only rules."""
        authorized(request)
        query = _intel_query(request)
        fmt = CONTENT_TYPES.get(request.content_type)
        if fmt is None:
            raise web.HTTPUnsupportedMediaType(
                text=f"Content-Type must be one of {', '.join(CONTENT_TYPES)}\n"
            )
        body = await _read_body(request, max_bytes)
        wall, mono = clock.wall(), clock.monotonic()
        source = query.source or ("admin" if fmt == "list" else "")
        reading = Reading(ttl=query.ttl, source=source, max_bytes=max_bytes)
        try:  # 100,000 indicators take a second or so: off the loop
            parsed, batch = await asyncio.to_thread(
                _intel_rules, body, fmt, reading, query, wall, mono
            )
        except IntelError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if batch.rules:
            control.apply(RulesetDelta(add=batch.rules))
        skipped = dict(parsed.skipped)
        for reason, n in (("expired", batch.expired), ("over_cap", batch.dropped)):
            if n:
                skipped[reason] = skipped.get(reason, 0) + n
        answer = {
            "rules": [r.id for r in batch.rules],
            "indicators": batch.indicators,
            "skipped": skipped,
            "problems": list(parsed.problems),
        }
        return web.json_response(answer)

    return post_intel


def make_app(
    control: Control,
    token: str,
    clock: Clock,
    intel_max_bytes: int = INTEL_MAX_BYTES,
    accounts: AccountsPort | None = None,
) -> web.Application:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatsCollector(control))

    def authorized(request: web.Request) -> None:
        if not token:
            raise web.HTTPForbidden(
                text="set admin.token in the configuration to use this endpoint\n"
            )
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise web.HTTPUnauthorized(
                text="a valid 'Authorization: Bearer <admin.token>' is required\n",
                headers={"WWW-Authenticate": 'Bearer realm="seawall-admin"'},
            )

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if control.ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready\n")

    async def metrics(request: web.Request) -> web.Response:
        authorized(request)
        return web.Response(
            body=generate_latest(registry), content_type="text/plain", charset="utf-8"
        )

    def rules_json() -> dict[str, Any]:
        rs, now = control.ruleset(), clock.monotonic()
        return {"version": rs.version, "rules": [rule_to_spec(r, now) for r in rs.rules]}

    async def get_rules(request: web.Request) -> web.Response:
        authorized(request)
        return web.json_response(rules_json())

    async def post_rules(request: web.Request) -> web.Response:
        authorized(request)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise web.HTTPBadRequest(text=f"body is not JSON: {exc}\n") from None
        if isinstance(body, dict) and "id" in body:
            body = {"add": [body]}
        try:
            change = RulesChange.model_validate(body)
        except ValidationError as exc:
            errors = [{"at": ".".join(map(str, e["loc"])), "error": e["msg"]} for e in exc.errors()]
            return web.json_response(
                {"error": "invalid rules change", "details": errors}, status=400
            )
        now = clock.monotonic()
        delta = RulesetDelta(
            add=tuple(build_rule(s, now, origin="admin") for s in change.add),
            remove=tuple(change.remove),
        )
        control.apply(delta)
        return web.json_response(rules_json())

    async def delete_rule(request: web.Request) -> web.Response:
        authorized(request)
        rule_id = request.match_info["rule_id"]
        if all(r.id != rule_id for r in control.ruleset().rules):
            raise web.HTTPNotFound(text=f"no rule {rule_id!r}\n")
        control.apply(RulesetDelta(remove=(rule_id,)))
        return web.json_response(rules_json())

    async def get_incidents(request: web.Request) -> web.Response:
        authorized(request)
        found = await asyncio.to_thread(control.incidents)
        return web.json_response({"incidents": found})

    async def get_incident(request: web.Request) -> web.Response:
        authorized(request)
        incident_id = request.match_info["incident_id"]
        found = await asyncio.to_thread(control.incident, incident_id)
        if found is None:
            raise web.HTTPNotFound(text=f"no incident {incident_id!r}\n")
        return web.json_response(found)

    async def get_suggestions(request: web.Request) -> web.Response:
        authorized(request)
        return web.json_response({"suggestions": control.suggestions()})

    async def approve(request: web.Request) -> web.Response:
        authorized(request)
        rule_id = request.match_info["rule_id"]
        if not control.approve(rule_id):
            raise web.HTTPNotFound(text=f"no suggested rule {rule_id!r} waits for approval\n")
        return web.json_response({"approved": rule_id, "applied_within_s": 1.0})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/rules", get_rules)
    app.router.add_post("/v1/rules", post_rules)
    app.router.add_delete("/v1/rules/{rule_id}", delete_rule)
    app.router.add_post("/v1/rules/{rule_id}/approve", approve)
    app.router.add_get("/v1/suggestions", get_suggestions)
    app.router.add_get("/v1/incidents", get_incidents)
    app.router.add_get("/v1/incidents/{incident_id}", get_incident)
    app.router.add_post("/v1/intel", intel_handler(control, clock, authorized, intel_max_bytes))
    if accounts is not None:
        add_routes(app, accounts, authorized, _read_body)
    return app


async def start_admin(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner
