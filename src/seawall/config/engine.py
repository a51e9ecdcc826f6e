"""The detection engine's settings from the configuration (the edge and offline analysis)."""

from __future__ import annotations

from seawall.config.schema import Config
from seawall.core.errors import ConfigError
from seawall.detect.engine import EngineSettings
from seawall.detect.policy import Mode, PolicySettings
from seawall.detect.signals import REGISTRY


def engine_settings(cfg: Config) -> EngineSettings:
    """The engine's settings from the configuration, with unknown detectors named."""
    d = cfg.detection
    unknown = sorted((set(d.detectors) | set(d.disabled) | set(d.family_modes)) - set(REGISTRY))
    if unknown:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError("detection", f"unknown detector(s) {unknown}; known: {known}")
    chosen = {n: dict(d.detectors.get(n, {})) for n in REGISTRY if n not in d.disabled}
    for name, options in chosen.items():
        try:
            REGISTRY[name](options)
        except ValueError as exc:
            raise ConfigError(f"detection.detectors.{name}", str(exc)) from None
    policy = PolicySettings(
        mode=Mode(d.mode),
        family_modes={k: Mode(v) for k, v in d.family_modes.items()},
        block_collateral=d.block_collateral,
        block_confidence=d.block_confidence,
        challenge_collateral=d.challenge_collateral,
        throttle_collateral=d.throttle_collateral,
        ttl=d.rule_ttl,
        hold=d.hold,
        escalate_after=d.escalate_after,
        throttle_rate=d.throttle_rate,
        throttle_burst=d.throttle_burst,
        strikes=d.strikes,
        strike_window=d.strike_window,
        max_rules=d.max_rules,
    )
    return EngineSettings(
        interval=d.interval,
        max_records=d.max_records,
        detectors=chosen,
        policy=policy,
        half_life=d.half_life,
        window_seconds=d.window,
        login_routes=tuple(d.login_routes),
        quiet=d.quiet,
    )
