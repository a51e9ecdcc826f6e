"""build_classifier: the `classes` section, key files included, into a working Classifier."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from cryptography.x509.oid import NameOID

from seawall.config.identity import build_classifier
from seawall.config.schema import Config
from seawall.core.classes import IntrospectionResult, sign_session
from seawall.core.errors import ConfigError
from seawall.core.facts import ClientClass
from seawall.core.net import Address, parse_address

NOW = 1_700_000_000.0
HS_SECRET = "an-hs256-secret-that-is-long-enough-for-sha256"


def addr(text: str) -> Address:
    a = parse_address(text)
    assert a is not None
    return a


CLIENT = addr("203.0.113.9")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def write_public(path: Path, key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    path.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return str(path)


def write_certificate(path: Path, key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.test")])
    start = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return str(path)


def config(classes: dict[str, Any]) -> Config:
    return Config.model_validate({"classes": classes})


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_every_class_from_config(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    cfg = config(
        {
            "api_app": {
                "audience": "edge",
                "jwt_keys": [
                    {"alg": "HS256", "secret": HS_SECRET},
                    {"alg": "RS256", "public_key_file": write_public(tmp_path / "rs.pem", rsa_key)},
                    {"alg": "EdDSA", "public_key_file": write_public(tmp_path / "ed.pem", ed_key)},
                ],
            },
            "gateways": [
                {
                    "name": "sms",
                    "cidrs": ["10.9.0.0/16"],
                    "secret_header": "X-SMS-Key",
                    "secret": "k3y",
                }
            ],
            "user": {"cookie": "sid", "secret": "session-secret"},
        }
    )
    c = build_classifier(cfg)
    exp = int(NOW) + 60
    for key, alg, name in (
        (HS_SECRET, "HS256", "h"),
        (rsa_key, "RS256", "r"),
        (ed_key, "EdDSA", "e"),
    ):
        token = jwt.encode({"client_id": name, "aud": "edge", "exp": exp}, key, algorithm=alg)
        assert c.classify(CLIENT, bearer(token), NOW) == (ClientClass.API_APP, f"app:{name}")
    wrong_aud = jwt.encode({"client_id": "h", "aud": "x"}, HS_SECRET, algorithm="HS256")
    assert c.classify(CLIENT, bearer(wrong_aud), NOW) == (ClientClass.ANONYMOUS, "")
    sms = addr("10.9.1.1")
    assert c.classify(sms, {"x-sms-key": "k3y"}, NOW) == (ClientClass.GATEWAY, "gw:sms")
    assert c.classify(sms, {}, NOW) == (ClientClass.ANONYMOUS, "")
    session = sign_session("alice", exp, b"session-secret")
    assert c.classify(CLIENT, {"cookie": f"sid={session}"}, NOW) == (ClientClass.USER, "user:alice")


def test_a_certificate_file_gives_its_public_key(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = write_certificate(tmp_path / "idp.crt", rsa_key)
    c = build_classifier(
        config({"api_app": {"jwt_keys": [{"alg": "RS256", "public_key_file": path, "kid": "k1"}]}})
    )
    token = jwt.encode({"sub": "svc"}, rsa_key, algorithm="RS256", headers={"kid": "k1"})
    assert c.classify(CLIENT, bearer(token), NOW) == (ClientClass.API_APP, "app:svc")


def key_error(classes: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        build_classifier(config(classes))
    return err.value


def test_an_unreadable_key_file_names_its_key(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    err = key_error(
        {
            "api_app": {
                "jwt_keys": [
                    {"alg": "HS256", "secret": HS_SECRET},
                    {"alg": "RS256", "public_key_file": missing},
                ]
            }
        }
    )
    assert err.key == "classes.api_app.jwt_keys[1].public_key_file"
    assert "nope.pem" in err.reason


def test_a_key_of_the_wrong_kind_names_its_key(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    ed_path = write_public(tmp_path / "ed.pem", ed_key)
    err = key_error({"api_app": {"jwt_keys": [{"alg": "RS256", "public_key_file": ed_path}]}})
    assert err.key == "classes.api_app.jwt_keys[0].public_key_file"
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN PUBLIC KEY-----\nbm9wZQ==\n-----END PUBLIC KEY-----\n")
    err = key_error({"api_app": {"jwt_keys": [{"alg": "EdDSA", "public_key_file": str(garbage)}]}})
    assert err.key == "classes.api_app.jwt_keys[0].public_key_file"
    binary = tmp_path / "binary.der"
    binary.write_bytes(bytes(range(256)))
    err = key_error({"api_app": {"jwt_keys": [{"alg": "EdDSA", "public_key_file": str(binary)}]}})
    assert err.key == "classes.api_app.jwt_keys[0].public_key_file"


def test_a_private_key_file_is_refused(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "private.pem"
    path.write_bytes(rsa_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    err = key_error({"api_app": {"jwt_keys": [{"alg": "RS256", "public_key_file": str(path)}]}})
    assert err.key == "classes.api_app.jwt_keys[0].public_key_file"
    assert "private" in err.reason


def test_a_weak_hs256_secret_names_its_key() -> None:
    err = key_error({"api_app": {"jwt_keys": [{"alg": "HS256", "secret": "short"}]}})
    assert err.key == "classes.api_app.jwt_keys[0].secret"


def test_user_jwt_keys_name_their_key(tmp_path: Path) -> None:
    classes = {
        "user": {
            "cookie": "sid",
            "mode": "jwt",
            "jwt_keys": [{"alg": "EdDSA", "public_key_file": str(tmp_path / "absent.pem")}],
        }
    }
    assert key_error(classes).key == "classes.user.jwt_keys[0].public_key_file"


def test_introspected_sessions_need_the_endpoint() -> None:
    err = key_error({"user": {"cookie": "sid", "mode": "introspection"}})
    assert err.key == "classes.user.mode"


def test_introspection_endpoint_gives_a_cache_of_its_size() -> None:
    c = build_classifier(
        config(
            {
                "api_app": {"introspection": {"url": "http://127.0.0.1:9/i", "cache_size": 7}},
                "user": {"cookie": "sid", "mode": "introspection"},
            }
        )
    )
    assert c.introspection_cache is not None
    for i in range(10):
        c.introspection_cache.put(f"t{i}", IntrospectionResult(False, ""), NOW, ttl=30)
    assert len(c.introspection_cache) == 7
    assert c.needs_introspection({"cookie": "sid=abc"}, NOW) == "abc"


def test_nothing_configured_is_anonymous() -> None:
    c = build_classifier(Config())
    assert c.introspection_cache is None
    h = {"authorization": "Bearer x.y.z", "cookie": "sid=a", "user-agent": "curl"}
    assert c.classify(CLIENT, h, NOW) == (ClientClass.ANONYMOUS, "")
