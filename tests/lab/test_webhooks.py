"""The lab's webhook receiver: signed deliveries are kept, anything else is refused and counted."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook

from seawall.lab.procs import LabSetupError
from seawall.lab.webhooks import DIGEST, WARNING, Deliveries, WebhookReceiver, new_secret

SECRET = new_secret()


def signed(
    payload: Any, msg_id: str, secret: str = SECRET, at: datetime | None = None
) -> tuple[str, dict[str, str]]:
    body = json.dumps(payload)
    when = at or datetime.now(tz=UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body),
        "content-type": "application/json",
    }
    return body, headers


def warning(account: str, campaign: str = "camp-1") -> dict[str, Any]:
    data = {"id": f"w-{account}", "kind": "targeted", "campaign": campaign, "account": account}
    return {"type": WARNING, "timestamp": time.time(), "data": data}


def deliver(*posts: tuple[str, dict[str, str]], cap: int = 100) -> tuple[list[int], Deliveries]:
    async def main() -> tuple[list[int], Deliveries]:
        receiver = WebhookReceiver(SECRET, cap)
        url = await receiver.start()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/hooks/seawall")
        statuses = []
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
                for body, headers in posts:
                    async with s.post(url, data=body, headers=headers) as r:
                        statuses.append(r.status)
        finally:
            await receiver.stop()
        return statuses, receiver.deliveries

    return asyncio.run(main())


def test_new_secrets_are_32_random_bytes() -> None:
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"))) == 32


def test_signed_warnings_and_digests_are_kept_by_account() -> None:
    statuses, got = deliver(
        signed(warning("h1"), "msg-1"),
        signed(warning("h2"), "msg-2"),
        signed(warning("h1", "camp-2"), "msg-3"),
        signed({"type": DIGEST, "timestamp": 1, "data": {"id": "d"}}, "msg-4"),
        signed({"type": "something.else", "data": {}}, "msg-5"),
    )
    assert statuses == [204] * 5
    assert got.warned == {"h1": {"camp-1", "camp-2"}, "h2": {"camp-1"}}
    assert (got.warnings, got.digests, got.other, got.rejected) == (3, 1, 1, 0)


def test_a_redelivery_counts_once() -> None:
    statuses, got = deliver(signed(warning("h1"), "msg-1"), signed(warning("h1"), "msg-1"))
    assert statuses == [204, 204]
    assert (got.warnings, got.duplicates) == (1, 1)


def test_forged_stale_or_unsigned_deliveries_are_refused() -> None:
    body, headers = signed(warning("h9"), "msg-9")
    stale = datetime.now(tz=UTC) - timedelta(minutes=10)
    statuses, got = deliver(
        signed(warning("h1"), "msg-1", secret=new_secret()),  # another key
        (body.replace("h9", "h8"), headers),  # tampered
        signed(warning("h2"), "msg-2", at=stale),
        (body, {"content-type": "application/json"}),  # no signature headers
        (body, headers | {"webhook-signature": "v1,not-base64!"}),
        signed(warning("h3"), "msg-3"),  # the one good one
    )
    assert statuses == [401] * 5 + [204]
    assert got.rejected == 5 and set(got.warned) == {"h3"}


def test_past_the_cap_the_rest_is_dropped_and_counted() -> None:
    posts = [signed(warning(f"h{i}"), f"msg-{i}") for i in range(5)]
    statuses, got = deliver(*posts, cap=3)
    assert statuses == [204] * 5
    assert len(got.warned) == 3 and got.dropped == 2
    summary = got.summary()
    assert summary["accounts_warned"] == 3 and summary["dropped"] == 2


def test_without_the_reference_library_the_lab_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "standardwebhooks.webhooks", None)  # import fails
    with pytest.raises(LabSetupError, match="pip install standardwebhooks"):
        WebhookReceiver(SECRET)
