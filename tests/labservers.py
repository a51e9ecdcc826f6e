"""Scripted loopback servers for the lab's client tests: real sockets, answers byte for byte."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from seawall.lab.wire import Presentation, Target

T = TypeVar("T")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


@dataclass
class Loopback:
    """Serves each connection with `handle` on 127.0.0.1 and closes it after; `run` runs a test
    body against the server and then closes whatever connections are still open."""

    writers: set[asyncio.StreamWriter] = field(default_factory=set, kw_only=True)
    port: int = field(default=0, kw_only=True)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            await self.handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def run(
        self,
        body: Callable[[Target], Awaitable[T]],
        p: Presentation = Presentation.REAL_IP_HEADER,
    ) -> T:
        """Runs `body` against this server."""
        listener = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = listener.sockets[0].getsockname()[1]
        try:
            return await body(Target("127.0.0.1", self.port, p))
        finally:
            listener.close()
            for w in list(self.writers):
                w.close()
            await asyncio.sleep(0.05)  # let handlers see the close and finish


@dataclass
class Server(Loopback):
    """A loopback server whose `handler` serves each connection; counts connections and keeps
    what the handler records (the requests it read, raw bytes, notes)."""

    handler: Handler
    requests: list[bytes] = field(default_factory=list)
    received: list[bytearray] = field(default_factory=list)  # raw bytes, a connection each
    notes: dict[str, Any] = field(default_factory=dict)
    connections: int = 0
    eofs: int = 0  # connections the client closed first

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await self.handler(reader, writer, self)

    def lines(self) -> list[bytes]:
        """The request line of every request read."""
        return [r.split(b"\r\n", 1)[0] for r in self.requests]


def serve(
    handler: Handler,
    body: Callable[[Target, Server], Awaitable[T]],
    p: Presentation = Presentation.REAL_IP_HEADER,
) -> tuple[T, Server]:
    """Runs `body` (within 10 s) against a new server that serves each connection with
    `handler`; returns what it returned and the server."""
    server = Server(handler)

    async def main(target: Target) -> T:
        async with asyncio.timeout(10):
            return await body(target, server)

    return asyncio.run(server.run(main, p)), server


async def read_request(r: asyncio.StreamReader) -> bytes:
    """One request, its head and its Content-Length body."""
    head = await r.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + await r.readexactly(length)


def replies(*answers: bytes | None) -> Handler:
    """Answers the n-th request with answers[n] (the last one past the end); None: never.

    After an answer with `Connection: close` the server closes the connection."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: Server) -> None:
        for _ in range(100):
            try:
                request = await read_request(r)
            except asyncio.IncompleteReadError:
                s.eofs += 1
                return
            s.requests.append(request)
            answer = answers[min(len(s.requests), len(answers)) - 1]
            if answer is None:
                await r.read()  # silent until the client (or the test's end) closes
                return
            w.write(answer)
            await w.drain()
            if b"connection: close" in answer.lower():
                return

    return handler
