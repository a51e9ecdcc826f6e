"""Opaque tokens verified by RFC 7662 introspection, through the running edge."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from harness import Edge, Seen, roundtrip


def handler(req: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
    if req.target == "/oauth/introspect":
        token = parse_qs(req.body.decode())["token"][0]
        answers = {
            "good-opaque-token-123": {"active": True, "client_id": "partner-7"},
            "good-session-token-42": {"active": True, "sub": "u42"},
        }
        answer = answers.get(token, {"active": False})
        body = json.dumps(answer).encode()
        return 200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body
    return 200, [("Content-Length", "4")], b"page"


def configure(port: int) -> dict[str, Any]:
    return {
        "classes": {
            "api_app": {"introspection": {"url": f"http://127.0.0.1:{port}/oauth/introspect"}}
        }
    }


def _classes(e: Edge) -> list[str]:
    return sorted(
        k for (_, k, _), n in e.worker.ctx.stats.snapshot()["requests"].items() for _ in range(n)
    )


def test_opaque_token_is_introspected_once_then_cached() -> None:
    with Edge(handler=handler, configure=configure) as e:
        for _ in range(3):
            resp, body = roundtrip(
                e.port,
                b"GET /feed HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer good-opaque-token-123\r\n\r\n",
            )
            assert resp.status_code == 200 and body == b"page"
        resp, _ = roundtrip(
            e.port,
            b"GET /feed HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer revoked-token-456\r\n\r\n",
        )
        assert resp.status_code == 200
        lookups = [s for s in e.origin.seen if s.target == "/oauth/introspect"]
        assert len(lookups) == 2
        assert _classes(e) == ["anonymous", "api_app", "api_app", "api_app"]


def test_dead_introspection_endpoint_fails_closed_to_anonymous() -> None:
    def dead(port: int) -> dict[str, Any]:
        return {
            "classes": {
                "api_app": {
                    "introspection": {"url": "http://127.0.0.1:9/introspect", "timeout": 0.5}
                }
            }
        }

    with Edge(configure=dead) as e:
        resp, _ = roundtrip(
            e.port,
            b"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer some-opaque-token-789\r\n\r\n",
        )
        assert resp.status_code == 200
        assert _classes(e) == ["anonymous"]


def test_revoked_bearer_then_session_cookie_are_both_looked_up() -> None:
    def both(port: int) -> dict[str, Any]:
        url = f"http://127.0.0.1:{port}/oauth/introspect"
        return {
            "classes": {
                "api_app": {"introspection": {"url": url}},
                "user": {"cookie": "sid", "mode": "introspection"},
            }
        }

    with Edge(handler=handler, configure=both) as e:
        req = (
            b"GET /feed HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer revoked-token-456\r\n"
            b"Cookie: sid=good-session-token-42\r\n\r\n"
        )
        resp, _ = roundtrip(e.port, req)
        assert resp.status_code == 200
        assert len([s for s in e.origin.seen if s.target == "/oauth/introspect"]) == 2
        assert _classes(e) == ["user"]
