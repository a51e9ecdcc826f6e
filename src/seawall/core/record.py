"""A record: facts plus verdict plus outcome. The input of detection and of the access log."""

from __future__ import annotations

import msgspec

from seawall.core.facts import RequestFacts
from seawall.core.verdict import Verdict


class Record(msgspec.Struct, frozen=True, gc=False):
    facts: RequestFacts
    verdict: Verdict
    status: int
    bytes_in: int
    bytes_out: int
    latency: float  # seconds from head received to last byte handed to the socket
    origin_time: float  # seconds the origin took to answer the head; 0 when not asked
    cache: str  # "", "hit", "miss", "stale"
    request_id: str
    time: float  # wall-clock epoch seconds at the head
    error: str = ""  # why the exchange failed, when it did
    uri: str = ""  # the request target exactly as received
    queued: float = 0.0  # seconds waited for admission to the origin
