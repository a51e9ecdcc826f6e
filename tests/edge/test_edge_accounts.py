"""Account protection at the edge, end to end on loopback: a real aiohttp app behind a real edge.

The app has a sign-in form that says how it went in `X-Auth-Result` and redirects home on
success, a password reset form, a JSON recovery lookup answered chunked, and a contact
page and a cacheable card per user. The edge watches all five; tests read the auth events
it queues, what the app was sent, and what the client got. Known bugs are strict xfails.

Over 400 lines on purpose: every scenario needs the same app, edge and helpers, and
splitting them would only spread one story over several files.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import pytest
from aiohttp import web

from seawall.config.accounts import AuthRoute
from seawall.config.load import validate
from seawall.core.auth import AuthEvent, EventKind, Hasher, Result
from seawall.core.challenge import PASS_COOKIE, pass_cookie
from seawall.core.errors import ConfigError
from seawall.core.net import parse_address, prefix_of
from seawall.core.rules import Match, Rule, RulesetDelta
from seawall.core.verdict import Action
from seawall.edge.exchange import BODY_BUFFER

from harness import Answer, Edge, connect, read_response, timed_exchange, wait_until

SECRET = "edge-accounts-test-secret"
HASH = Hasher(SECRET)
FORM = "application/x-www-form-urlencoded"
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
USERS = {"alice@example.org": "right", "bob@example.org": "right", "carol@example.org": "right"}
UNIFORM = "If that address has an account, we have sent a link.\n"
DEFAULT_UNIFORM = str(AuthRoute.model_fields["uniform_body"].default).encode()
MAX_WATCHED = 256  # accounts.max_body_bytes, at its least


@dataclass
class Got:
    """One request as the app received it."""

    method: str
    path: str
    headers: list[tuple[str, str]]  # lower-case names, every copy kept
    body: bytes

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


class AuthApp:
    """An aiohttp app on 127.0.0.1 in a thread of its own."""

    def __init__(self) -> None:
        self.seen: list[Got] = []
        self.port = 0
        self.lock = threading.Lock()

    def __enter__(self) -> AuthApp:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10), "the app did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/login", self.login)
        app.router.add_post("/reset", self.reset)
        app.router.add_post("/lookup", self.lookup)
        app.router.add_get("/users/{name}/contact", self.contact)
        app.router.add_get("/users/{name}/card", self.card)
        app.router.add_get("/feed", self.feed)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]

    async def _got(self, request: web.Request) -> dict[str, Any]:
        body = await request.read()
        headers = [(k.lower(), v) for k, v in request.headers.items()]
        with self.lock:
            self.seen.append(Got(request.method, request.path, headers, body))
        if request.content_type == "application/json":
            loaded = json.loads(body)
            return loaded if isinstance(loaded, dict) else {}
        return dict(parse_qsl(body.decode()))

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await self._got(request)
        user = str(form.get("username") or form.get("user", {}).get("name", "")).lower()
        password = form.get("password", "")
        if USERS.get(user) == password:
            raise web.HTTPFound("/home", headers={"X-Auth-Result": "ok"})
        said = "mfa_failed" if password == "otp-wrong" else "failed"
        return web.Response(status=401, text="wrong\n", headers={"X-Auth-Result": said})

    async def reset(self, request: web.Request) -> web.StreamResponse:
        email = str((await self._got(request)).get("email", "")).lower()
        if email in USERS:
            return web.Response(text=f"We sent a link to {email[0]}***.\n")
        return web.Response(status=404, text="No account has that address.\n")

    async def lookup(self, request: web.Request) -> web.StreamResponse:
        given = await self._got(request)
        email = str(given.get("who", {}).get("email", "")).lower()
        found = email in USERS
        resp = web.StreamResponse(status=200 if found else 404)
        resp.content_type = "application/json"
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b'{"found": ')
        await asyncio.sleep(0.05)  # the rest of the answer comes later than its head
        await resp.write(b'true, "masked": "c***@example.org"}' if found else b"false}")
        await resp.write_eof()
        return resp

    async def contact(self, request: web.Request) -> web.StreamResponse:
        await self._got(request)
        return web.json_response({"phone": "+1 555 0100"})

    async def card(self, request: web.Request) -> web.StreamResponse:
        await self._got(request)
        headers = {"Cache-Control": "public, max-age=30", "X-Auth-Result": "found"}
        return web.json_response({"name": request.match_info["name"]}, headers=headers)

    async def feed(self, request: web.Request) -> web.StreamResponse:
        await self._got(request)
        return web.Response(text="feed\n")

    def requests(self, path: str) -> list[Got]:
        with self.lock:
            return [g for g in self.seen if g.path == path]


@pytest.fixture(scope="module")
def app() -> Iterator[AuthApp]:
    with AuthApp() as a:
        yield a


WATCHED = [
    {
        "route": "login",
        "kind": "login",
        "account_field": "username",
        "result_header": "X-Auth-Result",
        "success_location": "/home",
    },
    {"route": "reset", "kind": "password_reset", "account_field": "email"},
    {
        "route": "lookup",
        "kind": "recovery_lookup",
        "account_field": "who.email",
        "uniform_status": 202,
        "uniform_body": UNIFORM,
    },
    {"route": "contact", "kind": "pii_view", "method": "GET", "account_from": "target"},
    {
        "route": "card",
        "kind": "pii_view",
        "method": "GET",
        "account_from": "target",
        "result_header": "X-Auth-Result",
    },
]


def edge_config(step_up: str = "header") -> dict[str, Any]:
    return {
        "routes": [
            {"name": "login", "pattern": "/login"},
            {"name": "reset", "pattern": "/reset"},
            {"name": "lookup", "pattern": "/lookup"},
            {"name": "contact", "pattern": "/users/{name}/contact", "target": "/users/{name}"},
            {"name": "card", "pattern": "/users/{name}/card", "target": "/users/{name}"},
            {"name": "feed", "pattern": "/feed"},
        ],
        "accounts": {
            "enabled": True,
            "secret": SECRET,
            "step_up": step_up,
            "max_body_bytes": MAX_WATCHED,
            "routes": WATCHED,
        },
        "cache": {"enabled": False},
    }


@pytest.fixture
def edge(app: AuthApp) -> Iterator[Edge]:
    with Edge(config=edge_config(), origin_url=f"http://127.0.0.1:{app.port}") as e:
        yield e


# ---- helpers ------------------------------------------------------------------------------


def post(
    path: str, body: bytes, ctype: str = FORM, headers: tuple[tuple[str, str], ...] = ()
) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: site.example", f"User-Agent: {UA}"]
    lines += [f"Content-Type: {ctype}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def login(user: str, password: str = "right", *headers: tuple[str, str]) -> bytes:
    return post("/login", f"username={user}&password={password}".encode(), FORM, headers)


def send(e: Edge, raw: bytes) -> Answer:
    method = raw.split(b" ", 1)[0].decode()
    return timed_exchange(e.port, raw, method)


def rules(e: Edge, *add: Rule) -> None:
    e.call(lambda: e.worker.apply(RulesetDelta(add=add)))


def events(e: Edge, n: int, timeout: float = 3.0) -> list[AuthEvent]:
    """The next `n` auth events the edge queued (waiting a little for slow finishes)."""
    got: list[AuthEvent] = []

    def more() -> bool:
        auth = e.worker.ctx.auth
        assert auth is not None
        got.extend(e.call(auth.drain))
        return len(got) >= n

    wait_until(more, timeout=timeout)
    time.sleep(0.02)
    more()  # nothing beyond what was expected
    assert len(got) == n, got
    return got


def clear(ev: AuthEvent) -> str:
    return json.dumps(msgspec.to_builtins(ev)).lower()


def step_up(*identifiers: str) -> Rule:
    accounts = frozenset(HASH(i) for i in identifiers)
    return Rule("su", Action.ALLOW, Match(accounts=accounts), mark="step-up")


# ---- events -------------------------------------------------------------------------------


def test_sign_ins_become_events_with_hashed_accounts(edge: Edge, app: AuthApp) -> None:
    before = len(app.requests("/login"))
    bad = send(edge, login("Alice%40Example.org", "wrong"))
    good = send(edge, login("alice%40example.org"))
    mfa = send(edge, login("alice%40example.org", "otp-wrong"))
    assert (bad.status, good.status, mfa.status) == (401, 302, 401)
    assert good.header("location") == "/home"
    failed, succeeded, second = events(edge, 3)
    alice = HASH("alice@example.org")
    assert (failed.kind, failed.result, failed.account) == (
        EventKind.LOGIN_FAILED,
        Result.FAILED,
        alice,
    )
    assert (succeeded.kind, succeeded.result, succeeded.account) == (
        EventKind.LOGIN_SUCCEEDED,
        Result.OK,
        alice,
    )
    assert (second.kind, second.result) == (EventKind.MFA_FAILED, Result.FAILED)
    for ev in (failed, succeeded, second):
        assert "alice" not in clear(ev) and "example.org" not in clear(ev)
        assert ev.source == "127.0.0.1" and ev.origin == "edge"
        assert ev.user_agent == UA and ev.fingerprint
    # the body read for the account still reached the app whole
    sent = app.requests("/login")[before:]
    assert [g.body for g in sent] == [
        b"username=Alice%40Example.org&password=wrong",
        b"username=alice%40example.org&password=right",
        b"username=alice%40example.org&password=otp-wrong",
    ]


def test_the_result_header_never_reaches_the_client(edge: Edge) -> None:
    for raw in (login("bob%40example.org", "wrong"), login("bob%40example.org")):
        answer = send(edge, raw)
        assert answer.header("x-auth-result") is None
        assert answer.status in (302, 401)
    assert len(events(edge, 2)) == 2


def test_unwatched_requests_make_no_events(edge: Edge, app: AuthApp) -> None:
    assert send(edge, b"GET /feed HTTP/1.1\r\nHost: h\r\n\r\n").status == 200
    # the watched route, but another method: the app answers 405, no event
    assert send(edge, b"GET /login HTTP/1.1\r\nHost: h\r\n\r\n").status == 405
    assert events(edge, 0) == []


def test_a_contact_page_names_its_account_in_the_target(edge: Edge) -> None:
    raw = f"GET /users/Carol/contact HTTP/1.1\r\nHost: h\r\nUser-Agent: {UA}\r\n\r\n".encode()
    assert send(edge, raw).status == 200
    (ev,) = events(edge, 1)
    assert (ev.kind, ev.result, ev.account) == (EventKind.PII_VIEWED, Result.OK, HASH("carol"))


# ---- step-up ------------------------------------------------------------------------------


def test_a_client_step_up_header_never_reaches_the_app(edge: Edge, app: AuthApp) -> None:
    forged = (("Seawall-Step-Up", "none"), ("seawall-step-up", "mfa"))
    send(edge, login("bob%40example.org", "right", *forged))
    feed = b"GET /feed HTTP/1.1\r\nHost: h\r\nSEAWALL-STEP-UP: none\r\n\r\n"
    assert send(edge, feed).status == 200
    assert app.requests("/login")[-1].values("seawall-step-up") == []
    assert app.requests("/feed")[-1].values("seawall-step-up") == []


def test_a_step_up_mark_asks_the_app_for_mfa_for_that_account_only(
    edge: Edge, app: AuthApp
) -> None:
    rules(edge, step_up("alice@example.org"))
    forged = ("Seawall-Step-Up", "none")
    for raw in (
        login("ALICE%40example.org", "right", forged),
        login("bob%40example.org", "right", forged),
        login("bob%40example.org", "right"),
    ):
        assert send(edge, raw).status == 302  # a mark never refuses
    alice, bob, bob_again = app.requests("/login")[-3:]
    assert alice.values("seawall-step-up") == ["mfa"]  # ours, not the client's
    assert bob.values("seawall-step-up") == []
    assert bob_again.values("seawall-step-up") == []
    assert [ev.account for ev in events(edge, 3)] == [
        HASH("alice@example.org"),
        HASH("bob@example.org"),
        HASH("bob@example.org"),
    ]


def test_the_step_up_header_can_be_renamed(app: AuthApp) -> None:
    cfg = edge_config()
    cfg["accounts"]["step_up_header"] = "X-Need-MFA"
    with Edge(config=cfg, origin_url=f"http://127.0.0.1:{app.port}") as e:
        rules(e, step_up("alice@example.org"))
        send(e, login("alice%40example.org", "right", ("X-Need-MFA", "no")))
        got = app.requests("/login")[-1]
        assert got.values("x-need-mfa") == ["mfa"]
        assert got.values("seawall-step-up") == []


def test_a_challenge_on_the_account_refuses_its_sign_ins(app: AuthApp) -> None:
    with Edge(config=edge_config("challenge"), origin_url=f"http://127.0.0.1:{app.port}") as e:
        target = frozenset({HASH("alice@example.org")})
        rules(e, Rule("ch", Action.CHALLENGE, Match(accounts=target, routes=frozenset({"login"}))))
        before = len(app.requests("/login"))
        refused = send(e, login("alice%40example.org"))
        # a POST cannot run the puzzle page: the challenge answers 429, to be solved elsewhere
        assert refused.status == 429 and b"verify in a browser" in refused.body
        assert refused.header("retry-after") is not None
        assert send(e, login("bob%40example.org")).status == 302
        assert [g.body.split(b"&")[0] for g in app.requests("/login")[before:]] == [
            b"username=bob%40example.org"
        ]
        (ev,) = events(e, 1)  # only the request that reached the app is an event
        assert ev.account == HASH("bob@example.org")
        # a browser that solved a challenge already (it holds a pass) signs in
        desk = e.worker.ctx.desk
        wall = e.worker.ctx.clock.wall()
        peer = parse_address("127.0.0.1")
        assert peer is not None
        cookie = pass_cookie(desk.keys, prefix_of(peer), UA, 12, wall, 300)
        passed = send(
            e, login("alice%40example.org", "right", ("Cookie", f"{PASS_COOKIE}={cookie}"))
        )
        assert passed.status == 302


def test_a_browsers_stepped_up_sign_in_form_gets_the_puzzle_page_back_to_the_form(
    app: AuthApp,
) -> None:
    """Never a lockout: the owner's browser gets a page it can solve, then the form again."""
    with Edge(config=edge_config("challenge"), origin_url=f"http://127.0.0.1:{app.port}") as e:
        target = frozenset({HASH("alice@example.org")})
        rules(e, Rule("ch", Action.CHALLENGE, Match(accounts=target, routes=frozenset({"login"}))))
        page = send(e, login("alice%40example.org", "right", ("Accept", "text/html")))
        assert page.status == 403
        assert b"<html" in page.body.lower() and b"/login" in page.body
        # elsewhere a POST still cannot run the puzzle: only watched sign-in forms get it
        other = post("/other", b"a=1", FORM, (("Accept", "text/html"),))
        rules(e, Rule("ch2", Action.CHALLENGE, Match(paths=("/other",))))
        assert send(e, other).status == 429


