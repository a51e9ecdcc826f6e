"""Micro-cache core: what may be stored, for how long, which copy a request gets, and when.

Times are explicit `now` values chosen so every boundary is an exact float.
"""

from __future__ import annotations

import pytest

from seawall.core.cache import (
    CacheSettings,
    Entry,
    Freshness,
    Lookup,
    ResponseCache,
    primary_key,
    request_cacheable,
    response_freshness,
    vary_key,
)

S = CacheSettings()  # default ttl 2 s, max ttl 60 s, swr 5 s, sie 60 s
DATE = ("Date", "Sun, 06 Nov 1994 08:49:37 GMT")


def cc(value: str) -> tuple[tuple[str, str], ...]:
    return (("Cache-Control", value),)


# (status, headers) -> (ttl, swr, sie), or None: not stored
@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (200, cc("max-age=10"), (10, 5, 60)),
        (200, cc("public"), (2, 5, 60)),  # public, no lifetime: the edge's default ttl
        (200, (), None),  # nothing said: no heuristic freshness
        (200, (("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"),), None),
        (200, cc("private, max-age=10"), None),
        (200, cc('private="Set-Cookie", max-age=10'), None),
        (200, cc("no-store, max-age=10"), None),
        (200, cc("no-cache, max-age=10"), None),
        (200, cc('max-age=10, no-cache="X-A, X-B"'), None),  # the comma is inside quotes
        (200, cc("MAX-AGE=10, Public"), (10, 5, 60)),  # names are case-insensitive
        (200, cc('max-age="10"'), (10, 5, 60)),  # quoted-string form is accepted
        (200, (("Cache-Control", "public"), ("Cache-Control", "max-age=7")), (7, 5, 60)),
        # s-maxage wins for a shared cache, and implies proxy-revalidate: no default windows
        (200, cc("public, max-age=10, s-maxage=30"), (30, 0, 0)),
        (200, cc("max-age=30, s-maxage=3, stale-while-revalidate=59"), (3, 59, 0)),
        (200, cc("max-age=600"), (60, 5, 60)),  # clamped to max_ttl_s
        (200, cc("max-age=99999999999999999999999"), (60, 5, 60)),
        (200, cc("max-age=0"), None),  # ask every time: the edge adds no stale windows
        (200, cc("max-age=0, stale-if-error=30"), (0, 0, 30)),  # the origin allows it
        (200, cc("max-age=10, stale-while-revalidate=1, stale-if-error=2"), (10, 1, 2)),
        (200, cc("max-age=10, stale-while-revalidate=0"), (10, 0, 60)),
        (200, cc("max-age=10, must-revalidate, stale-if-error=30"), (10, 0, 0)),
        (200, cc("max-age=10, proxy-revalidate"), (10, 0, 0)),
        (200, cc("max-age=0, must-revalidate, stale-if-error=30"), None),
        (200, cc("max-age=10, max-age=10"), (10, 5, 60)),  # a repeat that agrees is harmless
        # malformed values: RFC 9111 §4.2.1 would treat them as stale; we do not store
        (200, cc("max-age=abc"), None),
        (200, cc("max-age=-1"), None),
        (200, cc("max-age=1.5"), None),
        (200, cc("max-age="), None),
        (200, cc("max-age"), None),
        (200, cc("max-age=\u0661\u0660"), None),  # Arabic-Indic digits are not DIGIT
        (200, cc("max-age=10, max-age=20"), None),  # conflicting duplicates
        (200, cc("public, s-maxage=x, max-age=10"), None),
        (200, cc("public, stale-while-revalidate=soon"), None),
        (200, cc("max-age=10, stale-if-error"), None),
        (200, cc('max-age=10, ext="unterminated'), None),
        (200, (*cc("max-age=10"), ("Set-Cookie", "sid=1")), None),
        (200, (*cc("max-age=10"), ("Vary", "*")), None),
        (200, (*cc("max-age=10"), ("Vary", "Accept-Encoding, *")), None),
        (200, (*cc("max-age=10"), ("Vary", "Authorization")), None),
        # Expires counts only without max-age / s-maxage, and is measured against Date
        (200, (DATE, ("Expires", "Sun, 06 Nov 1994 08:49:47 GMT")), (10, 5, 60)),
        (200, (DATE, ("Expires", "Sunday, 06-Nov-94 08:49:47 GMT")), (10, 5, 60)),
        (200, (DATE, ("Expires", "Sun Nov  6 08:49:47 1994")), (10, 5, 60)),
        (200, (DATE, ("Expires", "Sun, 06 Nov 1994 09:49:37 GMT")), (60, 5, 60)),
        (200, (DATE, ("Expires", "Sun, 06 Nov 1994 08:49:47 GMT"), *cc("public")), (10, 5, 60)),
        (200, (DATE, ("Expires", "Sun, 06 Nov 1994 09:00:00 GMT"), *cc("max-age=5")), (5, 5, 60)),
        (200, (DATE, ("Expires", "Sun, 06 Nov 1994 08:00:00 GMT")), None),  # already expired
        (200, (("Expires", "Sun, 06 Nov 1994 08:49:47 GMT"),), None),  # no Date to measure by
        (200, (DATE, ("Expires", "0")), None),
        (200, (DATE, ("Expires", "Sun, 31 Feb 1994 08:49:47 GMT")), None),
        (200, (DATE, ("Expires", "Sun, 06 Nov 1994 10:49:47 +0200")), None),  # not GMT
        (200, (DATE, *cc("public"), ("Expires", "soon")), None),
        # statuses
        *((code, cc("max-age=10"), (10, 5, 60)) for code in (203, 204, 300, 301, 404, 410)),
        *((code, cc("max-age=10"), None) for code in (206, 302, 304, 307, 403, 500, 503)),
    ],
)
def test_response_freshness(
    status: int, headers: tuple[tuple[str, str], ...], expected: tuple[int, int, int] | None
) -> None:
    f = response_freshness(status, headers, S)
    assert (None if f is None else (f.ttl_s, f.swr_s, f.sie_s)) == expected


