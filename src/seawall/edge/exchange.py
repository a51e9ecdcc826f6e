"""One request/response exchange: what the client connection and the upstream both touch."""

from __future__ import annotations

from seawall.core.admission import Ticket
from seawall.core.cache import Entry, Freshness
from seawall.core.facts import RequestFacts
from seawall.core.verdict import Verdict
from seawall.edge.authwatch import AuthSpec
from seawall.edge.request import Head

BODY_BUFFER = 65_536  # request body bytes held before an upstream is attached


class Exchange:
    """State of one request from its head to the last response byte."""

    __slots__ = (
        "auth",
        "auth_wait",
        "body",
        "body_bytes",
        "buffering",
        "bytes_out",
        "cache",
        "cache_key",
        "cache_lead",
        "capture",
        "complete",
        "early",
        "error",
        "facts",
        "forwarded_for",
        "head",
        "looked_up",
        "lookups",
        "method",
        "origin_t0",
        "origin_time",
        "queued_s",
        "raw",
        "resp_chunked",
        "resp_started",
        "resp_until_close",
        "retried",
        "rid",
        "stale",
        "status",
        "swallow",
        "t0",
        "target",
        "ticket",
        "verdict",
        "waiting",
        "wall",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        raw: list[tuple[bytes, bytes]],
        head: Head,
        t0: float,
        wall: float,
        rid: str,
    ) -> None:
        self.method = method
        self.target = target
        self.raw = raw
        self.head = head
        self.t0 = t0
        self.wall = wall
        self.rid = rid
        self.facts: RequestFacts | None = None
        self.verdict: Verdict | None = None
        self.body: list[bytes] = []  # chunks received before an upstream was attached
        self.body_bytes = 0
        self.complete = False  # the whole request (body included) has been parsed
        self.early = b""  # tunnel bytes that came after an Upgrade request's head
        self.status = 0
        self.bytes_out = 0
        self.origin_t0 = 0.0
        self.origin_time = 0.0
        self.resp_started = False
        self.resp_chunked = False  # re-chunk the body towards the client
        self.resp_until_close = False  # the origin delimits the body by closing
        self.retried = False
        self.error = ""
        self.forwarded_for = ""  # the trusted X-Forwarded-For chain to send on
        self.waiting = False  # an identity lookup is under way
        self.lookups = 0  # identity lookups started for this request
        self.looked_up = ""  # the last token looked up
        self.ticket: Ticket | None = None  # held from admission until the exchange ends
        self.queued_s = 0.0  # time waited for admission
        # 0: not yet; 1: the body is being buffered before admission; 2: done (100 sent)
        self.buffering = 0
        self.cache = ""  # the micro-cache: hit, stale, miss (this request fetched), "" (not used)
        self.cache_key: str | None = None
        self.cache_lead = False  # this request fetches the key for the others
        self.capture: tuple[int, tuple[tuple[str, str], ...], Freshness, list[bytes]] | None = None
        self.stale: Entry | None = None  # a stale copy to serve if the origin fails
        self.auth: AuthSpec | None = None  # a watched auth route: an event when it ends
        self.auth_wait = False  # reading the body for the account before deciding
        self.swallow = False  # the client got a uniform answer: the origin's body is read, unsent

    @property
    def has_body(self) -> bool:
        return self.head.chunked or bool(self.head.content_length)

    @property
    def is_head(self) -> bool:
        return self.method == b"HEAD"


def frame(chunk: bytes, chunked: bool) -> bytes:
    """A body chunk as it goes on the wire, chunk-encoded when the framing asks for it."""
    if chunked:  # an empty chunk would read as the last one
        return b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunk else b""
    return chunk


LAST_CHUNK = b"0\r\n\r\n"
