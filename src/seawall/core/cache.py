"""The micro-cache's pure core: RFC 9111 shared-cache rules and a bytes-bounded LRU.

The edge shell owns the clock and the origin: it passes `now` in, asks the origin on a
miss (one request per key, via `core.flight`), and serves stale copies only in the windows
`ResponseCache.lookup` names. Only anonymous GET/HEAD responses are ever kept.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_tz
from enum import StrEnum

Headers = Sequence[tuple[str, str]]
_CC = dict[str, str | None]  # Cache-Control directive -> argument
_Fields = dict[str, list[str]]  # lower-case name -> values in order

# RFC 9110 §15.1 heuristically cacheable statuses, minus the ones a micro-cache has no use for.
_STATUSES = frozenset({200, 203, 204, 300, 301, 404, 410})
# A shared cache must not store `private` or `no-store`; `no-cache` would need a revalidation
# per request, which a micro-cache does not do. Their field-name forms are refused as well.
_REFUSE = frozenset({"private", "no-store", "no-cache"})
_DELTAS = ("s-maxage", "max-age", "stale-while-revalidate", "stale-if-error")
_DELTA_MAX = 2**31  # RFC 9111 §1.2.2: larger delta-seconds are taken as 2^31
_MAX_VARY = 16  # more Vary names than this is a response we decline to fan out
_CASELESS = frozenset({"accept", "accept-charset", "accept-encoding", "accept-language"})
_ENTRY_OVERHEAD = 64  # so that empty 204s are not free


class _Malformed(ValueError):
    pass  # a directive or date we cannot read: the response is not stored


@dataclass(frozen=True, slots=True)
class CacheSettings:
    max_bytes: int = 64 * 1024 * 1024
    max_entries: int = 100_000
    max_object_bytes: int = 1024 * 1024
    default_ttl_s: float = 2.0  # `public` with no max-age, s-maxage or Expires
    max_ttl_s: float = 60.0  # a micro-cache: never fresh for longer than this
    stale_while_revalidate_s: float = 5.0  # when the origin gives none
    stale_if_error_s: float = 60.0  # when the origin gives none

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_entries, self.max_object_bytes) < 1:
            raise ValueError("cache size limits must be positive")


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long a stored response may be used, counted from the moment it is stored."""

    ttl_s: float
    swr_s: float
    sie_s: float
    vary: tuple[str, ...]  # lower-case header names, sorted
    age_s: int = 0  # the Age it arrived with (the origin may itself be a cache)


def _fields(headers: Headers) -> _Fields:
    out: _Fields = {}
    for name, value in headers:
        out.setdefault(name.lower(), []).append(value)
    return out


# A comma-separated list whose quoted strings may hold commas; members as findall sees them.
_LIST = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*"|,)*')
_MEMBER = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')


def _directives(values: list[str]) -> _CC:
    """Cache-Control directives, names lower-cased, quoted arguments unquoted (RFC 9111 §5.2)."""
    text, out = ",".join(values), _CC()
    if not _LIST.fullmatch(text):
        raise _Malformed("unterminated quoted string")
    for member in (m.strip() for m in _MEMBER.findall(text) if m.strip()):
        name, eq, arg = member.partition("=")
        name = name.strip().lower()
        value: str | None = arg.strip() if eq else None
        if value is not None and len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])  # quoted-pair
        if name in out and out[name] != value:
            # RFC 9111 §4.2.1: conflicting duplicates may be treated as stale; we do not store.
            raise _Malformed(f"conflicting {name}")
        out[name] = value
    return out


def _delta(value: str | None) -> int:
    """delta-seconds: 1*DIGIT. Anything else (missing, signed, fractional) is malformed."""
    if value is None or not value or not (value.isascii() and value.isdigit()):
        raise _Malformed(f"bad delta-seconds {value!r}")
    return _DELTA_MAX if len(value) > 10 else min(int(value), _DELTA_MAX)


