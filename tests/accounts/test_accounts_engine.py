"""The account engine over an hour of normal sign-ins, with and without a siege."""

from __future__ import annotations

import random

from seawall.accounts.engine import AccountEngine, AccountSettings
from seawall.accounts.events import AuthEvent, EventKind, Result
from seawall.accounts.ident import Directory
from seawall.accounts.responses import ResponseSettings
from seawall.core.rules import Ruleset

from authsim import hashed, normal_events

RESP = ResponseSettings(
    login_routes=frozenset({"login"}),
    recovery_routes=frozenset({"lookup"}),
    auth_routes=frozenset({"login", "lookup"}),
    step_up="header",
)
TARGETS = [hashed(f"target{i}") for i in range(12)]
START = 1_000_000.0


def engine() -> AccountEngine:
    return AccountEngine(AccountSettings(RESP, high_risk=frozenset(TARGETS)))


def siege(seed: int, n: int, start: float, step: float) -> list[AuthEvent]:
    rng = random.Random(seed)
    bots = [
        f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.7" for _ in range(400)
    ]
    out = []
    for k in range(n):
        bot = rng.choice(bots)
        out.append(
            AuthEvent(
                f"bot{k}",
                start + k * step,
                EventKind.LOGIN_FAILED,
                rng.choice(TARGETS),
                bot,
                bot.rsplit(".", 1)[0] + ".0/24",
                "python-requests/2.31",
                "python-requests/2",
                "fpbot",
                result=Result.FAILED,
            )
        )
    return out


def run(eng: AccountEngine, events: list[AuthEvent], seconds: int) -> list[object]:
    events = sorted(events, key=lambda e: e.time)
    ticks, i = [], 0
    for sec in range(seconds):
        now = START + sec + 1
        while i < len(events) and events[i].time < now:
            eng.observe(events[i])
            i += 1
        ticks.append(eng.tick(now, now))
    return ticks


def test_an_hour_of_normal_sign_ins_raises_no_campaign() -> None:
    eng = engine()
    run(eng, normal_events(11, 3000, 3600.0, START), 3600)
    assert eng.campaigns() == []
    assert eng.events > 3000


def test_a_siege_on_twelve_accounts_is_one_campaign_with_rules_that_settle() -> None:
    eng = engine()
    events = normal_events(12, 3000, 900.0, START) + siege(3, 2000, START + 100, 0.25)
    ticks = run(eng, events, 900)
    (camp,) = eng.campaigns()
    assert camp.kind == "targeted" and set(camp.accounts) == set(TARGETS)
    assert camp.confidence >= 0.9 and camp.sources > 300
    rs = Ruleset()
    for t in ticks:
        rs = rs.apply(t.delta)  # type: ignore[attr-defined]
    # parts seen apart at first were merged: their rules went, the campaign's stayed
    assert {r.id for r in rs.rules} == {f"{camp.id}-step-up", f"{camp.id}-throttle"}
    # once the attack's sources are all known the rules stop changing, bar renewals
    quiet = ticks[700:]
    assert sum(len(t.delta.add) for t in quiet) <= 2  # type: ignore[attr-defined]


def test_a_dismissal_takes_the_rules_away_and_raises_the_bar() -> None:
    eng = engine()
    run(eng, siege(4, 400, START, 0.25), 120)
    (camp,) = eng.campaigns()
    res = eng.decide(camp.id, "dismissed", START + 121, START + 121)
    assert set(res.delta.remove) == {f"{camp.id}-step-up", f"{camp.id}-throttle"}
    eng.raise_factor("distributed_guessing", 1.5)
    assert eng.factors == {"distributed_guessing": 1.5}
    assert eng.decide("nope", "confirmed", 0.0, 0.0).delta.add == ()


def test_app_events_count_once_and_aliases_reach_their_account() -> None:
    alias = hashed("owner@example.org")
    eng = AccountEngine(AccountSettings(RESP), Directory(aliases={alias: hashed("owner")}))
    ev = AuthEvent("app:1", START, EventKind.RECOVERY_LOOKUP, alias, "192.0.2.1", origin="app")
    assert eng.observe(ev) and not eng.observe(ev)
    assert (eng.events, eng.duplicates) == (1, 1)
    seen: list[AuthEvent] = []
    eng.detectors = [type("Spy", (), {"observe": staticmethod(seen.append)})()]  # type: ignore[list-item]
    eng.observe(AuthEvent("e2", START, EventKind.RECOVERY_LOOKUP, alias, "192.0.2.1"))
    assert seen[0].account == hashed("owner")


