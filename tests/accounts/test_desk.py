"""Transcripts of the warning desk: campaigns in, warnings and digests out, in time order."""

from __future__ import annotations

import pytest

from seawall.accounts.compose import DIGEST, WARNING, compose_warning
from seawall.accounts.desk import DAY, MemoryLedger, WarningDesk
from seawall.accounts.events import Alert, Campaign
from seawall.config.accounts import Warnings

T0 = 1_714_567_890.0
A, B, C, D, E, F = (f"{i:x}" * 32 for i in range(10, 16))
EMAILS = {A: "ann@example.org", B: "bob@example.org"}  # C has no address on file


def campaign(cid: str, *accounts: str, **over: object) -> Campaign:
    fields: dict[str, object] = {
        "id": cid,
        "kind": "targeted",
        "start": T0 - 600,
        "last": T0,
        "confidence": 0.9,
        "accounts": accounts,
        "detectors": ("distributed_guessing",),
        "sources": 12,
        "prefixes": 3,
        "asns": 2,
    }
    fields.update(over)
    return Campaign(**fields)  # type: ignore[arg-type]


def desk(ledger: MemoryLedger | None = None, **cfg: object) -> WarningDesk:
    return WarningDesk(
        ledger if ledger is not None else MemoryLedger(),
        EMAILS,
        Warnings(site_name="Example", **cfg),  # type: ignore[arg-type]
        admin_hint="https://admin.example",
    )


def summary(alerts: list[Alert]) -> list[tuple[str, str, str]]:
    return [(a.kind, a.id, a.recipient) for a in alerts]


def test_a_targeted_campaign_warns_each_account_once_then_digests() -> None:
    d = desk()
    c = campaign("c1", A, B, C)
    out = d.consider(c, T0)
    assert summary(out) == [
        (WARNING, f"c1:{A}", "ann@example.org"),
        (WARNING, f"c1:{B}", "bob@example.org"),
        (WARNING, f"c1:{C}", ""),  # webhooks and the log still reach the app
        (DIGEST, "c1:digest:1", ""),
    ]
    assert "Warnings sent to account owners: 3" in out[-1].text
    ledger = d.ledger
    assert isinstance(ledger, MemoryLedger)
    assert [ledger.status(a.id) for a in out] == ["queued"] * 4
    # every later tick: nothing new
    assert d.consider(c, T0 + 10) == []
    assert d.consider(c, T0 + 20) == []


def test_only_confident_undismissed_targeted_campaigns_warn() -> None:
    d = desk(min_confidence=0.7)
    assert d.consider(campaign("broad", A, kind="broad"), T0) == []
    assert d.consider(campaign("weak", A, confidence=0.5), T0) == []
    assert d.consider(campaign("nix", A, decision="dismissed"), T0) == []
    assert d.consider(campaign("nan", A, confidence=float("nan")), T0) == []
    # an operator's confirmation is enough, whatever the confidence
    out = d.consider(campaign("weak", A, confidence=0.5, decision="confirmed"), T0 + 1)
    assert summary(out) == [
        (WARNING, f"weak:{A}", "ann@example.org"),
        (DIGEST, "weak:digest:1", ""),
    ]


def test_the_threshold_is_inclusive_and_disabled_warns_no_one() -> None:
    assert len(desk(min_confidence=0.9).consider(campaign("c", A), T0)) == 2
    assert desk(enabled=False).consider(campaign("c", A), T0) == []


def test_the_daily_cap_suppresses_warnings_over_it_for_a_rolling_day() -> None:
    d = desk(daily_cap=2)
    ledger = d.ledger
    assert isinstance(ledger, MemoryLedger)
    assert [a.id for a in d.consider(campaign("c1", A), T0) if a.kind == WARNING] == [f"c1:{A}"]
    assert [a.id for a in d.consider(campaign("c2", A, B), T0 + 60) if a.kind == WARNING] == [
        f"c2:{A}",
        f"c2:{B}",
    ]
    # a third campaign the same day: A is over the cap, B is not
    out = d.consider(campaign("c3", A, B), T0 + 120)
    assert [a.id for a in out if a.kind == WARNING] == [f"c3:{B}"]
    assert ledger.status(f"c3:{A}") == "suppressed"
    assert d.consider(campaign("c3", A, B), T0 + DAY) == []  # suppressed is final for c3
    # a day after the first two, A may hear of a new campaign again
    out = d.consider(campaign("c4", A), T0 + 60 + DAY + 1)
    assert [a.id for a in out if a.kind == WARNING] == [f"c4:{A}"]


