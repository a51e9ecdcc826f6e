"""Offline analysis of one nginx access log: seawall beside fail2ban-regex and CrowdSec.

Run: python3 bench/analyze_peers.py [--log FILE] [--lines 1300000] [--seed 7]
         [--python PATH] [--only seawall,fail2ban,crowdsec] [--timeout 1800]
         [--crowdsec-timeout 900] [--no-jail] [--no-netns] [--out results.json] [--keep]

Target (DESIGN.md §6): offline analysis, detection included, >= 500,000 lines/s.

Without --log, the log is bench/logs.py's 1.3 M-line hour of a social site with a 10-minute
flood from 20,000 addresses on /users/cyxymu, kept in the temporary directory under bench-logs/ (with a JSON-lines
twin) and reused while its sidecar `.truth.json` matches --lines and --seed. Each tool runs
once on the same file. Wall time and CPU time (user + system of the tool and its children)
are measured around the process; lines/s is lines over wall time, lines/CPU s over CPU
time (steadier when other work shares the machine: the 1-minute load average before each
run is in the table).

  seawall   `PY -m seawall.cli analyze FILE --json OUT` (PY from --python), its incidents.
  fail2ban  fail2ban-regex with an "http flood" filter that matches every request with the
            client as <HOST> (the shape operators copy for such jails), and with Debian's
            nginx-botsearch filter; matched lines from its summary. Unless --no-jail, a
            second, untimed pass prints `<time> <ip>` per match and replays the usual jails
            (http flood: maxretry 300 in findtime 300 s; nginx-botsearch: 2 in 600 s) to
            show whom they would ban: flood sources or legitimate clients.
  crowdsec  Debian's crowdsec in time-machine mode (`-dsn file://FILE -type nginx -no-api`)
            with the HTTP scenarios the package enables, feeding a local API started for the
            run, all from a private config, database and data directory. Debian ships the
            data file of http-path-traversal-probing under another name, so the private
            data directory also carries it under the name the scenario reads (without it
            the scenario logs a 20 KB error per line). A run past --crowdsec-timeout is
            stopped; the lines it had read then come from its Prometheus counters.

Safety: run as root with iproute2, every tool runs in a fresh network namespace holding only
a loopback interface (--no-netns turns that off). Nothing here needs the network.
(Over 400 lines: three tools' harnesses live in one file so that one run measures them side
by side on the same log.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import logs

REPO = Path(__file__).resolve().parent.parent
LOG_DIR = Path(tempfile.gettempdir()) / "bench-logs"
TARGET = 500_000
FLOOD_FILTER = """[Definition]
failregex = ^<HOST> -.*"(GET|POST|HEAD).*HTTP.*"
ignoreregex =
datepattern = ^[^\\[]*\\[(%%d/%%b/%%Y:%%H:%%M:%%S %%z)\\]
"""
JAILS = {"http-flood": (300, 300.0), "nginx-botsearch": (2, 600.0)}  # maxretry, findtime
SUMMARY = re.compile(r"Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed")
CS_CONFIG = """common: {{daemonize: false, log_media: file, log_level: info, log_dir: {work}/}}
config_paths:
  config_dir: /etc/crowdsec/
  data_dir: {work}/data/
  simulation_path: /etc/crowdsec/simulation.yaml
  hub_dir: /var/lib/crowdsec/hub/
  index_path: /var/lib/crowdsec/hub/.index.json
  notification_dir: {work}/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service: {{acquisition_path: {work}/acquis.yaml, parser_routines: 1}}
cscli: {{output: human, color: "no"}}
db_config: {{type: sqlite, db_path: {work}/crowdsec.db, use_wal: true, log_level: info}}
api:
  client: {{credentials_path: {work}/local_api_credentials.yaml}}
  server: {{listen_uri: "127.0.0.1:{api}", profiles_path: /etc/crowdsec/profiles.yaml}}
prometheus: {{enabled: {metrics_on}, level: full, listen_addr: 127.0.0.1, listen_port: {port}}}
"""


@dataclass(slots=True)
class Result:
    tool: str
    variant: str
    command: str = ""
    wall: float = 0.0  # seconds until it finished, or until it was stopped
    cpu: float = 0.0
    lines: int | None = None  # lines it got through
    complete: bool = True
    found: str = ""
    skipped: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return self.lines / self.wall if self.lines and self.wall else None


@contextmanager
def netns(wanted: bool) -> Iterator[list[str]]:
    """A command prefix that runs in a new namespace with loopback only, else []."""
    name = f"seawall-bench-{os.getpid()}"
    if not wanted or os.geteuid() != 0 or shutil.which("ip") is None:
        yield []
        return
    made = subprocess.run(["ip", "netns", "add", name], check=False, capture_output=True)
    if made.returncode != 0:
        print(f"note: no network namespace ({made.stderr.decode().strip()}); tools run as they are")
        yield []
        return
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield ["ip", "netns", "exec", name]
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def count_lines(log: Path) -> int:
    with open(log, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


@dataclass(slots=True)
class Bench:
    log: Path
    work: Path
    prefix: list[str]  # runs a command in the namespace
    roles: dict[str, str]  # address -> bot, browser, app, crawler, scanner
    timeout: float

    def run(self, result: Result, cmd: list[str], out: str, timeout: float | None = None, watch: Callable[[], None] | None = None, env: dict[str, str] | None = None) -> int | None:  # fmt: skip
        """Run one tool alone; its CPU time is the rusage of the children reaped meanwhile.
        `watch` is called every 20 s and once more before a run past its timeout is stopped."""
        result.command = " ".join(cmd)
        result.extra["load_before"] = round(os.getloadavg()[0], 2)  # others' work skews wall time
        before = os.times()
        began = time.perf_counter()
        deadline = began + (timeout or self.timeout)
        with open(self.work / out, "w") as sink:
            proc = subprocess.Popen(self.prefix + cmd, stdout=sink, stderr=subprocess.STDOUT, env=env)  # fmt: skip
            code = None
            while code is None and time.perf_counter() < deadline:
                try:
                    code = proc.wait(min(20.0, max(0.0, deadline - time.perf_counter())))
                except subprocess.TimeoutExpired:
                    if watch is not None:
                        watch()
            result.wall = time.perf_counter() - began
            if code is None:
                result.complete = False
                proc.terminate()  # crowdsec sends its pending alerts on SIGTERM
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        after = os.times()
        result.cpu = after.children_user - before.children_user
        result.cpu += after.children_system - before.children_system
        return code

    def kinds(self, addresses: Any) -> str:
        """'3 bot, 2 browser': who the addresses are in the generated log."""
        if not self.roles:
            return "roles unknown"
        counted = Counter(self.roles.get(a, "unknown") for a in addresses)
        return ", ".join(f"{n:,} {kind}" for kind, n in counted.most_common()) or "none"

    # ---- seawall ---------------------------------------------------------------------

    def seawall(self, python: str) -> Result:
        out = self.work / "seawall.json"
        result = Result("seawall", "analyze")
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{os.environ.get('PYTHONPATH', '')}"}
        probe = [python, "-m", "seawall.cli", "analyze", "--help"]
        got = subprocess.run(probe, check=False, capture_output=True, text=True, env=env)
        if got.returncode != 0:
            said = (got.stderr or got.stdout).strip().splitlines() or [f"exit {got.returncode}"]
            result.skipped = f"`seawall analyze` is not available to {python}: {said[-1]}"
            return result
        cmd = [python, "-m", "seawall.cli", "analyze", str(self.log), "--json", str(out)]
        code = self.run(result, cmd, "seawall.out", env=env)
        if code != 0 or not out.exists():
            result.found = f"failed (exit {code}): {self.tail('seawall.out')}"
            return result
        report = json.loads(out.read_text())
        result.lines = int(report.get("lines", 0)) + int(report.get("malformed", 0))
        result.extra.update({key: report.get(key) for key in ("lines", "malformed", "lines_per_s")})
        incidents = report.get("incidents", [])
        vectors = Counter(v for inc in incidents for v in inc.get("vectors", []))
        biggest = sorted(incidents, key=lambda i: -float(i.get("attack_requests") or 0))[:3]
        result.found = "; ".join(
            [
                f"{len(incidents)} incidents (by vector: {dict(vectors)})",
                *map(self.incident, biggest),
            ]
        )
        return result

    def incident(self, inc: dict[str, Any]) -> str:
        """One incident in a line: target, span, size and who its sampled sources are."""

        def clock(t: Any) -> str:
            ok = isinstance(t, int | float)
            return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S") if ok else str(t)

        src = inc.get("sources") or {}
        sample = src.get("sample") or []
        return (
            f"{inc.get('targets') or '-'} {clock(inc.get('start'))}-{clock(inc.get('end'))}"
            f" {inc.get('vectors')}, {inc.get('attack_requests')} requests, peak"
            f" {inc.get('peak_rps')}/s, ~{src.get('estimated_addresses', src.get('addresses'))}"
            f" addresses in {src.get('countries')} countries and {src.get('asns')} ASNs"
            f" (sample of {len(sample)}: {self.kinds(sample)})"
        )

    def tail(self, out: str) -> str:
        text = (self.work / out).read_text(errors="replace").strip().splitlines()
        return text[-1][:300] if text else "no output"

    # ---- fail2ban --------------------------------------------------------------------

    def fail2ban(self, jail: bool) -> list[Result]:
        if shutil.which("fail2ban-regex") is None:
            why = "fail2ban-regex not found (apt-get install -y fail2ban)"
            return [Result("fail2ban-regex", "-", skipped=why)]
        flood = self.work / "http-flood.conf"
        flood.write_text(FLOOD_FILTER)
        results = []
        for name, filt in (("http-flood", str(flood)), ("nginx-botsearch", "nginx-botsearch")):
            result = Result("fail2ban-regex", name)
            cmd = ["fail2ban-regex", "--print-no-missed", "--print-no-ignored", str(self.log), filt]
            self.run(result, cmd, f"f2b-{name}.out")
            text = (self.work / f"f2b-{name}.out").read_text(errors="replace")
            summary, took = SUMMARY.search(text), re.search(r"processed in ([\d.]+) sec", text)
            if summary is None:
                result.found = f"no summary: {self.tail(f'f2b-{name}.out')}"
            else:
                result.lines = int(summary[1])
                result.found = f"{int(summary[3]):,} lines matched"
                result.extra.update(matched=int(summary[3]), own_s=took and float(took[1]))
            if jail and result.complete:
                result.found += "; " + self.jail(name, filt, result)
            results.append(result)
        return results

    def jail(self, name: str, filt: str, result: Result) -> str:
        """Replay a jail over every match (untimed): ban at maxretry hits within findtime."""
        maxretry, findtime = JAILS[name]
        cmd = [*self.prefix, "fail2ban-regex", "-o", "<time> <ip>", str(self.log), filt]
        hits: dict[str, deque[float]] = {}
        banned: set[str] = set()
        began = time.perf_counter()
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:  # fmt: skip
            assert proc.stdout is not None
            for row in proc.stdout:
                stamp, _, addr = row.strip().partition(" ")
                if addr in banned or not stamp[:1].isdigit():
                    continue
                window = hits.setdefault(addr, deque())
                window.append(float(stamp))
                while window[0] <= window[-1] - findtime:
                    window.popleft()
                if len(window) >= maxretry:
                    banned.add(addr)
                    del hits[addr]
        result.extra["jail_pass_s"] = round(time.perf_counter() - began, 1)
        result.extra["banned"] = sorted(banned)
        return (
            f"its jail (maxretry {maxretry} in {findtime:.0f} s) would ban "
            f"{len(banned):,} addresses: {self.kinds(banned)}"
        )

    # ---- CrowdSec --------------------------------------------------------------------

    def crowdsec(self, timeout: float) -> Result:
        result = Result("crowdsec", "-")
        if shutil.which("crowdsec") is None or shutil.which("cscli") is None:
            result.skipped = "crowdsec is not installed (apt-get install -y crowdsec)"
            return result
        http = [p for p in Path("/etc/crowdsec/scenarios").glob("*.yaml") if "ssh" not in p.stem]
        result.variant = f"{len(http)} HTTP scenarios"
        agent, lapi, port = self.crowdsec_setup(self.work / "crowdsec")
        cfg = ["-c", str(agent)]
        creds = str(agent.parent / "local_api_credentials.yaml")
        add = ["cscli", *cfg, "machines", "add", "bench", "-f", creds, "--password"]
        subprocess.run([*self.prefix, *add, os.urandom(12).hex()], check=True, capture_output=True)
        with open(agent.parent / "lapi.out", "w") as api_out:
            api_cmd = [*self.prefix, "crowdsec", "-c", str(lapi), "-no-cs", "-no-capi"]
            api = subprocess.Popen(api_cmd, stdout=api_out, stderr=subprocess.STDOUT)
            try:
                self.await_api(agent.parent / "crowdsec.log")
                cmd = ["crowdsec", *cfg, "-dsn", f"file://{self.log}", "-type", "nginx", "-no-api"]
                reached: list[int] = []  # lines read, as last seen in its counters

                def watch() -> None:
                    seen = self.scrape(port)
                    reached[:] = [seen] if seen is not None else reached

                code = self.run(result, [*cmd, "-no-capi"], "crowdsec/agent.out", timeout, watch)
                result.lines = count_lines(self.log) if code == 0 else next(iter(reached), None)
                result.found = self.alerts(cfg, result)
                if code not in (0, None):  # died: killed from outside, or crashed
                    result.complete = False
                    result.found = f"exited with {code}, see its output; " + result.found
            finally:
                api.terminate()
                api.wait(30)
        return result

    def crowdsec_setup(self, work: Path) -> tuple[Path, Path, int]:
        """Private configs (the agent's and the local API's), data directory and database."""
        data = work / "data"
        data.mkdir(parents=True)
        (work / "notifications").mkdir()
        (work / "acquis.yaml").write_text("")
        for source in Path("/usr/share/crowdsec/data").iterdir():
            shutil.copy(source, data / source.name)
        if not (data / "http_path_traversal.txt").exists():
            shutil.copy(data / "path_traversal.txt", data / "http_path_traversal.txt")
        api, port = free_port(), free_port()
        agent, lapi = work / "agent.yaml", work / "lapi.yaml"
        agent.write_text(CS_CONFIG.format(work=work, api=api, port=port, metrics_on="true"))
        lapi.write_text(CS_CONFIG.format(work=work, api=api, port=port, metrics_on="false"))
        return agent, lapi, port

    @staticmethod
    def await_api(api_log: Path) -> None:
        for _ in range(300):
            if api_log.exists() and "Local API listening" in api_log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"crowdsec's local API did not start: see {api_log}")

    def scrape(self, port: int) -> int | None:
        """Lines the agent has read, from its Prometheus counters (inside the namespace)."""
        fetch = f"import urllib.request as u; print(u.urlopen('http://127.0.0.1:{port}/metrics', timeout=10).read().decode())"  # fmt: skip
        got = subprocess.run([*self.prefix, sys.executable, "-c", fetch], check=False, capture_output=True, text=True)  # fmt: skip
        hits = re.findall(r"^cs_filesource_hits_total\{[^}]*\} (\S+)$", got.stdout, re.M)
        return int(sum(float(h) for h in hits)) if hits else None

    def alerts(self, cfg: list[str], result: Result) -> str:
        listing = [*self.prefix, "cscli", *cfg, "alerts", "list", "-o", "json", "-l", "0"]
        got = subprocess.run(listing, check=False, capture_output=True, text=True)
        try:
            alerts = json.loads(got.stdout or "[]") if got.returncode == 0 else None
        except json.JSONDecodeError:
            alerts = None
        if alerts is None:  # no local API to ask (it died?): the agent logs every overflow
            said = (self.work / "crowdsec" / "agent.out").read_text(errors="replace")
            alerts = [
                {"scenario": scenario, "source": {"value": addr}}
                for addr, scenario in re.findall(r"Ip (\S+) performed '([^']+)'", said)
            ]
            result.extra["alerts_from"] = "the agent's log (cscli could not list them)"
        by_scenario = Counter(a.get("scenario", "?") for a in alerts or [])
        sources = {(a.get("source") or {}).get("value") for a in alerts or []} - {None}
        result.extra.update(alerts=len(alerts), by_scenario=dict(by_scenario))
        result.extra["sources"] = sorted(sources)
        scenarios = ", ".join(f"{s} {n}" for s, n in by_scenario.most_common())
        return f"{len(alerts)} alerts from {len(sources)} addresses ({self.kinds(sources)})" + (
            f": {scenarios}" if scenarios else ""
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- the log, the machine, the table ---------------------------------------------------


def prepare_log(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The log to read and what it holds (empty for a foreign log without a sidecar)."""
    if args.log:
        log = Path(args.log).resolve()
    else:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = LOG_DIR / f"access-{args.lines / 1e6:g}M.log"
        twins = ((log, logs.write_log), (log.with_suffix(".json.log"), logs.write_json_log))
        for path, writer in twins:
            sidecar = Path(f"{path}.truth.json")
            held = json.loads(sidecar.read_text()) if sidecar.exists() and path.exists() else {}
            if held.get("lines") != args.lines or held.get("seed") != args.seed:
                began = time.perf_counter()
                sidecar.write_text(json.dumps(asdict(writer(path, args.lines, args.seed))) + "\n")
                print(f"wrote {path} in {time.perf_counter() - began:.1f} s")
    sidecar = Path(f"{log}.truth.json")
    return log, json.loads(sidecar.read_text()) if sidecar.exists() else {}


def version(cmd: list[str]) -> str:
    try:
        got = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    said = (got.stdout or got.stderr).strip().splitlines()
    return said[0].split("version: ")[-1] if said else "?"  # crowdsec prefixes a log stamp


def machine(python: str) -> dict[str, str]:
    with open("/proc/cpuinfo") as info:
        models = [row.split(":", 1)[1].strip() for row in info if row.startswith("model name")]
    seawall_py = "import sys, platform; print(sys.executable, platform.python_version())"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "cpu": f"{models[0] if models else 'unknown'}, {os.cpu_count()} cores",
        "bench python": f"{sys.executable} {platform.python_version()}",
        "seawall python": version([python, "-c", seawall_py]),
        "fail2ban": version(["fail2ban-regex", "--version"]),
        "crowdsec": version(["crowdsec", "-version"]),
    }


