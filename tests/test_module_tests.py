"""House rule: every source module has a test module of its own."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "seawall"
TESTS = ROOT / "tests"


def _expected(module: Path) -> list[Path]:
    rel = module.relative_to(SRC)
    if len(rel.parts) == 1:
        return [TESTS / f"test_{module.stem}.py"]
    pkg = rel.parts[0]
    # basenames must be unique across tests/, so a clash takes the package as a prefix
    return [TESTS / pkg / f"test_{module.stem}.py", TESTS / pkg / f"test_{pkg}_{module.stem}.py"]


def test_every_module_has_a_test_module() -> None:
    missing = []
    for module in sorted(SRC.rglob("*.py")):
        if module.name == "__init__.py":
            continue
        options = _expected(module)
        if not any(p.exists() for p in options):
            missing.append(f"{module.relative_to(ROOT)} -> {options[0].relative_to(ROOT)}")
    assert not missing, "modules without tests:\n" + "\n".join(missing)


def test_the_check_sees_real_modules() -> None:
    assert (TESTS / "core" / "test_decider.py") in _expected(SRC / "core" / "decider.py")
