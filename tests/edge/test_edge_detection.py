"""Detection in a worker: config to engine settings, the tick, and an attack blocked end to end."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import h11
import msgspec
import pytest

from detectsite import BOT_FP, Site, _record
from seawall.config.engine import engine_settings
from seawall.config.load import validate
from seawall.core.net import parse_address, prefix_of
from seawall.core.record import Record
from seawall.core.rules import RulesetDelta
from seawall.core.verdict import Action
from seawall.detect.engine import DetectionEngine
from seawall.detect.records import Load
from seawall.edge.accesslog import combined_line
from seawall.edge.context import EdgeContext
from seawall.edge.detection import DetectionLoop
from seawall.runtime.clock import ManualClock, SystemClock

from harness import Edge, at_once, roundtrip, wait_until
from harness import RecordSink as Sink

QUIET: dict[str, Any] = {"log": {"access_log": ""}, "admin": {"listen": ""}}


def _cfg(**detection: Any) -> Any:
    return validate({**QUIET, "detection": detection})


# ---- the loop, on a manual clock ---------------------------------------------------------------


class Loop:
    """A context on a ManualClock, its detection loop, and what came out of it."""

    def __init__(self, **detection: Any) -> None:
        self.clock = ManualClock(1000.0)
        cfg = _cfg(**detection)
        self.ctx = EdgeContext(cfg, self.clock)
        self.deltas: list[RulesetDelta] = []
        self.incidents: list[dict[str, Any]] = []
        self.loop = DetectionLoop(
            self.ctx, engine_settings(cfg), self._on_delta, self.incidents.append
        )
        self.ctx.recorder.add_sink(self.loop)
        self.site = Site(seed=3, legit_rate=60)

    def _on_delta(self, delta: RulesetDelta) -> None:
        self.deltas.append(delta)
        self.ctx.decider.apply(delta)

    def second(self, t: int) -> None:
        """One second of the site through the decider into the recorder, then a tick."""
        now = self.clock.monotonic()
        for f in self.site.second(t):
            v = self.ctx.decider.decide(f, now)
            status = 200 if v.action <= Action.CACHE else v.status
            self.ctx.recorder.record(_record(f, v, status, now, 1_700_000_000.0))
        self.clock.advance(1.0)
        self.loop.tick()

    def rules(self) -> list[tuple[Action, frozenset[str]]]:
        return [(r.action, r.match.header_fps) for r in self.ctx.decider.ruleset.rules]


def test_a_tick_drains_the_recorder_into_the_engine_and_sets_gauges() -> None:
    lp = Loop()
    lp.second(0)
    assert lp.ctx.recorder.recorded == 60
    assert lp.loop.engine.observed == 60
    assert lp.deltas == [] and lp.incidents == []
    assert lp.ctx.stats.gauges == {
        "detection_rules": 0,
        "detection_sampled_out": 0,
        "detection_incident_open": 0,
    }


def test_an_attack_after_warm_up_is_blocked_and_reported() -> None:
    lp = Loop()
    lp.site.wave("bots", 40, 1000, 300, 200)
    for t in range(40):
        lp.second(t)
    assert lp.rules() == [] and lp.incidents == []  # a normal site: nothing to do
    lp.second(40)
    assert lp.rules() == [(Action.BLOCK, frozenset({BOT_FP}))]
    (delta,) = lp.deltas
    assert [(r.origin, r.id[:5]) for r in delta.add] == [("auto", "auto-")]
    assert delta.remove == ()
    assert lp.ctx.stats.gauges["detection_rules"] == 1
    assert lp.ctx.stats.gauges["detection_incident_open"] == 1
    (report,) = lp.incidents
    assert report["status"] == "open" and "timeline" in report
    assert report["vectors"]
    lp.second(41)
    assert len(lp.deltas) == 1  # the rule in place holds: no churn
    assert len(lp.incidents) == 2 and lp.incidents[1]["id"] == report["id"]


def test_in_suggest_mode_the_rule_waits_for_approval() -> None:
    lp = Loop(mode="suggest")
    lp.site.wave("bots", 40, 1000, 300, 200)
    for t in range(41):
        lp.second(t)
    assert lp.rules() == []
    (suggested,) = lp.loop.suggestions()
    assert set(suggested) == {"id", "step", "match", "estimated_collateral", "reason"}
    assert suggested["step"] == "block"
    assert lp.loop.engine.approve("no-such-rule") is False
    assert lp.loop.engine.approve(suggested["id"]) is True
    lp.second(41)
    assert lp.rules() == [(Action.BLOCK, frozenset({BOT_FP}))]
    assert lp.loop.suggestions() == []


def test_load_reads_the_admission_gate_and_counts_shed_since_the_last_tick() -> None:
    lp = Loop()
    gate = lp.ctx.admission
    assert gate is not None
    assert lp.loop.load() == Load(0, float(gate.limit.limit), 0, 0)
    lp.ctx.stats.shed[("unknown", "queue_full")] += 5
    lp.ctx.stats.shed[("known", "deadline")] += 2
    assert lp.loop.load().shed == 7
    assert lp.loop.load().shed == 0
    lp.ctx.stats.shed[("unknown", "queue_full")] += 1
    assert lp.loop.load().shed == 1


def test_load_without_admission_is_only_the_shed_count() -> None:
    ctx = EdgeContext(validate({**QUIET, "admission": {"enabled": False}}), ManualClock())
    loop = DetectionLoop(ctx, engine_settings(ctx.config), lambda d: None)
    assert ctx.admission is None
    assert loop.load() == Load()
    ctx.stats.shed[("unknown", "x")] += 3
    assert loop.load() == Load(shed=3)


def test_no_incident_sink_is_fine() -> None:
    lp = Loop()
    lp.loop.on_incident = None
    lp.site.wave("bots", 40, 1000, 300, 200)
    for t in range(42):
        lp.second(t)
    assert lp.rules() == [(Action.BLOCK, frozenset({BOT_FP}))]


def test_a_failing_tick_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    cfg = _cfg(interval=0.01)
    ctx = EdgeContext(cfg, SystemClock())
    loop = DetectionLoop(ctx, engine_settings(cfg), lambda d: None)
    real, calls = loop.engine.tick, []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    loop.engine.tick = flaky  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(loop.run(), name="detection-test")
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(calls) >= 4:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.ERROR, logger="seawall.detect"):
        asyncio.run(main())
    assert len(calls) >= 4
    failures = [r for r in caplog.records if "detection tick failed" in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info is not None and "boom" in str(failures[0].exc_info[1])
    assert ctx.stats.gauges["detection_rules"] == 0  # a later tick worked


# ---- end to end: a real edge, a real origin, real sockets --------------------------------------

BROWSER = (
    "GET {path} HTTP/1.1\r\nHost: site.test\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0\r\n"
    "Accept: text/html\r\nAccept-Language: en\r\nCookie: theme=dark\r\n\r\n"
)
FLOOD = (
    "GET /users/famous HTTP/1.1\r\nUser-Agent: flood/1.0\r\n"
    "Host: site.test\r\nX-Hammer: 1\r\nAccept: */*\r\n\r\n"
)
E2E: dict[str, Any] = {
    # the loop is ticked by the test, on the edge's thread, not by its timer
    "detection": {"interval": 3600},
    "admission": {"enabled": False},
    "cache": {"enabled": False},
}


def _sources(second_octet: int, n: int) -> Iterator[str]:
    for i in range(n):
        yield f"127.{second_octet}.{i // 200}.{1 + i % 200}"


PEOPLE = list(_sources(2, 300))
PATHS = ["/", "/feed", "/users/u1", "/users/u2", "/about"]


def _warm_up(e: Edge, template: Record, seconds: int = 40, rate: int = 60) -> None:
    """`seconds` of browser baseline, ending now on the edge's clock (too slow to live)."""
    clients = [parse_address(s) for s in PEOPLE]
    paths = PATHS

    def feed() -> None:
        det = e.worker.detection
        assert det is not None
        det.ctx.recorder.drain()
        # a fresh engine thinking in 1 s ticks; the loop's timer keeps its hour, so only
        # the test ticks it (an engine's first slice is one interval long: not an hour)
        det.engine = DetectionEngine(replace(det.engine.settings, interval=1.0))
        end = e.worker.ctx.clock.monotonic()
        wall = e.worker.ctx.clock.wall()
        for s in range(seconds):
            t = end - seconds + s
            recs = []
            for i in range(rate):
                client = clients[(s * rate + i) % len(clients)]
                assert client is not None
                path = paths[i % len(paths)]
                facts = msgspec.structs.replace(
                    template.facts,
                    client=client,
                    peer=client,
                    prefix=prefix_of(client),
                    path=path,
                    target=path,
                )
                recs.append(msgspec.structs.replace(template, facts=facts, time=wall - seconds + s))
            det.engine.observe_many(recs)
            det.engine.tick(t + 1.0 if s < seconds - 1 else end, wall=wall - seconds + s + 1)

    e.call(feed)