def table(results: list[Result], total: int) -> str:
    base = next((r.rate for r in results if r.tool == "seawall" and r.rate), None)
    rows = [
        "| tool | variant | wall s | CPU s | lines | lines/s | lines/CPU s | seawall / tool | load | found |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if r.skipped:
            rows.append(f"| {r.tool} | {r.variant} |" + " - |" * 7 + f" skipped: {r.skipped} |")
            continue
        rate = f"{r.rate:,.0f}" if r.rate else "-"
        if not r.complete:  # stopped: a measured rate over the part it read, or a bound
            rate = f"~{rate} (stopped)" if r.rate else f"< {total / r.wall:,.0f} (stopped)"
        ratio = f"{base / r.rate:,.1f} x" if base and r.rate else "-"
        lines = f"{r.lines:,}" if r.lines is not None else "?"
        per_cpu = f"{r.lines / r.cpu:,.0f}" if r.lines and r.cpu else "-"
        load = str(r.extra.get("load_before", "-"))
        cells = [r.tool, r.variant, f"{r.wall:,.1f}", f"{r.cpu:,.1f}", lines, rate, per_cpu, ratio]
        cells += [load, r.found]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def report(log: Path, truth: dict[str, Any], results: list[Result], args: argparse.Namespace) -> None:  # fmt: skip
    total = truth.get("lines") or count_lines(log)
    print(f"\nlog: {log}, {total:,} lines")
    if truth:
        print(
            f"truth: {truth['start']} to {truth['end']}; flood of {truth['flood_lines']:,} lines"
            f" from {truth['flood_sources']:,} addresses on {truth['target']},"
            f" {truth['flood_start']} to {truth['flood_end']}; scanners {truth['scanners']}"
        )
    print(table(results, total) + "\n")
    seawall = next((r.rate for r in results if r.tool == "seawall" and r.rate), None)
    if seawall:
        print(f"seawall: {seawall:,.0f} lines/s = {seawall / TARGET:.2f} of the target {TARGET:,}")
    for r in results:
        if r.command:
            print(f"- {r.tool} {r.variant}: `{r.command}`")
    where = machine(args.python)
    for key, value in where.items():
        print(f"- {key}: {value}")
    if args.out:
        rows = [asdict(r) | {"lines_per_s": r.rate} for r in results]
        doc = {"log": str(log), "truth": truth, "machine": where, "results": rows}
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", help="an existing nginx combined log (default: generate one)")
    parser.add_argument("--lines", type=int, default=logs.DEFAULT_LINES)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--python", default=sys.executable, help="interpreter for seawall")
    parser.add_argument("--only", default="seawall,fail2ban,crowdsec", help="tools to run")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--crowdsec-timeout", type=float, default=900.0)
    parser.add_argument("--no-jail", action="store_true", help="skip fail2ban's jail replay")
    parser.add_argument("--no-netns", action="store_true", help="run the tools unisolated")
    parser.add_argument("--out", help="also write the results as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the tools' outputs and configs")
    args = parser.parse_args()
    log, truth = prepare_log(args)
    roles = logs.roles(truth["lines"], truth["seed"]) if truth else {}
    only = set(args.only.split(","))
    results: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="analyze-peers-"))
    try:
        with netns(not args.no_netns) as ns:
            bench = Bench(log, work, ns, roles, args.timeout)
            print(f"isolation: {'a network namespace with loopback only' if ns else 'none'}")
            if "seawall" in only:
                results.append(bench.seawall(args.python))
            if "fail2ban" in only:
                results += bench.fail2ban(jail=not args.no_jail)
            if "crowdsec" in only:
                results.append(bench.crowdsec(args.crowdsec_timeout))
    finally:
        if args.keep:
            print(f"outputs kept in {work}")
        else:
            shutil.rmtree(work)
    report(log, truth, results, args)


if __name__ == "__main__":
    main()
