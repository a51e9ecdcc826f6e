"""Facts from log lines: what the edge would have known about each request, as far as a log says.

A log has no header order and no verified identity, so `header_fp` is empty and every
client is anonymous unless the log names its class (seawall's own log does). Everything
derived from a repeated value (an address's prefix, a path's route, a query's shape) is
computed once per distinct value, in bounded caches, because access logs repeat a lot.
"""

from __future__ import annotations

from dataclasses import dataclass

from seawall.core.facts import ClientClass, RequestFacts
from seawall.core.keys import normalize_path, query_shape
from seawall.core.net import Address, parse_address, prefix_of
from seawall.core.routes import Router
from seawall.core.verdict import Action, Verdict
from seawall.detect.records import AUTO_PREFIX

CACHE_KEYS = 200_000  # per cache; a cache that fills is cleared (cheaper than LRU here)
_CLASSES = {c.label: c for c in ClientClass}
_ACTIONS = {a.label: a for a in Action}


@dataclass(frozen=True, slots=True)
class Where:
    """A request target split and classified: path, query, route, target, query shape."""

    path: str
    query: str
    route: str
    target: str
    shape: str


class FactsMaker:
    """Builds `RequestFacts` for log rows; bad addresses are counted, never raised."""

    def __init__(self, router: Router | None = None) -> None:
        self.router = router or Router()
        # read directly by replay's per-line loop; a miss goes through client() / where()
        self.clients: dict[str, tuple[Address, str] | None] = {}
        self.wheres: dict[str, Where] = {}  # targets without a query
        self._paths: dict[str, Where] = {}
        self._shapes: dict[str, str] = {}
        self.bad_addresses = 0

    def client(self, text: str) -> tuple[Address, str] | None:
        """The address and its prefix, or None when the log's client field is no address."""
        found = self.clients.get(text, False)
        if found is not False:
            return found  # type: ignore[return-value]
        if len(self.clients) >= CACHE_KEYS:
            self.clients.clear()
        addr = parse_address(text)
        made = None if addr is None else (addr, prefix_of(addr))
        self.clients[text] = made
        return made

    def where(self, uri: str) -> Where:
        """The target split and classified. Only targets without a query are cached
        whole: with cache-busting, nearly every query is new, so its path and its shape
        are cached apart and the query is not kept at all."""
        raw_path, sep, query = uri.partition("?")
        base = self._paths.get(raw_path)
        if base is None:
            base = self._path(raw_path)
        if not sep:
            if len(self.wheres) >= CACHE_KEYS:
                self.wheres.clear()
            found = self.wheres[uri] = base
            return found
        shape = self._shapes.get(query)
        if shape is None:
            if len(self._shapes) >= CACHE_KEYS:
                self._shapes.clear()
            shape = self._shapes[query] = query_shape(query)
        return Where(base.path, query, base.route, base.target, shape)

    def _path(self, raw_path: str) -> Where:
        text = raw_path
        if not text.startswith("/"):  # absolute-form or junk: keep the path part
            text = "/" + text.split("://", 1)[-1].partition("/")[2]
        path = normalize_path(text)
        route, target = self.router.match(path)
        if len(self._paths) >= CACHE_KEYS:
            self._paths.clear()
        found = self._paths[raw_path] = Where(path, "", route, target, "")
        return found

    def facts(
        self, client: str, method: str, host: str, uri: str, ua: str, klass: str = ""
    ) -> RequestFacts | None:
        found = self.client(client)
        if found is None:
            self.bad_addresses += 1
            return None
        return self.make(found, self.where(uri), method, host, ua, klass_of(klass))

    @staticmethod
    def make(
        client: tuple[Address, str], w: Where, method: str, host: str, ua: str, klass: ClientClass
    ) -> RequestFacts:
        addr, prefix = client
        return RequestFacts(
            addr,
            addr,
            prefix,
            method,
            host,
            w.path,
            w.query,
            w.route,
            w.target,
            w.shape,
            "",
            ua,
            False,
            False,
            klass,
            "",
        )


def klass_of(label: str) -> ClientClass:
    """The class a log names (seawall's own log does); anything else is anonymous."""
    return _CLASSES.get(label, ClientClass.ANONYMOUS)


def recorded_verdict(verdict: str, reason: str, rule: str) -> Verdict | None:
    """A verdict a log recorded that replay keeps: the operator's own rules' decisions.

    Decisions of automatic rules are not kept; replay's own engine makes them again.
    """
    action = _ACTIONS.get(verdict)
    if action is None or action is Action.ALLOW or rule.startswith(AUTO_PREFIX):
        return None
    return Verdict(action, reason, rule)
