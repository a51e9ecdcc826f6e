"""The `nginx` protection: Debian's nginx in front of the lab origin, the way a competent admin
would set it up for a small site (issue 3, "Protections compared").

Per client address (the real one, from the PROXY protocol header the lab's balancer sends):
`limit_req` and `limit_conn`, both answering 429; micro-caching of anonymous GETs with
`proxy_cache` (bypassed and never stored when a Cookie or Authorization header is present);
client and upstream timeouts; a keep-alive upstream pool. `render_config` is pure;
`RunningNginx.start` writes it into a temp dir, checks it with `nginx -t`, runs nginx in its
own session on 127.0.0.1 and `stop` takes it down (SIGQUIT, then SIGKILL after a bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

__all__ = [
    "LISTEN_HOST",
    "NginxConfigError",
    "NginxError",
    "NginxProtection",
    "NginxUnavailable",
    "RunningNginx",
    "find_nginx",
    "render_config",
]

LISTEN_HOST = "127.0.0.1"  # the lab never listens beyond loopback
DEBIAN_NGINX = "/usr/sbin/nginx"
CHECK_TIMEOUT_S = 10.0  # bound on `nginx -t`
READY_TIMEOUT_S = 10.0  # bound on waiting for the listener to accept
STOP_GRACE_S = 5.0  # SIGQUIT lets nginx finish in-flight requests for this long, then SIGKILL
POLL_S = 0.05


class NginxError(RuntimeError):
    """nginx could not be started or did not come up."""


class NginxUnavailable(NginxError):
    """No nginx binary on this machine: callers skip the `nginx` protection."""


class NginxConfigError(NginxError):
    """`nginx -t` rejected the rendered configuration; the message is nginx's."""


