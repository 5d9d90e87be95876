"""The SQLite historian: the embedded default, written to be kind to SD cards.

Write path. `write()` only appends the points to an in-memory queue (thread-safe, O(1) per point, never
touches the disk). One writer thread commits what is queued every `flush_interval_s` (2 s), or as soon as
`batch_max` points wait, in one transaction, into a small append-only `inbox` table: a commit rewrites one
page at the tail of that table instead of one page per series. Every `compact_interval_s` (30 min) or
`compact_rows` rows, the inbox is moved in one transaction into `samples`, clustered by (series, time) for
range queries, and the 1-minute and 1-hour roll-ups of the minutes and hours it touched are recomputed from
the level below (so a point written twice counts once); each series' tail pages are then rewritten once per
compaction instead of once per commit. Queries read `samples`, the roll-ups and the inbox in one read
transaction, so whatever has been committed is in every answer.

Measured for 120 series at one point per 10 s (benchmarks/historian_sqlite.py): 2.3 fsyncs and 441 KiB
written per 1,000 points, against 43 fsyncs and 6.6 MiB when every commit goes straight into the clustered
table with synchronous=FULL; 37 MB of file per million points with the roll-ups.

Durability: WAL with `synchronous=NORMAL`, because with WAL, NORMAL fsyncs only at checkpoints while FULL
fsyncs the WAL at every commit, and every fsync makes an SD card flush its cache and program partly filled
pages. What NORMAL gives up is only for power cuts: a commit survives a crash of the process (kill -9, OOM,
an exception) at once, because it is in the kernel's page cache and the WAL is consistent; it survives a
power cut once it is on the card. So one commit every `sync_interval_s` (60 s) is made with
`synchronous=FULL`, and when commits stop, the writer checkpoints (fsync) once `sync_interval_s` has passed:
a power cut takes at most the last `flush_interval_s + sync_interval_s` (62 s; the certification allows
3 % of a day, 43 min), and never the database's consistency (SQLite drops a torn WAL tail by its
checksums). `flush()` returns when everything written before it is committed. Checkpoints run every
`checkpoint_interval_s` (PASSIVE: they never wait for readers), the automatic one is a backstop at 4,000
pages, and the WAL is truncated to 16 MiB after them.

Retention. Raw rows older than `raw_days` (30) and 1-minute rows older than `minute_days` (365) are deleted
by the writer thread in transactions of at most `retention_batch` rows, committing queued points between
them, so no write lock is held for long. The 1-hour roll-up is kept for ever, and so are events (numeric
fields of kind `event`, and every text field). A point that arrives after its raw retention (a spool replay
of old data) is merged into the roll-ups that are kept.

Times are integer milliseconds since the epoch (UTC); sub-millisecond parts are dropped. Two points of one
series at the same millisecond: the later write wins.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from farmcore.errors import BadInput
from farmcore.historian import sqlite_queries
from farmcore.historian.base import (
    KINDS,
    Aggregate,
    Event,
    Kind,
    Latest,
    Point,
    Sample,
    SeriesInfo,
    SpoolAlarm,
    event_args,
    query_names,
    window_agg,
)
from farmcore.historian.sqlite_queries import from_ms, typed_value

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SCHEMA_VERSION = 1
MAX_WINDOWS = 1_000_000  # windows per series in one downsampled query
_KIND_RANK = {k: i for i, k in enumerate(KINDS)}
# Value types of a series, widened as values arrive: text < bool < int < float.
_VTYPE_RANK = {"t": 0, "b": 1, "i": 2, "f": 3}
_NEVER = -(2**62)  # a cut-off before all time: nothing is old enough to delete
_LEVELS = ((HOUR_MS, "rollup_1h"), (MINUTE_MS, "rollup_1m"))  # coarse to fine; below them, the raw rows
_LEVEL_FACTOR = 4  # a roll-up serves windows that are whole buckets, or at least this many buckets long

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id    INTEGER PRIMARY KEY,
    site  TEXT NOT NULL,
    zone  TEXT NOT NULL,
    kind  TEXT NOT NULL,
    name  TEXT NOT NULL,
    field TEXT NOT NULL,
    vtype TEXT NOT NULL,            -- b bool, i int, f float, t text: how latest() gives values back
    UNIQUE (site, zone, name, kind, field)
);
CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);   -- qualities
CREATE TABLE IF NOT EXISTS tagsets (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);  -- tags, as JSON
-- Numeric values land here first: append-only, so a commit writes only the table's tail page.
CREATE TABLE IF NOT EXISTS inbox (series_id INTEGER NOT NULL, t INTEGER NOT NULL, v REAL, q INTEGER, g INTEGER);
-- Numeric values for range queries: one series' rows are contiguous and in time order.
CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL, t INTEGER NOT NULL, v REAL, q INTEGER, g INTEGER,
    PRIMARY KEY (series_id, t)
) WITHOUT ROWID;
-- Text fields (event messages and codes, a setpoint's source given as a field, ...): kept for ever.
CREATE TABLE IF NOT EXISTS texts (
    series_id INTEGER NOT NULL, t INTEGER NOT NULL, s TEXT NOT NULL, q INTEGER, g INTEGER,
    PRIMARY KEY (series_id, t)
) WITHOUT ROWID;
-- Roll-ups: t is the start of the minute/hour; n values (non-NaN), their sum, min, max and the last one.
CREATE TABLE IF NOT EXISTS rollup_1m (
    series_id INTEGER NOT NULL, t INTEGER NOT NULL, n INTEGER NOT NULL, vsum REAL, vmin REAL, vmax REAL,
    vlast REAL, last_t INTEGER NOT NULL,
    PRIMARY KEY (series_id, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1h (
    series_id INTEGER NOT NULL, t INTEGER NOT NULL, n INTEGER NOT NULL, vsum REAL, vmin REAL, vmax REAL,
    vlast REAL, last_t INTEGER NOT NULL,
    PRIMARY KEY (series_id, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO counters VALUES ('points', 0);
"""

_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS dirty_m (series_id INTEGER, b INTEGER, keep INTEGER, PRIMARY KEY (series_id, b))
    WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS dirty_h (series_id INTEGER, b INTEGER, PRIMARY KEY (series_id, b)) WITHOUT ROWID;
