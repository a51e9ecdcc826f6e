#!/usr/bin/env python3
"""Edge throughput and latency against nginx, side by side, in one run, on loopback only.

What it measures (DESIGN.md §6), every load loop bounded in time:

1. the origin direct: an nginx of its own serving a ~200-byte static page (access log off);
2. nginx as a keep-alive reverse proxy in front of it (access log on, to a file);
3. the seawall edge with 1 and 2 workers, every feature on (routes, a per-address throttle
   that never fires, an allow rule for a CIDR that never matches, trusted proxies, the JSON
   access log to a file);
4. rejecting: nginx ``return 429`` against seawall blocking the client (127.0.0.0/8);
5. the latency each proxy adds at half the edge's capacity, at a fixed request rate
   (``h2load --h1 --rps``; per-request times from its log file), against the origin direct;
6. optionally (``--profile``), py-spy profiles of the 1-worker edge under full load
   (proxying, Python and native frames; blocking), summarised by self time;
7. optionally (``--with-log-off``), the 1-worker edge with its access log off, as a
   diagnostic of what the log costs.

Pinning: each proxy runs on CPU 0 (``taskset -c 0``; 2 workers on ``0,1``), the load
generator on CPU 1, and the origin nginx shares CPU 1 with the load generator. Each
measurement runs ``--runs`` times, interleaved round by round, and the median is reported.
Before each run the script waits (``--quiet-wait``) for other tenants to leave the CPUs.

Besides requests/s it records the CPU time (user and system, from /proc) that each
server's processes spent per request. When a proxy does not saturate its core (nginx
often does not: CPU 1, with wrk and the origin, runs out first), the per-CPU ratio, nginx's
CPU us/request over seawall's, is the better estimate of "the same core".
Results go to a table on standard output and a JSON file under bench/results/.

    python3 bench/edge_throughput.py                       # full run, 10 s per measurement
    python3 bench/edge_throughput.py --duration 2 --runs 1 # smoke run
    python3 bench/edge_throughput.py --python /usr/bin/python3 --python /tmp/venv/bin/python
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

HOST = "127.0.0.1"  # loopback only, always
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
PAGE = (
    b"<!doctype html><html><head><title>seawall bench</title></head>"
    b"<body><h1>Hello</h1><p>A small static page for the edge benchmark, "
    b"about two hundred bytes long.</p><p>cyxymu</p></body></html>\n"
)
REQUEST_PATH = "/users/cyxymu"  # matches a seawall route, so routing is exercised
STOP_GRACE = 10.0


# ---- small helpers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def run_text(cmd: Sequence[str], timeout: float = 30.0) -> str:
    """stdout+stderr of a short command, or '' when it is missing or fails."""
    try:
        p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (p.stdout + p.stderr).strip()


def probe(port: int, timeout: float = 1.0) -> int:
    """Status of GET REQUEST_PATH, or 0 when nothing answers."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", REQUEST_PATH)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return 0
    finally:
        conn.close()


