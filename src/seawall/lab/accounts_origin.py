"""The microblog's account pages: sign-in with step-up, password reset, account lookup.

Each answer carries `X-Auth-Result` (ok, failed, mfa_failed, found, not_found): what the
app knows of how the attempt ended, for the edge in front to read and strip. A sign-in
that carries `Seawall-Step-Up` (only the edge sets it, and it strips clients' copies)
needs the account's one-time code as well as its password: without the right one the
answer is 401 with `X-MFA-Required: 1`. The reset answer is uniform whatever the address;
the lookup is not: it says whether an email or phone is registered, the flaw that let
5.4 million accounts be matched to their details on a large platform in 2022.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, TypeVar

from aiohttp import web

from seawall.core.classes import sign_session
from seawall.lab import origin_data as data
from seawall.lab.accounts_data import is_registered, otp_for

T = TypeVar("T")
SESSION_COOKIE, SESSION_TTL = "session", 3600
RESET_BODY = "If that address has an account, a reset link is on its way.\n"
RESULT_HEADER = "X-Auth-Result"
STEP_UP_HEADER = "Seawall-Step-Up"
MFA_HEADER = "X-MFA-Required"


class RunsQueries(Protocol):
    """The origin's way to run a query on its worker pool, with the route's cost."""

    def __call__(self, route: str, fn: Callable[..., T], /, *args: object) -> Awaitable[T]: ...


def form_field(form: Mapping[str, object], name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _page(text: str, status: int, result: str, **headers: str) -> web.Response:
    page = f"<!doctype html><meta charset=utf-8><title>sign in</title><p>{text}</p>\n"
    resp = web.Response(text=page, status=status, content_type="text/html")
    resp.headers[RESULT_HEADER] = result
    resp.headers.update(headers)
    return resp


class AccountPages:
    """The handlers; `db` runs queries, `seed` is the dataset's (passwords and codes)."""

    def __init__(self, db: RunsQueries, session_secret: str, seed: int) -> None:
        self._db, self._secret, self._seed = db, session_secret.encode(), seed

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        user, password = form_field(form, "user", 64), form_field(form, "password", 256)
        ok = bool(user and password) and await self._db("login", data.check_login, user, password)
        if STEP_UP_HEADER in request.headers and (
            not ok or form_field(form, "otp", 16) != otp_for(user, self._seed)
        ):
            # stepped up: the same answer whether the password was right, so a guesser never
            # learns it was; only the (stripped) result header tells the edge
            result = "mfa_failed" if ok else "failed"
            return _page("enter the code from your app", 401, result, **{MFA_HEADER: "1"})
        if not ok:
            return _page("wrong user or password", 401, "failed")
        resp = web.Response(status=303, headers={"Location": "/", RESULT_HEADER: "ok"})
        cookie = sign_session(user, int(time.time()) + SESSION_TTL, self._secret)
        resp.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_TTL, httponly=True, samesite="Lax")
        return resp

    async def reset(self, request: web.Request) -> web.Response:
        email = form_field(await request.post(), "email", 254)
        found = await self._db("reset", data.request_reset, email)
        resp = web.Response(status=202, text=RESET_BODY)
        resp.headers[RESULT_HEADER] = "found" if found else "not_found"
        return resp

    async def lookup(self, request: web.Request) -> web.Response:
        identifier = form_field(await request.post(), "identifier", 254)
        found = await self._db("lookup", is_registered, identifier)
        resp = web.json_response({"registered": found})
        resp.headers[RESULT_HEADER] = "found" if found else "not_found"
        return resp


def add_account_routes(router: web.UrlDispatcher, pages: AccountPages) -> None:
    router.add_post("/login", pages.login, name="login")
    router.add_post("/password/reset", pages.reset, name="reset")
    router.add_post("/account/lookup", pages.lookup, name="lookup")
