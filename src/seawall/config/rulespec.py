"""Rules in the configuration and the admin API: what they match and what they do."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from seawall.config.base import Cidr, Section


class RuleMatch(Section):
    cidrs: list[Cidr] = Field(default_factory=list, description="Client address in any CIDR.")
    methods: list[str] = Field(default_factory=list, description="HTTP methods.")
    hosts: list[str] = Field(default_factory=list, description="Host header values.")
    paths: list[str] = Field(
        default_factory=list, description="Path prefixes; a trailing '$' means exact."
    )
    routes: list[str] = Field(default_factory=list, description="Route names.")
    targets: list[str] = Field(default_factory=list, description="Targets, e.g. /users/cyxymu.")
    classes: list[Literal["api_app", "gateway", "user", "anonymous"]] = Field(
        default_factory=list, description="Client classes."
    )
    user_agents: list[str] = Field(
        default_factory=list, description="User-Agent substrings (case-insensitive)."
    )
    header_fps: list[str] = Field(default_factory=list, description="Header-order fingerprints.")
    countries: list[str] = Field(default_factory=list, description="ISO country codes.")
    asns: list[int] = Field(default_factory=list, description="Autonomous system numbers.")
    query_shapes: list[str] = Field(
        default_factory=list, description="Query shapes (parameter names and value kinds)."
    )
    ua_families: list[str] = Field(
        default_factory=list, description="User-Agent families, e.g. Chrome/51 or curl/8."
    )
    accounts: list[str] = Field(
        default_factory=list,
        description="Accounts named on auth routes, as keyed hashes (seawall accounts hash).",
    )


class RuleSpec(Section):
    id: str = Field(min_length=1, max_length=128, description="Unique rule id.")
    action: Literal["allow", "throttle", "challenge", "block"] = Field(
        description="What happens to a matching request (above `rate`, when set)."
    )
    match: RuleMatch = Field(default_factory=RuleMatch, description="Conditions, all required.")
    rate: float = Field(
        0.0, ge=0, description="Requests/s per `key` allowed before the action applies; 0: always."
    )
    burst: int = Field(1, ge=1, description="Requests allowed at once above the steady rate.")
    key: Literal["address", "prefix", "token", "route", "target", "global", "fingerprint"] = Field(
        "address", description="What the rate counts per."
    )
    status: int = Field(0, ge=0, le=599, description="Response status; 0: 403 block, 429 throttle.")
    close: bool = Field(False, description="Block by closing the connection, without a response.")
    priority: int = Field(100, description="Lower runs first; equal keeps file order.")
    ttl: float = Field(0.0, ge=0, description="Seconds until the rule expires; 0: never.")
    reason: str = Field("", max_length=500, description="Why the rule exists (logged).")
    strikes: int = Field(
        0,
        ge=0,
        description="Challenge rules: unsolved challenges per address per "
        "strike_window before it is blocked as a bot; 0: never.",
    )
    strike_window: float = Field(60.0, gt=0, description="Window of the strikes, seconds.")
    mark: Literal["", "step-up", "uniform"] = Field(
        "",
        description="Allow rules only: annotate instead of deciding. step-up asks the app "
        "for MFA; uniform gives the client the route's uniform answer.",
    )

    @model_validator(mode="after")
    def _throttle(self) -> RuleSpec:
        if self.action == "throttle" and self.rate <= 0:
            raise ValueError("a throttle rule needs a rate")
        if self.mark and self.action != "allow":
            raise ValueError("only an allow rule can carry a mark")
        return self
