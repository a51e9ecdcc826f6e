"""Password guessing from many addresses: on one account (`distributed_guessing`, the
targeted case), or across many unrelated ones (`credential_stuffing`, `password_spraying`).

Broad guessing counts, per key (an address, its prefix, a client fingerprint, or for
spraying a tried password's keyed hash), the accounts that failed and the successes
beside them. Only a failure makes a key; successes count where one exists, so an address
that only signs people in costs nothing. Shared addresses (campus NAT, a mobile carrier's
/24) and shared browser fingerprints fail too, but mostly succeed: the success share
tells them from a list being replayed.

Defaults: Microsoft Entra smart lockout (threshold 10) for one account; Elastic's
"multiple logon failure from the same source" style rules and the OWASP credential
stuffing cheat sheet (many accounts, one or two tries each, almost no successes);
password spraying as MITRE ATT&CK T1110.003 and Microsoft's guidance describe it (a few
common passwords tried against many accounts, slowly, to stay under lockout).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from seawall.accounts.events import FAILURES, SUCCESSES, AuthEvent, Finding
from seawall.accounts.history import Base, Listing, SourcesWindow, Table, Window, dec, grow, inc


class _Attempts(Window):
    """One key's failures per account and its successes, counted as they come and go."""

    __slots__ = ("failed", "fails", "ok_accounts", "oks")

    def __init__(self) -> None:
        super().__init__()
        self.failed: dict[str, int] = {}  # account -> failures
        self.ok_accounts: dict[str, int] = {}
        self.fails = 0
        self.oks = 0

    def _add(self, ev: AuthEvent) -> None:
        if ev.kind in FAILURES:
            self.fails += 1
            inc(self.failed, ev.account)
        else:
            self.oks += 1
            inc(self.ok_accounts, ev.account)

    def _remove(self, ev: AuthEvent) -> None:
        if ev.kind in FAILURES:
            self.fails -= 1
            dec(self.failed, ev.account)
        else:
            self.oks -= 1
            dec(self.ok_accounts, ev.account)

    @property
    def share(self) -> float:
        """Successes among all attempts."""
        total = self.fails + self.oks
        return self.oks / total if total else 0.0


def _relief(share: float, limit: float) -> float:
    """1 with no successes, 0 at the limit."""
    return 1.0 - share / limit if limit > 0 else float(share == 0)


class _Guesses(SourcesWindow):
    """Failures on one account with their sources counted, and its recent successes."""

    __slots__ = ("oks",)

    def __init__(self) -> None:
        super().__init__()
        self.oks: list[AuthEvent] = []


class DistributedGuessing(Base):
    """One account's password guessed from many addresses (the targeted case)."""

    name = "distributed_guessing"
    OPTIONS = {
        "window": (3600.0, "Seconds of failures looked at (Entra smart lockout's horizon)."),
        "min_sources": (5.0, "Distinct addresses failing on one account."),
        "min_failures": (10.0, "Failures on one account (Entra smart lockout threshold: 10)."),
        "high_risk_sources": (3.0, "Distinct addresses for an account marked high-risk."),
        "high_risk_failures": (5.0, "Failures for an account marked high-risk."),
    }

    def __init__(self, options: Mapping[str, float] | None = None, max_keys: int = 100_000):
        super().__init__(options, max_keys)
        self.accounts = self.table(_Guesses)
        self.candidates: dict[str, None] = {}
        # an account's finding while its window, successes, mark and factor stay as they were
        self.judged: dict[str, tuple[tuple[int, int, bool, float], Finding]] = {}

    def _bars(self, high: bool) -> tuple[float, float]:
        if high:
            return self.bar("high_risk_sources"), self.bar("high_risk_failures")
        return self.bar("min_sources"), self.bar("min_failures")

    def _may_fire(self, g: _Guesses) -> bool:
        """At the lower of the two bars, marked or not."""
        (s1, f1), (s2, f2) = self._bars(False), self._bars(True)
        return len(g.sources) >= min(s1, s2) and len(g.events) >= min(f1, f2)

    def observe(self, ev: AuthEvent) -> None:
        if not ev.account:
            return
        if ev.kind in FAILURES:
            g = self.accounts.touch(ev.account, _Guesses)
            g.expire(self.since(ev.time))
            g.push(ev, self.cap)
            if self._may_fire(g):
                self.candidates[ev.account] = None
        elif ev.kind in SUCCESSES:
            known = self.accounts.get(ev.account)
            if known is not None:
                known.oks.append(ev)
                if len(known.oks) > self.cap:
                    del known.oks[0]

    def findings(self, now: float, high_risk: frozenset[str]) -> list[Finding]:
        out, since = [], self.since(now)
        for account in list(self.candidates):
            g = self.accounts.get(account)
            if g is not None:
                g.expire(since)
                g.oks = [e for e in g.oks if e.time >= since]
            if g is None or not self._may_fire(g):
                del self.candidates[account]
                self.judged.pop(account, None)
                continue
            high = account in high_risk
            sources, failures = self._bars(high)
            if len(g.sources) < sources or len(g.events) < failures:
                continue
            state = (g.version, len(g.oks), high, self.factor)
            held = self.judged.get(account)
            if held is None or held[0] != state:
                held = self.judged[account] = (state, self._finding(account, g, sources, high))
            out.append(held[1])
        return out

    def _finding(self, account: str, g: _Guesses, bar: float, high: bool) -> Finding:
        seen = Listing(g.events)
        n, prefixes, asns = len(g.sources), len(seen.prefixes), len(seen.asns)
        successes = sum(1 for e in g.oks if e.source in g.sources)
        confidence = (
            0.45 * grow(n, bar)
            + 0.15 * min(1.0, prefixes / bar)
            + 0.15 * min(1.0, asns / bar)
            + (0.25 if successes == 0 else 0.0)
        )
        evidence = [
            ("failures", len(g.events)),
            ("sources", n),
            ("prefixes", prefixes),
            ("asns", asns),
            ("successes", successes),
            ("high_risk", int(high)),
            ("dropped", g.dropped),
        ]
        return seen.finding(self.name, f"account:{account}", g, confidence, evidence)


