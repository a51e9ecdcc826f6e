"""Blocklists, nginx geo and nftables files out (checked by nginx and nft); plain lists in."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from intelcases import NOW, TTL, ind

from seawall.intel import Bounds, IntelError, Reading
from seawall.intel.lists import parse_list, to_blocklist, to_nftables, to_nginx_geo

NGINX = "/usr/sbin/nginx"
INDICATORS = [
    ind("45.10.20.0/24", incident="inc-1", source="seawall"),
    ind("45.10.20.7", incident="inc-1", source="seawall"),  # inside the /24: left out
    ind("81.2.3.4", incident="inc-1", source="seawall", valid_until=NOW + 60),
    ind("2a02:1234:5678::/48", incident="inc-1", source="seawall"),
    ind("92.5.6.0/24", incident="inc-1", source="seawall", valid_until=NOW),  # expired
]


def test_blocklist() -> None:
    assert to_blocklist(INDICATORS, NOW) == (
        "# seawall blocklist\n"
        "# generated: 2023-11-14T22:20:00Z\n"
        "# incidents: inc-1\n"
        "# provenance: seawall\n"
        "# entries: 3\n"
        "# expires: 2023-11-14T22:21:00Z to 2023-11-14T23:20:00Z\n"
        "45.10.20.0/24\n"
        "81.2.3.4\n"
        "2a02:1234:5678::/48\n"
    )


def test_attacker_text_cannot_add_a_line_to_any_file() -> None:
    hostile = [ind("45.1.1.1", incident="inc-1\n0.0.0.0/0 1;\n}", source="x\r\ndefault 1;")]
    for text in (
        to_blocklist(hostile, NOW),
        to_nginx_geo(hostile, NOW),
        to_nftables(hostile, NOW),
    ):
        assert all(line.startswith("#") for line in text.splitlines() if "0.0.0.0" in line)
        assert all(line.startswith("#") for line in text.splitlines() if "default 1" in line)


def test_nginx_geo_fragment() -> None:
    text = to_nginx_geo(INDICATORS, NOW)
    body = text[text.index("\ngeo ") + 1 :]
    assert body == (
        "geo $seawall_blocked {\n"
        "    default 0;\n"
        "    45.10.20.0/24 1;\n"
        "    81.2.3.4 1;\n"
        "    2a02:1234:5678::/48 1;\n"
        "}\n"
    )
    assert "#   if ($seawall_blocked) { return 403; }" in text
    with pytest.raises(ValueError, match="variable"):
        to_nginx_geo(INDICATORS, NOW, variable="x; }")


def _nginx_check(tmp_path: Path, include: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "blocked.conf").write_text(include, encoding="utf-8")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        "pid nginx.pid;\n"
        "events {}\n"
        "http {\n"
        "    access_log off;\n"
        "    include blocked.conf;\n"
        "    server {\n"
        "        listen 127.0.0.1:8089;\n"
        "        if ($seawall_blocked) { return 403; }\n"
        "        return 200;\n"
        "    }\n"
        "}\n",
        encoding="utf-8",
    )
    cmd = [NGINX, "-t", "-q", "-p", str(tmp_path), "-e", str(tmp_path / "error.log")]
    return subprocess.run(
        [*cmd, "-c", str(conf)], capture_output=True, text=True, timeout=10, check=False
    )


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed")
def test_nginx_accepts_the_geo_include(tmp_path: Path) -> None:
    res = _nginx_check(tmp_path, to_nginx_geo(INDICATORS, NOW))
    assert res.returncode == 0, res.stderr
    assert _nginx_check(tmp_path, to_nginx_geo([], NOW)).returncode == 0
    # the check can fail: a broken fragment is refused
    assert _nginx_check(tmp_path, "geo $seawall_blocked { default 0; 1.2.3.4 }").returncode != 0


def test_nftables_sets() -> None:
    text = to_nftables(INDICATORS, NOW)
    body = text[text.index("\ntable ") + 1 :]
    assert body == (
        "table inet seawall {\n"
        "    set blocked4 {\n"
        "        type ipv4_addr\n"
        "        flags interval, timeout\n"
        "        elements = {\n"
        f"            45.10.20.0/24 timeout {int(TTL)}s,\n"
        "            81.2.3.4 timeout 60s\n"
        "        }\n"
        "    }\n"
        "    set blocked6 {\n"
        "        type ipv6_addr\n"
        "        flags interval, timeout\n"
        "        elements = {\n"
        f"            2a02:1234:5678::/48 timeout {int(TTL)}s\n"
        "        }\n"
        "    }\n"
        "}\n"
    )


def _nft_check(nft: str, text: str) -> subprocess.CompletedProcess[str]:
    """`nft -c`: a dry run that parses and checks, changing nothing."""
    return subprocess.run(
        [nft, "-c", "-f", "-"], input=text, capture_output=True, text=True, timeout=10, check=False
    )


def _nft() -> str | None:
    """nft, if it can check a file here (it needs netlink even with -c)."""
    nft = shutil.which("nft")
    if nft is None or _nft_check(nft, "table inet probe {}\n").returncode != 0:
        return None
    return nft


@pytest.mark.skipif(_nft() is None, reason="nft is missing or may not check rulesets here")
def test_nft_accepts_the_sets() -> None:
    nft = _nft()
    assert nft is not None
    for inds in (INDICATORS, [], [ind("2a02:1234::1")]):
        res = _nft_check(nft, to_nftables(inds, NOW))
        assert res.returncode == 0, res.stderr
    # the check can fail: overlapping intervals are refused, which is why exports collapse
    overlapping = (
        "table inet seawall { set s { type ipv4_addr; flags interval, timeout; "
        "elements = { 45.10.20.0/24 timeout 60s, 45.10.20.7 timeout 60s } } }\n"
    )
    assert _nft_check(nft, overlapping).returncode != 0


LIST = (
    "\ufeff# a peer's list\r\n"
    "; another comment\n"
    "\n"
    "45.1.1.1\n"
    "45.1.2.0/24 ; SBL123\n"
    "45.1.3.3,scanner seen 2023-11-14\n"
    '"45.1.4.4","quoted csv"\n'
    "45.1.5.5 # trailing comment\n"
    "   2a02:1234::/32   \n"
    "ip,comment\n"
    "300.1.1.1\n"
    "10.0.0.0/8\n"
    "45.1.1.1\n" + "x" * 5000 + "\n"
    "45.1.6.0/24\tdescription with\ttabs\n"
)


def test_a_plain_list_is_read_and_bad_lines_are_named_by_number() -> None:
    parsed = parse_list(LIST, "peer.txt", NOW)
    assert [(i.value, i.description) for i in parsed.indicators] == [
        ("45.1.1.1", ""),
        ("45.1.2.0/24", "SBL123"),
        ("45.1.3.3", "scanner seen 2023-11-14"),
        ("45.1.4.4", "quoted csv"),
        ("45.1.5.5", "trailing comment"),
        ("2a02:1234::/32", ""),
        ("45.1.6.0/24", "description with?tabs"),
    ]
    assert parsed.skipped == {"not_an_address": 3, "special": 1, "duplicate": 1}
    assert parsed.problems == (
        "peer.txt:10: 'ip' is not an address",
        "peer.txt:11: '300.1.1.1' is not an address",
        "peer.txt:12: 10.0.0.0/8 is private, loopback, reserved or multicast",
        "peer.txt:14: a line longer than 4096 characters",
    )
    first = parsed.indicators[0]
    assert (first.source, first.valid_from, first.valid_until) == ("peer.txt", NOW, NOW + 86400)


def test_provenance_ttl_and_confidence_can_be_given() -> None:
    reading = Reading(ttl=60, source="feed-7", confidence=80)
    (got,) = parse_list(b"45.1.1.1\n", "/some/dir/peer.txt", NOW, reading).indicators
    assert (got.source, got.valid_until, got.confidence) == ("feed-7", NOW + 60, 80)
    (got,) = parse_list(b"45.1.1.1\n", "/some/dir/peer.txt", NOW).indicators
    assert got.source == "peer.txt"


def test_undecodable_bytes_spoil_only_their_line() -> None:
    parsed = parse_list(b"45.1.1.1\n\xff\xfe45.1.1.2\n45.1.1.3\n", "b.txt", NOW)
    assert [i.value for i in parsed.indicators] == ["45.1.1.1", "45.1.1.3"]
    assert parsed.problems[0].startswith("b.txt:2: ")


def test_a_list_too_large_is_refused_whole() -> None:
    with pytest.raises(IntelError, match=r"^big.txt: is 101 bytes; at most 100"):
        parse_list(b"1" * 101, "big.txt", NOW, Reading(max_bytes=100))


def test_the_cap_holds_for_lists() -> None:
    text = "".join(f"45.1.{n // 256}.{n % 256}\n" for n in range(1000))
    parsed = parse_list(text, "l.txt", NOW, Reading(bounds=Bounds(max_indicators=10)))
    assert len(parsed.indicators) == 10 and parsed.skipped == {"over_cap": 990}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_make_a_list_with_every_line_accounted_for(data: bytes) -> None:
    parsed = parse_list(data, "f.txt", NOW)
    assert len(parsed.indicators) + sum(parsed.skipped.values()) <= data.count(b"\n") + 1
    assert all(p.startswith("f.txt:") for p in parsed.problems)
