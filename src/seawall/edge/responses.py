"""Responses the edge writes itself: errors and verdicts, short and cheap."""

from __future__ import annotations

import math
from http import HTTPStatus

_SERVER = b"seawall"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


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
    body = f"{status} {_reason(status)}: {message}\n".encode()
    lines = [
        f"HTTP/1.1 {status} {_reason(status)}",
        "Server: seawall",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
    ]
    if retry_after > 0:
        lines.append(f"Retry-After: {max(1, math.ceil(retry_after))}")
    if request_id:
        lines.append(f"X-Request-ID: {request_id}")
    lines.extend(f"{k}: {v}" for k, v in extra)
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head if head_only else head + body


CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"
