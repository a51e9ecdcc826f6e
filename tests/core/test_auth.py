"""Identifiers folded and keyed-hashed: the same person's spellings meet, keys keep them apart."""

from __future__ import annotations

import string

import pytest

from seawall.core.auth import (
    FAILURES,
    HASH_HEX,
    MAX_IDENTIFIER,
    RECOVERY,
    SUCCESSES,
    AuthEvent,
    EventKind,
    Hasher,
    Result,
    normalize,
)
from seawall.core.errors import ConfigError

SECRET = "a-secret-of-some-length"


@pytest.mark.parametrize(
    ("given", "folded"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),  # case, outer spaces
        ("\uff21\uff2c\uff29\uff23\uff25", "alice"),  # full-width ALICE
        ("Straße", "strasse"),  # casefold, not just lower
        ("\u3000bob\u00a0", "bob"),  # ideographic and no-break spaces
        ("ﬁona", "fiona"),  # compatibility ligature
        ("+1 (555) 010-2030", "+15550102030"),  # a phone: + and digits
        ("555-0102", "5550102"),
        ("\uff0b\uff11 \uff15\uff15\uff15 \uff10\uff11\uff10", "+1555010"),  # full-width
        ("12-34", "12-34"),  # too short for a phone number: left as written
        ("john smith", "john smith"),  # inner spaces of a name are kept
        ("", ""),
    ],
)
def test_normalize_folds_case_width_spacing_and_phones(given: str, folded: str) -> None:
    assert normalize(given) == folded


def test_the_spellings_of_one_identifier_hash_alike() -> None:
    h = Hasher(SECRET)
    spellings = ["alice@example.com", " ALICE@example.com", "Alice@Example.Com\t"]
    assert len({h(s) for s in spellings}) == 1
    phones = ["+1 555 010 2030", "+1-555-010-2030", "+1 (555) 0102030", "+15550102030"]
    assert len({h(p) for p in phones}) == 1
    assert h("alice@example.com") != h("alice@example.org")
    assert h("+15550102030") != h("+15550102031")


def test_a_hash_is_32_hex_digits_and_never_the_identifier() -> None:
    h = Hasher(SECRET)
    for ident in ["alice", "bob@example.org", "+15550102030", "ü" * 400]:
        digest = h(ident)
        assert len(digest) == HASH_HEX == 32
        assert set(digest) <= set(string.hexdigits.lower())
        assert normalize(ident) not in digest


def test_no_identifier_hashes_to_nothing() -> None:
    assert Hasher(SECRET)("") == ""


def test_different_keys_give_different_hashes() -> None:
    a, b = Hasher(SECRET), Hasher(SECRET + "!")
    assert a("alice") != b("alice")
    assert Hasher(SECRET.encode())("alice") == a("alice")  # str and bytes keys agree


def test_identifiers_are_hashed_up_to_the_longest_email() -> None:
    h = Hasher(SECRET)
    stem = "x" * MAX_IDENTIFIER
    assert h(stem + "a") == h(stem + "b")  # beyond the longest legal email: ignored
    assert h(stem[:-1] + "a") != h(stem[:-1] + "b")


@pytest.mark.parametrize("secret", ["", "short", "x" * 15, b"\x00" * 15])
def test_a_short_secret_is_a_config_error_naming_accounts_secret(secret: str | bytes) -> None:
    with pytest.raises(ConfigError) as err:
        Hasher(secret)
    assert err.value.key == "accounts.secret"
    assert "16" in str(err.value)


def test_sixteen_characters_are_enough() -> None:
    assert len(Hasher("x" * 16)("alice")) == HASH_HEX


def test_event_kinds_fall_into_disjoint_families() -> None:
    assert not FAILURES & RECOVERY and not FAILURES & SUCCESSES and not RECOVERY & SUCCESSES
    assert EventKind.MFA_FAILED in FAILURES
    assert EventKind.RECOVERY_LOOKUP in RECOVERY


def test_an_event_defaults_to_an_unknown_result_from_the_edge() -> None:
    ev = AuthEvent("r1", 1.0, EventKind.LOGIN_FAILED, "ab" * 16, "192.0.2.1")
    assert ev.result is Result.UNKNOWN and ev.origin == "edge"
    assert ev.password == "" and ev.device == ""
