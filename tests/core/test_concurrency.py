"""The adaptive concurrency limit, driven by simulated origins with explicit `now` values.

Each sample is sent with `inflight = limit` (the edge keeps the origin as busy as it lets
itself), and finishes 10 ms after the previous one unless a test says otherwise.
"""

from __future__ import annotations

import math

import pytest

from seawall.core.concurrency import AdaptiveLimit, LimitSettings


def queueing_rtt(inflight: int) -> float:
    """An origin with 16 workers: 20 ms until they are all busy, then requests queue."""
    return 0.02 * max(1.0, inflight / 16)


def drive(a: AdaptiveLimit, start: float, n: int, rtt: float | None = None) -> list[int]:
    """n samples 10 ms apart at inflight = limit; the limit after each one."""
    out = []
    for i in range(n):
        inflight = a.limit
        a.on_sample(
            start + i * 0.01, queueing_rtt(inflight) if rtt is None else rtt, inflight, False
        )
        out.append(a.limit)
    return out


def test_healthy_origin_grows_by_the_queue_allowance_and_stops_at_max() -> None:
    a = AdaptiveLimit()
    limits = drive(a, 0.0, 400, rtt=0.02)
    # gradient 1: each sample adds smoothing * sqrt(limit), a little under one at first
    assert limits[:12] == [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32]
    assert limits == sorted(limits)
    assert limits.index(1000) == 272  # reached on the 273rd sample, then held
    assert set(limits[272:]) == {1000}
    assert a.snapshot() == {
        "limit": 1000.0,
        "rtt_short": 0.02,
        "rtt_long": 0.02,
        "samples": 400.0,
        "drops": 0.0,
        "backoffs": 0.0,
        "probing": 0.0,
    }


def test_queueing_origin_converges_near_its_knee_and_stays() -> None:
    a = AdaptiveLimit(LimitSettings(probe_interval=5.0))
    limits = drive(a, 0.0, 20_000)
    # The first sample (at 20 in flight: 25 ms) seeds the baseline, so until the first probe
    # the limit settles where 1.5 * 25 ms stops it; never more.
    assert limits[:12] == [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32]
    assert set(limits[40:500]) == {36}
    # The probe at 5 s pins the limit to min_limit for 20 samples and measures 20 ms...
    assert limits[499:521] == [36] + [2] * 20 + [36]
    assert a.snapshot()["rtt_long"] == pytest.approx(0.02)
    # ...after which the limit sits at 29-30 (16 workers, 1.5x the RTT tolerated, plus the
    # sqrt queue allowance), and every 5 s dips to 2 for one probe, for 200 s.
    outside_probes = [n for i, n in enumerate(limits) if i >= 1000 and n != 2]
    assert set(outside_probes) == {29, 30}
    assert limits.count(2) == 38 * 20  # a probe of 20 samples every 520
    assert max(limits) == 36
    assert a.snapshot()["rtt_long"] == pytest.approx(0.02)  # no drift


def test_without_probes_the_queueing_origin_still_does_not_drift() -> None:
    a = AdaptiveLimit(LimitSettings(probe_interval=math.inf))
    limits = drive(a, 0.0, 20_000)
    assert set(limits[40:]) == {36}
    assert a.snapshot()["rtt_long"] == 0.025  # the first sample, never learned upward


def test_burst_of_drops_at_one_moment_is_one_backoff() -> None:
    a = AdaptiveLimit()
    for _ in range(100):
        a.on_sample(1.0, 0.5, a.limit, True)
    assert a.limit == 18  # 20 * 0.9, once
    assert a.snapshot() == {
        "limit": 18.0,
        "rtt_short": 0.0,  # a drop's RTT says nothing about queueing
        "rtt_long": 0.0,
        "samples": 100.0,
        "drops": 100.0,
        "backoffs": 1.0,
        "probing": 0.0,
    }
    a.on_sample(1.04, 0.5, a.limit, True)  # within 0.05 s: still the same overload moment
    assert a.limit == 18
    a.on_sample(0.5, 0.5, a.limit, True)  # an older moment
    assert a.limit == 18


def test_spaced_drops_back_off_geometrically_to_min_and_no_further() -> None:
    a = AdaptiveLimit()
    limits = []
    for k in range(30):
        a.on_sample(1.0 + 0.1 * k, 0.5, a.limit, True)
        limits.append(a.limit)
    assert limits == [
        18, 16, 14, 13, 11, 10, 9, 8, 7, 6, 6, 5, 5, 4, 4, 3, 3, 3, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    ]  # fmt: skip
    assert limits == [max(2, math.floor(20 * 0.9 ** (k + 1))) for k in range(30)]
    assert a.snapshot()["backoffs"] == 30.0


def test_backoffs_are_spaced_by_the_long_rtt() -> None:
    a = AdaptiveLimit()
    a.on_sample(0.0, 0.2, 20, False)  # baseline 200 ms
    assert a.limit == 20
    limits = []
    for t in (1.0, 1.1, 1.19, 1.2, 1.3):
        a.on_sample(t, 1.0, 20, True)
        limits.append(a.limit)
    assert limits == [18, 18, 18, 16, 16]  # the second at 1.2: 0.2 s after the first


def test_recovers_above_initial_once_the_origin_does() -> None:
    a = AdaptiveLimit()
    assert drive(a, 0.0, 200, rtt=0.02)[-1] == 594
    # outage: every request times out or is refused, 10 a second for 10 s
    for k in range(100):
        a.on_sample(2.0 + 0.1 * k, 0.5, a.limit, True)
    assert a.limit == 2
    # the origin is back: 20 ms, no drops
    limits = drive(a, 12.0, 100, rtt=0.02)
    assert limits[:12] == [2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6]
    assert next(i for i, n in enumerate(limits) if n > 20) == 32  # the 33rd sample
    assert limits == sorted(limits)


