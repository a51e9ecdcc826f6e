"""How a lab run looks in a terminal: live rates while it runs, tables when it is done."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.table import Table

from seawall.lab.runner import LiveView
from seawall.lab.scenarios import ACCOUNT_CLASSES, LEGIT_CLASSES, Scenario

LIVE_WINDOW_S = 2  # seconds averaged in the live view (complete seconds only)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def live_table(view: LiveView, scenario: Scenario, protection: str, duration_s: float) -> Table:
    """Per-class rates over the last complete seconds, and the origin's load."""
    now = int(view.t)
    secs = [s for s in range(now - LIVE_WINDOW_S, now) if s >= 0] or [0]
    t = Table(title=f"{scenario.name} under {protection}: {view.t:4.0f} / {duration_s:.0f} s")
    for col in ("class", "served/s", "failed/s", "reached origin/s"):
        t.add_column(col, justify="left" if col == "class" else "right")
    classes = sorted({k for _, k in (*view.ok, *view.fail, *view.reached)})
    for k in classes:
        ok = sum(view.ok[(s, k)] for s in secs) / len(secs)
        fail = sum(view.fail[(s, k)] for s in secs) / len(secs)
        reached = sum(view.reached[(s, k)] for s in secs) / len(secs)
        t.add_row(k, f"{ok:.0f}", f"{fail:.0f}", f"{reached:.0f}")
    phase = [n for n, a, b in scenario.phases(duration_s) if a <= view.t < b]
    t.caption = f"phase: {', '.join(phase) or 'normal traffic'}; origin busy {view.utilization:.0%}"
    return t


