"""nginx/Apache combined and common logs: golden samples, syslog prefixes, real-world lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seawall.analyze.formats import FORMATS, Batch, get
from seawall.analyze.textlogs import BULK, COMBINED, unescape

from goldenlogs import LOGS, parse_file

FAIL2BAN_LOGS = Path("/usr/lib/python3/dist-packages/fail2ban/tests/files/logs")


def rows(batch: Batch) -> list[tuple[object, ...]]:
    """(line, time, client, method, uri, status, bytes, user agent) per good line."""
    return list(
        zip(
            batch.line,
            batch.time,
            batch.client,
            batch.method,
            batch.uri,
            batch.status,
            batch.bytes_out,
            batch.user_agent,
            strict=True,
        )
    )


def test_combined_golden_sample() -> None:
    b = parse_file(COMBINED, "combined.log")
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    assert rows(b) == [
        (1, 1700000000.0, "203.0.113.9", "GET", "/users/cyxymu?page=2", 200, 5123, firefox),
        # +0100: the offset is applied
        (2, 1700000000.0, "2001:db8::1", "POST", "/login", 302, 0, "curl/8.5.0"),
        # line 3 is blank; nginx logs a connection that sent no request as "-"
        (4, 1700000001.0, "198.51.100.7", "", "", 400, 0, ""),
        # ... and a TLS handshake sent to the plain port as the escaped bytes it read
        (5, 1700000001.0, "198.51.100.7", "", "", 400, 157, ""),
        # -0500; nginx's \xHH escapes in the user agent are decoded, the target is as logged
        (6, 1700000002.0, "192.0.2.44", "GET", "/search?q=%22x%22", 404, 153, 'say "hi" café'),
        # Apache's \" escapes; a size of "-" is 0
        (7, 1700000003.0, "192.0.2.45", "GET", "/a", 200, 0, 'Apache "quoted" agent'),
        # absolute-form target kept; nginx's "main" adds X-Forwarded-For after the agent
        (8, 1700000004.0, "192.0.2.46", "GET", "http://example.com/abs", 200, 12, "proxy-scan"),
        (11, 1700000005.0, "192.0.2.49", "OPTIONS", "*", 200, 0, ""),
        (13, 1700000007.0, "2001:db8:0:0:8:800:200c:417a", "GET", "/v6", 304, 0, "v6 agent"),
        (14, 1700000008.0, "192.0.2.51", "", "", 400, 0, ""),
        (15, 1700000009.0, "192.0.2.52", "GET", "/a b", 400, 0, ""),
        (16, 1700000010.0, "192.0.2.53", "GET", "/ok", 200, 99, "last line, no newline at the end"),
    ]
    assert b.host == [""] * 12
    assert b.latency == [0.0] * 12
    request = dict(zip(b.line, b.extra["request"], strict=True))
    assert request[4] == "-"
    assert request[5] == r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03"
    assert request[14] == "HELP"
    assert {request[n] for n in (1, 2, 6, 7, 8, 11, 13, 15, 16)} == {""}
    # a date that does not exist, a four-digit status, and not a log line at all
    assert b.malformed_count == 3
    assert [n for n, _ in b.malformed] == [9, 10, 12]
    assert b.malformed[2] == (12, "this line is not an access log line")


def test_common_golden_sample() -> None:
    b = parse_file(COMBINED, "common.log")
    assert rows(b) == [
        (1, 971211336.0, "127.0.0.1", "GET", "/apache_pb.gif", 200, 2326, ""),
        (2, 971211337.0, "::1", "GET", "/index.html", 304, 0, ""),
        (4, 971211339.0, "10.1.2.4", "GET", "/y", 500, 7, ""),
    ]
    assert b.malformed == [(3, '10.1.2.3 - - [10/Oct/2000:13:55:38 -0700] "GET /x HTTP/1.1" abc 1')]
    assert FORMATS["common"] is COMBINED


def test_syslog_prefixes_both_rfcs() -> None:
    b = parse_file(COMBINED, "combined-syslog.log")
    assert rows(b) == [
        # RFC 3164
        (1, 1697062455.0, "203.0.113.10", "GET", "/", 200, 612, "Mozilla/5.0"),
        # RFC 3164 with a priority, a space-padded day and a pid
        (2, 1696198456.0, "203.0.113.11", "GET", "/a", 200, 1, "curl/8.5.0"),
        # RFC 5424 without and with structured data
        (3, 1697062455.0, "203.0.113.12", "GET", "/b", 404, 2, ""),
        (4, 1697062455.0, "2001:db8::12", "GET", "/c", 200, 3, "x"),
        # rsyslog's ISO-stamped traditional format; the log's own time (+0200) counts
        (5, 1697055257.0, "203.0.113.13", "GET", "/d", 200, 4, "y"),
    ]
    assert [n for n, _ in b.malformed] == [6]


def test_vhost_combined_gives_the_host() -> None:
    b = parse_file(COMBINED, "combined-vhost.log")
    assert rows(b) == [
        (1, 1697062455.0, "203.0.113.20", "GET", "/", 200, 612, "Mozilla/5.0"),
        (2, 1697062456.0, "2001:db8::20", "POST", "/cart", 201, 33, "curl/8.5.0"),
    ]
    assert b.host == ["www.example.com", "shop.test"]


@pytest.mark.parametrize("name", ["combined-syslog.log", "combined-vhost.log", "combined.log"])
def test_many_prefixed_lines_parse_as_few_do(name: str) -> None:
    """Past BULK odd lines a chunk takes a faster road; it must end in the same place."""
    lines = (LOGS / name).read_text().splitlines()
    copies = BULK // len(lines) + 1
    few = COMBINED.parse(lines, 1)
    many = COMBINED.parse(lines * copies, 1)
    assert many.malformed_count == few.malformed_count * copies
    n = len(lines)
    assert many.line == [c * n + x for c in range(copies) for x in few.line]
    for column in ("time", "client", "method", "host", "uri", "status", "bytes_out"):
        assert getattr(many, column) == getattr(few, column) * copies, column
    assert many.user_agent == few.user_agent * copies
    assert many.extra["request"] == few.extra["request"] * copies


def test_a_zone_name_instead_of_an_offset() -> None:
    b = COMBINED.parse(['1.2.3.4 - - [24/Mar/2013:08:58:32 GMT] "GET / HTTP/1.1" 200 1'], 1)
    assert b.time == [1364115512.0]


@pytest.mark.parametrize(
    "line",
    [
        '1.2.3.4 - - [27/Jun/2013:11:55:44] "GET / HTTP/1.1" 200 1 "-" "no zone"',
        '1.2.3.4 - - [27/Jun/2013:11:55:44 +0000] "GET / HTTP/1.1" 20 1 "-" "short status"',
        '1.2.3.4 - - [27/Jun/2013:11:55:44 +0000] "GET / HTTP/1.1" 200 12x "-" "bad size"',
        '1.2.3.4 - - [27/Jun/2013:11:55:44 +0000] "GET / HTTP/1.1 200 1 "-" "unclosed"',
        '1.2.3.4 - - [27/Jun/2013:25:55:44 +0000] "GET / HTTP/1.1" 200 1 "-" "hour 25"',
        "1.2.3.4",
        "",  # blank: skipped, not malformed
    ],
)
def test_lines_that_do_not_parse_are_counted(line: str) -> None:
    b = COMBINED.parse([line], 7)
    assert b.line == []
    assert b.malformed_count == (1 if line else 0)
    assert b.malformed == ([(7, line)] if line else [])


def test_a_long_malformed_line_is_cut_in_the_sample() -> None:
    b = COMBINED.parse(["x" * 5000] * 25, 1)
    assert b.malformed_count == 25
    assert len(b.malformed) == 20
    assert b.malformed[0] == (1, "x" * 200)


def test_escaped_agents_are_decoded_on_every_row() -> None:
    line = '1.2.3.4 - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 1 "-" "{}"'
    agents = [r"caf\xC3\xA9", r"caf\xC3\xA9", "plain", r"a \"b\"", r"caf\xC3\xA9"]
    b = COMBINED.parse([line.format(a) for a in agents], 1)
    assert b.user_agent == ["café", "café", "plain", 'a "b"', "café"]


def test_unescape() -> None:
    assert unescape(r"say \x22hi\x22") == 'say "hi"'
    assert unescape(r"caf\xC3\xA9") == "café"
    assert unescape(r"a \"b\" \\ c") == 'a "b" \\ c'
    assert unescape(r"tab\tnl\n") == "tab\tnl\n"
    assert unescape(r"\xFF") == "\ufffd"  # not UTF-8: replaced, never raised
    assert unescape(r"\q \x4") == r"\q \x4"  # not an escape: left as it is


def test_seawall_combined_lines_round_trip() -> None:
    """What the edge writes with --access-log-format combined reads back."""
    from seawall.core.record import Record
    from seawall.core.verdict import Action, Verdict
    from seawall.edge.accesslog import combined_line

    from corefacts import make_facts

    agents = ["curl/8.5.0", 'say "hi" \\ café', "tab\there"]
    lines = []
    for i, ua in enumerate(agents):
        rec = Record(
            facts=make_facts(
                client="2001:db8::7" if i else "203.0.113.9",
                method="POST",
                path="/a b",
                query="q=1",
                user_agent=ua,
            ),
            verdict=Verdict(Action.ALLOW, "default"),
            status=201,
            bytes_in=0,
            bytes_out=17 + i,
            latency=0.01,
            origin_time=0.0,
            cache="",
            request_id="r",
            time=1_700_000_000.0 + i,
        )
        lines.append(combined_line(rec).decode())
    b = COMBINED.parse(lines, 1)
    assert b.malformed_count == 0
    assert b.user_agent == agents
    assert b.client == ["203.0.113.9", "2001:db8::7", "2001:db8::7"]
    assert b.time == [1_700_000_000.0, 1_700_000_001.0, 1_700_000_002.0]
    assert b.uri == ["/a%20b?q=1"] * 3
    assert b.method == ["POST"] * 3
    assert (b.status, b.bytes_out) == ([201] * 3, [17, 18, 19])


# ---- real-world lines: fail2ban's sample logs ------------------------------------------

STAMP = re.compile(r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:")


def fail2ban_lines() -> list[str]:
    """The access-log-style lines of fail2ban's test logs (their # comments left out)."""
    if not FAIL2BAN_LOGS.is_dir():
        pytest.skip(
            f"fail2ban's sample logs are not installed ({FAIL2BAN_LOGS}): apt-get install fail2ban"
        )
    found = []
    for path in sorted(FAIL2BAN_LOGS.iterdir()):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [x for x in text.split("\n") if STAMP.search(x) and not x.startswith("#")]
    assert len(found) > 20, "fail2ban's sample logs changed shape"
    return found


