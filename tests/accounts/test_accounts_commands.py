"""`seawall accounts hash|campaigns|audit` against a real store file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from seawall.cli import main
from seawall.core.auth import Hasher
from seawall.store.accounts import AccountStore

SECRET = "z" * 24


def conf(tmp: Path) -> Path:
    p = tmp / "seawall.toml"
    p.write_text(
        f'[store]\npath = "{tmp / "s.db"}"\n[accounts]\nenabled = true\nsecret = "{SECRET}"\n'
    )
    return p


def test_hash_prints_the_keyed_hash_the_edge_uses(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["accounts", "hash", "-c", str(conf(tmp_path)), "Alice@Example.org"]
    )
    assert res.exit_code == 0, res.output
    assert res.output.split() == [Hasher(SECRET)("alice@example.org"), "Alice@Example.org"]


def test_hash_without_a_secret_says_so(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("")
    res = CliRunner().invoke(main, ["accounts", "hash", "-c", str(p), "x"])
    assert res.exit_code == 2 and "accounts.secret is not set" in res.output


def test_campaigns_and_audit_read_the_store(tmp_path: Path) -> None:
    store = AccountStore(str(tmp_path / "s.db"))
    camp = {
        "id": "acct-1",
        "kind": "targeted",
        "start": 0.0,
        "last": 5.0,
        "confidence": 0.93,
        "accounts": ["h1", "h2"],
        "detectors": ["distributed_guessing"],
        "sources": 400,
        "prefixes": 390,
        "asns": 120,
        "state": "open",
        "decision": "",
        "evidence": {},
    }
    store.save_campaign(camp)
    store.save_campaign({**camp, "id": "acct-0", "state": "merged:acct-1"})
    store.decide("acct-1", "confirmed", "ops", "seen it", 10.0)
    store.close()
    runner, c = CliRunner(), str(conf(tmp_path))
    listed = runner.invoke(main, ["accounts", "campaigns", "-c", c])
    assert listed.exit_code == 0, listed.output
    assert "acct-1" in listed.output and "[confirmed]" in listed.output
    assert "acct-0" not in listed.output  # merged parts are not campaigns of their own
    one = runner.invoke(
        main, ["accounts", "campaigns", "acct-1", "--store", str(tmp_path / "s.db")]
    )
    assert json.loads(one.output)["accounts"] == ["h1", "h2"]
    missing = runner.invoke(main, ["accounts", "campaigns", "nope", "-c", c])
    assert missing.exit_code == 2 and "no campaign" in missing.output
    audit = runner.invoke(main, ["accounts", "audit", "-c", c])
    assert json.loads(audit.output.splitlines()[0])["action"] == "campaign.decide"


def test_the_docs_hold_the_generated_detector_reference() -> None:
    """Regenerate with: seawall accounts detectors (between the markers in docs/accounts.md)"""
    from seawall.accounts.commands import detectors_markdown
    from seawall.accounts.detectors import DETECTORS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "accounts.md").read_text()
    start = docs.index("do not edit by hand -->\n") + len("do not edit by hand -->\n")
    assert docs[start : docs.index("<!-- /detectors -->")] == detectors_markdown()
    assert all(f"### `{name}`" in docs for name in DETECTORS)