def test_vary_names_and_arriving_age() -> None:
    f = response_freshness(
        200, (*cc("max-age=10"), ("Vary", "Accept-Encoding, accept"), ("Vary", "Accept")), S
    )
    assert f == Freshness(10, 5, 60, ("accept", "accept-encoding"))
    # an upstream cache already held it 4 s: 6 s of freshness left, and Age starts at 4
    assert response_freshness(200, (*cc("max-age=10"), ("Age", "4")), S) == Freshness(
        6, 5, 60, (), age_s=4
    )
    assert response_freshness(200, (*cc("max-age=10"), ("Age", "10")), S) is None
    assert response_freshness(200, (*cc("max-age=10"), ("Age", "x")), S) == Freshness(10, 5, 60, ())


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", (), True),
        ("HEAD", (("Accept", "*/*"),), True),
        ("POST", (), False),
        ("PUT", (), False),
        ("get", (), False),  # methods are case-sensitive
        ("GET", (("Cookie", "sid=1"),), False),
        ("GET", (("cookie", ""),), False),
        ("GET", (("Authorization", "Bearer x"),), False),
        ("GET", (("Proxy-Authorization", "Basic x"),), False),
        ("GET", (("Range", "bytes=0-99"),), False),
        ("GET", cc("no-store"), False),
        ("GET", cc("max-age=0, No-Store"), False),
        ("GET", cc('x="unterminated'), False),
        # a client cannot bust the cache and reach the origin with no-cache
        ("GET", cc("no-cache"), True),
        ("GET", (("Pragma", "no-cache"),), True),
    ],
)
def test_request_cacheable(
    method: str, headers: tuple[tuple[str, str], ...], expected: bool
) -> None:
    assert request_cacheable(method, headers) is expected


