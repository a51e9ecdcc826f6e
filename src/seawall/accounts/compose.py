"""Warnings to the owners of targeted accounts, and digests for operators, from a campaign.

Pure: the campaign and `now` in, an `Alert` out. jinja2 renders the templates, escaping
every value in the HTML ones.

A warning says what happened, what the platform did and what the person can do, and
nothing an attacker could learn from: no addresses, networks, counts, detector names,
times finer than the date, or other accounts. Its templates are given flags and the
date only, so no value from the campaign can reach them.

A digest carries the evidence for operators. Account hashes are cut to 12 hex digits,
and every string that came from outside loses its control and bidi characters first.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final
from urllib.parse import quote

import jinja2

from seawall.accounts.events import Alert, Campaign

WARNING: Final = "account_warning"
DIGEST: Final = "operator_digest"
SHORT_HASH: Final = 12  # hex digits of an account hash an operator sees
LISTED: Final = 50  # accounts listed in a digest; the rest are counted
TOP: Final = 10  # top sources, prefixes, networks and fingerprints listed
EVIDENCE: Final = 20  # evidence entries listed
MAX_VALUE: Final = 200  # characters of one outside value shown
# words in a detector's name that mean it watched lookups and resets, not sign-ins
_LOOKUP_WORDS: Final = ("harvest", "enumerat", "lookup", "recovery", "reset")
_HEX: Final = re.compile(r"[0-9a-f]{12,64}")
# control, format (bidi overrides, zero-width marks), surrogate, private-use, separators
_STRIP: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


class DigestAlert(Alert, frozen=True, gc=False, kw_only=True):
    """An operator digest that also carries the campaign's summary (webhooks send it)."""

    summary: dict[str, Any]


def scrub(value: object, limit: int = MAX_VALUE) -> str:
    """`value` as one line without control or bidi characters, cut after `limit`."""
    text = value if isinstance(value, str) else str(value)
    text = text[: limit * 2]  # stripping only shortens; bound the work first
    if not text.isprintable():
        text = "".join(
            " " if ch in "\t\n\r" else ch
            for ch in text
            if ch in "\t\n\r" or unicodedata.category(ch) not in _STRIP
        )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_hash(account: str) -> str:
    """An account's keyed hash cut to 12 hex digits; anything else is hashed first."""
    if _HEX.fullmatch(account):
        return account[:SHORT_HASH]
    # never show an identifier in clear, even one that reached us unhashed
    return hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:SHORT_HASH]


def iso(t: float) -> str:
    """UTC ISO 8601 to the second, or "unknown"."""
    if not math.isfinite(t):
        return "unknown"
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "unknown"


def _since(t: float) -> str:
    """The day the campaign began, and never the time of day."""
    stamp = iso(t)
    return "Recently" if stamp == "unknown" else f"Since {stamp[:10]}"


def _is_html(name: str | None) -> bool:
    return name is not None and name.endswith(".html.j2")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("seawall.accounts", "templates"),
        autoescape=_is_html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(name: str, context: Mapping[str, Any]) -> str:
    return _environment().get_template(name).render(context)


def _kinds(campaign: Campaign) -> tuple[bool, bool]:
    """(sign-in attempts, lookups of identifiers) as the warning may word them."""
    lookup = campaign.harvesting
    signin = not lookup or any(
        not any(w in d.lower() for w in _LOOKUP_WORDS) for d in campaign.detectors
    )
    return signin, lookup


def compose_warning(
    campaign: Campaign, account: str, recipient: str, site: str, now: float
) -> Alert:
    """The warning to one targeted account's owner (id "<campaign>:<account>")."""
    signin, lookup = _kinds(campaign)
    context = {
        "site": scrub(site, 80),
        "since": _since(campaign.start),
        "signin": signin,
        "lookup": lookup,
    }
    subject = " ".join(_render("warning.subject.j2", context).split())
    return Alert(
        id=f"{campaign.id}:{account}",
        kind=WARNING,
        campaign=campaign.id,
        account=account,
        time=now,
        recipient=scrub(recipient, 320),
        subject=subject,
        text=_render("warning.text.j2", context),
        html=_render("warning.html.j2", context),
    )


