"""The `nginx` protection against real nginx and real loopback sockets."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import struct
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from seawall.lab.nginx import (
    NginxConfigError,
    NginxProtection,
    NginxUnavailable,
    RunningNginx,
    render_config,
)

NGINX = "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason="nginx is not installed")

ADDR_A = "198.51.100.7"
ADDR_B = "203.0.113.9"


@dataclass
class Origin:
    port: int = 0
    hits: list[tuple[str, str, str]] = field(default_factory=list)  # path, X-Real-IP, XFF

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(
            (
                request.path,
                request.headers.get("X-Real-IP", ""),
                request.headers.get("X-Forwarded-For", ""),
            )
        )
        resp = web.Response(text=f"page {request.path}\n")
        resp.headers["Cache-Control"] = "public, max-age=5"
        return resp

    def count(self, path: str) -> int:
        return sum(1 for h in self.hits if h[0] == path)


Body = Callable[[Origin, RunningNginx], Awaitable[None]]


def with_nginx(body: Body, **options: Any) -> None:
    """Runs `body` against an origin and nginx (PROXY protocol on) in front of it."""

    async def main() -> None:
        origin = Origin()
        app = web.Application()
        app.router.add_get("/{tail:.*}", origin.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        origin.port = runner.addresses[0][1]
        try:
            p = NginxProtection(origin_port=origin.port, **options)
            nginx = await RunningNginx.start(p, nginx_bin=NGINX)
            async with nginx:
                await asyncio.wait_for(body(origin, nginx), 20)
        finally:
            await runner.cleanup()

    asyncio.run(main())


async def get(port: int, path: str, client: str, headers: str = "") -> int:
    """One request on a fresh connection, after a PROXY v1 header naming `client`: the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"PROXY TCP4 {client} 127.0.0.1 5555 80\r\n"
            f"GET {path} HTTP/1.1\r\nHost: lab.test\r\n{headers}Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        data = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(data.split(b" ", 2)[1])


def test_render_config_has_the_admins_directives() -> None:
    text = render_config(NginxProtection(origin_port=8081, listen_port=8080), Path("/x"))
    for directive in (
        "worker_processes 1;",
        "listen 127.0.0.1:8080 proxy_protocol;",
        "set_real_ip_from 127.0.0.0/8;",
        "real_ip_header proxy_protocol;",
        "limit_req_zone $binary_remote_addr zone=per_address:10m rate=10r/s;",
        "limit_req zone=per_address burst=20 nodelay;",
        "limit_conn_zone $binary_remote_addr",
        "limit_conn conns_per_address 20;",
        "limit_req_status 429;",
        "limit_conn_status 429;",
        "server 127.0.0.1:8081;",
        "keepalive 32;",
        'proxy_set_header Connection "";',
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_cache micro;",
        "proxy_cache_valid 200 301 302 404 1s;",
        "proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;",
        "proxy_cache_lock on;",
        "proxy_cache_bypass $http_cookie $http_authorization;",
        "proxy_no_cache $http_cookie $http_authorization;",
        "client_header_timeout 10s;",
        "proxy_read_timeout 30s;",
        "access_log /x/access.log",
        "proxy_cache_path /x/cache",
    ):
        assert directive in text, directive
    assert "daemon" not in text  # given on the command line
    plain = render_config(
        NginxProtection(origin_port=1, listen_port=2, proxy_protocol=False), Path("/x")
    )
    assert "proxy_protocol" not in plain
    assert "real_ip_header" not in plain


def test_protection_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        NginxProtection(origin_port=1, rate_per_s=0)
    with pytest.raises(ValueError, match="origin_port"):
        NginxProtection(origin_port=70000)
    with pytest.raises(ValueError, match="listen_port"):
        render_config(NginxProtection(origin_port=1), Path("/x"))  # 0: only start() picks one


def test_nginx_t_accepts_the_rendered_config(tmp_path: Path) -> None:
    for pp in (True, False):
        conf = tmp_path / f"nginx-{pp}.conf"
        (tmp_path / "tmp").mkdir(exist_ok=True)
        conf.write_text(
            render_config(
                NginxProtection(origin_port=9, listen_port=18080, proxy_protocol=pp), tmp_path
            )
        )
        res = subprocess.run(
            [NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "e.log"), "-c", str(conf)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert res.returncode == 0, res.stderr


def test_missing_binary_and_rejected_config_raise_clearly() -> None:
    p = NginxProtection(origin_port=9)
    with pytest.raises(NginxUnavailable):
        asyncio.run(RunningNginx.start(p, nginx_bin="/nonexistent/nginx"))
    with pytest.raises(NginxConfigError, match="client_max_body_size"):
        asyncio.run(RunningNginx.start(replace(p, client_max_body_size="lots"), nginx_bin=NGINX))


def test_origin_sees_the_proxy_protocol_address() -> None:
    async def body(origin: Origin, nginx: RunningNginx) -> None:
        assert await get(nginx.port, "/a", ADDR_A) == 200
        assert await get(nginx.port, "/b", ADDR_B) == 200
        assert origin.hits == [("/a", ADDR_A, ADDR_A), ("/b", ADDR_B, ADDR_B)]
        assert ADDR_A in nginx.access_log.read_text()

    with_nginx(body)


def test_proxy_protocol_v2_is_understood_too() -> None:
    async def body(origin: Origin, nginx: RunningNginx) -> None:
        src = ipaddress.IPv4Address(ADDR_B).packed
        v2 = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack(
            "!H4s4sHH", 12, src, bytes([127, 0, 0, 1]), 5555, 80
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", nginx.port)
        writer.write(v2 + b"GET /v2 HTTP/1.1\r\nHost: lab.test\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(65536), 5)
        writer.close()
        await writer.wait_closed()
        assert data.startswith(b"HTTP/1.1 200")
        assert origin.hits == [("/v2", ADDR_B, ADDR_B)]

    with_nginx(body)


def test_limit_req_throttles_one_address_only() -> None:
    async def body(origin: Origin, nginx: RunningNginx) -> None:
        statuses = [await get(nginx.port, f"/p{i}", ADDR_A) for i in range(40)]
        assert set(statuses) == {200, 429}
        assert statuses[:20] == [200] * 20  # the burst goes through at once
        assert statuses.count(429) >= 10
        assert await get(nginx.port, "/other", ADDR_B) == 200

    with_nginx(body)


def test_micro_cache_serves_anonymous_pages_but_not_cookies() -> None:
    async def body(origin: Origin, nginx: RunningNginx) -> None:
        anon = [await get(nginx.port, "/page", ADDR_A) for _ in range(20)]
        assert anon == [200] * 20
        assert origin.count("/page") <= 2
        before = origin.count("/page")
        for header in ("Cookie: session=abc\r\n", "Authorization: Bearer t\r\n"):
            for _ in range(5):
                assert await get(nginx.port, "/page", ADDR_B, header) == 200
        assert origin.count("/page") == before + 10

    with_nginx(body, rate_per_s=1000, burst=1000)
