"""The lab's scenarios, as data: legitimate traffic plus timed waves of crowd or attack.

Times are shares of the run's duration, so `--duration` shortens a scenario without
changing its shape; rates stay as they are. Flood rates are multiples of the origin's
measured capacity. A new scenario is a new `Scenario(...)` in `SCENARIOS`. A scenario with
a `Siege` adds account traffic: many people signing in, and a few accounts' owners, while
its `ACCOUNT_SIEGE` wave guesses those few accounts' passwords and harvests their details.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from seawall.lab.origin_data import FAMOUS


class WaveKind(StrEnum):
    FLASH_CROWD = "flash_crowd"  # humans through a link: arrivals per second
    BOTNET = "botnet"  # Mirai-like flood: multiples of origin capacity
    ADAPTIVE_BOT = "adaptive_bot"  # a flood that changed its nature
    SLOWLORIS = "slowloris"  # slow attacks: connections per address x addresses
    SLOW_POST = "slow_post"
    SLOW_READ = "slow_read"
    ACCOUNT_SIEGE = "account_siege"  # password guesses per second, from the whole botnet


SLOW_KINDS = frozenset({WaveKind.SLOWLORIS, WaveKind.SLOW_POST, WaveKind.SLOW_READ})
FLOOD_KINDS = frozenset({WaveKind.BOTNET, WaveKind.ADAPTIVE_BOT})
COUNTED_KINDS = FLOOD_KINDS | {WaveKind.ACCOUNT_SIEGE}  # requests counted per second, not each
LEGIT_CLASSES = ("browser", "api_app", "sms_gateway", "flash_crowd")
ACCOUNT_CLASSES = ("account_user", "account_owner")  # legitimate too: a Siege's people


def class_of(kind: WaveKind) -> str:
    """The scorecard class a wave's clients are counted in."""
    return "slow" if kind in SLOW_KINDS else kind.value


@dataclass(frozen=True, slots=True)
class Wave:
    kind: WaveKind
    start: float  # share of the duration
    end: float
    intensity: float  # arrivals/s (crowd), x capacity (flood), connections/address (slow)
    addresses: int  # size of the wave's own address pool
    mix: str = "iot"  # address mix (see lab.addresses)
    paths: tuple[str, ...] = ()
    rotate: bool = False  # floods: each address used for one session only
    rise: float = 0.2  # crowds: share of the wave spent ramping up

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= 1:
            raise ValueError(f"{self.kind}: need 0 <= start < end <= 1")
        if not (math.isfinite(self.intensity) and self.intensity > 0) or self.addresses < 1:
            raise ValueError(f"{self.kind}: intensity and addresses must be positive")
        if self.kind in FLOOD_KINDS and not self.paths:
            raise ValueError(f"{self.kind}: a flood needs target paths")

    @property
    def is_attack(self) -> bool:
        return self.kind is not WaveKind.FLASH_CROWD


@dataclass(frozen=True, slots=True)
class Siege:
    """Account traffic: people signing in all run long, and the owners of the targets."""

    sign_in_rate: float  # sign-ins (one person each, a distinct account) started per second
    quiet_accounts: int  # accounts that only sign in, on top of the posting users
    user_addresses: int  # one per person...
    nat_addresses: int  # ...but for a share of them behind carrier NAT, shared
    nat_share: float
    targeted: int = 12  # high-risk accounts the campaign goes after (posting users)
    owner_addresses: int = 2  # each owner signs in from home and from a phone
    owner_every_s: tuple[float, float] = (10.0, 20.0)
    owner_budget_s: float = 15.0  # an owner's sign-in counts only if done within this
    harvest_rate: float = 4.0  # recovery lookups per second, from the same botnet
    made_up: int = 400  # identifiers on the harvesters' list besides the targets'
    made_up_registered: float = 0.05  # share of that list that happens to be registered
    aim: tuple[int, int] = (3, 6)  # how many of the targets each bot address tries
    # targets whose password is in a breach corpus the botnet holds; it tries the real one
    # on that share of its guesses at them (a sign-in that works is a takeover)
    breached: int = 3
    breach_share: float = 0.05

    def __post_init__(self) -> None:
        if not (self.sign_in_rate > 0 and self.harvest_rate > 0 and 0 <= self.nat_share < 1):
            raise ValueError("siege: rates must be positive and nat_share in [0, 1)")
        if min(self.user_addresses, self.nat_addresses, self.targeted, self.owner_addresses) < 1:
            raise ValueError("siege: address pools and targets must be positive")
        low, high = self.aim
        if not 1 <= low <= high <= self.targeted or self.owner_every_s[0] <= 0:
            raise ValueError("siege: need 1 <= aim <= targeted and a positive owner interval")
        if not (0 <= self.breached <= self.targeted and 0 <= self.breach_share <= 1):
            raise ValueError("siege: breached in [0, targeted] and breach_share in [0, 1]")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    full_duration_s: float
    browsers: int  # concurrent human sessions throughout
    api_apps: int
    api_interval_s: float  # each app polls this often
    sms_rate: float  # gateway posts per second
    waves: tuple[Wave, ...] = field(default=())
    legit_mix: str = "world"
    siege: Siege | None = None

    def phases(self, duration_s: float) -> list[tuple[str, float, float]]:
        """(name, start, end) in seconds of every wave, for the chart and the report."""
        return [(w.kind.value, w.start * duration_s, w.end * duration_s) for w in self.waves]

    def attack_start(self, duration_s: float) -> float | None:
        starts = [w.start * duration_s for w in self.waves if w.is_attack]
        return min(starts) if starts else None


