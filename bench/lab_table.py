"""Markdown tables of lab scorecards, for docs/benchmarks.md.

    seawall lab compare cyxymu-2009 --out results/      # (and the other scenarios)
    python3 bench/lab_table.py results/                 # one table per scenario found

Reads every `<scenario>-<protection>.json` in the folder and prints, per scenario, the
protections side by side: success and p99 per legitimate class, the attack's size, leak
and time to mitigate, the origin's load, and for slow attacks what they held.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ORDER = ("none", "nginx", "seawall")
LEGIT = ("browser", "api_app", "sms_gateway", "flash_crowd")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _rows(cards: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    for k in LEGIT:
        if not any(k in c["classes"] for c in cards):
            continue
        got = [c["classes"].get(k) for c in cards]
        rows.append((f"{k} served", [_pct(g["success_rate"]) if g else "-" for g in got]))
        rows.append(
            (f"{k} p99 ms", [f"{g['p99_ms']:.0f}" if g and g["p99_ms"] else "-" for g in got])
        )
    if any(c["attack"]["sent"] for c in cards):
        rows.append(("attack sent (req)", [str(c["attack"]["sent"]) for c in cards]))
        rows.append(("attack leak to origin", [_pct(c["attack"]["leak_rate"]) for c in cards]))
        ttm = [c["time_to_mitigate_s"] for c in cards]
        rows.append(("time to mitigate", ["never" if t is None else f"{t:.0f} s" for t in ttm]))
    for kind in ("slowloris", "slow_post", "slow_read"):
        if any(kind in c.get("slow", {}) for c in cards):
            held = [c["slow"].get(kind, {}).get("held_seconds") for c in cards]
            rows.append(
                (
                    f"{kind} connection-seconds held",
                    ["-" if h is None else f"{h:.0f}" for h in held],
                )
            )
    rows.append(("origin peak busy", [f"{c['origin']['peak_utilization']:.0%}" for c in cards]))
    rows.append(("origin 5xx", [str(c["origin"]["errors"]) for c in cards]))
    return rows


def table(cards: list[dict[str, Any]]) -> str:
    cards = sorted(cards, key=lambda c: ORDER.index(c["protection"]))
    head = "| | " + " | ".join(c["protection"] for c in cards) + " |"
    lines = [head, "|---|" + "---:|" * len(cards)]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in _rows(cards)]
    cap = ", ".join(f"{c['origin_capacity_rps']:.0f}" for c in cards)
    return "\n".join(lines) + f"\n\nOrigin capacity measured at start of each run: {cap} req/s."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(args.folder.glob("*.json")):
        card = json.loads(path.read_text(encoding="utf-8"))
        by_scenario.setdefault(card["scenario"], []).append(card)
    for name, cards in by_scenario.items():
        print(f"#### {name} ({cards[0]['duration_s']:.0f} s, seed {cards[0]['seed']})\n")
        print(table(cards) + "\n")


if __name__ == "__main__":
    main()