class _Broad(Base, ABC):
    """Keys of several families, each in its own table; candidates are re-judged per tick."""

    FAMILIES: ClassVar[tuple[str, ...]] = ("source", "prefix", "fingerprint")

    def __init__(self, options: Mapping[str, float] | None = None, max_keys: int = 100_000):
        super().__init__(options, max_keys)
        self.by: dict[str, Table[str, _Attempts]] = {
            f: self.table(_Attempts) for f in self.FAMILIES
        }
        self.candidates: dict[tuple[str, str], None] = {}
        # a key's judgement while its window and the factor stay as they were
        self.judged: dict[tuple[str, str], tuple[int, float, Finding | None]] = {}

    @abstractmethod
    def low(self, family: str) -> float:
        """Distinct failing accounts below which a key cannot fire."""

    @abstractmethod
    def judge(self, family: str, value: str, w: _Attempts) -> Finding | None:
        """The key's finding, or None when its attempts do not fit the pattern."""

    def value(self, ev: AuthEvent, family: str) -> str:
        return str(getattr(ev, family))

    def observe(self, ev: AuthEvent) -> None:
        failed = ev.kind in FAILURES
        if not ev.account or not (failed or ev.kind in SUCCESSES):
            return
        since = self.since(ev.time)
        for family, table in self.by.items():
            value = self.value(ev, family)
            if not value:
                continue
            w = table.touch(value, _Attempts) if failed else table.hit(value)
            if w is None:
                continue
            w.expire(since)
            w.push(ev, self.cap)
            if failed and len(w.failed) >= self.low(family):
                self.candidates[(family, value)] = None

    def findings(self, now: float, high_risk: frozenset[str]) -> list[Finding]:
        # broad patterns span unrelated accounts: a high-risk one among them changes nothing
        out, since = [], self.since(now)
        for key in list(self.candidates):
            family, value = key
            w = self.by[family].get(value)
            if w is not None:
                w.expire(since)
            if w is None or not w.failed or len(w.failed) < self.low(family):
                del self.candidates[key]
                self.judged.pop(key, None)
                continue
            known = self.judged.get(key)
            if known is not None and known[0] == w.version and known[1] == self.factor:
                finding = known[2]
            else:
                finding = self.judge(family, value, w)
                self.judged[key] = (w.version, self.factor, finding)
            if finding is not None:
                out.append(finding)
        return out