def test_a_failed_warning_does_not_count_toward_the_cap() -> None:
    d = desk(daily_cap=1)
    first = d.consider(campaign("c1", A), T0)[0]
    d.ledger.record(first, "failed", T0 + 5)
    out = d.consider(campaign("c2", A), T0 + 60)
    assert [a.id for a in out if a.kind == WARNING] == [f"c2:{A}"]
    out = d.consider(campaign("c3", A), T0 + 120)
    assert [a.id for a in out if a.kind == WARNING] == []


def test_digests_again_on_half_again_the_accounts_or_a_new_decision() -> None:
    d = desk()
    assert [a.id for a in d.consider(campaign("c1", A, B), T0) if a.kind == DIGEST] == [
        "c1:digest:1"
    ]
    # 2 -> 2: nothing; 2 -> 3 (+50%): a second digest, and the new account's warning
    assert d.consider(campaign("c1", A, B), T0 + 10) == []
    out = d.consider(campaign("c1", A, B, C), T0 + 20)
    assert summary(out) == [(WARNING, f"c1:{C}", ""), (DIGEST, "c1:digest:2", "")]
    assert "Warnings sent to account owners: 3" in out[-1].text
    # 3 -> 4 is a third more: no digest, but D is warned
    out = d.consider(campaign("c1", A, B, C, D), T0 + 30)
    assert summary(out) == [(WARNING, f"c1:{D}", "")]
    # an operator confirms: digest
    out = d.consider(campaign("c1", A, B, C, D, decision="confirmed"), T0 + 40)
    assert summary(out) == [(DIGEST, "c1:digest:3", "")]
    assert "Decision:    confirmed" in out[0].text
    # then dismisses: operators hear of it, new accounts are not warned
    out = d.consider(campaign("c1", A, B, C, D, E, F, decision="dismissed"), T0 + 50)
    assert summary(out) == [(DIGEST, "c1:digest:4", "")]
    assert d.consider(campaign("c1", A, B, C, D, E, F, decision="dismissed"), T0 + 60) == []


def test_a_restarted_desk_repeats_nothing_the_ledger_remembers() -> None:
    ledger = MemoryLedger()
    first = desk(ledger)
    assert len(first.consider(campaign("c1", A, B), T0)) == 3
    second = desk(ledger)
    assert second.consider(campaign("c1", A, B), T0 + 10) == []
    out = second.consider(campaign("c1", A, B, C), T0 + 20)
    assert summary(out) == [(WARNING, f"c1:{C}", ""), (DIGEST, "c1:digest:2", "")]


def test_the_digest_memo_is_bounded_and_falls_back_on_the_ledger() -> None:
    d = WarningDesk(MemoryLedger(), EMAILS, Warnings(), max_campaigns=2)
    for i in range(5):
        assert len(d.consider(campaign(f"c{i}", A, B), T0 + i)) >= 1
    assert len(d._memo) == 2
    assert d.consider(campaign("c0", A, B), T0 + 10) == []  # forgotten by the memo only


def test_memory_ledger_counts_queued_and_sent_warnings_in_the_window() -> None:
    ledger = MemoryLedger()
    c = campaign("c1", A)
    alert = compose_warning(c, A, "", "X", T0)
    ledger.record(alert, "queued", T0)
    ledger.record(alert, "sent", T0 + 30)  # a later status keeps the first time
    assert ledger.status(alert.id) == "sent"
    assert ledger.warned("c1", A) and not ledger.warned("c1", B)
    assert ledger.warnings_since(A, T0) == 1
    assert ledger.warnings_since(A, T0 + 1) == 0
    with pytest.raises(ValueError):
        ledger.record(alert, "delivered", T0)


def test_memory_ledger_is_bounded() -> None:
    ledger = MemoryLedger(max_alerts=3, per_account=2)
    for i in range(5):
        ledger.record(compose_warning(campaign(f"c{i}", A), A, "", "X", T0), "sent", T0 + i)
    assert len(ledger) == 3
    assert not ledger.warned("c0", A) and ledger.warned("c4", A)
    assert ledger.warnings_since(A, 0) == 2  # only the last `per_account` are kept
    assert len(ledger._by_account[A]) == 2
