"""Signals and the detector plug-in point: options, the registry, descriptions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import seawall.detect.detectors.behaviour
import seawall.detect.detectors.volume  # noqa: F401  (registers the detectors)
from seawall.detect.detectors.volume import HttpFlood
from seawall.detect.signals import REGISTRY, DetectorBase, Signal, register


def test_options_default_to_their_declaration() -> None:
    d = HttpFlood()
    assert d.opt == {"min_rps": 20.0, "ratio": 4.0, "z": 6.0, "floor": 2.0, "freeze": 60.0}
    assert d.pending == []


def test_options_are_overridden_and_made_floats() -> None:
    d = HttpFlood({"min_rps": 50, "z": 3.5})
    assert d.opt["min_rps"] == 50.0 and isinstance(d.opt["min_rps"], float)
    assert d.opt["z"] == 3.5
    assert d.opt["ratio"] == 4.0  # the rest keep their defaults


def test_an_unknown_option_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError) as err:
        HttpFlood({"min_rsp": 50})
    assert str(err.value) == (
        "http_flood: unknown option(s) ['min_rsp']; known: floor, freeze, min_rps, ratio, z"
    )


def test_every_option_has_help() -> None:
    for name, cls in REGISTRY.items():
        for opt, (default, text) in cls.OPTIONS.items():
            assert isinstance(default, float), (name, opt)
            assert text.strip().endswith("."), (name, opt)


def test_the_registry_holds_every_detector_under_its_name() -> None:
    assert set(REGISTRY) >= {
        "http_flood",
        "fingerprint_surge",
        "login_abuse",
        "cache_bust",
        "scanner",
        "low_and_slow",
        "origin_stress",
    }
    assert all(cls.name == name for name, cls in REGISTRY.items())


@pytest.fixture
def clean_registry() -> Iterator[None]:
    before = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(before)


@pytest.mark.usefixtures("clean_registry")
def test_registering_a_name_twice_raises() -> None:
    class Impostor(DetectorBase):
        name = "http_flood"

    with pytest.raises(ValueError, match="'http_flood' is registered twice"):
        register(Impostor)
    assert REGISTRY["http_flood"] is HttpFlood  # the first one stays


@pytest.mark.usefixtures("clean_registry")
def test_a_new_detector_registers_and_must_observe() -> None:
    @register
    class Quiet(DetectorBase):
        name = "quiet_test"

    try:
        assert REGISTRY["quiet_test"] is Quiet
        with pytest.raises(TypeError, match="abstract method observe"):
            Quiet()  # type: ignore[abstract]
    finally:
        del REGISTRY["quiet_test"]  # other tests build every registered detector


def test_tick_hands_over_pending_signals_once() -> None:
    d = HttpFlood()
    sig = Signal("http_flood", "http_flood", (), 1.0, 10.0, 1.0, 9.0, 1.0)
    d.pending.append(sig)
    assert d.tick(1.0) == [sig]
    assert d.tick(2.0) == []


def test_describe_and_key() -> None:
    scoped = Signal(
        "login_abuse",
        "login_abuse",
        (("route", "login"), ("method", "POST")),
        61.0,
        40.4,
        0.25,
        12.0,
        0.9,
    )
    assert scoped.describe() == "login_abuse on route=login, method=POST: 40/s against 0.2/s"
    assert scoped.key == ("login_abuse", (("route", "login"), ("method", "POST")))
    site = Signal("http_flood", "http_flood", (), 61.0, 900.0, 120.0, 8.0, 1.0)
    assert site.describe() == "http_flood on site: 900/s against 120.0/s"
    assert site.actionable and site.sources == 0 and site.evidence == ()
