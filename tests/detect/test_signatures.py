"""Signatures on constructed windows: what separates an attack, at what collateral."""

from __future__ import annotations

import hashlib

import pytest

from seawall.core.facts import ClientClass
from seawall.core.rules import Match
from seawall.detect import signatures
from seawall.detect.records import View
from seawall.detect.signatures import MIN_BASELINE, build

BROWSER = "b10a5e7f0c01"
BOT = "ba7ba7ba7ba7"


def view(
    *,
    target: str = "/users/u0",
    route: str = "profile",
    method: str = "GET",
    fp: str = BROWSER,
    ua: str = "Chrome/131",
    shape: str = "",
    country: str = "NZ",
    asn: int = 64500,
    prefix: str = "192.0.2.0/24",
    klass: str = "anonymous",
    principal: str = "",
    client: str = "192.0.2.1",
) -> View:
    return (target, route, method, fp, ua, shape, country, asn, prefix, klass, principal, client)


def people(n: int = 1000, targets: int = 50, prefixes: int = 20) -> list[View]:
    """Browsers spread round-robin over targets and prefixes: exact shares, no noise."""
    return [
        view(target=f"/users/u{i % targets}", prefix=f"10.0.{i % prefixes}.0/24") for i in range(n)
    ]


def bots(n: int, prefixes: int = 3000, **kw: str) -> list[View]:
    """Bots on /users/famous with their own fingerprint, from many prefixes."""
    args = {"target": "/users/famous", "fp": BOT, **kw}
    return [
        view(prefix=f"172.{16 + i % prefixes // 256 % 16}.{i % prefixes % 256}.0/24", **args)  # type: ignore[arg-type]
        for i in range(n)
    ]


def test_bots_with_one_fingerprint_on_one_target_get_the_fingerprint_only() -> None:
    base = people()  # never on /users/famous, never with the bots' fingerprint
    base += [view(klass="user", principal=f"user:{i % 10}") for i in range(100)]
    base += [view(klass="user", fp=BOT, principal=f"user:bot{i % 2}") for i in range(5)]
    base += [view(klass="api_app", route="api", principal=f"app:{i % 3}") for i in range(46)]
    base += [view(klass="api_app", route="api", fp=BOT, principal="app:x") for i in range(4)]
    sig = build(bots(400), base, [1.0] * len(base))
    # header_fp and target both leave 0 baseline: a tie, and who-and-how beats where
    assert sig.describe() == f"header_fp={BOT}"
    (cond,) = sig.conditions
    assert (cond.attack_share, cond.baseline_share, cond.strength) == (1.0, 0.0, 1.0)
    assert sig.coverage == 1.0
    assert sig.collateral == 0.0
    assert sig.separable and sig.known
    # per class, the share of its baseline hit: 4 of 50 app views, 5 of 105 user views
    assert sig.by_class == (("anonymous", 0.0), ("api_app", 4 / 50), ("user", 5 / 105))
    assert (sig.users, sig.apps) == (2, 1)
    assert (sig.attack_sample, sig.baseline_sample) == (400, len(base))
    assert all(sig.matches(v) for v in bots(400))
    assert not any(sig.matches(v) for v in people())


def test_collateral_is_the_anonymous_baseline_share_hit() -> None:
    # 10 of 1000 anonymous baseline views carry the bots' fingerprint, all on other pages
    base = people(990) + [view(fp=BOT, target="/users/u1") for _ in range(10)]
    sig = build(bots(400), base, [1.0] * len(base))
    # header_fp would hit 1%; target hits 0 -> target first. The fingerprint lowers
    # nothing further (0 already), but it tells the bots from people on that page, so it
    # is added: the rule spares them, and the signature is separable
    assert sig.describe() == f"target=/users/famous AND header_fp={BOT}"
    assert sig.collateral == 0.0 and sig.separable


def test_baseline_weights_count_as_real_requests() -> None:
    base = [*people(400), view(fp=BOT, target="/users/famous")]
    weights = [1.0] * 400 + [100.0]  # one kept view standing for 100 real ones
    sig = build(bots(400), base, weights)
    # header_fp and target each match the weighted view: 100 / 500 = 20% either way; on
    # the tie header_fp stays, then target narrows nothing, ua/prefix are no better
    assert sig.collateral == pytest.approx(100 / 500)


def test_thousands_of_source_prefixes_are_never_chosen() -> None:
    base = people()
    sig = build(bots(3000, fp=BROWSER), base, [1.0] * len(base))  # each prefix 1/3000
    assert sig.describe() == "target=/users/famous"
    assert "prefix" not in {c.attr for c in sig.conditions}


def test_nine_prefixes_are_too_many_values_and_eight_are_not() -> None:
    base = people()

    def from_prefixes(k: int) -> list[View]:
        return [view(target="/users/famous", prefix=f"198.51.{i % k}.0/24") for i in range(800)]

    eight = build(from_prefixes(8), base, [1.0] * len(base))
    # target and prefix both leave 0 baseline; on the tie the prefix (who) beats target
    assert [c.attr for c in eight.conditions] == ["prefix"]
    assert len(eight.conditions[0].values) == 8
    nine = build(from_prefixes(9), base, [1.0] * len(base))  # 9 values > MAX_VALUES (8)
    assert [c.attr for c in nine.conditions] == ["target"]


