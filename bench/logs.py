"""Deterministic synthetic nginx access logs of a social site, with an HTTP flood in the middle.

Run: python3 bench/logs.py OUT [--lines 1300000] [--seed 7] [--json] [--gzip] [--no-attack]
(also writes OUT.truth.json: what the log holds, for checking what a tool found)

The log covers an hour from 2026-11-24 06:00:00 +0000. Legitimate traffic comes from a few
thousand clients (browsers with their page assets, mobile apps, search crawlers, and four
vulnerability scanners that probe in short bursts) on ISP space of about 50 countries, with
a slow rise and a wiggle in its rate. With `attack`, a flood of 10 minutes from 20,000
addresses on many ISPs (and a few hosting networks) hits one target, /users/cyxymu, with
2016-era User-Agents and a cache-busting query on about a third of it; the origin strains
(499/502/503/504 appear, for legitimate clients too). The flood's share of lines is fixed at
900,000 of 1,300,000, i.e. ~1,500 lines/s over 10 minutes at the default size, so the
baseline gets the rest (~111 lines/s); without `attack` all lines are baseline (~361/s).
Smaller logs keep the hour and the shares, with fewer clients and flood sources (a quarter
of the flood's lines, at most 20,000).
Lines are in time order except 0.3%, written up to 0.95 s late as by a buffering worker, so a
few timestamps step back by one second.

Every prefix below was checked against the bundled geo data (iptocc + plevin): each answers
one ASN and a country. The same seed and line count give the same bytes. (Over 400 lines:
about 100 are the data tables, kept here so that the generator stays one importable file.)
"""

from __future__ import annotations

import argparse
import bisect
import gzip as gzip_module
import io
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path

DEFAULT_LINES = 1_300_000
START = datetime(2026, 11, 24, 6, 0, 0, tzinfo=UTC)
DURATION = 3600  # seconds
FLOOD_OFFSET = 1477  # 06:24:37
FLOOD_SECONDS = 600
FLOOD_SHARE = 900_000 / 1_300_000
FLOOD_SOURCES = 20_000
TARGET = "/users/cyxymu"
HOST = "social.example.net"
LATE_SHARE = 0.003
CLIENTS = 3500

