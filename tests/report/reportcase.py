"""Shared material for the report tests: a sample of addresses whose countries, ASNs and
network types MaxMind's public test databases fix, an incident dict in the interface's
shape (with hostile strings where an attacker controls them), and an in-memory GeoDb."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.geo.lookup import GeoInfo, MmdbGeo

DATA = Path(__file__).resolve().parent.parent / "data" / "geo"
COUNTRY = DATA / "GeoIP2-Country-Test.mmdb"
ASN = DATA / "GeoLite2-ASN-Test.mmdb"
CONNECTION = DATA / "GeoIP2-Connection-Type-Test.mmdb"

T0 = 1_700_000_000.0
HOSTILE_UA = "<script>document.title='pwned'</script>"
HOSTILE_PATH = '/x"><img src=x onerror=alert(1)>'

# 40 distinct addresses, by what the test databases say of them:
#   16 SE AS29518 "Bredband2 AB" (no type)    8 US AS209 (no name) business
#    8 GB (no ASN) residential                4 US AS6167 "CELLCO-PART" mobile
#    2 JP (no ASN, no type)                   2 private (nothing)
SE = [f"89.160.20.{i}" for i in range(112, 128)]
US_209 = [f"216.160.83.{i}" for i in range(56, 64)]
GB = [f"2.125.160.{i}" for i in range(216, 224)]
US_6167 = [f"149.101.100.{i}" for i in range(4)]
JP = ["2001:218::1", "2001:218::2"]
PRIVATE = ["10.0.0.1", "192.168.1.1"]
SAMPLE = SE + US_209 + GB + US_6167 + JP + PRIVATE
ENTROPY = 1.7474130395316416  # bits of SE 16, US 12, GB 8, JP 2 (38 placed addresses)


def mmdb() -> MmdbGeo:
    return MmdbGeo(COUNTRY, ASN, CONNECTION)


def sources(sample: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    held = list(SAMPLE if sample is None else sample)
    return {
        "addresses": len(held),
        "prefixes": 7,
        "top_prefixes": [
            {"prefix": "89.160.20.0/24", "requests": 900},
            {"prefix": "216.160.83.0/24", "requests": 400},
        ],
        "top_addresses": [
            {"address": "89.160.20.112", "requests": 120},
            {"address": "149.101.100.1", "requests": 80},
        ],
        "sample": held,
        "sample_size": 4096,
    } | extra


def _point(t: float, attack: float, blocked: float) -> list[Any]:
    legit = 20.0
    return [
        t,
        attack + legit,
        attack,
        {"anonymous": attack + 10.0, "user": 8.0, "api_app": 1.5, "gateway": 0.5},
        {
            "allow": attack - blocked + legit,
            "cache": 0.0,
            "throttle": 0.0,
            "challenge": 0.0,
            "block": blocked,
        },
    ]


def timeline() -> list[list[Any]]:
    """Ten seconds: 2 s of attack before detection, 3 s detected, 4 s mitigated, 1 s after."""
    out = []
    for i in range(10):
        t = T0 + i
        if i < 2:
            out.append(_point(t, 300.0 + 100 * i, 0.0))
        elif i < 5:
            out.append(_point(t, 800.0, 0.0))
        elif i < 9:
            out.append(_point(t, 800.0, 790.0))
        else:
            out.append(_point(t, 0.0, 0.0))
    return out


INCIDENT: dict[str, Any] = {
    "id": "inc-1700000000-1",
    "status": "closed",
    "start": T0,
    "end": T0 + 9,
    "detected": T0 + 2,
    "mitigated": T0 + 5,
    "time_to_detect_s": 2.0,
    "time_to_mitigate_s": 5.0,
    "peak_rps": 812.3,
    "targets": [HOSTILE_PATH, "/users/cyxymu", "route:profile"],
    "vectors": ["fingerprint_surge", "http_flood"],
    "signatures": [
        {
            "rule": "auto-3f2a",
            "detector": "http_flood",
            "vector": "http_flood",
            "match": f"ua={HOSTILE_UA} AND prefix={{89.160.20.0/24}}",
            "attributes": [
                {
                    "attribute": "ua",
                    "values": [HOSTILE_UA],
                    "attack_share": 0.98,
                    "baseline_share": 0.01,
                    "signal_strength": 0.97,
                },
                {
                    "attribute": "prefix",
                    "values": ["89.160.20.0/24", "216.160.83.0/24"],
                    "attack_share": 0.6,
                    "baseline_share": 0.0,
                    "signal_strength": 0.55,
                },
            ],
            "separable": True,
            "coverage": 0.97,
            "estimated_collateral": 0.001,
            "collateral_by_class": {"user": 0.0, "anonymous": 0.001},
            "verified_users_matched": 0,
            "verified_apps_matched": 0,
            "baseline_known": True,
            "confidence": 0.9,
            "score": 12.0,
            "evidence": {"rate": 800.0, "baseline": 20.0, "path": HOSTILE_PATH},
        }
    ],
    "actions": [
        {
            "time": T0 + 5,
            "rule": "auto-3f2a",
            "action": "apply",
            "step": "block",
            "reason": f"auto: http_flood (ua={HOSTILE_UA})",
            "estimated_collateral": 0.001,
            "measured_collateral": 0.0,
        },
        {
            "time": T0 + 9,
            "rule": "auto-3f2a",
            "action": "step_down",
            "step": "observe",
            "reason": "attack over",
            "estimated_collateral": 0.001,
        },
    ],
    "sources": sources(),
    "attack_requests": 6500,
    "leak_after_mitigation": 0.0125,
    "timeline": timeline(),
}


def incident(**overrides: Any) -> dict[str, Any]:
    """A deep copy of INCIDENT with top-level keys replaced."""
    return copy.deepcopy(INCIDENT) | overrides


@dataclass
class FakeGeo:
    """An in-memory GeoDb: exact answers for the addresses it is given, nothing for others."""

    answers: dict[str, GeoInfo] = field(default_factory=dict)
    source: str = "fake: test table"

    def lookup(self, address: str) -> GeoInfo:
        return self.answers.get(address, GeoInfo())
