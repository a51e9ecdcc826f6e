"""The lab origin over real loopback sockets: every route, its refusals, and its capacity bound."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from seawall.core.classes import Classifier, ClassSettings
from seawall.core.facts import ClientClass
from seawall.core.net import parse_address
from seawall.lab.accounts_origin import RESET_BODY, SESSION_COOKIE
from seawall.lab.origin import (
    DEFAULT_SECRETS,
    ORIGIN_KEY,
    LabSecrets,
    OriginConfig,
    RunningOrigin,
    make_app_token,
    make_origin_app,
    measure_capacity,
    start_origin,
)
from seawall.lab.origin_data import NO_COSTS, RouteCost, password_for

TIMEOUT = aiohttp.ClientTimeout(total=10)
Body = Callable[[RunningOrigin, aiohttp.ClientSession], Awaitable[None]]


def with_origin(body: Body, **options: Any) -> None:
    """Runs `body` against a fresh origin (no route costs unless given), then closes both."""

    async def main() -> None:
        origin = await start_origin(**{"costs": NO_COSTS, **options})
        try:
            async with aiohttp.ClientSession(origin.base_url, timeout=TIMEOUT) as session:
                await asyncio.wait_for(body(origin, session), 15)
        finally:
            await origin.close()

    asyncio.run(main())


async def fetch(
    s: aiohttp.ClientSession, method: str, path: str, **kw: Any
) -> tuple[int, str, dict[str, str]]:
    async with s.request(method, path, allow_redirects=False, **kw) as r:
        return r.status, await r.text(), dict(r.headers)


def test_pages_answer_and_refuse() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        status, text, headers = await fetch(s, "GET", "/")
        assert status == 200 and headers["Cache-Control"] == "public, max-age=5"
        assert text.count("<li>") == 20 and "text/html" in headers["Content-Type"]
        status, text, _ = await fetch(s, "GET", "/users/cyxymu")
        assert status == 200 and "<h1>@cyxymu</h1>" in text and "60 posts" in text
        assert (await fetch(s, "GET", "/users/nobody"))[0] == 404
        status, text, _ = await fetch(s, "GET", "/users/cyxymu/posts/1")
        assert status == 200 and 'href="/users/cyxymu/posts/1"' in text
        other = o.dataset.users[1].name  # post 1 is cyxymu's, not theirs
        assert (await fetch(s, "GET", f"/users/{other}/posts/1"))[0] == 404
        assert (await fetch(s, "GET", "/users/cyxymu/posts/99999999"))[0] == 404
        assert (await fetch(s, "GET", "/users/cyxymu/posts/abc"))[0] == 404
        status, text, _ = await fetch(s, "GET", "/search", params={"q": "storm"})
        assert status == 200 and text.count("<li>") == 20 and "storm" in text
        status, text, _ = await fetch(s, "GET", "/search", params={"q": "100%_<b>"})
        assert status == 200 and "<li>" not in text and "&lt;b&gt;" in text
        assert (await fetch(s, "GET", "/search"))[0] == 400
        assert (await fetch(s, "GET", "/search", params={"q": "x" * 101}))[0] == 400
        assert (await fetch(s, "GET", "/login"))[0] == 405
        assert (await fetch(s, "GET", "/nowhere"))[0] == 404

    with_origin(body)


def test_login_sets_a_session_the_edge_accepts() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        form = {"user": "cyxymu", "password": password_for("cyxymu", 7)}
        status, _, headers = await fetch(s, "POST", "/login", data=form)
        assert status == 303 and headers["Location"] == "/"
        cookie = headers["Set-Cookie"].split(";")[0]
        assert (
            cookie.startswith(f"{SESSION_COOKIE}=cyxymu.") and "HttpOnly" in headers["Set-Cookie"]
        )
        settings = ClassSettings(
            user_cookie=SESSION_COOKIE, user_secret=o.config.secrets.session.encode()
        )
        addr = parse_address("198.51.100.1")
        assert addr is not None
        verdict = Classifier(settings).classify(addr, {"cookie": cookie}, time.time())
        assert verdict == (ClientClass.USER, "user:cyxymu")
        for bad in (
            {**form, "password": "wrong"},
            {**form, "user": "nobody"},
            {"user": "cyxymu"},
            {},
        ):
            status, _, headers = await fetch(s, "POST", "/login", data=bad)
            assert status == 401 and "Set-Cookie" not in headers

    with_origin(body)


def test_password_reset_answers_alike_for_known_and_unknown_addresses() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        answers = []
        for email in ("cyxymu@mail.example", "nobody@mail.example", ""):
            status, text, headers = await fetch(s, "POST", "/password/reset", data={"email": email})
            answers.append((status, text, headers["Content-Type"], headers["Content-Length"]))
        assert answers[0] == answers[1] == answers[2] == (202, RESET_BODY, *answers[0][2:])
        assert o.stats.served["reset"] == 3

    with_origin(body)


def test_api_needs_a_valid_bearer_token() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        secrets = o.config.secrets
        other = LabSecrets(app_jwt="some-other-secret-that-is-long-enough-0123")
        unsigned = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "", algorithm="none")
        no_sub = jwt.encode({"exp": int(time.time()) + 60}, secrets.app_jwt, algorithm="HS256")
        bad = [
            {},
            {"Authorization": "Bearer not-a-jwt"},
            {"Authorization": f"Basic {make_app_token(secrets)}"},
            {"Authorization": f"Bearer {make_app_token(other)}"},
            {"Authorization": f"Bearer {make_app_token(secrets, ttl=-60)}"},
            {"Authorization": f"Bearer {no_sub}"},
            {"Authorization": f"Bearer {unsigned}"},
        ]
        for headers in bad:
            assert (await fetch(s, "GET", "/api/v1/timeline", headers=headers))[0] == 401
            assert (await fetch(s, "POST", "/api/v1/posts", headers=headers, json={"text": "x"}))[
                0
            ] == 401

    with_origin(body)


def test_api_timeline_and_posting() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        auth = {"Authorization": f"Bearer {make_app_token(o.config.secrets, 'app-1', 'cyxymu')}"}
        anon = {"Authorization": f"Bearer {make_app_token(o.config.secrets, 'app-2')}"}
        async with s.get("/api/v1/timeline", headers=auth) as r:
            got = await r.json()
        assert r.status == 200 and got["app"] == "app-1" and len(got["posts"]) == 20
        assert all(p["user"] != "cyxymu" for p in got["posts"])  # only people cyxymu follows
        async with s.post("/api/v1/posts", headers=auth, json={"text": "hello <world>"}) as r:
            assert r.status == 201
            new_id = (await r.json())["id"]
        status, text, _ = await fetch(s, "GET", f"/users/cyxymu/posts/{new_id}")
        assert status == 200 and "hello &lt;world&gt;" in text
        for payload in ({"text": ""}, {"text": "x" * 281}, {"nope": 1}, [1]):
            assert (await fetch(s, "POST", "/api/v1/posts", headers=auth, json=payload))[0] == 400
        assert (await fetch(s, "POST", "/api/v1/posts", headers=auth, data="{"))[0] == 400
        assert (await fetch(s, "POST", "/api/v1/posts", headers=anon, json={"text": "x"}))[0] == 403
        async with s.get("/api/v1/timeline", headers=anon) as r:
            assert r.status == 200 and len((await r.json())["posts"]) == 20  # the public one

    with_origin(body)


def test_sms_gateway_needs_its_secret() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        cyxymu = o.dataset.users[0]
        msg = {"from": cyxymu.phone, "body": "posted by sms"}
        for headers in ({}, {"X-Gateway-Secret": "wrong"}, {"X-Gateway-Secret": ""}):
            assert (await fetch(s, "POST", "/sms/inbound", data=msg, headers=headers))[0] == 403
        ok = {"X-Gateway-Secret": o.config.secrets.gateway}
        async with s.post("/sms/inbound", data=msg, headers=ok) as r:
            got = await r.json()
        assert r.status == 200 and got["stored"] and isinstance(got["post"], int)
        assert "posted by sms" in (await fetch(s, "GET", f"/users/cyxymu/posts/{got['post']}"))[1]
        async with s.post("/sms/inbound", data={**msg, "from": "+19990000000"}, headers=ok) as r:
            assert r.status == 200 and (await r.json()) == {"stored": True, "post": None}
        assert (await fetch(s, "POST", "/sms/inbound", data={"from": "+1"}, headers=ok))[0] == 400

    with_origin(body)


def test_at_most_workers_execute_and_a_full_queue_answers_503_at_once() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        answers = await asyncio.gather(*(fetch(s, "GET", "/users/cyxymu") for _ in range(20)))
        ok = [a for a in answers if a[0] == 200]
        busy = [a for a in answers if a[0] == 503]
        assert len(ok) + len(busy) == 20 and 2 <= len(ok) <= 4 and len(busy) >= 16
        assert all(h["Retry-After"] == "2" for _, _, h in busy)  # ceil(queue_timeout)
        st = o.stats
        assert st.peak_in_flight == 2 and st.peak_waiting <= 2 and st.in_flight == 0
        assert st.rejected >= 14 and st.rejected + st.timeouts == len(busy) == st.refused["profile"]
        assert st.arrived == 20 and st.admitted == st.served["profile"] == len(ok)
        assert st.busy_s >= len(ok) * 0.25

    with_origin(body, workers=2, queue=2, costs={"profile": RouteCost(sleep_ms=300)})


def test_queued_requests_time_out_with_503() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        start = time.monotonic()
        answers = await asyncio.gather(*(fetch(s, "GET", "/users/cyxymu") for _ in range(3)))
        assert sorted(a[0] for a in answers) == [200, 503, 503]
        assert time.monotonic() - start >= 0.6  # the one admitted took its full cost
        st = o.stats
        assert (st.timeouts, st.rejected, st.queued, st.waiting, st.peak_in_flight) == (
            2,
            0,
            2,
            0,
            1,
        )

    with_origin(
        body, workers=1, queue=4, queue_timeout=0.2, costs={"profile": RouteCost(sleep_ms=600)}
    )


def test_same_seed_same_site() -> None:
    async def profile(seed: int) -> tuple[str, str, str]:
        origin = await start_origin(seed=seed, costs=NO_COSTS, users=50, posts_per_user=5)
        try:
            async with aiohttp.ClientSession(origin.base_url, timeout=TIMEOUT) as s:
                pages = [await fetch(s, "GET", p) for p in ("/users/cyxymu", "/", "/search?q=tea")]
            return pages[0][1], pages[1][1], pages[2][1]
        finally:
            await origin.close()

    async def main() -> None:
        a, b, c = await profile(7), await profile(7), await profile(8)
        assert a == b and a[0] != c[0] and a[1] != c[1]

    asyncio.run(main())


def test_stats_count_requests_by_real_ip() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        sources = ["203.0.113.5"] * 3 + ["2001:db8::1", "not-an-ip", "10.0.0.1"]
        for i, ip in enumerate(sources):
            path = "/users/nobody" if i == 5 else "/users/cyxymu"
            await fetch(s, "GET", path, headers={"X-Real-IP": ip})
        await fetch(s, "GET", "/")
        async with s.get("/_lab/stats") as r:
            got = await r.json()
        assert got["addresses"] == {"203.0.113.5": 3, "2001:db8::1": 1, "10.0.0.1": 1}
        assert (got["bad_real_ip"], got["no_real_ip"], got["arrived"]) == (1, 1, 7)
        assert got["served"] == {"profile": 6, "home": 1} and got["statuses"] == {
            "200": 6,
            "404": 1,
        }
        assert got["distinct_addresses"] == 3 and got["address_overflow"] == 0
        async with s.get("/_lab/stats", params={"addresses": "0"}) as r:
            got = await r.json()
        assert "addresses" not in got and got["arrived"] == 7  # stats reads are not counted
        o.stats.reset()
        assert o.stats.addresses == {} and o.stats.arrived == 0 and o.stats.workers == 16

    with_origin(body)


def test_capacity_is_measured_and_follows_the_worker_count() -> None:
    cost, paths = {"profile": RouteCost(sleep_ms=20)}, ("/users/cyxymu",)

    async def capacity(workers: int) -> float:
        app = make_origin_app(OriginConfig(workers=workers, costs=cost, users=20, posts_per_user=5))
        return await measure_capacity(app, duration=0.6, concurrency=16, paths=paths)

    async def main() -> None:
        one, eight = await capacity(1), await capacity(8)
        assert 0 < one < eight * 0.8
        origin = await start_origin(costs=NO_COSTS, users=20, posts_per_user=5)
        try:
            assert await measure_capacity(origin.base_url, duration=0.3, concurrency=4) > 0
            assert origin.stats.addresses == {} and origin.stats.no_real_ip > 0
        finally:
            await origin.close()
        assert await measure_capacity("http://127.0.0.1:9/", duration=0.1, concurrency=2) == 0

    asyncio.run(main())


def test_close_removes_the_database_and_a_failed_start_leaves_nothing() -> None:
    async def main() -> str:
        origin = await start_origin(costs=NO_COSTS, users=10, posts_per_user=1)
        path = origin.runner.app[ORIGIN_KEY].database.path
        try:
            with pytest.raises(OSError):  # the port is taken
                await start_origin(port=origin.port, costs=NO_COSTS, users=10, posts_per_user=1)
        finally:
            await origin.close()
        return path

    before = set(Path(tempfile.gettempdir()).glob("seawall-lab-origin-*"))
    path = Path(asyncio.run(main()))
    assert path.name == "microblog.sqlite3" and not path.parent.exists()
    assert set(Path(tempfile.gettempdir()).glob("seawall-lab-origin-*")) <= before


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        LabSecrets(session="short")
    with pytest.raises(ValueError, match="gateway"):
        LabSecrets(gateway="short")
    with pytest.raises(ValueError, match="unknown routes"):
        OriginConfig(costs={"nope": RouteCost()})
    with pytest.raises(ValueError, match="workers"):
        OriginConfig(workers=0)
    assert LabSecrets() == DEFAULT_SECRETS
