"""The lab's scenarios as data: every one is well formed, and shortens without changing shape."""

from __future__ import annotations

import math

import pytest

from seawall.lab.origin_data import FAMOUS
from seawall.lab.scenarios import (
    FLOOD_KINDS,
    LEGIT_CLASSES,
    SCENARIOS,
    SLOW_KINDS,
    Scenario,
    Wave,
    WaveKind,
    class_of,
    get_scenario,
)

NAMES = ("cyxymu-2009", "mirai-2025", "flash-crowd", "slow-drip", "account-siege")


def test_the_five_scenarios_are_there_under_their_own_names() -> None:
    assert sorted(SCENARIOS) == sorted(NAMES)
    for name, s in SCENARIOS.items():
        assert s.name == name
        assert s.description


@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_is_well_formed(name: str) -> None:
    s = SCENARIOS[name]
    assert s.full_duration_s > 0
    assert s.browsers > 0 and s.api_apps > 0 and s.sms_rate > 0 and s.api_interval_s > 0
    assert s.waves
    for w in s.waves:
        assert 0 <= w.start < w.end <= 1
        assert math.isfinite(w.intensity) and w.intensity > 0
        assert w.addresses >= 1
        assert 0 < w.rise <= 1
        if w.kind in FLOOD_KINDS:
            assert w.paths, f"{name}: flood without paths"
            for p in w.paths:
                method, _, path = p.rpartition(" ")
                assert method in ("", "POST") and path.startswith("/")
        if w.kind in SLOW_KINDS:
            assert w.intensity == int(w.intensity)  # connections per address


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("duration", [20.0, 60.0, 300.0])
def test_phases_scale_with_the_duration(name: str, duration: float) -> None:
    s = SCENARIOS[name]
    phases = s.phases(duration)
    assert [n for n, _, _ in phases] == [w.kind.value for w in s.waves]
    for (_, a, b), w in zip(phases, s.waves, strict=True):
        assert a == pytest.approx(w.start * duration)
        assert b == pytest.approx(w.end * duration)
        assert 0 <= a < b <= duration
    # the same shape at any length
    full = s.phases(s.full_duration_s)
    scale = duration / s.full_duration_s
    for (_, a, b), (_, fa, fb) in zip(phases, full, strict=True):
        assert a == pytest.approx(fa * scale)
        assert b == pytest.approx(fb * scale)


def test_attack_start_is_the_first_attack_wave_not_the_crowd() -> None:
    cyxymu = get_scenario("cyxymu-2009")
    assert cyxymu.waves[0].kind is WaveKind.FLASH_CROWD  # starts at 10%, not an attack
    assert cyxymu.attack_start(20.0) == pytest.approx(0.30 * 20)
    assert cyxymu.attack_start(75.0) == pytest.approx(0.30 * 75)
    assert get_scenario("mirai-2025").attack_start(100.0) == pytest.approx(15.0)
    assert get_scenario("slow-drip").attack_start(60.0) == pytest.approx(9.0)
    assert get_scenario("flash-crowd").attack_start(60.0) is None
    assert get_scenario("account-siege").attack_start(100.0) == pytest.approx(15.0)


def test_the_account_siege_is_thousands_of_people_and_a_quiet_botnet() -> None:
    s = get_scenario("account-siege")
    assert s.siege is not None and 90 <= s.full_duration_s <= 120
    (w,) = s.waves
    assert (w.kind, w.addresses, class_of(w.kind)) == (WaveKind.ACCOUNT_SIEGE, 400, "account_siege")
    assert 3 <= w.intensity <= 20  # the whole botnet: a few to 20 guesses a second...
    per_address_per_minute = w.intensity / w.addresses * 60
    assert 1 <= per_address_per_minute <= 5  # ...each address a few a minute
    assert s.siege.targeted == 12
    assert s.siege.sign_in_rate * s.full_duration_s >= 3_000  # distinct people in a full run
    assert s.siege.user_addresses + s.siege.nat_addresses >= 3_000
    assert 300 + s.siege.quiet_accounts - s.siege.targeted >= 3_300  # enough accounts for them
    assert all(x.siege is None for x in SCENARIOS.values() if x.name != "account-siege")


def test_cyxymu_floods_the_famous_blogger() -> None:
    s = get_scenario("cyxymu-2009")
    kinds = [w.kind for w in s.waves]
    assert kinds == [WaveKind.FLASH_CROWD, WaveKind.BOTNET, WaveKind.ADAPTIVE_BOT]
    botnet = s.waves[1]
    assert f"/users/{FAMOUS}" in botnet.paths
    assert any("{post}" in p for p in botnet.paths)  # the runner puts real post ids in
    assert s.waves[2].rotate


def test_get_scenario_names_the_known_ones_when_unknown() -> None:
    assert get_scenario("slow-drip") is SCENARIOS["slow-drip"]
    with pytest.raises(ValueError, match="no scenario 'nope'") as info:
        get_scenario("nope")
    for name in NAMES:
        assert name in str(info.value)


def test_class_of_puts_slow_attacks_together() -> None:
    assert class_of(WaveKind.SLOWLORIS) == "slow"
    assert class_of(WaveKind.SLOW_POST) == "slow"
    assert class_of(WaveKind.SLOW_READ) == "slow"
    assert class_of(WaveKind.BOTNET) == "botnet"
    assert class_of(WaveKind.ADAPTIVE_BOT) == "adaptive_bot"
    assert class_of(WaveKind.FLASH_CROWD) == "flash_crowd"
    assert class_of(WaveKind.FLASH_CROWD) in LEGIT_CLASSES
    assert all(class_of(k) not in LEGIT_CLASSES for k in WaveKind if k is not WaveKind.FLASH_CROWD)


def test_only_the_crowd_is_not_an_attack() -> None:
    for kind in WaveKind:
        paths = ("/",) if kind in FLOOD_KINDS else ()
        assert Wave(kind, 0.1, 0.2, 1.0, 1, paths=paths).is_attack is (
            kind is not WaveKind.FLASH_CROWD
        )


@pytest.mark.parametrize(
    ("start", "end"), [(-0.1, 0.5), (0.5, 0.5), (0.6, 0.5), (0.2, 1.01), (1.0, 1.0)]
)
def test_wave_times_must_be_shares_in_order(start: float, end: float) -> None:
    with pytest.raises(ValueError, match="start < end"):
        Wave(WaveKind.FLASH_CROWD, start, end, 1.0, 10)


@pytest.mark.parametrize(
    ("intensity", "addresses"), [(0.0, 10), (-1.0, 10), (math.nan, 10), (math.inf, 10), (1.0, 0)]
)
def test_wave_needs_positive_intensity_and_addresses(intensity: float, addresses: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Wave(WaveKind.SLOWLORIS, 0.1, 0.5, intensity, addresses)


@pytest.mark.parametrize("kind", sorted(FLOOD_KINDS))
def test_a_flood_needs_paths(kind: WaveKind) -> None:
    with pytest.raises(ValueError, match="needs target paths"):
        Wave(kind, 0.1, 0.5, 2.0, 10)
    assert Wave(kind, 0.1, 0.5, 2.0, 10, paths=("/",)).paths == ("/",)


def test_a_scenario_without_waves_has_no_phases() -> None:
    quiet = Scenario("quiet", "nothing happens", 10.0, 1, 1, 1.0, 1.0)
    assert quiet.phases(10.0) == []
    assert quiet.attack_start(10.0) is None
