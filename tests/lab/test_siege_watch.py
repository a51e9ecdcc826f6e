"""One run's account watch: what the edge is told, and the score from what came back."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
from standardwebhooks.webhooks import Webhook

from seawall.accounts.ident import Hasher
from seawall.lab.accounts_data import identities
from seawall.lab.origin import DEFAULT_SECRETS
from seawall.lab.procs import EdgeAccounts
from seawall.lab.siege_watch import AccountWatch

PEOPLE = identities(7, 30, 0)
TARGETS = tuple(i.name for i in PEOPLE[1:4])


def hashed(name: str) -> str:
    return Hasher(DEFAULT_SECRETS.accounts)(name)


async def warn(edge: EdgeAccounts, account: str, msg_id: str) -> int:
    body = json.dumps({"type": "account.warning", "data": {"account": account, "campaign": "c"}})
    now = datetime.now(tz=UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(edge.webhook_secret).sign(msg_id, now, body),
    }
    async with (
        aiohttp.ClientSession() as s,
        s.post(edge.webhook_url, data=body, headers=headers) as r,
    ):
        return r.status


def test_the_watch_hashes_the_targets_as_the_edge_does() -> None:
    watch = AccountWatch(TARGETS, PEOPLE)
    assert watch.target_hashes() == {hashed(n) for n in TARGETS}
    assert len(watch.target_hashes()) == 3


def test_what_the_edge_reported_is_scored_against_the_targets() -> None:
    watch = AccountWatch(TARGETS, PEOPLE)

    async def main() -> EdgeAccounts:
        async with watch.receiving() as edge:
            statuses = [
                await warn(edge, hashed(TARGETS[0]), "m1"),
                await warn(edge, hashed(PEOPLE[9].name), "m2"),  # someone not targeted
            ]
            assert statuses == [204, 204]
        return edge

    edge = asyncio.run(main())
    assert edge.high_risk == TARGETS and edge.directory == PEOPLE
    assert edge.webhook_secret == watch.webhook_secret
    assert edge.webhook_url.startswith("http://127.0.0.1:")
    watch.campaigns.append(
        {"id": "c", "kind": "targeted", "accounts": [hashed(n) for n in TARGETS[:2]]}
    )
    counts = {"owner_sign_ins": 4, "owner_signed_in": 3}
    a: dict[str, Any] = watch.score(counts)
    assert (a["campaign_precision"], a["campaign_recall"]) == (1.0, 2 / 3)
    assert (a["warning_precision"], a["warning_recall"]) == (0.5, 1 / 3)
    assert (a["warned"], a["false_warnings"], a["owners_signed_in"]) == (2, 1, 0.75)
    assert a["webhooks"]["warnings"] == 2 and a["webhooks"]["rejected"] == 0


def test_a_watch_that_heard_nothing_scores_nothing_found() -> None:
    a = AccountWatch(TARGETS, PEOPLE).score({})
    assert (a["campaign_recall"], a["campaign_precision"], a["warned"]) == (0.0, None, 0)
    assert a["webhooks"] == {}


def test_warning_times_count_from_the_attacks_start() -> None:
    from seawall.lab.siege_watch import warning_times

    targets = frozenset({"a", "b"})
    at = {"a": 1003.24, "b": 1010.0, "x": 1001.0}  # x is no target: not timed
    assert warning_times(at, targets, 1000.0) == {
        "first_warning_s": 3.2,
        "all_targets_warned_s": 10.0,
    }
    assert warning_times({"a": 1003.0}, targets, 1000.0)["all_targets_warned_s"] is None
    assert warning_times(at, targets, None) == {
        "first_warning_s": None,
        "all_targets_warned_s": None,
    }
