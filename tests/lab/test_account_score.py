"""The scorecard's `accounts` object: precision and recall by hand, and its validation."""

from __future__ import annotations

from typing import Any

import pytest

from seawall.lab.account_score import (
    FIELDS,
    account_problems,
    account_scores,
    campaign_accounts,
    precision_recall,
)

T = frozenset(f"t{i}" for i in range(12))  # the truly targeted accounts
COUNTS = {
    "owner_sign_ins": 40,
    "owner_signed_in": 30,
    "owner_mfa_prompts": 25,
    "journeys": 900,
    "journeys_failed_own": 6,
    "journeys_failed_shared": 3,
    "users_stepped_up": 2,
    "refused:forgot": 5,
    "refused:reset+lookup": 4,
}


def campaign(kind: str, *accounts: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"c-{kind}-{len(accounts)}", "kind": kind, "accounts": list(accounts)} | extra


def test_precision_and_recall_by_hand() -> None:
    assert precision_recall({"a", "b", "x"}, {"a", "b", "c", "d"}) == (2 / 3, 2 / 4)
    assert precision_recall(set(), {"a"}) == (None, 0.0)
    assert precision_recall({"a"}, set()) == (0.0, None)
    assert precision_recall(["a", "a"], {"a"}) == (1.0, 1.0)  # duplicates count once


def test_only_targeted_campaigns_name_accounts() -> None:
    found = campaign_accounts(
        [campaign("targeted", "t0", "t1"), campaign("broad", "z1"), campaign("targeted", "t1")]
    )
    assert found == {"t0", "t1"}
    assert campaign_accounts([{"id": "c", "kind": "targeted"}]) == set()


def test_a_good_edge_scores_well_and_its_mistakes_show() -> None:
    campaigns = [
        campaign("targeted", *sorted(T)[:9], "u1"),  # 9 of 12, plus an innocent
        campaign("targeted", "t9"),
        campaign("broad", "x1", "x2", "x3"),  # harvesting of made-up identifiers
    ]
    warned = [*sorted(T)[:8], "u1", "u2"]
    a = account_scores(T, campaigns, warned, 1, COUNTS)
    assert a["targeted"] == 12 and a["campaigns"] == 2 and a["broad_campaigns"] == 1
    assert a["accounts_in_campaigns"] == 11
    assert a["campaign_precision"] == pytest.approx(10 / 11)
    assert a["campaign_recall"] == pytest.approx(10 / 12)
    assert (a["warned"], a["false_warnings"]) == (10, 2)
    assert a["warning_precision"] == pytest.approx(8 / 10)
    assert a["warning_recall"] == pytest.approx(8 / 12)
    assert a["webhooks_rejected"] == 1
    assert (a["owner_sign_ins"], a["owners_signed_in"]) == (40, 0.75)
    assert (a["owner_mfa_prompts"], a["user_sign_ins"], a["users_stepped_up"]) == (25, 900, 2)
    assert (a["users_refused"], a["users_refused_shared"]) == (9, 3)
    assert a["users_refused_by_path"] == {"forgot": 5, "reset+lookup": 4}
    extras = {"users_refused_by_path", "unregistered_in_campaigns", "unregistered_warned"}
    assert set(a) == {*FIELDS, *extras, "campaign_list"}
    assert a["unregistered_in_campaigns"] == a["unregistered_warned"] == 0  # none given
    assert a["campaign_list"][0] == {
        "id": "c-targeted-10",
        "kind": "targeted",
        "confidence": None,
        "state": None,
        "decision": None,
        "accounts": 10,
        "truly_targeted": 9,
    }
    assert account_problems(a) == []


def test_nothing_reported_is_recall_zero_and_precision_null() -> None:
    a = account_scores(T, [], [], 0, {})
    assert (a["campaign_precision"], a["campaign_recall"]) == (None, 0.0)
    assert (a["warning_precision"], a["warning_recall"]) == (None, 0.0)
    assert a["owners_signed_in"] is None and a["owner_sign_ins"] == 0
    assert a["campaigns"] == a["accounts_in_campaigns"] == a["warned"] == 0
    assert account_problems(a) == []


def good() -> dict[str, Any]:
    return account_scores(T, [campaign("targeted", "t0", "u1")], ["t0"], 0, COUNTS)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"campaign_recall": 1.5}, "campaign_recall: not null or in [0, 1]"),
        ({"warned": -1}, "warned: not a non-negative integer"),
        ({"targeted": True}, "targeted: not a non-negative integer"),
        ({"campaign_precision": None}, "campaign_precision: null exactly when"),
        ({"warning_precision": None}, "warning_precision: null exactly when"),
        ({"owners_signed_in": None}, "owners_signed_in: null exactly when"),
        ({"campaign_recall": None}, "campaign_recall: null exactly when nothing"),
        ({"campaigns": 0}, "accounts in campaigns, but no campaign"),
        ({"false_warnings": 2}, "false_warnings > warned"),
        ({"users_refused": 1000}, "users_refused_shared <= users_refused <= user_sign_ins"),
    ],
)
def test_validation_finds_what_does_not_add_up(change: dict[str, Any], problem: str) -> None:
    a = good()
    assert account_problems(a) == []
    bad = a | change
    assert any(problem in p for p in account_problems(bad)), account_problems(bad)


def test_validation_wants_an_object_with_every_field() -> None:
    assert account_problems([]) == ["accounts: not an object"]
    a = good()
    del a["warning_recall"]
    assert account_problems(a) == ["accounts: missing warning_recall"]


def test_names_of_no_account_at_all_are_told_apart() -> None:
    registered = {*T, "u1", "u2"}  # every account there is; "x1" is a made-up identifier
    campaigns = [campaign("targeted", "t0", "u1", "x1", confidence=0.9, state="open")]
    a = account_scores(T, campaigns, ["t0", "u2", "x1", "x2"], 0, {}, registered)
    assert (a["unregistered_in_campaigns"], a["unregistered_warned"]) == (1, 2)
    assert (a["false_warnings"], a["accounts_in_campaigns"]) == (3, 3)
    (brief,) = a["campaign_list"]
    assert (brief["confidence"], brief["state"], brief["truly_targeted"]) == (0.9, "open", 1)
