"""The challenge page: escaping, the machine-readable puzzle, and a real browser solving it.

The browser tests run headless Chromium against a tiny HTTP server on loopback that guards
one page with the challenge, exactly as the edge does: page, solution, pass cookie, page.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from seawall.core.challenge import (
    PASS_COOKIE,
    PASS_PATH,
    ChallengeError,
    ChallengeKeys,
    Puzzle,
    check_pass,
    check_solution,
    issue,
    pass_cookie,
    solve,
)
from seawall.edge.challenge import (
    CHALLENGE_HEADERS,
    CORE_JS,
    challenge_page,
    parse_challenge,
    pass_set_cookie,
    safe_return_path,
)

from browser import chromium
from harness import wait_until

KEYS = ChallengeKeys(b"test-secret-0123456789")
T0 = 1_700_000_000.0
HOSTILE = '/x"><script>alert(1)</script>'


def a_puzzle(bits: int = 12) -> Puzzle:
    return issue(KEYS, "127.0.0.1", "UA", "guard", bits, T0)


def test_the_page_escapes_a_hostile_return_path() -> None:
    page = challenge_page(a_puzzle(), HOSTILE).decode("utf-8")
    assert "<script>alert(1)</script>" not in page
    assert '"><script>' not in page
    assert page.count("<script>") == 1  # ours, and only ours
    assert 'data-to="/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_parse_challenge_round_trips_what_the_page_carries() -> None:
    p = a_puzzle(14)
    for to in ["/", "/feed?page=2&sort=new", HOSTILE, "/ünïcode/路径", "/a'b"]:
        assert parse_challenge(challenge_page(p, to)) == (p.seed, 14, to)
    assert parse_challenge(challenge_page(p, "//evil.example/")) == (p.seed, 14, "/")


def test_parse_challenge_says_none_for_other_pages() -> None:
    assert parse_challenge(b"") is None
    assert parse_challenge(b"<html><body>welcome</body></html>") is None
    forged = challenge_page(a_puzzle(), "/").replace(b'data-bits="12"', b'data-bits="99"')
    assert parse_challenge(forged) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/feed?page=2", "/feed?page=2"),
        ("/a/b#frag", "/a/b#frag"),
        (HOSTILE, HOSTILE),  # local, so allowed; the page escapes it
        ("", "/"),
        ("feed", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("/\tevil", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        ("/\x00", "/"),
        ("/\x7f", "/"),
        ("javascript:alert(1)", "/"),
        ("/" + "a" * 2047, "/" + "a" * 2047),
        ("/" + "a" * 2048, "/"),
    ],
)
def test_safe_return_path(raw: str, expected: str) -> None:
    assert safe_return_path(raw) == expected


def test_the_page_is_small_and_self_contained() -> None:
    page = challenge_page(a_puzzle(), "/" + "a" * 200)
    assert len(page) < 8 * 1024
    text = page.decode("utf-8")
    for external in ("src=", "href=", "http://", "https://", "@import", "url("):
        assert external not in text
    assert "<noscript>" in text
    assert "needs JavaScript" in text
    assert "API" in text


def test_headers_lock_the_page_down() -> None:
    headers = dict(CHALLENGE_HEADERS)
    assert len(headers) == len(CHALLENGE_HEADERS)
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "worker-src blob:" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert csp.count("'sha256-") == 2


def test_pass_set_cookie() -> None:
    name, value = pass_set_cookie("1.2.3.abc", 3600.0)
    assert name == "Set-Cookie"
    assert value == "seawall_pass=1.2.3.abc; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure"
    assert not pass_set_cookie("v", 60.0, secure=False)[1].endswith("Secure")


# ---- a real browser ------------------------------------------------------------------------


@dataclass
class Guarded:
    """What the guarded test site saw: solutions claimed, and passes honoured."""

    bits: int = 12
    claims: list[str] = field(default_factory=list)  # "ok" or the refusal's reason
    welcomed: list[str] = field(default_factory=list)  # the pass cookie each welcome came with
    lock: threading.Lock = field(default_factory=threading.Lock)


class GuardedHandler(http.server.BaseHTTPRequestHandler):
    """One guarded page, the pass endpoint, and the page behind it; ``site`` is set per test."""

    site: Guarded

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for k, v in [*headers, ("Content-Length", str(len(body)))]:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        ua = self.headers.get("User-Agent", "")
        if url.path == "/guarded":
            puzzle = issue(KEYS, self.client_address[0], ua, "guard", self.site.bits, time.time())
            self.reply(200, list(CHALLENGE_HEADERS), challenge_page(puzzle, "/welcome?x=1"))
        elif url.path == PASS_PATH:
            self.claim(parse_qs(url.query), ua)
        elif url.path == "/welcome":
            self.welcome(ua)
        else:
            self.reply(404, [], b"not found\n")

    def claim(self, query: dict[str, list[str]], ua: str) -> None:
        seed, nonce, to = (query.get(k, [""])[0] for k in ("seed", "nonce", "to"))
        prefix, now = self.client_address[0], time.time()
        try:
            solved = check_solution(KEYS, seed, nonce, prefix, ua, now)
        except ChallengeError as e:
            with self.site.lock:
                self.site.claims.append(e.reason)
            self.reply(403, [], e.reason.encode())
            return
        with self.site.lock:
            self.site.claims.append("ok")
        value = pass_cookie(KEYS, prefix, ua, solved.bits, now, ttl=3600)
        cookie = pass_set_cookie(value, 3600, secure=False)  # plain http on loopback
        self.reply(303, [cookie, ("Location", safe_return_path(to))], b"")

    def welcome(self, ua: str) -> None:
        jar: SimpleCookie = SimpleCookie(self.headers.get("Cookie", ""))
        value = jar[PASS_COOKIE].value if PASS_COOKIE in jar else ""
        if not check_pass(KEYS, value, self.client_address[0], ua, time.time()):
            self.reply(403, [], b"no pass\n")
            return
        with self.site.lock:
            self.site.welcomed.append(value)
        self.reply(200, [("Content-Type", "text/html")], b"<h1>welcome</h1>")


@pytest.fixture
def site() -> Iterator[tuple[Guarded, int]]:
    guarded = Guarded()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Handler", (GuardedHandler,), {"site": guarded})
    )
    thread = threading.Thread(target=server.serve_forever, name="guarded-site", daemon=True)
    thread.start()
    yield guarded, server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


# Runs before the page's own script: notes in sessionStorage whether the Worker did the work.
WATCH_WORKERS = """(function(){var W=window.Worker;if(!W)return;
window.Worker=function(u){var w=new W(u);sessionStorage.setItem("workers","1");
w.addEventListener("message",function(e){if("done" in e.data)sessionStorage.setItem("by","worker")});
return w}})();"""
NO_WORKERS = "delete window.Worker;"
# A Worker that starts and then dies: its script is swapped for one that throws.
BROKEN_WORKERS = """(function(){var B=window.Blob;
window.Blob=function(parts,o){return new B(["throw new Error('broken')"],o)}})();"""


def _solve_in_browser(driver: Any, port: int, before_page: str) -> dict[str, Any]:
    """Load /guarded with ``before_page`` injected; wait for the welcome page; what happened."""
    driver.delete_all_cookies()
    added = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": before_page})
    try:
        driver.get(f"http://127.0.0.1:{port}/guarded")
        arrived = wait_until(lambda: urlsplit(driver.current_url).path == "/welcome", 30.0)
        assert arrived, f"stuck at {driver.current_url}: {driver.page_source[:500]}"
        assert "welcome" in driver.page_source
        cookie = driver.get_cookie(PASS_COOKIE)
        storage = driver.execute_script(
            "return [sessionStorage.getItem('workers'), sessionStorage.getItem('by')]"
        )
        logs = [e["message"] for e in driver.get_log("browser")]
        driver.execute_script("sessionStorage.clear()")
    finally:
        driver.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]}
        )
    return {"cookie": cookie, "storage": storage, "logs": logs, "url": driver.current_url}


def test_a_real_browser_solves_the_puzzle_in_a_worker(
    browser: Any, site: tuple[Guarded, int]
) -> None:
    guarded, port = site
    seen = _solve_in_browser(browser, port, WATCH_WORKERS)
    assert urlsplit(seen["url"]).query == "x=1"
    assert seen["storage"] == ["1", "worker"]  # the Worker ran and found the nonce
    assert guarded.claims == ["ok"]
    cookie = seen["cookie"]
    assert cookie is not None and cookie["httpOnly"]
    assert guarded.welcomed == [cookie["value"]]
    ua = browser.execute_script("return navigator.userAgent")
    assert check_pass(KEYS, cookie["value"], "127.0.0.1", ua, time.time())
    assert not check_pass(KEYS, cookie["value"], "127.0.0.2", ua, time.time())
    assert not [m for m in seen["logs"] if "Content Security Policy" in m or "Uncaught" in m]


@pytest.mark.parametrize("before_page", [NO_WORKERS, BROKEN_WORKERS], ids=["none", "broken"])
def test_a_browser_without_working_workers_solves_it_in_the_page(
    browser: Any, site: tuple[Guarded, int], before_page: str
) -> None:
    guarded, port = site
    guarded.bits = 10
    seen = _solve_in_browser(browser, port, before_page)
    assert seen["storage"] == [None, None]
    assert guarded.claims == ["ok"]
    ua = browser.execute_script("return navigator.userAgent")
    assert check_pass(KEYS, seen["cookie"]["value"], "127.0.0.1", ua, time.time())
    assert not [m for m in seen["logs"] if "Content Security Policy" in m]


def test_the_browser_and_python_find_the_same_nonce(
    browser: Any, site: tuple[Guarded, int]
) -> None:
    """The page's hand-written SHA-256 against hashlib, via the nonce the server is sent."""
    _guarded, port = site
    browser.get(f"http://127.0.0.1:{port}/nowhere")  # same origin, no CSP, to run the core
    core = CORE_JS
    assert core in challenge_page(a_puzzle(), "/").decode()  # the very code the page runs
    for length in (0, 1, 40, 54, 55, 56, 63, 64, 100, 119, 120, 200):
        seed = "".join(chr(33 + (i * 7) % 94) for i in range(length))  # printable ASCII
        for bits in (0, 1, 7, 9):
            found = browser.execute_script(
                f"{core}; return core()(arguments[0], {bits}, 0, 1 << 20)", seed
            )
            assert str(found) == solve(seed, bits), (length, bits)
