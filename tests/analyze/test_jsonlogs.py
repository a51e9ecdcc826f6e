"""JSON-lines access logs: nginx escape=json, Caddy v2 and seawall's own, with golden samples."""

from __future__ import annotations

import json

import polars as pl
import pytest

from seawall.analyze import jsonlogs
from seawall.analyze.formats import Batch, detect, epoch_any, get
from seawall.analyze.jsonlogs import (
    CADDY,
    NGINX_JSON,
    SEAWALL,
    NginxJsonFormat,
    nginx_mapping,
    read_json,
)

from goldenlogs import LOGS, parse_file


def rows(batch: Batch) -> list[tuple[object, ...]]:
    """(line, time, client, method, host, uri, status, bytes, user agent, latency)."""
    return list(
        zip(
            batch.line,
            batch.time,
            batch.client,
            batch.method,
            batch.host,
            batch.uri,
            batch.status,
            batch.bytes_out,
            batch.user_agent,
            batch.latency,
            strict=True,
        )
    )


# ---- nginx -----------------------------------------------------------------------------


def test_nginx_json_golden_sample() -> None:
    fmt = detect((LOGS / "nginx-json.log").read_text().splitlines())
    assert fmt.name == "nginx-json"
    b = parse_file(fmt, "nginx-json.log")
    assert rows(b) == [
        (
            1,
            1700000000.0,  # time_local with +0100
            "203.0.113.9",
            "GET",
            "shop.test",
            "/users/cyxymu?page=2",
            200,
            5123,
            'Mozilla/5.0 "quoted" café',
            0.012,
        ),
        # an empty request (nginx's 400 for a connection that sent nothing)
        (2, 1700000001.0, "2001:db8::1", "", "shop.test", "", 400, 0, "", 0.0),
        # junk bytes, \u-escaped by escape=json; a user agent of "-" is ""
        (3, 1700000002.0, "198.51.100.7", "", "shop.test", "", 400, 157, "", 0.001),
        # line 4 is blank; bytes "-" is 0, Host is lowercased
        (7, 1700000005.0, "192.0.2.11", "GET", "shop.test", "/ok", 200, 0, "Mozilla/5.0", 0.25),
    ]
    assert b.extra == {"request_id": ["7f3a9c", "7f3a9d", "7f3a9e", "7f3aa0"]}
    # a status of "-", and a line cut short
    assert [n for n, _ in b.malformed] == [5, 6]
    assert b.malformed_count == 2


def test_nginx_json_other_field_names() -> None:
    """msec, client_ip over remote_addr, request_method + uri + args, numbers unquoted."""
    lines = (LOGS / "nginx-json-msec.log").read_text().splitlines()
    fmt = detect(lines)
    assert isinstance(fmt, NginxJsonFormat)
    assert fmt.mapping == {
        "time": "msec",
        "client": "client_ip",
        "method": "request_method",
        "uri": "uri",
        "args": "args",
        "status": "status",
        "bytes_out": "bytes_sent",
        "user_agent": "user_agent",
        "latency": "request_time",
        "host": "http_host",
        "forwarded_for": "http_x_forwarded_for",
    }
    b = parse_file(fmt, "nginx-json-msec.log")
    assert rows(b) == [
        (
            1,
            1700000000.123,
            "203.0.113.5",
            "GET",
            "shop.test",  # the port is dropped
            "/search?q=1",
            200,
            512,
            "curl/8.5.0",
            0.004,
        ),
        (2, 1700000001.5, "2001:db8::5", "HEAD", "[2001:db8::1]", "/", 304, 0, "", 0.0),
    ]
    assert b.extra == {"forwarded_for": ["203.0.113.5, 10.0.0.1", "-"]}
    # a time that is not one, and JSON that is not an object
    assert [n for n, _ in b.malformed] == [3, 4]


def test_nginx_json_named_by_the_operator_picks_fields_per_chunk() -> None:
    assert get("nginx-json") is NGINX_JSON
    assert NGINX_JSON.mapping is None
    b = parse_file(NGINX_JSON, "nginx-json-msec.log")
    assert b.uri == ["/search?q=1", "/"]


