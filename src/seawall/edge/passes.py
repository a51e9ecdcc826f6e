"""The challenge desk: pages for browsers, 429 for API clients, passes for solvers.

A challenge verdict becomes the proof-of-work page (core.challenge decides, edge.challenge
renders) when the client accepts HTML, and a 429 with Retry-After otherwise: API clients
never get a page. The page's answer comes back as GET /.seawall/pass; a right answer
earns the pass cookie and a 303 back to where the client was going. The difficulty rises
with the admission layer's pressure (mCaptcha) and drops once bots are being blocked for
leaving challenges unsolved (Kill-Bots).
"""

from __future__ import annotations

import logging
import math
import os
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from seawall.config.detection import ChallengeConfig
from seawall.core.challenge import (
    PASS_COOKIE,
    ChallengeError,
    ChallengeKeys,
    check_pass,
    check_solution,
    difficulty,
    issue,
    pass_cookie,
)
from seawall.core.facts import RequestFacts
from seawall.core.verdict import Action, Verdict
from seawall.edge.challenge import CHALLENGE_HEADERS, challenge_page, pass_set_cookie
from seawall.edge.challenge import safe_return_path as safe_path
from seawall.edge.responses import simple_response

if TYPE_CHECKING:
    from seawall.edge.exchange import Exchange

log = logging.getLogger("seawall.challenge")
BOTS_RECENT_S = 30.0  # a strike-out this recent means bots are identified
_MAX_QUERY = 4096


def secret_of(cfg: ChallengeConfig) -> bytes:
    """The configured key, or a random one for this start (then passes end with it)."""
    if cfg.secret:
        return cfg.secret.encode()
    log.warning("challenge.secret is empty: a random key is used, passes end at restart")
    return os.urandom(32).hex().encode()


class ChallengeDesk:
    __slots__ = ("cfg", "keys", "last_struck", "pressure")

    def __init__(self, cfg: ChallengeConfig, secret: bytes) -> None:
        self.cfg = cfg
        self.keys = ChallengeKeys(secret, cfg.previous_secret.encode())
        self.pressure = 0.0  # the admission layer's, set by the sweeper
        self.last_struck = -math.inf

    def passed(self, cookie_header: str, prefix: str, user_agent: str, wall: float) -> bool:
        """Whether the request carries a valid pass for its prefix and User-Agent."""
        at = cookie_header.find(PASS_COOKIE + "=")
        if at < 0:
            return False
        value = cookie_header[at + len(PASS_COOKIE) + 1 :].split(";", 1)[0].strip()
        return check_pass(self.keys, value, prefix, user_agent, wall)

    def bits(self, wall: float) -> int:
        bots = wall - self.last_struck < BOTS_RECENT_S
        cfg = self.cfg
        return difficulty(cfg.bits, self.pressure, bots, low=min(8, cfg.bits), high=cfg.max_bits)

    def refusal(
        self,
        ex: Exchange,
        f: RequestFacts,
        v: Verdict,
        wants_html: bool,
        close: bool,
        form_post: bool = False,
    ) -> bytes:
        """The answer to a challenge verdict: the page, or 429 for what cannot run it.

        `form_post`: a browser's sign-in form on a watched auth route also gets the page;
        once solved it lands back on the form, so a stepped-up owner can always sign in.
        """
        retry = self.cfg.retry_after
        if not wants_html or (ex.method not in (b"GET", b"HEAD") and not form_post):
            ex.status = 429
            return simple_response(
                429,
                "too many requests; verify in a browser or use your API token",
                close=close,
                retry_after=retry,
                request_id=ex.rid,
                head_only=ex.is_head,
            )
        rule = v.rule_id or "manual"
        puzzle = issue(self.keys, f.prefix, f.user_agent, rule, self.bits(ex.wall), ex.wall)
        body = challenge_page(puzzle, ex.target.decode("latin-1"))
        ex.status = 403
        return _page(body, retry, ex.rid, close, ex.is_head)

    def answer(self, ex: Exchange, f: RequestFacts, secure: bool) -> tuple[bytes, Verdict]:
        """GET /.seawall/pass?seed=..&nonce=..&to=..: a pass and a 303, or a 403 saying why."""
        try:
            q = parse_qs(f.query[:_MAX_QUERY], max_num_fields=8)
        except ValueError:  # more fields than an answer has: not one
            q = {}
        seed, nonce = q.get("seed", [""])[0], q.get("nonce", [""])[0]
        to = safe_path(q.get("to", ["/"])[0])
        try:
            solved = check_solution(self.keys, seed, nonce, f.prefix, f.user_agent, ex.wall)
        except ChallengeError as err:
            ex.status = 403
            verdict = Verdict(Action.CHALLENGE, f"challenge failed: {err.reason}", "", 403)
            msg = f"challenge not passed ({err.reason}); reload the page to try again"
            return simple_response(403, msg, request_id=ex.rid, close=True), verdict
        ttl = self.cfg.pass_ttl
        value = pass_cookie(self.keys, f.prefix, f.user_agent, solved.bits, ex.wall, ttl)
        ex.status = 303
        headers = (("Location", to), pass_set_cookie(value, ttl, secure=secure))
        verdict = Verdict(Action.CHALLENGE, "challenge solved", solved.rule_id, 303)
        return simple_response(303, "see other", request_id=ex.rid, extra=headers), verdict


def _page(body: bytes, retry: float, rid: str, close: bool, head_only: bool) -> bytes:
    """403 with the challenge page, as Cloudflare's challenges answer."""
    head = ["HTTP/1.1 403 Forbidden", "Server: seawall", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in CHALLENGE_HEADERS]
    head.append(f"Retry-After: {max(1, math.ceil(retry))}")
    head.append(f"X-Request-ID: {rid}")
    if close:
        head.append("Connection: close")
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    return raw if head_only else raw + body
