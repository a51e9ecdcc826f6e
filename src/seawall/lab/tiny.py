"""A tiny built-in origin: a few microblog-shaped pages with a small, real cost per request."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

USERS = ("cyxymu", "alice", "bob", "carol", "dave")


def make_origin(work_ms: float = 2.0, concurrency: int = 16) -> web.Application:
    """Each page waits `work_ms` inside one of `concurrency` slots, like an app server."""
    slots = asyncio.Semaphore(concurrency)
    served = {"requests": 0}

    async def work() -> None:
        async with slots:
            await asyncio.sleep(work_ms / 1000)
        served["requests"] += 1

    async def home(_: web.Request) -> web.Response:
        await work()
        links = "".join(f'<li><a href="/users/{u}">@{u}</a></li>' for u in USERS)
        return web.Response(
            text=f"<!doctype html><title>microblog</title><h1>microblog</h1><ul>{links}</ul>",
            content_type="text/html",
            headers={"Cache-Control": "public, max-age=5"},
        )

    async def profile(request: web.Request) -> web.Response:
        await work()
        name = request.match_info["name"]
        if name not in USERS:
            raise web.HTTPNotFound(text=f"no user @{name}\n")
        return web.Response(
            text=f"<!doctype html><title>@{name}</title><h1>@{name}</h1><p>posts by @{name}</p>",
            content_type="text/html",
        )

    async def timeline(request: web.Request) -> web.Response:
        await work()
        who = request.headers.get("X-Real-IP", "?")
        return web.json_response(
            {"posts": [{"user": u, "text": f"hello from @{u}"} for u in USERS], "seen_as": who}
        )

    async def stats(_: web.Request) -> web.Response:
        return web.Response(text=json.dumps(served))

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/users/{name}", profile)
    app.router.add_get("/api/timeline", timeline)
    app.router.add_get("/_origin/stats", stats)
    return app


async def start_origin(port: int = 0, host: str = "127.0.0.1") -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(make_origin(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    return runner, int(sockets[0].getsockname()[1])
