"""The campaign book: detectors' findings grouped into campaigns, kept from start to end.

Each tick the book gets every finding that is true now. Findings about specific accounts
(keyed `account:` or `pair:`) are joined when they name the same account, or when the
same attacking address, /24 prefix or client fingerprint worked against several
accounts: that shared infrastructure is what makes a small group of accounts one
campaign. Findings about an attacker (an address, prefix, fingerprint or password,
which list the accounts it touched) and broad ones (stuffing, spraying, enumeration) are
grouped by shared sources and fingerprints instead, as broad campaigns whose accounts
are never warned as a group. A campaign keeps its id while any of its accounts (or,
broad, its sources) keep showing up, grows as they do, and closes after `quiet` seconds
without a finding. Parts of one attack first seen apart are merged into the oldest, so
warnings sent under its id stay the only ones.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from seawall.accounts.events import MAX_LISTED, Campaign, Finding

TARGETED = "targeted"
BROAD = "broad"
ATTACH_ONLY = frozenset({"takeover_risk"})
FLAGGED = "fingerprint:"  # the key of a finding about one client fingerprint
ACCOUNT_KEYS = ("account:", "pair:")  # the keys of claims about one account
_MAX_FLAGGED = 16
_GROUP_BOOST = 0.7  # each further linked account keeps 70% of the remaining doubt
_MAX_TRACKED = 10_000  # sources, prefixes, ASNs, fingerprints kept per campaign


@dataclass(frozen=True, slots=True)
class BookSettings:
    small_group: int = 50  # most accounts a targeted campaign holds; beyond, it is broad
    quiet: float = 6 * 3600.0
    max_open: int = 1000


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent.setdefault(x, x)
        while parent != x:
            grand = self.parent[parent]
            self.parent[x] = grand
            x, parent = parent, grand
        return x

    def union(self, items: Iterable[str]) -> None:
        it = iter(items)
        first = next(it, None)
        if first is None:
            return
        root = self.find(first)
        for other in it:
            r = self.find(other)
            if r != root:
                self.parent[r] = root


@dataclass(slots=True)
class _Open:
    """What the book knows of one campaign while it is open."""

    id: str
    kind: str
    start: float
    last: float
    confidence: float = 0.0
    accounts: Counter[str] = field(default_factory=Counter)
    detectors: set[str] = field(default_factory=set)
    sources: Counter[str] = field(default_factory=Counter)
    prefixes: Counter[str] = field(default_factory=Counter)
    asns: Counter[int] = field(default_factory=Counter)
    fingerprints: Counter[str] = field(default_factory=Counter)
    flagged: set[str] = field(default_factory=set)
    evidence: dict[str, float] = field(default_factory=dict)
    harvesting: bool = False
    decision: str = ""
    state: str = "open"

    def absorb(self, findings: Sequence[Finding]) -> None:
        for f in findings:
            self.last = max(self.last, f.last)
            self.detectors.add(f.detector)
            if f.detector == "recovery_harvesting":
                self.harvesting = True
            for a in f.accounts:
                self.accounts[a] += f.count
            if f.key.startswith(FLAGGED) and len(self.flagged) < _MAX_FLAGGED:
                self.flagged.add(f.key.removeprefix(FLAGGED))
            _bounded(self.sources, f.sources, f.count)
            _bounded(self.prefixes, f.prefixes, f.count)
            _bounded(self.asns, f.asns, f.count)
            _bounded(self.fingerprints, f.fingerprints, f.count)
            for k, v in f.evidence:
                key = f"{f.detector}.{k}"
                self.evidence[key] = max(self.evidence.get(key, 0.0), v)

    def absorb_attacker(self, f: Finding) -> None:
        """Evidence and infrastructure of `f`, without making what it touched targets."""
        self.absorb([msgspec.structs.replace(f, accounts=())])

    def view(self, high_risk: frozenset[str]) -> Campaign:
        accounts = tuple(a for a, _ in self.accounts.most_common(MAX_LISTED))
        return Campaign(
            id=self.id,
            kind=self.kind,
            start=self.start,
            last=self.last,
            confidence=round(self.confidence, 4),
            accounts=accounts,
            detectors=tuple(sorted(self.detectors)),
            sources=len(self.sources),
            prefixes=len(self.prefixes),
            asns=len(self.asns),
            top_sources=tuple(s for s, _ in self.sources.most_common(MAX_LISTED)),
            top_prefixes=tuple(p for p, _ in self.prefixes.most_common(50)),
            top_asns=tuple(a for a, _ in self.asns.most_common(20)),
            fingerprints=tuple(f for f, _ in self.fingerprints.most_common(10)),
            flagged_fingerprints=tuple(sorted(self.flagged)),
            high_risk=tuple(a for a in accounts if a in high_risk),
            harvesting=self.harvesting,
            evidence=tuple(sorted(self.evidence.items())),
            state=self.state,
            decision=self.decision,
        )


def _bounded(counter: Counter[Any], items: Iterable[Any], weight: int) -> None:
    for x in items:
        if x in counter or len(counter) < _MAX_TRACKED:
            counter[x] += max(1, weight)


def _bounded_merge(mine: Counter[Any], theirs: Counter[Any]) -> None:
    for x, n in theirs.items():
        if x in mine or len(mine) < _MAX_TRACKED:
            mine[x] += n


def _confidence(findings: Sequence[Finding], accounts: int) -> float:
    base = max(f.confidence for f in findings)
    linked = min(accounts, 6) - 1
    return min(0.99, 1.0 - (1.0 - base) * _GROUP_BOOST**linked) if linked > 0 else base


def _campaign_id(kind: str, seed: str, start: float) -> str:
    digest = hashlib.sha256(f"{kind}|{seed}|{start:.3f}".encode()).hexdigest()
    return f"acct-{digest[:12]}"


class CampaignBook:
    """Findings in, campaigns out; a campaign's id is stable while it lasts."""

    def __init__(self, settings: BookSettings, high_risk: frozenset[str] = frozenset()) -> None:
        self.settings = settings
        self.high_risk = high_risk
        self.open: dict[str, _Open] = {}
        self.by_account: dict[str, str] = {}  # open targeted campaigns' accounts
        self.by_source: dict[str, str] = {}  # open broad campaigns' sources and fingerprints
        self.merged: list[Campaign] = []

    def update(
        self, findings: Sequence[Finding], now: float
    ) -> tuple[list[Campaign], list[Campaign]]:
        """(campaigns that changed, campaigns that closed) after this tick's findings."""
        touched: set[str] = set()
        self.merged = []
        # a risky sign-in alone is no campaign; it joins the campaign its account is in
        narrow = [
            f
            for f in findings
            if _about_accounts(f) and (f.detector not in ATTACH_ONLY or self._known(f.accounts))
        ]
        for group in _targeted_groups(narrow):
            accounts = {a for f in group for a in f.accounts}
            kind = TARGETED if len(accounts) <= self.settings.small_group else BROAD
            touched.add(self._fold(kind, group, accounts))
        broad = []
        for f in findings:
            if _about_accounts(f):
                continue
            cid = self._attach(f)
            if cid is None:
                broad.append(f)
            else:
                touched.add(cid)
        for group in _broad_groups(broad):
            touched.add(self._fold(BROAD, group, set()))
        changed = [self.open[c].view(self.high_risk) for c in sorted(touched) if c in self.open]
        return changed, self.merged + self._close(now)

    def _known(self, accounts: Sequence[str]) -> bool:
        return any(a in self.by_account for a in accounts)

    def _fold(self, kind: str, group: Sequence[Finding], accounts: set[str]) -> str:
        keys = accounts if kind == TARGETED else {s for f in group for s in _infra(f)}
        index = self.by_account if kind == TARGETED else self.by_source
        hits = {index[k] for k in keys if k in index}
        if hits:
            # one attack seen in parts at first: the oldest part keeps its id, so warnings
            # already sent under it stay the only ones
            parts = sorted((self.open[h] for h in hits), key=lambda c: (c.start, c.id))
            camp = parts[0]
            for other in parts[1:]:
                self._merge(camp, other)
        else:
            first = min(f.first for f in group)
            seed = min(accounts) if accounts else min(f.key for f in group)
            camp = _Open(_campaign_id(kind, seed, first), kind, first, first)
            self.open[camp.id] = camp
        camp.absorb(group)
        camp.confidence = max(camp.confidence, _confidence(group, len(camp.accounts)))
        for k in keys:
            index[k] = camp.id
        self._evict()
        return camp.id

    def _merge(self, into: _Open, other: _Open) -> None:
        into.start = min(into.start, other.start)
        into.last = max(into.last, other.last)
        into.confidence = max(into.confidence, other.confidence)
        into.accounts.update(other.accounts)
        into.detectors |= other.detectors
        for mine, theirs in (
            (into.sources, other.sources),
            (into.prefixes, other.prefixes),
            (into.asns, other.asns),
            (into.fingerprints, other.fingerprints),
        ):
            _bounded_merge(mine, theirs)
        for k, v in other.evidence.items():
            into.evidence[k] = max(into.evidence.get(k, 0.0), v)
        into.harvesting |= other.harvesting
        into.flagged |= other.flagged
        into.decision = into.decision or other.decision
        del self.open[other.id]
        for index in (self.by_account, self.by_source):
            for k, cid in index.items():
                if cid == other.id:
                    index[k] = into.id
        other.state = f"merged:{into.id}"
        self.merged.append(other.view(self.high_risk))

    def _attach(self, f: Finding) -> str | None:
        """A claim about an attacker already in a targeted campaign is more of what that
        campaign did (its enumeration, its stuffing), not a campaign of its own."""
        for src in f.sources:
            cid = self._targeted_with(src)
            if cid is not None:
                camp = self.open[cid]
                camp.absorb_attacker(f)
                return cid
        return None

    def _targeted_with(self, source: str) -> str | None:
        for camp in self.open.values():
            if camp.kind == TARGETED and source in camp.sources:
                return camp.id
        return None

    def _close(self, now: float) -> list[Campaign]:
        done = [c for c in self.open.values() if now - c.last > self.settings.quiet]
        for c in done:
            c.state = "closed"
            self._forget(c)
        return [c.view(self.high_risk) for c in done]

    def _forget(self, camp: _Open) -> None:
        del self.open[camp.id]
        for index in (self.by_account, self.by_source):
            for k in [k for k, v in index.items() if v == camp.id]:
                del index[k]

    def _evict(self) -> None:
        while len(self.open) > self.settings.max_open:
            self._forget(min(self.open.values(), key=lambda c: c.last))

    def decide(self, campaign_id: str, decision: str) -> Campaign | None:
        camp = self.open.get(campaign_id)
        if camp is None:
            return None
        camp.decision = decision
        return camp.view(self.high_risk)

    def campaigns(self) -> list[Campaign]:
        return [c.view(self.high_risk) for c in self.open.values()]


