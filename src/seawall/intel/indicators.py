"""Indicators: attacking addresses and networks, with validity, confidence and provenance.

An indicator comes from an incident report (`derive.py`) or from a peer (`stix.py`,
`lists.py`), and becomes an edge rule for anonymous clients only (`to_rules`). Every way
in goes through a `Collector`, which normalises, bounds and de-duplicates, and counts
what it skips by reason.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from seawall.core.errors import SeawallError
from seawall.core.facts import ClientClass
from seawall.core.rules import LimitKey, Match, Rule
from seawall.core.verdict import Action

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
KINDS = ("ipv4", "ipv6", "cidr4", "cidr6")
MAX_PROBLEMS = 20  # problems kept word for word; the rest are only counted
DEFAULT_TTL = 86400.0
DEFAULT_CONFIDENCE = 50


class IntelError(SeawallError):
    """Input that cannot be read at all; `where` names it (a file, a request body)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Bounds:
    """What an import or export accepts; the defaults refuse what would hurt bystanders."""

    max_indicators: int = 100_000
    allow_special: bool = False  # private, loopback, link-local, reserved, multicast...
    min_prefix_v4: int = 16  # a wider network is refused ("too_wide")
    min_prefix_v6: int = 32


DEFAULT_BOUNDS = Bounds()


@dataclass(frozen=True, slots=True)
class Reading:
    """How an import reads a peer's file or request body."""

    ttl: float = DEFAULT_TTL  # validity of indicators that state none
    source: str = ""  # provenance; '': the file's own (a STIX creator) or its name
    confidence: int = DEFAULT_CONFIDENCE  # of indicators that state none
    bounds: Bounds = DEFAULT_BOUNDS
    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 32  # JSON nesting


DEFAULT_READING = Reading()


@dataclass(frozen=True, slots=True)
class Indicator:
    """One attacking address or network. Times are epoch seconds, whole."""

    kind: str  # ipv4 | ipv6 | cidr4 | cidr6
    value: str  # normalised: the network address, "/len" only for a network
    valid_from: float
    valid_until: float
    confidence: int  # 0-100
    source: str  # provenance: who says so
    description: str = ""
    incident: str = ""

    @property
    def v6(self) -> bool:
        return self.kind in ("ipv6", "cidr6")

    @property
    def network(self) -> Network:
        return ipaddress.ip_network(self.value)


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a reading produced: the indicators, skips by reason, the first problems in words."""

    indicators: tuple[Indicator, ...]
    skipped: Mapping[str, int]
    problems: tuple[str, ...] = ()


def clean_text(text: object, limit: int = 200, ascii_only: bool = False) -> str:
    """Untrusted text made safe for one line of a report or a config comment."""
    s = text if isinstance(text, str) else str(text)
    out = "".join(
        c if c.isprintable() and (c.isascii() or not ascii_only) else "?" for c in s[: limit + 1]
    )
    return out if len(out) <= limit else out[: limit - 3] + "..."


def parse_network(text: str) -> Network:
    """A network from an address or CIDR; host bits dropped, IPv4-mapped IPv6 unwrapped."""
    if len(text) > 64:
        raise ValueError("too long for an address")
    net = ipaddress.ip_network(text.strip(), strict=False)
    if isinstance(net, ipaddress.IPv6Network):
        mapped = net.network_address.ipv4_mapped
        if mapped is not None and net.prefixlen >= 96:
            return ipaddress.IPv4Network((mapped, net.prefixlen - 96), strict=False)
    return net


def describe_network(net: Network) -> tuple[str, str]:
    """(kind, value) of a network: a full-length one is a bare address."""
    if net.version == 4:
        return ("ipv4", str(net.network_address)) if net.prefixlen == 32 else ("cidr4", str(net))
    return ("ipv6", str(net.network_address)) if net.prefixlen == 128 else ("cidr6", str(net))


def refusal(net: Network, bounds: Bounds) -> str:
    """Why `net` may not be shared or enforced, or '' when it may."""
    if not bounds.allow_special and (not net.is_global or net.is_multicast):
        return "special"
    least = bounds.min_prefix_v4 if net.version == 4 else bounds.min_prefix_v6
    if net.prefixlen < least:
        return "too_wide"
    return ""


class Collector:
    """Builds one reading's indicators: normalised, checked, bounded, de-duplicated."""

    def __init__(self, bounds: Bounds, max_problems: int = MAX_PROBLEMS) -> None:
        self.bounds = bounds
        self.max_problems = max_problems
        self.found: dict[str, Indicator] = {}
        self.skipped: dict[str, int] = {}
        self.problems: list[str] = []

    def skip(self, reason: str, problem: str = "") -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if problem and len(self.problems) < self.max_problems:
            self.problems.append(problem)

    def add(self, text: str, where: str = "", **fields: Any) -> bool:
        """Adds `text` (an address or CIDR) with the Indicator `fields`; False when skipped."""
        try:
            net = parse_network(text)
        except ValueError:
            self.skip("not_an_address", f"{where}: {clean_text(text, 80)!r} is not an address")
            return False
        reason = refusal(net, self.bounds)
        if reason == "special":
            self.skip(reason, f"{where}: {net} is private, loopback, reserved or multicast")
            return False
        if reason:
            b = self.bounds
            wide = f"is wider than /{b.min_prefix_v4} (IPv4) or /{b.min_prefix_v6} (IPv6)"
            self.skip(reason, f"{where}: {net} {wide}")
            return False
        kind, value = describe_network(net)
        old = self.found.get(value)
        if old is None and len(self.found) >= self.bounds.max_indicators:
            self.skip("over_cap")
            return False
        fields["valid_from"] = float(math.floor(fields["valid_from"]))
        fields["valid_until"] = float(math.floor(fields["valid_until"]))
        fields["confidence"] = max(0, min(100, int(fields["confidence"])))
        new = Indicator(kind, value, **fields)
        if old is not None:
            self.skip("duplicate")
            if old.confidence >= new.confidence:
                return False
        self.found[value] = new
        return True

    def result(self) -> Parsed:
        return Parsed(tuple(self.found.values()), dict(self.skipped), tuple(self.problems))


