"""The scorecard's `accounts` object: did the edge find the campaign, warn the right people,
and let the owners in? Pure arithmetic over account hashes, and its validation.

Definitions (T is the set of truly targeted accounts, by hash):
- campaign precision: of the accounts in reported *targeted* campaigns, the share in T;
  campaign recall: the share of T in some reported targeted campaign.
- warning precision and recall: the same over the accounts that got a verified warning.
- When nothing was reported (no targeted campaign, no warning), precision is null (there
  is nothing to be right or wrong about) and recall is 0.0.
- owners_signed_in: the share of owner sign-ins that succeeded; null when none was tried.
- Given every registered account's hash, the untargeted accounts named or warned are
  split further: `unregistered_*` count hashes of no account at all (made-up identifiers).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

TARGETED = "targeted"
REFUSED = "refused:"  # counts of refused sign-ins by the person's path (right, mistype...)
COUNT_FIELDS = (
    "targeted",
    "campaigns",
    "broad_campaigns",
    "accounts_in_campaigns",
    "warned",
    "false_warnings",
    "webhooks_rejected",
    "owner_sign_ins",
    "owner_mfa_prompts",
    "user_sign_ins",
    "users_refused",
    "users_refused_shared",
    "users_stepped_up",
    "breached_tries",
    "takeovers",
)
SHARE_FIELDS = (
    "campaign_precision",
    "campaign_recall",
    "warning_precision",
    "warning_recall",
    "owners_signed_in",
)
FIELDS = COUNT_FIELDS + SHARE_FIELDS


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def precision_recall(
    reported: Collection[str], truth: Collection[str]
) -> tuple[float | None, float | None]:
    """(precision, recall) of `reported` against `truth`; see the module docstring."""
    hits = len(set(reported) & set(truth))
    recall = hits / len(truth) if truth else None
    return share(hits, len(set(reported))), recall


def campaign_accounts(campaigns: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every account hash in the targeted campaigns given."""
    out: set[str] = set()
    for c in campaigns:
        if c.get("kind") == TARGETED:
            out.update(str(a) for a in c.get("accounts") or ())
    return out


def campaign_list(
    campaigns: Sequence[Mapping[str, Any]], targeted: Collection[str]
) -> list[dict[str, Any]]:
    """Each reported campaign in brief: how big, how sure, how many accounts truly targeted."""
    truth = set(targeted)
    out = []
    for c in campaigns:
        named = {str(a) for a in c.get("accounts") or ()}
        brief = {k: c.get(k) for k in ("id", "kind", "confidence", "state", "decision")}
        out.append(brief | {"accounts": len(named), "truly_targeted": len(named & truth)})
    return out


def account_scores(
    targeted: Collection[str],
    campaigns: Sequence[Mapping[str, Any]],
    warned: Collection[str],
    rejected: int,
    counts: Mapping[str, int],
    registered: Collection[str] = (),
) -> dict[str, Any]:
    """The `accounts` object. `counts` holds the traffic's tallies (owner_sign_ins,
    owner_signed_in, owner_mfa_prompts, journeys, journeys_failed_own and _shared,
    users_stepped_up); missing ones are 0. `registered`: every account's hash, if known."""
    truth = set(targeted)
    found = campaign_accounts(campaigns)
    warned_set, known = set(warned), set(registered)
    c_precision, c_recall = precision_recall(found, truth)
    w_precision, w_recall = precision_recall(warned_set, truth)
    return {
        "targeted": len(truth),
        "campaigns": sum(1 for c in campaigns if c.get("kind") == TARGETED),
        "broad_campaigns": sum(1 for c in campaigns if c.get("kind") != TARGETED),
        "accounts_in_campaigns": len(found),
        "campaign_precision": c_precision,
        "campaign_recall": c_recall,
        "warned": len(warned_set),
        "false_warnings": len(warned_set - truth),
        "warning_precision": w_precision,
        "warning_recall": w_recall,
        "webhooks_rejected": rejected,
        **people_scores(counts),
        "unregistered_in_campaigns": len(found - known) if known else 0,
        "unregistered_warned": len(warned_set - known) if known else 0,
        "campaign_list": campaign_list(campaigns, truth),
    }


def people_scores(counts: Mapping[str, int]) -> dict[str, Any]:
    """How the owners and everyone else fared, from the traffic's tallies."""
    tries = int(counts.get("owner_sign_ins", 0))
    failed_own = int(counts.get("journeys_failed_own", 0))
    failed_shared = int(counts.get("journeys_failed_shared", 0))
    return {
        "owner_sign_ins": tries,
        "owners_signed_in": share(int(counts.get("owner_signed_in", 0)), tries),
        "owner_mfa_prompts": int(counts.get("owner_mfa_prompts", 0)),
        "user_sign_ins": int(counts.get("journeys", 0)),
        "users_refused": failed_own + failed_shared,
        "users_refused_shared": failed_shared,
        "users_refused_by_path": {
            k.removeprefix(REFUSED): int(v)
            for k, v in sorted(counts.items())
            if k.startswith(REFUSED)
        },
        "users_stepped_up": int(counts.get("users_stepped_up", 0)),
        "breached_tries": int(counts.get("breached_tries", 0)),
        "takeovers": int(counts.get("takeovers", 0)),
    }


def _is_count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_share(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 1.0


def account_problems(a: Any) -> list[str]:
    """What is wrong with an `accounts` object; empty when complete and consistent."""
    if not isinstance(a, dict):
        return ["accounts: not an object"]
    if missing := [k for k in FIELDS if k not in a]:
        return [f"accounts: missing {', '.join(missing)}"]
    p = [f"accounts.{k}: not a non-negative integer" for k in COUNT_FIELDS if not _is_count(a[k])]
    p += [f"accounts.{k}: not null or in [0, 1]" for k in SHARE_FIELDS if not _nullable(a[k])]
    if p:
        return p
    pairs = (
        ("campaign_precision", "accounts_in_campaigns"),
        ("warning_precision", "warned"),
        ("owners_signed_in", "owner_sign_ins"),
    )
    for rate, base in pairs:
        if (a[rate] is None) != (a[base] == 0):
            p.append(f"accounts.{rate}: null exactly when {base} is 0")
    for rate in ("campaign_recall", "warning_recall"):
        if (a[rate] is None) != (a["targeted"] == 0):
            p.append(f"accounts.{rate}: null exactly when nothing was targeted")
    if a["accounts_in_campaigns"] and not a["campaigns"]:
        p.append("accounts: accounts in campaigns, but no campaign")
    if a["takeovers"] > a["breached_tries"]:
        p.append("accounts: takeovers > breached_tries")
    if a["false_warnings"] > a["warned"]:
        p.append("accounts: false_warnings > warned")
    if not a["users_refused_shared"] <= a["users_refused"] <= a["user_sign_ins"]:
        p.append("accounts: need users_refused_shared <= users_refused <= user_sign_ins")
    return p


def _nullable(v: object) -> bool:
    return v is None or _is_share(v)
