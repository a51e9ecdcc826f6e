"""The lab origin's data: seeded users, posts and follows in SQLite, the queries it runs,
the worker pool that runs them with per-route costs, and the counters the lab reads.

Everything here is deterministic in the seed: the same seed gives the same users, passwords,
posts and follows, so scenarios are repeatable and the lab can sign in as anyone with
`password_for`. Passwords are stored as PBKDF2-HMAC-SHA256 with only `PBKDF2_ITERATIONS`
rounds: low on purpose so that seeding and a login stay cheap in the lab. A real site uses
600,000 or more (OWASP 2023); never copy this figure.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import random
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from seawall.lab import accounts_data
from seawall.lab.accounts_data import account_names, email_of, phone_of, quiet_rng

T = TypeVar("T")

FAMOUS = accounts_data.FAMOUS  # the blogger whose pages were the target in August 2009

PBKDF2_ITERATIONS = 1_000  # lab only, see the module docstring
EPOCH = 1_249_516_800  # 2009-08-06 00:00 UTC; seeded posts lie in the 30 days before
PAGE = 20  # posts per page
KEEP_ROWS = 10_000  # reset and SMS tables keep at most this many latest rows
MAX_ADDRESSES = 1_000_000  # distinct X-Real-IP values counted one by one
ROUTES = (
    "home", "profile", "post", "search", "login", "reset", "lookup", "timeline", "api_post", "sms",
)  # fmt: skip

_WORDS = (
    "storm", "coffee", "tbilisi", "election", "music", "train", "weather", "news", "photo",
    "friday", "summer", "code", "football", "sunset", "market", "concert", "book", "river",
    "mountain", "blog", "server", "outage", "morning", "tea", "city", "protest", "garden",
    "movie", "dinner", "travel", "holiday", "rain", "laptop", "phone", "today", "tomorrow",
)  # fmt: skip

SCHEMA = """
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, email TEXT UNIQUE NOT NULL,
  phone TEXT UNIQUE NOT NULL, bio TEXT NOT NULL, salt BLOB NOT NULL, pw_hash BLOB NOT NULL);
CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
  created INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX posts_by_user ON posts(user_id, created DESC);
CREATE INDEX posts_by_time ON posts(created DESC);
CREATE TABLE follows(follower INTEGER NOT NULL, followee INTEGER NOT NULL,
  PRIMARY KEY(follower, followee)) WITHOUT ROWID;
CREATE INDEX follows_by_followee ON follows(followee);
CREATE TABLE resets(id INTEGER PRIMARY KEY, user_id INTEGER, requested INTEGER NOT NULL);
CREATE TABLE sms(id INTEGER PRIMARY KEY, sender TEXT NOT NULL, body TEXT NOT NULL,
  received INTEGER NOT NULL, user_id INTEGER);
"""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    email: str
    phone: str
    bio: str
    salt: bytes
    pw_hash: bytes


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    user_id: int
    created: int
    body: str


@dataclass(frozen=True, slots=True)
class Dataset:
    seed: int
    users: tuple[User, ...]
    posts: tuple[Post, ...]
    follows: tuple[tuple[int, int], ...]  # (follower id, followee id)


def password_for(name: str, seed: int) -> str:
    """The seeded password of user `name`: the lab's browsers sign in with it."""
    mac = hmac.new(f"lab-seed-{seed}".encode(), name.encode(), hashlib.sha256).hexdigest()
    return f"pw-{mac[:12]}"


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)


def _user(uid: int, name: str, seed: int, rng: random.Random) -> User:
    salt = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=16).digest()
    pw_hash, bio = hash_password(password_for(name, seed), salt), " ".join(rng.choices(_WORDS, k=6))
    return User(uid, name, email_of(name), phone_of(uid), bio, salt, pw_hash)


@functools.lru_cache(maxsize=8)
def generate(seed: int = 7, users: int = 300, posts_per_user: int = 20, quiet: int = 0) -> Dataset:
    """`users` users (the first is cyxymu, with three times the posts), posts and follows,
    then `quiet` accounts that sign in but neither post nor follow (see `accounts_data`)."""
    if users < 2 or posts_per_user < 1 or quiet < 0:
        raise ValueError("need at least 2 users and 1 post per user, and quiet >= 0")
    rng = random.Random(seed)
    names = account_names(rng, users, (FAMOUS,))
    people = tuple(_user(i + 1, n, seed, rng) for i, n in enumerate(names))
    posts: list[Post] = []
    for u in people:
        for _ in range(posts_per_user * (3 if u.name == FAMOUS else 1)):
            body = " ".join(rng.choices(_WORDS, k=rng.randint(5, 18)))
            created = EPOCH - rng.randint(0, 30 * 86_400)
            posts.append(Post(len(posts) + 1, u.id, created, body))
    follows = {(u.id, 1) for u in people[1:] if rng.random() < 0.5}  # many follow cyxymu
    for u in people:
        for other in rng.sample(people, k=min(15, users - 1)):
            if other.id != u.id:
                follows.add((u.id, other.id))
    if quiet:
        q = quiet_rng(seed)
        more = account_names(q, quiet, taken=names)
        people += tuple(_user(users + i + 1, n, seed, q) for i, n in enumerate(more))
    return Dataset(seed, people, tuple(posts), tuple(sorted(follows)))


