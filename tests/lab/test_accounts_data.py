"""The platform's accounts: identities match the dataset, quiet ones leave it be, codes, lookup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from seawall.lab import origin_data as data
from seawall.lab.accounts_data import (
    FAMOUS,
    identities,
    is_registered,
    normalize_phone,
    otp_for,
)

SMALL = {"users": 40, "posts_per_user": 2}


def test_identities_are_the_datasets_accounts_without_hashing_a_password() -> None:
    dataset = data.generate(7, **SMALL, quiet=25)
    people = identities(7, 40, 25)
    assert [(i.name, i.email, i.phone) for i in people] == [
        (u.name, u.email, u.phone) for u in dataset.users
    ]
    assert people[0].name == FAMOUS and len({i.name for i in people}) == 65


def test_quiet_accounts_leave_the_posting_site_as_it_was() -> None:
    plain, more = data.generate(7, **SMALL), data.generate(7, **SMALL, quiet=30)
    assert more.users[:40] == plain.users
    assert more.posts == plain.posts and more.follows == plain.follows
    quiet_ids = {u.id for u in more.users[40:]}
    assert quiet_ids == set(range(41, 71))
    assert not quiet_ids & {p.user_id for p in more.posts}
    assert all(u.email.endswith("@mail.example") for u in more.users)


def test_one_time_codes_are_six_digits_per_account_and_seed() -> None:
    code = otp_for("alice", 7)
    assert len(code) == 6 and code.isdigit()
    assert code == otp_for("alice", 7)
    assert code != otp_for("alice", 8) and code != otp_for("bob", 7)
    assert code != data.password_for("alice", 7)


def test_is_registered_knows_emails_and_phones(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite3")
    data.create_db(path, data.generate(7, **SMALL, quiet=5))
    someone = identities(7, 40, 5)[-1]  # a quiet account
    conn = sqlite3.connect(path)
    try:
        assert is_registered(conn, someone.email)
        assert is_registered(conn, someone.email.upper())
        assert is_registered(conn, someone.phone)
        assert is_registered(conn, someone.phone[:5] + " " + someone.phone[5:])
        assert not is_registered(conn, "nobody@mail.example")
        assert not is_registered(conn, "+15559999999")
        assert not is_registered(conn, "")
        assert not is_registered(conn, "  ")
    finally:
        conn.close()
    assert normalize_phone("+1 (555) 000-0001") == "+15550000001"
