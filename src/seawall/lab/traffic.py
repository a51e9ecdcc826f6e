"""The lab's legitimate clients: browsers, API apps, the SMS gateway and a flash crowd.

Each simulated client has one source address and behaves as its kind does in reality:
browsers keep cookies, follow redirects, think between pages and would solve the edge's
challenge; API apps present bearer tokens and honour 429/503 Retry-After with backoff; the
gateway posts at a steady, high rate from one address. Every logical request becomes one
`Attempt` (after its redirects, retries and challenges) handed to the `Reporter`; the class
label comes from the program, never from anything sent on the wire.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from seawall.core.challenge import PASS_PATH, solve
from seawall.edge.challenge import parse_challenge
from seawall.lab.client import Connection, RequestFailed, Response, request_head, retry_after_s
from seawall.lab.scorecard import Attempt, ClientOutcome
from seawall.lab.wire import Target

HOST = "microblog.lab"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
MAX_REDIRECTS = 3


@dataclass(slots=True)
class Reporter:
    """Collects attempts in this process; `drain` hands them over in batches."""

    t0: float  # wall-clock start of the scenario, shared by every process
    attempts: list[Attempt] = field(default_factory=list)

    def now(self) -> float:
        return max(0.0, time.time() - self.t0)

    def add(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def drain(self) -> list[Attempt]:
        out, self.attempts = self.attempts, []
        return out


@dataclass(frozen=True, slots=True)
class Policy:
    """How a kind of client reacts to refusals."""

    timeout_s: float
    retries: int  # after 429/503 (honouring Retry-After) or a dropped connection
    max_wait_s: float  # longest Retry-After it will honour
    backoff_s: float  # first wait when no Retry-After is given; doubles each time
    solves_challenges: bool


BROWSER = Policy(timeout_s=10.0, retries=1, max_wait_s=10.0, backoff_s=1.0, solves_challenges=True)
API_APP = Policy(timeout_s=10.0, retries=4, max_wait_s=30.0, backoff_s=0.5, solves_challenges=False)
GATEWAY = Policy(
    timeout_s=10.0, retries=4, max_wait_s=15.0, backoff_s=0.25, solves_challenges=False
)


@dataclass(slots=True)
class _Tally:
    challenged: bool = False
    throttled: bool = False


@dataclass(frozen=True, slots=True)
class Exchange:
    """One logical request as a client made it: how it ended and the last answer, if any."""

    t: float  # when it began, seconds after the scenario start
    outcome: ClientOutcome
    response: Response | None
    latency_s: float
    challenged: bool
    throttled: bool

    def attempt(self, klass: str) -> Attempt:
        return Attempt(
            self.t, klass, True, self.outcome, self.latency_s, self.challenged, self.throttled
        )


class Client:
    """One simulated client: an address, a connection, cookies and a policy."""

    def __init__(
        self,
        target: Target,
        address: str,
        klass: str,
        policy: Policy,
        reporter: Reporter,
        rng: random.Random,
    ) -> None:
        self.target, self.address, self.klass, self.policy = target, address, klass, policy
        self.reporter, self.rng = reporter, rng
        self.cookies: dict[str, str] = {}
        self.conn: Connection | None = None
        self._turn = asyncio.Lock()  # one exchange at a time on the connection (sms_gateway)

    async def _send(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        async with self._turn:
            if self.conn is None or not self.conn.usable:
                self.conn = await Connection.open(
                    self.target, self.address, self.policy.timeout_s, self.rng
                )
            if self.cookies:
                cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
                headers = [*headers, ("Cookie", cookie)]
            return await self.conn.request(
                request_head(method, path, headers), body, self.policy.timeout_s
            )

    def _keep_cookies(self, r: Response) -> None:
        for line in r.set_cookies:
            pair = line.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if name.strip():
                self.cookies[name.strip()] = value.strip()

    async def fetch(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> None:
        """One logical request: redirects, retries and challenges included; reported."""
        self.reporter.add((await self.exchange(method, path, headers, body)).attempt(self.klass))

    async def exchange(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> Exchange:
        """One logical request as `fetch` makes it, not reported: for multi-step programs."""
        t, start, tally = self.reporter.now(), time.monotonic(), _Tally()
        outcome, r = await self._outcome(method, path, headers, body, tally)
        latency = time.monotonic() - start
        return Exchange(t, outcome, r, latency, tally.challenged, tally.throttled)

    async def _outcome(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes, tally: _Tally
    ) -> tuple[ClientOutcome, Response | None]:
        retries, wait = self.policy.retries, self.policy.backoff_s
        while True:
            try:
                r = await self._follow(method, path, headers, body)
                if r.status == 403 and self.policy.solves_challenges:
                    r = await self._solve(r, headers, tally)
            except TimeoutError:
                self._drop()
                return ClientOutcome.TIMEOUT, None
            except RequestFailed:
                self._drop()
                r = None
            verdict = self._judge(r, tally)
            if verdict is not None:
                return verdict, r
            assert r is None or r.status in (429, 503)
            delay = wait if r is None else retry_after_s(r, wait)
            if retries <= 0 or delay > self.policy.max_wait_s:
                return (ClientOutcome.ERROR, None) if r is None else (self._refusal(r), r)
            retries, wait = retries - 1, wait * 2
            await asyncio.sleep(delay * (0.8 + 0.4 * self.rng.random()))

    def _refusal(self, r: Response) -> ClientOutcome:
        return ClientOutcome.THROTTLED if r.status == 429 else ClientOutcome.ERROR

    def _judge(self, r: Response | None, tally: _Tally) -> ClientOutcome | None:
        """The final outcome, or None to retry (after a wait)."""
        if r is None or r.status in (429, 503):
            tally.throttled = tally.throttled or r is not None
            return None
        if 200 <= r.status < 400:
            return ClientOutcome.SUCCEEDED
        if r.status == 403 and parse_challenge(r.body) is not None:
            tally.challenged = True
            return ClientOutcome.CHALLENGED  # offered a puzzle it could not or would not solve
        if r.status == 403:
            return ClientOutcome.BLOCKED
        if r.status == 408 or r.status >= 500:
            return ClientOutcome.ERROR
        return ClientOutcome.BLOCKED  # any other 4xx: the client did not get its page

    async def _follow(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        r = await self._send(method, path, headers, body)
        self._keep_cookies(r)
        for _ in range(MAX_REDIRECTS):
            if r.status not in (301, 302, 303, 307, 308) or not r.header("location"):
                break
            loc = urlsplit(r.header("location"))
            if loc.netloc and loc.netloc != HOST:
                break  # off-site: not ours to fetch
            path = (loc.path or "/") + (f"?{loc.query}" if loc.query else "")
            keep = r.status in (307, 308)
            method, body = (method, body) if keep else ("GET", b"")
            headers = [
                h for h in headers if keep or h[0].lower() not in ("content-type", "content-length")
            ]
            r = await self._send(method, path, headers, body)
            self._keep_cookies(r)
        return r

    async def _solve(self, r: Response, headers: list[tuple[str, str]], tally: _Tally) -> Response:
        """What the page's script does: find the nonce, present it, follow back with the pass."""
        found = parse_challenge(r.body)
        if found is None:
            return r
        tally.challenged = True
        seed, bits, to = found
        nonce = solve(seed, bits)  # real work, checked by the edge
        query = f"seed={quote(seed)}&nonce={nonce}&to={quote(to)}"
        return await self._follow("GET", f"{PASS_PATH}?{query}", headers, b"")

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def close(self) -> None:
        self._drop()


