"""From a scenario to labelled addresses and traffic plans, and from reports to the scorecard."""

from __future__ import annotations

import random
from collections import Counter
from functools import cache

import pytest

from seawall.lab import plan as lab_plan
from seawall.lab.addresses import Drawn, Origin
from seawall.lab.origin_data import FAMOUS, generate
from seawall.lab.plan import (
    SITE_SEED,
    DrawnRun,
    draw_addresses,
    result,
    siege_accounts,
    worker_plans,
)
from seawall.lab.runner import LiveView, RunOptions, _Collect
from seawall.lab.scenarios import (
    FLOOD_KINDS,
    LEGIT_CLASSES,
    SCENARIOS,
    SLOW_KINDS,
    WaveKind,
    class_of,
    get_scenario,
)
from seawall.lab.scorecard import Attempt, ClientOutcome, Scorecard, validate_scorecard
from seawall.lab.wire import Presentation, Target

NAMES = tuple(SCENARIOS)
TARGET = Target("127.0.0.1", 9, Presentation.PROXY_V2)
CAPACITY = 400.0
T0 = 1_000_000.0


@cache
def drawn(name: str, seed: int = 7) -> DrawnRun:
    """Drawing reads the bundled ranges once per process; each scenario is drawn once."""
    return draw_addresses(SCENARIOS[name], seed)


def _cyxymu_post_ids() -> set[int]:
    data = generate(SITE_SEED)
    famous = next(u.id for u in data.users if u.name == FAMOUS)
    return {p.id for p in data.posts if p.user_id == famous}


# --- draw_addresses -----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_drawn_address_is_labelled_once_with_its_class(name: str) -> None:
    run = drawn(name)
    everything = [d.address for ds in run.by_class.values() for d in ds]
    assert len(everything) == len(set(everything)), "an address was drawn twice"
    assert len(run.labels) == len(everything)
    for klass, ds in run.by_class.items():
        for d in ds:
            assert run.labels.klass_of(d.address) == klass
    assert run.labels.by_class() == {k: len(v) for k, v in sorted(run.by_class.items())}


@pytest.mark.parametrize("name", NAMES)
def test_classes_are_disjoint_and_waves_sized_as_declared(name: str) -> None:
    s, run = SCENARIOS[name], drawn(name)
    sets = {k: {d.address for d in ds} for k, ds in run.by_class.items()}
    for a, mine in sets.items():
        for b, theirs in sets.items():
            if a < b:
                assert not mine & theirs, f"{a} and {b} share addresses"
    assert len(run.browsers) == s.browsers
    assert len(run.api_apps) == s.api_apps
    assert len(run.by_class["sms_gateway"]) == 1
    assert run.sms == run.by_class["sms_gateway"][0].address
    assert sorted(run.waves) == list(range(len(s.waves)))
    for i, w in enumerate(s.waves):
        pool = run.waves[i]
        assert len(pool) == len(set(pool)) == w.addresses
        assert set(pool) <= sets[class_of(w.kind)]
    # waves of the same class (mirai's two botnet waves) have pools of their own
    per_class = Counter[str]()
    for w in s.waves:
        per_class[class_of(w.kind)] += w.addresses
    for klass, n in per_class.items():
        assert len(run.by_class[klass]) == n


@pytest.mark.parametrize("name", [n for n in NAMES if SCENARIOS[n].attack_start(1.0) is not None])
def test_legitimate_and_attack_countries_overlap(name: str) -> None:
    s, run = SCENARIOS[name], drawn(name)
    attack = {class_of(w.kind) for w in s.waves if w.is_attack}
    legit = [k for k in LEGIT_CLASSES if k in run.by_class and k not in ("api_app", "sms_gateway")]
    legit_countries = {d.origin.country for k in legit for d in run.by_class[k]}
    for klass in attack:
        countries = {d.origin.country for d in run.by_class[klass]}
        assert countries & legit_countries, f"{name}: {klass} shares no country with users"
        if len(run.by_class[klass]) >= 1000:
            assert len(countries) >= 10  # a botnet is spread over many countries


