"""An adaptive concurrency limit for one origin: Gradient2 on RTT, AIMD on drops, RTT probes.

The edge reports every finished origin request with `on_sample(now, rtt_s, inflight,
dropped)`, where `inflight` is how many requests to that origin were in flight when this one
was sent, and never has more than `limit` in flight. Nothing here reads a clock: `now` is the
caller's monotonic seconds and only spaces out backoffs and probes.

Two RTT estimates drive the limit:

================  ==========================================================================
``rtt_short``     the latest sample: how long the origin takes now
``rtt_long``      the origin's no-load RTT (the baseline): seeded by the first sample, set by
                  each probe, and between probes an EWMA over `long_window` samples that only
                  moves *down* (see "Why the baseline never learns upward" below)
================  ==========================================================================

What one sample does, in order:

==============================  =============================================================
sample                          effect
==============================  =============================================================
``dropped=True`` (503, timeout, limit = max(min_limit, limit * backoff), at most once per
connect error)                  max(rtt_long, 0.05 s) of `now`: a burst of drops from one
                                overload moment is one decrease, not a collapse. A dropped
                                request's RTT (a timeout, an instant refusal) says nothing
                                about queueing, so it does not touch the RTT estimates.
``rtt_long / rtt_short > 2``    rtt_long *= 0.95 per sample: after a slow spell the baseline
                                comes back down in tens of samples, not `long_window`.
``inflight < limit / 2``        the application, not the origin, is the limit: the limit
                                stays as it is (no evidence either way).
otherwise                       gradient = clamp(tolerance * rtt_long / rtt_short, 0.5, 1.0);
                                new = limit * gradient + sqrt(limit)  (the queue allowance);
                                limit = limit * (1 - smoothing) + new * smoothing, clamped
                                to [min_limit, max_limit].
every `probe_interval` of now   probe: `limit` reads min_limit until `probe_samples` samples
                                sent with inflight <= min_limit have come back; their mean is
                                the new rtt_long, and the limit from before the probe returns
                                (drops during the probe still back it off).
==============================  =============================================================

At a steady RTT the gradient is 1 and the limit grows by ``smoothing * sqrt(limit)`` a
sample (additive-ish increase); once queueing pushes the RTT past ``tolerance`` times the
baseline the gradient falls below 1 and the limit settles where the shrink equals the queue
allowance: ``limit * (1 - gradient) == sqrt(limit)``.

Why the baseline never learns upward between probes: Gradient2 as published lets rtt_long
be an EWMA of every sample. Against an origin that queues (RTT proportional to inflight past
its knee) and never drops, that drifts without bound: the limit grows while the RTT is within
tolerance, rtt_long follows the RTT up, so the tolerance grows with it, and the limit reaches
`max_limit` (from 20 to 1000 in about 1,700 samples with these defaults). Any estimator that
learns from loaded samples scales with the load it causes, so it cannot tell "we queued" from
"the origin got slower". Only a sample taken at low concurrency can, which is why Envoy's
adaptive concurrency pins concurrency low to measure minRTT. The probe does the same, and is
also how a real, lasting rise in the origin's RTT (a slower deploy, heavier traffic mix) is
learned: until the next probe such a rise only shrinks the limit (to ~16 for a 2x rise, to
the sqrt floor of ~4 for 3x), never wedges it for good.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_DECAY = 0.95  # Gradient2: shrink rtt_long by 5% a sample while it is over twice rtt_short
_DRIFT_RATIO = 2.0
_MIN_BACKOFF_GAP_S = 0.05  # one backoff per this much `now` at least, however small the RTT
_RTT_FLOOR_S = 1e-6  # a zero RTT (a cached or refused answer) must not divide by zero
_GRADIENT_MIN = 0.5  # never more than halve the smoothed estimate on one sample
_GRADIENT_MAX = 1.0  # low RTT alone never grows the limit; only the sqrt queue allowance does


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Tuning for `AdaptiveLimit`; the defaults are Gradient2's and Envoy's where they exist."""

    initial: int = 20
    min_limit: int = 2
    max_limit: int = 1000
    smoothing: float = 0.2  # weight of a new estimate
    tolerance: float = 1.5  # rtt growth tolerated before the limit shrinks
    backoff: float = 0.9  # multiplicative decrease on a drop (origin 503/timeout/connect error)
    long_window: int = 600  # samples in the long-term RTT EWMA
    probe_interval: float = 60.0  # seconds of `now` between baseline probes; math.inf: never
    probe_samples: int = 20  # low-concurrency samples a probe averages

    def __post_init__(self) -> None:
        ints = ("initial", "min_limit", "max_limit", "long_window", "probe_samples")
        for name in ints:
            if not _is_int(getattr(self, name)):
                raise ValueError(f"{name} must be an int, not {getattr(self, name)!r}")
        if self.min_limit < 1:
            raise ValueError(f"min_limit must be at least 1, not {self.min_limit}")
        if not self.min_limit <= self.initial <= self.max_limit:
            raise ValueError(
                f"need min_limit <= initial <= max_limit, got "
                f"{self.min_limit} <= {self.initial} <= {self.max_limit}"
            )
        if not 0 < self.smoothing <= 1:
            raise ValueError(f"smoothing must be within (0, 1], not {self.smoothing}")
        if not 1 <= self.tolerance < math.inf:
            raise ValueError(f"tolerance must be finite and at least 1, not {self.tolerance}")
        if not 0 < self.backoff < 1:
            raise ValueError(f"backoff must be within (0, 1), not {self.backoff}")
        if self.long_window < 1:
            raise ValueError(f"long_window must be at least 1, not {self.long_window}")
        if not self.probe_interval > 0:  # also refuses NaN; math.inf disables probing
            raise ValueError(f"probe_interval must be positive, not {self.probe_interval}")
        if self.probe_samples < 1:
            raise ValueError(f"probe_samples must be at least 1, not {self.probe_samples}")