def test_fail2ban_sample_lines_parse_or_are_counted() -> None:
    lines = fail2ban_lines()
    b = get("apache").parse(lines, 1)
    assert len(b.line) + b.malformed_count == len(lines)
    assert len(b.line) >= len(lines) // 2
    got = {lines[n - 1]: i for i, n in enumerate(b.line)}

    def row(start: str) -> tuple[object, ...]:
        line = next(x for x in lines if x.startswith(start))
        assert line in got, f"did not parse: {line}"
        i = got[line]
        return (b.time[i], b.client[i], b.method[i], b.uri[i], b.status[i], b.bytes_out[i])

    # apache-badbots
    assert row('1.2.3.4 - - [05/Mar/2007:14:39:21 +0100] "POST') == (
        1173101961.0,
        "1.2.3.4",
        "POST",
        "/123.html/trackback/",
        301,
        459,
    )
    # php-url-fopen: an attack in the query string, -0500
    assert row("66.185.212.172 - - [26/Mar/2009:08:44:20 -0500]") == (
        1238075060.0,
        "66.185.212.172",
        "GET",
        "/index.php?n=http://eatmyfood.hostinginfive.com/pizza.htm?",
        200,
        114,
    )
    # nginx-bad-request: an RDP probe on the web port, logged as escaped bytes
    assert row('12.34.56.78 - - [20/Jan/2015:19:53:28 +0100] "\\x03') == (
        1421780008.0,
        "12.34.56.78",
        "",
        "",
        400,
        47,
    )
    # traefik-auth: common log format with traefik's own fields after it
    assert row('10.0.0.2 - username [18/Nov/2018:21:34:34 +0000] "TRACE')[2:5] == (
        "TRACE",
        "/dashboard/",
        401,
    )
    # apache-pass logs its time without a zone: counted, not guessed
    no_zone = next(x for x in lines if "[27/Jun/2013:11:55:44]" in x)
    assert no_zone not in got
