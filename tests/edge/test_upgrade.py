"""Upgrade (WebSocket) pass-through: after 101 the edge is a byte tunnel both ways."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from harness import Edge


@contextmanager
def upgrade_origin(accept: bool) -> Iterator[int]:
    """Answers an Upgrade with 101 and then echoes in upper case; or refuses with 400."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"upgrade: websocket" in head.lower()
        if not accept:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno")
            await writer.drain()
            writer.close()
            return
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello"
        )
        while data := await reader.read(1024):
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    async def start() -> asyncio.Server:
        srv = await asyncio.start_server(serve, "127.0.0.1", 0)
        port.append(srv.sockets[0].getsockname()[1])
        return srv

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait(5)
    try:
        yield port[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)
        loop.close()


REQ = (
    b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _recv_until(s: socket.socket, marker: bytes) -> bytes:
    out = b""
    while marker not in out:
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    return out


def test_websocket_upgrade_becomes_a_tunnel() -> None:
    with upgrade_origin(True) as port, Edge(origin_url=f"http://127.0.0.1:{port}") as e:
        with socket.create_connection(("127.0.0.1", e.port), timeout=5) as s:
            s.sendall(REQ + b"early")
            got = _recv_until(s, b"EARLY")
            assert got.startswith(b"HTTP/1.1 101 ")
            assert b"\r\nUpgrade: websocket\r\n" in got and b"Connection: upgrade" in got
            assert b"hello" in got
            s.sendall(b"ping")
            assert _recv_until(s, b"PING").endswith(b"PING")
        assert ("allow", "anonymous", "other") in e.worker.ctx.stats.snapshot()["requests"]


def test_refused_upgrade_is_a_normal_response_and_the_connection_closes() -> None:
    with upgrade_origin(False) as port, Edge(origin_url=f"http://127.0.0.1:{port}") as e:
        with socket.create_connection(("127.0.0.1", e.port), timeout=5) as s:
            s.sendall(REQ)
            got = _recv_until(s, b"no")
            assert got.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in got
            s.settimeout(3)
            assert s.recv(10) == b""
