"""The recorder: bounded, counted, and a broken sink never stops the others."""

from __future__ import annotations

import asyncio
import logging

import pytest

from seawall.core.record import Record
from seawall.core.verdict import ALLOW
from seawall.edge.recorder import Recorder

from corefacts import make_facts


def rec(n: int) -> Record:
    return Record(make_facts(), ALLOW, 200, 0, 0, 0.0, 0.0, "", f"r{n}", 1_700_000_000.0)


class ListSink:
    """An in-memory sink: keeps every batch it is handed."""

    def __init__(self, name: str = "list", log: list[str] | None = None) -> None:
        self.name = name
        self.batches: list[list[str]] = []
        self.closed = False
        self.log = log if log is not None else []

    def consume(self, records: list[Record]) -> None:
        self.log.append(self.name)
        self.batches.append([r.request_id for r in records])

    def close(self) -> None:
        self.closed = True


class BrokenSink(ListSink):
    def consume(self, records: list[Record]) -> None:
        self.log.append(self.name)
        raise OSError("disk full")


def test_full_queue_drops_new_records_and_counts_them() -> None:
    r = Recorder(capacity=3)
    sink = ListSink()
    r.add_sink(sink)
    for i in range(5):
        r.record(rec(i))
    assert r.dropped == 2
    assert r.drain() == 3
    assert sink.batches == [["r0", "r1", "r2"]]  # the oldest are kept, the newest dropped
    assert r.recorded == 3
    r.record(rec(5))  # room again after a drain
    assert r.dropped == 2
    assert r.drain() == 1
    assert r.recorded == 4


def test_drain_of_an_empty_queue_calls_no_sink() -> None:
    r = Recorder()
    sink = ListSink()
    r.add_sink(sink)
    assert r.drain() == 0
    assert sink.batches == []


def test_drain_hands_the_same_batch_to_every_sink_in_order() -> None:
    calls: list[str] = []
    r = Recorder()
    a, b = ListSink("a", calls), ListSink("b", calls)
    r.add_sink(a)
    r.add_sink(b)
    r.record(rec(1))
    r.record(rec(2))
    r.drain()
    r.record(rec(3))
    r.drain()
    assert calls == ["a", "b", "a", "b"]
    assert a.batches == b.batches == [["r1", "r2"], ["r3"]]


def test_a_raising_sink_is_logged_and_the_others_still_get_the_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = Recorder()
    broken, good = BrokenSink("broken"), ListSink("good")
    r.add_sink(broken)
    r.add_sink(good)
    r.record(rec(1))
    r.record(rec(2))
    with caplog.at_level(logging.ERROR, logger="seawall.recorder"):
        assert r.drain() == 2
    assert good.batches == [["r1", "r2"]]
    [entry] = caplog.records
    assert entry.levelno == logging.ERROR
    assert entry.getMessage() == "record sink broken failed; 2 records lost to it"
    assert entry.exc_info is not None and isinstance(entry.exc_info[1], OSError)
    assert r.recorded == 2


def test_run_drains_periodically_and_once_more_when_cancelled() -> None:
    sink = ListSink()

    async def main() -> None:
        r = Recorder()
        r.add_sink(sink)
        task = asyncio.get_running_loop().create_task(r.run(interval=0.01), name="recorder")
        r.record(rec(1))
        for _ in range(200):
            if sink.batches:
                break
            await asyncio.sleep(0.01)
        assert sink.batches == [["r1"]]  # drained by the loop, not by a cancel
        r.record(rec(2))
        r.record(rec(3))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sink.batches == [["r1"], ["r2", "r3"]]

    asyncio.run(main())


def test_close_drains_then_closes_every_sink() -> None:
    r = Recorder()
    a, b = ListSink("a"), ListSink("b")
    r.add_sink(a)
    r.add_sink(b)
    r.record(rec(1))
    r.close()
    assert a.batches == b.batches == [["r1"]]
    assert a.closed and b.closed
