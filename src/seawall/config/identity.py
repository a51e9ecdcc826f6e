"""Turning the `classes` section into a Classifier: key files read and checked at startup."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from seawall.config.schema import Config, JwtKey
from seawall.core.classes import (
    Classifier,
    ClassSettings,
    GatewaySpec,
    IntrospectionCache,
    JwtKeySpec,
    prepare_key,
)
from seawall.core.errors import ConfigError
from seawall.core.net import CidrSet

_MAX_KEY_FILE = 1 << 20  # a PEM public key or certificate is a few KiB


def _read_pem(path: str, key: str) -> str:
    """The public key in `path` as SubjectPublicKeyInfo PEM; a certificate yields its key."""
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path!r}: {exc.strerror or exc}") from None
    if len(data) > _MAX_KEY_FILE:
        raise ConfigError(key, f"{path!r} is too large to be a PEM key")
    if b"PRIVATE KEY-----" in data:
        raise ConfigError(key, f"{path!r} holds a private key; give the edge the public key")
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            public = x509.load_pem_x509_certificate(data).public_key()
        except ValueError as exc:
            raise ConfigError(key, f"{path!r} is not a valid certificate ({exc})") from None
        data = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise ConfigError(key, f"{path!r} is not PEM text") from None


def _key_spec(k: JwtKey, key: str) -> JwtKeySpec:
    if k.alg == "HS256":
        spec = JwtKeySpec(k.alg, k.secret, k.kid)
        prepare_key(spec, f"{key}.secret")
        return spec
    name = f"{key}.public_key_file"
    spec = JwtKeySpec(k.alg, _read_pem(k.public_key_file, name), k.kid)
    prepare_key(spec, name)
    return spec


def _key_specs(keys: list[JwtKey], key: str) -> tuple[JwtKeySpec, ...]:
    return tuple(_key_spec(k, f"{key}[{i}]") for i, k in enumerate(keys))


def _gateways(cfg: Config) -> tuple[GatewaySpec, ...]:
    out = []
    for i, g in enumerate(cfg.classes.gateways):
        cidrs = CidrSet(g.cidrs, key=f"classes.gateways[{i}].cidrs")
        out.append(GatewaySpec(g.name, cidrs, g.secret_header.strip().lower(), g.secret))
    return tuple(out)


def build_classifier(cfg: Config, cache_size: int = 10_000) -> Classifier:
    """The Classifier the config describes; ConfigError names the offending key."""
    c = cfg.classes
    intro = c.api_app.introspection
    user = c.user
    jwt_user = bool(user.cookie) and user.mode == "jwt"
    if user.cookie and user.mode == "introspection" and not intro.url:
        raise ConfigError(
            "classes.user.mode", "introspection needs classes.api_app.introspection.url"
        )
    settings = ClassSettings(
        api_keys=_key_specs(c.api_app.jwt_keys, "classes.api_app.jwt_keys"),
        audience=c.api_app.audience,
        issuer=c.api_app.issuer,
        introspection=bool(intro.url),
        gateways=_gateways(cfg),
        user_cookie=user.cookie,
        user_mode=user.mode,
        user_secret=user.secret.encode(),
        user_keys=_key_specs(user.jwt_keys, "classes.user.jwt_keys") if jwt_user else (),
    )
    cache = IntrospectionCache(intro.cache_size) if intro.url else None
    return Classifier(settings, cache_size=cache_size, introspection_cache=cache)