class Service:
    """A server subprocess in its own session, stopped by its own id (and its group's)."""

    def __init__(self, name: str, cmd: list[str], log_path: Path) -> None:
        self.name = name
        self.cmd = cmd
        self.log_path = log_path
        self._log: TextIO = log_path.open("w")
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, port: int, statuses: set[int], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        status = 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            status = probe(port)
            if status in statuses:
                return
            time.sleep(0.1)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(
            f"{self.name} did not answer {sorted(statuses)} on {HOST}:{port} "
            f"(last status {status}, exit {self.proc.returncode}):\n{tail}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_GRACE)
        # leftovers in the session this process led (nginx workers, seawall workers)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()


CLK_TCK = os.sysconf("SC_CLK_TCK")


def session_cpu(sid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of every live process in session `sid` (ours)."""
    user = system = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid:  # field 6 of stat, the session id
            user += int(fields[11])  # utime
            system += int(fields[12])  # stime
    return user / CLK_TCK, system / CLK_TCK


def cpu_times() -> dict[str, tuple[int, int]]:
    """Per CPU (busy, total) jiffies from /proc/stat."""
    out: dict[str, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *rest = line.split()
        if name.startswith("cpu") and name != "cpu":
            v = [int(x) for x in rest]
            idle = v[3] + v[4]  # idle + iowait
            out[name] = (sum(v[:8]) - idle, sum(v[:8]))
    return out


def busy_between(a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]]) -> dict[str, float]:
    return {
        k: round((b[k][0] - a[k][0]) / max(1, b[k][1] - a[k][1]), 3) for k in sorted(a) if k in b
    }


def wait_quiet(limit: float, threshold: float = 0.15) -> float:
    """Wait (at most `limit` s) for other tenants to leave every CPU below `threshold` busy.

    Returns the busiest CPU's share over the last half second looked at.
    """
    deadline = time.monotonic() + limit
    while True:
        a = cpu_times()
        time.sleep(0.5)
        busy = max(busy_between(a, cpu_times()).values(), default=0.0)
        if busy <= threshold or time.monotonic() >= deadline:
            return busy


def pinned(cpu: str, command: str, *paths: str) -> list[str]:
    """`taskset -c CPU` before a command given as words (no spaces inside), then paths."""
    return ["taskset", "-c", cpu, *command.split(), *paths]


# ---- load generators ----------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value.strip())
    if m is None:
        raise ValueError(f"not a wrk duration: {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int = 0
    socket_errors: int = 0
    target_rps: float = 0.0
    max_ms: float = 0.0
    cpu_user_us: float = 0.0  # CPU time of the server's processes per request, user mode
    cpu_sys_us: float = 0.0  # ... and in the kernel (loopback TCP is most of it)
    cpu_busy: dict[str, float] = field(default_factory=dict)  # whole machine, per CPU
    background_busy: float = 0.0  # busiest CPU just before the run, with nothing of ours loaded


def parse_wrk(text: str) -> LoadResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    total = re.search(r"(\d+) requests in", text)
    if rps is None or p50 is None or p99 is None or total is None:
        raise ValueError(f"could not parse wrk output:\n{text}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return LoadResult(
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        requests=int(total.group(1)),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(x) for x in errs.groups()) if errs else 0,
    )


def wrk(port: int, duration: float, connections: int, cpu: str) -> LoadResult:
    secs = max(1, round(duration))
    url = f"http://{HOST}:{port}{REQUEST_PATH}"
    cmd = pinned(cpu, f"wrk -t1 -c{connections} -d{secs}s --latency {url}")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stderr}")
    return parse_wrk(p.stdout)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100.0 * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def h2load_rate(
    port: int, rate: float, duration: float, clients: int, cpu: str, log_path: Path
) -> LoadResult:
    """A fixed request rate over keep-alive HTTP/1.1; latency from per-request log lines."""
    per_client = max(1, round(rate / clients))
    secs = max(1, round(duration))
    warm = 1
    url = f"http://{HOST}:{port}{REQUEST_PATH}"
    cmd = pinned(
        cpu,
        f"h2load --h1 -t1 -c{clients} --rps={per_client} -D{secs} --warm-up-time={warm} {url}",
        f"--log-file={log_path}",
    )
    log_path.unlink(missing_ok=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + warm + 60, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"h2load failed ({p.returncode}): {p.stdout}\n{p.stderr}")
    lat: list[float] = []
    bad = failed = 0
    for line in log_path.read_text().splitlines():
        cols = line.split("\t")
        if len(cols) < 3:
            continue
        if cols[1] == "-1":  # a stream that failed, e.g. cut off when the run stops
            failed += 1
            continue
        if not cols[1].startswith("2"):
            bad += 1
        lat.append(int(cols[2]) / 1000.0)
    lat.sort()
    return LoadResult(
        rps=len(lat) / secs,
        p50_ms=percentile(lat, 50),
        p99_ms=percentile(lat, 99),
        requests=len(lat),
        non_2xx=bad,
        socket_errors=failed,
        target_rps=float(per_client * clients),
        max_ms=lat[-1] if lat else float("nan"),
    )


# ---- servers ------------------------------------------------------------------------------------

NGINX_HEAD = """\
daemon off;
master_process on;
worker_processes {workers};
pid {dir}/{name}.pid;
error_log {dir}/{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    default_type text/html;
    server_tokens off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
"""

# Comparable to seawall's JSON access log; buffered as seawall's recorder batches its writes.
NGINX_LOG = """\
    log_format bench escape=json '{{"time":$msec,"client":"$remote_addr",'
        '"peer":"$realip_remote_addr","method":"$request_method","host":"$host",'
        '"path":"$uri","query":"$args","status":$status,"bytes_in":$request_length,'
        '"bytes_out":$bytes_sent,"latency_ms":$request_time,'
        '"origin_ms":"$upstream_response_time","ua":"$http_user_agent",'
        '"request_id":"$request_id"}}';
    access_log {dir}/{name}-access.log bench buffer=64k flush=1s;
    set_real_ip_from 10.0.0.0/8;
    set_real_ip_from 127.0.0.1/32;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
"""

ORIGIN_BODY = """\
    access_log off;
    open_file_cache max=100;
    server {{
        listen {host}:{port};
        root {dir}/www;
        location / {{ try_files /page.html =404; }}
    }}
}}
"""

PROXY_BODY = """\
    upstream origin {{
        server {host}:{origin_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header Via "1.1 nginx";
            add_header X-Request-ID $request_id;
        }}
    }}
}}
"""

REJECT_BODY = """\
    server {{
        listen {host}:{port};
        location / {{ return 429; }}
    }}
}}
"""


def nginx_conf(
    kind: str, name: str, workdir: Path, port: int, origin_port: int, workers: int
) -> Path:
    fmt = {
        "dir": workdir,
        "name": name,
        "host": HOST,
        "port": port,
        "origin_port": origin_port,
        "workers": workers,
    }
    text = NGINX_HEAD.format(**fmt)
    if kind == "origin":
        text += ORIGIN_BODY.format(**fmt)
    else:
        text += NGINX_LOG.format(**fmt)
        text += (PROXY_BODY if kind == "proxy" else REJECT_BODY).format(**fmt)
    path = workdir / f"{name}.conf"
    path.write_text(text)
    return path


SEAWALL_CONF = """\
workers = {workers}

