"""A worker's shared context: flattened settings and request ids."""

from __future__ import annotations

import dataclasses
import re

import pytest

from seawall.config.load import validate
from seawall.edge.context import EdgeContext, EdgeSettings
from seawall.runtime.clock import ManualClock


def test_settings_flatten_limits_and_timeouts() -> None:
    cfg = validate(
        {
            "limits": {
                "max_header_bytes": 2001,
                "max_headers": 21,
                "max_url_bytes": 301,
                "max_body_bytes": 4001,
                "max_connections": 51,
                "max_connections_per_address": 6,
            },
            "timeouts": {"head": 1.5, "body_min_rate": 77, "idle": 2.5, "send": 3.5, "drain": 4.5},
        }
    )
    s = EdgeSettings.from_config(cfg)
    assert dataclasses.asdict(s) == {
        "max_header_bytes": 2001,
        "max_headers": 21,
        "max_url_bytes": 301,
        "max_body_bytes": 4001,
        "max_connections": 51,
        "max_connections_per_address": 6,
        "head_timeout": 1.5,
        "body_min_rate": 77,
        "idle_timeout": 2.5,
        "send_timeout": 3.5,
        "drain_timeout": 4.5,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.max_headers = 1  # type: ignore[misc]


def test_settings_defaults_follow_the_schema() -> None:
    cfg = validate({})
    s = EdgeSettings.from_config(cfg)
    assert s.max_body_bytes == cfg.limits.max_body_bytes
    assert s.idle_timeout == cfg.timeouts.idle
    assert s.drain_timeout == cfg.timeouts.drain


def test_context_uses_the_flattened_settings_and_the_config() -> None:
    cfg = validate(
        {
            "limits": {"max_headers": 33},
            "rules": [{"id": "r1", "action": "block", "match": {"paths": ["/x"]}}],
            "network": {"trusted_proxies": ["10.0.0.0/8"]},
        }
    )
    ctx = EdgeContext(cfg, ManualClock(), worker=3)
    assert ctx.settings == EdgeSettings.from_config(cfg)
    assert ctx.worker == 3
    assert [r.id for r in ctx.decider.ruleset.rules] == ["r1"]
    assert len(ctx.trusted) == 1
    assert not ctx.draining and not ctx.connections and ctx.origins is None


def test_request_ids_are_unique_and_prefixed_per_worker() -> None:
    cfg = validate({})
    ctx = EdgeContext(cfg, ManualClock(), worker=11)
    ids = [ctx.next_request_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    m = re.fullmatch(r"([0-9a-f]{8})b-1", ids[0])  # 11 is 'b'
    assert m is not None, ids[0]
    prefix = f"{m[1]}b-"
    assert all(i.startswith(prefix) for i in ids)
    assert ids[15] == prefix + "10"  # the counter is hex
    assert all(re.fullmatch(r"[A-Za-z0-9._:\-]{1,128}", i) for i in ids[:10])  # passes request_id

    other = EdgeContext(cfg, ManualClock(), worker=11)  # a restarted worker
    assert not other.next_request_id().startswith(prefix)
    zero = EdgeContext(cfg, ManualClock(), worker=0)
    assert re.fullmatch(r"[0-9a-f]{8}0-1", zero.next_request_id())
