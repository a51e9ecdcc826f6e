"""The schema: defaults, and every refusal naming the key at fault."""

from __future__ import annotations

from typing import Any

import pytest

from seawall.config.load import validate
from seawall.config.schema import Config
from seawall.core.errors import ConfigError

ORIGIN = {"origins": [{"url": "http://127.0.0.1:8000"}]}


def refusal(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        validate(data)
    return err.value


def test_defaults() -> None:
    cfg = validate({})
    assert [lst.address for lst in cfg.listeners] == ["0.0.0.0:8080"]
    assert cfg.origins == []
    assert cfg.workers == 1
    assert cfg.network.trusted_proxies == []
    assert cfg.limits.max_tracked_keys == 100_000
    assert cfg.timeouts.head == 10.0
    assert cfg.admin.listen == "127.0.0.1:9901"
    assert (cfg.log.access_log, cfg.log.access_format, cfg.log.level) == ("-", "json", "info")
    assert cfg == Config()


def test_sections_are_frozen() -> None:
    cfg = validate(ORIGIN)
    with pytest.raises(Exception, match="frozen"):
        cfg.workers = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "key", "says"),
    [
        # unknown keys, at any depth
        ({"colour": "red"}, "colour", "unknown option"),
        (
            {"rules": [{"id": "r", "action": "block", "match": {"colour": "red"}}]},
            "rules[0].match.colour",
            "unknown option",
        ),
        ({"network": {"trusted": []}}, "network.trusted", "unknown option"),
        # wrong types
        ({"workers": "many"}, "workers", "integer"),
        ({"listeners": "0.0.0.0:80"}, "listeners", "list"),
        ({"timeouts": {"idle": "long"}}, "timeouts.idle", "number"),
        ({"network": {"trusted_proxies": "10.0.0.0/8"}}, "network.trusted_proxies", "list"),
        ({"log": {"level": "verbose"}}, "log.level", "'debug'"),
        ({"rules": [{"id": "r", "action": "ban"}]}, "rules[0].action", "'block'"),
        # out of range
        ({"workers": 0}, "workers", "greater than or equal to 1"),
        ({"timeouts": {"head": 0}}, "timeouts.head", "greater than 0"),
        ({"limits": {"max_tracked_keys": 1}}, "limits.max_tracked_keys", "16"),
        # a bad CIDR names its entry
        (
            {"network": {"trusted_proxies": ["10.0.0.0/8", "10.0.0.0/33"]}},
            "network.trusted_proxies[1]",
            "'10.0.0.0/33' is not a CIDR",
        ),
        (
            {"rules": [{"id": "r", "action": "block", "match": {"cidrs": ["nope"]}}]},
            "rules[0].match.cidrs[0]",
            "'nope'",
        ),
        (
            {"classes": {"gateways": [{"name": "sms", "cidrs": ["192.0.2.1", "x"]}]}},
            "classes.gateways[0].cidrs[1]",
            "'x'",
        ),
        # listener and admin addresses
        ({"listeners": [{"address": "8080"}]}, "listeners[0].address", "not host:port"),
        ({"listeners": [{"address": ":8080"}]}, "listeners[0].address", "no host"),
        ({"listeners": [{"address": "0.0.0.0:99999"}]}, "listeners[0].address", "not host:port"),
        (
            {"listeners": [{"address": "0.0.0.0:80"}, {"address": "[::]:http"}]},
            "listeners[1].address",
            "not host:port",
        ),
        ({"admin": {"listen": "localhost"}}, "admin.listen", "not host:port"),
        # origins: plain http, host and port only
        ({"origins": [{"url": "https://origin:8443"}]}, "origins[0].url", "only http://"),
        ({"origins": [{"url": "http://origin:8000/app"}]}, "origins[0].url", "without a path"),
        ({"origins": [{"url": "http://origin:8000/?a=1"}]}, "origins[0].url", "without a path"),
        ({"origins": [{"url": "http://:8000"}]}, "origins[0].url", "no host"),
        ({"origins": [{}]}, "origins[0].url", "required option is missing"),
        # rules
        (
            {"rules": [{"id": "a", "action": "block"}, {"id": "a", "action": "allow"}]},
            "rules",
            "unique; repeated: ['a']",
        ),
        ({"rules": [{"id": "t", "action": "throttle"}]}, "rules[0]", "needs a rate"),
        ({"rules": [{"id": "", "action": "block"}]}, "rules[0].id", "at least 1"),
        ({"rules": [{"id": "r", "action": "block", "ttl": -1}]}, "rules[0].ttl", "0"),
        ({"rules": [{"id": "r", "action": "block", "status": 600}]}, "rules[0].status", "599"),
        # identity material
        (
            {"classes": {"api_app": {"jwt_keys": [{"alg": "HS256"}]}}},
            "classes.api_app.jwt_keys[0]",
            "HS256 needs 'secret'",
        ),
        (
            {
                "classes": {
                    "api_app": {"jwt_keys": [{"alg": "HS256", "secret": "s"}, {"alg": "RS256"}]}
                }
            },
            "classes.api_app.jwt_keys[1]",
            "RS256 needs 'public_key_file'",
        ),
        (
            {"classes": {"user": {"cookie": "sid", "mode": "jwt"}}},
            "classes.user",
            "needs 'jwt_keys'",
        ),
        ({"classes": {"user": {"cookie": "sid"}}}, "classes.user", "needs 'secret'"),
        (
            {"classes": {"gateways": [{"name": "sms", "cidrs": ["192.0.2.1"], "secret": "s"}]}},
            "classes.gateways[0]",
            "go together",
        ),
        (
            {"classes": {"gateways": [{"name": "sms", "cidrs": []}]}},
            "classes.gateways[0]",
            "at least one CIDR",
        ),
    ],
)
def test_refusals_name_the_key(data: dict[str, Any], key: str, says: str) -> None:
    err = refusal(data)
    assert err.key == key
    assert str(err).startswith(f"{key}: ")
    assert says in str(err)


def test_every_problem_is_reported_at_once() -> None:
    err = refusal({"workers": 0, "colour": "red", "origins": [{"url": "https://x"}]})
    text = str(err)
    assert [k for k in ("workers: ", "colour: ", "origins[0].url: ") if k in text] == [
        "workers: ",
        "colour: ",
        "origins[0].url: ",
    ]
    assert err.key in ("workers", "colour", "origins[0].url")  # the first, for tools


def test_a_user_session_without_a_cookie_needs_no_secret() -> None:
    assert validate({"classes": {"user": {"mode": "jwt"}}}).classes.user.cookie == ""


def test_an_empty_admin_listen_turns_the_admin_api_off() -> None:
    assert validate({"admin": {"listen": ""}}).admin.listen == ""


@pytest.mark.parametrize(
    "address", ["0.0.0.0:8080", "[::]:8080", "127.0.0.1:0", "localhost:65535", "[::1]:443"]
)
def test_listener_addresses(address: str) -> None:
    assert validate({"listeners": [{"address": address}]}).listeners[0].address == address


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://origin", "http://[::1]:8000/"])
def test_origin_urls(url: str) -> None:
    assert validate({"origins": [{"url": url}]}).origins[0].url == url