[[listeners]]
address = "{host}:{port}"

[[origins]]
url = "http://{host}:{origin_port}"

[network]
trusted_proxies = ["10.0.0.0/8", "127.0.0.1/32"]

[timeouts]
drain = 1.0

[[routes]]
name = "profile"
pattern = "/users/{{name}}"

[[routes]]
name = "post"
pattern = "/users/{{name}}/posts/{{id}}"
target = "/users/{{name}}"

[[routes]]
name = "api"
pattern = "/api/{{rest*}}"

[[routes]]
name = "static"
pattern = "/static/*"
{block}
[[rules]]
id = "partners"
action = "allow"
match = {{ cidrs = ["192.0.2.0/24"] }}

[[rules]]
id = "per-address"
action = "throttle"
rate = 1000000.0
burst = 1000000
match = {{ classes = ["anonymous"] }}

[admin]
listen = ""

[log]
access_log = "{log}"
access_format = "json"
level = "warning"
"""

SEAWALL_BLOCK = """
[[rules]]
id = "blocklist"
action = "block"
priority = 10
match = { cidrs = ["127.0.0.0/8"] }
"""


def seawall_conf(
    name: str,
    workdir: Path,
    port: int,
    origin_port: int,
    workers: int,
    block: bool,
    access_log: bool = True,
) -> Path:
    text = SEAWALL_CONF.format(
        workers=workers,
        host=HOST,
        port=port,
        origin_port=origin_port,
        block=SEAWALL_BLOCK if block else "",
        log=workdir / f"{name}-access.log" if access_log else "",
    )
    path = workdir / f"{name}.toml"
    path.write_text(text)
    return path


@dataclass
class Target:
    key: str  # stable id used in the JSON
    label: str  # what the table shows
    kind: str  # origin | proxy | reject
    port: int
    service: Service
    python: str = ""


@dataclass
class Interp:
    path: str
    version: str
    build: str
    tag: str


def describe_python(path: str, tag: str) -> Interp:
    code = (
        "import platform, sysconfig, seawall, uvloop, httptools;"
        "print(platform.python_version());"
        "print(sysconfig.get_config_var('CONFIG_ARGS') or '');"
        "print('uvloop', uvloop.__version__, 'httptools', httptools.__version__);"
        "print(any('libpython' in line for line in open('/proc/self/maps')))"
    )
    p = subprocess.run([path, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    if p.returncode != 0:
        raise SystemExit(f"{path} cannot run seawall (pip install -e . there): {p.stderr}")
    version, config_args, libs, shared = p.stdout.splitlines()[:4]
    flags = [f for f in ("--enable-optimizations", "--with-lto") if f in config_args]
    linked = "libpython shared" if shared == "True" else "libpython static"
    build = f"{linked}; {' '.join(flags) or 'no PGO/LTO in CONFIG_ARGS'}; {libs}"
    return Interp(path=path, version=version, build=build, tag=tag)


# ---- the run ------------------------------------------------------------------------------------


@dataclass
class Measurement:
    key: str
    label: str
    runs: list[LoadResult] = field(default_factory=list)

    def median(self) -> dict[str, float]:
        return {
            "rps": statistics.median(r.rps for r in self.runs),
            "p50_ms": statistics.median(r.p50_ms for r in self.runs),
            "p99_ms": statistics.median(r.p99_ms for r in self.runs),
            "cpu_user_us": statistics.median(r.cpu_user_us for r in self.runs),
            "cpu_sys_us": statistics.median(r.cpu_sys_us for r in self.runs),
        }


def summarize_raw(raw: Path, k_self: int = 15, k_total: int = 25) -> dict[str, Any]:
    """Top functions by self time (leaf frame) and by total time from py-spy's raw stacks."""
    self_time: Counter[str] = Counter()
    total_time: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        n = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        samples += n
        self_time[frames[-1]] += n
        for f in set(frames):
            total_time[f] += n

    def top(c: Counter[str], k: int) -> list[dict[str, Any]]:
        return [
            {"function": f, "samples": n, "percent": round(100.0 * n / max(1, samples), 2)}
            for f, n in c.most_common(k)
        ]

    return {
        "samples": samples,
        "top_self": top(self_time, k_self),
        "top_total": top(total_time, k_total),
    }


