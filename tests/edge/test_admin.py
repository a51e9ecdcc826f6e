"""The admin API over a real socket: health, readiness, metrics and rules, token or not."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from detectsite import Site, _record
from seawall.core.rules import Ruleset, RulesetDelta
from seawall.core.verdict import ALLOW
from seawall.detect.engine import DetectionEngine
from seawall.edge.admin import Control, make_app, start_admin
from seawall.edge.run import LocalControl
from seawall.edge.stats import EdgeStats
from seawall.runtime.clock import SystemClock
from seawall.store.incidents import IncidentStore

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


# ---- incidents and suggestions -----------------------------------------------------------------


class FakeControl:
    """The Control protocol in memory: what the admin API needs, and nothing running."""

    def __init__(self) -> None:
        self.rules = Ruleset()
        self.reports: dict[str, dict[str, Any]] = {}
        self.suggested: list[dict[str, Any]] = []
        self.approved: list[str] = []

    def ruleset(self) -> Ruleset:
        return self.rules

    def apply(self, delta: RulesetDelta) -> Ruleset:
        self.rules = self.rules.apply(delta)
        return self.rules

    def stats(self) -> dict[str, Any]:
        return EdgeStats().snapshot()

    def ready(self) -> bool:
        return True

    def incidents(self) -> list[dict[str, Any]]:
        newest = sorted(self.reports.values(), key=lambda r: -r["start"])
        return [{k: v for k, v in r.items() if k != "timeline"} for r in newest]

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        return self.reports.get(incident_id)

    def suggestions(self) -> list[dict[str, Any]]:
        return list(self.suggested)

    def approve(self, rule_id: str) -> bool:
        if all(s["id"] != rule_id for s in self.suggested):
            return False
        self.approved.append(rule_id)
        self.suggested = [s for s in self.suggested if s["id"] != rule_id]
        return True


class AdminThread:
    """make_app over a control, served on 127.0.0.1 from a loop in a thread."""

    def __init__(self, control: Control) -> None:
        self.control = control

    def __enter__(self) -> int:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        app = make_app(self.control, "s3cret", SystemClock())
        start = start_admin(app, "127.0.0.1", 0)
        self.runner = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        return int(self.runner.addresses[0][1])

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


INCIDENT = {
    "id": "inc-2",
    "status": "open",
    "start": 200.0,
    "vectors": ["http_flood"],
    "timeline": [[200.0, 900.0, 60.0]],
}
SUGGESTION = {
    "id": "auto-0123456789",
    "step": "block",
    "match": "header_fp=ba7ba7ba7ba7",
    "estimated_collateral": 0.0,
    "reason": "http_flood on /users/famous",
}


def test_incidents_are_listed_newest_first_without_timelines() -> None:
    control = FakeControl()
    control.reports = {"inc-1": {"id": "inc-1", "start": 100.0, "timeline": []}, "inc-2": INCIDENT}
    with AdminThread(control) as port:
        status, text = _call(port, "/v1/incidents")
        assert status == 200
        listed = json.loads(text)["incidents"]
        assert [i["id"] for i in listed] == ["inc-2", "inc-1"]
        assert all("timeline" not in i for i in listed)
        status, text = _call(port, "/v1/incidents/inc-2")
        assert status == 200 and json.loads(text) == INCIDENT
        status, text = _call(port, "/v1/incidents/nope")
        assert status == 404 and "nope" in text


def test_no_incidents_is_an_empty_list() -> None:
    with AdminThread(FakeControl()) as port:
        assert json.loads(_call(port, "/v1/incidents")[1]) == {"incidents": []}
        assert json.loads(_call(port, "/v1/suggestions")[1]) == {"suggestions": []}


def test_a_suggestion_is_listed_then_approved_once() -> None:
    control = FakeControl()
    control.suggested = [SUGGESTION]
    with AdminThread(control) as port:
        status, text = _call(port, "/v1/suggestions")
        assert status == 200 and json.loads(text) == {"suggestions": [SUGGESTION]}
        path = f"/v1/rules/{SUGGESTION['id']}/approve"
        status, text = _call(port, path, method="POST")
        assert status == 200
        assert json.loads(text)["approved"] == SUGGESTION["id"]
        assert control.approved == [SUGGESTION["id"]]
        status, text = _call(port, path, method="POST")
        assert status == 404 and SUGGESTION["id"] in text
        assert _call(port, "/v1/rules/unknown/approve", method="POST")[0] == 404
        assert control.approved == [SUGGESTION["id"]]


def test_incidents_and_suggestions_need_the_token() -> None:
    control = FakeControl()
    control.reports = {"inc-2": INCIDENT}
    control.suggested = [SUGGESTION]
    with AdminThread(control) as port:
        for method, path in [
            ("GET", "/v1/incidents"),
            ("GET", "/v1/incidents/inc-2"),
            ("GET", "/v1/suggestions"),
            ("POST", f"/v1/rules/{SUGGESTION['id']}/approve"),
        ]:
            assert _call(port, path, token=None, method=method)[0] == 401
            assert _call(port, path, token="wrong", method=method)[0] == 401
        assert control.approved == []


def test_an_edge_without_detection_has_no_suggestions_to_approve() -> None:
    with Edge(config={"detection": {"enabled": False}}) as e:
        assert json.loads(_call(e.admin_port, "/v1/suggestions")[1]) == {"suggestions": []}
        assert _call(e.admin_port, "/v1/rules/auto-x/approve", method="POST")[0] == 404
        assert json.loads(_call(e.admin_port, "/v1/incidents")[1]) == {"incidents": []}


def test_local_control_serves_stored_incidents_and_approves_a_live_suggestion(
    tmp_path: Path,
) -> None:
    """A real worker in suggest mode, its engine fed a bot wave; a real IncidentStore file."""
    store = IncidentStore(str(tmp_path / "incidents.db"))
    config = {"detection": {"mode": "suggest", "interval": 3600}}
    with Edge(config=config) as e:
        det = e.worker.detection
        assert det is not None

        def attack() -> None:
            # a fresh engine ticking each second; the loop's own timer (an hour) stays out
            det.engine = DetectionEngine(replace(det.engine.settings, interval=1.0))
            site = Site(seed=5, legit_rate=60)
            site.wave("bots", 40, 1000, 300, 200)
            now, wall = e.worker.ctx.clock.monotonic(), e.worker.ctx.clock.wall()
            for t in range(42):
                at = now - 42 + t
                det.engine.observe_many(
                    _record(f, ALLOW, 200, at, wall - now) for f in site.second(t)
                )
                res = det.engine.tick(at + 1.0, wall=wall - now + at + 1.0)
                for inc in (res.closed, res.incident):
                    if inc is not None:
                        store.save(inc.to_dict())

        e.call(attack)
        assert e.call(lambda: e.worker.ctx.decider.ruleset.rules) == ()
        with AdminThread(LocalControl(e.worker, store)) as port:
            (summary,) = json.loads(_call(port, "/v1/incidents")[1])["incidents"]
            assert summary["status"] == "open" and "timeline" not in summary
            status, text = _call(port, f"/v1/incidents/{summary['id']}")
            assert status == 200 and json.loads(text)["timeline"]
            assert _call(port, "/v1/incidents/nope")[0] == 404

            (suggested,) = json.loads(_call(port, "/v1/suggestions")[1])["suggestions"]
            assert suggested["step"] == "block" and "header_fp" in suggested["match"]
            assert _call(port, "/v1/rules/auto-nope/approve", method="POST")[0] == 404
            path = f"/v1/rules/{suggested['id']}/approve"
            assert _call(port, path, method="POST")[0] == 200
            e.call(det.tick)  # approved rules are applied at the next tick
            rules = json.loads(_call(port, "/v1/rules")[1])["rules"]
            assert [(r["id"], r["action"], r["origin"]) for r in rules] == [
                (suggested["id"], "block", "auto")
            ]
            assert json.loads(_call(port, "/v1/suggestions")[1]) == {"suggestions": []}
    store.close()
    assert IncidentStore(str(tmp_path / "incidents.db")).get(summary["id"]) is not None


# ---- POST /v1/intel ----------------------------------------------------------------------------


def _post_intel(
    port: int, body: bytes, ctype: str, query: str = "", token: str | None = "s3cret"
) -> tuple[int, str]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/intel{query}", data=body, method="POST"
    )
    req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


PEER_BUNDLE = json.dumps(
    {
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000000",
        "objects": [
            {
                "type": "identity",
                "id": "identity--00000000-0000-4000-8000-000000000001",
                "name": "Peer CERT",
            },
            {
                "type": "indicator",
                "id": "indicator--00000000-0000-4000-8000-000000000002",
                "created_by_ref": "identity--00000000-0000-4000-8000-000000000001",
                "pattern": "[ipv4-addr:value = '45.10.20.0/24' OR ipv4-addr:value = '81.2.3.4']",
                "pattern_type": "stix",
                "valid_from": "2020-01-01T00:00:00Z",
            },
            {
                "type": "indicator",
                "id": "indicator--00000000-0000-4000-8000-000000000003",
                "pattern": "[domain-name:value = 'evil.example']",
                "pattern_type": "stix",
                "valid_from": "2020-01-01T00:00:00Z",
            },
            {
                "type": "indicator",
                "id": "indicator--00000000-0000-4000-8000-000000000004",
                "pattern": "[ipv4-addr:value = '92.5.6.7']",
                "pattern_type": "stix",
                "valid_from": "2020-01-01T00:00:00Z",
                "valid_until": "2020-01-02T00:00:00Z",
            },
        ],
    }
).encode()


def test_intel_from_a_peer_blocks_anonymous_clients_at_the_edge_only() -> None:
    from seawall.core.facts import ClientClass
    from seawall.core.verdict import Action

    from corefacts import make_facts

    config = {"network": {"trusted_proxies": ["127.0.0.1/32"]}}
    with Edge(config=config) as e:
        query = "?source=peer-x&ttl=600"
        status, text = _post_intel(e.admin_port, b"45.10.20.0/24 ; seen\n", "text/plain", query)
        assert status == 200, text
        answer = json.loads(text)
        (rule_id,) = answer["rules"]
        assert rule_id.startswith("intel-peer-x-") and answer["indicators"] == 1
        (listed,) = json.loads(_call(e.admin_port, "/v1/rules")[1])["rules"]
        assert (listed["id"], listed["origin"], listed["action"]) == (rule_id, "intel", "block")
        assert listed["match"] == {"cidrs": ["45.10.20.0/24"], "classes": ["anonymous"]}
        assert 590 < listed["ttl"] <= 600

        def get(client: str) -> int:
            head = f"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: {client}\r\n\r\n"
            return int(roundtrip(e.port, head.encode())[0].status_code)

        assert get("45.10.20.9") == 403
        assert get("45.10.21.9") == 200
        decider, clock = e.worker.ctx.decider, e.worker.ctx.clock
        for klass in (ClientClass.API_APP, ClientClass.GATEWAY, ClientClass.USER):
            facts = make_facts(client="45.10.20.9", klass=klass)
            assert (
                e.call(lambda f=facts: decider.decide(f, clock.monotonic())).action is Action.ALLOW
            )
        facts = make_facts(client="45.10.20.9")
        assert e.call(lambda: decider.decide(facts, clock.monotonic())).action is Action.BLOCK


def test_a_stix_bundle_becomes_one_rule_per_provenance_with_skips_counted() -> None:
    control = FakeControl()
    with AdminThread(control) as port:
        status, text = _post_intel(
            port, PEER_BUNDLE, "application/stix+json", "?action=challenge&ttl=300"
        )
        assert status == 200, text
        answer = json.loads(text)
        assert answer["indicators"] == 2
        assert answer["skipped"] == {"unsupported_pattern": 1, "expired": 1}
        assert "evil.example" in answer["problems"][0]
        (rule,) = control.rules.rules
        assert [rule.id] == answer["rules"] and rule.id.startswith("intel-peer-cert-")
        assert rule.match.cidrs == ("45.10.20.0/24", "81.2.3.4")
        assert rule.action.label == "challenge" and rule.origin == "intel"
        # the same bundle again replaces the rule rather than adding one
        assert _post_intel(port, PEER_BUNDLE, "application/json", "?action=challenge")[0] == 200
        assert [r.id for r in control.rules.rules] == [rule.id]
        throttle = _post_intel(port, PEER_BUNDLE, "application/json", "?action=throttle")
        assert throttle[0] == 200
        assert [r.rate > 0 for r in control.rules.rules] == [False, True]


def test_bad_intel_requests_are_refused_and_change_nothing() -> None:
    control = FakeControl()
    with AdminThread(control) as port:
        assert _post_intel(port, PEER_BUNDLE, "application/json", token=None)[0] == 401
        assert _post_intel(port, PEER_BUNDLE, "application/json", token="wrong")[0] == 401
        status, text = _post_intel(port, PEER_BUNDLE, "application/xml")
        assert status == 415 and "text/plain" in text
        for query, says in [
            ("?action=allow", "action must be one of block, challenge, throttle"),
            ("?ttl=0", "ttl must be seconds"),
            ("?ttl=nan", "ttl must be seconds"),
            ("?ttl=1e12", "ttl must be seconds"),
            ("?ttl=soon", "ttl must be seconds"),
            ("?source=" + "x" * 101, "source must be"),
        ]:
            status, text = _post_intel(port, PEER_BUNDLE, "application/json", query)
            assert status == 400 and says in text, (query, text)
        for body, says in [
            (b"45.1.1.1\n", "request body: is not JSON"),
            (b'{"type": "bundle", "objects": 3}', '"objects" is not a list'),
            (b"[" * 50_000, "nests JSON deeper than 32 levels"),
            (b"\xff\xfe", "is not UTF-8"),
        ]:
            status, text = _post_intel(port, body, "application/stix+json")
            assert status == 400 and says in json.loads(text)["error"], text
        # a list's bad lines are reported, never fatal
        status, text = _post_intel(port, b"nonsense\n10.0.0.1\n", "text/plain; charset=utf-8")
        assert status == 200 and json.loads(text)["rules"] == []
        assert json.loads(text)["skipped"] == {"not_an_address": 1, "special": 1}
    assert control.rules.rules == ()


class SmallIntelAdmin(AdminThread):
    """The admin app with a small intel body limit, to reach it cheaply."""

    def __enter__(self) -> int:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        app = make_app(self.control, "s3cret", SystemClock(), intel_max_bytes=1000)
        start = start_admin(app, "127.0.0.1", 0)
        self.runner = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        return int(self.runner.addresses[0][1])


def test_an_intel_body_over_the_limit_is_413_declared_or_streamed() -> None:
    import http.client

    control = FakeControl()
    with SmallIntelAdmin(control) as port:
        assert _post_intel(port, b"45.1.1.1\n" * 112, "text/plain")[0] == 413
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": "Bearer s3cret", "Content-Type": "text/plain"}
        chunks = iter([b"45.1.1.1\n" * 60] * 3)
        conn.request("POST", "/v1/intel", body=chunks, headers=headers, encode_chunked=True)
        assert conn.getresponse().status == 413
        conn.close()
        assert _post_intel(port, b"45.1.1.1\n" * 100, "text/plain")[0] == 200
    assert len(control.rules.rules) == 1
