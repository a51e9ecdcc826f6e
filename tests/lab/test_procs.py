"""The lab's processes: the origin in a child process, and each protection in front of it."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from seawall.accounts.ident import Hasher, load_directory
from seawall.config.load import validate
from seawall.lab import procs
from seawall.lab.accounts_data import identities
from seawall.lab.client import Connection, request_head
from seawall.lab.nginx import NginxUnavailable, find_nginx
from seawall.lab.origin import DEFAULT_SECRETS, start_origin
from seawall.lab.origin_data import NO_COSTS
from seawall.lab.procs import (
    PROTECTIONS,
    LabSetupError,
    OriginProcess,
    edge_config,
    free_port,
    protection,
)
from seawall.lab.traffic import HOST
from seawall.lab.webhooks import new_secret
from seawall.lab.wire import Presentation, Target
from seawall.store.accounts import AccountStore

CLIENT = "198.51.100.77"
GATEWAY = "203.0.113.9"


async def _stats(port: int) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as s,
        s.get(f"http://127.0.0.1:{port}/_lab/stats") as r,
    ):
        data: dict[str, Any] = await r.json()
        return data


def test_origin_process_starts_measures_and_stops() -> None:
    async def main() -> tuple[int, float, dict[str, Any]]:
        origin = await OriginProcess(7, measure_s=0.5).start()
        try:
            return origin.port, origin.capacity, await _stats(origin.port)
        finally:
            await asyncio.to_thread(origin.stop)
            assert not origin._proc.is_alive()

    port, capacity, stats = asyncio.run(main())
    assert port > 0
    assert capacity > 0
    assert stats["arrived"] == 0  # the capacity probe was reset away
    assert stats["addresses"] == {}


def test_edge_config_validates_and_declares_the_platform(tmp_path: Path) -> None:
    conf = edge_config(18080, 19090, GATEWAY, tmp_path)
    cfg = validate(conf)
    (listener,) = cfg.listeners
    assert listener.address == "127.0.0.1:18080"
    assert listener.proxy_protocol is True
    assert [str(o.url).rstrip("/") for o in cfg.origins] == ["http://127.0.0.1:19090"]
    assert cfg.classes.api_app.jwt_keys[0].secret == DEFAULT_SECRETS.app_jwt
    (gw,) = cfg.classes.gateways
    assert [str(c) for c in gw.cidrs] == [f"{GATEWAY}/32"]
    assert gw.secret_header == "X-Gateway-Secret" and gw.secret == DEFAULT_SECRETS.gateway
    assert cfg.classes.user.cookie == "session" and cfg.classes.user.mode == "signed"
    assert cfg.classes.user.secret == DEFAULT_SECRETS.session
    assert {r.name for r in cfg.routes} >= {"profile", "post", "login", "api", "sms"}
    assert str(tmp_path) in conf["log"]["access_log"]


def test_free_port_is_a_loopback_port() -> None:
    assert 0 < free_port() < 65536


async def _through(name: str) -> tuple[Target, dict[str, Any]]:
    """One request from CLIENT through protection `name`; what the origin saw of it."""
    origin = await start_origin(costs=NO_COSTS)
    try:
        async with protection(name, origin.port, GATEWAY) as target:
            conn = await Connection.open(target, CLIENT, 5.0, random.Random(1))
            try:
                head = request_head("GET", "/users/cyxymu", [("Host", HOST)])
                response = await conn.request(head, b"", 5.0)
            finally:
                conn.close()
            assert response.status == 200, response
            return target, origin.stats.snapshot()
    finally:
        await origin.close()


def test_none_sends_clients_straight_to_the_origin_naming_themselves() -> None:
    target, stats = asyncio.run(_through("none"))
    assert target.presentation is Presentation.REAL_IP_HEADER
    assert stats["addresses"] == {CLIENT: 1}


def test_seawall_forwards_with_the_proxy_source_address() -> None:
    target, stats = asyncio.run(_through("seawall"))
    assert target.presentation is Presentation.PROXY_V2
    assert target.host == "127.0.0.1"
    assert stats["addresses"] == {CLIENT: 1}


def test_nginx_forwards_with_the_proxy_source_address() -> None:
    try:
        find_nginx()
    except NginxUnavailable as exc:
        pytest.skip(f"nginx is not installed: {exc}")
    target, stats = asyncio.run(_through("nginx"))
    assert target.presentation is Presentation.PROXY_V2
    assert stats["addresses"] == {CLIENT: 1}


def test_an_unknown_protection_is_refused() -> None:
    async def main() -> None:
        async with protection("cloudflare", 9, GATEWAY):
            pass  # pragma: no cover

    with pytest.raises(ValueError, match="unknown protection 'cloudflare'") as info:
        asyncio.run(main())
    for name in PROTECTIONS:
        assert name in str(info.value)


def test_an_edge_that_will_not_start_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(port: int, *_: Any, **__: Any) -> dict[str, Any]:
        return {"listeners": [{"address": f"127.0.0.1:{port}"}], "no_such_option": 1}

    monkeypatch.setattr(procs, "edge_config", broken)

    async def main() -> None:
        async with protection("seawall", 9, GATEWAY):
            pass  # pragma: no cover

    with pytest.raises(LabSetupError, match="seawall edge exited with status") as info:
        asyncio.run(main())
    assert "no_such_option" in str(info.value)  # the edge's own stderr, passed on


def edge_accounts() -> procs.EdgeAccounts:
    people = identities(7, 30, 5)
    return procs.EdgeAccounts(
        tuple(i.name for i in people[1:3]), people, "http://127.0.0.1:9/hooks", new_secret()
    )


def test_edge_config_switches_account_protection_on_only_when_asked(tmp_path: Path) -> None:
    plain = validate(edge_config(18080, 19090, GATEWAY, tmp_path))
    assert not plain.accounts.enabled
    assert ("lookup", "/account/lookup") in {(r.name, r.pattern) for r in plain.routes}
    acc = edge_accounts()
    cfg = validate(edge_config(18080, 19090, GATEWAY, tmp_path, accounts=acc)).accounts
    assert cfg.enabled and cfg.secret == DEFAULT_SECRETS.accounts and cfg.step_up == "header"
    assert cfg.high_risk == list(acc.high_risk)
    assert cfg.directory == str(tmp_path / procs.DIRECTORY)
    watched = {(r.route, r.kind, r.account_field, r.result_header) for r in cfg.routes}
    assert watched == {
        ("login", "login", "user", "X-Auth-Result"),
        ("reset", "password_reset", "email", "X-Auth-Result"),
        ("lookup", "recovery_lookup", "identifier", "X-Auth-Result"),
    }
    (hook,) = cfg.warnings.webhooks
    assert (hook.url, hook.secret) == (acc.webhook_url, acc.webhook_secret)
    assert cfg.warnings.log is False and cfg.warnings.site_name == "microblog"


def test_the_directory_ties_emails_and_phones_to_their_account(tmp_path: Path) -> None:
    acc = edge_accounts()
    path = tmp_path / procs.DIRECTORY
    procs.write_directory(path, acc.directory)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "cyxymu,cyxymu@mail.example,+15550000001"
    assert len(text.splitlines()) == 35
    hasher = Hasher(DEFAULT_SECRETS.accounts)
    directory = load_directory(text, hasher)
    someone = acc.directory[-1]
    assert directory.canonical(hasher(someone.email)) == hasher(someone.name)
    assert directory.canonical(hasher(someone.phone)) == hasher(someone.name)
    assert directory.emails[hasher(someone.name)] == someone.email


def test_campaigns_are_read_from_the_edge_store_with_their_accounts(tmp_path: Path) -> None:
    db = tmp_path / procs.INCIDENTS_DB
    assert procs.read_campaigns(db) == []  # no store at all
    store = AccountStore(str(db))
    for n, kind in enumerate(("targeted", "broad")):
        summary = {"id": f"c{n}", "kind": kind, "start": 1.0, "last": 2.0 + n, "state": "open"}
        store.save_campaign(summary | {"accounts": [f"h{n}", "h9"]})
    store.close()
    found = {c["id"]: c for c in procs.read_campaigns(db)}
    assert found["c0"]["kind"] == "targeted" and found["c0"]["accounts"] == ["h0", "h9"]
    assert found["c1"]["accounts"] == ["h1", "h9"]
    assert len(procs.read_campaigns(db, limit=1)) == 1
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all" * 100)
    assert procs.read_campaigns(tmp_path / "junk.db") == []
