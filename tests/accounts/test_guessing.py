"""Golden transcripts for guessing from many addresses: credential stuffing, password
spraying, and distributed guessing on one account.

Events in, in time order, then what `findings` says at that moment.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from seawall.accounts.events import MAX_LISTED, AuthEvent, EventKind, Finding
from seawall.accounts.guessing import CredentialStuffing, DistributedGuessing, PasswordSpraying

from authsim import event, hashed, net

T0 = 1_700_000_000.0
FAIL, OK = EventKind.LOGIN_FAILED, EventKind.LOGIN_SUCCEEDED
NONE: frozenset[str] = frozenset()
S = "198.51.100.23"
ALICE, BOB, CAROL, DAVE, ERIN = (hashed(n) for n in ("alice", "bob", "carol", "dave", "erin"))


def feed(d: DistributedGuessing, events: Iterable[AuthEvent]) -> None:
    for ev in events:
        d.observe(ev)


def who(i: int) -> str:
    return hashed(f"leaked{i}")


def keys(found: list[Finding]) -> set[str]:
    return {f.key for f in found}


# ---- credential_stuffing -----------------------------------------------------------------


def test_golden_credential_stuffing() -> None:
    d = CredentialStuffing()
    for i in range(9):
        d.observe(event(T0 + 10 * i, FAIL, who(i), S, fingerprint="fpX"))
    assert d.findings(T0 + 80, NONE) == []  # 9 accounts: silent
    d.observe(event(T0 + 90, FAIL, who(9), S, fingerprint="fpX"))
    accounts = tuple(sorted(who(i) for i in range(10)))  # once each: key order
    expected = Finding(
        "credential_stuffing",
        f"source:{S}",
        accounts,
        (S,),
        T0,
        T0 + 90,
        10,
        0.7,  # accounts at the bar 0.3, no success 0.4
        prefixes=(net(S),),
        fingerprints=("fpX",),
        evidence=(
            ("accounts", 10.0),
            ("failures", 10.0),
            ("successes", 0.0),
            ("tries_per_account", 1.0),
            ("success_share", 0.0),
            ("dropped", 0.0),
        ),
    )
    source, prefix = d.findings(T0 + 90, NONE)
    assert source == expected
    assert prefix.key == f"prefix:{net(S)}" and prefix.accounts == accounts
    # one success in eleven is still a replayed list; a second is too many
    d.observe(event(T0 + 100, OK, who(3), S))
    (f, _) = d.findings(T0 + 100, NONE)
    assert ("success_share", round(1 / 11, 4)) in f.evidence
    assert f.confidence == pytest.approx(0.3 + 0.4 * (1 - (1 / 11) / 0.1), abs=1e-4)
    d.observe(event(T0 + 101, OK, who(4), S))
    assert d.findings(T0 + 101, NONE) == []
    # ten minutes after the last failure the window is empty and the claim is gone
    assert d.findings(T0 + 691, NONE) == []
    assert d.candidates == {}


def test_stuffing_needs_a_try_or_two_per_account_not_three() -> None:
    d = CredentialStuffing()
    for i in range(30):
        d.observe(event(T0 + i, FAIL, who(i % 10), S))
    assert d.findings(T0 + 30, NONE) == []  # 3 tries each: guessing, not replaying
    for i in range(10, 20):
        d.observe(event(T0 + 40 + i, FAIL, who(i), S))
    (f, _) = d.findings(T0 + 60, NONE)  # 40 failures over 20 accounts: 2 each
    assert ("tries_per_account", 2.0) in f.evidence


def test_stuffing_is_not_a_shared_address_whose_people_mostly_get_in() -> None:
    d = CredentialStuffing()
    campus = "198.18.7.20"
    for i in range(40):  # forty people mistype once, most then sign in
        d.observe(event(T0 + 10 * i, FAIL, who(i), campus))
        d.observe(event(T0 + 10 * i + 2, OK, who(i), campus))
    assert d.findings(T0 + 400, NONE) == []


def test_stuffing_under_one_fingerprint_needs_fifty_accounts_and_almost_no_success() -> None:
    d = CredentialStuffing()
    for i in range(49):  # a botnet: every attempt from its own network
        d.observe(event(T0 + i, FAIL, who(i), f"10.{i}.0.1", fingerprint="fp-tool"))
    assert d.findings(T0 + 49, NONE) == []
    d.observe(event(T0 + 49, FAIL, who(49), "10.49.0.1", fingerprint="fp-tool"))
    (f,) = d.findings(T0 + 49, NONE)
    assert f.key == "fingerprint:fp-tool" and f.broad and len(f.sources) == 50
    assert f.confidence == pytest.approx(0.7, abs=1e-4)
    for i in range(2):
        d.observe(event(T0 + 50 + i, OK, who(i), f"10.{i}.0.1", fingerprint="fp-tool"))
    assert len(d.findings(T0 + 51, NONE)) == 1  # 2 in 52: under 0.05
    d.observe(event(T0 + 52, OK, who(2), "10.2.0.1", fingerprint="fp-tool"))
    assert d.findings(T0 + 52, NONE) == []  # 3 in 53: a browser signing people in


def test_stuffing_high_risk_changes_nothing_and_the_factor_raises_the_bar() -> None:
    d = CredentialStuffing({"threshold_factor": 1.5})
    for i in range(14):
        d.observe(event(T0 + i, FAIL, who(i), S))
    assert d.findings(T0 + 14, frozenset(who(i) for i in range(14))) == []
    d.observe(event(T0 + 14, FAIL, who(14), S))
    assert keys(d.findings(T0 + 14, NONE)) == {f"source:{S}", f"prefix:{net(S)}"}


def test_stuffing_judges_again_when_an_operator_raises_the_factor() -> None:
    d = CredentialStuffing()
    for i in range(12):
        d.observe(event(T0 + i, FAIL, who(i), S))
    assert len(d.findings(T0 + 12, NONE)) == 2
    d.set_factor(1.5)  # nothing new came in, but the bar is now 15 accounts
    assert d.findings(T0 + 12, NONE) == []


def test_stuffing_keeps_max_entries_per_key_and_lists_at_most_max_listed() -> None:
    d = CredentialStuffing()
    for i in range(1000):
        d.observe(event(T0 + 0.1 * i, FAIL, who(i), S))
    f = d.findings(T0 + 100, NONE)[0]
    assert ("accounts", 512.0) in f.evidence and ("dropped", 488.0) in f.evidence
    big = CredentialStuffing({"max_entries": 5000})
    for i in range(1500):
        big.observe(event(T0 + 0.1 * i, FAIL, who(i), S))
    f = big.findings(T0 + 150, NONE)[0]
    assert ("accounts", 1500.0) in f.evidence and f.count == 1500
    assert len(f.accounts) == MAX_LISTED and f.broad


# ---- password_spraying -------------------------------------------------------------------


SPRAY = [f"192.0.2.{10 + i}" for i in range(7)]


def test_golden_password_spraying() -> None:
    d = PasswordSpraying()
    k = 0
    for i in range(9):  # nine accounts, twice each, a minute apart, from seven addresses
        for _ in range(2):
            d.observe(event(T0 + 60 * k, FAIL, who(i), SPRAY[k % 7]))
            k += 1
    assert d.findings(T0 + 60 * k, NONE) == []  # 9 accounts: silent
    d.observe(event(T0 + 60 * k, FAIL, who(9), SPRAY[k % 7]))
    (f,) = d.findings(T0 + 60 * k, NONE)
    assert f == Finding(
        "password_spraying",
        "prefix:192.0.2.0/24",
        (*sorted(who(i) for i in range(9)), who(9)),  # twice each first, then once
        tuple(sorted(SPRAY, key=lambda s: (-[3, 3, 3, 3, 3, 2, 2][SPRAY.index(s)], s))),
        T0,
        T0 + 1080,
        19,
        0.7,
        prefixes=("192.0.2.0/24",),
        evidence=(
            ("accounts", 10.0),
            ("failures", 19.0),
            ("successes", 0.0),
            ("tries_per_account", 1.9),
            ("success_share", 0.0),
            ("seconds", 1080.0),
            ("dropped", 0.0),
        ),
        broad=True,
    )
    # an hour after the first account's second try, it ages out and the claim ends
    assert len(d.findings(T0 + 3600 + 60, NONE)) == 1
    assert d.findings(T0 + 3600 + 61, NONE) == []


def test_a_burst_is_not_a_spray() -> None:
    d = PasswordSpraying()
    for i in range(30):
        d.observe(event(T0 + 10 * i, FAIL, who(i), S))  # 30 accounts in 290 s
    assert d.findings(T0 + 300, NONE) == []


def test_spraying_counts_accounts_tried_a_few_times_that_never_got_in() -> None:
    d = PasswordSpraying()
    for i in range(14):  # 14 accounts spread over 1300 s...
        d.observe(event(T0 + 100 * i, FAIL, who(i), S))
    for _ in range(7):  # ...but one tried 7 times is guessing, not spraying
        d.observe(event(T0 + 1350, FAIL, who(0), S))
    d.observe(event(T0 + 1360, OK, who(1), S))  # and one got in: its owner
    found = {f.key: f for f in d.findings(T0 + 1360, NONE)}
    assert set(found) == {f"source:{S}", f"prefix:{net(S)}"}
    f = found[f"source:{S}"]
    assert ("accounts", 12.0) in f.evidence and who(0) not in f.accounts
    assert who(1) not in f.accounts and who(2) in f.accounts
    d.observe(event(T0 + 1370, OK, who(2), S))  # 2 successes in 23 attempts: 0.087
    assert len(d.findings(T0 + 1370, NONE)) == 2
    d.observe(event(T0 + 1371, OK, who(3), S))  # 3 in 24: 0.125, over 0.1
    assert d.findings(T0 + 1371, NONE) == []


def test_golden_password_spraying_by_password_from_anywhere() -> None:
    d = PasswordSpraying()
    pw = hashed("pw:Summer2024!")
    for i in range(4):
        d.observe(event(T0 + 300 * i, FAIL, who(i), f"45.{i}.0.9", password=pw))
    d.observe(event(T0 + 1300, FAIL, who(0), "45.9.0.9", password=hashed("pw:other")))
    assert d.findings(T0 + 1300, NONE) == []  # 4 accounts: silent
    d.observe(event(T0 + 1500, FAIL, who(4), "45.4.0.9", password=pw))
    (f,) = d.findings(T0 + 1500, NONE)
    assert f == Finding(
        "password_spraying",
        f"password:{pw}",
        tuple(sorted(who(i) for i in range(5))),
        tuple(sorted(f"45.{i}.0.9" for i in range(5))),
        T0,
        T0 + 1500,
        5,
        0.6,
        prefixes=tuple(sorted(f"45.{i}.0.0/24" for i in range(5))),
        evidence=(
            ("accounts", 5.0),
            ("failures", 5.0),
            ("sources", 5.0),
            ("successes", 0.0),
            ("dropped", 0.0),
        ),
        broad=True,
    )
    assert pw not in repr(f.evidence)
    assert d.findings(T0 + 3601, NONE) == []  # the first try aged out: 4 left


# ---- distributed_guessing --------------------------------------------------------------------


def src(i: int) -> str:
    return f"198.51.{i}.20"  # one /24 each


def test_golden_distributed_guessing() -> None:
    d = DistributedGuessing()
    # five addresses in five networks, twice each, an hour apart at most
    attempts = [(T0 + 60 * k, src(k % 5), 64_500 + k % 5) for k in range(10)]
    for t, s, asn in attempts[:9]:
        d.observe(event(t, FAIL, ALICE, s, asn=asn))
    assert d.findings(T0 + 480, NONE) == []  # 5 sources, 9 failures: silent
    t, s, asn = attempts[9]
    d.observe(event(t, FAIL, ALICE, s, asn=asn))
    sources = tuple(sorted(src(i) for i in range(5)))  # two failures each: address order
    assert d.findings(T0 + 540, NONE) == [
        Finding(
            "distributed_guessing",
            f"account:{ALICE}",
            (ALICE,),
            sources,
            T0,
            T0 + 540,
            10,
            0.775,  # sources at the bar 0.225, networks 0.15, ASNs 0.15, no success 0.25
            prefixes=tuple(net(s) for s in sources),
            asns=tuple(range(64_500, 64_505)),
            evidence=(
                ("failures", 10.0),
                ("sources", 5.0),
                ("prefixes", 5.0),
                ("asns", 5.0),
                ("successes", 0.0),
                ("high_risk", 0.0),
                ("dropped", 0.0),
            ),
        )
    ]
    # one of the guessing addresses gets in: the claim stands, with less certainty
    d.observe(event(T0 + 600, OK, ALICE, src(3)))
    (f,) = d.findings(T0 + 600, NONE)
    assert f.confidence == 0.525 and ("successes", 1.0) in f.evidence
    # more addresses: more certainty
    feed(d, (event(T0 + 700 + i, FAIL, ALICE, src(10 + i), asn=1) for i in range(15)))
    (f,) = d.findings(T0 + 720, NONE)
    assert ("sources", 20.0) in f.evidence and ("successes", 1.0) in f.evidence
    assert f.confidence == pytest.approx(0.45 * 0.875 + 0.15 + 0.15, abs=1e-4)
    # an hour after the first failures they age out one by one, then the claim ends
    assert d.findings(T0 + 3600 + 540, NONE) != []
    assert d.findings(T0 + 3600 + 715, NONE) == []
    assert d.candidates == {}


def test_distributed_guessing_four_addresses_are_not_enough() -> None:
    d = DistributedGuessing()
    feed(d, (event(T0 + i, FAIL, BOB, src(i % 4)) for i in range(40)))
    assert d.findings(T0 + 40, NONE) == []
    d.observe(event(T0 + 41, FAIL, BOB, src(4)))
    assert keys(d.findings(T0 + 41, NONE)) == {f"account:{BOB}"}


def test_distributed_guessing_an_owner_mistyping_from_two_addresses_never_fires() -> None:
    d = DistributedGuessing()
    for i in range(200):  # home and phone, all afternoon
        d.observe(event(T0 + 15 * i, FAIL, ERIN, ["192.0.2.5", "100.64.12.9"][i % 2]))
        if i % 7 == 0:
            d.observe(event(T0 + 15 * i + 1, OK, ERIN, "192.0.2.5"))
        assert d.findings(T0 + 15 * i + 2, frozenset({ERIN})) == []


def test_distributed_guessing_high_risk_lowers_the_bar_for_those_accounts_only() -> None:
    d = DistributedGuessing()
    for account in (CAROL, DAVE):  # the same pattern on both: 3 addresses, 5 failures
        feed(d, (event(T0 + i, FAIL, account, src(i % 3), asn=7 + i % 3) for i in range(5)))
    marked = frozenset({CAROL})
    (f,) = d.findings(T0 + 5, marked)
    assert f.key == f"account:{CAROL}" and ("high_risk", 1.0) in f.evidence
    assert f.confidence == 0.775  # at the lower bar as a normal account is at its own
    assert d.findings(T0 + 5, NONE) == []  # unmarked: nobody
    # 2 addresses are not enough even for a marked account
    feed(d, (event(T0 + 10 + i, FAIL, ERIN, src(i % 2)) for i in range(20)))
    assert keys(d.findings(T0 + 30, frozenset({CAROL, ERIN}))) == {f"account:{CAROL}"}


def test_distributed_guessing_from_one_network_is_less_certain() -> None:
    d = DistributedGuessing()
    feed(d, (event(T0 + i, FAIL, ALICE, f"203.0.113.{i % 5}", asn=9) for i in range(10)))
    (f,) = d.findings(T0 + 10, NONE)
    assert f.prefixes == ("203.0.113.0/24",) and f.confidence == 0.535
