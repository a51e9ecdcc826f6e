"""Delivery for real: an SMTP server and a webhook receiver on loopback, started here."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import logging
import socket
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from seawall.accounts.compose import compose_digest, compose_warning
from seawall.accounts.desk import MemoryLedger, WarningDesk
from seawall.accounts.events import Alert, Campaign
from seawall.accounts.sinks import (
    DeliveryError,
    Dispatcher,
    LogSink,
    SmtpSink,
    WebhookSink,
    build_sinks,
    mask_email,
    sign,
    webhook_body,
)
from seawall.config.accounts import SmtpSink as SmtpConfig
from seawall.config.accounts import Warnings
from seawall.config.accounts import Webhook as WebhookConfig

T0 = 1_714_567_890.0
A, B, C = ("a" * 32, "b" * 32, "c" * 32)
EMAILS = {A: "ann@example.org", B: "bob@example.org"}
OPERATORS = ["ops@example.org", "sec@example.org"]
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def run(main: Callable[[], Awaitable[None]], limit: float = 30.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(main(), limit)

    asyncio.run(bounded())


def campaign(cid: str, *accounts: str) -> Campaign:
    return Campaign(
        id=cid,
        kind="targeted",
        start=T0 - 600,
        last=T0,
        confidence=0.9,
        accounts=accounts,
        detectors=("distributed_guessing",),
        sources=12,
        prefixes=3,
        asns=2,
        top_sources=("203.0.113.9",),
    )


def warning(cid: str = "c1", account: str = A) -> Alert:
    return compose_warning(campaign(cid, account), account, EMAILS.get(account, ""), "Ex", T0)


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# ---- a real SMTP server --------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: keeps what it accepts; refuses scripted recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse: dict[str, list[str]] = {}  # recipient -> replies to give, in turn
        self.data_replies: list[str] = []  # replies to DATA before accepting again

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        replies = self.refuse.get(address)
        if replies:
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        assert isinstance(envelope.content, bytes)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


async def smtp_server(box: Mailbox) -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="mail.test"), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def warnings_cfg(port: int, **over: Any) -> Warnings:
    smtp = SmtpConfig(host="127.0.0.1", port=port, timeout=5.0, sender="security@example.org")
    return Warnings(site_name="Example", operators=OPERATORS, smtp=smtp, log=False, **over)


def test_warnings_and_digests_reach_a_real_smtp_server_once_each_within_the_cap() -> None:
    box = Mailbox()

    async def main() -> None:
        server, port = await smtp_server(box)
        cfg = warnings_cfg(port, daily_cap=2)
        ledger = MemoryLedger()
        desk = WarningDesk(ledger, EMAILS, cfg, admin_hint="https://admin.example")
        sinks = build_sinks(cfg)
        assert [s.name for s in sinks] == ["smtp"]
        out = Dispatcher(sinks, ledger, retries=2, base_delay=0.01)
        await out.start()
        out.submit(desk.consider(campaign("c1", A, B, C), T0))
        out.submit(desk.consider(campaign("c1", A, B, C), T0 + 10))  # nothing new
        out.submit(desk.consider(campaign("c2", A), T0 + 20))
        out.submit(desk.consider(campaign("c3", A, B), T0 + 30))  # A is over the cap
        await out.close(10.0)
        server.close()
        await server.wait_closed()

        assert out.counters == {"queued": 8, "sent": 8, "failed": 0, "dropped": 0, "retried": 0}
        assert ledger.status(f"c1:{A}") == "sent"
        assert ledger.status(f"c1:{C}") == "sent"  # no address: the email sink had nothing to do
        assert ledger.status(f"c3:{A}") == "suppressed"
        assert ledger.status(f"c3:{B}") == "sent"
        assert ledger.status("c3:digest:1") == "sent"

    run(main)
    ann = box.to("ann@example.org")
    assert sorted(m["X-Seawall-Alert"] for m in ann) == [f"c1:{A}", f"c2:{A}"]
    assert sorted(m["X-Seawall-Alert"] for m in box.to("bob@example.org")) == [
        f"c1:{B}",
        f"c3:{B}",
    ]
    assert len(box.messages) == 7  # 4 warnings, 3 digests

    rcpts, msg = next((r, m) for r, m in box.messages if m["X-Seawall-Alert"] == f"c1:{A}")
    assert rcpts == ["ann@example.org"]
    assert msg["From"] == "security@example.org"
    assert msg["To"] == "ann@example.org"
    assert msg["Subject"] == "Security notice about your Example account"
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["Date"]
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    text = " ".join(plain.get_content().split())
    assert "someone has been trying to get into your account" in text
    assert "Your account is not locked, and you can sign in as usual." in text
    assert "two-factor authentication" in text
    assert "203.0.113.9" not in plain.get_content() + html.get_content()
    assert "<strong>Your account is not locked" in html.get_content()

    rcpts, digest = next((r, m) for r, m in box.messages if m["X-Seawall-Alert"] == "c1:digest:1")
    assert rcpts == OPERATORS
    body = digest.get_body(("plain",))
    assert body is not None
    assert "POST /v1/campaigns/c1/confirm" in body.get_content()
    assert "203.0.113.9" in body.get_content()
    assert "Warnings sent to account owners: 3" in body.get_content()


def test_smtp_refusals_5xx_are_final_4xx_and_dead_servers_are_retryable() -> None:
    box = Mailbox()
    box.refuse["ann@example.org"] = ["550 5.1.1 no such user"]
    box.refuse["bob@example.org"] = ["451 4.3.0 try again later"]

    async def main() -> None:
        server, port = await smtp_server(box)
        sink = SmtpSink(warnings_cfg(port).smtp, OPERATORS)
        with pytest.raises(DeliveryError) as final:
            await sink.deliver(warning("c1", A))
        assert not final.value.retryable
        with pytest.raises(DeliveryError) as later:
            await sink.deliver(warning("c1", B))
        assert later.value.retryable
        await sink.deliver(warning("c1", C))  # no address: nothing to send
        box.data_replies = ["554 5.7.1 rejected as spam", "452 4.3.1 out of space"]
        with pytest.raises(DeliveryError) as spam:
            await sink.deliver(warning("c3", B))
        assert not spam.value.retryable
        with pytest.raises(DeliveryError) as full:
            await sink.deliver(warning("c4", B))
        assert full.value.retryable
        await sink.deliver(warning("c2", B))  # bob's mailbox is back
        dead = SmtpSink(warnings_cfg(dead_port()).smtp, OPERATORS)
        with pytest.raises(DeliveryError) as down:
            await dead.deliver(warning("c1", B))
        assert down.value.retryable
        server.close()
        await server.wait_closed()

    run(main)
    assert [m["X-Seawall-Alert"] for _, m in box.messages] == [f"c2:{B}"]


def test_a_4xx_from_the_mail_server_is_retried_by_the_dispatcher() -> None:
    box = Mailbox()
    box.refuse["bob@example.org"] = ["451 4.3.0 busy", "451 4.3.0 busy"]

    async def main() -> None:
        server, port = await smtp_server(box)
        ledger = MemoryLedger()
        out = Dispatcher([SmtpSink(warnings_cfg(port).smtp, [])], ledger, 3, base_delay=0.01)
        await out.start()
        out.submit([warning("c1", B)])
        await out.close(10.0)
        server.close()
        await server.wait_closed()
        assert out.counters["retried"] == 2
        assert out.counters["sent"] == 1
        assert ledger.status(f"c1:{B}") == "sent"

    run(main)
    assert len(box.to("bob@example.org")) == 1


# ---- a real webhook receiver ---------------------------------------------------------------


class Receiver:
    """Verifies each delivery with the reference library, then answers as scripted."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.verifier = Webhook(SECRET)
        self.script = list(script or [])
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.rejected = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = self.verifier.verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=401)
        self.got.append((request.headers["webhook-id"], payload))
        return web.Response(status=self.script.pop(0) if self.script else 204)


