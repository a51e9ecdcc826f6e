"""The configuration of account protection: watched auth routes, detectors, warnings."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field, field_validator, model_validator

from seawall.config.base import Seconds, Section

RouteKind = Literal["login", "password_reset", "recovery_lookup", "pii_view"]


class AuthRoute(Section):
    route: str = Field(description="Name of a [[routes]] entry the edge watches.")
    kind: RouteKind = Field(description="What the route does for the people using it.")
    method: str = Field("POST", description="The method of the watched requests.")
    account_from: Literal["body", "query", "target"] = Field(
        "body",
        description="Where the account identifier is: a form field or JSON key of the body, "
        "a query parameter, or the last segment of the route's target (give the route "
        "target = '/users/{name}' for /users/{name}/contact).",
    )
    account_field: str = Field(
        "",
        description="Form field, JSON key (dots for nesting: user.email) or query parameter "
        "holding the identifier; unused for account_from = 'target'.",
    )
    success_status: list[int] = Field(
        default_factory=lambda: [200, 201, 204, 302, 303],
        description="Statuses that mean success (login) or a known identifier (recovery).",
    )
    failure_status: list[int] = Field(
        default_factory=lambda: [400, 401, 403, 404, 422],
        description="Statuses that mean failure (login) or an unknown identifier (recovery).",
    )
    success_location: str = Field(
        "",
        description="When set, a redirect counts as success only if its Location starts "
        "with this (and as failure otherwise).",
    )
    result_header: str = Field(
        "",
        description="A response header the app sets to ok, failed, found or not_found. It "
        "wins over statuses, and the edge strips it before the client sees the answer.",
    )
    uniform_status: int = Field(
        200, ge=200, le=599, description="Status of the uniform answer under harvesting."
    )
    uniform_body: str = Field(
        "If the details you entered match an account, we have sent instructions.\n",
        description="Body of the uniform answer given under harvesting, whatever the app "
        "said (recovery routes only; the request still reaches the app).",
    )

    @field_validator("method")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()

    @model_validator(mode="after")
    def _field(self) -> AuthRoute:
        if self.account_from != "target" and not self.account_field:
            raise ValueError(f"account_field is required when account_from = {self.account_from!r}")
        return self


class SmtpSink(Section):
    host: str = Field("", description="SMTP server; empty: no email.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    username: str = Field("", description="SMTP user, if the server wants one.")
    password: str = Field("", description="SMTP password.")
    starttls: bool = Field(True, description="Upgrade with STARTTLS when the server offers it.")
    use_tls: bool = Field(False, description="Implicit TLS (port 465).")
    timeout: Seconds = Field(10.0, description="Seconds per SMTP exchange.")
    sender: str = Field("security@localhost", description="From: of warnings and digests.")


class Webhook(Section):
    url: str = Field(description="Where warnings and digests are POSTed (Standard Webhooks).")
    secret: str = Field(description="Signing secret, 'whsec_' and base64 of 24 to 64 random bytes.")
    timeout: Seconds = Field(5.0, description="Seconds per delivery attempt.")

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: str) -> str:
        raw = v.removeprefix("whsec_")
        try:
            key = base64.b64decode(raw, validate=True)
        except ValueError:
            raise ValueError("must be 'whsec_' followed by base64") from None
        if not 24 <= len(key) <= 64:
            raise ValueError("the key must be 24 to 64 bytes once decoded")
        return v


class Warnings(Section):
    enabled: bool = Field(True, description="Warn the people whose accounts are targeted.")
    daily_cap: int = Field(2, ge=1, description="Most warnings per account per day.")
    min_confidence: float = Field(
        0.7, ge=0, le=1, description="Least campaign confidence before anyone is warned."
    )
    operators: list[str] = Field(
        default_factory=list, description="Email addresses that get each campaign's digest."
    )
    smtp: SmtpSink = Field(default_factory=SmtpSink, description="Email delivery.")
    webhooks: list[Webhook] = Field(default_factory=list, description="Signed webhooks.")
    log: bool = Field(True, description="Write each warning and digest to seawall's log.")
    site_name: str = Field("our service", description="How the templates name the platform.")
    retries: int = Field(5, ge=0, description="Delivery attempts after the first, with backoff.")


class AccountsConfig(Section):
    enabled: bool = Field(False, description="Watch auth routes and events for account attacks.")
    secret: str = Field(
        "",
        description="Key that hashes identifiers (HMAC-SHA256) the moment they are read. "
        "Required when enabled; changing it forgets every account's history.",
    )
    events_token: str = Field(
        "",
        description="Bearer token of POST /v1/events for the app; empty: admin.token.",
    )
    routes: list[AuthRoute] = Field(
        default_factory=list, description="Auth routes the edge watches."
    )
    step_up: Literal["challenge", "header"] = Field(
        "challenge",
        description="How a targeted account's logins are stepped up: a proof-of-work "
        "challenge, or a request header asking the app for its own MFA.",
    )
    step_up_header: str = Field(
        "Seawall-Step-Up", description="The request header of step_up = 'header'."
    )
    high_risk: list[str] = Field(
        default_factory=list,
        description="Accounts (identifiers) at higher risk, such as journalists; their "
        "evidence bar is lower. Hashed at load.",
    )
    directory: str = Field(
        "",
        description="CSV file of account,email[,phone...]: where to send warnings, and the "
        "other identifiers (emails, phones) the same account is looked up by.",
    )
    max_body_bytes: int = Field(
        16_384,
        ge=256,
        le=65_536,
        description="Most body bytes read to find an account identifier (at most the "
        "64 KiB the edge holds before an origin is attached).",
    )
    window: Seconds = Field(3600.0, description="Seconds of history the detectors look at.")
    detectors: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Options per detector, e.g. {distributed_guessing = {min_sources = 8}}.",
    )
    disabled: list[str] = Field(default_factory=list, description="Detectors to leave out.")
    max_accounts: int = Field(
        200_000, ge=1000, description="Accounts with recent history the detectors track (LRU)."
    )
    max_sources: int = Field(
        200_000, ge=1000, description="Sources and fingerprints tracked (LRU)."
    )
    step_up_ttl: Seconds = Field(
        3600.0, description="Seconds step-up lasts after a campaign's last activity."
    )
    throttle_rate: float = Field(
        0.1, gt=0, description="Auth requests/s per attacking address under a throttle."
    )
    campaign_quiet: Seconds = Field(6 * 3600.0, description="Quiet seconds that close a campaign.")
    warnings: Warnings = Field(default_factory=Warnings, description="Warnings and digests.")

    @model_validator(mode="after")
    def _secret(self) -> AccountsConfig:
        if self.enabled and len(self.secret) < 16:
            raise ValueError("secret: at least 16 characters are required when enabled")
        return self
