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
    if "&" not in query:  # one parameter, the common case (and a cache-buster's)
        name, eq, value = query.partition("=")
        if not eq:
            return name[:32]
        return f"{name[:32]}={'e' if not value else ('n' if value.isdigit() else 's')}"
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


_BROWSERS = ("Edg/", "OPR/", "CriOS/", "FxiOS/", "Chrome/", "Firefox/")
_UA_CACHE: dict[str, str] = {}
_UA_CACHE_MAX = 4096


def ua_family(ua: str) -> str:
    """A User-Agent reduced to product and major version: "Chrome/131", "curl/8", "-".

    A botnet carries a handful of stale browser versions; the family separates it from
    today's browsers without matching on full strings that vary in minor details.
    """
    fam = _UA_CACHE.get(ua)
    if fam is None:
        if len(_UA_CACHE) >= _UA_CACHE_MAX:
            _UA_CACHE.clear()
        fam = _UA_CACHE[ua] = _family(ua)
    return fam


def _family(ua: str) -> str:
    if not ua.strip():
        return "-"
    for token in _BROWSERS:
        at = ua.find(token)
        if at >= 0:
            return token + _major(ua, at + len(token))
    at = ua.find("Version/")
    if at >= 0 and "Safari/" in ua:
        return "Safari/" + _major(ua, at + len("Version/"))
    product = ua.split(None, 1)[0]
    name, _, version = product.partition("/")
    return f"{name[:32]}/{_major(version, 0)}" if version else name[:32]


def _major(text: str, at: int) -> str:
    end = at
    while end < len(text) and end - at < 8 and text[end].isdigit():
        end += 1
    return text[at:end] or "?"
