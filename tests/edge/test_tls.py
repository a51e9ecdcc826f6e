"""TLS contexts per listener: errors that name the certificate, SNI choosing among certificates.

Handshakes run in memory (two SSLObjects over MemoryBIO pairs): no sockets, no threads.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from seawall.config.load import validate
from seawall.config.schema import Listener
from seawall.core.errors import ConfigError
from seawall.edge.tls import server_context


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def certs(ca: trustme.CA, tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (cert file, key file) for four certificates with distinct names."""
    out = {}
    for name, hosts in (
        ("default", ["localhost"]),
        ("blog", ["blog.test"]),
        ("shop", ["shop.test"]),
        ("wild", ["*.example.test"]),
    ):
        issued = ca.issue_cert(*hosts)
        cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        out[name] = (str(cert), str(key))
    return out


def listener(*certificates: dict[str, Any]) -> Listener:
    return validate({"listeners": [{"certificates": list(certificates)}]}).listeners[0]


def cert(files: tuple[str, str], *names: str) -> dict[str, Any]:
    return {"cert": files[0], "key": files[1], "server_names": list(names)}


def handshake(
    server_ctx: ssl.SSLContext, ca: trustme.CA, server_name: str | None
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    client_ctx.check_hostname = False  # which certificate came back is what is checked
    client_ctx.set_alpn_protocols(["h2", "http/1.1"])
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_name)
    done = {id(client): False, id(server): False}
    for _ in range(10):
        for obj in (client, server):
            if not done[id(obj)]:
                try:
                    obj.do_handshake()
                    done[id(obj)] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values()), "handshake did not complete"
    return client, server


def served_names(client: ssl.SSLObject) -> list[str]:
    peer = client.getpeercert()
    assert peer
    return [str(v) for _, v in peer["subjectAltName"]]


# ---- errors ----------------------------------------------------------------------------------


def test_no_certificates_is_plain_http() -> None:
    assert server_context(validate({}).listeners[0], 0) is None


def test_a_missing_certificate_file_is_named(certs: dict[str, tuple[str, str]]) -> None:
    lst = listener(cert(certs["default"]), cert(("/nonexistent/c.pem", certs["blog"][1]), "b"))
    with pytest.raises(ConfigError) as info:
        server_context(lst, 0)
    assert info.value.key == "listeners[0].certificates[1]"


@pytest.mark.parametrize("missing", ["cert", "key"])
def test_the_error_names_the_missing_file(certs: dict[str, tuple[str, str]], missing: str) -> None:
    files = (
        ("/nonexistent/c.pem", certs["blog"][1])
        if missing == "cert"
        else (certs["blog"][0], "/nonexistent/k.pem")
    )
    with pytest.raises(ConfigError) as info:
        server_context(listener(cert(files)), 0)
    assert "/nonexistent/" in info.value.reason, info.value.reason


def test_a_missing_key_file_is_named(certs: dict[str, tuple[str, str]]) -> None:
    lst = listener(cert(certs["default"]), cert((certs["blog"][0], "/nonexistent/k.pem"), "b"))
    with pytest.raises(ConfigError) as info:
        server_context(lst, 3)
    assert info.value.key == "listeners[3].certificates[1]"


def test_a_key_that_does_not_match_is_named(certs: dict[str, tuple[str, str]]) -> None:
    mismatched = (certs["blog"][0], certs["shop"][1])
    lst = listener(cert(certs["default"]), cert(mismatched, "blog.test"))
    with pytest.raises(ConfigError) as info:
        server_context(lst, 0)
    assert info.value.key == "listeners[0].certificates[1]"
    assert certs["blog"][0] in info.value.reason and certs["shop"][1] in info.value.reason


def test_a_file_that_is_not_pem_is_named(certs: dict[str, tuple[str, str]], tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as info:
        server_context(listener(cert((str(junk), certs["default"][1]))), 0)
    assert info.value.key == "listeners[0].certificates[0]"


# ---- the context -----------------------------------------------------------------------------


def test_context_is_a_tls12_plus_server_offering_http11(
    certs: dict[str, tuple[str, str]], ca: trustme.CA
) -> None:
    ctx = server_context(listener(cert(certs["default"])), 0)
    assert ctx is not None
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    client, server = handshake(ctx, ca, "localhost")
    assert client.selected_alpn_protocol() == "http/1.1"  # h2 is offered, http/1.1 chosen
    assert served_names(client) == ["localhost"]


@pytest.fixture
def sni_ctx(certs: dict[str, tuple[str, str]]) -> ssl.SSLContext:
    ctx = server_context(
        listener(
            cert(certs["blog"], "blog.test"),
            cert(certs["default"]),  # the first without names is the default
            cert(certs["shop"], "shop.test", "www.shop.test"),
            cert(certs["wild"], "*.example.test"),
        ),
        0,
    )
    assert ctx is not None
    return ctx


@pytest.mark.parametrize(
    ("server_name", "served"),
    [
        ("blog.test", "blog.test"),
        ("BLOG.test", "blog.test"),
        ("shop.test", "shop.test"),
        ("www.shop.test", "shop.test"),
        ("a.example.test", "*.example.test"),
        ("api.example.test", "*.example.test"),
        ("example.test", "localhost"),  # the wildcard does not cover its own parent
        ("a.b.example.test", "localhost"),  # nor two labels
        ("unknown.test", "localhost"),
        (None, "localhost"),  # no SNI at all
    ],
)
def test_sni_picks_the_certificate(
    sni_ctx: ssl.SSLContext, ca: trustme.CA, server_name: str | None, served: str
) -> None:
    client, server = handshake(sni_ctx, ca, server_name)
    assert served_names(client) == [served]
    assert server.sni == (server_name or "").lower()  # type: ignore[attr-defined]
    assert client.selected_alpn_protocol() == "http/1.1"


def test_without_an_unnamed_certificate_the_first_is_the_default(
    certs: dict[str, tuple[str, str]], ca: trustme.CA
) -> None:
    ctx = server_context(
        listener(cert(certs["shop"], "shop.test"), cert(certs["blog"], "blog.test")), 0
    )
    assert ctx is not None
    client, _ = handshake(ctx, ca, "unknown.test")
    assert served_names(client) == ["shop.test"]
    client, _ = handshake(ctx, ca, "blog.test")
    assert served_names(client) == ["blog.test"]