# ---- uniform answers ----------------------------------------------------------------------


def uniform_rule() -> Rule:
    routes = frozenset({"reset", "lookup", "login"})
    return Rule("uni", Action.ALLOW, Match(routes=routes), mark="uniform")


def lookup(email: str) -> bytes:
    return post("/lookup", json.dumps({"who": {"email": email}}).encode(), "application/json")


def test_a_json_lookup_names_its_account_by_a_dotted_key(edge: Edge) -> None:
    known = send(edge, lookup("Carol@Example.org"))
    unknown = send(edge, lookup("nobody@example.org"))
    assert (known.status, unknown.status) == (200, 404)  # no mark: the app's own answers
    assert json.loads(known.body)["found"] is True
    k, u = events(edge, 2)
    assert (k.kind, k.result, k.account) == (
        EventKind.RECOVERY_LOOKUP,
        Result.FOUND,
        HASH("carol@example.org"),
    )
    assert (u.result, u.account) == (Result.NOT_FOUND, HASH("nobody@example.org"))


def test_a_uniform_mark_answers_recovery_alike_while_the_app_still_answers(
    edge: Edge, app: AuthApp
) -> None:
    rules(edge, uniform_rule())
    answers, said, shown = [], [], []
    for email in ("carol@example.org", "nobody@example.org"):
        with connect(edge.port) as s:  # held open until the app's answer is read to its end
            s.sendall(lookup(email))
            resp, body = read_response(s, "POST")
            answers.append((resp.status_code, body))
            said += events(edge, 1)
        shown.append({k.lower(): v for k, v in resp.headers if k.lower() != b"x-request-id"})
    assert answers == [(202, UNIFORM.encode())] * 2
    assert shown[0] == shown[1]  # nothing in the heads tells a known address either
    assert shown[0][b"content-type"] == b"text/plain; charset=utf-8"
    assert b"transfer-encoding" not in shown[0]
    assert [json.loads(g.body)["who"]["email"] for g in app.requests("/lookup")[-2:]] == [
        "carol@example.org",
        "nobody@example.org",
    ]
    # the events still say what the app said
    assert [(ev.kind, ev.result) for ev in said] == [
        (EventKind.RECOVERY_LOOKUP, Result.FOUND),
        (EventKind.RECOVERY_LOOKUP, Result.NOT_FOUND),
    ]


