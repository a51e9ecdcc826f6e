"""The Decider: facts and `now` in, a verdict out. Synchronous, never awaits."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final

from seawall.core.facts import RequestFacts
from seawall.core.limiter import Gcra, Limiter
from seawall.core.rules import CompiledMatch, LimitKey, Rule, Ruleset, RulesetDelta
from seawall.core.verdict import ALLOW, Action, Verdict

LimiterFactory = Callable[[Rule], Limiter]

_DEFAULT_STATUS: Final = {
    Action.ALLOW: 200,
    Action.CACHE: 200,
    Action.THROTTLE: 429,
    Action.CHALLENGE: 403,
    Action.BLOCK: 403,
}


def _limit_key(key: LimitKey, f: RequestFacts) -> Hashable:
    if key is LimitKey.ADDRESS:
        return f.client.value
    if key is LimitKey.PREFIX:
        return f.prefix
    if key is LimitKey.TOKEN:
        return f.principal or f.client.value
    if key is LimitKey.ROUTE:
        return f.route
    if key is LimitKey.TARGET:
        return f.target
    if key is LimitKey.FINGERPRINT:
        return f.header_fp
    return None


class _Compiled:
    __slots__ = ("limiter", "match", "rule", "strikes", "struck", "verdict")

    def __init__(self, rule: Rule, limiter: Limiter | None, strikes: Limiter | None) -> None:
        self.rule = rule
        self.match = CompiledMatch(rule.match, f"rules[{rule.id}].match")
        self.limiter = limiter
        self.strikes = strikes
        status = rule.status or _DEFAULT_STATUS[rule.action]
        self.verdict = Verdict(
            rule.action, rule.reason or rule.id, rule.id, status, 0.0, rule.close, rule.mark
        )
        # too many challenges unsolved: a bot; the connection is closed without an answer
        self.struck = Verdict(Action.BLOCK, STRUCK_REASON, rule.id, 403, 0.0, True)


STRUCK_REASON = "challenges unsolved"


def _strike_rule(rule: Rule) -> Rule:
    """The limit behind a challenge rule's strikes: `strikes` per window, per address."""
    return Rule(
        f"{rule.id}#strikes",
        Action.BLOCK,
        rate=rule.strikes / rule.strike_window,
        burst=rule.strikes,
        key=LimitKey.ADDRESS,
    )


class Decider:
    """Evaluates rules in order; the first rule that fires decides.

    A rule without a rate fires on every match; a rule with a rate fires only for
    requests above it. An allow rule that fires ends evaluation with ALLOW, so
    allowlists placed first protect their clients from every later rule. A marking rule
    (`Rule.mark`) never decides: the first that matches annotates the ALLOW that results
    if no other rule fires.
    """

    __slots__ = ("_compiled", "_factory", "_limiters", "_ruleset")

    def __init__(
        self,
        ruleset: Ruleset | None = None,
        max_keys: int = 100_000,
        limiter_factory: LimiterFactory | None = None,
    ) -> None:
        """`limiter_factory` makes each rate rule's state; the default keeps it in this process."""
        self._factory: LimiterFactory = limiter_factory or (
            lambda rule: Gcra(rule.rate, rule.burst, max_keys)
        )
        self._limiters: dict[str, tuple[tuple[float, int, LimitKey], Limiter]] = {}
        self._ruleset = Ruleset()
        self._compiled: tuple[_Compiled, ...] = ()
        if ruleset is not None:
            self.apply(RulesetDelta(add=ruleset.rules))

    @property
    def ruleset(self) -> Ruleset:
        return self._ruleset

    def apply(self, delta: RulesetDelta) -> Ruleset:
        """Swap in a new ruleset atomically; limiter state survives for unchanged limits."""
        new = self._ruleset.apply(delta)
        compiled = []
        limiters: dict[str, tuple[tuple[float, int, LimitKey], Limiter]] = {}
        for rule in new.rules:
            limiter = self._limiter(rule, limiters) if rule.rate > 0 else None
            strikes = None
            if rule.strikes > 0 and rule.action is Action.CHALLENGE:
                strikes = self._limiter(_strike_rule(rule), limiters)
            compiled.append(_Compiled(rule, limiter, strikes))
        self._compiled, self._limiters, self._ruleset = tuple(compiled), limiters, new
        return new

    def _limiter(
        self, rule: Rule, into: dict[str, tuple[tuple[float, int, LimitKey], Limiter]]
    ) -> Limiter:
        shape = (rule.rate, rule.burst, rule.key)
        old = self._limiters.get(rule.id)
        limiter = old[1] if old and old[0] == shape else self._factory(rule)
        into[rule.id] = (shape, limiter)
        return limiter

    def expired(self, now: float) -> RulesetDelta:
        """The delta that removes rules whose expiry has passed (apply it to clean up)."""
        ids = tuple(r.id for r in self._ruleset.rules if r.expires is not None and r.expires <= now)
        return RulesetDelta(remove=ids)

    def tracked_keys(self) -> int:
        return sum(len(g) for _, g in self._limiters.values())

    def decide(self, f: RequestFacts, now: float) -> Verdict:
        marked: Verdict | None = None
        for c in self._compiled:
            rule = c.rule
            if rule.expires is not None and rule.expires <= now:
                continue
            if not c.match(f):
                continue
            if rule.mark:
                marked = marked or c.verdict  # the first mark wins; later rules still apply
                continue
            if rule.action is Action.CHALLENGE:
                if f.passed:
                    continue  # proved work for this prefix and User-Agent already
                if c.strikes is not None and c.strikes.hit(f.client.value, now) > 0.0:
                    return c.struck
            if c.limiter is not None:
                wait = c.limiter.hit(_limit_key(rule.key, f), now)
                if rule.action is Action.ALLOW:
                    # an allowance: within the rate it ends evaluation, above it the rest applies
                    if wait <= 0.0:
                        return c.verdict
                    continue
                if wait <= 0.0:
                    continue
                v = c.verdict
                return Verdict(v.action, v.reason, v.rule_id, v.status, wait, v.close)
            return c.verdict  # allowlisted clients carry no marks
        return ALLOW if marked is None else marked