def test_keys() -> None:
    assert primary_key("Example.COM", "/a?b=1") == "example.com /a?b=1"
    assert primary_key("example.com", "/A") != primary_key("example.com", "/a")
    vary = ("accept-encoding", "accept-language", "x-flavour")
    assert vary_key(vary, (("Accept-Encoding", "GZIP, br"), ("X-Flavour", "Mint"))) == (
        "accept-encoding=gzip,br",
        "accept-language",  # absent is its own variant
        "x-flavour=Mint",  # case kept where it may matter
    )
    assert vary_key(vary, (("accept-encoding", "gzip,,br "), ("x-flavour", "Mint"))) == vary_key(
        vary, (("Accept-Encoding", "gzip"), ("Accept-Encoding", "br"), ("X-Flavour", "Mint"))
    )
    assert vary_key(("accept-language",), (("Accept-Language", ""),)) == ("accept-language=",)


def entry(body: bytes = b"x", f: Freshness | None = None, at: float = 100.0) -> Entry:
    f = f or Freshness(ttl_s=2.0, swr_s=5.0, sie_s=60.0, vary=())
    return Entry(200, (("Content-Type", "text/plain"),), body, at, f)


def lookups(c: ResponseCache, key: str, times: list[float]) -> list[tuple[float, Lookup]]:
    return [(now, c.lookup(key, (), now)[0]) for now in times]


def test_fresh_then_stale_while_revalidate_then_stale_if_error_then_gone() -> None:
    c = ResponseCache(S)
    assert c.lookup("k", (), 99.0) == (Lookup.MISS, None)
    e = entry(at=100.0)  # ttl 2, swr 5, sie 60
    assert c.store("k", (), e, 100.0)
    assert lookups(c, "k", [100.0, 101.5, 102.0, 106.5, 107.0, 161.5]) == [
        (100.0, Lookup.FRESH),
        (101.5, Lookup.FRESH),
        (102.0, Lookup.STALE_REVALIDATE),  # age == ttl is stale
        (106.5, Lookup.STALE_REVALIDATE),
        (107.0, Lookup.STALE_IF_ERROR),  # ttl + swr: only if the origin fails
        (161.5, Lookup.STALE_IF_ERROR),
    ]
    assert c.lookup("k", (), 101.0) == (Lookup.FRESH, e)
    assert (c.age(e, 100.0), c.age(e, 101.9), c.age(e, 161.5)) == (0, 1, 61)
    c.note_stale_served()  # the origin failed at 161.5 and the shell served it
    assert lookups(c, "k", [162.0, 101.0]) == [(162.0, Lookup.MISS), (101.0, Lookup.MISS)]
    assert c.stats() == {
        "entries": 0,
        "bytes": 0,
        "hits": 3,
        "misses": 3,
        "stale_served": 3,
        "stale_if_error": 2,
        "stores": 1,
        "evictions": 0,
        "expired": 1,
        "too_big": 0,
    }


def test_windows_that_overlap_or_are_empty() -> None:
    c = ResponseCache(S)
    c.store("a", (), entry(f=Freshness(2.0, 10.0, 4.0, ()), at=0.0), 0.0)  # sie inside swr
    c.store("b", (), entry(f=Freshness(0.0, 0.0, 3.0, ()), at=0.0), 0.0)  # max-age=0, sie=3
    assert lookups(c, "a", [1.5, 2.0, 11.5, 12.0]) == [
        (1.5, Lookup.FRESH),
        (2.0, Lookup.STALE_REVALIDATE),
        (11.5, Lookup.STALE_REVALIDATE),
        (12.0, Lookup.MISS),
    ]
    assert lookups(c, "b", [0.0, 2.5, 3.0]) == [
        (0.0, Lookup.STALE_IF_ERROR),
        (2.5, Lookup.STALE_IF_ERROR),
        (3.0, Lookup.MISS),
    ]


def test_age_counts_what_upstream_reported() -> None:
    e = entry(f=Freshness(6.0, 5.0, 60.0, (), age_s=4), at=100.0)
    assert ResponseCache(S).age(e, 102.5) == 6


