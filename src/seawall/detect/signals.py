"""Signals, and the protocol every detector follows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from seawall.detect.baseline import Baselines
from seawall.detect.records import NO_LOAD, Load, Slice

Scope = tuple[tuple[str, object], ...]  # (attribute, value) pairs the attack's records share


@dataclass(frozen=True, slots=True)
class Signal:
    """A detector's scored claim: the records in `scope` are an attack of kind `vector`."""

    detector: str
    vector: str
    scope: Scope
    time: float
    rate: float  # requests/s in scope over the interval
    baseline: float  # the learned mean rate of the scope
    score: float  # z-score against the baseline
    confidence: float  # 0..1
    sources: int = 0  # distinct client addresses in scope over the interval
    evidence: tuple[tuple[str, str], ...] = ()
    actionable: bool = True  # False: context for the policy (origin stress), no signature
    mitigable: bool = True  # False: an attack on a layer rules do not reach (slow clients)

    @property
    def key(self) -> tuple[str, Scope]:
        return (self.detector, self.scope)

    def describe(self) -> str:
        where = ", ".join(f"{a}={v}" for a, v in self.scope) or "site"
        return f"{self.vector} on {where}: {self.rate:.0f}/s against {self.baseline:.1f}/s"


@dataclass(slots=True)
class Context:
    """What detectors may read besides the slice: learned baselines and admission's load."""

    baselines: Baselines
    load: Load = NO_LOAD
    warm: bool = False  # the global baseline has learned long enough
    login_routes: tuple[str, ...] = ("login",)  # routes whose POSTs are sign-ins


class Detector(Protocol):
    """Observes each interval's slice, then says what it saw at `tick`.

    Detectors keep only bounded state; they never teach the baselines themselves (the
    engine does, after every detector has looked). `OPTIONS` declares each option with
    its default and help; the configuration may override any of them.
    """

    name: str
    OPTIONS: dict[str, tuple[float, str]]

    def observe(self, s: Slice, ctx: Context) -> None: ...

    def tick(self, now: float) -> list[Signal]: ...


REGISTRY: dict[str, type[DetectorBase]] = {}


class DetectorBase(ABC):
    """Options resolved once: declared defaults, overridden by the configuration."""

    name = ""
    OPTIONS: dict[str, tuple[float, str]] = {}

    def __init__(self, options: Mapping[str, float] | None = None) -> None:
        given = dict(options or {})
        unknown = set(given) - set(self.OPTIONS)
        if unknown:
            known = ", ".join(sorted(self.OPTIONS))
            raise ValueError(f"{self.name}: unknown option(s) {sorted(unknown)}; known: {known}")
        self.opt = {k: float(given.get(k, default)) for k, (default, _) in self.OPTIONS.items()}
        self.pending: list[Signal] = []

    @abstractmethod
    def observe(self, s: Slice, ctx: Context) -> None: ...

    def tick(self, now: float) -> list[Signal]:
        out, self.pending = self.pending, []
        return out


def register(cls: type[DetectorBase]) -> type[DetectorBase]:
    """Registers a detector class under its name; the engine builds the configured ones."""
    if cls.name in REGISTRY:
        raise ValueError(f"detector {cls.name!r} is registered twice")
    REGISTRY[cls.name] = cls
    return cls
