"""Loading TOML: files, overrides, and errors that say where."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seawall.config import Config, load_config, load_config_text
from seawall.config.load import validate
from seawall.core.errors import ConfigError

FULL = """
workers = 4

[[listeners]]
address = "0.0.0.0:8080"

[[listeners]]
address = "[::]:8443"
proxy_protocol = true
certificates = [
  { cert = "/etc/seawall/site.pem", key = "/etc/seawall/site.key" },
  { cert = "/etc/seawall/api.pem", key = "/etc/seawall/api.key", server_names = ["api.example.org"] },
]

[[origins]]
url = "http://127.0.0.1:8000"
connect_timeout = 1.5
read_timeout = 20
pool_size = 64

[[origins]]
url = "http://[::1]:8001/"

[network]
trusted_proxies = ["10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1"]

[limits]
max_header_bytes = 8192
max_headers = 50
max_url_bytes = 4096
max_body_bytes = 1048576
max_connections = 5000
max_connections_per_address = 64
max_tracked_keys = 200000

[timeouts]
head = 5
body_min_rate = 512
idle = 30
send = 10
drain = 5

[[routes]]
name = "post"
pattern = "/users/{name}/posts/{id}"
target = "/users/{name}"

[[routes]]
name = "static"
pattern = "/static/*"

[classes.api_app]
audience = "seawall"
issuer = "https://id.example.org"
jwt_keys = [
  { alg = "HS256", secret = "s3cret", kid = "k1" },
  { alg = "RS256", public_key_file = "/etc/seawall/apps.pub" },
]

[classes.api_app.introspection]
url = "http://127.0.0.1:9000/introspect"
client_id = "edge"
client_secret = "pw"
cache_ttl = 60
cache_size = 5000
timeout = 1

[[classes.gateways]]
name = "sms"
cidrs = ["198.51.100.7/32"]
secret_header = "X-Gateway-Secret"
secret = "change-me"

[classes.user]
cookie = "sid"
mode = "jwt"
jwt_keys = [{ alg = "EdDSA", public_key_file = "/etc/seawall/users.pub" }]

[[rules]]
id = "office"
action = "allow"
priority = 10
match = { cidrs = ["203.0.113.0/24"] }

[[rules]]
id = "per-address"
action = "throttle"
rate = 20
burst = 40
key = "address"
match = { classes = ["anonymous"], methods = ["GET"], paths = ["/search", "/login$"] }

[[rules]]
id = "scanner"
action = "block"
status = 444
close = true
ttl = 600
reason = "scanning"
match = { user_agents = ["sqlmap"], header_fps = ["0123456789ab"], hosts = ["example.org"], routes = ["post"], targets = ["/users/cyxymu"] }

[admin]
listen = "127.0.0.1:9901"
token = "admin-token"

[log]
access_log = "/var/log/seawall/access.log"
access_format = "combined"
level = "debug"
"""


def test_a_full_example_loads_with_every_value_kept() -> None:
    cfg = load_config_text(FULL)
    assert cfg.workers == 4
    assert [lst.address for lst in cfg.listeners] == ["0.0.0.0:8080", "[::]:8443"]
    assert cfg.listeners[1].certificates[1].server_names == ["api.example.org"]
    assert cfg.origins[0].connect_timeout == 1.5
    assert cfg.network.trusted_proxies[1] == "2001:db8:ffff::/48"
    assert cfg.timeouts.drain == 5.0
    assert cfg.routes[0].target == "/users/{name}"
    assert cfg.classes.api_app.jwt_keys[0].kid == "k1"
    assert cfg.classes.api_app.introspection.cache_size == 5000
    assert cfg.classes.user.jwt_keys[0].alg == "EdDSA"
    assert [r.id for r in cfg.rules] == ["office", "per-address", "scanner"]
    assert cfg.rules[2].match.user_agents == ["sqlmap"]
    assert (cfg.log.access_format, cfg.log.level) == ("combined", "debug")


def test_a_full_example_round_trips() -> None:
    cfg = load_config_text(FULL)
    dumped = cfg.model_dump()
    assert validate(dumped) == cfg
    assert validate(dumped).model_dump() == dumped
    assert Config.model_validate_json(cfg.model_dump_json()) == cfg


def test_the_readme_example_loads() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"A minimal `seawall.toml`:\s*```toml\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    cfg = load_config_text(block.group(1))
    assert cfg.workers == 2
    assert cfg.rules[0].id == "per-address"


def test_file_and_no_file(tmp_path: Path) -> None:
    path = tmp_path / "seawall.toml"
    path.write_text(FULL, encoding="utf-8")
    assert load_config(path) == load_config_text(FULL)
    assert load_config(str(path)) == load_config_text(FULL)
    assert load_config(None) == Config()


def test_overrides_win_over_file_values(tmp_path: Path) -> None:
    path = tmp_path / "seawall.toml"
    path.write_text(FULL, encoding="utf-8")
    # as the CLI builds them: whole sections, merged over the file's
    overrides = {
        "workers": 2,
        "origins": [{"url": "http://127.0.0.1:9999"}],
        "admin": {"listen": "127.0.0.1:9901", "token": "from-env"},
        "network": {"trusted_proxies": ["172.16.0.0/12"]},
    }
    cfg = load_config(path, overrides)
    assert cfg.workers == 2
    assert [o.url for o in cfg.origins] == ["http://127.0.0.1:9999"]
    assert cfg.admin.token == "from-env"
    assert cfg.network.trusted_proxies == ["172.16.0.0/12"]
    # what was not overridden still comes from the file
    assert cfg.log.level == "debug"
    assert len(cfg.rules) == 3
    # and without a file, overrides are the whole configuration
    assert load_config(None, {"workers": 3}).workers == 3


def test_overrides_are_validated_like_the_file() -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text("workers = 2", {"origins": [{"url": "https://x"}]})
    assert err.value.key == "origins[0].url"
    with pytest.raises(ConfigError) as err:
        load_config(None, {"network": {"trusted_proxies": ["bogus"]}})
    assert err.value.key == "network.trusted_proxies[0]"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.toml")
    assert "cannot read config file" in str(err.value)
    assert "nope.toml" in str(err.value)


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path)


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "seawall.toml"
    path.write_bytes(b"workers = 2\n\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


@pytest.mark.parametrize(
    "text",
    ["workers = ", "[network\n", "workers = 1\nworkers = 2", "rules = [{ id = 'a' "],
)
def test_invalid_toml(text: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load_config_text(text)
    assert err.value.key == ""
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_errors_from_a_file_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "seawall.toml"
    path.write_text(
        '[[rules]]\nid = "r"\naction = "block"\nmatch = { colour = "red" }\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == "rules[0].match.colour"
    assert str(err.value).startswith("rules[0].match.colour: unknown option")


def test_the_unknown_option_hint_names_a_real_command() -> None:
    from seawall.cli import main

    with pytest.raises(ConfigError) as err:
        validate({"colour": "red"})
    command = re.search(r"`seawall (\w+) (\w+)`", str(err.value))
    assert command is not None
    group = main.commands[command.group(1)]
    assert command.group(2) in group.commands  # type: ignore[attr-defined]
