"""Access log sink: JSON lines (or nginx combined), written in batches."""

from __future__ import annotations

import os
import sys
import time
from urllib.parse import quote

import msgspec

from seawall.core.record import Record

_encoder = msgspec.json.Encoder()


def json_line(r: Record) -> bytes:
    f = r.facts
    return _encoder.encode(
        {
            "time": int(r.time * 1000 + 0.5) / 1000,
            "client": f.client.text,
            "peer": f.peer.text,
            "method": f.method,
            "host": f.host,
            "path": f.path,
            "query": f.query,
            "uri": r.uri,
            "status": r.status,
            "bytes_in": r.bytes_in,
            "bytes_out": r.bytes_out,
            "latency_ms": int(r.latency * 1_000_000 + 0.5) / 1000,
            "origin_ms": int(r.origin_time * 1_000_000 + 0.5) / 1000,
            "queued_ms": int(r.queued * 1_000_000 + 0.5) / 1000,
            "verdict": r.verdict.action.label,
            "reason": r.verdict.reason,
            "rule": r.verdict.rule_id,
            "class": f.klass.label,
            "route": f.route,
            "target": f.target,
            "ua": f.user_agent,
            "fp": f.header_fp,
            "cache": r.cache,
            "request_id": r.request_id,
            "tls": f.tls.version,
            "error": r.error,
        }
    )


_URI_SAFE = "/?&=:@!$'()*+,;-._~%"


def _escape(text: str) -> str:
    """nginx's escaping for log fields: quotes, backslashes and control bytes as \\xHH."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return "".join(
        c if c.isprintable() and c not in '"\\' else "".join(f"\\x{b:02X}" for b in c.encode())
        for c in text
    )


def combined_line(r: Record) -> bytes:
    f = r.facts
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(r.time))
    # the raw target as received; else the decoded path re-encoded so no space splits the field
    target = r.uri or quote(f"{f.path}?{f.query}" if f.query else f.path, safe=_URI_SAFE)
    # no request line at all (a connection dropped for slowness): "-", as nginx logs it
    request = f"{_escape(f.method)} {_escape(target)} HTTP/1.1" if f.method else "-"
    return (
        f'{f.client.text} - - [{stamp}] "{request}" '
        f'{r.status} {r.bytes_out} "-" "{_escape(f.user_agent)}"'
    ).encode("utf-8", "replace")


class AccessLog:
    """A record sink. '-' is standard output; files are opened for append and reopened on demand."""

    name = "access_log"

    def __init__(self, path: str, fmt: str = "json") -> None:
        self.path = path
        self._format = combined_line if fmt == "combined" else json_line
        self._fd = self._open()
        self.write_errors = 0

    def _open(self) -> int:
        if self.path == "-":
            return sys.stdout.fileno()
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def reopen(self) -> None:
        """For log rotation (SIGHUP/SIGUSR1)."""
        if self.path != "-":
            old, self._fd = self._fd, self._open()
            os.close(old)

    def consume(self, records: list[Record]) -> None:
        fmt = self._format
        data = b"\n".join([fmt(r) for r in records]) + b"\n"
        try:
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError:
            self.write_errors += 1
            raise

    def close(self) -> None:
        """Idempotent: a second close must never hit an fd number reused since."""
        if self.path != "-" and self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)