# "prefix country", a star marks hosting space (used by scanners and part of the botnet).
PREFIXES = """
73.0.0.0/8 US  50.128.0.0/9 US  208.192.0.0/10 US  65.192.0.0/11 US  12.0.0.0/9 US  12.128.0.0/9 US  47.132.0.0/15 US  23.84.0.0/16 US  70.160.0.0/11 US  72.192.0.0/11 US
65.128.0.0/11 US  63.144.0.0/12 US  76.168.0.0/13 US  172.112.0.0/13 US  47.144.0.0/12 US  47.160.0.0/12 US  24.44.0.0/14 US  24.184.0.0/14 US  100.128.0.0/9 US  162.160.0.0/11 US
99.224.0.0/11 CA  99.208.0.0/12 CA  50.100.0.0/16 CA  50.101.0.0/16 CA  23.233.128.0/18 CA  24.37.0.0/18 CA  24.64.0.0/13 CA  50.64.0.0/13 CA
79.192.0.0/10 DE  84.128.0.0/10 DE  88.64.0.0/12 DE  178.0.0.0/12 DE  77.0.0.0/12 DE  77.176.0.0/12 DE  89.244.0.0/14 DE  87.122.0.0/15 DE  2.3.0.0/16 FR  2.10.0.0/16 FR
82.64.0.0/14 FR  88.120.0.0/15 FR  176.128.0.0/10 FR  89.80.0.0/12 FR  93.0.0.0/11 FR  109.0.0.0/11 FR  86.128.0.0/10 GB  81.128.0.0/11 GB  86.24.0.0/13 GB  82.0.0.0/14 GB
90.192.0.0/11 GB  94.0.0.0/12 GB  78.103.0.0/16 NL  84.116.0.0/16 NL  77.160.0.0/13 NL  86.80.0.0/13 NL  109.32.0.0/13 NL  31.136.0.0/14 NL  37.184.0.0/15 BE  46.178.0.0/15 BE
2.136.0.0/16 ES  5.205.0.0/16 ES  85.48.0.0/12 ES  90.160.0.0/12 ES  77.224.0.0/13 ES  46.24.0.0/14 ES  95.224.0.0/14 IT  217.56.0.0/14 IT  5.88.0.0/13 IT  37.176.0.0/13 IT
31.190.0.0/16 IT  37.100.0.0/16 IT  86.120.0.0/13 RO  5.12.0.0/14 RO  79.184.0.0/13 PL  80.48.0.0/13 PL  78.8.0.0/14 PL  77.252.0.0/16 PL  46.200.0.0/16 UA  46.201.0.0/17 UA
46.118.0.0/15 UA  37.115.0.0/16 UA  77.120.128.0/18 UA  77.120.32.0/20 UA  31.12.128.0/17 UA  95.109.128.0/17 UA  5.136.0.0/13 RU  2.60.0.0/14 RU  37.144.0.0/14 RU
128.72.0.0/14 RU  91.78.0.0/15 RU  62.118.0.0/16 RU  46.138.0.0/16 RU  95.165.0.0/16 RU  109.188.128.0/17 RU  85.26.128.0/20 RU  46.73.0.0/16 RU  79.111.0.0/16 RU
95.154.64.0/18 RU  46.46.48.0/20 RU  62.248.0.0/17 TR  78.170.0.0/17 TR  176.40.0.0/14 TR  176.232.0.0/15 TR  178.242.0.0/16 TR  5.11.128.0/17 TR  78.162.192.0/18 TR
78.184.64.0/18 TR  62.38.0.0/16 GR  62.74.0.0/16 GR  2.84.0.0/16 GR  2.86.0.0/16 GR  62.1.0.0/17 GR  62.1.128.0/17 GR  84.0.0.0/14 HU  81.182.0.0/15 HU  88.88.0.0/13 NO
2.148.0.0/14 NO  78.64.0.0/12 SE  81.224.0.0/12 SE  83.176.0.0/12 SE  90.128.0.0/12 SE  80.120.0.0/14 AT  91.112.0.0/14 AT  49.64.0.0/11 CN  115.192.0.0/11 CN
27.192.0.0/11 CN  39.64.0.0/11 CN  111.56.0.0/15 CN  36.161.0.0/16 CN  183.235.0.0/16 CN  36.141.128.0/18 CN  101.80.0.0/13 CN  180.152.0.0/13 CN  120.80.0.0/13 CN
157.18.0.0/16 CN  59.183.0.0/16 IN  117.194.0.0/16 IN  122.160.0.0/16 IN  122.180.0.0/16 IN  157.32.0.0/12 IN  49.32.0.0/13 IN  182.67.0.0/16 IN  223.183.0.0/16 IN
42.104.0.0/13 IN  1.38.0.0/17 IN  153.128.0.0/10 JP  180.0.0.0/10 JP  106.128.0.0/11 JP  36.8.0.0/13 JP  60.64.0.0/10 JP  219.32.0.0/11 JP  14.64.0.0/12 KR  112.176.0.0/12 KR
1.224.0.0/13 KR  1.240.0.0/13 KR  1.208.0.0/12 KR  106.240.0.0/12 KR  36.64.0.0/16 ID  36.65.0.0/16 ID  182.0.0.0/12 ID  114.120.0.0/13 ID  14.162.0.0/16 VN  14.232.0.0/16 VN
171.224.0.0/11 VN  1.52.16.0/20 VN  1.52.48.0/20 VN  119.111.0.0/16 PH  124.104.0.0/16 PH  222.127.64.0/20 PH  222.127.240.0/20 PH  42.188.0.0/14 MY  180.72.0.0/14 MY
49.48.0.0/16 TH  110.164.0.0/16 TH  119.153.64.0/20 PK  119.153.80.0/20 PK  39.32.0.0/11 PK  182.176.0.0/12 PK  177.16.0.0/14 BR  177.40.0.0/14 BR  177.94.0.0/15 BR
177.102.0.0/15 BR  179.136.0.0/14 BR  179.140.0.0/15 BR  187.6.0.0/18 BR  189.11.192.0/18 BR  152.240.0.0/13 BR  177.60.0.0/14 BR  191.56.0.0/14 BR  191.38.0.0/15 BR
148.212.0.0/16 MX  148.217.0.0/16 MX  177.238.64.0/20 MX  177.239.128.0/20 MX  201.192.0.0/14 CR  201.196.0.0/14 CR  181.128.0.0/12 CO  191.88.0.0/13 CO  186.85.16.0/20 CO
179.36.0.0/14 AR  181.20.0.0/14 AR  181.96.0.0/12 AR  181.104.0.0/14 AR  190.40.0.0/16 PE  190.41.0.0/16 PE  164.77.0.0/16 CL  200.111.0.0/16 CL  161.196.0.0/16 VE
190.36.0.0/16 VE  81.192.0.0/16 MA  102.48.0.0/16 MA  160.164.128.0/18 MA  160.164.192.0/18 MA  156.192.0.0/11 EG  197.32.0.0/11 EG  41.206.128.0/19 EG  196.151.192.0/19 EG
105.196.0.0/15 EG  196.138.0.0/15 EG  197.228.0.0/15 ZA  41.144.0.0/16 ZA  41.0.0.0/16 ZA  41.10.0.0/16 ZA  160.154.0.0/15 CI  41.66.0.0/18 CI  41.226.0.0/16 TN
41.62.0.0/17 TN  197.252.0.0/16 SD  41.209.64.0/18 SD  5.194.0.0/16 AE  2.88.0.0/14 SA  37.104.0.0/14 SA  151.254.32.0/19 SA  151.254.96.0/19 SA  31.203.0.0/18 KW
31.203.128.0/19 KW  46.185.128.0/17 JO  86.108.0.0/17 JO  176.29.0.0/16 JO  176.28.128.0/17 JO  5.106.0.0/17 IR  46.51.0.0/17 IR  2.176.0.0/15 IR  2.190.0.0/15 IR
2.146.0.0/17 IR  2.144.96.0/19 IR  51.254.0.0/15 FR*  178.32.0.0/15 FR*  46.224.0.0/15 DE*  78.46.0.0/15 DE*  104.131.0.0/18 US*  107.170.0.0/17 US*
"""
# Audience of the site, and of the botnet, by country; "*" for any other, "hosting" for starred.
LEGIT_WEIGHTS = {"*": 0.6, "hosting": 0.0, "US": 30, "GB": 7, "DE": 6, "FR": 4, "CA": 4, "BR": 6, "IN": 7, "JP": 4, "MX": 2, "ES": 3, "IT": 3, "NL": 2, "RU": 3, "TR": 3, "KR": 2, "ID": 3, "PH": 2, "AR": 2, "PL": 2, "UA": 2}  # fmt: skip
BOT_WEIGHTS = {"*": 1.0, "hosting": 2.0, "BR": 5, "IN": 5, "VN": 5, "ID": 4, "CN": 4, "RU": 4, "TR": 3, "EG": 3, "PK": 3, "UA": 3, "US": 3, "TH": 2, "IR": 2, "MX": 2, "CO": 2, "AR": 2}  # fmt: skip


