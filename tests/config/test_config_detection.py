"""The [detection], [challenge] and [store] sections: defaults, errors that name the key, TOML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from seawall.config import load_config, load_config_text
from seawall.config.detection import ChallengeConfig, DetectionConfig, StoreConfig
from seawall.config.load import validate
from seawall.core.errors import ConfigError

TOML = """
[detection]
enabled = true
mode = "suggest"
family_modes = { scanner = "enforce", http_flood = "observe" }
interval = 0.5
disabled = ["cache_bust"]
detectors = { http_flood = { min_rps = 50, ratio = 3.5 } }
block_collateral = 0.002
block_confidence = 0.9
challenge_collateral = 0.1
throttle_collateral = 0.3
rule_ttl = 60
hold = 20
escalate_after = 4
throttle_rate = 2.5
throttle_burst = 10
strikes = 3
strike_window = 30
max_rules = 16
half_life = 600
window = 120
max_records = 10000
login_routes = ["login", "signin"]
quiet = 45

[challenge]
secret = "0123456789abcdef0123456789abcdef"
previous_secret = "fedcba9876543210fedcba9876543210"
bits = 12
max_bits = 18
pass_ttl = 1800
retry_after = 3

[store]
path = "/var/lib/seawall/incidents.db"
"""


def _key(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        validate(data)
    return err.value.key


def test_the_defaults() -> None:
    d = DetectionConfig()
    assert d.enabled and d.mode == "enforce" and d.interval == 1.0
    assert d.family_modes == {} and d.disabled == [] and d.detectors == {}
    assert (d.block_collateral, d.challenge_collateral, d.throttle_collateral) == (
        0.001,
        0.05,
        0.2,
    )
    assert (d.strikes, d.strike_window, d.max_rules, d.window) == (6, 60.0, 64, 180)
    assert d.login_routes == ["login"]
    c = ChallengeConfig()
    assert (c.secret, c.previous_secret, c.bits, c.max_bits) == ("", "", 13, 20)
    assert (c.pass_ttl, c.retry_after) == (3600.0, 5.0)
    assert StoreConfig().path == "seawall.db"


def test_the_config_has_the_three_sections_by_default() -> None:
    cfg = validate({})
    assert cfg.detection == DetectionConfig()
    assert cfg.challenge == ChallengeConfig()
    assert cfg.store == StoreConfig()


def test_mutable_defaults_are_not_shared() -> None:
    a, b = DetectionConfig(), DetectionConfig()
    assert a.login_routes is not b.login_routes
    assert a.detectors is not b.detectors


def test_every_value_loads_from_toml() -> None:
    cfg = load_config_text(TOML)
    d = cfg.detection
    assert d.mode == "suggest"
    assert d.family_modes == {"scanner": "enforce", "http_flood": "observe"}
    assert d.interval == 0.5 and d.disabled == ["cache_bust"]
    assert d.detectors == {"http_flood": {"min_rps": 50.0, "ratio": 3.5}}
    assert isinstance(d.detectors["http_flood"]["min_rps"], float)
    assert (d.block_collateral, d.block_confidence) == (0.002, 0.9)
    assert (d.challenge_collateral, d.throttle_collateral) == (0.1, 0.3)
    assert (d.rule_ttl, d.hold, d.escalate_after) == (60.0, 20.0, 4.0)
    assert (d.throttle_rate, d.throttle_burst, d.strikes, d.strike_window) == (2.5, 10, 3, 30.0)
    assert (d.max_rules, d.half_life, d.window, d.max_records) == (16, 600.0, 120, 10000)
    assert d.login_routes == ["login", "signin"] and d.quiet == 45.0
    c = cfg.challenge
    assert c.secret == "0123456789abcdef0123456789abcdef"
    assert c.previous_secret == "fedcba9876543210fedcba9876543210"
    assert (c.bits, c.max_bits, c.pass_ttl, c.retry_after) == (12, 18, 1800.0, 3.0)
    assert cfg.store.path == "/var/lib/seawall/incidents.db"


def test_the_sections_load_from_a_file_and_overrides_win(tmp_path: Path) -> None:
    path = tmp_path / "seawall.toml"
    path.write_text(TOML, encoding="utf-8")
    cfg = load_config(path, {"store": {"path": ""}})
    assert cfg.store.path == "" and cfg.detection.mode == "suggest"


def test_an_empty_store_path_means_memory() -> None:
    assert load_config_text('[store]\npath = ""\n').store.path == ""


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"detection": {"mode": "block-everything"}}, "detection.mode"),
        ({"detection": {"family_modes": {"scanner": "loud"}}}, "detection.family_modes.scanner"),
        ({"detection": {"block_collateral": -0.1}}, "detection.block_collateral"),
        ({"detection": {"challenge_collateral": 1.5}}, "detection.challenge_collateral"),
        ({"detection": {"throttle_collateral": -1}}, "detection.throttle_collateral"),
        ({"detection": {"block_confidence": 2}}, "detection.block_confidence"),
        ({"detection": {"interval": 0}}, "detection.interval"),
        ({"detection": {"rule_ttl": -5}}, "detection.rule_ttl"),
        ({"detection": {"throttle_burst": 0}}, "detection.throttle_burst"),
        ({"detection": {"strikes": 0}}, "detection.strikes"),
        ({"detection": {"max_rules": 0}}, "detection.max_rules"),
        ({"detection": {"window": 9}}, "detection.window"),
        ({"detection": {"max_records": 999}}, "detection.max_records"),
        ({"detection": {"enabled": "yes"}}, "detection.enabled"),
        ({"detection": {"disabled": "scanner"}}, "detection.disabled"),
        ({"detection": {"login_routes": [1]}}, "detection.login_routes[0]"),
        (
            {"detection": {"detectors": {"http_flood": {"min_rps": "50"}}}},
            "detection.detectors.http_flood.min_rps",
        ),
        ({"detection": {"detectors": {"http_flood": 50}}}, "detection.detectors.http_flood"),
        ({"detection": {"unknown": 1}}, "detection.unknown"),
        ({"challenge": {"bits": 0}}, "challenge.bits"),
        ({"challenge": {"bits": 29}}, "challenge.bits"),
        ({"challenge": {"max_bits": 31}}, "challenge.max_bits"),
        ({"challenge": {"pass_ttl": 0}}, "challenge.pass_ttl"),
        ({"challenge": {"retry_after": -1}}, "challenge.retry_after"),
        ({"challenge": {"secret": 1234}}, "challenge.secret"),
        ({"challenge": {"bits": "13"}}, "challenge.bits"),
        ({"store": {"path": 3}}, "store.path"),
        ({"store": {"file": "x.db"}}, "store.file"),
    ],
)
def test_errors_name_the_key(data: dict[str, Any], key: str) -> None:
    assert _key(data) == key


def test_a_toml_error_names_the_key_and_says_why() -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text('[detection]\nmode = "loud"\n')
    assert err.value.key == "detection.mode"
    assert "observe" in str(err.value) and "enforce" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config_text("[challenge]\nsecrte = 'x'\n")
    assert err.value.key == "challenge.secrte" and "unknown option" in str(err.value)


def test_the_sections_are_frozen() -> None:
    for section, field, value in [
        (DetectionConfig(), "mode", "observe"),
        (ChallengeConfig(), "bits", 20),
        (StoreConfig(), "path", ""),
    ]:
        before = getattr(section, field)
        with pytest.raises(ValidationError) as err:
            setattr(section, field, value)
        assert err.value.errors()[0]["type"] == "frozen_instance"
        assert getattr(section, field) == before


def test_every_option_has_help() -> None:
    for model in (DetectionConfig, ChallengeConfig, StoreConfig):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"


def test_a_ceiling_below_the_base_difficulty_is_refused() -> None:
    assert _key({"challenge": {"bits": 18, "max_bits": 12}}) == "challenge"
