"""Errors say whose fault they are."""

from __future__ import annotations

from seawall.core.errors import ClientError, ConfigError, SeawallError


def test_client_error_carries_the_status_the_peer_is_told() -> None:
    e = ClientError(431, "request head too large")
    assert isinstance(e, SeawallError)
    assert (e.status, e.reason, str(e)) == (
        431,
        "request head too large",
        "431: request head too large",
    )


def test_config_error_names_the_key() -> None:
    e = ConfigError("rules[0].rate", "must be positive")
    assert (e.key, str(e)) == ("rules[0].rate", "rules[0].rate: must be positive")
    assert str(ConfigError("", "not valid TOML")) == "not valid TOML"
