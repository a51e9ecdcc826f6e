"""Records as detection sees them: slices of one interval, and views of a few attributes.

Detectors read a whole interval's records at once (a `Slice`) rather than one record
at a time: each aggregation is then one C-level `Counter` pass, shared by every detector
that asks for it, which is what lets one core keep up with the edge.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Final

from seawall.core.facts import RequestFacts
from seawall.core.keys import ua_family
from seawall.core.record import Record
from seawall.core.verdict import Action

# the attributes a signature may use, in the order of a View's fields
ATTRS: Final = (
    "target",
    "route",
    "method",
    "header_fp",
    "ua_family",
    "query_shape",
    "country",
    "asn",
    "prefix",
    "class",
)
ATTR_INDEX: Final = {name: i for i, name in enumerate(ATTRS)}
PRINCIPAL: Final = len(ATTRS)  # a View's field after the attributes
CLIENT: Final = PRINCIPAL + 1
AUTO_PREFIX: Final = "auto-"  # rule ids the policy writes

# (target, route, method, header_fp, ua_family, query_shape, country, asn, prefix, class,
#  principal, client address)
View = tuple[str, str, str, str, str, str, str, int, str, str, str, str]


def view_of(f: RequestFacts) -> View:
    return (
        f.target,
        f.route,
        f.method,
        f.header_fp,
        ua_family(f.user_agent),
        f.query_shape,
        f.country,
        f.asn,
        f.prefix,
        f.klass.label,
        f.principal,
        f.client.text,
    )


_GETTERS: Final[dict[str, Callable[[RequestFacts], object]]] = {
    "target": attrgetter("target"),
    "route": attrgetter("route"),
    "method": attrgetter("method"),
    "header_fp": attrgetter("header_fp"),
    "ua_family": lambda f: ua_family(f.user_agent),
    "query_shape": attrgetter("query_shape"),
    "country": attrgetter("country"),
    "asn": attrgetter("asn"),
    "prefix": attrgetter("prefix"),
    "class": lambda f: f.klass.label,
    "host": attrgetter("host"),
}
# derived attributes are counted on a cheap field, then the counts are mapped (C speed)
_DERIVED: Final[dict[str, tuple[Callable[[RequestFacts], object], Callable[[Any], object]]]] = {
    "ua_family": (attrgetter("user_agent"), ua_family),
    "class": (attrgetter("klass"), attrgetter("label")),
}


def getter(attr: str) -> Callable[[RequestFacts], object]:
    return _GETTERS[attr]


@dataclass(frozen=True, slots=True)
class Load:
    """What the admission layer says about the origin at a tick: its complaints."""

    queued: int = 0  # requests waiting for an origin slot
    limit: float = 0.0  # the adaptive concurrency limit
    inflight: int = 0
    shed: int = 0  # requests shed since the previous tick

    @property
    def pressure(self) -> float:
        """0 when idle; 1 when the queue holds as much as the limit admits."""
        if self.limit <= 0:
            return 0.0
        return min(2.0, (self.inflight + self.queued) / self.limit - 1.0) if self.queued else 0.0


NO_LOAD: Final = Load()
ScopeKey = tuple[tuple[str, object], ...]  # (attribute, value) pairs; signals.Scope


class Slice:
    """One interval's records, with aggregations computed once on demand.

    `weight` is how many real records each kept record stands for (1 unless the engine
    sampled under an extreme rate), so every count here is already scaled.
    """

    __slots__ = (
        "_auto",
        "_clean",
        "_counts",
        "_groups",
        "_members",
        "facts",
        "records",
        "seconds",
        "start",
        "weight",
    )

    def __init__(
        self, records: Sequence[Record], start: float, seconds: float, weight: float = 1.0
    ) -> None:
        self.records = records
        self.facts = [r.facts for r in records]
        self.start = start
        self.seconds = max(seconds, 1e-3)
        self.weight = weight
        self._counts: dict[str, Counter[object]] = {}
        self._auto: list[bool] | None = None
        self._clean: list[RequestFacts] | None = None  # facts no automatic rule decided
        self._groups: dict[str, dict[object, list[int]]] = {}
        self._members: dict[ScopeKey, list[int]] = {}

    def __len__(self) -> int:
        return len(self.records)

    @property
    def total(self) -> float:
        return len(self.records) * self.weight

    def count_by(self, attr: str) -> Counter[object]:
        """Unweighted counts per attribute value (multiply by `weight` for real counts)."""
        found = self._counts.get(attr)
        if found is None:
            found = self._counts[attr] = _count(attr, self.facts)
        return found

    def clean_rates(self, attr: str) -> dict[object, float]:
        """Rates of the records no automatic rule decided: what baselines learn from.

        A blocked flood is not normal traffic; it also keeps these counts small while
        it lasts, which is when ticks are most expensive.
        """
        key = f"clean:{attr}"
        found = self._counts.get(key)
        if found is None:
            auto = self.auto
            if not any(auto):
                found = self.count_by(attr)
            else:
                if self._clean is None:
                    self._clean = [f for f, a in zip(self.facts, auto, strict=True) if not a]
                found = _count(attr, self._clean)
            self._counts[key] = found
        return self._per_second(found)

    def rates(self, attr: str) -> dict[object, float]:
        return self._per_second(self.count_by(attr))

    def _per_second(self, counts: Counter[object]) -> dict[object, float]:
        """Kept counts as real requests per second (the sampling weight applied)."""
        scale = self.weight / self.seconds
        return {k: n * scale for k, n in counts.items()}

    @property
    def auto(self) -> list[bool]:
        """Per record, whether an automatic rule decided it; computed once per slice."""
        if self._auto is None:
            self._auto = [is_auto(r) for r in self.records]
        return self._auto

    def members(self, scope: ScopeKey) -> list[int]:
        """Indices of the records for which every (attribute, value) of `scope` holds.

        Grouping by the first attribute is done once per slice, so every detector, the
        signatures and the incident book share it instead of rescanning the records.
        """
        found = self._members.get(scope)
        if found is not None:
            return found
        if not scope:
            found = list(range(len(self.facts)))
        else:
            (attr, value), *rest = scope
            found = self._group(attr).get(value, [])
            facts = self.facts
            for a, v in rest:
                get = _GETTERS[a]
                found = [i for i in found if get(facts[i]) == v]
        self._members[scope] = found
        return found

    def _group(self, attr: str) -> dict[object, list[int]]:
        groups = self._groups.get(attr)
        if groups is None:
            groups = self._groups[attr] = defaultdict(list)
            for i, key in enumerate(map(_GETTERS[attr], self.facts)):
                groups[key].append(i)
        return groups


def _count(attr: str, facts: Sequence[RequestFacts]) -> Counter[object]:
    """Counts per value of `attr`; a derived one is counted on its cheap field, then mapped."""
    derived = _DERIVED.get(attr)
    if derived is None:
        return Counter(map(_GETTERS[attr], facts))
    found: Counter[object] = Counter()
    for raw, n in Counter(map(derived[0], facts)).items():
        found[derived[1](raw)] += n
    return found


def is_auto(rec: Record) -> bool:
    """Whether a rule the policy wrote decided this record (so it is attack, not baseline)."""
    v = rec.verdict
    return v.action is not Action.ALLOW and v.rule_id.startswith(AUTO_PREFIX)
