"""Golden transcripts for recovery harvesting: enumeration, and one person's details.

Events in, in time order, then what `findings` says at that moment.
"""

from __future__ import annotations

import pytest

from seawall.accounts.events import EventKind, Finding, Result
from seawall.accounts.recovery import RecoveryHarvesting

from authsim import event, hashed, net

T0 = 1_700_000_000.0
FAIL, OK = EventKind.LOGIN_FAILED, EventKind.LOGIN_SUCCEEDED
LOOKUP, RESET = EventKind.RECOVERY_LOOKUP, EventKind.PASSWORD_RESET_REQUESTED
NONE: frozenset[str] = frozenset()
H = "203.0.113.200"
MISS, HIT = Result.NOT_FOUND, Result.FOUND


def phone(i: int) -> str:
    return hashed(f"+1555{i:07d}")


# ---- recovery_harvesting: enumeration ------------------------------------------------------


def test_golden_recovery_harvesting_enumeration() -> None:
    d = RecoveryHarvesting()
    for i in range(9):
        d.observe(event(T0 + 10 * i, LOOKUP, phone(i), H, result=MISS, fingerprint="fpH"))
    assert d.findings(T0 + 80, NONE) == []  # 9 identifiers: silent
    d.observe(event(T0 + 90, RESET, phone(9), H, result=MISS, fingerprint="fpH"))
    source, prefix = d.findings(T0 + 90, NONE)
    assert source == Finding(
        "recovery_harvesting",
        f"source:{H}",
        tuple(sorted(phone(i) for i in range(10))),
        (H,),
        T0,
        T0 + 90,
        10,
        0.7,  # identifiers at the bar 0.3, all unknown 0.4
        prefixes=(net(H),),
        fingerprints=("fpH",),
        evidence=(
            ("identifiers", 10.0),
            ("lookups", 10.0),
            ("not_found", 10.0),
            ("results_known", 10.0),
            ("not_found_share", 1.0),
            ("own_identifiers", 0.0),
            ("dropped", 0.0),
        ),
    )
    assert prefix.key == f"prefix:{net(H)}" and not prefix.broad
    # registered identifiers among them: half unknown still enumerates, less is people
    for i in range(10, 20):
        d.observe(event(T0 + 100 + i, LOOKUP, phone(i), H, result=HIT))
    (f, _) = d.findings(T0 + 120, NONE)
    assert ("not_found_share", 0.5) in f.evidence and f.confidence == pytest.approx(
        0.6 * 0.75 + 0.2
    )
    d.observe(event(T0 + 121, LOOKUP, phone(20), H, result=HIT))
    assert d.findings(T0 + 121, NONE) == []
    # an hour on, all of it has aged out
    assert d.findings(T0 + 3600 + 121, NONE) == []
    assert d.candidates == {}


def test_enumeration_is_broad_from_fifty_identifiers() -> None:
    d = RecoveryHarvesting()
    for i in range(50):
        d.observe(event(T0 + i, LOOKUP, phone(i), H, result=MISS))
    assert all(f.broad for f in d.findings(T0 + 50, NONE))
    assert len(d.findings(T0 + 50, NONE)) == 2


def test_enumeration_without_results_counts_identifiers_alone() -> None:
    d = RecoveryHarvesting()
    for i in range(10):
        d.observe(event(T0 + i, LOOKUP, phone(i), H))  # the app did not say
    (f, _) = d.findings(T0 + 10, NONE)
    assert ("not_found_share", -1.0) in f.evidence and f.confidence == 0.5


def test_people_resetting_their_own_passwords_behind_one_address_are_not_harvesting() -> None:
    d = RecoveryHarvesting()
    campus = "198.18.7.20"
    for i in range(30):  # each forgets, then asks for a reset of their own account
        own = hashed(f"student{i}")
        d.observe(event(T0 + 60 * i, FAIL, own, campus))
        d.observe(event(T0 + 60 * i + 20, RESET, own, campus))
    assert d.findings(T0 + 1800, NONE) == []
    for i in range(9):  # nine more identifiers nobody there signed in to: still too few
        d.observe(event(T0 + 1800 + i, LOOKUP, phone(i), campus))
    assert d.findings(T0 + 1810, NONE) == []
    d.observe(event(T0 + 1810, LOOKUP, phone(9), campus))
    (f, _) = d.findings(T0 + 1810, NONE)
    assert ("identifiers", 10.0) in f.evidence and ("own_identifiers", 30.0) in f.evidence
    assert f.count == 10 and hashed("student0") not in f.accounts


def test_enumeration_under_one_fingerprint_needs_thirty() -> None:
    d = RecoveryHarvesting()
    for i in range(29):  # a different network for each
        d.observe(event(T0 + i, LOOKUP, phone(i), f"10.{i}.0.1", result=MISS, fingerprint="fpT"))
    assert d.findings(T0 + 29, NONE) == []
    d.observe(event(T0 + 29, LOOKUP, phone(29), "10.29.0.1", result=MISS, fingerprint="fpT"))
    (f,) = d.findings(T0 + 29, NONE)
    assert f.key == "fingerprint:fpT" and len(f.sources) == 30 and not f.broad


# ---- recovery_harvesting: one person's details ---------------------------------------------


def test_golden_recovery_harvesting_of_one_person() -> None:
    d = RecoveryHarvesting()
    x = hashed("someone")
    askers = [f"46.{i}.1.1" for i in range(4)]
    for i, a in enumerate(askers[:3]):
        d.observe(event(T0 + 100 * i, LOOKUP, x, a, result=HIT))
    assert d.findings(T0 + 200, NONE) == []  # 3 addresses: silent
    d.observe(event(T0 + 300, RESET, x, askers[3], result=HIT))
    assert d.findings(T0 + 300, NONE) == [
        Finding(
            "recovery_harvesting",
            f"account:{x}",
            (x,),
            tuple(askers),
            T0,
            T0 + 300,
            4,
            0.65,  # addresses at the bar 0.35, as many networks 0.3
            prefixes=tuple(net(a) for a in askers),
            evidence=(
                ("sources", 4.0),
                ("lookups", 4.0),
                ("prefixes", 4.0),
                ("owner_sources", 0.0),
                ("high_risk", 0.0),
                ("dropped", 0.0),
            ),
        )
    ]
    # one of those addresses signs the account in: it was its owner, not a harvester
    d.observe(event(T0 + 400, OK, x, askers[1]))
    assert d.findings(T0 + 400, NONE) == []


def test_one_persons_details_high_risk_lowers_the_bar_for_them_only() -> None:
    d = RecoveryHarvesting()
    marked, other = hashed("journalist"), hashed("neighbour")
    for account in (marked, other):
        d.observe(event(T0, LOOKUP, account, "46.0.1.1"))
        d.observe(event(T0 + 5, LOOKUP, account, "46.1.1.1"))
    (f,) = d.findings(T0 + 10, frozenset({marked}))
    assert f.key == f"account:{marked}" and ("high_risk", 1.0) in f.evidence and not f.broad
    assert d.findings(T0 + 10, NONE) == []
    d.observe(event(T0 + 20, LOOKUP, marked, "46.0.1.1"))  # the same address again
    assert d.findings(T0 + 20, NONE) == []
