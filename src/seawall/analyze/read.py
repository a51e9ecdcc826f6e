"""Reading access logs in chunks of lines: plain or gzip (by magic bytes), a file or stdin.

Nothing loads a whole file. Bytes are decoded as UTF-8 with replacement, so no byte sequence
raises; lines split on "\\n" only (a "\\r" before it is dropped), never on the other line
breaks str.splitlines() knows, which a user agent may carry. A gzip stream that ends early
or goes bad stops the reading with ReadStats.corrupt saying so, and what came before it is
kept. A line longer than MAX_LINE is cut there (it will not parse; memory stays bounded).
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

BLOCK = 1 << 18  # bytes read (and at most inflated) at a time
MAX_LINE = 1 << 20  # more than a block, so most blocks need no line-length check
GZIP_MAGIC = b"\x1f\x8b"
BLANK = " \t\x0b\x0c\r"  # a line of only these is blank: skipped, though it has a number


def is_blank(line: str) -> bool:
    return not line.strip(BLANK)


@dataclass
class ReadStats:
    path: str
    lines: int = 0  # lines yielded so far, blank ones included
    bytes: int = 0  # bytes consumed: compressed bytes for gzip (for a progress bar)
    gzip: bool = False
    corrupt: str = ""  # "" or what went wrong; what was read before it was kept


class _Stdin:
    """Standard input, with the bytes peek_lines() read put back in front."""

    pushed = b""

    @classmethod
    def blocks(cls) -> Iterator[bytes]:
        if cls.pushed:
            head, cls.pushed = cls.pushed, b""
            yield head
        # read1: hand over what a pipe has now, not wait for a whole block
        stdin = sys.stdin.buffer
        while block := stdin.read1(BLOCK) if hasattr(stdin, "read1") else stdin.read(BLOCK):
            yield block


def _raw(path: str | Path) -> Generator[bytes, None, None]:
    if str(path) == "-":
        yield from _Stdin.blocks()
        return
    with open(path, "rb") as stream:
        while block := stream.read(BLOCK):
            yield block


def _gunzip(blocks: Iterator[bytes], pending: bytes, stats: ReadStats) -> Iterator[bytes]:
    """Inflate gzip members one after another (as `cat a.gz b.gz` makes), bounded output."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    in_member = False  # bytes of the current member have been inflated, its end not yet seen
    while True:
        if not pending:
            pending = next(blocks, b"")
            if not pending:
                break
        if not in_member:
            padded = len(pending)
            pending = pending.lstrip(b"\x00")  # some writers pad after the last member
            stats.bytes += padded - len(pending)
            if not pending:
                continue
            if pending[:2] != GZIP_MAGIC[: len(pending[:2])]:
                stats.corrupt = f"gzip stream corrupt after {stats.bytes} bytes: not gzip data"
                return
            in_member = True
        try:
            out = inflate.decompress(pending, BLOCK)
        except zlib.error as e:
            stats.corrupt = f"gzip stream corrupt after {stats.bytes} bytes: {e}"
            return
        rest = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
        stats.bytes += len(pending) - len(rest)
        pending = rest
        if out:
            yield out
        if inflate.eof:
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            in_member = False
    if in_member:
        stats.corrupt = (
            f"gzip stream truncated after {stats.bytes} bytes: it ends before its end marker "
            "(a file still being written, or a copy cut short); the lines before it were read"
        )


def _data(blocks: Iterator[bytes], stats: ReadStats) -> Iterator[bytes]:
    """The bytes, inflated when they start with gzip's magic (whatever the file's name)."""
    first = next(blocks, b"")
    while 0 < len(first) < len(GZIP_MAGIC):  # a pipe may hand over a single byte first
        more = next(blocks, b"")
        if not more:
            break
        first += more
    if first.startswith(GZIP_MAGIC):
        stats.gzip = True
        yield from _gunzip(blocks, first, stats)
        return
    if first:
        stats.bytes += len(first)
        yield first
    for block in blocks:
        stats.bytes += len(block)
        yield block


def _lines(blocks: Iterator[bytes], stats: ReadStats) -> Iterator[list[str]]:
    """Lists of lines, in order. A line cut short by a bad gzip stream is dropped."""
    rest = b""  # the start of a line whose end is still to come
    skipping = False  # inside a line longer than MAX_LINE, whose start was yielded
    for block in _data(blocks, stats):
        start = 0
        if skipping:
            start = block.find(b"\n") + 1
            if not start:
                continue
            skipping = False
        end = block.rfind(b"\n")
        if end < start:
            rest += block[start:]
            if len(rest) > MAX_LINE:
                yield [_decode(rest[:MAX_LINE], ended=False)]
                rest, skipping = b"", True
            continue
        data = rest + block[start:end]
        lines = _decode(data).split("\n")
        rest = block[end + 1 :]
        if len(data) > MAX_LINE and max(map(len, lines)) > MAX_LINE:
            lines = [x[:MAX_LINE] for x in lines]
        yield lines
    if rest and not stats.corrupt:
        yield [_decode(rest[:MAX_LINE], ended=False)]


def _decode(data: bytes, ended: bool = True) -> str:
    """Text of whole lines; ended: data stops just before a "\n" (so a "\r" there is CRLF's)."""
    text = data.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if ended and text.endswith("\r"):
            text = text[:-1]
    return text


def read_chunks(
    path: str | Path, chunk_lines: int = 65536, stats: ReadStats | None = None
) -> Iterator[tuple[int, list[str]]]:
    """(number of the chunk's first line, its lines without terminators); "-" is stdin."""
    if chunk_lines < 1:
        raise ValueError(f"chunk_lines must be at least 1, not {chunk_lines}")
    stats = stats if stats is not None else ReadStats(str(path))
    pending: list[str] = []
    first = 1
    for lines in _lines(_raw(path), stats):
        pending += lines
        while len(pending) >= chunk_lines:
            chunk, pending = pending[:chunk_lines], pending[chunk_lines:]
            stats.lines += len(chunk)
            yield first, chunk
            first += len(chunk)
    if pending:
        stats.lines += len(pending)
        yield first, pending


def peek_lines(path: str | Path, n: int = 50) -> list[str]:
    """The first n non-blank lines, for detect(). From stdin, the bytes read are put back."""
    taken: list[bytes] = []

    def recorded(blocks: Iterator[bytes]) -> Iterator[bytes]:
        for block in blocks:
            taken.append(block)
            yield block

    found: list[str] = []
    raw = _raw(path)
    try:
        for lines in _lines(recorded(raw), ReadStats(str(path))):
            found += [x for x in lines if not is_blank(x)]
            if len(found) >= n:
                break
    finally:
        raw.close()  # closes the file now, not when the generator is collected
    if str(path) == "-":
        _Stdin.pushed = b"".join(taken) + _Stdin.pushed
    return found[:n]
