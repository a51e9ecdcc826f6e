"""Volume detectors: floods on a target, fingerprint surges, cache-busting, login floods.

Each compares an interval's rate for a key with the key's learned baseline. A key fires
when its rate is at least `min_rps`, at least `ratio` times its baseline mean, and at
least `z` standard deviations above it (the deviation floored at `floor` req/s, so a
quiet key with no variance does not fire on noise). A cold baseline has mean 0, so the
first surge fires; the signature and its collateral then decide whether it is an attack
or a crowd. Nothing fires until the engine has seen enough of the site (`warm`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from seawall.core.facts import ClientClass
from seawall.detect.records import Slice
from seawall.detect.signals import Context, DetectorBase, Scope, Signal, register

_SURGE = {
    "min_rps": (20.0, "Least requests/s on a key before it can be a flood."),
    "ratio": (4.0, "Least multiple of the key's baseline mean."),
    "z": (6.0, "Least z-score against the key's baseline."),
    "floor": (2.0, "Floor of the baseline's deviation, in requests/s."),
    "freeze": (60.0, "Seconds a key that fired stops learning, so the attack is not normal."),
}


def confidence(ratio: float, z: float, z_min: float) -> float:
    """16x the baseline at twice the z threshold is certain; 2x at the threshold is not."""
    by_ratio = min(1.0, math.log2(max(ratio, 1.0)) / 4.0)
    by_z = min(1.0, z / (2.0 * z_min)) if z_min > 0 else 1.0
    return round(min(by_ratio, by_z), 3)


class _Surge(DetectorBase):
    """Fires on keys of one attribute whose rate rose far above their baseline."""

    OPTIONS = _SURGE
    attr = ""
    vector = ""

    def scan(self, s: Slice, ctx: Context, counts: Mapping[Any, int]) -> None:
        """Every key of `counts` (this slice's, unweighted) that surged becomes a signal.

        An empty key is a connection dropped before its request: low_and_slow's.
        """
        scale = s.weight / s.seconds
        for key, n in counts.items():
            if not key:
                continue
            sig = self.surge(s, ctx, key, n * scale)
            if sig is not None:
                self.pending.append(sig)

    def surge(
        self,
        s: Slice,
        ctx: Context,
        key: object,
        rate: float,
        attr: str = "",
        scope: Scope | None = None,
    ) -> Signal | None:
        """A signal when `rate` for baseline key (attr, key) is a surge; `scope` selects
        the records (default: those whose `attr` is `key`)."""
        o, attr = self.opt, attr or self.attr
        if rate < o["min_rps"] or not ctx.warm:
            return None  # before the site's normal is known, admission and cache carry it
        bkey = (attr, key)
        stat = ctx.baselines.stat(bkey, s.start)
        mean = stat.mean if stat is not None else 0.0
        z = ctx.baselines.score(bkey, rate, s.start, o["floor"])
        ratio = rate / max(mean, o["floor"] / 4)
        if ratio < o["ratio"] or z < o["z"]:
            return None
        ctx.baselines.freeze(bkey, s.start + o["freeze"])  # never learn the attack as normal
        if scope is None:
            scope = () if attr == "global" else ((attr, key),)
        return Signal(
            self.name,
            self.vector,
            scope,
            s.start + s.seconds,
            rate,
            mean,
            round(z, 2),
            confidence(ratio, z, o["z"]),
            0,  # distinct sources: counted by the engine for the signals it acts on
            (("ratio", f"{ratio:.1f}"),),
        )


@register
class HttpFlood(_Surge):
    """Volume against baseline per target, and for the site as a whole."""

    name = "http_flood"
    attr = "target"
    vector = "http_flood"

    def observe(self, s: Slice, ctx: Context) -> None:
        self.scan(s, ctx, s.count_by("target"))
        if not self.pending:  # a flood spread over many targets
            total = s.total / s.seconds
            sig = self.surge(s, ctx, "", total, "global")
            if sig is not None:
                self.pending.append(sig)


@register
class FingerprintSurge(_Surge):
    """One header-order fingerprint far above its baseline, among anonymous clients."""

    name = "fingerprint_surge"
    attr = "header_fp"
    vector = "fingerprint_surge"

    def observe(self, s: Slice, ctx: Context) -> None:
        anon = Counter(f.header_fp for f in s.facts if f.klass is ClientClass.ANONYMOUS)
        self.scan(s, ctx, anon)


@register
class LoginAbuse(_Surge):
    """Sign-in floods: POSTs to a login route far above baseline (handed to accounts)."""

    name = "login_abuse"
    attr = "login"
    vector = "login_abuse"
    OPTIONS = {
        **_SURGE,
        "min_rps": (5.0, "Least sign-in attempts/s on a login route before it is abuse."),
    }

    def observe(self, s: Slice, ctx: Context) -> None:
        routes = ctx.login_routes
        posts = Counter(f.route for f in s.facts if f.method == "POST" and f.route in routes)
        scale = s.weight / s.seconds
        for route, n in posts.items():
            scope: Scope = (("route", route), ("method", "POST"))
            sig = self.surge(s, ctx, route, n * scale, scope=scope)
            if sig is not None:
                self.pending.append(sig)
        # the engine learns the standard keys; this one is the detector's own
        ctx.baselines.observe_many({("login", r): n * scale for r, n in posts.items()}, s.start)


@register
class CacheBust(_Surge):
    """Random query variants on one route, far above what the route normally gets.

    Unique queries alone are no attack: search and API pagination are unique by nature.
    The route's requests with a query must also surge against the route's own baseline.
    """

    name = "cache_bust"
    attr = "route"
    vector = "cache_bust"
    OPTIONS = {
        **_SURGE,
        "min_rps": (20.0, "Least requests/s with a query on the route."),
        "distinct": (0.8, "Least share of those requests whose query is unique."),
    }

    def observe(self, s: Slice, ctx: Context) -> None:
        if not ctx.warm:
            return
        with_query = [(f.route, f.query) for f in s.facts if f.query]
        if not with_query:
            return
        per_route = Counter(r for r, _ in with_query)
        distinct = Counter(r for r, _ in set(with_query))
        scale = s.weight / s.seconds
        for route, n in per_route.items():
            share = distinct[route] / n
            if share < self.opt["distinct"]:
                continue
            sig = self.surge(s, ctx, route, n * scale)
            if sig is not None:
                evidence = (*sig.evidence, ("distinct_queries", f"{share:.2f}"))
                conf = min(sig.confidence, round(min(1.0, share), 3))
                self.pending.append(replace(sig, confidence=conf, evidence=evidence))
