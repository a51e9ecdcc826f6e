"""Account protection in a running edge: events in, rules out, campaigns stored, warnings
queued, the operator's word audited; the store survives a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from seawall.accounts.events import AuthEvent, EventKind, Result
from seawall.accounts.ident import Hasher
from seawall.accounts.service import AccountService
from seawall.config.load import validate
from seawall.core.rules import Ruleset, RulesetDelta
from seawall.runtime.clock import ManualClock

from authsim import hashed

SECRET = "s" * 32
NAMES = [f"target{i}" for i in range(4)]


def config(tmp: Path) -> Any:
    (tmp / "dir.csv").write_text(
        "".join(f"{n},{n}@example.org,+1555000{i:04d}\n" for i, n in enumerate(NAMES))
    )
    return validate(
        {
            "origins": [{"url": "http://127.0.0.1:9"}],
            "routes": [{"name": "login", "pattern": "/login"}],
            "admin": {"token": "admintoken"},
            "accounts": {
                "enabled": True,
                "secret": SECRET,
                "step_up": "header",
                "high_risk": NAMES,
                "directory": str(tmp / "dir.csv"),
                "routes": [{"route": "login", "kind": "login", "account_field": "user"}],
                "warnings": {"log": True},
            },
        }
    )


class Rules:
    def __init__(self) -> None:
        self.rs = Ruleset()

    def __call__(self, delta: RulesetDelta) -> None:
        self.rs = self.rs.apply(delta)


def attack(clock: ManualClock, n: int) -> list[AuthEvent]:
    h = Hasher(SECRET)
    return [
        AuthEvent(
            f"e{k}",
            clock.wall(),
            EventKind.LOGIN_FAILED,
            h(NAMES[k % len(NAMES)]),
            f"198.51.{k % 50}.{k % 7 + 1}",
            f"198.51.{k % 50}.0/24",
            fingerprint="fpbot",
            result=Result.FAILED,
        )
        for k in range(n)
    ]


async def siege(svc: AccountService, clock: ManualClock, seconds: int) -> None:
    for _ in range(seconds):
        svc.submit(attack(clock, 20))
        clock.advance(1.0)
        svc.tick()
        await asyncio.sleep(0)


def test_a_siege_gets_rules_a_stored_campaign_and_one_warning_per_account(tmp_path: Path) -> None:
    async def main() -> None:
        clock, rules = ManualClock(), Rules()
        svc = AccountService(config(tmp_path), rules, clock, str(tmp_path / "s.db"))
        await svc.dispatcher.start()
        await siege(svc, clock, 30)
        await svc.close()
        (camp,) = svc.campaigns()
        assert camp["kind"] == "targeted" and camp["accounts_count"] == len(NAMES)
        ids = {r.id for r in rules.rs.rules}
        assert ids == {f"{camp['id']}-step-up", f"{camp['id']}-throttle"}
        warnings = [a for a in svc.store.alerts(camp["id"]) if a["kind"] == "account_warning"]
        h = Hasher(SECRET)
        assert sorted(a["account"] for a in warnings) == sorted(h(n) for n in NAMES)
        assert {a["recipient"] for a in warnings} == {f"{n}@example.org" for n in NAMES}
        assert svc.stats()["account_events"] == 600

    asyncio.run(main())


def test_a_dismissal_removes_rules_raises_the_bar_and_is_audited(tmp_path: Path) -> None:
    async def main() -> None:
        clock, rules = ManualClock(), Rules()
        svc = AccountService(config(tmp_path), rules, clock, str(tmp_path / "s.db"))
        await siege(svc, clock, 20)
        (camp,) = svc.campaigns()
        assert await svc.decide("nope", "dismissed", "ops", "") is None
        done = await svc.decide(camp["id"], "dismissed", "ops", "a pen test")
        assert done is not None and done["decision"] == "dismissed"
        assert rules.rs.rules == ()
        assert svc.engine.factors == {"brute_force": 1.5, "distributed_guessing": 1.5}
        actions = [e["action"] for e in svc.audit_log()]
        assert "campaign.decide" in actions and "factor.raise" in actions
        await svc.close()
        # a restart keeps the decision, the audit and the raised bar
        again = AccountService(config(tmp_path), Rules(), clock, str(tmp_path / "s.db"))
        assert again.engine.factors == {"brute_force": 1.5, "distributed_guessing": 1.5}
        assert (again.campaign(camp["id"]) or {})["decision"] == "dismissed"
        await again.close()

    asyncio.run(main())


def test_app_batches_are_idempotent_across_restarts(tmp_path: Path) -> None:
    batch = json.dumps(
        {
            "events": [
                {"id": "x1", "type": "login_failed", "account": "target0", "source": "192.0.2.7"},
                {"id": "x1", "type": "login_failed", "account": "target0", "source": "192.0.2.7"},
                {"id": "x2", "type": "nonsense", "account": "target0", "source": "192.0.2.7"},
            ]
        }
    ).encode()

    async def main() -> None:
        clock = ManualClock()
        svc = AccountService(config(tmp_path), Rules(), clock, str(tmp_path / "s.db"))
        first = await svc.ingest(batch)
        assert (first["accepted"], first["duplicates"], len(first["rejected"])) == (1, 1, 1)
        await svc.close()
        svc = AccountService(config(tmp_path), Rules(), clock, str(tmp_path / "s.db"))
        again = await svc.ingest(batch)
        assert (again["accepted"], again["duplicates"]) == (0, 2)
        assert svc.queue == []
        await svc.close()

    asyncio.run(main())


def test_the_queue_is_bounded_with_a_drop_counter(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr("seawall.accounts.service.MAX_QUEUE", 5)

    async def main() -> None:
        clock = ManualClock()
        svc = AccountService(config(tmp_path), Rules(), clock, "")
        svc.submit(attack(clock, 8))
        assert (len(svc.queue), svc.dropped) == (5, 3)
        assert hashed("x")  # the simulator's hashing is not ours
        await svc.close()

    asyncio.run(main())