def create_db(path: str, data: Dataset) -> None:
    """A fresh SQLite file at `path` in WAL mode, holding `data`."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        with conn:
            conn.executemany(
                "INSERT INTO users VALUES (?,?,?,?,?,?,?)",
                [(u.id, u.name, u.email, u.phone, u.bio, u.salt, u.pw_hash) for u in data.users],
            )
            conn.executemany(
                "INSERT INTO posts VALUES (?,?,?,?)",
                [(p.id, p.user_id, p.created, p.body) for p in data.posts],
            )
            conn.executemany("INSERT INTO follows VALUES (?,?)", data.follows)
    finally:
        conn.close()


Row = tuple[object, ...]
_POSTS = "SELECT p.id, u.name, p.created, p.body FROM posts p JOIN users u ON u.id = p.user_id"


def user_row(conn: sqlite3.Connection, name: str) -> Row | None:
    row: Row | None = conn.execute(
        "SELECT id, name, bio FROM users WHERE name = ?", (name,)
    ).fetchone()
    return row


def profile(conn: sqlite3.Connection, name: str) -> tuple[Row, int, int, list[Row]] | None:
    """(user, post count, follower count, latest posts with their author) or None."""
    user = user_row(conn, name)
    if user is None:
        return None
    uid = user[0]
    (n_posts,) = conn.execute("SELECT count(*) FROM posts WHERE user_id = ?", (uid,)).fetchone()
    (n_fans,) = conn.execute("SELECT count(*) FROM follows WHERE followee = ?", (uid,)).fetchone()
    posts = conn.execute(
        f"{_POSTS} WHERE p.user_id = ? ORDER BY p.created DESC LIMIT {PAGE}", (uid,)
    ).fetchall()
    return user, int(n_posts), int(n_fans), posts


def post(conn: sqlite3.Connection, name: str, post_id: int) -> Row | None:
    row: Row | None = conn.execute(
        f"{_POSTS} WHERE u.name = ? AND p.id = ?", (name, post_id)
    ).fetchone()
    return row


def latest(conn: sqlite3.Connection) -> list[Row]:
    return conn.execute(f"{_POSTS} ORDER BY p.created DESC LIMIT {PAGE}").fetchall()


def timeline(conn: sqlite3.Connection, name: str) -> list[Row]:
    """The latest posts of everyone `name` follows; the public timeline for an unknown name."""
    user = user_row(conn, name)
    if user is None:
        return latest(conn)
    return conn.execute(
        f"{_POSTS} JOIN follows f ON f.followee = p.user_id WHERE f.follower = ?"
        f" ORDER BY p.created DESC LIMIT {PAGE}",
        (user[0],),
    ).fetchall()


def search(conn: sqlite3.Connection, q: str) -> list[Row]:
    """Posts whose text contains `q`: a LIKE over every post, newest first."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return conn.execute(
        f"{_POSTS} WHERE p.body LIKE ? ESCAPE '\\' ORDER BY p.created DESC LIMIT {PAGE}",
        (pattern,),
    ).fetchall()


def check_login(conn: sqlite3.Connection, name: str, password: str) -> bool:
    """Whether the password is right; an unknown user costs the same hash."""
    row = conn.execute("SELECT salt, pw_hash FROM users WHERE name = ?", (name,)).fetchone()
    salt, stored = row if row is not None else (b"no-such-user-salt", b"")
    return hmac.compare_digest(hash_password(password, salt), stored) and row is not None


def _trim(conn: sqlite3.Connection, table: str, last_id: int | None) -> None:
    if last_id is not None and last_id % 1000 == 0:
        conn.execute(f"DELETE FROM {table} WHERE id <= ?", (last_id - KEEP_ROWS,))


def request_reset(conn: sqlite3.Connection, email: str) -> bool:
    """Records a reset request; known and unknown addresses do the same work. Whether
    the address is known (the app's own log says so; the client never learns it)."""
    with conn:
        row = conn.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
        cur = conn.execute(
            "INSERT INTO resets(user_id, requested) VALUES (?, ?)",
            (row[0] if row else None, int(time.time())),
        )
        _trim(conn, "resets", cur.lastrowid)
    return row is not None


def _insert_post(conn: sqlite3.Connection, user_id: object, body: str) -> int | None:
    sql = "INSERT INTO posts(user_id, created, body) VALUES (?, ?, ?)"
    return conn.execute(sql, (user_id, int(time.time()), body)).lastrowid


def add_post(conn: sqlite3.Connection, name: str, body: str) -> int | None:
    """The new post's id; None when `name` is unknown."""
    with conn:
        user = user_row(conn, name)
        return None if user is None else _insert_post(conn, user[0], body)


