"""The admin API over a real socket: health, readiness, metrics and rules, token or not."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from harness import Edge, roundtrip


def _call(
    port: int, path: str, token: str | None = "s3cret", method: str = "GET", body: Any = None
) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_health_and_readiness_need_no_token() -> None:
    with Edge() as e:
        assert _call(e.admin_port, "/healthz", token=None) == (200, "ok\n")
        assert _call(e.admin_port, "/readyz", token=None)[0] == 200


def test_metrics_and_rules_refuse_without_the_right_token() -> None:
    with Edge() as e:
        for path in ("/metrics", "/v1/rules"):
            assert _call(e.admin_port, path, token=None)[0] == 401
            assert _call(e.admin_port, path, token="wrong")[0] == 401
    with Edge(config={"admin": {"listen": "", "token": ""}}) as e:
        status, text = _call(e.admin_port, "/metrics", token="anything")
        assert status == 403 and "admin.token" in text


def test_metrics_count_requests_by_verdict_class_and_route() -> None:
    rules = [{"id": "b", "action": "block", "match": {"paths": ["/blocked"]}}]
    routes = [{"name": "home", "pattern": "/"}]
    with Edge(config={"rules": rules, "routes": routes}) as e:
        roundtrip(e.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        roundtrip(e.port, b"GET /blocked HTTP/1.1\r\nHost: h\r\n\r\n")
        status, text = _call(e.admin_port, "/metrics")
        assert status == 200
        assert 'seawall_requests_total{class="anonymous",route="home",verdict="allow"} 1.0' in text
        assert 'seawall_requests_total{class="anonymous",route="other",verdict="block"} 1.0' in text
        assert 'seawall_request_duration_seconds_count{route="home"} 1.0' in text
        assert "seawall_pool_created_total 1.0" in text


def test_rules_can_be_listed_added_and_removed_live() -> None:
    with Edge(
        config={"rules": [{"id": "static", "action": "block", "match": {"paths": ["/x$"]}}]}
    ) as e:
        status, text = _call(e.admin_port, "/v1/rules")
        assert status == 200
        listed = json.loads(text)
        assert [r["id"] for r in listed["rules"]] == ["static"]
        assert roundtrip(e.port, b"GET /live HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code == 200
        new = {
            "id": "live",
            "action": "block",
            "match": {"paths": ["/live"]},
            "ttl": 60,
            "reason": "test",
        }
        status, text = _call(e.admin_port, "/v1/rules", method="POST", body=new)
        assert status == 200
        got = {r["id"]: r for r in json.loads(text)["rules"]}
        assert got["live"]["origin"] == "admin" and 59 < got["live"]["ttl"] <= 60
        assert roundtrip(e.port, b"GET /live HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code == 403
        assert _call(e.admin_port, "/v1/rules/live", method="DELETE")[0] == 200
        assert _call(e.admin_port, "/v1/rules/live", method="DELETE")[0] == 404
        assert roundtrip(e.port, b"GET /live HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code == 200


def test_invalid_rule_is_refused_with_the_reason_and_nothing_changes() -> None:
    with Edge() as e:
        bad = {
            "add": [
                {"id": "t", "action": "throttle"},
                {"id": "c", "action": "block", "match": {"cidrs": ["300.1.1.1"]}},
            ]
        }
        status, text = _call(e.admin_port, "/v1/rules", method="POST", body=bad)
        assert status == 400
        details = json.loads(text)["details"]
        assert any("rate" in d["error"] for d in details)
        assert any("cidrs" in d["at"] for d in details)
        assert json.loads(_call(e.admin_port, "/v1/rules")[1])["rules"] == []
        status, _ = _call(e.admin_port, "/v1/rules", method="POST", body=None)
        assert status == 400


def test_rule_with_ttl_expires_by_itself() -> None:
    with Edge() as e:
        rule = {"id": "brief", "action": "block", "ttl": 0.5}
        assert _call(e.admin_port, "/v1/rules", method="POST", body=rule)[0] == 200
        assert roundtrip(e.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code == 403
        time.sleep(1.0)
        assert roundtrip(e.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code == 200
        assert json.loads(_call(e.admin_port, "/v1/rules")[1])["rules"] == []