async def receiver(rx: Receiver) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/hook", rx.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/hook"


def hook(url: str) -> WebhookSink:
    return WebhookSink(WebhookConfig(url=url, secret=SECRET, timeout=5.0))


def test_signed_webhooks_verify_with_the_reference_library() -> None:
    rx = Receiver()

    async def main() -> None:
        runner, url = await receiver(rx)
        ledger = MemoryLedger()
        desk = WarningDesk(ledger, EMAILS, Warnings(site_name="Example"))
        out = Dispatcher([hook(url)], ledger, retries=1, base_delay=0.01)
        await out.start()
        alerts = desk.consider(campaign("c1", A, C), T0)
        out.submit(alerts)
        await out.close(10.0)
        await runner.cleanup()
        assert [ledger.status(a.id) for a in alerts] == ["sent"] * 3
        assert out.counters["sent"] == 3

    run(main)
    assert rx.rejected == 0
    by_id = dict(rx.got)
    warn = by_id[f"c1:{A}"]
    assert warn["type"] == "account.warning"
    assert warn["timestamp"] == "2024-05-01T12:51:30Z"
    assert warn["data"]["account"] == A
    assert warn["data"]["recipient"] == "ann@example.org"
    assert "two-factor authentication" in warn["data"]["text"]
    assert by_id[f"c1:{C}"]["data"]["recipient"] == ""  # the app knows who C is
    digest = by_id["c1:digest:1"]
    assert digest["type"] == "campaign.digest"
    assert digest["data"]["summary"]["accounts"] == 2
    assert digest["data"]["summary"]["top_sources"] == ["203.0.113.9"]
    assert digest["data"]["summary"]["listed"] == [A[:12], C[:12]]


