"""How fast `seawall analyze` reads and parses access logs, in lines per second, per format.

Run: python3 bench/analyze_parse.py [--lines 1000000] [--chunk 65536] [--repeat 3]
                                     [--formats combined,nginx-json,caddy,seawall]

Targets: offline analysis runs at >= 500,000 lines/s end to end, detection included
(DESIGN.md §6), so parsing alone aims at >= 1.5 M lines/s for combined logs and >= 700 k
lines/s for JSON lines, on two cores.

Each format gets a deterministic synthetic log of --lines lines, written to a temporary
directory: 22,000 clients (a tenth IPv6), 33 user agents, 20,000 users' pages, status and
size at random from a seeded generator, one line in --bad-every malformed (a JSON line cut
short: polars' bulk decode then fails for its part of the chunk, which is decoded again
without it), and in the combined log one line in a hundred with an escaped quote in its
user agent. Three figures per format, each the best of --repeat runs, in wall-clock time:
  read    read_chunks() alone (decoding and splitting lines);
  parse   format.parse() over chunks already in memory;
  total   peek_lines() + detect() + read_chunks() + parse(), what `analyze` pays before
          detection.
The combined log is also measured gzipped (read and total).
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import polars as pl

from seawall.analyze.formats import FORMATS, detect
from seawall.analyze.read import peek_lines, read_chunks

T0 = 1_700_000_000.0
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TARGETS = {"combined": 1_500_000, "nginx-json": 700_000, "caddy": 700_000, "seawall": 700_000}
_json = msgspec.json.Encoder()


class Traffic:
    """A seeded stream of requests: time, client, method, path, status, size, UA."""

    def __init__(self, seed: int) -> None:
        r = self.r = random.Random(seed)
        self.clients = [
            f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
            for _ in range(20_000)
        ] + [f"2001:db8:{r.randint(0, 65535):x}::{r.randint(1, 65535):x}" for _ in range(2_000)]
        self.agents = [
            f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{v}.0.0.0 Safari/537.36"
            for v in range(100, 130)
        ] + ["curl/8.5.0", "python-requests/2.31.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"]

    def requests(self, n: int) -> Iterator[tuple[float, str, str, str, int, int, str]]:
        r = self.r
        t = T0
        for _ in range(n):
            t += r.random() * 0.002
            k = r.random()
            if k < 0.2:
                path = "/"
            elif k < 0.6:
                path = f"/users/user{r.randint(1, 20_000)}"
            elif k < 0.8:
                path = f"/api/v1/posts?page={r.randint(1, 500)}"
            else:
                path = f"/static/app.{r.randint(1, 30)}.js"
            yield (
                t,
                r.choice(self.clients),
                "POST" if r.random() < 0.1 else "GET",
                path,
                r.choice((200, 200, 200, 304, 404, 429)),
                r.randint(0, 50_000),
                r.choice(self.agents),
            )


def combined(n: int, bad_every: int) -> Iterator[str]:
    traffic = Traffic(1)
    for i, (t, client, method, path, status, size, ua) in enumerate(traffic.requests(n)):
        g = time.gmtime(t)
        stamp = f"{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{g.tm_year}:{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d} +0000"
        agent = 'Mozilla/5.0 \\"quoted\\"' if i % 100 == 7 else ua
        if i % bad_every == bad_every - 1:
            yield f"{client} - - [{stamp}] garbage"
            continue
        yield f'{client} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"'


def nginx_json(n: int, bad_every: int) -> Iterator[str]:
    for i, (t, client, method, path, status, size, ua) in enumerate(Traffic(2).requests(n)):
        if i % bad_every == bad_every - 1:
            yield '{"time_iso8601": "2023-11-14T22:13:20+00:00", "remote_addr": '  # cut short
            continue
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
        line = {
            "time_iso8601": stamp,
            "remote_addr": client,
            "request": f"{method} {path} HTTP/1.1",
            "status": str(status),
            "body_bytes_sent": str(size),
            "request_time": f"{(size % 997) / 1000:.3f}",
            "http_referer": "",
            "http_user_agent": ua,
            "host": "shop.test",
        }
        yield _json.encode(line).decode()


def caddy(n: int, bad_every: int) -> Iterator[str]:
    for i, (t, client, method, path, status, size, ua) in enumerate(Traffic(3).requests(n)):
        if i % bad_every == bad_every - 1:
            yield "not json"
            continue
        line = {
            "level": "info",
            "ts": round(t, 6),
            "logger": "http.log.access.log0",
            "msg": "handled request",
            "request": {
                "remote_ip": "10.0.0.1",
                "remote_port": "41342",
                "client_ip": client,
                "proto": "HTTP/2.0",
                "method": method,
                "host": "shop.test",
                "uri": path,
                "headers": {"User-Agent": [ua], "Accept": ["*/*"]},
            },
            "bytes_read": 0,
            "user_id": "",
            "duration": (size % 997) / 100_000,
            "size": size,
            "status": status,
            "resp_headers": {"Server": ["Caddy"], "Content-Type": ["text/html"]},
        }
        yield _json.encode(line).decode()


def seawall(n: int, bad_every: int) -> Iterator[str]:
    """The fields and their order of seawall.edge.accesslog.json_line."""
    for i, (t, client, method, path, status, size, ua) in enumerate(Traffic(4).requests(n)):
        if i % bad_every == bad_every - 1:
            yield '{"time": 1700000000.0, "client": "broken'
            continue
        route = path.split("?")[0]
        line = {
            "time": int(t * 1000 + 0.5) / 1000,
            "client": client,
            "peer": "10.0.0.1",
            "method": method,
            "host": "shop.test",
            "path": route,
            "query": path.partition("?")[2],
            "uri": "",
            "status": status,
            "bytes_in": 0,
            "bytes_out": size,
            "latency_ms": (size % 997) / 100,
            "origin_ms": 1.5,
            "queued_ms": 0.0,
            "verdict": "throttle" if status == 429 else "allow",
            "reason": "over rate" if status == 429 else "default",
            "rule": "r7" if status == 429 else "",
            "class": "anonymous",
            "route": "user" if route.startswith("/users/") else "",
            "target": route,
            "ua": ua,
            "fp": f"{hash(ua) & 0xFFFF:04x}",
            "cache": "",
            "request_id": f"r-{i}",
            "tls": "TLSv1.3",
            "error": "",
        }
        yield _json.encode(line).decode()


MAKERS: dict[str, Callable[[int, int], Iterator[str]]] = {
    "combined": combined,
    "nginx-json": nginx_json,
    "caddy": caddy,
    "seawall": seawall,
}


def write(path: Path, lines: Iterator[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line)
            f.write("\n")


def best(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    """(fastest wall time, what run returned)."""
    times, out = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return min(times), out


def read_only(path: Path, chunk: int) -> int:
    return sum(len(lines) for _, lines in read_chunks(path, chunk))


def end_to_end(path: Path, chunk: int, expect: str) -> int:
    fmt = detect(peek_lines(path))
    assert fmt.name == expect, (fmt.name, expect)
    rows = 0
    for first, lines in read_chunks(path, chunk):
        rows += len(fmt.parse(lines, first).line)
    return rows


def measure(path: Path, name: str, label: str, args: argparse.Namespace) -> None:
    """One table row: read, parse and total lines/s for the log at path."""
    n = args.lines
    fmt = FORMATS[name]
    chunks = list(read_chunks(path, args.chunk))
    t_read, _ = best(args.repeat, lambda: read_only(path, args.chunk))
    t_parse, rows = best(args.repeat, lambda: sum(len(fmt.parse(ls, i).line) for i, ls in chunks))
    t_total, _ = best(args.repeat, lambda: end_to_end(path, args.chunk, fmt.name))
    target = f"{TARGETS[name]:,}" if label == name else ""
    print(
        f"| {label} | {n / t_read:,.0f} | {n / t_parse:,.0f} | {n / t_total:,.0f} "
        f"| {target} | {rows:,} |",
        flush=True,
    )


def gzipped(path: Path) -> Path:
    gz = path.with_suffix(".log.gz")
    with open(path, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
        while block := src.read(1 << 20):
            dst.write(block)
    return gz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default=",".join(MAKERS))
    ap.add_argument("--bad-every", type=int, default=1000, help="one malformed line in N")
    args = ap.parse_args()
    n = args.lines
    print(f"python {platform.python_version()} ({sys.executable}), polars {pl.__version__}")
    print(
        f"{platform.machine()} {os.cpu_count()} CPUs, polars threads {pl.thread_pool_size()}; "
        f"{n:,} lines per log, chunks of {args.chunk:,}, one malformed line in "
        f"{args.bad_every:,}"
    )
    print()
    print("| log | read lines/s | parse lines/s | total lines/s | target (parse) | rows |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.formats.split(","):
            path = Path(tmp) / f"{name}.log"
            write(path, MAKERS[name](n, args.bad_every))
            measure(path, name, name, args)
            if name == "combined":
                measure(gzipped(path), name, "combined, gzip", args)
            path.unlink()


if __name__ == "__main__":
    main()