def test_a_botnet_rotating_a_dozen_stale_browsers_is_one_user_agent_signal() -> None:
    """Twelve families is too many for prefixes, not for a coarse attribute like these."""
    base = people()  # all Chrome/131
    families = [f"Chrome/{49 + i}" for i in range(12)]
    flood = [
        view(target="/users/famous", ua=families[i % 12], prefix=f"172.16.{i % 250}.0/24")
        for i in range(1200)
    ]
    sig = build(flood, base, [1.0] * len(base))
    assert [c.attr for c in sig.conditions] == ["ua_family"]
    assert sig.conditions[0].values == frozenset(families)
    assert sig.separable and sig.coverage == 1.0 and sig.collateral == 0.0
    seventeen = [
        view(target="/users/famous", ua=f"Chrome/{30 + i % 17}", prefix=f"172.16.{i % 250}.0/24")
        for i in range(1700)
    ]
    assert [c.attr for c in build(seventeen, base, [1.0] * len(base)).conditions] == ["target"]


def test_an_attack_like_the_baseline_but_for_its_target_is_not_separable() -> None:
    base = people()
    crowd = [view(target="/users/famous", prefix=f"10.0.{i % 20}.0/24") for i in range(400)]
    sig = build(crowd, base, [1.0] * len(base))
    assert sig.describe() == "target=/users/famous"
    assert sig.coverage == 1.0 and sig.collateral == 0.0
    assert not sig.separable  # it would hit every person on that page


def test_too_little_baseline_means_collateral_is_unknown() -> None:
    short = people(MIN_BASELINE - 1)
    long = people(MIN_BASELINE)
    assert not build(bots(100), short, [1.0] * len(short)).known
    assert build(bots(100), long, [1.0] * len(long)).known
    # verified views do not count towards the anonymous baseline
    mixed = short + [view(klass="user", principal="user:1")] * 50
    assert not build(bots(100), mixed, [1.0] * len(mixed)).known


def _half_attack() -> tuple[list[View], list[View]]:
    """200 bots and 200 browsers on /users/famous; the baseline has 2% of it there."""
    base = people(980) + [view(target="/users/famous", prefix="10.0.0.0/24")] * 20
    sample = bots(200) + [
        view(target="/users/famous", prefix=f"10.0.{i % 20}.0/24") for i in range(200)
    ]
    return sample, base


def test_attack_share_lowers_the_coverage_needed_and_scales_coverage() -> None:
    sample, base = _half_attack()
    # all of it attack: the fingerprint keeps only 50% < 80% needed; the target it is
    whole = build(sample, base, [1.0] * len(base), attack_share=1.0)
    assert whole.conditions[0].attr == "target"
    assert not whole.separable
    # half of it attack: need 0.8 * 0.5 = 0.4; the fingerprint keeps 0.5 at 0 collateral
    # (the target would hit 2%); coverage 0.5 / 0.5 = 1.0 of the attack part
    half = build(sample, base, [1.0] * len(base), attack_share=0.5)
    assert half.describe() == f"header_fp={BOT}"
    assert half.conditions[0].attack_share == 0.5
    assert half.coverage == 1.0 and half.collateral == 0.0 and half.separable
    # an attack share under 0.2 counts as 0.2: need 0.16
    tiny = build(sample, base, [1.0] * len(base), attack_share=0.05)
    assert tiny.coverage == 1.0  # min(1, 0.5 / 0.2)


def test_nothing_over_represented_gives_no_conditions() -> None:
    base = people()
    sig = build(people(200), base, [1.0] * len(base))
    assert sig.conditions == ()
    assert (sig.coverage, sig.collateral, sig.separable) == (0.0, 1.0, False)
    assert sig.describe() == "(everything)"


def test_to_match_acts_on_anonymous_clients_only() -> None:
    base = people()
    sig = build(bots(400, ua="Chrome/51"), base, [1.0] * len(base))
    assert sig.to_match() == Match(
        classes=frozenset({ClientClass.ANONYMOUS}), header_fps=frozenset({BOT})
    )
    eight = [
        view(target="/users/famous", prefix=f"198.51.{i % 2}.0/24", country="KP", asn=7)
        for i in range(400)
    ]
    m = build(eight, base, [1.0] * len(base)).to_match()
    assert m.classes == frozenset({ClientClass.ANONYMOUS})
    assert m.cidrs == ("198.51.0.0/24", "198.51.1.0/24")  # prefixes become sorted cidrs


def test_every_attribute_maps_to_its_match_field() -> None:
    conds = tuple(
        signatures.Condition(attr, frozenset({value}), 1.0, 0.0)
        for attr, value in [
            ("target", "/t"),
            ("route", "r"),
            ("method", "POST"),
            ("ua_family", "curl/8"),
            ("query_shape", "q=s"),
            ("country", "KP"),
            ("asn", 7),
        ]
    )
    sig = signatures.Signature(conds, 1.0, 0.0, (), 0, 0, 1, 1, True)
    assert sig.to_match() == Match(
        classes=frozenset({ClientClass.ANONYMOUS}),
        targets=frozenset({"/t"}),
        routes=frozenset({"r"}),
        methods=frozenset({"POST"}),
        ua_families=frozenset({"curl/8"}),
        query_shapes=frozenset({"q=s"}),
        countries=frozenset({"KP"}),
        asns=frozenset({7}),
    )


def test_the_id_is_stable_and_names_the_conditions() -> None:
    base = people()
    one = build(bots(400), base, [1.0] * len(base))
    again = build(list(reversed(bots(300))), base, [1.0] * len(base))
    text = f"header_fp=['{BOT}']"
    assert one.id == again.id == hashlib.blake2b(text.encode(), digest_size=5).hexdigest()
    assert len(one.id) == 10
    other = build(bots(400, fp="0000aaaa0000"), base, [1.0] * len(base))
    assert other.id != one.id


def test_condition_describe() -> None:
    one = signatures.Condition("header_fp", frozenset({BOT}), 0.9, 0.1)
    two = signatures.Condition("country", frozenset({"RU", "KP"}), 0.9, 0.1)
    assert one.describe() == f"header_fp={BOT}"
    assert two.describe() == "country={KP, RU}"
    assert one.strength == pytest.approx(0.8)
