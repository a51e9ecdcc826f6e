"""Recovery harvesting: identifiers gathered through the account recovery flow.

`recovery_harvesting` watches recovery lookups and reset requests, the flow behind
Twitter's 2022 flaw (an API told whether an email or phone number had an account, and
5.4 million accounts were tied to their details that way):
(a) enumeration: many identifiers from one address, /24 or client fingerprint. An
    identifier the same key also signed in to (or tried to) is one of its own people and
    does not count; where the app says whether identifiers exist, most must not (people
    behind a shared address look up themselves, and they exist).
(b) one identifier looked up from many addresses: someone after one person's details.
    Addresses that signed that account in are its owner's and do not count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from seawall.accounts.events import FAILURES, RECOVERY, SUCCESSES, AuthEvent, Finding, Result
from seawall.accounts.history import Base, Listing, SourcesWindow, Window, dec, grow, inc

SEEN: Final = 16  # sign-ins kept per account to tell its own people (owners rarely need more)
_FAMILIES: Final = ("source", "prefix", "fingerprint")


class _Lookups(Window):
    """Recovery events from one key: identifiers asked for, and how many were unknown."""

    __slots__ = ("ids", "known", "missing")

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, int] = {}
        self.known = 0  # events whose result says whether the identifier exists
        self.missing = 0

    def _add(self, ev: AuthEvent) -> None:
        inc(self.ids, ev.account)
        if ev.result in (Result.FOUND, Result.NOT_FOUND):
            self.known += 1
            self.missing += ev.result == Result.NOT_FOUND

    def _remove(self, ev: AuthEvent) -> None:
        dec(self.ids, ev.account)
        if ev.result in (Result.FOUND, Result.NOT_FOUND):
            self.known -= 1
            self.missing -= ev.result == Result.NOT_FOUND


class _Askers(SourcesWindow):
    """Recovery events naming one identifier, with their addresses counted."""

    __slots__ = ()


class RecoveryHarvesting(Base):
    """Identifiers harvested through recovery: enumeration, or one person's details."""

    name = "recovery_harvesting"
    OPTIONS = {
        "window": (3600.0, "Seconds of recovery events looked at."),
        "min_identifiers": (
            10.0,
            "Distinct identifiers looked up or reset from one address or /24 (the lookup "
            "flaw Twitter disclosed in 2022 was harvested this way).",
        ),
        "fingerprint_identifiers": (30.0, "Distinct identifiers under one client fingerprint."),
        "min_not_found_share": (
            0.5,
            "Least share of unknown identifiers, when the app says (enumeration misses).",
        ),
        "broad_identifiers": (50.0, "Identifiers from which enumeration is marked broad."),
        "min_sources": (4.0, "Distinct addresses looking up one identifier."),
        "high_risk_sources": (2.0, "Distinct addresses for an identifier marked high-risk."),
    }

    def __init__(self, options: Mapping[str, float] | None = None, max_keys: int = 100_000):
        super().__init__(options, max_keys)
        self.by = {f: self.table(_Lookups) for f in _FAMILIES}
        self.asked = self.table(_Askers)
        self.seen = self.table(Window)  # each account's recent sign-ins and failures
        self.candidates: dict[tuple[str, str], None] = {}

    def low(self, family: str) -> float:
        if family == "account":
            return min(self.bar("min_sources"), self.bar("high_risk_sources"))
        return self.bar("fingerprint_identifiers" if family == "fingerprint" else "min_identifiers")

    def observe(self, ev: AuthEvent) -> None:
        if not ev.account:
            return
        since = self.since(ev.time)
        if ev.kind in FAILURES or ev.kind in SUCCESSES:
            s = self.seen.touch(ev.account, Window)
            s.expire(since)
            s.push(ev, SEEN)
            return
        if ev.kind not in RECOVERY:
            return
        for family, table in self.by.items():
            value = str(getattr(ev, family))
            if value:
                w = table.touch(value, _Lookups)
                w.expire(since)
                w.push(ev, self.cap)
                if len(w.ids) >= self.low(family):
                    self.candidates[(family, value)] = None
        a = self.asked.touch(ev.account, _Askers)
        a.expire(since)
        a.push(ev, self.cap)
        if len(a.sources) >= self.low("account"):
            self.candidates[("account", ev.account)] = None

    def findings(self, now: float, high_risk: frozenset[str]) -> list[Finding]:
        out, since = [], self.since(now)
        for family, value in list(self.candidates):
            finding: Finding | None = None
            if family == "account":
                a = self.asked.get(value)
                if a is not None:
                    a.expire(since)
                alive = a is not None and len(a.sources) >= self.low(family)
                if a is not None and alive:
                    finding = self._targeted(value, a, since, value in high_risk)
            else:
                w = self.by[family].get(value)
                if w is not None:
                    w.expire(since)
                alive = w is not None and len(w.ids) >= self.low(family)
                if w is not None and alive:
                    finding = self._enumeration(family, value, w, since)
            if not alive:
                del self.candidates[(family, value)]
            elif finding is not None:
                out.append(finding)
        return out

    def _own(self, account: str, family: str, value: str, since: float) -> bool:
        s = self.seen.get(account)
        return s is not None and any(
            e.time >= since and getattr(e, family) == value for e in s.events
        )

    def _enumeration(self, family: str, value: str, w: _Lookups, since: float) -> Finding | None:
        ids = {i for i in w.ids if not self._own(i, family, value, since)}
        bar = self.low(family)
        if len(ids) < bar:
            return None
        says = w.known > 0 and 2 * w.known >= len(w.events)
        share = w.missing / w.known if says else 0.5
        if says and share < self.opt["min_not_found_share"]:
            return None
        lookups = [e for e in w.events if e.account in ids]
        evidence = [
            ("identifiers", len(ids)),
            ("lookups", len(lookups)),
            ("not_found", w.missing),
            ("results_known", w.known),
            ("not_found_share", round(share, 4) if says else -1.0),
            ("own_identifiers", len(w.ids) - len(ids)),
            ("dropped", w.dropped),
        ]
        return Listing(lookups).finding(
            self.name,
            f"{family}:{value}",
            lookups,
            0.6 * grow(len(ids), bar) + 0.4 * share,
            evidence,
            broad=len(ids) >= self.opt["broad_identifiers"],
        )

    def _targeted(self, account: str, a: _Askers, since: float, high: bool) -> Finding | None:
        s = self.seen.get(account)
        owners = (
            set()
            if s is None
            else {e.source for e in s.events if e.kind in SUCCESSES and e.time >= since}
        )
        sources = [x for x in a.sources if x not in owners]
        bar = self.bar("high_risk_sources" if high else "min_sources")
        if len(sources) < bar:
            return None
        lookups = [e for e in a.events if e.source not in owners]
        seen = Listing(lookups)
        evidence = [
            ("sources", len(sources)),
            ("lookups", len(lookups)),
            ("prefixes", len(seen.prefixes)),
            ("owner_sources", len(a.sources) - len(sources)),
            ("high_risk", int(high)),
            ("dropped", a.dropped),
        ]
        confidence = 0.7 * grow(len(sources), bar) + 0.3 * min(1.0, len(seen.prefixes) / bar)
        return seen.finding(self.name, f"account:{account}", lookups, confidence, evidence)