def _words(text: str) -> list[str]:
    return text.split()


_W = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
_M = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
BROWSER_AGENTS = (
    f"{_W} Chrome/142.0.0.0 Safari/537.36",
    f"{_W} Chrome/141.0.0.0 Safari/537.36",
    f"{_W} Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0",
    f"{_M} AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    f"{_M} AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/29.0 Chrome/136.0.0.0 Mobile Safari/537.36",
)
APP_AGENTS = (
    "Chirp/8.14.2 (iPhone; iOS 26.1; Scale/3.00)",
    "Chirp/8.14.1 (Android 16; Pixel 9; Build/BP3A.251005.004)",
    "Chirp/8.13.0 (Android 15; SM-S921B; Build/AP3A.240905.015)",
)
OLD_AGENTS = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/53.0.2785.143 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/54.0.2840.71 Safari/537.36",
    "Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/49.0.2623.112 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:47.0) Gecko/20100101 Firefox/47.0",
    "Mozilla/5.0 (Windows NT 6.3; WOW64; rv:49.0) Gecko/20100101 Firefox/49.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:48.0) Gecko/20100101 Firefox/48.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.79 Safari/537.36 Edge/14.14393",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6) AppleWebKit/601.7.7 (KHTML, like Gecko) Version/9.1.2 Safari/601.7.7",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 9_3_5 like Mac OS X) AppleWebKit/601.1.46 (KHTML, like Gecko) Version/9.0 Mobile/13G36 Safari/601.1",
    "Mozilla/5.0 (Linux; Android 5.1.1; SM-J200G Build/LMY47X) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 4.4.2; en-us; GT-I9505 Build/KOT49H) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/53.0.2785.116 Safari/537.36 OPR/40.0.2308.81",
)
_GOOGLE = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
_BING = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
CRAWLERS = (("66.249.66.1", _GOOGLE), ("66.249.66.37", _GOOGLE), ("66.249.79.140", _GOOGLE), ("157.55.39.12", _BING), ("40.77.167.58", _BING))  # fmt: skip
ASSETS = (("/static/js/app.4f9c2e1b.js", 312_408), ("/static/js/vendor.a1c0d7e2.js", 845_112), ("/static/css/app.8d21a7c4.css", 64_233), ("/static/img/logo.svg", 3_412), ("/static/fonts/inter-var.woff2", 98_112), ("/favicon.ico", 15_086), ("/static/img/sprite.3e1f0b.png", 22_904))  # fmt: skip
SCANS = _words("/wp-login.php /wp-admin/setup-config.php /.env /phpmyadmin/index.php /pma/index.php /.git/config /xmlrpc.php /admin/config.php /vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php /boaform/admin/formLogin /cgi-bin/luci/;stok=/locale /actuator/env /.aws/credentials /wp-content/plugins/wp-file-manager/readme.txt /solr/admin/info/system /HNAP1/")  # fmt: skip
FIRST = _words("alice bob carol dave erin frank grace heidi ivan judy mallory nia oscar peggy rupert sybil trent victor walter yuki zoe ana bruno chloe diego emma felix giulia hugo ines jonas kaito lea mateo nora omar priya quinn rosa sami tomas uma vera wei xena yusuf zara")  # fmt: skip
LAST = _words("_ _k _dev _art 92 88 2001 _m _photo _x smith lee _rs _news .b _official 7 _in_tokyo _travel _eats")  # fmt: skip
WORDS = _words("music football news weather recipes travel photos cats dogs election cinema jazz climate gaming anime caf%C3%A9 m%C3%BCnchen s%C3%A3o%20paulo %E6%9D%B1%E4%BA%AC protest concert memes startup python art running books tennis f1 marathon coffee")  # fmt: skip
REFERERS = ("-",) * 5 + (f"https://{HOST}/",) * 4 + (f"https://{HOST}/search?q=music", f"https://{HOST}/users/yuki_travel", "https://www.google.com/", "https://www.google.com/", "https://t.co/", "https://www.reddit.com/", "android-app://com.google.android.gm/")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Client:
    addr: str
    agent: str
    kind: str  # browser, app, crawler, scanner, bot
    proto: str


