"""Facts: what is known about a request before it is forwarded, built once from its head."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from seawall.core.errors import ClientError
from seawall.core.facts import NO_TLS, RequestFacts, TlsFacts
from seawall.core.keys import header_fingerprint, normalize_path, query_shape
from seawall.core.net import Address, forwarded_for_values, forwarding_chain, prefix_of
from seawall.edge.exchange import Exchange

if TYPE_CHECKING:
    from seawall.edge.context import EdgeContext


_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}


def build_facts(
    ctx: EdgeContext, ex: Exchange, peer: Address, peer_prefix: str, tls: TlsFacts
) -> RequestFacts:
    """Also sets `ex.forwarded_for`, the trusted chain to send on."""
    h = ex.head.headers
    xff = h.get("x-forwarded-for")
    if xff is None and "forwarded" in h:
        xff = forwarded_for_values(h["forwarded"])
    client, ex.forwarded_for = forwarding_chain(peer, xff, ctx.trusted)
    if not ex.target.startswith(b"/") and ex.target != b"*":
        to_origin_form(ex)
    path_b, _, query_b = ex.target.partition(b"?")
    path = normalize_path(path_b.decode("latin-1"))
    query = query_b.decode("latin-1")
    route, target = ctx.router.match(path)
    klass, principal = ctx.classifier.classify(client, h, ex.wall)
    host = h.get("host", "").lower()
    prefix = peer_prefix if client is peer else prefix_of(client)
    ua = h.get("user-agent", "")
    cookie = h.get("cookie")
    passed = (
        cookie is not None and ctx.desk is not None and ctx.desk.passed(cookie, prefix, ua, ex.wall)
    )
    return RequestFacts(
        client=client,
        peer=peer,
        prefix=prefix,
        method=_METHODS.get(ex.method) or ex.method.decode("latin-1"),
        host=host.rsplit(":", 1)[0] if not host.endswith("]") else host,
        path=path,
        query=query,
        route=route,
        target=target,
        query_shape=query_shape(query),
        header_fp=header_fingerprint([n for n, _ in ex.raw]),
        user_agent=ua,
        has_cookie=cookie is not None,
        has_auth="authorization" in h,
        klass=klass,
        principal=principal,
        tls=tls,
        passed=passed,
    )


def to_origin_form(ex: Exchange) -> None:
    """Absolute-form target: its authority is the host (RFC 9112 §3.2.2), for rules and origin."""
    scheme, sep, rest = ex.target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        raise ClientError(400, "request target is neither a path nor an http(s) URL")
    slash = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    authority, tail = rest[:slash], rest[slash:]
    authority = authority.rsplit(b"@", 1)[-1]  # userinfo is never forwarded
    if not authority:
        raise ClientError(400, "an http URL needs a host (RFC 9110 §4.2.1)")
    ex.target = tail if tail.startswith(b"/") else b"/" + tail
    ex.raw = [(n, v) for n, v in ex.raw if n.lower() != b"host"] + [(b"Host", authority)]
    ex.head.headers["host"] = authority.decode("latin-1")


def tls_facts(transport: asyncio.Transport) -> TlsFacts:
    ssl_obj = transport.get_extra_info("ssl_object")
    if ssl_obj is None:
        return NO_TLS
    cipher = ssl_obj.cipher()
    return TlsFacts(
        version=ssl_obj.version() or "",
        sni=getattr(ssl_obj, "sni", "") or "",
        alpn=ssl_obj.selected_alpn_protocol() or "",
        cipher=cipher[0] if cipher else "",
    )
