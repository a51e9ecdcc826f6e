"""The lab's demo platform: a small microblog with a real, finite capacity.

Each request runs real SQLite queries (`origin_data`) on one of `workers` threads, plus an
optional per-route `RouteCost`. At most `workers` requests execute at once; up to `queue`
more wait at most `queue_timeout` seconds; past that comes 503 with Retry-After, as from an
app server behind a balancer, so an unprotected flood really takes it down. `X-Real-IP` is
believed (the lab reaches the origin only through its balancer, the edge or nginx), and
`/_lab/stats`, never queued, counts requests by that exact address for the scorecard.
The account pages (sign-in, reset, lookup) are in `accounts_origin`.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from html import escape
from typing import Any, TypeVar

import aiohttp
import jwt
from aiohttp import web
from aiohttp.typedefs import Handler

from seawall.core.classes import bearer_token
from seawall.lab import origin_data as data
from seawall.lab.accounts_origin import AccountPages, add_account_routes, form_field
from seawall.lab.origin_data import DEFAULT_COSTS, ROUTES, OriginStats, RouteCost

T = TypeVar("T")
_JWT_OPTIONS: Any = {"require": ["exp", "sub"]}  # and a valid signature and exp, always
CAPACITY_MIX = ("/users/cyxymu", "/", "/users/cyxymu/posts/1", "/search?q=storm", "/users/cyxymu")


@dataclass(frozen=True, slots=True)
class LabSecrets:
    """The lab's secrets; the edge is configured with the same values."""

    session: str = "lab-only-session-secret-not-for-production"  # signs session cookies
    app_jwt: str = "lab-only-api-jwt-secret-not-for-production"  # HS256 key of API tokens
    gateway: str = "lab-only-sms-gateway-secret"  # X-Gateway-Secret of /sms/inbound
    challenge: str = "lab-only-challenge-pass-key-not-for-production"  # the edge's pass cookies
    accounts: str = "lab-only-account-hashing-key-not-for-production"  # the edge hashes names

    def __post_init__(self) -> None:
        if min(len(s.encode()) for s in (self.session, self.app_jwt, self.accounts)) < 32:
            raise ValueError("session, app_jwt and accounts secrets need at least 32 bytes")
        if len(self.gateway) < 16 or not self.gateway.isascii():
            raise ValueError("the gateway secret needs at least 16 ASCII characters")


DEFAULT_SECRETS = LabSecrets()


@dataclass(frozen=True, slots=True)
class OriginConfig:
    seed: int = 7
    workers: int = 16
    queue: int = 64
    queue_timeout: float = 2.0
    secrets: LabSecrets = DEFAULT_SECRETS
    costs: Mapping[str, RouteCost] = field(default_factory=lambda: DEFAULT_COSTS)
    users: int = 300
    posts_per_user: int = 20
    quiet_users: int = 0  # accounts that only sign in (see accounts_data)

    def __post_init__(self) -> None:
        if self.workers < 1 or self.queue < 0 or self.queue_timeout <= 0:
            raise ValueError("workers >= 1, queue >= 0 and queue_timeout > 0 are needed")
        if unknown := sorted(set(self.costs) - set(ROUTES)):
            raise ValueError(f"costs name unknown routes {unknown}; known: {ROUTES}")


class Admission:
    """`workers` slots, then at most `queue` waiters, each for at most `timeout` seconds."""

    def __init__(self, stats: OriginStats, timeout: float) -> None:
        self._stats, self._timeout = stats, timeout
        self._slots = asyncio.Semaphore(stats.workers)

    async def enter(self) -> bool:
        """True with a slot held (call `leave`); False when refused. Counted either way."""
        st = self._stats
        if self._slots.locked():
            if st.waiting >= st.queue:
                st.rejected += 1
                return False
            st.queued, st.waiting = st.queued + 1, st.waiting + 1
            st.peak_waiting = max(st.peak_waiting, st.waiting)
            try:
                async with asyncio.timeout(self._timeout):
                    await self._slots.acquire()
            except TimeoutError:
                st.timeouts += 1
                return False
            finally:
                st.waiting -= 1
        else:
            await self._slots.acquire()  # free: returns at once
        st.admitted, st.in_flight = st.admitted + 1, st.in_flight + 1
        st.peak_in_flight = max(st.peak_in_flight, st.in_flight)
        return True

    def leave(self) -> None:
        self._stats.in_flight -= 1
        self._slots.release()


PUBLIC_PAGE = "public, max-age=2"  # what a public page may be cached for, by any cache


def _html(title: str, body: str, status: int = 200, cache: str = "") -> web.Response:
    page = f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title>{body}\n"
    resp = web.Response(text=page, status=status, content_type="text/html")
    if cache:
        resp.headers["Cache-Control"] = cache
    return resp


