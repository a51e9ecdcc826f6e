"""The format registry, detection, and contracts every log format keeps (fuzzed)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawall.analyze.formats import (
    ALIASES,
    FORMATS,
    HELP,
    MAX_SAMPLES,
    Batch,
    LogFormat,
    LogFormatError,
    build_batch,
    chunk_frame,
    detect,
    get,
    strings,
)
from seawall.analyze.read import is_blank, peek_lines, read_chunks

from goldenlogs import LOGS

TESTS = Path(__file__).resolve().parent.parent
GOLDEN = sorted(LOGS.glob("*.log"))


def golden_format(path: Path) -> str:
    """A golden sample is named after its format: combined.log, combined-syslog.log, ..."""
    return next(n for n in sorted(FORMATS, key=len, reverse=True) if path.stem.startswith(n))


# ---- house rule 6: every format has a golden sample with inline expectations ------------


def test_every_registered_format_has_a_golden_sample() -> None:
    sources = "\n".join(p.read_text() for p in (TESTS / "analyze").glob("test_*.py"))
    missing = []
    for name in FORMATS:
        files = [p for p in GOLDEN if golden_format(p) == name]
        tested = [p for p in files if f'"{p.name}"' in sources]
        if not tested:
            missing.append(f"{name}: no tests/data/logs/{name}*.log named in a test")
    assert not missing, "\n".join(missing)


def test_the_golden_check_sees_real_files() -> None:
    names = {p.name for p in GOLDEN}
    assert {"combined.log", "common.log", "caddy.log", "seawall.log"} <= names
    assert golden_format(LOGS / "nginx-json-msec.log") == "nginx-json"
    assert golden_format(LOGS / "combined-syslog.log") == "combined"


# ---- registry --------------------------------------------------------------------------


def test_registry() -> None:
    assert set(FORMATS) == {"combined", "common", "nginx-json", "caddy", "seawall"}
    for name, fmt in FORMATS.items():
        assert fmt.name == name or (name, fmt.name) == ("common", "combined")
        assert HELP[name]
    assert get("apache") is get("nginx") is get("combined") is get("common")
    assert set(ALIASES.values()) <= set(FORMATS)


def test_an_unknown_format_is_the_operators_error() -> None:
    with pytest.raises(LogFormatError) as e:
        get("w3c")
    message = str(e.value)
    assert "unknown log format 'w3c'" in message
    for name in ("combined", "common", "nginx-json", "caddy", "seawall", "apache"):
        assert name in message
    assert isinstance(e.value, ValueError)


# ---- detection -------------------------------------------------------------------------


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_each_golden_sample_is_detected_as_its_format(path: Path) -> None:
    fmt = detect(peek_lines(path))
    assert fmt.name == FORMATS[golden_format(path)].name


def test_detection_of_a_gzipped_sample(tmp_path: Path) -> None:
    path = tmp_path / "access.log.1"
    path.write_bytes(gzip.compress((LOGS / "caddy.log").read_bytes()))
    assert detect(peek_lines(path)).name == "caddy"


def test_garbage_is_not_recognised(tmp_path: Path) -> None:
    path = tmp_path / "random.bin"
    path.write_bytes(os.urandom(64 * 1024))
    with pytest.raises(LogFormatError) as e:
        detect(peek_lines(path))
    message = str(e.value)
    assert "the file's format is not recognised" in message
    assert "nginx-json" in message and "--format" in message


def test_a_file_half_of_another_kind_is_not_guessed() -> None:
    combined = (LOGS / "combined-vhost.log").read_text().splitlines()
    lines = combined + ["some other program's output"] * 3
    with pytest.raises(LogFormatError, match=r"combined parsed 40%"):
        detect(lines)
    assert detect([*combined, "x"]).name == "combined"


def test_nothing_at_all_is_not_recognised() -> None:
    with pytest.raises(LogFormatError, match="none parsed any"):
        detect(["", "  "])


def test_seawall_lines_are_seawall_not_some_nginx_json() -> None:
    lines = (LOGS / "seawall.log").read_text().splitlines()
    assert FORMATS["nginx-json"].sniff(lines) == FORMATS["seawall"].sniff(lines) > 0.5
    assert detect(lines).name == "seawall"


# ---- contracts, over every format ------------------------------------------------------

SAMPLE_LINES = [x for p in GOLDEN for x in p.read_text().splitlines() if not is_blank(x)]


def check_batch(batch: Batch, lines: list[str], first_line: int) -> None:
    """What every format's batch keeps, whatever the lines."""
    n = len(batch.line)
    columns = (
        batch.time,
        batch.client,
        batch.method,
        batch.host,
        batch.uri,
        batch.status,
        batch.bytes_out,
        batch.user_agent,
        batch.latency,
        *batch.extra.values(),
    )
    assert all(len(c) == n for c in columns)
    blank = sum(1 for x in lines if is_blank(x))
    assert n + batch.malformed_count + blank == len(lines)
    numbers = batch.line + [m for m, _ in batch.malformed]
    assert len(set(numbers)) == len(numbers)
    assert all(first_line <= m < first_line + len(lines) for m in numbers)
    assert not any(is_blank(lines[m - first_line]) for m in numbers)
    assert batch.line == sorted(batch.line)
    assert len(batch.malformed) == min(MAX_SAMPLES, batch.malformed_count)
    for m, text in batch.malformed:
        assert text == lines[m - first_line][:200]
    assert all(isinstance(x, float) for x in batch.time + batch.latency)
    assert all(type(x) is int for x in batch.status + batch.bytes_out)
    text = (batch.client, batch.method, batch.host, batch.uri, batch.user_agent)
    assert all(isinstance(x, str) for c in text for x in c)
    assert all(h == h.lower() for h in batch.host)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_keeps_the_batch_contract_on_the_golden_lines(name: str) -> None:
    fmt = get(name)
    batch = fmt.parse(SAMPLE_LINES, 100)
    check_batch(batch, SAMPLE_LINES, 100)
    assert len(batch.line) > 0


