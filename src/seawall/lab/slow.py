"""Bounded slow-attack clients (the lab's `slow` traffic class), loopback only.

slowhttptest cannot send a PROXY protocol header, so it cannot sit behind the balancer the
lab plays; these clients can. Each connection costs the peer a slot for almost no bytes:
`slowloris` sends a head a header line per tick and never ends it; `slow_post` sends a whole
head promising 1 MiB, then a few body bytes per tick; `slow_read` pipelines GETs and reads
one byte per tick through a tiny receive window.

A slot reconnects (after `reconnect_pause_s`) whenever the peer closes or answers, as
slowhttptest does, until the deadline. `SlowResult.held_seconds`, the summed time connections
stayed open, is the figure a protection should drive down. Bounds: at most `MAX_CONNECTIONS`
slots, ramped at `ramp_per_s`; every wait is capped by the deadline (an hour at most), and
every loop also by a count derived from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import re
import socket
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from seawall.edge.plumbing import peer_closed
from seawall.lab.wire import Target

MAX_CONNECTIONS = 5000
MAX_DURATION_S = 3600.0
MIN_INTERVAL_S = 0.01  # below this a "slow" client is a busy loop
MAX_INTERVAL_S = 300.0
MAX_RAMP_PER_S = 10_000.0
CONNECT_TIMEOUT_S = 3.0
CLOSE_TIMEOUT_S = 1.0
REFUSED_PAUSE_S = 0.25
ANSWER_GRACE_S = 0.5  # how long an answered connection may stay open before we drop it
POST_LENGTH = 1024 * 1024
POST_CHUNK = b"a=bc"
SLOW_READ_RCVBUF = 1024  # set before connect, so the advertised window starts (and stays) tiny
SLOW_READ_LIMIT = 16  # the StreamReader stops reading the socket beyond 2x this
SLOW_READ_PIPELINE = 32
READ_SIZE = 4096
MAX_READS_PER_TICK = 64
_Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_STATUS_LEN = len(b"HTTP/1.1 200")
_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")
_HEAD_TOKEN = re.compile(r"[\x21-\x7e]+")  # what may go in a request line or Host unquoted


class SlowKind(StrEnum):
    SLOWLORIS = "slowloris"
    SLOW_POST = "slow_post"
    SLOW_READ = "slow_read"


class EventKind(StrEnum):
    OPENED = "opened"
    REFUSED = "refused"
    CLOSED_BY_PEER = "closed_by_peer"
    DROPPED_AFTER_ANSWER = "dropped_after_answer"
    HELD_AT_END = "held_at_end"


@dataclass(frozen=True, slots=True)
class SlowEvent:
    """One thing that happened to one slot; `held_s` and `status` are set when a connection ends."""

    kind: EventKind
    address: str
    slot: int
    at_s: float  # seconds since the run started
    status: int | None = None
    held_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SlowAttack:
    """What to send: `addresses` are presented (PROXY v2 or X-Real-IP), never connected from."""

    kind: SlowKind
    addresses: Sequence[str]
    connections_per_address: int = 1
    interval_s: float = 1.0
    path: str = "/users/cyxymu"
    host_header: str = "lab.test"
    reconnect_pause_s: float = 0.5
    ramp_per_s: float = 500.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", SlowKind(self.kind))
        object.__setattr__(self, "addresses", tuple(self.addresses))
        if not self.addresses:
            raise ValueError("addresses: give at least one simulated client address")
        for a in self.addresses:
            try:
                ipaddress.ip_address(a)
            except ValueError:
                raise ValueError(f"addresses: {a!r} is not an IP address literal") from None
        if self.connections_per_address < 1:
            raise ValueError("connections_per_address must be at least 1")
        if len(self.addresses) * self.connections_per_address > MAX_CONNECTIONS:
            raise ValueError(f"at most {MAX_CONNECTIONS} connections (addresses x per address)")
        _check_range("interval_s", self.interval_s, MIN_INTERVAL_S, MAX_INTERVAL_S)
        _check_range("reconnect_pause_s", self.reconnect_pause_s, MIN_INTERVAL_S, MAX_INTERVAL_S)
        _check_range("ramp_per_s", self.ramp_per_s, 1.0, MAX_RAMP_PER_S)
        for name, value in (("path", self.path), ("host_header", self.host_header)):
            if not _HEAD_TOKEN.fullmatch(value):
                raise ValueError(f"{name} must be printable ASCII without spaces: {value!r}")
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with /: {self.path!r}")

    @property
    def slots(self) -> int:
        return len(self.addresses) * self.connections_per_address


@dataclass(frozen=True, slots=True)
class SlowResult:
    """Totals of one run. Every opened connection ends as exactly one of the last three."""

    kind: SlowKind
    slots: int
    elapsed_s: float
    opened: int
    refused: int
    max_concurrent_open: int
    held_seconds: float  # sum over connections of how long each stayed open
    answered: Counter[int]  # first status per connection; 0 when the reply was not HTTP
    closed_by_peer: int
    dropped_after_answer: int  # answered but left open by the peer: we closed it
    held_at_end: int  # still open when time ran out

    @property
    def reconnects(self) -> int:
        return max(0, self.opened - self.slots)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:  # also refuses NaN
        raise ValueError(f"{name} must be within [{low}, {high}], got {value}")


def check_target(target: Target) -> None:
    """Refuse anything but a loopback IP literal: the lab never attacks a real host."""
    try:
        ip = ipaddress.ip_address(target.host)
    except ValueError:
        raise ValueError(f"target host must be a loopback IP literal: {target.host!r}") from None
    if not ip.is_loopback:
        raise ValueError(f"target host {target.host} is not loopback; the lab only attacks itself")
    if not 0 < target.port <= 0xFFFF:
        raise ValueError(f"target port out of range: {target.port}")


@dataclass(slots=True)
class _Run:
    """What every slot of one run shares, tallies included; the deadline bounds every wait."""

    target: Target
    attack: SlowAttack
    start: float
    deadline: float
    max_ticks: int
    report: Callable[[SlowEvent], None] | None
    opened: int = 0
    refused: int = 0
    open_now: int = 0
    max_open: int = 0
    held_seconds: float = 0.0
    answered: Counter[int] = field(default_factory=Counter)
    ends: Counter[EventKind] = field(default_factory=Counter)

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def left(self) -> float:
        return self.deadline - self.now()

    def emit(
        self, kind: EventKind, address: str, slot: int, status: int | None = None, held: float = 0
    ) -> None:
        if self.report is not None:
            self.report(SlowEvent(kind, address, slot, self.now() - self.start, status, held))


async def run_slow(
    target: Target,
    attack: SlowAttack,
    duration_s: float,
    report: Callable[[SlowEvent], None] | None = None,
) -> SlowResult:
    """Run `attack` against `target` for `duration_s`; all sockets are closed on return."""
    check_target(target)
    _check_range("duration_s", duration_s, MIN_INTERVAL_S, MAX_DURATION_S)
    start = asyncio.get_running_loop().time()
    ticks = int(duration_s / attack.interval_s) + 2
    run = _Run(target, attack, start, start + duration_s, ticks, report)
    # round-robin over addresses, so each address ramps up evenly
    plan = [(a, j) for j in range(attack.connections_per_address) for a in attack.addresses]
    async with asyncio.TaskGroup() as tg:
        for address, j in plan:
            if run.left() <= 0:
                break
            tg.create_task(_slot(run, address, j), name=f"slow-{attack.kind}-{address}-{j}")
            await asyncio.sleep(1.0 / attack.ramp_per_s)
    t = run
    return SlowResult(
        kind=attack.kind,
        slots=attack.slots,
        elapsed_s=run.now() - start,
        opened=t.opened,
        refused=t.refused,
        max_concurrent_open=t.max_open,
        held_seconds=t.held_seconds,
        answered=t.answered,
        closed_by_peer=t.ends[EventKind.CLOSED_BY_PEER],
        dropped_after_answer=t.ends[EventKind.DROPPED_AFTER_ANSWER],
        held_at_end=t.ends[EventKind.HELD_AT_END],
    )


async def _slot(run: _Run, address: str, slot: int) -> None:
    """One simulated connection, reopened after every end until the deadline."""
    pause = min(run.attack.reconnect_pause_s, REFUSED_PAUSE_S)
    for _ in range(int((run.deadline - run.start) / pause) + 2):  # each round pauses >= pause
        if run.left() <= 0:
            return
        try:
            conn = await _connect(run)
        except OSError:  # TimeoutError included
            run.refused += 1
            run.emit(EventKind.REFUSED, address, slot)
            await asyncio.sleep(max(0.0, min(REFUSED_PAUSE_S, run.left())))
            continue
        if await _hold(run, address, slot, conn) is EventKind.HELD_AT_END:
            return
        await asyncio.sleep(max(0.0, min(run.attack.reconnect_pause_s, run.left())))


async def _connect(run: _Run) -> _Streams:
    host, port = run.target.host, run.target.port
    slow_read = run.attack.kind is SlowKind.SLOW_READ
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if slow_read:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_READ_RCVBUF)
        connecting = asyncio.get_running_loop().sock_connect(sock, (host, port))
        await asyncio.wait_for(connecting, max(0.001, min(CONNECT_TIMEOUT_S, run.left())))
        limit = SLOW_READ_LIMIT if slow_read else 2**16
        return await asyncio.open_connection(sock=sock, limit=limit)
    except BaseException:
        sock.close()
        raise


async def _hold(run: _Run, address: str, slot: int, conn: _Streams) -> EventKind:
    """Dribble on one open connection, then close it and count how it ended."""
    reader, writer = conn
    opened_at = run.now()
    run.opened += 1
    run.open_now += 1
    run.max_open = max(run.max_open, run.open_now)
    run.emit(EventKind.OPENED, address, slot)
    end, status = EventKind.HELD_AT_END, None  # what a cancelled run counts
    try:
        end, status = await _dribble(run, address, reader, writer)
    finally:
        held = max(0.0, min(run.now(), run.deadline) - opened_at)
        run.open_now -= 1
        run.held_seconds += held
        run.ends[end] += 1
        if status is not None:
            run.answered[status] += 1
        writer.close()
        with contextlib.suppress(OSError):  # a reset peer, or TimeoutError
            await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)
        run.emit(end, address, slot, status, held)
    return end


async def _dribble(
    run: _Run, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[EventKind, int | None]:
    """Tick every `interval_s`: send a chunk, listen; stop at a close, an answer or the end."""
    opening, chunks = _script(run.target, run.attack, address, writer.get_extra_info("sockname"))
    sniff = _Sniffer(keep_going=run.attack.kind is SlowKind.SLOW_READ)
    answered_at: float | None = None
    try:
        if not await _send(run, writer, opening):
            return EventKind.HELD_AT_END, sniff.status
        for _ in range(run.max_ticks):
            now = run.now()
            if now >= run.deadline:
                break
            tick_end = min(now + run.attack.interval_s, run.deadline)
            if answered_at is not None:
                if now - answered_at >= ANSWER_GRACE_S:
                    return EventKind.DROPPED_AFTER_ANSWER, sniff.status
                tick_end = min(tick_end, answered_at + ANSWER_GRACE_S)
            elif (chunk := next(chunks, b"")) and not await _send(run, writer, chunk):
                break
            closed = await _listen(run, reader, sniff, tick_end, slow=answered_at is None)
            if closed or (sniff.keep_going and _peer_gone(writer)):
                return EventKind.CLOSED_BY_PEER, sniff.status
            if answered_at is None and sniff.final:
                answered_at = run.now()
    except (OSError, RuntimeError):  # reset, broken pipe, or uvloop's closed transport
        return EventKind.CLOSED_BY_PEER, sniff.status
    return EventKind.HELD_AT_END, sniff.status


def _script(
    target: Target, attack: SlowAttack, client: str, sockname: tuple[str, int] | None
) -> tuple[bytes, Iterator[bytes]]:
    """The bytes sent on connect, then one chunk per tick."""
    pre = target.preamble(client, sockname[1] if sockname else 0)

    def head(method: str) -> bytes:
        line = f"{method} {attack.path} HTTP/1.1\r\nHost: {attack.host_header}\r\n"
        return line.encode("ascii") + target.header_lines(client)

    if attack.kind is SlowKind.SLOWLORIS:
        # no blank line, ever: the head never completes
        pads = (f"X-Pad-{i}: {i % 10}\r\n".encode("ascii") for i in itertools.count())
        return pre + head("GET"), pads
    if attack.kind is SlowKind.SLOW_POST:
        post = head("POST") + b"Content-Type: application/x-www-form-urlencoded\r\n"
        post += f"Content-Length: {POST_LENGTH}\r\n\r\n".encode("ascii")
        return pre + post, itertools.repeat(POST_CHUNK, POST_LENGTH // len(POST_CHUNK))
    return pre + (head("GET") + b"\r\n") * SLOW_READ_PIPELINE, iter(())


def _peer_gone(writer: asyncio.StreamWriter) -> bool:
    """Whether the peer sent FIN or RST: a paused transport would only see it after we ate
    the kilobytes buffered ahead of it at a byte a tick; the kernel's TCP state knows at once."""
    gone = peer_closed(writer.transport)
    return writer.transport.is_closing() if gone is None else gone


