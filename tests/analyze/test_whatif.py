"""What-if: candidate rules over a replayed attack, with what they catch and what they cost."""

from __future__ import annotations

from pathlib import Path

import pytest

from seawall.analyze.replay import Replay
from seawall.analyze.whatif import WhatIf, load_candidates
from seawall.core.errors import ConfigError

from replaylog import attack_log, batches

CANDIDATES = """
[[rules]]
id = "legacy-chrome"
action = "block"
match = { ua_families = ["Chrome/49"] }

[[rules]]
id = "the-page"
action = "block"
match = { paths = ["/users/cyxymu$"] }

[[rules]]
id = "slow-down"
action = "throttle"
rate = 2.0
burst = 5
ttl = 5
"""


def replayed(tmp_path: Path) -> WhatIf:
    path = tmp_path / "rules.toml"
    path.write_text(CANDIDATES)
    r = Replay()
    w = WhatIf(load_candidates(path), r.decider)
    r.observers = (w,)
    for b in batches(attack_log(), 5000):
        r.feed(b)
    assert r.finish()
    return w


def test_candidates_are_scored_by_what_they_catch_and_cost(tmp_path: Path) -> None:
    rep = replayed(tmp_path).report()
    rows = {row["rule"]: row for row in rep["rules"]}
    assert rep["attack_requests"] > 15_000 and rep["other_requests"] > 5_000
    # the bots' browser version: nearly all the attack, none of the people
    legacy = rows["legacy-chrome"]
    assert legacy["caught_share"] >= 0.9 and legacy["collateral_requests"] == 0
    # the page itself: the attack, and every person who came to see it
    page = rows["the-page"]
    assert page["caught_share"] >= 0.9
    assert page["collateral_requests"] > 0 and page["collateral_addresses"] > 10
    assert 0.05 < page["collateral_by_class"]["anonymous"] < 0.3  # one page of seven
    # a per-address rate limit: bots send about 2/s each, people about 0.2/s
    slow = rows["slow-down"]
    assert slow["collateral_share"] < 0.01
    assert slow["first_hit"] is not None
    assert slow["action"] == "throttle"


def test_a_candidates_ttl_does_not_end_it_mid_replay(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(CANDIDATES)
    assert all(r.expires is None for r in load_candidates(path))


def test_a_broken_candidates_file_is_named_as_the_operators_mistake(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nid = "x"\naction = "smite"\n')
    with pytest.raises(ConfigError) as err:
        load_candidates(path)
    assert "rules" in str(err.value) and "action" in str(err.value)
