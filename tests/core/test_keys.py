"""Derived keys: query shape, header-order fingerprint, the path rules see."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall.core.keys import header_fingerprint, normalize_path, query_shape


@pytest.mark.parametrize(
    ("query", "shape"),
    [
        ("", ""),
        ("q=cats", "q=s"),
        ("page=2", "page=n"),
        ("q=", "q=e"),
        ("flag", "flag"),
        ("q=cats&page=2&debug", "debug&page=n&q=s"),
        ("page=2&q=cats", "page=n&q=s"),  # order-insensitive
        ("q=dogs&page=99", "page=n&q=s"),  # values do not matter, only their kind
        ("&&q=1&", "q=n"),
        ("n=-1", "n=s"),
        ("a=1&a=2", "a=n&a=n"),
    ],
)
def test_query_shape(query: str, shape: str) -> None:
    assert query_shape(query) == shape


def test_cache_busting_gives_many_shapes_and_honest_traffic_one() -> None:
    honest = {query_shape(f"q=cats&page={i}") for i in range(100)}
    busting = {query_shape(f"q=cats&_{i}=1") for i in range(100)}
    assert (len(honest), len(busting)) == (1, 100)


def test_query_shape_is_bounded() -> None:
    assert len(query_shape("&".join(f"p{i}=1" for i in range(1000)))) == 128
    assert query_shape("n" * 100 + "=x") == "n" * 32 + "=s"


def test_header_fingerprint_is_stable_short_and_case_insensitive() -> None:
    browser = [b"Host", b"User-Agent", b"Accept", b"Accept-Language", b"Cookie"]
    fp = header_fingerprint(browser)
    assert fp == header_fingerprint(list(browser))
    assert fp == header_fingerprint([n.lower() for n in browser])
    assert len(fp) == 12
    int(fp, 16)  # hex


def test_header_fingerprint_is_order_sensitive() -> None:
    browser = [b"host", b"user-agent", b"accept", b"accept-language"]
    library = [b"host", b"accept", b"user-agent", b"accept-language"]
    assert header_fingerprint(browser) != header_fingerprint(library)
    assert header_fingerprint(browser) != header_fingerprint(browser[:-1])
    assert header_fingerprint([b"a,b"]) == header_fingerprint([b"a", b"b"])  # known: no escaping


@pytest.mark.parametrize(
    ("raw", "seen"),
    [
        ("/admin", "/admin"),
        ("/", "/"),
        ("/%61dmin", "/admin"),
        ("/%2e%2e/admin", "/admin"),
        ("//admin", "/admin"),
        ("///admin//users", "/admin/users"),
        ("/x/../admin", "/admin"),
        ("/x/y/../../admin", "/admin"),
        ("/../../admin", "/admin"),  # never above the root
        ("/./a/", "/a/"),
        ("/a/./b/.", "/a/b"),
        ("/a//", "/a/"),
        ("//", "/"),
        ("/..", "/"),
        ("/%2Fadmin", "/admin"),
        ("/caf%C3%A9", "/café"),
        ("/%ff", "/\ufffd"),
        ("/a.b/.hidden", "/a.b/.hidden"),
    ],
)
def test_normalize_path(raw: str, seen: str) -> None:
    assert normalize_path(raw) == seen


def test_normalize_path_is_idempotent() -> None:
    for raw in ("/%61dmin", "//admin", "/x/../admin", "/./a/", "/a/%2e/b"):
        once = normalize_path(raw)
        assert normalize_path(once) == once


@given(st.text(alphabet="ab=1&x%", max_size=40))
def test_the_one_parameter_fast_path_agrees_with_the_general_one(query: str) -> None:
    # a trailing "&" adds only an empty item, which the general path skips
    assert query_shape(query) == query_shape(query + "&")
