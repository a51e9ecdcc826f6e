"""The configuration reference is generated from the schema and checked in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args, get_origin

from pydantic import BaseModel

from seawall.config.docs import reference_markdown
from seawall.config.schema import Config

CHECKED_IN = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _submodel(annotation: object) -> type[BaseModel] | None:
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _every_option(model: type[BaseModel], path: str = "") -> list[tuple[str, str, bool]]:
    """(section path, option name, is a section itself) for every field, depth first."""
    out = []
    for name, field in model.model_fields.items():
        sub = _submodel(field.annotation)
        out.append((path, name, sub is not None))
        if sub is not None:
            out.extend(_every_option(sub, f"{path}.{name}" if path else name))
    return out


def _sections(markdown: str) -> dict[str, str]:
    """Section path ('' for the top level) to its text."""
    out = {}
    for chunk in re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]:
        title, _, body = chunk.partition("\n")
        path = "" if title == "Top level" else title.strip("`[]")
        out[path] = body
    return out


def test_the_reference_mentions_every_option_of_every_section() -> None:
    sections = _sections(reference_markdown())
    missing = []
    options = _every_option(Config)
    for path, name, is_section in options:
        if is_section:
            if (f"{path}.{name}" if path else name) not in sections:
                missing.append(f"section {path}.{name}")
        elif f"| `{name}` |" not in sections.get(path, ""):
            missing.append(f"{path or '(top)'}: {name}")
    assert missing == []
    assert len(options) > 80  # the walk really went everywhere


def test_each_option_shows_its_default_and_help() -> None:
    sections = _sections(reference_markdown())
    assert "| `workers` | integer | `1` | Worker processes sharing the listeners. |" in sections[""]
    assert (
        '| `level` | "debug" \\| "info" \\| "warning" \\| "error" | `"info"` |' in sections["log"]
    )
    assert "| `url` | string | required |" in sections["origins"]
    assert "| `trusted_proxies` | list of string | `[]` |" in sections["network"]
    assert "| `classes` | list of " in sections["rules.match"]


def test_docs_configuration_md_is_the_generated_reference() -> None:
    """Regenerate with: seawall config reference > docs/configuration.md"""
    assert CHECKED_IN.read_text(encoding="utf-8") == reference_markdown()
