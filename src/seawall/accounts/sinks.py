"""Delivery of warnings and digests: email (SMTP), signed webhooks, the log.

`Dispatcher` owns one named task and a bounded table of alerts in flight. Each alert goes
to every sink; a sink that fails with a retryable error is tried again after an
exponential backoff, and other alerts go on meanwhile. When every sink is done the
ledger records the alert "sent", or "failed" if any sink gave up on it. Nothing here
raises into the caller: errors are counted and logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import heapq
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Final, Protocol
from urllib.parse import urlsplit

import aiohttp
import aiosmtplib
import msgspec

from seawall.accounts.compose import DIGEST, WARNING, iso
from seawall.accounts.desk import Ledger
from seawall.accounts.events import Alert
from seawall.config.accounts import SmtpSink as SmtpConfig
from seawall.config.accounts import Warnings
from seawall.config.accounts import Webhook as WebhookConfig

log = logging.getLogger("seawall.accounts")

MAX_DELAY: Final = 300.0  # the longest wait between two attempts
TYPES: Final = {WARNING: "account.warning", DIGEST: "campaign.digest"}


class DeliveryError(Exception):
    """A sink could not deliver; `retryable` says whether trying later may help."""

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class Sink(Protocol):
    name: str

    async def deliver(self, alert: Alert) -> None:
        """Deliver, or do nothing when the alert is not for this sink; raise DeliveryError."""
        ...


def mask_email(address: str) -> str:
    """'jane@example.org' -> 'j***@example.org'; anything else -> '***' (or '' for none)."""
    if not address:
        return ""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


# ---- email ---------------------------------------------------------------------------------


def _message_id(alert_id: str, sender: str) -> str:
    """Stable across retries, so a mailbox can drop a repeat."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(alert_id.encode()).hexdigest()[:32]}@{domain}>"


