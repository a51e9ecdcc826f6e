"""Verdicts are small frozen records with stable labels."""

from __future__ import annotations

import msgspec
import pytest

from seawall.core.verdict import ALLOW, Action, Verdict


def test_labels_are_the_lowercase_names_and_order_is_severity() -> None:
    assert [a.label for a in Action] == ["allow", "cache", "throttle", "challenge", "block"]
    assert Action.ALLOW < Action.THROTTLE < Action.BLOCK


def test_verdicts_are_frozen_and_compare_by_value() -> None:
    v = Verdict(Action.THROTTLE, "too fast", "r1", 429, 2.0)
    with pytest.raises(AttributeError):
        v.status = 200  # type: ignore[misc]
    assert v == Verdict(Action.THROTTLE, "too fast", "r1", 429, 2.0)
    assert ALLOW.action is Action.ALLOW and ALLOW.status == 200 and not ALLOW.close
    assert msgspec.json.decode(msgspec.json.encode(v))["retry_after"] == 2.0
