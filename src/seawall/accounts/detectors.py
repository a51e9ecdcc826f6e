"""Account-attack detectors: the protocol, the registry, and the two about one account's
sign-in story: `brute_force` (one address failing on it again and again) and
`takeover_risk` (the sign-in that may end such a story in someone else's hands).

Each detector observes auth events in time order and, at every tick, lists the claims
that are true now: one `Finding` per key while its window holds enough evidence (the
caller de-duplicates). Keys are `<kind>:<value>`: `account:<hash>`, `source:<address>`,
`prefix:<net>`, `fingerprint:<fp>`, `password:<hash>`, and `pair:<account>@<address>`.

Password guessing from many addresses (on one account, or across many) is in `guessing`;
recovery harvesting in `recovery`.

Defaults follow published practice, cited in each option's help: Auth0's brute-force
protection (10 consecutive failures per user per IP), Microsoft Entra smart lockout
(lockout threshold 10), Elastic's "multiple logon failure from the same source" rules and
the OWASP credential stuffing cheat sheet, Twitter's 2022 account lookup flaw, and
NIST SP 800-63B with Entra's unfamiliar sign-in properties for takeover risk.

`takeover_risk` flags a sign-in that may not be the owner's: after failures from several
other networks (the guessing worked), on a device or address that has not signed in
lately, the failures not from a device that has; or from a device, country and network
none of the account's recent sign-ins came from, as risk engines weigh a new device or
place. A credentials change soon after raises the confidence. A change before the
sign-in clears the failures: they were tried against a password that no longer exists,
and that is how owners recover.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, Protocol

from seawall.accounts.events import FAILURES, SUCCESSES, AuthEvent, EventKind, Finding
from seawall.accounts.guessing import CredentialStuffing, DistributedGuessing, PasswordSpraying
from seawall.accounts.history import Base, Listing, Window, grow, resolve
from seawall.accounts.recovery import RecoveryHarvesting

RISKS: Final = 8  # risky sign-ins kept per account
CHANGES: Final = 8  # credentials changes kept per account


class AccountDetector(Protocol):
    """Observes auth events, then says at each tick what is true (see the module doc)."""

    name: str
    OPTIONS: ClassVar[dict[str, tuple[float, str]]]

    def __init__(
        self, options: Mapping[str, float] | None = None, max_keys: int = 100_000
    ) -> None: ...

    def observe(self, ev: AuthEvent) -> None: ...

    def findings(self, now: float, high_risk: frozenset[str]) -> list[Finding]: ...

    def forget_before(self, t: float) -> None: ...

    def set_factor(self, factor: float) -> None: ...  # a new threshold_factor


class BruteForce(Base):
    """One address failing again and again on one account; a success resets the run."""

    name = "brute_force"
    OPTIONS = {
        "window": (300.0, "Seconds a run of failures may span (Auth0 brute-force protection)."),
        "min_failures": (
            10.0,
            "Consecutive failures of one address on one account (Auth0 brute-force "
            "protection: 10 per user per IP).",
        ),
    }

    def __init__(self, options: Mapping[str, float] | None = None, max_keys: int = 100_000):
        super().__init__(options, max_keys)
        self.runs = self.table(Window)
        self.candidates: dict[str, None] = {}

    def observe(self, ev: AuthEvent) -> None:
        if not ev.account or not ev.source:
            return
        key = f"{ev.account}@{ev.source}"
        if ev.kind in FAILURES:
            run = self.runs.touch(key, Window)
            run.expire(self.since(ev.time))
            run.push(ev, self.cap)
            if len(run.events) >= self.bar("min_failures"):
                self.candidates[key] = None
        elif ev.kind in SUCCESSES:
            self.runs.pop(key)

    def findings(self, now: float, high_risk: frozenset[str]) -> list[Finding]:
        # a lone address's run is as often its owner's typing: no lower bar for high risk
        out, bar, since = [], self.bar("min_failures"), self.since(now)
        for key in list(self.candidates):
            run = self.runs.get(key)
            if run is not None:
                run.expire(since)
            if run is None or len(run.events) < bar:
                del self.candidates[key]
                continue
            n = len(run.events)
            evidence = [("failures", n), ("seconds", run.events[-1].time - run.first)]
            evidence += [("successes", 0), ("dropped", run.dropped)]
            finding = Listing(run.events).finding(
                self.name, f"pair:{key}", run, grow(n, bar), evidence
            )
            out.append(finding)
        return out


@dataclass(frozen=True, slots=True)
class _Risk:
    """A sign-in worth a second look, with what made it so."""

    event: AuthEvent
    others: tuple[AuthEvent, ...]  # failures from other networks before it
    priors: int  # the account's successes in the window before it
    new: tuple[bool, bool, bool]  # device, country, network never seen in those

    @property
    def novelty(self) -> int:
        device, country, asn = self.new
        return int(device) + 2 * int(country) + int(asn)


class _Account(Window):
    """One account's failures (the window), successes, risky sign-ins and changes."""

    __slots__ = ("changes", "oks", "risks")

    def __init__(self) -> None:
        super().__init__()
        self.oks: list[AuthEvent] = []
        self.risks: list[_Risk] = []
        self.changes: list[float] = []


