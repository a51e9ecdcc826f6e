"""Loading TOML into the schema, with errors that name the key and the reason."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from seawall.config.schema import Config
from seawall.core.errors import ConfigError


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-after") or part.startswith("function-"):
            continue
        else:
            out += f".{part}" if out else part
    return out


def _explain(err: ValidationError) -> ConfigError:
    lines = []
    first_key = ""
    for e in err.errors():
        key = _key_path(tuple(e["loc"]))
        first_key = first_key or key
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown option (`seawall config reference` lists every option)"
        elif e["type"] == "missing":
            msg = "required option is missing"
        lines.append(f"{key or '(top level)'}: {msg}")
    error = ConfigError("", "; ".join(lines))
    error.key = first_key
    return error


def validate(data: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise _explain(err) from None


def load_config_text(text: str, overrides: dict[str, Any] | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"not valid TOML: {exc}") from None
    data.update(overrides or {})
    return validate(data)


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> Config:
    """Read a TOML file (or none) and apply CLI overrides, which win over the file."""
    if path is None:
        return validate(dict(overrides or {}))
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError("", f"config file {p} is not UTF-8 text") from None
    return load_config_text(text, overrides)