def _posts_html(rows: Sequence[data.Row]) -> str:
    items = "".join(
        f'<li><a href="/users/{n}">@{n}</a> <a href="/users/{n}/posts/{i}">#{i}</a>'
        f" <time>{c}</time> {escape(str(b))}</li>"
        for i, n, c, b in rows
    )
    return f"<ol>{items}</ol>"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _Origin:
    """One origin: stats, admission, the worker pool with its SQLite connections, the pages."""

    def __init__(self, config: OriginConfig) -> None:
        self.config = config
        self.stats = OriginStats(config.workers, config.queue)
        self.admission = Admission(self.stats, config.queue_timeout)
        self.busy_headers = {"Retry-After": str(max(1, math.ceil(config.queue_timeout)))}
        self.dataset = data.generate(
            config.seed, config.users, config.posts_per_user, config.quiet_users
        )
        self.database = data.Database(self.dataset, config.workers, config.costs)

    async def db(self, route: str, fn: Callable[..., T], *args: object) -> T:
        job = partial(self.database.run, route, fn, args)  # on a worker thread, after the cost
        return await asyncio.get_running_loop().run_in_executor(self.database.pool, job)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route, st = request.match_info.route.name, self.stats
        if route == "stats":
            return await handler(request)
        st.arrived += 1
        st.count_address(request.headers.get("X-Real-IP"))
        if route is None:  # no such route or method: the router answers
            return await handler(request)
        if not await self.admission.enter():
            st.refused[route] += 1
            st.statuses[503] += 1
            return web.Response(status=503, text="overloaded\n", headers=self.busy_headers)
        status, start = 500, time.perf_counter()
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            self.admission.leave()
            st.busy_s += time.perf_counter() - start
            st.served[route] += 1
            st.statuses[status] += 1
            st.errors += status >= 500

    def _claims(self, request: web.Request) -> dict[str, Any] | None:
        """The claims of a valid API bearer token (HS256, with exp and sub)."""
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            return None
        key = self.config.secrets.app_jwt
        try:
            claims: dict[str, Any] = jwt.decode(token, key, ["HS256"], options=_JWT_OPTIONS)
        except jwt.PyJWTError:
            return None
        return claims if isinstance(claims.get("user", ""), str) else None

    async def home(self, _: web.Request) -> web.Response:
        rows = await self.db("home", data.latest)
        resp = _html("microblog", f"<h1>microblog</h1><h2>latest</h2>{_posts_html(rows)}")
        resp.headers["Cache-Control"] = "public, max-age=5"
        return resp

    async def profile(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        found = await self.db("profile", data.profile, name)
        if found is None:
            return _html("not found", f"<p>no user @{escape(name)}</p>", 404)
        (_, uname, bio), n_posts, n_fans, rows = found
        head = f"<h1>@{uname}</h1><p>{escape(str(bio))}</p><p>{n_posts} posts, {n_fans} followers"
        return _html(f"@{uname}", f"{head}</p>{_posts_html(rows)}", cache=PUBLIC_PAGE)

    async def post(self, request: web.Request) -> web.Response:
        name, post_id = request.match_info["name"], int(request.match_info["id"])
        row = await self.db("post", data.post, name, post_id)
        if row is None:
            return _html("not found", "<p>no such post</p>", 404)
        return _html(f"@{row[1]} #{row[0]}", _posts_html([row]), cache=PUBLIC_PAGE)

    async def search(self, request: web.Request) -> web.Response:
        q = request.query.get("q", "").strip()
        if not q or len(q) > 100:
            return _html("search", "<p>q: 1 to 100 characters</p>", 400)
        rows = await self.db("search", data.search, q)
        page = f"<h1>{escape(q)}</h1>{_posts_html(rows)}"
        return _html(f"search: {q}", page, cache=PUBLIC_PAGE)

    async def timeline(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        if claims is None:
            return _error(401, "a valid bearer token is required")
        rows = await self.db("timeline", data.timeline, claims.get("user", ""))
        posts = [{"id": i, "user": n, "created": c, "text": b} for i, n, c, b in rows]
        return web.json_response({"app": claims["sub"], "posts": posts})

    async def api_post(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        if claims is None:
            return _error(401, "a valid bearer token is required")
        try:
            body = await request.json()
        except ValueError:
            body = None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not 0 < len(text) <= 280:
            return _error(400, "text: 1 to 280 characters")
        new_id = await self.db("api_post", data.add_post, claims.get("user", ""), text)
        if new_id is None:
            return _error(403, "the token acts for no known user")
        return web.json_response({"id": new_id}, status=201)

    async def sms(self, request: web.Request) -> web.Response:
        given = request.headers.get("X-Gateway-Secret", "").encode()
        if not hmac.compare_digest(given, self.config.secrets.gateway.encode()):
            return web.Response(status=403, text="not the gateway\n")
        form = await request.post()
        sender, body = form_field(form, "from", 32), form_field(form, "body", 480)
        if not sender or not body:
            return web.Response(status=400, text="from and body are required\n")
        post_id = await self.db("sms", data.sms_inbound, sender, body)
        return web.json_response({"stored": True, "post": post_id})

    async def lab_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.snapshot(request.query.get("addresses") != "0"))


ORIGIN_KEY = web.AppKey("origin", _Origin)


def make_origin_app(config: OriginConfig) -> web.Application:
    """The aiohttp app; its pool and SQLite file go when the app is cleaned up."""
    o = _Origin(config)
    app = web.Application(middlewares=[o.middleware], client_max_size=64 * 1024)
    app[ORIGIN_KEY] = o
    app.on_cleanup.append(lambda _: asyncio.to_thread(o.database.close))
    r = app.router
    r.add_get("/", o.home, name="home")
    r.add_get("/users/{name}", o.profile, name="profile")
    r.add_get(r"/users/{name}/posts/{id:\d{1,18}}", o.post, name="post")
    r.add_get("/search", o.search, name="search")
    add_account_routes(r, AccountPages(o.db, config.secrets.session, config.seed))
    r.add_get("/api/v1/timeline", o.timeline, name="timeline")
    r.add_post("/api/v1/posts", o.api_post, name="api_post")
    r.add_post("/sms/inbound", o.sms, name="sms")
    r.add_get("/_lab/stats", o.lab_stats, name="stats")
    return app


@dataclass(frozen=True, slots=True)
class RunningOrigin:
    host: str
    port: int
    config: OriginConfig
    stats: OriginStats  # live: the lab may read it in-process instead of /_lab/stats
    dataset: data.Dataset
    runner: web.AppRunner

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=511)
        await site.start()
    except BaseException:
        await runner.cleanup()
        if ORIGIN_KEY in app:  # setup may fail before cleanup hooks can run
            await asyncio.to_thread(app[ORIGIN_KEY].database.close)
        raise
    sockets = getattr(site._server, "sockets", None) or []
    return runner, int(sockets[0].getsockname()[1])


async def start_origin(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 7,
    workers: int = 16,
    queue: int = 64,
    queue_timeout: float = 2.0,
    secrets: LabSecrets = DEFAULT_SECRETS,
    costs: Mapping[str, RouteCost] = DEFAULT_COSTS,
    users: int = 300,
    posts_per_user: int = 20,
    quiet_users: int = 0,
) -> RunningOrigin:
    """Seeds a fresh database and serves the origin; `port=0` picks a free port."""
    config = OriginConfig(
        seed, workers, queue, queue_timeout, secrets, costs, users, posts_per_user, quiet_users
    )
    app = await asyncio.to_thread(make_origin_app, config)
    runner, bound = await _serve(app, host, port)
    o = app[ORIGIN_KEY]
    return RunningOrigin(host, bound, config, o.stats, o.dataset, runner)


def make_app_token(
    secrets: LabSecrets, app: str = "lab-app", user: str = "", ttl: int = 3600
) -> str:
    """An API bearer token (HS256) for third-party app `app`, acting for `user` if given."""
    claims: dict[str, object] = {"sub": app, "exp": int(time.time()) + ttl}
    if user:
        claims["user"] = user
    return jwt.encode(claims, secrets.app_jwt, algorithm="HS256")


async def _load(session: aiohttp.ClientSession, urls: Sequence[str], i: int, ok: list[int]) -> None:
    while True:  # cancelled by measure_capacity
        try:
            async with session.get(urls[i % len(urls)]) as resp:
                await resp.read()
                ok[0] += resp.status < 400
        except (aiohttp.ClientError, TimeoutError):
            await asyncio.sleep(0.01)
        i += 1


async def measure_capacity(
    target: str | web.Application,
    duration: float = 2.0,
    concurrency: int = 32,
    paths: Sequence[str] = CAPACITY_MIX,
) -> float:
    """Successful requests/s sustained by a closed loop of `concurrency` loopback clients.

    `target` is a base URL, or an app that is served on loopback for the measurement and
    cleaned up after it. Requests carry no X-Real-IP, so per-address counts stay clean."""
    if isinstance(target, web.Application):
        runner, port = await _serve(target, "127.0.0.1", 0)
        try:
            return await measure_capacity(f"http://127.0.0.1:{port}", duration, concurrency, paths)
        finally:
            await runner.cleanup()
    urls, ok = [target.rstrip("/") + p for p in paths], [0]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        tasks = [
            asyncio.create_task(_load(s, urls, i, ok), name=f"capacity-load-{i}")
            for i in range(concurrency)
        ]
        await asyncio.sleep(duration)
        counted = ok[0]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return counted / duration
