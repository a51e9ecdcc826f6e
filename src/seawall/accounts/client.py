"""A tiny client for the app: report auth events to seawall's POST /v1/events.

    from seawall.accounts.client import EventsClient

    events = EventsClient("http://127.0.0.1:9901", token="...")
    events.login_failed(account="alice", source=request_ip, user_agent=ua)
    events.flush()  # or let it send every `batch` events; close() flushes too

Besides seawall itself it needs only the standard library. Every event gets an id when
it is made, and a retried batch carries the same ids: seawall counts each event once.
Pass `password_hash` only as your own keyed hash of the tried password, never the
password; seawall hashes every identifier again with its own key on arrival. While
seawall cannot be reached, at most `max_pending` events wait (the oldest go first); a
batch seawall refuses is dropped. Both are counted in `dropped`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

from seawall.core.auth import EventKind

RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_BATCH = 1000  # seawall refuses a bigger batch
MAX_PENDING = 10_000  # events kept while seawall cannot be reached; the oldest go first


class EventsError(RuntimeError):
    """seawall refused the batch (4xx) or stayed unreachable through every retry."""


class EventsRefused(EventsError):
    """seawall refused the batch: sending it again would be refused again, so it is dropped."""


class EventsClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        batch: int = 100,
        timeout: float = 5.0,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.url = base_url.rstrip("/") + "/v1/events"
        self.token = token
        self.batch = max(1, min(batch, MAX_BATCH))
        self.max_pending = max(self.batch, max_pending)
        self.dropped = 0  # events given up: the queue was full, or seawall refused them
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep
        self.clock = clock
        self.pending: list[dict[str, Any]] = []
        self.last_answer: dict[str, Any] = {}

    def event(self, kind: EventKind | str, account: str, source: str, **fields: Any) -> str:
        """Queue one event; returns its id. Sends when a batch is full."""
        ev = {
            "id": fields.pop("id", None) or uuid.uuid4().hex,
            "type": EventKind(kind).value,
            "account": account,
            "source": source,
            "time": fields.pop("time", None) or self.clock(),
            **{k: v for k, v in fields.items() if v not in (None, "")},
        }
        if len(self.pending) >= self.max_pending:
            del self.pending[0]
            self.dropped += 1
        self.pending.append(ev)
        if len(self.pending) >= self.batch:
            self.flush()
        return str(ev["id"])

    def login_failed(self, account: str, source: str, **fields: Any) -> str:
        return self.event(EventKind.LOGIN_FAILED, account, source, **fields)

    def login_succeeded(self, account: str, source: str, **fields: Any) -> str:
        return self.event(EventKind.LOGIN_SUCCEEDED, account, source, **fields)

    def flush(self) -> dict[str, Any]:
        """Send what is queued, a batch at a time; returns seawall's answer to the last.

        What seawall cannot be reached for stays queued; a batch it refuses is dropped.
        """
        answer: dict[str, Any] = {}
        while self.pending:
            sent = self.pending[: self.batch]
            try:
                answer = self._post(json.dumps({"events": sent}).encode())
            except EventsRefused:
                del self.pending[: len(sent)]
                self.dropped += len(sent)
                raise
            del self.pending[: len(sent)]
            self.last_answer = answer
        return answer

    def close(self) -> None:
        self.flush()

    def _post(self, body: bytes) -> dict[str, Any]:
        delay = 0.5
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self.token}",
                },
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    answer: dict[str, Any] = json.loads(resp.read() or b"{}")
                    return answer
            except urllib.error.HTTPError as exc:
                try:
                    if exc.code not in RETRYABLE or attempt == self.retries:
                        detail = exc.read().decode("utf-8", "replace")[:500]
                        refused = EventsRefused if exc.code not in RETRYABLE else EventsError
                        raise refused(f"seawall answered {exc.code}: {detail}") from None
                finally:
                    exc.close()  # its connection, whatever happens next
            except (urllib.error.URLError, OSError) as exc:
                if attempt == self.retries:
                    raise EventsError(f"cannot reach {self.url}: {exc}") from None
            self.sleep(delay)
            delay *= 2
        raise EventsError("unreachable")  # the loop always returns or raises first