def profile_edge(
    target: Target, args: argparse.Namespace, workdir: Path, stamp: str, native: bool
) -> dict[str, Any]:
    """py-spy record (raw collapsed stacks) of an edge while wrk loads it at full speed.

    py-spy pauses the edge for each sample (its default): --nonblocking lost about a third
    of its samples here to torn stacks and kept those caught in syscalls, a bias. The python
    mode folds C time (uvloop, libc syscalls, httptools, msgspec) into the Python frame that
    called it; --native shows those C frames as leaves.
    """
    if shutil.which("py-spy") is None:
        return {"error": "py-spy not found (pip install py-spy)"}
    mode = "native" if native else "python"
    raw = workdir / f"profile-{target.key}-{mode}.txt"
    secs = max(2, round(args.duration))
    url = f"http://{HOST}:{target.port}{REQUEST_PATH}"
    wrk_cmd = pinned(args.load_cpu, f"wrk -t1 -c{args.connections} -d{secs + 2}s --latency {url}")
    load = subprocess.Popen(wrk_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.0)
    spy_cmd = pinned(
        args.load_cpu,
        f"py-spy record --pid {target.service.pid} --duration {secs} --rate 250 --format raw "
        f"--function {'--native' if native else ''} -o",
        str(raw),
    )
    spy = subprocess.run(spy_cmd, capture_output=True, text=True, timeout=secs + 60, check=False)
    out, _ = load.communicate(timeout=secs + 60)
    stats = re.search(r"Samples: (\d+) Errors: (\d+)", spy.stdout + spy.stderr)
    if spy.returncode != 0 or not raw.exists():
        return {"error": f"py-spy failed: {spy.stdout}{spy.stderr}"}
    keep = RESULTS_DIR / f"edge_profile-{stamp}-{target.key}-{mode}.txt"
    shutil.copyfile(raw, keep)
    under_load = parse_wrk(out) if "Requests/sec" in out else None
    return {
        "target": target.key,
        "label": target.label,
        "mode": mode,
        "raw_file": str(keep.relative_to(BENCH_DIR.parent)),
        "rps_while_profiled": under_load.rps if under_load else None,
        "py_spy_samples_errors": [int(x) for x in stats.groups()] if stats else None,
        **summarize_raw(raw),
    }


def machine_info() -> dict[str, str]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    git = ["git", "-C", str(BENCH_DIR.parent)]
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": str(os.cpu_count()),
        "cpu_model": model,
        "kernel": platform.release(),
        "nginx": run_text(["nginx", "-v"]),
        "wrk": run_text(["wrk", "-v"]).splitlines()[0] if run_text(["wrk", "-v"]) else "",
        "h2load": run_text(["h2load", "--version"]),
        "py_spy": run_text(["py-spy", "--version"]),
        "git_head": run_text([*git, "rev-parse", "--short", "HEAD"]),
        "src_dirty": str(bool(run_text([*git, "status", "--porcelain", "src"]))),
        "src_diff_sha1": hashlib.sha1(
            run_text([*git, "diff", "HEAD", "--", "src"]).encode()
        ).hexdigest()[:12],
    }