def test_the_same_seed_draws_the_same_addresses_and_another_does_not() -> None:
    again = draw_addresses(get_scenario("slow-drip"), 7)
    first = drawn("slow-drip")
    assert {k: [d.address for d in v] for k, v in again.by_class.items()} == {
        k: [d.address for d in v] for k, v in first.by_class.items()
    }
    assert again.waves == first.waves
    other = draw_addresses(get_scenario("slow-drip"), 8)
    assert other.browsers != first.browsers


# --- worker_plans ---------------------------------------------------------------------------


def plans_for(name: str, processes: int = 2, duration: float = 20.0) -> list[lab_plan.WorkerPlan]:
    opts = RunOptions(get_scenario(name), "seawall", duration, 7, processes)
    return worker_plans(opts, drawn(name), TARGET, CAPACITY, T0)


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_flood_rates_split_over_processes_add_up_to_the_wave(processes: int) -> None:
    s, run = get_scenario("cyxymu-2009"), drawn("cyxymu-2009")
    plans = plans_for("cyxymu-2009", processes)
    assert [p.index for p in plans] == list(range(processes + 1))
    assert plans[0].floods == ()  # process 0 runs the legitimate clients
    assert all(p.legit.browsers == () and p.legit.sms is None for p in plans[1:])
    floods = [i for i, w in enumerate(s.waves) if w.kind in FLOOD_KINDS]
    for n, i in enumerate(floods):
        w = s.waves[i]
        specs = [p.floods[n] for p in plans[1:]]
        assert {f.klass for f in specs} == {class_of(w.kind)}
        assert sum(f.rate for f in specs) == pytest.approx(w.intensity * CAPACITY)
        assert all(f.start_s == pytest.approx(w.start * 20) for f in specs)
        assert all(f.end_s == pytest.approx(w.end * 20) for f in specs)
        assert all(f.rotate is w.rotate for f in specs)
        slices = [set(f.addresses) for f in specs]
        assert sum(len(x) for x in slices) == len(run.waves[i])  # disjoint ...
        assert set().union(*slices) == set(run.waves[i])  # ... and covering
    seeds = [p.seed for p in plans]
    assert len(set(seeds)) == len(seeds)
    assert all(p.target == TARGET and p.t0 == T0 and p.duration_s == 20.0 for p in plans)


def test_flood_paths_name_real_posts_of_cyxymu() -> None:
    plans = plans_for("cyxymu-2009")
    botnet = plans[1].floods[0]
    assert botnet.klass == "botnet"
    assert all("{" not in p for f in plans[1].floods for p in f.paths)
    posts = [p for p in botnet.paths if p.startswith(f"/users/{FAMOUS}/posts/")]
    assert len(posts) == 5
    ids = {int(p.rsplit("/", 1)[1]) for p in posts}
    assert len(ids) == 5
    assert ids <= _cyxymu_post_ids()
    assert f"/users/{FAMOUS}" in botnet.paths
    assert plans[1].floods[1].paths == plans[2].floods[1].paths


def test_crowd_arrivals_fall_inside_their_wave_from_its_own_pool() -> None:
    s, run = get_scenario("flash-crowd"), drawn("flash-crowd")
    (w,) = s.waves
    for duration in (20.0, 60.0):
        (legit,) = [p.legit for p in plans_for("flash-crowd", duration=duration)]
        assert legit.crowd
        offsets = [t for _, t in legit.crowd]
        assert all(w.start * duration <= t < w.end * duration for t in offsets)
        assert offsets == sorted(offsets)
        addresses = [a for a, _ in legit.crowd]
        assert len(addresses) == len(set(addresses))
        assert set(addresses) <= set(run.waves[0])
    # about intensity arrivals/s once risen; bounded by the pool
    assert len(legit.crowd) <= w.addresses
    assert len(legit.crowd) > w.intensity * (w.end - w.start) * 60 * 0.5


def test_legit_plan_carries_every_legit_client() -> None:
    s, run = get_scenario("cyxymu-2009"), drawn("cyxymu-2009")
    p0 = plans_for("cyxymu-2009")[0]
    assert p0.legit.browsers == run.browsers
    assert tuple(a for a, _ in p0.legit.api_apps) == run.api_apps
    assert all(token.count(".") == 2 for _, token in p0.legit.api_apps)  # a JWT each
    assert p0.legit.sms == (run.sms, s.sms_rate)
    assert p0.legit.api_interval_s == s.api_interval_s
    assert p0.site_seed == SITE_SEED