def _about_accounts(f: Finding) -> bool:
    """A claim about given accounts (guessed, looked up, signed in to riskily), as opposed
    to one about an attacker (an address, prefix, fingerprint or password) that merely
    lists what it touched: only the first kind makes accounts a campaign's targets."""
    return not f.broad and f.key.startswith(ACCOUNT_KEYS)


def _infra(f: Finding) -> Iterable[str]:
    yield from f.sources
    yield from (f"fp:{x}" for x in f.fingerprints)


def _targeted_groups(findings: Sequence[Finding]) -> list[list[Finding]]:
    """Findings joined by shared accounts; accounts joined by shared sources, prefixes or
    fingerprints of their attackers (only accounts already under attack are joined)."""
    uf = _UnionFind()
    # each attacker's address, /24 and fingerprint: the first account seen with it
    seen: tuple[dict[str, str], dict[str, str], dict[str, str]] = ({}, {}, {})
    links: set[tuple[str, str]] = set()  # few distinct pairs, however many shared keys
    for f in findings:
        if not f.accounts:
            continue
        first = f.accounts[0]
        uf.union(f.accounts)
        for where, keys in zip(seen, (f.sources, f.prefixes, f.fingerprints), strict=True):
            for key in keys:
                other = where.setdefault(key, first)
                if other != first:
                    links.add((first, other))
    for pair in links:
        uf.union(pair)
    out: dict[str, list[Finding]] = {}
    for f in findings:
        if f.accounts:
            out.setdefault(uf.find(f.accounts[0]), []).append(f)
    return list(out.values())


def _broad_groups(findings: Sequence[Finding]) -> list[list[Finding]]:
    uf = _UnionFind()
    for i, f in enumerate(findings):
        uf.union([f"f:{i}", *(f"i:{x}" for x in _infra(f))])
    out: dict[str, list[Finding]] = {}
    for i, f in enumerate(findings):
        out.setdefault(uf.find(f"f:{i}"), []).append(f)
    return list(out.values())