@dataclass(frozen=True, slots=True)
class NginxProtection:
    """What the admin chose. Defaults are for a small site behind one balancer."""

    origin_port: int
    origin_host: str = "127.0.0.1"
    # 0: `RunningNginx.start` picks a free loopback port.
    listen_port: int = 0
    # The lab's balancer speaks PROXY v1/v2, so the client address survives the hop.
    proxy_protocol: bool = True
    # A person browsing a small site rarely needs more than a few pages a second.
    rate_per_s: int = 10
    # A page load fans out into assets; let a burst through at once (nodelay) before 429.
    burst: int = 20
    # Browsers open ~6 connections per host; 20 leaves room for a few people behind one NAT.
    conn_per_address: int = 20
    # One second of caching absorbs floods on hot anonymous pages and is never noticeably stale.
    cache_ttl_s: int = 1
    # Slowloris defence: a client must send its headers and body promptly.
    client_timeout_s: int = 10
    # Idle keep-alive connections cost a slot each; drop them early on a small box.
    keepalive_timeout_s: int = 15
    # A healthy origin answers in well under this; beyond it the client gets a 504 (or stale).
    proxy_timeout_s: int = 30
    # Connecting to a local origin is instant; a slow connect means it is down.
    proxy_connect_timeout_s: int = 5
    # Idle upstream connections kept per worker, so proxying does not pay a handshake each time.
    upstream_keepalive: int = 32
    # Plenty for forms and small uploads on a small site.
    client_max_body_size: str = "1m"

    def __post_init__(self) -> None:
        positive = {
            "rate_per_s": self.rate_per_s,
            "conn_per_address": self.conn_per_address,
            "cache_ttl_s": self.cache_ttl_s,
            "client_timeout_s": self.client_timeout_s,
            "keepalive_timeout_s": self.keepalive_timeout_s,
            "proxy_timeout_s": self.proxy_timeout_s,
            "proxy_connect_timeout_s": self.proxy_connect_timeout_s,
            "upstream_keepalive": self.upstream_keepalive,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.burst < 0:
            raise ValueError(f"burst must be >= 0, got {self.burst}")
        for name, port in (("listen_port", self.listen_port), ("origin_port", self.origin_port)):
            if not 0 <= port <= 65535:
                raise ValueError(f"{name} out of range: {port}")


def _head(workdir: Path) -> str:
    return f"""\
worker_processes 1;
worker_rlimit_nofile 16384;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 8192; }}
"""


def _http_settings(p: NginxProtection, workdir: Path) -> str:
    t = p.client_timeout_s
    return f"""\
    client_body_temp_path {workdir}/tmp/body;
    proxy_temp_path {workdir}/tmp/proxy;
    fastcgi_temp_path {workdir}/tmp/fastcgi;
    uwsgi_temp_path {workdir}/tmp/uwsgi;
    scgi_temp_path {workdir}/tmp/scgi;
    default_type application/octet-stream;
    server_tokens off;
    log_format lab '$remote_addr peer=$realip_remote_addr [$time_local] "$request" '
        '$status $body_bytes_sent rt=$request_time cache=$upstream_cache_status';
    access_log {workdir}/access.log lab;
    client_header_timeout {t}s;
    client_body_timeout {t}s;
    send_timeout {t}s;
    keepalive_timeout {p.keepalive_timeout_s}s;
    client_max_body_size {p.client_max_body_size};
    reset_timedout_connection on;
    limit_req_zone $binary_remote_addr zone=per_address:10m rate={p.rate_per_s}r/s;
    limit_conn_zone $binary_remote_addr zone=conns_per_address:10m;
    limit_req_status 429;
    limit_conn_status 429;
    proxy_cache_path {workdir}/cache levels=1:2 keys_zone=micro:10m max_size=64m
        inactive=60s use_temp_path=off;
    upstream origin {{
        server {p.origin_host}:{p.origin_port};
        keepalive {p.upstream_keepalive};
    }}
"""


def _server(p: NginxProtection) -> str:
    listen = f"{LISTEN_HOST}:{p.listen_port}" + (" proxy_protocol" if p.proxy_protocol else "")
    real_ip = (
        "        set_real_ip_from 127.0.0.0/8;\n        real_ip_header proxy_protocol;\n"
        if p.proxy_protocol
        else ""
    )
    return f"""\
    server {{
        listen {listen};
{real_ip}        location / {{
            limit_req zone=per_address burst={p.burst} nodelay;
            limit_conn conns_per_address {p.conn_per_address};
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_connect_timeout {p.proxy_connect_timeout_s}s;
            proxy_send_timeout {p.proxy_timeout_s}s;
            proxy_read_timeout {p.proxy_timeout_s}s;
            proxy_cache micro;
            proxy_cache_key $scheme$host$request_uri;
            proxy_cache_valid 200 301 302 404 {p.cache_ttl_s}s;
            proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
            proxy_cache_lock on;
            proxy_cache_lock_timeout {p.proxy_connect_timeout_s}s;
            proxy_cache_bypass $http_cookie $http_authorization;
            proxy_no_cache $http_cookie $http_authorization;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
"""


def render_config(p: NginxProtection, workdir: Path) -> str:
    """The whole nginx.conf for `p`, every path inside `workdir`. Pure: touches nothing.

    Only GET and HEAD are cached (nginx's default); the origin's own Cache-Control and
    Set-Cookie are honoured, `cache_ttl_s` applies where the origin says nothing."""
    if p.listen_port == 0:
        raise ValueError("listen_port 0: pick a port first (RunningNginx.start does)")
    return _head(workdir) + "http {\n" + _http_settings(p, workdir) + _server(p) + "}\n"


def find_nginx(nginx_bin: str | None = None) -> str:
    """The nginx binary to run, or NginxUnavailable."""
    candidates = [nginx_bin] if nginx_bin else [shutil.which("nginx"), DEBIAN_NGINX]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise NginxUnavailable(f"no nginx binary found (tried {[c for c in candidates if c]})")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LISTEN_HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _check_config(nginx: str, workdir: Path, conf: Path) -> None:
    cmd = [nginx, "-t", "-q", "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)]
    try:
        res = subprocess.run(
            cmd, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise NginxConfigError(f"nginx -t took over {CHECK_TIMEOUT_S} s") from e
    if res.returncode != 0:
        raise NginxConfigError(f"nginx -t rejected {conf}:\n{(res.stdout + res.stderr).strip()}")


def _prepare(p: NginxProtection, nginx: str) -> tuple[Path, Path]:
    """A fresh temp dir holding the checked config; removed again if the check fails."""
    workdir = Path(tempfile.mkdtemp(prefix="seawall-nginx-"))
    try:
        workdir.chmod(0o755)  # run as root, nginx's workers drop to another user
        (workdir / "tmp").mkdir()
        conf = workdir / "nginx.conf"
        conf.write_text(render_config(p, workdir))
        _check_config(nginx, workdir, conf)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return workdir, conf


def _spawn(nginx: str, workdir: Path, conf: Path) -> subprocess.Popen[bytes]:
    """nginx in the foreground, in its own session (so its workers can be killed as a group)."""
    cmd = [nginx, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)]
    with (workdir / "nginx.out").open("wb") as out:
        return subprocess.Popen(
            [*cmd, "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class RunningNginx:
    """One nginx (master + 1 worker) in its own session, serving `protection`."""

    def __init__(self, protection: NginxProtection, workdir: Path, proc: subprocess.Popen[bytes]):
        self.protection = protection
        self.workdir = workdir
        self._proc = proc

    @property
    def port(self) -> int:
        return self.protection.listen_port

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def access_log(self) -> Path:
        return self.workdir / "access.log"

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    @classmethod
    async def start(
        cls,
        p: NginxProtection,
        nginx_bin: str | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> RunningNginx:
        """Checks the config with `nginx -t`, starts nginx and waits until its port accepts."""
        nginx = find_nginx(nginx_bin)
        if p.listen_port == 0:
            p = replace(p, listen_port=_free_port())
        workdir, conf = await asyncio.to_thread(_prepare, p, nginx)
        proc = _spawn(nginx, workdir, conf)
        running = cls(p, workdir, proc)
        try:
            await running._wait_ready(ready_timeout_s)
        except BaseException:
            await running.stop()
            raise
        return running

    async def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NginxError(f"nginx exited ({self._proc.returncode}):\n{self._log_tail()}")
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(LISTEN_HOST, self.port), POLL_S * 10
                )
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return
            await asyncio.sleep(POLL_S)
        raise NginxError(f"nginx did not accept on port {self.port} in {timeout_s} s")

    def _log_tail(self) -> str:
        parts = []
        for name in ("nginx.out", "error.log"):
            with contextlib.suppress(OSError):
                parts.append((self.workdir / name).read_text(errors="replace")[-2000:])
        return "\n".join(parts).strip()

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGQUIT (graceful), SIGKILL to the session after `grace_s`, then remove the dir."""
        proc = self._proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGQUIT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(proc.wait, grace_s)
        # the master's session: any worker it left behind
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(proc.wait, grace_s)
        shutil.rmtree(self.workdir, ignore_errors=True)

    async def __aenter__(self) -> RunningNginx:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
