"""TLS termination: one context per listener, SNI picks the certificate, ALPN offers http/1.1."""

from __future__ import annotations

import os
import ssl

from seawall.config.schema import Listener
from seawall.core.errors import ConfigError


def _context(cert: str, key: str, where: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.options |= ssl.OP_NO_COMPRESSION
    for path in (cert, key):
        if not os.access(path, os.R_OK):
            raise ConfigError(where, f"cannot read {path}")
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(where, f"certificate {cert} / key {key} unusable: {exc}") from None
    return ctx


def server_context(listener: Listener, index: int) -> ssl.SSLContext | None:
    """The listener's TLS context, or None for plain HTTP."""
    if not listener.certificates:
        return None
    by_name: dict[str, ssl.SSLContext] = {}
    default: ssl.SSLContext | None = None
    for i, c in enumerate(listener.certificates):
        ctx = _context(c.cert, c.key, f"listeners[{index}].certificates[{i}]")
        for name in c.server_names:
            by_name[name.lower()] = ctx
        if default is None and not c.server_names:
            default = ctx
    if default is None:
        default = _context(
            listener.certificates[0].cert,
            listener.certificates[0].key,
            f"listeners[{index}].certificates[0]",
        )

    def pick(sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        name = (server_name or "").lower()
        sslobj.sni = name  # type: ignore[attr-defined]  # read back into the request's facts
        chosen = by_name.get(name)
        if chosen is None and "." in name:
            chosen = by_name.get("*." + name.split(".", 1)[1])
        if chosen is not None:
            sslobj.context = chosen

    default.sni_callback = pick
    for ctx in set(by_name.values()):
        ctx.sni_callback = pick
    return default
