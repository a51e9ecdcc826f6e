"""Proof-of-work challenge: stateless puzzles, their check, and the pass cookie they earn.

The idea is mCaptcha's and Kill-Bots': under load, a browser proves it spent a little CPU
before it may spend ours. Everything here is stateless, so any worker (and the next process,
after a restart) can check what another one issued: a puzzle's seed carries its own expiry,
difficulty and rule, and an HMAC binds them to the client's address prefix and User-Agent.

Seed:  ``{body}.{mac}`` with body ``1.{expires}.{bits}.{rule_id}.{tag}``
  mac = base64url(HMAC-SHA256(secret, "seed|{prefix}|{ua_hash}|{body}"))[:22]
  tag = 4 hex of the prefix's hash + 4 hex of the UA's hash, in clear: it only lets a refusal
  say *why* ("wrong-prefix", "wrong-agent"); the MAC is what is trusted.
Work:  sha256(f"{seed}:{nonce}") has at least ``bits`` leading zero bits; nonce counts in decimal.
Pass:  ``1.{expires}.{bits}.{mac}`` with mac over "pass|{prefix}|{ua_hash}|1.{expires}.{bits}".

The "seed|" and "pass|" prefixes keep the two MACs apart, so one can never stand in for the
other. Every field except ``prefix`` has a fixed alphabet without "|", so the messages parse
one way only. A solution may be replayed by the same prefix and UA until its puzzle expires:
that is the price of keeping no state, and it buys the replayer nothing it had not paid for.

``now`` is wall-clock epoch seconds: cookies cross restarts and workers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from seawall.core.errors import ConfigError, SeawallError

PASS_COOKIE = "seawall_pass"
PASS_PATH = "/.seawall/pass"

VERSION = "1"
MAX_BITS = 32  # the browser checks one 32-bit word
MAX_SEED = 200
MAX_NONCE = 32
MAX_RULE_ID = 64
MAX_PASS = 100
MIN_SECRET = 16
_MAC_CHARS = 22  # 132 bits of HMAC-SHA256: far beyond guessing, short in a URL
_RULE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_HEX = frozenset("0123456789abcdef")


class ChallengeError(SeawallError):
    """A solution is refused; ``reason`` is short and machine-readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChallengeKeys:
    """Signs with ``secret``; verifies with ``secret`` or ``previous``.

    Rotating the secret revokes every puzzle and pass at once; keeping the old one as
    ``previous`` for a while lets them run out on their own instead.
    """

    __slots__ = ("_keys",)

    def __init__(self, secret: bytes, previous: bytes = b"") -> None:
        if len(secret) < MIN_SECRET:
            raise ConfigError("challenge.secret", f"must be at least {MIN_SECRET} bytes")
        if previous and len(previous) < MIN_SECRET:
            raise ConfigError("challenge.previous", f"must be at least {MIN_SECRET} bytes")
        self._keys = (secret, previous) if previous else (secret,)

    def sign(self, message: str) -> str:
        return _mac(self._keys[0], message)

    def verify(self, message: str, mac: str) -> bool:
        """Constant-time against each key; every key is tried so timing says nothing."""
        ok = False
        for key in self._keys:
            ok |= hmac.compare_digest(_mac(key, message), mac)
        return ok


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_MAC_CHARS]


