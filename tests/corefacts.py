"""A facts factory for core tests: a plain anonymous GET, with any field overridden.

`client` and `peer` may be given as text; `prefix` follows the client unless given.
"""

from __future__ import annotations

from typing import Any

from seawall.core.facts import ClientClass, RequestFacts
from seawall.core.net import Address, parse_address, prefix_of


def addr(text: str) -> Address:
    a = parse_address(text)
    assert a is not None, f"not an address: {text!r}"
    return a


def make_facts(**overrides: Any) -> RequestFacts:
    client = overrides.pop("client", "192.0.2.10")
    client = addr(client) if isinstance(client, str) else client
    peer = overrides.pop("peer", client)
    peer = addr(peer) if isinstance(peer, str) else peer
    fields: dict[str, Any] = {
        "client": client,
        "peer": peer,
        "prefix": prefix_of(client),
        "method": "GET",
        "host": "example.org",
        "path": "/",
        "query": "",
        "route": "other",
        "target": "/",
        "query_shape": "",
        "header_fp": "0123456789ab",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "has_cookie": False,
        "has_auth": False,
        "klass": ClientClass.ANONYMOUS,
        "principal": "",
    }
    fields.update(overrides)
    return RequestFacts(**fields)
