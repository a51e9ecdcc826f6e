"""The import rule: core and runtime stand alone; outer packages never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "seawall"
ALLOWED = {
    "core": {"core"},
    "runtime": {"runtime"},
    "detect": {"core", "detect"},
    "config": {"config", "core", "detect"},
    "store": {"store", "core", "config", "runtime"},
    "geo": {"geo", "core"},
    "intel": {"intel", "core"},
}
# CLI wiring inside a package: it reads the configuration and the store, as cli.py does
WIRING = {"intel/commands.py": {"config", "store"}}
OUTER_BASE = {"core", "detect", "config", "runtime", "store", "geo", "intel"}
OUTER = {"edge", "accounts", "analyze", "report", "enforce"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "seawall" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_package_imports_only_what_it_may() -> None:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if len(rel.parts) < 2:
            continue  # cli.py and __init__ wire everything
        pkg = rel.parts[0]
        if pkg in ALLOWED:
            allowed = ALLOWED[pkg]
        elif pkg in OUTER:
            allowed = OUTER_BASE | {pkg}
        else:
            continue  # lab may drive everything
        allowed = allowed | WIRING.get(rel.as_posix(), set())
        for dep in _imports(path) - allowed:
            bad.append(f"{rel} imports seawall.{dep}")
    assert not bad, "layering broken:\n" + "\n".join(bad)


def test_the_rule_is_checked_against_real_modules() -> None:
    assert "core" in _imports(SRC / "edge" / "connection.py")
    assert _imports(SRC / "core" / "decider.py") <= {"core"}
