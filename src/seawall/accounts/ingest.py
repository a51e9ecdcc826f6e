"""The app's events, as POST /v1/events carries them: validated, hashed, bounded.

A batch is `{"events": [...]}` (or a bare list) of at most `MAX_BATCH` events. Each has
an `id` (idempotency: a retried batch is counted once), a `type` (an EventKind), a
`time` (epoch seconds or ISO 8601; default: when it arrived), the `account`, the
`source` address, and optionally `user_agent`, `device`, `result`, `fingerprint` and
`password_hash` (the app's own keyed hash of the tried password; never the password).
Identifiers are hashed with seawall's key the moment they are read. A bad event is
rejected with its index and the reason; the rest of the batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec

from seawall.core.auth import AuthEvent, EventKind, Hasher, Result
from seawall.core.keys import ua_family
from seawall.core.net import parse_address, prefix_of

MAX_BATCH: Final = 1000
MAX_BODY: Final = 1024 * 1024
MAX_SKEW: Final = 7 * 86400.0  # events older or further ahead than this are refused
_MAX_TEXT: Final = 512


class AppEvent(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    type: str
    account: str
    source: str
    time: float | str | None = None
    user_agent: str = ""
    device: str = ""
    result: str = ""
    fingerprint: str = ""
    password_hash: str = ""


class _Batch(msgspec.Struct):
    events: list[Any]


@dataclass(frozen=True, slots=True)
class Ingested:
    events: list[AuthEvent]
    rejected: list[dict[str, object]]


class BatchError(ValueError):
    """The whole batch is unreadable: the sender's fault, answered with 400."""


def read_batch(body: bytes, hasher: Hasher, now: float) -> Ingested:
    if len(body) > MAX_BODY:
        raise BatchError(f"a batch is at most {MAX_BODY} bytes")
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BatchError(f"body is not JSON: {exc}") from None
    items = raw if isinstance(raw, list) else raw.get("events") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise BatchError('expected {"events": [...]} or a JSON list of events')
    if len(items) > MAX_BATCH:
        raise BatchError(f"at most {MAX_BATCH} events per batch; split it")
    events: list[AuthEvent] = []
    rejected: list[dict[str, object]] = []
    for i, item in enumerate(items):
        try:
            events.append(_event(msgspec.convert(item, AppEvent), hasher, now))
        except (msgspec.ValidationError, ValueError) as exc:
            rejected.append({"index": i, "error": str(exc)})
    return Ingested(events, rejected)


def _event(e: AppEvent, hasher: Hasher, now: float) -> AuthEvent:
    if not 0 < len(e.id) <= 128:
        raise ValueError("id: 1 to 128 characters")
    try:
        kind = EventKind(e.type)
    except ValueError:
        raise ValueError(f"type: one of {', '.join(k.value for k in EventKind)}") from None
    if not e.account or len(e.account) > _MAX_TEXT:
        raise ValueError("account: 1 to 512 characters")
    address = parse_address(e.source[:_MAX_TEXT])
    if address is None:
        raise ValueError(f"source: {e.source[:64]!r} is not an IP address")
    when = _time(e.time, now)
    try:
        result = Result(e.result) if e.result else _default_result(kind)
    except ValueError:
        raise ValueError(f"result: one of {', '.join(r.value for r in Result)}") from None
    ua = e.user_agent[:_MAX_TEXT]
    return AuthEvent(
        id=f"app:{e.id}",
        time=when,
        kind=kind,
        account=hasher(e.account),
        source=address.text,
        prefix=prefix_of(address),
        user_agent=ua,
        ua_family=ua_family(ua),
        fingerprint=e.fingerprint[:128],
        device=hasher(e.device[:_MAX_TEXT]),
        result=result,
        password=hasher(e.password_hash[:_MAX_TEXT]),
        origin="app",
    )


def _time(value: float | str | None, now: float) -> float:
    if value is None:
        return now
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        # without an offset the time would be read in this host's zone: not the app's word
        if parsed is None or parsed.tzinfo is None:
            raise ValueError("time: epoch seconds or ISO 8601 with an offset")
        value = parsed.timestamp()
    if not abs(value - now) <= MAX_SKEW:
        raise ValueError("time: more than 7 days from now")
    return float(value)


def _default_result(kind: EventKind) -> Result:
    if kind in (EventKind.LOGIN_FAILED, EventKind.MFA_FAILED):
        return Result.FAILED
    if kind in (EventKind.LOGIN_SUCCEEDED, EventKind.SESSION_CREATED):
        return Result.OK
    return Result.UNKNOWN