def test_made_up_identifiers_of_a_harvest_are_nobodys_account() -> None:
    eng = engine()
    made_up = [hashed(f"nobody{i}@example.org") for i in range(6)]
    events = []
    for k in range(240):
        ident = (TARGETS[:3] + made_up)[k % 9]
        bot = f"203.0.{k % 40}.9"
        found = Result.FOUND if ident in TARGETS else Result.NOT_FOUND
        events.append(
            AuthEvent(
                f"h{k}",
                START + k * 0.5,
                EventKind.RECOVERY_LOOKUP,
                ident,
                bot,
                bot.rsplit(".", 1)[0] + ".0/24",
                fingerprint="fpbot",
                result=found,
            )
        )
    run(eng, events, 130)
    targeted = [c for c in eng.campaigns() if c.kind == "targeted"]
    assert targeted, eng.campaigns()
    accounts = {a for c in targeted for a in c.accounts}
    assert accounts == set(TARGETS[:3])
    assert all(c.harvesting for c in targeted)


def test_the_owners_own_address_is_never_among_the_attackers() -> None:
    eng = engine()
    home = "192.0.2.77"
    owner = []
    for k in range(40):  # asked for a code each time, then signed in with it
        t = START + 3 * k
        for kind, result in (
            (EventKind.MFA_FAILED, Result.FAILED),
            (EventKind.LOGIN_SUCCEEDED, Result.OK),
        ):
            owner.append(
                AuthEvent(f"o{k}{kind}", t, kind, TARGETS[0], home, "192.0.2.0/24", result=result)
            )
    run(eng, owner + siege(5, 480, START, 0.25), 130)
    (camp,) = [c for c in eng.campaigns() if c.kind == "targeted"]
    assert home not in camp.top_sources and camp.sources >= 250


def test_an_owner_who_mistyped_before_signing_in_is_let_off_the_throttle() -> None:
    eng = engine()
    home = "192.0.2.88"
    bots = siege(6, 480, START, 0.25)
    typo = AuthEvent(
        "typo",
        START + 20,
        EventKind.LOGIN_FAILED,
        TARGETS[0],
        home,
        "192.0.2.0/24",
        result=Result.FAILED,
    )
    ticks = run(eng, [*bots, typo], 40)
    throttled = [r for t in ticks for r in t.delta.add if r.id.endswith("-throttle")]  # type: ignore[attr-defined]
    assert f"{home}/32" in throttled[-1].match.cidrs  # an address failing on a target
    ok = AuthEvent(
        "ok",
        START + 41,
        EventKind.LOGIN_SUCCEEDED,
        TARGETS[0],
        home,
        "192.0.2.0/24",
        result=Result.OK,
    )
    eng.observe(ok)
    later = [eng.tick(START + 41 + i, START + 41 + i) for i in range(1, 8)]
    resent = [r for t in later for r in t.delta.add if r.id.endswith("-throttle")]
    assert resent and f"{home}/32" not in resent[-1].match.cidrs


def test_an_address_that_only_failed_the_second_factor_is_never_throttled() -> None:
    eng = engine()
    phone, guesser = "192.0.2.99", "192.0.2.98"
    mine = [
        AuthEvent(
            f"m{k}",
            START + 20 + k,
            EventKind.MFA_FAILED,
            TARGETS[0],
            phone,
            "192.0.2.0/24",
            result=Result.FAILED,
        )
        for k in range(3)
    ]
    wrong = AuthEvent(
        "w",
        START + 21,
        EventKind.LOGIN_FAILED,
        TARGETS[0],
        guesser,
        "192.0.2.0/24",
        result=Result.FAILED,
    )
    ticks = run(eng, [*siege(8, 480, START, 0.25), *mine, wrong], 40)
    (rule,) = [
        r
        for r in ticks[-1].delta.add or eng.out[eng.campaigns()[0].id].values()
        if r.id.endswith("-throttle")
    ]  # type: ignore[attr-defined]
    assert f"{guesser}/32" in rule.match.cidrs  # a wrong password: an attacker
    assert f"{phone}/32" not in rule.match.cidrs  # knew the password: step-up's business
