"""Who does what in an account siege: the targets, people's sign-ins, owners, the botnet.

Pure and seeded. The runner draws the addresses (and keeps their labels); this decides
which accounts the campaign goes after, when each person signs in, from where and how it
goes for them, and which targets each bot address tries. People's habits follow what
sign-in logs show on any day: most get it right at once, some mistype, a few forget and
reset. The harvesters' list holds the targets' emails and phones among made-up ones,
a few of which happen to be registered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from seawall.lab.accounts_data import FAMOUS, SYLLABLES, Identity
from seawall.lab.scenarios import Siege
from seawall.lab.traffic import poisson_starts

LOOKUP_SHARE = 0.05  # people who first check that their email is registered
PAGES = 50  # profiles (of posting users) people read once signed in
MADE_UP_DOMAINS = ("post.example", "inbox.example", "mail.example")
UNREGISTERED_PHONES = 9_000_000  # uids below this are the platform's; above, nobody's


class Path(StrEnum):
    RIGHT = "right"  # the right password at the first try
    MISTYPE = "mistype"  # one or two wrong ones first
    FORGOT = "forgot"  # three to five wrong ones, then a reset of their own email
    RESET = "reset"  # straight to a reset


PATHS: tuple[tuple[Path, float], ...] = (
    (Path.RIGHT, 0.85),
    (Path.MISTYPE, 0.10),
    (Path.FORGOT, 0.03),
    (Path.RESET, 0.02),
)


@dataclass(frozen=True, slots=True)
class Journey:
    """One person signing in once: when (seconds after the start), from where, how."""

    at_s: float
    address: str
    account: str
    path: Path
    mistakes: int  # wrong passwords before the right one or the reset
    looks_up: bool
    shared: bool = False  # from a carrier-NAT address, with other people


@dataclass(frozen=True, slots=True)
class Owner:
    account: str
    addresses: tuple[str, ...]  # home first, then a phone


@dataclass(frozen=True, slots=True)
class PeoplePlan:
    journeys: tuple[Journey, ...]
    owners: tuple[Owner, ...]
    every_s: tuple[float, float]  # between an owner's sign-ins
    budget_s: float
    pages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BotPlan:
    addresses: tuple[str, ...]
    targets: tuple[str, ...]  # account names
    aims: tuple[tuple[int, ...], ...]  # per address: the targets (indexes) it tries
    start_s: float
    end_s: float
    guess_rate: float  # password guesses per second, the whole botnet
    harvest_rate: float  # recovery lookups per second, the whole botnet
    identifiers: tuple[str, ...]  # the targets' emails and phones
    made_up: tuple[str, ...]  # the rest of the harvesters' list
    breached: tuple[tuple[str, str], ...] = ()  # (target, its real password) from a breach
    breach_share: float = 0.0  # share of the guesses at a breached target that use it


def pick_targets(seed: int, posting: Sequence[str], count: int) -> tuple[str, ...]:
    """`count` high-risk accounts among the posting users, never the famous profile."""
    pool = [n for n in posting if n != FAMOUS]
    if count > len(pool):
        raise ValueError(f"{count} targets asked for, {len(pool)} posting users to choose from")
    return tuple(sorted(random.Random(f"{seed}:targets").sample(pool, count)))


def _path(rng: random.Random) -> tuple[Path, int]:
    (path,) = rng.choices([p for p, _ in PATHS], [w for _, w in PATHS])
    mistakes = {Path.MISTYPE: rng.choice((1, 1, 2)), Path.FORGOT: rng.randint(3, 5)}
    return path, mistakes.get(path, 0)


def plan_people(
    siege: Siege,
    seed: int,
    accounts: Sequence[str],
    posting: Sequence[str],
    addresses: Sequence[str],
    owner_addresses: Sequence[str],
    targets: Sequence[str],
    duration_s: float,
) -> PeoplePlan:
    """Sign-ins at `sign_in_rate`, each by another of `accounts` (targets excluded).

    The first `nat_addresses` of `addresses` are shared (carrier NAT); the rest go one
    to a person until they run out."""
    rng = random.Random(f"{seed}:people")
    chosen = set(targets)
    pool = [a for a in accounts if a not in chosen]
    rng.shuffle(pool)
    nat, own = list(addresses[: siege.nat_addresses]), list(addresses[siege.nat_addresses :])
    starts = poisson_starts(rng, lambda _: siege.sign_in_rate, 0.0, duration_s, len(pool))
    journeys: list[Journey] = []
    for account, at in zip(pool, starts, strict=False):
        shared = rng.random() < siege.nat_share or not own
        address = rng.choice(nat) if shared else own.pop()
        path, mistakes = _path(rng)
        looks_up = rng.random() < LOOKUP_SHARE
        journeys.append(Journey(at, address, account, path, mistakes, looks_up, shared))
    k = siege.owner_addresses
    owners = tuple(
        Owner(name, tuple(owner_addresses[i * k : (i + 1) * k])) for i, name in enumerate(targets)
    )
    pages = tuple(n for n in posting if n not in chosen)[:PAGES]
    return PeoplePlan(tuple(journeys), owners, siege.owner_every_s, siege.owner_budget_s, pages)


def made_up_identifiers(
    rng: random.Random, count: int, registered_share: float, untargeted: Sequence[Identity]
) -> tuple[str, ...]:
    """A harvesting list: unregistered emails and phones, with a few real emails among them."""
    real = min(len(untargeted), round(count * registered_share))
    out = [i.email for i in rng.sample(list(untargeted), real)]
    seen = set(out)
    while len(out) < count:  # the made-up space is far larger than any list
        if rng.random() < 0.7:
            name = "".join(rng.choices(SYLLABLES, k=rng.randint(3, 5))) + str(rng.randint(100, 999))
            made = f"{name}@{rng.choice(MADE_UP_DOMAINS)}"
        else:
            made = f"+1555{rng.randrange(UNREGISTERED_PHONES, 10_000_000):07d}"
        if made not in seen:
            seen.add(made)
            out.append(made)
    rng.shuffle(out)
    return tuple(out)


def plan_bots(
    siege: Siege,
    seed: int,
    everyone: Sequence[Identity],
    targets: Sequence[str],
    addresses: Sequence[str],
    window_s: tuple[float, float],
    guess_rate: float,
) -> BotPlan:
    """The botnet: which targets each address tries, and the list it harvests."""
    rng = random.Random(f"{seed}:bots")
    low, high = siege.aim
    aims = tuple(
        tuple(sorted(rng.sample(range(len(targets)), rng.randint(low, high)))) for _ in addresses
    )
    by_name = {i.name: i for i in everyone}
    identifiers = tuple(x for n in targets for x in (by_name[n].email, by_name[n].phone))
    chosen = set(targets)
    untargeted = [i for i in everyone if i.name not in chosen]
    made_up = made_up_identifiers(rng, siege.made_up, siege.made_up_registered, untargeted)
    return BotPlan(
        tuple(addresses),
        tuple(targets),
        aims,
        window_s[0],
        window_s[1],
        guess_rate,
        siege.harvest_rate,
        identifiers,
        made_up,
    )
