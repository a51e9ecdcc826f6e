"""Account detectors: the registry, building from configuration, contracts over every
detector, golden transcripts for brute_force and takeover_risk, and one hour of
simulated normal traffic (silence), then the same hour with attacks mixed in (found).

Transcripts read top to bottom: events in, in time order, then what `findings` says.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from seawall.accounts.detectors import (
    DETECTORS,
    AccountDetector,
    BruteForce,
    TakeoverRisk,
    build_detectors,
    scaled,
)
from seawall.accounts.events import MAX_LISTED, AuthEvent, EventKind, Finding, Result
from seawall.accounts.history import Table, Window

from authsim import event, hashed, net, normal_events, people

T0 = 1_700_000_000.0
FAIL, OK = EventKind.LOGIN_FAILED, EventKind.LOGIN_SUCCEEDED
CHANGED = EventKind.CREDENTIALS_CHANGED
NONE: frozenset[str] = frozenset()
ALICE, BOB = hashed("alice"), hashed("bob")
A = "203.0.113.7"


def feed(d: AccountDetector, events: Iterable[AuthEvent]) -> None:
    for ev in events:
        d.observe(ev)


def keys(found: Iterable[Finding]) -> set[tuple[str, str]]:
    return {(f.detector, f.key) for f in found}


# ---- registry and configuration ----------------------------------------------------------


def test_the_registry_names_every_detector_and_each_declares_its_options() -> None:
    assert list(DETECTORS) == [
        "brute_force",
        "distributed_guessing",
        "credential_stuffing",
        "password_spraying",
        "recovery_harvesting",
        "takeover_risk",
    ]
    for name, cls in DETECTORS.items():
        assert cls.name == name and "window" in cls.OPTIONS
        assert all(help_text.strip() for _, help_text in cls.OPTIONS.values())
        d = cls({"threshold_factor": 2.0})  # every detector takes the common options
        assert d.name == name


def test_every_detector_has_a_golden_transcript() -> None:
    here = Path(__file__).parent
    text = "".join(p.read_text(encoding="utf-8") for p in here.glob("test_*.py"))
    missing = [n for n in DETECTORS if not re.search(rf"def test_golden_{n}\w*\(", text)]
    assert not missing, f"detectors without a golden transcript: {missing}"


def test_build_detectors_in_registry_order_leaving_out_the_disabled() -> None:
    built = build_detectors({"brute_force": {"min_failures": 4}}, ["takeover_risk"], 50)
    assert [d.name for d in built] == list(DETECTORS)[:-1]
    brute = built[0]
    assert isinstance(brute, BruteForce) and brute.bar("min_failures") == 4.0
    assert brute.runs.cap == 50


@pytest.mark.parametrize(
    ("options", "disabled", "message"),
    [
        ({"brute_forse": {}}, [], r"accounts\.detectors\.brute_forse: unknown detector"),
        ({"brute_force": {"min_fails": 3}}, [], r"accounts\.detectors\.brute_force\.min_fails"),
        ({}, ["spraying"], r"accounts\.disabled: unknown detector 'spraying'"),
        # a disabled detector's options are checked all the same
        ({"takeover_risk": {"window": -1}}, ["takeover_risk"], r"takeover_risk\.window"),
    ],
)
def test_build_detectors_refuses_what_does_not_exist(
    options: dict[str, dict[str, float]], disabled: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_detectors(options, disabled, 100)


def test_scaled_multiplies_threshold_factors() -> None:
    opts = {"brute_force": {"min_failures": 12.0}, "takeover_risk": {"threshold_factor": 1.5}}
    out = scaled(opts, {"brute_force": 2.0, "takeover_risk": 2.0, "gone": 9.0})
    assert out == {
        "brute_force": {"min_failures": 12.0, "threshold_factor": 2.0},
        "takeover_risk": {"threshold_factor": 3.0},
    }
    assert opts["brute_force"] == {"min_failures": 12.0}  # the input is left alone
    assert scaled({}, {"distributed_guessing": 1.5}) == {
        "distributed_guessing": {"threshold_factor": 1.5}
    }
    with pytest.raises(ValueError, match=r"brute_force\.threshold_factor"):
        scaled({}, {"brute_force": 0.0})


def test_a_scaled_detector_needs_more_evidence() -> None:
    (d,) = build_detectors(scaled({}, {"brute_force": 2.0}), list(DETECTORS)[1:], 100)
    feed(d, (event(T0 + i, FAIL, ALICE, A) for i in range(19)))
    assert d.findings(T0 + 19, NONE) == []
    d.observe(event(T0 + 19, FAIL, ALICE, A))
    assert keys(d.findings(T0 + 19, NONE)) == {("brute_force", f"pair:{ALICE}@{A}")}


# ---- contracts over every detector -------------------------------------------------------


def _flood(n: int) -> list[AuthEvent]:
    """Every kind of event, each with fresh accounts, addresses, devices and passwords."""
    out = []
    for i in range(n):
        t, who, src = T0 + i * 0.1, hashed(f"flood{i}"), f"10.{i // 250 % 250}.{i % 250}.1"
        kw = {"fingerprint": f"fp{i}", "device": f"dev{i}", "asn": 64_000 + i}
        elsewhere = f"11.{i // 250 % 250}.{i % 250}.1"  # a success that resets no run
        out += [
            event(t, FAIL, who, src, password=hashed(f"pw{i}"), **kw),  # type: ignore[arg-type]
            event(t, OK, who, elsewhere, **kw),  # type: ignore[arg-type]
            event(t, EventKind.RECOVERY_LOOKUP, who, src, result=Result.NOT_FOUND, **kw),  # type: ignore[arg-type]
            event(t, EventKind.CREDENTIALS_CHANGED, who, src),
        ]
    return out


def _tables(d: object) -> list[Table[str, Window]]:
    found: list[Table[str, Window]] = []
    for value in vars(d).values():
        values = value.values() if isinstance(value, dict) else [value]
        found += [v for v in values if isinstance(v, Table)]
    return found


@pytest.mark.parametrize("name", list(DETECTORS))
def test_memory_stays_at_the_cap_however_many_keys_come(name: str) -> None:
    d = DETECTORS[name]({}, 50)
    feed(d, _flood(2000))
    tables = _tables(d)
    assert tables, "a detector keeps its history in capped tables"
    assert all(len(t) <= 50 for t in tables)
    assert sum(t.evicted for t in tables) >= 1950
    d.findings(T0 + 200, NONE)
    candidates = getattr(d, "candidates", {})
    assert len(candidates) <= sum(len(t) for t in tables)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_quiet_without_events_and_blind_to_events_without_an_account(name: str) -> None:
    d = DETECTORS[name]()
    assert d.findings(T0, NONE) == []
    feed(d, (event(T0 + i, FAIL, "", f"10.0.0.{i}", password="p") for i in range(200)))
    feed(d, (event(T0 + i, EventKind.RECOVERY_LOOKUP, "", "10.0.1.1") for i in range(200)))
    assert d.findings(T0 + 200, frozenset({""})) == []


@pytest.mark.parametrize("name", list(DETECTORS))
def test_forget_before_now_forgets_everything(name: str) -> None:
    d = DETECTORS[name]({}, 100)
    feed(d, _flood(100))
    d.forget_before(T0 + 1000)
    assert all(len(t) == 0 for t in _tables(d))
    assert d.findings(T0 + 1000, NONE) == []


# ---- brute_force ---------------------------------------------------------------------------


def test_golden_brute_force() -> None:
    d = BruteForce()
    fp = {"fingerprint": "fpA", "asn": 64_496}
    feed(d, (event(T0 + 10 * i, FAIL, ALICE, A, **fp) for i in range(9)))  # type: ignore[arg-type]
    assert d.findings(T0 + 80, NONE) == []  # 9 consecutive failures: silent
    d.observe(event(T0 + 90, EventKind.MFA_FAILED, ALICE, A, **fp))  # type: ignore[arg-type]
    assert d.findings(T0 + 90, NONE) == [
        Finding(
            "brute_force",
            f"pair:{ALICE}@{A}",
            (ALICE,),
            (A,),
            T0,
            T0 + 90,
            10,
            0.5,
            prefixes=("203.0.113.0/24",),
            asns=(64_496,),
            fingerprints=("fpA",),
            evidence=(("failures", 10.0), ("seconds", 90.0), ("successes", 0.0), ("dropped", 0.0)),
        )
    ]
    assert len(d.findings(T0 + 91, NONE)) == 1  # said again every tick while true
    feed(d, (event(T0 + 100 + i, FAIL, ALICE, A) for i in range(30)))
    (f,) = d.findings(T0 + 130, NONE)
    assert f.count == 40 and f.confidence == 0.875  # 40 against a bar of 10
    # the same address's failures on another account are another run
    feed(d, (event(T0 + 131 + i, FAIL, BOB, A) for i in range(5)))
    assert keys(d.findings(T0 + 140, NONE)) == {("brute_force", f"pair:{ALICE}@{A}")}


def test_brute_force_a_success_from_the_address_resets_the_run() -> None:
    d = BruteForce()
    feed(d, (event(T0 + i, FAIL, ALICE, A) for i in range(9)))
    d.observe(event(T0 + 9, OK, ALICE, A))
    feed(d, (event(T0 + 10 + i, FAIL, ALICE, A) for i in range(9)))
    assert d.findings(T0 + 20, NONE) == []
    # a success from elsewhere resets nothing
    d.observe(event(T0 + 20, OK, ALICE, "198.51.100.1"))
    d.observe(event(T0 + 21, FAIL, ALICE, A))
    (f,) = d.findings(T0 + 21, NONE)
    assert f.count == 10 and f.first == T0 + 10


def test_brute_force_failures_must_fall_within_its_window() -> None:
    d = BruteForce()
    feed(d, (event(T0 + 34 * i, FAIL, ALICE, A) for i in range(10)))  # 306 s: too slow
    assert d.findings(T0 + 306, NONE) == []
    d.observe(event(T0 + 307, FAIL, ALICE, A))
    (f,) = d.findings(T0 + 307, NONE)  # 7..307 holds ten
    assert f.count == 10 and f.first == T0 + 34
    assert d.findings(T0 + 340, NONE) == []  # the oldest aged out: no longer true
    assert d.candidates == {}


def test_brute_force_ignores_high_risk_marks() -> None:
    d = BruteForce()
    feed(d, (event(T0 + i, FAIL, ALICE, A) for i in range(6)))
    assert d.findings(T0 + 6, frozenset({ALICE})) == []


# ---- takeover_risk ---------------------------------------------------------------------------


def guesses(d: TakeoverRisk, account: str, n: int, t: float = T0, nets: int = 2) -> None:
    for i in range(n):
        d.observe(event(t + 10 * i, FAIL, account, f"91.{i % nets}.0.{i}"))


def test_golden_takeover_risk_after_others_failures() -> None:
    d = TakeoverRisk()
    v4, v5 = hashed("four"), hashed("five")
    guesses(d, v4, 4)
    guesses(d, v5, 5)
    thief = {"device": "thief-phone", "asn": 64_666, "country": "RU"}
    d.observe(event(T0 + 100, OK, v4, "91.2.0.9", **thief))  # type: ignore[arg-type]
    d.observe(event(T0 + 100, OK, v5, "91.2.0.9", **thief))  # type: ignore[arg-type]
    sources = sorted([f"91.{i % 2}.0.{i}" for i in range(5)] + ["91.2.0.9"])
    expected = Finding(
        "takeover_risk",
        f"account:{v5}",
        (v5,),
        tuple(sources),
        T0,
        T0 + 100,
        6,
        0.55,  # 0.2, and others' failures at the bar 0.35
        prefixes=("91.0.0.0/24", "91.1.0.0/24", "91.2.0.0/24"),
        asns=(64_666,),
        evidence=(
            ("other_failures", 5.0),
            ("other_sources", 5.0),
            ("other_networks", 2.0),
            ("prior_successes", 0.0),
            ("novelty", 0.0),
            ("new_device", 0.0),
            ("new_country", 0.0),
            ("new_asn", 0.0),
            ("credentials_changed", 0.0),
            ("high_risk", 0.0),
        ),
    )
    assert d.findings(T0 + 100, NONE) == [expected]  # 4 failures before: silent
    # the new owner changes the password: more certain
    d.observe(event(T0 + 200, CHANGED, v5, "91.2.0.9"))
    (f,) = d.findings(T0 + 200, NONE)
    assert f.confidence == 0.85 and ("credentials_changed", 1.0) in f.evidence
    # the sign-in is a claim for an hour, then it ends
    assert d.findings(T0 + 3700, NONE) != []
    assert d.findings(T0 + 3701, NONE) == []
    assert d.candidates == {}


def test_takeover_a_change_long_after_does_not_count() -> None:
    d = TakeoverRisk()
    v = hashed("v")
    guesses(d, v, 5)
    d.observe(event(T0 + 100, OK, v, "91.2.0.9"))
    d.observe(event(T0 + 1001, CHANGED, v, "91.2.0.9"))
    (f,) = d.findings(T0 + 1001, NONE)
    assert ("credentials_changed", 0.0) in f.evidence and f.confidence == 0.55


@pytest.mark.parametrize(
    "story",
    [
        "one network failing is the owner elsewhere",
        "failures from the owner's own device",
        "a sign-in on a device that signed in lately",
        "a password change before the sign-in",
    ],
)
def test_takeover_stays_silent_when_it_is_the_owner(story: str) -> None:
    d = TakeoverRisk()
    v = hashed("owner")
    if story == "one network failing is the owner elsewhere":
        guesses(d, v, 10, nets=1)
    elif story == "failures from the owner's own device":
        d.observe(event(T0 - 100, OK, v, "100.64.12.9", device="phone"))
        for i in range(6):
            d.observe(event(T0 + i, FAIL, v, f"100.{64 + i % 2}.12.9", device="phone"))
    elif story == "a sign-in on a device that signed in lately":
        d.observe(event(T0 - 100, OK, v, "30.1.2.3", device="laptop"))
        guesses(d, v, 6)
    else:
        guesses(d, v, 6)
        d.observe(event(T0 + 90, CHANGED, v, "30.1.2.3"))
    d.observe(event(T0 + 100, OK, v, "30.1.2.3", device="laptop"))
    assert d.findings(T0 + 100, frozenset({v})) == []


def test_takeover_high_risk_lowers_the_bar_for_them_only() -> None:
    d = TakeoverRisk()
    marked, other = hashed("journalist"), hashed("neighbour")
    for account in (marked, other):
        guesses(d, account, 3)
        d.observe(event(T0 + 100, OK, account, "91.2.0.9"))
    (f,) = d.findings(T0 + 100, frozenset({marked}))
    assert f.key == f"account:{marked}" and f.confidence == 0.55
    assert ("high_risk", 1.0) in f.evidence
    assert d.findings(T0 + 100, NONE) == []


HOME = {"device": "laptop", "asn": 64_510, "country": "US"}


@pytest.mark.parametrize(
    ("priors", "where", "confidence"),
    [
        (3, {"device": "tablet", "asn": 64_510, "country": "US"}, None),  # novelty 1
        (3, {"device": "phone", "asn": 64_801, "country": "US"}, None),  # 2: a phone
        (3, {"device": "laptop", "asn": 64_999, "country": "FR"}, 0.5),  # 3: away
        (3, {"device": "thief", "asn": 64_666, "country": "RU"}, 0.6),  # 4: all new
        (2, {"device": "thief", "asn": 64_666, "country": "RU"}, None),  # too little history
        (5, {"device": "", "asn": 0, "country": ""}, None),  # unknown is not new
    ],
)
def test_golden_takeover_risk_from_somewhere_new(
    priors: int, where: dict[str, object], confidence: float | None
) -> None:
    d = TakeoverRisk()
    v = hashed("traveller")
    for i in range(priors):
        d.observe(event(T0 + 100 * i, OK, v, "30.1.2.3", **HOME))  # type: ignore[arg-type]
    d.observe(event(T0 + 1000, OK, v, "77.7.7.7", **where))  # type: ignore[arg-type]
    found = d.findings(T0 + 1000, NONE)
    if confidence is None:
        assert found == []
        return
    (f,) = found
    assert f.confidence == confidence and f.sources == ("77.7.7.7",) and f.count == 1
    assert ("prior_successes", 3.0) in f.evidence and ("new_country", 1.0) in f.evidence


# ---- one hour of normal traffic, then attacks ---------------------------------------------


HOUR = 3600.0
TICK = 10.0


def replay(
    events: list[AuthEvent], high_risk: frozenset[str], end: float
) -> dict[tuple[str, str], Finding]:
    """Every detector over the events, ticking as the engine does; per key, the finding
    with the most events behind it."""
    detectors = build_detectors({}, [], 200_000)
    seen: dict[tuple[str, str], Finding] = {}
    now = events[0].time
    i = 0
    while now <= end:
        while i < len(events) and events[i].time < now:
            for d in detectors:
                d.observe(events[i])
            i += 1
        for d in detectors:
            for f in d.findings(now, high_risk):
                assert 0.0 <= f.confidence <= 1.0 and f.detector == d.name
                k = (f.detector, f.key)
                if k not in seen or f.count >= seen[k].count:
                    seen[k] = f
            d.forget_before(now - HOUR)
        now += TICK
    return seen


@pytest.fixture(scope="module")
def normal() -> tuple[list[AuthEvent], frozenset[str]]:
    events = normal_events(seed=7, users=3000, seconds=HOUR, start=T0)
    marked = {p.account for p in random.Random(7).sample(people(7, 3000), 49)}
    return events, frozenset(marked | {JOURNALIST})


def test_the_simulated_hour_is_what_it_says(
    normal: tuple[list[AuthEvent], frozenset[str]],
) -> None:
    events, _ = normal
    kinds = {k: sum(1 for e in events if e.kind is k) for k in EventKind}
    accounts = {e.account for e in events}
    assert len(accounts) >= 3000 and 5000 < len(events) < 9000
    assert 0.1 < kinds[FAIL] / kinds[OK] < 0.4
    assert kinds[EventKind.PASSWORD_RESET_REQUESTED] > 100
    assert kinds[EventKind.RECOVERY_LOOKUP] > 20
    assert events == sorted(events, key=lambda e: e.time)
    assert events[0].time >= T0 and events[-1].time < T0 + HOUR
    assert normal_events(7, 3000, HOUR, T0) == events  # seeded
    # shared addresses and fingerprints are there to be mistaken for attacks
    per_prefix: dict[str, set[str]] = {}
    per_fp: dict[str, set[str]] = {}
    for e in events:
        per_prefix.setdefault(e.prefix, set()).add(e.account)
        per_fp.setdefault(e.fingerprint, set()).add(e.account)
    assert max(len(a) for a in per_prefix.values()) > 100
    assert max(len(a) for a in per_fp.values()) > 800


def test_silence_on_an_hour_of_normal_traffic(
    normal: tuple[list[AuthEvent], frozenset[str]],
) -> None:
    events, marked = normal
    assert replay(events, NONE, T0 + HOUR) == {}
    assert len(marked) == 50
    assert replay(events, marked, T0 + HOUR) == {}  # 50 people marked high-risk: still


@pytest.mark.parametrize(("seed", "users"), [(1, 3000), (2, 3000), (3, 3000), (4, 10_000)])
def test_silence_holds_for_other_hours_and_a_bigger_crowd(seed: int, users: int) -> None:
    events = normal_events(seed, users, HOUR, T0)
    marked = frozenset(p.account for p in random.Random(seed).sample(people(seed, users), 50))
    assert replay(events, marked, T0 + HOUR) == {}


JOURNALIST = people(7, 3000)[42].account
TAKEN = hashed("taken")
BRUTE = "203.0.113.66"
STUFFER, STUFF_FP = "198.51.100.23", "fp-stuffer"
HARVESTER, HARVEST_FP = "203.0.113.200", "fp-harvester"
SPRAY_NET = "192.0.2.0/24"
PASSWORDS = (hashed("pw:Summer2024!"), hashed("pw:Password1"))


def _attacks() -> list[AuthEvent]:
    rng = random.Random(11)
    out: list[AuthEvent] = []
    # one address hammering one account
    out += [event(T0 + 600 + 5 * i, FAIL, hashed("victim"), BRUTE) for i in range(30)]
    # a journalist's password guessed from twelve networks, and their details looked up
    for i in range(24):
        out.append(event(T0 + 1000 + 40 * i, FAIL, JOURNALIST, f"45.{i % 12}.7.9", asn=i % 12))
    for i in range(3):
        lookup = EventKind.RECOVERY_LOOKUP
        out.append(event(T0 + 1500 + i, lookup, JOURNALIST, f"46.{i}.1.1", result=Result.FOUND))
    # a leaked list replayed from one address: 200 accounts, once each, two work
    for i in range(200):
        kind = OK if i in (50, 150) else FAIL
        out.append(
            event(T0 + 1800 + 1.5 * i, kind, hashed(f"leak{i}"), STUFFER, fingerprint=STUFF_FP)
        )
    # two passwords sprayed slowly over 20 accounts from one /24's addresses
    for i in range(40):
        who, pw = hashed(f"spray{i % 20}"), PASSWORDS[i // 20]
        out.append(event(T0 + 300 + 75 * i, FAIL, who, f"192.0.2.{10 + i % 7}", password=pw))
    # phone numbers enumerated through the recovery lookup: mostly unknown
    for i in range(300):
        result = Result.FOUND if rng.random() < 0.2 else Result.NOT_FOUND
        number = hashed(f"+1555{i:07d}")
        t = T0 + 2400 + 2 * i
        lookup = EventKind.RECOVERY_LOOKUP
        out.append(event(t, lookup, number, HARVESTER, result=result, fingerprint=HARVEST_FP))
    # an account taken over: its owner's history, guesses from three networks, in, changed
    home = {"device": "owner-laptop", "asn": 64_510, "country": "US"}
    out += [event(T0 + 100 + 400 * i, OK, TAKEN, "30.1.2.3", **home) for i in range(3)]  # type: ignore[arg-type]
    out += [event(T0 + 1500 + 30 * i, FAIL, TAKEN, f"91.{i % 3}.0.{i}") for i in range(12)]
    thief = {"device": "thief", "asn": 64_666, "country": "RU"}
    out.append(event(T0 + 2000, OK, TAKEN, "91.0.0.200", **thief))  # type: ignore[arg-type]
    out.append(event(T0 + 2100, EventKind.CREDENTIALS_CHANGED, TAKEN, "91.0.0.200"))
    return out


def test_the_attacks_mixed_in_are_found_and_nothing_else(
    normal: tuple[list[AuthEvent], frozenset[str]],
) -> None:
    events, marked = normal
    assert JOURNALIST in marked
    mixed = sorted(events + _attacks(), key=lambda e: e.time)
    found = replay(mixed, marked, T0 + HOUR)
    assert set(found) == {
        ("brute_force", f"pair:{hashed('victim')}@{BRUTE}"),
        ("distributed_guessing", f"account:{JOURNALIST}"),
        ("distributed_guessing", f"account:{TAKEN}"),
        ("credential_stuffing", f"source:{STUFFER}"),
        ("credential_stuffing", f"prefix:{net(STUFFER)}"),
        ("credential_stuffing", f"fingerprint:{STUFF_FP}"),
        ("password_spraying", f"prefix:{SPRAY_NET}"),
        ("password_spraying", f"password:{PASSWORDS[0]}"),
        ("password_spraying", f"password:{PASSWORDS[1]}"),
        ("recovery_harvesting", f"source:{HARVESTER}"),
        ("recovery_harvesting", f"prefix:{net(HARVESTER)}"),
        ("recovery_harvesting", f"fingerprint:{HARVEST_FP}"),
        ("recovery_harvesting", f"account:{JOURNALIST}"),
        ("takeover_risk", f"account:{TAKEN}"),
    }
    stuffing = found[("credential_stuffing", f"source:{STUFFER}")]
    assert stuffing.broad and len(stuffing.accounts) == 198 and stuffing.confidence > 0.9
    takeover = found[("takeover_risk", f"account:{TAKEN}")]
    assert takeover.confidence == 1.0 and ("credentials_changed", 1.0) in takeover.evidence
    guessed = found[("distributed_guessing", f"account:{JOURNALIST}")]
    assert not guessed.broad and ("sources", 12.0) in guessed.evidence
    for f in found.values():
        assert all(len(x) <= MAX_LISTED for x in (f.accounts, f.sources, f.prefixes))
        assert PASSWORDS[0] not in repr(f.evidence) and PASSWORDS[1] not in repr(f.evidence)