DEFAULT_SETTINGS = LimitSettings()


class AdaptiveLimit:
    """How many requests one origin may have in flight; see the module docstring."""

    __slots__ = (
        "_alpha",
        "_backoffs",
        "_drops",
        "_last_backoff",
        "_limit",
        "_next_probe",
        "_probe_n",
        "_probe_sum",
        "_probing",
        "_rtt_long",
        "_rtt_short",
        "_samples",
        "settings",
    )

    def __init__(self, settings: LimitSettings = DEFAULT_SETTINGS) -> None:
        self.settings = settings
        self._limit = float(settings.initial)  # kept fractional: sqrt(limit) steps are small
        self._alpha = 2.0 / (settings.long_window + 1)  # EWMA weight over long_window samples
        self._rtt_short = 0.0
        self._rtt_long: float | None = None
        self._samples = 0
        self._drops = 0
        self._backoffs = 0
        self._last_backoff: float | None = None
        self._next_probe: float | None = None  # set by the first sample's `now`
        self._probing = False
        self._probe_sum = 0.0
        self._probe_n = 0

    @property
    def limit(self) -> int:
        """The whole number of requests that may be in flight, within [min_limit, max_limit]."""
        if self._probing:
            return self.settings.min_limit
        return min(max(math.floor(self._limit), self.settings.min_limit), self.settings.max_limit)

    def on_sample(self, now: float, rtt_s: float, inflight: int, dropped: bool) -> None:
        """Learn from one finished origin request; raises ValueError on impossible input."""
        if not math.isfinite(now):
            raise ValueError(f"now must be finite, not {now}")
        if not (math.isfinite(rtt_s) and rtt_s >= 0):
            raise ValueError(f"rtt_s must be finite and >= 0, not {rtt_s}")
        if not _is_int(inflight) or inflight < 0:
            raise ValueError(f"inflight must be an int >= 0, not {inflight!r}")
        self._samples += 1
        if dropped:
            self._drops += 1
            self._back_off(now)
            return
        if self._next_probe is None:
            self._next_probe = now + self.settings.probe_interval
        if self._probing:
            self._probe(now, rtt_s, inflight)
        elif now >= self._next_probe:
            # This sample was sent at full concurrency: it says nothing about the baseline.
            self._rtt_short = rtt_s
            self._probing, self._probe_sum, self._probe_n = True, 0.0, 0
        else:
            self._gradient(rtt_s, inflight)

    def snapshot(self) -> dict[str, float]:
        """Gauges and counters for metrics."""
        return {
            "limit": float(self.limit),
            "rtt_short": self._rtt_short,
            "rtt_long": self._rtt_long if self._rtt_long is not None else 0.0,
            "samples": float(self._samples),
            "drops": float(self._drops),
            "backoffs": float(self._backoffs),
            "probing": 1.0 if self._probing else 0.0,
        }

    def _back_off(self, now: float) -> None:
        last = self._last_backoff
        gap = max(self._rtt_long or 0.0, _MIN_BACKOFF_GAP_S)
        if last is not None and now < last + gap:  # the same overload moment (or an older one)
            return
        self._last_backoff = now
        self._backoffs += 1
        self._limit = max(float(self.settings.min_limit), self._limit * self.settings.backoff)

    def _gradient(self, rtt_s: float, inflight: int) -> None:
        s = self.settings
        self._rtt_short = rtt_s
        short = max(rtt_s, _RTT_FLOOR_S)
        long = self._rtt_long
        if long is None:
            long = short
        elif short < long:  # downward only: see the module docstring
            long += (short - long) * self._alpha
        if long / short > _DRIFT_RATIO:
            long *= _DECAY
        self._rtt_long = long
        if inflight < self._limit / 2:
            return
        gradient = min(max(s.tolerance * long / short, _GRADIENT_MIN), _GRADIENT_MAX)
        new = self._limit * gradient + math.sqrt(self._limit)
        new = self._limit * (1 - s.smoothing) + new * s.smoothing
        self._limit = min(max(new, float(s.min_limit)), float(s.max_limit))

    def _probe(self, now: float, rtt_s: float, inflight: int) -> None:
        self._rtt_short = rtt_s
        if inflight > self.settings.min_limit:
            return  # sent before the probe pinned the limit: still queued behind the old load
        self._probe_sum += max(rtt_s, _RTT_FLOOR_S)
        self._probe_n += 1
        if self._probe_n >= self.settings.probe_samples:
            self._rtt_long = self._probe_sum / self._probe_n
            self._probing = False
            self._next_probe = now + self.settings.probe_interval