def test_a_uniform_answer_keeps_its_event_when_the_client_leaves_at_once(edge: Edge) -> None:
    rules(edge, uniform_rule())
    assert send(edge, lookup("carol@example.org")).status == 202  # and the client hangs up
    (ev,) = events(edge, 1, timeout=0.5)  # the app's whole answer takes 0.05 s
    assert ev.result is Result.FOUND


def test_a_uniform_mark_leaves_sign_ins_alone(edge: Edge) -> None:
    rules(edge, uniform_rule())
    answer = send(edge, login("bob%40example.org", "wrong"))
    assert (answer.status, answer.body) == (401, b"wrong\n")


def test_keep_alive_goes_on_after_a_uniform_answer(edge: Edge, app: AuthApp) -> None:
    rules(edge, uniform_rule())
    before = len(app.seen)
    with connect(edge.port) as s:
        reset = post("/reset", b"email=nobody%40example.org")
        for raw, said in [
            (reset, (200, DEFAULT_UNIFORM)),
            (lookup("carol@example.org"), (202, UNIFORM.encode())),
        ]:
            s.sendall(raw)
            resp, body = read_response(s, "POST")
            assert (resp.status_code, body) == said
        s.sendall(b"GET /feed HTTP/1.1\r\nHost: h\r\n\r\n")
        resp, body = read_response(s, "GET")
        assert (resp.status_code, body) == (200, b"feed\n")
    assert [g.path for g in app.seen[before:]] == ["/reset", "/lookup", "/feed"]