def test_a_flood_is_blocked_within_two_ticks_while_browsers_still_get_through() -> None:
    sink = Sink()
    with Edge(config=E2E) as e:
        e.call(lambda: e.worker.ctx.recorder.add_sink(sink))
        resp, _ = roundtrip(e.port, BROWSER.format(path="/").encode())
        assert resp.status_code == 200
        assert wait_until(lambda: len(e.call(lambda: list(sink.records))) == 1)
        (template,) = e.call(lambda: list(sink.records))
        _warm_up(e, template)
        assert e.call(lambda: e.worker.ctx.decider.ruleset.rules) == ()

        # people seen in the baseline, browsing as they did; bots from a range never seen
        browsers = [(PEOPLE[i * 7], PATHS[i % len(PATHS)]) for i in range(20)]
        flooders = list(_sources(4, 150))

        def browse(source: str, path: str) -> int:
            return _status(e.port, BROWSER.format(path=path).encode(), source)

        def flood(source: str) -> int:
            return _status(e.port, FLOOD.encode(), source)

        blocked = None
        for _ in range(2):
            jobs = [lambda s=s: flood(s) for s in flooders] + [
                lambda b=b: browse(*b) for b in browsers
            ]
            assert set(at_once(jobs[:60]) + at_once(jobs[60:120]) + at_once(jobs[120:])) == {200}
            e.call(e.worker.detection.tick)  # type: ignore[union-attr]
            rules = e.call(lambda: e.worker.ctx.decider.ruleset.rules)
            if rules:
                blocked = rules
                break
        assert blocked is not None, "no rule after two ticks"
        (rule,) = blocked
        assert rule.action is Action.BLOCK and rule.origin == "auto"
        # the flood's own /24s, or its header order: either tells it from the people
        fp = _fp_of(e, sink, "/users/famous")
        assert rule.match.header_fps == {fp} or set(rule.match.cidrs) <= {
            f"127.4.{i}.0/24" for i in range(256)
        }

        assert {flood(s) for s in flooders[:20]} == {CLOSED}  # blocked by closing, silently
        assert {browse(*b) for b in browsers} == {200}
        assert browse("127.9.9.9", "/feed") == 200  # a browser never seen before, too
        assert e.call(lambda: e.worker.ctx.stats.gauges["detection_rules"]) == 1


