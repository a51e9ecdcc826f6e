"""The lab origin's data: seeded users and posts, its queries, costs, pool and counters."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seawall.lab import origin_data as data
from seawall.lab.origin_data import Database, OriginStats, RouteCost

SMALL = {"users": 40, "posts_per_user": 5}


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = str(tmp_path / "db.sqlite3")
    data.create_db(path, data.generate(7, **SMALL))
    c = sqlite3.connect(path)
    yield c
    c.close()


def test_the_same_seed_gives_the_same_site() -> None:
    fresh = data.generate.__wrapped__  # past the cache: really generated twice
    a, b, other = fresh(7, **SMALL), fresh(7, **SMALL), fresh(8, **SMALL)
    assert a == b and a != other and data.generate(7, **SMALL) == a
    assert a.users[0].name == "cyxymu" == other.users[0].name
    assert len({u.name for u in a.users}) == 40 and len({u.email for u in a.users}) == 40
    assert len(a.posts) == 39 * 5 + 3 * 5 and all(x != y for x, y in a.follows)
    assert sum(1 for p in a.posts if p.user_id == 1) == 15
    assert all(p.created <= data.EPOCH for p in a.posts)
    assert data.password_for("cyxymu", 7) != data.password_for("cyxymu", 8)
    assert len(data.generate(7).users) == 300
    with pytest.raises(ValueError):
        data.generate(7, users=1)
    with pytest.raises(ValueError):
        data.generate(7, quiet=-1)


def test_passwords_are_salted_pbkdf2() -> None:
    u = data.generate(7, **SMALL).users[0]
    assert u.pw_hash == data.hash_password(data.password_for(u.name, 7), u.salt)
    assert data.generate(7, **SMALL).users[1].salt != u.salt and len(u.pw_hash) == 32


def test_queries(conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    found = data.profile(conn, "cyxymu")
    assert found is not None and found[0][1] == "cyxymu" and found[1] == 15
    assert len(found[3]) == 15 and all(r[1] == "cyxymu" for r in found[3])
    assert data.profile(conn, "nobody") is None
    assert data.post(conn, "cyxymu", 1) is not None and data.post(conn, "nobody", 1) is None
    assert len(data.latest(conn)) == data.PAGE
    assert data.timeline(conn, "nobody") == data.latest(conn)
    assert all(r[1] != "cyxymu" for r in data.timeline(conn, "cyxymu"))
    assert len(data.search(conn, "storm")) > 0 and data.search(conn, "%") == []
    assert data.search(conn, "_") == [] and data.search(conn, "\\") == []


def test_writes(conn: sqlite3.Connection) -> None:
    assert data.check_login(conn, "cyxymu", data.password_for("cyxymu", 7))
    assert not data.check_login(conn, "cyxymu", "wrong")
    assert not data.check_login(conn, "nobody", data.password_for("nobody", 7))
    assert data.request_reset(conn, "cyxymu@mail.example") is True
    assert data.request_reset(conn, "nobody@mail.example") is False
    rows = conn.execute("SELECT user_id FROM resets ORDER BY id").fetchall()
    assert rows == [(1,), (None,)]
    new = data.add_post(conn, "cyxymu", "fresh")
    assert new is not None and data.post(conn, "cyxymu", new) is not None
    assert data.add_post(conn, "nobody", "x") is None
    via_sms = data.sms_inbound(conn, "+15550000001", "by sms")
    assert via_sms == new + 1 and data.sms_inbound(conn, "+1999", "x") is None
    assert conn.execute("SELECT count(*) FROM sms").fetchone() == (2,)


def test_side_tables_keep_only_the_latest_rows(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "KEEP_ROWS", 10)
    conn.execute("PRAGMA synchronous=OFF")
    for _ in range(1000):
        data.request_reset(conn, "nobody@mail.example")
    assert conn.execute("SELECT count(*), min(id) FROM resets").fetchone() == (10, 991)


def test_route_cost_holds_the_thread() -> None:
    start = time.perf_counter()
    RouteCost(sleep_ms=30).spend()
    RouteCost(cpu_ms=20).spend()
    RouteCost().spend()
    assert time.perf_counter() - start >= 0.05
    assert set(data.DEFAULT_COSTS) == set(data.ROUTES) and data.NO_COSTS == {}


def test_database_runs_queries_on_its_pool_and_cleans_up() -> None:
    db = Database(data.generate(7, **SMALL), 2, {"profile": RouteCost(sleep_ms=20)})
    path = Path(db.path)
    try:
        start = time.perf_counter()
        found = db.pool.submit(db.run, "profile", data.profile, ("cyxymu",)).result(5)
        assert found is not None and time.perf_counter() - start >= 0.02
        names = [db.pool.submit(db.run, "home", data.latest, ()) for _ in range(6)]
        assert all(len(f.result(5)) == data.PAGE for f in names)
    finally:
        db.close()
    assert not path.parent.exists()
    db.close()  # twice is harmless


def test_stats_count_addresses_up_to_a_cap() -> None:
    st = OriginStats(workers=4, queue=8, max_addresses=2)
    for value in ("192.0.2.1", "192.0.2.1", "2001:db8::1", "192.0.2.9", "", None, "x" * 50, "bad"):
        st.count_address(value)
    assert st.addresses == {"192.0.2.1": 2, "2001:db8::1": 1}
    assert (st.address_overflow, st.no_real_ip, st.bad_real_ip) == (1, 2, 2)
    st.count_address("192.0.2.1")  # known addresses still count past the cap
    assert st.addresses["192.0.2.1"] == 3
    st.in_flight, st.peak_in_flight, st.served["home"] = 3, 4, 7
    snap = st.snapshot(addresses=False)
    assert "addresses" not in snap and snap["distinct_addresses"] == 2
    assert snap["served"] == {"home": 7}
    st.reset()
    assert (st.addresses, st.served, st.address_overflow) == ({}, {}, 0)
    assert (st.workers, st.queue, st.max_addresses, st.in_flight, st.peak_in_flight) == (
        4,
        8,
        2,
        3,
        3,
    )
