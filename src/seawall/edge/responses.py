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


CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"
