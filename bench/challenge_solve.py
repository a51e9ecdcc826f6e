"""What the proof-of-work challenge costs a real browser, a Python client, and the server.

Run: python3 bench/challenge_solve.py [--runs 11] [--bits 8,10,12,14,16,18]

Headless Chromium loads a page guarded by the challenge from a tiny server on loopback; the
server times each run from serving the page to receiving the solution, so page parsing and
Worker start-up count, as they do for a user. Every run gets a fresh puzzle, so times follow
the work's geometric spread, not one lucky nonce. Then the same difficulties with the
Python `solve` (lab clients), and the server's cost per `check_solution` and `check_pass`.
Prints a Markdown table. Needs chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import http.server
import math
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from seawall.core.challenge import (
    PASS_PATH,
    ChallengeError,
    ChallengeKeys,
    check_pass,
    check_solution,
    issue,
    pass_cookie,
    solve,
)
from seawall.edge.challenge import CHALLENGE_HEADERS, CORE_JS, challenge_page, pass_set_cookie

KEYS = ChallengeKeys(b"bench-secret-0123456789")
WAIT = 120.0  # seconds a single browser run may take before the bench gives up


class Site:
    """What the bench site saw: when each run's page was served and when it was solved."""

    def __init__(self) -> None:
        self.served: dict[str, float] = {}
        self.solved: dict[str, tuple[float, int]] = {}  # run -> (seconds, nonce)
        self.done = threading.Condition()


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves /guarded?bits=N&run=I, takes the solution, and times page-to-solution."""

    site: Site

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for k, v in [*headers, ("Content-Length", str(len(body)))]:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url, ua = urlsplit(self.path), self.headers.get("User-Agent", "")
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/guarded":
            rule = f"bench-{q['run']}"  # a fresh seed per run, even within a second
            p = issue(KEYS, self.client_address[0], ua, rule, int(q["bits"]), time.time())
            self.site.served[q["run"]] = time.perf_counter()
            self.reply(200, list(CHALLENGE_HEADERS), challenge_page(p, "/welcome"))
        elif url.path == PASS_PATH:
            self.claim(q, ua)
        else:
            self.reply(200, [("Content-Type", "text/plain")], b"welcome\n")

    def claim(self, q: dict[str, str], ua: str) -> None:
        now, prefix, site = time.time(), self.client_address[0], self.site
        try:
            got = check_solution(KEYS, q["seed"], q["nonce"], prefix, ua, now)
        except (ChallengeError, KeyError):
            self.reply(403, [], b"refused\n")
            return
        run = got.rule_id.removeprefix("bench-")
        with site.done:
            site.solved[run] = (time.perf_counter() - site.served[run], int(q["nonce"]))
            site.done.notify_all()
        value = pass_cookie(KEYS, prefix, ua, got.bits, now, 60)
        headers = [pass_set_cookie(value, 60, secure=False), ("Location", "/welcome")]
        self.reply(303, headers, b"")


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def start_browser() -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(WAIT)
    return driver


def browser_runs(
    driver: Any, site: Site, port: int, bits: int, runs: int
) -> list[tuple[float, int]]:
    out = []
    for i in range(runs):
        run = f"{bits}-{i}"
        driver.delete_all_cookies()
        driver.get(f"http://127.0.0.1:{port}/guarded?bits={bits}&run={run}")
        with site.done:
            if not site.done.wait_for(lambda r=run: r in site.solved, WAIT):
                raise SystemExit(f"browser run {run} did not finish in {WAIT} s")
            out.append(site.solved[run])
    return out


def page_hash_rate(driver: Any, port: int, tries: int = 2_000_000) -> float:
    """Hashes per second of the page's own SHA-256, on the main thread, with no lucky stops."""
    driver.get(f"http://127.0.0.1:{port}/welcome")  # same origin, no CSP: lets the bench run JS
    core = CORE_JS + "; var s=core(), t=performance.now(); s(arguments[0], 32, 0, arguments[1]);"
    spent_ms = driver.execute_script(core + " return performance.now() - t;", "x" * 60, tries)
    return float(tries / (spent_ms / 1000))


