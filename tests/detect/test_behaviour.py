"""Golden transcripts for the behaviour detectors: scanners, slow clients, origin stress.

Scanner and low_and_slow count per source prefix in a sketch that halves every
`window` (10 s) seconds; the count decays at the first slice of each window.
"""

from __future__ import annotations

import pytest

from detectrecords import many, slice_of, spread
from seawall.core.verdict import Action
from seawall.detect.baseline import Baselines
from seawall.detect.detectors.behaviour import LowAndSlow, OriginStress, Scanner, sensitive
from seawall.detect.records import Load
from seawall.detect.signals import Context, Signal

A = "203.0.113.7"  # in 203.0.113.0/24
A_NET = "203.0.113.0/24"


def ctx(load: Load | None = None, b: Baselines | None = None) -> Context:
    return Context(Baselines() if b is None else b, load or Load(), warm=True)


@pytest.mark.parametrize(
    ("path", "yes"),
    [
        ("/.env", True),
        ("/.git/config", True),
        ("/WP-Login.php", True),
        ("/cgi-bin/luci", True),
        ("/users/famous", False),
        ("/api/v1/timeline", False),
        ("/environment", False),
    ],
)
def test_sensitive_paths(path: str, yes: bool) -> None:
    assert sensitive(path) is yes


# ---- scanner -----------------------------------------------------------------------------


def test_scanner_on_sensitive_paths_five_points_each() -> None:
    d = Scanner()
    d.observe(slice_of(many(3, client=A, path="/.env", status=404), 0.0), ctx())
    assert d.tick(1.0) == []  # 3 x 5 = 15 < 20
    d.observe(slice_of(many(1, client=A, path="/wp-login.php", status=404), 1.0), ctx())
    (sig,) = d.tick(2.0)  # 15 + 5 = 20: fires
    assert sig == Signal(
        "scanner",
        "scanner",
        (("prefix", A_NET),),
        2.0,
        2.0,  # 20 in a 10 s window
        0.0,
        0.0,
        0.5,  # 20 / (2 x threshold)
        0,
        (("probes", "20"),),
    )


def test_scanner_on_a_404_storm() -> None:
    d = Scanner()
    d.observe(slice_of(many(19, client=A, path="/nope", status=404), 0.0), ctx())
    assert d.tick(1.0) == []
    d.observe(slice_of(many(1, client=A, path="/gone", status=403), 1.0), ctx())
    (sig,) = d.tick(2.0)
    assert sig.scope == (("prefix", A_NET),) and sig.evidence == (("probes", "20"),)


def test_scanner_ignores_people_and_the_edges_own_refusals() -> None:
    d = Scanner()
    ok = many(500, client=A, path="/users/famous", status=200)
    refused = many(30, client=A, path="/.env", action=Action.BLOCK, status=403)
    challenged = many(30, client=A, path="/nope", action=Action.CHALLENGE, status=403)
    throttled = many(30, client=A, path="/nope", action=Action.THROTTLE, status=429)
    d.observe(slice_of(ok + refused + challenged + throttled, 0.0), ctx())
    assert d.tick(1.0) == []
    cached = many(4, client=A, path="/.env", action=Action.CACHE, status=404)  # counts
    d.observe(slice_of(cached, 1.0), ctx())
    assert [s.scope for s in d.tick(2.0)] == [(("prefix", A_NET),)]


def test_scanner_fires_once_per_window_per_prefix() -> None:
    d = Scanner()
    fired = []
    for t in range(12):  # 20 probes every second from one prefix
        d.observe(slice_of(many(20, client=A, path="/x", status=404), float(t)), ctx())
        fired += [(t, s.evidence) for s in d.tick(t + 1.0)]
    # second 0 fires at 20; the window then runs to 11, when the sketch halves:
    # seconds 0..9 gave 10 x 20 = 200 -> 100, + 20 = 120, and the prefix may fire again
    assert fired == [(0, (("probes", "20"),)), (10, (("probes", "120"),))]


def test_scanner_counts_prefixes_apart() -> None:
    d = Scanner()
    recs = many(4, client=A, path="/.env") + many(4, client="198.51.100.1", path="/.env")
    recs += many(3, client="192.0.2.1", path="/.env")
    d.observe(slice_of(recs, 0.0), ctx())
    assert sorted(str(s.scope[0][1]) for s in d.tick(1.0)) == ["198.51.100.0/24", A_NET]


# ---- low_and_slow ------------------------------------------------------------------------


def test_low_and_slow_spread_thin_fires_for_the_site_once_per_window() -> None:
    """Slowloris from 30 prefixes, two connections each: no prefix reaches 10, the site does."""
    d = LowAndSlow()
    d.observe(slice_of(spread(30, 30, status=408, error="slow: head", origin_time=0.0)), ctx())
    assert d.tick(1.0) == []  # 30 < site_threshold 50
    d.observe(slice_of(spread(30, 30, status=408, error="slow: head", origin_time=0.0), 1.0), ctx())
    (sig,) = d.tick(2.0)
    assert (sig.scope, sig.vector, sig.mitigable) == ((), "low_and_slow", False)
    assert dict(sig.evidence) == {"slow_connections": "60", "prefixes": "30"}
    assert sig.sources == 30 and sig.rate == 6.0  # 60 in a 10 s window
    d.observe(slice_of(spread(30, 30, status=408, error="slow: head", origin_time=0.0), 2.0), ctx())
    assert d.tick(3.0) == []  # once per window