def sms_inbound(conn: sqlite3.Connection, sender: str, body: str) -> int | None:
    """Stores the message; from a user's phone it becomes their post (its id is returned)."""
    with conn:
        row = conn.execute("SELECT id FROM users WHERE phone = ?", (sender,)).fetchone()
        cur = conn.execute(
            "INSERT INTO sms(sender, body, received, user_id) VALUES (?, ?, ?, ?)",
            (sender, body, int(time.time()), row[0] if row else None),
        )
        _trim(conn, "sms", cur.lastrowid)
        return None if row is None else _insert_post(conn, row[0], body)


@dataclass(frozen=True, slots=True)
class RouteCost:
    """Extra work per request, on top of its queries, holding a worker throughout."""

    sleep_ms: float = 0.0  # waiting, like a call to a cache or another service
    cpu_ms: float = 0.0  # a busy loop (it holds the GIL, as Python app code does)

    def spend(self) -> None:
        if self.sleep_ms > 0:
            time.sleep(self.sleep_ms / 1000)
        end = time.perf_counter() + self.cpu_ms / 1000
        while time.perf_counter() < end:
            pass


NO_COSTS: Mapping[str, RouteCost] = {}
# The default: time each page spends waiting on other services (cache, user and graph
# services), as in a 2009-era app server. 16 workers then serve about 400 pages/s.
DEFAULT_COSTS: Mapping[str, RouteCost] = {
    "home": RouteCost(sleep_ms=20), "profile": RouteCost(sleep_ms=40),
    "post": RouteCost(sleep_ms=25), "search": RouteCost(sleep_ms=60),
    "login": RouteCost(sleep_ms=30), "reset": RouteCost(sleep_ms=30),
    "lookup": RouteCost(sleep_ms=20),
    "timeline": RouteCost(sleep_ms=50), "api_post": RouteCost(sleep_ms=40),
    "sms": RouteCost(sleep_ms=25),
}  # fmt: skip


class Database:
    """A seeded SQLite file (WAL) in a temporary directory, queried by `workers` threads.

    `run` is blocking and meant for the pool: it spends the route's cost, then calls
    `fn(conn, *args)` with the calling thread's own connection."""

    def __init__(self, data: Dataset, workers: int, costs: Mapping[str, RouteCost]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="seawall-lab-origin-")
        self.path = str(Path(self._dir.name) / "microblog.sqlite3")
        create_db(self.path, data)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="lab-origin")
        self._costs, self._local, self._lock = costs, threading.local(), threading.Lock()
        self._conns: list[sqlite3.Connection] = []

    def run(self, route: str, fn: Callable[..., T], args: tuple[object, ...]) -> T:
        cost = self._costs.get(route)
        if cost is not None:
            cost.spend()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
            with self._lock:
                self._conns.append(conn)
            self._local.conn = conn
        return fn(conn, *args)

    def close(self) -> None:
        """Waits for running queries, then closes every connection and removes the file."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._dir.cleanup()


def _is_ip(value: str) -> bool:
    try:
        return len(value) <= 45 and bool(ipaddress.ip_address(value))
    except ValueError:
        return False


@dataclass(slots=True)
class OriginStats:
    """What reached the origin and what became of it. Gauges survive `reset`."""

    workers: int
    queue: int
    max_addresses: int = MAX_ADDRESSES
    arrived: int = 0  # every request but /_lab/stats
    admitted: int = 0  # got a worker
    queued: int = 0  # had to wait for one
    rejected: int = 0  # 503 at once: the queue was full
    timeouts: int = 0  # 503 after waiting queue_timeout
    errors: int = 0  # 5xx from a handler (an origin fault, not overload)
    in_flight: int = 0
    peak_in_flight: int = 0
    waiting: int = 0
    peak_waiting: int = 0
    busy_s: float = 0.0  # worker-seconds spent: utilization = d(busy_s) / (workers * dt)
    served: Counter[str] = field(default_factory=Counter)  # handler answers per route
    refused: Counter[str] = field(default_factory=Counter)  # admission's 503s per route
    statuses: Counter[int] = field(default_factory=Counter)
    addresses: dict[str, int] = field(default_factory=dict)  # X-Real-IP -> requests
    address_overflow: int = 0  # requests from new addresses past max_addresses
    no_real_ip: int = 0
    bad_real_ip: int = 0  # not an IP address

    def count_address(self, value: str | None) -> None:
        if not value:
            self.no_real_ip += 1
        elif value in self.addresses:
            self.addresses[value] += 1
        elif not _is_ip(value):
            self.bad_real_ip += 1
        elif len(self.addresses) >= self.max_addresses:
            self.address_overflow += 1
        else:
            self.addresses[value] = 1

    def reset(self) -> None:
        """Zeroes the counters, e.g. after measuring capacity; peaks restart from now."""
        fresh = OriginStats(self.workers, self.queue, self.max_addresses)
        for f in fields(self):
            if f.name not in ("in_flight", "waiting"):
                setattr(self, f.name, getattr(fresh, f.name))
        self.peak_in_flight, self.peak_waiting = self.in_flight, self.waiting

    def snapshot(self, addresses: bool = True) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "addresses"}
        out["statuses"] = {str(k): v for k, v in sorted(self.statuses.items())}
        out["distinct_addresses"] = len(self.addresses)
        if addresses:
            out["addresses"] = self.addresses
        return out
