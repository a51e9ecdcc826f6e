"""Routes: path patterns to (route, target)."""

from __future__ import annotations

import pytest

from seawall.core.errors import ConfigError
from seawall.core.routes import Router, RouteSpec

ROUTER = Router(
    [
        RouteSpec("home", "/"),
        RouteSpec("post", "/users/{name}/posts/{id}", "/users/{name}"),
        RouteSpec("profile", "/users/{name}"),
        RouteSpec("files", "/files/{rest*}", "/files/{rest}"),
        RouteSpec("static", "/static/*"),
        RouteSpec("api", "/api/v1/{rest*}", "/api/v1"),
        RouteSpec("shadowed", "/users/{name}", "/never"),
    ]
)


@pytest.mark.parametrize(
    ("path", "route", "target"),
    [
        ("/", "home", "/"),
        # {param} matches one segment; the target template names what is attacked
        ("/users/cyxymu", "profile", "/users/cyxymu"),
        ("/users/cyxymu/posts/42", "post", "/users/cyxymu"),
        ("/users/", "other", "/users/"),
        ("/users/cyxymu/", "other", "/users/cyxymu/"),
        ("/users/a/b", "other", "/users/a/b"),
        # {rest*} takes the rest, slashes included, possibly nothing
        ("/files/a/b/c.txt", "files", "/files/a/b/c.txt"),
        ("/files/", "files", "/files/"),
        # a trailing * is any suffix; the default target drops the star: one target
        ("/static/app.js", "static", "/static/"),
        ("/static/css/site.css", "static", "/static/"),
        ("/static", "other", "/static"),
        ("/api/v1/timeline", "api", "/api/v1"),
        # a decoded %0A must not take a path out of its route
        ("/api/v1/\nx", "api", "/api/v1"),
        ("/users/a\nb", "profile", "/users/a\nb"),
        # unmatched: route 'other', the path is its own target
        ("/nowhere", "other", "/nowhere"),
    ],
)
def test_match(path: str, route: str, target: str) -> None:
    assert ROUTER.match(path) == (route, target)


def test_first_match_wins_in_configuration_order() -> None:
    r = Router([RouteSpec("any-user", "/users/*"), RouteSpec("profile", "/users/{name}")])
    assert r.match("/users/bob") == ("any-user", "/users/")


def test_no_routes_means_everything_is_other() -> None:
    assert Router().match("/users/bob") == ("other", "/users/bob")


def test_targets_are_bounded() -> None:
    path = "/x/" + "a" * 1000
    assert Router([RouteSpec("x", "/x/{rest*}")]).match(path) == ("x", path[:256])
    assert Router().match(path) == ("other", path[:256])


def test_regex_characters_in_patterns_are_literal() -> None:
    r = Router([RouteSpec("feed", "/feed.xml"), RouteSpec("q", "/a+b/{n}")])
    assert r.match("/feed.xml") == ("feed", "/feed.xml")
    assert r.match("/feedXxml") == ("other", "/feedXxml")
    assert r.match("/a+b/1") == ("q", "/a+b/1")
    assert r.match("/aab/1") == ("other", "/aab/1")


def test_braces_that_are_not_parameters_stay_literal_in_targets() -> None:
    r = Router(
        [
            RouteSpec("a", "/a/{name}", "/a/{0}"),
            RouteSpec("b", "/b/{name}", "/b/{name}{"),
            RouteSpec("c", "/c/{name}", "/c/{name.real}"),
            RouteSpec("d", "/d/{"),
        ]
    )
    assert [r.match(p) for p in ("/a/x", "/b/x", "/c/x", "/d/{")] == [
        ("a", "/a/{0}"),
        ("b", "/b/x{"),
        ("c", "/c/{name.real}"),
        ("d", "/d/{"),
    ]


def test_parameter_values_are_not_formatted_again() -> None:
    r = Router([RouteSpec("p", "/p/{name}", "/p/{name}")])
    assert r.match("/p/{name}") == ("p", "/p/{name}")


def test_unknown_parameter_in_target_names_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        Router(
            [
                RouteSpec("ok", "/ok"),
                RouteSpec("post", "/users/{name}/posts/{id}", "/users/{user}"),
            ]
        )
    assert err.value.key == "routes[1].target"
    assert "{user}" in err.value.reason


def test_pattern_must_start_with_a_slash() -> None:
    with pytest.raises(ConfigError) as err:
        Router([RouteSpec("bad", "users/{name}")])
    assert err.value.key == "routes[0]"


def test_repeated_parameter_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        Router([RouteSpec("ok", "/"), RouteSpec("bad", "/{a}/{a}")])
    assert err.value.key == "routes[1]"
