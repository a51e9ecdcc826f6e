"""`seawall analyze`: read logs, parse them, replay them, and say what happened.

Reading and parsing run one chunk ahead in a second thread (the parser's kernels and
gzip release the GIL), so on two cores parsing overlaps the engine's work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.analyze import formats
from seawall.analyze.formats import Batch, LogFormat, LogFormatError
from seawall.analyze.read import ReadStats, peek_lines, read_chunks
from seawall.analyze.replay import Replay

MAX_SAMPLES = 20  # malformed lines quoted in the summary, over all files
Progress = Callable[[str, int, int, int], None]  # file, bytes read, bytes total, lines so far


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    paths: tuple[str, ...]
    fmt: str = "auto"
    chunk_lines: int = 65_536


@dataclass(slots=True)
class FileResult:
    path: str
    format: str
    lines: int = 0
    parsed: int = 0
    malformed: int = 0
    samples: list[tuple[int, str]] = field(default_factory=list)
    corrupt: str = ""
    gzip: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "lines": self.lines,
            "parsed": self.parsed,
            "malformed": self.malformed,
            "malformed_samples": [{"line": n, "text": t} for n, t in self.samples],
            "gzip": self.gzip,
            "corrupt": self.corrupt,
        }


def choose_format(path: str, fmt: str) -> LogFormat:
    """The named format, or the one the file's first lines fit (LogFormatError if none)."""
    if fmt != "auto":
        return formats.get(fmt)
    lines = peek_lines(path)
    if not lines:
        raise LogFormatError(f"{path}: the file has no lines to recognise a format from")
    try:
        return formats.detect(lines)
    except LogFormatError as exc:
        raise LogFormatError(f"{path}: {exc}") from None


def in_time_order(paths: tuple[str, ...], fmt: str) -> list[tuple[str, LogFormat]]:
    """Each file with its format, oldest first (rotated logs are usually named newest first)."""
    chosen = [(p, choose_format(p, fmt)) for p in paths]

    def first_time(item: tuple[str, LogFormat]) -> float:
        path, f = item
        if path == "-":
            return float("inf")
        batch = f.parse(peek_lines(path, 20), 1)
        return min(batch.time, default=float("inf"))

    return sorted(chosen, key=first_time)


def analyze(
    options: AnalyzeOptions, replay: Replay, progress: Progress | None = None
) -> dict[str, Any]:
    """Run every file through `replay`; the summary `seawall analyze --json` writes."""
    started = time.perf_counter()
    results = []
    for path, fmt in in_time_order(options.paths, options.fmt):
        results.append(_one_file(path, fmt, options.chunk_lines, replay, progress))
    incidents = replay.finish()
    elapsed = max(time.perf_counter() - started, 1e-9)
    lines = sum(r.lines for r in results)
    c = replay.counts
    samples = [{"file": r.path, "line": n, "text": t} for r in results for n, t in r.samples][
        :MAX_SAMPLES
    ]
    return {
        "files": [r.to_dict() for r in results],
        "lines": lines,
        "parsed": sum(r.parsed for r in results),
        "malformed": sum(r.malformed for r in results),
        "malformed_samples": samples,
        "corrupt": [f"{r.path}: {r.corrupt}" for r in results if r.corrupt],
        "records": c.records,
        "late": c.late,
        "skewed": c.skewed,
        "outside": c.outside,
        "bad_addresses": c.bad_addresses,
        "first": c.first,
        "last": c.last,
        "seconds": round(elapsed, 3),
        "lines_per_s": round(lines / elapsed),
        "incidents": incidents,
    }


def _one_file(
    path: str, fmt: LogFormat, chunk_lines: int, replay: Replay, progress: Progress | None
) -> FileResult:
    stats = ReadStats(path, 0, 0, False, "")
    result = FileResult(path, fmt.name)
    total = os.stat(path).st_size if path != "-" and Path(path).exists() else 0
    for batch in _parsed(read_chunks(path, chunk_lines, stats), fmt):
        replay.feed(batch)
        result.parsed += len(batch.time)
        result.malformed += batch.malformed_count
        room = MAX_SAMPLES - len(result.samples)
        if room > 0:
            result.samples.extend(batch.malformed[:room])
        if progress is not None:
            progress(path, stats.bytes, total, stats.lines)
    result.lines, result.corrupt, result.gzip = stats.lines, stats.corrupt, stats.gzip
    return result


def _parsed(chunks: Iterator[tuple[int, list[str]]], fmt: LogFormat) -> Iterator[Batch]:
    """Batches, each parsed in a worker thread while the previous one is replayed."""

    def next_batch() -> Batch | None:
        got = next(chunks, None)
        return None if got is None else fmt.parse(got[1], got[0])

    with ThreadPoolExecutor(1, thread_name_prefix="seawall-parse") as pool:
        ahead: Future[Batch | None] = pool.submit(next_batch)
        while True:
            batch = ahead.result()
            if batch is None:
                return
            ahead = pool.submit(next_batch)
            yield batch
