"""The account engine: auth events in, campaigns and the rules they ask for out. Pure.

`observe` takes events as they come (from the edge's auth watch and the app's
POST /v1/events); `tick(now, mono)` runs once a second: every detector says what is true
now, the campaign book folds that into campaigns, and the rules each open campaign asks
for (responses.py) are compared with the ones already out, so a delta carries only what
changed or is about to expire.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from seawall.accounts.campaigns import BookSettings, CampaignBook
from seawall.accounts.detectors import AccountDetector, build_detectors, scaled
from seawall.accounts.events import SUCCESSES, AuthEvent, Campaign, EventKind, Finding, Result
from seawall.accounts.ident import Directory
from seawall.accounts.responses import ResponseSettings, rules_for
from seawall.config.schema import Config
from seawall.core.rules import Rule, RulesetDelta

MAX_SEEN_IDS = 200_000  # app event ids remembered for idempotency within a process
RESEND = 5.0  # seconds between re-sends of a rule whose match grew
SIGNED_IN, PASSWORD_FAILED, CODE_FAILED = 1, 2, 4  # what an address did on an account


def _spared(flags: int) -> bool:
    return bool(flags & SIGNED_IN) or flags & (CODE_FAILED | PASSWORD_FAILED) == CODE_FAILED


_PAIR_FLAGS = {
    EventKind.LOGIN_SUCCEEDED: SIGNED_IN,
    EventKind.SESSION_CREATED: SIGNED_IN,
    EventKind.LOGIN_FAILED: PASSWORD_FAILED,
    EventKind.MFA_FAILED: CODE_FAILED,
}
_RECOVERY = frozenset({"password_reset", "recovery_lookup"})


@dataclass(frozen=True, slots=True)
class AccountSettings:
    responses: ResponseSettings
    book: BookSettings = field(default_factory=BookSettings)
    detectors: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    disabled: tuple[str, ...] = ()
    max_keys: int = 200_000
    window: float = 3600.0
    high_risk: frozenset[str] = frozenset()  # keyed hashes

    @classmethod
    def from_config(cls, cfg: Config, high_risk: frozenset[str]) -> AccountSettings:
        a = cfg.accounts
        kinds = [(r.route, r.kind) for r in a.routes]
        return cls(
            responses=ResponseSettings(
                login_routes=frozenset(r for r, k in kinds if k == "login"),
                recovery_routes=frozenset(r for r, k in kinds if k in _RECOVERY),
                auth_routes=frozenset(r for r, k in kinds if k != "pii_view"),
                step_up=a.step_up,
                ttl=a.step_up_ttl,
                throttle_rate=a.throttle_rate,
                strikes=cfg.detection.strikes,
                strike_window=cfg.detection.strike_window,
            ),
            book=BookSettings(quiet=a.campaign_quiet),
            detectors=a.detectors,
            disabled=tuple(a.disabled),
            max_keys=max(a.max_accounts, a.max_sources),
            window=a.window,
            high_risk=high_risk,
        )


@dataclass(frozen=True, slots=True)
class AccountTick:
    delta: RulesetDelta
    changed: tuple[Campaign, ...] = ()
    closed: tuple[Campaign, ...] = ()
    findings: int = 0


class AccountEngine:
    def __init__(
        self,
        settings: AccountSettings,
        directory: Directory | None = None,
        factors: Mapping[str, float] | None = None,
    ) -> None:
        self.settings = settings
        self.directory = directory or Directory()
        self.factors = dict(factors or {})
        self.detectors: list[AccountDetector] = build_detectors(
            self._options(), settings.disabled, settings.max_keys
        )
        self.book = CampaignBook(settings.book, settings.high_risk)
        self.out: dict[str, dict[str, Rule]] = {}  # campaign id -> its rules as last sent
        self.sent_at: dict[str, float] = {}  # rule id -> when it was last sent (monotonic)
        self.seen: OrderedDict[str, None] = OrderedDict()
        # identifiers the app said are not registered: looked up, never an account
        self.unregistered: OrderedDict[str, None] = OrderedDict()
        # what each (account, address) did: an owner's own places are never throttled as
        # attackers, nor is an address that only ever failed the second factor (it knew
        # the password: step-up already stops it, and it is most likely the owner)
        self.pairs: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.events = 0
        self.duplicates = 0

    def _options(self) -> dict[str, dict[str, float]]:
        return scaled(self.settings.detectors, self.factors)

    def observe(self, ev: AuthEvent) -> bool:
        """False for an app event already seen (a retried batch)."""
        if ev.origin == "app":
            if ev.id in self.seen:
                self.duplicates += 1
                return False
            self.seen[ev.id] = None
            if len(self.seen) > MAX_SEEN_IDS:
                self.seen.popitem(last=False)
        canonical = self.directory.canonical(ev.account)
        if canonical != ev.account:
            ev = msgspec.structs.replace(ev, account=canonical)
        self._registered(ev)
        for d in self.detectors:
            d.observe(ev)
        self.events += 1
        return True

    def _registered(self, ev: AuthEvent) -> None:
        if not ev.account:
            return
        if ev.result is Result.NOT_FOUND:
            self.unregistered[ev.account] = None
            self.unregistered.move_to_end(ev.account)
            if len(self.unregistered) > self.settings.max_keys:
                self.unregistered.popitem(last=False)
        elif ev.result is Result.FOUND or ev.kind in SUCCESSES:
            self.unregistered.pop(ev.account, None)
        flag = _PAIR_FLAGS.get(ev.kind, 0)
        if flag and not (flag == SIGNED_IN and ev.result is Result.FAILED):
            pair = (ev.account, ev.source)
            self.pairs[pair] = self.pairs.get(pair, 0) | flag
            self.pairs.move_to_end(pair)
            if len(self.pairs) > self.settings.max_keys:
                self.pairs.popitem(last=False)

    def _flags(self, accounts: Sequence[str], source: str) -> int:
        """What `source` did on any of `accounts` (SIGNED_IN, PASSWORD_FAILED, CODE_FAILED)."""
        flags = 0
        for a in accounts:
            flags |= self.pairs.get((a, source), 0)
        return flags

    def _owners(self, accounts: Sequence[str], sources: Sequence[str]) -> set[str]:
        """The addresses among `sources` that signed in to one of `accounts`."""
        return {s for s in sources if self._flags(accounts, s) & SIGNED_IN}

    def _spared(self, accounts: Sequence[str], sources: Sequence[str]) -> set[str]:
        """Owners' addresses, and those that only ever failed the second factor."""
        return {s for s in sources if _spared(self._flags(accounts, s))}

    def findings(self, now: float) -> list[Finding]:
        """What the detectors say now. A harvest's made-up identifiers are nobody's
        account: they stay evidence of broad findings, never accounts of targeted ones."""
        hr = self.settings.high_risk
        found = []
        for d in self.detectors:
            for claim in d.findings(now, hr):
                f = claim if claim.broad else self._narrowed(claim)
                if f is not None:
                    found.append(f)
        for d in self.detectors:
            d.forget_before(now - self.settings.window)
        return found

    def _narrowed(self, f: Finding) -> Finding | None:
        """`f` without made-up identifiers and without the owners' own addresses."""
        accounts = f.accounts
        if any(a in self.unregistered for a in accounts):
            accounts = tuple(a for a in accounts if a not in self.unregistered)
            if not accounts:
                return None
        owned = self._owners(accounts, f.sources)
        if accounts is f.accounts and not owned:
            return f
        sources = tuple(s for s in f.sources if s not in owned) if owned else f.sources
        return msgspec.structs.replace(f, accounts=accounts, sources=sources)

    def tick(self, now: float, mono: float) -> AccountTick:
        found = self.findings(now)
        changed, closed = self.book.update(found, now)
        delta = self._delta(changed, closed, now, mono)
        return AccountTick(delta, tuple(changed), tuple(closed), len(found))

    def _delta(
        self, changed: list[Campaign], closed: list[Campaign], now: float, mono: float
    ) -> RulesetDelta:
        add: list[Rule] = []
        remove: list[str] = []
        half = self.settings.responses.ttl / 2
        for c in changed:
            rules = rules_for(self._without_owners(c), self.settings.responses, now, mono)
            fresh = {r.id: r for r in rules}
            old = self.out.get(c.id, {})
            for rid, rule in fresh.items():
                prev = old.get(rid)
                if (
                    prev is None
                    or prev.expires is None
                    or prev.expires - mono < half
                    or prev.action is not rule.action
                    or (prev.match != rule.match and self._due(rid, mono))
                ):
                    add.append(rule)
                    self.sent_at[rid] = mono
                else:
                    fresh[rid] = prev  # still out there as it was
            remove += [rid for rid in old if rid not in fresh]
            self.out[c.id] = fresh
        for c in closed:
            remove += list(self.out.pop(c.id, {}))
        for rid in remove:
            self.sent_at.pop(rid, None)
        return RulesetDelta(tuple(add), tuple(remove))

    def _due(self, rule_id: str, mono: float) -> bool:
        """A rule whose match keeps growing (new attacking addresses) is re-sent at most
        every `RESEND` seconds: each change goes to every worker."""
        return mono - self.sent_at.get(rule_id, -RESEND) >= RESEND

    def _without_owners(self, c: Campaign) -> Campaign:
        """`c` without the addresses its accounts' owners signed in from: an owner who
        mistyped before signing in is never throttled as an attacker."""
        if len(c.accounts) > self.settings.book.small_group:
            return c  # broad: its addresses tried many accounts, none of them their own
        mine = self._spared(c.accounts, c.top_sources)
        if not mine:
            return c
        return msgspec.structs.replace(
            c, top_sources=tuple(s for s in c.top_sources if s not in mine)
        )

    def decide(self, campaign_id: str, decision: str, now: float, mono: float) -> AccountTick:
        """The operator's word on a campaign: a dismissal takes its rules away at once."""
        camp = self.book.decide(campaign_id, decision)
        if camp is None:
            return AccountTick(RulesetDelta())
        return AccountTick(self._delta([camp], [], now, mono), (camp,))

    def raise_factor(self, detector: str, factor: float) -> None:
        """A dismissal makes that pattern need more evidence from now on."""
        self.factors[detector] = factor
        opts = self._options().get(detector, {})
        for d in self.detectors:
            if d.name == detector:
                d.set_factor(opts.get("threshold_factor", factor))

    def campaigns(self) -> list[Campaign]:
        return self.book.campaigns()