def browser_headers(ua: str) -> list[tuple[str, str]]:
    """A browser's header order: Host first, then its usual navigation headers."""
    return [
        ("Host", HOST),
        ("Connection", "keep-alive"),
        ("User-Agent", ua),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("Accept-Language", "en-US,en;q=0.9"),
    ]


def form(fields: dict[str, str]) -> tuple[list[tuple[str, str]], bytes]:
    body = "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode()
    return [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", str(len(body))),
    ], body


@dataclass(frozen=True, slots=True)
class Site:
    """What clients know of the platform: its users and their passwords (for sign-in)."""

    users: tuple[str, ...]
    passwords: dict[str, str]
    famous: str
    famous_posts: tuple[int, ...]


async def think(rng: random.Random, low: float, high: float, until: float) -> bool:
    """Sleeps a human pause; False when the scenario ends first."""
    pause = rng.uniform(low, high)
    remaining = until - time.time()
    await asyncio.sleep(max(0.0, min(pause, remaining)))
    return time.time() < until


async def browse(c: Client, site: Site, until: float, signs_in: bool) -> None:
    """A human session: home, some profiles and posts, sometimes signing in first."""
    ua = CHROME_UA if c.rng.random() < 0.7 else FIREFOX_UA
    headers = browser_headers(ua)
    if signs_in and until > time.time():
        name = c.rng.choice(site.users[1:])
        extra, body = form({"user": name, "password": site.passwords[name]})
        await c.fetch("POST", "/login", headers + extra, body)
    while time.time() < until:
        roll = c.rng.random()
        if roll < 0.25:
            path = "/"
        elif roll < 0.85:
            path = f"/users/{c.rng.choice(site.users)}"
        else:
            path = f"/search?q={c.rng.choice(('storm', 'news', 'city', 'music'))}"
        await c.fetch("GET", path, headers)
        if not await think(c.rng, 1.0, 4.0, until):
            break