def test_the_receiver_rejects_a_tampered_body() -> None:
    rx = Receiver()

    async def main() -> None:
        runner, url = await receiver(rx)
        sink = hook(url)
        alert = warning()
        body = webhook_body(alert)
        headers = sink.headers(alert, body)
        assert headers["webhook-id"] == alert.id
        assert headers["webhook-signature"].startswith("v1,")
        tampered = body.replace(b"two-factor", b"tw0-factor")
        assert tampered != body
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=tampered, headers=headers) as resp:
                assert resp.status == 401
            async with session.post(url, data=body, headers=headers) as resp:
                assert resp.status == 204
        await runner.cleanup()

    run(main)
    assert rx.rejected == 1
    assert [i for i, _ in rx.got] == [f"c1:{A}"]


def test_the_signature_follows_the_standard() -> None:
    key = bytes(range(32))
    body = b'{"a":1}'
    ours = sign(key, "msg_1", 1_700_000_000, body)
    # the reference library's own signer agrees
    from datetime import UTC, datetime

    ref = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(1_700_000_000, UTC), body.decode())
    assert ours == ref
    assert sign(key, "msg_2", 1_700_000_000, body) != ours


def test_500_twice_then_200_is_retried_with_the_same_id() -> None:
    rx = Receiver(script=[500, 500])

    async def main() -> None:
        runner, url = await receiver(rx)
        ledger = MemoryLedger()
        out = Dispatcher([hook(url)], ledger, retries=3, base_delay=0.01)
        await out.start()
        out.submit([warning()])
        await out.close(10.0)
        await runner.cleanup()
        assert out.counters["retried"] == 2
        assert out.counters["sent"] == 1 and out.counters["failed"] == 0
        assert ledger.status(f"c1:{A}") == "sent"

    run(main)
    assert [i for i, _ in rx.got] == [f"c1:{A}"] * 3


def test_429_is_retryable_and_400_is_not_retried() -> None:
    rx = Receiver(script=[429, 400])

    async def main() -> None:
        runner, url = await receiver(rx)
        with pytest.raises(DeliveryError) as busy:
            await hook(url).deliver(warning())
        assert busy.value.retryable
        ledger = MemoryLedger()
        out = Dispatcher([hook(url)], ledger, retries=3, base_delay=0.01)
        await out.start()
        out.submit([warning()])
        await out.close(10.0)
        await runner.cleanup()
        assert out.counters["retried"] == 0
        assert out.counters["failed"] == 1
        assert ledger.status(f"c1:{A}") == "failed"

    run(main)
    assert len(rx.got) == 2


def test_a_dead_endpoint_ends_failed_without_raising() -> None:
    async def main() -> None:
        ledger = MemoryLedger()
        url = f"http://127.0.0.1:{dead_port()}/hook"
        out = Dispatcher([hook(url)], ledger, retries=2, base_delay=0.01)
        await out.start()
        out.submit([warning()])
        await out.close(10.0)
        assert out.counters["retried"] == 2
        assert out.counters["failed"] == 1
        assert ledger.status(f"c1:{A}") == "failed"

    run(main)


# ---- the dispatcher against in-memory fakes ------------------------------------------------


class Recording:
    """An in-memory sink: records alerts, fails as scripted, or hangs."""

    def __init__(self, name: str = "fake", errors: list[Exception] | None = None) -> None:
        self.name = name
        self.errors = list(errors or [])
        self.delivered: list[str] = []
        self.hang = False

    async def deliver(self, alert: Alert) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.errors:
            raise self.errors.pop(0)
        self.delivered.append(alert.id)


