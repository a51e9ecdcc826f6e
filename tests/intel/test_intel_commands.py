"""`seawall intel import|export` as an operator runs them, against a real edge on loopback."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import stix2validator
from click.testing import CliRunner, Result
from intelcases import NOW, incident

from seawall.intel import from_incident
from seawall.intel.commands import intel
from seawall.intel.stix import export_stix
from seawall.store.incidents import IncidentStore

from harness import Edge, free_port

NO_ENV = {"SEAWALL_ADMIN_TOKEN": None}


def run(*args: str) -> Result:
    return CliRunner().invoke(intel, list(args), env=NO_ENV)


def _rules(port: int) -> list[dict[str, Any]]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/rules")
    req.add_header("Authorization", "Bearer s3cret")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return list(json.loads(resp.read())["rules"])


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A peer's bundle: the constructed incident exported an hour ago, valid for a day."""
    import time

    now = time.time() - 3600
    inc = incident() | {"start": now - 300}
    f = tmp_path / "peer.json"
    f.write_text(export_stix(from_incident(inc, now, 86400), now, inc, platform="Peer CERT"))
    return f


def test_import_dry_run_summarises_and_sends_nothing(bundle: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = run("import", str(bundle), "--dry-run", "--admin", closed, "--token", "t")
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "peer.json (stix)" in out and "indicators 5" in out
    assert "cidr4 3" in out and "cidr6 1" in out and "ipv6 1" in out
    assert "dry run: none applied" in out and "intel-peer-cert-" in out


def test_import_sends_a_list_to_the_running_edge(tmp_path: Path) -> None:
    f = tmp_path / "drop.txt"
    f.write_text("# peer list\n45.10.20.0/24\nnot-an-address\n")
    with Edge() as e:
        admin = f"http://127.0.0.1:{e.admin_port}"
        result = run("import", str(f), "--admin", admin, "--token", "s3cret", "--ttl", "600")
        assert result.exit_code == 0, result.output
        assert "drop.txt:3: 'not-an-address' is not an address" in result.stdout
        assert "applied: 1 rules holding 1 indicators" in result.stdout
        (rule,) = _rules(e.admin_port)
        assert rule["id"].startswith("intel-drop-txt-") and rule["origin"] == "intel"
        assert rule["match"] == {"cidrs": ["45.10.20.0/24"], "classes": ["anonymous"]}
        assert rule["ttl"] <= 600
        assert rule["id"] in result.stdout


def test_import_finds_the_admin_api_and_token_in_the_config(bundle: Path, tmp_path: Path) -> None:
    with Edge() as e:
        cfg = tmp_path / "seawall.toml"
        cfg.write_text(f'[admin]\nlisten = "127.0.0.1:{e.admin_port}"\ntoken = "s3cret"\n')
        result = run("import", str(bundle), "-c", str(cfg), "--action", "challenge")
        assert result.exit_code == 0, result.output
        (rule,) = _rules(e.admin_port)
        assert rule["action"] == "challenge" and len(rule["match"]["cidrs"]) == 5
        wrong = run("import", str(bundle), "-c", str(cfg), "--token", "wrong")
        assert wrong.exit_code == 1 and "refused the import (401)" in wrong.stderr


def test_import_reads_standard_input() -> None:
    result = CliRunner().invoke(
        intel, ["import", "-", "--dry-run"], input="45.1.1.1\nbad\n", env=NO_ENV
    )
    assert result.exit_code == 0, result.output
    assert "standard input:2: 'bad' is not an address" in result.stdout
    assert "intel-standard-input-" in result.stdout


def test_import_failures_say_whose_fault_and_exit_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run("import", str(bad), "--dry-run")
    assert result.exit_code == 2
    assert "bad.json: is not JSON" in result.stderr and "the file's fault" in result.stderr
    assert run("import", str(tmp_path / "none.txt"), "--dry-run").exit_code == 2
    good = tmp_path / "ok.txt"
    good.write_text("45.1.1.1\n")
    closed = f"http://127.0.0.1:{free_port()}"
    result = run("import", str(good), "--admin", closed, "--token", "t")
    assert result.exit_code == 1 and "cannot reach the admin API" in result.stderr
    result = run("import", str(good), "--admin", closed)
    assert result.exit_code == 2 and "an admin token is needed" in result.stderr
    cfg = tmp_path / "off.toml"
    cfg.write_text('[admin]\nlisten = ""\ntoken = "x"\n')
    result = run("import", str(good), "-c", str(cfg))
    assert result.exit_code == 2 and "admin API is off" in result.stderr


# ---- export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("wrapped", [False, True])
def test_export_stix_from_a_report_file_validates(tmp_path: Path, wrapped: bool) -> None:
    report = tmp_path / "report.json"
    inc = incident()
    doc = {"incidents": [{"id": "other"}, inc]} if wrapped else inc
    report.write_text(json.dumps(doc))
    out = tmp_path / "inc.stix.json"
    result = run("export", inc["id"], "--format", "stix", "--from", str(report), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "5 indicators as stix" in result.stderr and "skipped: covered 1" in result.stderr
    options = stix2validator.ValidationOptions(version="2.1")
    assert stix2validator.validate_string(out.read_text(), options).is_valid


@pytest.mark.parametrize(
    ("fmt", "says"),
    [
        ("blocklist", "\n45.10.20.0/24\n"),
        ("nginx", "\n    45.10.20.0/24 1;\n"),
        ("nftables", "\n            45.10.20.0/24 timeout "),
    ],
)
def test_export_from_the_store_named_in_the_config(tmp_path: Path, fmt: str, says: str) -> None:
    db = tmp_path / "incidents.db"
    store = IncidentStore(str(db))
    store.save(incident() | {"start": NOW})
    store.close()
    cfg = tmp_path / "seawall.toml"
    cfg.write_text(f'[store]\npath = "{db}"\n')
    result = run("export", "inc-1700000000-1", "--format", fmt, "-c", str(cfg))
    assert result.exit_code == 0, result.output
    assert says in result.stdout and "inc-1700000000-1" in result.stdout
    same = run("export", "inc-1700000000-1", "--format", fmt, "--store", str(db), "--ttl", "60")
    assert same.exit_code == 0 and says in same.stdout


def test_export_failures_name_what_is_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    result = run("export", "inc-1", "--format", "blocklist", "--store", str(missing))
    assert result.exit_code == 2 and "no incident store at" in result.stderr
    assert not missing.exists()  # reading never creates a store
    db = tmp_path / "incidents.db"
    store = IncidentStore(str(db))
    store.save(incident())
    store.close()
    result = run("export", "inc-9", "--format", "blocklist", "--store", str(db))
    assert result.exit_code == 2
    assert "no incident 'inc-9'" in result.stderr and "inc-1700000000-1" in result.stderr
    report = tmp_path / "r.json"
    report.write_text('{"incidents": [{"id": "a"}]}')
    result = run("export", "b", "--format", "stix", "--from", str(report))
    assert result.exit_code == 2 and "has no incident 'b'" in result.stderr
    report.write_text("[1, 2]")
    result = run("export", "b", "--format", "stix", "--from", str(report))
    assert result.exit_code == 2 and "neither an incident" in result.stderr
    report.write_text("{")
    result = run("export", "b", "--format", "stix", "--from", str(report))
    assert result.exit_code == 2 and "r.json: is not JSON" in result.stderr


def test_an_export_expires_as_asked(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps(incident()))
    for ttl, least, most in (("86400", 86390, 86400), ("60", 55, 60)):
        args = ["export", "inc-1700000000-1", "--format", "nftables", "--from", str(report)]
        result = run(*args, "--ttl", ttl)
        timeouts = [int(t) for t in re.findall(r" timeout (\d+)s", result.stdout)]
        assert len(timeouts) == 5 and all(least <= t <= most for t in timeouts), timeouts