def _http_date(values: list[str] | None) -> float:
    """An HTTP-date (any of the three RFC 9110 §5.6.7 forms) as a POSIX timestamp."""
    if values is None or len(values) != 1 or len(values[0]) > 64:
        raise _Malformed("missing or repeated date")
    parsed = parsedate_tz(values[0])
    if parsed is None or parsed[9] not in (0, None):  # HTTP-dates are always GMT
        raise _Malformed(f"bad date {values[0]!r}")
    try:  # parsedate_tz accepts 31 February and hour 25; datetime does not
        return datetime(*parsed[:6], tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise _Malformed(f"bad date {values[0]!r}") from exc


def _vary_names(values: list[str]) -> tuple[str, ...] | None:
    names = sorted({n.strip().lower() for v in values for n in v.split(",") if n.strip()})
    # `*` never matches a later request; a response varying on Authorization is per-user.
    if "*" in names or "authorization" in names or len(names) > _MAX_VARY:
        return None
    return tuple(names)


def _lifetime(cc: _CC, deltas: dict[str, int], fields: _Fields, s: CacheSettings) -> float | None:
    """Freshness lifetime as the origin states it (RFC 9111 §4.2.1), or None when it does not."""
    if "s-maxage" in deltas:  # a shared cache prefers s-maxage over max-age and Expires
        return float(deltas["s-maxage"])
    if "max-age" in deltas:
        return float(deltas["max-age"])
    if "expires" in fields:
        # RFC 9111 §5.3 reads an unreadable Expires as "already expired": not worth storing.
        # Without a Date there is no origin clock to measure it by (the core has no clock).
        return max(0.0, _http_date(fields["expires"]) - _http_date(fields.get("date")))
    if "public" in cc:
        return s.default_ttl_s
    return None  # no heuristic freshness: a micro-cache keeps only what the origin allows


def _age(values: list[str] | None) -> int:
    """The Age a response arrived with; RFC 9111 §5.1: first member, ignored if invalid."""
    first = values[0].split(",")[0].strip() if values else ""
    return int(first) if first.isascii() and first.isdigit() and len(first) <= 10 else 0


def _stale_windows(
    cc: _CC, deltas: dict[str, int], s: CacheSettings, ttl: float
) -> tuple[float, float]:
    """(swr, sie): the origin's RFC 5861 values, else the edge's defaults where allowed.

    must-revalidate / proxy-revalidate forbid any stale use (RFC 9111 §5.2.2.2, most
    restrictive wins). s-maxage implies proxy-revalidate for a shared cache (§5.2.2.10), so
    the edge adds no defaults of its own; stale-* directives sent beside it are the origin's
    explicit permission (§4.2.4), the common `s-maxage=1, stale-while-revalidate=59` idiom.
    Nor for a response stale on arrival (max-age=0): that would make "ask me every time" a cache.
    """
    if "must-revalidate" in cc or "proxy-revalidate" in cc:
        return 0.0, 0.0
    own = "s-maxage" not in deltas and ttl > 0
    swr = deltas.get("stale-while-revalidate", s.stale_while_revalidate_s if own else 0.0)
    sie = deltas.get("stale-if-error", s.stale_if_error_s if own else 0.0)
    return float(swr), float(sie)


def request_cacheable(method: str, headers: Headers) -> bool:
    """Whether a request may be answered from, and fill, the shared micro-cache.

    Request no-cache / max-age=0 are deliberately ignored: honouring them would let any
    client bust the cache and reach an overloaded origin at will (as nginx and CDNs do).
    """
    if method not in ("GET", "HEAD"):
        return False
    fields = _fields(headers)
    if fields.keys() & {"authorization", "proxy-authorization", "cookie", "range"}:
        return False  # anonymous, whole-body requests only
    try:
        return "no-store" not in _directives(fields.get("cache-control", []))
    except _Malformed:
        return False


def response_freshness(status: int, headers: Headers, s: CacheSettings) -> Freshness | None:
    """How long an origin response may be reused by a shared cache; None: do not store it.

    Malformed freshness information (max-age=abc, conflicting duplicates, a bad Expires or
    Date) makes the response uncacheable: RFC 9111 §4.2.1 encourages treating it as stale,
    and a response stale on arrival is of no use to a micro-cache.
    """
    if status not in _STATUSES:
        return None
    fields = _fields(headers)
    vary = _vary_names(fields.get("vary", []))
    if "set-cookie" in fields or vary is None:
        return None
    try:
        cc = _directives(fields.get("cache-control", []))
        if cc.keys() & _REFUSE:
            return None
        deltas = {name: _delta(cc[name]) for name in _DELTAS if name in cc}
        lifetime = _lifetime(cc, deltas, fields, s)
    except _Malformed:
        return None
    if lifetime is None:
        return None
    age = _age(fields.get("age"))
    ttl = max(0.0, min(lifetime - age, s.max_ttl_s))
    swr, sie = _stale_windows(cc, deltas, s, ttl)
    if ttl == swr == sie == 0:
        return None  # never usable
    return Freshness(ttl_s=ttl, swr_s=swr, sie_s=sie, vary=vary, age_s=age)


def primary_key(host: str, target: str) -> str:
    """GET and HEAD share entries; the target stays exactly as the origin receives it."""
    return f"{host.lower()} {target}"


def vary_key(vary: tuple[str, ...], headers: Headers) -> tuple[str, ...]:
    """One `name=value` per Vary name (bare `name` when absent), values normalised.

    Normalising (RFC 9111 §4.1) strips whitespace around list commas and drops empty members,
    and lower-cases the headers whose values are case-insensitive, so `gzip, br` and
    `gzip,br` share a variant.
    """
    out = []
    for name in vary:
        values = [v for n, v in headers if n.lower() == name]
        if not values:
            out.append(name)
            continue
        value = ",".join(p.strip() for v in values for p in v.split(",") if p.strip())
        out.append(f"{name}={value.lower() if name in _CASELESS else value}")
    return tuple(out)


class Lookup(StrEnum):
    FRESH = "fresh"  # serve it
    STALE_REVALIDATE = "stale_revalidate"  # serve it, and refresh it in the background
    STALE_IF_ERROR = "stale_if_error"  # ask the origin; serve it only if the origin fails
    MISS = "miss"  # ask the origin


@dataclass(frozen=True, slots=True)
class Entry:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    stored_at: float
    freshness: Freshness

    @property
    def size(self) -> int:
        """Approximate bytes held: body, header text and a fixed per-entry overhead."""
        return len(self.body) + sum(len(n) + len(v) + 4 for n, v in self.headers) + _ENTRY_OVERHEAD


_Variant = tuple[str, tuple[str, ...]]


def _usable_s(f: Freshness) -> float:
    return f.ttl_s + max(f.swr_s, f.sie_s)  # held this long, an entry is of no further use


class ResponseCache:
    """Responses by (primary key, Vary variant); an LRU bounded by bytes (keys too) and count.

    A primary key's Vary names are those of its last stored response. Store only responses to
    GET: a HEAD response has no body (nginx fetches a HEAD miss as GET).
    """

    __slots__ = ("_bytes", "_counts", "_entries", "_key_vary", "_variants", "settings")

    def __init__(self, settings: CacheSettings) -> None:
        self.settings = settings
        self._entries: OrderedDict[_Variant, tuple[Entry, int]] = OrderedDict()  # entry, cost
        self._key_vary: dict[str, tuple[str, ...]] = {}
        self._variants: dict[str, int] = {}  # stored variants per primary key, to forget Vary
        self._bytes = 0
        names = ("hits", "misses", "stale_served", "stale_if_error", "stores", "evictions")
        self._counts = dict.fromkeys((*names, "expired", "too_big"), 0)

    def lookup(self, key: str, request_headers: Headers, now: float) -> tuple[Lookup, Entry | None]:
        """What the cache holds for this request at `now`; a lookup refreshes LRU recency."""
        variant = (key, vary_key(self._key_vary.get(key, ()), request_headers))
        held = self._entries.get(variant)
        held_for = max(0.0, now - held[0].stored_at) if held is not None else 0.0
        if held is not None and held_for >= _usable_s(held[0].freshness):
            self._drop(variant)
            self._counts["expired"] += 1
            held = None
        if held is None:
            self._counts["misses"] += 1
            return Lookup.MISS, None
        entry, f = held[0], held[0].freshness
        self._entries.move_to_end(variant)
        if held_for < f.ttl_s:
            state, counter = Lookup.FRESH, "hits"
        elif held_for < f.ttl_s + f.swr_s:
            state, counter = Lookup.STALE_REVALIDATE, "stale_served"
        else:
            state, counter = Lookup.STALE_IF_ERROR, "stale_if_error"
        self._counts[counter] += 1
        return state, entry

    def note_stale_served(self) -> None:
        """The shell served a STALE_IF_ERROR entry because the origin failed.

        The `stale_if_error` stat counts lookups that found only such a fallback; whether it
        is served depends on the origin, which only the shell sees.
        """
        self._counts["stale_served"] += 1

    def store(self, key: str, request_headers: Headers, entry: Entry, now: float) -> bool:
        """Keep a response; False when it is too big or already unusable at `now`."""
        f, s = entry.freshness, self.settings
        variant = (key, vary_key(f.vary, request_headers))
        cost = entry.size + len(key) + sum(len(p) for p in variant[1])
        if entry.size > s.max_object_bytes or cost > s.max_bytes:
            self._counts["too_big"] += 1
            return False
        if max(0.0, now - entry.stored_at) >= _usable_s(f):
            return False
        if variant in self._entries:
            self._drop(variant)
        self._key_vary[key] = f.vary
        self._variants[key] = self._variants.get(key, 0) + 1
        self._entries[variant] = (entry, cost)
        self._bytes += cost
        self._counts["stores"] += 1
        while self._bytes > s.max_bytes or len(self._entries) > s.max_entries:
            self._drop(next(iter(self._entries)))
            self._counts["evictions"] += 1
        return True

    def age(self, entry: Entry, now: float) -> int:
        """The Age header, whole seconds (RFC 9111 §4.2.3): the Age it came with + time held."""
        return entry.freshness.age_s + int(max(0.0, now - entry.stored_at))

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._entries), "bytes": self._bytes} | self._counts

    def _drop(self, variant: _Variant) -> None:
        _, cost = self._entries.pop(variant)
        self._bytes -= cost
        key = variant[0]
        left = self._variants[key] - 1
        if left:
            self._variants[key] = left
        else:  # the last variant went: forget the key's Vary names too, so they stay bounded
            del self._variants[key], self._key_vary[key]
