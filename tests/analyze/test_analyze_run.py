"""The analyze driver: formats chosen, files put in time order, the summary's figures."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from seawall.analyze.formats import LogFormatError
from seawall.analyze.replay import Replay
from seawall.analyze.run import MAX_SAMPLES, AnalyzeOptions, analyze, choose_format, in_time_order

from replaylog import attack_log, combined_log, ordinary

T0 = 1_700_000_000.0


def test_the_format_is_named_or_recognised(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(combined_log(ordinary(T0, 2, 5)))
    assert choose_format(str(log), "auto").name == "combined"
    assert choose_format(str(log), "nginx").name == "combined"  # an alias
    empty = tmp_path / "empty.log"
    empty.write_text("\n\n")
    with pytest.raises(LogFormatError, match=r"empty\.log"):
        choose_format(str(empty), "auto")


def test_rotated_files_are_read_oldest_first(tmp_path: Path) -> None:
    old, new = tmp_path / "access.log.2.gz", tmp_path / "access.log"
    old.write_bytes(gzip.compress(combined_log(ordinary(T0, 5, 5)).encode()))
    new.write_text(combined_log(ordinary(T0 + 5, 5, 5, seed=9)))
    order = [p for p, _ in in_time_order((str(new), str(old)), "auto")]
    assert order == [str(old), str(new)]


def test_the_summary_counts_lines_malformed_samples_and_incidents(tmp_path: Path) -> None:
    good = tmp_path / "access.log"
    junk = "\n".join(f"junk {i}" for i in range(MAX_SAMPLES + 5))
    good.write_text(combined_log(attack_log()) + junk + "\n")
    seen: list[tuple[str, int, int, int]] = []
    summary = analyze(
        AnalyzeOptions((str(good),), chunk_lines=4096),
        Replay(),
        lambda *a: seen.append(a),
    )
    assert summary["lines"] == 24_000 + MAX_SAMPLES + 5
    assert summary["parsed"] == 24_000 and summary["malformed"] == MAX_SAMPLES + 5
    assert len(summary["malformed_samples"]) == MAX_SAMPLES
    assert summary["malformed_samples"][0] == {"file": str(good), "line": 24_001, "text": "junk 0"}
    assert summary["records"] == 24_000 and summary["late"] == 0
    assert len(summary["incidents"]) == 1 and summary["lines_per_s"] > 0
    assert summary["files"][0]["format"] == "combined" and not summary["corrupt"]
    assert len(seen) >= 6 and seen[-1][2] == good.stat().st_size  # progress by chunk
    assert seen[-1][1] == seen[-1][2]  # every byte read


def test_several_files_make_one_stream(tmp_path: Path) -> None:
    lines = attack_log()
    half = len(lines) // 2
    a, b = tmp_path / "access.log.1", tmp_path / "access.log"
    a.write_text(combined_log(lines[:half]))
    b.write_bytes(gzip.compress(combined_log(lines[half:]).encode()))
    summary = analyze(AnalyzeOptions((str(b), str(a))), Replay())
    assert summary["lines"] == len(lines) and len(summary["incidents"]) == 1
    assert [f["gzip"] for f in summary["files"]] == [False, True]