def class_table(card: Mapping[str, Any]) -> Table:
    """The scorecard's per-class outcomes, legitimate classes first."""
    t = Table(
        title=f"{card['scenario']} under {card['protection']} "
        f"(origin capacity {card['origin_capacity_rps']:.0f} req/s)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    # short headers: the table must fit an 80-column terminal
    cols = ("class", "sent", "ok", "chal", "thr", "blk", "err", "t/o", "p50ms", "p99ms")
    for col in cols:
        t.add_column(col, justify="left" if col == "class" else "right", no_wrap=True)
    for k, c in card["classes"].items():
        t.add_row(
            k,
            str(c["sent"]),
            _pct(c["success_rate"]),
            str(c["challenged"]),
            str(c["throttled"]),
            str(c["blocked"]),
            str(c["errors"]),
            str(c["timeouts"]),
            _ms(c["p50_ms"]),
            _ms(c["p99_ms"]),
        )
    a = card["attack"]
    ttm = card["time_to_mitigate_s"]
    t.caption = (
        f"attack sent {a['sent']}, reached origin {a['reached_origin']} "
        f"(leak {_pct(a['leak_rate'])}); time to mitigate "
        f"{'never' if ttm is None else f'{ttm:.0f} s'}; origin peak busy "
        f"{card['origin']['peak_utilization']:.0%}, 5xx {card['origin']['errors']}"
    )
    return t


def _accounts_rows(a: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The `accounts` object as (label, value) lines, for the table and the report."""
    return [
        ("targeted accounts", str(a["targeted"])),
        ("campaigns reported", f"{a['campaigns']} targeted, {a['broad_campaigns']} broad"),
        (
            "accounts in them",
            f"{a['accounts_in_campaigns']} ({a.get('unregistered_in_campaigns', 0)} of no account)",
        ),
        ("campaign precision", _pct(a["campaign_precision"])),
        ("campaign recall", _pct(a["campaign_recall"])),
        (
            "accounts warned",
            f"{a['warned']} ({a['false_warnings']} not targeted, "
            f"{a.get('unregistered_warned', 0)} of no account)",
        ),
        ("warning precision", _pct(a["warning_precision"])),
        ("warning recall", _pct(a["warning_recall"])),
        ("webhooks rejected", str(a["webhooks_rejected"])),
        (
            "warned after",
            f"{_secs(a.get('first_warning_s'))} (first), "
            f"{_secs(a.get('all_targets_warned_s'))} (all targets), from the attack's start",
        ),
        (
            "owners signed in",
            f"{_pct(a['owners_signed_in'])} of {a['owner_sign_ins']} "
            f"({a['owner_mfa_prompts']} asked for a code)",
        ),
        (
            "takeovers",
            f"{a['takeovers']} of {a['breached_tries']} tries with a breached password",
        ),
        (
            "people refused",
            f"{a['users_refused']} of {a['user_sign_ins']} "
            f"({a['users_refused_shared']} behind NAT); {a['users_stepped_up']} stepped up",
        ),
    ]


def accounts_table(card: Mapping[str, Any]) -> Table:
    """Account protection's figures: campaigns, warnings, owners and people."""
    t = Table(title="accounts", box=box.SIMPLE_HEAD, pad_edge=False, show_header=False)
    t.add_column("", no_wrap=True)
    t.add_column("")
    for label, value in _accounts_rows(card["accounts"]):
        t.add_row(label, value)
    return t


def _shortfall(card: Mapping[str, Any]) -> int:
    """Flood requests the generator could not start (its session cap was full)."""
    return sum(int(f.get("shortfall", 0)) for f in card["attack"].get("by_class", {}).values())


def compare_table(cards: Sequence[Mapping[str, Any]]) -> Table:
    """Protections side by side: success per legitimate class, then the attack figures."""
    t = Table(title=f"{cards[0]['scenario']}: protections compared")
    t.add_column("")
    for c in cards:
        t.add_column(str(c["protection"]), justify="right")
    legit = (*LEGIT_CLASSES, *ACCOUNT_CLASSES)
    present = [k for k in legit if any(k in c["classes"] for c in cards)]
    for k in present:
        t.add_row(
            f"{k} success",
            *[_pct(c["classes"][k]["success_rate"]) if k in c["classes"] else "-" for c in cards],
        )
        t.add_row(
            f"{k} p99 ms",
            *[_ms(c["classes"][k]["p99_ms"]) if k in c["classes"] else "-" for c in cards],
        )
    t.add_row("attack sent", *[str(c["attack"]["sent"]) for c in cards])
    t.add_row("attack shortfall", *[str(_shortfall(c)) for c in cards])
    t.add_row("attack leak to origin", *[_pct(c["attack"]["leak_rate"]) for c in cards])
    t.add_row(
        "time to mitigate",
        *[
            "never" if c["time_to_mitigate_s"] is None else f"{c['time_to_mitigate_s']:.0f} s"
            for c in cards
        ],
    )
    t.add_row("origin peak busy", *[f"{c['origin']['peak_utilization']:.0%}" for c in cards])
    t.add_row("origin 5xx", *[str(c["origin"]["errors"]) for c in cards])
    if any("accounts" in c for c in cards):
        for key, label in _ACCOUNT_COMPARE:
            t.add_row(label, *[_pct(c["accounts"][key]) if "accounts" in c else "-" for c in cards])
        t.add_row(
            "takeovers",
            *[
                f"{c['accounts']['takeovers']} of {c['accounts']['breached_tries']}"
                if "accounts" in c
                else "-"
                for c in cards
            ],
        )
    return t


_ACCOUNT_COMPARE = (
    ("campaign_recall", "campaign recall"),
    ("campaign_precision", "campaign precision"),
    ("warning_recall", "warning recall"),
    ("warning_precision", "warning precision"),
    ("owners_signed_in", "owners signed in"),
)


def _secs(v: object) -> str:
    return f"{v} s" if isinstance(v, int | float) else "-"


def markdown_report(card: Mapping[str, Any], chart_name: str) -> str:
    """A short Markdown report of one run: the figures per class, the attack, the chart."""
    a, o, ttm = card["attack"], card["origin"], card["time_to_mitigate_s"]
    lines = [
        f"# {card['scenario']} under {card['protection']}",
        "",
        f"Seed {card['seed']}, {card['duration_s']:.0f} s, origin capacity "
        f"{card['origin_capacity_rps']:.0f} requests/s.",
        "",
        "| class | sent | success | challenged | throttled | blocked | errors | timeouts "
        "| p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, c in card["classes"].items():
        lines.append(
            f"| {k} | {c['sent']} | {_pct(c['success_rate'])} | {c['challenged']} "
            f"| {c['throttled']} | {c['blocked']} | {c['errors']} | {c['timeouts']} "
            f"| {_ms(c['p50_ms'])} | {_ms(c['p99_ms'])} |"
        )
    lines += [
        "",
        f"Attack: {a['sent']} requests sent ({_shortfall(card)} not started: generator "
        f"shortfall), {a['reached_origin']} reached the origin (leak {_pct(a['leak_rate'])}). "
        f"Time to mitigate: {'never' if ttm is None else f'{ttm:.0f} s'}.",
        f"Origin: {o['requests']} requests, peak {o['peak_utilization']:.0%} busy, "
        f"{o['errors']} answered 5xx.",
        "",
        f"![requests served per second per class]({chart_name})",
        "",
    ]
    if "accounts" in card:
        lines += ["## Accounts", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in _accounts_rows(card["accounts"])] + [""]
    return "\n".join(lines + _incidents(card.get("incidents", [])))


def _incidents(incidents: list[dict[str, Any]]) -> list[str]:
    """What the edge's own detection recorded: times, signatures, actions."""
    if not incidents:
        return []
    out = ["## Incidents seawall recorded", ""]
    for inc in incidents:
        ttd, ttm = inc.get("time_to_detect_s"), inc.get("time_to_mitigate_s")
        out.append(
            f"- **{inc['id']}** ({inc['status']}): vectors {', '.join(inc['vectors'])}; "
            f"targets {', '.join(inc['targets'][:5])}; detected after "
            f"{'-' if ttd is None else f'{ttd:.1f} s'}, mitigated after "
            f"{'never' if ttm is None else f'{ttm:.1f} s'}; peak {inc['peak_rps']:.0f} req/s "
            f"from {inc['sources']['addresses']} addresses; leak after mitigation "
            f"{_pct(inc['leak_after_mitigation'])}."
        )
        for sig in inc["signatures"]:
            if not sig.get("separable", True):
                continue  # where it went, not who sent it: observed, never a rule
            out.append(
                f"  - signature `{sig['match']}`: covers {_pct(sig['coverage'])} of the attack, "
                f"estimated collateral {sig['estimated_collateral']:.3%} of anonymous requests"
            )
        for act in inc["actions"]:
            if act["action"] != "observe":
                out.append(f"  - {act['action']} {act['step']} `{act['rule']}`: {act['reason']}")
    out.append("")
    return out
