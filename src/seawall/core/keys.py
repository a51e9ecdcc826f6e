"""Cheap derived keys: query shape and header-order fingerprint."""

from __future__ import annotations

import hashlib

_MAX_SHAPE = 128


def query_shape(query: str) -> str:
    """Sorted parameter names with a value kind (n numeric, s string, e empty).

    Two requests with the same shape differ only in values; a flood of random shapes
    on one route is how cache-busting looks.
    """
    if not query:
        return ""
    parts = []
    for item in query.split("&"):
        if not item:
            continue
        name, eq, value = item.partition("=")
        kind = "e" if not value else ("n" if value.isdigit() else "s")
        parts.append(f"{name[:32]}={kind}" if eq else name[:32])
    parts.sort()
    return "&".join(parts)[:_MAX_SHAPE]


_FP_CACHE: dict[bytes, str] = {}
_FP_CACHE_MAX = 4096


def header_fingerprint(names: list[bytes]) -> str:
    """A short hash of the header names in the order the client sent them.

    Browsers send a stable, characteristic order; a bot's library sends another. Few
    distinct orders exist at once, so the hashes are memoised (bounded: cleared when full).
    """
    key = b",".join(names)
    fp = _FP_CACHE.get(key)
    if fp is None:
        if len(_FP_CACHE) >= _FP_CACHE_MAX:
            _FP_CACHE.clear()
        fp = _FP_CACHE[key] = hashlib.blake2b(key.lower(), digest_size=6).hexdigest()
    return fp


def normalize_path(path: str) -> str:
    """The path rules match against: percent-decoded, dot segments resolved, slashes collapsed.

    The origin still receives the request target exactly as sent; this only stops
    `/%61dmin`, `//admin` or `/x/../admin` from slipping past a rule on `/admin`.
    """
    if "%" not in path and "/." not in path and "//" not in path:
        return path
    from urllib.parse import unquote  # noqa: PLC0415  (rare path; keep the common one import-free)

    raw = unquote(path, errors="replace")
    out: list[str] = []
    for seg in raw.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    tail = "/" if raw.endswith("/") and out else ""
    return "/" + "/".join(out) + tail