CLOSED = 0


def _status(port: int, raw: bytes, source: str) -> int:
    """The response's status, or CLOSED when the edge hung up without one."""
    try:
        return roundtrip(port, raw, "GET", source)[0].status_code
    except (h11.RemoteProtocolError, ConnectionError):
        return CLOSED


def _fp_of(e: Edge, sink: Sink, path: str) -> str:
    records = e.call(lambda: list(sink.records))
    return next(r.facts.header_fp for r in records if r.facts.path == path)


def test_a_connection_dropped_for_slowness_leaves_a_record_for_low_and_slow() -> None:
    """A head that never ends: the edge answers 408 and records it, with no request."""
    cfg = {"timeouts": {"head": 0.5, "idle": 1.0}, "detection": {"enabled": False}}
    with Edge(config=cfg) as e:
        sink = Sink()
        e.call(lambda: e.worker.ctx.recorder.add_sink(sink))
        with socket.create_connection(("127.0.0.1", e.port)) as s:
            s.settimeout(5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ")
            assert s.recv(4096).startswith(b"HTTP/1.1 408")
        e.call(e.worker.ctx.recorder.drain)
        (rec,) = [r for r in sink.records if r.error.startswith("slow")]
        assert rec.status == 408 and rec.error == "slow: head"
        assert rec.facts.client.text == "127.0.0.1" and rec.facts.method == ""
        line = combined_line(rec).decode()
        assert '"-" 408' in line  # as nginx logs a request it never got
