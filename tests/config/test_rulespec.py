"""Rule specs: validation, and every match field and strike reaching the core rule."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from seawall.config.build import build_rule, rule_to_spec
from seawall.config.rulespec import RuleSpec
from seawall.core.verdict import Action


def test_a_throttle_needs_a_rate() -> None:
    with pytest.raises(ValidationError, match="a throttle rule needs a rate"):
        RuleSpec.model_validate({"id": "t", "action": "throttle"})


def test_new_match_fields_and_strikes_reach_the_rule_and_come_back() -> None:
    spec = RuleSpec.model_validate(
        {
            "id": "c",
            "action": "challenge",
            "strikes": 3,
            "strike_window": 30.0,
            "match": {
                "countries": ["ua", "RU"],
                "asns": [64500],
                "query_shapes": ["_=n"],
                "ua_families": ["Chrome/51"],
            },
        }
    )
    rule = build_rule(spec, 0.0)
    assert rule.action is Action.CHALLENGE and (rule.strikes, rule.strike_window) == (3, 30.0)
    m = rule.match
    assert m.countries == {"UA", "RU"} and m.asns == {64500}
    assert m.query_shapes == {"_=n"} and m.ua_families == {"Chrome/51"}
    back = rule_to_spec(rule, 0.0)
    assert back["match"] == {
        "countries": ["RU", "UA"],
        "asns": [64500],
        "query_shapes": ["_=n"],
        "ua_families": ["Chrome/51"],
    }
    back.pop("origin")
    assert RuleSpec.model_validate(back).strikes == 3


def test_negative_strikes_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError) as err:
        RuleSpec.model_validate({"id": "c", "action": "challenge", "strikes": -1})
    assert err.value.errors()[0]["loc"] == ("strikes",)