@dataclass(frozen=True, slots=True)
class Truth:
    """What a written log holds, to check what a tool found."""

    path: str
    fmt: str
    seed: int
    lines: int
    flood_lines: int
    flood_sources: int  # distinct flood addresses that appear
    clients: int  # legitimate clients, crawlers and scanners (a few share an address)
    scanners: tuple[str, ...]
    target: str
    start: str
    end: str
    flood_start: str
    flood_end: str
    late_lines: int


# key (write order), t (request end), client, request line, status, bytes, referer, time taken
Event = tuple[float, float, Client, str, int, int, str, float]


def _prefixes(weights: dict[str, float]) -> tuple[list[tuple[int, int]], list[float]]:
    """(first address, size) of usable prefixes, with cumulative weights: a country's weight
    is shared among its prefixes so that countries with many listed ISPs are not favoured."""
    rows = [(cidr, cc.rstrip("*"), cc.endswith("*")) for cidr, cc in _pairs(PREFIXES.split())]
    groups: dict[str, int] = {}
    for _, cc, hosting in rows:
        groups["hosting" if hosting else cc] = groups.get("hosting" if hosting else cc, 0) + 1
    pool: list[tuple[int, int]] = []
    cum: list[float] = []
    total = 0.0
    for cidr, cc, hosting in rows:
        group = "hosting" if hosting else cc
        weight = weights.get(group, weights["*"])
        if weight > 0:
            net, bits = cidr.split("/")
            a, b, c, d = (int(x) for x in net.split("."))
            pool.append(((a << 24) | (b << 16) | (c << 8) | d, 1 << (32 - int(bits))))
            total += weight / groups[group]
            cum.append(total)
    return pool, cum


