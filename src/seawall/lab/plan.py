"""From a scenario to traffic processes, and from their reports to the scorecard.

`draw_addresses` gives every class its own addresses from real ranges (legitimate users
from everywhere, bots from where IoT botnets live and from everywhere else too, so the
countries overlap) and records the labels. `worker_plans` splits the work: process 0 runs
the legitimate clients (an account siege's people and owners among them) and slow
attacks, the others share the floods, and an account siege's botnet has one of its own.
`result` turns what came back into the scorecard, with the lab's extras (generator
shortfall, slow attacks, address geography, phases).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from seawall.lab.accounts_data import Identity, identities
from seawall.lab.addresses import MIXES, AddressPlan, Drawn, Labels
from seawall.lab.flood import FloodSpec, Style
from seawall.lab.origin import DEFAULT_SECRETS, make_app_token
from seawall.lab.origin_data import password_for
from seawall.lab.scenarios import (
    COUNTED_KINDS,
    FLOOD_KINDS,
    SLOW_KINDS,
    Scenario,
    WaveKind,
    class_of,
)
from seawall.lab.scorecard import Scorecard
from seawall.lab.siege import OWNER, USER
from seawall.lab.siege_plan import BotPlan, PeoplePlan, pick_targets, plan_bots, plan_people
from seawall.lab.slow import SlowKind
from seawall.lab.traffic import poisson_starts, ramp, spread
from seawall.lab.wire import Target
from seawall.lab.worker import LegitPlan, SlowPlan, WorkerPlan, site_for

if TYPE_CHECKING:
    from seawall.lab.runner import RunOptions, _Collect

SITE_SEED = 7  # the origin's dataset; its users and posts are the same in every run


@dataclass(slots=True)
class DrawnRun:
    labels: Labels = field(default_factory=Labels)
    by_class: dict[str, list[Drawn]] = field(default_factory=dict)
    waves: dict[int, tuple[str, ...]] = field(default_factory=dict)  # wave index -> addresses

    def add(self, klass: str, drawn: tuple[Drawn, ...]) -> tuple[str, ...]:
        addresses = tuple(d.address for d in drawn)
        self.labels.add(addresses, klass)
        self.by_class.setdefault(klass, []).extend(drawn)
        return addresses

    @property
    def browsers(self) -> tuple[str, ...]:
        return tuple(d.address for d in self.by_class.get("browser", ()))

    @property
    def api_apps(self) -> tuple[str, ...]:
        return tuple(d.address for d in self.by_class.get("api_app", ()))

    @property
    def sms(self) -> str:
        return self.by_class["sms_gateway"][0].address


def draw_addresses(scenario: Scenario, seed: int) -> DrawnRun:
    """Every client address of the run, labelled; distinct across classes."""
    plan, run = AddressPlan(seed), DrawnRun()
    legit = MIXES[scenario.legit_mix]
    run.add("browser", plan.draw(scenario.browsers, legit))
    run.add("api_app", plan.draw(scenario.api_apps, MIXES["hosting"]))
    run.add("sms_gateway", plan.draw(1, MIXES["hosting"]))
    for i, w in enumerate(scenario.waves):
        run.waves[i] = run.add(class_of(w.kind), plan.draw(w.addresses, MIXES[w.mix]))
    if (siege := scenario.siege) is not None:
        run.add(USER, plan.draw(siege.nat_addresses + siege.user_addresses, legit))
        run.add(OWNER, plan.draw(siege.targeted * siege.owner_addresses, legit))
    return run


def siege_accounts(scenario: Scenario, seed: int) -> tuple[tuple[str, ...], tuple[Identity, ...]]:
    """(the targeted accounts, every account of the site) of a scenario with a siege."""
    site, siege = site_for(SITE_SEED), scenario.siege
    if siege is None:
        return (), ()
    everyone = identities(SITE_SEED, len(site.users), siege.quiet_accounts)
    return pick_targets(seed, site.users, siege.targeted), everyone


def _siege(opts: RunOptions, run: DrawnRun) -> tuple[PeoplePlan | None, BotPlan | None]:
    s, d = opts.scenario, opts.duration_s
    if s.siege is None:
        return None, None
    targets, everyone = siege_accounts(s, opts.seed)
    users, owners = ([x.address for x in run.by_class[k]] for k in (USER, OWNER))
    names, posting = [i.name for i in everyone], site_for(SITE_SEED).users
    people = plan_people(s.siege, opts.seed, names, posting, users, owners, targets, d)
    for i, w in enumerate(s.waves):
        if w.kind is WaveKind.ACCOUNT_SIEGE:
            window, pool = (w.start * d, w.end * d), run.waves[i]
            bots = plan_bots(s.siege, opts.seed, everyone, targets, pool, window, w.intensity)
            leaked = tuple((n, password_for(n, SITE_SEED)) for n in targets[: s.siege.breached])
            return people, replace(bots, breached=leaked, breach_share=s.siege.breach_share)
    return people, None


def _expand(paths: tuple[str, ...]) -> tuple[str, ...]:
    posts = site_for(SITE_SEED).famous_posts[:5]
    out: list[str] = []
    for p in paths:
        out += [p.replace("{post}", str(i)) for i in posts] if "{post}" in p else [p]
    return tuple(out)


def _floods(opts: RunOptions, run: DrawnRun, capacity: float, part: int) -> tuple[FloodSpec, ...]:
    d, n, out = opts.duration_s, opts.flood_processes, []
    for i, w in enumerate(opts.scenario.waves):
        if w.kind not in FLOOD_KINDS:
            continue
        style = Style.MIRAI if w.kind is WaveKind.BOTNET else Style.ADAPTIVE
        out.append(
            FloodSpec(
                class_of(w.kind),
                style,
                tuple(spread(run.waves[i], n, part)),
                w.intensity * capacity / n,
                w.start * d,
                w.end * d,
                _expand(w.paths),
                rotate=w.rotate,
            )
        )
    return tuple(out)


def _crowd(opts: RunOptions, run: DrawnRun, rng: random.Random) -> tuple[tuple[str, float], ...]:
    out: list[tuple[str, float]] = []
    d = opts.duration_s
    for i, w in enumerate(opts.scenario.waves):
        if w.kind is not WaveKind.FLASH_CROWD:
            continue
        start, end = w.start * d, w.end * d
        starts = poisson_starts(
            rng, ramp(0.0, w.intensity, start, end, w.rise), start, end, len(run.waves[i])
        )
        out += list(zip(run.waves[i], starts, strict=False))
    return tuple(out)


def _slow(opts: RunOptions, run: DrawnRun) -> tuple[SlowPlan, ...]:
    d = opts.duration_s
    return tuple(
        SlowPlan(SlowKind(w.kind.value), run.waves[i], int(w.intensity), w.start * d, w.end * d)
        for i, w in enumerate(opts.scenario.waves)
        if w.kind in SLOW_KINDS
    )


def worker_plans(
    opts: RunOptions, run: DrawnRun, target: Target, capacity: float, t0: float
) -> list[WorkerPlan]:
    s, rng = opts.scenario, random.Random(opts.seed)
    users = site_for(SITE_SEED).users
    apps = tuple(
        (a, make_app_token(DEFAULT_SECRETS, f"app-{k}", users[1 + k % (len(users) - 1)], ttl=7200))
        for k, a in enumerate(run.api_apps)
    )
    legit = LegitPlan(
        run.browsers, apps, s.api_interval_s, (run.sms, s.sms_rate), _crowd(opts, run, rng)
    )
    base = WorkerPlan(0, target, t0, opts.duration_s, opts.seed, SITE_SEED, DEFAULT_SECRETS.gateway)
    people, bots = _siege(opts, run)
    plans = [replace(base, legit=legit, slow=_slow(opts, run), people=people)]
    if any(w.kind in FLOOD_KINDS for w in s.waves):
        plans += [
            replace(
                base, index=k + 1, seed=opts.seed * 100 + k, floods=_floods(opts, run, capacity, k)
            )
            for k in range(opts.flood_processes)
        ]
    if bots is not None:
        plans.append(replace(base, index=len(plans), seed=opts.seed * 100 + 99, bots=bots))
    return plans


def _merge(items: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for klass, counts in items:
        acc = out.setdefault(klass, {})
        for k, v in counts.items():
            if isinstance(v, dict):
                acc.setdefault(k, Counter()).update({int(x): y for x, y in v.items()})
            elif isinstance(v, bool):
                acc[k] = acc.get(k, True) and v
            elif isinstance(v, int | float):
                acc[k] = acc.get(k, 0) + v
    return out


def _geography(run: DrawnRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for klass, drawn in sorted(run.by_class.items()):
        countries = Counter(d.origin.country for d in drawn)
        out[klass] = {
            "addresses": len(drawn),
            "countries": len(countries),
            "asns": len({d.origin.asn for d in drawn}),
            "top_countries": dict(countries.most_common(5)),
        }
    return out


def _by_class(
    floods: dict[str, dict[str, Any]], reached: dict[str, Counter[int]]
) -> dict[str, dict[str, Any]]:
    """Per flood class: what was sent and reached, what bots got back, what fell short."""
    return {
        k: {
            "sent": sum(f.get("sent_by_second", {}).values()),
            "reached_origin": sum(reached.get(k, {}).values()),
            "statuses": {str(s): n for s, n in sorted(f.get("statuses", {}).items())},
            "shortfall": f.get("shortfall", 0),
            "cut_short": f.get("cut_short", 0),
            "dropped": f.get("dropped", 0),
            "connect_errors": f.get("connect_errors", 0),
        }
        for k, f in sorted(floods.items())
    }


def _slow_summary(c: _Collect) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: {x: (dict(v) if isinstance(v, Counter) else v) for x, v in s.items()}
        for k, s in _merge(c.slow).items()
    }
    if out:
        out["origin_requests"] = sum(c.reached.get("slow", {}).values())
    return out


def result(
    opts: RunOptions, card: Scorecard, c: _Collect, run: DrawnRun, capacity: float
) -> dict[str, Any]:
    floods = _merge(c.floods)
    sent_by_sec: Counter[int] = Counter()
    for klass, f in floods.items():
        card.add_attack_counts(klass, dict(f.get("sent_by_second", {})))
        sent_by_sec.update(f.get("sent_by_second", {}))
    attack_classes = {class_of(w.kind) for w in opts.scenario.waves if w.kind in COUNTED_KINDS}
    reached_by_sec: Counter[int] = Counter()
    for klass in attack_classes:
        reached_by_sec.update(c.reached.get(klass, {}))
    d = opts.duration_s
    res = card.result(
        opts.scenario.name,
        opts.protection,
        opts.seed,
        d,
        round(capacity, 1),
        opts.scenario.attack_start(d),
        sum(sent_by_sec.values()),
        dict(reached_by_sec),
        dict(sent_by_sec),
    )
    for klass, tally in res["classes"].items():  # redirects and retries included
        tally["origin_requests"] = sum(c.reached.get(klass, {}).values())
    res["attack"]["by_class"] = _by_class(floods, c.reached)
    res["slow"] = _slow_summary(c)
    res["addresses"] = _geography(run)
    res["phases"] = [{"name": n, "start_s": a, "end_s": b} for n, a, b in opts.scenario.phases(d)]
    res["unlabelled_at_origin"] = sum(c.reached.get("unlabelled", {}).values())
    res["errors"] = c.errors
    return res
