"""Client classes: tokens, gateways and sessions in; (class, principal) out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from seawall.core.classes import (
    LEEWAY,
    MAX_TOKEN,
    Classifier,
    ClassSettings,
    GatewaySpec,
    IntrospectionCache,
    IntrospectionResult,
    JwtKeySpec,
    bearer_token,
    cookie_value,
    prepare_key,
    sign_session,
)
from seawall.core.errors import ConfigError
from seawall.core.facts import ClientClass
from seawall.core.net import Address, CidrSet, parse_address

NOW = 1_700_000_000.0
HS_SECRET = "an-hs256-secret-that-is-long-enough-for-sha256"
USER_SECRET = b"user-session-secret"
API = ClientClass.API_APP
GW = ClientClass.GATEWAY
USER = ClientClass.USER
ANON = (ClientClass.ANONYMOUS, "")


def addr(text: str) -> Address:
    a = parse_address(text)
    assert a is not None
    return a


CLIENT = addr("198.51.100.7")
SMS = addr("10.1.2.3")


def pem(public: Any) -> str:
    text: str = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return text


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def claims(**extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"client_id": "billing", "exp": int(NOW) + 3600}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


def hs(payload: dict[str, Any], secret: str = HS_SECRET, kid: str | None = None) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers={"kid": kid} if kid else None)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def api_settings(*keys: JwtKeySpec, **kw: Any) -> ClassSettings:
    return ClassSettings(api_keys=keys or (JwtKeySpec("HS256", HS_SECRET),), **kw)


def classifier(**kw: Any) -> Classifier:
    return Classifier(api_settings(**kw))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- api_app: JWT bearers ---------------------------------------------------------


def test_hs256_bearer_is_an_api_app() -> None:
    c = classifier()
    assert c.classify(CLIENT, bearer(hs(claims())), NOW) == (API, "app:billing")


def test_principal_is_client_id_then_azp_then_sub() -> None:
    c = classifier()
    azp = hs(claims(client_id=None, azp="mobile", sub="u1"))
    sub = hs(claims(client_id=None, sub="svc-7"))
    nobody = hs(claims(client_id=None))
    assert c.classify(CLIENT, bearer(azp), NOW) == (API, "app:mobile")
    assert c.classify(CLIENT, bearer(sub), NOW) == (API, "app:svc-7")
    assert c.classify(CLIENT, bearer(nobody), NOW) == ANON  # verified but names no one


def test_rs256_and_eddsa_bearers(
    rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    c = Classifier(
        api_settings(
            JwtKeySpec("RS256", pem(rsa_key.public_key())),
            JwtKeySpec("EdDSA", pem(ed_key.public_key()).encode()),
        )
    )
    rs = jwt.encode(claims(client_id="rs"), rsa_key, algorithm="RS256")
    ed = jwt.encode(claims(client_id="ed"), ed_key, algorithm="EdDSA")
    assert c.classify(CLIENT, bearer(rs), NOW) == (API, "app:rs")
    assert c.classify(CLIENT, bearer(ed), NOW) == (API, "app:ed")


def test_expiry_is_judged_against_the_given_now_with_leeway() -> None:
    c = classifier()
    token = hs(claims(exp=int(NOW) - 10))
    assert c.classify(CLIENT, bearer(token), NOW) == (API, "app:billing")  # within leeway
    assert c.classify(CLIENT, bearer(token), NOW + LEEWAY) == ANON
    assert c.classify(CLIENT, bearer(token), NOW) == ANON  # expired once, refused for good
    old = hs(claims(exp=int(NOW) - 3600))
    assert c.classify(CLIENT, bearer(old), NOW) == ANON


def test_token_not_yet_valid_becomes_valid() -> None:
    c = classifier()
    token = hs(claims(nbf=int(NOW) + 300))
    assert c.classify(CLIENT, bearer(token), NOW) == ANON
    assert c.classify(CLIENT, bearer(token), NOW + 280) == (API, "app:billing")
    assert c.counts()["api_verified"] == 1


def test_malformed_time_claims_are_refused() -> None:
    c = classifier()
    assert c.classify(CLIENT, bearer(hs(claims(exp="tomorrow"))), NOW) == ANON
    assert c.classify(CLIENT, bearer(hs(claims(exp=True))), NOW) == ANON
    nan = hs(claims(exp=float("nan")))
    assert c.classify(CLIENT, bearer(nan), NOW) == ANON


def test_token_without_exp_is_accepted() -> None:
    c = classifier()
    token = hs({"client_id": "forever"})
    assert c.classify(CLIENT, bearer(token), NOW + 10**9) == (API, "app:forever")


def test_audience_and_issuer() -> None:
    c = classifier(audience="seawall", issuer="https://idp")
    good = claims(aud="seawall", iss="https://idp")
    assert c.classify(CLIENT, bearer(hs(good)), NOW) == (API, "app:billing")
    listed = claims(aud=["other", "seawall"], iss="https://idp")
    assert c.classify(CLIENT, bearer(hs(listed)), NOW) == (API, "app:billing")
    assert c.classify(CLIENT, bearer(hs(claims(aud="other", iss="https://idp"))), NOW) == ANON
    assert c.classify(CLIENT, bearer(hs(claims(aud="seawall", iss="https://evil"))), NOW) == ANON
    assert c.classify(CLIENT, bearer(hs(claims(iss="https://idp"))), NOW) == ANON  # no aud


def test_wrong_key_does_not_verify(
    rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    c = Classifier(api_settings(JwtKeySpec("RS256", pem(rsa_key.public_key()))))
    forged = jwt.encode(claims(), other_rsa_key, algorithm="RS256")
    assert c.classify(CLIENT, bearer(forged), NOW) == ANON
    other_secret = hs(claims(), secret="x" * 48)
    assert classifier().classify(CLIENT, bearer(other_secret), NOW) == ANON


def test_hs256_signed_with_the_rsa_public_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    public = pem(rsa_key.public_key())
    c = Classifier(api_settings(JwtKeySpec("RS256", public)))
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims()).encode())
    mac = hmac.new(public.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert c.classify(CLIENT, bearer(f"{head}.{body}.{b64url(mac)}"), NOW) == ANON
    head_rs = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    mac = hmac.new(public.encode(), f"{head_rs}.{body}".encode(), hashlib.sha256).digest()
    assert c.classify(CLIENT, bearer(f"{head_rs}.{body}.{b64url(mac)}"), NOW) == ANON


def test_alg_none_is_refused() -> None:
    head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims()).encode())
    assert classifier().classify(CLIENT, bearer(f"{head}.{body}."), NOW) == ANON


def test_kid_selects_the_key() -> None:
    other = "another-hs256-secret-long-enough-for-sha256!"
    c = Classifier(
        api_settings(JwtKeySpec("HS256", HS_SECRET, "a"), JwtKeySpec("HS256", other, "b"))
    )
    assert c.classify(CLIENT, bearer(hs(claims(), kid="a")), NOW) == (API, "app:billing")
    assert c.classify(CLIENT, bearer(hs(claims(), other, kid="b")), NOW) == (API, "app:billing")
    assert c.classify(CLIENT, bearer(hs(claims(), kid="b")), NOW) == ANON  # key a's token, kid b
    assert c.classify(CLIENT, bearer(hs(claims())), NOW) == ANON  # no kid: no keyed match


def test_garbage_bearers_fall_through() -> None:
    c = classifier()
    for value in ("Bearer", "Bearer ", "Basic abc", "Bearer a.b.c", "Bearer ...", "bearer x.y"):
        assert c.classify(CLIENT, {"authorization": value}, NOW) == ANON
    assert c.classify(CLIENT, bearer("é." + hs(claims())), NOW) == ANON
    assert c.classify(CLIENT, bearer("a" * (MAX_TOKEN + 1)), NOW) == ANON


def test_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token("bEaReR  tok ") == "tok"
    assert bearer_token(None) is None
    assert bearer_token("Bearer") is None


# --- caches --------------------------------------------------------------------


def test_a_repeated_token_is_verified_once(rsa_key: rsa.RSAPrivateKey) -> None:
    c = Classifier(api_settings(JwtKeySpec("RS256", pem(rsa_key.public_key()))))
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    for i in range(50):
        assert c.classify(CLIENT, bearer(token), NOW + i) == (API, "app:billing")
    assert c.counts()["api_verified"] == 1


def test_a_replayed_forgery_is_verified_once() -> None:
    c = classifier()
    forged = hs(claims(), secret="y" * 48)
    for _ in range(20):
        assert c.classify(CLIENT, bearer(forged), NOW) == ANON
    assert c.counts()["api_verified"] == 1
    assert c.counts()["api_bad"] == 1


def test_verification_tables_are_bounded() -> None:
    c = Classifier(api_settings(), cache_size=4)
    for i in range(40):
        good = hs(claims(client_id=f"app{i}"))
        assert c.classify(CLIENT, bearer(good), NOW) == (API, f"app:app{i}")
        c.classify(CLIENT, bearer(hs(claims(n=i), secret="z" * 48)), NOW)
    counts = c.counts()
    assert counts["api_ok"] == 4
    assert counts["api_bad"] == 16  # max(16, size // 4)
    assert counts["api_verified"] == 80


def test_introspection_cache_ttl_and_exp() -> None:
    cache = IntrospectionCache(max_size=8)
    cache.put("tok", IntrospectionResult(True, "app1", NOW + 10), NOW, ttl=30)
    assert cache.get("tok", NOW + 9.9) == IntrospectionResult(True, "app1", NOW + 10)
    assert cache.get("tok", NOW + 10) is None  # never outlives the token
    cache.put("long", IntrospectionResult(True, "app1", NOW + 3600), NOW, ttl=30)
    assert cache.get("long", NOW + 29) is not None
    assert cache.get("long", NOW + 30) is None
    assert len(cache) == 0  # expired entries are dropped on sight


def test_introspection_cache_keeps_inactive_answers_and_ignores_junk() -> None:
    cache = IntrospectionCache(max_size=8)
    cache.put("dead", IntrospectionResult(False, "", NOW - 100), NOW, ttl=30)
    assert cache.get("dead", NOW + 1) == IntrospectionResult(False, "", NOW - 100)
    cache.put("past", IntrospectionResult(True, "a", NOW - 1), NOW, ttl=30)
    cache.put("zero", IntrospectionResult(True, "a"), NOW, ttl=0)
    cache.put("é", IntrospectionResult(True, "a"), NOW, ttl=30)
    assert len(cache) == 1
    assert cache.get("é", NOW) is None


def test_introspection_cache_is_lru_bounded() -> None:
    cache = IntrospectionCache(max_size=3)
    for i in range(3):
        cache.put(f"t{i}", IntrospectionResult(True, f"a{i}"), NOW, ttl=60)
    assert cache.get("t0", NOW) is not None  # t0 is now the most recent
    cache.put("t3", IntrospectionResult(True, "a3"), NOW, ttl=60)
    assert len(cache) == 3
    assert cache.get("t1", NOW) is None
    assert cache.get("t0", NOW) is not None
    with pytest.raises(ValueError):
        IntrospectionCache(max_size=0)


# --- api_app: opaque tokens through introspection ----------------------------------


def test_opaque_bearer_needs_introspection_then_classifies() -> None:
    c = Classifier(ClassSettings(introspection=True))
    cache = c.introspection_cache
    assert cache is not None
    h = bearer("opaque-token-1")
    assert c.needs_introspection(h, NOW) == "opaque-token-1"
    assert c.classify(CLIENT, h, NOW) == ANON  # unknown yet: not trusted
    cache.put("opaque-token-1", IntrospectionResult(True, "crm", NOW + 600), NOW, ttl=30)
    assert c.needs_introspection(h, NOW) is None
    assert c.classify(CLIENT, h, NOW) == (API, "app:crm")
    assert c.classify(CLIENT, h, NOW + 31) == ANON  # answer expired
    assert c.needs_introspection(h, NOW + 31) == "opaque-token-1"


def test_inactive_introspection_answer_is_anonymous() -> None:
    shared = IntrospectionCache(16)
    c = Classifier(ClassSettings(introspection=True), introspection_cache=shared)
    assert c.introspection_cache is shared
    shared.put("revoked", IntrospectionResult(False, ""), NOW, ttl=30)
    assert c.needs_introspection(bearer("revoked"), NOW) is None
    assert c.classify(CLIENT, bearer("revoked"), NOW) == ANON


def test_jwt_bearers_are_verified_locally_when_keys_exist() -> None:
    c = Classifier(api_settings(introspection=True))
    forged = hs(claims(), secret="q" * 48)
    assert c.needs_introspection(bearer(forged), NOW) is None
    assert c.needs_introspection(bearer(hs(claims())), NOW) is None
    assert c.needs_introspection(bearer("opaque"), NOW) == "opaque"


def test_no_introspection_configured() -> None:
    c = classifier()
    assert c.introspection_cache is None
    assert c.needs_introspection(bearer("opaque"), NOW) is None
    assert c.classify(CLIENT, bearer("opaque"), NOW) == ANON


# --- gateways ------------------------------------------------------------------


def gateways(**kw: Any) -> Classifier:
    return Classifier(
        ClassSettings(
            gateways=(
                GatewaySpec("sms", CidrSet(["10.1.0.0/16"]), "x-gateway-key", "s3cret"),
                GatewaySpec("hooks", CidrSet(["192.0.2.0/24", "2001:db8::/32"])),
            ),
            **kw,
        )
    )


def test_gateway_needs_its_address_and_its_secret() -> None:
    c = gateways()
    assert c.classify(SMS, {"x-gateway-key": "s3cret"}, NOW) == (GW, "gw:sms")
    assert c.classify(SMS, {}, NOW) == ANON
    assert c.classify(SMS, {"x-gateway-key": "s3cret!"}, NOW) == ANON
    assert c.classify(SMS, {"x-gateway-key": "sécret"}, NOW) == ANON  # non-ASCII never raises
    assert c.classify(CLIENT, {"x-gateway-key": "s3cret"}, NOW) == ANON


def test_gateway_without_secret_is_its_address() -> None:
    c = gateways()
    assert c.classify(addr("192.0.2.55"), {}, NOW) == (GW, "gw:hooks")
    assert c.classify(addr("2001:db8::1"), {}, NOW) == (GW, "gw:hooks")
    assert c.classify(addr("192.0.3.1"), {}, NOW) == ANON


def test_user_agent_and_path_never_make_a_client_trusted() -> None:
    c = gateways(user_cookie="sid", user_secret=USER_SECRET)
    h = {"user-agent": "Googlebot/2.1", "x-gateway": "sms", ":path": "/internal", "via": "sms"}
    assert c.classify(CLIENT, h, NOW) == ANON


# --- users ---------------------------------------------------------------------


def users(**kw: Any) -> Classifier:
    return Classifier(ClassSettings(user_cookie="sid", user_secret=USER_SECRET, **kw))


def cookie(value: str, extra: str = "theme=dark; ") -> dict[str, str]:
    return {"cookie": f"{extra}sid={value}; lang=en"}


def test_signed_session_cookie() -> None:
    c = users()
    value = sign_session("alice", int(NOW) + 600, USER_SECRET)
    assert c.classify(CLIENT, cookie(value), NOW) == (USER, "user:alice")
    assert c.classify(CLIENT, cookie(f'"{value}"', ""), NOW) == (USER, "user:alice")
    dotted = sign_session("a.b.c", int(NOW) + 600, USER_SECRET)
    assert c.classify(CLIENT, cookie(dotted), NOW) == (USER, "user:a.b.c")


def test_tampered_session_cookies_are_anonymous() -> None:
    c = users()
    user, expiry, sig = sign_session("alice", int(NOW) + 600, USER_SECRET).split(".")
    forged_sig = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    for value in (
        f"mallory.{expiry}.{sig}",
        f"{user}.{int(expiry) + 86400}.{sig}",
        f"{user}.{expiry}.{forged_sig}",
        f"{user}.{expiry}.",
        f"{user}.{expiry}",
        sign_session("alice", int(NOW) + 600, b"another secret"),
        "",
        "...",
    ):
        assert c.classify(CLIENT, cookie(value), NOW) == ANON, value


def test_expired_session_cookie_is_anonymous() -> None:
    c = users()
    value = sign_session("bob", int(NOW) + 5, USER_SECRET)
    assert c.classify(CLIENT, cookie(value), NOW + 4) == (USER, "user:bob")
    assert c.classify(CLIENT, cookie(value), NOW + 5) == ANON
    assert c.classify(CLIENT, cookie(value), NOW) == ANON  # once expired, refused from cache


def test_sign_session_refuses_what_a_cookie_cannot_carry() -> None:
    for user in ("", "a;b", "a b", 'a"b', "é", "x" * 300):
        with pytest.raises(ValueError):
            sign_session(user, int(NOW), USER_SECRET)
    with pytest.raises(ValueError):
        sign_session("ok", -1, USER_SECRET)


def test_cookie_parsing() -> None:
    assert cookie_value("a=1; sid=xyz; b=2", "sid") == "xyz"
    assert cookie_value("sid=first; sid=second", "sid") == "first"
    assert cookie_value("nosid=1; xsid=2; sid", "sid") is None
    assert cookie_value(' sid = "quoted" ', "sid") == "quoted"
    assert cookie_value("sid=", "sid") is None
    assert cookie_value(";;=;sid=v=w", "sid") == "v=w"
    assert cookie_value(None, "sid") is None
    assert cookie_value("sid=1", "") is None


def test_jwt_session_mode(ed_key: ed25519.Ed25519PrivateKey) -> None:
    c = Classifier(
        ClassSettings(
            user_cookie="sid",
            user_mode="jwt",
            user_keys=(JwtKeySpec("EdDSA", pem(ed_key.public_key())),),
        )
    )
    good = jwt.encode({"sub": "carol", "exp": int(NOW) + 60}, ed_key, algorithm="EdDSA")
    assert c.classify(CLIENT, cookie(good), NOW) == (USER, "user:carol")
    assert c.classify(CLIENT, cookie(good), NOW + 60 + LEEWAY) == ANON
    anonymous = jwt.encode({"exp": int(NOW) + 60}, ed_key, algorithm="EdDSA")
    assert c.classify(CLIENT, cookie(anonymous), NOW) == ANON


def test_introspected_session_mode() -> None:
    c = Classifier(ClassSettings(introspection=True, user_cookie="sid", user_mode="introspection"))
    cache = c.introspection_cache
    assert cache is not None
    assert c.needs_introspection(cookie("sess-1"), NOW) == "sess-1"
    cache.put("sess-1", IntrospectionResult(True, "webapp", NOW + 600, "dave"), NOW, ttl=30)
    assert c.needs_introspection(cookie("sess-1"), NOW) is None
    assert c.classify(CLIENT, cookie("sess-1"), NOW) == (USER, "user:dave")
    cache.put("sess-2", IntrospectionResult(True, "erin", NOW + 600), NOW, ttl=30)
    assert c.classify(CLIENT, cookie("sess-2"), NOW) == (USER, "user:erin")


def test_needs_introspection_order_bearer_then_cookie() -> None:
    c = Classifier(ClassSettings(introspection=True, user_cookie="sid", user_mode="introspection"))
    cache = c.introspection_cache
    assert cache is not None
    h = {**bearer("app-tok"), **cookie("sess-9")}
    assert c.needs_introspection(h, NOW) == "app-tok"
    cache.put("app-tok", IntrospectionResult(False, ""), NOW, ttl=30)
    assert c.needs_introspection(h, NOW) == "sess-9"  # the bearer proved inactive
    cache.put("app-tok", IntrospectionResult(True, "crm"), NOW, ttl=30)
    assert c.needs_introspection(h, NOW) is None  # an api_app: the session does not matter
    assert c.classify(CLIENT, h, NOW) == (API, "app:crm")


def test_introspection_user_mode_without_endpoint_never_matches() -> None:
    c = Classifier(ClassSettings(user_cookie="sid", user_mode="introspection"))
    assert c.needs_introspection(cookie("sess"), NOW) is None
    assert c.classify(CLIENT, cookie("sess"), NOW) == ANON


# --- priority ------------------------------------------------------------------


def everything() -> Classifier:
    return gateways(
        api_keys=(JwtKeySpec("HS256", HS_SECRET),), user_cookie="sid", user_secret=USER_SECRET
    )


def test_priority_api_app_then_gateway_then_user() -> None:
    c = everything()
    session = cookie(sign_session("alice", int(NOW) + 600, USER_SECRET))
    secret = {"x-gateway-key": "s3cret"}
    token = bearer(hs(claims()))
    assert c.classify(SMS, {**token, **secret, **session}, NOW) == (API, "app:billing")
    assert c.classify(SMS, {**secret, **session}, NOW) == (GW, "gw:sms")
    forged = bearer(hs(claims(), secret="w" * 48))
    assert c.classify(SMS, {**forged, **secret}, NOW) == (GW, "gw:sms")
    assert c.classify(SMS, {**forged, **session}, NOW) == (USER, "user:alice")
    assert c.classify(CLIENT, forged, NOW) == ANON


@settings(max_examples=300, deadline=None)
@given(
    auth=st.one_of(st.none(), st.text(max_size=80), st.text(max_size=80).map("Bearer {}".format)),
    cookie_header=st.one_of(st.none(), st.text(max_size=80)),
    gw_key=st.one_of(st.none(), st.text(max_size=20)),
)
def test_any_header_values_classify_without_raising(
    auth: str | None, cookie_header: str | None, gw_key: str | None
) -> None:
    c = everything()
    h = {
        k: v
        for k, v in (("authorization", auth), ("cookie", cookie_header), ("x-gateway-key", gw_key))
        if v is not None
    }
    klass, principal = c.classify(SMS, h, NOW)
    assert klass in (ClientClass.GATEWAY, ClientClass.ANONYMOUS) or gw_key == "s3cret"
    assert (klass is ClientClass.ANONYMOUS) == (principal == "")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60), st.binary(max_size=60))
def test_any_jwt_shaped_bearer_classifies_without_raising(head: bytes, body: bytes) -> None:
    token = f"{b64url(head)}.{b64url(body)}.{b64url(b'sig')}"
    assert classifier().classify(CLIENT, bearer(token), NOW) == ANON


# --- keys ----------------------------------------------------------------------


def test_prepare_key_refuses_unusable_keys(
    rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    rsa_pem = pem(rsa_key.public_key())
    cases = [
        JwtKeySpec("HS256", rsa_pem),  # a public key as an HMAC secret: alg confusion
        JwtKeySpec("HS256", "short"),
        JwtKeySpec("RS256", pem(ed_key.public_key())),
        JwtKeySpec("EdDSA", rsa_pem),
        JwtKeySpec("RS256", "not a key"),
        JwtKeySpec("ES256", rsa_pem),
    ]
    for spec in cases:
        with pytest.raises(ConfigError) as err:
            prepare_key(spec, "k")
        assert err.value.key == "k"
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigError, match="1024"):
        prepare_key(JwtKeySpec("RS256", pem(small.public_key())), "k")


def test_classifier_names_the_bad_key() -> None:
    with pytest.raises(ConfigError) as err:
        Classifier(api_settings(JwtKeySpec("HS256", HS_SECRET), JwtKeySpec("HS256", "short")))
    assert err.value.key == "api_keys[1]"
    with pytest.raises(ConfigError) as err:
        Classifier(ClassSettings(user_cookie="sid", user_mode="magic"))
    assert err.value.key == "user_mode"
