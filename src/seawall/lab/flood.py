"""The lab's HTTP floods: a Mirai-like botnet and an adaptive one that changes its nature.

A flood is open-loop: sessions start at the configured rate whatever the target answers,
as a botnet's do. Each session is one bot address on one connection: a first request,
whose cookie is replayed and whose redirect is followed, then a few more requests written
back to back without waiting (pipelined), then close. Sessions are capped per process and
a start that finds the cap full is counted as `shortfall`, so the scorecard never claims
more attack than was sent. Counting is per second of scenario time and per status.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast

import httptools

from seawall.lab.client import check_loopback
from seawall.lab.traffic import HOST
from seawall.lab.wire import Target

TICK_S = 0.01
SESSION_TIMEOUT_S = 2.0  # bots give up on slow answers and move on
MAX_SESSIONS = 3000  # concurrent sessions per process

# fixed User-Agents of 2016-era browsers, as IoT bots carry them
MIRAI_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/51.0.2704.103 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/52.0.2743.116 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:46.0) Gecko/20100101 Firefox/46.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6) AppleWebKit/601.7.7 (KHTML, like Gecko) "
    "Version/9.1.2 Safari/601.7.7",
)
MODERN_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
)


class Style(StrEnum):
    MIRAI = "mirai"  # fixed old UAs, odd header order, the same few target paths
    ADAPTIVE = "adaptive"  # modern UAs, browser header order, cache-busting, other paths


@dataclass(frozen=True, slots=True)
class FloodSpec:
    klass: str
    style: Style
    addresses: tuple[str, ...]
    rate: float  # requests/s from this process
    start_s: float  # scenario offsets
    end_s: float
    paths: tuple[str, ...]
    per_session: tuple[int, int] = (2, 6)  # requests per session, inclusive range
    rotate: bool = False  # each address is used for one session only, then rotated out

    def __post_init__(self) -> None:
        if not self.addresses or not self.paths:
            raise ValueError("a flood needs addresses and paths")
        if self.rate < 0 or self.end_s < self.start_s:
            raise ValueError("a flood needs rate >= 0 and end >= start")
        low, high = self.per_session
        if not 1 <= low <= high <= 100:
            raise ValueError("per_session must be 1 <= low <= high <= 100")


@dataclass(slots=True)
class FloodCounts:
    sent_by_second: Counter[int] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    sessions: int = 0
    connect_errors: int = 0
    dropped: int = 0  # requests written but never answered (closed or timed out)
    shortfall: int = 0  # requests not started because the session cap was full
    cut_short: int = 0  # requests a session never sent because the server closed it first


class _Bot(asyncio.Protocol):
    """Counts the responses on one connection; wakes the session when all have come."""

    def __init__(self, counts: FloodCounts) -> None:
        self.counts = counts
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.expected = 0
        self.done = asyncio.Event()
        self.cookie = ""
        self.location = ""
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.done.set()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.closed = True
            self.done.set()
            if self.transport is not None:
                self.transport.abort()

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"set-cookie" and not self.cookie:
            self.cookie = value.split(b";", 1)[0].decode("latin-1")
        elif lower == b"location":
            self.location = value.decode("latin-1")

    def on_message_complete(self) -> None:
        self.counts.statuses[self.parser.get_status_code()] += 1
        if not self.parser.should_keep_alive():
            self.closed = True  # the server said it closes: sending more would be lost
        self.expected -= 1
        if self.expected <= 0:
            self.done.set()


class Flood:
    """Runs one `FloodSpec` from `t0` (wall clock) in this process."""

    def __init__(self, spec: FloodSpec, target: Target, t0: float, seed: int) -> None:
        check_loopback(target.host)
        self.spec, self.target, self.t0 = spec, target, t0
        self.rng = random.Random(seed)
        self.counts = FloodCounts()
        self.tasks: set[asyncio.Task[None]] = set()
        self._next_addr = 0

    def _address(self) -> str:
        s = self.spec
        if s.rotate:
            addr = s.addresses[self._next_addr % len(s.addresses)]
            self._next_addr += 1
            return addr
        return self.rng.choice(s.addresses)

    def _request(self, extra: bytes, cookie: str, path: str | None = None) -> bytes:
        s, rng = self.spec, self.rng
        path = path or rng.choice(s.paths)
        if path.startswith("POST "):  # junk sign-ins, the login half of a flood
            body = f"user=admin{rng.randrange(10**6)}&password={rng.randrange(10**9)}".encode()
            head = (
                f"POST {path[5:]} HTTP/1.1\r\nUser-Agent: {rng.choice(MIRAI_UAS)}\r\n"
                f"Host: {HOST}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n"
            )
            return head.encode("latin-1") + extra + b"\r\n" + body
        if s.style is Style.MIRAI:
            head = (
                f"GET {path} HTTP/1.1\r\nUser-Agent: {rng.choice(MIRAI_UAS)}\r\n"
                f"Accept: */*\r\nHost: {HOST}\r\nConnection: keep-alive\r\n"
            )
        else:
            sep = "&" if "?" in path else "?"
            path = f"{path}{sep}_={rng.randrange(10**9)}"  # cache-busting
            head = (
                f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: keep-alive\r\n"
                f"User-Agent: {rng.choice(MODERN_UAS)}\r\n"
                "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n"
                "Accept-Language: en-US,en;q=0.9\r\n"
            )
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        return head.encode("latin-1") + extra + b"\r\n"

    def _second(self) -> int:
        return int(time.time() - self.t0)

    async def _session(self, addr: str, n: int) -> None:
        c = self.counts
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(SESSION_TIMEOUT_S):
                _, bot = await loop.create_connection(
                    lambda: _Bot(c), self.target.host, self.target.port
                )
        except (OSError, TimeoutError):
            c.connect_errors += 1
            c.shortfall += n
            return
        assert bot.transport is not None
        extra = self.target.header_lines(addr)
        try:
            bot.transport.write(self.target.preamble(addr, self.rng.randrange(1024, 65536)))
            await self._exchange(bot, [self._request(extra, "")])  # learn cookie and redirect
            n -= 1
            if n > 0 and bot.closed:
                self.counts.cut_short += n
            elif n > 0:
                path = bot.location if bot.location.startswith("/") else None
                await self._exchange(
                    bot, [self._request(extra, bot.cookie, path) for _ in range(n)]
                )
        finally:
            bot.transport.close()

    async def _exchange(self, bot: _Bot, requests: list[bytes]) -> None:
        assert bot.transport is not None
        bot.done.clear()
        bot.expected = len(requests)
        bot.transport.write(b"".join(requests))
        self.counts.sent_by_second[self._second()] += len(requests)
        try:
            async with asyncio.timeout(SESSION_TIMEOUT_S):
                await bot.done.wait()
        except TimeoutError:
            pass
        if bot.expected > 0:
            self.counts.dropped += bot.expected
            bot.closed = True

    async def run(self) -> FloodCounts:
        """Starts sessions at the spec's rate from `start_s` to `end_s`, then waits for them."""
        s, low, high = self.spec, *self.spec.per_session
        await asyncio.sleep(max(0.0, self.t0 + s.start_s - time.time()))
        issued, began = 0.0, time.time()
        while (now := time.time()) < self.t0 + s.end_s and s.rate > 0:
            due = (now - began) * s.rate - issued
            while due >= 1:
                n = self.rng.randint(low, high)
                issued += n
                due -= n
                if len(self.tasks) >= MAX_SESSIONS:
                    self.counts.shortfall += n
                    continue
                self.counts.sessions += 1
                task = asyncio.create_task(
                    self._session(self._address(), n),
                    name=f"{s.klass}-session-{self.counts.sessions}",
                )
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            await asyncio.sleep(TICK_S)
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=SESSION_TIMEOUT_S * 2 + 1)
        for task in list(self.tasks):
            task.cancel()
        return self.counts