def cpu_us(m: dict[str, float]) -> float:
    return m["cpu_user_us"] + m["cpu_sys_us"]


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def fmt_row(cols: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(cols, widths, strict=True))
    )


def print_table(title: str, rows: list[list[str]], head: list[str]) -> None:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"\n{title}")
    print(fmt_row(head, widths))
    print(fmt_row(["-" * w for w in widths], widths))
    for r in rows:
        print(fmt_row(r, widths))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    ap.add_argument("--runs", type=int, default=3, help="repetitions; the median is reported")
    ap.add_argument("--connections", type=int, default=64, help="wrk keep-alive connections")
    ap.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PATH",
        help="interpreter to run the edge under (repeatable; default: this one)",
    )
    ap.add_argument("--proxy-cpu", default="0", help="CPU for the proxies (1 worker)")
    ap.add_argument("--proxy-cpus-2w", default="0,1", help="CPUs for 2-worker proxies")
    ap.add_argument("--load-cpu", default="1", help="CPU for wrk/h2load and the origin")
    ap.add_argument("--latency-clients", type=int, default=16, help="h2load connections")
    ap.add_argument("--half-load", type=float, default=0.5, help="fraction of edge capacity")
    ap.add_argument("--no-latency", action="store_true", help="skip the fixed-rate latency part")
    ap.add_argument(
        "--with-log-off",
        action="store_true",
        help="also run the first interpreter's 1-worker edge with its access log off",
    )
    ap.add_argument("--profile", action="store_true", help="py-spy the 1-worker edge under load")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="before each run, wait up to this many seconds for other load to stop",
    )
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/)")
    args = ap.parse_args(argv)
    if not args.python:
        args.python = [sys.executable]
    if args.duration <= 0 or args.runs < 1:
        ap.error("--duration must be > 0 and --runs ≥ 1")
    return args


def check_tools(need_h2load: bool) -> None:
    missing = [t for t in ("nginx", "wrk", "taskset") if shutil.which(t) is None]
    if need_h2load and shutil.which("h2load") is None:
        missing.append("h2load (apt-get install nghttp2-client, or pass --no-latency)")
    if missing:
        raise SystemExit(f"missing tools: {', '.join(missing)}")


@contextlib.contextmanager
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    try:
        yield started
    finally:
        for s in reversed(started):
            s.stop()


def start_nginx(
    started: list[Service],
    kind: str,
    name: str,
    workdir: Path,
    cpu: str,
    origin_port: int,
    workers: int = 1,
) -> tuple[int, Service]:
    port = free_port()
    conf = nginx_conf(kind, name, workdir, port, origin_port, workers)
    error_log = str(workdir / f"{name}-error.log")
    cmd = pinned(cpu, "nginx -p", str(workdir), "-e", error_log, "-c", str(conf))
    svc = Service(name, cmd, workdir / f"{name}.out")
    started.append(svc)
    svc.wait_ready(port, {429} if kind == "reject" else {200})
    return port, svc


def start_seawall(
    started: list[Service],
    name: str,
    workdir: Path,
    cpu: str,
    origin_port: int,
    python: str,
    workers: int,
    block: bool,
    access_log: bool = True,
) -> tuple[int, Service]:
    port = free_port()
    conf = seawall_conf(name, workdir, port, origin_port, workers, block, access_log)
    cmd = pinned(cpu, "", python, "-m", "seawall.cli", "edge", "--config", str(conf))
    svc = Service(name, cmd, workdir / f"{name}.out")
    started.append(svc)
    svc.wait_ready(port, {403} if block else {200})
    return port, svc


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools(need_h2load=not args.no_latency)
    interps = [describe_python(p, f"py{i + 1}") for i, p in enumerate(args.python)]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    info = machine_info()
    print(f"# {info['date_utc']}  {info['cpu_model']}  nproc={info['nproc']}  {info['kernel']}")
    print(
        f"# seawall at {info['git_head']} (src modified: {info['src_dirty']}, "
        f"diff {info['src_diff_sha1']})"
    )
    for it in interps:
        print(f"# {it.tag}: Python {it.version} at {it.path} ({it.build})")

    workdir = Path(tempfile.mkdtemp(prefix="seawall-bench-"))
    workdir.chmod(0o755)  # nginx workers may run as another user
    (workdir / "www").mkdir(mode=0o755)
    (workdir / "www" / "page.html").write_bytes(PAGE)
    (workdir / "www" / "page.html").chmod(0o644)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / "tmp" / sub).mkdir(parents=True)

    result: dict[str, Any] = {
        "machine": info,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "interpreters": [asdict(i) for i in interps],
        "page_bytes": len(PAGE),
        "request_path": REQUEST_PATH,
    }
    try:
        with services() as started:
            run_all(args, interps, workdir, started, result, stamp)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    out = args.out or RESULTS_DIR / f"edge_throughput-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nJSON: {out}")
    return 0


