"""The engine's settings from the configuration: every field mapped, mistakes named."""

from __future__ import annotations

from typing import Any

import pytest

from seawall.config.engine import engine_settings
from seawall.config.load import validate
from seawall.core.errors import ConfigError
from seawall.detect.policy import Mode
from seawall.detect.signals import REGISTRY

QUIET: dict[str, Any] = {"log": {"access_log": ""}, "admin": {"listen": ""}}


def _cfg(**detection: Any) -> Any:
    return validate({**QUIET, "detection": detection})


# ---- engine_settings ---------------------------------------------------------------------------


def test_engine_settings_map_every_field() -> None:
    cfg = _cfg(
        mode="suggest",
        family_modes={"scanner": "enforce", "http_flood": "observe"},
        interval=0.5,
        disabled=["cache_bust", "low_and_slow"],
        detectors={"http_flood": {"min_rps": 50, "ratio": 3}},
        block_collateral=0.002,
        block_confidence=0.9,
        challenge_collateral=0.1,
        throttle_collateral=0.3,
        rule_ttl=60,
        hold=20,
        escalate_after=4,
        throttle_rate=2.5,
        throttle_burst=10,
        strikes=3,
        strike_window=30,
        max_rules=16,
        half_life=600,
        window=120,
        max_records=10_000,
        login_routes=["login", "signin"],
        quiet=45,
    )
    s = engine_settings(cfg)
    assert (s.interval, s.max_records, s.half_life, s.window_seconds) == (0.5, 10_000, 600, 120)
    assert s.login_routes == ("login", "signin") and s.quiet == 45
    assert s.detectors is not None
    assert set(s.detectors) == set(REGISTRY) - {"cache_bust", "low_and_slow"}
    assert s.detectors["http_flood"] == {"min_rps": 50.0, "ratio": 3.0}
    assert s.detectors["scanner"] == {}
    p = s.policy
    assert p.mode is Mode.SUGGEST
    assert p.family_modes == {"scanner": Mode.ENFORCE, "http_flood": Mode.OBSERVE}
    assert (p.block_collateral, p.block_confidence) == (0.002, 0.9)
    assert (p.challenge_collateral, p.throttle_collateral) == (0.1, 0.3)
    assert (p.ttl, p.hold, p.escalate_after) == (60, 20, 4)
    assert (p.throttle_rate, p.throttle_burst, p.strikes, p.strike_window) == (2.5, 10, 3, 30)
    assert p.max_rules == 16


def test_engine_settings_defaults_use_every_detector() -> None:
    s = engine_settings(_cfg())
    assert s.detectors == {name: {} for name in REGISTRY}
    assert s.policy.mode is Mode.ENFORCE and s.interval == 1.0


@pytest.mark.parametrize(
    "detection",
    [
        {"detectors": {"htpp_flood": {"min_rps": 5}}},
        {"disabled": ["htpp_flood"]},
        {"family_modes": {"htpp_flood": "observe"}},
    ],
)
def test_an_unknown_detector_is_named_with_the_known_ones(detection: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as err:
        engine_settings(_cfg(**detection))
    assert err.value.key == "detection"
    assert "htpp_flood" in str(err.value) and "http_flood" in str(err.value)


def test_a_bad_detector_option_is_named() -> None:
    with pytest.raises(ConfigError) as err:
        engine_settings(_cfg(detectors={"http_flood": {"min_rsp": 5}}))
    assert err.value.key == "detection.detectors.http_flood"
    assert "min_rsp" in str(err.value) and "min_rps" in str(err.value)


def test_options_of_a_disabled_detector_are_still_checked_by_name_only() -> None:
    s = engine_settings(_cfg(disabled=["http_flood"], detectors={"http_flood": {"min_rps": 5}}))
    assert s.detectors is not None and "http_flood" not in s.detectors
