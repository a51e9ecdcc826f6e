"""The challenge desk through a real edge and origin: page or 429, the answer, the pass cookie."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import h11
import pytest

from seawall.config.detection import ChallengeConfig
from seawall.core.challenge import PASS_COOKIE, PASS_PATH, solve, solves
from seawall.core.rules import Match, Rule, RulesetDelta
from seawall.core.verdict import Action
from seawall.edge.challenge import parse_challenge
from seawall.edge.passes import ChallengeDesk, secret_of

from harness import Edge, header, roundtrip, wait_until
from harness import RecordSink as Sink

SECRET = "a-challenge-secret-for-the-tests-0123456789"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
RULE = {"id": "prove-it", "action": "challenge", "match": {"paths": ["/"]}}
# admission off, so the sweeper leaves the desk's pressure where a test puts it
CONFIG: dict[str, Any] = {
    "rules": [RULE],
    "challenge": {"secret": SECRET, "bits": 8, "max_bits": 16, "retry_after": 7},
    "admission": {"enabled": False},
    "detection": {"enabled": False},
}


def _req(
    target: str = "/x",
    accept: str = "text/html,application/xhtml+xml",
    ua: str = BROWSER,
    cookie: str = "",
    method: str = "GET",
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: site.test", f"User-Agent: {ua}"]
    lines.append(f"Accept: {accept}")
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", "Content-Length: 3"]
    return ("\r\n".join(lines) + "\r\n\r\n" + ("a=b" if method == "POST" else "")).encode()


def _ask(port: int, raw: bytes, method: str = "GET", source: str = "127.0.0.1") -> Any:
    resp, body = roundtrip(port, raw, method, source)
    return resp, body


def _puzzle(port: int, target: str = "/x", ua: str = BROWSER, source: str = "127.0.0.1") -> Any:
    resp, body = _ask(port, _req(target, ua=ua), source=source)
    assert resp.status_code == 403
    found = parse_challenge(body)
    assert found is not None, body[:200]
    return found


def _answer_target(seed: str, nonce: str, to: str) -> str:
    return f"{PASS_PATH}?seed={quote(seed, safe='')}&nonce={nonce}&to={quote(to, safe='')}"


def _earn_pass(port: int, ua: str = BROWSER, source: str = "127.0.0.1") -> tuple[Any, str]:
    """Fetch the page, solve it as the page's script would, claim the pass: (303, cookie)."""
    seed, bits, to = _puzzle(port, ua=ua, source=source)
    resp, _ = _ask(port, _req(_answer_target(seed, solve(seed, bits), to), ua=ua), source=source)
    cookie = header(resp, "set-cookie") or ""
    return resp, cookie.split(";", 1)[0]


def test_a_browser_gets_the_page_with_its_safety_headers() -> None:
    with Edge(config=CONFIG) as e:
        resp, body = _ask(e.port, _req("/feed?page=2"))
        assert resp.status_code == 403
        assert b'<meta name="seawall-challenge"' in body
        assert header(resp, "retry-after") == "7"
        assert header(resp, "cache-control") == "no-store"
        assert "default-src 'none'" in (header(resp, "content-security-policy") or "")
        assert (header(resp, "content-type") or "").startswith("text/html")
        seed, bits, to = parse_challenge(body) or ("", 0, "")
        assert (bits, to) == (8, "/feed?page=2")
        assert ".prove-it." in seed  # the puzzle names the rule it answers
        assert e.origin.seen == []


def test_a_head_gets_the_page_headers_without_a_body() -> None:
    with Edge(config=CONFIG) as e:
        resp, body = _ask(e.port, _req(method="HEAD"), method="HEAD")
        assert resp.status_code == 403 and body == b""
        assert header(resp, "content-security-policy")


@pytest.mark.parametrize("accept", ["application/json", "*/*", ""])
def test_what_cannot_run_the_page_gets_429_and_no_html(accept: str) -> None:
    with Edge(config=CONFIG) as e:
        resp, body = _ask(e.port, _req(accept=accept))
        assert resp.status_code == 429
        assert header(resp, "retry-after") == "7"
        assert b"<" not in body and b"seawall-challenge" not in body
        assert not (header(resp, "content-type") or "").startswith("text/html")
        assert e.origin.seen == []


def test_a_post_is_never_shown_the_page() -> None:
    with Edge(config=CONFIG) as e:
        resp, body = _ask(e.port, _req(method="POST"), method="POST")
        assert resp.status_code == 429 and b"seawall-challenge" not in body
        assert header(resp, "retry-after") == "7"