def test_nginx_request_lines_of_every_shape() -> None:
    fmt = NginxJsonFormat({"time": "msec", "status": "status", "request": "request"})
    requests = [
        "GET /a b HTTP/1.1",
        "GET /x?y HTTP/2.0",
        "-",
        "",
        "HELP",
        "CONNECT h:443 HTTP/1.1",
        "GET /",
    ]
    lines = [json.dumps({"msec": "1.5", "status": "400", "request": r}) for r in requests]
    b = fmt.parse(lines, 1)
    assert b.method == ["GET", "GET", "", "", "", "CONNECT", "GET"]
    assert b.uri == ["/a b", "/x?y", "", "", "", "h:443", "/"]


def test_nginx_mapping_takes_the_field_most_lines_have() -> None:
    lines = [json.dumps({"time_local": "14/Nov/2023:22:13:20 +0000", "status": 200})] * 3
    lines.append(json.dumps({"msec": "1700000000.5", "status": 200}))
    assert nginx_mapping(lines) == {"time": "time_local", "status": "status"}
    # without a time or a status nothing parses
    assert NginxJsonFormat({"client": "remote_addr"}).sniff(lines) == 0.0


# ---- caddy -----------------------------------------------------------------------------


def test_caddy_golden_sample() -> None:
    assert detect((LOGS / "caddy.log").read_text().splitlines()) is CADDY
    b = parse_file(CADDY, "caddy.log")
    assert rows(b) == [
        (
            1,
            1646861401.5241024,
            "203.0.113.7",  # client_ip, not remote_ip (a proxy)
            "GET",
            "shop.test",
            "/users/cyxymu?page=2",
            200,
            10900,
            'Mozilla/5.0 "quoted"',
            0.000929675,
        ),
        # no client_ip (Caddy before 2.7): remote_ip; no User-Agent header
        (2, 1646861402.25, "2001:db8::7", "POST", "shop.test", "/login", 429, 0, "", 0.5),
        # ts as ISO 8601 (time_format iso8601); the first User-Agent value
        (4, 1646861403.5, "198.51.100.3", "GET", "shop.test", "/", 200, 5, "curl/8.5.0", 0.001),
    ]
    assert b.extra == {"peer": ["10.0.0.1", "2001:db8::7", "198.51.100.3"]}
    # another logger's line, and a line cut short
    assert [n for n, _ in b.malformed] == [3, 5]


# ---- seawall ---------------------------------------------------------------------------


def test_seawall_golden_sample() -> None:
    assert detect((LOGS / "seawall.log").read_text().splitlines()) is SEAWALL
    b = parse_file(SEAWALL, "seawall.log")
    browser = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
    assert rows(b) == [
        (
            1,
            1700000000.25,
            "203.0.113.9",
            "GET",
            "shop.test",
            "/users/cyxymu?page=2",  # no raw target logged: path?query
            200,
            5123,
            'Mozilla/5.0 "quoted" café',
            pytest.approx(0.012346, abs=1e-12),
        ),
        (
            2,
            1700000001.5,
            "2001:db8::9",
            "POST",
            "shop.test",
            "/login",
            429,
            17,
            browser,
            pytest.approx(0.0002),
        ),
        # line 3 is blank; the raw target as received
        (
            4,
            1700000002.0,
            "198.51.100.4",
            "GET",
            "shop.test",
            "/a%20b?x=%221%22",
            403,
            0,
            browser,
            pytest.approx(0.001),
        ),
    ]
    assert b.extra == {
        "verdict": ["allow", "throttle", "block"],
        "reason": ["default", "over rate", "signature"],
        "rule": ["", "r7", "r9"],
        "class": ["anonymous", "anonymous", "api_app"],
        "cache": ["miss", "", ""],
        "request_id": ["r-1", "r-2", "r-3"],
        "peer": ["10.0.0.1", "10.0.0.1", "198.51.100.4"],
        "error": ["", "", "upstream reset"],
        "fp": ["a1b2c3d4e5f6", "0123456789ab", "0123456789ab"],
        "route": ["user", "login", "other"],
        "target": ["/users/cyxymu", "/login", "/a b"],
    }
    # no status; a status that is not a number
    assert [n for n, _ in b.malformed] == [5, 6]


