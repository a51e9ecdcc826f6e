"""Introspector against a real RFC 7662 endpoint served by aiohttp on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from seawall.core.classes import Classifier, ClassSettings, IntrospectionCache, IntrospectionResult
from seawall.core.facts import ClientClass
from seawall.core.net import parse_address
from seawall.edge.introspect import Introspector, parse_answer
from seawall.runtime.clock import ManualClock

WALL = 1_700_000_000.0
TTL = 30.0


class Endpoint:
    """The origin's introspection endpoint: answers from a table, counts hits."""

    def __init__(self) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.hits = 0
        self.status = 200
        self.body: bytes | None = None  # raw body instead of JSON
        self.gate: asyncio.Event | None = None  # hold answers until set
        self.seen: list[tuple[str, str | None, str]] = []  # (token, Authorization, type)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        form = await request.post()
        token = str(form.get("token", ""))
        self.seen.append((token, request.headers.get("Authorization"), request.content_type))
        if self.gate is not None:
            await asyncio.wait_for(self.gate.wait(), 10)
        if self.status != 200:
            return web.Response(status=self.status, text="boom")
        if self.body is not None:
            return web.Response(body=self.body, content_type="application/json")
        return web.json_response(self.answers.get(token, {"active": False}))


@asynccontextmanager
async def serve(endpoint: Endpoint) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/introspect", endpoint.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/introspect"
    finally:
        if endpoint.gate is not None:
            endpoint.gate.set()
        await runner.cleanup()


def introspector(
    url: str, cache: IntrospectionCache, clock: ManualClock, **kw: Any
) -> Introspector:
    args: dict[str, Any] = {"client_id": "", "client_secret": "", "timeout": 2.0}
    args.update(kw)
    return Introspector(
        url,
        args.pop("client_id"),
        args.pop("client_secret"),
        args.pop("timeout"),
        cache,
        TTL,
        clock,
        **args,
    )


Scenario = Callable[[Endpoint, str, IntrospectionCache, ManualClock], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        endpoint = Endpoint()
        async with serve(endpoint) as url:
            await scenario(endpoint, url, IntrospectionCache(100), ManualClock(wall=WALL))

    asyncio.run(main())


async def wait_for_hits(endpoint: Endpoint, n: int) -> None:
    for _ in range(500):
        if endpoint.hits >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"endpoint saw {endpoint.hits} requests, expected {n}")


def test_concurrent_lookups_of_one_token_make_one_request() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        ep.answers["tok"] = {"active": True, "client_id": "crm", "exp": WALL + 600}
        ep.gate = asyncio.Event()
        async with introspector(url, cache, clock) as intro:
            waiters = [asyncio.ensure_future(intro.lookup("tok")) for _ in range(25)]
            await wait_for_hits(ep, 1)
            ep.gate.set()
            results = await asyncio.gather(*waiters)
            assert set(results) == {IntrospectionResult(True, "crm", WALL + 600, "")}
            assert ep.hits == 1
            assert await intro.lookup("tok") == results[0]  # now from the cache
            assert ep.hits == 1
            assert intro.requests == 1
            assert intro.failures == 0

    run(scenario)


def test_form_encoded_token_and_basic_auth() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        async with introspector(url, cache, clock, client_id="edge", client_secret="p@ss w") as i:
            await i.lookup("tok+/=")
        token, auth, ctype = ep.seen[0]
        assert token == "tok+/="
        assert ctype == "application/x-www-form-urlencoded"
        assert auth == "Basic " + base64.b64encode(b"edge:p%40ss+w").decode()

    run(scenario)


def test_no_client_id_sends_no_credentials() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        async with introspector(url, cache, clock) as intro:
            await intro.lookup("tok")
        assert ep.seen[0][1] is None

    run(scenario)


def test_inactive_answers_are_cached_for_the_ttl() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        async with introspector(url, cache, clock) as intro:
            assert (await intro.lookup("revoked")).active is False
            assert (await intro.lookup("revoked")).active is False
            assert ep.hits == 1
            clock.advance(TTL)
            await intro.lookup("revoked")
            assert ep.hits == 2

    run(scenario)


def test_an_answer_never_outlives_the_token() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        ep.answers["short"] = {"active": True, "sub": "u1", "exp": WALL + 5}
        async with introspector(url, cache, clock) as intro:
            assert (await intro.lookup("short")).active is True
            clock.advance(4)
            await intro.lookup("short")
            assert ep.hits == 1
            clock.advance(2)
            ep.answers["short"] = {"active": False}
            assert (await intro.lookup("short")).active is False
            assert ep.hits == 2

    run(scenario)