# ---- bodies -------------------------------------------------------------------------------


def test_a_body_over_the_watch_limit_is_forwarded_without_an_account(
    edge: Edge, app: AuthApp
) -> None:
    rules(edge, step_up("alice@example.org"))
    body = b"username=alice%40example.org&password=right&pad=" + b"x" * MAX_WATCHED
    assert send(edge, post("/login", body)).status == 302
    got = app.requests("/login")[-1]
    assert got.body == body
    assert got.values("seawall-step-up") == []  # no account: no mark on it
    (ev,) = events(edge, 1)
    assert (ev.kind, ev.account) == (EventKind.LOGIN_SUCCEEDED, "")


def test_a_body_at_the_watch_limit_is_read(edge: Edge, app: AuthApp) -> None:
    head = b"username=alice%40example.org&password=right&pad="
    body = head + b"x" * (MAX_WATCHED - len(head))
    assert len(body) == MAX_WATCHED
    assert send(edge, post("/login", body)).status == 302
    (ev,) = events(edge, 1)
    assert ev.account == HASH("alice@example.org")


def chunked_login(parts: list[bytes]) -> tuple[bytes, list[bytes]]:
    head = (
        "POST /login HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
        f"User-Agent: {UA}\r\nContent-Type: {FORM}\r\n\r\n"
    ).encode()
    chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in parts]
    return head, [*chunks, b"0\r\n\r\n"]