@pytest.mark.parametrize("name", NAMES)
def test_slow_plans_only_for_slow_drip(name: str) -> None:
    s, run = SCENARIOS[name], drawn(name)
    plans = plans_for(name)
    assert all(p.slow == () for p in plans[1:])
    slow_waves = [(i, w) for i, w in enumerate(s.waves) if w.kind in SLOW_KINDS]
    assert bool(plans[0].slow) is (name == "slow-drip")
    assert len(plans[0].slow) == len(slow_waves)
    for sp, (i, w) in zip(plans[0].slow, slow_waves, strict=True):
        assert sp.kind.value == w.kind.value
        assert sp.addresses == run.waves[i]
        assert sp.per_address == int(w.intensity)
        assert (sp.start_s, sp.end_s) == pytest.approx((w.start * 20, w.end * 20))
    if not any(w.kind in FLOOD_KINDS for w in s.waves):
        siege_bots = any(w.kind is WaveKind.ACCOUNT_SIEGE for w in s.waves)
        assert len(plans) == 1 + siege_bots  # no flood processes without floods


def test_an_account_siege_has_its_people_its_owners_and_a_botnet() -> None:
    s, run = get_scenario("account-siege"), drawn("account-siege")
    assert s.siege is not None
    users, owners = (
        {d.address for d in run.by_class[k]} for k in ("account_user", "account_owner")
    )
    assert len(users) == s.siege.user_addresses + s.siege.nat_addresses
    assert len(owners) == s.siege.targeted * s.siege.owner_addresses
    plans = plans_for("account-siege")
    assert [p.index for p in plans] == [0, 1]
    people, bots = plans[0].people, plans[1].bots
    assert people is not None and bots is not None
    assert plans[0].bots is None and plans[1].people is None and plans[1].legit.browsers == ()
    assert {j.address for j in people.journeys} <= users
    assert {a for o in people.owners for a in o.addresses} == owners
    assert 500 < len(people.journeys) < 900  # about 36 a second for 20 s
    targets, everyone = siege_accounts(s, 7)
    assert bots.targets == targets == tuple(o.account for o in people.owners)
    assert len(everyone) == len(generate(SITE_SEED).users) + s.siege.quiet_accounts
    (w,) = s.waves
    assert bots.addresses == run.waves[0] and bots.guess_rate == w.intensity
    assert (bots.start_s, bots.end_s) == pytest.approx((w.start * 20, w.end * 20))
    assert siege_accounts(get_scenario("flash-crowd"), 7) == ((), ())
    # the same seed picks the same targets; the plans of scenarios without a siege have none
    assert siege_accounts(s, 7) == (targets, everyone) and siege_accounts(s, 8)[0] != targets
    assert all(p.people is None and p.bots is None for p in plans_for("cyxymu-2009"))


# --- result -----------------------------------------------------------------------------------


def _run_by_hand() -> DrawnRun:
    run = DrawnRun()
    br, iot = Origin("BR", 28573, "residential"), Origin("VN", 7552, "iot")
    run.add("browser", (Drawn("198.51.100.1", br), Drawn("198.51.100.2", iot)))
    run.add("api_app", (Drawn("198.51.100.3", Origin("DE", 24940, "hosting")),))
    run.add("sms_gateway", (Drawn("198.51.100.4", Origin("DE", 24940, "hosting")),))
    run.waves[0] = run.add("flash_crowd", (Drawn("198.51.100.5", br),))
    run.waves[1] = run.add("botnet", (Drawn("203.0.113.1", iot), Drawn("203.0.113.2", br)))
    run.waves[2] = run.add("adaptive_bot", (Drawn("203.0.113.3", iot),))
    return run


def _attempt(t: float, klass: str, outcome: ClientOutcome, ms: float) -> Attempt:
    return Attempt(t, klass, True, outcome, ms / 1000)


