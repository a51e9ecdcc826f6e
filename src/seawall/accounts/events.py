"""Account protection's records: auth events (from core), findings, campaigns, alerts.

Identifiers are keyed hashes by the time an event exists; nothing here holds one in clear.
"""

from __future__ import annotations

from typing import Final

import msgspec

from seawall.core.auth import (
    FAILURES,
    RECOVERY,
    SUCCESSES,
    AuthEvent,
    EventKind,
    Result,
)

__all__ = [
    "FAILURES",
    "MAX_LISTED",
    "RECOVERY",
    "SUCCESSES",
    "Alert",
    "AuthEvent",
    "Campaign",
    "EventKind",
    "Finding",
    "Result",
]


class Finding(msgspec.Struct, frozen=True, gc=False):
    """A detector's claim about one key (an account, a source, a fingerprint...).

    Lists are bounded by the detector (at most `MAX_LISTED` each), heaviest first.
    `evidence` holds counts an operator can check; it is never shown to the people warned.
    """

    detector: str
    key: str
    accounts: tuple[str, ...]
    sources: tuple[str, ...]
    first: float
    last: float
    count: int  # events behind the claim
    confidence: float  # 0..1
    prefixes: tuple[str, ...] = ()
    asns: tuple[int, ...] = ()
    fingerprints: tuple[str, ...] = ()
    evidence: tuple[tuple[str, float], ...] = ()
    broad: bool = False  # many unrelated accounts (stuffing, spraying, enumeration)


MAX_LISTED: Final = 1000


class Campaign(msgspec.Struct, frozen=True, gc=False):
    """An account attack across one or more accounts, as the campaign book last saw it.

    `kind` is "targeted" (a small group of accounts sharing attacking infrastructure) or
    "broad" (stuffing, spraying or enumeration across many unrelated accounts).
    `decision` is the operator's: "", "confirmed" or "dismissed".
    """

    id: str
    kind: str
    start: float
    last: float
    confidence: float
    accounts: tuple[str, ...]  # keyed hashes, heaviest first
    detectors: tuple[str, ...]
    sources: int  # distinct attacking addresses seen
    prefixes: int
    asns: int
    top_sources: tuple[str, ...] = ()
    top_prefixes: tuple[str, ...] = ()
    top_asns: tuple[int, ...] = ()
    fingerprints: tuple[str, ...] = ()
    # fingerprints a detector judged on their own (not merely seen among the attackers):
    # the only ones safe to throttle, since a browser's is shared by many people
    flagged_fingerprints: tuple[str, ...] = ()
    high_risk: tuple[str, ...] = ()  # the accounts marked high-risk by the operator
    harvesting: bool = False  # recovery lookups or resets were part of it
    evidence: tuple[tuple[str, float], ...] = ()
    state: str = "open"  # open | closed
    decision: str = ""

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = msgspec.to_builtins(self)
        out["evidence"] = dict(self.evidence)
        return out


class Alert(msgspec.Struct, frozen=True, gc=False):
    """A message to a human: a warning to a targeted account's owner, or an operator digest."""

    id: str  # stable: "<campaign>:<account>" or "<campaign>:digest:<n>"
    kind: str  # "account_warning" | "operator_digest"
    campaign: str
    account: str  # keyed hash; "" for digests
    time: float
    recipient: str  # an email address, or "" when only webhooks and the log can reach them
    subject: str
    text: str
    html: str = ""