def test_low_and_slow_on_408_and_slow_errors() -> None:
    d = LowAndSlow()
    recs = many(6, client=A, status=408, origin_time=0.0)
    recs += many(3, client=A, status=400, error="slow_body", origin_time=0.0)
    recs += many(50, client=A)  # fast and fine
    d.observe(slice_of(recs, 0.0), ctx())
    assert d.tick(1.0) == []  # 9 < threshold 10
    d.observe(slice_of(many(1, client=A, status=0, error="slow_head"), 1.0), ctx())
    (sig,) = d.tick(2.0)
    assert (sig.detector, sig.vector, sig.scope) == (
        "low_and_slow",
        "low_and_slow",
        (("prefix", A_NET),),
    )
    assert sig.evidence == (("slow_connections", "10"),) and sig.rate == 1.0


def test_low_and_slow_ignores_other_errors() -> None:
    d = LowAndSlow()
    d.observe(slice_of(many(40, client=A, status=502, error="origin_reset"), 0.0), ctx())
    assert d.tick(1.0) == []


# ---- origin_stress -----------------------------------------------------------------------


def test_origin_stress_on_admission_pressure() -> None:
    d = OriginStress()
    d.observe(slice_of(many(100), 0.0), ctx(Load(queued=5, limit=10.0, inflight=10)))
    (sig,) = d.tick(1.0)  # pressure (10 + 5) / 10 - 1 = 0.5: the threshold
    assert sig == Signal(
        "origin_stress",
        "origin_stress",
        (),
        1.0,
        100.0,  # forwarded requests/s
        0.0,
        0.0,
        1.0,
        0,
        (("admission", "pressure 0.50, shed 0"),),
        actionable=False,
    )
    d.observe(slice_of(many(100), 1.0), ctx(Load(queued=4, limit=10.0, inflight=10)))
    assert d.tick(2.0) == []  # 0.4


def test_origin_stress_on_shedding() -> None:
    d = OriginStress()
    d.observe(slice_of(many(10), 0.0), ctx(Load(shed=3)))
    (sig,) = d.tick(1.0)
    assert sig.evidence == (("admission", "pressure 0.00, shed 3"),)
    assert not sig.actionable and sig.scope == ()


def test_origin_stress_on_a_share_of_5xx() -> None:
    d = OriginStress()
    d.observe(slice_of(many(16) + many(4, status=503), 0.0), ctx())
    (sig,) = d.tick(1.0)  # 4 of 20 forwarded: 0.2
    assert sig.evidence == (("errors", "4/20 5xx"),)
    d.observe(slice_of(many(17) + many(3, status=503), 1.0), ctx())
    assert d.tick(2.0) == []  # 0.15
    d.observe(slice_of(many(19, status=500), 2.0), ctx())
    assert d.tick(3.0) == []  # under min_forwarded 20: too few to judge
    d.observe(slice_of(many(20) + many(30, status=503, origin_time=0.0), 3.0), ctx())
    assert d.tick(4.0) == []  # the edge's own 503s (never forwarded) do not count


def test_origin_stress_on_latency_against_its_learned_baseline() -> None:
    d = OriginStress()
    b = Baselines()
    for t in range(29):  # healthy: 10 ms; the detector learns it itself
        d.observe(slice_of(many(20, origin_time=0.01), float(t)), ctx(b=b))
        assert d.tick(t + 1.0) == []
    d.observe(slice_of(many(20, origin_time=0.05), 29.0), ctx(b=b))
    assert d.tick(30.0) == []  # 29 seconds learnt: too few to judge latency yet
    assert d.learned == 30 and abs(d.usual - (29 * 0.01 + 0.05) / 30) < 1e-9
    slow = many(20, origin_time=0.1)
    d.observe(slice_of(slow, 30.0), ctx(b=b))
    (sig,) = d.tick(31.0)
    # the usual time learnt is the plain mean (29 x 10 ms + 50 ms) / 30 ~ 11 ms
    (why,) = sig.evidence
    assert why[0] == "latency" and why[1].startswith("100 ms vs 11 ms")
    usual = d.usual
    d.observe(slice_of(slow, 31.0), ctx(b=b))
    assert len(d.tick(32.0)) == 1
    assert d.usual == usual and d.learned == 30  # nothing learnt while stressed


def test_origin_stress_is_silent_when_healthy() -> None:
    d = OriginStress()
    d.observe(slice_of(many(500, origin_time=0.02) + many(5, status=502), 0.0), ctx())
    assert d.tick(1.0) == []  # 5 of 505: 1%


def test_latency_stress_clears_when_the_origin_recovers() -> None:
    d = OriginStress()
    b = Baselines()
    fast, slow = many(20, origin_time=0.01), many(20, origin_time=0.1)
    for t in range(30):
        d.observe(slice_of(fast, float(t)), ctx(b=b))
        d.tick(t + 1.0)
    for t in range(30, 120):  # a minute and a half of a slow origin
        d.observe(slice_of(slow, float(t)), ctx(b=b))
        d.tick(t + 1.0)
    flagged = 0
    for t in range(120, 180):  # back to its usual 10 ms
        d.observe(slice_of(fast, float(t)), ctx(b=b))
        flagged += len(d.tick(t + 1.0))
    assert flagged == 0