def run_all(
    args: argparse.Namespace,
    interps: list[Interp],
    workdir: Path,
    started: list[Service],
    result: dict[str, Any],
    stamp: str,
) -> None:
    pc, pc2, lc = args.proxy_cpu, args.proxy_cpus_2w, args.load_cpu
    origin_port, origin = start_nginx(started, "origin", "origin", workdir, lc, 0)
    targets: list[Target] = [
        Target("origin", "origin direct (nginx static)", "origin", origin_port, origin)
    ]
    port, svc = start_nginx(started, "proxy", "nginx-proxy-1w", workdir, pc, origin_port)
    targets.append(Target("nginx_proxy_1w", "nginx proxy, 1 worker", "proxy", port, svc))
    port, svc = start_nginx(started, "proxy", "nginx-proxy-2w", workdir, pc2, origin_port, 2)
    targets.append(Target("nginx_proxy_2w", "nginx proxy, 2 workers", "proxy", port, svc))
    for it in interps:
        for w, cpu in ((1, pc), (2, pc2)):
            name = f"seawall-{it.tag}-{w}w"
            port, svc = start_seawall(started, name, workdir, cpu, origin_port, it.path, w, False)
            label = f"seawall {it.tag}, {w} worker{'s' if w > 1 else ''}"
            targets.append(Target(f"seawall_{it.tag}_{w}w", label, "proxy", port, svc, it.tag))
    if args.with_log_off:  # a diagnostic, not a target: what the access log costs
        it = interps[0]
        name = f"seawall-{it.tag}-1w-nolog"
        port, svc = start_seawall(
            started, name, workdir, pc, origin_port, it.path, 1, False, access_log=False
        )
        label = f"seawall {it.tag}, 1 worker, no log"
        targets.append(Target(f"seawall_{it.tag}_1w_nolog", label, "proxy", port, svc, it.tag))
    port, svc = start_nginx(started, "reject", "nginx-429", workdir, pc, origin_port)
    targets.append(Target("nginx_reject_1w", "nginx return 429, 1 worker", "reject", port, svc))
    for it in interps:
        name = f"seawall-{it.tag}-block"
        port, svc = start_seawall(started, name, workdir, pc, origin_port, it.path, 1, True)
        targets.append(
            Target(
                f"seawall_{it.tag}_block_1w",
                f"seawall {it.tag} block, 1 worker",
                "reject",
                port,
                svc,
                it.tag,
            )
        )

    # warm-up: JIT-free, but caches, pools and the page cache fill
    warm = min(2.0, max(1.0, args.duration / 5))
    for t in targets:
        wrk(t.port, warm, args.connections, lc)

    thr = {t.key: Measurement(t.key, t.label) for t in targets}
    for rnd in range(args.runs):
        for t in targets:
            quiet = wait_quiet(args.quiet_wait)
            u0, s0 = session_cpu(t.service.pid)
            c0 = cpu_times()
            r = wrk(t.port, args.duration, args.connections, lc)
            r.cpu_busy = busy_between(c0, cpu_times())
            r.background_busy = quiet
            u1, s1 = session_cpu(t.service.pid)
            r.cpu_user_us = 1e6 * (u1 - u0) / max(1, r.requests)
            r.cpu_sys_us = 1e6 * (s1 - s0) / max(1, r.requests)
            thr[t.key].runs.append(r)
            print(
                f"  round {rnd + 1}/{args.runs} {t.label:<34} {r.rps:>10.0f} req/s  "
                f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  "
                f"CPU/req {r.cpu_user_us:5.1f}+{r.cpu_sys_us:5.1f} us  "
                f"busy {' '.join(f'{v:.0%}' for v in r.cpu_busy.values())} (before {quiet:.0%})"
                + (f"  non-2xx {r.non_2xx}" if r.non_2xx else "")
                + (f"  socket errors {r.socket_errors}" if r.socket_errors else ""),
                flush=True,
            )

    med = {k: m.median() for k, m in thr.items()}
    time.sleep(1.5)  # nginx flushes its buffered log each second, seawall every 0.2 s
    result["access_log_lines"] = count_log_lines(workdir, thr)
    result["throughput"] = {
        k: {"label": m.label, "median": med[k], "runs": [asdict(r) for r in m.runs]}
        for k, m in thr.items()
    }
    rows = [
        [
            m.label,
            f"{med[k]['rps']:.0f}",
            f"{med[k]['p50_ms']:.2f}",
            f"{med[k]['p99_ms']:.2f}",
            f"{med[k]['cpu_user_us']:.1f} + {med[k]['cpu_sys_us']:.1f}",
            f"{cpu_us(med[k]) * med[k]['rps'] / 1e6:.2f}",
            " ".join(f"{r.rps:.0f}" for r in m.runs),
        ]
        for k, m in thr.items()
    ]
    print_table(
        f"Throughput, wrk -t1 -c{args.connections} -d{args.duration:g}s, median of {args.runs}",
        rows,
        ["target", "req/s", "p50 ms", "p99 ms", "CPU us/req usr + sys", "cores", "runs req/s"],
    )

    ratios: dict[str, Any] = {}
    for it in interps:
        one, two = med[f"seawall_{it.tag}_1w"]["rps"], med[f"seawall_{it.tag}_2w"]["rps"]
        block = med[f"seawall_{it.tag}_block_1w"]["rps"]
        ratios[it.tag] = {
            "proxy_1w": ratio(one, med["nginx_proxy_1w"]["rps"]),
            "proxy_2w": ratio(two, med["nginx_proxy_2w"]["rps"]),
            "reject_1w": ratio(block, med["nginx_reject_1w"]["rps"]),
            "scaling_2w_over_1w": ratio(two, one),
            # per core: nginx's CPU time per request over seawall's (same work, same core)
            "proxy_1w_per_cpu": ratio(
                cpu_us(med["nginx_proxy_1w"]), cpu_us(med[f"seawall_{it.tag}_1w"])
            ),
            "reject_1w_per_cpu": ratio(
                cpu_us(med["nginx_reject_1w"]), cpu_us(med[f"seawall_{it.tag}_block_1w"])
            ),
        }
    ratios["nginx_scaling_2w_over_1w"] = ratio(
        med["nginx_proxy_2w"]["rps"], med["nginx_proxy_1w"]["rps"]
    )
    result["ratios"] = ratios
    print_table(
        "Ratios seawall/nginx in req/s, and per CPU (nginx CPU us/req over seawall's); "
        "targets: proxy ≥ 0.60, reject ≥ 0.70",
        [
            [
                it.tag,
                f"{ratios[it.tag]['proxy_1w']:.2f}",
                f"{ratios[it.tag]['proxy_2w']:.2f}",
                f"{ratios[it.tag]['reject_1w']:.2f}",
                f"{ratios[it.tag]['scaling_2w_over_1w']:.2f}",
                f"{ratios[it.tag]['proxy_1w_per_cpu']:.2f}",
                f"{ratios[it.tag]['reject_1w_per_cpu']:.2f}",
            ]
            for it in interps
        ],
        ["python", "proxy 1w", "proxy 2w", "reject 1w", "seawall 2w/1w", "proxy/CPU", "reject/CPU"],
    )

    if not args.no_latency:
        result["latency"] = measure_latency(args, interps, targets, med, workdir)

    if args.profile:
        tag = interps[0].tag
        by_key = {t.key: t for t in targets}
        plan = [
            (f"seawall_{tag}_1w", False),
            (f"seawall_{tag}_1w", True),
            (f"seawall_{tag}_block_1w", False),
        ]
        profiles = []
        for key, native in plan:
            prof = profile_edge(by_key[key], args, workdir, stamp, native)
            profiles.append(prof)
            if "top_self" not in prof:
                print(f"\nprofile of {key}: {prof.get('error')}")
                continue
            print_table(
                f"py-spy ({prof['mode']}), {prof['label']} under full load "
                f"({prof['rps_while_profiled'] or 0:.0f} req/s while sampled): "
                f"top 15 by self time, {prof['samples']} samples",
                [
                    [p["function"][:90], str(p["samples"]), f"{p['percent']:.1f}%"]
                    for p in prof["top_self"]
                ],
                ["function", "samples", "self"],
            )
        result["profiles"] = profiles


