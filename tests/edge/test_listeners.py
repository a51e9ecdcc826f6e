"""Listener features over real sockets: TLS with SNI and ALPN, PROXY protocol, the access log."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import time
from pathlib import Path

import trustme

from harness import Edge, read_response


def _tls_config(tmp: Path) -> tuple[trustme.CA, dict[str, object]]:
    ca = trustme.CA()
    files = []
    for name, hosts in (("default", ["localhost"]), ("blog", ["blog.test"])):
        cert = ca.issue_cert(*hosts)
        cert_path, key_path = tmp / f"{name}.pem", tmp / f"{name}.key"
        cert.private_key_pem.write_to_path(str(key_path))
        cert.cert_chain_pems[0].write_to_path(str(cert_path))
        files.append((cert_path, key_path, hosts))
    certs = [
        {"cert": str(files[0][0]), "key": str(files[0][1])},
        {"cert": str(files[1][0]), "key": str(files[1][1]), "server_names": ["blog.test"]},
    ]
    return ca, {"listeners": [{"address": "127.0.0.1:0", "certificates": certs}]}


def test_tls_terminates_with_sni_and_alpn(tmp_path: Path) -> None:
    ca, cfg = _tls_config(tmp_path)
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    ctx.set_alpn_protocols(["http/1.1"])
    with Edge(config=cfg) as e:
        for server_name in ("localhost", "blog.test"):
            with socket.create_connection(("127.0.0.1", e.port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname=server_name) as s:
                    assert s.selected_alpn_protocol() == "http/1.1"
                    peer_cert = s.getpeercert()
                    assert peer_cert is not None
                    names = [v for k, v in peer_cert["subjectAltName"]]
                    assert server_name in names
                    s.sendall(f"GET /tls HTTP/1.1\r\nHost: {server_name}\r\n\r\n".encode())
                    resp, body = read_response(s)  # type: ignore[arg-type]
                    assert resp.status_code == 200
        seen = e.origin.seen[-1]
        assert seen.header("x-forwarded-proto") == "https"
        record_tls = e.worker.ctx.stats.snapshot()["requests"]
        assert sum(record_tls.values()) == 2


def test_plain_http_on_a_tls_listener_is_refused(tmp_path: Path) -> None:
    _, cfg = _tls_config(tmp_path)
    with Edge(config=cfg) as e, socket.create_connection(("127.0.0.1", e.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        s.settimeout(3)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")
        assert e.origin.seen == []


def _v2_header(src: str, dst: str, sport: int, dport: int) -> bytes:
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    addrs = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return sig + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs


def test_proxy_protocol_v1_and_v2_set_the_client_address() -> None:
    cfg = {"listeners": [{"address": "127.0.0.1:0", "proxy_protocol": True}]}
    with Edge(config=cfg) as e:
        for preface, expected in (
            (b"PROXY TCP4 198.51.100.7 10.0.0.1 5555 443\r\n", "198.51.100.7"),
            (_v2_header("203.0.113.9", "10.0.0.1", 4444, 443), "203.0.113.9"),
        ):
            with socket.create_connection(("127.0.0.1", e.port), timeout=5) as s:
                s.sendall(
                    preface + b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"
                )
                resp, _ = read_response(s)
                assert resp.status_code == 200
            seen = e.origin.seen[-1]
            assert seen.header("x-real-ip") == expected
            assert seen.header("x-forwarded-for") == expected


def test_proxy_protocol_listener_refuses_a_connection_without_the_header() -> None:
    cfg = {"listeners": [{"address": "127.0.0.1:0", "proxy_protocol": True}]}
    with Edge(config=cfg) as e, socket.create_connection(("127.0.0.1", e.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        s.settimeout(3)
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        assert e.origin.seen == []
        assert e.worker.ctx.stats.client_errors["proxy_protocol"] == 1


def test_access_log_json_lines_carry_verdict_class_route_and_request_id(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    rules = [{"id": "no-x", "action": "block", "match": {"paths": ["/x"]}}]
    routes = [{"name": "profile", "pattern": "/users/{name}"}]
    with Edge(config={"log": {"access_log": str(log)}, "rules": rules, "routes": routes}) as e:
        with socket.create_connection(("127.0.0.1", e.port), timeout=5) as s:
            s.sendall(b"GET /users/cyxymu?a=1 HTTP/1.1\r\nHost: h\r\nX-Request-ID: abc-1\r\n\r\n")
            read_response(s)
            s.sendall(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            read_response(s)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(log.read_text().splitlines()) < 2:
            time.sleep(0.05)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["verdict"], r["status"], r["route"], r["target"]) for r in lines] == [
        ("allow", 200, "profile", "/users/cyxymu"),
        ("block", 403, "other", "/x"),
    ]
    assert lines[0]["request_id"] == "abc-1"
    assert lines[0]["class"] == "anonymous" and lines[0]["client"] == "127.0.0.1"
    assert lines[0]["origin_ms"] > 0 and lines[1]["rule"] == "no-x"
