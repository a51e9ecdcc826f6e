"""Account protection in SQLite: campaigns, alerts ledger, audit log, learned threshold
factors and the ids of app events already taken in. Records are plain dicts.

It may share the incidents' file (its tables are `account_*`). One connection behind a lock,
created on first use; callers in the event loop run it in a thread. Every table is bounded:
campaigns and alerts are pruned oldest first a little past their cap (counting is a scan),
the audit log and event ids exactly at theirs.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from seawall.core.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS account_campaigns (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, start REAL NOT NULL, last REAL NOT NULL,
    state TEXT NOT NULL, decision TEXT NOT NULL, review TEXT,
    accounts_count INTEGER NOT NULL, summary TEXT NOT NULL, accounts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_campaigns_last ON account_campaigns (last);
CREATE INDEX IF NOT EXISTS account_campaigns_state ON account_campaigns (state, last);
CREATE TABLE IF NOT EXISTS account_alerts (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, campaign TEXT NOT NULL, account TEXT NOT NULL,
    recipient TEXT NOT NULL, subject TEXT NOT NULL, time REAL NOT NULL,
    status TEXT NOT NULL, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS account_alerts_campaign ON account_alerts (campaign, account);
CREATE INDEX IF NOT EXISTS account_alerts_account ON account_alerts (account, time);
CREATE INDEX IF NOT EXISTS account_alerts_time ON account_alerts (time);
CREATE TABLE IF NOT EXISTS account_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_audit_subject ON account_audit (subject, seq);
CREATE TABLE IF NOT EXISTS account_factors (
    detector TEXT PRIMARY KEY, factor REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS account_seen_events (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS account_seen_events_time ON account_seen_events (time);
"""
_TABLES: Final = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _SCHEMA)

DECISIONS: Final = frozenset({"confirmed", "dismissed"})
COUNTED: Final = ("queued", "sent")  # what a rate limit on warnings counts
_CHUNK: Final = 500  # ids per IN (...) query, well under SQLite's variable limit
_SELF: Final = "seawall"  # the actor of changes the store makes on its own
_ALERT_COLS: Final = "id, kind, campaign, account, recipient, subject, time, status, updated"


def _upsert(table: str, cols: str, *special: str) -> str:
    """INSERT of `cols` that updates all but the first (the key) on conflict, or per `special`."""
    names = cols.split(", ")
    own = {s.split("=")[0] for s in special}
    sets = [f"{c}=excluded.{c}" for c in names[1:] if c not in own] + list(special)
    return (
        f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT({names[0]}) DO UPDATE SET {', '.join(sets)}"
    )


_SAVE_CAMPAIGN: Final = _upsert(
    "account_campaigns",
    "id, kind, start, last, state, decision, accounts_count, summary, accounts",
    # "" keeps the stored decision; the review stays while the decision does.
    "decision=CASE WHEN excluded.decision = '' THEN account_campaigns.decision "
    "ELSE excluded.decision END",
    "review=CASE WHEN excluded.decision IN ('', account_campaigns.decision) "
    "THEN account_campaigns.review ELSE NULL END",
)
_RECORD_ALERT: Final = _upsert("account_alerts", _ALERT_COLS)
_SET_FACTOR: Final = _upsert("account_factors", "detector, factor, updated")