def _pairs(tokens: list[str]) -> Iterator[tuple[str, str]]:
    return zip(tokens[::2], tokens[1::2], strict=True)


def _addresses(rng: random.Random, count: int, weights: dict[str, float], taken: set[str]) -> list[str]:  # fmt: skip
    """`count` new distinct addresses, none ending in .0 or .255 (rare for clients)."""
    pool, cum = _prefixes(weights)
    found: list[str] = []
    while len(found) < count:
        base, size = rng.choices(pool, cum_weights=cum)[0]
        n = base + rng.randrange(size)
        addr = f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        if n & 255 not in (0, 255) and addr not in taken:
            taken.add(addr)
            found.append(addr)
    return found


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def _spread(total: int, weights: list[float]) -> list[int]:
    """Whole counts in proportion to `weights` that add up to exactly `total`."""
    scale = total / sum(weights)
    counts = []
    acc = 0.0
    done = 0
    for w in weights:
        acc += w * scale
        counts.append(round(acc) - done)
        done += counts[-1]
    counts[-1] += total - done
    return counts


class _Generator:
    """Per-second events of the site; one seeded random stream decides everything."""

    def __init__(self, lines: int, seed: int, attack: bool) -> None:
        self.rng = rng = random.Random(seed)
        taken: set[str] = set()
        self.clients = self._legit(min(CLIENTS, max(20, lines // 300)), taken)
        weights = [rng.lognormvariate(0.0, 1.2) for _ in self.clients]
        self.scanners = _addresses(rng, 4, {"*": 0.0, "hosting": 1.0}, taken)
        self.clients += [Client(a, agent, "crawler", "HTTP/1.1") for a, agent in CRAWLERS]
        self.clients += [Client(a, rng.choice(OLD_AGENTS[:3]), "scanner", "HTTP/1.1") for a in self.scanners]  # fmt: skip
        self.client_cum = _cumulative(weights + [25.0] * len(CRAWLERS) + [0.3] * 4)
        flood_total = round(lines * FLOOD_SHARE) if attack else 0
        sources = min(FLOOD_SOURCES, max(1, flood_total // 4)) if attack else 0
        self.bots = [
            Client(a, rng.choice(OLD_AGENTS), "bot", "HTTP/1.0" if rng.random() < 0.1 else "HTTP/1.1")
            for a in _addresses(rng, sources, BOT_WEIGHTS, taken)
        ]  # fmt: skip
        self.bot_cum = _cumulative([rng.lognormvariate(0.0, 0.8) for _ in self.bots])
        self.joining = list(range(len(self.bots)))
        rng.shuffle(self.joining)
        names = sorted({rng.choice(FIRST) + rng.choice(LAST) + rng.choice(("",) * 3 + ("_1", "2", "_x")) for _ in range(4000)})  # fmt: skip
        rng.shuffle(names)
        names.insert(150, TARGET.rsplit("/", 1)[1])  # the target is a real, fairly popular user
        self.users = names
        self.user_cum = _cumulative([1.0 / (rank + 1) ** 1.05 for rank in range(len(names))])
        self.base, self.flood = self._rates(lines - flood_total, flood_total)
        self.flood_seen: set[int] = set()
        self.late = 0

    def _legit(self, count: int, taken: set[str]) -> list[Client]:
        """Browsers and apps; 4% share the address of an earlier one (carrier NAT)."""
        rng = self.rng
        addrs = _addresses(rng, count, LEGIT_WEIGHTS, taken)
        out = []
        for i, addr in enumerate(addrs):
            shared = addrs[rng.randrange(i)] if i and rng.random() < 0.04 else addr
            if rng.random() < 0.15:
                out.append(Client(shared, rng.choice(APP_AGENTS), "app", "HTTP/2.0"))
            else:
                proto = "HTTP/2.0" if rng.random() < 0.8 else "HTTP/1.1"
                out.append(Client(shared, rng.choice(BROWSER_AGENTS), "browser", proto))
        return out

    def _rates(self, base_total: int, flood_total: int) -> tuple[list[int], list[int]]:
        """Lines per second: a rising, wiggling baseline with noise; a flood that ramps."""
        gauss = self.rng.gauss
        base = []
        for s in range(DURATION):
            mean = (0.85 + 0.3 * s / DURATION) * (1 + 0.08 * math.sin(2 * math.pi * s / 840))
            base.append(max(0.05, gauss(mean, 0.06)))
        flood = [0.0] * DURATION
        for s in range(FLOOD_SECONDS):
            ramp = min(1.0, (s + 1) / 25, (FLOOD_SECONDS - s) / 40)
            flood[FLOOD_OFFSET + s] = max(0.01, gauss(ramp, 0.04 * ramp + 0.01))
        flood_counts = _spread(flood_total, flood) if flood_total else [0] * DURATION
        return _spread(base_total, base), flood_counts

    def events(self) -> Iterator[list[Event]]:
        """Batches of events in write order: everything whose key is below the next second."""
        rng = self.rng
        pending: list[Event] = []
        for s in range(DURATION):
            batch = self._baseline(s, self.base[s]) + self._flood(s, self.flood[s])
            for i, event in enumerate(batch):
                if rng.random() < LATE_SHARE:  # a buffering worker writes it late
                    batch[i] = (event[0] + 0.1 + 0.85 * rng.random(), *event[1:])
                    self.late += 1
            pending += batch
            pending.sort(key=itemgetter(0))
            cut = bisect.bisect_left(pending, s + 1.0, key=itemgetter(0))
            yield pending[:cut]
            del pending[:cut]
        yield pending

    def _baseline(self, s: int, n: int) -> list[Event]:
        rng = self.rng
        stressed = self.flood[s] > 0
        out: list[Event] = []
        for who in rng.choices(self.clients, cum_weights=self.client_cum, k=n):
            if len(out) >= n:
                break
            visit = _VISITS[who.kind]
            out += visit(self, who, s + rng.random(), stressed)
        del out[n:]
        return out

    def _flood(self, s: int, n: int) -> list[Event]:
        rng = self.rng
        out: list[Event] = []
        joining = self.joining[:n]  # every bot shows up once as the flood ramps up
        del self.joining[:n]
        picks = rng.choices(range(len(self.bots)), cum_weights=self.bot_cum, k=n - len(joining))
        for i in joining + picks:
            self.flood_seen.add(i)
            who = self.bots[i]
            t = s + rng.random()
            r = rng.random()
            path = TARGET
            if r < 0.35:  # cache busters, as the kit's options offer them
                path += (
                    f"?_={int((START.timestamp() + t) * 1000)}"
                    if r < 0.15
                    else f"?r={rng.randrange(10**8)}"
                )
            code, size, took = _FLOOD_OUTCOMES[int(rng.random() * len(_FLOOD_OUTCOMES))]
            if code == 200:
                size = int(rng.gauss(38_400, 600))
            referer = f"https://{HOST}/" if rng.random() < 0.2 else "-"
            out.append((t, t, who, f"GET {path} {who.proto}", code, size, referer, took * (0.5 + rng.random())))  # fmt: skip
        return out

    def _page(self) -> tuple[str, str, int, int]:
        """Method, path, status and size of one page or API call that a browser makes."""
        rng = self.rng
        r = rng.random()
        if r < 0.30:
            name = rng.choices(self.users, cum_weights=self.user_cum)[0]
            if rng.random() < 0.015:
                return "GET", f"/users/{name}{rng.randrange(10, 99)}", 404, 3180
            return "GET", f"/users/{name}", 200, int(rng.lognormvariate(10.0, 0.35))
        if r < 0.58:
            pid = max(1, 9_870_000 - int(rng.paretovariate(0.6) * 3))
            if rng.random() < 0.05:  # deleted
                return "GET", f"/posts/{pid}", 404, 3180
            return "GET", f"/posts/{pid}", 200, int(rng.lognormvariate(9.5, 0.4))
        if r < 0.68:
            return "GET", "/", 200, int(rng.lognormvariate(10.3, 0.2))
        if r < 0.88:
            return self._timeline()
        if r < 0.94:
            query = "+".join(rng.choices(WORDS, k=rng.randrange(1, 4)))
            return "GET", f"/search?q={query}", 200, int(rng.lognormvariate(9.8, 0.4))
        if r < 0.97:
            ok = rng.random() < 0.8
            return "POST", "/login", 302 if ok else 200, 0 if ok else 4310
        return ("GET", "/login", 200, 4310) if r < 0.99 else ("GET", "/notifications", 200, 9120)

    def _timeline(self) -> tuple[str, str, int, int]:
        since = 9_870_000 - self.rng.randrange(50_000)
        if self.rng.random() < 0.2:
            return "GET", f"/api/v1/timeline?since_id={since}", 304, 0
        return "GET", f"/api/v1/timeline?since_id={since}", 200, int(self.rng.lognormvariate(8.8, 0.7))  # fmt: skip

    def _browser(self, who: Client, t: float, stressed: bool) -> list[Event]:
        """A page view, then half the time the assets it needs (mostly revalidated: 304)."""
        rng = self.rng
        method, path, status, size = self._page()
        if stressed and rng.random() < 0.03:  # the origin strains during the flood
            status, size = rng.choice(((503, 197), (504, 167), (499, 0)))
        took = rng.lognormvariate(-3.2, 0.6) * (6.0 if stressed else 1.0)
        out = [(t, t, who, f"{method} {path} {who.proto}", status, size, rng.choice(REFERERS), took)]  # fmt: skip
        if status != 200 or path.startswith("/api") or rng.random() < 0.5:
            return out
        page = f"https://{HOST}{path}"
        fresh = rng.random() < 0.2
        for asset, asset_size in rng.sample(ASSETS, rng.randrange(2, 6)):
            t += 0.02 + 0.15 * rng.random()
            code, sent = (200, asset_size) if fresh else (304, 0)
            out.append((t, t, who, f"GET {asset} {who.proto}", code, sent, page, 0.004 * rng.random()))  # fmt: skip
        return out

    def _app(self, who: Client, t: float, stressed: bool) -> list[Event]:
        method, path, status, size = self._timeline() if self.rng.random() < 0.8 else ("GET", "/api/v1/notifications", 200, 2210)  # fmt: skip
        return [(t, t, who, f"{method} {path} {who.proto}", status, size, "-", self.rng.lognormvariate(-3.5, 0.5))]  # fmt: skip

    def _crawler(self, who: Client, t: float, stressed: bool) -> list[Event]:
        rng = self.rng
        if rng.random() < 0.01:
            return [(t, t, who, f"GET /robots.txt {who.proto}", 200, 412, "-", 0.001)]
        method, path, status, size = self._page()
        if method != "GET" or path.startswith(("/api", "/login", "/notifications")):
            path, status, size = f"/users/{rng.choice(self.users)}", 200, 21_950
        return [(t, t, who, f"GET {path} {who.proto}", status, size, "-", rng.lognormvariate(-3.0, 0.5))]  # fmt: skip

    def _scanner(self, who: Client, t: float, stressed: bool) -> list[Event]:
        """Probes come in bursts of a dozen or so, a fraction of a second apart."""
        rng = self.rng
        out: list[Event] = []
        for path in rng.sample(SCANS, rng.randrange(6, 14)):
            t += 0.05 + 0.3 * rng.random()
            out.append((t, t, who, f"GET {path} HTTP/1.1", 404, 162, "-", 0.001))
        return out


_VISITS: dict[str, Callable[[_Generator, Client, float, bool], list[Event]]] = {
    "browser": _Generator._browser,
    "app": _Generator._app,
    "crawler": _Generator._crawler,
    "scanner": _Generator._scanner,
}
# (status, bytes, seconds): the origin serves most, sheds some; 0 bytes for 200 means "a page".
_FLOOD_OUTCOMES = ((200, 0, 0.9),) * 14 + ((499, 0, 2.5),) * 2 + ((502, 157, 0.3), (503, 197, 0.01), (504, 167, 60.0))  # fmt: skip


def _stamps(fmt: str) -> list[str]:
    spec = "%d/%b/%Y:%H:%M:%S +0000" if fmt == "combined" else "%Y-%m-%dT%H:%M:%S+00:00"
    return [(START + timedelta(seconds=s)).strftime(spec) for s in range(DURATION + 30)]


def _esc(text: str) -> str:
    """nginx `escape=json`: quote, backslash and control bytes only."""
    return json.dumps(text, ensure_ascii=False)[1:-1] if '"' in text or "\\" in text else text


def _render(fmt: str) -> Callable[[list[Event]], str]:
    stamps = _stamps(fmt)
    if fmt == "combined":
        return lambda batch: "".join(
            f'{who.addr} - - [{stamps[int(t)]}] "{req}" {code} {size} "{ref}" "{who.agent}"\n'
            for _, t, who, req, code, size, ref, _ in batch
        )
    return lambda batch: "".join(
        f'{{"remote_addr":"{who.addr}","time_iso8601":"{stamps[int(t)]}","request":"{_esc(req)}",'
        f'"status":{code},"body_bytes_sent":{size},"http_user_agent":"{_esc(who.agent)}",'
        f'"request_time":{took:.3f},"host":"{HOST}"}}\n'
        for _, t, who, req, code, size, _, took in batch
    )


def _write(path: str | Path, lines: int, seed: int, gzip: bool, attack: bool, fmt: str) -> Truth:
    if lines < 100:
        raise ValueError(f"lines must be at least 100, not {lines} (the operator's value)")
    gen = _Generator(lines, seed, attack)
    render = _render(fmt)
    with open(path, "wb") as raw:
        # mtime=0: the same seed gives the same bytes, compressed too
        packed = gzip_module.GzipFile("", "wb", fileobj=raw, mtime=0) if gzip else None
        with io.TextIOWrapper(packed or raw, encoding="ascii", newline="\n") as out:
            for batch in gen.events():
                out.write(render(batch))

    def iso(offset: int) -> str:
        return (START + timedelta(seconds=offset)).isoformat()

    return Truth(
        str(path), fmt, seed, lines, sum(gen.flood), len(gen.flood_seen), len(gen.clients),
        tuple(gen.scanners), TARGET, iso(0), iso(DURATION),
        iso(FLOOD_OFFSET) if attack else "", iso(FLOOD_OFFSET + FLOOD_SECONDS) if attack else "",
        gen.late,
    )  # fmt: skip


def write_log(path: str | Path, lines: int = DEFAULT_LINES, seed: int = 7, gzip: bool = False, attack: bool = True) -> Truth:  # fmt: skip
    """Write an nginx "combined" access log; see the module's docstring for what it holds."""
    return _write(path, lines, seed, gzip, attack, "combined")


def write_json_log(path: str | Path, lines: int = DEFAULT_LINES, seed: int = 7, gzip: bool = False, attack: bool = True) -> Truth:  # fmt: skip
    """The same traffic as nginx JSON lines (log_format escape=json)."""
    return _write(path, lines, seed, gzip, attack, "json")


def roles(lines: int = DEFAULT_LINES, seed: int = 7, attack: bool = True) -> dict[str, str]:
    """Who is behind each address of the log these arguments write: bot (the flood), browser,
    app, crawler or scanner. Cheap: no line is generated."""
    gen = _Generator(lines, seed, attack)
    found = {client.addr: client.kind for client in gen.clients}
    found.update((bot.addr, "bot") for bot in gen.bots)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="file to write")
    parser.add_argument("--lines", type=int, default=DEFAULT_LINES)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="nginx JSON lines instead of combined")
    parser.add_argument("--gzip", action="store_true", help="gzip the output")
    parser.add_argument("--no-attack", action="store_true", help="baseline traffic only")
    args = parser.parse_args()
    began = time.perf_counter()
    writer = write_json_log if args.json else write_log
    truth = writer(args.out, args.lines, args.seed, args.gzip, not args.no_attack)
    took = time.perf_counter() - began
    Path(f"{args.out}.truth.json").write_text(json.dumps(asdict(truth), indent=1) + "\n")
    print(f"{args.out}: {truth.lines:,} lines in {took:.1f} s; flood {truth.flood_lines:,} lines "
          f"from {truth.flood_sources:,} addresses on {truth.target}, {truth.flood_start} to {truth.flood_end}")  # fmt: skip


if __name__ == "__main__":
    main()