"""

# Minutes touched by the inbox whose raw rows are all still kept: recompute from the raw rows, so a point
# written twice (a spool replay) is counted once.
_RECOMPUTE_1M = """
INSERT OR REPLACE INTO rollup_1m (series_id, t, n, vsum, vmin, vmax, vlast, last_t)
SELECT d.series_id, d.b, count(*), sum(s.v), min(s.v), max(s.v),
       (SELECT x.v FROM samples x WHERE x.series_id = d.series_id AND x.t >= d.b AND x.t < d.b + 60000
          AND x.v IS NOT NULL ORDER BY x.t DESC LIMIT 1),
       max(s.t)
FROM temp.dirty_m d JOIN samples s ON s.series_id = d.series_id AND s.t >= d.b AND s.t < d.b + 60000
WHERE s.v IS NOT NULL AND (d.b >= :cut OR d.keep)
GROUP BY d.series_id, d.b
"""

_RECOMPUTE_1H = """
INSERT OR REPLACE INTO rollup_1h (series_id, t, n, vsum, vmin, vmax, vlast, last_t)
SELECT d.series_id, d.b, sum(m.n), sum(m.vsum), min(m.vmin), max(m.vmax),
       (SELECT x.vlast FROM rollup_1m x WHERE x.series_id = d.series_id AND x.t >= d.b AND x.t < d.b + 3600000
          ORDER BY x.t DESC LIMIT 1),
       max(m.last_t)
FROM temp.dirty_h d JOIN rollup_1m m ON m.series_id = d.series_id AND m.t >= d.b AND m.t < d.b + 3600000
WHERE d.b >= :cut
GROUP BY d.series_id, d.b
"""

# Late points older than the retention of the level below: merge them into the roll-up row.
_MERGE = """
INSERT INTO {table} (series_id, t, n, vsum, vmin, vmax, vlast, last_t) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (series_id, t) DO UPDATE SET
    n = n + excluded.n, vsum = vsum + excluded.vsum,
    vmin = min(vmin, excluded.vmin), vmax = max(vmax, excluded.vmax),
    vlast = CASE WHEN excluded.last_t >= last_t THEN excluded.vlast ELSE vlast END,
    last_t = max(last_t, excluded.last_t)
"""

# Partial aggregates per window, for each source. A partial is (sum, n) for mean, a value for min and max,
# (time, value) for last; partials of the same window from different sources are merged in Python.
_RAW_AGG = {
    "mean": "sum(v), count(v)",
    "min": "min(v)",
    "max": "max(v)",
    "last": "max(t), v",  # SQLite: with a single max(), the bare column comes from that row
}
# The same, one window at a time (an index range each): (expression, ordering) per column.
_RAW_SEEK = {
    "mean": (("sum(v)", ""), ("count(v)", "")),
    "min": (("min(v)", ""),),
    "max": (("max(v)", ""),),
    "last": (("t", " ORDER BY t DESC LIMIT 1"), ("v", " ORDER BY t DESC LIMIT 1")),
}
_ROLLUP_SEEK = {
    "mean": (("sum(vsum)", ""), ("sum(n)", "")),
    "min": (("min(vmin)", ""),),
    "max": (("max(vmax)", ""),),
    "last": (("last_t", " ORDER BY t DESC LIMIT 1"), ("vlast", " ORDER BY t DESC LIMIT 1")),
}
_SEEK_WINDOWS = 5_000  # up to this many windows, one index range per window; beyond, one scan and a sort
_ROLLUP_AGG = {
    "mean": "sum(vsum), sum(n)",
    "min": "min(vmin)",
    "max": "max(vmax)",
    "last": "max(last_t), vlast",
}


def to_ms(when: datetime) -> int:
    """A tz-aware datetime -> integer milliseconds since the epoch (UTC), sub-milliseconds dropped."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise BadInput(f"time {when.isoformat()} has no time zone; give UTC (…Z or +00:00) or a local offset")
    return (when - EPOCH) // _MS


def _floor(t: int, step: int) -> int:
    return t - t % step


def _merge(agg: str, a: Any, b: Any) -> Any:
    """Merge two partial aggregates of one window (b is the newer source on ties)."""
    if a is None:
        return b
    if b is None:
        return a
    if agg == "mean":
        return (a[0] + b[0], a[1] + b[1])
    if agg == "min":
        return min(a, b)
    if agg == "max":
        return max(a, b)
    return b if b[0] >= a[0] else a


def _final(agg: str, partial: Any) -> float | None:
    if partial is None:
        return None
    if agg == "mean":
        total, n = partial
        return total / n if n else None
    if agg == "last":
        return partial[1]
    return partial


def _vtype(value: object) -> str | None:
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    if isinstance(value, str):
        return "t"
    return None


def _cut(now_s: float, days: float | None, align: int) -> int:
    """The retention cut-off for `days`, aligned down to whole minutes/hours (nothing older when None)."""
    if days is None:
        return _NEVER
    return _floor(int(now_s * 1000) - int(days * DAY_MS), align)


