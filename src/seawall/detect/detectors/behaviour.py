"""Behaviour detectors: scanners and probes, connection-holding clients, origin stress.

Scanners and slow clients are counted per source prefix in Space-Saving sketches that
halve every `window` seconds, so memory is fixed however many sources there are and a
count means "recently". A prefix fires at most once per window.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from typing import Final

from seawall.core.verdict import Action
from seawall.detect.records import Slice
from seawall.detect.signals import Context, DetectorBase, Scope, Signal, register
from seawall.detect.sketch import SpaceSaving

# paths no legitimate visitor of a social platform asks for, and every scanner does
SENSITIVE: Final = (
    "/.env",
    "/.git",
    "/.aws",
    "/.ds_store",
    "/.htaccess",
    "/wp-login.php",
    "/wp-admin",
    "/xmlrpc.php",
    "/phpmyadmin",
    "/pma",
    "/config.php",
    "/server-status",
    "/actuator",
    "/cgi-bin",
    "/vendor/phpunit",
    "/etc/passwd",
    "/boaform",
    "/hnap1",
)
_PROBE_STATUSES: Final = frozenset({400, 401, 403, 404, 405})
_PATH: Final = attrgetter("path")
_STATUS: Final = attrgetter("status")


def sensitive(path: str) -> bool:
    return path.lower().startswith(SENSITIVE)


class _PerPrefix(DetectorBase):
    """Counts per prefix in a decaying sketch; fires once per window per prefix."""

    vector = ""
    mitigable = True
    OPTIONS = {
        "window": (10.0, "Seconds over which counts build up (then halve)."),
        "threshold": (20.0, "Count in a window at which a prefix fires."),
        "capacity": (4096.0, "Prefixes the sketch tracks (fixed memory)."),
    }

    def __init__(self, options: dict[str, float] | None = None) -> None:
        super().__init__(options)
        self.sketch: SpaceSaving[str] = SpaceSaving(int(self.opt["capacity"]))
        self.fired: dict[str, float] = {}  # bounded by the sketch's capacity
        self.next_decay = 0.0

    def count(self, s: Slice, counts: Counter[str], evidence: str) -> None:
        now = s.start + s.seconds
        if now >= self.next_decay:
            self.sketch.decay(0.5)
            self.fired = {p: t for p, t in self.fired.items() if t > now - self.opt["window"]}
            self.next_decay = now + self.opt["window"]
        if not counts:
            return
        self.sketch.update({k: n * s.weight for k, n in counts.items()})
        for prefix in counts:
            n = self.sketch.estimate(prefix)
            if n < self.opt["threshold"] or prefix in self.fired:
                continue
            self.fired[prefix] = now
            scope: Scope = (("prefix", prefix),)
            self.pending.append(
                Signal(
                    self.name,
                    self.vector,
                    scope,
                    now,
                    n / self.opt["window"],
                    0.0,
                    0.0,
                    min(1.0, n / (2 * self.opt["threshold"])),
                    0,
                    ((evidence, f"{n:.0f}"),),
                    mitigable=self.mitigable,
                )
            )


@register
class Scanner(_PerPrefix):
    """404/403 storms and requests for paths only scanners ask for."""

    name = "scanner"
    vector = "scanner"

    def observe(self, s: Slice, ctx: Context) -> None:
        # the few records that can be probes are found at C speed; most slices have none
        records, facts = s.records, s.facts
        secret = {p for p in Counter(map(_PATH, facts)) if sensitive(p)}
        probes = [i for i, st in enumerate(map(_STATUS, records)) if st in _PROBE_STATUSES]
        if secret:
            probes += [i for i, p in enumerate(map(_PATH, facts)) if p in secret]
        counts: Counter[str] = Counter()
        for i in dict.fromkeys(probes):
            r = records[i]
            if r.verdict.action > Action.CACHE:
                continue  # our own refusals say nothing about the client's probing
            f = r.facts
            counts[f.prefix] += 5 if f.path in secret else 1  # a secret is worth five misses
        self.count(s, counts, "probes")


@register
class LowAndSlow(_PerPrefix):
    """Connections held open: heads or bodies too slow, answers never read.

    Evidence for the incident, not a rule: a slow client never finishes the request a
    rule would judge. The edge's timeouts and per-address connection caps are the
    mitigation; this says who tried and how much.
    """

    name = "low_and_slow"
    vector = "low_and_slow"
    mitigable = False
    OPTIONS = {
        **_PerPrefix.OPTIONS,
        "threshold": (10.0, "Slow connections from one prefix in a window."),
        "site_threshold": (50.0, "Slow connections from everywhere in a window (spread out)."),
    }

    def __init__(self, options: dict[str, float] | None = None) -> None:
        super().__init__(options)
        self.site = 0.0  # slow connections in the current window, all prefixes
        self.prefixes: set[str] = set()  # bounded: cleared with the window
        self.site_fired = False

    def observe(self, s: Slice, ctx: Context) -> None:
        counts = Counter(r.facts.prefix for r in s.records if r.status == 408 or "slow" in r.error)
        now = s.start + s.seconds
        if now >= self.next_decay:  # a new window for the site-wide count too
            self.site, self.site_fired = 0.0, False
            self.prefixes.clear()
        self.count(s, counts, "slow_connections")
        self.site += sum(counts.values()) * s.weight
        if len(self.prefixes) < 100_000:
            self.prefixes.update(counts)
        if self.site >= self.opt["site_threshold"] and not self.site_fired:
            self.site_fired = True  # spread thin: no prefix fires, the site does
            self.pending.append(
                Signal(
                    self.name,
                    self.vector,
                    (),
                    now,
                    self.site / self.opt["window"],
                    0.0,
                    0.0,
                    min(1.0, self.site / (2 * self.opt["site_threshold"])),
                    len(self.prefixes),
                    (
                        ("slow_connections", f"{self.site:.0f}"),
                        ("prefixes", str(len(self.prefixes))),
                    ),
                    mitigable=False,
                )
            )


@register
class OriginStress(DetectorBase):
    """The origin struggling: admission shedding or queueing, 5xx answers, slow heads.

    Not an attack by itself and never a rule: context that lets the policy act on a
    surge it cannot tell from a crowd (challenge rather than wait).
    """

    name = "origin_stress"
    OPTIONS = {
        "pressure": (0.5, "Admission pressure (queued over limit) that counts as stress."),
        "errors": (0.2, "Share of forwarded requests answered 5xx that counts as stress."),
        "slow": (4.0, "Multiple of the origin's usual time to head that counts as stress."),
        "min_forwarded": (20.0, "Least forwarded requests in an interval to judge errors."),
    }

    def __init__(self, options: dict[str, float] | None = None) -> None:
        super().__init__(options)
        # the origin's usual time to head: a latency, not a rate, so absence is not a zero
        self.usual = 0.0
        self.learned = 0

    def observe(self, s: Slice, ctx: Context) -> None:
        times = [r.origin_time for r in s.records if r.origin_time > 0]
        errors = sum(1 for r in s.records if r.status >= 500 and r.origin_time > 0)
        mean_time = sum(times) / len(times) if times else 0.0
        why = []
        if ctx.load.pressure >= self.opt["pressure"] or ctx.load.shed > 0:
            why.append(("admission", f"pressure {ctx.load.pressure:.2f}, shed {ctx.load.shed}"))
        if len(times) >= self.opt["min_forwarded"] and errors / len(times) >= self.opt["errors"]:
            why.append(("errors", f"{errors}/{len(times)} 5xx"))
        if self.learned >= 30 and mean_time > self.opt["slow"] * self.usual:
            why.append(("latency", f"{mean_time * 1000:.0f} ms vs {self.usual * 1000:.0f} ms"))
        elif times:  # learn only while healthy
            self.learned += 1
            self.usual += (mean_time - self.usual) / min(self.learned, 300)
        if why:
            self.pending.append(
                Signal(
                    self.name,
                    "origin_stress",
                    (),
                    s.start + s.seconds,
                    len(times) / s.seconds,
                    0.0,
                    0.0,
                    1.0,
                    0,
                    tuple(why),
                    actionable=False,
                )
            )
