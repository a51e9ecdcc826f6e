"""Facts built from a request head: path, route, query shape, the believed client, TLS."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any, cast

import pytest
import trustme

from seawall.config.load import validate
from seawall.core.facts import NO_TLS, ClientClass, RequestFacts
from seawall.core.keys import header_fingerprint
from seawall.core.net import prefix_of
from seawall.edge.context import EdgeContext
from seawall.edge.exchange import Exchange
from seawall.edge.facts import build_facts, tls_facts
from seawall.edge.request import inspect_head
from seawall.edge.tls import server_context
from seawall.runtime.clock import ManualClock

from corefacts import addr

PEER = "198.51.100.7"
PROXY = "10.0.0.5"


def context(**config: Any) -> EdgeContext:
    data: dict[str, Any] = {
        "routes": [
            {"name": "user", "pattern": "/users/{name}"},
            {"name": "post", "pattern": "/users/{name}/posts/{id}", "target": "/users/{name}"},
            {"name": "static", "pattern": "/static/*"},
        ],
        "network": {"trusted_proxies": ["10.0.0.0/8"]},
        **config,
    }
    return EdgeContext(validate(data), ManualClock())


def facts(
    target: bytes = b"/",
    headers: list[tuple[bytes, bytes]] | None = None,
    peer: str = PEER,
    method: bytes = b"GET",
    ctx: EdgeContext | None = None,
) -> tuple[RequestFacts, Exchange]:
    raw = [(b"Host", b"example.test")] if headers is None else headers
    ex = Exchange(method, target, raw, inspect_head(raw, True, 1 << 20), 0.0, 1.7e9, "r1")
    p = addr(peer)
    f = build_facts(ctx or context(), ex, p, "peer-prefix-as-given", NO_TLS)
    return f, ex


# ---- path, route, query ----------------------------------------------------------------------


def test_origin_form_target() -> None:
    f, _ = facts(b"/users/cyxymu?b=2&a=x&c=")
    assert (f.path, f.query) == ("/users/cyxymu", "b=2&a=x&c=")
    assert (f.route, f.target) == ("user", "/users/cyxymu")
    assert f.query_shape == "a=s&b=n&c=e"
    assert f.method == "GET"


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        (b"http://example.test/users/bob?x=1", "/users/bob", "x=1"),
        (b"https://example.test:8443/static/a.css", "/static/a.css", ""),
        (b"http://example.test/", "/", ""),
        (b"http://example.test", "/", ""),
        (b"http://example.test?x=1", "/", "x=1"),
    ],
)
def test_absolute_form_target_is_reduced_to_its_path(target: bytes, path: str, query: str) -> None:
    f, _ = facts(target)
    assert (f.path, f.query) == (path, query)


def test_absolute_form_target_host_wins_over_the_host_header() -> None:
    f, _ = facts(b"http://admin.example.test/x", [(b"Host", b"public.example.test")])
    assert f.host == "admin.example.test"


@pytest.mark.parametrize(
    ("target", "path", "route"),
    [
        (b"/%75sers/bob", "/users/bob", "user"),
        (b"//users//bob", "/users/bob", "user"),
        (b"/static/../users/./bob", "/users/bob", "user"),
        (b"/users/bob/posts/%31%32", "/users/bob/posts/12", "post"),
        (b"/../../etc/passwd", "/etc/passwd", "other"),
    ],
)
def test_encoded_and_dotted_paths_are_normalised_before_routing(
    target: bytes, path: str, route: str
) -> None:
    f, ex = facts(target)
    assert (f.path, f.route) == (path, route)
    assert ex.target == target  # the origin still gets what was sent


def test_route_target_template_and_unmatched_paths() -> None:
    f, _ = facts(b"/users/bob/posts/7")
    assert (f.route, f.target) == ("post", "/users/bob")
    f, _ = facts(b"/static/css/site.css")
    assert f.route == "static"
    f, _ = facts(b"/elsewhere?q=1")
    assert (f.route, f.target) == ("other", "/elsewhere")


# ---- headers ---------------------------------------------------------------------------------


def test_host_user_agent_cookie_auth_and_fingerprint() -> None:
    raw = [
        (b"Host", b"Example.TEST:8080"),
        (b"User-Agent", b"curl/8"),
        (b"Cookie", b"a=1"),
        (b"Authorization", b"Basic eDp5"),
    ]
    f, _ = facts(b"/", raw, method=b"POST")
    assert f.host == "example.test"
    assert f.user_agent == "curl/8"
    assert f.has_cookie and f.has_auth
    assert f.header_fp == header_fingerprint([n for n, _ in raw])
    assert f.method == "POST"
    assert (f.klass, f.principal) == (ClientClass.ANONYMOUS, "")
    reordered, _ = facts(b"/", [raw[1], raw[0], raw[2], raw[3]])
    assert reordered.header_fp != f.header_fp


@pytest.mark.parametrize(
    ("host", "expected"),
    [(b"[::1]:8080", "[::1]"), (b"[::1]", "[::1]"), (b"h", "h"), (b"H:80", "h")],
)
def test_host_port_is_stripped(host: bytes, expected: str) -> None:
    f, _ = facts(b"/", [(b"Host", host)])
    assert f.host == expected


def test_no_header_facts_for_a_bare_request() -> None:
    f, _ = facts(b"/", [(b"Host", b"h")])
    assert f.user_agent == ""
    assert not f.has_cookie and not f.has_auth


# ---- the believed client ---------------------------------------------------------------------


def test_untrusted_peer_is_the_client_and_its_xff_is_dropped() -> None:
    f, ex = facts(b"/", [(b"Host", b"h"), (b"X-Forwarded-For", b"6.6.6.6")])
    assert f.client.text == f.peer.text == PEER
    assert f.prefix == "peer-prefix-as-given"  # the connection's prefix is reused
    assert ex.forwarded_for == PEER


def test_trusted_proxy_xff_names_the_client() -> None:
    f, ex = facts(
        b"/", [(b"Host", b"h"), (b"X-Forwarded-For", b"6.6.6.6, 203.0.113.9")], peer=PROXY
    )
    assert f.client.text == "203.0.113.9"
    assert f.peer.text == PROXY
    assert f.prefix == "203.0.113.0/24" == prefix_of(f.client)
    assert ex.forwarded_for == "203.0.113.9, 10.0.0.5"


def test_forwarded_header_is_used_when_there_is_no_xff() -> None:
    raw = [(b"Host", b"h"), (b"Forwarded", b'for="[2001:db8:cafe::17]:4711";proto=https')]
    f, ex = facts(b"/", raw, peer=PROXY)
    assert f.client.text == "2001:db8:cafe::17"
    assert f.prefix == "2001:db8:cafe::/48"
    assert ex.forwarded_for.endswith(", 10.0.0.5")


def test_xff_wins_over_forwarded() -> None:
    raw = [
        (b"Host", b"h"),
        (b"Forwarded", b"for=192.0.2.1"),
        (b"X-Forwarded-For", b"203.0.113.9"),
    ]
    f, _ = facts(b"/", raw, peer=PROXY)
    assert f.client.text == "203.0.113.9"


def test_forwarded_from_an_untrusted_peer_is_ignored() -> None:
    f, _ = facts(b"/", [(b"Host", b"h"), (b"Forwarded", b"for=203.0.113.9")])
    assert f.client.text == PEER


# ---- TLS -------------------------------------------------------------------------------------


class FakeTransport:
    def __init__(self, **extra: object) -> None:
        self.extra = extra

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.extra.get(name, default)


def test_tls_facts_without_an_ssl_object() -> None:
    assert tls_facts(cast(asyncio.Transport, FakeTransport())) is NO_TLS


def test_tls_facts_from_a_real_handshake(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("api.example.test")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "c.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "k.pem"))
    files = {"cert": str(tmp_path / "c.pem"), "key": str(tmp_path / "k.pem")}
    listener = validate({"listeners": [{"certificates": [files]}]}).listeners[0]
    server_ctx = server_context(listener, 0)
    assert server_ctx is not None
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    client_ctx.set_alpn_protocols(["http/1.1"])

    bios = [ssl.MemoryBIO() for _ in range(4)]
    server = server_ctx.wrap_bio(bios[0], bios[1], server_side=True)
    client = client_ctx.wrap_bio(bios[2], bios[3], server_hostname="API.example.test")
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, obj in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        bios[0].write(bios[3].read())
        bios[2].write(bios[1].read())
    assert all(done.values())

    t = tls_facts(cast(asyncio.Transport, FakeTransport(ssl_object=server)))
    assert t.version == server.version() and t.version.startswith("TLSv1.")
    assert t.sni == "api.example.test"  # lowercased by the SNI callback
    assert t.alpn == "http/1.1"
    cipher = server.cipher()
    assert cipher is not None and t.cipher == cipher[0]