_PROFILE = f"/users/{FAMOUS}"
_POSTS = (f"{_PROFILE}/posts/{{post}}",)  # the runner puts real post ids in

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "cyxymu-2009",
            "Aug 2009: a spam-driven crowd, then a 20x botnet flood on one blogger's profile "
            "that turns adaptive near the end, while apps, SMS and users carry on.",
            75.0,
            browsers=40,
            api_apps=12,
            api_interval_s=1.0,
            sms_rate=10.0,
            waves=(
                Wave(WaveKind.FLASH_CROWD, 0.10, 0.45, 25.0, 5000, mix="world"),
                Wave(WaveKind.BOTNET, 0.30, 0.80, 20.0, 20000, paths=(_PROFILE, *_POSTS)),
                Wave(
                    WaveKind.ADAPTIVE_BOT,
                    0.80,
                    0.95,
                    20.0,
                    20000,
                    mix="world",
                    paths=(_PROFILE, "/", f"/search?q={FAMOUS}"),
                    rotate=True,
                ),
            ),
        ),
        Scenario(
            "mirai-2025",
            "2025: two IoT-botnet waves from 100+ countries against the home page, login and "
            "API, while third-party apps carry most legitimate traffic.",
            80.0,
            browsers=20,
            api_apps=40,
            api_interval_s=0.5,
            sms_rate=5.0,
            waves=(
                Wave(
                    WaveKind.BOTNET,
                    0.15,
                    0.45,
                    20.0,
                    20000,
                    mix="world",
                    paths=("/", "POST /login", "/api/v1/timeline"),
                ),
                Wave(
                    WaveKind.BOTNET,
                    0.60,
                    0.90,
                    30.0,
                    30000,
                    mix="iot",
                    paths=("/", "/", "POST /login", "/api/v1/timeline"),
                ),
            ),
        ),
        Scenario(
            "flash-crowd",
            "A genuine viral surge to one profile and its posts, with no attack at all.",
            60.0,
            browsers=40,
            api_apps=10,
            api_interval_s=1.0,
            sms_rate=5.0,
            waves=(Wave(WaveKind.FLASH_CROWD, 0.15, 0.85, 300.0, 16000, mix="world", rise=0.3),),
        ),
        Scenario(
            "slow-drip",
            "Slowloris, slow POST and slow read from a few hundred addresses while normal "
            "traffic continues.",
            60.0,
            browsers=40,
            api_apps=10,
            api_interval_s=1.0,
            sms_rate=10.0,
            waves=(
                Wave(WaveKind.SLOWLORIS, 0.15, 0.85, 2, 300),
                Wave(WaveKind.SLOW_POST, 0.30, 0.85, 2, 100),
                Wave(WaveKind.SLOW_READ, 0.30, 0.85, 1, 50),
            ),
        ),
        Scenario(
            "account-siege",
            "Thousands of people sign in, mistype and reset as on any day, while 400 addresses "
            "slowly guess the passwords of 12 high-risk accounts and harvest their recovery "
            "details; the 12 owners keep signing in throughout.",
            100.0,
            browsers=10,
            api_apps=4,
            api_interval_s=2.0,
            sms_rate=1.0,
            waves=(Wave(WaveKind.ACCOUNT_SIEGE, 0.15, 0.95, 14.0, 400, mix="world"),),
            siege=Siege(36.0, 3_900, 3_700, 40, 0.08),
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise ValueError(f"no scenario {name!r}; known: {known}") from None
