"""The access log: JSON lines and nginx combined lines, appended in batches, reopened on rotation."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from seawall.core.facts import ClientClass, TlsFacts
from seawall.core.record import Record
from seawall.core.verdict import Action, Verdict
from seawall.edge.accesslog import AccessLog, combined_line, json_line

from corefacts import make_facts

# nginx: log_format combined '$remote_addr - $remote_user [$time_local] '
#                            '"$request" $status $body_bytes_sent '
#                            '"$http_referer" "$http_user_agent"';
NGINX_COMBINED = re.compile(
    r"(?P<remote_addr>\S+) - (?P<remote_user>\S+) "
    r"\[(?P<time_local>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<request>(?P<method>[A-Z]+) (?P<uri>\S+) (?P<protocol>HTTP/\d\.\d))" '
    r"(?P<status>\d{3}) (?P<body_bytes_sent>\d+) "
    r'"(?P<http_referer>[^"]*)" "(?P<http_user_agent>[^"]*)"'
)

JSON_FIELDS = {
    "time",
    "client",
    "peer",
    "method",
    "host",
    "path",
    "query",
    "uri",
    "status",
    "bytes_in",
    "bytes_out",
    "latency_ms",
    "origin_ms",
    "queued_ms",
    "verdict",
    "reason",
    "rule",
    "class",
    "route",
    "target",
    "ua",
    "fp",
    "cache",
    "request_id",
    "tls",
    "error",
}


def record(status: int = 200, request_id: str = "r-1", **facts: Any) -> Record:
    return Record(
        facts=make_facts(**facts),
        verdict=Verdict(Action.ALLOW, "default"),
        status=status,
        bytes_in=12,
        bytes_out=345,
        latency=0.0123456,
        origin_time=0.01,
        cache="",
        request_id=request_id,
        time=1_700_000_000.25,
    )


# ---- json_line -------------------------------------------------------------------------------


def test_json_line_carries_every_field() -> None:
    rec = Record(
        facts=make_facts(
            client="203.0.113.9",
            peer="10.0.0.1",
            method="POST",
            host="shop.test",
            path="/users/cyxymu",
            query="page=2",
            route="user",
            target="/users/cyxymu",
            klass=ClientClass.API_APP,
            tls=TlsFacts(version="TLSv1.3"),
        ),
        verdict=Verdict(Action.THROTTLE, "over rate", "r7", 429, 2.0),
        status=429,
        bytes_in=10,
        bytes_out=20,
        latency=0.0123456,
        origin_time=0.0004444,
        cache="miss",
        request_id="abc-1",
        time=1_700_000_000.123456,
        error="boom",
    )
    out = json.loads(json_line(rec))
    assert set(out) == JSON_FIELDS
    assert out["time"] == 1_700_000_000.123
    assert (out["client"], out["peer"]) == ("203.0.113.9", "10.0.0.1")
    assert (out["method"], out["host"], out["path"], out["query"]) == (
        "POST",
        "shop.test",
        "/users/cyxymu",
        "page=2",
    )
    assert (out["status"], out["bytes_in"], out["bytes_out"]) == (429, 10, 20)
    assert out["latency_ms"] == 12.346
    assert out["origin_ms"] == 0.444
    assert (out["verdict"], out["reason"], out["rule"]) == ("throttle", "over rate", "r7")
    assert (out["class"], out["route"], out["target"]) == ("api_app", "user", "/users/cyxymu")
    assert (out["cache"], out["request_id"], out["tls"], out["error"]) == (
        "miss",
        "abc-1",
        "TLSv1.3",
        "boom",
    )


@pytest.mark.parametrize(
    "ua",
    [
        'say "hi" \\ there',
        "Mozilla/5.0 (ünïcödé; 日本語) 🦀",
        "bell\x07 esc\x1b[31m nul\x00 tab\t del\x7f",
        'two\nlines\r\n{"forged": true}',
    ],
)
def test_json_line_escapes_the_user_agent_and_stays_one_line(ua: str) -> None:
    line = json_line(record(user_agent=ua, path='/a"b\nc'))
    assert b"\n" not in line and b"\r" not in line
    assert not re.search(rb"[\x00-\x1f]", line), "control characters must be escaped"
    out = json.loads(line)
    assert out["ua"] == ua
    assert out["path"] == '/a"b\nc'


# ---- combined_line ---------------------------------------------------------------------------


def test_combined_line_is_nginx_combined() -> None:
    line = combined_line(
        record(
            status=404,
            client="203.0.113.9",
            method="GET",
            path="/a/b",
            query="x=1&y=2",
            user_agent="curl/8.5.0",
        )
    ).decode()
    m = NGINX_COMBINED.fullmatch(line)
    assert m is not None, line
    assert m["remote_addr"] == "203.0.113.9"
    assert m["remote_user"] == "-"
    assert m["time_local"] == "14/Nov/2023:22:13:20 +0000"
    assert m["request"] == "GET /a/b?x=1&y=2 HTTP/1.1"
    assert (m["status"], m["body_bytes_sent"]) == ("404", "345")
    assert m["http_referer"] == "-"
    assert m["http_user_agent"] == "curl/8.5.0"


def test_combined_line_without_query_and_with_ipv6_client() -> None:
    line = combined_line(record(client="2001:db8::1", path="/", query="")).decode()
    m = NGINX_COMBINED.fullmatch(line)
    assert m is not None, line
    assert m["remote_addr"] == "2001:db8::1"
    assert m["uri"] == "/"


def test_combined_line_quotes_in_the_user_agent_cannot_end_the_field() -> None:
    line = combined_line(record(user_agent='evil" 200 1 "x')).decode()
    m = NGINX_COMBINED.fullmatch(line)
    assert m is not None, line
    assert '"' not in m["http_user_agent"]
    assert m["status"] == "200"


def test_combined_line_cannot_be_split_by_a_decoded_path() -> None:
    # what normalize_path makes of GET /x%0A6.6.6.6%20-%20-%20%5B...%22GET%20/admin
    path = '/x\n6.6.6.6 - - [14/Nov/2023:22:13:20 +0000] "GET /admin HTTP/1.1" 200 1 "-" "-'
    line = combined_line(record(path=path)).decode()
    assert "\n" not in line
    assert NGINX_COMBINED.fullmatch(line) is not None, line


# ---- AccessLog -------------------------------------------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_access_log_appends_batches_of_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text('{"earlier": 1}\n')  # opened for append: nothing is truncated
    log = AccessLog(str(path))
    try:
        log.consume([record(request_id="a"), record(request_id="b")])
        log.consume([record(request_id="c")])
    finally:
        log.close()
    lines = _lines(path)
    assert lines[0] == {"earlier": 1}
    assert [x["request_id"] for x in lines[1:]] == ["a", "b", "c"]
    assert path.read_bytes().endswith(b"\n")
    assert log.write_errors == 0


def test_access_log_combined_format(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    log = AccessLog(str(path), "combined")
    try:
        log.consume([record(path="/one"), record(path="/two")])
    finally:
        log.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert [NGINX_COMBINED.fullmatch(x)["uri"] for x in lines] == ["/one", "/two"]  # type: ignore[index]


def test_reopen_after_rotation_writes_to_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    rotated = tmp_path / "access.log.1"
    log = AccessLog(str(path))
    try:
        log.consume([record(request_id="before")])
        path.rename(rotated)  # logrotate moves the file; the old descriptor still points at it
        log.consume([record(request_id="late")])
        log.reopen()
        log.consume([record(request_id="after")])
    finally:
        log.close()
    assert [x["request_id"] for x in _lines(rotated)] == ["before", "late"]
    assert [x["request_id"] for x in _lines(path)] == ["after"]


def test_reopen_does_not_leak_the_old_descriptor(tmp_path: Path) -> None:
    log = AccessLog(str(tmp_path / "access.log"))
    old = log._fd
    log.reopen()
    try:
        assert log._fd != old
        with pytest.raises(OSError):
            os.fstat(old)
    finally:
        log.close()


def test_a_second_close_leaves_a_reused_descriptor_alone(tmp_path: Path) -> None:
    log = AccessLog(str(tmp_path / "access.log"))
    fd = log._fd
    log.close()
    other = os.open(str(tmp_path / "other"), os.O_WRONLY | os.O_CREAT)
    try:
        assert other == fd  # POSIX: the lowest free number, the one just closed
        log.close()  # the worker's stop and drain may both close it
        os.fstat(other)  # still open
    finally:
        os.close(other)


def test_write_error_is_counted_and_raised() -> None:
    log = AccessLog("/dev/full")  # every write fails with ENOSPC
    try:
        with pytest.raises(OSError):
            log.consume([record()])
        with pytest.raises(OSError):
            log.consume([record()])
        assert log.write_errors == 2
    finally:
        log.close()


def test_dash_writes_to_standard_output_and_close_keeps_it_open(
    capfd: pytest.CaptureFixture[str],
) -> None:
    log = AccessLog("-")
    log.consume([record(request_id="to-stdout")])
    log.reopen()  # a no-op for standard output
    log.close()
    os.fstat(1)  # still open
    out = capfd.readouterr().out
    assert json.loads(out)["request_id"] == "to-stdout"
