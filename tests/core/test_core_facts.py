"""Client classes order by priority; facts are frozen and hashable."""

from __future__ import annotations

import pytest

from seawall.core.facts import NO_TLS, ClientClass

from corefacts import make_facts


def test_classes_are_in_priority_order_with_labels() -> None:
    assert sorted(ClientClass) == [
        ClientClass.API_APP,
        ClientClass.GATEWAY,
        ClientClass.USER,
        ClientClass.ANONYMOUS,
    ]
    assert [c.label for c in ClientClass] == ["api_app", "gateway", "user", "anonymous"]


def test_facts_are_frozen_hashable_and_default_to_no_tls() -> None:
    f = make_facts()
    assert f.tls == NO_TLS and f.country == "" and f.asn == 0
    with pytest.raises(AttributeError):
        f.path = "/other"  # type: ignore[misc]
    assert hash(f) == hash(make_facts())
