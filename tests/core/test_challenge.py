"""Proof-of-work challenge: puzzle in, solution checked, pass earned, in time order.

Times are wall-clock epoch seconds chosen by the test; nothing reads a clock.
"""

from __future__ import annotations

import hashlib

import pytest

from seawall.core.challenge import (
    MAX_NONCE,
    MAX_SEED,
    PASS_COOKIE,
    PASS_PATH,
    ChallengeError,
    ChallengeKeys,
    Puzzle,
    Solved,
    check_pass,
    check_solution,
    difficulty,
    issue,
    leading_zero_bits,
    pass_cookie,
    solve,
    solves,
)
from seawall.core.errors import ConfigError

SECRET = b"0123456789abcdef-secret"
OTHER = b"fedcba9876543210-other!"
PREFIX = "203.0.113.0/24"
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
T0 = 1_700_000_000.0


def reason(
    keys: ChallengeKeys,
    seed: str,
    nonce: str,
    *,
    prefix: str = PREFIX,
    user_agent: str = UA,
    now: float = T0 + 1,
) -> str:
    """The refusal's reason, or "ok"."""
    try:
        check_solution(keys, seed, nonce, prefix, user_agent, now)
    except ChallengeError as e:
        return e.reason
    return "ok"


@pytest.fixture
def keys() -> ChallengeKeys:
    return ChallengeKeys(SECRET)


@pytest.fixture
def puzzle(keys: ChallengeKeys) -> Puzzle:
    return issue(keys, PREFIX, UA, "login-flood_2", bits=10, now=T0, ttl=120.0)


def test_constants_are_the_ones_the_page_and_edge_share() -> None:
    assert PASS_COOKIE == "seawall_pass"
    assert PASS_PATH == "/.seawall/pass"


def test_issue_solve_check_transcript(keys: ChallengeKeys, puzzle: Puzzle) -> None:
    assert puzzle.bits == 10
    assert puzzle.expires == T0 + 120
    assert puzzle.rule_id == "login-flood_2"
    assert puzzle.seed.startswith(f"1.{int(T0) + 120}.10.login-flood_2.")
    nonce = solve(puzzle.seed, puzzle.bits)
    assert nonce.isdigit()
    assert solves(puzzle.seed, nonce, 10)
    digest = hashlib.sha256(f"{puzzle.seed}:{nonce}".encode()).digest()
    assert leading_zero_bits(digest) >= 10
    assert check_solution(keys, puzzle.seed, nonce, PREFIX, UA, T0 + 5) == Solved(
        bits=10, rule_id="login-flood_2"
    )
    assert check_solution(keys, puzzle.seed, nonce, PREFIX, UA, T0 + 120) == Solved(
        10, "login-flood_2"
    )  # the last second still counts
    assert reason(keys, puzzle.seed, nonce, now=T0 + 121) == "expired"


def test_the_first_nonce_is_found_and_earlier_ones_fail(puzzle: Puzzle) -> None:
    nonce = int(solve(puzzle.seed, 10))
    assert all(not solves(puzzle.seed, str(n), 10) for n in range(nonce))
    assert solve(puzzle.seed, 10, start=nonce) == str(nonce)
    later = solve(puzzle.seed, 10, start=nonce + 1)
    assert int(later) > nonce


def test_solve_gives_up_at_its_limit() -> None:
    seed = "1.100.20.r.00000000.AAAAAAAAAAAAAAAAAAAAAA"
    first = int(solve(seed, 8))
    with pytest.raises(ValueError, match="no nonce"):
        solve(seed, 8, start=0, limit=first)  # stops just before the answer
    assert solve(seed, 0) == "0"


def test_an_unsolved_nonce_is_refused(keys: ChallengeKeys, puzzle: Puzzle) -> None:
    nonce = int(solve(puzzle.seed, puzzle.bits))
    wrong = next(
        str(n) for n in range(nonce + 1, nonce + 10_000) if not solves(puzzle.seed, str(n), 10)
    )
    assert reason(keys, puzzle.seed, wrong) == "unsolved"
    assert reason(keys, puzzle.seed, str(nonce)) == "ok"


def test_another_prefix_or_agent_cannot_use_the_solution(
    keys: ChallengeKeys, puzzle: Puzzle
) -> None:
    nonce = solve(puzzle.seed, puzzle.bits)
    assert reason(keys, puzzle.seed, nonce, prefix="198.51.100.0/24") == "wrong-prefix"
    assert reason(keys, puzzle.seed, nonce, user_agent="curl/8.5.0") == "wrong-agent"
    assert reason(keys, puzzle.seed, nonce, user_agent="") == "wrong-agent"
    assert reason(keys, puzzle.seed, nonce) == "ok"


