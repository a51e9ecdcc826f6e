"""What-if: candidate rules replayed against a recorded attack, with what they catch and cost.

Each candidate runs in its own shadow Decider (so rate limits count as they would) over
every replayed request; nothing it decides changes the replay. A request is attack
traffic when seawall's own automatic rules decided it or matched it while they were in
force; everything else is the site's other traffic. A candidate's worth is the share of
the attack it catches; its cost is the share of the rest it would have hit, per class,
and how many distinct addresses outside the attack it would have turned away.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from seawall.config.build import build_rule
from seawall.config.load import load_config
from seawall.core.decider import Decider
from seawall.core.record import Record
from seawall.core.rules import CompiledMatch, Rule, Ruleset
from seawall.core.verdict import Action
from seawall.detect.records import AUTO_PREFIX

MAX_ADDRESSES = 100_000  # distinct bystanders remembered per candidate


def load_candidates(path: str | Path) -> list[Rule]:
    """Rules from a TOML file of `[[rules]]` tables (the config's own rule syntax).

    A rule's ttl means nothing in a replay, so candidates stay in force throughout.
    Errors are the file's and come as ConfigError naming the key.
    """
    cfg = load_config(path)
    return [replace(build_rule(spec, 0.0, origin="what-if"), expires=None) for spec in cfg.rules]


@dataclass(slots=True)
class Tally:
    rule: Rule
    decider: Decider
    caught: int = 0
    bystanders: Counter[str] = field(default_factory=Counter)  # requests hit, per class
    addresses: set[str] = field(default_factory=set)
    first_hit: float | None = None


class WhatIf:
    """An observer for Replay: counts what each candidate would have done.

    Whether a request was attack traffic is settled `lag` seconds later, so the seconds
    before seawall's first rule (while the engine was still detecting) count as the
    attack they were, not as bystanders.
    """

    def __init__(self, candidates: list[Rule], live: Decider, lag: float = 3.0) -> None:
        self.live = live  # the replay's decider: its automatic rules say what the attack is
        self.lag = lag
        self.tallies = [Tally(r, Decider(Ruleset(1, (r,)))) for r in candidates]
        self.attack = 0
        self.others: Counter[str] = Counter()
        self._version = -1
        self._auto: list[CompiledMatch] = []
        self._pending: deque[tuple[Record, bool, tuple[int, ...]]] = deque()

    def __call__(self, rec: Record) -> None:
        f = rec.facts
        hits = tuple(
            i
            for i, t in enumerate(self.tallies)
            if (v := t.decider.decide(f, rec.time)).action is not Action.ALLOW
            and v.rule_id == t.rule.id
        )
        pending = self._pending
        pending.append((rec, self._is_attack(rec), hits))
        while pending and pending[0][0].time < rec.time - self.lag:
            self._settle(*pending.popleft())

    def finish(self) -> None:
        while self._pending:
            self._settle(*self._pending.popleft())

    def _settle(self, rec: Record, attack: bool, hits: tuple[int, ...]) -> None:
        f = rec.facts
        attack = attack or self._is_attack(rec)
        if attack:
            self.attack += 1
        else:
            self.others[f.klass.label] += 1
        for i in hits:
            t = self.tallies[i]
            if t.first_hit is None:
                t.first_hit = rec.time
            if attack:
                t.caught += 1
            else:
                t.bystanders[f.klass.label] += 1
                if len(t.addresses) < MAX_ADDRESSES:
                    t.addresses.add(f.client.text)

    def _is_attack(self, rec: Record) -> bool:
        v = rec.verdict
        if v.action is not Action.ALLOW and v.rule_id.startswith(AUTO_PREFIX):
            return True
        rules = self.live.ruleset
        if rules.version != self._version:
            self._version = rules.version
            self._auto = [CompiledMatch(r.match) for r in rules.rules if r.origin == "auto"]
        return any(m(rec.facts) for m in self._auto)

    def report(self) -> dict[str, Any]:
        self.finish()
        others = sum(self.others.values())
        return {
            "attack_requests": self.attack,
            "other_requests": others,
            "other_by_class": dict(sorted(self.others.items())),
            "rules": [self._row(t, others) for t in self.tallies],
        }

    def _row(self, t: Tally, others: int) -> dict[str, Any]:
        hit = sum(t.bystanders.values())
        return {
            "rule": t.rule.id,
            "action": t.rule.action.label,
            "caught": t.caught,
            "caught_share": round(t.caught / self.attack, 4) if self.attack else None,
            "collateral_requests": hit,
            "collateral_share": round(hit / others, 5) if others else None,
            "collateral_by_class": {
                k: round(n / self.others[k], 5) for k, n in sorted(t.bystanders.items())
            },
            "collateral_addresses": len(t.addresses),
            "collateral_addresses_capped": len(t.addresses) >= MAX_ADDRESSES,  # at least
            "first_hit": t.first_hit,
        }
