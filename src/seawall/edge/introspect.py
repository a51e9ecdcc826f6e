"""RFC 7662 token introspection: the origin's endpoint says whether an opaque token is live.

Answers land in the Classifier's IntrospectionCache. A failing endpoint makes tokens
count as inactive (anonymous), never trusted, and such answers are not cached.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
from collections.abc import Mapping
from types import TracebackType
from urllib.parse import quote_plus

import aiohttp

from seawall.core.classes import MAX_TOKEN, IntrospectionCache, IntrospectionResult
from seawall.runtime.clock import Clock

MAX_ANSWER_BYTES = 65_536
FAILED = IntrospectionResult(False, "")


def _first_str(data: Mapping[str, object], names: tuple[str, ...]) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def parse_answer(data: Mapping[str, object], now: float) -> IntrospectionResult:
    """An endpoint's JSON answer as a result; anything but `"active": true` is inactive."""
    exp = data.get("exp")
    expires = 0.0
    if isinstance(exp, int | float) and not isinstance(exp, bool) and math.isfinite(exp):
        expires = float(exp)
    if data.get("active") is not True or 0 < expires <= now:
        return IntrospectionResult(False, "", expires)
    principal = _first_str(data, ("client_id", "sub", "username"))
    return IntrospectionResult(True, principal, expires, _first_str(data, ("sub", "username")))


class Introspector:
    """Looks tokens up, one request per token however many requests wait on it."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        timeout: float,
        cache: IntrospectionCache | None,
        ttl: float,
        clock: Clock,
        max_pending: int = 256,
    ) -> None:
        if cache is None:
            raise ValueError("an Introspector fills the Classifier's cache; pass it")
        self._url = url
        # RFC 6749 2.3.1: credentials are form-encoded before Basic encoding.
        basic = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
        self._headers = {"Accept": "application/json"}
        if client_id:
            self._headers["Authorization"] = "Basic " + base64.b64encode(basic).decode()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._cache = cache
        self._ttl = ttl
        self._clock = clock
        self._max_pending = max_pending
        self._pending: dict[str, asyncio.Task[IntrospectionResult]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._seq = 0
        self.requests = 0  # sent to the endpoint
        self.failures = 0  # errors, timeouts, bad answers
        self.overflows = 0  # refused because max_pending lookups were under way

    async def __aenter__(self) -> Introspector:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        pending = list(self._pending.values())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def lookup(self, token: str) -> IntrospectionResult:
        """The cached answer, else the endpoint's; inactive (uncached) when it fails."""
        if not 0 < len(token) <= MAX_TOKEN or not token.isascii():
            return FAILED  # never a credential; not worth the endpoint's time
        known = self._cache.get(token, self._clock.wall())
        if known is not None:
            return known
        task = self._pending.get(token)
        if task is None:
            if len(self._pending) >= self._max_pending:
                self.overflows += 1  # a flood of fresh tokens must not flood the endpoint
                return FAILED
            task = asyncio.get_running_loop().create_task(
                self._fetch(token), name=f"introspect-{self._seq}"
            )
            self._seq += 1
            self._pending[token] = task
            task.add_done_callback(lambda t: self._done(token, t))
        # shield: one waiter giving up must not cancel the lookup for the others
        return await asyncio.shield(task)

    def _done(self, token: str, task: asyncio.Task[IntrospectionResult]) -> None:
        if self._pending.get(token) is task:
            del self._pending[token]

    async def _fetch(self, token: str) -> IntrospectionResult:
        self.requests += 1
        try:
            data = await self._post(token)
        except (aiohttp.ClientError, TimeoutError, ValueError, RecursionError):
            self.failures += 1
            return FAILED
        now = self._clock.wall()
        result = parse_answer(data, now)
        self._cache.put(token, result, now, self._ttl)
        return result

    async def _post(self, token: str) -> Mapping[str, object]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                connector=aiohttp.TCPConnector(limit=self._max_pending),
            )
        async with self._session.post(
            self._url,
            data={"token": token},
            headers=self._headers,
            allow_redirects=False,
        ) as resp:
            if resp.status != 200:
                raise ValueError(f"introspection answered {resp.status}")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(16_384):
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise ValueError("introspection answer too large")
        data = json.loads(bytes(body))
        if not isinstance(data, dict):
            raise ValueError("introspection answer is not a JSON object")
        return data
