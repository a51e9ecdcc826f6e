"""Errors that say whose fault they are."""

from __future__ import annotations


class SeawallError(Exception):
    """Base of every error seawall raises on purpose."""


class ClientError(SeawallError):
    """The peer sent something we refuse; `status` is what it is told."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class ConfigError(SeawallError):
    """The operator's configuration is wrong; `key` names where."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}" if key else reason)
        self.key = key
        self.reason = reason
