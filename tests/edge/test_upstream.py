"""The origin side: bounded pools, round-robin with cool-down, and two real origins."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from seawall.config.load import validate
from seawall.config.schema import Origin
from seawall.edge.stats import EdgeStats
from seawall.edge.upstream import OriginPool, Origins, UpstreamConnection
from seawall.runtime.clock import ManualClock

from harness import Edge, OriginThread, free_port, header, roundtrip


class FakeTransport:
    """An in-memory transport: records writes and whether it was closed."""

    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def origins_config(*urls: str, **options: Any) -> list[Origin]:
    return validate({"origins": [{"url": u, **options} for u in urls]}).origins


def pool(pool_size: int = 2, url: str = "http://10.0.0.1:8080") -> OriginPool:
    [origin] = origins_config(url, pool_size=pool_size)
    return OriginPool(origin, EdgeStats(), ManualClock())


def connected(p: OriginPool) -> tuple[UpstreamConnection, FakeTransport]:
    up = UpstreamConnection(p)
    t = FakeTransport()
    up.connection_made(t)  # type: ignore[arg-type]
    return up, t


# ---- OriginPool ------------------------------------------------------------------------------


def test_a_connection_handed_back_after_the_pool_closed_is_closed_not_kept() -> None:
    """A connect that finished as the worker stopped (asyncio's wait_for may return a
    result though cancelled) must not stay open: the loop would never close."""
    p = pool()
    kept, _ = connected(p)
    p.give_back(kept)
    p.close()
    assert kept.closed and p.idle == []
    late, t = connected(p)
    p.give_back(late)
    assert late.closed and t.closed and p.idle == []


def test_pool_reads_the_origin() -> None:
    p = pool(7, "http://origin.internal:8000")
    assert (p.host, p.port, p.max_idle) == ("origin.internal", 8000, 7)
    assert pool(url="http://origin.internal").port == 80
    assert (p.connect_timeout, p.read_timeout) == (3.0, 30.0)


def test_take_from_an_empty_pool_is_none() -> None:
    p = pool()
    assert p.take() is None
    assert p.stats.pool_reused == 0


def test_give_back_keeps_at_most_max_idle_and_closes_the_rest() -> None:
    p = pool(pool_size=2)
    (a, ta), (b, tb), (c, tc) = connected(p), connected(p), connected(p)
    for up in (a, b, c):
        p.give_back(up)
    assert p.idle == [a, b]
    assert not ta.closed and not tb.closed
    assert tc.closed and c.closed


def test_take_is_most_recently_used_first_and_counts_reuse() -> None:
    p = pool(pool_size=3)
    (a, _), (b, _) = connected(p), connected(p)
    p.give_back(a)
    p.give_back(b)
    got = p.take()
    assert got is b and b.reused
    assert p.take() is a
    assert p.take() is None
    assert p.stats.pool_reused == 2


def test_take_skips_connections_that_closed_while_idle() -> None:
    p = pool(pool_size=3)
    (a, _), (b, _) = connected(p), connected(p)
    p.give_back(a)
    p.give_back(b)
    b.closed = True  # closed without telling the pool (it normally forgets it at once)
    assert p.take() is a
    assert p.idle == []
    assert p.stats.pool_reused == 1


def test_an_idle_connection_the_origin_closes_is_forgotten() -> None:
    p = pool()
    (a, _), (b, _) = connected(p), connected(p)
    p.give_back(a)
    p.give_back(b)
    a.connection_lost(None)
    assert p.idle == [b]
    assert a.closed


def test_an_idle_connection_that_speaks_is_closed() -> None:
    p = pool()
    a, ta = connected(p)
    p.give_back(a)
    a.data_received(b"HTTP/1.1 200 OK\r\n\r\n")
    assert ta.closed and p.idle == []


def test_forget_and_close() -> None:
    p = pool(pool_size=5)
    ups = [connected(p) for _ in range(3)]
    for up, _ in ups:
        p.give_back(up)
    p.forget(ups[1][0])
    p.forget(ups[1][0])  # twice is harmless
    p.forget(UpstreamConnection(p))  # so is a stranger
    assert p.idle == [ups[0][0], ups[2][0]]
    p.close()
    assert p.idle == []
    assert ups[0][1].closed and ups[2][1].closed
    assert not ups[1][1].closed  # forgotten, so no longer the pool's to close


# ---- Origins ---------------------------------------------------------------------------------


def two_origins(clock: ManualClock) -> Origins:
    return Origins(
        origins_config("http://127.0.0.1:8001", "http://127.0.0.1:8002"), EdgeStats(), clock
    )


def ports(o: Origins, n: int) -> list[int]:
    return [o.pick().port for _ in range(n)]


def test_pick_is_round_robin() -> None:
    o = two_origins(ManualClock())
    assert ports(o, 5) == [8001, 8002, 8001, 8002, 8001]


def test_pick_skips_an_origin_that_is_cooling_down() -> None:
    clock = ManualClock(start=50.0)
    o = two_origins(clock)
    o.pools[1].down_until = 55.0
    assert ports(o, 4) == [8001, 8001, 8001, 8001]
    clock.advance(4.9)
    assert ports(o, 2) == [8001, 8001]
    clock.advance(0.1)  # down_until == now: back in the rotation
    assert sorted(ports(o, 2)) == [8001, 8002]


def test_when_every_origin_is_down_the_one_back_soonest_is_tried() -> None:
    clock = ManualClock(start=10.0)
    o = two_origins(clock)
    o.pools[0].down_until = 30.0
    o.pools[1].down_until = 20.0
    assert ports(o, 3) == [8002, 8002, 8002]


def test_default_host_is_the_first_origin() -> None:
    o = two_origins(ManualClock())
    assert o.default_host == b"127.0.0.1:8001"
    single = Origins(origins_config("http://backend.internal"), EdgeStats(), ManualClock())
    assert single.default_host == b"backend.internal:80"


def test_close_closes_every_pool() -> None:
    o = two_origins(ManualClock())
    ups = [connected(p) for p in o.pools]
    for (up, _), p in zip(ups, o.pools, strict=True):
        p.give_back(up)
    o.close()
    assert all(t.closed for _, t in ups)
    assert all(p.idle == [] for p in o.pools)


def test_connect_failure_to_a_real_dead_port_raises() -> None:
    [origin] = origins_config(f"http://127.0.0.1:{free_port()}", connect_timeout=2)
    p = OriginPool(origin, EdgeStats(), ManualClock())

    async def main() -> None:
        with pytest.raises(OSError):
            await p.connect()

    asyncio.run(main())
    assert p.stats.pool_created == 0


# ---- two real origins ------------------------------------------------------------------------


def _get(port: int, path: str) -> tuple[int, bytes, str | None]:
    resp, body = roundtrip(port, f"GET {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    return resp.status_code, body, header(resp, "connection")


def test_requests_are_spread_over_two_origins() -> None:
    with OriginThread() as second:

        def configure(first_port: int) -> dict[str, Any]:
            return {
                "origins": [
                    {"url": f"http://127.0.0.1:{first_port}"},
                    {"url": f"http://127.0.0.1:{second.port}"},
                ]
            }

        with Edge(configure=configure) as e:
            for i in range(6):
                status, body, _ = _get(e.port, f"/r{i}")
                assert (status, body) == (200, f"GET /r{i} 0\n".encode())
            first_seen = [s.target for s in e.origin.seen]
            second_seen = [s.target for s in second.seen]
    assert first_seen == ["/r0", "/r2", "/r4"]
    assert second_seen == ["/r1", "/r3", "/r5"]
    assert all(s.header("host") == "h" for s in second.seen)


def test_a_dead_origin_fails_one_request_then_is_skipped() -> None:
    dead = free_port()

    def configure(first_port: int) -> dict[str, Any]:
        return {
            "origins": [
                {"url": f"http://127.0.0.1:{first_port}"},
                {"url": f"http://127.0.0.1:{dead}"},
            ]
        }

    with Edge(configure=configure) as e:
        assert _get(e.port, "/one")[0] == 200  # the first origin
        status, body, connection = _get(e.port, "/two")  # the dead one
        assert status == 502
        assert b"the origin is unreachable" in body
        assert connection == "close"
        later = [_get(e.port, f"/later{i}")[0] for i in range(4)]
        assert later == [200] * 4  # well within the dead origin's cool-down
        assert [s.target for s in e.origin.seen] == ["/one"] + [f"/later{i}" for i in range(4)]

        def state() -> tuple[int, float, int]:
            dead_pool = e.worker.ctx.origins.pools[1]  # type: ignore[union-attr]
            return (
                dead_pool.failures,
                dead_pool.down_until,
                e.worker.ctx.stats.origin_errors["connect"],
            )

        failures, down_until, errors = e.call(state)
        assert failures == 1 and errors == 1
        assert down_until > 0


def test_each_origin_reports_what_it_holds_and_how_fast_it_answers() -> None:
    dead = free_port()

    def configure(first_port: int) -> dict[str, Any]:
        return {
            "origins": [
                {"url": f"http://127.0.0.1:{first_port}"},
                {"url": f"http://127.0.0.1:{dead}"},
            ]
        }

    with Edge(configure=configure) as e:
        for i in range(4):
            _get(e.port, f"/h{i}")

        def health() -> list[tuple[int, float, float, int, int]]:
            return [
                (
                    p.inflight,
                    p.health.ewma,
                    p.health.p90(),
                    p.health.errors,
                    sum(p.health.failures.values()),
                )
                for p in e.worker.ctx.origins.pools  # type: ignore[union-attr]
            ]

        live, down = e.call(health)
        assert live[0] == 0 and live[1] > 0 and live[2] >= live[1] * 0.5 and live[3:] == (0, 0)
        assert down[0] == 0 and down[4] >= 1  # the dead origin failed to connect