async def _send(run: _Run, writer: asyncio.StreamWriter, data: bytes) -> bool:
    """False when the deadline came while the peer would not take the bytes."""
    if writer.transport.is_closing():  # uvloop raises on a write to a closed transport
        raise ConnectionResetError("the peer closed the connection")
    writer.write(data)
    try:
        await asyncio.wait_for(writer.drain(), max(0.001, run.left()))
    except TimeoutError:
        return False
    return True


async def _listen(
    run: _Run, reader: asyncio.StreamReader, sniff: _Sniffer, tick_end: float, *, slow: bool
) -> bool:
    """Read until `tick_end`; True when the peer closed. A slow reader takes one byte a tick."""
    for _ in range(1 if slow and sniff.keep_going else MAX_READS_PER_TICK):
        size = 1 if slow and sniff.keep_going else READ_SIZE
        try:
            data = await asyncio.wait_for(reader.read(size), max(0.0, tick_end - run.now()))
        except TimeoutError:
            return False
        if not data:
            return True
        was_final = sniff.final
        sniff.feed(data)
        if sniff.final and not was_final:
            return False  # just answered: the caller starts the grace period
    await asyncio.sleep(max(0.0, tick_end - run.now()))
    return False


@dataclass(slots=True)
class _Sniffer:
    """The first status line of a connection; `final` when it should end the attack."""

    keep_going: bool  # slow_read expects 2xx answers and keeps reading them
    head: bytes = b""
    status: int | None = None

    @property
    def final(self) -> bool:
        return self.status is not None and not (self.keep_going and 200 <= self.status < 300)

    def feed(self, data: bytes) -> None:
        if self.status is not None:
            return
        self.head += data[: _STATUS_LEN - len(self.head)]
        if m := _STATUS.match(self.head):
            self.status = int(m.group(1))
        elif len(self.head) >= _STATUS_LEN:
            self.status = 0  # not an HTTP response
        if self.final:
            self.keep_going = False
