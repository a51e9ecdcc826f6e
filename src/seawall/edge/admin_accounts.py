"""Account protection's seam in the edge: how it is started, and its admin endpoints.

The edge never imports account protection (outer packages stay apart); the CLI hands
`run_edge` a factory, and the edge drives what it builds through these protocols.

- `POST /v1/events`: the app's auth events, behind `accounts.events_token` (or the admin
  token), batched and idempotent by event id.
- `GET /v1/campaigns[?state=open|closed]`, `GET /v1/campaigns/{id}`: campaigns, with the
  alerts sent for one.
- `POST /v1/campaigns/{id}/confirm|dismiss` (JSON body `{"actor": ..., "note": ...}`,
  optional): the operator's word, audited; a dismissal raises the pattern's thresholds.
- `GET /v1/audit`: every operator action and threshold change, newest first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from aiohttp import web

from seawall.config.schema import Config
from seawall.core.auth import AuthEvent
from seawall.core.rules import RulesetDelta
from seawall.runtime.clock import Clock

EVENTS_MAX_BYTES = 1024 * 1024
_DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed"}


class AccountsPort(Protocol):
    """What these endpoints drive: account protection, wherever it runs."""

    events_token: str

    async def ingest(self, body: bytes) -> dict[str, Any]: ...

    async def decide(self, campaign_id: str, decision: str, actor: str, note: str) -> Any: ...

    def campaigns(self, limit: int = 100, state: str | None = None) -> list[dict[str, Any]]: ...

    def campaign(self, campaign_id: str) -> dict[str, Any] | None: ...

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]: ...


class AccountsRuntime(AccountsPort, Protocol):
    """Account protection as the edge runs it, one per host (see seawall.accounts.service)."""

    sources: list[Callable[[], list[AuthEvent]]]

    def submit(self, events: Iterable[AuthEvent]) -> None: ...

    async def run(self) -> None: ...

    async def close(self, grace: float = 5.0) -> None: ...

    def stats(self) -> dict[str, int]: ...


# (config, where rule changes go, clock, store path) -> account protection
AccountsFactory = Callable[[Config, Callable[[RulesetDelta], object], Clock, str], AccountsRuntime]


def start_accounts(
    cfg: Config,
    factory: AccountsFactory | None,
    apply: Callable[[RulesetDelta], object],
    clock: Clock,
) -> tuple[AccountsRuntime | None, asyncio.Task[None] | None]:
    if factory is None or not cfg.accounts.enabled:
        return None, None
    svc = factory(cfg, apply, clock, cfg.store.path)
    return svc, asyncio.get_running_loop().create_task(svc.run(), name="accounts")


async def stop_accounts(svc: AccountsRuntime | None, task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if svc is not None:
        await svc.close()


def _limit(request: web.Request, default: int, most: int) -> int:
    try:
        n = int(request.query.get("limit", default))
    except ValueError:
        raise web.HTTPBadRequest(text="limit must be an integer\n") from None
    if not 1 <= n <= most:
        raise web.HTTPBadRequest(text=f"limit must be in [1, {most}]\n")
    return n


def add_routes(
    app: web.Application,
    accounts: AccountsPort,
    authorized: Callable[[web.Request], None],
    read_body: Callable[[web.Request, int], Awaitable[bytes]],
) -> None:
    def app_authorized(request: web.Request) -> None:
        token = accounts.events_token
        given = request.headers.get("Authorization", "")
        if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise web.HTTPUnauthorized(
                text="a valid 'Authorization: Bearer <accounts.events_token>' is required\n",
                headers={"WWW-Authenticate": 'Bearer realm="seawall-events"'},
            )

    async def post_events(request: web.Request) -> web.Response:
        app_authorized(request)
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="Content-Type must be application/json\n")
        body = await read_body(request, EVENTS_MAX_BYTES)
        try:
            answer = await accounts.ingest(body)
        except ValueError as exc:  # the batch as a whole is unreadable
            return web.json_response({"error": str(exc)}, status=400)
        status = 200 if not answer["rejected"] else 207
        return web.json_response(answer, status=status)

    async def get_campaigns(request: web.Request) -> web.Response:
        authorized(request)
        state = request.query.get("state")
        if state not in (None, "open", "closed"):
            raise web.HTTPBadRequest(text="state must be open or closed\n")
        limit = _limit(request, 100, 10_000)
        found = await asyncio.to_thread(accounts.campaigns, limit, state)
        return web.json_response({"campaigns": found})

    async def get_campaign(request: web.Request) -> web.Response:
        authorized(request)
        cid = request.match_info["campaign_id"]
        found = await asyncio.to_thread(accounts.campaign, cid)
        if found is None:
            raise web.HTTPNotFound(text=f"no campaign {cid!r}\n")
        return web.json_response(found)

    async def decide(request: web.Request) -> web.Response:
        authorized(request)
        cid, verb = request.match_info["campaign_id"], request.match_info["verb"]
        if verb not in _DECISIONS:
            raise web.HTTPNotFound(text="use /confirm or /dismiss\n")
        body = await read_body(request, 16_384)
        try:
            given = json.loads(body) if body.strip() else {}
        except ValueError:
            raise web.HTTPBadRequest(text="body must be JSON or empty\n") from None
        given = given if isinstance(given, dict) else {}
        actor, note = str(given.get("actor", "admin"))[:100], str(given.get("note", ""))[:1000]
        found = await accounts.decide(cid, _DECISIONS[verb], actor, note)
        if found is None:
            raise web.HTTPNotFound(text=f"no campaign {cid!r}\n")
        return web.json_response(found)

    async def get_audit(request: web.Request) -> web.Response:
        authorized(request)
        limit = _limit(request, 200, 10_000)
        return web.json_response({"audit": await asyncio.to_thread(accounts.audit_log, limit)})

    r = app.router
    r.add_post("/v1/events", post_events)
    r.add_get("/v1/campaigns", get_campaigns)
    r.add_get("/v1/campaigns/{campaign_id}", get_campaign)
    r.add_post("/v1/campaigns/{campaign_id}/{verb}", decide)
    r.add_get("/v1/audit", get_audit)
