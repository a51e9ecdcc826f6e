"""Account protection in a running edge: the shell around the pure account engine.

One per host (the single process, or the supervisor of several workers). Auth events
arrive from the edge's auth watch (pulled, or sent over the workers' pipes) and from the
app through POST /v1/events; they wait in a bounded queue with a drop counter. Once a
second the engine ticks: rule changes go to every worker, changed campaigns to the store,
and warnings through the desk to the sinks. Operators confirm or dismiss campaigns; a
dismissal raises the thresholds of the detectors behind it, and both are audited.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from seawall.accounts.desk import WarningDesk
from seawall.accounts.engine import AccountEngine, AccountSettings
from seawall.accounts.events import AuthEvent, Campaign
from seawall.accounts.ident import Directory, Hasher, hash_all, load_directory
from seawall.accounts.ingest import read_batch
from seawall.accounts.sinks import Dispatcher, build_sinks
from seawall.config.schema import Config
from seawall.core.errors import ConfigError
from seawall.core.rules import RulesetDelta
from seawall.geo.lookup import BundledGeo
from seawall.runtime.clock import Clock
from seawall.store.accounts import AccountStore

log = logging.getLogger("seawall.accounts")
MAX_QUEUE: Final = 200_000
DISMISS_FACTOR: Final = 1.5  # each dismissal asks that much more evidence of the pattern
TICK: Final = 1.0
PLACED: Final = 200  # heaviest sources of a campaign placed by country and ASN
MAX_PLACED: Final = 1000


def place(geo: BundledGeo, sources: Iterable[str]) -> dict[str, Any]:
    """Countries and ASNs of a campaign's heaviest sources (a sample: say so in reports)."""
    countries: Counter[str] = Counter()
    asns: Counter[str] = Counter()
    n = 0
    for src in sources:
        info = geo.lookup(src)
        n += 1
        countries[info.country or "unknown"] += 1
        asns[f"AS{info.asn}" if info.asn else "unknown"] += 1
    return {
        "placed": n,
        "countries": dict(countries.most_common(20)),
        "asns": dict(asns.most_common(20)),
    }


def read_directory(path: str, hasher: Hasher) -> Directory:
    if not path:
        return Directory()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("accounts.directory", f"cannot read {path}: {exc}") from None
    return load_directory(text, hasher)


