"""Responses the edge writes itself: errors and verdicts, short and cheap."""

from __future__ import annotations

import math
from http import HTTPStatus

_REASONS = {int(s): s.phrase for s in HTTPStatus}
_TEMPLATES: dict[tuple[int, str], tuple[bytes, bytes]] = {}
_TEMPLATES_MAX = 1024


def _reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


def _template(status: int, message: str) -> tuple[bytes, bytes]:
    """(head start, body) for a status and message; rendered once, then reused."""
    key = (status, message)
    found = _TEMPLATES.get(key)
    if found is None:
        body = f"{status} {_reason(status)}: {message}\n".encode()
        head = (
            f"HTTP/1.1 {status} {_reason(status)}\r\nServer: seawall\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\n"
        ).encode()
        if len(_TEMPLATES) >= _TEMPLATES_MAX:
            _TEMPLATES.clear()
        found = _TEMPLATES[key] = (head, body)
    return found


def simple_response(
    status: int,
    message: str,
    *,
    close: bool = False,
    retry_after: float = 0.0,
    request_id: str = "",
    head_only: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A complete HTTP/1.1 response with a one-line text body."""
    head, body = _template(status, message)
    parts = [head]
    if retry_after > 0:
        parts.append(b"Retry-After: %d\r\n" % max(1, math.ceil(retry_after)))
    if request_id:
        parts.append(f"X-Request-ID: {request_id}\r\n".encode("latin-1"))
    parts.extend(f"{k}: {v}\r\n".encode("latin-1") for k, v in extra)
    if close:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    if not head_only:
        parts.append(body)
    return b"".join(parts)


def uniform_response(
    status: int, body: bytes, close: bool, request_id: str, head_only: bool
) -> bytes:
    """The same answer whatever the origin said: a recovery flow under harvesting."""
    head = (
        f"HTTP/1.1 {status} {_reason(status)}\r\nServer: seawall\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        f"Cache-Control: no-store\r\nX-Request-ID: {request_id}\r\n"
        f"{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n"
    ).encode("latin-1")
    return head if head_only else head + body


CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"


BUSY_HTML = (
    b"<!doctype html><html lang=en><meta charset=utf-8>"
    b"<meta name=viewport content='width=device-width'><title>Busy: back in a moment</title>"
    b"<body style='font:16px/1.5 system-ui,sans-serif;max-width:32em;margin:4em auto'>"
    b"<h1>We're busy right now</h1><p>This page is in high demand. It will load if you try "
    b"again in a few seconds.</p></body></html>\n"
)
BUSY_JSON = b'{"error":"overloaded","message":"the service is busy; retry after the delay given"}\n'


def busy_response(
    retry_after: float, *, wants: str, request_id: str = "", head_only: bool = False
) -> bytes:
    """503 for a shed request: a small page for browsers, JSON for API clients, else text."""
    if wants == "json":
        ctype, body = "application/json", BUSY_JSON
    elif wants == "html":
        ctype, body = "text/html; charset=utf-8", BUSY_HTML
    else:
        return simple_response(
            503,
            "the service is busy; retry later",
            retry_after=retry_after,
            request_id=request_id,
            head_only=head_only,
        )
    head = (
        f"HTTP/1.1 503 Service Unavailable\r\nServer: seawall\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n"
        f"Retry-After: {max(1, math.ceil(retry_after))}\r\n"
    )
    if request_id:
        head += f"X-Request-ID: {request_id}\r\n"
    return head.encode("latin-1") + b"\r\n" + (b"" if head_only else body)
