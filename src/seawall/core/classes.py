"""Who the client is: api_app, gateway, user or anonymous, from verified credentials only.

Nothing a client merely claims (User-Agent, path, unverified tokens) raises its class. A
credential failing any check falls through to the next class; request input never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.types import Options

from seawall.core.errors import ConfigError
from seawall.core.facts import ClientClass
from seawall.core.net import Address, CidrSet

LEEWAY = 30.0  # seconds of clock skew tolerated on exp/nbf
MAX_TOKEN = 8192  # longer credentials are refused unread
MAX_PRINCIPAL = 256
USER_MODES = ("signed", "jwt", "introspection")
_APP_CLAIMS = ("client_id", "azp", "sub")
_USER_CLAIMS = ("sub",)
_PUBLIC_TYPES: dict[str, type] = {"RS256": RSAPublicKey, "EdDSA": Ed25519PublicKey}
# Time claims are checked against the `now` we are handed; PyJWT must not read the clock.
_DECODE_OPTIONS = Options(verify_exp=False, verify_nbf=False, verify_iat=False, verify_aud=False)
_COOKIE_FORBIDDEN = frozenset(';,"\\ \t\r\n')

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class JwtKeySpec:
    alg: str  # HS256, RS256 or EdDSA
    key: str | bytes  # HS256 secret, or PEM public key text
    kid: str = ""


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    name: str
    cidrs: CidrSet
    secret_header: str = ""  # lowercase; empty: the address alone decides
    secret: str = ""


@dataclass(frozen=True, slots=True)
class ClassSettings:
    api_keys: tuple[JwtKeySpec, ...] = ()
    audience: str = ""
    issuer: str = ""
    introspection: bool = False  # an RFC 7662 endpoint is configured
    gateways: tuple[GatewaySpec, ...] = ()
    user_cookie: str = ""
    user_mode: str = "signed"
    user_secret: bytes = b""
    user_keys: tuple[JwtKeySpec, ...] = ()


@dataclass(frozen=True, slots=True)
class IntrospectionResult:
    active: bool
    principal: str  # the app: client_id, else sub, else username
    expires: float = 0.0  # the token's exp (epoch seconds); 0: not given
    user: str = ""  # the user: sub, else username


class _Lru(OrderedDict[bytes, V]):
    """A dict that forgets its least recently used entry beyond `max_size`."""

    __slots__ = ("max_size",)

    def __init__(self, max_size: int) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        super().__init__()
        self.max_size = max_size

    def hit(self, key: bytes) -> V | None:
        if key in self:
            self.move_to_end(key)
        return self.get(key)

    def put(self, key: bytes, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.max_size:
            self.popitem(last=False)


def _plausible(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN and token.isascii()


def _digest(token: str) -> bytes:
    # Tables hold a 16-byte digest, not the token: bounded memory per entry.
    return hashlib.blake2b(token.encode("ascii"), digest_size=16).digest()


def _name_ok(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= MAX_PRINCIPAL and name.isprintable()


class IntrospectionCache:
    """Introspection answers, LRU-bounded, kept for a TTL but never past the token's exp."""

    __slots__ = ("_lru",)

    def __init__(self, max_size: int = 10_000) -> None:
        self._lru: _Lru[tuple[IntrospectionResult, float]] = _Lru(max_size)

    def __len__(self) -> int:
        return len(self._lru)

    def get(self, token: str, now: float) -> IntrospectionResult | None:
        """The cached answer; None when unknown or expired."""
        key = _digest(token) if _plausible(token) else b""  # b"" is never stored
        hit = self._lru.hit(key)
        if hit is None or now < hit[1]:
            return None if hit is None else hit[0]
        del self._lru[key]  # past its TTL or the token's exp
        return None

    def put(self, token: str, result: IntrospectionResult, now: float, ttl: float) -> None:
        if not _plausible(token) or ttl <= 0:
            return
        until = now + ttl
        if result.active and result.expires > 0:
            until = min(until, result.expires)
        if until > now:
            self._lru.put(_digest(token), (result, until))


@dataclass(frozen=True, slots=True)
class _Seen:
    """A credential whose signature checked out; valid while not_before <= now < not_after."""

    principal: str
    not_before: float
    not_after: float


