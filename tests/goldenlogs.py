"""The golden log samples under tests/data/logs, read and parsed as analyze reads them."""

from __future__ import annotations

from pathlib import Path

from seawall.analyze.formats import Batch, LogFormat
from seawall.analyze.read import read_chunks

LOGS = Path(__file__).resolve().parent / "data" / "logs"


def parse_file(fmt: LogFormat, name: str) -> Batch:
    """One golden sample (a single chunk) parsed by `fmt`."""
    chunks = list(read_chunks(LOGS / name))
    assert len(chunks) == 1
    first, lines = chunks[0]
    return fmt.parse(lines, first)
