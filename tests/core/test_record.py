"""A record is facts plus verdict plus outcome, frozen."""

from __future__ import annotations

import pytest

from seawall.core.record import Record
from seawall.core.verdict import ALLOW

from corefacts import make_facts


def test_record_keeps_facts_verdict_and_outcome() -> None:
    f = make_facts()
    r = Record(f, ALLOW, 200, 0, 512, 0.004, 0.003, "", "rid-1", 1_700_000_000.0)
    assert (r.facts, r.verdict, r.status, r.bytes_out) == (f, ALLOW, 200, 512)
    assert (r.error, r.uri) == ("", "")
    with pytest.raises(AttributeError):
        r.status = 500  # type: ignore[misc]
