"""Turning validated config into core records."""

from __future__ import annotations

from seawall.config.rulespec import RuleSpec
from seawall.config.schema import Config
from seawall.core.admission import AdmissionSettings, FixedLimit, LimitSource
from seawall.core.cache import CacheSettings
from seawall.core.concurrency import AdaptiveLimit, LimitSettings
from seawall.core.errors import ConfigError
from seawall.core.facts import ClientClass
from seawall.core.routes import RouteSpec
from seawall.core.rules import LimitKey, Match, Rule, Ruleset
from seawall.core.verdict import Action

_CLASSES = {c.label: c for c in ClientClass}


def build_rule(spec: RuleSpec, now: float, origin: str = "config") -> Rule:
    m = spec.match
    return Rule(
        id=spec.id,
        action=Action[spec.action.upper()],
        match=Match(
            cidrs=tuple(m.cidrs),
            methods=frozenset(x.upper() for x in m.methods),
            hosts=frozenset(m.hosts),
            paths=tuple(m.paths),
            routes=frozenset(m.routes),
            targets=frozenset(m.targets),
            classes=frozenset(_CLASSES[c] for c in m.classes),
            user_agents=tuple(m.user_agents),
            header_fps=frozenset(m.header_fps),
            countries=frozenset(c.upper() for c in m.countries),
            asns=frozenset(m.asns),
            query_shapes=frozenset(m.query_shapes),
            ua_families=frozenset(m.ua_families),
            accounts=frozenset(m.accounts),
        ),
        rate=spec.rate,
        burst=spec.burst,
        key=LimitKey(spec.key),
        status=spec.status,
        close=spec.close,
        priority=spec.priority,
        expires=now + spec.ttl if spec.ttl > 0 else None,
        origin=origin,
        reason=spec.reason,
        strikes=spec.strikes,
        strike_window=spec.strike_window,
        mark=spec.mark,
    )


def rule_to_spec(rule: Rule, now: float) -> dict[str, object]:
    """The JSON shape of a rule, as the admin API shows it (the inverse of build_rule)."""
    m = rule.match
    match = {
        "cidrs": list(m.cidrs),
        "methods": sorted(m.methods),
        "hosts": sorted(m.hosts),
        "paths": list(m.paths),
        "routes": sorted(m.routes),
        "targets": sorted(m.targets),
        "classes": sorted(c.label for c in m.classes),
        "user_agents": list(m.user_agents),
        "header_fps": sorted(m.header_fps),
        "countries": sorted(m.countries),
        "asns": sorted(m.asns),
        "query_shapes": sorted(m.query_shapes),
        "ua_families": sorted(m.ua_families),
        "accounts": sorted(m.accounts),
    }
    return {
        "id": rule.id,
        "action": rule.action.label,
        "match": {k: v for k, v in match.items() if v},
        "rate": rule.rate,
        "burst": rule.burst,
        "key": rule.key.value,
        "status": rule.status,
        "close": rule.close,
        "priority": rule.priority,
        "ttl": round(rule.expires - now, 3) if rule.expires is not None else 0.0,
        "reason": rule.reason,
        "origin": rule.origin,
        "strikes": rule.strikes,
        "strike_window": rule.strike_window,
        "mark": rule.mark,
    }


def build_ruleset(cfg: Config, now: float) -> Ruleset:
    return Ruleset(
        1, tuple(sorted((build_rule(s, now) for s in cfg.rules), key=lambda r: r.priority))
    )


def build_routes(cfg: Config) -> list[RouteSpec]:
    return [RouteSpec(r.name, r.pattern, r.target) for r in cfg.routes]


def build_admission(cfg: Config) -> AdmissionSettings | None:
    """The admission settings, or None when admission is off."""
    a = cfg.admission
    if not a.enabled:
        return None
    routes = {r.name for r in cfg.routes}
    unknown = sorted(set(a.route_shares) - routes)
    if unknown:
        raise ConfigError(
            "admission.route_shares", f"names routes that are not configured: {unknown}"
        )
    d = a.deadlines
    return AdmissionSettings(
        max_queue=a.max_queue,
        deadlines_s=(d[0], d[1], d[2], d[3]),
        reserve=a.reserve,
        target_share=a.target_share,
        route_shares=tuple(sorted(a.route_shares.items())),
        stressed_at=a.stressed_at,
        history_size=a.history_size,
        good_after_s=a.good_after,
        good_min_ok=a.good_min_ok,
    )


def build_limit(cfg: Config) -> LimitSource:
    """A fixed origin concurrency if the operator knows it, else an adaptive one."""
    a = cfg.admission
    if a.fixed_limit:
        return FixedLimit(a.fixed_limit)
    if not a.min_limit <= a.initial_limit <= a.max_limit:
        raise ConfigError(
            "admission.initial_limit", "needs min_limit <= initial_limit <= max_limit"
        )
    return AdaptiveLimit(LimitSettings(a.initial_limit, a.min_limit, a.max_limit))


def build_cache(cfg: Config) -> tuple[CacheSettings, dict[str, float]] | None:
    """The micro-cache settings and per-route default TTLs, or None when it is off."""
    c = cfg.cache
    if not c.enabled:
        return None
    unknown = sorted(set(c.route_ttls) - {r.name for r in cfg.routes})
    if unknown:
        raise ConfigError("cache.route_ttls", f"names routes that are not configured: {unknown}")
    if c.default_ttl > c.max_ttl:
        raise ConfigError("cache.default_ttl", "must not exceed cache.max_ttl")
    settings = CacheSettings(
        max_bytes=c.max_bytes,
        max_entries=c.max_entries,
        max_object_bytes=c.max_object_bytes,
        default_ttl_s=c.default_ttl,
        max_ttl_s=c.max_ttl,
        stale_while_revalidate_s=c.stale_while_revalidate,
        stale_if_error_s=c.stale_if_error,
    )
    return settings, dict(c.route_ttls)
