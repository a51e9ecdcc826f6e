"""The recorder: a bounded queue of records, drained to sinks off the hot path."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

from seawall.core.record import Record

log = logging.getLogger("seawall.recorder")


class RecordSink(Protocol):
    name: str

    def consume(self, records: list[Record]) -> None: ...

    def close(self) -> None: ...


class Recorder:
    """Never blocks the edge: when full, new records are dropped and counted."""

    __slots__ = ("_queue", "_sinks", "capacity", "dropped", "recorded")

    def __init__(self, capacity: int = 65_536) -> None:
        self._queue: deque[Record] = deque()
        self._sinks: list[RecordSink] = []
        self.capacity = capacity
        self.dropped = 0
        self.recorded = 0

    def add_sink(self, sink: RecordSink) -> None:
        self._sinks.append(sink)

    def record(self, rec: Record) -> None:
        if len(self._queue) >= self.capacity:
            self.dropped += 1
            return
        self._queue.append(rec)

    def drain(self, most: int = 0) -> int:
        """Hand what is queued (at most `most`, 0: all) to every sink; a failing sink is logged."""
        queue = self._queue
        if not queue:
            return 0
        if most and len(queue) > most:
            batch = [queue.popleft() for _ in range(most)]
        else:
            batch = list(queue)
            queue.clear()
        self.recorded += len(batch)
        for sink in self._sinks:
            try:
                sink.consume(batch)
            except Exception:  # a broken sink must not stop the edge
                log.exception("record sink %s failed; %d records lost to it", sink.name, len(batch))
        return len(batch)

    async def run(self, interval: float = 0.2, slice_size: int = 64) -> None:
        """Drain in slices, yielding between them, so a busy second never stalls the loop."""
        try:
            while True:
                await asyncio.sleep(interval)
                while self.drain(slice_size) == slice_size:  # noqa: ASYNC110  (yield, not wait)
                    await asyncio.sleep(0)
        finally:
            self.drain()

    def close(self) -> None:
        self.drain()
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:  # one sink failing to close must not keep others open
                log.exception("record sink %s failed to close", sink.name)