def _short_hash(text: str, n: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def ua_hash(user_agent: str) -> str:
    return _short_hash(user_agent, 16)


def _tag(prefix: str, ua: str) -> str:
    """Clear hint of who a seed was for: 4 hex of the prefix, then 4 of the UA hash."""
    return _short_hash(prefix, 4) + ua[:4]


@dataclass(frozen=True, slots=True)
class Puzzle:
    seed: str
    bits: int
    expires: float
    rule_id: str


@dataclass(frozen=True, slots=True)
class Solved:
    bits: int
    rule_id: str


def _check_bits(bits: int) -> None:
    if not 0 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be in 0..{MAX_BITS}, not {bits}")


def issue(
    keys: ChallengeKeys,
    prefix: str,
    user_agent: str,
    rule_id: str,
    bits: int,
    now: float,
    ttl: float = 120.0,
) -> Puzzle:
    """A fresh puzzle for this client, good until ``now + ttl`` (whole seconds)."""
    if not rule_id or len(rule_id) > MAX_RULE_ID or not set(rule_id) <= _RULE_CHARS:
        raise ValueError(f"rule_id must be 1..{MAX_RULE_ID} of [A-Za-z0-9_-]: {rule_id!r}")
    _check_bits(bits)
    if not ttl > 0:
        raise ValueError(f"ttl must be positive, not {ttl}")
    expires = int(now + ttl)
    ua = ua_hash(user_agent)
    body = f"{VERSION}.{expires}.{bits}.{rule_id}.{_tag(prefix, ua)}"
    seed = f"{body}.{keys.sign(f'seed|{prefix}|{ua}|{body}')}"
    return Puzzle(seed=seed, bits=bits, expires=float(expires), rule_id=rule_id)


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits ``digest`` starts with (all of them if it is all zeros)."""
    return len(digest) * 8 - int.from_bytes(digest, "big").bit_length()


def solves(seed: str, nonce: str, bits: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{nonce}".encode()).digest()
    return leading_zero_bits(digest) >= bits


def solve(seed: str, bits: int, start: int = 0, limit: int = 1 << 26) -> str:
    """Brute force, as the page's script does: the first decimal nonce from ``start`` that works."""
    _check_bits(bits)
    base = hashlib.sha256(f"{seed}:".encode())  # hash the seed once, copy per nonce
    shift = 32 - bits
    for n in range(start, start + limit):
        h = base.copy()
        h.update(str(n).encode())
        if int.from_bytes(h.digest()[:4], "big") >> shift == 0:
            return str(n)
    raise ValueError(f"no nonce in {start}..{start + limit} gives {bits} zero bits")


def _canonical_int(text: str, max_len: int) -> int | None:
    """A decimal without sign, spaces or leading zeros; None otherwise."""
    if not text or len(text) > max_len or not (text.isascii() and text.isdigit()):
        return None
    if len(text) > 1 and text[0] == "0":
        return None
    return int(text)


def _parse_seed(seed: str) -> tuple[int, int, str, str, str] | None:
    """(expires, bits, rule_id, tag, mac) of a well-formed seed, else None."""
    if len(seed) > MAX_SEED or not seed.isascii():
        return None
    parts = seed.split(".")
    if len(parts) != 6 or parts[0] != VERSION:
        return None
    expires, bits = _canonical_int(parts[1], 12), _canonical_int(parts[2], 2)
    rule_id, tag, mac = parts[3], parts[4], parts[5]
    if expires is None or bits is None or bits > MAX_BITS:
        return None
    if not rule_id or len(rule_id) > MAX_RULE_ID or not set(rule_id) <= _RULE_CHARS:
        return None
    if len(tag) != 8 or not set(tag) <= _HEX or len(mac) != _MAC_CHARS:
        return None
    return expires, bits, rule_id, tag, mac


def check_solution(
    keys: ChallengeKeys, seed: str, nonce: str, prefix: str, user_agent: str, now: float
) -> Solved:
    """One HMAC for the seed, one hash for the work; raises ChallengeError with a reason."""
    parsed = _parse_seed(seed)
    if parsed is None or _canonical_int(nonce, MAX_NONCE) is None:
        raise ChallengeError("malformed")
    expires, bits, rule_id, tag, mac = parsed
    ua = ua_hash(user_agent)
    if tag[:4] != _short_hash(prefix, 4):
        raise ChallengeError("wrong-prefix")
    if tag[4:] != ua[:4]:
        raise ChallengeError("wrong-agent")
    body = seed[: -_MAC_CHARS - 1]
    if not keys.verify(f"seed|{prefix}|{ua}|{body}", mac):
        raise ChallengeError("forged")
    if now > expires:
        raise ChallengeError("expired")
    if not solves(seed, nonce, bits):
        raise ChallengeError("unsolved")
    return Solved(bits=bits, rule_id=rule_id)


def pass_cookie(
    keys: ChallengeKeys, prefix: str, user_agent: str, bits: int, now: float, ttl: float
) -> str:
    """The cookie value a solved puzzle earns, good until ``now + ttl`` (whole seconds)."""
    _check_bits(bits)
    if not ttl > 0:
        raise ValueError(f"ttl must be positive, not {ttl}")
    body = f"{VERSION}.{int(now + ttl)}.{bits}"
    return f"{body}.{keys.sign(f'pass|{prefix}|{ua_hash(user_agent)}|{body}')}"


def check_pass(keys: ChallengeKeys, value: str, prefix: str, user_agent: str, now: float) -> bool:
    """True for an unexpired pass issued to this prefix and UA; False for anything else."""
    if len(value) > MAX_PASS or not value.isascii():
        return False
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != VERSION or len(parts[3]) != _MAC_CHARS:
        return False
    expires, bits = _canonical_int(parts[1], 12), _canonical_int(parts[2], 2)
    if expires is None or bits is None or bits > MAX_BITS or now > expires:
        return False
    body = value[: -_MAC_CHARS - 1]
    return keys.verify(f"pass|{prefix}|{ua_hash(user_agent)}|{body}", parts[3])


def difficulty(base: int, load: float, bots_identified: bool, low: int = 8, high: int = 22) -> int:
    """Leading zero bits to ask for, given admission pressure ``load`` (0 idle, 1 full).

    mCaptcha: the busier we are, the more work a request costs, ``base + round(4 * load)``
    with load capped at 1.5. Kill-Bots: once the bots are identified (and blocked by other
    means), the humans left over get an easier puzzle, ``base - 2``, whatever the load.
    Each extra bit doubles the expected work. The result is clamped to ``[low, high]``.

    ==========================  ============
    load (bots not identified)  bits
    ==========================  ============
    0.0 to < 0.125              base
    0.125 to < 0.375            base + 1
    0.375 to < 0.625            base + 2
    0.625 to < 0.875            base + 3
    0.875 to < 1.125            base + 4
    1.125 to < 1.375            base + 5
    1.375 and above             base + 6
    bots identified, any load   base - 2
    ==========================  ============
    """
    if not 0 <= low <= high <= MAX_BITS:
        raise ValueError(f"need 0 <= low <= high <= {MAX_BITS}, got {low}, {high}")
    if bots_identified:
        bits = base - 2
    else:
        pressure = min(load, 1.5) if load > 0 else 0.0  # NaN and negatives count as idle
        bits = base + int(4 * pressure + 0.5)  # half rounds up, not to even
    return max(low, min(high, bits))
