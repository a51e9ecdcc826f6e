"""Transcripts of priority admission: tickets in, admit/queue/shed out, in time order."""

from __future__ import annotations

import itertools

import pytest

from seawall.core.admission import (
    Admission,
    AdmissionSettings,
    Decision,
    FixedLimit,
    History,
    ShedReason,
    Ticket,
    Tier,
    tier_for,
)
from seawall.core.facts import ClientClass

_ids = itertools.count(1)


def ticket(
    tier: Tier, prefix: str = "p1", target: str = "/", route: str = "home", at: float = 0.0
) -> Ticket:
    return Ticket(next(_ids), tier, prefix, target, route, at)


def gate(limit: int = 4, **kw: object) -> Admission:
    return Admission(AdmissionSettings(**kw), FixedLimit(limit))  # type: ignore[arg-type]


def test_admits_until_the_limit_then_queues_and_release_admits_in_tier_order() -> None:
    a = gate(limit=4, reserve=0.0, target_share=1.0)
    held = [ticket(Tier.UNKNOWN, target=f"/p{i}") for i in range(4)]
    assert [a.offer(t, 0.0).decision for t in held] == [Decision.ADMIT] * 4
    anon, user, app = ticket(Tier.UNKNOWN), ticket(Tier.USER), ticket(Tier.TRUSTED)
    assert [a.offer(t, 0.1).decision for t in (anon, user, app)] == [Decision.QUEUE] * 3
    assert a.release(held[0], 0.2) == ([app], [])
    assert a.release(held[1], 0.3) == ([user], [])
    assert a.release(held[2], 0.4) == ([anon], [])
    assert a.inflight == 4 and a.queued == 0


def test_the_reserve_keeps_slots_for_trusted_clients_under_any_anonymous_load() -> None:
    a = gate(limit=4, reserve=0.25, target_share=1.0, max_queue=10)
    anon = [ticket(Tier.UNKNOWN, target=f"/p{i}") for i in range(20)]
    got = [a.offer(t, 0.0).decision for t in anon]
    assert got[:3] == [Decision.ADMIT] * 3  # 4 - ceil(4 * 0.25)
    assert got[3:13] == [Decision.QUEUE] * 10 and got[13:] == [Decision.SHED] * 7
    app = ticket(Tier.TRUSTED)
    assert a.offer(app, 0.0).decision is Decision.ADMIT  # straight past the anonymous queue
    assert a.inflight == 4 and a.inflight_trusted == 1


def test_a_full_queue_evicts_the_newest_of_the_lowest_tier_for_a_better_one() -> None:
    a = gate(limit=1, reserve=0.0, max_queue=2, target_share=1.0)
    a.offer(ticket(Tier.UNKNOWN), 0.0)
    old, new = ticket(Tier.UNKNOWN), ticket(Tier.UNKNOWN)
    a.offer(old, 0.0)
    a.offer(new, 0.0)
    user = ticket(Tier.USER)
    offer = a.offer(user, 0.1)
    assert (offer.decision, offer.evicted) == (Decision.QUEUE, new)
    worse = a.offer(ticket(Tier.UNKNOWN), 0.2)
    assert (worse.decision, worse.reason) == (Decision.SHED, ShedReason.QUEUE_FULL)
    assert a.shed == {
        (Tier.UNKNOWN, ShedReason.EVICTED): 1,
        (Tier.UNKNOWN, ShedReason.QUEUE_FULL): 1,
    }


def test_within_a_tier_prefixes_take_turns() -> None:
    a = gate(limit=1, reserve=0.0, target_share=1.0)
    first = ticket(Tier.UNKNOWN)
    a.offer(first, 0.0)
    flood = [ticket(Tier.UNKNOWN, prefix="bots", target=f"/b{i}") for i in range(5)]
    for t in flood:
        a.offer(t, 0.0)
    human = ticket(Tier.UNKNOWN, prefix="home")
    a.offer(human, 0.1)
    admitted, _ = a.release(first, 0.2)
    assert admitted == [flood[0]]
    admitted, _ = a.release(flood[0], 0.3)
    assert admitted == [human]  # its prefix's turn, though five bots came first


def test_deadlines_by_tier_expire_in_arrival_order() -> None:
    a = gate(limit=1, reserve=0.0, target_share=1.0, deadlines_s=(5.0, 3.0, 2.0, 1.0))
    a.offer(ticket(Tier.TRUSTED), 0.0)
    anon, user, app = (
        ticket(Tier.UNKNOWN, at=0.0),
        ticket(Tier.USER, at=0.0),
        ticket(Tier.TRUSTED, at=0.0),
    )
    for t in (anon, user, app):
        a.offer(t, 0.0)
    assert a.expire(0.9) == []
    assert a.expire(1.01) == [anon]
    assert a.expire(3.01) == [user]
    assert a.expire(5.01) == [app]
    assert a.queued == 0


