"""The campaign book, as transcripts: findings in, campaigns out, in time order."""

from __future__ import annotations

from seawall.accounts.campaigns import BROAD, TARGETED, BookSettings, CampaignBook
from seawall.accounts.events import Finding


def guess(account: str, sources: tuple[str, ...], t: float, conf: float = 0.8) -> Finding:
    return Finding(
        "distributed_guessing",
        f"account:{account}",
        (account,),
        sources,
        t - 10,
        t,
        len(sources) * 2,
        conf,
        prefixes=tuple(s.rsplit(".", 1)[0] + ".0/24" for s in sources),
    )


def test_accounts_sharing_attackers_are_one_targeted_campaign_with_a_stable_id() -> None:
    book = CampaignBook(BookSettings())
    changed, closed = book.update([guess("a1", ("1.1.1.1", "2.2.2.2"), 100.0)], 100.0)
    assert [c.accounts for c in changed] == [("a1",)] and not closed
    first = changed[0].id
    # a second account attacked from one of the same addresses joins it
    changed, _ = book.update(
        [guess("a1", ("1.1.1.1", "2.2.2.2"), 101.0), guess("a2", ("2.2.2.2", "3.3.3.3"), 101.0)],
        101.0,
    )
    assert len(changed) == 1
    c = changed[0]
    assert c.id == first and c.kind == TARGETED
    assert set(c.accounts) == {"a1", "a2"}
    assert c.sources == 3
    # two linked accounts: more confident than either finding alone
    assert 0.8 < c.confidence < 0.99


def test_unrelated_attacks_stay_apart() -> None:
    book = CampaignBook(BookSettings())
    changed, _ = book.update(
        [guess("a1", ("1.1.1.1",), 100.0), guess("b1", ("9.9.9.9",), 100.0)], 100.0
    )
    assert sorted(c.accounts for c in changed) == [("a1",), ("b1",)]
    assert len({c.id for c in changed}) == 2


def test_parts_seen_apart_first_merge_into_the_oldest_and_the_rest_are_reported() -> None:
    book = CampaignBook(BookSettings())
    old, _ = book.update([guess("a1", ("1.1.1.1",), 100.0)], 100.0)
    book.update([guess("a1", ("1.1.1.1",), 105.0), guess("a2", ("5.5.5.5",), 105.0)], 105.0)
    changed, closed = book.update(
        [guess("a1", ("1.1.1.1", "7.7.7.7"), 110.0), guess("a2", ("5.5.5.5", "7.7.7.7"), 110.0)],
        110.0,
    )
    assert [c.id for c in changed] == [old[0].id]
    assert set(changed[0].accounts) == {"a1", "a2"}
    assert [c.state for c in closed] == [f"merged:{old[0].id}"]
    assert len(book.open) == 1


def test_a_risky_sign_in_alone_is_no_campaign_but_joins_one() -> None:
    book = CampaignBook(BookSettings())
    risk = Finding("takeover_risk", "account:n1", ("n1",), ("4.4.4.4",), 90.0, 100.0, 1, 0.6)
    changed, _ = book.update([risk], 100.0)
    assert changed == [] and not book.open
    attack = guess("n1", ("1.1.1.1",), 101.0)
    risk2 = Finding("takeover_risk", "account:n1", ("n1",), ("4.4.4.4",), 90.0, 101.0, 1, 0.6)
    changed, _ = book.update([attack], 101.0)
    changed, _ = book.update([attack, risk2], 102.0)
    assert changed[0].detectors == ("distributed_guessing", "takeover_risk")


def test_a_large_group_is_broad_and_broad_findings_group_by_infrastructure() -> None:
    book = CampaignBook(BookSettings(small_group=3))
    many = [guess(f"a{i}", ("1.1.1.1",), 100.0) for i in range(5)]
    stuffing = Finding(
        "credential_stuffing",
        "8.8.8.8",
        tuple(f"x{i}" for i in range(60)),
        ("8.8.8.8",),
        90.0,
        100.0,
        60,
        0.9,
        broad=True,
    )
    changed, _ = book.update([*many, stuffing], 100.0)
    kinds = sorted((c.kind, len(c.accounts)) for c in changed)
    assert kinds == [(BROAD, 5), (BROAD, 60)]


def test_harvesting_from_a_targeted_campaigns_sources_marks_it() -> None:
    book = CampaignBook(BookSettings())
    book.update([guess("a1", ("1.1.1.1",), 100.0)], 100.0)
    enum = Finding(
        "recovery_harvesting",
        "fingerprint:fpbot",
        tuple(f"id{i}" for i in range(60)),
        ("1.1.1.1",),
        90.0,
        101.0,
        60,
        0.9,
        broad=True,
    )
    book.update([guess("a1", ("1.1.1.1",), 101.0), enum], 101.0)
    targeted = next(c for c in book.campaigns() if c.kind == TARGETED)
    assert targeted.harvesting and targeted.flagged_fingerprints == ("fpbot",)
    assert targeted.accounts == ("a1",)  # what the enumeration touched is not its target


def test_a_claim_about_an_attacker_lists_accounts_it_touched_but_targets_none() -> None:
    book = CampaignBook(BookSettings())
    lookups = Finding(
        "recovery_harvesting",
        "source:9.9.9.9",
        ("r1", "r2", "r3"),
        ("9.9.9.9",),
        90.0,
        100.0,
        12,
        0.7,
    )
    changed, _ = book.update([lookups], 100.0)
    assert [(c.kind, set(c.accounts)) for c in changed] == [(BROAD, {"r1", "r2", "r3"})]


def test_quiet_campaigns_close_and_decisions_stick() -> None:
    book = CampaignBook(BookSettings(quiet=60.0))
    changed, _ = book.update([guess("a1", ("1.1.1.1",), 100.0)], 100.0)
    cid = changed[0].id
    decided = book.decide(cid, "dismissed")
    assert decided is not None and decided.decision == "dismissed"
    assert book.decide("nope", "confirmed") is None
    _, closed = book.update([], 150.0)
    assert closed == []
    _, closed = book.update([], 161.0)
    assert [(c.id, c.state, c.decision) for c in closed] == [(cid, "closed", "dismissed")]
    assert not book.open and not book.by_account


def test_open_campaigns_are_bounded() -> None:
    book = CampaignBook(BookSettings(max_open=3))
    for i in range(10):
        book.update([guess(f"a{i}", (f"1.1.1.{i}",), 100.0 + i)], 100.0 + i)
    assert len(book.open) == 3
    assert {c.accounts[0] for c in book.campaigns()} == {"a7", "a8", "a9"}


def test_a_claim_about_a_campaigns_own_attacker_is_evidence_of_that_campaign() -> None:
    book = CampaignBook(BookSettings())
    book.update([guess("a1", ("1.1.1.1",), 100.0)], 100.0)
    stuffing = Finding(
        "credential_stuffing",
        "source:1.1.1.1",
        ("a1", "x1", "x2"),
        ("1.1.1.1",),
        90.0,
        101.0,
        12,
        0.8,
    )
    changed, _ = book.update([guess("a1", ("1.1.1.1",), 101.0), stuffing], 101.0)
    (c,) = changed
    assert c.kind == TARGETED and c.accounts == ("a1",)
    assert c.detectors == ("credential_stuffing", "distributed_guessing")
    assert len(book.open) == 1