def test_vary_variants_are_kept_apart() -> None:
    c = ResponseCache(S)
    f = Freshness(10.0, 0.0, 0.0, ("accept-encoding",))
    gz, plain = entry(b"gzipped", f), entry(b"plain", f)
    assert c.store("k", (("Accept-Encoding", "gzip, br"),), gz, 100.0)
    assert c.store("k", (), plain, 100.0)
    assert c.lookup("k", (("accept-encoding", "GZIP,br"),), 101.0) == (Lookup.FRESH, gz)
    assert c.lookup("k", (), 101.0) == (Lookup.FRESH, plain)
    assert c.lookup("k", (("Accept-Encoding", "br"),), 101.0) == (Lookup.MISS, None)
    assert c.stats()["entries"] == 2
    # a new response drops Vary: every request now maps to the one variant it stored
    one = entry(b"one", Freshness(10.0, 0.0, 0.0, ()))
    assert c.store("k", (("Accept-Encoding", "br"),), one, 102.0)
    assert c.lookup("k", (("Accept-Encoding", "gzip, br"),), 103.0) == (Lookup.FRESH, one)


def cost(key: str, e: Entry) -> int:
    return e.size + len(key)  # no Vary: the variant adds nothing


def test_lru_by_bytes_evicts_least_recently_used() -> None:
    a, b, c_, d = (entry(bytes(100), Freshness(30.0, 0.0, 0.0, ())) for _ in range(4))
    unit = cost("/a", a)
    c = ResponseCache(CacheSettings(max_bytes=3 * unit))
    for key, e in (("/a", a), ("/b", b), ("/c", c_)):
        assert c.store(key, (), e, 100.0)
    assert c.stats()["bytes"] == 3 * unit
    assert c.lookup("/a", (), 101.0)[0] is Lookup.FRESH  # /a is now the most recent
    assert c.store("/d", (), d, 102.0)
    assert [c.lookup(k, (), 103.0)[0] for k in ("/a", "/b", "/c", "/d")] == [
        Lookup.FRESH,
        Lookup.MISS,  # least recently used
        Lookup.FRESH,
        Lookup.FRESH,
    ]
    big = entry(bytes(100 + unit), Freshness(30.0, 0.0, 0.0, ()))
    assert cost("/e", big) == 2 * unit
    assert c.store("/e", (), big, 104.0)  # needs two slots: evicts the two least recent
    assert [c.lookup(k, (), 105.0)[0] for k in ("/a", "/c", "/d", "/e")] == [
        Lookup.MISS,
        Lookup.MISS,
        Lookup.FRESH,
        Lookup.FRESH,
    ]
    assert {k: c.stats()[k] for k in ("entries", "bytes", "evictions")} == {
        "entries": 2,
        "bytes": 3 * unit,
        "evictions": 3,
    }


def test_entry_count_cap_and_replacing_a_variant() -> None:
    c = ResponseCache(CacheSettings(max_entries=2))
    first, second = entry(b"1"), entry(b"22")
    assert c.store("/a", (), first, 100.0)
    assert c.store("/a", (), second, 100.0)  # replaces, not a second entry
    assert c.stats()["bytes"] == cost("/a", second)
    assert c.store("/b", (), entry(), 100.0)
    assert c.store("/c", (), entry(), 100.0)
    assert (c.stats()["entries"], c.stats()["evictions"]) == (2, 1)
    assert c.lookup("/a", (), 100.0) == (Lookup.MISS, None)


def test_too_big_and_dead_on_arrival_are_refused() -> None:
    s = CacheSettings(max_bytes=10_000, max_object_bytes=1000)
    c = ResponseCache(s)
    fits = entry(bytes(1000 - entry(b"").size))
    assert fits.size == 1000
    assert c.store("/fits", (), fits, 100.0)
    assert not c.store("/big", (), entry(bytes(1001 - entry(b"").size)), 100.0)
    assert not c.store("/huge", (), entry(bytes(20_000)), 100.0)
    assert not c.store("/late", (), entry(at=100.0), 162.0)  # ttl 2 + sie 60 already passed
    stats = c.stats()
    assert (stats["entries"], stats["stores"], stats["too_big"]) == (1, 1, 2)
    assert stats["bytes"] == cost("/fits", fits)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="positive"):
        CacheSettings(max_entries=0)