_line = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace")),
    st.sampled_from(SAMPLE_LINES),
    # golden lines cut, doubled or with bytes spliced in
    st.tuples(st.sampled_from(SAMPLE_LINES), st.integers(0, 400), st.text(max_size=8)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    ),
    st.sampled_from(["", " ", "\t", "{}", "[]", "null", '"x"', "{", '{"status":200}', "-"]),
).map(lambda s: s.replace("\n", ""))


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(_line, max_size=25), first_line=st.integers(1, 10**9))
def test_any_line_parses_or_is_counted(lines: list[str], first_line: int) -> None:
    for fmt in {id(f): f for f in FORMATS.values()}.values():
        check_batch(fmt.parse(lines, first_line), lines, first_line)
        share = fmt.sniff(lines)
        assert 0.0 <= share <= 1.0


@settings(max_examples=50, deadline=None)
@given(lines=st.lists(_line, max_size=25))
def test_detect_answers_a_format_or_the_files_error(lines: list[str]) -> None:
    try:
        fmt: LogFormat = detect(lines)
    except LogFormatError as e:
        assert "not recognised" in str(e)
    else:
        assert fmt.sniff(lines) >= 0.5


def test_formats_read_chunk_after_chunk(tmp_path: Path) -> None:
    """Line numbers run on across chunks, and every chunk counts its own malformed lines."""
    path = tmp_path / "big.log"
    text = (LOGS / "combined.log").read_text() + "\n"
    path.write_text(text * 7)
    fmt = detect(peek_lines(path))
    lines = text.splitlines()
    total_rows = total_bad = 0
    for first, chunk in read_chunks(path, 10):
        batch = fmt.parse(chunk, first)
        check_batch(batch, chunk, first)
        total_rows += len(batch.line)
        total_bad += batch.malformed_count
    assert (total_rows, total_bad) == (12 * 7, 3 * 7)
    assert len(lines) == 16


# ---- helpers ---------------------------------------------------------------------------


def test_chunk_frame_drops_blank_lines_and_numbers_the_rest() -> None:
    lines = ["a", "", " \t\r\x0b\x0c", "b", "\x1c", "\u3000"]
    frame = chunk_frame(lines, 41)
    kept = [41, 44, 45, 46]  # only ASCII blanks are blank, the same for str and polars
    assert frame.to_dict(as_series=False) == {"line": kept, "text": [lines[n - 41] for n in kept]}
    assert [is_blank(x) for x in lines] == [False, True, True, False, False, False]


def test_strings_share_repeated_values() -> None:
    column = pl.Series(["GET", "POST", "GET"] * 1000)
    values = strings(column)
    assert values == column.to_list()
    assert values[0] is values[2]
    single = strings(pl.Series(["x"] * 5))
    assert single == ["x"] * 5
    many = pl.Series([f"/p/{i}" for i in range(5000)])
    assert strings(many) == many.to_list()
    assert strings(pl.Series([], dtype=pl.String)) == []


def test_build_batch_orders_rows_by_line() -> None:
    good = pl.DataFrame(
        {
            "line": [3, 1],
            "time": [3.0, 1.0],
            "client": ["c3", "c1"],
            "method": ["GET", "GET"],
            "host": ["", ""],
            "uri": ["/3", "/1"],
            "status": [200, 404],
            "bytes_out": [3, 1],
            "user_agent": ["", ""],
            "latency": [0.0, 0.5],
            "extra": ["e3", "e1"],
        }
    )
    bad = pl.DataFrame({"line": [2], "text": ["junk"]})
    b = build_batch(good, bad, ("extra",))
    assert (b.line, b.uri, b.status, b.latency) == ([1, 3], ["/1", "/3"], [404, 200], [0.5, 0.0])
    assert b.extra == {"extra": ["e1", "e3"]}
    assert (b.malformed, b.malformed_count) == ([(2, "junk")], 1)