async def visit_famous(c: Client, site: Site, until: float) -> None:
    """A flash-crowd visitor: the linked profile, then maybe a post or two."""
    headers = browser_headers(CHROME_UA if c.rng.random() < 0.75 else FIREFOX_UA)
    await c.fetch("GET", f"/users/{site.famous}", headers)
    for _ in range(c.rng.choice((0, 1, 1, 2))):
        if not await think(c.rng, 2.0, 6.0, until):
            return
        await c.fetch(
            "GET", f"/users/{site.famous}/posts/{c.rng.choice(site.famous_posts)}", headers
        )


async def api_app(c: Client, token: str, interval_s: float, until: float) -> None:
    """A third-party app polling the timeline and now and then posting."""
    base = [
        ("Host", HOST),
        ("User-Agent", f"lab-app/2.1 ({c.address})"),
        ("Accept", "application/json"),
        ("Authorization", f"Bearer {token}"),
    ]
    n = 0
    while time.time() < until:
        n += 1
        if n % 10 == 0:
            body = json.dumps({"text": f"scheduled post {n} from {c.address}"}).encode()
            extra = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            await c.fetch("POST", "/api/v1/posts", base + extra, body)
        else:
            await c.fetch("GET", "/api/v1/timeline", base)
        if not await think(c.rng, interval_s * 0.8, interval_s * 1.2, until):
            break


async def sms_gateway(c: Client, secret: str, rate: float, until: float) -> None:
    """The SMS gateway: one address posting inbound messages at a steady rate."""
    base = [("Host", HOST), ("User-Agent", "sms-gateway/5.0"), ("X-Gateway-Secret", secret)]
    interval, n = 1.0 / rate, 0
    pending: set[asyncio.Task[None]] = set()
    clients = [c] + [
        Client(c.target, c.address, c.klass, c.policy, c.reporter, random.Random(c.rng.random()))
        for _ in range(7)
    ]
    next_at = time.time()
    while next_at < until:
        await asyncio.sleep(max(0.0, next_at - time.time()))
        n += 1
        extra, body = form({"from": f"+99555{n % 100000:05d}", "body": f"update {n}"})
        sender = clients[n % len(clients)]  # a small pool of connections, like a real gateway
        task = asyncio.create_task(
            sender.fetch("POST", "/sms/inbound", base + extra, body), name=f"sms-{n}"
        )
        pending.add(task)
        task.add_done_callback(pending.discard)
        next_at += interval
    if pending:
        await asyncio.wait(pending, timeout=GATEWAY.timeout_s * 2)
    for cl in clients:
        cl.close()


def poisson_starts(
    rng: random.Random, rate: Callable[[float], float], start: float, end: float, cap: int
) -> list[float]:
    """Arrival offsets in [start, end) of a Poisson process with time-varying `rate` (≤ cap)."""
    out: list[float] = []
    t, peak = start, max(rate(start + (end - start) * i / 50) for i in range(51))
    if peak <= 0:
        return out
    while len(out) < cap:
        t += rng.expovariate(peak)
        if t >= end:
            break
        if rng.random() * peak <= rate(t):  # thinning
            out.append(t)
    return out


def ramp(
    low: float, high: float, start: float, end: float, rise: float
) -> Callable[[float], float]:
    """A rate that rises from `low` to `high` over the first `rise` share of [start, end)."""
    span = max(1e-9, (end - start) * rise)

    def rate(t: float) -> float:
        return low + (high - low) * min(1.0, max(0.0, (t - start) / span))

    return rate


def spread(items: Sequence[str], parts: int, index: int) -> list[str]:
    """The `index`-th of `parts` interleaved slices of `items`."""
    return list(items[index::parts])


def clamp_rate(value: float) -> float:
    return value if math.isfinite(value) and value > 0 else 0.0
