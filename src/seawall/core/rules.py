"""Rules, rulesets and deltas: what the Decider enforces and how it changes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from seawall.core.facts import ClientClass, RequestFacts
from seawall.core.keys import ua_family
from seawall.core.net import CidrSet
from seawall.core.verdict import Action


class LimitKey(enum.Enum):
    """What a rate limit counts per."""

    ADDRESS = "address"
    PREFIX = "prefix"
    TOKEN = "token"
    ROUTE = "route"
    TARGET = "target"
    GLOBAL = "global"
    FINGERPRINT = "fingerprint"


@dataclass(frozen=True, slots=True)
class Match:
    """Every non-empty field must match (AND); values within one field are alternatives (OR)."""

    cidrs: tuple[str, ...] = ()
    methods: frozenset[str] = frozenset()
    hosts: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()  # prefixes; a trailing '$' means exact
    routes: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    classes: frozenset[ClientClass] = frozenset()
    user_agents: tuple[str, ...] = ()  # substrings, case-insensitive; never a reason to trust
    header_fps: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    asns: frozenset[int] = frozenset()
    query_shapes: frozenset[str] = frozenset()  # see keys.query_shape
    ua_families: frozenset[str] = frozenset()  # see keys.ua_family
    accounts: frozenset[str] = frozenset()  # keyed hashes of the accounts auth routes name


MARKS = frozenset({"step-up", "uniform"})


@dataclass(frozen=True, slots=True)
class Rule:
    """A mitigation. With `rate`, the action hits only requests above the rate per `key`."""

    id: str
    action: Action
    match: Match = field(default_factory=Match)
    rate: float = 0.0
    burst: int = 1
    key: LimitKey = LimitKey.ADDRESS
    status: int = 0  # 0: the action's usual status (403 block, 429 throttle)
    close: bool = False  # block by closing the connection silently
    priority: int = 100  # lower runs first; ties keep insertion order
    expires: float | None = None  # monotonic seconds; None: until removed
    origin: str = "config"
    reason: str = ""
    # challenge rules: an address shown more than `strikes` challenges per `strike_window`
    # seconds without solving one is a bot, and is blocked (Kill-Bots); 0: never
    strikes: int = 0
    strike_window: float = 60.0
    # an annotation instead of an action: a matching request goes on through the rules,
    # and if allowed carries the mark: "step-up" (ask the app for MFA) or "uniform" (the
    # client gets the route's uniform answer, whatever the origin said)
    mark: str = ""

    def __post_init__(self) -> None:
        if self.mark and (self.mark not in MARKS or self.action is not Action.ALLOW):
            raise ValueError(f"rule {self.id}: a mark is one of {sorted(MARKS)}, on allow rules")
        if self.mark and self.rate > 0:
            raise ValueError(f"rule {self.id}: a marking rule has no rate (it never decides)")


@dataclass(frozen=True, slots=True)
class RulesetDelta:
    """A change to a ruleset: rules added (replacing same ids) and ids removed."""

    add: tuple[Rule, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ruleset:
    version: int = 0
    rules: tuple[Rule, ...] = ()

    def apply(self, delta: RulesetDelta) -> Ruleset:
        """Remove, then add; a rule re-added under its id keeps its place (say, a ttl bump)."""
        removed = set(delta.remove)
        fresh = {r.id: r for r in delta.add}
        merged = [fresh.pop(r.id, r) for r in self.rules if r.id not in removed]
        merged += fresh.values()
        merged.sort(key=lambda r: r.priority)  # stable: ties keep their order
        return Ruleset(self.version + 1, tuple(merged))


class CompiledMatch:
    """A Match turned into the cheapest checks, most selective first."""

    __slots__ = (
        "accounts",
        "asns",
        "cidrs",
        "classes",
        "countries",
        "fps",
        "hosts",
        "methods",
        "paths",
        "routes",
        "shapes",
        "targets",
        "uafams",
        "uas",
    )

    def __init__(self, m: Match, key: str = "") -> None:
        self.cidrs = CidrSet(m.cidrs, f"{key}.cidrs") if m.cidrs else None
        self.methods = m.methods
        self.hosts = frozenset(h.lower() for h in m.hosts)
        self.paths = m.paths
        self.routes = m.routes
        self.targets = m.targets
        self.classes = m.classes
        self.uas = tuple(u.lower() for u in m.user_agents)
        self.fps = m.header_fps
        self.countries = m.countries
        self.asns = m.asns
        self.shapes = m.query_shapes
        self.uafams = m.ua_families
        self.accounts = m.accounts

    def __call__(self, f: RequestFacts) -> bool:
        if self.cidrs is not None and not self.cidrs.contains(f.client):
            return False
        if self.methods and f.method not in self.methods:
            return False
        if self.classes and f.klass not in self.classes:
            return False
        if self.routes and f.route not in self.routes:
            return False
        if self.targets and f.target not in self.targets:
            return False
        if self.hosts and f.host not in self.hosts:
            return False
        if self.paths and not _path_matches(self.paths, f.path):
            return False
        if self.accounts and f.account not in self.accounts:
            return False
        if self.fps and f.header_fp not in self.fps:
            return False
        if self.countries and f.country not in self.countries:
            return False
        if self.asns and f.asn not in self.asns:
            return False
        if self.shapes and f.query_shape not in self.shapes:
            return False
        if self.uafams and ua_family(f.user_agent) not in self.uafams:
            return False
        if self.uas:
            ua = f.user_agent.lower()
            if not any(u in ua for u in self.uas):
                return False
        return True


def _path_matches(paths: tuple[str, ...], path: str) -> bool:
    for p in paths:
        if p.endswith("$"):
            if path == p[:-1]:
                return True
        elif path.startswith(p):
            return True
    return False