def _trim(events: list[AuthEvent], since: float, cap: int) -> None:
    i, n = 0, len(events)
    while i < n and events[i].time < since:
        i += 1
    del events[: max(i, n - cap)]


def _elsewhere(failure: AuthEvent, ok: AuthEvent, owned: set[str]) -> bool:
    """A failure from another network than the sign-in, not from a device of the owner's."""
    if failure.device and (failure.device == ok.device or failure.device in owned):
        return False
    return _network(failure) != _network(ok)


def _network(ev: AuthEvent) -> str:
    return ev.prefix or ev.source


def _new(value: object, before: Iterable[object]) -> bool:
    """Known, and never seen where earlier values were known."""
    known = {v for v in before if v}
    return bool(value) and bool(known) and value not in known


class TakeoverRisk(Base):
    """A sign-in after others' failures, or from somewhere the account never signs in."""

    name = "takeover_risk"
    OPTIONS = {
        "window": (3600.0, "Seconds failures are looked back at; a risky sign-in lasts as long."),
        "min_other_failures": (
            5.0,
            "Failures from other networks before a sign-in (half Entra's lockout threshold).",
        ),
        "high_risk_other_failures": (3.0, "The same, for an account marked high-risk."),
        "min_other_networks": (
            2.0,
            "Distinct networks (/24s) those failures come from: one network failing is as "
            "often the owner on another device.",
        ),
        "min_prior_successes": (
            3.0,
            "Sign-ins in the window before novelty counts (too little history says nothing).",
        ),
        "min_novelty": (
            3.0,
            "Novelty against recent sign-ins: a new country counts 2, a new network (ASN) 1, "
            "a new device 1 (NIST SP 800-63B; Entra's unfamiliar sign-in properties).",
        ),
        "changed_within": (
            900.0,
            "Seconds after a risky sign-in in which a credentials change raises confidence.",
        ),
    }

    def __init__(self, options: Mapping[str, float] | None = None, max_keys: int = 100_000):
        super().__init__(options, max_keys)
        self.accounts = self.table(_Account)
        self.candidates: dict[str, None] = {}

    def observe(self, ev: AuthEvent) -> None:
        if not ev.account:
            return
        if ev.kind in FAILURES:
            acct = self.accounts.touch(ev.account, _Account)
            acct.expire(self.since(ev.time))
            acct.push(ev, self.cap)
        elif ev.kind == EventKind.CREDENTIALS_CHANGED:
            changed = self.accounts.hit(ev.account)
            if changed is not None:
                changed.clear()
                changed.changes = [*changed.changes[1 - CHANGES :], ev.time]
        elif ev.kind in SUCCESSES:
            self._signed_in(ev)

    def _signed_in(self, ev: AuthEvent) -> None:
        acct = self.accounts.touch(ev.account, _Account)
        since = self.since(ev.time)
        acct.expire(since)
        _trim(acct.oks, since, self.cap - 1)
        oks = acct.oks
        # a device (or, unknown devices, an address) that signed in lately is the owner's
        familiar = any(o.device == ev.device if ev.device else o.source == ev.source for o in oks)
        owned = {o.device for o in oks if o.device}
        others = () if familiar else tuple(f for f in acct.events if _elsewhere(f, ev, owned))
        new = (
            _new(ev.device, (o.device for o in oks)),
            _new(ev.country, (o.country for o in oks)),
            _new(ev.asn, (o.asn for o in oks)),
        )
        risk = _Risk(ev, others, len(oks), new)
        failing = min(self.bar("min_other_failures"), self.bar("high_risk_other_failures"))
        if self._guessed(risk, failing) or self._novel(risk):
            acct.risks = [*acct.risks[1 - RISKS :], risk]
            self.candidates[ev.account] = None
        oks.append(ev)
        acct.last = max(acct.last, ev.time)

    def _guessed(self, r: _Risk, bar: float) -> bool:
        if len(r.others) < bar:
            return False
        return len({_network(f) for f in r.others}) >= self.bar("min_other_networks")

    def _novel(self, r: _Risk) -> bool:
        return r.priors >= self.bar("min_prior_successes") and r.novelty >= self.bar("min_novelty")

    def findings(self, now: float, high_risk: frozenset[str]) -> list[Finding]:
        out, since = [], self.since(now)
        for account in list(self.candidates):
            acct = self.accounts.get(account)
            if acct is not None:
                acct.risks = [r for r in acct.risks if r.event.time >= since]
            if acct is None or not acct.risks:
                del self.candidates[account]
                continue
            high = account in high_risk
            bar = self.bar("high_risk_other_failures" if high else "min_other_failures")
            judged = [(self._confidence(r, bar, acct), r) for r in acct.risks]
            best = max(judged, key=lambda cr: (cr[0], cr[1].event.time))
            if best[0] > 0:
                out.append(self._finding(account, best[1], best[0], acct, high))
        return out

    def _changed(self, r: _Risk, acct: _Account) -> bool:
        t = r.event.time
        return any(t <= c <= t + self.opt["changed_within"] for c in acct.changes)

    def _confidence(self, r: _Risk, bar: float, acct: _Account) -> float:
        """0 when the sign-in does not qualify at this bar."""
        n, guessed, novel = len(r.others), self._guessed(r, bar), self._novel(r)
        if not (guessed or novel):
            return 0.0
        c = 0.2
        if guessed:
            c += 0.35 + 0.15 * min(1.0, (n - bar) / max(bar, 1.0))
        if novel:
            c += 0.1 * r.novelty
        if self._changed(r, acct):
            c += 0.3
        return min(1.0, c)

    def _finding(
        self, account: str, r: _Risk, confidence: float, acct: _Account, high: bool
    ) -> Finding:
        events = [*r.others, r.event]
        seen = Listing(events)
        device, country, asn = r.new
        evidence = [
            ("other_failures", len(r.others)),
            ("other_sources", len({e.source for e in r.others})),
            ("other_networks", len({_network(e) for e in r.others})),
            ("prior_successes", r.priors),
            ("novelty", r.novelty),
            ("new_device", int(device)),
            ("new_country", int(country)),
            ("new_asn", int(asn)),
            ("credentials_changed", int(self._changed(r, acct))),
            ("high_risk", int(high)),
        ]
        return seen.finding(self.name, f"account:{account}", events, confidence, evidence)