def email_message(alert: Alert, sender: str, recipients: Sequence[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = alert.subject
    msg["Date"] = formatdate(alert.time, usegmt=True)
    msg["Message-ID"] = _message_id(alert.id, sender)
    msg["X-Seawall-Alert"] = alert.id
    msg.set_content(alert.text)
    if alert.html:
        msg.add_alternative(alert.html, subtype="html")
    return msg


def _smtp_retryable(exc: aiosmtplib.SMTPException) -> bool:
    """5xx is final, 4xx and lost connections are worth another try."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return any(r.code < 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code < 500
    return not isinstance(exc, aiosmtplib.SMTPNotSupported)


class SmtpSink:
    """Warnings to their recipient (none: skipped), digests to the operators."""

    def __init__(self, cfg: SmtpConfig, operators: Sequence[str]) -> None:
        self.name = "smtp"
        self.cfg = cfg
        self.operators = tuple(operators)

    def recipients(self, alert: Alert) -> tuple[str, ...]:
        if alert.kind == DIGEST:
            return self.operators
        return (alert.recipient,) if alert.recipient else ()

    async def deliver(self, alert: Alert) -> None:
        to = self.recipients(alert)
        if not to:
            return
        cfg = self.cfg
        try:
            await aiosmtplib.send(
                email_message(alert, cfg.sender, to),
                sender=cfg.sender,
                recipients=list(to),
                hostname=cfg.host,
                port=cfg.port,
                username=cfg.username or None,
                password=cfg.password or None,
                use_tls=cfg.use_tls,
                # None: upgrade when offered; implicit TLS needs no upgrade
                start_tls=None if cfg.starttls and not cfg.use_tls else False,
                timeout=cfg.timeout,
            )
        except aiosmtplib.SMTPException as e:
            raise DeliveryError(f"smtp: {e}", _smtp_retryable(e)) from e
        except (OSError, TimeoutError) as e:
            raise DeliveryError(f"smtp: {e!r}", True) from e


# ---- webhooks ------------------------------------------------------------------------------


def webhook_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature header value: 'v1,' and base64 HMAC-SHA256."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_body(alert: Alert) -> bytes:
    """{"type", "timestamp", "data"}: the alert's fields, and a digest's campaign summary."""
    payload = {
        "type": TYPES.get(alert.kind, alert.kind),
        "timestamp": iso(alert.time),
        "data": msgspec.to_builtins(alert),
    }
    return msgspec.json.encode(payload)


class WebhookSink:
    """POSTs each alert, signed, to one endpoint. 2xx: done; 429, 5xx, no answer: retry."""

    def __init__(self, cfg: WebhookConfig, clock: Callable[[], float] = time.time) -> None:
        parts = urlsplit(cfg.url)
        self.name = f"webhook:{parts.hostname or '?'}:{parts.port or parts.scheme}"
        self.cfg = cfg
        self.key = webhook_key(cfg.secret)
        self.clock = clock

    def headers(self, alert: Alert, body: bytes) -> dict[str, str]:
        ts = int(self.clock())
        return {
            "content-type": "application/json",
            "webhook-id": alert.id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(self.key, alert.id, ts, body),
        }

    async def deliver(self, alert: Alert) -> None:
        body = webhook_body(alert)
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(
                    self.cfg.url,
                    data=body,
                    headers=self.headers(alert, body),
                    allow_redirects=False,
                ) as resp,
            ):
                status = resp.status
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise DeliveryError(f"{self.name}: {e!r}", True) from e
        if 200 <= status < 300:
            return
        retryable = status == 429 or status >= 500
        raise DeliveryError(f"{self.name}: answered {status}", retryable)


# ---- the log -------------------------------------------------------------------------------


class LogSink:
    """One JSON line per alert on the 'seawall.accounts' logger; emails masked."""

    def __init__(self) -> None:
        self.name = "log"

    async def deliver(self, alert: Alert) -> None:
        line = {
            "alert": alert.id,
            "kind": alert.kind,
            "campaign": alert.campaign,
            "account": alert.account,
            "recipient": mask_email(alert.recipient),
            "subject": alert.subject,
        }
        log.info("alert %s", json.dumps(line, ensure_ascii=True))


def build_sinks(cfg: Warnings) -> list[Sink]:
    """The sinks the configuration asks for: email, each webhook, the log."""
    sinks: list[Sink] = []
    if cfg.smtp.host:
        sinks.append(SmtpSink(cfg.smtp, cfg.operators))
    sinks.extend(WebhookSink(w) for w in cfg.webhooks)
    if cfg.log:
        sinks.append(LogSink())
    return sinks


# ---- the dispatcher ------------------------------------------------------------------------


@dataclass(slots=True)
class _Flight:
    alert: Alert
    pending: int  # sinks not done with it
    failed: bool = False


class Dispatcher:
    """A bounded delivery queue with one task, retries with backoff, and counters."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        ledger: Ledger,
        retries: int,
        max_queue: int = 10_000,
        base_delay: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sinks = tuple(sinks)
        self.ledger = ledger
        self.retries = retries
        self.max_queue = max_queue
        self.base_delay = base_delay
        self.clock = clock
        self.counters: dict[str, int] = dict.fromkeys(
            ("queued", "sent", "failed", "dropped", "retried"), 0
        )
        self._flights: dict[str, _Flight] = {}  # alert id -> its deliveries; <= max_queue
        self._due: list[tuple[float, int, str, int, int]] = []  # (when, seq, id, sink, attempt)
        self._seq = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._flights)

    def submit(self, alerts: Iterable[Alert]) -> None:
        """Queue alerts for every sink; a full queue drops them (and the ledger says failed)."""
        for alert in alerts:
            if alert.id in self._flights:
                continue  # already on its way
            if self._closed or len(self._flights) >= self.max_queue:
                self.counters["dropped"] += 1
                self._record(alert, "failed")
                continue
            self.counters["queued"] += 1
            if not self.sinks:
                self._finish(_Flight(alert, 0))
                continue
            self._flights[alert.id] = _Flight(alert, len(self.sinks))
            for index in range(len(self.sinks)):
                self._schedule(alert.id, index, 0, 0.0)
        if self._flights:
            self._idle.clear()
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="warnings-dispatcher")

    async def close(self, timeout: float) -> None:  # noqa: ASYNC109 (a flush deadline)
        """Deliver what is queued for up to `timeout` seconds, then stop; the rest fails."""
        self._closed = True
        if self._task is None and self._flights:
            await self.start()  # flush even if it never ran
        if self._task is not None and self._flights:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for flight in list(self._flights.values()):
            flight.failed = True
            self._finish(flight)
        self._flights.clear()
        self._due.clear()
        self._idle.set()

    # ---- inside the task

    def _schedule(self, alert_id: str, sink: int, attempt: int, delay: float) -> None:
        self._seq += 1
        when = asyncio.get_running_loop().time() + delay if delay > 0 else 0.0
        heapq.heappush(self._due, (when, self._seq, alert_id, sink, attempt))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._due:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self._due[0][0] - loop.time()
            if wait > 0:
                # a new alert may be due before the next retry
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            _, _, alert_id, index, attempt = heapq.heappop(self._due)
            await self._attempt(alert_id, index, attempt)

    async def _attempt(self, alert_id: str, index: int, attempt: int) -> None:
        flight = self._flights.get(alert_id)
        if flight is None:
            return
        sink = self.sinks[index]
        try:
            await sink.deliver(flight.alert)
        except DeliveryError as e:
            if e.retryable and attempt < self.retries:
                self.counters["retried"] += 1
                delay = min(MAX_DELAY, self.base_delay * 2**attempt)
                log.info("retrying %s on %s in %.1f s: %s", alert_id, sink.name, delay, e.reason)
                self._schedule(alert_id, index, attempt + 1, delay)
                return
            log.warning("could not deliver %s on %s: %s", alert_id, sink.name, e.reason)
            flight.failed = True
        except Exception:
            log.exception("sink %s broke on %s", sink.name, alert_id)
            flight.failed = True
        flight.pending -= 1
        if flight.pending <= 0:
            del self._flights[alert_id]
            self._finish(flight)
            if not self._flights:
                self._idle.set()

    def _finish(self, flight: _Flight) -> None:
        status = "failed" if flight.failed else "sent"
        self.counters[status] += 1
        self._record(flight.alert, status)

    def _record(self, alert: Alert, status: str) -> None:
        try:
            self.ledger.record(alert, status, self.clock())
        except Exception:
            log.exception("could not record %s as %s", alert.id, status)
