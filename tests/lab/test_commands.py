"""`seawall lab` and `seawall demo` end to end, as CI runs them (loopback only).

The two scenario runs are the CI end-to-end check of the lab issue: cyxymu-2009 for 20 s
under `none` and under `seawall`. They assert only what the edge foundation guarantees: the
scorecard is complete and consistent, every class took part, and with no protection the
origin is overwhelmed. How well a protection does is measured, not asserted. The account
siege runs for 20 s under `none`: people and owners sign in, and nothing reports a campaign.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from seawall.lab.scenarios import LEGIT_CLASSES, SCENARIOS
from seawall.lab.scorecard import validate_scorecard

RUN_TIMEOUT_S = 90


def seawall(
    *args: str, cwd: Path, timeout: float = RUN_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seawall.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def flat(text: str) -> str:
    return " ".join(text.split())


def run_scenario(protection: str, tmp: Path) -> dict[str, Any]:
    out = seawall(
        "lab",
        "run",
        "cyxymu-2009",
        "--protection",
        protection,
        "--duration",
        "20",
        "--json",
        str(tmp / f"{protection}.json"),
        "--out",
        str(tmp),
        cwd=tmp,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    card: dict[str, Any] = json.loads((tmp / f"{protection}.json").read_text(encoding="utf-8"))
    assert validate_scorecard(card) == []
    assert card["errors"] == []
    assert (card["scenario"], card["protection"], card["duration_s"]) == (
        "cyxymu-2009",
        protection,
        20.0,
    )
    for klass in LEGIT_CLASSES:
        assert card["classes"][klass]["sent"] > 0, klass
    assert card["attack"]["sent"] > 0
    assert set(card["attack"]["by_class"]) == {"botnet", "adaptive_bot"}
    assert card["origin_capacity_rps"] > 0
    assert len(card["timeline"]) >= 20
    assert [p["name"] for p in card["phases"]] == ["flash_crowd", "botnet", "adaptive_bot"]
    chart = tmp / f"cyxymu-2009-{protection}.svg"
    assert chart.exists()
    root = ET.parse(chart).getroot()
    assert root.tag.endswith("svg")
    assert "scorecard:" in out.stdout and "origin capacity" in out.stdout
    return card


@pytest.mark.timeout(150)
def test_cyxymu_without_protection_overwhelms_the_origin(tmp_path: Path) -> None:
    card = run_scenario("none", tmp_path)
    assert card["origin"]["peak_utilization"] >= 0.9
    assert card["attack"]["leak_rate"] > 0.5
    assert card["origin"]["errors"] > 0
    assert card["time_to_mitigate_s"] is None


@pytest.mark.timeout(150)
def test_cyxymu_behind_seawall_gives_a_complete_scorecard(tmp_path: Path) -> None:
    run_scenario("seawall", tmp_path)  # protection quality is measured, not asserted


@pytest.mark.timeout(150)
def test_account_siege_without_protection_lets_owners_in_and_finds_nothing(
    tmp_path: Path,
) -> None:
    out = seawall(
        "lab",
        "run",
        "account-siege",
        "--protection",
        "none",
        "--duration",
        "20",
        "--json",
        str(tmp_path / "siege.json"),
        "--out",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    card: dict[str, Any] = json.loads((tmp_path / "siege.json").read_text(encoding="utf-8"))
    assert validate_scorecard(card) == [] and card["errors"] == []
    assert card["unlabelled_at_origin"] == 0
    users, owners = card["classes"]["account_user"], card["classes"]["account_owner"]
    assert users["sent"] >= 400 and users["success_rate"] > 0.95  # about 36 people a second
    assert owners["sent"] >= 8  # 12 owners, each every 10-20 s
    a = card["accounts"]
    assert a["targeted"] == 12 and a["owner_sign_ins"] == owners["sent"]
    assert a["owners_signed_in"] == owners["success_rate"] > 0.9
    assert a["owner_mfa_prompts"] == 0  # nobody asks for a code without the edge
    assert (a["campaigns"], a["warned"]) == (0, 0)
    assert (a["campaign_recall"], a["campaign_precision"]) == (0.0, None)
    assert (a["warning_recall"], a["warning_precision"]) == (0.0, None)
    # unprotected, every try with a breached password takes the account over
    assert a["takeovers"] == a["breached_tries"]
    siege = card["attack"]["by_class"]["account_siege"]
    assert siege["sent"] > 100 and siege["statuses"]["401"] > 50  # the guesses, nearly all wrong
    assert card["attack"]["leak_rate"] > 0.9
    assert "accounts" in out.stdout and "campaign recall" in out.stdout
    assert "## Accounts" in (tmp_path / "account-siege-none.md").read_text(encoding="utf-8")


@pytest.mark.timeout(150)
def test_demo_runs_cyxymu_behind_seawall(tmp_path: Path) -> None:
    out = seawall("demo", "--duration", "8", "--out", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    card = json.loads((tmp_path / "cyxymu-2009-seawall.json").read_text(encoding="utf-8"))
    assert validate_scorecard(card) == []
    assert (card["scenario"], card["protection"], card["duration_s"]) == (
        "cyxymu-2009",
        "seawall",
        8.0,
    )
    assert (tmp_path / "cyxymu-2009-seawall.svg").exists()
    report = (tmp_path / "cyxymu-2009-seawall.md").read_text(encoding="utf-8")
    assert report.startswith("# cyxymu-2009 under seawall")


def test_lab_list_names_every_scenario(tmp_path: Path) -> None:
    out = seawall("lab", "list", cwd=tmp_path, timeout=30)
    assert out.returncode == 0, out.stderr
    for name in SCENARIOS:
        assert name in out.stdout
    assert len(SCENARIOS) == 5


def test_lab_run_of_an_unknown_scenario_lists_the_known_ones(tmp_path: Path) -> None:
    out = seawall("lab", "run", "nope", "--duration", "5", "--out", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2
    message = flat(out.stderr)
    assert "no scenario 'nope'" in message
    for name in SCENARIOS:
        assert name in message
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing was written


def test_lab_run_refuses_a_bad_duration(tmp_path: Path) -> None:
    out = seawall("lab", "run", "cyxymu-2009", "--duration", "1", cwd=tmp_path, timeout=30)
    assert out.returncode == 2
    assert "duration must be between 5 and 3600" in flat(out.stderr)


def test_lab_compare_refuses_unknown_protections(tmp_path: Path) -> None:
    out = seawall("lab", "compare", "cyxymu-2009", "--protections", "none,bogus", cwd=tmp_path)
    assert out.returncode == 2
    message = flat(out.stderr)
    assert "Invalid value" in message and "bogus" in message
    assert list(tmp_path.iterdir()) == []


def test_lab_run_refuses_an_unknown_protection(tmp_path: Path) -> None:
    out = seawall("lab", "run", "cyxymu-2009", "--protection", "bogus", cwd=tmp_path, timeout=30)
    assert out.returncode == 2
    assert "bogus" in out.stderr
