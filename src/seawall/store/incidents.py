"""Incidents in SQLite: one row per incident, its report as JSON, kept across restarts.

The file is created on first use. Writes are small and rare (an incident changes at most
once per detection tick), so callers in the event loop run them in a thread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from seawall.core.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    start REAL NOT NULL,
    end REAL,
    status TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_start ON incidents (start);
"""


class IncidentStore:
    """`path` "" keeps incidents in memory (lost at exit); otherwise a SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, used from worker threads in turn

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            target = self.path or ":memory:"
            if self.path:
                parent = Path(self.path).resolve().parent
                if not parent.is_dir():
                    raise ConfigError("store.path", f"directory {parent} does not exist")
            try:
                db = sqlite3.connect(target, check_same_thread=False, timeout=5.0)
                db.executescript(_SCHEMA)
            except sqlite3.DatabaseError as exc:
                msg = f"{self.path!r} is not a usable SQLite file: {exc}"
                raise ConfigError("store.path", msg) from None
            self._db = db
        return self._db

    def save(self, report: dict[str, Any]) -> None:
        """Insert or replace an incident's report (it grows while the incident is open)."""
        row = (
            report["id"],
            report["start"],
            report.get("end"),
            report.get("status", "open"),
            json.dumps(report, separators=(",", ":")),
        )
        with self._lock:
            db = self._conn()
            db.execute(
                "INSERT INTO incidents (id, start, end, status, report) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET end=excluded.end, status=excluded.status, "
                "report=excluded.report",
                row,
            )
            db.commit()

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest incidents first, without their timelines (summaries)."""
        with self._lock:
            rows = (
                self._conn()
                .execute("SELECT report FROM incidents ORDER BY start DESC LIMIT ?", (limit,))
                .fetchall()
            )
        out = []
        for (text,) in rows:
            report = json.loads(text)
            report.pop("timeline", None)
            out.append(report)
        return out

    def get(self, incident_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = (
                self._conn()
                .execute("SELECT report FROM incidents WHERE id = ?", (incident_id,))
                .fetchone()
            )
        return None if row is None else dict(json.loads(row[0]))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
