"""A seeded simulator of normal auth traffic: what the account detectors must stay silent on.

People sign in at random times over the period, most once, a few several times:
- 85% of sign-ins succeed at once (some apps also report the session);
- about 10% mistype once or twice, then succeed (now and then the second factor instead);
- about 3% forget: 3 to 5 failures, a reset requested for their own (registered)
  identifier, the new password set minutes later, then a sign-in, sometimes on their phone;
- about 2% reset straight away, then set a new password and sign in;
- about 1% look their own identifier up in the recovery form, a few mistyping it first.

Addresses: most people are at home behind their own address (one of a few ISPs, each its
ASN and /24s); 4% share a campus NAT (two addresses); 15% sit behind mobile carriers whose
/24 pools hand out a new address each session; a fifth of people at home also use a phone
on a carrier. Browsers share a handful of common fingerprints.

Identifiers are what the edge sees after hashing and the directory's canonical mapping:
a reset for someone's registered email arrives as their account's hash.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from seawall.accounts.events import AuthEvent, EventKind, Result

# (name, share of people, ua family): common browsers' header-order fingerprints
BROWSERS = (
    ("chrome-windows", 0.35, "Chrome"),
    ("safari-ios", 0.20, "Mobile Safari"),
    ("chrome-android", 0.15, "Chrome Mobile"),
    ("safari-mac", 0.08, "Safari"),
    ("edge-windows", 0.08, "Edge"),
    ("firefox", 0.07, "Firefox"),
    ("samsung", 0.04, "Samsung Internet"),
    ("other", 0.03, "Other"),
)
PHONES = (BROWSERS[1], BROWSERS[2], BROWSERS[6])
ISPS = 12  # home ISPs, each with its ASN and /24s
CARRIERS = 3  # mobile carriers, one /24 CGNAT pool each
CAMPUS = ("198.18.7.20", "198.18.7.21")  # one campus NAT, two addresses
CAMPUS_ASN = 64_700
COUNTRIES = (("US", 0.7), ("DE", 0.1), ("BR", 0.1), ("IN", 0.1))
PERIOD_MARGIN = 120.0  # sessions start early enough to finish inside the period


def hashed(name: str) -> str:
    """A keyed-hash lookalike: 32 hex digits, as the edge's identifiers are."""
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def fingerprint(browser: str) -> str:
    return hashed(f"fp:{browser}")[:16]


def carrier(i: int) -> tuple[str, int]:
    """A carrier's /24 (as text) and ASN."""
    return f"100.{64 + i}.12.0/24", 64_800 + i


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    fingerprint: str
    ua_family: str
    network: str  # home | campus | mobile
    source: str  # fixed address; "" when the network hands one out per session
    prefix: str
    asn: int


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    account: str
    country: str
    devices: tuple[Device, ...]


def _pick(rng: random.Random, table: tuple[tuple[str, float, str], ...]) -> tuple[str, str]:
    name, _, family = rng.choices(table, weights=[w for _, w, _ in table])[0]
    return name, family


def _person(rng: random.Random, i: int, seed: int) -> Person:
    name = f"person{seed}-{i}"
    country = rng.choices([c for c, _ in COUNTRIES], weights=[w for _, w in COUNTRIES])[0]
    r = rng.random()
    devices: list[Device] = []
    if r < 0.04:
        browser, family = _pick(rng, BROWSERS)
        laptop = hashed(f"{name}:laptop")
        devices.append(
            Device(laptop, fingerprint(browser), family, "campus", "", "198.18.7.0/24", CAMPUS_ASN)
        )
    elif r < 0.19:
        browser, family = _pick(rng, PHONES)
        prefix, asn = carrier(rng.randrange(CARRIERS))
        devices.append(
            Device(hashed(f"{name}:phone"), fingerprint(browser), family, "mobile", "", prefix, asn)
        )
    else:
        isp = rng.randrange(ISPS)
        a, b, c = 20 + isp, rng.randrange(256), rng.randrange(256)
        browser, family = _pick(rng, BROWSERS)
        home = f"{a}.{b}.{c}.{rng.randrange(2, 250)}"
        laptop = hashed(f"{name}:laptop")
        fp = fingerprint(browser)
        devices.append(Device(laptop, fp, family, "home", home, f"{a}.{b}.{c}.0/24", 64_500 + isp))
        if rng.random() < 0.2:
            browser, family = _pick(rng, PHONES)
            prefix, asn = carrier(rng.randrange(CARRIERS))
            phone = hashed(f"{name}:phone")
            devices.append(Device(phone, fingerprint(browser), family, "mobile", "", prefix, asn))
    return Person(name, hashed(name), country, tuple(devices))