def test_a_full_queue_drops_and_counts() -> None:
    sink = Recording()
    ledger = MemoryLedger()

    async def main() -> None:
        out = Dispatcher([sink], ledger, retries=0, max_queue=2)
        alerts = [warning(f"c{i}") for i in range(5)]
        out.submit(alerts)  # not started yet: the queue fills
        assert out.counters["dropped"] == 3 and out.counters["queued"] == 2
        assert len(out) == 2
        assert [ledger.status(a.id) for a in alerts[2:]] == ["failed"] * 3
        await out.start()
        await out.close(5.0)
        assert out.counters["sent"] == 2
        out.submit([warning("late")])  # closed: dropped, never raised
        assert out.counters["dropped"] == 4

    run(main)
    assert sink.delivered == [f"c0:{A}", f"c1:{A}"]


def test_one_failing_sink_fails_the_alert_but_the_others_still_deliver() -> None:
    good = Recording("good")
    bad = Recording("bad", [DeliveryError("gone", retryable=False)])
    broken = Recording("broken", [RuntimeError("bug")])
    ledger = MemoryLedger()

    async def main() -> None:
        out = Dispatcher([good, bad, broken], ledger, retries=3, base_delay=0.01)
        await out.start()
        out.submit([warning("c1"), warning("c2")])
        await out.close(5.0)
        assert out.counters["failed"] == 1 and out.counters["sent"] == 1

    run(main)
    assert good.delivered == [f"c1:{A}", f"c2:{A}"]
    assert ledger.status(f"c1:{A}") == "failed"
    assert ledger.status(f"c2:{A}") == "sent"


def test_a_retry_waits_its_backoff_while_other_alerts_go_ahead() -> None:
    sink = Recording(errors=[DeliveryError("busy", retryable=True)])

    async def main() -> None:
        out = Dispatcher([sink], MemoryLedger(), retries=1, base_delay=0.3)
        await out.start()
        out.submit([warning("c1")])
        await asyncio.sleep(0.05)
        out.submit([warning("c2")])
        await asyncio.sleep(0.05)
        assert sink.delivered == [f"c2:{A}"]  # c1 is still waiting out its backoff
        await out.close(5.0)

    run(main)
    assert sink.delivered == [f"c2:{A}", f"c1:{A}"]


def test_close_gives_up_after_its_timeout() -> None:
    sink = Recording()
    sink.hang = True
    ledger = MemoryLedger()

    async def main() -> None:
        out = Dispatcher([sink], ledger, retries=0)
        await out.start()
        out.submit([warning()])
        loop = asyncio.get_running_loop()
        t = loop.time()
        await out.close(0.2)
        assert loop.time() - t < 2.0
        assert out.counters["failed"] == 1

    run(main)
    assert ledger.status(f"c1:{A}") == "failed"


def test_the_log_sink_writes_one_line_and_masks_the_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        await LogSink().deliver(warning())
        digest = compose_digest(campaign("c1", A), "Ex", T0, 1, [], "")
        await LogSink().deliver(digest)

    with caplog.at_level(logging.INFO, logger="seawall.accounts"):
        run(main)
    lines = [r.getMessage() for r in caplog.records if r.name == "seawall.accounts"]
    assert len(lines) == 2
    assert "a***@example.org" in lines[0]
    assert "ann@example.org" not in "\n".join(lines)
    assert f'"account": "{A}"' in lines[0]
    assert '"alert": "c1:digest:1"' in lines[1]
    assert all("\n" not in line for line in lines)


def test_mask_email() -> None:
    assert mask_email("jane@example.org") == "j***@example.org"
    assert mask_email("") == ""
    assert mask_email("not-an-address") == "***"
    assert mask_email("@example.org") == "***"


def test_build_sinks_follows_the_configuration() -> None:
    cfg = Warnings(
        smtp=SmtpConfig(host="mail.example.org"),
        webhooks=[
            WebhookConfig(url="https://app.example.org/hooks/seawall?token=x", secret=SECRET),
            WebhookConfig(url="http://127.0.0.1:8080/h", secret=SECRET),
        ],
    )
    assert [s.name for s in build_sinks(cfg)] == [
        "smtp",
        "webhook:app.example.org:https",
        "webhook:127.0.0.1:8080",
        "log",
    ]
    assert build_sinks(Warnings(log=False)) == []
