"""The microblog's account pages over loopback: result headers, step-up with a code, lookup."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from seawall.lab.accounts_data import identities, otp_for
from seawall.lab.accounts_origin import (
    MFA_HEADER,
    RESET_BODY,
    RESULT_HEADER,
    SESSION_COOKIE,
    STEP_UP_HEADER,
)
from seawall.lab.origin import RunningOrigin, start_origin
from seawall.lab.origin_data import NO_COSTS, password_for

TIMEOUT = aiohttp.ClientTimeout(total=10)
STEP_UP = {STEP_UP_HEADER: "mfa"}
SMALL: dict[str, Any] = {"users": 30, "posts_per_user": 2, "quiet_users": 10}


def with_origin(body: Any) -> None:
    async def main() -> None:
        origin = await start_origin(costs=NO_COSTS, **SMALL)
        try:
            async with aiohttp.ClientSession(origin.base_url, timeout=TIMEOUT) as session:
                await asyncio.wait_for(body(origin, session), 15)
        finally:
            await origin.close()

    asyncio.run(main())


async def post(
    s: aiohttp.ClientSession, path: str, form: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    async with s.post(path, data=form, headers=headers or {}, allow_redirects=False) as r:
        return r.status, await r.text(), dict(r.headers)


def creds(name: str, **extra: str) -> dict[str, str]:
    return {"user": name, "password": password_for(name, 7), **extra}


def test_sign_in_says_how_it_ended() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        status, _, headers = await post(s, "/login", creds("cyxymu"))
        assert status == 303 and headers[RESULT_HEADER] == "ok"
        assert headers["Set-Cookie"].startswith(f"{SESSION_COOKIE}=cyxymu.")
        for bad in ({**creds("cyxymu"), "password": "wrong"}, {"user": "nobody"}, {}):
            status, _, headers = await post(s, "/login", bad)
            assert status == 401 and headers[RESULT_HEADER] == "failed"
            assert "Set-Cookie" not in headers and MFA_HEADER not in headers
        # a quiet account signs in like any other
        quiet = identities(7, 30, 10)[-1].name
        assert (await post(s, "/login", creds(quiet)))[0] == 303

    with_origin(body)


def test_a_stepped_up_sign_in_needs_the_code_too() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        name = o.dataset.users[3].name
        status, _, headers = await post(s, "/login", creds(name), STEP_UP)
        assert status == 401 and headers[MFA_HEADER] == "1"
        assert headers[RESULT_HEADER] == "mfa_failed" and "Set-Cookie" not in headers
        status, _, headers = await post(s, "/login", creds(name, otp="000000"), STEP_UP)
        assert (status, headers[RESULT_HEADER], headers[MFA_HEADER]) == (401, "mfa_failed", "1")
        status, _, headers = await post(s, "/login", creds(name, otp=otp_for(name, 7)), STEP_UP)
        assert status == 303 and headers[RESULT_HEADER] == "ok"
        assert headers["Set-Cookie"].startswith(f"{SESSION_COOKIE}={name}.")
        # a wrong password gets the very same answer, so a guesser never learns which
        # password was right; only the result header (the edge strips it) tells them apart
        right = await post(s, "/login", creds(name), STEP_UP)
        for attempt in (creds(name, otp=otp_for(name, 7)), creds(name)):
            status, text, headers = await post(
                s, "/login", {**attempt, "password": "guess"}, STEP_UP
            )
            assert (status, text, headers[MFA_HEADER]) == (401, right[1], "1")
            assert headers[RESULT_HEADER] == "failed"
        # without the step-up header the code is not needed, and ignored
        assert (await post(s, "/login", creds(name, otp="123")))[0] == 303

    with_origin(body)


def test_reset_is_uniform_to_the_client_but_tells_the_edge() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        known = await post(s, "/password/reset", {"email": "cyxymu@mail.example"})
        unknown = await post(s, "/password/reset", {"email": "nobody@mail.example"})
        for status, text, _ in (known, unknown):
            assert (status, text) == (202, RESET_BODY)
        assert known[2][RESULT_HEADER] == "found" and unknown[2][RESULT_HEADER] == "not_found"

    with_origin(body)


def test_lookup_says_whether_an_email_or_phone_is_registered() -> None:
    async def body(o: RunningOrigin, s: aiohttp.ClientSession) -> None:
        quiet = identities(7, 30, 10)[-1]
        for identifier, registered in (
            (quiet.email, True),
            (quiet.phone, True),
            ("nobody@mail.example", False),
            ("+15559999999", False),
            ("", False),
        ):
            async with s.post("/account/lookup", data={"identifier": identifier}) as r:
                assert r.status == 200
                assert await r.json() == {"registered": registered}
                assert r.headers[RESULT_HEADER] == ("found" if registered else "not_found")
        assert o.stats.served["lookup"] == 5

    with_origin(body)
