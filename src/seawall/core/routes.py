"""Routes: path patterns mapped to a route name and a target (what an attack aims at)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from seawall.core.errors import ConfigError

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\*?)\}")
DEFAULT_ROUTE = "other"
_MAX_TARGET = 256


@dataclass(frozen=True, slots=True)
class RouteSpec:
    name: str
    pattern: str
    target: str = ""  # template over the pattern's parameters; default: the pattern itself


def _compile(pattern: str, key: str) -> re.Pattern[str]:
    if not pattern.startswith("/"):
        raise ConfigError(key, f"route pattern {pattern!r} must start with '/'")
    out, pos = [], 0
    for m in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.*)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    tail = pattern[pos:]
    if tail.endswith("*"):
        out.append(re.escape(tail[:-1]) + ".*")
    else:
        out.append(re.escape(tail))
    try:
        # DOTALL: a decoded %0A in a path must not make it fall out of its route
        return re.compile("".join(out) + r"\Z", re.DOTALL)
    except re.error as exc:
        raise ConfigError(key, f"route pattern {pattern!r}: {exc}") from None


def _format_template(template: str) -> str:
    """A target template as a str.format string: parameters are fields, other braces literal."""
    out, pos = [], 0
    for m in _PARAM.finditer(template):
        out.append(template[pos : m.start()].replace("{", "{{").replace("}", "}}"))
        out.append(f"{{{m.group(1)}}}")
        pos = m.end()
    out.append(template[pos:].replace("{", "{{").replace("}", "}}"))
    return "".join(out)


class Router:
    """First matching pattern wins, in configuration order."""

    __slots__ = ("_routes",)

    def __init__(self, specs: list[RouteSpec] | tuple[RouteSpec, ...] = ()) -> None:
        compiled: list[tuple[str, str, re.Pattern[str], str]] = []
        for i, spec in enumerate(specs):
            key = f"routes[{i}]"
            rx = _compile(spec.pattern, key)
            template = spec.target or spec.pattern.rstrip("*")
            names = set(rx.groupindex)
            for m in _PARAM.finditer(template):
                if m.group(1) not in names:
                    raise ConfigError(
                        f"{key}.target", f"{{{m.group(1)}}} is not a parameter of {spec.pattern!r}"
                    )
            literal = spec.pattern.split("{", 1)[0].rstrip("*")
            compiled.append((spec.name, literal, rx, _format_template(template)))
        self._routes = tuple(compiled)

    def match(self, path: str) -> tuple[str, str]:
        """(route name, target) for a path; unmatched paths get route 'other' and themselves."""
        for name, literal, rx, template in self._routes:
            if not path.startswith(literal):
                continue
            m = rx.match(path)
            if m is not None:
                target = template.format_map(m.groupdict())
                return name, target[:_MAX_TARGET]
        return DEFAULT_ROUTE, path[:_MAX_TARGET]
