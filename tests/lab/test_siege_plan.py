"""Who does what in an account siege: targets, people's habits, owners, the botnet's aims."""

from __future__ import annotations

import random
from collections import Counter
from functools import cache

import pytest

from seawall.lab.accounts_data import FAMOUS, identities
from seawall.lab.scenarios import Siege, get_scenario
from seawall.lab.siege_plan import (
    PATHS,
    Path,
    PeoplePlan,
    made_up_identifiers,
    pick_targets,
    plan_bots,
    plan_people,
)

SIEGE = get_scenario("account-siege").siege
assert SIEGE is not None
EVERYONE = identities(7, 300, 3_900)
POSTING = tuple(i.name for i in EVERYONE[:300])
NAMES = [i.name for i in EVERYONE]
USERS = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(SIEGE.nat_addresses + 3_700)]
OWNERS = [f"203.0.113.{i + 1}" for i in range(24)]


@cache
def people(seed: int = 7, duration: float = 100.0) -> PeoplePlan:
    targets = pick_targets(seed, POSTING, 12)
    return plan_people(SIEGE, seed, NAMES, POSTING, USERS, OWNERS, targets, duration)


def test_targets_are_twelve_posting_users_never_the_famous_one() -> None:
    targets = pick_targets(7, POSTING, 12)
    assert len(set(targets)) == 12 and set(targets) <= set(POSTING) and FAMOUS not in targets
    assert pick_targets(7, POSTING, 12) == targets
    assert pick_targets(8, POSTING, 12) != targets
    assert pick_targets(7, [FAMOUS, "a", "b"], 2) == ("a", "b")
    with pytest.raises(ValueError, match="3 targets asked for, 2 posting users"):
        pick_targets(7, [FAMOUS, "a", "b"], 3)


def test_thousands_of_distinct_people_sign_in_over_a_full_run() -> None:
    plan, targets = people(), set(pick_targets(7, POSTING, 12))
    accounts = [j.account for j in plan.journeys]
    assert 3_300 <= len(accounts) <= 3_900  # 36 a second for 100 s, a Poisson count
    assert len(set(accounts)) == len(accounts)  # each a different person
    assert not set(accounts) & targets
    times = [j.at_s for j in plan.journeys]
    assert times == sorted(times) and times[0] >= 0 and times[-1] < 100.0
    # a short run is the same shape, shorter
    assert 0.15 < len(people(7, 20.0).journeys) / len(accounts) < 0.25


def test_people_come_mostly_from_their_own_addresses_some_through_nat() -> None:
    plan = people()
    nat = set(USERS[: SIEGE.nat_addresses])
    shared = [j for j in plan.journeys if j.shared]
    assert {j.address for j in shared} <= nat
    assert 0.05 < len(shared) / len(plan.journeys) < 0.11
    own = [j.address for j in plan.journeys if not j.shared]
    assert len(set(own)) == len(own) and not set(own) & nat
    per_nat = Counter(j.address for j in shared)
    assert max(per_nat.values()) >= 5  # several people behind one address


def test_habits_follow_the_mix() -> None:
    plan = people()
    n = len(plan.journeys)
    by_path = Counter(j.path for j in plan.journeys)
    for path, share in PATHS:
        assert by_path[path] / n == pytest.approx(share, abs=0.02), path
    for j in plan.journeys:
        low, high = {Path.MISTYPE: (1, 2), Path.FORGOT: (3, 5)}.get(j.path, (0, 0))
        assert low <= j.mistakes <= high
    lookups = sum(j.looks_up for j in plan.journeys) / n
    assert 0.03 < lookups < 0.07


def test_each_owner_has_a_home_and_a_phone() -> None:
    plan, targets = people(), pick_targets(7, POSTING, 12)
    assert [o.account for o in plan.owners] == list(targets)
    addresses = [a for o in plan.owners for a in o.addresses]
    assert all(len(o.addresses) == 2 for o in plan.owners)
    assert sorted(addresses) == sorted(OWNERS)
    assert (plan.every_s, plan.budget_s) == (SIEGE.owner_every_s, SIEGE.owner_budget_s)
    assert plan.pages and not set(plan.pages) & set(targets)


def test_the_botnet_aims_at_a_few_targets_per_address_and_harvests_their_details() -> None:
    targets = pick_targets(7, POSTING, 12)
    bots = [f"192.0.2.{i}" for i in range(1, 201)]
    plan = plan_bots(SIEGE, 7, EVERYONE, targets, bots, (15.0, 95.0), 14.0)
    assert plan.addresses == tuple(bots) and plan.targets == targets
    assert (plan.start_s, plan.end_s, plan.guess_rate) == (15.0, 95.0, 14.0)
    assert all(3 <= len(a) <= 6 and len(set(a)) == len(a) for a in plan.aims)
    assert {i for a in plan.aims for i in a} == set(range(12))  # every target is tried
    by_name = {i.name: i for i in EVERYONE}
    assert set(plan.identifiers) == {
        x for n in targets for x in (by_name[n].email, by_name[n].phone)
    }
    assert len(plan.made_up) == SIEGE.made_up


def test_the_harvest_list_is_mostly_unregistered() -> None:
    untargeted = EVERYONE[20:]
    listed = made_up_identifiers(random.Random(1), 400, 0.05, untargeted)
    registered = {x for i in EVERYONE for x in (i.email, i.phone)}
    real = [x for x in listed if x in registered]
    assert len(listed) == len(set(listed)) == 400
    assert len(real) == 20 and set(real) <= {i.email for i in untargeted}
    phones = [x for x in listed if x.startswith("+")]
    assert 60 < len(phones) < 180  # about 30% of the made-up ones
    assert made_up_identifiers(random.Random(1), 400, 0.05, untargeted) == listed


def test_a_siege_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rates must be positive"):
        Siege(0.0, 10, 10, 1, 0.1)
    with pytest.raises(ValueError, match="nat_share"):
        Siege(1.0, 10, 10, 1, 1.0)
    with pytest.raises(ValueError, match="pools and targets must be positive"):
        Siege(1.0, 10, 0, 1, 0.1)
    with pytest.raises(ValueError, match="aim"):
        Siege(1.0, 10, 10, 1, 0.1, targeted=2, aim=(3, 6))
    with pytest.raises(ValueError, match="breached"):
        Siege(1.0, 10, 10, 1, 0.1, targeted=2, aim=(1, 2), breached=3)
    with pytest.raises(ValueError, match="breach_share"):
        Siege(1.0, 10, 10, 1, 0.1, breach_share=1.5)