class SqliteHistorian:
    """The embedded historian on one SQLite file. Thread-safe: any thread may write, query or flush."""

    backend = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, batch_max: int = 5_000, flush_interval_s: float = 2.0,
                 raw_days: float | None = 30.0, minute_days: float | None = 365.0,
                 clock: Callable[[], float] = time.time, sync_interval_s: float = 60.0,
                 compact_interval_s: float = 1800.0, compact_rows: int = 50_000,
                 checkpoint_interval_s: float = 300.0, retention_interval_s: float = 3600.0,
                 retention_batch: int = 5_000, max_queue: int = 2_000_000, read_only: bool = False) -> None:
        self.on_alarm: Callable[[SpoolAlarm], None] | None = None  # no outbox here: never called
        if batch_max < 1 or flush_interval_s <= 0 or max_queue < batch_max:
            raise BadInput("historian: batch_max >= 1, flush_interval_s > 0 and max_queue >= batch_max")
        for label, days in (("raw_days", raw_days), ("minute_days", minute_days)):
            if days is not None and days <= 0:
                raise BadInput(f"historian: {label} must be > 0 days (or none to keep for ever), got {days}")
        if raw_days is not None and minute_days is not None and minute_days < raw_days:
            raise BadInput(f"historian: minute_days ({minute_days}) must be >= raw_days ({raw_days})")
        self.path = Path(path)
        self.read_only = read_only
        self._batch_max = batch_max
        self._flush_interval_s = flush_interval_s
        self.raw_days = raw_days
        self.minute_days = minute_days
        self._clock = clock
        self._sync_interval_s = sync_interval_s
        self._compact_interval_s = compact_interval_s
        self._compact_rows = compact_rows
        self._checkpoint_interval_s = checkpoint_interval_s
        self._retention_interval_s = retention_interval_s
        self._retention_batch = retention_batch
        self._max_queue = max_queue

        if read_only and not self.path.exists():
            raise BadInput(f"{self.path}: no history database there")
        self._conn = self._connect()
        self._init_schema()

        # Writer-thread state (series, quality and tag ids are cached; reloaded after a rollback).
        self._series: dict[tuple[str, str, str, str, str], list[Any]] = {}
        self._labels: dict[str, int] = {}
        self._tagsets: dict[str, int] = {}
        self._load_caches()
        self._inbox_rows = self._conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
        now = clock()
        self._last_compact = now
        self._last_checkpoint = now
        self._last_durable = -math.inf
        self._last_retention: float | None = None

        # Shared state, guarded by _cond.
        self._cond = threading.Condition()
        self._queue: deque[Point] = deque()
        self._pending: list[Point] = []  # taken from the queue, not yet committed (retried on failure)
        self._enqueued = 0
        self._done = 0  # committed, rejected or dropped
        self._dropped = 0
        self._rejected = 0
        self._flush_wanted = False
        self._tasks: list[tuple[Callable[[], Any], dict[str, Any], threading.Event]] = []
        self._closing = False
        self._closed = False
        self._commits = 0
        self._durable_commits = 0
        self._checkpoints = 0
        self._fsyncs = 0  # what this process asked for: durable commits, checkpoints, WAL restarts
        self._wal_restart = False
        self._unsynced = False  # the last commit has not been fsynced yet
        self._compactions = 0
        self._last_commit: float | None = None
        self._last_compaction: float | None = None
        self._last_error: str | None = None

        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if not read_only:
            self._thread = threading.Thread(target=self._run, name=f"historian-sqlite:{self.path.name}",
                                            daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ connections and schema

    def _connect(self) -> sqlite3.Connection:
        try:
            if not self.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA temp_store = MEMORY")
            if not self.read_only:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    raise BadInput(f"{self.path}: SQLite cannot use WAL here (journal mode {mode})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint = 4000")  # a backstop; checkpoints are run on a timer
            conn.execute(f"PRAGMA journal_size_limit = {16 * 1024 * 1024}")
        except sqlite3.Error as exc:
            raise BadInput(f"{self.path}: cannot open the history database: {exc}") from None
        return conn

    def _init_schema(self) -> None:
        c = self._conn
        try:
            version = c.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise BadInput(f"{self.path}: history schema version {version}; this farmctl reads {SCHEMA_VERSION}")
            if version == 0 and not self.read_only:
                c.execute("BEGIN IMMEDIATE")
                for statement in _statements(SCHEMA):  # not executescript(): it would commit first
                    c.execute(statement)
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                c.execute("COMMIT")
            elif version == 0:
                raise BadInput(f"{self.path}: not a history database")
            for statement in _statements(_TEMP):
                c.execute(statement)
        except sqlite3.DatabaseError as exc:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise BadInput(f"{self.path}: not a usable history database: {exc}") from None

    def _load_caches(self) -> None:
        c = self._conn
        self._series = {(s, z, k, n, f): [i, v] for i, s, z, k, n, f, v in
                        c.execute("SELECT id, site, zone, kind, name, field, vtype FROM series")}
        self._labels = {text: i for i, text in c.execute("SELECT id, text FROM labels")}
        self._tagsets = {text: i for i, text in c.execute("SELECT id, json FROM tagsets")}
        self._tag_ids: dict[frozenset[tuple[str, str]], int] = {}  # the same, keyed by the tags' items

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError(f"historian {self.path} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA temp_store = MEMORY")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    # ------------------------------------------------------------------ the write side (any thread)

    def write(self, points: Sequence[Point]) -> None:
        """Queue points for the writer thread and return at once; never touches the disk."""
        if self.read_only:
            raise BadInput(f"{self.path}: opened read-only")
        n = len(points)
        if not n:
            return
        with self._cond:
            if self._closing:
                raise RuntimeError(f"historian {self.path} is closed")
            self._queue.extend(points)
            self._enqueued += n
            over = len(self._queue) - self._max_queue
            if over > 0:  # the disk has been failing for a long time: keep memory bounded, count the loss
                for _ in range(over):
                    self._queue.popleft()
                self._dropped += over
                self._done += over
                self._cond.notify_all()
            if len(self._queue) >= self._batch_max:
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every point written before this call is committed; False on timeout."""
        if self.read_only:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._enqueued
            if self._done >= target:
                return True
            self._flush_wanted = True
            self._cond.notify_all()
            while self._done < target:
                if self._thread is None or not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 1.0)
        return True

    def commit(self, timeout: float | None = None) -> bool:
        """Commit what is queued now (WAL, synchronous=NORMAL: a commit survives kill -9 at once); False on
        timeout. Costs one small transaction into the inbox, without an fsync."""
        return self.flush(timeout)

    def maintain(self, timeout: float | None = 60.0) -> None:
        """Compact the inbox, apply retention and checkpoint now (tests, `history stats --maintain`)."""
        self._call(self._maintain_now, timeout)

    def close(self) -> None:
        """Commit everything queued, compact, checkpoint (fsync) and release the file."""
        with self._cond:
            if self._closed or self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60.0)
            if self._thread.is_alive():
                log.error("historian %s: writer did not finish within 60 s; closing anyway", self.path)
        self._closed = True
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        if self._thread is None or not self._thread.is_alive():
            self._conn.close()

    def __enter__(self) -> SqliteHistorian:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable[[], Any], timeout: float | None) -> Any:
        if self.read_only or self._thread is None:
            raise BadInput(f"{self.path}: opened read-only")
        box: dict[str, Any] = {}
        done = threading.Event()
        with self._cond:
            if self._closing:
                raise RuntimeError(f"historian {self.path} is closed")
            self._tasks.append((fn, box, done))
            self._cond.notify_all()
        if not done.wait(timeout):
            raise TimeoutError(f"historian {self.path}: maintenance did not finish within {timeout} s")
        if "error" in box:
            raise box["error"]
        return box.get("result")

    # ------------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        next_commit = time.monotonic() + self._flush_interval_s
        backoff = 0.0
        while True:
            with self._cond:
                while not (self._closing or self._tasks or self._flush_wanted
                           or len(self._queue) >= self._batch_max):
                    remaining = next_commit - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                until = time.monotonic() + backoff  # after a failed commit, wait before trying again
                while not self._closing and (pause := until - time.monotonic()) > 0:
                    self._cond.wait(pause)
                tasks, self._tasks = self._tasks, []
                self._flush_wanted = False
                closing = self._closing
            next_commit = time.monotonic() + self._flush_interval_s
            try:
                ok = self._commit_queued()
                if ok:
                    self._housekeeping()
            except Exception as exc:  # never let the writer thread die: log, back off, go on
                log.exception("historian %s: writer error", self.path)
                self._last_error = f"{type(exc).__name__}: {exc}"
                ok = False
            backoff = 0.0 if ok else min(30.0, max(0.5, backoff * 2))
            for fn, box, done in tasks:
                try:
                    box["result"] = fn()
                except Exception as exc:  # handed back to the caller
                    box["error"] = exc
                done.set()
            if closing:
                self._shutdown()
                return

    def _take(self) -> list[Point]:
        with self._cond:
            if self._queue:
                self._pending.extend(self._queue)
                self._queue = deque()
            return self._pending

    def _commit_queued(self) -> bool:
        """Commit everything queued, in transactions of at most `batch_max` points. False on a failure."""
        pending = self._take()
        while pending:
            chunk = pending[: self._batch_max]
            try:
                rejected = self._commit(chunk)
            except sqlite3.Error as exc:  # disk full, I/O error, locked: keep the points, try again later
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.warning("historian %s: commit failed, will retry: %s", self.path, exc)
                return False
            except Exception as exc:  # a value SQLite cannot bind: find it, store the rest
                log.warning("historian %s: a point could not be stored (%s); storing one by one", self.path, exc)
                rejected = self._commit_singly(chunk)
            del pending[: len(chunk)]
            with self._cond:
                self._done += len(chunk)
                self._rejected += rejected
                self._cond.notify_all()
            if not pending:
                pending = self._take()
        return True

    def _commit_singly(self, points: list[Point]) -> int:
        rejected = 0
        for p in points:
            try:
                rejected += self._commit([p])
            except sqlite3.Error:
                raise
            except Exception as exc:
                rejected += 1
                self._last_error = f"point {getattr(p, 'name', p)!r} rejected: {type(exc).__name__}: {exc}"
                log.warning("historian %s: %s", self.path, self._last_error)
        return rejected

    def _commit(self, points: list[Point]) -> int:
        c = self._conn
        now = self._clock()
        durable = now - self._last_durable >= self._sync_interval_s
        if durable:
            c.execute("PRAGMA synchronous = FULL")  # this commit fsyncs the WAL
        try:
            c.execute("BEGIN IMMEDIATE")
            try:
                numbers, texts, rejected = self._rows(points)
                c.executemany("INSERT INTO inbox VALUES (?, ?, ?, ?, ?)", numbers)
                if texts:
                    c.executemany("INSERT OR REPLACE INTO texts VALUES (?, ?, ?, ?, ?)", texts)
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                self._load_caches()  # ids handed out in the rolled-back transaction are gone
                raise
        finally:
            if durable:
                c.execute("PRAGMA synchronous = NORMAL")
        self._inbox_rows += len(numbers)
        self._commits += 1
        self._last_commit = now
        self._last_error = None
        self._unsynced = not durable
        if durable:
            self._durable_commits += 1
            self._fsyncs += 1
            self._last_durable = now
        if self._wal_restart:
            self._fsyncs += 1
            self._wal_restart = False
        if self._compact_interval_s <= 0:
            self._compact()
        return rejected

    def _rows(self, points: list[Point]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
        """Points -> inbox rows and text rows, creating series, quality and tag ids as needed (the hot loop:
        every lookup is one dict get for the common case)."""
        numbers: list[tuple[Any, ...]] = []
        texts: list[tuple[Any, ...]] = []
        add_number, add_text = numbers.append, texts.append
        rejected = 0
        series, labels, tag_ids = self._series, self._labels, self._tag_ids
        epoch, ms = EPOCH, _MS
        for p in points:
            try:
                t = (p.time - epoch) // ms
                quality, tags = p.quality, p.tags
                q = None if quality is None else labels.get(quality) or self._label(quality)
                g = None
                if tags:
                    try:
                        g = tag_ids.get(frozenset(tags.items())) or self._tagset(tags)
                    except TypeError:  # an unhashable tag value: keyed by its JSON instead
                        g = self._tagset(tags)
                site, zone, kind, name = p.site, p.zone, p.kind, p.name
                fields = p.fields.items()
            except (AttributeError, TypeError, ValueError) as exc:
                rejected += 1
                log.warning("historian %s: not a point, dropped: %s", self.path, exc)
                continue
            for f, v in fields:
                entry = series.get((site, zone, kind, name, f))
                vt = "f" if type(v) is float else _vtype(v)
                if vt == "i" and not -(2**63) <= v < 2**63:
                    v, vt = float(v), "f"  # beyond SQLite's 64-bit integers
                if entry is None or vt != entry[1]:
                    if vt is None:
                        log.warning("historian %s: %s.%s: %r is not a number, bool or text, dropped",
                                    self.path, name, f, v)
                        continue
                    if entry is None:
                        entry = self._new_series((site, zone, kind, name), f, vt)
                    elif vt != "t" and _VTYPE_RANK[vt] > _VTYPE_RANK[entry[1]]:
                        self._conn.execute("UPDATE series SET vtype = ? WHERE id = ?", (vt, entry[0]))
                        entry[1] = vt
                if vt == "t":
                    add_text((entry[0], t, v, q, g))
                else:
                    if v != v:  # NaN: kept as NULL, with its quality
                        v = None
                    add_number((entry[0], t, v, q, g))
        return numbers, texts, rejected

    def _new_series(self, head: tuple[str, str, str, str], field: str, vtype: str) -> list[Any]:
        c = self._conn
        c.execute("INSERT OR IGNORE INTO series (site, zone, kind, name, field, vtype) VALUES (?, ?, ?, ?, ?, ?)",
                  (*head, field, vtype))
        sid, stored = c.execute("SELECT id, vtype FROM series WHERE site = ? AND zone = ? AND kind = ? AND name = ?"
                                " AND field = ?", (*head, field)).fetchone()
        entry = [sid, stored]
        self._series[(*head, field)] = entry
        return entry

    def _label(self, text: str) -> int:
        c = self._conn
        c.execute("INSERT OR IGNORE INTO labels (text) VALUES (?)", (text,))
        self._labels[text] = c.execute("SELECT id FROM labels WHERE text = ?", (text,)).fetchone()[0]
        return self._labels[text]

    def _tagset(self, tags: Mapping[str, str]) -> int:
        key = json.dumps(dict(tags), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        gid = self._tagsets.get(key)
        if gid is None:
            c = self._conn
            c.execute("INSERT OR IGNORE INTO tagsets (json) VALUES (?)", (key,))
            gid = self._tagsets[key] = c.execute("SELECT id FROM tagsets WHERE json = ?", (key,)).fetchone()[0]
        with contextlib.suppress(TypeError):
            self._tag_ids[frozenset(tags.items())] = gid
        return gid

    def _housekeeping(self) -> None:
        now = self._clock()
        try:
            if self._inbox_rows and (now - self._last_compact >= self._compact_interval_s
                                     or self._inbox_rows >= self._compact_rows):
                self._compact()
            if self._last_retention is None or now - self._last_retention >= self._retention_interval_s:
                self._retention()
            if now - self._last_checkpoint >= self._checkpoint_interval_s or (
                    self._unsynced and now - self._last_durable >= self._sync_interval_s):
                self._checkpoint("PASSIVE")  # fsyncs the WAL first: also bounds what a power cut can take
                self._unsynced = False
                self._last_durable = now
        except sqlite3.Error as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.warning("historian %s: maintenance failed, will retry: %s", self.path, exc)

    def _maintain_now(self) -> None:
        self._compact()
        self._retention()
        self._checkpoint("PASSIVE")

    def _compact(self) -> None:
        """Move the inbox into `samples` and bring the roll-ups of the minutes and hours it touched up to date."""
        c = self._conn
        now = self._clock()
        raw_cut = _cut(now, self.raw_days, MINUTE_MS)
        minute_cut = _cut(now, self.minute_days, HOUR_MS)
        c.execute("BEGIN IMMEDIATE")
        try:
            n = c.execute("SELECT count(*) FROM inbox").fetchone()[0]
            if n:
                # In arrival order (no sort; a repeat of a point replaces the earlier one).
                c.execute("INSERT OR REPLACE INTO samples SELECT series_id, t, v, q, g FROM inbox ORDER BY rowid")
                c.execute("DELETE FROM temp.dirty_m")
                c.execute("DELETE FROM temp.dirty_h")
                c.execute("INSERT OR IGNORE INTO temp.dirty_m SELECT series_id, t - t % 60000, 0 FROM inbox"
                          " WHERE v IS NOT NULL")
                c.execute("UPDATE temp.dirty_m SET keep = 1 WHERE series_id IN (SELECT id FROM series"
                          " WHERE kind = 'event')")
                c.execute(_RECOMPUTE_1M, {"cut": raw_cut})
                old_minutes, old_hours = self._late_rows(raw_cut, minute_cut)
                c.executemany(_MERGE.format(table="rollup_1m"), old_minutes)
                c.execute("INSERT OR IGNORE INTO temp.dirty_h SELECT series_id, b - b % 3600000 FROM temp.dirty_m")
                c.execute(_RECOMPUTE_1H, {"cut": minute_cut})
                c.executemany(_MERGE.format(table="rollup_1h"), old_hours)
                c.execute("DELETE FROM inbox")
                c.execute("UPDATE counters SET value = value + ? WHERE name = 'points'", (n,))
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        self._inbox_rows = 0
        self._last_compact = now
        self._last_compaction = now
        self._compactions += 1

    def _late_rows(self, raw_cut: int, minute_cut: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Roll-up partials of inbox rows older than the retention of the level below (rare: old replays)."""
        if raw_cut == _NEVER and minute_cut == _NEVER:
            return [], []
        rows = self._conn.execute(
            "SELECT i.series_id, i.t, i.v, s.kind = 'event' FROM inbox i JOIN series s ON s.id = i.series_id"
            " WHERE i.v IS NOT NULL AND i.t < max(:raw, :minute) ORDER BY i.rowid",
            {"raw": raw_cut, "minute": minute_cut}).fetchall()
        minutes: dict[tuple[int, int], list[Any]] = {}
        hours: dict[tuple[int, int], list[Any]] = {}
        for sid, t, v, is_event in rows:
            if t < raw_cut and not is_event:
                _accumulate(minutes, (sid, _floor(t, MINUTE_MS)), t, v)
            if t < minute_cut:
                _accumulate(hours, (sid, _floor(t, HOUR_MS)), t, v)
        return ([(sid, b, *acc) for (sid, b), acc in minutes.items()],
                [(sid, b, *acc) for (sid, b), acc in hours.items()])

    def _retention(self) -> None:
        """Delete raw rows older than raw_days and 1-minute rows older than minute_days, in small transactions."""
        c = self._conn
        now = self._clock()
        raw_cut = _cut(now, self.raw_days, MINUTE_MS)
        minute_cut = _cut(now, self.minute_days, HOUR_MS)
        if self._inbox_rows:
            self._compact()  # the roll-ups of what is deleted must exist first
        targets: list[tuple[str, int, int]] = []
        if raw_cut != _NEVER:
            targets += [("samples", sid, raw_cut) for (sid,) in
                        c.execute("SELECT id FROM series WHERE kind != 'event' ORDER BY id")]
        if minute_cut != _NEVER:
            targets += [("rollup_1m", sid, minute_cut) for (sid,) in c.execute("SELECT id FROM series ORDER BY id")]
        batch = self._retention_batch
        budget = batch
        c.execute("BEGIN IMMEDIATE")
        try:
            for table, sid, cut in targets:
                while True:
                    deleted = c.execute(
                        f"DELETE FROM {table} WHERE series_id = :sid AND t < coalesce((SELECT t FROM {table}"
                        " WHERE series_id = :sid AND t < :cut ORDER BY t LIMIT 1 OFFSET :budget), :cut)",
                        {"sid": sid, "cut": cut, "budget": budget}).rowcount
                    budget -= deleted
                    if budget > 0:
                        break
                    c.execute("COMMIT")  # a small transaction: let queued points in between
                    self._commit_queued()
                    c.execute("BEGIN IMMEDIATE")
                    budget = batch
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        self._last_retention = now

    def _checkpoint(self, mode: str) -> None:
        busy, frames, copied = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        self._last_checkpoint = self._clock()
        if copied > 0:
            self._checkpoints += 1
            self._fsyncs += 2  # the WAL, then the database file
        if not busy and frames > 0 and copied == frames and mode != "TRUNCATE":
            self._wal_restart = True  # the next commit rewrites the WAL header, and syncs it

    def _shutdown(self) -> None:
        try:
            self._commit_queued()
            if self._inbox_rows:
                self._compact()
            self._checkpoint("TRUNCATE")
        except sqlite3.Error as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.error("historian %s: could not finish on close: %s", self.path, exc)
        finally:
            self._conn.close()
            with self._cond:
                self._cond.notify_all()

    # ------------------------------------------------------------------ the read side (any thread)

    def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run fn in one read transaction: the inbox and the tables it moves into are seen at one instant."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    def _resolve(self, conn: sqlite3.Connection, site: str, zone: str, names: Sequence[str], field: str,
                 kind: str | None) -> dict[str, list[int]]:
        """name -> its series ids, in KINDS order (one id when `kind` is given)."""
        marks = ",".join("?" * len(names))
        found: dict[str, list[tuple[int, int]]] = {}
        for sid, name, k in conn.execute(
                f"SELECT id, name, kind FROM series WHERE site = ? AND zone = ? AND field = ? AND name IN ({marks})",
                (site, zone, field, *names)):
            if kind is None or k == kind:
                found.setdefault(name, []).append((_KIND_RANK.get(k, 99), sid))
        return {name: [sid for _, sid in sorted(ranked)] for name, ranked in found.items()}

    def query(self, *, site: str, zone: str, names: Sequence[str], start: datetime, end: datetime,
              every: timedelta | None = None, agg: Aggregate = "mean", field: str = "value",
              kind: Kind | None = None) -> dict[str, list[Sample]]:
        """Series by name over [start, end), in time order.

        Without `every`: the raw samples (a NaN point comes back as None). With `every`: one sample per
        window of `every` aligned to multiples of `every` since the epoch (UTC), stamped with the window's
        start (the first window may start before `start`; only data in [start, end) counts), for every
        window that overlaps [start, end) — None where a window has no data — or [] when the series has no
        data at all in [start, end). With `kind` None, a name kept under several kinds answers for the first
        kind in KINDS order (sensor, setpoint, actuator, event) that has data in the range.

        Windows read the coarsest table that fits (see `_windows`): whole hours the 1-hour roll-up, whole
        minutes the 1-minute roll-up, so data older than `raw_days` still answers by the minute and older
        than `minute_days` by the hour; windows that are not whole minutes lose the partial minutes at their
        edges once the raw rows of that age are gone.
        """
        names = query_names(names, agg, kind)
        lo, hi = to_ms(start), to_ms(end)
        out: dict[str, list[Sample]] = {name: [] for name in names}
        if hi <= lo or not names:
            return out
        step = None
        if every is not None:
            step = every // _MS
            if step <= 0:
                raise BadInput(f"every {every}: must be at least 1 ms")
            if (hi - 1) // step - lo // step + 1 > MAX_WINDOWS:
                raise BadInput(f"every {every}: more than {MAX_WINDOWS} windows in the range; ask for wider windows")

        def run(conn: sqlite3.Connection) -> None:
            candidates = self._resolve(conn, site, zone, names, field, kind)
            if not candidates:
                return
            inbox = self._inbox_rows_for(conn, [sid for sids in candidates.values() for sid in sids], lo, hi)
            for name, sids in candidates.items():
                for sid in sids:  # kind=None: the first kind, in KINDS order, with data in the range
                    if step is None:
                        out[name] = self._raw(conn, sid, lo, hi, inbox.get(sid, ()))
                    else:
                        series = conn.execute("SELECT kind, field FROM series WHERE id = ?", (sid,)).fetchone()
                        out[name] = self._windows(conn, sid, lo, hi, step, window_agg(*series, agg), inbox.get(sid, ()))
                    if out[name]:
                        break

        self._read(run)
        return out

    @staticmethod
    def _inbox_rows_for(conn: sqlite3.Connection, sids: list[int], lo: int, hi: int) -> dict[int, list[Any]]:
        marks = ",".join("?" * len(sids))
        rows: dict[int, list[Any]] = {}
        for sid, t, v in conn.execute(f"SELECT series_id, t, v FROM inbox WHERE series_id IN ({marks})"
                                      " AND t >= ? AND t < ? ORDER BY rowid", (*sids, lo, hi)):
            rows.setdefault(sid, []).append((t, v))
        return rows

    @staticmethod
    def _raw(conn: sqlite3.Connection, sid: int, lo: int, hi: int, inbox: Sequence[tuple[int, Any]]) -> list[Sample]:
        rows = conn.execute("SELECT t, v FROM samples WHERE series_id = ? AND t >= ? AND t < ? ORDER BY t",
                            (sid, lo, hi)).fetchall()
        if inbox:
            merged = dict(rows)
            merged.update(inbox)  # the inbox is newer: it wins on the same millisecond
            rows = sorted(merged.items())
        return [Sample(from_ms(t), v) for t, v in rows]

    def _windows(self, conn: sqlite3.Connection, sid: int, lo: int, hi: int, step: int, agg: str,
                 inbox: Sequence[tuple[int, Any]]) -> list[Sample]:
        """Downsample from the coarsest table that fits: roll-up buckets that lie inside one window come from
        the roll-up, the buckets cut by a window edge or by the range's ends from the level below (down to
        the raw rows). So the answer is exact for any `every`, and a 30-day range by 86.4-minute windows reads
        43,200 minute rows and a few hundred raw rows instead of 259,200 raw rows."""
        partials: dict[int, Any] = {}
        params = {"step": step, "sid": sid}

        def add(source: str, a: int, b: int, within: int = 0) -> None:
            """Partials of the rows of `source` in [a, b); with `within`, only the buckets of that size that lie
            inside one window."""
            if b <= a:
                return
            raw = source == "samples"
            nulls = " AND v IS NOT NULL" if raw else ""
            if (b - 1) // step - a // step < _SEEK_WINDOWS:
                # One index range per window: no sort, and each aggregate stops at its window's edge.
                rng = f"series_id = :sid AND t >= max(w.s, :a) AND t < min(w.s + :step - :r + 1, :b){nulls}"
                cols = ", ".join(f"(SELECT {expr} FROM {source} WHERE {rng}{tail})"
                                 for expr, tail in (_RAW_SEEK if raw else _ROLLUP_SEEK)[agg])
                sql = ("WITH RECURSIVE w(s) AS (SELECT :first UNION ALL SELECT s + :step FROM w WHERE s + :step < :b)"
                       f" SELECT s, {cols} FROM w")
            elif raw:
                sql = f"SELECT t - t % :step AS w, {_RAW_AGG[agg]} FROM samples WHERE series_id = :sid" \
                      f" AND t >= :a AND t < :b{nulls} GROUP BY w"
            else:
                inside = " AND t - t % :step = (t + :r - 1) - (t + :r - 1) % :step" if within else ""
                sql = f"SELECT t - t % :step AS w, {_ROLLUP_AGG[agg]} FROM {source} WHERE series_id = :sid" \
                      f" AND t >= :a AND t < :b{inside} GROUP BY w"
            args = {**params, "a": a, "b": b, "r": within or 1, "first": _floor(a, step)}
            for w, *part in conn.execute(sql, args):
                p = tuple(part) if len(part) == 2 else part[0]
                if p is None or (agg == "mean" and not p[1]) or (agg == "last" and p[0] is None):
                    continue
                partials[w] = _merge(agg, partials.get(w), p)

        def cover(level: int, a: int, b: int) -> None:
            if b <= a:
                return
            if level >= len(_LEVELS):
                add("samples", a, b)
                return
            r, table = _LEVELS[level]
            first, last = -(-a // r) * r, _floor(b, r)  # whole buckets inside [a, b)
            if first >= last:
                cover(level + 1, a, b)
                return
            cover(level + 1, a, first)
            cover(level + 1, last, b)
            if step % r == 0:
                add(table, first, last)
                return
            add(table, first, last, within=r)
            for k in range(first // step + 1, (last - 1) // step + 1):  # window edges inside [first, last)
                edge = k * step
                if edge % r:
                    cut = _floor(edge, r)
                    cover(level + 1, cut, cut + r)

        level = next((i for i, (r, _) in enumerate(_LEVELS) if step % r == 0 or step >= _LEVEL_FACTOR * r),
                     len(_LEVELS))
        cover(level, lo, hi)
        for t, v in inbox:
            if v is None:
                continue
            w = _floor(t, step)
            p = (v, 1) if agg == "mean" else (t, v) if agg == "last" else v
            partials[w] = _merge(agg, partials.get(w), p)
        if not partials:
            return []
        first_w, last_w = _floor(lo, step), _floor(hi - 1, step)
        return [Sample(from_ms(w), _final(agg, partials.get(w)))
                for w in range(first_w, last_w + 1, step)]

    def latest(self, *, site: str, zone: str, names: Sequence[str] | None = None) -> dict[str, Latest]:
        """The newest point of each name: the fields stamped with its newest time, and that row's quality.
        A name kept under several kinds answers for the first kind in KINDS order (sensor first)."""
        if isinstance(names, str):
            names = [names]

        def run(conn: sqlite3.Connection) -> dict[str, Latest]:
            sql = "SELECT id, kind, name, field, vtype FROM series WHERE site = ? AND zone = ?"
            args: list[Any] = [site, zone]
            if names is not None:
                if not names:
                    return {}
                sql += f" AND name IN ({','.join('?' * len(names))})"
                args += list(names)
            rows = conn.execute(sql, args).fetchall()
            chosen: dict[str, str] = {}
            for _, k, name, _, _ in rows:
                if name not in chosen or _KIND_RANK.get(k, 99) < _KIND_RANK.get(chosen[name], 99):
                    chosen[name] = k
            rows = [r for r in rows if chosen[r[2]] == r[1]]
            if not rows:
                return {}
            sids = [r[0] for r in rows]
            marks = ",".join("?" * len(sids))
            newest: dict[int, tuple[int, Any, Any]] = {
                sid: (t, v, q) for sid, t, v, q in conn.execute(
                    f"SELECT series_id, max(t), v, q FROM inbox WHERE series_id IN ({marks}) GROUP BY series_id",
                    sids)}
            labels = dict(conn.execute("SELECT id, text FROM labels"))
            result: dict[str, Latest] = {}
            by_name: dict[str, list[tuple[int, str, Any, Any, str]]] = {}
            for sid, _, name, field, vtype in rows:
                candidates = []
                if sid in newest:
                    candidates.append(newest[sid])
                for sql_one in ("SELECT t, v, q FROM samples WHERE series_id = ? ORDER BY t DESC LIMIT 1",
                                "SELECT t, s, q FROM texts WHERE series_id = ? ORDER BY t DESC LIMIT 1"):
                    row = conn.execute(sql_one, (sid,)).fetchone()
                    if row is not None:
                        candidates.append(row)
                if not candidates:  # raw rows gone: the roll-ups still know the last value
                    for table in ("rollup_1m", "rollup_1h"):
                        row = conn.execute(f"SELECT last_t, vlast, NULL FROM {table} WHERE series_id = ?"
                                           " ORDER BY t DESC LIMIT 1", (sid,)).fetchone()
                        if row is not None:
                            candidates.append(row)
                            break
                if not candidates:
                    continue
                t, v, q = max(candidates, key=lambda r: r[0])  # max() keeps the first on ties: inbox wins
                value = v if isinstance(v, str) else typed_value(vtype, v)
                by_name.setdefault(name, []).append((t, field, value, q, vtype))
            for name, fields in by_name.items():
                t = max(f[0] for f in fields)
                at_t = [f for f in fields if f[0] == t]
                q = next((f[3] for f in at_t if f[3] is not None), None)
                result[name] = Latest(time=from_ms(t), fields={f[1]: f[2] for f in at_t},
                                      quality=labels.get(q) if q is not None else None)
            return result

        return self._read(run)

    def sites(self) -> list[str]:
        """The site ids that have data, for commands that may leave --site out on a one-site box."""
        return self._read(sqlite_queries.sites)

    def catalog(self, *, site: str, zone: str) -> list[SeriesInfo]:
        """Every series of a zone: kind, name, field, whether it is numeric, and its unit tag if it has one."""
        return self._read(lambda conn: sqlite_queries.catalog(conn, site, zone))

    def events(self, *, site: str, zone: str | None = None, start: datetime, end: datetime,
               codes: Sequence[str] | None = None, limit: int = 1000) -> list[Event]:
        """Event points over [start, end), the newest `limit`, newest last (see `Historian.events`)."""
        names = event_args(start, end, codes, limit)
        lo, hi = to_ms(start), to_ms(end)
        if hi <= lo:
            return []
        return self._read(lambda conn: sqlite_queries.events(conn, site=site, zone=zone, lo=lo, hi=hi,
                                                             codes=names, limit=limit))

    def stats(self) -> dict[str, object]:
        """Counts, sizes, queue depth, times of the oldest and newest data, commits and fsyncs."""

        def run(conn: sqlite3.Connection) -> dict[str, object]:
            one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
            compacted = one("SELECT value FROM counters WHERE name = 'points'")
            inbox = one("SELECT count(*) FROM inbox")
            bounds = conn.execute(
                "SELECT min((SELECT t FROM samples WHERE series_id = s.id ORDER BY t LIMIT 1)),"
                " max((SELECT t FROM samples WHERE series_id = s.id ORDER BY t DESC LIMIT 1)),"
                " min((SELECT t FROM rollup_1h WHERE series_id = s.id ORDER BY t LIMIT 1)),"
                " min((SELECT t FROM texts WHERE series_id = s.id ORDER BY t LIMIT 1)),"
                " max((SELECT t FROM texts WHERE series_id = s.id ORDER BY t DESC LIMIT 1)),"
                " max((SELECT last_t FROM rollup_1h WHERE series_id = s.id ORDER BY t DESC LIMIT 1)) FROM series s"
            ).fetchone()
            inbox_bounds = conn.execute("SELECT min(t), max(t) FROM inbox").fetchone()
            oldest = [t for t in (bounds[0], bounds[2], bounds[3], inbox_bounds[0]) if t is not None]
            newest = [t for t in (bounds[1], bounds[4], bounds[5], inbox_bounds[1]) if t is not None]
            return {
                "series": one("SELECT count(*) FROM series"),
                "zones": one("SELECT count(*) FROM (SELECT DISTINCT site, zone FROM series)"),
                "points": compacted + inbox + one("SELECT count(*) FROM texts"),
                "inbox_rows": inbox,
                "text_points": one("SELECT count(*) FROM texts"),
                "oldest": from_ms(min(oldest)) if oldest else None,
                "oldest_raw": from_ms(bounds[0]) if bounds[0] is not None else None,
                "newest": from_ms(max(newest)) if newest else None,
            }

        out: dict[str, object] = {"backend": self.backend, "path": str(self.path)}
        out.update(self._read(run))
        sizes = {}
        for suffix in ("", "-wal", "-shm"):
            try:
                sizes[suffix] = os.path.getsize(f"{self.path}{suffix}")
            except OSError:
                sizes[suffix] = 0
        with self._cond:
            queue_depth = len(self._queue) + len(self._pending)
            out.update({
                "db_bytes": sizes[""],
                "wal_bytes": sizes["-wal"],
                "queue_depth": queue_depth,
                "written": self._enqueued,
                "committed": self._done - self._dropped - self._rejected,
                "dropped": self._dropped,
                "rejected": self._rejected,
                "commits": self._commits,
                "durable_commits": self._durable_commits,
                "compactions": self._compactions,
                "checkpoints": self._checkpoints,
                "fsyncs": self._fsyncs,
                "last_commit": datetime.fromtimestamp(self._last_commit, UTC) if self._last_commit else None,
                "last_compaction": (datetime.fromtimestamp(self._last_compaction, UTC)
                                    if self._last_compaction else None),
                "last_error": self._last_error,
                "raw_days": self.raw_days,
                "minute_days": self.minute_days,
                "read_only": self.read_only,
            })
        return out


def _accumulate(acc: dict[tuple[int, int], list[Any]], key: tuple[int, int], t: int, v: float) -> None:
    cur = acc.get(key)
    if cur is None:
        acc[key] = [1, v, v, v, v, t]  # n, sum, min, max, last, last_t
        return
    cur[0] += 1
    cur[1] += v
    cur[2] = min(cur[2], v)
    cur[3] = max(cur[3], v)
    if t >= cur[5]:
        cur[4], cur[5] = v, t


def _statements(script: str) -> list[str]:
    """Split a script of simple statements (no triggers) on semicolons, dropping comments."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