DETECTORS: dict[str, type[AccountDetector]] = {
    d.name: d
    for d in (
        BruteForce,
        DistributedGuessing,
        CredentialStuffing,
        PasswordSpraying,
        RecoveryHarvesting,
        TakeoverRisk,
    )
}


def build_detectors(
    options: Mapping[str, Mapping[str, float]], disabled: Iterable[str], max_keys: int
) -> list[AccountDetector]:
    """The enabled detectors in registry order, each table capped at `max_keys` keys.

    Unknown detectors or options raise ValueError naming the configuration key; options
    of a disabled detector are checked too, so a typo never waits to be enabled.
    """
    off = set(disabled)
    for name in sorted(set(options) | off):
        if name not in DETECTORS:
            where = "accounts.disabled" if name not in options else f"accounts.detectors.{name}"
            raise ValueError(f"{where}: unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    if max_keys < 1:
        raise ValueError("accounts: detectors need room for at least one key")
    for name, opts in options.items():
        resolve(name, DETECTORS[name].OPTIONS, opts)
    return [
        cls(options.get(name, {}), max_keys) for name, cls in DETECTORS.items() if name not in off
    ]


def scaled(
    options: Mapping[str, Mapping[str, float]], factors: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    """`options` with each named detector's `threshold_factor` multiplied by its factor.

    Operators' dismissals raise a pattern's thresholds this way. Factors for detectors
    that do not exist are ignored (a dismissal may outlive a rename); a factor must be > 0.
    """
    out = {name: dict(opts) for name, opts in options.items()}
    for name, factor in factors.items():
        if name not in DETECTORS:
            continue
        if not factor > 0:
            raise ValueError(f"accounts.detectors.{name}.threshold_factor: must be > 0")
        opts = out.setdefault(name, {})
        opts["threshold_factor"] = float(opts.get("threshold_factor", 1.0)) * factor
    return out