class AccountStore:
    """`path` "" keeps everything in memory (lost at exit); otherwise a SQLite file."""

    def __init__(
        self,
        path: str,
        *,
        max_campaigns: int = 100_000,
        max_alerts: int = 1_000_000,
        max_audit: int = 1_000_000,
    ) -> None:
        self.path = path
        self._caps = dict(
            account_campaigns=max(1, max_campaigns), account_alerts=max(1, max_alerts)
        )
        self._max_audit = max(1, max_audit)
        self._writes = dict.fromkeys(self._caps, 0)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, used from worker threads in turn

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            if self.path:
                parent = Path(self.path).resolve().parent
                if not parent.is_dir():
                    raise ConfigError("store.path", f"directory {parent} does not exist")
            try:
                db = _open(self.path or ":memory:")
            except sqlite3.DatabaseError as exc:
                msg = f"{self.path!r} is not a usable SQLite file: {exc}"
                raise ConfigError("store.path", msg) from None
            self._db = db
        return self._db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock: all of it lands, or none."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn().execute(sql, params).fetchall()

    def _select(
        self, cols: str, table: str, where: str, value: str | None, order: str, limit: int
    ) -> list[Any]:
        """Rows of `table`, only those whose `where` column is `value` unless that is None."""
        filtered = value is not None
        sql = f"SELECT {cols} FROM {table} {f'WHERE {where} = ?' if filtered else ''}"
        params = (value, limit) if filtered else (limit,)
        return self._read(f"{sql} ORDER BY {order} LIMIT ?", params)

    def _bound(self, db: sqlite3.Connection, table: str, order: str) -> None:
        """Prune `table` to its cap, oldest first; counted every cap/16 writes (at most 256)."""
        cap = self._caps[table]
        self._writes[table] += 1
        if self._writes[table] % max(1, min(256, cap // 16)):
            return
        (rows,) = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        if rows > cap:
            db.execute(
                f"DELETE FROM {table} WHERE rowid IN "
                f"(SELECT rowid FROM {table} ORDER BY {order} LIMIT ?)",
                (rows - cap,),
            )

    def save_campaign(self, campaign: Mapping[str, Any]) -> None:
        """Insert or update a campaign (a Campaign.to_dict()).

        A decision of "" keeps the one already stored: the engine may not know it yet.
        """
        summary = dict(campaign)
        accounts = list(summary.pop("accounts", ()))
        decision = str(summary.pop("decision", "") or "")
        summary.pop("review", None)
        summary.pop("accounts_count", None)
        if decision and decision not in DECISIONS:
            raise ValueError(f"campaign decision must be one of {sorted(DECISIONS)} or ''")
        row = (
            str(summary["id"]),
            str(summary.get("kind", "")),
            float(summary["start"]),
            float(summary["last"]),
            str(summary.get("state", "open")),
            decision,
            len(accounts),
            _dumps(summary),
            _dumps(accounts),
        )
        with self._tx() as db:
            db.execute(_SAVE_CAMPAIGN, row)
            self._bound(db, "account_campaigns", "last")

    def campaigns(self, limit: int = 100, state: str | None = None) -> list[dict[str, Any]]:
        """Summaries, latest activity first: no account list, but `accounts_count`."""
        cols = "summary, decision, review, accounts_count"
        rows = self._select(cols, "account_campaigns", "state", state, "last DESC", limit)
        return [_campaign(*row) for row in rows]

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        """The whole campaign, with its accounts, decision and last review (or None)."""
        with self._lock:
            return _load(self._conn(), campaign_id)

    def decide(
        self, campaign_id: str, decision: str, actor: str, note: str, now: float
    ) -> dict[str, Any] | None:
        """An operator's decision: set on the campaign and audited in one transaction.

        Returns the updated campaign, or None for an unknown id (nothing is written).
        """
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {sorted(DECISIONS)}, not {decision!r}")
        with self._tx() as db:
            sql = "SELECT decision FROM account_campaigns WHERE id = ?"
            row = db.execute(sql, (campaign_id,)).fetchone()
            if row is None:
                return None
            review = {"actor": actor, "note": note, "time": now}
            db.execute(
                "UPDATE account_campaigns SET decision = ?, review = ? WHERE id = ?",
                (decision, _dumps(review), campaign_id),
            )
            detail = _dumps({"decision": decision, "previous": row[0], "note": note})
            self._append(db, (now, actor, "campaign.decide", campaign_id, detail))
            return _load(db, campaign_id)

    # Alerts ledger (the warnings' Ledger protocol, structurally)

    def warned(self, campaign: str, account: str) -> bool:
        """Whether the alert `{campaign}:{account}` was recorded, whatever its status.

        A suppressed warning counts: it is never retried. Digests ask with account
        "digest:<n>", so none is repeated after a restart.
        """
        rows = self._read(
            "SELECT 1 FROM account_alerts WHERE id = ? LIMIT 1", (f"{campaign}:{account}",)
        )
        return bool(rows)

    def warnings_since(self, account: str, since: float) -> int:
        """Account warnings to `account` queued or sent at or after `since`."""
        rows = self._read(
            "SELECT COUNT(*) FROM account_alerts WHERE account = ? AND time >= ? "
            "AND kind = 'account_warning' AND status IN (?, ?)",
            (account, since, *COUNTED),
        )
        return int(rows[0][0])

    def record(self, alert: Any, status: str, now: float) -> None:
        """Insert or update an alert's ledger row by id. The body is never stored."""
        if not status:
            raise ValueError("alert status must not be empty")
        names = _ALERT_COLS.split(", ")[:7]  # id .. time
        fields = alert if isinstance(alert, Mapping) else {k: getattr(alert, k) for k in names}
        row = (*(str(fields.get(k, "")) for k in names[:6]), float(fields["time"]), status, now)
        if not row[0]:
            raise ValueError("alert has no id")
        with self._tx() as db:
            db.execute(_RECORD_ALERT, row)
            self._bound(db, "account_alerts", "time")

    def alerts(self, campaign: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Ledger rows, newest alert first; of one campaign when `campaign` is given."""
        order = "time DESC, id"
        rows = self._select(_ALERT_COLS, "account_alerts", "campaign", campaign, order, limit)
        return _dicts(_ALERT_COLS, rows)

    def audit(
        self, actor: str, action: str, subject: str, detail: Mapping[str, Any], now: float
    ) -> None:
        """Append an entry to the audit log (entries are never changed)."""
        with self._tx() as db:
            self._append(db, (now, actor, action, subject, _dumps(dict(detail))))

    def _append(self, db: sqlite3.Connection, entry: tuple[float, str, str, str, str]) -> None:
        cur = db.execute(
            "INSERT INTO account_audit (time, actor, action, subject, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            entry,
        )
        # seq never repeats (AUTOINCREMENT), so this keeps exactly the newest max_audit.
        db.execute(
            "DELETE FROM account_audit WHERE seq <= ?", ((cur.lastrowid or 0) - self._max_audit,)
        )

    def audit_log(self, limit: int = 200, subject: str | None = None) -> list[dict[str, Any]]:
        """Entries newest first; only those about `subject` when it is given."""
        cols = "seq, time, actor, action, subject, detail"
        out = _dicts(
            cols, self._select(cols, "account_audit", "subject", subject, "seq DESC", limit)
        )
        for entry in out:
            entry["detail"] = json.loads(entry["detail"])
        return out

    def factors(self) -> dict[str, float]:
        """Detector name -> threshold multiplier; a detector not listed has 1.0."""
        return dict(self._read("SELECT detector, factor FROM account_factors"))

    def raise_factor(self, detector: str, by: float, now: float, cap: float = 8.0) -> float:
        """Multiply a detector's factor by `by`, at most `cap`; audited. Returns the new one."""
        if not (math.isfinite(by) and by > 0 and math.isfinite(cap) and cap > 0):
            raise ValueError("raise_factor needs a finite positive `by` and `cap`")
        with self._tx() as db:
            sql = "SELECT factor FROM account_factors WHERE detector = ?"
            row = db.execute(sql, (detector,)).fetchone()
            old = 1.0 if row is None else float(row[0])
            new = min(cap, old * by)
            db.execute(_SET_FACTOR, (detector, new, now))
            detail = _dumps({"from": old, "to": new, "by": by, "cap": cap})
            self._append(db, (now, _SELF, "factor.raise", f"detector:{detector}", detail))
        return new

    def seen_events(
        self, ids: Sequence[str], now: float, keep: float = 86400.0, max_rows: int = 2_000_000
    ) -> set[str]:
        """Which of `ids` were recorded before this call; the rest are recorded now.

        Ids older than `keep` are forgotten first, then all but the newest `max_rows`.
        An id repeated within one call is new (or not) for all its copies: fold repeats
        before acting on them. All in one transaction.
        """
        with self._tx() as db:
            db.execute("DELETE FROM account_seen_events WHERE time < ?", (now - keep,))
            unique = list(dict.fromkeys(ids))
            seen: set[str] = set()
            for i in range(0, len(unique), _CHUNK):
                chunk = unique[i : i + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT id FROM account_seen_events WHERE id IN ({marks})"
                seen.update(r[0] for r in db.execute(sql, chunk))
            db.executemany(
                "INSERT INTO account_seen_events (id, time) VALUES (?, ?)",
                [(i, now) for i in unique if i not in seen],
            )
            # New rows take max(seq) + 1, so the newest max_rows have the top seqs.
            db.execute(
                "DELETE FROM account_seen_events WHERE seq <= "
                "(SELECT MAX(seq) FROM account_seen_events) - ?",
                (max(0, max_rows),),
            )
        return seen

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _dicts(cols: str, rows: list[Any]) -> list[dict[str, Any]]:
    names = cols.split(", ")
    return [dict(zip(names, row, strict=True)) for row in rows]


def _open(target: str) -> sqlite3.Connection:
    # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE in _tx).
    db = sqlite3.connect(target, check_same_thread=False, timeout=5.0, isolation_level=None)
    try:
        db.executescript(_SCHEMA)
        _check_shape(db)
    except BaseException:
        db.close()
        raise
    return db


def _columns(db: sqlite3.Connection) -> dict[str, set[str]]:
    return {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in _TABLES}


def _check_shape(db: sqlite3.Connection) -> None:
    """Refuse a file whose tables lack columns here at open, not in mid-request."""
    with sqlite3.connect(":memory:") as fresh:
        fresh.executescript(_SCHEMA)
        wanted = _columns(fresh)
    fresh.close()
    for table, have in _columns(db).items():
        if missing := sorted(wanted[table] - have):
            raise sqlite3.DatabaseError(f"table {table} has no column(s) {', '.join(missing)}")


def _campaign(
    summary: str, decision: str, review: str | None, count: int, accounts: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(summary)
    if accounts is not None:
        out["accounts"] = json.loads(accounts)
    out["decision"] = decision
    out["review"] = None if review is None else json.loads(review)
    out["accounts_count"] = count
    return out


def _load(db: sqlite3.Connection, campaign_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT summary, decision, review, accounts_count, accounts FROM account_campaigns "
        "WHERE id = ?",
        (campaign_id,),
    ).fetchone()
    return None if row is None else _campaign(*row)
