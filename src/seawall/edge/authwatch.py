"""Watching auth routes: the account a request names, how it ended, as an auth event.

On a watched route the edge reads the body (up to `accounts.max_body_bytes`) before it
decides, so rules can match the account; the identifier is keyed-hashed at once and the
clear text is never kept. When the origin answers, its status, redirect or result header
says how the attempt ended. Events wait in a bounded queue (with a drop counter) until
account protection drains them, once a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

from seawall.config.accounts import AccountsConfig, AuthRoute
from seawall.core.auth import AuthEvent, EventKind, Hasher, Result
from seawall.core.facts import ClientClass, RequestFacts
from seawall.core.keys import ua_family

MAX_QUEUE: Final = 50_000
_MAX_FIELDS: Final = 100  # form fields parsed to find the identifier

_KIND_EVENTS: Final = {
    "login": (EventKind.LOGIN_SUCCEEDED, EventKind.LOGIN_FAILED),
    "password_reset": (EventKind.PASSWORD_RESET_REQUESTED, EventKind.PASSWORD_RESET_REQUESTED),
    "recovery_lookup": (EventKind.RECOVERY_LOOKUP, EventKind.RECOVERY_LOOKUP),
    "pii_view": (EventKind.PII_VIEWED, EventKind.PII_VIEWED),
}
_RESULT_WORDS: Final = {
    "ok": Result.OK,
    "success": Result.OK,
    "failed": Result.FAILED,
    "failure": Result.FAILED,
    "mfa_failed": Result.FAILED,
    "found": Result.FOUND,
    "not_found": Result.NOT_FOUND,
}


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """One watched route, flattened for the hot path."""

    kind: str
    method: str
    account_from: str
    field: str
    success: frozenset[int]
    failure: frozenset[int]
    success_location: bytes
    result_header: bytes  # lowercase; b"" when the app sets none
    uniform: bytes  # the whole uniform answer's body
    uniform_status: int

    @classmethod
    def of(cls, r: AuthRoute) -> AuthSpec:
        return cls(
            r.kind,
            r.method,
            r.account_from,
            r.account_field,
            frozenset(r.success_status),
            frozenset(r.failure_status),
            r.success_location.encode("latin-1"),
            r.result_header.lower().encode("latin-1"),
            r.uniform_body.encode(),
            r.uniform_status,
        )

    @property
    def recovery(self) -> bool:
        return self.kind in ("password_reset", "recovery_lookup")


def identifier_in(spec: AuthSpec, facts: RequestFacts, body: bytes, content_type: str) -> str:
    """The identifier the request names, in clear (hash it at once), or "" if none is found."""
    if spec.account_from == "target":
        return facts.target.rstrip("/").rsplit("/", 1)[-1]
    if spec.account_from == "query":
        return _form_value(facts.query, spec.field)
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        return _form_value(body.decode("utf-8", "replace"), spec.field)
    if ctype == "application/json" or ctype.endswith("+json"):
        return _json_value(body, spec.field)
    return ""


def _form_value(text: str, name: str) -> str:
    try:
        pairs = parse_qsl(text, keep_blank_values=False, max_num_fields=_MAX_FIELDS)
    except ValueError:  # more fields than any sign-in form has: not ours to read
        return ""
    return next((v for k, v in pairs if k == name), "")


def _json_value(body: bytes, dotted: str) -> str:
    try:
        node: object = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if isinstance(node, bool):  # a bool is an int to Python, never an identifier
        return ""
    return node if isinstance(node, str) else str(node) if isinstance(node, int) else ""


def outcome(
    spec: AuthSpec, status: int, headers: list[tuple[bytes, bytes]]
) -> tuple[EventKind, Result] | None:
    """What the origin's answer says: a known result word wins, then redirect, then status.

    None when the answer says nothing of the attempt: an origin failing or shedding load
    (5xx, 429) must never look like failed sign-ins.
    """
    ok_kind, failed_kind = _KIND_EVENTS[spec.kind]
    location = b""
    for name, value in headers:
        lname = name.lower()
        if spec.result_header and lname == spec.result_header:
            word = value.strip().decode("latin-1").lower()
            result = _RESULT_WORDS.get(word)
            if result is None:
                continue  # a word we do not know says nothing: never count it a success
            if word == "mfa_failed":
                return EventKind.MFA_FAILED, Result.FAILED
            return (failed_kind if result is Result.FAILED else ok_kind), _recovery(spec, result)
        if lname == b"location":
            location = value
    if status >= 500 or status == 429:
        return None
    if spec.success_location and 300 <= status < 400:
        good = _location_path(location).startswith(spec.success_location)
        return (ok_kind, Result.OK) if good else (failed_kind, Result.FAILED)
    if status in spec.success:
        return ok_kind, _recovery(spec, Result.OK)
    if status in spec.failure:
        return failed_kind, _recovery(spec, Result.FAILED)
    return failed_kind if spec.kind == "login" else ok_kind, Result.UNKNOWN


def _location_path(location: bytes) -> bytes:
    """An absolute Location's path (https://site/home -> /home); a relative one as it is."""
    scheme, sep, rest = location.partition(b"://")
    if not sep or b"/" in scheme:
        return location
    slash = rest.find(b"/")
    return rest[slash:] if slash >= 0 else b"/"


def _recovery(spec: AuthSpec, result: Result) -> Result:
    """Recovery routes speak of identifiers: known (found) or not."""
    if not spec.recovery:
        return result
    return {Result.OK: Result.FOUND, Result.FAILED: Result.NOT_FOUND}.get(result, result)


class AuthWatch:
    """The watched routes of one worker, the identifier hasher and the event queue."""

    def __init__(self, cfg: AccountsConfig, max_queue: int = MAX_QUEUE) -> None:
        self.hasher = Hasher(cfg.secret)
        self.routes = {r.route: AuthSpec.of(r) for r in cfg.routes}
        self.max_body = cfg.max_body_bytes
        self.step_up = cfg.step_up_header.encode("latin-1")
        # the app's result headers never reach clients; clients never send a step-up header
        self.strip = frozenset(s.result_header for s in self.routes.values() if s.result_header)
        self.drop_in = frozenset({self.step_up.lower()})
        self.queue: list[AuthEvent] = []
        self.max_queue = max_queue
        self.dropped = 0

    def spec(self, facts: RequestFacts) -> AuthSpec | None:
        spec = self.routes.get(facts.route)
        return spec if spec is not None and spec.method == facts.method else None

    def emit(self, ev: AuthEvent) -> None:
        if len(self.queue) >= self.max_queue:
            self.dropped += 1
            return
        self.queue.append(ev)

    def drain(self) -> list[AuthEvent]:
        out, self.queue = self.queue, []
        return out

    def event(
        self, rid: str, facts: RequestFacts, wall: float, kind: EventKind, result: Result
    ) -> AuthEvent:
        return AuthEvent(
            id=rid,
            time=wall,
            kind=kind,
            account=facts.account,
            source=facts.client.text,
            prefix=facts.prefix,
            user_agent=facts.user_agent[:256],
            ua_family=ua_family(facts.user_agent),
            fingerprint=facts.header_fp,
            result=result,
            asn=facts.asn,
            country=facts.country,
            origin="edge" if facts.klass is ClientClass.ANONYMOUS else f"edge:{facts.klass.label}",
        )
