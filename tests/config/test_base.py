"""What every section shares: strict types, no unknown keys, frozen, defaults validated."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from seawall.config.base import Seconds, Section


class Sample(Section):
    count: int = 3
    delay: Seconds = 1.5
    name: str = "x"


class BadDefault(Section):
    delay: Seconds = Field(-1.0)


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(".".join(map(str, e["loc"])), e["type"]) for e in exc.value.errors()]


def test_defaults_apply() -> None:
    s = Sample()
    assert (s.count, s.delay, s.name) == (3, 1.5, "x")


def test_unknown_keys_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as exc:
        Sample.model_validate({"count": 1, "cuont": 2})
    assert _errors(exc) == [("cuont", "extra_forbidden")]


def test_types_are_strict() -> None:
    with pytest.raises(ValidationError) as exc:
        Sample.model_validate({"count": "3"})
    assert _errors(exc) == [("count", "int_type")]
    with pytest.raises(ValidationError) as exc:
        Sample.model_validate({"name": 5})
    assert _errors(exc) == [("name", "string_type")]
    with pytest.raises(ValidationError) as exc:
        Sample.model_validate({"count": 2.0})
    assert _errors(exc) == [("count", "int_type")]


def test_seconds_take_ints_and_floats_but_only_positive() -> None:
    assert Sample.model_validate({"delay": 2}).delay == 2.0
    assert Sample.model_validate({"delay": 0.25}).delay == 0.25
    for bad in (0, -1.0):
        with pytest.raises(ValidationError) as exc:
            Sample.model_validate({"delay": bad})
        assert _errors(exc) == [("delay", "greater_than")]
    with pytest.raises(ValidationError) as exc:
        Sample.model_validate({"delay": "1"})
    assert _errors(exc) == [("delay", "float_type")]


def test_sections_are_frozen() -> None:
    s = Sample()
    with pytest.raises(ValidationError):
        s.count = 4  # type: ignore[misc]
    assert s.count == 3
    assert hash(Sample()) == hash(Sample())


def test_defaults_are_validated_too() -> None:
    with pytest.raises(ValidationError) as exc:
        BadDefault()
    assert _errors(exc) == [("delay", "greater_than")]
