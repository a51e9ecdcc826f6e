"""The `seawall` command as a user runs it: config checks, the edge process, drain, workers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from seawall.cli import main

from harness import OriginThread, Seen, at_once, free_port, roundtrip, wait_for_port


def test_config_check_prints_the_effective_config(tmp_path: Path) -> None:
    f = tmp_path / "ok.toml"
    f.write_text(
        '[[origins]]\nurl = "http://127.0.0.1:8000"\n[[routes]]\nname = "p"\npattern = "/users/{name}"\n'
    )
    result = CliRunner().invoke(main, ["config", "check", str(f)])
    assert result.exit_code == 0, result.output
    effective = json.loads(result.stdout)
    assert effective["origins"][0]["pool_size"] == 256
    assert effective["limits"]["max_headers"] == 100


def test_config_check_names_the_key_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(
        '[network]\ntrusted_proxies = ["10.0.0.0/8", "10.0.0.0/99"]\n[limits]\nmax_headrs = 5\n'
    )
    result = CliRunner().invoke(main, ["config", "check", str(f)])
    assert result.exit_code == 2
    assert (
        "network.trusted_proxies[1]" in result.stderr
        or "network.trusted_proxies.1" in result.stderr
    )
    assert "limits.max_headrs: unknown option" in result.stderr


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('[detection]\ndisabled = ["http_flod"]\n', "detection: unknown detector(s) ['http_flod']"),
        ("[detection.detectors.scanner]\nwindw = 3\n", "detection.detectors.scanner:"),
        ('[challenge]\nsecret = "short"\n', "challenge.secret: must be at least 16 bytes"),
        ('[store]\npath = "/nonexistent/dir/x.db"\n', "store.path: directory /nonexistent/dir"),
    ],
)
def test_config_check_catches_detection_mistakes_before_any_worker_starts(
    tmp_path: Path, toml: str, says: str
) -> None:
    f = tmp_path / "d.toml"
    f.write_text(toml)
    result = CliRunner().invoke(main, ["config", "check", str(f)])
    assert result.exit_code == 2 and says in result.stderr, result.stderr
    edge = CliRunner().invoke(main, ["edge", "--config", str(f), "--origin", "http://x:1"])
    assert edge.exit_code == 2 and says in edge.stderr  # refused, not restarted forever


def test_config_check_catches_what_the_schema_cannot(tmp_path: Path) -> None:
    f = tmp_path / "keys.toml"
    f.write_text(
        '[[classes.api_app.jwt_keys]]\nalg = "RS256"\npublic_key_file = "/nonexistent.pem"\n'
        '[[routes]]\nname = "p"\npattern = "/u/{name}"\ntarget = "/u/{nme}"\n'
    )
    result = CliRunner().invoke(main, ["config", "check", str(f)])
    assert result.exit_code == 2
    assert "classes.api_app.jwt_keys[0].public_key_file" in result.stderr


def test_config_reference_is_generated_from_the_schema() -> None:
    result = CliRunner().invoke(main, ["config", "reference"])
    assert result.exit_code == 0
    assert "`max_connections_per_address`" in result.stdout
    assert "`[[rules]]`" in result.stdout


def test_edge_without_an_origin_says_so() -> None:
    result = CliRunner().invoke(main, ["edge", "--listen", "127.0.0.1:0"])
    assert result.exit_code == 2
    assert "origin" in result.stderr


def _edge(port: int, origin_port: int, *extra: str) -> subprocess.Popen[bytes]:
    """`seawall edge` on 127.0.0.1:port in front of the origin, without an access log."""
    args = ["--listen", f"127.0.0.1:{port}", "--origin", f"http://127.0.0.1:{origin_port}"]
    return subprocess.Popen(
        [sys.executable, "-m", "seawall.cli", "edge", *args, "--access-log", "", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _two_workers(port: int, origin_port: int, admin: int, *extra: str) -> subprocess.Popen[bytes]:
    """Two workers behind a supervisor, with the admin API on `admin` (token t0k)."""
    admin_args = ("--admin", f"127.0.0.1:{admin}", "--admin-token", "t0k")
    return _edge(port, origin_port, "--workers", "2", *admin_args, *extra)


def test_sigterm_drains_in_flight_requests_then_exits() -> None:
    def slow(req: Seen) -> object:
        async def later() -> tuple[int, list[tuple[str, str]], bytes]:
            import asyncio

            await asyncio.sleep(1.0)
            return 200, [("Content-Length", "4")], b"done"

        return later()

    port = free_port()
    with OriginThread(slow) as origin:
        proc = _edge(port, origin.port, "--admin", "")
        try:
            wait_for_port(port)
            result: dict[str, object] = {}

            def client() -> None:
                result["resp"] = roundtrip(port, b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")

            t = threading.Thread(target=client)
            t.start()
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            t.join(10)
            resp, body = result["resp"]  # type: ignore[misc]
            assert resp.status_code == 200 and body == b"done"
            assert proc.wait(10) == 0
        finally:
            proc.kill()
            proc.wait()


def test_two_workers_act_as_one_edge() -> None:
    port, admin = free_port(), free_port()
    with OriginThread() as origin:
        proc = _two_workers(port, origin.port, admin)
        try:
            wait_for_port(port)
            wait_for_port(admin)

            def api(path: str, body: dict[str, object] | None = None) -> str:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{admin}{path}",
                    data=json.dumps(body).encode() if body else None,
                    headers={"Authorization": "Bearer t0k"},
                )
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.read().decode()

            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=2)
                    break
                except OSError:
                    time.sleep(0.1)
            for _ in range(40):
                assert roundtrip(port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code == 200
            api(
                "/v1/rules", {"id": "everyone", "action": "block", "match": {"paths": ["/blocked"]}}
            )
            time.sleep(0.2)
            codes = {
                roundtrip(port, b"GET /blocked HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code
                for _ in range(40)
            }
            assert codes == {403}
            # a limit holds for the host, not per worker: new connections land on both workers
            limit = {
                "id": "host-wide",
                "action": "throttle",
                "rate": 0.001,
                "burst": 10,
                "match": {"paths": ["/limited"]},
            }
            api("/v1/rules", limit)
            time.sleep(0.2)
            limited = [
                roundtrip(port, b"GET /limited HTTP/1.1\r\nHost: h\r\n\r\n")[0].status_code
                for _ in range(30)
            ]
            assert limited.count(200) == 10 and limited.count(429) == 20
            time.sleep(1.5)
            metrics = api("/metrics")
            line = next(
                x
                for x in metrics.splitlines()
                if x.startswith(
                    'seawall_requests_total{class="anonymous",route="other",verdict="allow"}'
                )
            )
            assert float(line.rsplit(" ", 1)[1]) == 50.0  # 40 plain, 10 within the host-wide limit
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            proc.kill()
            proc.wait()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def test_workers_exit_when_the_supervisor_is_killed() -> None:
    port = free_port()
    with OriginThread() as origin:
        proc = _edge(port, origin.port, "--workers", "2", "--admin", "")
        try:
            wait_for_port(port)
            deadline = time.monotonic() + 10
            workers: list[int] = []
            while len(workers) < 2 and time.monotonic() < deadline:
                workers = _children(proc.pid)
                time.sleep(0.05)
            assert len(workers) >= 2
            proc.kill()  # SIGKILL: no chance to tell anyone
            proc.wait(10)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
                time.sleep(0.1)
            alive = [
                w
                for w in workers
                if Path(f"/proc/{w}").exists()
                and "zombie" not in Path(f"/proc/{w}/status").read_text().lower()
            ]
            assert alive == []
        finally:
            proc.kill()
            proc.wait()


BROWSER_REQ = (
    "GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\nUser-Agent: Mozilla/5.0 (X11; "
    "Linux x86_64) Chrome/131.0.0.0\r\nAccept: text/html\r\nAccept-Language: en\r\n\r\n"
)
BOT_REQ = (
    "GET /users/famous HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; WOW64) "
    "Chrome/51.0.2704.103\r\nAccept: */*\r\nHost: h\r\nConnection: close\r\n\r\n"
)


def _status(port: int, request: str, source: str) -> int:
    """The status, or 0 when the edge closed the connection without an answer."""
    try:
        return roundtrip(port, request.encode(), source=source)[0].status_code
    except Exception:  # closed silently: what a block by closing looks like
        return 0


def test_two_workers_detect_a_flood_and_block_it_on_both(tmp_path: Path) -> None:
    """Each worker detects on its share; a rule one writes reaches both; incidents are kept."""
    port, admin = free_port(), free_port()
    conf = tmp_path / "edge.toml"
    conf.write_text(f'[store]\npath = "{tmp_path / "incidents.db"}"\n')
    with OriginThread() as origin:
        proc = _two_workers(port, origin.port, admin, "--config", str(conf))
        try:
            wait_for_port(port)
            wait_for_port(admin)
            people = [f"127.0.2.{i}" for i in range(1, 41)]
            paths = ["/", "/feed", "/users/famous", "/users/u1", "/users/u2"]
            for t in range(160):  # 8 s of people, 20 requests/s: the baseline
                assert _status(port, BROWSER_REQ.format(path=paths[t % 5]), people[t % 40]) == 200
                time.sleep(0.05)
            bots = [f"127.4.{i // 200}.{1 + i % 200}" for i in range(400)]
            rules: list[dict[str, object]] = []
            deadline = time.monotonic() + 8  # bounded: at most 8 s of flood
            sent = 0
            while not rules and time.monotonic() < deadline:
                batch = bots[sent % 400 : sent % 400 + 100]
                at_once([lambda b=b: _status(port, BOT_REQ, b) for b in batch])
                sent += len(batch)
                answer = _admin(admin, "/v1/rules")
                rules = [r for r in json.loads(answer)["rules"] if r["origin"] == "auto"]
            assert rules, "no automatic rule within 8 s of flood"
            # each worker may write its own in the same second (one may pick the bots' /24s,
            # the other their header order); a redundant one gets no hits and lapses
            assert 1 <= len(rules) <= 2
            for rule in rules:
                assert rule["action"] == "block" and rule["match"]["classes"] == ["anonymous"]
            time.sleep(0.3)  # the supervisor has sent it to both workers
            # new connections land on both workers: all of them refuse the bots now
            assert {_status(port, BOT_REQ, b) for b in bots[:60]} == {0}
            assert {_status(port, BROWSER_REQ.format(path="/"), p) for p in people} == {200}
            time.sleep(1.5)  # an incident is saved at the next tick
            incidents = json.loads(_admin(admin, "/v1/incidents"))["incidents"]
            (inc,) = incidents  # one attack, one incident for the host, whichever worker saw it
            assert inc["id"].endswith("-host") and set(inc["workers"]) <= {0, 1}
            vectors = {v for i in incidents for v in i["vectors"]}
            assert vectors & {"http_flood", "fingerprint_surge"}
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            proc.kill()
            proc.wait()


def _admin(port: int, path: str) -> str:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": "Bearer t0k"}
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return str(r.read().decode())


def test_two_workers_share_one_account_protection(tmp_path: Path) -> None:
    """Auth events from both workers reach the supervisor's account protection, whose
    campaign steps up the account on every worker, and the operator's dismissal is heard."""

    def login(req: Seen) -> object:
        return 401, [("X-Auth-Result", "failed"), ("Content-Length", "2")], b"no"

    conf = tmp_path / "edge.toml"
    conf.write_text(
        f'[store]\npath = "{tmp_path / "s.db"}"\n'
        '[network]\ntrusted_proxies = ["127.0.0.1/32"]\n'
        '[[routes]]\nname = "login"\npattern = "/login"\n'
        '[accounts]\nenabled = true\nsecret = "a-long-enough-secret"\nstep_up = "header"\n'
        'high_risk = ["victim"]\n'
        '[[accounts.routes]]\nroute = "login"\nkind = "login"\naccount_field = "user"\n'
        'result_header = "X-Auth-Result"\n'
    )
    port, admin = free_port(), free_port()
    with OriginThread(login) as origin:
        proc = _two_workers(port, origin.port, admin, "--config", str(conf))
        try:
            wait_for_port(port)
            wait_for_port(admin)

            def api(path: str, body: bytes | None = None) -> dict[str, object]:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{admin}{path}",
                    data=body,
                    headers={"Authorization": "Bearer t0k"},
                )
                with urllib.request.urlopen(req, timeout=5) as r:
                    answer: dict[str, object] = json.loads(r.read())
                    return answer

            form = b"user=victim&password=guess"
            for i in range(12):  # a guessing botnet: one account, many addresses
                raw = (
                    b"POST /login HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 198.51.100.%d\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (i + 1, len(form), form)
                )
                assert roundtrip(port, raw)[0].status_code == 401
            campaigns: list[dict[str, object]] = []
            deadline = time.monotonic() + 10
            while not campaigns and time.monotonic() < deadline:
                time.sleep(0.3)
                campaigns = api("/v1/campaigns")["campaigns"]  # type: ignore[assignment]
            (camp,) = campaigns
            assert camp["kind"] == "targeted" and camp["accounts_count"] == 1
            rules = [str(r["id"]) for r in api("/v1/rules")["rules"]]  # type: ignore[union-attr]
            assert f"{camp['id']}-step-up" in rules
            api(f"/v1/campaigns/{camp['id']}/dismiss", b'{"actor": "ops"}')
            rules = [str(r["id"]) for r in api("/v1/rules")["rules"]]  # type: ignore[union-attr]
            assert not any(r.startswith(str(camp["id"])) for r in rules)
            audit = api("/v1/audit")["audit"]
            assert any(e["action"] == "campaign.decide" for e in audit)  # type: ignore[index, union-attr]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            proc.kill()
            proc.wait()
