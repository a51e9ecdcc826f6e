"""The configuration reference, generated from the schema so it can never drift."""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from seawall.config.schema import Config


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:  # a validated item, such as a CIDR: name its base type
        return _type_name(get_args(annotation)[0])
    if origin is list:
        return f"list of {_type_name(get_args(annotation)[0])}"
    if origin is not None and str(origin).endswith("Literal"):
        return " \\| ".join(json.dumps(a) for a in get_args(annotation))
    if isinstance(annotation, type):
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    factory = field.default_factory
    value = factory() if factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} default entr{'y' if len(value) == 1 else 'ies'}"
    return f"`{json.dumps(value)}`"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is list:
        inner = get_args(annotation)[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return None


def _section(model: type[BaseModel], path: str, title: str, about: str, out: list[str]) -> None:
    rows, nested = [], []
    for name, field in model.model_fields.items():
        sub = _model_of(field.annotation)
        if sub is not None:
            sub_path = f"{path}.{name}" if path else name
            is_list = get_origin(field.annotation) is list
            nested.append((sub_path, sub, f"[[{sub_path}]]" if is_list else f"[{sub_path}]", field))
            continue
        help_text = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {help_text} |"
        )
    out.append(f"\n## {title}\n")
    if about:
        out.append(about + "\n")
    if rows:
        out.append("| option | type | default | meaning |\n|---|---|---|---|")
        out.extend(rows)
    for sub_path, sub, sub_title, field in nested:
        _section(sub, sub_path, f"`{sub_title}`", field.description or "", out)


def reference_markdown() -> str:
    out = [
        "# Configuration reference",
        "",
        "Generated from `src/seawall/config/schema.py` by `seawall config reference`; "
        "do not edit by hand. Every option below may appear in the TOML file. Unknown "
        "keys are errors.",
    ]
    _section(Config, "", "Top level", "", out)
    return "\n".join(out).replace("\n\n\n", "\n\n") + "\n"