def test_a_solved_puzzle_earns_a_pass_that_reaches_the_origin() -> None:
    with Edge(config=CONFIG) as e:
        resp, cookie = _earn_pass(e.port)
        assert resp.status_code == 303
        assert header(resp, "location") == "/x"
        set_cookie = header(resp, "set-cookie") or ""
        assert set_cookie.startswith(f"{PASS_COOKIE}=")
        attrs = [a.strip() for a in set_cookie.split(";")]
        assert "HttpOnly" in attrs and "SameSite=Lax" in attrs and "Path=/" in attrs
        assert "Secure" not in attrs  # plain HTTP: a Secure cookie would never come back
        assert e.origin.seen == []  # the answer itself is never forwarded

        resp, body = _ask(e.port, _req("/x", cookie=f"theme=dark; {cookie}"))
        assert resp.status_code == 200 and body == b"GET /x 0\n"
        assert [s.target for s in e.origin.seen] == ["/x"]
        # the pass is good on any path, and for API-style requests too
        resp, _ = _ask(e.port, _req("/api", accept="application/json", cookie=cookie))
        assert resp.status_code == 200


def test_a_pass_is_refused_from_another_prefix_and_another_agent() -> None:
    with Edge(config=CONFIG) as e:
        _, cookie = _earn_pass(e.port)
        same_prefix = _ask(e.port, _req(cookie=cookie), source="127.0.0.77")[0]
        assert same_prefix.status_code == 200  # the /24 earned it, not the address
        other_prefix = _ask(e.port, _req(cookie=cookie), source="127.0.1.1")[0]
        assert other_prefix.status_code == 403
        other_agent = _ask(e.port, _req(cookie=cookie, ua="curl/8.5.0"))[0]
        assert other_agent.status_code == 403
        tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
        assert _ask(e.port, _req(cookie=tampered))[0].status_code == 403
        assert [s.target for s in e.origin.seen] == ["/x"]


def test_a_puzzle_cannot_be_answered_from_another_prefix_or_agent() -> None:
    with Edge(config=CONFIG) as e:
        seed, bits, to = _puzzle(e.port)
        answer = _req(_answer_target(seed, solve(seed, bits), to))
        resp, body = _ask(e.port, answer, source="127.0.2.1")
        assert resp.status_code == 403 and b"wrong-prefix" in body
        resp, body = _ask(e.port, _req(_answer_target(seed, solve(seed, bits), to), ua="bot/1"))
        assert resp.status_code == 403 and b"wrong-agent" in body


def test_a_wrong_nonce_is_unsolved_and_earns_nothing() -> None:
    with Edge(config=CONFIG) as e:
        seed, bits, to = _puzzle(e.port)
        wrong = next(str(n) for n in range(1000) if not solves(seed, str(n), bits))
        resp, body = _ask(e.port, _req(_answer_target(seed, wrong, to)))
        assert resp.status_code == 403
        assert b"unsolved" in body
        assert header(resp, "set-cookie") is None
        assert header(resp, "connection") == "close"


@pytest.mark.parametrize(
    "query",
    [
        "&".join(f"f{i}=1" for i in range(50)),  # more fields than an answer has
        "seed=%ff%fe&nonce=%00&to=%0d%0aSet-Cookie:x",
        "seed=" + "a" * 4_000,  # long, within the URL limit
        "nonce=1&nonce=2&seed=&seed=x",
        "",
    ],
    ids=["many-fields", "control-bytes", "long-seed", "repeated", "empty"],
)
def test_a_hostile_answer_is_refused_and_the_edge_goes_on(query: str) -> None:
    with Edge(config=CONFIG) as e:
        resp, body = _ask(e.port, _req(f"/.seawall/pass?{query}"))
        assert resp.status_code == 403 and b"malformed" in body
        assert header(resp, "set-cookie") is None
        assert _ask(e.port, _req("/"))[0].status_code == 403  # still answering: the page


@pytest.mark.parametrize(
    "hostile", ["//evil.example/", "http://evil", "https://evil.example/x", "/\\evil", "/a\tb"]
)
def test_a_hostile_return_path_sends_the_client_home(hostile: str) -> None:
    with Edge(config=CONFIG) as e:
        seed, bits, _ = _puzzle(e.port)
        resp, _ = _ask(e.port, _req(_answer_target(seed, solve(seed, bits), hostile)))
        assert resp.status_code == 303
        assert header(resp, "location") == "/"
        assert header(resp, "set-cookie")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: s[:-3] + ("abc" if not s.endswith("abc") else "xyz"), b"forged"),
        (lambda s: s.replace(".8.", ".1.", 1), b"forged"),  # an easier puzzle than issued
        (lambda s: s.replace("prove-it", "other", 1), b"forged"),
        (lambda s: "nonsense", b"malformed"),
    ],
)
def test_a_forged_seed_is_refused(change: Any, reason: bytes) -> None:
    with Edge(config=CONFIG) as e:
        seed, bits, to = _puzzle(e.port)
        bad = change(seed)
        nonce = solve(bad, bits) if bad != "nonsense" else "1"
        resp, body = _ask(e.port, _req(_answer_target(bad, nonce, to)))
        assert resp.status_code == 403 and reason in body
        assert header(resp, "set-cookie") is None


