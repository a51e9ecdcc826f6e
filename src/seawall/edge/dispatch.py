"""Deciding and answering: start an exchange, refuse it, or finish it and move on.

The second layer of a client connection, between its plumbing (plumbing.py) and its
HTTP parsing (connection.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

import msgspec

from seawall.core.challenge import PASS_PATH
from seawall.core.decider import STRUCK_REASON
from seawall.core.errors import ClientError
from seawall.core.facts import RequestFacts, TlsFacts
from seawall.core.verdict import Action
from seawall.edge.admission import wants
from seawall.edge.authwatch import AuthWatch, identifier_in
from seawall.edge.exchange import BODY_BUFFER, LAST_CHUNK, Exchange, frame
from seawall.edge.facts import build_facts
from seawall.edge.plumbing import IDLE, ClientPlumbing
from seawall.edge.request import upstream_head
from seawall.edge.responses import CONTINUE_100, simple_response

if TYPE_CHECKING:
    from seawall.edge.upstream import UpstreamConnection


class ClientDispatch(ClientPlumbing):
    # set up by ClientConnection; declared here for the type checker
    tls: TlsFacts
    active: Exchange | None
    pending: deque[Exchange]
    parsing: Exchange | None
    upstream: UpstreamConnection | None
    deferred: ClientError | None
    closing: bool
    tunnel: bool
    parser: Any  # httptools.HttpRequestParser

    # ---- deciding and starting exchanges ------------------------------------------------------

    def pump(self) -> None:
        """Start the active exchange if it has not started yet."""
        ex = self.active
        if ex is None or ex.verdict is not None or self.closed:
            return
        ctx = self.ctx
        if ex.facts is None:
            if ex.waiting:
                return
            token = ctx.classifier.needs_introspection(ex.head.headers, ex.wall)
            # a bearer and a session cookie may each need a lookup; a failed one is not retried
            fresh = token is not None and token != ex.looked_up
            if fresh and token is not None and ctx.introspector is not None and ex.lookups < 2:
                ex.lookups += 1
                ex.looked_up = token
                # identity needs the origin's word first; the answer lands in the cache
                ex.waiting = True
                task = asyncio.get_running_loop().create_task(
                    ctx.introspector.lookup(token), name=f"introspect-{ex.rid}"
                )
                ctx.tasks.add(task)
                task.add_done_callback(lambda t: self._after_introspection(t, ex))
                return
            ex.facts = self.facts(ex)
        if ctx.auth is not None and not self.watch(ex, ctx.auth):
            return  # the body names the account: decide once it is here
        if ex.facts.path == PASS_PATH:
            self.answer_pass(ex)
            return
        verdict = ctx.decider.decide(ex.facts, ex.t0)
        ex.verdict = verdict
        if verdict.action is Action.ALLOW or verdict.action is Action.CACHE:
            # watched routes are never answered from the cache: each view is an event
            if ctx.cache is not None and ex.auth is None and ctx.cache.lookup(self, ex):
                return  # answered from the cache, or waiting for the request fetching it
            self.forward(ex)
        else:
            self.refuse(ex)

    def _after_introspection(self, task: asyncio.Task[object], ex: Exchange) -> None:
        self.ctx.tasks.discard(task)
        ex.waiting = False
        if self.closed or ex is not self.active:
            return
        if ex.lookups >= 2 or task.cancelled() or task.exception() is not None:
            ex.facts = self.facts(ex)  # decide with what is known
        self.pump()

    def facts(self, ex: Exchange) -> RequestFacts:
        return build_facts(self.ctx, ex, self.peer, self.peer_prefix, self.tls)

    def watch(self, ex: Exchange, watch: AuthWatch) -> bool:
        """On a watched auth route, put the account in the facts; False: the body is awaited."""
        assert ex.facts is not None
        if ex.auth is not None and not ex.auth_wait:
            return True  # done already
        spec = ex.auth or watch.spec(ex.facts)
        if spec is None:
            return True
        ex.auth = spec
        if spec.account_from == "body" and not ex.complete and ex.body_bytes <= watch.max_body:
            if not ex.auth_wait and ex.head.expect_continue:
                self.write(CONTINUE_100)  # the body is wanted now, before any decision
                ex.head.expect_continue = False
            ex.auth_wait = True  # connection.py pumps again at the end of the body
            return False
        ex.auth_wait = False
        body = b"".join(ex.body) if ex.body_bytes <= watch.max_body else b""
        ctype = ex.head.headers.get("content-type", "")
        account = watch.hasher(identifier_in(spec, ex.facts, body, ctype))
        if account:
            ex.facts = msgspec.structs.replace(ex.facts, account=account)
        return True

    def forward(self, ex: Exchange) -> None:
        ctx = self.ctx
        if ex.head.expect_continue and not ex.complete and ex.buffering == 0:
            self.write(CONTINUE_100)
        if (
            ctx.admission is not None
            and ex.buffering == 0
            and ex.has_body
            and not ex.complete
            and ex.body_bytes <= BODY_BUFFER
        ):
            # a slow upload must not hold an origin slot: take the body first (up to the
            # buffer), then ask for admission; connection.py calls forward again
            ex.buffering = 1
            return
        ex.buffering = 2
        assert ex.facts is not None
        assert ctx.origins is not None
        extra, drop = b"", frozenset[bytes]()
        if (watch := ctx.auth) is not None:
            drop = watch.drop_in
            if ex.verdict is not None and ex.verdict.mark == "step-up":
                extra = watch.step_up + b": mfa\r\n"
        head = upstream_head(
            ex.method,
            ex.target,
            ex.raw,
            ex.head,
            ex.forwarded_for,
            ex.facts.client.text,
            "https" if self.tls.version else "http",
            ex.rid,
            ctx.origins.default_host,
            extra,
            drop,
        )
        # a retry on a fresh connection keeps the slot it was admitted with
        if ctx.admission is None or ex.ticket is not None or ctx.admission.enter(self, ex, head):
            ctx.origins.dispatch(self, ex, head)

    def attach(self, up: UpstreamConnection, ex: Exchange, head: bytes) -> None:
        """An upstream is ours: send the head and whatever body arrived meanwhile."""
        self.upstream = up
        chunked = ex.head.chunked
        parts = [head, *(frame(c, chunked) for c in ex.body)]
        ex.body = []
        if ex.complete and chunked:
            parts.append(LAST_CHUNK)
        ex.origin_t0 = self.ctx.clock.monotonic()
        if ex.complete:
            self.upstream_deadline = ex.origin_t0 + up.read_timeout
        up.send(b"".join(parts))
        self.resume_reading(2)

    def answer_pass(self, ex: Exchange) -> None:
        """A challenge's answer: checked here, never forwarded."""
        assert ex.facts is not None
        data, ex.verdict = self.ctx.desk.answer(ex, ex.facts, bool(self.tls.version))
        self.write(data)
        self.done(ex, ex.verdict.status != 303 or not ex.complete or ex.head.close)

    def refuse(self, ex: Exchange) -> None:
        v = ex.verdict
        assert v is not None
        desk = self.ctx.desk
        if v.reason is STRUCK_REASON:
            desk.last_struck = ex.wall  # bots identified: relax the puzzle for the rest
        if v.close:
            ex.status = 444
            self.finish(ex)
            self.abort()
            return
        ex.status = v.status
        close = not ex.complete or ex.head.close
        if v.action is Action.CHALLENGE:
            assert ex.facts is not None
            html = wants(ex) == "html"
            self.write(desk.refusal(ex, ex.facts, v, html, close, ex.auth is not None))
            self.done(ex, close)
            return
        if v.action is Action.THROTTLE:
            msg = "too many requests; retry later"
        else:
            msg = "request refused by policy"
        self.write(
            simple_response(
                v.status,
                msg,
                close=close,
                retry_after=v.retry_after,
                request_id=ex.rid,
                head_only=ex.is_head,
            )
        )
        self.done(ex, close)

    # ---- answering -------------------------------------------------------------------------

    def client_error(self, err: ClientError) -> None:
        self.ctx.stats.client_errors[str(err.status)] += 1
        self.ctx.stats.statuses[err.status] += 1
        active = self.active
        if active is not None and active.complete and active is not self.parsing:
            # a bad pipelined request: answer it after the response in flight, in order
            self.deferred = err
            self.closing = True
            self.pause_reading(16)
            return
        if active is not None and active.resp_started:
            self.abort()
            return
        self.respond_and_close(err.status, err.reason, self._failing_is_head())

    def _failing_is_head(self) -> bool:
        """Whether the request being refused is a HEAD (whose answer must have no body)."""
        ex = self.parsing or self.active
        if ex is not None:
            return ex.is_head
        try:
            return bool(self.parser.get_method() == b"HEAD")
        except Exception:  # the request line itself was not understood
            return False

    def respond_and_close(self, status: int, reason: str, head_only: bool = False) -> None:
        if self.upstream is not None:
            up, self.upstream = self.upstream, None
            up.detach_and_close()
        self.write(simple_response(status, reason, close=True, head_only=head_only))
        self.close()

    def done(self, ex: Exchange, close: bool) -> None:
        """The response is fully written: record it and move on to the next request."""
        self.finish(ex)
        self.upstream = None
        self.upstream_deadline = 0.0
        if self.deferred is not None and not self.pending:
            err, self.deferred = self.deferred, None
            self.respond_and_close(err.status, err.reason)
            return
        if close or self.ctx.draining:
            self.close()
            return
        self.active = self.pending.popleft() if self.pending else None
        if self.active is None:
            self.resume_reading(1)
            if self.parsing is None:
                self.set_deadline(IDLE)
        else:
            self.pump()

    def finish(self, ex: Exchange) -> None:
        ctx = self.ctx
        if ctx.admission is not None:
            ctx.admission.leave(ex)
        if ctx.cache is not None:
            ctx.cache.settle(ex)
        ctx.record(ex)
