"""Account protection's admin endpoints on a real aiohttp server, over the real AccountService.

Events come in with the app's token; campaigns, decisions and the audit need the admin's.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from seawall.accounts.events import Campaign
from seawall.accounts.service import AccountService
from seawall.config.load import validate
from seawall.core.auth import EventKind, Hasher
from seawall.core.rules import Ruleset, RulesetDelta
from seawall.edge.admin import make_app
from seawall.edge.admin_accounts import EVENTS_MAX_BYTES
from seawall.runtime.clock import ManualClock

ADMIN, APP = "admin-token-1", "events-token-2"
SECRET = "admin-accounts-test-secret"
WALL = 1_700_000_000.0


class FakeControl:
    """Just enough of the admin API's Control for these endpoints to stand."""

    def ruleset(self) -> Ruleset:
        return Ruleset()

    def apply(self, delta: RulesetDelta) -> Ruleset:
        return Ruleset()

    def stats(self) -> dict[str, Any]:
        return {"counters": {}, "gauges": {}}

    def ready(self) -> bool:
        return True

    def incidents(self) -> list[dict[str, Any]]:
        return []

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        return None

    def suggestions(self) -> list[dict[str, Any]]:
        return []

    def approve(self, rule_id: str) -> bool:
        return False


Scenario = Callable[[TestClient[Any, Any], AccountService], Awaitable[None]]


def run(scenario: Scenario, admin: str = ADMIN, events: str = APP) -> None:
    cfg = validate(
        {
            "admin": {"token": admin},
            "accounts": {"enabled": True, "secret": SECRET, "events_token": events},
        }
    )
    applied: list[RulesetDelta] = []
    clock = ManualClock(wall=WALL)

    async def main() -> None:
        svc = AccountService(cfg, applied.append, clock, "")
        app = make_app(FakeControl(), admin, clock, accounts=svc)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await asyncio.wait_for(scenario(client, svc), 10)
        await svc.close(grace=1.0)

    asyncio.run(main())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def app_headers(token: str = APP) -> dict[str, str]:
    return {**bearer(token), "Content-Type": "application/json"}


def event(i: int | str, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(i),
        "type": "login_failed",
        "account": "Alice@Example.org",
        "source": "198.51.100.7",
        "time": WALL - 5,
        **fields,
    }


async def post_events(
    client: TestClient[Any, Any], batch: Any, token: str = APP
) -> tuple[int, Any]:
    resp = await client.post("/v1/events", data=json.dumps(batch), headers=app_headers(token))
    text = await resp.text()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


# ---- POST /v1/events ----------------------------------------------------------------------


def test_events_need_the_events_token_and_only_it() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        batch = {"events": [event(1)]}
        for headers in ({}, bearer(ADMIN), bearer(APP + "x"), {"Authorization": APP}):
            resp = await client.post(
                "/v1/events",
                data=json.dumps(batch),
                headers={**headers, "Content-Type": "application/json"},
            )
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert svc.queue == []
        assert await post_events(client, batch) == (
            200,
            {"accepted": 1, "duplicates": 0, "dropped": 0, "rejected": []},
        )
        # and the events token opens nothing else
        for path in ("/v1/campaigns", "/v1/audit", "/v1/rules"):
            assert (await client.get(path, headers=bearer(APP))).status == 401
            assert (await client.get(path, headers=bearer(ADMIN))).status == 200

    run(scenario)


def test_without_an_events_token_the_admin_token_posts_events() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        assert (await post_events(client, [event(1)], token=ADMIN))[0] == 200
        assert (await post_events(client, [event(2)], token=""))[0] == 401

    run(scenario, events="")


def test_without_any_token_nothing_is_open() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        resp = await client.post(
            "/v1/events", data=b"[]", headers={"Content-Type": "application/json"}
        )
        assert resp.status == 401
        assert (await post_events(client, [], token=""))[0] == 401  # "Bearer " is no token
        assert (await client.get("/v1/campaigns")).status == 403

    run(scenario, admin="", events="")


def test_events_must_be_json() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        for ctype in ("text/plain", "application/x-www-form-urlencoded", ""):
            resp = await client.post(
                "/v1/events",
                data=json.dumps([event(1)]).encode(),
                headers={**bearer(APP), "Content-Type": ctype},
            )
            assert resp.status == 415, ctype
        resp = await client.post(
            "/v1/events",
            data=json.dumps([event(1)]),
            headers={**bearer(APP), "Content-Type": "application/json; charset=utf-8"},
        )
        assert resp.status == 200
        assert len(svc.queue) == 1

    run(scenario)


def test_an_unreadable_batch_is_400_and_a_huge_one_413() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        for raw in (b"not json", b"", b'{"events": 5}', b'"events"', b"[" * 10):
            resp = await client.post("/v1/events", data=raw, headers=app_headers())
            assert resp.status == 400, raw
            assert "error" in await resp.json()
        too_many = [event(i) for i in range(1001)]
        status, said = await post_events(client, too_many)
        assert status == 400 and "1000" in said["error"]
        huge = b'{"events": [], "pad": "' + b"x" * EVENTS_MAX_BYTES + b'"}'
        resp = await client.post("/v1/events", data=io.BytesIO(huge), headers=app_headers())
        assert resp.status == 413
        assert svc.queue == []

    run(scenario)


def test_some_bad_events_are_207_with_their_indexes() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        batch = {
            "events": [
                event("a"),
                event("b", type="password_guessed"),
                event("c", source="not-an-address"),
                event("d", type="login_succeeded"),
                event("e", time="yesterday"),
                "not an event",
            ]
        }
        status, said = await post_events(client, batch)
        assert status == 207
        assert (said["accepted"], said["duplicates"], said["dropped"]) == (2, 0, 0)
        assert [r["index"] for r in said["rejected"]] == [1, 2, 4, 5]
        assert "type" in said["rejected"][0]["error"]
        assert "source" in said["rejected"][1]["error"]
        assert "time" in said["rejected"][2]["error"]
        assert [e.id for e in svc.queue] == ["app:a", "app:d"]
        assert [e.kind for e in svc.queue] == [EventKind.LOGIN_FAILED, EventKind.LOGIN_SUCCEEDED]

    run(scenario)


