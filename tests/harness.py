"""Real sockets for edge tests: an h11-strict origin, the edge in a thread, raw clients."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import h11
import uvloop

from seawall.config.load import validate
from seawall.core.record import Record
from seawall.edge.admin import make_app, start_admin
from seawall.edge.run import LocalControl
from seawall.edge.server import EdgeWorker
from seawall.runtime.clock import SystemClock

T = TypeVar("T")


@dataclass
class Seen:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None


Handler = Callable[[Seen], Any]  # returns (status, headers, body) or raw bytes or a coroutine


def default_handler(req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
    body = f"{req.method} {req.target} {len(req.body)}\n".encode()
    return 200, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))], body


class Origin:
    """A strict origin: h11 parses what the edge sends, so malformed forwarding fails tests."""

    def __init__(self, handler: Handler = default_handler) -> None:
        self.handler = handler
        self.seen: list[Seen] = []
        self.connections = 0
        self.errors: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.add(writer)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                req = await self._read_request(conn, reader)
                if req is None:
                    break
                self.seen.append(req)
                out = self.handler(req)
                if asyncio.iscoroutine(out):
                    out = await out
                if isinstance(out, bytes):
                    writer.write(out)
                    await writer.drain()
                    break  # raw replies own the connection
                status, headers, body = out
                data = conn.send(h11.Response(status_code=status, headers=headers))
                if body and req.method != "HEAD":
                    data += conn.send(h11.Data(data=body))
                data += conn.send(h11.EndOfMessage())
                writer.write(data)
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            self.errors.append(str(exc))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> Seen | None:
        req: Seen | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and req is None:
                    return None
                continue
            if isinstance(event, h11.Request):
                req = Seen(
                    event.method.decode("latin-1"),
                    event.target.decode("latin-1"),
                    [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers],
                    b"",
                    event.http_version.decode("latin-1"),
                )
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert req is not None
                req.body = body
                return req
            elif isinstance(event, h11.ConnectionClosed):
                return None


@dataclass
class Edge:
    """The edge and an origin running in a background thread with its own uvloop."""

    config: dict[str, Any] = field(default_factory=dict)
    handler: Handler = default_handler
    origin_url: str | None = None  # point at another origin (e.g. a dead port)
    origin_options: dict[str, Any] = field(default_factory=dict)
    configure: Callable[[int], dict[str, Any]] | None = None  # config that needs the origin's port
    port: int = 0
    admin_port: int = 0
    origin: Origin = field(init=False)
    worker: EdgeWorker = field(init=False)

    def __enter__(self) -> Edge:
        self.loop = uvloop.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("edge did not start")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.origin = Origin(self.handler)
        await self.origin.start()
        data: dict[str, Any] = {
            "listeners": [{"address": "127.0.0.1:0"}],
            "origins": [
                {
                    "url": self.origin_url or f"http://127.0.0.1:{self.origin.port}",
                    **self.origin_options,
                }
            ],
            "log": {"access_log": ""},
            "admin": {"listen": "", "token": "s3cret"},
        }
        extra = self.configure(self.origin.port) if self.configure else {}
        for key, value in {**self.config, **extra}.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        cfg = validate(data)
        self.worker = EdgeWorker(cfg, SystemClock())
        await self.worker.start()
        self.port = self.worker.addresses[0][1]
        app = make_app(LocalControl(self.worker), cfg.admin.token, SystemClock())
        self.runner = await start_admin(app, "127.0.0.1", 0)
        self.admin_port = self.runner.addresses[0][1]

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the edge's loop thread and return its result."""
        fut = asyncio.run_coroutine_threadsafe(_as_coro(fn), self.loop)
        return fut.result(10)

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            await self.worker.stop()
            await self.runner.cleanup()
            if self.origin.server is not None:
                self.origin.server.close()
            for w in list(self.origin.writers):
                w.close()
            await asyncio.sleep(0.01)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _as_coro(fn: Callable[[], Any]) -> Any:
    return fn()


_LEFTOVER: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    return s


def read_response(
    sock: socket.socket, method: str = "GET", timeout: float = 5.0
) -> tuple[h11.Response, bytes]:
    """Read one response strictly (h11 as the client-side reference)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    leftover = _LEFTOVER.pop(sock, b"")
    if leftover:
        conn.receive_data(leftover)
    sock.settimeout(timeout)
    resp: h11.Response | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
            continue
        if isinstance(event, h11.Response):
            resp = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
            assert resp is not None
            data, _closed = conn.trailing_data
            if data:
                _LEFTOVER[sock] = data  # pipelined responses that arrived in the same read
            return resp, body


def roundtrip(
    port: int, request: bytes, method: str = "GET", source: str = "127.0.0.1"
) -> tuple[h11.Response, bytes]:
    with connect(port, source) as s:
        s.sendall(request)
        return read_response(s, method)


def raw_roundtrip(port: int, request: bytes, wait: float = 2.0) -> bytes:
    """Send bytes, read until the edge closes or goes quiet; for malformed input."""
    with connect(port) as s:
        s.sendall(request)
        s.settimeout(wait)
        out = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return out


def header(resp: h11.Response, name: str) -> str | None:
    for k, v in resp.headers:
        if k.decode().lower() == name.lower():
            return v.decode()
    return None


class OriginThread:
    """Just the strict origin, in its own thread, for edges started as subprocesses."""

    def __init__(self, handler: Handler = default_handler) -> None:
        self.origin = Origin(handler)

    def __enter__(self) -> Origin:
        self.loop = uvloop.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.origin.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self.origin

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self.origin.server is not None:
                self.origin.server.close()
            for w in list(self.origin.writers):
                w.close()
            await asyncio.sleep(0.01)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@dataclass
class Answer:
    """One response as a test sees it: status, lower-case headers, body and time taken."""

    status: int
    headers: dict[str, str]
    body: bytes
    took: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def timed_exchange(port: int, raw: bytes, method: str = "GET", timeout: float = 5.0) -> Answer:
    """Send `raw` on a new connection and read one response, timing the whole exchange."""
    t0 = time.monotonic()
    with connect(port) as s:
        s.sendall(raw)
        resp, body = read_response(s, method, timeout)
    headers = {k.decode().lower(): v.decode() for k, v in resp.headers}
    return Answer(resp.status_code, headers, body, time.monotonic() - t0)


def wait_until(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll `check` every 20 ms until it holds or `timeout` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def at_once(jobs: Sequence[Callable[[], T]], timeout: float = 8.0) -> list[T]:
    """Run the jobs in threads released together; fail on any exception or a hung job."""
    barrier = threading.Barrier(len(jobs))
    out: list[T | None] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(5)
            out[i] = jobs[i]()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(jobs))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "client threads still running"
    assert not errors, errors[:3]
    return [a for a in out if a is not None]


class RecordSink:
    """A recorder sink that keeps every record, for tests to read."""

    name = "test"

    def __init__(self) -> None:
        self.records: list[Record] = []

    def consume(self, records: list[Record]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        pass