def _collect_by_hand(run: DrawnRun) -> _Collect:
    c = _Collect(Scorecard(random.Random(1)), run.labels, LiveView())
    ok, err = ClientOutcome.SUCCEEDED, ClientOutcome.ERROR
    c.take(
        (
            "attempts",
            0,
            [
                _attempt(1.2, "browser", ok, 40),
                _attempt(6.5, "browser", ok, 60),
                _attempt(7.1, "browser", err, 900),
                _attempt(3.0, "flash_crowd", ok, 30),
            ],
        )
    )
    c.take(("attempts", 0, [_attempt(9.9, "api_app", ClientOutcome.TIMEOUT, 10_000)]))
    flood = {"sessions": 30, "connect_errors": 2, "dropped": 1, "shortfall": 3, "done": True}
    c.take(
        (
            "flood",
            1,
            (
                "botnet",
                flood | {"sent_by_second": {6: 100, 7: 100}, "statuses": {200: 50, 503: 10}},
            ),
        )
    )
    c.take(
        (
            "flood",
            2,
            ("botnet", flood | {"sent_by_second": {7: 50, 8: 50}, "statuses": {200: 20}}),
        )
    )
    c.take(
        (
            "flood",
            2,
            ("adaptive_bot", flood | {"sent_by_second": {16: 40}, "statuses": {403: 40}}),
        )
    )
    c.take(("error", 2, "Traceback: boom"))
    c.take(("done", 1, None))
    c.reached["botnet"].update({6: 10, 7: 5})
    c.reached["adaptive_bot"].update({16: 1})
    c.reached["browser"].update({1: 1, 6: 2})
    c.reached["flash_crowd"].update({3: 4})
    c.reached["unlabelled"].update({2: 7})
    c.card.add_origin_sample(1.0, 100, 8, 16, 0)
    c.card.add_origin_sample(2.0, 300, 16, 16, 5)
    return c


def test_result_adds_up_what_came_back() -> None:
    opts = RunOptions(get_scenario("cyxymu-2009"), "seawall", 20.0)
    run = _run_by_hand()
    c = _collect_by_hand(run)
    res = result(opts, c.card, c, run, 421.37)

    assert validate_scorecard(res) == []
    assert (res["scenario"], res["protection"], res["seed"]) == ("cyxymu-2009", "seawall", 7)
    assert res["duration_s"] == 20.0 and res["origin_capacity_rps"] == 421.4
    a = res["attack"]
    assert a["sent"] == 340 and a["reached_origin"] == 16
    assert a["leak_rate"] == pytest.approx(16 / 340)
    assert a["by_class"] == {
        "adaptive_bot": {
            "sent": 40,
            "reached_origin": 1,
            "statuses": {"403": 40},
            "shortfall": 3,
            "cut_short": 0,
            "dropped": 1,
            "connect_errors": 2,
        },
        "botnet": {
            "sent": 300,
            "reached_origin": 15,
            "statuses": {"200": 70, "503": 10},
            "shortfall": 6,
            "cut_short": 0,
            "dropped": 2,
            "connect_errors": 4,
        },
    }
    # attack starts at 6 s; only second 6 leaked (10 of 100), so mitigated at 7 s
    assert res["time_to_mitigate_s"] == 1.0
    classes = res["classes"]
    assert sorted(classes) == ["api_app", "browser", "flash_crowd"]
    assert classes["browser"]["sent"] == 3 and classes["browser"]["succeeded"] == 2
    assert classes["browser"]["errors"] == 1
    assert classes["browser"]["p50_ms"] == pytest.approx(40.0)
    assert classes["browser"]["origin_requests"] == 3
    assert classes["flash_crowd"]["origin_requests"] == 4
    assert classes["api_app"]["origin_requests"] == 0
    assert classes["api_app"]["timeouts"] == 1
    assert res["origin"] == {"requests": 300, "peak_utilization": 1.0, "errors": 5}
    assert res["unlabelled_at_origin"] == 7
    assert res["errors"] == ["Traceback: boom"]
    assert res["slow"] == {}
    rows = {r["t"]: r for r in res["timeline"]}
    assert len(rows) == 20
    assert rows[7]["attack_sent"] == 150 and rows[7]["botnet_sent"] == 150
    assert rows[6]["attack_reached_origin"] == 10
    assert rows[16]["adaptive_bot_sent"] == 40
    assert rows[6]["browser_ok"] == 1 and rows[7]["browser_fail"] == 1
    assert res["phases"] == [
        {"name": "flash_crowd", "start_s": pytest.approx(2.0), "end_s": pytest.approx(9.0)},
        {"name": "botnet", "start_s": pytest.approx(6.0), "end_s": pytest.approx(16.0)},
        {"name": "adaptive_bot", "start_s": pytest.approx(16.0), "end_s": pytest.approx(19.0)},
    ]
    geo = res["addresses"]
    assert geo["botnet"] == {
        "addresses": 2,
        "countries": 2,
        "asns": 2,
        "top_countries": {"VN": 1, "BR": 1},
    }
    assert geo["browser"]["countries"] == 2 and geo["sms_gateway"]["addresses"] == 1


