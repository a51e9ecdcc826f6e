"""The lab's webhook receiver: where the edge's account warnings land, checked and counted.

It stands in for the platform's notification service. Every delivery must carry a valid
Standard Webhooks signature (webhook-id, webhook-timestamp, webhook-signature) under the
secret the edge was given; the check is the reference library's, not the edge's own code,
so a signing fault shows up here as rejected deliveries. Verified warnings are kept by
the account hash they name; a retried delivery (same webhook-id) counts once. Everything
is bounded: past `cap` accounts or ids, the rest is counted as dropped.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from seawall.lab.procs import LabSetupError

LOOPBACK = "127.0.0.1"
PATH = "/hooks/seawall"
MAX_BODY = 64 * 1024
DEFAULT_CAP = 100_000
WARNING, DIGEST = "account.warning", "campaign.digest"


def new_secret() -> str:
    """A fresh signing secret: 'whsec_' and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(slots=True)
class Deliveries:
    """What arrived: verified warnings by account, digests, and what was refused."""

    warned: dict[str, set[str]] = field(default_factory=dict)  # account hash -> campaign ids
    warned_at: dict[str, float] = field(default_factory=dict)  # account hash -> first, epoch s
    warnings: int = 0
    digests: int = 0
    other: int = 0  # verified, of a type the lab does not score
    rejected: int = 0  # bad signature, stale timestamp, missing headers or not JSON
    duplicates: int = 0
    dropped: int = 0  # past the cap
    seen_ids: set[str] = field(default_factory=set)

    def take(self, msg_id: str, payload: Any, cap: int, at: float = 0.0) -> None:
        """One verified delivery, arrived at `at` (epoch seconds)."""
        if msg_id in self.seen_ids:
            self.duplicates += 1
            return
        if len(self.seen_ids) >= cap:
            self.dropped += 1
            return
        self.seen_ids.add(msg_id)
        kind = payload.get("type") if isinstance(payload, dict) else None
        data = payload.get("data") if isinstance(payload, dict) else None
        if kind == DIGEST:
            self.digests += 1
        elif kind == WARNING and isinstance(data, dict) and isinstance(data.get("account"), str):
            self.warnings += 1
            if data["account"] in self.warned or len(self.warned) < cap:
                self.warned.setdefault(data["account"], set()).add(str(data.get("campaign", "")))
                self.warned_at.setdefault(data["account"], at)
            else:
                self.dropped += 1
        else:
            self.other += 1

    def summary(self) -> dict[str, int]:
        return {
            "warnings": self.warnings,
            "accounts_warned": len(self.warned),
            "digests": self.digests,
            "other": self.other,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "dropped": self.dropped,
        }


class WebhookReceiver:
    """An aiohttp server on loopback that verifies and records deliveries."""

    def __init__(self, secret: str, cap: int = DEFAULT_CAP) -> None:
        try:  # imported here: only the account siege needs the reference library
            from standardwebhooks.webhooks import (  # noqa: PLC0415
                Webhook,
                WebhookVerificationError,
            )
        except ImportError as exc:
            raise LabSetupError(
                "the account siege checks warnings with the standardwebhooks package; "
                "install it (pip install standardwebhooks)"
            ) from exc

        self.secret, self.cap = secret, cap
        self._verifier = Webhook(secret)
        self._refusals: tuple[type[Exception], ...] = (WebhookVerificationError, ValueError)
        self.deliveries = Deliveries()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:  # a bad signature, stale timestamp, missing header, or a body not JSON
            payload = self._verifier.verify(body, headers)
        except self._refusals:
            self.deliveries.rejected += 1
            return web.Response(status=401, text="signature rejected\n")
        self.deliveries.take(headers.get("webhook-id", ""), payload, self.cap, time.time())
        return web.Response(status=204)

    async def start(self) -> str:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.url = f"http://{LOOPBACK}:{sockets[0].getsockname()[1]}{PATH}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