def python_runs(bits: int, runs: int) -> list[tuple[float, int]]:
    out = []
    for i in range(runs):
        seed = issue(KEYS, "127.0.0.1", "py", f"py-{bits}-{i}", bits, time.time()).seed
        t = time.perf_counter()
        nonce = solve(seed, bits)
        out.append((time.perf_counter() - t, int(nonce)))
    return out


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    best = math.inf
    for _ in range(3):  # best of three: the cost, not the noise
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - t)
    return best / calls * 1e6


def verify_costs(calls: int) -> tuple[float, float]:
    now = time.time()
    p = issue(KEYS, "203.0.113.0/24", "Mozilla/5.0", "verify", 16, now)
    nonce = solve(p.seed, 16)
    check_solution(KEYS, p.seed, nonce, "203.0.113.0/24", "Mozilla/5.0", now)  # it must pass
    cookie = pass_cookie(KEYS, "203.0.113.0/24", "Mozilla/5.0", 16, now, 3600)
    assert check_pass(KEYS, cookie, "203.0.113.0/24", "Mozilla/5.0", now)
    sol = per_call_us(
        lambda: check_solution(KEYS, p.seed, nonce, "203.0.113.0/24", "Mozilla/5.0", now), calls
    )
    pas = per_call_us(lambda: check_pass(KEYS, cookie, "203.0.113.0/24", "Mozilla/5.0", now), calls)
    return sol, pas


def row(bits: int, browser: list[tuple[float, int]], py: list[tuple[float, int]]) -> str:
    b_ms = [s * 1000 for s, _ in browser]
    p_ms = [s * 1000 for s, _ in py]
    tries = statistics.median(n + 1 for _, n in browser)
    return (
        f"| {bits} | {2**bits:,} | {tries:,.0f} | {statistics.median(b_ms):.0f} | "
        f"{pct(b_ms, 0.9):.0f} | {statistics.median(p_ms):.1f} | {pct(p_ms, 0.9):.1f} |"
    )


def measure(levels: list[int], runs: int) -> tuple[float, float, list[str]]:
    """(browser overhead at 0 bits in s, page hashes per s, one table row per difficulty)."""
    site = Site()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("BenchHandler", (Handler,), {"site": site})
    )
    thread = threading.Thread(target=server.serve_forever, name="bench-site", daemon=True)
    thread.start()
    port = server.server_address[1]
    driver = start_browser()
    try:
        browser_runs(driver, site, port, 0, 2)  # warm up: the first page in a browser is slow
        overhead = statistics.median(s for s, _ in browser_runs(driver, site, port, 0, runs))
        rows = [
            row(b, browser_runs(driver, site, port, b, runs), python_runs(b, runs)) for b in levels
        ]
        rate = page_hash_rate(driver, port)
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
    return overhead, rate, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--bits", default="8,10,12,14,16,18")
    ap.add_argument("--calls", type=int, default=20_000)
    args = ap.parse_args()
    overhead, rate, rows = measure([int(b) for b in args.bits.split(",")], args.runs)
    sol_us, pass_us = verify_costs(args.calls)
    print(
        f"Proof-of-work solve time, {args.runs} fresh puzzles per difficulty (p90 nearest rank)\n"
    )
    print(
        "| bits | expected tries | median tries (browser) | Chromium median ms | Chromium p90 ms "
        "| Python median ms | Python p90 ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(
        f"\nChromium times run from the page being served to the solution arriving: they include "
        f"parsing the page and starting the Worker, {overhead * 1000:.0f} ms (median) at 0 bits. "
        f"The page's SHA-256 runs at {rate / 1e6:.2f} M hashes/s in Chromium (main thread, 2M tries)."
    )
    print(
        f"Server cost: check_solution {sol_us:.1f} µs, check_pass {pass_us:.1f} µs per call "
        f"(best of 3 x {args.calls:,})."
    )


if __name__ == "__main__":
    main()
