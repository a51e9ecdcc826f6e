"""The incident store on SQLite: upserts, summaries newest first, files that survive a restart."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from seawall.core.errors import ConfigError
from seawall.store.incidents import IncidentStore


def report(incident_id: str, start: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": incident_id,
        "start": start,
        "status": "open",
        "vectors": ["http_flood"],
        "timeline": [{"t": start, "event": "opened"}],
        **extra,
    }


def test_save_then_get_returns_the_whole_report() -> None:
    store = IncidentStore("")
    r = report("i-1", 100.0, peak_rps=1234.5)
    store.save(r)
    assert store.get("i-1") == r
    assert store.get("nope") is None


def test_saving_an_id_again_replaces_the_report_in_place() -> None:
    store = IncidentStore("")
    store.save(report("i-1", 100.0))
    closed = report("i-1", 100.0, end=160.0, status="closed", timeline=[{"t": 1}, {"t": 2}])
    store.save(closed)
    assert store.get("i-1") == closed
    assert [r["id"] for r in store.list()] == ["i-1"]
    assert store.list()[0]["status"] == "closed"


def test_list_is_newest_first_limited_and_without_timelines() -> None:
    store = IncidentStore("")
    for i, start in enumerate([50.0, 300.0, 10.0, 200.0]):
        store.save(report(f"i-{i}", start))
    listed = store.list()
    assert [r["id"] for r in listed] == ["i-1", "i-3", "i-0", "i-2"]
    assert all("timeline" not in r for r in listed)
    assert [r["id"] for r in store.list(limit=2)] == ["i-1", "i-3"]
    assert "timeline" in (store.get("i-1") or {})  # the summary drops it, the store keeps it


def test_a_report_without_status_or_end_is_open() -> None:
    store = IncidentStore("")
    store.save({"id": "bare", "start": 1.0})
    assert store.get("bare") == {"id": "bare", "start": 1.0}
    assert store.list() == [{"id": "bare", "start": 1.0}]


def test_an_empty_store_lists_nothing() -> None:
    assert IncidentStore("").list() == []


def test_a_file_store_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "incidents.db")
    store = IncidentStore(path)
    store.save(report("kept", 5.0))
    store.close()
    store.close()  # twice is harmless
    again = IncidentStore(path)
    assert again.get("kept") == report("kept", 5.0)
    again.save(report("second", 6.0))
    assert [r["id"] for r in again.list()] == ["second", "kept"]
    again.close()


def test_the_file_is_created_on_first_use_not_at_construction(tmp_path: Path) -> None:
    path = tmp_path / "lazy.db"
    store = IncidentStore(str(path))
    assert not path.exists()
    assert store.list() == []
    assert path.exists()
    store.close()


def test_memory_stores_are_separate() -> None:
    a, b = IncidentStore(""), IncidentStore("")
    a.save(report("only-a", 1.0))
    assert b.get("only-a") is None


def test_a_missing_directory_is_a_config_error_naming_store_path(tmp_path: Path) -> None:
    store = IncidentStore(str(tmp_path / "no" / "such" / "dir" / "x.db"))
    with pytest.raises(ConfigError) as err:
        store.save(report("i", 1.0))
    assert err.value.key == "store.path"
    assert "does not exist" in str(err.value)


def test_a_corrupt_file_is_a_config_error_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database \x00\xff" * 200)
    store = IncidentStore(str(path))
    with pytest.raises(ConfigError) as err:
        store.list()
    assert err.value.key == "store.path"
    assert "not a usable SQLite file" in str(err.value) and "corrupt.db" in str(err.value)


def test_a_sqlite_file_of_another_shape_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE incidents (x INTEGER)")
    db.close()
    store = IncidentStore(str(path))
    with pytest.raises(ConfigError) as err:
        store.save(report("i", 1.0))
    assert err.value.key == "store.path" and "no such column" in str(err.value)


def test_concurrent_saves_from_threads_all_land(tmp_path: Path) -> None:
    store = IncidentStore(str(tmp_path / "busy.db"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            barrier.wait(5)
            for i in range(25):
                store.save(report(f"w{n}-{i}", float(n * 100 + i)))
                store.save(report(f"w{n}-{i}", float(n * 100 + i), status="closed"))
                store.list(limit=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:3]
    listed = store.list(limit=1000)
    assert len(listed) == 200
    assert {r["status"] for r in listed} == {"closed"}
    assert listed[0]["id"] == "w7-24"
    store.close()