def test_accepted_events_hold_hashes_never_the_identifiers() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        one = event(1, device="device-7f", password_hash="app-hash-of-pw")
        assert (await post_events(client, [one]))[0] == 200
        (ev,) = svc.queue
        assert ev.account == Hasher(SECRET)("alice@example.org")
        assert ev.device == Hasher(SECRET)("device-7f") and ev.password
        text = json.dumps([ev.account, ev.device, ev.password, ev.source, ev.id]).lower()
        assert "alice" not in text and "device-7f" not in text and "app-hash" not in text
        assert ev.origin == "app" and ev.time == WALL - 5

    run(scenario)


def test_a_retried_batch_is_counted_once() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        batch = {"events": [event(1), event(2), event(2)]}
        first = await post_events(client, batch)
        again = await post_events(client, batch)
        assert first == (200, {"accepted": 2, "duplicates": 1, "dropped": 0, "rejected": []})
        assert again == (200, {"accepted": 0, "duplicates": 3, "dropped": 0, "rejected": []})
        assert [e.id for e in svc.queue] == ["app:1", "app:2"]
        mixed = await post_events(client, {"events": [event(2), event(3)]})
        assert mixed[1]["accepted"] == 1 and mixed[1]["duplicates"] == 1

    run(scenario)


# ---- campaigns, decisions, audit ----------------------------------------------------------


def a_campaign(cid: str = "c-1", last: float = WALL) -> Campaign:
    return Campaign(
        id=cid,
        kind="targeted",
        start=WALL - 600,
        last=last,
        confidence=0.9,
        accounts=("ab" * 16,),
        detectors=("brute_force",),
        sources=12,
        prefixes=3,
        asns=2,
    )


async def admin_json(
    client: TestClient[Any, Any], method: str, path: str, body: bytes | None = None
) -> tuple[int, Any]:
    resp = await client.request(method, path, data=body, headers=bearer(ADMIN))
    text = await resp.text()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


def test_campaigns_are_listed_and_shown_or_404() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        assert await admin_json(client, "GET", "/v1/campaigns") == (200, {"campaigns": []})
        svc.store.save_campaign(a_campaign("c-1").to_dict())
        svc.store.save_campaign(a_campaign("c-2", last=WALL + 5).to_dict())
        status, listed = await admin_json(client, "GET", "/v1/campaigns?state=open&limit=10")
        assert status == 200 and [c["id"] for c in listed["campaigns"]] == ["c-2", "c-1"]
        assert (await admin_json(client, "GET", "/v1/campaigns?state=closed"))[1] == {
            "campaigns": []
        }
        status, one = await admin_json(client, "GET", "/v1/campaigns/c-1")
        assert status == 200 and one["id"] == "c-1" and one["alerts"] == []
        assert one["accounts"] == ["ab" * 16] and one["decision"] == ""
        status, text = await admin_json(client, "GET", "/v1/campaigns/c-404")
        assert status == 404 and "c-404" in text
        for bad in ("state=all", "limit=0", "limit=x", "limit=10001"):
            assert (await admin_json(client, "GET", f"/v1/campaigns?{bad}"))[0] == 400, bad

    run(scenario)


def test_confirm_and_dismiss_are_decided_audited_and_404_for_strangers() -> None:
    async def scenario(client: TestClient[Any, Any], svc: AccountService) -> None:
        svc.store.save_campaign(a_campaign("c-1").to_dict())
        for verb in ("confirm", "dismiss"):
            status, _ = await admin_json(client, "POST", f"/v1/campaigns/c-404/{verb}")
            assert status == 404
        assert (await admin_json(client, "POST", "/v1/campaigns/c-1/escalate"))[0] == 404
        assert (await admin_json(client, "POST", "/v1/campaigns/c-1/confirm", b"{oops"))[0] == 400
        resp = await client.post("/v1/campaigns/c-1/confirm", headers=bearer(APP))
        assert resp.status == 401
        assert svc.store.campaign("c-1")["decision"] == ""  # type: ignore[index]

        note = json.dumps({"actor": "dana", "note": "seen in the abuse queue"}).encode()
        status, confirmed = await admin_json(client, "POST", "/v1/campaigns/c-1/confirm", note)
        assert status == 200 and confirmed["decision"] == "confirmed"
        assert confirmed["review"]["actor"] == "dana"
        status, dismissed = await admin_json(client, "POST", "/v1/campaigns/c-1/dismiss")
        assert status == 200 and dismissed["decision"] == "dismissed"
        assert dismissed["review"]["actor"] == "admin"  # no body: the default actor
        assert svc.store.factors() == {"brute_force": 1.5}  # a dismissal asks more evidence

        status, audit = await admin_json(client, "GET", "/v1/audit?limit=10")
        assert status == 200
        actions = [(a["action"], a["subject"]) for a in audit["audit"]]
        assert actions == [
            ("factor.raise", "detector:brute_force"),
            ("campaign.decide", "c-1"),
            ("campaign.decide", "c-1"),
        ]
        decided = [a for a in audit["audit"] if a["action"] == "campaign.decide"]
        assert [a["detail"]["decision"] for a in decided] == ["dismissed", "confirmed"]
        assert decided[1]["actor"] == "dana"
        assert (await admin_json(client, "GET", "/v1/audit?limit=0"))[0] == 400

    run(scenario)
