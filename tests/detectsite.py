"""A synthetic site for detection tests and the engine benchmark: seeded, pure, closed-loop.

Legitimate browsers, signed-in users and api apps visit steadily; waves of bots or of a
crowd come and go. Each second's requests go through a real Decider holding whatever
rules the engine has asked for, so a transcript shows the attack being blocked.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from seawall.core.challenge import PASS_PATH
from seawall.core.decider import Decider
from seawall.core.facts import ClientClass, RequestFacts
from seawall.core.record import Record
from seawall.core.verdict import Action
from seawall.detect.engine import DetectionEngine, TickResult

from corefacts import make_facts

BROWSER_FP = "b10a5e7f0c01"
BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36"
BOT_FP = "ba7ba7ba7ba7"
BOT_UA = "Mozilla/5.0 (Windows NT 10.0; WOW64) Chrome/51.0.2704.103 Safari/537.36"
FAMOUS = "/users/famous"


def _addr(rng: random.Random) -> str:
    return (
        f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    )


@dataclass(slots=True)
class Wave:
    kind: str  # "bots", "crowd", "scanner", "mimic"
    start: int
    end: int
    rate: int
    sources: list[str]
    target: str = FAMOUS


@dataclass
class Site:
    seed: int = 1
    legit_rate: int = 120
    waves: list[Wave] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.people = [_addr(self.rng) for _ in range(400)]
        self.users = self.people[:40]
        self.apps = [_addr(self.rng) for _ in range(5)]
        self.targets = [f"/users/u{i}" for i in range(60)] + ["/", FAMOUS]

    def wave(self, kind: str, start: int, end: int, rate: int, sources: int, **kw: str) -> Wave:
        w = Wave(kind, start, end, rate, [_addr(self.rng) for _ in range(sources)], **kw)
        self.waves.append(w)
        return w

    def second(self, t: int) -> list[RequestFacts]:
        rng, out = self.rng, []
        for _ in range(self.legit_rate):
            roll = rng.random()
            if roll < 0.1:
                out.append(self._app())
            elif roll < 0.3:
                out.append(self._person(rng.choice(self.users), ClientClass.USER))
            else:
                out.append(self._person(rng.choice(self.people), ClientClass.ANONYMOUS))
        for w in self.waves:
            if w.start <= t < w.end:
                out.extend(self._wave(w) for _ in range(w.rate))
        rng.shuffle(out)
        return out

    def _person(self, client: str, klass: ClientClass, target: str = "") -> RequestFacts:
        target = target or self.rng.choice(self.targets)
        principal = f"user:{client}" if klass is ClientClass.USER else ""
        return make_facts(
            client=client,
            path=target,
            target=target,
            route="profile" if target.startswith("/users/") else "home",
            header_fp=BROWSER_FP,
            user_agent=BROWSER_UA,
            klass=klass,
            principal=principal,
            has_cookie=True,
        )

    def _app(self) -> RequestFacts:
        client = self.rng.choice(self.apps)
        return make_facts(
            client=client,
            path="/api/v1/timeline",
            target="/api/v1/timeline",
            route="api",
            header_fp="a991a991a991",
            user_agent="lab-app/2.1",
            klass=ClientClass.API_APP,
            principal=f"app:{client}",
        )

    def _wave(self, w: Wave) -> RequestFacts:
        client = self.rng.choice(w.sources)
        if w.kind == "crowd":
            return self._person(client, ClientClass.ANONYMOUS, w.target)
        if w.kind == "scanner":
            path = self.rng.choice(("/.env", "/wp-login.php", "/.git/config", "/admin.php"))
            return make_facts(client=client, path=path, target=path, route="other")
        if w.kind == "mimic":  # bots that copy a browser exactly
            return self._person(client, ClientClass.ANONYMOUS, w.target)
        return make_facts(
            client=client,
            path=w.target,
            target=w.target,
            route="profile",
            header_fp=BOT_FP,
            user_agent=BOT_UA,
        )


@dataclass(slots=True)
class Run:
    """Drives a site through an engine and a decider, second by second."""

    site: Site
    engine: DetectionEngine
    decider: Decider = field(default_factory=Decider)
    results: list[TickResult] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (who, action)
    solved: set[str] = field(default_factory=set)  # clients holding a pass cookie
    t0: float = 1_700_000_000.0

    def run(self, seconds: int, start: int = 0) -> None:
        for t in range(start, start + seconds):
            now = float(t)
            for f in self.site.second(t):
                self._serve(f, now)
            res = self.engine.tick(now + 1.0, wall=self.t0 + now + 1.0)
            self.decider.apply(res.delta)
            self.results.append(res)

    def _serve(self, f: RequestFacts, now: float) -> None:
        """One request through the decider, a challenge solved if its client would."""
        if f.client.text in self.solved:
            f = self._passed(f)
        v = self.decider.decide(f, now)
        if v.action is Action.CHALLENGE and self._solves(f):
            passed = self._passed(f)
            self.engine.observe(_record(passed, v, 303, now, self.t0, PASS_PATH))
            self.solved.add(f.client.text)
            f, v = passed, self.decider.decide(passed, now)
        status = 200 if v.action <= Action.CACHE else (444 if v.close else v.status)
        self.outcomes[(self._who(f), v.action.label)] += 1
        self.engine.observe(_record(f, v, status, now, self.t0))

    def _who(self, f: RequestFacts) -> str:
        if f.header_fp == BOT_FP:
            return "bot"
        if f.klass is not ClientClass.ANONYMOUS:
            return f.klass.label
        return "person" if f.client.text in self.site.people else "other"

    def _solves(self, f: RequestFacts) -> bool:
        """People (and crowds) solve challenges; bots and scanners never do."""
        return f.header_fp == BROWSER_FP and not self._is_mimic(f)

    def _is_mimic(self, f: RequestFacts) -> bool:
        return any(w.kind == "mimic" and f.client.text in w.sources for w in self.site.waves)

    @staticmethod
    def _passed(f: RequestFacts) -> RequestFacts:
        import msgspec

        return msgspec.structs.replace(f, passed=True)


def _record(
    f: RequestFacts, v: object, status: int, now: float, t0: float, path: str = ""
) -> Record:
    import msgspec

    from seawall.core.verdict import Verdict

    assert isinstance(v, Verdict)
    if path:
        f = msgspec.structs.replace(f, path=path)
    forwarded = v.action <= Action.CACHE
    return Record(f, v, status, 0, 500, 0.01, 0.01 if forwarded else 0.0, "", "r", t0 + now)