def test_forged_seeds_are_refused(keys: ChallengeKeys, puzzle: Puzzle) -> None:
    parts = puzzle.seed.split(".")
    mac = parts[5]
    flipped = ("B" if mac[0] == "A" else "A") + mac[1:]
    easier = ".".join([*parts[:2], "1", *parts[3:]])  # tampered bits, MAC kept
    later = ".".join([parts[0], str(int(parts[1]) + 3600), *parts[2:]])  # extended expiry
    other_rule = ".".join([*parts[:3], "other", *parts[4:]])
    for seed in (".".join([*parts[:5], flipped]), easier, later, other_rule):
        nonce = solve(seed, int(seed.split(".")[2]))
        assert reason(keys, seed, nonce) == "forged", seed
    signed_by_another = issue(ChallengeKeys(OTHER), PREFIX, UA, "login-flood_2", 10, T0)
    assert reason(keys, signed_by_another.seed, solve(signed_by_another.seed, 10)) == "forged"


@pytest.mark.parametrize(
    ("seed", "nonce"),
    [
        ("", "1"),
        ("garbage", "1"),
        ("1.2.3", "1"),
        ("SEED", ""),
        ("SEED", "-1"),
        ("SEED", "+1"),
        ("SEED", " 1"),
        ("SEED", "1e3"),
        ("SEED", "0x1f"),
        ("SEED", "01"),
        ("SEED", "٣"),  # a digit, but not an ASCII one
        ("SEED", "9" * (MAX_NONCE + 1)),
        ("SEED" + "x" * MAX_SEED, "1"),
        ("SEED-v2", "1"),
        ("SEED-bits99", "1"),
        ("SEED-bits07", "1"),
        ("SEED-rule!", "1"),
        ("SEED-shortmac", "1"),
        ("SEED-\udcff", "1"),
    ],
)
def test_garbage_is_malformed(keys: ChallengeKeys, puzzle: Puzzle, seed: str, nonce: str) -> None:
    real = puzzle.seed.split(".")
    variants = {
        "SEED": puzzle.seed,
        "SEED-v2": ".".join(["2", *real[1:]]),
        "SEED-bits99": ".".join([*real[:2], "99", *real[3:]]),
        "SEED-bits07": ".".join([*real[:2], "07", *real[3:]]),
        "SEED-rule!": ".".join([*real[:3], "rule!", *real[4:]]),
        "SEED-shortmac": puzzle.seed[:-1],
        "SEED-\udcff": puzzle.seed + "\udcff",
    }
    seed = variants.get(seed, seed.replace("SEED", puzzle.seed))
    assert reason(keys, seed, nonce) == "malformed"


def test_zero_is_a_nonce(keys: ChallengeKeys) -> None:
    p = issue(keys, PREFIX, UA, "r", bits=0, now=T0)
    assert reason(keys, p.seed, "0") == "ok"


def test_rotation_keeps_old_puzzles_and_passes_only_while_the_old_secret_is_kept(
    puzzle: Puzzle,
) -> None:
    old = ChallengeKeys(SECRET)
    nonce = solve(puzzle.seed, puzzle.bits)
    cookie = pass_cookie(old, PREFIX, UA, 10, T0, ttl=3600)
    rotated = ChallengeKeys(OTHER, previous=SECRET)
    assert reason(rotated, puzzle.seed, nonce) == "ok"
    assert check_pass(rotated, cookie, PREFIX, UA, T0 + 10)
    revoked = ChallengeKeys(OTHER)
    assert reason(revoked, puzzle.seed, nonce) == "forged"
    assert not check_pass(revoked, cookie, PREFIX, UA, T0 + 10)
    fresh = issue(rotated, PREFIX, UA, "r", 4, T0)  # new work is signed with the new secret
    assert reason(rotated, fresh.seed, solve(fresh.seed, 4)) == "ok"
    assert reason(revoked, fresh.seed, solve(fresh.seed, 4)) == "ok"
    assert reason(old, fresh.seed, solve(fresh.seed, 4)) == "forged"


def test_short_secrets_are_a_config_error() -> None:
    with pytest.raises(ConfigError) as e:
        ChallengeKeys(b"too-short")
    assert e.value.key == "challenge.secret"
    with pytest.raises(ConfigError) as e:
        ChallengeKeys(SECRET, previous=b"short")
    assert e.value.key == "challenge.previous"
    ChallengeKeys(b"x" * 16)  # exactly enough


@pytest.mark.parametrize(
    ("rule_id", "bits", "ttl"),
    [
        ("", 10, 60.0),
        ("a.b", 10, 60.0),
        ("a|b", 10, 60.0),
        ("r" * 65, 10, 60.0),
        ("é", 10, 60.0),
        ("r", -1, 60.0),
        ("r", 33, 60.0),
        ("r", 10, 0.0),
        ("r", 10, float("nan")),
    ],
)
def test_issue_refuses_bad_arguments(
    keys: ChallengeKeys, rule_id: str, bits: int, ttl: float
) -> None:
    with pytest.raises(ValueError):
        issue(keys, PREFIX, UA, rule_id, bits, T0, ttl)


