"""The lab's side of account protection in one run: what the edge is told, what it said.

For a scenario with a `Siege`, the runner makes an `AccountWatch`: it knows the truly
targeted accounts (the lab's answer key, as hashes the edge would use), runs the webhook
receiver the edge's warnings go to, hands the edge its `EdgeAccounts`, collects the
campaigns read from the edge's store, and finally scores them all into the scorecard's
`accounts` object. Nothing of the answer key is given to the edge beyond what any
operator declares: the high-risk accounts and the directory.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from seawall.accounts.ident import Hasher
from seawall.lab.account_score import account_scores
from seawall.lab.accounts_data import Identity
from seawall.lab.origin import DEFAULT_SECRETS
from seawall.lab.procs import EdgeAccounts
from seawall.lab.webhooks import WebhookReceiver, new_secret


@dataclass(slots=True)
class AccountWatch:
    targets: tuple[str, ...]  # account names
    directory: tuple[Identity, ...]
    secret: str = DEFAULT_SECRETS.accounts
    webhook_secret: str = field(default_factory=new_secret)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    receiver: WebhookReceiver | None = None

    def target_hashes(self) -> frozenset[str]:
        hasher = Hasher(self.secret)
        return frozenset(hasher(n) for n in self.targets)

    @contextlib.asynccontextmanager
    async def receiving(self) -> AsyncIterator[EdgeAccounts]:
        """The receiver runs while this is open; yields what the edge is configured with."""
        self.receiver = WebhookReceiver(self.webhook_secret)
        url = await self.receiver.start()
        try:
            yield EdgeAccounts(self.targets, self.directory, url, self.webhook_secret)
        finally:
            await self.receiver.stop()

    def score(self, counts: Mapping[str, int], siege_start: float | None = None) -> dict[str, Any]:
        """The scorecard's `accounts` object, with the receiver's own tallies under
        `webhooks`; `siege_start` (epoch s) times the warnings from the attack's start."""
        got = self.receiver.deliveries if self.receiver is not None else None
        warned = list(got.warned) if got is not None else []
        rejected = got.rejected if got is not None else 0
        hasher, targets = Hasher(self.secret), self.target_hashes()
        registered = {hasher(i.name) for i in self.directory}
        out = account_scores(targets, self.campaigns, warned, rejected, counts, registered)
        out["webhooks"] = got.summary() if got is not None else {}
        at = got.warned_at if got is not None else {}
        out.update(warning_times(at, targets, siege_start))
        return out


def warning_times(
    warned_at: Mapping[str, float], targets: frozenset[str], start: float | None
) -> dict[str, float | None]:
    """Seconds from the attack's start to the first warning, and to the last target's."""
    times = [t - start for a, t in warned_at.items() if a in targets] if start else []
    every = start is not None and bool(targets) and targets <= set(warned_at)
    return {
        "first_warning_s": round(min(times), 1) if times else None,
        "all_targets_warned_s": round(max(times), 1) if every and times else None,
    }
