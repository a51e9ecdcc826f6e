"""The configuration schema. Each Field's description is the option's help and reference doc."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from seawall.config.accounts import AccountsConfig
from seawall.config.base import Cidr, Seconds
from seawall.config.base import Section as _Section
from seawall.config.detection import ChallengeConfig, DetectionConfig, StoreConfig
from seawall.config.rulespec import RuleSpec


def _check_hostport(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port (for example 0.0.0.0:8080 or [::]:8080)")
    if not host:
        raise ValueError(f"{value!r} has no host (use 0.0.0.0 for every interface)")
    return value


class Certificate(_Section):
    cert: str = Field(description="PEM certificate chain file.")
    key: str = Field(description="PEM private key file.")
    server_names: list[str] = Field(
        default_factory=list,
        description="SNI names this certificate serves; empty: the default certificate.",
    )


class Listener(_Section):
    address: str = Field("0.0.0.0:8080", description="host:port to accept clients on.")
    certificates: list[Certificate] = Field(
        default_factory=list,
        description="TLS certificates; none: plain HTTP. The first without server_names "
        "(or the first) is the default; ALPN offers http/1.1.",
    )
    proxy_protocol: bool = Field(
        False,
        description="Expect a PROXY protocol v1 or v2 header on every connection. Only enable "
        "behind a balancer that always sends one: a client could otherwise forge its address.",
    )

    _addr = field_validator("address")(_check_hostport)


class Origin(_Section):
    url: str = Field(description="Where allowed requests go, for example http://127.0.0.1:8000.")
    connect_timeout: Seconds = Field(3.0, description="Seconds to establish a connection.")
    read_timeout: Seconds = Field(
        30.0, description="Seconds to wait for the response head, and between body reads."
    )
    pool_size: int = Field(
        256, ge=1, le=100_000, description="Most idle keep-alive connections kept per worker."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        u = urlsplit(v)
        if u.scheme != "http":
            raise ValueError(f"{v!r}: only http:// origins are supported")
        if not u.hostname:
            raise ValueError(f"{v!r} has no host")
        if u.path not in ("", "/") or u.query:
            raise ValueError(f"{v!r}: an origin is scheme://host:port, without a path")
        return v


class Network(_Section):
    trusted_proxies: list[Cidr] = Field(
        default_factory=list,
        description="CIDRs of proxies whose X-Forwarded-For is believed. A client's own "
        "X-Forwarded-For is never believed unless its peer is listed here.",
    )


class Limits(_Section):
    max_header_bytes: int = Field(16_384, ge=1024, description="Most bytes in a request head.")
    max_headers: int = Field(100, ge=8, description="Most header fields in a request.")
    max_url_bytes: int = Field(8_192, ge=64, description="Longest request target (414 beyond).")
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=0, description="Largest request body (413 beyond)."
    )
    max_connections: int = Field(10_000, ge=1, description="Most client connections per worker.")
    max_connections_per_address: int = Field(
        256, ge=1, description="Most concurrent connections from one client address per worker."
    )
    max_tracked_keys: int = Field(
        100_000,
        ge=16,
        description="Most keys each rate limit tracks; the least recently seen is forgotten.",
    )


class Timeouts(_Section):
    head: Seconds = Field(10.0, description="Seconds to receive a whole request head (slowloris).")
    body_min_rate: int = Field(
        1024,
        ge=0,
        description="Bytes/s a request body must average after a 5 s grace (slow POST); 0: off.",
    )
    idle: Seconds = Field(60.0, description="Seconds a keep-alive connection may sit idle.")
    send: Seconds = Field(
        30.0, description="Seconds a client may take to accept response bytes (slow read)."
    )
    drain: Seconds = Field(
        20.0, description="Seconds to finish in-flight requests after SIGTERM before closing."
    )


class Route(_Section):
    name: str = Field(description="Route name, used in rules, metrics and logs.")
    pattern: str = Field(
        description="Path pattern: {param} matches one segment, {rest*} the rest, a trailing * "
        "any suffix. Example: /users/{name}"
    )
    target: str = Field(
        "",
        description="Target template over the pattern's parameters (what an attack aims at); "
        "default: the pattern. Example: /users/{name} for /users/{name}/posts/{id}.",
    )


class JwtKey(_Section):
    alg: Literal["HS256", "RS256", "EdDSA"] = Field(description="Signature algorithm.")
    secret: str = Field("", description="Shared secret for HS256.")
    public_key_file: str = Field("", description="PEM public key file for RS256 or EdDSA.")
    kid: str = Field("", description="Key id; when set, only tokens naming it use this key.")

    @model_validator(mode="after")
    def _material(self) -> JwtKey:
        if self.alg == "HS256" and not self.secret:
            raise ValueError("HS256 needs 'secret'")
        if self.alg != "HS256" and not self.public_key_file:
            raise ValueError(f"{self.alg} needs 'public_key_file'")
        return self


class Introspection(_Section):
    url: str = Field("", description="RFC 7662 introspection endpoint; empty: off.")
    client_id: str = Field("", description="HTTP Basic user for the endpoint, if it wants one.")
    client_secret: str = Field("", description="HTTP Basic password for the endpoint.")
    cache_ttl: Seconds = Field(30.0, description="Seconds a token's answer is reused.")
    cache_size: int = Field(10_000, ge=1, description="Most cached tokens (LRU).")
    timeout: Seconds = Field(2.0, description="Seconds to wait for the endpoint.")


class ApiApp(_Section):
    jwt_keys: list[JwtKey] = Field(
        default_factory=list, description="Keys that verify bearer JWTs locally."
    )
    audience: str = Field("", description="Required 'aud' claim; empty: not checked.")
    issuer: str = Field("", description="Required 'iss' claim; empty: not checked.")
    introspection: Introspection = Field(
        default_factory=Introspection,
        description="Verify opaque (non-JWT) bearer tokens with the origin's endpoint.",
    )


class Gateway(_Section):
    name: str = Field(description="Name of the gateway, such as 'sms'.")
    cidrs: list[Cidr] = Field(description="Addresses the gateway connects from.")
    secret_header: str = Field("", description="Header that must carry `secret`; empty: none.")
    secret: str = Field("", description="Shared secret expected in `secret_header`.")

    @model_validator(mode="after")
    def _pair(self) -> Gateway:
        if bool(self.secret_header) != bool(self.secret):
            raise ValueError("secret_header and secret go together")
        if not self.cidrs:
            raise ValueError("a gateway needs at least one CIDR")
        return self


class UserSession(_Section):
    cookie: str = Field("", description="Session cookie name; empty: no user class.")
    mode: Literal["signed", "jwt", "introspection"] = Field(
        "signed",
        description="signed: '<user>.<expiry>.<base64url HMAC-SHA256>' with `secret`; "
        "jwt: a JWT verified with `jwt_keys`; introspection: the api_app introspection endpoint.",
    )
    secret: str = Field("", description="HMAC key for the signed mode.")
    jwt_keys: list[JwtKey] = Field(default_factory=list, description="Keys for the jwt mode.")

    @model_validator(mode="after")
    def _mode(self) -> UserSession:
        if self.cookie and self.mode == "signed" and not self.secret:
            raise ValueError("mode 'signed' needs 'secret'")
        if self.cookie and self.mode == "jwt" and not self.jwt_keys:
            raise ValueError("mode 'jwt' needs 'jwt_keys'")
        return self


class Classes(_Section):
    api_app: ApiApp = Field(default_factory=ApiApp, description="Verified API clients.")
    gateways: list[Gateway] = Field(
        default_factory=list, description="Allowlisted systems (SMS gateway, webhooks)."
    )
    user: UserSession = Field(default_factory=UserSession, description="Verified users.")


class Admin(_Section):
    listen: str = Field("127.0.0.1:9901", description="host:port of the admin API; empty: off.")
    token: str = Field(
        "",
        description="Bearer token for the admin API. Without one, only /healthz and /readyz "
        "answer; /metrics and /v1/rules refuse.",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        return _check_hostport(v) if v else v


class Log(_Section):
    access_log: str = Field(
        "-", description="Access log path; '-' for standard output; empty: off."
    )
    access_format: Literal["json", "combined"] = Field(
        "json", description="json: one JSON object a line; combined: nginx's combined format."
    )
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Level of seawall's own log on standard error."
    )


class AdmissionConfig(_Section):
    enabled: bool = Field(
        True,
        description="Queue and shed by client tier in front of the origin; false: forward all.",
    )
    initial_limit: int = Field(20, ge=1, description="Origin concurrency to start from.")
    min_limit: int = Field(2, ge=1, description="The adaptive limit never goes below this.")
    max_limit: int = Field(1000, ge=1, description="The adaptive limit never goes above this.")
    fixed_limit: int = Field(
        0, ge=0, description="A known origin concurrency: no adaptation. 0: adaptive."
    )
    max_queue: int = Field(2048, ge=0, description="Most requests waiting for the origin.")
    deadlines: list[Seconds] = Field(
        default_factory=lambda: [5.0, 3.0, 2.0, 1.0],
        min_length=4,
        max_length=4,
        description="Seconds a request may wait, by tier: trusted, user, known, unknown.",
    )
    reserve: float = Field(
        0.25, ge=0, lt=1, description="Share of the limit only api_app and gateway clients may use."
    )
    target_share: float = Field(
        0.25, gt=0, le=1, description="Most of the limit one target may hold while stressed."
    )
    route_shares: dict[str, float] = Field(
        default_factory=dict,
        description="Most of the limit a route may hold while stressed, e.g. {search = 0.2}.",
    )
    stressed_at: float = Field(
        0.8, gt=0, le=1, description="In-flight share of the limit from which bulkheads apply."
    )
    good_after: Seconds = Field(
        30.0, description="An anonymous address seen this long ago, served well, is 'known'."
    )
    good_min_ok: int = Field(3, ge=0, description="Successful requests a 'known' address needs.")
    history_size: int = Field(100_000, ge=1, description="Addresses the history remembers (LRU).")

    @field_validator("route_shares")
    @classmethod
    def _shares(cls, shares: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, v in shares.items() if not 0 < v <= 1)
        if bad:
            raise ValueError(f"route shares must be within (0, 1]; not so for {bad}")
        return shares


class CacheConfig(_Section):
    enabled: bool = Field(
        True, description="Keep anonymous GET/HEAD answers the origin marks cacheable."
    )
    max_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Memory for cached answers.")
    max_entries: int = Field(100_000, ge=1, description="Most cached answers.")
    max_object_bytes: int = Field(1024 * 1024, ge=1, description="Largest answer kept.")
    default_ttl: Seconds = Field(
        2.0, description="Seconds to keep a 'public' answer that gives no max-age."
    )
    max_ttl: Seconds = Field(60.0, description="Never keep an answer longer than this.")
    stale_while_revalidate: float = Field(
        5.0, ge=0, description="Seconds a stale answer is served while one request refreshes it."
    )
    stale_if_error: float = Field(
        60.0, ge=0, description="Seconds a stale answer may stand in while the origin fails."
    )
    route_ttls: dict[str, Seconds] = Field(
        default_factory=dict, description="default_ttl per route, e.g. {profile = 5}."
    )


class Config(_Section):
    listeners: list[Listener] = Field(
        default_factory=lambda: [Listener()], description="Where clients connect."
    )
    origins: list[Origin] = Field(
        default_factory=list,
        description="The servers behind the edge; requests are spread over them round-robin.",
    )
    workers: int = Field(1, ge=1, le=256, description="Worker processes sharing the listeners.")
    network: Network = Field(default_factory=Network, description="Address trust.")
    limits: Limits = Field(default_factory=Limits, description="Size and count limits.")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Client-side timeouts.")
    routes: list[Route] = Field(default_factory=list, description="Path patterns to routes.")
    classes: Classes = Field(default_factory=Classes, description="Client identity.")
    rules: list[RuleSpec] = Field(default_factory=list, description="Static rules, in order.")
    admission: AdmissionConfig = Field(
        default_factory=AdmissionConfig, description="Priority admission to the origin."
    )
    cache: CacheConfig = Field(default_factory=CacheConfig, description="The micro-cache.")
    detection: DetectionConfig = Field(
        default_factory=DetectionConfig, description="Attack detection and automatic rules."
    )
    challenge: ChallengeConfig = Field(
        default_factory=ChallengeConfig, description="The proof-of-work challenge."
    )
    store: StoreConfig = Field(default_factory=StoreConfig, description="Where incidents live.")
    accounts: AccountsConfig = Field(
        default_factory=AccountsConfig, description="Account protection."
    )
    admin: Admin = Field(default_factory=Admin, description="The admin API.")
    log: Log = Field(default_factory=Log, description="Logging.")

    @model_validator(mode="after")
    def _auth_routes(self) -> Config:
        names = {r.name for r in self.routes}
        for i, ar in enumerate(self.accounts.routes):
            if ar.route not in names:
                raise ValueError(
                    f"accounts.routes[{i}].route: no [[routes]] entry is named {ar.route!r}"
                )
        return self

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[RuleSpec]) -> list[RuleSpec]:
        ids = [r.id for r in rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"rule ids must be unique; repeated: {sorted(dup)}")
        return rules