def test_a_chunked_body_names_its_account_when_it_ends(edge: Edge, app: AuthApp) -> None:
    rules(edge, step_up("alice@example.org"))
    head, chunks = chunked_login([b"usern", b"ame=alice%40exa", b"mple.org&password=right"])
    with connect(edge.port) as s:
        s.sendall(head)
        for c in chunks:  # written apart, so the edge sees the body arrive in pieces
            time.sleep(0.02)
            s.sendall(c)
        resp, _ = read_response(s, "POST")
    assert resp.status_code == 302
    got = app.requests("/login")[-1]
    assert got.body == b"username=alice%40example.org&password=right"
    assert got.values("seawall-step-up") == ["mfa"]
    (ev,) = events(edge, 1)
    assert (ev.kind, ev.account) == (EventKind.LOGIN_SUCCEEDED, HASH("alice@example.org"))


def test_a_chunked_body_over_the_limit_goes_on_without_an_account(edge: Edge, app: AuthApp) -> None:
    parts = [b"username=alice%40example.org&password=right&pad=", b"y" * 200, b"z" * 200]
    head, chunks = chunked_login(parts)
    with connect(edge.port) as s:
        s.sendall(head + b"".join(chunks))
        resp, _ = read_response(s, "POST")
    assert resp.status_code == 302
    assert app.requests("/login")[-1].body == b"".join(parts)
    (ev,) = events(edge, 1)
    assert ev.account == ""


