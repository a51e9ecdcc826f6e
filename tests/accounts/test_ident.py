"""The directory: an account's emails and phones hashed to the account's own hash."""

from __future__ import annotations

import pytest

from seawall.accounts.ident import Directory, Hasher, hash_all, load_directory
from seawall.core.errors import ConfigError

H = Hasher("k" * 16)


def test_aliases_lead_to_the_account_and_emails_are_kept_for_warnings() -> None:
    d = load_directory(
        "account,email,phone\nalice,Alice@Example.org,+1 (555) 010-0001\nbob,bob@example.org\n", H
    )
    assert d.canonical(H("alice@example.org")) == H("alice")
    assert d.canonical(H("+15550100001")) == H("alice")
    assert d.canonical(H("bob@example.org")) == H("bob")
    assert d.canonical(H("stranger")) == H("stranger")
    assert d.emails == {H("alice"): "Alice@Example.org", H("bob"): "bob@example.org"}
    assert "alice" not in repr(d.aliases)


def test_a_second_column_that_is_no_email_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError, match="line 2"):
        load_directory("alice,alice@example.org\nbob,not-an-email\n", H)


def test_blank_lines_and_the_empty_directory() -> None:
    assert load_directory("\n\n", H) == Directory()
    assert hash_all(["a", "", "A"], H) == frozenset({H("a")})
