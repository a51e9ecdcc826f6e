"""The Decider's answer for one request."""

from __future__ import annotations

import enum

import msgspec


class Action(enum.IntEnum):
    ALLOW = 0
    CACHE = 1
    THROTTLE = 2
    CHALLENGE = 3
    BLOCK = 4

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


_ACTION_LABELS = {a: a.name.lower() for a in Action}


class Verdict(msgspec.Struct, frozen=True, gc=False):
    action: Action
    reason: str = ""
    rule_id: str = ""
    status: int = 200
    retry_after: float = 0.0
    close: bool = False  # block by closing the connection without a response
    mark: str = ""  # an allowed request's annotation for the edge (see rules.Rule.mark)


ALLOW = Verdict(Action.ALLOW, "default")
