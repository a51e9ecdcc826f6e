"""Who gets warned about a campaign, and when operators get its digest.

Pure: campaigns and `now` in, alerts out; the ledger remembers what went out.

- Only targeted campaigns warn, and only with confidence >= `min_confidence` (a
  confirmed campaign warns below it) and never once dismissed.
- Each account hears of a campaign at most once, ever, and of at most `daily_cap`
  campaigns in any 24 hours; a warning over the cap is recorded "suppressed" and not sent.
- Operators get a digest when a campaign first qualifies, and again when its accounts
  grew by half or more since the last digest, or its decision changed.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from seawall.accounts.compose import WARNING, compose_digest, compose_warning
from seawall.accounts.events import Alert, Campaign
from seawall.config.accounts import Warnings

DAY: Final = 86_400.0
STATUSES: Final = frozenset({"queued", "sent", "failed", "suppressed"})
COUNTED: Final = frozenset({"queued", "sent"})  # warnings that count toward the daily cap
GROWTH: Final = 1.5  # accounts, over those at the last digest, that earn a new one
MAX_DIGESTS: Final = 32  # digests per campaign, at most
MAX_CAMPAIGNS: Final = 10_000  # campaigns the digest memo remembers (least recent go)


class Ledger(Protocol):
    """What went out. The store implements it; `MemoryLedger` serves tests and single runs.

    `warned(campaign, account)` is true once an alert with the id "<campaign>:<account>"
    has been recorded, whatever its status; a digest is asked as account "digest:<n>".
    `warnings_since` counts an account's warnings queued or sent at or after `since`.
    """

    def warned(self, campaign: str, account: str) -> bool: ...

    def warnings_since(self, account: str, since: float) -> int: ...

    def record(self, alert: Alert, status: str, now: float) -> None: ...


@dataclass(slots=True)
class _Entry:
    account: str
    status: str
    time: float  # when first recorded


class MemoryLedger:
    """A bounded in-memory ledger. At the cap the oldest alerts are forgotten first."""

    __slots__ = ("_alerts", "_by_account", "max_alerts", "per_account")

    def __init__(self, max_alerts: int = 100_000, per_account: int = 64) -> None:
        self.max_alerts = max_alerts
        self.per_account = per_account
        self._alerts: OrderedDict[str, _Entry] = OrderedDict()
        self._by_account: dict[str, deque[str]] = {}

    def __len__(self) -> int:
        return len(self._alerts)

    def warned(self, campaign: str, account: str) -> bool:
        return f"{campaign}:{account}" in self._alerts

    def status(self, alert_id: str) -> str | None:
        entry = self._alerts.get(alert_id)
        return None if entry is None else entry.status

    def warnings_since(self, account: str, since: float) -> int:
        n = 0
        for alert_id in self._by_account.get(account, ()):
            entry = self._alerts.get(alert_id)
            if entry is not None and entry.status in COUNTED and entry.time >= since:
                n += 1
        return n

    def record(self, alert: Alert, status: str, now: float) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown alert status {status!r}")
        entry = self._alerts.get(alert.id)
        if entry is not None:
            entry.status = status
            return
        self._alerts[alert.id] = _Entry(alert.account, status, now)
        if alert.kind == WARNING and alert.account:
            ids = self._by_account.setdefault(alert.account, deque(maxlen=self.per_account))
            ids.append(alert.id)
        while len(self._alerts) > self.max_alerts:
            self._forget()

    def _forget(self) -> None:
        alert_id, entry = self._alerts.popitem(last=False)
        ids = self._by_account.get(entry.account)
        if ids is None:
            return
        if alert_id in ids:
            ids.remove(alert_id)
        if not ids:
            del self._by_account[entry.account]


@dataclass(slots=True)
class _Digested:
    digests: int  # how many went out
    accounts: int  # the campaign's accounts at the last one
    decision: str  # its decision at the last one
    warned: int  # warnings queued for it (an upper bound after a restart)


def default_actions(campaign: Campaign) -> list[str]:
    """What account protection does about a qualifying targeted campaign."""
    n = len(campaign.accounts)
    return [
        f"step-up asked on sign-ins to the campaign's {n} account{'s' if n != 1 else ''} "
        "(no lockout)",
        "auth requests from the campaign's sources throttled",
    ]


class WarningDesk:
    """Turns campaigns into warnings and digests, once each, within the caps."""

    def __init__(
        self,
        ledger: Ledger,
        directory: Mapping[str, str],
        cfg: Warnings,
        *,
        admin_hint: str = "",
        actions: Callable[[Campaign], Sequence[str]] = default_actions,
        max_campaigns: int = MAX_CAMPAIGNS,
    ) -> None:
        self.ledger = ledger
        self.directory = directory  # account hash -> email address
        self.cfg = cfg
        self.admin_hint = admin_hint
        self.actions = actions
        self.max_campaigns = max_campaigns
        self._memo: OrderedDict[str, _Digested] = OrderedDict()

    def qualifies(self, campaign: Campaign) -> bool:
        if campaign.kind != "targeted" or campaign.decision == "dismissed":
            return False
        if campaign.decision == "confirmed":
            return True
        conf = campaign.confidence
        return math.isfinite(conf) and conf >= self.cfg.min_confidence

    def consider(self, campaign: Campaign, now: float) -> list[Alert]:
        """The alerts this campaign calls for now: warnings first, then a digest if due."""
        if not self.cfg.enabled:
            return []
        memo = self._recall(campaign)
        out: list[Alert] = []
        if self.qualifies(campaign):
            out = self._warnings(campaign, now)
        warned = (memo.warned if memo is not None else 0) + len(out)
        if memo is not None:
            memo.warned = warned
        if self._digest_due(campaign, memo):
            seq = (memo.digests if memo is not None else 0) + 1
            digest = compose_digest(
                campaign,
                self.cfg.site_name,
                now,
                warned,
                self.actions(campaign),
                self.admin_hint,
                seq=seq,
            )
            self.ledger.record(digest, "queued", now)
            self._remember(
                campaign, _Digested(seq, len(campaign.accounts), campaign.decision, warned)
            )
            out.append(digest)
        return out

    def _warnings(self, campaign: Campaign, now: float) -> list[Alert]:
        out = []
        for account in campaign.accounts:
            if not account or self.ledger.warned(campaign.id, account):
                continue
            recipient = self.directory.get(account, "")
            alert = compose_warning(campaign, account, recipient, self.cfg.site_name, now)
            if self.ledger.warnings_since(account, now - DAY) >= self.cfg.daily_cap:
                self.ledger.record(alert, "suppressed", now)
                continue
            self.ledger.record(alert, "queued", now)
            out.append(alert)
        return out

    def _digest_due(self, campaign: Campaign, memo: _Digested | None) -> bool:
        if memo is None or memo.digests == 0:
            return self.qualifies(campaign)
        if memo.digests >= MAX_DIGESTS:
            return False
        if campaign.decision != memo.decision:
            return True  # operators hear of each other's decisions
        return self.qualifies(campaign) and len(campaign.accounts) >= GROWTH * memo.accounts

    def _recall(self, campaign: Campaign) -> _Digested | None:
        """The memo of this campaign's digests, rebuilt from the ledger after a restart."""
        memo = self._memo.get(campaign.id)
        if memo is not None:
            self._memo.move_to_end(campaign.id)
            return memo
        n = 0
        while n < MAX_DIGESTS and self.ledger.warned(campaign.id, f"digest:{n + 1}"):
            n += 1
        if n == 0:
            return None
        # what the last digest saw is lost; take the campaign as it is now
        warned = sum(1 for a in campaign.accounts if self.ledger.warned(campaign.id, a))
        memo = _Digested(n, len(campaign.accounts), campaign.decision, warned)
        self._remember(campaign, memo)
        return memo

    def _remember(self, campaign: Campaign, memo: _Digested) -> None:
        self._memo[campaign.id] = memo
        self._memo.move_to_end(campaign.id)
        while len(self._memo) > self.max_campaigns:
            self._memo.popitem(last=False)
