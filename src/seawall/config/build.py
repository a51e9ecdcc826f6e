"""Turning validated config into core records."""

from __future__ import annotations

from seawall.config.schema import Config, RuleSpec
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
    }


def build_ruleset(cfg: Config, now: float) -> Ruleset:
    return Ruleset(
        1, tuple(sorted((build_rule(s, now) for s in cfg.rules), key=lambda r: r.priority))
    )


def build_routes(cfg: Config) -> list[RouteSpec]:
    return [RouteSpec(r.name, r.pattern, r.target) for r in cfg.routes]