def test_a_cancelled_ticket_is_never_admitted() -> None:
    a = gate(limit=1, reserve=0.0, target_share=1.0)
    busy, gone, next_ = ticket(Tier.UNKNOWN), ticket(Tier.UNKNOWN), ticket(Tier.UNKNOWN)
    a.offer(busy, 0.0)
    a.offer(gone, 0.0)
    a.offer(next_, 0.0)
    assert a.cancel(gone) and not a.cancel(gone)
    assert a.release(busy, 0.1) == ([next_], [])


def test_a_hot_target_is_held_to_its_share_only_while_the_origin_is_stressed() -> None:
    a = gate(limit=8, reserve=0.0, target_share=0.25, stressed_at=0.5)
    hot = [ticket(Tier.UNKNOWN, target="/users/cyxymu") for _ in range(4)]
    assert [a.offer(t, 0.0).decision for t in hot] == [Decision.ADMIT] * 4  # calm: no bulkhead
    third = ticket(Tier.UNKNOWN, target="/users/cyxymu")
    offer = a.offer(third, 0.0)  # 4 in flight = stressed; the target holds 4 > 2
    assert (offer.decision, offer.reason) == (Decision.SHED, ShedReason.BULKHEAD)
    other = ticket(Tier.UNKNOWN, target="/users/someone")
    assert a.offer(other, 0.0).decision is Decision.ADMIT  # the rest of the site is untouched
    app = ticket(Tier.TRUSTED, target="/users/cyxymu")
    assert a.offer(app, 0.0).decision is Decision.ADMIT  # trusted clients are never bulkheaded
    assert a.hottest(1) == [("/users/cyxymu", 5)]


def test_route_shares_cap_a_route_group() -> None:
    a = gate(
        limit=10, reserve=0.0, target_share=1.0, stressed_at=0.1, route_shares=(("search", 0.2),)
    )
    got = [
        a.offer(ticket(Tier.USER, target=f"/s{i}", route="search"), 0.0).decision for i in range(4)
    ]
    assert got == [Decision.ADMIT, Decision.ADMIT, Decision.SHED, Decision.SHED]
    assert a.offer(ticket(Tier.USER, route="home"), 0.0).decision is Decision.ADMIT


def test_history_makes_an_address_known_only_after_time_and_successes() -> None:
    h = History(cap=2)
    for t in (0.0, 1.0, 2.0):
        h.note("198.51.100.7", True, t)
    assert not h.is_known("198.51.100.7", 20.0, after_s=30.0, min_ok=3)
    assert h.is_known("198.51.100.7", 31.0, after_s=30.0, min_ok=3)
    h.note("203.0.113.1", False, 0.0)
    h.note("203.0.113.2", True, 0.0)  # the cap pushes out the least recently seen
    assert "198.51.100.7" not in h.seen and len(h.seen) == 2


def test_tiers_follow_the_verified_class() -> None:
    assert tier_for(ClientClass.API_APP, False) is Tier.TRUSTED
    assert tier_for(ClientClass.GATEWAY, False) is Tier.TRUSTED
    assert tier_for(ClientClass.USER, False) is Tier.USER
    assert tier_for(ClientClass.ANONYMOUS, True) is Tier.KNOWN
    assert tier_for(ClientClass.ANONYMOUS, False) is Tier.UNKNOWN


@pytest.mark.parametrize(
    "kw",
    [
        {"max_queue": -1},
        {"deadlines_s": (1.0, 1.0, 1.0)},
        {"reserve": 1.0},
        {"target_share": 1.5},
        {"route_shares": (("x", 0.0),)},
        {"good_after_s": -1.0},
    ],
)
def test_bad_settings_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AdmissionSettings(**kw)  # type: ignore[arg-type]


def test_with_a_reserve_a_hot_target_still_meets_its_bulkhead() -> None:
    # anonymous clients can never fill the reserve, so stress counts against their share
    a = gate(limit=8, reserve=0.25, target_share=0.25, stressed_at=0.8)
    hot = [ticket(Tier.UNKNOWN, target="/users/cyxymu") for _ in range(6)]
    decisions = [a.offer(t, 0.0).decision for t in hot]
    assert decisions[:2] == [Decision.ADMIT, Decision.ADMIT]
    assert Decision.SHED in decisions
    other = ticket(Tier.UNKNOWN, target="/users/other")
    assert a.offer(other, 0.0).decision is Decision.ADMIT
