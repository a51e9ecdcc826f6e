"""The directory that ties an account's names together, over core's keyed hashing.

The directory maps hashed emails and phones to their account's hash, and keeps the one
thing seawall must hold in clear to reach a person: the email address a warning goes to.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from seawall.core.auth import Hasher, normalize
from seawall.core.errors import ConfigError

__all__ = ["Directory", "Hasher", "hash_all", "load_directory", "normalize"]


@dataclass(frozen=True, slots=True)
class Directory:
    """Hashed aliases (emails, phones) to their account's hash, and where to write to each."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    emails: Mapping[str, str] = field(default_factory=dict)  # account hash -> email address

    def canonical(self, hashed: str) -> str:
        return self.aliases.get(hashed, hashed)


def load_directory(text: str, hasher: Hasher, source: str = "accounts.directory") -> Directory:
    """CSV rows of account,email[,phone...]; a header row starting with 'account' is skipped."""
    aliases: dict[str, str] = {}
    emails: dict[str, str] = {}
    for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
        cells = [c.strip() for c in row]
        if not cells or not cells[0] or (n == 1 and cells[0].lower() == "account"):
            continue
        account = hasher(cells[0])
        for alias in cells[1:]:
            if alias:
                aliases[hasher(alias)] = account
        if len(cells) > 1 and "@" in cells[1]:
            emails[account] = cells[1]
        elif len(cells) > 1 and cells[1]:
            raise ConfigError(source, f"line {n}: the second column must be an email address")
    return Directory(aliases, emails)


def hash_all(identifiers: Iterable[str], hasher: Hasher) -> frozenset[str]:
    return frozenset(h for h in map(hasher, identifiers) if h)
