"""Client classes and rules, seen through the running edge."""

from __future__ import annotations

import socket
import time

import jwt

from seawall.core.classes import sign_session

from harness import Edge, header, raw_roundtrip, roundtrip

SECRET = "an-hs256-secret-that-is-long-enough-0123456789"
COOKIE_KEY = "cookie-secret-for-sessions-0123456789abcdef"

CLASSES = {
    "api_app": {"jwt_keys": [{"alg": "HS256", "secret": SECRET}]},
    "gateways": [
        {"name": "sms", "cidrs": ["127.0.0.2/32"], "secret_header": "X-Gw", "secret": "gw-key"}
    ],
    "user": {"cookie": "sid", "mode": "signed", "secret": COOKIE_KEY},
}


def _req(extra: str = "", path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: h\r\n{extra}\r\n".encode()


def _class_of(e: Edge) -> list[str]:
    return [
        k for (_, k, _), n in e.worker.ctx.stats.snapshot()["requests"].items() for _ in range(n)
    ]


def test_each_kind_of_client_gets_its_class() -> None:
    token = jwt.encode({"sub": "app-1", "exp": int(time.time()) + 60}, SECRET, "HS256")
    cookie = sign_session("u42", int(time.time()) + 60, COOKIE_KEY.encode())
    rules = [
        {
            "id": "tag",
            "action": "block",
            "status": 418,
            "match": {"classes": ["anonymous"], "paths": ["/anon-only"]},
        }
    ]
    with Edge(config={"classes": CLASSES, "rules": rules}) as e:
        seen = []
        for extra, source in [
            (f"Authorization: Bearer {token}\r\n", "127.0.0.1"),
            ("X-Gw: gw-key\r\n", "127.0.0.2"),
            ("X-Gw: wrong\r\n", "127.0.0.2"),
            (f"Cookie: a=b; sid={cookie}\r\n", "127.0.0.1"),
            (f"Cookie: sid={cookie[:-2]}xx\r\n", "127.0.0.1"),
            ("User-Agent: Googlebot\r\n", "127.0.0.1"),
        ]:
            before = dict(e.worker.ctx.stats.snapshot()["requests"])
            resp, _ = roundtrip(e.port, _req(extra), source=source)
            assert resp.status_code == 200
            after = e.worker.ctx.stats.snapshot()["requests"]
            (key,) = [k for k in after if after[k] != before.get(k, 0)]
            seen.append(key[1])
        assert seen == ["api_app", "gateway", "anonymous", "user", "anonymous", "anonymous"]


def test_allowlisted_class_is_untouched_by_a_later_throttle() -> None:
    token = jwt.encode({"sub": "app-1", "exp": int(time.time()) + 60}, SECRET, "HS256")
    rules = [
        {"id": "apps-first", "action": "allow", "match": {"classes": ["api_app"]}},
        {"id": "tight", "action": "throttle", "rate": 1, "burst": 2},
    ]
    with Edge(config={"classes": CLASSES, "rules": rules}) as e:
        anon = [roundtrip(e.port, _req())[0].status_code for _ in range(5)]
        app = [
            roundtrip(e.port, _req(f"Authorization: Bearer {token}\r\n"))[0].status_code
            for _ in range(5)
        ]
        assert anon[:2] == [200, 200] and anon[2:] == [429, 429, 429]
        assert app == [200] * 5


def test_throttle_gives_429_with_retry_after() -> None:
    rules = [{"id": "slow-down", "action": "throttle", "rate": 0.5, "burst": 1}]
    with Edge(config={"rules": rules}) as e:
        assert roundtrip(e.port, _req())[0].status_code == 200
        resp, body = roundtrip(e.port, _req())
        assert resp.status_code == 429
        assert header(resp, "retry-after") == "2"
        assert b"too many requests" in body
        assert len(e.origin.seen) == 1


def test_block_by_cidr_path_and_method_and_silent_close() -> None:
    rules = [
        {"id": "no-admin", "action": "block", "match": {"paths": ["/admin"]}},
        {"id": "no-delete", "action": "block", "match": {"methods": ["DELETE"]}, "status": 405},
        {"id": "tarpit", "action": "block", "close": True, "match": {"cidrs": ["127.0.0.3/32"]}},
    ]
    with Edge(config={"rules": rules}) as e:
        assert roundtrip(e.port, _req(path="/admin/x"))[0].status_code == 403
        assert roundtrip(e.port, _req(path="/%61dmin"))[0].status_code == 403  # encoded bypass
        assert roundtrip(e.port, _req(path="//admin"))[0].status_code == 403
        assert roundtrip(e.port, b"DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code == 405
        assert roundtrip(e.port, _req(path="/fine"))[0].status_code == 200
        with socket.create_connection(("127.0.0.1", e.port), source_address=("127.0.0.3", 0)) as s:
            s.sendall(_req())
            s.settimeout(3)
            assert s.recv(100) == b""
        assert raw_roundtrip(e.port, _req()).startswith(b"HTTP/1.1 200")
        assert [s.target for s in e.origin.seen] == ["/fine", "/"]


def test_rate_limit_keyed_by_target_uses_routes() -> None:
    routes = [{"name": "profile", "pattern": "/users/{name}/{rest*}", "target": "/users/{name}"}]
    rules = [
        {
            "id": "per-target",
            "action": "throttle",
            "rate": 0.1,
            "burst": 2,
            "key": "target",
            "match": {"routes": ["profile"]},
        }
    ]
    with Edge(config={"routes": routes, "rules": rules}) as e:
        codes = [
            roundtrip(e.port, _req(path=p))[0].status_code
            for p in ("/users/cyxymu/a", "/users/cyxymu/b", "/users/cyxymu/c", "/users/alice/a")
        ]
        assert codes == [200, 200, 429, 200]


def test_challenge_verdict_is_a_distinct_refusal() -> None:
    """A client that cannot run the page (no text/html) gets 429 with Retry-After."""
    rules = [{"id": "prove-it", "action": "challenge", "match": {"user_agents": ["curl"]}}]
    with Edge(config={"rules": rules}) as e:
        resp, body = roundtrip(e.port, _req("User-Agent: curl/8.0\r\n"))
        assert resp.status_code == 429 and b"browser" in body
        assert header(resp, "retry-after") == "5"
        assert ("challenge", "anonymous", "other") in e.worker.ctx.stats.snapshot()["requests"]
