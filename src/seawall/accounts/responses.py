"""What a campaign asks of the edge: step-up on the targeted accounts, slower attackers,
uniform recovery answers. Never a lockout: a locked account would hand the attacker a
denial of service against its owner.

| campaign   | rule            | match                               | action                   |
|------------|-----------------|-------------------------------------|--------------------------|
| targeted   | `<id>-step-up`  | login routes, its accounts, anon.   | mark step-up, or PoW     |
| any        | `<id>-throttle` | auth routes, its addresses, anon.   | throttle per address     |
| harvesting | `<id>-uniform`  | recovery routes, everyone           | mark uniform             |
| harvesting | `<id>-lookups`  | recovery routes, anonymous          | throttle per address     |
| harvesting | `<id>-lookups-fp` | recovery routes, flagged fingerprints | throttle per fp |

Step-up is a request header asking the app for its own MFA (`step_up = "header"`) or a
proof-of-work challenge. Rules run after the operator's (priority 100), so allowlists
win; they match anonymous clients only, except the uniform answer, which hides what an
identifier is from anyone.
A dismissed campaign has no rules. Rules expire `ttl` seconds after the campaign's last
activity, and are renewed while it goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

from seawall.accounts.events import Campaign
from seawall.core.facts import ClientClass
from seawall.core.rules import LimitKey, Match, Rule
from seawall.core.verdict import Action

PRIORITY = 140  # after the operator's rules, before detection's (150)
_ANON = frozenset({ClientClass.ANONYMOUS})
LOOKUP_RATE = 0.05  # recovery requests/s per address under harvesting: one in 20 s
LOOKUP_BURST = 5
FP_RATE = 1.0  # recovery requests/s per attacking fingerprint, all its addresses together
FP_BURST = 10


@dataclass(frozen=True, slots=True)
class ResponseSettings:
    login_routes: frozenset[str]
    recovery_routes: frozenset[str]
    auth_routes: frozenset[str]
    step_up: str = "challenge"  # challenge | header
    ttl: float = 3600.0
    throttle_rate: float = 0.1
    throttle_burst: int = 3
    strikes: int = 6
    strike_window: float = 60.0
    max_sources: int = 1000


def _host_cidr(address: str) -> str:
    return f"{address}/128" if ":" in address else f"{address}/32"


def rules_for(c: Campaign, s: ResponseSettings, now: float, mono: float) -> tuple[Rule, ...]:
    """The rules campaign `c` asks for at wall time `now` (monotonic `mono`)."""
    left = s.ttl - max(0.0, now - c.last)
    if c.decision == "dismissed" or c.state != "open" or left <= 0:
        return ()
    expires = mono + left
    why = f"account campaign {c.id} ({', '.join(c.detectors)})"

    def rule(suffix: str, action: Action, match: Match, **kw: object) -> Rule:
        return Rule(
            f"{c.id}-{suffix}",
            action,
            match,
            priority=PRIORITY,
            expires=expires,
            origin="accounts",
            reason=why,
            **kw,  # type: ignore[arg-type]
        )

    out: list[Rule] = []
    if c.kind == "targeted" and c.accounts and s.login_routes:
        m = Match(routes=s.login_routes, accounts=frozenset(c.accounts), classes=_ANON)
        if s.step_up == "header":
            out.append(rule("step-up", Action.ALLOW, m, mark="step-up"))
        else:
            out.append(
                rule(
                    "step-up", Action.CHALLENGE, m, strikes=s.strikes, strike_window=s.strike_window
                )
            )
    if c.top_sources and s.auth_routes:
        cidrs = tuple(sorted(_host_cidr(a) for a in c.top_sources[: s.max_sources]))
        m = Match(cidrs=cidrs, routes=s.auth_routes, classes=_ANON)
        out.append(
            rule("throttle", Action.THROTTLE, m, rate=s.throttle_rate, burst=s.throttle_burst)
        )
    if c.harvesting and s.recovery_routes:
        out.append(rule("uniform", Action.ALLOW, Match(routes=s.recovery_routes), mark="uniform"))
        m = Match(routes=s.recovery_routes, classes=_ANON)
        out.append(rule("lookups", Action.THROTTLE, m, rate=LOOKUP_RATE, burst=LOOKUP_BURST))
        if c.flagged_fingerprints:
            fps = frozenset(c.flagged_fingerprints)
            m = Match(routes=s.recovery_routes, header_fps=fps, classes=_ANON)
            out.append(
                rule(
                    "lookups-fp",
                    Action.THROTTLE,
                    m,
                    rate=FP_RATE,
                    burst=FP_BURST,
                    key=LimitKey.FINGERPRINT,
                )
            )
    return tuple(out)