def test_pass_cookie_transcript(keys: ChallengeKeys) -> None:
    value = pass_cookie(keys, PREFIX, UA, bits=12, now=T0, ttl=3600)
    assert value.startswith(f"1.{int(T0) + 3600}.12.")
    assert [
        (now, prefix, ua, check_pass(keys, value, prefix, ua, now))
        for now, prefix, ua in [
            (T0, PREFIX, UA),
            (T0 + 3600, PREFIX, UA),
            (T0 + 10, "198.51.100.0/24", UA),
            (T0 + 10, PREFIX, "curl/8.5.0"),
            (T0 + 3601, PREFIX, UA),
        ]
    ] == [
        (T0, PREFIX, UA, True),
        (T0 + 3600, PREFIX, UA, True),
        (T0 + 10, "198.51.100.0/24", UA, False),
        (T0 + 10, PREFIX, "curl/8.5.0", False),
        (T0 + 3601, PREFIX, UA, False),
    ]


def test_pass_tampering_and_garbage_are_refused_quietly(
    keys: ChallengeKeys, puzzle: Puzzle
) -> None:
    value = pass_cookie(keys, PREFIX, UA, bits=12, now=T0, ttl=3600)
    v, exp, bits, mac = value.split(".")
    for bad in [
        "",
        "x",
        "....",
        f"{v}.{int(exp) + 86400}.{bits}.{mac}",  # extended
        f"{v}.{exp}.20.{mac}",  # the bits are signed too
        f"{v}.{exp}.{bits}.{mac[:-1]}",
        f"{v}.{exp}.{bits}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        f"2.{exp}.{bits}.{mac}",
        f"{v}.0{exp}.{bits}.{mac}",
        value + ".x",
        value + "\udcff",
        "1." + "9" * 200,
        "é" * 30,
        puzzle.seed,  # a seed MAC is not a pass MAC
    ]:
        assert not check_pass(keys, bad, PREFIX, UA, T0), bad
    assert check_pass(keys, value, PREFIX, UA, T0)


def test_a_seed_mac_cannot_be_passed_off_as_a_pass(keys: ChallengeKeys) -> None:
    p = issue(keys, PREFIX, UA, "r", 12, T0, ttl=120)
    v, exp, bits, _rule, _tag, mac = p.seed.split(".")
    assert not check_pass(keys, f"{v}.{exp}.{bits}.{mac}", PREFIX, UA, T0)


@pytest.mark.parametrize(
    ("digest", "expected"),
    [
        (b"\xff" * 32, 0),
        (b"\x80" + b"\x00" * 31, 0),
        (b"\x7f" + b"\xff" * 31, 1),
        (b"\x01" + b"\x00" * 31, 7),
        (b"\x00\x80" + b"\x00" * 30, 8),
        (b"\x00\x00\x00\x01" + b"\xff" * 28, 31),
        (b"\x00\x00\x00\x00\x80" + b"\x00" * 27, 32),
        (b"\x00" * 32, 256),
        (b"", 0),
        (b"\x00", 8),
    ],
)
def test_leading_zero_bits_exact(digest: bytes, expected: int) -> None:
    assert leading_zero_bits(digest) == expected


def test_difficulty_table() -> None:
    base = 14
    rows = [
        (0.0, False),
        (0.1, False),
        (0.125, False),
        (0.25, False),
        (0.5, False),
        (0.75, False),
        (1.0, False),
        (1.25, False),
        (1.5, False),
        (9.0, False),
        (-1.0, False),
        (float("nan"), False),
        (0.0, True),
        (1.5, True),
    ]
    assert [(load, bots, difficulty(base, load, bots)) for load, bots in rows] == [
        (0.0, False, 14),
        (0.1, False, 14),
        (0.125, False, 15),
        (0.25, False, 15),
        (0.5, False, 16),
        (0.75, False, 17),
        (1.0, False, 18),
        (1.25, False, 19),
        (1.5, False, 20),
        (9.0, False, 20),  # load is capped at 1.5
        (-1.0, False, 14),
        (rows[11][0], False, 14),  # NaN counts as idle
        (0.0, True, 12),  # Kill-Bots: bots are blocked elsewhere, humans get it easier
        (1.5, True, 12),
    ]


def test_difficulty_is_clamped() -> None:
    assert difficulty(20, 1.5, False) == 22
    assert difficulty(8, 0.0, True) == 8
    assert difficulty(8, 0.0, True, low=4) == 6
    assert difficulty(30, 1.0, False, high=32) == 32
    with pytest.raises(ValueError):
        difficulty(10, 0.0, False, low=12, high=10)
    with pytest.raises(ValueError):
        difficulty(10, 0.0, False, high=33)
