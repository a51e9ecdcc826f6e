"""What is known about a request before it is forwarded."""

from __future__ import annotations

import enum

import msgspec

from seawall.core.net import Address


class ClientClass(enum.IntEnum):
    """Who the client is, in priority order (lower is served first)."""

    API_APP = 0
    GATEWAY = 1
    USER = 2
    ANONYMOUS = 3

    @property
    def label(self) -> str:
        return _CLASS_LABELS[self]


_CLASS_LABELS = {c: c.name.lower() for c in ClientClass}


class TlsFacts(msgspec.Struct, frozen=True, gc=False):
    version: str = ""
    sni: str = ""
    alpn: str = ""
    cipher: str = ""


NO_TLS = TlsFacts()


class RequestFacts(msgspec.Struct, frozen=True, gc=False):
    """Built once per request from its head; the Decider's only input besides `now`."""

    client: Address
    peer: Address
    prefix: str
    method: str
    host: str
    path: str
    query: str
    route: str
    target: str
    query_shape: str
    header_fp: str
    user_agent: str
    has_cookie: bool
    has_auth: bool
    klass: ClientClass
    principal: str
    tls: TlsFacts = NO_TLS
    country: str = ""
    asn: int = 0
    passed: bool = False  # carries a valid proof-of-work pass for its prefix and User-Agent
    account: str = ""  # keyed hash of the account an auth route names; "" elsewhere
