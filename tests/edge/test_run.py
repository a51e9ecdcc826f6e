"""The admin API's controls: one in-process worker, or a supervisor over worker processes.

No worker process is spawned here: the supervisor is fed snapshots and pipes directly.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest

from seawall.config.load import validate
from seawall.config.schema import Config
from seawall.core.facts import ClientClass
from seawall.core.rules import Match, Rule, RulesetDelta
from seawall.core.verdict import Action
from seawall.edge.run import LocalControl, Supervisor
from seawall.edge.server import EdgeWorker
from seawall.edge.stats import EdgeStats, merge
from seawall.runtime.clock import ManualClock

from harness import free_port


def config(**extra: Any) -> Config:
    data: dict[str, Any] = {
        "listeners": [{"address": "127.0.0.1:0"}],
        "origins": [{"url": f"http://127.0.0.1:{free_port()}"}],
        "log": {"access_log": ""},
        "admin": {"listen": ""},
        "rules": [{"id": "static", "action": "block", "match": {"paths": ["/admin"]}}],
        **extra,
    }
    return validate(data)


BLOCK_X = Rule("x", Action.BLOCK, Match(paths=("/x",)))


# ---- LocalControl ----------------------------------------------------------------------------


def test_local_control_is_ready_only_while_listening_and_not_draining() -> None:
    async def main() -> None:
        worker = EdgeWorker(config(), ManualClock())
        control = LocalControl(worker)
        assert not control.ready()  # not started
        await worker.start()
        try:
            assert control.ready()
            worker.ctx.draining = True
            assert not control.ready()
        finally:
            await worker.stop()

    asyncio.run(main())


def test_local_control_rules_go_to_the_workers_decider() -> None:
    worker = EdgeWorker(config(), ManualClock())
    control = LocalControl(worker)
    before = control.ruleset()
    assert [r.id for r in before.rules] == ["static"]
    after = control.apply(RulesetDelta(add=(BLOCK_X,)))
    assert after is control.ruleset() is worker.ctx.decider.ruleset
    assert after.version == before.version + 1
    assert {r.id for r in after.rules} == {"static", "x"}
    after = control.apply(RulesetDelta(remove=("static",)))
    assert [r.id for r in after.rules] == ["x"]


def test_local_control_stats_are_the_workers_snapshot() -> None:
    worker = EdgeWorker(config(), ManualClock())
    control = LocalControl(worker)
    assert control.stats() == EdgeStats().snapshot()
    worker.ctx.stats.statuses[200] += 2
    worker.ctx.stats.requests[(Action.ALLOW, ClientClass.USER, "home")] += 2
    snap = control.stats()
    assert snap["statuses"] == {200: 2}
    assert snap["requests"] == {("allow", "user", "home"): 2}


# ---- Supervisor ------------------------------------------------------------------------------


@pytest.fixture
def pipes() -> Iterator[list[tuple[Any, Any]]]:
    made: list[tuple[Any, Any]] = []
    yield made
    for a, b in made:
        a.close()
        b.close()


def pipe(made: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    pair = multiprocessing.get_context("fork").Pipe()
    made.append(pair)
    return pair


class DeadPipe:
    """A worker's pipe whose other end is gone."""

    def send(self, message: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        return -1


def test_supervisor_starts_from_the_configured_rules() -> None:
    sup = Supervisor(config(workers=2))
    assert [r.id for r in sup.ruleset().rules] == ["static"]
    assert sup.procs == {} and sup.pipes == {}  # nothing spawned by construction


def test_supervisor_apply_updates_its_ruleset_and_tells_every_worker(
    pipes: list[tuple[Any, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    sup = Supervisor(config(workers=3))
    before = sup.ruleset()
    (p0, c0), (p2, c2) = pipe(pipes), pipe(pipes)
    sup.pipes = {0: p0, 1: DeadPipe(), 2: p2}  # type: ignore[dict-item]
    delta = RulesetDelta(add=(BLOCK_X,), remove=("static",))
    with caplog.at_level(logging.WARNING, logger="seawall.run"):
        after = sup.apply(delta)
    assert after is sup.ruleset()
    assert after.version == before.version + 1
    assert [r.id for r in after.rules] == ["x"]
    for child in (c0, c2):  # the dead worker does not stop the others
        assert child.poll(5)
        assert child.recv() == ("apply", delta)
    assert [r.getMessage() for r in caplog.records if r.name == "seawall.run"] == [
        "a worker missed a rule change; it is resynced when restarted"
    ]


def _snapshot(status: int, n: int, route: str, latency: float) -> dict[str, Any]:
    s = EdgeStats()
    s.statuses[status] += n
    s.requests[(Action.ALLOW, ClientClass.ANONYMOUS, route)] += n
    s.observe_latency(route, latency)
    s.connections_total = n
    s.gauges["pool_idle"] = n
    return s.snapshot()


def test_supervisor_stats_merge_the_workers_snapshots() -> None:
    sup = Supervisor(config(workers=3))
    assert sup.stats() == merge([])  # no worker has reported yet
    a, b, c = (
        _snapshot(200, 2, "home", 0.01),
        _snapshot(200, 3, "home", 0.02),
        _snapshot(404, 1, "api", 0.3),
    )
    sup.snapshots = {0: a, 1: b, 2: c}
    out = sup.stats()
    assert out == merge([a, b, c])
    assert out["statuses"] == {200: 5, 404: 1}
    assert out["requests"] == {
        ("allow", "anonymous", "home"): 5,
        ("allow", "anonymous", "api"): 1,
    }
    assert out["connections_total"] == 6
    assert out["gauges"] == {"pool_idle": 6}
    assert sum(out["latency"]["home"][0]) == 2
    sup.snapshots[1] = _snapshot(200, 10, "home", 0.02)  # a newer report replaces the older
    assert sup.stats()["statuses"] == {200: 12, 404: 1}


def test_supervisor_reads_ready_and_stats_messages_from_worker_pipes(
    pipes: list[tuple[Any, Any]],
) -> None:
    sup = Supervisor(config(workers=2))
    (p0, c0), (p1, c1) = pipe(pipes), pipe(pipes)
    sup.pipes = {0: p0, 1: p1}

    async def main() -> None:
        c0.send(("ready", [("127.0.0.1", 8080)]))
        sup._on_message(0)
        assert not sup.ready()  # one of two
        c1.send(("ready", [("127.0.0.1", 8080)]))
        sup._on_message(1)
        assert sup.ready()
        c1.send(("stats", _snapshot(200, 4, "home", 0.01)))
        sup._on_message(1)
        assert sup.stats()["statuses"] == {200: 4}
        c0.close()  # worker 0 is gone: EOF is not an error
        asyncio.get_running_loop().add_reader(p0.fileno(), lambda: None)
        sup._on_message(0)
        assert sup.stats()["statuses"] == {200: 4}
        sup.stopping = True
        assert not sup.ready()

    asyncio.run(main())


def test_supervisor_spreads_detection_to_every_worker_and_keeps_incidents(
    pipes: list[tuple[Any, Any]], tmp_path: Any
) -> None:
    """A worker's rules reach all workers; its incidents and suggestions reach the API."""
    sup = Supervisor(config(workers=2, store={"path": str(tmp_path / "inc.db")}))
    assert len(sup.cfg.challenge.secret) >= 32  # one pass key for every worker, made once
    (p0, c0), (p1, c1) = pipe(pipes), pipe(pipes)
    sup.pipes = {0: p0, 1: p1}
    delta = RulesetDelta(add=(BLOCK_X,))
    report = {"id": "inc-1-1", "start": 1.0, "detected": 2.0, "end": None, "vectors": ["x"]}
    suggestion = {"id": "auto-abc", "step": "block", "match": "header_fp=f"}

    async def main() -> None:
        c1.send(("delta", delta))
        c1.send(("incident", report))
        c0.send(("suggestions", [suggestion]))
        for index in (1, 1, 0):
            assert sup.pipes[index].poll(5)
            sup._on_message(index)
        await asyncio.sleep(0.2)  # the save runs in a thread

    asyncio.run(main())
    assert [r.id for r in sup.ruleset().rules] == ["static", "x"]
    for child in (c0, c1):  # the worker that found it is told too, like every other
        assert child.poll(5) and child.recv() == ("apply", delta)
    (saved,) = sup.incidents()  # the host's incident, from worker 1's share so far
    assert saved["id"] == "inc-1-1-host" and saved["workers"] == [1]
    assert saved["vectors"] == ["x"] and saved["time_to_detect_s"] == 1.0
    assert sup.incident("inc-1-1-host") == {**saved, "timeline": []}  # in full, by id
    assert sup.suggestions() == [suggestion]
    assert sup.approve("auto-nope") is False
    assert sup.approve("auto-abc") is True
    for child in (c0, c1):
        assert child.poll(5) and child.recv() == ("approve", "auto-abc")
    sup.store.close()