def test_a_lasting_slowdown_is_learned_by_the_next_probe_and_unlearned_after() -> None:
    a = AdaptiveLimit(LimitSettings(probe_interval=2.0))
    assert drive(a, 0.0, 100, rtt=0.02)[-1] == 207
    slow = drive(a, 1.0, 200, rtt=0.4)  # 20x slower at any load (a slow deploy, say)
    # gradient 0.5 until the shrink meets the sqrt allowance: limit * 0.5 == sqrt(limit)
    assert slow[:8] == [189, 173, 158, 145, 133, 122, 112, 103]  # 0.9 L + 0.2 sqrt(L)
    assert min(slow[:100]) == 4 and set(slow[80:100]) == {4}
    # the probe at 2.0 s measures 400 ms at low load: now the origin's own, so growth resumes
    assert slow[100:120] == [2] * 20
    assert a.snapshot()["rtt_long"] == pytest.approx(0.4)
    assert slow[120:] == sorted(slow[120:]) and slow[-1] == 97
    fast = drive(a, 3.0, 100, rtt=0.02)  # back to 20 ms: the baseline decays back down
    assert fast == sorted(fast) and fast[-1] == 394
    assert a.snapshot()["rtt_long"] < 0.04


def test_app_limited_traffic_neither_grows_nor_shrinks_the_limit() -> None:
    a = AdaptiveLimit()
    for i in range(1000):
        a.on_sample(i * 0.01, 0.02, 3, False)
    assert a.limit == 20
    for i in range(1000):
        a.on_sample(10.0 + i * 0.01, 0.2, 9, False)  # slow, but 9 < 20 / 2: not our doing
    assert a.limit == 20
    a.on_sample(20.0, 0.02, 10, False)  # half the limit in flight: the origin is the limit
    assert a.limit == 20  # 20 * 0.8 + (20 + sqrt(20)) * 0.2 = 20.89
    a.on_sample(20.01, 0.02, 11, False)
    assert a.limit == 21


def test_probe_pins_the_limit_and_ignores_requests_sent_before_it() -> None:
    a = AdaptiveLimit(LimitSettings(probe_interval=10.0, probe_samples=3))
    a.on_sample(0.0, 0.05, 20, False)  # the first sample schedules the probe for 10.0
    assert a.limit == 20  # 20.89
    a.on_sample(10.0, 0.05, 21, False)  # due: pinned; this one was sent at full load
    assert (a.limit, a.snapshot()["probing"]) == (2, 1.0)
    a.on_sample(10.01, 0.9, 21, True)  # a drop during the probe backs off the saved limit
    for t, rtt, inflight in ((10.02, 0.5, 21), (10.03, 0.01, 2), (10.04, 0.02, 1)):
        a.on_sample(t, rtt, inflight, False)  # the 500 ms one queued behind the old load
        assert a.limit == 2
    a.on_sample(10.05, 0.03, 2, False)
    assert a.snapshot() == {
        "limit": 18.0,  # floor(20.89 * 0.9)
        "rtt_short": 0.03,
        "rtt_long": pytest.approx(0.02),  # the mean of 10, 20 and 30 ms
        "samples": 7.0,
        "drops": 1.0,
        "backoffs": 1.0,
        "probing": 0.0,
    }
    a.on_sample(19.0, 0.02, 18, False)
    a.on_sample(20.05, 0.02, 18, False)  # next probe: 10 s after the last one ended
    assert a.limit == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_limit": 0}, "min_limit must be at least 1"),
        ({"initial": 1}, r"min_limit <= initial <= max_limit, got 2 <= 1 <= 1000"),
        ({"max_limit": 10}, r"got 2 <= 20 <= 10"),
        ({"initial": 2.5}, "initial must be an int"),
        ({"max_limit": True}, "max_limit must be an int"),
        ({"smoothing": 0.0}, r"smoothing must be within \(0, 1\]"),
        ({"smoothing": math.nan}, "smoothing"),
        ({"tolerance": 0.9}, "tolerance must be finite and at least 1"),
        ({"tolerance": math.inf}, "tolerance"),
        ({"backoff": 1.0}, r"backoff must be within \(0, 1\)"),
        ({"backoff": 0.0}, "backoff"),
        ({"long_window": 0}, "long_window must be at least 1"),
        ({"probe_interval": 0.0}, "probe_interval must be positive"),
        ({"probe_interval": math.nan}, "probe_interval"),
        ({"probe_samples": 0}, "probe_samples must be at least 1"),
    ],
)
def test_settings_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LimitSettings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "rtt", "inflight", "message"),
    [
        (0.0, -0.001, 1, "rtt_s must be finite and >= 0"),
        (0.0, math.nan, 1, "rtt_s"),
        (0.0, math.inf, 1, "rtt_s"),
        (0.0, 0.02, -1, "inflight must be an int >= 0"),
        (0.0, 0.02, 1.5, "inflight"),
        (math.nan, 0.02, 1, "now must be finite"),
    ],
)
def test_bad_samples_raise_and_change_nothing(
    now: float, rtt: float, inflight: int, message: str
) -> None:
    a = AdaptiveLimit()
    before = a.snapshot()
    with pytest.raises(ValueError, match=message):
        a.on_sample(now, rtt, inflight, False)
    assert a.snapshot() == before


def test_zero_rtt_does_not_divide_by_zero() -> None:
    a = AdaptiveLimit()
    a.on_sample(0.0, 0.02, 20, False)
    a.on_sample(0.01, 0.0, 20, False)  # long/short huge: decays, gradient capped at 1
    assert a.limit == 21
