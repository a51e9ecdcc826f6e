"""Request heads: smuggling checks, facts, and the head sent on to the origin."""

from __future__ import annotations

import re
from dataclasses import dataclass

from seawall.core.errors import ClientError

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
# headers the edge writes itself, so a client's own copy must not pass
_REWRITTEN = frozenset(
    {
        b"x-forwarded-for",
        b"x-real-ip",
        b"x-forwarded-proto",
        b"x-request-id",
        b"forwarded",
        b"via",
        b"expect",
        b"content-length",
    }
)
_DROP = HOP_BY_HOP | _REWRITTEN
_RESPONSE_DROP = HOP_BY_HOP | {b"content-length", b"x-request-id"}
# a client naming these in Connection must not make the edge drop its own framing or identity
_KEEP_NAMED = frozenset({b"close", b"keep-alive", b"upgrade", b"host", b"content-length"})
# uri-host [ ":" port ] (RFC 9112 §3.2): reg-name or IP literal, no userinfo, no path
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+;=%]+)(:[0-9]{0,5})?\Z")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}\Z")


@dataclass(slots=True)
class Head:
    """What the connection needs to know about one request head."""

    headers: dict[str, str]
    content_length: int | None
    chunked: bool
    expect_continue: bool
    upgrade: str
    close: bool
    drop: frozenset[bytes] = frozenset()  # header names the client listed in Connection


def inspect_head(raw: list[tuple[bytes, bytes]], http11: bool, max_body: int) -> Head:
    """Validate framing (the smuggling vectors) and index the headers by lowercase name."""
    headers: dict[str, str] = {}
    cl_values: list[bytes] = []
    te_values: list[bytes] = []
    for name, value in raw:  # llhttp already refused control characters in values
        lname = name.lower()
        if lname == b"content-length":
            cl_values.append(value)
        elif lname == b"transfer-encoding":
            te_values.append(value)
        key = lname.decode("latin-1")
        text = value.decode("latin-1")
        old = headers.get(key)
        if old is None:
            headers[key] = text
        else:
            headers[key] = f"{old}; {text}" if key == "cookie" else f"{old}, {text}"
    content_length = _content_length(cl_values, te_values, max_body)
    chunked = bool(te_values)
    if http11 and "host" not in headers:
        raise ClientError(400, "HTTP/1.1 request without Host")
    host = headers.get("host")
    if host is not None:
        if "," in host:
            raise ClientError(400, "more than one Host header")
        if not _HOST.match(host):
            raise ClientError(400, "Host is not host[:port]")
    options = connection_options(headers.get("connection", ""))
    upgrade = headers.get("upgrade", "") if "upgrade" in options else ""
    close = "close" in options if http11 else "keep-alive" not in options
    if chunked and not http11:
        close = True  # HTTP/1.0 framing by Transfer-Encoding is faulty: close after (RFC 9112 §6.1)
    if upgrade and (chunked or content_length):
        raise ClientError(400, "an Upgrade request cannot carry a body")
    expect = headers.get("expect", "").lower()
    if expect and expect != "100-continue":
        raise ClientError(417, "only Expect: 100-continue is supported")
    drop = frozenset(o.encode("latin-1") for o in options) - _KEEP_NAMED
    return Head(headers, content_length, chunked, bool(expect), upgrade, close, drop)


def connection_options(value: str) -> set[str]:
    """The comma-separated tokens of a Connection header, lowercased (RFC 9110 §7.6.1)."""
    return {t.strip().lower() for t in value.split(",") if t.strip()} if value else set()


def _content_length(cl: list[bytes], te: list[bytes], max_body: int) -> int | None:
    if te:
        if cl:
            raise ClientError(400, "both Content-Length and Transfer-Encoding")
        if len(te) > 1 or te[0].strip().lower() != b"chunked":
            raise ClientError(400, "Transfer-Encoding other than a single 'chunked'")
        return None
    if not cl:
        return None
    if len(cl) > 1:
        raise ClientError(400, "more than one Content-Length")
    value = cl[0].strip()
    if not value.isdigit() or len(value) > 18:
        raise ClientError(400, "Content-Length is not a number")
    length = int(value)
    if length > max_body:
        raise ClientError(413, f"body of {length} bytes is over the limit of {max_body}")
    return length


def request_id(given: str | None, fallback: str) -> str:
    """Pass a well-formed X-Request-ID on; replace a missing or hostile one."""
    if given and _REQUEST_ID.match(given):
        return given
    return fallback


def upstream_head(
    method: bytes,
    target: bytes,
    raw: list[tuple[bytes, bytes]],
    head: Head,
    forwarded_for: str,
    client: str,
    proto: str,
    rid: str,
    default_host: bytes,
    extra: bytes = b"",
    drop_more: frozenset[bytes] = frozenset(),
) -> bytes:
    """The head the origin sees: hop-by-hop gone, framing and forwarding headers ours.

    `extra` is header lines of ours (CRLF-terminated); `drop_more` names headers only the
    edge may set, dropped from the client's.
    """
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    if "host" not in head.headers:  # HTTP/1.0 clients may omit it; HTTP/1.1 origins need it
        parts += (b"Host: ", default_host, b"\r\n")
    drop = head.drop
    for name, value in raw:
        lname = name.lower()
        if lname in _DROP or (drop and lname in drop) or (drop_more and lname in drop_more):
            continue
        parts += (name, b": ", value, b"\r\n")
    if head.chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif head.content_length is not None:
        parts.append(b"Content-Length: %d\r\n" % head.content_length)
    if head.upgrade:
        parts.append(f"Connection: upgrade\r\nUpgrade: {head.upgrade}\r\n".encode("latin-1"))
    if extra:
        parts.append(extra)
    via = head.headers.get("via")
    parts.append(
        (
            f"X-Forwarded-For: {forwarded_for}\r\nX-Real-IP: {client}\r\n"
            f"X-Forwarded-Proto: {proto}\r\nX-Request-ID: {rid}\r\n"
            f"Via: {via + ', ' if via else ''}1.1 seawall\r\n\r\n"
        ).encode("latin-1")
    )
    return b"".join(parts)


def response_head(
    status: int,
    reason: bytes,
    raw: list[tuple[bytes, bytes]],
    framing: bytes,
    close: bool,
    rid: str,
) -> bytes:
    """The head the client sees: the origin's headers less hop-by-hop, with our framing."""
    parts = [b"HTTP/1.1 %d " % status, reason or b"-", b"\r\n"]
    named: set[bytes] = set()
    for name, value in raw:
        lname = name.lower()
        if lname in _RESPONSE_DROP:
            if lname == b"connection":  # the origin's own hop-by-hop list (RFC 9110 §7.6.1)
                named |= {o.encode("latin-1") for o in connection_options(value.decode("latin-1"))}
            continue
        parts += (name, b": ", value, b"\r\n")
    if named:  # rare: rebuild without the headers the origin named
        parts = parts[:3]
        for name, value in raw:
            lname = name.lower()
            if lname not in _RESPONSE_DROP and lname not in named:
                parts += (name, b": ", value, b"\r\n")
    parts.append(framing)
    if close:
        parts.append(b"Connection: close\r\n")
    parts.append(b"X-Request-ID: %s\r\n\r\n" % rid.encode("latin-1"))
    return b"".join(parts)