class _Writer:
    """Makes one person's events, numbering them."""

    def __init__(self, seed: int, rng: random.Random) -> None:
        self.seed = seed
        self.rng = rng
        self.out: list[AuthEvent] = []

    def address(self, d: Device) -> str:
        if d.network == "campus":
            return self.rng.choice(CAMPUS)
        if d.network == "mobile":
            return d.prefix.replace("0/24", str(self.rng.randrange(2, 254)))
        return d.source

    def emit(
        self,
        p: Person,
        d: Device,
        source: str,
        t: float,
        kind: EventKind,
        result: Result,
        account: str = "",
        password: str = "",
    ) -> None:
        origin = "app" if password or kind is EventKind.SESSION_CREATED else "edge"
        self.out.append(
            AuthEvent(
                f"sim{self.seed}-{len(self.out)}",
                t,
                kind,
                account or p.account,
                source,
                d.prefix,
                f"Mozilla/5.0 ({d.ua_family})",
                d.ua_family,
                d.fingerprint,
                d.id,
                result,
                password,
                d.asn,
                p.country,
                origin,
            )
        )

    def sign_in(self, p: Person, d: Device, source: str, t: float) -> float:
        self.emit(p, d, source, t, EventKind.LOGIN_SUCCEEDED, Result.OK)
        if self.rng.random() < 0.3:
            t += 1.0
            self.emit(p, d, source, t, EventKind.SESSION_CREATED, Result.OK)
        return t

    def fail(self, p: Person, d: Device, source: str, t: float, n: int) -> float:
        for k in range(n):
            kind = EventKind.MFA_FAILED if self.rng.random() < 0.02 else EventKind.LOGIN_FAILED
            # the app reports a keyed hash of the tried password for about half of them
            tried = hashed(f"{p.name}:typo{k}") if self.rng.random() < 0.5 else ""
            self.emit(p, d, source, t, kind, Result.FAILED, password=tried)
            t += self.rng.uniform(3.0, 30.0)
        return t

    def reset(self, p: Person, d: Device, source: str, t: float) -> None:
        self.emit(p, d, source, t, EventKind.PASSWORD_RESET_REQUESTED, Result.FOUND)
        t += self.rng.uniform(60.0, 900.0)  # reading the mail, choosing a password
        self.emit(p, d, source, t, EventKind.CREDENTIALS_CHANGED, Result.OK)
        if len(p.devices) > 1 and self.rng.random() < 0.3:
            d = p.devices[1] if d is p.devices[0] else p.devices[0]
            source = self.address(d)
        self.sign_in(p, d, source, t + self.rng.uniform(5.0, 60.0))

    def session(self, p: Person, t: float) -> None:
        d = self.rng.choice(p.devices)
        source = self.address(d)
        if self.rng.random() < 0.01:  # looking oneself up
            if self.rng.random() < 0.2:
                typo = hashed(f"{p.name}:mistyped")
                self.emit(p, d, source, t, EventKind.RECOVERY_LOOKUP, Result.NOT_FOUND, typo)
                t += self.rng.uniform(5.0, 20.0)
            self.emit(p, d, source, t, EventKind.RECOVERY_LOOKUP, Result.FOUND)
            t += self.rng.uniform(5.0, 60.0)
        r = self.rng.random()
        if r < 0.85:
            self.sign_in(p, d, source, t)
        elif r < 0.95:
            t = self.fail(p, d, source, t, self.rng.randint(1, 2))
            self.sign_in(p, d, source, t)
        elif r < 0.98:
            t = self.fail(p, d, source, t, self.rng.randint(3, 5))
            self.reset(p, d, source, t + self.rng.uniform(5.0, 60.0))
        else:
            self.reset(p, d, source, t)


def people(seed: int, users: int) -> list[Person]:
    rng = random.Random(f"people:{seed}")
    return [_person(rng, i, seed) for i in range(users)]


def normal_events(seed: int, users: int, seconds: float, start: float = 0.0) -> list[AuthEvent]:
    """`users` people's auth events over `seconds` from `start`, in time order."""
    rng = random.Random(f"events:{seed}")
    w = _Writer(seed, rng)
    last = max(start, start + seconds - PERIOD_MARGIN)
    for p in people(seed, users):
        r = rng.random()
        sessions = 1 if r < 0.8 else 2 if r < 0.95 else rng.randint(3, 5)
        for _ in range(sessions):
            w.session(p, rng.uniform(start, last))
    end = start + seconds
    return sorted((e for e in w.out if e.time < end), key=lambda e: e.time)


# ---- transcript helpers ----------------------------------------------------------------

_DEFAULT_RESULT = {
    EventKind.LOGIN_SUCCEEDED: Result.OK,
    EventKind.SESSION_CREATED: Result.OK,
    EventKind.CREDENTIALS_CHANGED: Result.OK,
    EventKind.LOGIN_FAILED: Result.FAILED,
    EventKind.MFA_FAILED: Result.FAILED,
}
_ids = iter(range(10**9))


def net(source: str) -> str:
    """The /24 of an IPv4 address in text."""
    return source.rsplit(".", 1)[0] + ".0/24"


def event(
    t: float,
    kind: EventKind,
    account: str,
    source: str,
    *,
    result: Result | None = None,
    fingerprint: str = "",
    device: str = "",
    password: str = "",
    asn: int = 0,
    country: str = "",
) -> AuthEvent:
    """One event for a transcript; the prefix is the address's /24."""
    return AuthEvent(
        f"t{next(_ids)}",
        t,
        kind,
        account,
        source,
        net(source) if source else "",
        fingerprint=fingerprint,
        device=device,
        result=_DEFAULT_RESULT.get(kind, Result.UNKNOWN) if result is None else result,
        password=password,
        asn=asn,
        country=country,
    )
