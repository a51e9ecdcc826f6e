"""Signatures: the conjunction of attribute values that best separates an attack.

Given the anonymous records a detector points at (the attack sample, which still holds
some legitimate traffic) and the baseline window (what normal traffic looks like), build
greedily:

1. For every attribute, take the values over-represented in the attack sample (share at
   least `LIFT` times their baseline share and at least `MIN_SHARE`), most frequent
   first, until they cover 95% of it or `MAX_VALUES` are taken. An attribute that needs
   more values than that carries no signal and is left out: source prefixes when the
   attack comes from thousands of them, as Cloudflare's dosd drops them. Coarse
   attributes may take more values (`MAX_VALUES_BY`): a botnet's dozen stale browser
   versions are one signal, however many of them it rotates through.
2. Among attributes whose values still cover at least `MIN_COVERAGE` of the attack, add
   the one that leaves the least baseline traffic matched (the collateral); on a tie,
   who sends it and how (fingerprint, User-Agent family, query shape, prefix, ASN,
   country) beats where it goes (target, route, method). Stop when the collateral is
   below `ENOUGH` or nothing lowers it further.
3. If only where-attributes were chosen (a page nobody visits in the baseline leaves
   no collateral to lower), add the best who-attribute that still covers the attack:
   the rule then spares the people on that page.

A signature made only of where-attributes is not separable: it would hit every person
on that page, and a crowd differs from the baseline in exactly that way.

The result says how much of the attack it covers, and per class the share of baseline
requests it would hit, with the distinct verified users and apps among them. Automatic
rules only ever act on anonymous clients, so `collateral` (the figure the policy acts
on) is the anonymous share; the others are reported so a reader sees who is exempt.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Final

from seawall.core.facts import ClientClass
from seawall.core.rules import Match
from seawall.detect.records import ATTR_INDEX, CLIENT, PRINCIPAL, View

LIFT: Final = 2.0
MIN_SHARE: Final = 0.02
MAX_VALUES: Final = 8
MAX_VALUES_BY: Final = {"ua_family": 16, "header_fp": 16, "query_shape": 16}
MIN_COVERAGE: Final = 0.8
ENOUGH: Final = 1e-4
MAX_CONDITIONS: Final = 4
# fewer baseline views than this and collateral is unknown: with none of 60 matched, the
# rule of three bounds the true share at 3/60 = 5%, the challenge threshold
MIN_BASELINE: Final = 60
# where a request goes, as opposed to who sends it and how: a match on these alone hits
# every person on that page, however small a share of the whole site they are
WHERE: Final = frozenset({"target", "route", "method"})
# ties go to who-and-how attributes first, the source prefix first of all (a scanner's
# one /24 says more than its fingerprint; a botnet's thousands drop out on their own)
_CANDIDATES: Final = (
    "prefix",
    "header_fp",
    "ua_family",
    "query_shape",
    "asn",
    "country",
    "target",
    "route",
    "method",
)
_CLASS: Final = ATTR_INDEX["class"]


@dataclass(frozen=True, slots=True)
class Condition:
    attr: str
    values: frozenset[object]
    attack_share: float  # of the attack sample (within earlier conditions) it keeps
    baseline_share: float  # of baseline anonymous traffic (within earlier conditions)

    @property
    def strength(self) -> float:
        """Signal strength: how much better it tells attack from baseline (Youden's J)."""
        return self.attack_share - self.baseline_share

    def describe(self) -> str:
        vals = sorted(map(str, self.values))
        shown = vals[0] if len(vals) == 1 else "{" + ", ".join(vals) + "}"
        return f"{self.attr}={shown}"


@dataclass(frozen=True, slots=True)
class Signature:
    conditions: tuple[Condition, ...]
    coverage: float  # share of the attack sample it matches
    collateral: float  # share of baseline anonymous requests it would hit
    by_class: tuple[tuple[str, float], ...]  # per class, the share of its baseline hit
    users: int  # distinct verified users in the baseline it matches (exempt from rules)
    apps: int  # distinct api_apps and gateways likewise
    attack_sample: int
    baseline_sample: int
    known: bool  # False: too little baseline to estimate collateral; never block then
    _index: tuple[tuple[int, frozenset[object]], ...] = field(default=(), repr=False)

    @property
    def id(self) -> str:
        text = "&".join(f"{c.attr}={sorted(map(str, c.values))}" for c in self.conditions)
        return hashlib.blake2b(text.encode(), digest_size=5).hexdigest()

    @property
    def separable(self) -> bool:
        """Tells attack from people by who sends it or how, not only by where it goes."""
        return self.coverage >= MIN_COVERAGE and any(c.attr not in WHERE for c in self.conditions)

    def matches(self, v: View) -> bool:
        return all(v[i] in values for i, values in self._index)

    def describe(self) -> str:
        return " AND ".join(c.describe() for c in self.conditions) or "(everything)"

    def to_match(self) -> Match:
        """The rule's match: these conditions, on anonymous clients only."""
        fields: dict[str, object] = {"classes": frozenset({ClientClass.ANONYMOUS})}
        for c in self.conditions:
            name, conv = _MATCH_FIELDS[c.attr]
            fields[name] = conv(c.values)
        return Match(**fields)  # type: ignore[arg-type]


_MATCH_FIELDS: Final[dict[str, tuple[str, Callable[[frozenset[object]], object]]]] = {
    "target": ("targets", frozenset),
    "route": ("routes", frozenset),
    "method": ("methods", frozenset),
    "header_fp": ("header_fps", frozenset),
    "ua_family": ("ua_families", frozenset),
    "query_shape": ("query_shapes", frozenset),
    "country": ("countries", frozenset),
    "asn": ("asns", frozenset),
    "prefix": ("cidrs", lambda vs: tuple(sorted(map(str, vs)))),
}


def _shares(views: Sequence[View], weights: Sequence[float], i: int) -> dict[object, float]:
    # (value, weight) pairs counted at C speed: weights repeat (one per baseline second)
    acc: defaultdict[object, float] = defaultdict(float)
    for (value, w), n in Counter(zip(map(itemgetter(i), views), weights, strict=True)).items():
        acc[value] += w * n
    total = sum(acc.values()) or 1.0
    return {k: n / total for k, n in acc.items()}


def _pick_values(
    attack: dict[object, float], base: dict[object, float], most: int = MAX_VALUES
) -> frozenset[object]:
    chosen: list[object] = []
    covered = 0.0
    for value, share in sorted(attack.items(), key=lambda kv: -kv[1]):
        if covered >= 0.95:
            break
        if share < MIN_SHARE:
            break
        if share < LIFT * base.get(value, 0.0):
            continue  # as common in normal traffic: no signal
        chosen.append(value)
        covered += share
        if len(chosen) > most:
            return frozenset()  # too many values: this attribute carries no signal
    return frozenset(chosen)


@dataclass(slots=True)
class _Sets:
    attack: list[View]
    attack_w: list[float]
    base: list[View]
    base_w: list[float]


def _narrow(s: _Sets, i: int, values: frozenset[object]) -> _Sets:
    a = [(v, w) for v, w in zip(s.attack, s.attack_w, strict=True) if v[i] in values]
    b = [(v, w) for v, w in zip(s.base, s.base_w, strict=True) if v[i] in values]
    return _Sets([v for v, _ in a], [w for _, w in a], [v for v, _ in b], [w for _, w in b])


def build(
    attack: Sequence[View],
    baseline: Sequence[View],
    baseline_weights: Sequence[float],
    attack_share: float = 1.0,
) -> Signature:
    """The signature of `attack` (anonymous views) against the baseline window.

    `attack_share`: the part of the sample thought to be attack (the rest is the
    legitimate traffic that shares its scope); coverage is measured against it.
    """
    need = MIN_COVERAGE * min(1.0, max(0.2, attack_share))
    anon = ClientClass.ANONYMOUS.label
    base = [(v, w) for v, w in zip(baseline, baseline_weights, strict=True) if v[_CLASS] == anon]
    base_total = sum(w for _, w in base) or 1.0
    cur = _Sets(list(attack), [1.0] * len(attack), [v for v, _ in base], [w for _, w in base])
    conditions: list[Condition] = []
    coverage = 1.0
    collateral = 1.0
    while len(conditions) < MAX_CONDITIONS and collateral > ENOUGH and cur.attack:
        best = _best_condition(cur, {c.attr for c in conditions}, coverage, base_total, need)
        if best is None or best[2] >= collateral * 0.9:
            break
        cond, cur, collateral, coverage = best[0], best[1], best[2], best[3]
        conditions.append(cond)
    if conditions and all(c.attr in WHERE for c in conditions) and cur.attack:
        whole = _Sets(cur.attack, cur.attack_w, [v for v, _ in base], [w for _, w in base])
        who = _who(whole, {c.attr for c in conditions}, coverage, base_total, need)
        if who is not None:
            conditions.append(who[0])
            cur = _narrow(cur, ATTR_INDEX[who[0].attr], who[0].values)
            coverage = who[3]
    coverage = min(1.0, coverage / max(need / MIN_COVERAGE, 1e-9))
    return _finish(tuple(conditions), coverage, attack, baseline, baseline_weights, len(base))


def _who(
    whole: _Sets, used: set[str], coverage: float, base_total: float, need: float
) -> tuple[Condition, _Sets, float, float] | None:
    """Where it goes is all that lowered the collateral: still tell the attack apart by
    who sends it, if anything does, so people on that page are spared. Values are judged
    against the whole baseline, since a page nobody visits has none to compare with."""
    return _best_condition(whole, used | WHERE, coverage, base_total, need)


def _best_condition(
    cur: _Sets, used: set[str], coverage: float, base_total: float, need: float
) -> tuple[Condition, _Sets, float, float] | None:
    best: tuple[Condition, int, float, float] | None = None
    base_now = sum(cur.base_w) / base_total  # the baseline share still matched
    for attr in _CANDIDATES:
        if attr in used:
            continue
        i = ATTR_INDEX[attr]
        a_sh, b_sh = _shares(cur.attack, cur.attack_w, i), _shares(cur.base, cur.base_w, i)
        values = _pick_values(a_sh, b_sh, MAX_VALUES_BY.get(attr, MAX_VALUES))
        if not values:
            continue
        kept = sum(a_sh[v] for v in values)
        if coverage * kept < need:
            continue
        b_kept = sum(b_sh.get(v, 0.0) for v in values)
        coll = base_now * b_kept
        cand = (Condition(attr, values, kept, b_kept), i, coll, coverage * kept)
        if best is None or (coll, -cand[3]) < (best[2], -best[3]):
            best = cand  # strict: on a tie the earlier (who-and-how) attribute stays
    if best is None:
        return None
    cond, i, coll, covered = best
    return cond, _narrow(cur, i, cond.values), coll, covered  # only the chosen one narrows


def _finish(
    conditions: tuple[Condition, ...],
    coverage: float,
    attack: Sequence[View],
    baseline: Sequence[View],
    weights: Sequence[float],
    anon_views: int,
) -> Signature:
    index = tuple((ATTR_INDEX[c.attr], c.values) for c in conditions)
    hit: defaultdict[str, float] = defaultdict(float)
    total: defaultdict[str, float] = defaultdict(float)
    users: set[str] = set()
    apps: set[str] = set()
    for v, w in zip(baseline, weights, strict=True):
        klass = str(v[_CLASS])
        total[klass] += w
        if conditions and all(v[i] in vals for i, vals in index):
            hit[klass] += w
            if klass == ClientClass.USER.label:
                users.add(str(v[PRINCIPAL] or v[CLIENT]))
            elif klass != ClientClass.ANONYMOUS.label:
                apps.add(str(v[PRINCIPAL] or v[CLIENT]))
    by_class = tuple(sorted((k, hit[k] / t) for k, t in total.items() if t > 0))
    anon = dict(by_class).get(ClientClass.ANONYMOUS.label, 0.0)
    known = anon_views >= MIN_BASELINE
    return Signature(
        conditions,
        coverage if conditions else 0.0,
        anon if conditions else 1.0,
        by_class,
        len(users),
        len(apps),
        len(attack),
        len(baseline),
        known,
        index,
    )