def _values(items: Sequence[object], limit: int = TOP) -> list[str]:
    return [scrub(v) for v in items[:limit]]


def _number(x: float) -> float | None:
    return round(x, 4) if math.isfinite(x) else None


def summary(campaign: Campaign, warned: int, actions: Sequence[str]) -> dict[str, Any]:
    """The campaign as operators and webhooks see it: counts, top values, short hashes."""
    risky = set(campaign.high_risk)
    listed = campaign.accounts[:LISTED]
    return {
        "id": scrub(campaign.id),
        "kind": scrub(campaign.kind, 40),
        "confidence": _number(campaign.confidence),
        "start": iso(campaign.start),
        "last": iso(campaign.last),
        "state": scrub(campaign.state, 40),
        "decision": scrub(campaign.decision, 40),
        "harvesting": campaign.harvesting,
        "accounts": len(campaign.accounts),
        "high_risk": len(risky.intersection(campaign.accounts)),
        "listed": [short_hash(a) for a in listed],
        "listed_high_risk": [short_hash(a) for a in listed if a in risky],
        "detectors": _values(campaign.detectors, 50),
        "sources": campaign.sources,
        "prefixes": campaign.prefixes,
        "asns": campaign.asns,
        "top_sources": _values(campaign.top_sources),
        "top_prefixes": _values(campaign.top_prefixes),
        "top_asns": list(campaign.top_asns[:TOP]),
        "fingerprints": _values(campaign.fingerprints),
        "evidence": {scrub(k, 80): _number(v) for k, v in campaign.evidence[:EVIDENCE]},
        "actions": [scrub(a) for a in actions],
        "warned": warned,
    }


def _view(s: Mapping[str, Any]) -> dict[str, Any]:
    """The summary worded for the digest's templates."""
    risky = set(s["listed_high_risk"])
    conf = s["confidence"]
    return {
        **s,
        "confidence": "unknown" if conf is None else f"{conf:.2f}",
        "decision": s["decision"] or "none",
        "listed": [(h, h in risky) for h in s["listed"]],
        "more": s["accounts"] - len(s["listed"]),
        "tops": [
            ("sources", s["top_sources"]),
            ("prefixes", s["top_prefixes"]),
            ("networks", [f"AS{a}" for a in s["top_asns"]]),
            ("fingerprints", s["fingerprints"]),
        ],
        "evidence": [(k, "unknown" if v is None else f"{v:g}") for k, v in s["evidence"].items()],
    }


def compose_digest(
    campaign: Campaign,
    site: str,
    now: float,
    warned: int,
    actions: Sequence[str],
    admin_hint: str,
    *,
    seq: int = 1,
) -> DigestAlert:
    """The operators' digest of a campaign, the `seq`th for it ("<campaign>:digest:<seq>")."""
    summ = summary(campaign, warned, actions)
    view = _view(summ)
    path = f"/v1/campaigns/{quote(campaign.id, safe='')}"
    context = {
        "c": view,
        "site": scrub(site, 80),
        "actions": summ["actions"],
        "warned": warned,
        "admin_hint": scrub(admin_hint),
        "confirm": f"{path}/confirm",
        "dismiss": f"{path}/dismiss",
    }
    subject = (
        f"[{context['site']}] {view['kind']} account campaign {view['id']}: "
        f"{view['accounts']} accounts, confidence {view['confidence']}"
    )
    return DigestAlert(
        id=f"{campaign.id}:digest:{seq}",
        kind=DIGEST,
        campaign=campaign.id,
        account="",
        time=now,
        recipient="",
        subject=subject,
        text=_render("digest.text.j2", context),
        html=_render("digest.html.j2", context),
        summary=summ,
    )