def collapse(indicators: Iterable[Indicator]) -> tuple[list[Indicator], int]:
    """Drops every indicator inside another's network (an address in an exported prefix).

    Returns the rest in address order and how many were dropped.
    """
    nets = sorted(
        ((i.network, i) for i in indicators),
        key=lambda p: (p[0].version, int(p[0].network_address), p[0].prefixlen),
    )
    kept: list[Indicator] = []
    cover: Network | None = None
    for net, ind in nets:
        if cover is not None and cover.version == net.version and net.subnet_of(cover):  # type: ignore[arg-type]
            continue
        cover = net
        kept.append(ind)
    return kept, len(nets) - len(kept)


# ---- rules ----------------------------------------------------------------------------------

ACTIONS = {"block": Action.BLOCK, "challenge": Action.CHALLENGE, "throttle": Action.THROTTLE}
ANONYMOUS_ONLY = frozenset({ClientClass.ANONYMOUS})  # never api_app, gateway or user


@dataclass(frozen=True, slots=True)
class RuleBatch:
    """Rules made from indicators, with what did not make it."""

    rules: tuple[Rule, ...]
    indicators: int  # indicators the rules hold
    expired: int  # valid_until already past
    dropped: int  # over max_indicators


@dataclass(frozen=True, slots=True)
class RuleShape:
    """How indicators become rules besides their action and lifetime."""

    max_indicators: int = 100_000
    max_rules_per_source: int = 8  # distinct expiries beyond this share rules (the earliest)
    throttle_rate: float = 1.0  # requests/s per address before a throttle rule answers 429
    throttle_burst: int = 10
    priority: int = 100


DEFAULT_SHAPE = RuleShape()


def slug(text: str) -> str:
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in text.lower()).split()
    return "-".join(words)[:32].strip("-") or "unknown"


def _sort_key(cidr: str) -> tuple[int, int, int]:
    net = ipaddress.ip_network(cidr)
    return net.version, int(net.network_address), net.prefixlen


def _groups(lives: dict[str, float], most: int) -> list[tuple[float, list[str]]]:
    """Values grouped by lifetime; over `most` distinct lifetimes, neighbours share the
    earliest, so no address is enforced past its valid_until."""
    distinct = sorted(set(lives.values()))
    n = len(distinct)
    bucket = {life: (i * most) // n if n > most else i for i, life in enumerate(distinct)}
    out: dict[int, tuple[float, list[str]]] = {}
    for value, life in lives.items():
        b = bucket[life]
        first, values = out.get(b, (life, []))
        values.append(value)
        out[b] = (min(first, life), values)
    return [out[b] for b in sorted(out)]


def to_rules(
    indicators: Iterable[Indicator],
    now_wall: float,
    now_mono: float,
    action: str = "block",
    max_ttl: float = DEFAULT_TTL,
    shape: RuleShape = DEFAULT_SHAPE,
) -> RuleBatch:
    """Edge rules for anonymous clients, one per provenance (and lifetime group).

    A rule expires at monotonic `now_mono` + min(valid_until - `now_wall`, `max_ttl`).
    Its id is `intel-<provenance>-<hash of action and networks>`, so importing the same
    networks again replaces the rule (a new expiry) instead of adding one.
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {sorted(ACTIONS)}, not {action!r}")
    by_source: dict[str, dict[str, float]] = {}
    expired = dropped = kept = 0
    for ind in indicators:
        life = min(ind.valid_until - now_wall, max_ttl)
        if life <= 0:
            expired += 1
            continue
        lives = by_source.setdefault(ind.source, {})
        if ind.value not in lives and kept >= shape.max_indicators:
            dropped += 1
            continue
        kept += ind.value not in lives
        lives[ind.value] = min(life, lives.get(ind.value, life))
    rules = []
    for source in sorted(by_source):
        for life, values in _groups(by_source[source], shape.max_rules_per_source):
            rules.append(
                _rule(source, action, sorted(values, key=_sort_key), now_mono + life, shape)
            )
    return RuleBatch(tuple(rules), kept, expired, dropped)


def _rule(source: str, action: str, cidrs: list[str], expires: float, shape: RuleShape) -> Rule:
    digest = hashlib.sha256("\n".join([source, action, *cidrs]).encode()).hexdigest()[:12]
    rule = Rule(
        id=f"intel-{slug(source)}-{digest}",
        action=ACTIONS[action],
        match=Match(cidrs=tuple(cidrs), classes=ANONYMOUS_ONLY),
        priority=shape.priority,
        expires=expires,
        origin="intel",
        reason=f"intel from {clean_text(source, 64)}: {len(cidrs)} networks",
    )
    if rule.action is Action.THROTTLE:  # a throttle without a rate would refuse every request
        return replace(
            rule, rate=shape.throttle_rate, burst=shape.throttle_burst, key=LimitKey.ADDRESS
        )
    return rule