def test_result_leaves_crowd_arrivals_out_of_the_attack() -> None:
    """The flash crowd reached the origin but is not an attack: leak counts floods only."""
    opts = RunOptions(get_scenario("cyxymu-2009"), "none", 20.0)
    run = _run_by_hand()
    c = _Collect(Scorecard(random.Random(1)), run.labels, LiveView())
    c.reached["flash_crowd"].update({3: 50})
    res = result(opts, c.card, c, run, 400.0)
    assert res["attack"]["sent"] == 0 and res["attack"]["reached_origin"] == 0
    assert res["attack"]["by_class"] == {}
    assert res["time_to_mitigate_s"] == 0.0
    assert validate_scorecard(res) == []


def test_result_merges_slow_attack_reports() -> None:
    opts = RunOptions(get_scenario("slow-drip"), "nginx", 20.0)
    run = _run_by_hand()
    c = _Collect(Scorecard(random.Random(1)), run.labels, LiveView())
    c.take(("slow", 0, ("slowloris", {"opened": 10, "held_seconds": 1.5, "answered": {408: 2}})))
    c.take(("slow", 0, ("slowloris", {"opened": 5, "held_seconds": 2.0, "answered": {"408": 1}})))
    c.take(("slow", 0, ("slow_read", {"opened": 3, "held_seconds": 0.5, "answered": {200: 3}})))
    c.reached["slow"].update({4: 6, 5: 2})
    res = result(opts, c.card, c, run, 400.0)
    assert res["slow"] == {
        "slowloris": {"opened": 15, "held_seconds": 3.5, "answered": {408: 3}},
        "slow_read": {"opened": 3, "held_seconds": 0.5, "answered": {200: 3}},
        "origin_requests": 8,
    }
    assert res["attack"]["sent"] == 0  # slow attacks are reported apart from the floods
    assert validate_scorecard(res) == []


def test_result_counts_an_account_siege_botnet_as_attack() -> None:
    opts = RunOptions(get_scenario("account-siege"), "none", 20.0)
    run = DrawnRun()
    run.waves[0] = run.add("account_siege", (Drawn("203.0.113.7", Origin("BR", 28573, "iot")),))
    c = _Collect(Scorecard(random.Random(1)), run.labels, LiveView())
    counts = {"sent_by_second": {3: 10, 4: 6}, "statuses": {401: 12, 200: 4}, "done": True}
    c.take(("flood", 1, ("account_siege", counts | {"guesses": 12, "lookups": 4})))
    c.take(("accounts", 0, {"journeys": 5, "owner_sign_ins": 2}))
    c.take(("accounts", 0, {"journeys": 1}))
    c.reached["account_siege"].update({3: 10, 4: 6})
    c.card.add_origin_sample(1.0, 16, 1, 16, 0)
    res = result(opts, c.card, c, run, 400.0)
    assert validate_scorecard(res) == []
    assert (res["attack"]["sent"], res["attack"]["reached_origin"]) == (16, 16)
    assert res["attack"]["by_class"]["account_siege"]["statuses"] == {"200": 4, "401": 12}
    assert res["time_to_mitigate_s"] is None  # every guess reached the origin
    assert c.accounts == {"journeys": 6, "owner_sign_ins": 2}
