"""Auth events: what the edge saw on an auth route, or what the app reported.

Identifiers (account names, emails, phones, device ids, tried passwords) are keyed
hashes by the time an event exists; nothing here ever holds one in clear. The records
live in core because the edge makes them and account protection reads them.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import unicodedata
from typing import Final

import msgspec

from seawall.core.errors import ConfigError


class EventKind(enum.StrEnum):
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    MFA_FAILED = "mfa_failed"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    RECOVERY_LOOKUP = "recovery_lookup"
    PII_VIEWED = "pii_viewed"
    SESSION_CREATED = "session_created"
    CREDENTIALS_CHANGED = "credentials_changed"


FAILURES: Final = frozenset({EventKind.LOGIN_FAILED, EventKind.MFA_FAILED})
RECOVERY: Final = frozenset({EventKind.PASSWORD_RESET_REQUESTED, EventKind.RECOVERY_LOOKUP})
SUCCESSES: Final = frozenset({EventKind.LOGIN_SUCCEEDED, EventKind.SESSION_CREATED})


class Result(enum.StrEnum):
    """How the attempt ended. Recovery flows say whether the identifier was known."""

    OK = "ok"
    FAILED = "failed"
    FOUND = "found"  # a lookup or reset named a registered identifier
    NOT_FOUND = "not_found"
    UNKNOWN = "unknown"  # the app or the edge could not tell


class AuthEvent(msgspec.Struct, frozen=True, gc=False):
    """One auth event. `account`, `device` and `password` are keyed hashes (hex), or ""."""

    id: str
    time: float  # wall-clock epoch seconds
    kind: EventKind
    account: str
    source: str  # the client's address as text
    prefix: str = ""  # its /24 (IPv4) or /48 (IPv6)
    user_agent: str = ""
    ua_family: str = ""
    fingerprint: str = ""  # header-order fingerprint (edge) or the app's client fingerprint
    device: str = ""
    result: Result = Result.UNKNOWN
    password: str = ""  # keyed hash of the tried password, where the app reports one
    asn: int = 0
    country: str = ""
    origin: str = "edge"  # edge | app


HASH_HEX = 32  # 128 bits: collisions are out of reach for any platform's account count
MAX_IDENTIFIER = 320  # an email address's longest legal form


def normalize(identifier: str) -> str:
    """Case, width and spacing folded; phone numbers reduced to + and digits."""
    text = unicodedata.normalize("NFKC", identifier).strip().casefold()
    compact = "".join(c for c in text if c not in " -().")
    if compact.lstrip("+").isdigit() and len(compact) >= 6:
        return compact
    return text


class Hasher:
    """`hasher(identifier)`: hex HMAC-SHA256 of the normalized identifier, or "" for none."""

    __slots__ = ("_key",)

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ConfigError("accounts.secret", "at least 16 characters are required")
        self._key = key

    def __call__(self, identifier: str) -> str:
        if not identifier:
            return ""
        norm = normalize(identifier[:MAX_IDENTIFIER]).encode("utf-8", "surrogatepass")
        return hmac.new(self._key, norm, hashlib.sha256).hexdigest()[:HASH_HEX]
