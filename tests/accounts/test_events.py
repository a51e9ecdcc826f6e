"""Account protection's records: frozen, JSON-ready, re-exporting core's auth events."""

from __future__ import annotations

import json

import msgspec
import pytest

from seawall.accounts import events
from seawall.accounts.events import Campaign
from seawall.core import auth


def test_auth_records_are_cores_own() -> None:
    assert events.AuthEvent is auth.AuthEvent and events.EventKind is auth.EventKind
    assert {auth.EventKind.LOGIN_FAILED, auth.EventKind.MFA_FAILED} == events.FAILURES


def test_a_campaign_is_frozen_and_its_dict_is_json_with_evidence_as_a_mapping() -> None:
    c = Campaign(
        "acct-1",
        "targeted",
        1.0,
        2.0,
        0.9,
        ("h1",),
        ("distributed_guessing",),
        3,
        2,
        1,
        evidence=(("distributed_guessing.failures", 40.0),),
    )
    with pytest.raises(AttributeError):
        c.kind = "broad"  # type: ignore[misc]
    d = c.to_dict()
    assert d["evidence"] == {"distributed_guessing.failures": 40.0}
    assert json.loads(json.dumps(d))["accounts"] == ["h1"]
    assert msgspec.convert({**d, "evidence": list(c.evidence)}, Campaign) == c
