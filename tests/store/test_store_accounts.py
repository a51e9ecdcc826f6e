"""The account store on SQLite: campaigns and decisions, the alerts ledger, the audit log,
learned threshold factors and idempotent app event ids, in memory and across restarts."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest

from seawall.accounts.events import Alert, Campaign
from seawall.core.errors import ConfigError
from seawall.store.accounts import AccountStore
from seawall.store.incidents import IncidentStore

A1, A2, A3 = "a1" * 32, "b2" * 32, "c3" * 32


def campaign(cid: str = "c-1", last: float = 200.0, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": cid,
        "kind": "targeted",
        "start": 100.0,
        "last": last,
        "confidence": 0.9,
        "accounts": (A1, A2),
        "detectors": ("targeted_group",),
        "sources": 3,
        "prefixes": 2,
        "asns": 1,
        "evidence": (("failures", 40.0),),
        **extra,
    }
    return Campaign(**fields).to_dict()


def warning(cid: str, account: str, time: float, kind: str = "account_warning") -> Alert:
    return Alert(
        id=f"{cid}:{account}",
        kind=kind,
        campaign=cid,
        account=account,
        time=time,
        recipient="owner@example.org",
        subject="Someone is trying to get into your account",
        text="the secret body",
        html="<p>the secret body</p>",
    )


# Campaigns


def test_a_campaign_comes_back_whole_with_its_accounts_and_no_decision() -> None:
    store = AccountStore("")
    saved = campaign()
    store.save_campaign(saved)
    got = store.campaign("c-1")
    assert got is not None
    assert got["accounts"] == [A1, A2] and got["accounts_count"] == 2
    assert got["evidence"] == {"failures": 40.0}
    assert got["decision"] == "" and got["review"] is None
    rest = {k: v for k, v in got.items() if k not in ("review", "accounts_count")}
    assert rest == json.loads(json.dumps(saved))  # as JSON: tuples come back as lists
    assert store.campaign("c-unknown") is None


def test_campaign_summaries_are_latest_first_without_accounts_and_filter_by_state() -> None:
    store = AccountStore("")
    store.save_campaign(campaign("old", last=100.0, state="closed"))
    store.save_campaign(campaign("new", last=300.0))
    store.save_campaign(campaign("mid", last=200.0, accounts=(A1, A2, A3)))
    listed = store.campaigns()
    assert [c["id"] for c in listed] == ["new", "mid", "old"]
    assert all("accounts" not in c for c in listed)
    assert [c["accounts_count"] for c in listed] == [2, 3, 2]
    assert [c["id"] for c in store.campaigns(limit=1)] == ["new"]
    assert [c["id"] for c in store.campaigns(state="open")] == ["new", "mid"]
    assert [c["id"] for c in store.campaigns(state="closed")] == ["old"]


def test_saving_again_updates_in_place_and_keeps_a_stored_decision_the_engine_lacks() -> None:
    store = AccountStore("")
    store.save_campaign(campaign())
    assert store.decide("c-1", "confirmed", "alice", "real attack", now=250.0) is not None
    store.save_campaign(campaign(last=400.0, accounts=(A1, A2, A3)))  # decision "" from the engine
    got = store.campaign("c-1")
    assert got is not None
    assert got["decision"] == "confirmed" and got["last"] == 400.0 and got["accounts_count"] == 3
    assert got["review"] == {"actor": "alice", "note": "real attack", "time": 250.0}
    assert len(store.campaigns()) == 1


def test_a_new_decision_in_the_saved_dict_replaces_the_stored_one_and_its_review() -> None:
    store = AccountStore("")
    store.save_campaign(campaign())
    store.decide("c-1", "confirmed", "alice", "", now=250.0)
    store.save_campaign(campaign(decision="confirmed"))  # the engine echoes it: review stays
    assert (store.campaign("c-1") or {})["review"] is not None
    store.save_campaign(campaign(decision="dismissed"))
    got = store.campaign("c-1") or {}
    assert got["decision"] == "dismissed" and got["review"] is None


def test_a_saved_decision_outside_the_known_ones_is_refused() -> None:
    store = AccountStore("")
    with pytest.raises(ValueError, match="decision"):
        store.save_campaign(campaign(decision="maybe"))
    assert store.campaigns() == []


# Decisions


def test_decide_sets_the_decision_and_writes_the_audit_log() -> None:
    store = AccountStore("")
    store.save_campaign(campaign())
    got = store.decide("c-1", "dismissed", "bob", "a pentest", now=500.0)
    assert got is not None and got["decision"] == "dismissed" and got["accounts"] == [A1, A2]
    assert got["review"] == {"actor": "bob", "note": "a pentest", "time": 500.0}
    assert (store.campaign("c-1") or {})["decision"] == "dismissed"
    [entry] = store.audit_log()
    assert entry["actor"] == "bob" and entry["action"] == "campaign.decide"
    assert entry["subject"] == "c-1" and entry["time"] == 500.0
    assert entry["detail"] == {"decision": "dismissed", "previous": "", "note": "a pentest"}


def test_changing_a_decision_records_the_previous_one() -> None:
    store = AccountStore("")
    store.save_campaign(campaign())
    store.decide("c-1", "dismissed", "bob", "", now=1.0)
    store.decide("c-1", "confirmed", "alice", "bob was wrong", now=2.0)
    latest, first = store.audit_log(subject="c-1")
    assert latest["detail"]["previous"] == "dismissed" and latest["actor"] == "alice"
    assert first["detail"]["previous"] == ""


def test_deciding_an_unknown_campaign_returns_none_and_writes_nothing() -> None:
    store = AccountStore("")
    assert store.decide("c-nope", "confirmed", "alice", "", now=1.0) is None
    assert store.audit_log() == []


@pytest.mark.parametrize("bad", ["", "Confirmed", "maybe", "open"])
def test_a_bad_decision_is_a_value_error_even_for_a_known_campaign(bad: str) -> None:
    store = AccountStore("")
    store.save_campaign(campaign())
    with pytest.raises(ValueError, match="decision"):
        store.decide("c-1", bad, "alice", "", now=1.0)
    assert (store.campaign("c-1") or {})["decision"] == ""
    assert store.audit_log() == []


def test_a_decision_whose_audit_fails_is_rolled_back(monkeypatch: pytest.MonkeyPatch) -> None:
    store = AccountStore("")
    store.save_campaign(campaign())

    def broken(*args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_append", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.decide("c-1", "confirmed", "alice", "", now=1.0)
    monkeypatch.undo()
    assert (store.campaign("c-1") or {})["decision"] == ""
    assert store.audit_log() == []


# Alerts ledger


def test_warned_means_recorded_whatever_the_status_so_nothing_is_repeated() -> None:
    for status in ("suppressed", "queued", "sent", "failed"):
        store = AccountStore("")
        assert not store.warned("c-1", A1)
        store.record(warning("c-1", A1, 10.0), status, now=10.0)
        assert store.warned("c-1", A1), status
        assert not store.warned("c-2", A1) and not store.warned("c-1", A2)


def test_a_digest_is_asked_for_by_its_own_id_and_is_no_warning() -> None:
    store = AccountStore("")
    digest = msgspec.structs.replace(
        warning("c-1", "", 10.0, kind="operator_digest"), id="c-1:digest:1"
    )
    store.record(digest, "sent", now=10.0)
    assert store.warned("c-1", "digest:1") and not store.warned("c-1", "digest:2")
    assert not store.warned("c-1", A1)
    assert store.warnings_since(A1, 0.0) == 0


def test_warnings_since_counts_queued_and_sent_in_the_window_only() -> None:
    store = AccountStore("")
    store.record(warning("c-1", A1, 100.0), "sent", now=100.0)
    store.record(warning("c-2", A1, 200.0), "queued", now=200.0)
    store.record(warning("c-3", A1, 300.0), "failed", now=300.0)
    store.record(warning("c-4", A1, 400.0), "suppressed", now=400.0)
    store.record(warning("c-5", A2, 500.0), "sent", now=500.0)
    assert store.warnings_since(A1, 0.0) == 2
    assert store.warnings_since(A1, 100.0) == 2  # the bound is inclusive
    assert store.warnings_since(A1, 100.5) == 1
    assert store.warnings_since(A1, 250.0) == 0
    assert store.warnings_since(A2, 0.0) == 1
    assert store.warnings_since(A3, 0.0) == 0


def test_record_upserts_by_id_and_never_keeps_the_body() -> None:
    store = AccountStore("")
    store.record(warning("c-1", A1, 10.0), "queued", now=10.0)
    store.record(warning("c-1", A1, 10.0), "sent", now=12.5)
    [row] = store.alerts()
    assert row == {
        "id": f"c-1:{A1}",
        "kind": "account_warning",
        "campaign": "c-1",
        "account": A1,
        "recipient": "owner@example.org",
        "subject": "Someone is trying to get into your account",
        "time": 10.0,
        "status": "sent",
        "updated": 12.5,
    }
    db = store._conn()  # the body must be nowhere in the file
    assert not any("secret body" in repr(r) for r in db.execute("SELECT * FROM account_alerts"))


def test_record_takes_a_plain_dict_too() -> None:
    store = AccountStore("")
    store.record({"id": "c-1:digest:1", "kind": "operator_digest", "campaign": "c-1",
                  "account": "", "time": 5.0, "recipient": "", "subject": "Digest",
                  "text": "body"}, "sent", now=6.0)  # fmt: skip
    [row] = store.alerts(campaign="c-1")
    assert row["id"] == "c-1:digest:1" and row["status"] == "sent" and "text" not in row
    with pytest.raises(ValueError, match="id"):
        store.record({"id": "", "time": 1.0}, "sent", now=1.0)
    with pytest.raises(ValueError, match="status"):
        store.record(warning("c-1", A1, 1.0), "", now=1.0)


def test_alerts_list_newest_first_and_by_campaign() -> None:
    store = AccountStore("")
    store.record(warning("c-1", A1, 10.0), "sent", now=10.0)
    store.record(warning("c-2", A1, 30.0), "sent", now=30.0)
    store.record(warning("c-1", A2, 20.0), "suppressed", now=20.0)
    assert [a["time"] for a in store.alerts()] == [30.0, 20.0, 10.0]
    assert [a["account"] for a in store.alerts(campaign="c-1")] == [A2, A1]
    assert len(store.alerts(limit=1)) == 1
    assert store.alerts(campaign="c-9") == []


def test_the_alerts_table_is_pruned_oldest_first_near_its_cap() -> None:
    store = AccountStore("", max_alerts=16)  # counted at every write below 16 * 16
    for i in range(40):
        store.record(warning(f"c-{i}", A1, float(i)), "sent", now=float(i))
    kept = store.alerts()
    assert len(kept) == 16
    assert kept[-1]["campaign"] == "c-24" and kept[0]["campaign"] == "c-39"


def test_the_campaigns_table_is_pruned_least_recent_first() -> None:
    store = AccountStore("", max_campaigns=4)
    for i in range(10):
        store.save_campaign(campaign(f"c-{i}", last=float(100 + i)))
    assert [c["id"] for c in store.campaigns()] == ["c-9", "c-8", "c-7", "c-6"]


# Audit log


def test_the_audit_log_is_newest_first_and_filters_by_subject() -> None:
    store = AccountStore("")
    store.audit("alice", "account.high_risk", A1, {"on": True}, now=1.0)
    store.audit("bob", "config.reload", "config", {}, now=2.0)
    store.audit("alice", "account.high_risk", A1, {"on": False}, now=3.0)
    log = store.audit_log()
    assert [e["time"] for e in log] == [3.0, 2.0, 1.0]
    assert log[0]["seq"] > log[1]["seq"] > log[2]["seq"]
    assert [e["detail"] for e in store.audit_log(subject=A1)] == [{"on": False}, {"on": True}]
    assert [e["actor"] for e in store.audit_log(limit=1)] == ["alice"]


def test_the_audit_log_keeps_exactly_the_newest_entries_past_its_cap() -> None:
    store = AccountStore("", max_audit=5)
    for i in range(12):
        store.audit("alice", "note", "s", {"i": i}, now=float(i))
    assert [e["detail"]["i"] for e in store.audit_log()] == [11, 10, 9, 8, 7]


# Learned threshold factors


def test_factors_multiply_up_to_the_cap_and_are_audited() -> None:
    store = AccountStore("")
    assert store.factors() == {}
    assert store.raise_factor("spraying", 1.5, now=1.0) == 1.5
    assert store.raise_factor("spraying", 2.0, now=2.0) == 3.0
    assert store.raise_factor("spraying", 2.0, now=3.0) == 6.0
    assert store.raise_factor("spraying", 2.0, now=4.0) == 8.0  # capped, not 12
    assert store.raise_factor("spraying", 2.0, now=5.0) == 8.0
    assert store.raise_factor("stuffing", 3.0, now=6.0, cap=2.0) == 2.0
    assert store.factors() == {"spraying": 8.0, "stuffing": 2.0}
    entries = store.audit_log(subject="detector:spraying")
    assert len(entries) == 5 and entries[0]["action"] == "factor.raise"
    assert entries[1]["detail"] == {"from": 6.0, "to": 8.0, "by": 2.0, "cap": 8.0}


@pytest.mark.parametrize(("by", "cap"), [(0.0, 8.0), (-2.0, 8.0), (float("nan"), 8.0),
                                         (2.0, float("inf")), (2.0, 0.0)])  # fmt: skip
def test_a_nonsense_factor_change_is_refused(by: float, cap: float) -> None:
    store = AccountStore("")
    with pytest.raises(ValueError):
        store.raise_factor("spraying", by, now=1.0, cap=cap)
    assert store.factors() == {} and store.audit_log() == []


# Idempotency of app events


def test_seen_events_reports_only_ids_recorded_before() -> None:
    store = AccountStore("")
    assert store.seen_events(["e1", "e2"], now=10.0) == set()
    assert store.seen_events(["e2", "e3", "e1"], now=11.0) == {"e1", "e2"}
    assert store.seen_events(["e3", "e4"], now=12.0) == {"e3"}
    assert store.seen_events([], now=13.0) == set()


def test_an_id_repeated_in_one_batch_is_new_for_all_its_copies() -> None:
    store = AccountStore("")
    assert store.seen_events(["e1", "e1"], now=10.0) == set()
    assert store.seen_events(["e1"], now=11.0) == {"e1"}


def test_seen_ids_are_forgotten_after_keep() -> None:
    store = AccountStore("")
    store.seen_events(["old"], now=0.0, keep=100.0)
    store.seen_events(["young"], now=50.0, keep=100.0)
    assert store.seen_events(["old", "young"], now=120.0, keep=100.0) == {"young"}
    # "old" was forgotten, then taken in again at 120
    assert store.seen_events(["old"], now=121.0, keep=100.0) == {"old"}


def test_seen_ids_are_bounded_oldest_first_even_within_one_big_batch() -> None:
    store = AccountStore("")
    store.seen_events([f"a{i}" for i in range(10)], now=1.0, max_rows=10)
    store.seen_events([f"b{i}" for i in range(4)], now=2.0, max_rows=10)
    (rows,) = store._conn().execute("SELECT COUNT(*) FROM account_seen_events").fetchone()
    assert rows == 10
    probe = ["a0", "a3", "a4", "a9", "b3"]
    assert store.seen_events(probe, now=3.0, max_rows=10_000) == {"a4", "a9", "b3"}
    big = [f"c{i}" for i in range(1200)]  # more than one IN (...) chunk
    assert store.seen_events(big, now=4.0, max_rows=1000) == set()
    (rows,) = store._conn().execute("SELECT COUNT(*) FROM account_seen_events").fetchone()
    assert rows == 1000
    assert store.seen_events(["c199", "c200", "c1199"], now=5.0) == {"c200", "c1199"}


# Files, restarts and bad files


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "accounts.db")
    store = AccountStore(path)
    store.save_campaign(campaign())
    store.decide("c-1", "confirmed", "alice", "yes", now=5.0)
    store.record(warning("c-1", A1, 6.0), "sent", now=6.0)
    store.raise_factor("spraying", 2.0, now=7.0)
    store.seen_events(["e1"], now=8.0)
    store.close()
    store.close()  # twice is harmless
    again = AccountStore(path)
    assert (again.campaign("c-1") or {})["decision"] == "confirmed"
    assert again.warned("c-1", A1) and again.warnings_since(A1, 0.0) == 1
    assert again.factors() == {"spraying": 2.0}
    assert [e["action"] for e in again.audit_log()] == ["factor.raise", "campaign.decide"]
    assert again.seen_events(["e1", "e2"], now=9.0) == {"e1"}
    again.audit("bob", "note", "s", {}, now=10.0)
    assert again.audit_log()[0]["seq"] > again.audit_log()[1]["seq"]
    again.close()


def test_it_shares_a_file_with_the_incident_store(tmp_path: Path) -> None:
    path = str(tmp_path / "seawall.db")
    incidents, accounts = IncidentStore(path), AccountStore(path)
    incidents.save({"id": "i-1", "start": 1.0})
    accounts.save_campaign(campaign())
    assert incidents.get("i-1") == {"id": "i-1", "start": 1.0}
    assert (accounts.campaign("c-1") or {})["id"] == "c-1"
    incidents.close()
    accounts.close()


def test_the_file_is_created_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "lazy.db"
    store = AccountStore(str(path))
    assert not path.exists()
    assert store.factors() == {}
    assert path.exists()
    store.close()


def test_memory_stores_are_separate() -> None:
    a, b = AccountStore(""), AccountStore("")
    a.seen_events(["e1"], now=1.0)
    assert b.seen_events(["e1"], now=1.0) == set()


def test_a_missing_directory_is_a_config_error_naming_store_path(tmp_path: Path) -> None:
    store = AccountStore(str(tmp_path / "no" / "such" / "x.db"))
    with pytest.raises(ConfigError) as err:
        store.campaigns()
    assert err.value.key == "store.path" and "does not exist" in str(err.value)


def test_a_corrupt_file_is_a_config_error_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"junk, not a database \x00\xff" * 300)
    store = AccountStore(str(path))
    with pytest.raises(ConfigError) as err:
        store.seen_events(["e1"], now=1.0)
    assert err.value.key == "store.path"
    assert "not a usable SQLite file" in str(err.value) and "corrupt.db" in str(err.value)


def test_a_directory_in_place_of_the_file_is_a_config_error(tmp_path: Path) -> None:
    store = AccountStore(str(tmp_path))
    with pytest.raises(ConfigError) as err:
        store.factors()
    assert err.value.key == "store.path"


def test_tables_of_another_shape_are_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE account_factors (detector TEXT PRIMARY KEY, factor REAL)")
    db.commit()
    db.close()
    store = AccountStore(str(path))
    with pytest.raises(ConfigError) as err:
        store.factors()
    assert err.value.key == "store.path"
    assert "account_factors" in str(err.value) and "updated" in str(err.value)


def test_concurrent_writers_from_threads_all_land(tmp_path: Path) -> None:
    store = AccountStore(str(tmp_path / "busy.db"))
    store.save_campaign(campaign())
    errors: list[BaseException] = []
    news: list[set[str]] = []
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        try:
            barrier.wait(5)
            for i in range(20):
                store.record(warning(f"c-{n}", f"{n}-{i}", float(i)), "sent", now=float(i))
                news.append(store.seen_events([f"e{i}"], now=float(i)))
                store.raise_factor(f"d{n}", 1.1, now=float(i), cap=1000.0)
                store.decide("c-1", "confirmed", f"op{n}", "", now=float(i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:3]
    assert len(store.alerts()) == 120
    assert sum(1 for seen in news if not seen) == 20  # each id was new exactly once
    assert set(store.factors()) == {f"d{n}" for n in range(6)}
    assert store.factors()["d0"] == pytest.approx(1.1**20)
    assert len(store.audit_log(limit=1000)) == 6 * 20 * 2
    store.close()