class AccountService:
    def __init__(
        self,
        cfg: Config,
        apply: Callable[[RulesetDelta], object],
        clock: Clock,
        store_path: str = "",
    ) -> None:
        a = cfg.accounts
        self.clock = clock
        self.apply = apply
        self.hasher = Hasher(a.secret)
        self.events_token = a.events_token or cfg.admin.token
        self.store = AccountStore(store_path)
        directory = read_directory(a.directory, self.hasher)
        settings = AccountSettings.from_config(cfg, hash_all(a.high_risk, self.hasher))
        self.engine = AccountEngine(settings, directory, self.store.factors())
        self.desk = WarningDesk(self.store, directory.emails, a.warnings)
        sinks = build_sinks(a.warnings) if a.warnings.enabled else []
        self.dispatcher = Dispatcher(sinks, self.store, a.warnings.retries)
        self.queue: list[AuthEvent] = []
        self.dropped = 0
        self.sources: list[Callable[[], list[AuthEvent]]] = []  # in-process auth watches
        self.tasks: set[asyncio.Task[object]] = set()
        self.geo = BundledGeo()
        self.saving = threading.Lock()
        self.placed: dict[str, tuple[int, dict[str, Any]]] = {}

    # ---- events in -----------------------------------------------------------------------

    def submit(self, events: Iterable[AuthEvent]) -> None:
        for ev in events:
            if len(self.queue) >= MAX_QUEUE:
                self.dropped += 1
            else:
                self.queue.append(ev)

    async def ingest(self, body: bytes) -> dict[str, Any]:
        """POST /v1/events: a batch in; raises BatchError (the sender's fault) when unreadable."""
        batch = read_batch(body, self.hasher, self.clock.wall())
        ids = list(dict.fromkeys(e.id for e in batch.events))
        seen = await asyncio.to_thread(self.store.seen_events, ids, self.clock.wall())
        fresh, dupes, taken = [], 0, set()
        for e in batch.events:
            if e.id in seen or e.id in taken:
                dupes += 1
                continue
            taken.add(e.id)
            fresh.append(e)
        before = self.dropped
        self.submit(fresh)
        return {
            "accepted": len(fresh) - (self.dropped - before),
            "duplicates": dupes,
            "dropped": self.dropped - before,
            "rejected": batch.rejected,
        }

    # ---- the tick ------------------------------------------------------------------------

    def tick(self) -> list[Campaign]:
        for pull in self.sources:
            self.submit(pull())
        events, self.queue = self.queue, []
        for ev in events:
            self.engine.observe(ev)
        now, mono = self.clock.wall(), self.clock.monotonic()
        res = self.engine.tick(now, mono)
        if res.delta.add or res.delta.remove:
            self.apply(res.delta)
        changed = [*res.changed, *res.closed]
        for c in changed:
            self._after(c, now)
        return changed

    def _after(self, c: Campaign, now: float) -> None:
        if c.state == "closed":
            log.info("account campaign %s closed", c.id)
        self._background(self._save, c)
        if c.state == "open":  # closed or merged campaigns warn nobody new
            self.dispatcher.submit(self.desk.consider(c, now))

    def _save(self, c: Campaign) -> None:
        """Stored with where its heaviest sources are (in a thread: lookups take time).

        One save at a time: the bundled geo data is not safe to read from two threads.
        """
        with self.saving:
            self._save_one(c)

    def _save_one(self, c: Campaign) -> None:
        report = c.to_dict()
        known = self.placed.get(c.id)
        if known is None or known[0] != c.sources:
            known = (c.sources, place(self.geo, c.top_sources[:PLACED]))
            self.placed[c.id] = known
            while len(self.placed) > MAX_PLACED:
                self.placed.pop(next(iter(self.placed)))
        report["geo"] = known[1]
        self.store.save_campaign(report)

    def _background(self, fn: Callable[..., object], *args: object) -> None:
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(fn, *args), name="accounts-store"
        )
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("account store write failed: %s", task.exception())

    async def run(self) -> None:
        await self.dispatcher.start()
        while True:
            await asyncio.sleep(TICK)
            try:
                self.tick()
            except Exception:  # account protection failing must never take the edge down
                log.exception("an account tick failed; the edge goes on without it")

    async def close(self, grace: float = 5.0) -> None:
        await self.dispatcher.close(grace)
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=grace)
        self.store.close()

    # ---- the operator's side -------------------------------------------------------------

    async def decide(self, campaign_id: str, decision: str, actor: str, note: str) -> Any:
        """Confirm or dismiss: stored and audited, rules and thresholds follow at once."""
        now, mono = self.clock.wall(), self.clock.monotonic()
        stored = await asyncio.to_thread(self.store.decide, campaign_id, decision, actor, note, now)
        if stored is None:
            return None
        res = self.engine.decide(campaign_id, decision, now, mono)
        if res.delta.add or res.delta.remove:
            self.apply(res.delta)
        if decision == "dismissed":
            for det in stored.get("detectors", []):
                factor = await asyncio.to_thread(self.store.raise_factor, det, DISMISS_FACTOR, now)
                self.engine.raise_factor(det, factor)
        for c in res.changed:
            self.dispatcher.submit(self.desk.consider(c, now))
        return stored

    def stats(self) -> dict[str, int]:
        return {
            "account_events": self.engine.events,
            "account_events_duplicate": self.engine.duplicates,
            "account_events_dropped": self.dropped,
            "account_campaigns_open": len(self.engine.book.open),
            **{f"account_alerts_{k}": v for k, v in self.dispatcher.counters.items()},
        }

    # ---- reads for the admin API ---------------------------------------------------------

    def campaigns(self, limit: int = 100, state: str | None = None) -> list[dict[str, Any]]:
        """Open and closed campaigns; parts merged into another are left out."""
        found = self.store.campaigns(limit, state)
        return [c for c in found if not str(c.get("state", "")).startswith("merged")]

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        found = self.store.campaign(campaign_id)
        if found is not None:
            found["alerts"] = self.store.alerts(campaign_id)
        return found

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        return self.store.audit_log(limit)
