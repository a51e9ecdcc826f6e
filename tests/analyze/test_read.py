"""Reading logs in chunks: plain and gzip, cut or corrupt gzip, odd bytes, stdin."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawall.analyze import read
from seawall.analyze.read import ReadStats, peek_lines, read_chunks

ROOT = Path(__file__).resolve().parent.parent.parent


def all_lines(path: Path, chunk_lines: int = 65536, stats: ReadStats | None = None) -> list[str]:
    out: list[str] = []
    for first, lines in read_chunks(path, chunk_lines, stats):
        assert first == len(out) + 1
        assert lines
        out += lines
    return out


def expected(data: bytes) -> list[str]:
    """What reading must give: UTF-8 with replacement, split on \\n only, CRLF as LF."""
    if not data:
        return []
    pieces = data.split(b"\n")
    if data.endswith(b"\n"):
        pieces.pop()
    out = []
    for i, piece in enumerate(pieces):
        ended = i < len(pieces) - 1 or data.endswith(b"\n")
        text = piece[:-1] if ended and piece.endswith(b"\r") else piece
        out.append(text.decode("utf-8", "replace"))
    return out


def test_chunks_number_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("".join(f"line {i}\n" for i in range(1, 11)))
    chunks = list(read_chunks(path, 4))
    assert [(first, len(lines)) for first, lines in chunks] == [(1, 4), (5, 4), (9, 2)]
    assert chunks[2][1] == ["line 9", "line 10"]


def test_line_ends_and_odd_bytes(tmp_path: Path) -> None:
    path = tmp_path / "odd.log"
    data = (
        b"crlf\r\n"
        b"\n"  # a blank line keeps its number
        b"bad \xff\xfe utf-8 \xe2\x82\n"
        b"next\x85line\xe2\x80\xa8sep\x0bvt\x0cff\n"  # not line breaks here
        b"bare\rcr\n"
        b"no newline at the end"
    )
    path.write_bytes(data)
    stats = ReadStats(str(path))
    lines = all_lines(path, stats=stats)
    assert lines == [
        "crlf",
        "",
        "bad \ufffd\ufffd utf-8 \ufffd",
        "next\ufffdline\u2028sep\x0bvt\x0cff",
        "bare\rcr",
        "no newline at the end",
    ]
    assert lines == expected(data)
    assert (stats.lines, stats.bytes, stats.gzip, stats.corrupt) == (6, len(data), False, "")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    stats = ReadStats(str(path))
    assert list(read_chunks(path, stats=stats)) == []
    assert (stats.lines, stats.bytes, stats.corrupt) == (0, 0, "")


def test_gzip_is_known_by_its_magic_not_its_name(tmp_path: Path) -> None:
    text = "".join(f"{i} - - [x] y\n" for i in range(1000))
    zipped = tmp_path / "access.log"  # gzip without .gz
    zipped.write_bytes(gzip.compress(text.encode()))
    plain = tmp_path / "access.log.gz"  # .gz that is plain text
    plain.write_text(text)
    for path, is_gzip in ((zipped, True), (plain, False)):
        stats = ReadStats(str(path))
        assert all_lines(path, 300, stats) == text.splitlines()
        assert stats.gzip is is_gzip
        assert stats.bytes == path.stat().st_size  # compressed bytes for gzip
        assert stats.corrupt == ""
        assert stats.lines == 1000


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    path = tmp_path / "rotated.gz"
    # `cat a.gz b.gz`; the first member ends mid-line, as logrotate's copies can
    path.write_bytes(
        gzip.compress(b"one\ntwo\nthr") + gzip.compress(b"ee\nfour\n") + gzip.compress(b"")
    )
    stats = ReadStats(str(path))
    assert all_lines(path, stats=stats) == ["one", "two", "three", "four"]
    assert stats.corrupt == ""
    assert stats.bytes == path.stat().st_size


def test_zero_padding_after_the_last_member_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "padded.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + b"\x00" * 512)
    stats = ReadStats(str(path))
    assert all_lines(path, stats=stats) == ["a", "b"]
    assert stats.corrupt == ""


def test_a_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    lines = [f"203.0.113.{i % 250} - - request number {i} " + "x" * (i % 50) for i in range(20000)]
    whole = gzip.compress("\n".join(lines).encode() + b"\n")
    path = tmp_path / "cut.log.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    stats = ReadStats(str(path))
    got = all_lines(path, 1000, stats)
    assert 0 < len(got) < len(lines)
    assert got == lines[: len(got)]  # complete lines only: the one cut short is dropped
    assert stats.corrupt.startswith(f"gzip stream truncated after {path.stat().st_size} bytes: ")
    assert stats.lines == len(got)
    assert stats.gzip


def test_gzip_without_its_trailer_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "notrailer.gz"
    path.write_bytes(gzip.compress(b"a\nb\n")[:-8])  # CRC and size missing
    stats = ReadStats(str(path))
    assert all_lines(path, stats=stats) == ["a", "b"]
    assert "truncated" in stats.corrupt


def test_a_corrupt_gzip_stops_with_a_reason(tmp_path: Path) -> None:
    lines = [f"line {i} " + "y" * (i % 70) for i in range(50000)]
    data = bytearray(gzip.compress("\n".join(lines).encode()))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # a damaged block
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(data))
    stats = ReadStats(str(path))
    got = all_lines(path, stats=stats)
    assert stats.corrupt.startswith("gzip stream corrupt after ")
    assert len(got) < len(lines)
    # inflate may hand over a few damaged bytes before it notices: the lines before them hold
    assert got[: len(got) // 2] == lines[: len(got) // 2]


def test_a_crc_mismatch_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(b"a\nb\n"))
    data[-8] ^= 0xFF  # the CRC
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(data))
    stats = ReadStats(str(path))
    all_lines(path, stats=stats)
    assert stats.corrupt.startswith("gzip stream corrupt after ")


def test_garbage_after_a_gzip_member(tmp_path: Path) -> None:
    path = tmp_path / "trailing.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + b"not gzip at all\n")
    stats = ReadStats(str(path))
    assert all_lines(path, stats=stats) == ["a", "b"]
    assert stats.corrupt.endswith("not gzip data")


def test_a_gzip_bomb_is_read_in_bounded_pieces(tmp_path: Path) -> None:
    inflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = (b"z" * 99 + b"\n") * 10_000  # 1 MB
    data = b"".join(inflate.compress(block) for _ in range(64)) + inflate.flush()
    path = tmp_path / "bomb.gz"
    path.write_bytes(data)
    assert len(data) < 300_000
    seen = 0
    for _, lines in read_chunks(path, 65536):
        assert len(lines) <= 65536
        seen += len(lines)
    assert seen == 640_000


def test_a_line_longer_than_the_limit_is_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read, "BLOCK", 64)
    monkeypatch.setattr(read, "MAX_LINE", 100)
    path = tmp_path / "long.log"
    path.write_bytes(b"short\n" + b"L" * 1000 + b"\nafter\n" + b"M" * 150 + b"\nend")
    assert all_lines(path) == ["short", "L" * 100, "after", "M" * 100, "end"]


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from(
                [b"\n", b"\r\n", b"\r", b"\n\n", b"\xe2\x82", b"\xc3\xa9", b"\x1f\x8b"]
            ),
        ),
        max_size=30,
    ).map(b"".join),
    block=st.integers(1, 16),
    chunk=st.integers(1, 5),
    compress=st.booleans(),
)
def test_any_bytes_read_as_their_lines(
    data: bytes, block: int, chunk: int, compress: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "any.log"
    if data.startswith(b"\x1f\x8b") and not compress:
        data = b"x" + data  # would be taken for gzip, rightly
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(read, "BLOCK", block)  # lines and CRLFs across block boundaries
        stats = ReadStats(str(path))
        assert all_lines(path, chunk, stats) == expected(data)
    assert stats.corrupt == ""
    assert stats.bytes == path.stat().st_size


def test_peek_lines_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.log.gz"
    path.write_bytes(gzip.compress(b"\n\n  \na\n\nb\nc\nd\n"))
    assert peek_lines(path, 3) == ["a", "b", "c"]
    assert peek_lines(path) == ["a", "b", "c", "d"]


def test_read_chunks_refuses_a_chunk_of_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chunk_lines"):
        next(read_chunks(tmp_path / "x", 0))


def test_a_missing_file_says_which() -> None:
    with pytest.raises(FileNotFoundError, match=r"no-such\.log"):
        next(read_chunks("/nonexistent/no-such.log"))


@pytest.mark.parametrize("compress", [False, True])
def test_stdin_after_a_peek_loses_nothing(compress: bool) -> None:
    text = "".join(f"line {i}\n" for i in range(5000))
    data = gzip.compress(text.encode()) if compress else text.encode()
    script = (
        "from seawall.analyze.read import ReadStats, peek_lines, read_chunks\n"
        "print(peek_lines('-', 3))\n"
        "stats = ReadStats('-')\n"
        "chunks = list(read_chunks('-', 1000, stats))\n"
        "print(len(chunks), chunks[0][1][0], chunks[-1][0], chunks[-1][1][-1], stats.gzip)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", script], input=data, capture_output=True, check=True, env=env
    ).stdout.decode()
    assert out.splitlines() == [
        "['line 0', 'line 1', 'line 2']",
        f"5 line 0 4001 line 4999 {compress}",
    ]