def test_seawall_json_lines_round_trip() -> None:
    """Every field json_line writes that analysis needs comes back, whatever it holds."""
    from seawall.core.facts import ClientClass
    from seawall.core.record import Record
    from seawall.core.verdict import Action, Verdict
    from seawall.edge.accesslog import json_line

    from corefacts import make_facts

    paths = ["/", "/users/x y", '/ünï/"q"', "/a?b"]
    lines = []
    for i, path in enumerate(paths):
        rec = Record(
            facts=make_facts(
                client="2001:db8::9" if i % 2 else "203.0.113.9",
                method="PUT",
                host="shop.test",
                path=path,
                query="k=v w" if i else "",
                user_agent=f'ua "{i}"\n\x00',
                klass=ClientClass.USER,
                route="r",
                target=path,
            ),
            verdict=Verdict(Action.CHALLENGE, "suspect", f"rule-{i}"),
            status=200 + i,
            bytes_in=1,
            bytes_out=1000 + i,
            latency=0.25 + i,
            origin_time=0.0,
            cache="hit",
            request_id=f"id-{i}",
            time=1_700_000_000.5 + i,
            error="",
        )
        lines.append(json_line(rec).decode())
    b = SEAWALL.parse(lines, 1)
    assert b.malformed_count == 0
    assert b.time == [1_700_000_000.5 + i for i in range(4)]
    assert b.client == ["203.0.113.9", "2001:db8::9"] * 2
    assert b.uri == ["/", "/users/x%20y?k=v%20w", "/%C3%BCn%C3%AF/%22q%22?k=v%20w", "/a?b?k=v%20w"]
    assert b.user_agent == [f'ua "{i}"\n\x00' for i in range(4)]
    assert b.latency == [0.25, 1.25, 2.25, 3.25]
    assert b.status == [200, 201, 202, 203]
    assert b.extra["verdict"] == ["challenge"] * 4
    assert b.extra["rule"] == [f"rule-{i}" for i in range(4)]
    assert b.extra["class"] == ["user"] * 4
    assert b.extra["cache"] == ["hit"] * 4
    assert b.extra["target"] == paths


# ---- the decoding underneath -----------------------------------------------------------


def test_read_json_finds_bad_lines_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonlogs, "SUB_CHUNK", 8)  # several decode calls, not one
    good = '{"a": %d}'
    odd = {
        3: "not json",
        9: '{"a": 1} {"a": 2}',  # two objects: the braces pass the cheap test
        10: '{"a": 1e999}',  # msgspec takes it, polars does not
        11: "[1, 2]",
        17: '{"a": 1}\r{"a": 2}',  # a bare CR must not make two rows of one line
    }
    fine = {18: '{"a": "18",\r"b": 2}', 25: '  {"a": 25}  '}  # JSON after all
    texts = [odd.get(i, fine.get(i, good % i)) for i in range(30)]
    texts[20] = " "  # blank
    odd[20] = texts[20]
    out = read_json(texts, {"a": pl.String()})
    assert out.columns == ["a"]
    assert out["a"].to_list() == [None if i in odd else str(i) for i in range(30)]
    # all good: one call per part, no line by line
    texts = [good % i for i in range(30)]
    assert read_json(texts, {"a": pl.String()})["a"].to_list() == [str(i) for i in range(30)]
    assert read_json([], {"a": pl.String()}).height == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1700000000.5", 1700000000.5),
        ("1700000000500", 1700000000.5),  # milliseconds
        ("1700000000500000", 1700000000.5),  # microseconds
        ("1700000000500000000", 1700000000.5),  # nanoseconds
        ("2023-11-14T22:13:20.5Z", 1700000000.5),
        ("2023-11-14T23:13:20+01:00", 1700000000.0),
        ("2023-11-14T17:13:20-0500", 1700000000.0),
        ("14/Nov/2023:22:13:20 +0000", 1700000000.0),
        ("2023-11-14T22:13:20", None),  # no zone: not guessed
        ("yesterday", None),
        (None, None),
    ],
)
def test_epoch_any(text: str | None, expected: float | None) -> None:
    got = pl.select(epoch_any(pl.lit(text, pl.String))).item()
    assert got == expected
