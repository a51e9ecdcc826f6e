"""Account protection beside fail2ban-regex and CrowdSec: one siege, the same input for each.

Run: python3 bench/accounts_peers.py [--seed 7] [--users 20000] [--seconds 3600]
         [--only seawall,fail2ban,crowdsec] [--timeout 900] [--out FILE] [--keep]

The input, the same bytes for the same --seed, --users and --seconds:
- --seconds of normal sign-ins by --users people (tests/authsim.py: typos, forgotten
  passwords, resets, own lookups; homes, one campus NAT, mobile carriers' pools);
- from 300 s on (a tenth of a shorter period), a siege of 12 high-risk accounts by 400
  addresses worldwide: each address is active 10 to 40 minutes and guesses once every 15
  to 40 s (1.5 to 4 a minute), never right; the same addresses look the 12 up in the
  recovery form (found), ask for their password resets, and look up 300 made-up
  identifiers (not found). All bots send one client's header order (a script's);
- the 12 owners signing in now and then from home, a few after a typo.
The same events are written as an nginx combined access log with the User-Agent: POST
/login 303 (signed in) or 401 (failed), POST /login/mfa 401, POST /account/lookup 200, POST
/password/reset 202, POST /password/new 303 (a new password set); the app's own session
record is no request and has no line. As in real access logs, no line names the account.

  seawall   AccountEngine in this process, one tick per second of event time as the edge
            runs it. Timed: observe and tick only (wall and process CPU); peak RSS of the
            process (input included; the input's own peak is given beside it). Campaigns
            against the truth, and the step-up and throttle rules in force at the end.
  fail2ban  fail2ban-regex with a filter for failed sign-ins (`POST /login 401`, with the
            second factor's /login/mfa), timed, then analyze_peers' untimed jail replay at
            fail2ban's defaults (maxretry 5 in findtime 600 s).
  crowdsec  analyze_peers' CrowdSec run (private config, database and local API), with the
            HTTP scenarios the package enables (LePresidente/http-generic-401-bf counts
            POSTs answered 401; crowdsecurity/http-generic-bf reads nginx's error log for
            basic auth) plus the hub's WordPress brute-force ones, stopped after --timeout.

fail2ban and CrowdSec run in a network namespace with loopback only (as analyze_peers
does). seawall's events/s covers the whole period's ticks as fast as they go; live, the
edge ticks once a second, so its CPU s per hour of traffic is the load it adds.
"Bots caught" and "people hit" are addresses checked against the truth (seawall's are
those its throttle rules name); a "shared" address carried more than one person's
sign-ins (the campus NAT, the carriers' pools); "people behind" counts the accounts that
signed in from the addresses hit at any time in the period, and "came while banned" those
whose requests from such an address came after its ban began and before it ended
(fail2ban: its jail replayed on the truth with the default bantime of 600 s, checked
against the replay of fail2ban-regex's own matches; CrowdSec: from each overflow's time in its
log, with the 4 h ban of its packaged profile).
Results: a table on standard output, JSON under bench/results/ (or --out).
(Over 400 lines: the input, three tools' runs and the judging live in one file so that one
run measures them side by side on the same input, as analyze_peers does.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import analyze_peers as peers
import logs

from seawall.accounts.engine import AccountEngine, AccountSettings
from seawall.accounts.events import AuthEvent, Campaign, EventKind, Result
from seawall.accounts.responses import ResponseSettings
from seawall.core.rules import Ruleset
from seawall.core.verdict import Action

from authsim import fingerprint, hashed, net, normal_events

RESULTS_DIR = Path(__file__).resolve().parent / "results"
START = logs.START.timestamp()  # 2026-11-24 06:00 UTC, as the other logs
TOOLS = ("seawall", "fail2ban", "crowdsec")
BOTS = 400
TARGETS = tuple(hashed(f"target{i}") for i in range(12))
MADE_UP = 300
SIEGE_AT = 300.0
BOT_FP = hashed("fp:botkit")[:16]
BOT_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/96.0.4664.110 Safari/537.36",
        "Chrome",
    ),
    ("Mozilla/5.0 (Windows NT 6.1; rv:91.0) Gecko/20100101 Firefox/91.0", "Firefox"),
    ("python-requests/2.31.0", "Python Requests"),
)
# first octets bots never take: private and special space, and the simulator's ISPs
RESERVED = frozenset({0, 10, 100, 127, 169, 172, 192, 198, 203, *range(20, 32)})
RESP = ResponseSettings(
    login_routes=frozenset({"login"}),
    recovery_routes=frozenset({"lookup", "reset"}),
    auth_routes=frozenset({"login", "lookup", "reset"}),
    step_up="header",
)
# kind -> (path, status, body bytes); app-only records have no request line
ROUTES = {
    EventKind.LOGIN_SUCCEEDED: ("/login", 303, 0),
    EventKind.LOGIN_FAILED: ("/login", 401, 2143),
    EventKind.MFA_FAILED: ("/login/mfa", 401, 1877),
    EventKind.RECOVERY_LOOKUP: ("/account/lookup", 200, 612),
    EventKind.PASSWORD_RESET_REQUESTED: ("/password/reset", 202, 388),
    EventKind.CREDENTIALS_CHANGED: ("/password/new", 303, 0),
}
SIGN_INS = frozenset({EventKind.LOGIN_SUCCEEDED, EventKind.LOGIN_FAILED, EventKind.MFA_FAILED})
JAIL = "login-failures"
peers.JAILS[JAIL] = (5, 600.0)  # fail2ban's defaults; its jail replay looks the name up there
LOGIN_FILTER = r"""[Definition]
failregex = ^<HOST> \S+ \S+ \[[^\]]*\] "POST /login(?:/mfa)?(?:\?\S*)? HTTP/[0-9.]+" 401\s
ignoreregex =
datepattern = ^[^\[]*\[(%%d/%%b/%%Y:%%H:%%M:%%S %%z)\]
"""
F2B_BANTIME = 600.0  # fail2ban's default bantime
CS_BANTIME = 4 * 3600.0  # the ban in CrowdSec's packaged profiles.yaml
CS_OVERFLOW = re.compile(r"Ip (\S+) performed '[^']+' \(.*?\) at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
HUB_SCENARIOS = Path("/usr/share/crowdsec/hub/scenarios/crowdsecurity")
EXTRA_SCENARIOS = ("http-bf-wordpress_bf.yaml", "http-bf-wordpress_bf_xmlrpc.yaml")


# ---- the input --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Truth:
    bots: frozenset[str]
    roles: dict[str, str]  # address -> bot | person | person (shared address)
    people_at: dict[str, frozenset[str]]  # a person's address -> accounts signing in there
    normal_accounts: int
    events: dict[str, int] = field(default_factory=dict)  # events by part


def bot_addresses(rng: random.Random) -> list[str]:
    octets = [o for o in range(1, 224) if o not in RESERVED]
    out: dict[str, None] = {}
    for _ in range(BOTS * 10):  # repeats among 2**30 addresses are rare
        out[f"{rng.choice(octets)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(2, 255)}"] = None  # fmt: skip
        if len(out) == BOTS:
            break
    return list(out)


def bot_event(
    eid: str, t: float, kind: EventKind, ident: str, addr: str, agent: tuple[str, str], res: Result
) -> AuthEvent:
    ua, family = agent
    return AuthEvent(eid, t, kind, ident, addr, net(addr), ua, family, BOT_FP, "", res)


def siege(rng: random.Random, bots: list[str], begin: float, end: float) -> list[AuthEvent]:
    """Slow guessing on the 12 from every bot, then the harvest from the same bots."""
    agents = {b: rng.choice(BOT_AGENTS) for b in bots}
    out: list[AuthEvent] = []
    for b in bots:
        t = rng.uniform(begin, max(end - 600.0, (begin + end) / 2))  # staggered starts
        stop = min(end, t + rng.uniform(600.0, 2400.0))
        while t < stop:  # at least 15 s a step: bounded
            target, failed = rng.choice(TARGETS), Result.FAILED
            out.append(bot_event(f"g{len(out)}", t, EventKind.LOGIN_FAILED, target, b, agents[b], failed))  # fmt: skip
            t += rng.uniform(15.0, 40.0)
    asks = [(hashed(f"made-up{i}@example.org"), EventKind.RECOVERY_LOOKUP, Result.NOT_FOUND) for i in range(MADE_UP)]  # fmt: skip
    for target in TARGETS:
        asks += [(target, EventKind.RECOVERY_LOOKUP, Result.FOUND)] * rng.randint(6, 10)
        asks += [(target, EventKind.PASSWORD_RESET_REQUESTED, Result.FOUND)] * rng.randint(1, 3)
    for k, (ident, kind, res) in enumerate(asks):
        b = rng.choice(bots)
        out.append(bot_event(f"h{k}", rng.uniform(begin, end), kind, ident, b, agents[b], res))
    return out


def owners(rng: random.Random, start: float, end: float) -> list[AuthEvent]:
    """The 12 targets' owners signing in from home once to three times, a few after a typo."""
    out: list[AuthEvent] = []
    fp, ua = fingerprint("safari-mac"), "Mozilla/5.0 (Safari)"
    for i, account in enumerate(TARGETS):
        home = f"{rng.randint(20, 31)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(2, 250)}"  # fmt: skip
        me = (account, home, net(home), ua, "Safari", fp, hashed(f"target{i}:laptop"))
        for _ in range(rng.randint(1, 3)):
            t = rng.uniform(start, max(start, end - 60.0))
            if rng.random() < 0.3:
                out.append(AuthEvent(f"o{len(out)}", t, EventKind.LOGIN_FAILED, *me, Result.FAILED))  # fmt: skip
                t += rng.uniform(5.0, 20.0)
            out.append(AuthEvent(f"o{len(out)}", t, EventKind.LOGIN_SUCCEEDED, *me, Result.OK))
    return out


def build(seed: int, users: int, seconds: float) -> tuple[list[AuthEvent], Truth]:
    end = START + seconds
    rng = random.Random(f"siege:{seed}")
    normal = normal_events(seed, users, seconds, START)
    bots = bot_addresses(rng)
    attack = siege(rng, bots, START + min(SIEGE_AT, seconds / 10), end)
    own = owners(rng, START, end)
    events = sorted([*normal, *attack, *own], key=lambda e: e.time)
    at: dict[str, set[str]] = defaultdict(set)
    for e in (*normal, *own):
        if e.kind in SIGN_INS:
            at[e.source].add(e.account)
    roles = {a: "person (shared address)" if len(accts) > 1 else "person" for a, accts in at.items()}  # fmt: skip
    roles |= {b: "bot" if b not in at else "bot and person" for b in bots}
    parts = {"normal": len(normal), "siege": len(attack), "owners": len(own)}
    normal_accounts = len({e.account for e in normal if e.kind in SIGN_INS})
    people_at = {a: frozenset(accts) for a, accts in at.items()}
    return events, Truth(frozenset(bots), roles, people_at, normal_accounts, parts)


def write_log(path: Path, events: Iterable[AuthEvent], bots: frozenset[str]) -> int:
    """The events as nginx combined lines (no account in them); returns the line count."""
    stamps: dict[int, str] = {}
    lines = 0
    with open(path, "w") as fh:
        for e in events:
            route = ROUTES.get(e.kind)
            if route is None:
                continue
            where, status, size = route
            sec = int(e.time)
            if sec not in stamps:
                stamps[sec] = datetime.fromtimestamp(sec, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
            ref = "-" if e.source in bots else f"https://{logs.HOST}{where}"
            agent = e.user_agent or "-"
            fh.write(f'{e.source} - - [{stamps[sec]}] "POST {where} HTTP/1.1" {status} {size} "{ref}" "{agent}"\n')  # fmt: skip
            lines += 1
    return lines


# ---- seawall ----------------------------------------------------------------------------


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass(slots=True)
class Feed:
    """What one pass of the engine over the input saw, beyond its campaigns."""

    wall: float = 0.0  # observe + tick
    cpu: float = 0.0
    tick_wall: float = 0.0
    rules: Ruleset = field(default_factory=Ruleset)
    added: Counter[str] = field(default_factory=Counter)  # rule kind -> rules written
    first: float | None = None  # seconds after the siege began: first target in a campaign
    all_in: float | None = None  # ... all 12 in targeted campaigns
    seen: set[str] = field(default_factory=set)


def feed(events: list[AuthEvent], seconds: float, siege_at: float) -> tuple[AccountEngine, Feed]:
    """One tick per second of event time, as the edge runs the engine."""
    eng = AccountEngine(AccountSettings(RESP, high_risk=frozenset(TARGETS)))
    out, i, targets = Feed(), 0, set(TARGETS)
    for sec in range(int(seconds)):
        now = START + sec + 1
        w0, c0 = time.perf_counter(), time.process_time()
        while i < len(events) and events[i].time < now:
            eng.observe(events[i])
            i += 1
        w1 = time.perf_counter()
        tick = eng.tick(now, now)
        w2 = time.perf_counter()
        out.cpu += time.process_time() - c0
        out.wall += w2 - w0
        out.tick_wall += w2 - w1
        out.rules = out.rules.apply(tick.delta)
        out.added.update(suffix(r.id) for r in tick.delta.add)
        for c in tick.changed:
            if c.kind == "targeted" and targets & set(c.accounts):
                out.seen |= targets & set(c.accounts)
                if out.first is None:
                    out.first = now - siege_at
                if out.all_in is None and out.seen == targets:
                    out.all_in = now - siege_at
    return eng, out


def suffix(rule_id: str) -> str:
    """A campaign rule's kind: "acct-<hex>-step-up" -> "step-up"."""
    return rule_id.split("-", 2)[-1]


def in_force(rules: Ruleset) -> tuple[set[str], set[str], list[str]]:
    """Accounts under step-up, addresses throttled, and each rule in a few words."""
    stepped: set[str] = set()
    throttled: set[str] = set()
    said = []
    for r in rules.rules:
        if r.match.accounts:
            stepped |= r.match.accounts
        if r.action is Action.THROTTLE and r.match.cidrs:
            throttled |= {c.split("/")[0] for c in r.match.cidrs}
        what = r.mark or r.action.label
        size = f"{len(r.match.accounts)} accounts" if r.match.accounts else ""
        size = size or (f"{len(r.match.cidrs)} addresses" if r.match.cidrs else "")
        size = size or (f"{len(r.match.header_fps)} fingerprints" if r.match.header_fps else "")
        rate = f" at {r.rate:g}/s burst {r.burst}" if r.rate else ""
        said.append(f"{suffix(r.id)}: {what} {size or 'all clients'}{rate}")
    return stepped, throttled, said


def campaign_row(c: Campaign, truth: Truth) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "accounts": len(c.accounts),
        "targets": len(set(c.accounts) & set(TARGETS)),
        "sources": c.sources,
        "top_sources": dict(Counter(truth.roles.get(s, "unknown") for s in c.top_sources)),
        "detectors": list(c.detectors),
        "confidence": round(c.confidence, 3),
        "harvesting": c.harvesting,
    }


def run_seawall(events: list[AuthEvent], truth: Truth, seconds: float) -> peers.Result:
    input_mib = peak_mib()
    siege_at = START + min(SIEGE_AT, seconds / 10)
    eng, fed = feed(events, seconds, siege_at)
    camps = eng.campaigns()
    named = {a for c in camps if c.kind == "targeted" for a in c.accounts}
    hit, others = named & set(TARGETS), named - set(TARGETS)
    stepped, throttled, rules = in_force(fed.rules)
    caught = split(throttled, truth)
    result = peers.Result("seawall", "AccountEngine", "in process", fed.wall, fed.cpu, eng.events)
    result.extra |= {
        "peak_rss_mib": round(peak_mib(), 1),
        "input_peak_rss_mib": round(input_mib, 1),
        "tick_wall_s": round(fed.tick_wall, 2),
        "observe_events_per_s": round(eng.events / max(1e-9, fed.wall - fed.tick_wall)),
        "campaigns": [campaign_row(c, truth) for c in camps],
        "precision": round(len(hit) / len(named), 3) if named else None,
        "recall": round(len(hit) / len(TARGETS), 3),
        "normal_accounts_in_targeted": len(others),
        "first_target_after_s": fed.first,
        "all_targets_after_s": fed.all_in,
        "rules_written": dict(fed.added),
        "rules_in_force": rules,
        "step_up_accounts": {
            "targets": len(stepped & set(TARGETS)),
            "others": len(stepped - set(TARGETS)),
        },
        "caught": caught,
    }
    kinds = Counter(c.kind for c in camps)
    p = result.extra["precision"]
    result.found = (
        f"{kinds['targeted']} targeted + {kinds['broad']} broad campaigns; targeted name"
        f" {len(hit)}/{len(TARGETS)} targets + {len(others)} others (precision"
        f" {p if p is not None else '-'}, recall {result.extra['recall']}); first target after"
        f" {fed.first} s, all 12 after {fed.all_in} s; rules: {'; '.join(rules) or 'none'}"
    )
    return result


# ---- the peers --------------------------------------------------------------------------


def split(addresses: Iterable[str], truth: Truth) -> dict[str, int]:
    """Addresses a tool acted on: bots, people (shared ones too), accounts signing in there."""
    got = set(addresses)
    people = got - truth.bots
    behind = set().union(*(truth.people_at.get(a, frozenset()) for a in people))
    return {
        "addresses": len(got),
        "bots": len(got & truth.bots),
        "people": len(people),
        "shared": sum(truth.roles.get(a) == "person (shared address)" for a in people),
        "people_behind": len(behind - set(TARGETS)),
        "owners_behind": len(behind & set(TARGETS)),
    }


class Peers(peers.Bench):
    """analyze_peers' harness with a failed-sign-in jail and two more CrowdSec scenarios."""

    def login_jail(self) -> peers.Result:
        if shutil.which("fail2ban-regex") is None:
            why = "fail2ban-regex not found (apt-get install -y fail2ban)"
            return peers.Result("fail2ban-regex", JAIL, skipped=why)
        filt = self.work / f"{JAIL}.conf"
        filt.write_text(LOGIN_FILTER)
        result = peers.Result("fail2ban-regex", JAIL)
        cmd = ["fail2ban-regex", "--print-no-missed", "--print-no-ignored", str(self.log), str(filt)]  # fmt: skip
        self.run(result, cmd, "f2b-login.out")
        summary = peers.SUMMARY.search((self.work / "f2b-login.out").read_text(errors="replace"))
        if summary is None:
            result.found = f"no summary: {self.tail('f2b-login.out')}"
            return result
        result.lines = int(summary[1])
        result.found = f"{int(summary[3]):,} failed sign-ins matched, no account in any"
        result.extra["matched"] = int(summary[3])
        if result.complete:
            result.found += "; " + self.jail(JAIL, str(filt), result)
        return result

    def crowdsec_setup(self, work: Path) -> tuple[Path, Path, int]:
        """analyze_peers' private setup, with a private copy of the config directory too:
        the packaged scenarios (links resolved) and the hub's WordPress brute-force ones."""
        agent, lapi, port = super().crowdsec_setup(work)
        etc = work / "etc"
        skip = shutil.ignore_patterns("*credentials*")  # none are needed offline
        shutil.copytree("/etc/crowdsec", etc, symlinks=False, ignore=skip)
        for name in EXTRA_SCENARIOS:
            if (HUB_SCENARIOS / name).exists():
                shutil.copy(HUB_SCENARIOS / name, etc / "scenarios" / name)
        for cfg in (agent, lapi):
            cfg.write_text(cfg.read_text().replace("/etc/crowdsec/", f"{etc}/"))
        return agent, lapi, port

    def crowdsec_run(self, timeout: float) -> peers.Result:
        result = self.crowdsec(timeout)
        etc = self.work / "crowdsec" / "etc" / "scenarios"
        if not result.skipped and etc.exists():
            names = sorted(p.stem for p in etc.glob("*.yaml") if "ssh" not in p.stem)
            result.variant = f"{len(names)} HTTP scenario files"
            result.extra["scenario_files"] = names
        if not result.complete:
            result.found = f"stopped after {timeout:.0f} s; " + result.found
        said = self.work / "crowdsec" / "agent.out"
        if said.exists():  # when each address's bucket overflowed, in the log's time
            bans: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for addr, at in CS_OVERFLOW.findall(said.read_text(errors="replace")):
                t = datetime.strptime(at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
                bans[addr].append((t, t + CS_BANTIME))
            result.extra["bans"] = dict(bans)
        return result


# ---- the report -------------------------------------------------------------------------


def jail_bans(
    events: Iterable[AuthEvent], maxretry: int, findtime: float, bantime: float
) -> dict[str, list[tuple[float, float]]]:
    """fail2ban's jail over the truth's failed sign-ins (the lines its filter matches), with
    bans that end: when each address was banned. Hits while banned never reach it."""
    hits: dict[str, deque[float]] = {}
    bans: dict[str, list[tuple[float, float]]] = {}
    for e in events:
        route = ROUTES.get(e.kind)
        if route is None or route[1] != 401:
            continue
        t, spans = float(int(e.time)), bans.get(e.source, [])
        if spans and spans[-1][1] > e.time:
            continue
        window = hits.setdefault(e.source, deque())
        window.append(t)
        while window[0] <= t - findtime:
            window.popleft()
        if len(window) >= maxretry:
            bans.setdefault(e.source, []).append((e.time, e.time + bantime))
            del hits[e.source]
    return bans


def refused(
    events: Iterable[AuthEvent], truth: Truth, bans: dict[str, list[tuple[float, float]]]
) -> dict[str, int]:
    """People (and targeted owners) who came to a banned address while it was banned, after
    the request that got it banned."""
    people: set[str] = set()
    owners: set[str] = set()
    for e in events:
        spans = bans.get(e.source)
        if not spans or e.kind not in ROUTES or e.result is Result.NOT_FOUND:
            continue  # no request line, or a mistyped identifier rather than an account
        if e.source not in truth.bots and any(a < e.time < b for a, b in spans):
            (owners if e.account in TARGETS else people).add(e.account)
    return {"refused_people": len(people), "refused_owners": len(owners)}


def judge(r: peers.Result, truth: Truth, events: list[AuthEvent]) -> None:
    """Bots caught and people hit, for the tools that name addresses."""
    acted = r.extra.get("banned", r.extra.get("sources"))
    if acted is None or "caught" in r.extra:
        return
    r.extra["caught"] = split(acted, truth)
    bans = r.extra.get("bans")
    if "banned" in r.extra:
        bans = jail_bans(events, *peers.JAILS[JAIL], F2B_BANTIME)
        r.extra["replay_agrees"] = set(bans) == set(r.extra["banned"])
    if bans is not None:
        r.extra["caught"] |= refused(events, truth, bans)


def cells(r: peers.Result) -> list[str]:
    if r.skipped:
        return [r.tool, r.variant, "-", "-", "-", "-", f"skipped: {r.skipped}", "-", "-"]
    unit = "events" if r.tool == "seawall" else "lines"
    rate = f"{r.rate:,.0f}" if r.rate else "-"
    rate += "" if r.complete else " (stopped)"
    got = r.extra.get("caught")
    bots = f"{got['bots']} of {BOTS}" if got else "-"
    people = "-"
    if got:
        people = f"{got['people']} addresses ({got['shared']} shared), {got['people_behind']:,} people behind"  # fmt: skip
        if got["owners_behind"]:
            people += f" (+{got['owners_behind']} targeted owners)"
        if "refused_people" in got:
            people += f"; {got['refused_people']:,} people (+{got['refused_owners']} owners) came while banned"  # fmt: skip
    if r.tool == "seawall":
        others = r.extra["normal_accounts_in_targeted"]
        people = f"{others} normal accounts in targeted campaigns; throttled: {people}"
    lines = f"{r.lines:,} {unit}" if r.lines is not None else "?"
    return [r.tool, r.variant, lines, f"{r.wall:,.1f}", f"{r.cpu:,.1f}", rate, r.found, bots, people]  # fmt: skip


def table(results: list[peers.Result]) -> str:
    rows = [
        "| tool | variant | input | wall s | CPU s | per s | found | bots caught | people hit |",
        "|---|---|---:|---:|---:|---:|---|---|---|",
    ]
    return "\n".join(rows + ["| " + " | ".join(cells(r)) + " |" for r in results])


# printed under the table when a tool has them
NOTES = (
    "peak_rss_mib",
    "input_peak_rss_mib",
    "tick_wall_s",
    "observe_events_per_s",
    "by_scenario",
    "replay_agrees",
)


def report(args: argparse.Namespace, results: list[peers.Result], inputs: dict[str, Any]) -> Path:
    print(f"\ninput: {json.dumps(inputs)}")
    print(table(results) + "\n")
    for r in results:
        if r.command:
            print(f"- {r.tool} {r.variant}: `{r.command}`")
        for key in NOTES:
            if key in r.extra:
                print(f"- {r.tool} {key}: {r.extra[key]}")
    where = peers.machine(sys.executable) | {"nproc": str(len(os.sched_getaffinity(0)))}
    for key, value in where.items():
        print(f"- {key}: {value}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else RESULTS_DIR / f"accounts_peers-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [asdict(r) | {"per_s": r.rate} for r in results]
    doc = {"args": vars(args), "input": inputs, "machine": where, "results": rows}
    out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print(f"wrote {out}")
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--users", type=int, default=20_000, help="normal people")
    ap.add_argument("--seconds", type=float, default=3600.0, help="period of event time")
    ap.add_argument("--only", default=",".join(TOOLS), help="tools to run, comma-separated")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per tool's run")
    ap.add_argument("--out", help="JSON results file (default bench/results/accounts_peers-*.json)")
    ap.add_argument("--keep", action="store_true", help="keep the log and the tools' outputs")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    if not only <= set(TOOLS) or args.users < 1 or not 60 <= args.seconds <= 86_400:
        ap.error(f"--only takes {', '.join(TOOLS)}; --users >= 1; 60 <= --seconds <= 86400")
    args.only = sorted(only, key=TOOLS.index)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    began = time.perf_counter()
    events, truth = build(args.seed, args.users, args.seconds)
    inputs: dict[str, Any] = {"events": len(events), **truth.events, "bots": BOTS}
    inputs |= {"targets": len(TARGETS), "made_up": MADE_UP, "normal_accounts": truth.normal_accounts}  # fmt: skip
    print(f"input: {len(events):,} events built in {time.perf_counter() - began:.1f} s")
    results: list[peers.Result] = []
    if "seawall" in args.only:
        results.append(run_seawall(events, truth, args.seconds))
    work = Path(tempfile.mkdtemp(prefix="accounts-peers-"))
    try:
        inputs["log_lines"] = write_log(work / "auth-access.log", events, truth.bots)
        if {"fail2ban", "crowdsec"} & set(args.only):
            with peers.netns(True) as ns:
                print(f"isolation: {'a network namespace with loopback only' if ns else 'none'}")
                bench = Peers(work / "auth-access.log", work, ns, truth.roles, args.timeout)
                if "fail2ban" in args.only:
                    results.append(bench.login_jail())
                if "crowdsec" in args.only:
                    results.append(bench.crowdsec_run(args.timeout))
    finally:
        if args.keep:
            print(f"log and outputs kept in {work}")
        else:
            shutil.rmtree(work)
    for r in results:
        judge(r, truth, events)
    report(args, results, inputs)


if __name__ == "__main__":
    main()