def count_log_lines(workdir: Path, thr: dict[str, Measurement]) -> dict[str, dict[str, int]]:
    """Lines in each access log against requests sent: proof the logs were really on."""
    out: dict[str, dict[str, int]] = {}
    for log in sorted(workdir.glob("*-access.log")):
        lines = 0
        with log.open("rb") as f:
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
        out[log.name] = {"lines": lines}
    out["_requests_sent"] = {k: sum(r.requests for r in m.runs) for k, m in thr.items()}
    return out


def measure_latency(
    args: argparse.Namespace,
    interps: list[Interp],
    targets: list[Target],
    med: dict[str, dict[str, float]],
    workdir: Path,
) -> dict[str, Any]:
    """At half of each edge's capacity: origin direct, nginx proxy and the edge, same rate."""
    by_key = {t.key: t for t in targets}
    out: dict[str, Any] = {}
    rows: list[list[str]] = []
    for it in interps:
        edge_key = f"seawall_{it.tag}_1w"
        rate = args.half_load * med[edge_key]["rps"]
        keys = ["origin", "nginx_proxy_1w", edge_key]
        if f"{edge_key}_nolog" in by_key:
            keys.append(f"{edge_key}_nolog")
        runs: dict[str, list[LoadResult]] = {k: [] for k in keys}
        for _ in range(args.runs):
            for k in keys:
                quiet = wait_quiet(args.quiet_wait)
                r = h2load_rate(
                    by_key[k].port,
                    rate,
                    args.duration,
                    args.latency_clients,
                    args.load_cpu,
                    workdir / "h2load.log",
                )
                r.background_busy = quiet
                runs[k].append(r)
                print(
                    f"  at {r.target_rps:.0f} req/s {by_key[k].label:<34} got {r.rps:>8.0f}  "
                    f"p50 {r.p50_ms:6.3f} ms  p99 {r.p99_ms:6.3f} ms"
                    + (f"  non-2xx {r.non_2xx}" if r.non_2xx else ""),
                    flush=True,
                )
        medians = {
            k: {
                "rps": statistics.median(r.rps for r in v),
                "p50_ms": statistics.median(r.p50_ms for r in v),
                "p99_ms": statistics.median(r.p99_ms for r in v),
            }
            for k, v in runs.items()
        }
        o = medians["origin"]
        added = {
            k: {
                "p50_added_ms": round(medians[k]["p50_ms"] - o["p50_ms"], 3),
                "p99_added_ms": round(medians[k]["p99_ms"] - o["p99_ms"], 3),
            }
            for k in keys[1:]
        }
        out[it.tag] = {
            "rate": runs[edge_key][0].target_rps,
            "clients": args.latency_clients,
            "median": medians,
            "added": added,
            "runs": {k: [asdict(r) for r in v] for k, v in runs.items()},
        }
        for k in keys:
            a = added.get(k, {"p50_added_ms": 0.0, "p99_added_ms": 0.0})  # origin: unused
            rows.append(
                [
                    f"{by_key[k].label} @ {runs[k][0].target_rps:.0f}/s",
                    f"{medians[k]['rps']:.0f}",
                    f"{medians[k]['p50_ms']:.3f}",
                    f"{medians[k]['p99_ms']:.3f}",
                    "-" if k == "origin" else f"{a['p50_added_ms']:+.3f}",
                    "-" if k == "origin" else f"{a['p99_added_ms']:+.3f}",
                ]
            )
    print_table(
        f"Latency at {args.half_load:g} of the 1-worker edge's capacity, h2load --h1 "
        f"-c{args.latency_clients} --rps, median of {args.runs} (target: p99 added ≤ 1 ms)",
        rows,
        ["target @ rate", "got/s", "p50 ms", "p99 ms", "p50 added", "p99 added"],
    )
    return out


if __name__ == "__main__":
    sys.exit(main())
