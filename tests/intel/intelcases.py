"""A constructed incident report (the shape in the incident spec) and indicator helpers."""

from __future__ import annotations

import copy
from typing import Any

from seawall.intel.indicators import Indicator

START = 1_700_000_000.0
NOW = START + 400.0  # when the export runs
TTL = 3600.0

_INCIDENT: dict[str, Any] = {
    "id": "inc-1700000000-1",
    "status": "closed",
    "start": START,
    "end": START + 300.0,
    "detected": START + 1.0,
    "mitigated": START + 2.0,
    "time_to_detect_s": 1.0,
    "time_to_mitigate_s": 2.0,
    "peak_rps": 812.3,
    "targets": ["/users/cyxymu", "route:profile"],
    "vectors": ["http_flood", "fingerprint_surge"],
    "signatures": [
        {
            "rule": "auto-3f2a0000",
            "detector": "http_flood",
            "vector": "http_flood",
            "match": "ua_family=legacy AND prefix={45.10.20.0/24, 2a02:1234:5678::/48}",
            "attributes": [
                {
                    "attribute": "ua_family",
                    "values": ["legacy"],
                    "attack_share": 0.98,
                    "baseline_share": 0.2,
                    "signal_strength": 0.97,
                },
                {
                    "attribute": "prefix",
                    "values": ["45.10.20.0/24", "2a02:1234:5678::/48", "10.1.2.0/24"],
                    "attack_share": 0.9,
                    "baseline_share": 0.0005,
                    "signal_strength": 0.9,
                },
            ],
            "separable": True,
            "coverage": 0.97,
            "estimated_collateral": 0.001,
            "collateral_by_class": {"anonymous": 0.001, "user": 0.0},
            "verified_users_matched": 0,
            "verified_apps_matched": 0,
            "baseline_known": True,
            "confidence": 0.9,
            "score": 12.0,
            "evidence": {"rate": 800.0, "baseline": 20.0},
        },
        {  # not separable: its prefixes are not evidence
            "rule": "auto-99990000",
            "vector": "fingerprint_surge",
            "attributes": [{"attribute": "prefix", "values": ["77.88.99.0/24"]}],
            "separable": False,
            "coverage": 0.5,
            "confidence": 0.9,
        },
    ],
    "actions": [
        {
            "time": START + 2.0,
            "rule": "auto-3f2a0000",
            "action": "apply",
            "step": "block",
            "reason": "http_flood",
            "estimated_collateral": 0.001,
        }
    ],
    "sources": {
        "addresses": 48112,
        "prefixes": 3000,
        "top_prefixes": [
            {"prefix": "45.10.20.0/24", "requests": 100},  # also the signature's
            {"prefix": "81.2.3.0/24", "requests": 1000},
            {"prefix": "92.5.6.0/24", "requests": 12},
        ],
        "top_addresses": [
            {"address": "45.10.20.7", "requests": 500},  # inside an exported prefix
            {"address": "198.18.0.1", "requests": 900},  # reserved for benchmarks
            {"address": "127.0.0.1", "requests": 900},
            {"address": "93.184.216.34", "requests": 9},  # too few
            {"address": "2a05:d014::7", "requests": 15},
        ],
        "sample": ["45.10.20.7", "81.2.3.4"],
        "sample_size": 4096,
    },
    "attack_requests": 123456,
    "leak_after_mitigation": 0.001,
    "timeline": [[START, 900.0, 800.0]],
}


def incident() -> dict[str, Any]:
    """A fresh copy, so a test may spoil it."""
    return copy.deepcopy(_INCIDENT)


def ind(value: str, **fields: Any) -> Indicator:
    """An indicator with test defaults; `value` must already be normalised."""
    v6 = ":" in value
    kind = ("cidr6" if v6 else "cidr4") if "/" in value else ("ipv6" if v6 else "ipv4")
    base: dict[str, Any] = {
        "valid_from": START,
        "valid_until": NOW + TTL,
        "confidence": 60,
        "source": "peer-x",
        "description": "",
        "incident": "",
    }
    base.update(fields)
    return Indicator(kind, value, **base)
