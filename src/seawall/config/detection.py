"""The configuration of detection, mitigation, the challenge and the incident store."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from seawall.config.base import Seconds, Section

Mode = Literal["observe", "suggest", "enforce"]


class DetectionConfig(Section):
    enabled: bool = Field(
        True, description="Learn the traffic's baselines, detect attacks and write rules."
    )
    mode: Mode = Field(
        "enforce",
        description="observe: log what would be done; suggest: rules wait for "
        "POST /v1/rules/{id}/approve; enforce: apply them.",
    )
    family_modes: dict[str, Mode] = Field(
        default_factory=dict,
        description="The mode per detector family, e.g. {scanner = 'suggest'}.",
    )
    interval: Seconds = Field(1.0, description="Seconds between detection ticks.")
    disabled: list[str] = Field(default_factory=list, description="Detectors to leave out.")
    detectors: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Options per detector, e.g. {http_flood = {min_rps = 50}}; see "
        "docs/detection.md for each detector's options.",
    )
    block_collateral: float = Field(
        0.001,
        ge=0,
        le=1,
        description="Block only when a rule would hit at most this share "
        "of baseline anonymous requests.",
    )
    block_confidence: float = Field(
        0.8, ge=0, le=1, description="Least detector confidence to block at once."
    )
    challenge_collateral: float = Field(
        0.05, ge=0, le=1, description="Challenge when a rule would hit at most this share."
    )
    throttle_collateral: float = Field(
        0.2, ge=0, le=1, description="Throttle when a rule would hit at most this share."
    )
    rule_ttl: Seconds = Field(
        30.0, description="Expiry of automatic rules, renewed while the attack goes on."
    )
    hold: Seconds = Field(
        15.0, description="Seconds after an attack stops before its rule steps down."
    )
    escalate_after: Seconds = Field(5.0, description="Seconds a throttle gets before a challenge.")
    throttle_rate: Seconds = Field(5.0, description="Requests/s per address under a throttle.")
    throttle_burst: int = Field(20, ge=1, description="Burst per address under a throttle.")
    strikes: int = Field(
        6,
        ge=1,
        description="Challenges an address may leave unsolved per strike_window "
        "before it is blocked as a bot.",
    )
    strike_window: Seconds = Field(60.0, description="Window of the strikes, in seconds.")
    max_rules: int = Field(64, ge=1, description="Most automatic rules at once.")
    half_life: Seconds = Field(300.0, description="Half-life of the learned baselines, seconds.")
    window: int = Field(180, ge=10, description="Seconds of traffic in the baseline window.")
    max_records: int = Field(
        50_000, ge=1000, description="Records per tick kept whole; beyond, a weighted sample."
    )
    login_routes: list[str] = Field(
        default_factory=lambda: ["login"], description="Routes whose POSTs are sign-ins."
    )
    quiet: Seconds = Field(30.0, description="Quiet seconds that close an incident.")


class ChallengeConfig(Section):
    secret: str = Field(
        "",
        description="Key of the pass cookies, shared by all workers (32+ random characters). "
        "Empty: a random key per start, so passes do not survive a restart. Rotating it "
        "revokes every pass.",
    )
    previous_secret: str = Field(
        "",
        description="The key before the last rotation, still accepted, so passes expire "
        "gracefully instead of all at once.",
    )
    bits: int = Field(13, ge=1, le=28, description="Base proof-of-work difficulty (zero bits).")
    max_bits: int = Field(20, ge=1, le=30, description="Difficulty under the heaviest load.")
    pass_ttl: Seconds = Field(3600.0, description="Seconds a pass cookie is valid.")
    retry_after: Seconds = Field(
        5.0, description="Retry-After for clients that cannot run the challenge (API, noscript)."
    )

    @model_validator(mode="after")
    def _ceiling(self) -> ChallengeConfig:
        if self.max_bits < self.bits:
            raise ValueError("max_bits must be at least bits, or the base is never asked")
        return self


class StoreConfig(Section):
    path: str = Field(
        "seawall.db",
        description="SQLite file for incidents (created on first use). Empty: keep them in "
        "memory only.",
    )