def test_the_records_name_the_challenge_rule_for_the_page_and_the_pass() -> None:
    sink = Sink()
    with Edge(config=CONFIG) as e:
        e.call(lambda: e.worker.ctx.recorder.add_sink(sink))
        resp, cookie = _earn_pass(e.port)
        assert resp.status_code == 303
        assert _ask(e.port, _req(cookie=cookie))[0].status_code == 200
        assert wait_until(lambda: len(e.call(lambda: list(sink.records))) >= 3)
        records = e.call(lambda: list(sink.records))
    page, answer, passed = records
    assert (page.status, page.verdict.action, page.verdict.rule_id) == (
        403,
        Action.CHALLENGE,
        "prove-it",
    )
    assert answer.facts.path == PASS_PATH
    assert (answer.status, answer.verdict.rule_id) == (303, "prove-it")
    assert answer.verdict.reason == "challenge solved"
    assert passed.status == 200 and passed.facts.passed


def test_a_failed_answer_is_recorded_with_its_reason() -> None:
    sink = Sink()
    with Edge(config=CONFIG) as e:
        e.call(lambda: e.worker.ctx.recorder.add_sink(sink))
        _ask(e.port, _req(_answer_target("nonsense", "1", "/")))
        assert wait_until(lambda: len(e.call(lambda: list(sink.records))) >= 1)
        (rec,) = e.call(lambda: list(sink.records))
    assert rec.status == 403 and rec.verdict.action is Action.CHALLENGE
    assert rec.verdict.reason == "challenge failed: malformed"


def test_difficulty_rises_with_pressure_and_drops_once_bots_are_struck_out() -> None:
    with Edge(config=CONFIG) as e:
        assert _puzzle(e.port)[1] == 8
        e.call(lambda: setattr(e.worker.ctx.desk, "pressure", 1.0))
        assert _puzzle(e.port)[1] == 12  # base + 4 at a full admission limit
        e.call(lambda: setattr(e.worker.ctx.desk, "pressure", 9.0))
        assert _puzzle(e.port)[1] == 14  # the load counts up to 1.5
        # a challenge rule with strikes (RuleSpec does not expose them: set on the Rule)
        struck = Rule(
            "prove-it",
            Action.CHALLENGE,
            Match(paths=("/",)),
            strikes=2,
            strike_window=60.0,
        )
        e.call(lambda: e.worker.ctx.decider.apply(RulesetDelta(add=(struck,))))
        for _ in range(2):
            assert _ask(e.port, _req(), source="127.0.3.3")[0].status_code == 403
        # the third unsolved challenge: a bot, closed without an answer
        got = _ask_or_closed(e.port, _req(), source="127.0.3.3")
        assert got is None
        assert e.call(lambda: e.worker.ctx.desk.last_struck) > 0
        # with bots identified, the rest get an easier puzzle than base, load or not
        # (clamped to the floor of 8 bits)
        assert _puzzle(e.port, source="127.0.4.4")[1] == 8


def _ask_or_closed(port: int, raw: bytes, source: str) -> Any:
    try:
        return roundtrip(port, raw, "GET", source)
    except (h11.RemoteProtocolError, ConnectionError):
        return None


def test_difficulty_drops_below_base_when_the_floor_allows() -> None:
    desk = ChallengeDesk(ChallengeConfig(secret=SECRET, bits=13), SECRET.encode())
    assert desk.bits(1000.0) == 13
    desk.pressure = 0.5
    assert desk.bits(1000.0) == 15
    desk.last_struck = 990.0
    assert desk.bits(1000.0) == 11  # Kill-Bots: base - 2 whatever the load
    assert desk.bits(1021.0) == 15  # 30 s later bots are no longer "identified"


def test_an_empty_secret_gets_a_random_key_per_start() -> None:
    a, b = secret_of(ChallengeConfig()), secret_of(ChallengeConfig())
    assert a != b and len(a) >= 32
    assert secret_of(ChallengeConfig(secret=SECRET)) == SECRET.encode()


def test_passes_from_one_edge_are_good_at_another_with_the_same_secret() -> None:
    with Edge(config=CONFIG) as first:
        _, cookie = _earn_pass(first.port)
    rotated = {**CONFIG, "challenge": {**CONFIG["challenge"], "secret": "n" * 40}}
    kept = {**CONFIG, "challenge": {**rotated["challenge"], "previous_secret": SECRET}}
    with Edge(config=CONFIG) as again:
        assert _ask(again.port, _req(cookie=cookie))[0].status_code == 200
    with Edge(config=rotated) as other:
        assert _ask(other.port, _req(cookie=cookie))[0].status_code == 403
    with Edge(config=kept) as other:
        assert _ask(other.port, _req(cookie=cookie))[0].status_code == 200


def test_a_low_configured_difficulty_is_the_one_asked() -> None:
    desk = ChallengeDesk(ChallengeConfig(secret=SECRET, bits=4), SECRET.encode())
    assert desk.bits(1000.0) == 4
