"""Synthetic parsed logs for replay tests: a site's ordinary traffic, then a flood."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from seawall.analyze.formats import Batch

T0 = 1_700_000_000.0
MODERN = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36"
LEGACY = "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 Chrome/49.0.2623.112 Safari/537.36"
FAMOUS = "/users/cyxymu"
PAGES = ("/", "/users/alice", "/users/bob", "/posts/1", "/posts/2", "/search?q=sea", FAMOUS)


@dataclass(frozen=True, slots=True)
class Line:
    time: float
    client: str
    uri: str
    ua: str
    status: int = 200
    method: str = "GET"
    klass: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def ordinary(start: float, seconds: int, rps: int, seed: int = 1) -> list[Line]:
    """People: 200 addresses in 100 /24s of 198.18.0.0/15, browsing, about `rps` a second."""
    rng = random.Random(seed)
    out = []
    for s in range(seconds):
        for _ in range(rps):
            i = rng.randrange(200)
            client = f"198.18.{i // 2}.{10 + i % 2}"
            out.append(Line(start + s + rng.random(), client, rng.choice(PAGES), MODERN))
    return out


def flood(start: float, seconds: int, rps: int, bots: int = 300, seed: int = 2) -> list[Line]:
    """A botnet on FAMOUS from `bots` addresses (one /24 each) with a 2016 User-Agent."""
    rng = random.Random(seed)
    out = []
    for s in range(seconds):
        for _ in range(rps):
            b = rng.randrange(bots)
            client = f"203.{b // 250}.{b % 250}.7"
            out.append(Line(start + s + rng.random(), client, FAMOUS, LEGACY))
    return out


def attack_log() -> list[Line]:
    """90 s of people at 40/s; from T0+60 a 30 s flood at 600/s; people go on to T0+150."""
    lines = ordinary(T0, 150, 40) + flood(T0 + 60, 30, 600)
    return sorted(lines, key=lambda x: x.time)


def batch(lines: Sequence[Line], first_line: int = 1) -> Batch:
    keys = sorted(
        {k for x in lines for k in x.extra} | ({"class"} if any(x.klass for x in lines) else set())
    )
    extra = {k: [x.klass if k == "class" else x.extra.get(k, "") for x in lines] for k in keys}
    return Batch(
        line=list(range(first_line, first_line + len(lines))),
        time=[x.time for x in lines],
        client=[x.client for x in lines],
        method=[x.method for x in lines],
        host=["example.org"] * len(lines),
        uri=[x.uri for x in lines],
        status=[x.status for x in lines],
        bytes_out=[512] * len(lines),
        user_agent=[x.ua for x in lines],
        latency=[0.01] * len(lines),
        extra=extra,
        malformed=[],
        malformed_count=0,
    )


def batches(lines: Sequence[Line], size: int) -> list[Batch]:
    return [batch(lines[i : i + size], i + 1) for i in range(0, len(lines), size)]


def combined_log(lines: Sequence[Line]) -> str:
    """The lines as an nginx/Apache "combined" access log."""
    rows = []
    for x in lines:
        t = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(x.time))
        rows.append(
            f'{x.client} - - [{t}] "{x.method} {x.uri} HTTP/1.1" {x.status} 512 "-" "{x.ua}"'
        )
    return "\n".join(rows) + "\n"
