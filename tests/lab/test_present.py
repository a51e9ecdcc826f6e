"""The lab's terminal tables: the numbers a reader needs are on screen, rounded as promised."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from seawall.lab.account_score import account_scores
from seawall.lab.present import (
    accounts_table,
    class_table,
    compare_table,
    live_table,
    markdown_report,
)
from seawall.lab.runner import LiveView
from seawall.lab.scenarios import get_scenario


def text(table: Table) -> str:
    console = Console(record=True, width=160)
    console.print(table)
    return console.export_text()


def row(out: str, label: str) -> list[str]:
    """The cells of the table row that starts with `label`."""
    for line in out.splitlines():
        boxed = re.search(r"[│┃|]", line)  # the class table has no vertical rules
        cells = (
            [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()] if boxed else line.split()
        )
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in:\n{out}")


def _class(sent: int, ok: int, p50: float | None, p99: float | None, **kw: int) -> dict[str, Any]:
    return {
        "sent": sent,
        "succeeded": ok,
        "success_rate": ok / sent,
        "challenged": kw.get("challenged", 0),
        "throttled": kw.get("throttled", 0),
        "blocked": kw.get("blocked", 0),
        "errors": kw.get("errors", 0),
        "timeouts": kw.get("timeouts", 0),
        "gave_up": 0,
        "reached_origin": 0,
        "p50_ms": p50,
        "p99_ms": p99,
    }


def card(protection: str, ttm: float | None, **over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "scenario": "cyxymu-2009",
        "protection": protection,
        "origin_capacity_rps": 421.4,
        "classes": {
            "api_app": _class(200, 187, 51.2, 7812.4, errors=13),
            "browser": _class(400, 300, 41.0, 2767.0, blocked=60, timeouts=40, challenged=7),
        },
        "attack": {"sent": 89154, "reached_origin": 4457, "leak_rate": 4457 / 89154},
        "time_to_mitigate_s": ttm,
        "origin": {"requests": 90787, "peak_utilization": 0.875, "errors": 831},
    }
    return out | over


def test_live_table_averages_the_last_complete_seconds() -> None:
    view = LiveView(t=7.4, utilization=0.5)
    # seconds 5 and 6 are the last two complete ones; 7 is still running and 4 is too old
    view.ok.update(
        {(5, "browser"): 10, (6, "browser"): 20, (7, "browser"): 999, (4, "browser"): 999}
    )
    view.fail.update({(5, "browser"): 3, (6, "browser"): 1})
    view.reached.update({(5, "botnet"): 300, (6, "botnet"): 500})
    out = text(live_table(view, get_scenario("cyxymu-2009"), "none", 20.0))
    assert "cyxymu-2009 under none" in out and "7 / 20 s" in out
    assert row(out, "browser") == ["15", "2", "0"]
    assert row(out, "botnet") == ["0", "0", "400"]
    # 7.4 s of 20: the crowd (2-9 s) and the botnet (6-16 s) are on
    assert "phase: flash_crowd, botnet" in out
    assert "origin busy 50%" in out


def test_live_table_before_anything_happened() -> None:
    out = text(live_table(LiveView(), get_scenario("cyxymu-2009"), "seawall", 20.0))
    assert "0 / 20 s" in out
    assert "phase: normal traffic" in out and "origin busy 0%" in out


def test_class_table_shows_each_class_and_the_attack() -> None:
    out = text(class_table(card("seawall", 3.4)))
    assert "cyxymu-2009 under seawall (origin capacity 421 req/s)" in out
    assert row(out, "api_app") == ["200", "93.5%", "0", "0", "0", "13", "0", "51", "7812"]
    assert row(out, "browser") == ["400", "75.0%", "7", "0", "60", "0", "40", "41", "2767"]
    flat = " ".join(out.split())
    assert "attack sent 89154, reached origin 4457 (leak 5.0%)" in flat
    assert "time to mitigate 3 s" in flat
    assert "origin peak busy 88%, 5xx 831" in flat


def test_class_table_says_never_and_dashes_for_missing_latency() -> None:
    c = card("none", None)
    c["classes"]["sms_gateway"] = _class(10, 0, None, None, errors=10)
    out = text(class_table(c))
    flat = " ".join(out.split())
    assert "time to mitigate never" in flat
    assert row(out, "sms_gateway") == ["10", "0.0%", "0", "0", "0", "10", "0", "-", "-"]


def test_compare_table_puts_protections_side_by_side() -> None:
    slow = card("none", None)
    slow["classes"]["browser"] = _class(400, 100, 900.0, 9000.0, errors=300)
    slow["attack"] = {"sent": 1000, "reached_origin": 1000, "leak_rate": 1.0}
    slow["origin"] = {"requests": 5000, "peak_utilization": 1.0, "errors": 4000}
    good = card("seawall", 2.0)
    good["classes"].pop("api_app")  # a class one run lacks shows as "-"
    out = text(compare_table([slow, good]))
    assert "cyxymu-2009: protections compared" in out
    head = next(line for line in out.splitlines() if "none" in line and "seawall" in line)
    assert head.index("none") < head.index("seawall")
    assert row(out, "browser success") == ["25.0%", "75.0%"]
    assert row(out, "browser p99 ms") == ["9000", "2767"]
    assert row(out, "api_app success") == ["93.5%", "-"]
    assert row(out, "api_app p99 ms") == ["7812", "-"]
    assert row(out, "attack sent") == ["1000", "89154"]
    assert row(out, "attack leak to origin") == ["100.0%", "5.0%"]
    assert row(out, "time to mitigate") == ["never", "2 s"]
    assert row(out, "origin peak busy") == ["100%", "88%"]
    assert row(out, "origin 5xx") == ["4000", "831"]
    # only the legitimate classes get success rows, in the scenario's order
    labels = [line for line in out.splitlines() if "success" in line]
    assert [next(k for k in ("browser", "api_app") if k in line) for line in labels] == [
        "browser",
        "api_app",
    ]


def test_compare_table_skips_classes_no_run_has() -> None:
    out = text(compare_table([card("none", None)]))
    assert "flash_crowd" not in out and "sms_gateway" not in out
    assert Counter(line.count("success") for line in out.splitlines())[1] == 2


def test_markdown_report_has_a_row_per_class_the_attack_and_the_chart() -> None:
    c = card("nginx", None, seed=7, duration_s=75.0)
    c["attack"]["by_class"] = {"botnet": {"shortfall": 120}, "adaptive_bot": {"shortfall": 3}}
    md = markdown_report(c, "cyxymu-2009-nginx.svg")
    assert md.startswith("# cyxymu-2009 under nginx\n")
    assert "Seed 7, 75 s, origin capacity 421 requests/s." in md
    assert "| browser | 400 | 75.0% | 7 | 0 | 60 | 0 | 40 | 41 | 2767 |" in md
    assert "| api_app | 200 | 93.5% | 0 | 0 | 0 | 13 | 0 | 51 | 7812 |" in md
    assert "89154 requests sent (123 not started" in md
    assert "4457 reached the origin (leak 5.0%). Time to mitigate: never." in md
    assert "Origin: 90787 requests, peak 88% busy, 831 answered 5xx." in md
    assert md.rstrip().endswith("(cyxymu-2009-nginx.svg)")


def test_markdown_report_lists_the_incidents_the_edge_recorded() -> None:
    c = card("seawall", 0.0, seed=7, duration_s=75.0)
    sig = {"match": "header_fp=91ba", "coverage": 0.998, "estimated_collateral": 0.0}
    crowd = {**sig, "match": "target=/users/x", "separable": False}
    c["incidents"] = [
        {
            "id": "inc-1-1",
            "status": "closed",
            "vectors": ["fingerprint_surge", "http_flood"],
            "targets": ["/users/cyxymu"],
            "time_to_detect_s": 1.004,
            "time_to_mitigate_s": None,
            "peak_rps": 8235.8,
            "sources": {"addresses": 40213},
            "leak_after_mitigation": 0.0025,
            "signatures": [{**sig, "separable": True}, crowd],
            "actions": [
                {"action": "observe", "step": "observe", "rule": "auto-b", "reason": "a crowd"},
                {"action": "apply", "step": "block", "rule": "auto-a", "reason": "bots"},
            ],
        }
    ]
    md = markdown_report(c, "x.svg")
    assert "## Incidents seawall recorded" in md
    assert (
        "- **inc-1-1** (closed): vectors fingerprint_surge, http_flood; targets /users/cyxymu; "
        "detected after 1.0 s, mitigated after never; peak 8236 req/s from 40213 addresses; "
        "leak after mitigation 0.2%."
    ) in md
    assert "signature `header_fp=91ba`: covers 99.8% of the attack" in md
    assert "target=/users/x" not in md  # observed, never a rule: not listed as a signature
    assert "  - apply block `auto-a`: bots" in md and "auto-b" not in md


def accounts(**over: Any) -> dict[str, Any]:
    scores = account_scores(
        frozenset(f"t{i}" for i in range(12)),
        [{"id": "c", "kind": "targeted", "accounts": [f"t{i}" for i in range(9)] + ["u"]}],
        ["t0", "t1", "t2", "u", "v"],
        2,
        {
            "owner_sign_ins": 80,
            "owner_signed_in": 76,
            "owner_mfa_prompts": 70,
            "journeys": 3500,
            "journeys_failed_own": 20,
            "journeys_failed_shared": 7,
            "users_stepped_up": 3,
        },
    )
    return scores | over


def test_accounts_table_shows_what_the_edge_found_and_who_got_in() -> None:
    c = card("seawall", None, accounts=accounts())
    out = text(accounts_table(c))
    assert row(out, "campaign") == ["precision", "90.0%"]  # 9 of the 10 are targeted
    flat = " ".join(out.split())
    assert "campaign recall 75.0%" in flat  # 9 of 12
    assert "accounts warned 5 (2 not targeted, 0 of no account)" in flat
    assert "accounts in them 10 (0 of no account)" in flat
    assert "warning precision 60.0% warning recall 25.0%" in flat
    assert "webhooks rejected 2" in flat
    assert "owners signed in 95.0% of 80 (70 asked for a code)" in flat
    assert "people refused 27 of 3500 (7 behind NAT); 3 stepped up" in flat
    nothing = card("none", None, accounts=account_scores(frozenset({"t"}), [], [], 0, {}))
    flat = " ".join(text(accounts_table(nothing)).split())
    assert "campaign precision - campaign recall 0.0%" in flat


def test_compare_and_report_carry_the_accounts_when_a_run_has_them() -> None:
    plain, siege = card("none", None), card("seawall", None, accounts=accounts())
    siege["classes"]["account_owner"] = _class(80, 76, 90.0, 300.0, blocked=4)
    out = text(compare_table([plain, siege]))
    assert row(out, "campaign recall") == ["-", "75.0%"]
    assert row(out, "owners signed in") == ["-", "95.0%"]
    assert row(out, "account_owner success") == ["-", "95.0%"]
    assert "campaign recall" not in text(compare_table([plain]))
    md = markdown_report(siege | {"seed": 7, "duration_s": 100.0}, "x.svg")
    assert "## Accounts" in md and "| campaign recall | 75.0% |" in md
    assert "## Accounts" not in markdown_report(plain | {"seed": 7, "duration_s": 1.0}, "x.svg")