class _TokenCheck:
    """One credential kind: a verifier plus caches of what it accepted and refused."""

    __slots__ = ("_verify", "bad", "ok", "verifications")

    def __init__(self, verify: Callable[[str], _Seen | None], size: int) -> None:
        self._verify = verify
        self.ok: _Lru[_Seen] = _Lru(size)
        self.bad: _Lru[bool] = _Lru(max(16, size // 4))  # replayed forgeries cost a lookup
        self.verifications = 0

    def check(self, token: str, now: float) -> str | None:
        key = _digest(token)
        seen = self.ok.hit(key)
        if seen is None:
            if self.bad.hit(key) is not None:
                return None
            self.verifications += 1
            seen = self._verify(token)
        if seen is None or now >= seen.not_after:
            self.ok.pop(key, None)
            self.bad.put(key, True)  # forged or expired: never valid again
            return None
        self.ok.put(key, seen)
        return seen.principal if now >= seen.not_before else None


def prepare_key(spec: JwtKeySpec, key: str = "") -> Any:
    """The verification key object for `spec`; ConfigError names `key` when it is unusable."""
    if spec.alg not in ("HS256", *_PUBLIC_TYPES):
        raise ConfigError(key, f"algorithm {spec.alg!r} is not HS256, RS256 or EdDSA")
    algorithm = jwt.get_algorithm_by_name(spec.alg)
    raw = spec.key.encode() if isinstance(spec.key, str) else spec.key
    try:  # HS256 refuses PEM text as a secret: no algorithm confusion
        prepared = algorithm.prepare_key(raw) if spec.alg == "HS256" else load_pem_public_key(raw)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise ConfigError(key, f"not a usable {spec.alg} key ({exc})") from None
    if spec.alg != "HS256" and not isinstance(prepared, _PUBLIC_TYPES[spec.alg]):
        raise ConfigError(key, f"a {type(prepared).__name__} cannot verify {spec.alg}")
    weak = algorithm.check_key_length(prepared)
    if weak:
        raise ConfigError(key, weak)
    return prepared


def _time_claim(claims: Mapping[str, Any], name: str, absent: float) -> float | None:
    """The claim as a number; `absent` when missing, None when malformed (NaN never expires)."""
    value = claims.get(name, absent)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class _JwtVerifier:
    keys: tuple[tuple[JwtKeySpec, Any], ...]  # (spec, prepared key)
    audience: str
    issuer: str
    names: tuple[str, ...]  # claims that name the principal, first present wins

    def __call__(self, token: str) -> _Seen | None:
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        alg, kid = header.get("alg"), header.get("kid")
        for spec, key in self.keys:
            if spec.alg != alg or (spec.kid and spec.kid != kid):
                continue
            try:
                claims = jwt.decode(token, key, algorithms=[spec.alg], options=_DECODE_OPTIONS)
            except (jwt.PyJWTError, ValueError, TypeError):
                continue
            return self._seen(claims)
        return None

    def _seen(self, claims: Mapping[str, Any]) -> _Seen | None:
        aud = claims.get("aud")
        if self.audience and not (
            aud == self.audience or (isinstance(aud, list) and self.audience in aud)
        ):
            return None
        if self.issuer and claims.get("iss") != self.issuer:
            return None
        principal = next((claims[n] for n in self.names if claims.get(n)), None)
        exp = _time_claim(claims, "exp", math.inf)
        nbf = _time_claim(claims, "nbf", -math.inf)
        if not _name_ok(principal) or exp is None or nbf is None:
            return None
        return _Seen(str(principal), nbf - LEEWAY, exp + LEEWAY)


def _session_mac(user: str, expiry: str, secret: bytes) -> str:
    mac = hmac.new(secret, f"{user}.{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def sign_session(user: str, expiry: int, secret: bytes) -> str:
    """A signed session cookie value: `<user>.<expiry>.<base64url HMAC-SHA256>`."""
    if expiry < 0 or not _name_ok(user) or not user.isascii() or _COOKIE_FORBIDDEN & set(user):
        raise ValueError(f"no session cookie for {user!r} until {expiry}")
    return f"{user}.{expiry}.{_session_mac(user, str(expiry), secret)}"


def _verify_signed(token: str, secret: bytes) -> _Seen | None:
    user, expiry, sig = [*token.rsplit(".", 2), "", ""][:3]
    if not _name_ok(user) or not (expiry.isdigit() and len(expiry) <= 12):
        return None
    ok = hmac.compare_digest(sig.encode(), _session_mac(user, expiry, secret).encode())
    return _Seen(user, -math.inf, float(int(expiry))) if ok else None


def bearer_token(value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = (value or "").strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def cookie_value(header: str | None, name: str) -> str | None:
    """The first cookie called `name` in a Cookie header; quotes removed."""
    if not header or not name:
        return None
    for part in header.split(";"):
        key, eq, value = part.partition("=")
        if eq and key.strip() == name:
            value = value.strip()
            quoted = len(value) >= 2 and value[0] == value[-1] == '"'
            return (value[1:-1] if quoted else value) or None
    return None


def _secret_matches(given: str | None, secret: str) -> bool:
    raw = given.encode("utf-8", "replace") if given is not None else b""
    return given is not None and hmac.compare_digest(raw, secret.encode("utf-8"))


def _prepared(keys: tuple[JwtKeySpec, ...], name: str) -> tuple[tuple[JwtKeySpec, Any], ...]:
    return tuple((k, prepare_key(k, f"{name}[{i}]")) for i, k in enumerate(keys))


class Classifier:
    """Decides a request's class from its address and headers; `now` is wall-clock seconds."""

    __slots__ = ("_api", "_settings", "_user", "introspection_cache")

    def __init__(
        self,
        settings: ClassSettings,
        cache_size: int = 10_000,
        introspection_cache: IntrospectionCache | None = None,
    ) -> None:
        if settings.user_mode not in USER_MODES:
            raise ConfigError("user_mode", f"{settings.user_mode!r} is not one of {USER_MODES}")
        s = self._settings = settings
        api = _JwtVerifier(_prepared(s.api_keys, "api_keys"), s.audience, s.issuer, _APP_CLAIMS)
        self._api = _TokenCheck(api, cache_size) if api.keys else None
        self._user: _TokenCheck | None = None
        if s.user_cookie and s.user_mode == "signed":
            self._user = _TokenCheck(partial(_verify_signed, secret=s.user_secret), cache_size)
        elif s.user_cookie and s.user_mode == "jwt":
            user = _JwtVerifier(_prepared(s.user_keys, "user_keys"), "", "", _USER_CLAIMS)
            self._user = _TokenCheck(user, cache_size)
        if s.introspection and introspection_cache is None:
            introspection_cache = IntrospectionCache(cache_size)
        self.introspection_cache = introspection_cache if s.introspection else None

    def counts(self) -> dict[str, int]:
        """Entries per table, and signature checks computed (cache misses), per kind."""
        out = {"introspection": len(self.introspection_cache or ())}
        for name, c in (("api", self._api), ("user", self._user)):
            if c is not None:
                out |= {
                    f"{name}_ok": len(c.ok),
                    f"{name}_bad": len(c.bad),
                    f"{name}_verified": c.verifications,
                }
        return out

    def classify(
        self, client: Address, headers: Mapping[str, str], now: float
    ) -> tuple[ClientClass, str]:
        """(class, principal) in priority order; ANONYMOUS with "" when nothing verifies."""
        token = bearer_token(headers.get("authorization"))
        app = self._app(token, now) if token is not None else None
        if app is not None:
            return ClientClass.API_APP, f"app:{app}"
        for gw in self._settings.gateways:
            if gw.cidrs.contains(client) and (
                not gw.secret_header or _secret_matches(headers.get(gw.secret_header), gw.secret)
            ):
                return ClientClass.GATEWAY, f"gw:{gw.name}"
        user = self._session_user(headers, now)
        if user is not None:
            return ClientClass.USER, f"user:{user}"
        return ClientClass.ANONYMOUS, ""

    def needs_introspection(self, headers: Mapping[str, str], now: float) -> str | None:
        """The opaque token to look up before `classify` can decide, in priority order.

        Ask at most twice a request (bearer, then cookie): failed lookups are not cached."""
        cache = self.introspection_cache
        if cache is None:
            return None
        token = bearer_token(headers.get("authorization"))
        if token is not None and self._app(token, now) is not None:
            return None  # already an api_app: the session does not matter
        if token is not None and self._opaque(token) and cache.get(token, now) is None:
            return token
        s = self._settings
        if s.user_cookie and s.user_mode == "introspection":
            cookie = cookie_value(headers.get("cookie"), s.user_cookie)
            if cookie is not None and _plausible(cookie) and cache.get(cookie, now) is None:
                return cookie
        return None

    def _opaque(self, token: str) -> bool:
        """Not ours to verify locally: JWT-shaped bearers go to the keys when there are any."""
        return _plausible(token) and (self._api is None or token.count(".") != 2)

    def _app(self, token: str, now: float) -> str | None:
        if not _plausible(token):
            return None
        if self._api is not None and token.count(".") == 2:
            return self._api.check(token, now)
        return self._introspected(token, now, user=False)

    def _session_user(self, headers: Mapping[str, str], now: float) -> str | None:
        s = self._settings
        if not s.user_cookie:
            return None
        token = cookie_value(headers.get("cookie"), s.user_cookie)
        if token is None or not _plausible(token):
            return None
        if self._user is not None:
            return self._user.check(token, now)
        return self._introspected(token, now, user=True)

    def _introspected(self, token: str, now: float, user: bool) -> str | None:
        cache = self.introspection_cache
        known = cache.get(token, now) if cache is not None else None
        if known is None or not known.active:
            return None
        name = (known.user or known.principal) if user else known.principal
        return name if _name_ok(name) else None
