"""One entry for imports: STIX or a plain list, sniffed or named."""

from __future__ import annotations

import json

import pytest
from intelcases import NOW

from seawall.intel import IntelError
from seawall.intel.feed import CONTENT_TYPES, parse_feed, sniff

BUNDLE = json.dumps(
    {
        "type": "bundle",
        "id": "bundle--1",
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--1",
                "pattern": "[ipv4-addr:value = '45.1.1.1']",
                "pattern_type": "stix",
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (BUNDLE.encode(), "stix"),
        (b"\xef\xbb\xbf  \n" + BUNDLE.encode(), "stix"),
        ("\ufeff" + BUNDLE, "stix"),
        (b"45.1.1.1\n", "list"),
        (b"# {json-looking comment}\n45.1.1.1\n", "list"),
        (b"", "list"),
    ],
)
def test_sniff(data: bytes | str, fmt: str) -> None:
    assert sniff(data) == fmt


def test_parse_feed_reads_either_and_says_which() -> None:
    fmt, parsed = parse_feed(BUNDLE.encode(), "a", NOW)
    assert fmt == "stix" and [i.value for i in parsed.indicators] == ["45.1.1.1"]
    fmt, parsed = parse_feed(b"45.1.1.2\n", "b", NOW)
    assert fmt == "list" and [i.value for i in parsed.indicators] == ["45.1.1.2"]
    # a list forced as STIX is refused whole; a bundle forced as a list is all bad lines
    with pytest.raises(IntelError, match=r"^b: is not JSON"):
        parse_feed(b"45.1.1.2\n", "b", NOW, fmt="stix")
    assert parse_feed(BUNDLE, "a", NOW, fmt="list")[1].indicators == ()
    with pytest.raises(IntelError, match="unknown format 'csv'"):
        parse_feed(b"", "c", NOW, fmt="csv")


def test_content_types() -> None:
    assert CONTENT_TYPES == {
        "application/stix+json": "stix",
        "application/json": "stix",
        "text/plain": "list",
    }