class CredentialStuffing(_Broad):
    """A burst of leaked pairs replayed: many accounts, a try or two each, few successes."""

    name = "credential_stuffing"
    OPTIONS = {
        "window": (600.0, "Seconds of attempts looked at (a burst; Elastic-style rules)."),
        "min_accounts": (
            10.0,
            "Distinct accounts failing from one address or /24 (Elastic's multiple logon "
            "failure from the same source).",
        ),
        "max_tries": (2.0, "Most failures per account, on average (OWASP: one try per pair)."),
        "max_success_share": (0.1, "Most successes among an address's attempts."),
        "fingerprint_accounts": (
            50.0,
            "Distinct accounts failing under one client fingerprint (browsers share them).",
        ),
        "fingerprint_success_share": (
            0.05,
            "Most successes under a fingerprint (a real browser mostly signs people in).",
        ),
        "broad_accounts": (50.0, "Accounts from which a finding is marked broad."),
    }

    def low(self, family: str) -> float:
        return self.bar("fingerprint_accounts" if family == "fingerprint" else "min_accounts")

    def judge(self, family: str, value: str, w: _Attempts) -> Finding | None:
        accounts, share = len(w.failed), w.share
        tries = w.fails / accounts
        if family == "fingerprint":
            limit = self.opt["fingerprint_success_share"]
        else:
            limit = self.opt["max_success_share"]
            if tries > self.opt["max_tries"]:
                return None
        if share > limit:
            return None
        confidence = 0.6 * grow(accounts, self.low(family)) + 0.4 * _relief(share, limit)
        evidence = [
            ("accounts", accounts),
            ("failures", w.fails),
            ("successes", w.oks),
            ("tries_per_account", round(tries, 3)),
            ("success_share", round(share, 4)),
            ("dropped", w.dropped),
        ]
        failures = [e for e in w.events if e.kind in FAILURES]
        return Listing(failures).finding(
            self.name,
            f"{family}:{value}",
            failures,
            confidence,
            evidence,
            broad=accounts >= self.opt["broad_accounts"],
        )


class PasswordSpraying(_Broad):
    """A few passwords tried on many accounts, slowly; or one password failing on many."""

    name = "password_spraying"
    FAMILIES = ("source", "prefix", "password")
    OPTIONS = {
        "window": (3600.0, "Seconds of attempts looked at (a spray stays under lockout)."),
        "min_accounts": (
            10.0,
            "Distinct accounts with a few failures and no success from one address or /24 "
            "(MITRE ATT&CK T1110.003).",
        ),
        "max_tries": (6.0, "Most failures per account for it to count as sprayed."),
        "min_span": (
            600.0,
            "Seconds between the first and last failure: spread out, not a burst (a burst "
            "is credential stuffing).",
        ),
        "max_success_share": (0.1, "Most successes among an address's attempts."),
        "password_accounts": (
            5.0,
            "Distinct accounts one tried password (its keyed hash) failed on, from any "
            "addresses: evidence on its own.",
        ),
    }

    def value(self, ev: AuthEvent, family: str) -> str:
        return ev.password if family == "password" else str(getattr(ev, family))

    def low(self, family: str) -> float:
        return self.bar("password_accounts" if family == "password" else "min_accounts")

    def judge(self, family: str, value: str, w: _Attempts) -> Finding | None:
        if family == "password":
            return self._password(value, w)
        limit, most = self.opt["max_success_share"], self.opt["max_tries"]
        sprayed = {a for a, n in w.failed.items() if n <= most and a not in w.ok_accounts}
        failures = [e for e in w.events if e.kind in FAILURES and e.account in sprayed]
        bar, share = self.low(family), w.share
        if not sprayed or len(sprayed) < bar or share > limit:
            return None
        span = failures[-1].time - failures[0].time
        if span < self.opt["min_span"]:
            return None
        confidence = 0.6 * grow(len(sprayed), bar) + 0.4 * _relief(share, limit)
        evidence = [
            ("accounts", len(sprayed)),
            ("failures", len(failures)),
            ("successes", w.oks),
            ("tries_per_account", round(len(failures) / len(sprayed), 3)),
            ("success_share", round(share, 4)),
            ("seconds", span),
            ("dropped", w.dropped),
        ]
        return Listing(failures).finding(
            self.name, f"{family}:{value}", failures, confidence, evidence, broad=True
        )

    def _password(self, value: str, w: _Attempts) -> Finding:
        # the hash is the key only; evidence holds counts, never the hash
        failures = [e for e in w.events if e.kind in FAILURES]
        seen = Listing(failures)
        accounts = len(w.failed)
        evidence = [
            ("accounts", accounts),
            ("failures", w.fails),
            ("sources", len(seen.sources)),
            ("successes", w.oks),
            ("dropped", w.dropped),
        ]
        confidence = 0.2 + 0.8 * grow(accounts, self.low("password"))
        return seen.finding(
            self.name, f"password:{value}", failures, confidence, evidence, broad=True
        )