def test_server_errors_fail_closed_and_are_not_cached() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        ep.status = 500
        ep.answers["tok"] = {"active": True, "client_id": "crm"}
        async with introspector(url, cache, clock) as intro:
            assert await intro.lookup("tok") == IntrospectionResult(False, "")
            assert await intro.lookup("tok") == IntrospectionResult(False, "")
            assert (ep.hits, intro.failures, len(cache)) == (2, 2, 0)
            ep.status = 200  # the endpoint recovers: the next lookup asks again
            assert (await intro.lookup("tok")).active is True
            assert intro.failures == 2

    run(scenario)


def test_a_slow_endpoint_times_out_to_inactive() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        ep.gate = asyncio.Event()  # never set while we wait: slower than any timeout
        ep.answers["tok"] = {"active": True, "client_id": "crm"}
        async with introspector(url, cache, clock, timeout=0.2) as intro:
            start = time.monotonic()
            assert (await intro.lookup("tok")).active is False
            assert time.monotonic() - start < 2.0
            assert intro.failures == 1
            assert len(cache) == 0

    run(scenario)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"active"',
        b"[" * 60_000,  # deep nesting within the size limit: RecursionError
        b"[" * 100_000,
        b'{"active": true, "x": "' + b"a" * 70_000 + b'"}',
    ],
)
def test_bad_answers_fail_closed(body: bytes) -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        ep.body = body
        async with introspector(url, cache, clock) as intro:
            assert (await intro.lookup("tok")).active is False
            assert intro.failures == 1
            assert len(cache) == 0

    run(scenario)


def test_an_unreachable_endpoint_fails_closed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused

        async def main() -> None:
            cache, clock = IntrospectionCache(10), ManualClock(wall=WALL)
            async with introspector(f"http://127.0.0.1:{port}/i", cache, clock) as intro:
                assert (await intro.lookup("tok")).active is False
                assert intro.failures == 1

        asyncio.run(main())


def test_pending_lookups_are_bounded() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        ep.gate = asyncio.Event()
        async with introspector(url, cache, clock, max_pending=2) as intro:
            first = [asyncio.ensure_future(intro.lookup(t)) for t in ("a", "b")]
            await wait_for_hits(ep, 2)
            assert await intro.lookup("c") == IntrospectionResult(False, "")
            assert intro.overflows == 1
            ep.gate.set()
            await asyncio.gather(*first)
            assert ep.hits == 2

    run(scenario)


def test_close_cancels_pending_lookups_and_is_idempotent() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        ep.gate = asyncio.Event()
        intro = introspector(url, cache, clock)
        waiter = asyncio.ensure_future(intro.lookup("tok"))
        await wait_for_hits(ep, 1)
        await intro.close()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await intro.close()

    run(scenario)


def test_junk_tokens_are_never_sent() -> None:
    async def scenario(
        ep: Endpoint, url: str, cache: IntrospectionCache, clock: ManualClock
    ) -> None:
        async with introspector(url, cache, clock) as intro:
            assert (await intro.lookup("é")).active is False
            assert (await intro.lookup("")).active is False
            assert (await intro.lookup("a" * 10_000)).active is False
        assert ep.hits == 0

    run(scenario)


def test_lookup_then_classify() -> None:
    async def scenario(ep: Endpoint, url: str, _: IntrospectionCache, clock: ManualClock) -> None:
        ep.answers["opaque"] = {"active": True, "client_id": "crm", "exp": WALL + 600}
        classifier = Classifier(ClassSettings(introspection=True))
        cache = classifier.introspection_cache
        client = parse_address("192.0.2.1")
        assert cache is not None and client is not None
        headers = {"authorization": "Bearer opaque"}
        async with introspector(url, cache, clock) as intro:
            token = classifier.needs_introspection(headers, clock.wall())
            assert token == "opaque"
            await intro.lookup(token)
        assert classifier.needs_introspection(headers, clock.wall()) is None
        assert classifier.classify(client, headers, clock.wall()) == (
            ClientClass.API_APP,
            "app:crm",
        )

    run(scenario)


def test_a_cache_is_required() -> None:
    with pytest.raises(ValueError):
        Introspector("http://127.0.0.1:1/", "", "", 1.0, None, TTL, ManualClock())


def test_parse_answer() -> None:
    now = WALL
    assert parse_answer({"active": True, "client_id": "c", "sub": "s", "username": "u"}, now) == (
        IntrospectionResult(True, "c", 0.0, "s")
    )
    assert parse_answer({"active": True, "username": "u", "exp": now + 1}, now) == (
        IntrospectionResult(True, "u", now + 1, "u")
    )
    assert parse_answer({"active": "true", "client_id": "c"}, now).active is False
    assert parse_answer({"active": True, "client_id": "c", "exp": now}, now).active is False
    assert parse_answer({"active": True, "exp": "soon"}, now).expires == 0.0
    assert parse_answer({"active": True, "exp": True}, now).expires == 0.0
    assert parse_answer({}, now) == IntrospectionResult(False, "")