def test_pipelined_sign_ins_each_name_their_own_account(edge: Edge, app: AuthApp) -> None:
    rules(edge, step_up("alice@example.org"))
    with connect(edge.port) as s:
        s.sendall(login("bob%40example.org") + login("alice%40example.org"))
        assert read_response(s, "POST")[0].status_code == 302
        assert read_response(s, "POST")[0].status_code == 302
    bob, alice = app.requests("/login")[-2:]
    assert bob.values("seawall-step-up") == []
    assert alice.values("seawall-step-up") == ["mfa"]
    assert [ev.account for ev in events(edge, 2)] == [
        HASH("bob@example.org"),
        HASH("alice@example.org"),
    ]


def test_a_client_that_expects_100_continue_is_told_to_go_on(edge: Edge) -> None:
    body = b"username=bob%40example.org&password=right"
    head = post("/login", b"", FORM, (("Expect", "100-continue"),)).replace(
        b"Content-Length: 0", b"Content-Length: %d" % len(body)
    )
    with connect(edge.port) as s:
        s.sendall(head)
        s.settimeout(0.5)
        try:
            interim = s.recv(64)
        except TimeoutError:
            interim = b""
        s.sendall(body)  # late, as a client that gave up waiting would
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")


def test_a_watch_limit_above_the_body_buffer_is_refused_by_the_config() -> None:
    cfg = edge_config()
    cfg["accounts"]["max_body_bytes"] = 2 * BODY_BUFFER
    with pytest.raises(ConfigError, match=r"accounts\.max_body_bytes"):
        validate(cfg)


def cached_edge(app: AuthApp) -> Edge:
    cfg = {**edge_config(), "cache": {"enabled": True}}
    return Edge(config=cfg, origin_url=f"http://127.0.0.1:{app.port}")


def card(name: str) -> bytes:
    return f"GET /users/{name}/card HTTP/1.1\r\nHost: h\r\nUser-Agent: {UA}\r\n\r\n".encode()


def test_a_watched_page_is_never_cached_nor_shows_the_result_header(app: AuthApp) -> None:
    with cached_edge(app) as e:
        answers = [send(e, card("dave")) for _ in range(2)]
        assert answers[1].header("x-cache") != "HIT"  # watched: every view reaches the app
        assert [a.header("x-auth-result") for a in answers] == [None, None]


def test_every_view_of_a_watched_page_is_an_event_even_from_the_cache(app: AuthApp) -> None:
    with cached_edge(app) as e:
        for _ in range(3):
            assert send(e, card("erin")).status == 200
        assert [ev.account for ev in events(e, 3, timeout=0.3)] == [HASH("erin")] * 3
