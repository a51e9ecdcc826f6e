"""Lab client addresses: seeded, distinct, real, from the right networks, and labelled."""

from __future__ import annotations

import ipaddress
import random
import time

import pytest

from seawall.geo.lookup import BundledGeo
from seawall.geo.ranges import held_segments
from seawall.lab.addresses import (
    HOSTING,
    IOT,
    MIXES,
    ORIGINS,
    WESTERN_USERS,
    WORLD,
    AddressPlan,
    LabelConflict,
    Labels,
    Mix,
    Origin,
    draw,
)

GEO = BundledGeo()


def test_the_table_is_reviewed_and_real() -> None:
    assert len(ORIGINS) == 191
    assert len({o.country for o in ORIGINS}) == 152
    assert len({o.asn for o in ORIGINS}) == len(ORIGINS)
    assert Origin("US", 7922, "residential") in ORIGINS
    assert Origin("GE", 35805, "residential") in ORIGINS
    assert Origin("DE", 24940, "hosting") in ORIGINS
    held = held_segments(o.asn for o in ORIGINS)
    assert all(held[o.asn].size > 0 for o in ORIGINS)


def _space_sample(segments: tuple[tuple[int, int], ...], rng: random.Random) -> list[int]:
    """Addresses drawn by space, not by segment: many networks have small pieces abroad."""
    weights = [end - start for start, end in segments]
    chosen = rng.choices(segments, weights=weights, k=40)
    return [rng.randrange(start, end) for start, end in chosen]


def test_most_of_each_networks_space_is_in_its_country() -> None:
    held = held_segments(o.asn for o in ORIGINS)
    rng = random.Random(11)
    for origin in ORIGINS:
        sample = _space_sample(held[origin.asn].segments, rng)
        home = sum(
            GEO.lookup(str(ipaddress.IPv4Address(v))).country == origin.country for v in sample
        )
        assert home >= 24, (origin, home)


def test_draws_are_seeded_distinct_and_global() -> None:
    first = draw(1, 5000)
    assert first == draw(1, 5000)
    assert first != draw(2, 5000)
    assert len(set(first)) == 5000
    for text in first:
        address = ipaddress.IPv4Address(text)
        assert address.is_global
        assert int(address) & 0xFF not in (0, 0xFF)


def test_each_address_belongs_to_the_asn_it_was_drawn_from() -> None:
    drawn = AddressPlan(5).draw(2000, WORLD) + AddressPlan(6).draw(500, IOT)
    assert all(GEO.lookup(d.address).asn == d.origin.asn for d in drawn)
    assert all(GEO.lookup(d.address).country is not None for d in drawn)


def test_exclusions_keep_sets_apart_while_countries_overlap() -> None:
    users = draw(3, 4000, WORLD)
    attack = draw(3, 4000, IOT, exclude=users)
    assert not set(users) & set(attack)
    countries = {GEO.lookup(a).country for a in users} & {GEO.lookup(a).country for a in attack}
    assert {"BR", "CN", "IN", "VN"} <= countries


def test_a_plan_never_repeats_across_draws() -> None:
    plan = AddressPlan(9)
    a = plan.draw(1000, WESTERN_USERS)
    b = plan.draw(1000, WESTERN_USERS)
    assert not {d.address for d in a} & {d.address for d in b}
    assert {d.origin.country for d in a} <= set(dict(WESTERN_USERS.weights))


def test_mixes() -> None:
    assert set(MIXES) == {"world", "iot", "western_users", "hosting"}
    assert len({o.country for o, _ in WORLD.origins()}) >= 110
    assert {o.kind for o, _ in IOT.origins()} == {"residential", "mobile", "iot"}
    assert {o.kind for o, _ in HOSTING.origins()} == {"hosting"}
    world = draw(4, 20000)
    assert len({GEO.lookup(a).country for a in world}) >= 100
    with pytest.raises(ValueError, match="unknown kinds"):
        Mix.of("x", {"US": 1}, ("satellite",))
    with pytest.raises(ValueError, match="no origin"):
        Mix.of("x", {"AQ": 1}).origins()
    with pytest.raises(ValueError):
        draw(1, -1)


def test_drawing_twenty_thousand_is_fast() -> None:
    draw(0, 10)
    started = time.perf_counter()
    assert len(draw(8, 20000)) == 20000
    assert time.perf_counter() - started < 2.0


def test_labels() -> None:
    labels = Labels()
    labels.add(["81.2.69.142", "1.1.1.1"], "user")
    labels.add(["1.1.1.1"], "user")
    labels.add(["8.8.8.8"], "attack")
    with pytest.raises(LabelConflict, match=r"1\.1\.1\.1 is already 'user', not 'attack'"):
        labels.add(["9.9.9.9", "1.1.1.1"], "attack")
    assert labels.klass_of("9.9.9.9") is None
    assert labels.klass_of("8.8.8.8") == "attack"
    assert len(labels) == 3
    assert labels.by_class() == {"attack": 1, "user": 2}
    assert labels.countries(GEO) == {"attack": {"US": 1}, "user": {"GB": 1, "AU": 1}}
