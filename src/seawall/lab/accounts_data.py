"""Who the lab platform's accounts are: names, emails, phones, one-time codes, lookups.

Deterministic in the seed, like the rest of the dataset. `identities` gives every account's
(name, email, phone) without hashing a password, so the lab's traffic and the edge's
directory can know the accounts cheaply. Quiet accounts are people who sign in and read
but never post: most of a social platform's users. The one-time code stands in for an
authenticator app: the owner of an account (and the lab playing that owner) knows it.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass

FAMOUS = "cyxymu"  # the blogger whose pages were the target in August 2009
SYLLABLES = ("ka", "ri", "mo", "te", "lu", "sa", "vi", "no", "da", "pe", "zo", "mi", "ra", "go")
EMAIL_DOMAIN = "mail.example"
OTP_DIGITS = 6


@dataclass(frozen=True, slots=True)
class Identity:
    """What names one account: the sign-in name, and the email and phone that recover it."""

    name: str
    email: str
    phone: str


def email_of(name: str) -> str:
    return f"{name}@{EMAIL_DOMAIN}"


def phone_of(uid: int) -> str:
    return f"+1555{uid:07d}"


def account_names(
    rng: random.Random, count: int, first: tuple[str, ...] = (), taken: Collection[str] = ()
) -> list[str]:
    """`count` distinct names (`first` ones given), none of them in `taken`."""
    names, seen = list(first), set(first) | set(taken)
    while len(names) < count:
        name = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) + str(rng.randint(0, 99))
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def quiet_rng(seed: int) -> random.Random:
    """The quiet accounts' own generator: adding them leaves the posting users unchanged."""
    return random.Random(f"{seed}:quiet")


def identities(seed: int = 7, users: int = 300, quiet: int = 0) -> tuple[Identity, ...]:
    """Every account of `origin_data.generate(seed, users, ..., quiet=quiet)`, in id order."""
    base = account_names(random.Random(seed), users, (FAMOUS,))
    extra = account_names(quiet_rng(seed), quiet, taken=base) if quiet else []
    return tuple(
        Identity(n, email_of(n), phone_of(uid)) for uid, n in enumerate([*base, *extra], 1)
    )


def otp_for(name: str, seed: int) -> str:
    """The account's current one-time code (the lab's clock never moves it)."""
    mac = hmac.new(f"lab-otp-{seed}".encode(), name.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:4], 'big') % 10**OTP_DIGITS:0{OTP_DIGITS}d}"


def normalize_phone(value: str) -> str:
    """A phone number as stored: + and digits, spaces, dashes and brackets dropped."""
    return "".join(c for c in value if c.isdigit() or c == "+")


def is_registered(conn: sqlite3.Connection, identifier: str) -> bool:
    """Whether an email or phone number belongs to an account (the account-lookup flaw)."""
    if "@" in identifier:
        sql, value = "SELECT 1 FROM users WHERE email = ?", identifier.strip().lower()
    else:
        sql, value = "SELECT 1 FROM users WHERE phone = ?", normalize_phone(identifier)
    return bool(value) and conn.execute(sql, (value,)).fetchone() is not None
