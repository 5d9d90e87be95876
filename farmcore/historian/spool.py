"""The durable spool: a local SQLite outbox in front of a remote time-series server.

A point is stored here first and removed only after the server has acknowledged it.

Durability
    `append(points)` is one transaction, committed with `synchronous=FULL` in WAL mode, so the points are on
    disk when it returns (a crash, kill -9 or power cut after that loses none of them). The daemon calls it once
    per tick with that tick's points: one fsync per tick, not per point. `ack(up_to_seq)` deletes what the
    server has accepted; it commits with `synchronous=NORMAL` (no fsync of its own; the next append's fsync
    makes it durable), since a lost ack only means a resend, never a loss.

Order and exactly-once
    Every line gets a sequence number (`seq`, increasing, never reused); `peek(n)` returns the oldest lines in
    that order and the sender sends them in that order, in batches. A line is sent again after a restart only
    if the server accepted it but the process died before the ack was committed (or the ack was not yet
    synced at a power cut). The line is then byte-for-byte the same: same series (measurement and tags), same
    field and same timestamp, which InfluxDB treats as the same point (the second write overwrites the first
    with the same value), so the series still holds it once. VictoriaMetrics stores such a repeat as a second
    sample unless it runs with `-dedup.minScrapeInterval` (1ms is enough: our timestamps are the sample times,
    so one series never has two different samples within a millisecond); the tests check both: no repeat is
    sent when nothing was in flight, and with deduplication on, a replayed batch is present once.

Bound and policy when full
    The spool holds at most `max_bytes` of queued data, counted as the line-protocol bytes plus a fixed
    per-row overhead (`ROW_OVERHEAD`), which is close to what the rows take in the database file. The file
    itself can be larger by the WAL (truncated after checkpoints to `WAL_LIMIT`) and free pages (given back
    when the spool drains). When an append takes the spool over the bound, the spool makes room in this order:

    1. the oldest *sensor* points are dropped (raw readings: the most numerous and the least valuable one by
       one; the newest readings are kept, so the spool ends up holding the most recent window);
    2. only when no sensor point is left, the oldest setpoint and actuator points are dropped;
    3. events (alarms, commands applied or refused, recipe changes) are never dropped: if the spool holds
       nothing but events it grows past the bound rather than lose one.

    Alarms: at 80 % of the bound the spool raises `spool_nearly_full`; when it first has to drop points it
    raises `spool_full`; both clear when the spool drains below 70 %. Each raise and clear is reported to the
    `on_full` callback (a `SpoolAlarm`) and also written into the spool as an event point (kind `event`,
    zone `_historian`, name = the alarm code, fields `state`, `message`, `dropped`, `bytes`, `max_bytes`), so
    the server learns, after the outage, that and how much data was dropped. Dropped counts by kind are kept
    in the file and survive restarts. An append is never refused for lack of room. The alarm events carry
    the site of the points being written (the last one seen, for a clear that comes with an ack).

Lines the server refuses
    A line the server refuses for good (HTTP 400 for that line alone) is moved by `reject()` to the
    `rejected` table of the same file (the newest REJECTED_KEEP are kept for inspection) so that it never
    blocks the lines behind it.

Threads and processes
    One object serves the writer (append) and the sender (peek, ack) threads behind one lock. The writer
    holds an exclusive flock on `<spool>.lock`: a second writer (a second daemon configured with the same
    spool) gets `SpoolInUse` at once instead of sending the same points twice. The kernel drops the lock when
    the process dies, so a restart after kill -9 opens the file normally (SQLite's WAL recovery discards any
    half-written transaction). `read_only=True` opens a spool another process writes, for looking at it
    (depth, bytes, alarms) from the command line.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from farmcore.errors import FarmError
from farmcore.historian import lineproto
from farmcore.historian.base import Point, SpoolAlarm

log = logging.getLogger(__name__)

ROW_OVERHEAD = 24  # bytes per row beyond the line: rowid, tier, record header, b-tree cell
WAL_LIMIT = 16 * 2**20  # the WAL is truncated to this after a checkpoint
NEARLY_FULL = 0.8
CLEAR_BELOW = 0.7
ALARM_ZONE = "_historian"
TIER = {"sensor": 0, "setpoint": 1, "actuator": 1, "event": 2}
TIER_CHAR = {kind: str(tier) for kind, tier in TIER.items()}
SCHEMA_VERSION = 1
REJECTED_KEEP = 10_000  # rejected lines kept for inspection (oldest go first)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tier INTEGER NOT NULL,  -- 0 sensor, 1 setpoint/actuator, 2 event: the drop order when full
    line BLOB NOT NULL      -- line protocol, UTF-8, ending with the sample time in ns
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    line BLOB NOT NULL,
    error TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
"""


class SpoolError(FarmError):
    """The spool cannot store or is not available (locked by another process, disk full, closed)."""


class SpoolInUse(SpoolError):
    """Another process (a running daemon) holds the spool for writing."""


class Spool:
    """SQLite outbox of line-protocol lines; see the module docstring for durability and the full policy."""

    def __init__(self, path: str | Path, *, max_bytes: int = 256 * 2**20,
                 on_full: Callable[[SpoolAlarm], None] | None = None, int_as_float: bool = False,
                 read_only: bool = False) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.on_full = on_full
        self.int_as_float = int_as_float
        self.read_only = read_only
        self._lock = threading.RLock()
        self._lock_file: int | None = None
        self._closed = False
        db = self._open_read_only() if read_only else self._open_writer()
        self._db = db
        self._load_state()

    def _open_writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the kernel if the process dies
        except OSError as exc:
            os.close(fd)
            raise SpoolInUse(f"spool {self.path} is in use by another process (a running daemon?)") from exc
        self._lock_file = fd
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        except sqlite3.Error as exc:
            self._release_lock_file()
            raise SpoolError(f"spool {self.path}: {exc}") from exc
        try:
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes effect on a new file
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise SpoolError(f"spool {self.path}: cannot use WAL journal mode (got {mode})")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            db.execute("PRAGMA wal_autocheckpoint=4000")  # 16 MB of WAL between checkpoints: fewer syncs of the file
            db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            db.execute("COMMIT")
        except (sqlite3.Error, SpoolError) as exc:
            db.close()
            self._release_lock_file()
            if isinstance(exc, SpoolError):
                raise
            raise SpoolError(f"spool {self.path}: {exc}") from exc
        return db

    def _open_read_only(self) -> sqlite3.Connection:
        """For looking at a spool another process writes (the command line beside a running daemon)."""
        if not self.path.exists():
            raise SpoolError(f"spool {self.path}: no such file")
        try:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                 check_same_thread=False, timeout=5.0)
            db.execute("SELECT 1 FROM outbox LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise SpoolError(f"spool {self.path}: cannot read it: {exc}") from exc
        return db

    def _release_lock_file(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)  # closing the descriptor releases the flock
            self._lock_file = None

    def _load_state(self) -> None:
        db = self._db
        count, payload = db.execute("SELECT COUNT(*), COALESCE(SUM(length(line)), 0) FROM outbox").fetchone()
        self._depth = count
        self._bytes = payload + count * ROW_OVERHEAD
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        self._dropped = {0: int(meta.get("dropped_sensor", 0)), 1: int(meta.get("dropped_setpoint_actuator", 0))}
        self._rejected = int(meta.get("rejected", 0))
        self._alarms = {"spool_nearly_full": bool(meta.get("alarm_spool_nearly_full", 0)),
                        "spool_full": bool(meta.get("alarm_spool_full", 0))}
        self._site = meta.get("site")

    # -- writer side --------------------------------------------------------------------------------------------

    def append(self, points: Sequence[Point]) -> int:
        """Store the points (one transaction, on disk when this returns); returns how many were stored.
        Raises ValueError, before storing anything, if a point cannot be encoded (see lineproto)."""
        encode, int_as_float = lineproto.encode, self.int_as_float
        lines = [encode(point, int_as_float=int_as_float) for point in points]
        if not lines:
            return 0
        return self.append_lines(lines, "".join([TIER_CHAR[point.kind] for point in points]), site=points[0].site)

    def append_lines(self, lines: Sequence[str], tiers: str, *, site: str | None = None) -> int:
        """Store encoded lines; `tiers` holds one digit per line, `TIER[kind]` of its point (the drop order).
        One transaction, durable on return. The lines go to SQLite as one JSON array (json_each), so the
        cost per line stays in C."""
        if not lines:
            return 0
        if len(tiers) != len(lines) or tiers.strip("012"):
            raise ValueError("tiers: one of 0, 1, 2 per line")
        payload = json.dumps(lines, ensure_ascii=False)
        payload_bytes = sum(map(len, lines)) if payload.isascii() else sum(len(line.encode()) for line in lines)
        added = payload_bytes + ROW_OVERHEAD * len(lines)
        with self._lock:
            db = self._writable()
            alarms: list[SpoolAlarm] = []
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO outbox (tier, line) SELECT CAST(substr(?2, key + 1, 1) AS INTEGER), "
                           "CAST(value AS BLOB) FROM json_each(?1) ORDER BY key", (payload, tiers))
                depth, size = self._depth + len(lines), self._bytes + added
                dropped_now = {0: 0, 1: 0}
                depth, size = self._make_room(db, depth, size, dropped_now)
                if site is not None and site != self._site:
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('site', ?)", (site,))
                alarm_site = site or self._site
                for code, state in self._alarm_changes(size, any(dropped_now.values())):
                    alarm = self._alarm(code, state, size, depth, dropped_now)
                    alarms.append(alarm)
                    if alarm_site is not None:
                        line = _alarm_line(alarm, alarm_site, self.int_as_float)
                        db.execute("INSERT INTO outbox (tier, line) VALUES (2, ?)", (line,))
                        depth += 1
                        size += len(line) + ROW_OVERHEAD
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"alarm_{code}", int(state == "raised")))
                if alarms:  # the alarm events themselves may take the spool over the bound
                    depth, size = self._make_room(db, depth, size, dropped_now)
                for tier, n in dropped_now.items():
                    if n:
                        key = "dropped_sensor" if tier == 0 else "dropped_setpoint_actuator"
                        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, self._dropped[tier] + n))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                raise SpoolError(f"spool {self.path}: cannot store {len(lines)} points: {exc}") from exc
            self._depth, self._bytes = depth, size
            for tier, n in dropped_now.items():
                self._dropped[tier] += n
            for alarm in alarms:
                self._alarms[alarm.code] = alarm.state == "raised"
            if site is not None:
                self._site = site
            if any(dropped_now.values()):
                log.warning("spool %s full (%d of %d bytes): dropped %d sensor and %d setpoint/actuator points",
                            self.path, size, self.max_bytes, dropped_now[0], dropped_now[1])
        self._report(alarms)
        return len(lines)

    def _make_room(self, db: sqlite3.Connection, depth: int, size: int,
                   dropped_now: dict[int, int]) -> tuple[int, int]:
        """Apply the policy when over the bound: oldest sensor points, then setpoints/actuators, never events."""
        for tier in (0, 1):
            if size <= self.max_bytes:
                break
            n, freed = self._drop_oldest(db, tier, size - self.max_bytes)
            depth -= n
            size -= freed
            dropped_now[tier] += n
        return depth, size

    def _drop_oldest(self, db: sqlite3.Connection, tier: int, need: int) -> tuple[int, int]:
        """Delete the oldest rows of `tier` until `need` bytes are freed (or none is left)."""
        freed = count = 0
        last = None
        cursor = db.execute("SELECT seq, length(line) FROM outbox WHERE tier = ? ORDER BY seq", (tier,))
        while freed < need:
            chunk = cursor.fetchmany(1000)
            if not chunk:
                break
            for seq, size in chunk:
                freed += size + ROW_OVERHEAD
                count += 1
                last = seq
                if freed >= need:
                    break
        cursor.close()
        if last is not None:
            db.execute("DELETE FROM outbox WHERE tier = ? AND seq <= ?", (tier, last))
        return count, freed

    # -- sender side --------------------------------------------------------------------------------------------

    def peek(self, n: int) -> list[tuple[int, str]]:
        """The oldest `n` queued lines as (seq, line protocol), in order; nothing is removed."""
        return [(seq, line.decode()) for seq, line in self.peek_raw(n)]

    def peek_raw(self, n: int) -> list[tuple[int, bytes]]:
        with self._lock:
            db = self._open_db()
            return db.execute("SELECT seq, line FROM outbox ORDER BY seq LIMIT ?", (n,)).fetchall()

    def ack(self, up_to_seq: int) -> int:
        """The server has accepted everything up to `up_to_seq`: remove it. Returns the rows removed."""
        alarms: list[SpoolAlarm] = []
        with self._lock:
            db = self._writable()
            try:
                removed, payload = db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(length(line)), 0) FROM outbox WHERE seq <= ?", (up_to_seq,)
                ).fetchone()
                if not removed:
                    return 0
                depth = self._depth - removed
                size = self._bytes - payload - removed * ROW_OVERHEAD
                db.execute("PRAGMA synchronous=NORMAL")  # a lost ack means a resend, which the server dedupes
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM outbox WHERE seq <= ?", (up_to_seq,))
                for code, state in self._alarm_changes(size, False):
                    alarm = self._alarm(code, state, size, depth, {0: 0, 1: 0})
                    alarms.append(alarm)
                    if self._site is not None:
                        line = _alarm_line(alarm, self._site, self.int_as_float)
                        db.execute("INSERT INTO outbox (tier, line) VALUES (2, ?)", (line,))
                        depth += 1
                        size += len(line) + ROW_OVERHEAD
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"alarm_{code}", int(state == "raised")))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                raise SpoolError(f"spool {self.path}: ack failed: {exc}") from exc
            finally:
                _quiet(db, "PRAGMA synchronous=FULL")
            self._depth, self._bytes = depth, size
            for alarm in alarms:
                self._alarms[alarm.code] = alarm.state == "raised"
            if depth == 0:
                self._give_back_space(db)
        self._report(alarms)
        return removed

    def reject(self, seq: int, error: str) -> None:
        """The server refuses this line for good (HTTP 400 for that line alone): move it out of the outbox
        into the `rejected` table (the newest REJECTED_KEEP are kept there for inspection)."""
        with self._lock:
            db = self._writable()
            try:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute("SELECT line FROM outbox WHERE seq = ?", (seq,)).fetchone()
                if row is None:
                    db.execute("ROLLBACK")
                    return
                db.execute("INSERT OR REPLACE INTO rejected VALUES (?, ?, ?, ?)",
                           (seq, row[0], error[:500], datetime.now(UTC).isoformat()))
                db.execute("DELETE FROM rejected WHERE seq <= (SELECT seq FROM rejected ORDER BY seq DESC "
                           "LIMIT 1 OFFSET ?)", (REJECTED_KEEP,))
                db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                db.execute("INSERT OR REPLACE INTO meta VALUES ('rejected', ?)", (self._rejected + 1,))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                raise SpoolError(f"spool {self.path}: reject failed: {exc}") from exc
            self._rejected += 1
            self._depth -= 1
            self._bytes -= len(row[0]) + ROW_OVERHEAD

    # -- state --------------------------------------------------------------------------------------------------

    def depth(self) -> int:
        """Lines queued (not yet acknowledged by the server)."""
        return self._depth

    def bytes(self) -> int:
        """Queued bytes as counted against `max_bytes` (line bytes + ROW_OVERHEAD per line)."""
        return self._bytes

    def last_seq(self) -> int:
        """The highest sequence number ever given (0 for a new spool)."""
        with self._lock:
            row = self._open_db().execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            return row[0] if row else 0

    def head_seq(self) -> int | None:
        """The sequence number of the oldest queued line, None when empty."""
        with self._lock:
            row = self._open_db().execute("SELECT seq FROM outbox ORDER BY seq LIMIT 1").fetchone()
            return row[0] if row else None

    def stats(self) -> dict[str, object]:
        with self._lock:
            db = self._open_db()
            if self.read_only:  # another process changes it: read it afresh
                self._load_state()
            first = db.execute("SELECT line FROM outbox ORDER BY seq LIMIT 1").fetchone()
            last = db.execute("SELECT line FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()
            return {
                "spool_path": str(self.path),
                "spool_depth": self._depth,
                "spool_bytes": self._bytes,
                "spool_max_bytes": self.max_bytes,
                "spool_file_bytes": _file_bytes(self.path),
                "spool_first_time": _iso(first[0]) if first else None,
                "spool_last_time": _iso(last[0]) if last else None,
                "spool_dropped_sensor": self._dropped[0],
                "spool_dropped_setpoint_actuator": self._dropped[1],
                "spool_rejected": self._rejected,
                "spool_alarms": sorted(code for code, on in self._alarms.items() if on),
            }

    def rejected_lines(self) -> list[tuple[int, str, str]]:
        with self._lock:
            rows = self._open_db().execute("SELECT seq, line, error FROM rejected ORDER BY seq").fetchall()
            return [(seq, line.decode(), error) for seq, line, error in rows]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self.read_only:
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error as exc:  # still durable: the WAL is replayed at the next open
                    log.warning("spool %s: checkpoint at close failed: %s", self.path, exc)
            self._db.close()
            self._release_lock_file()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------------------

    def _open_db(self) -> sqlite3.Connection:
        if self._closed:
            raise SpoolError(f"spool {self.path} is closed")
        return self._db

    def _writable(self) -> sqlite3.Connection:
        if self.read_only:
            raise SpoolError(f"spool {self.path} is open read-only")
        return self._open_db()

    def _alarm_changes(self, size: int, dropped: bool) -> list[tuple[str, str]]:
        changes = []
        ratio = size / self.max_bytes
        if ratio >= NEARLY_FULL and not self._alarms["spool_nearly_full"]:
            changes.append(("spool_nearly_full", "raised"))
        if (dropped or size > self.max_bytes) and not self._alarms["spool_full"]:
            changes.append(("spool_full", "raised"))
        if ratio < CLEAR_BELOW:
            changes += [(code, "cleared") for code in ("spool_full", "spool_nearly_full") if self._alarms[code]]
        return changes

    def _alarm(self, code: str, state: str, size: int, depth: int, dropped_now: dict[int, int]) -> SpoolAlarm:
        dropped = self._dropped[0] + self._dropped[1] + sum(dropped_now.values())
        pct = 100 * size / self.max_bytes
        if state == "cleared":
            message = f"historian spool back to {pct:.0f} % of its bound"
        elif code == "spool_full":
            message = (f"historian spool full ({self.max_bytes} bytes): dropping the oldest sensor points "
                       f"({dropped} dropped so far)")
        else:
            message = f"historian spool at {pct:.0f} % of its bound ({depth} points waiting for the server)"
        return SpoolAlarm(code, state, size, self.max_bytes, depth, dropped, message)

    def _report(self, alarms: list[SpoolAlarm]) -> None:
        for alarm in alarms:
            log.warning("%s %s: %s", alarm.code, alarm.state, alarm.message)
            if self.on_full is not None:
                try:
                    self.on_full(alarm)
                except Exception:  # a faulty callback must not break the write path
                    log.exception("spool on_full callback failed")

    def _give_back_space(self, db: sqlite3.Connection) -> None:
        try:
            free = db.execute("PRAGMA freelist_count").fetchone()[0]
            if free > 256:
                db.execute("PRAGMA incremental_vacuum")
        except sqlite3.Error as exc:
            log.debug("spool %s: incremental vacuum failed: %s", self.path, exc)


def _alarm_line(alarm: SpoolAlarm, site: str, int_as_float: bool) -> bytes:
    point = Point(kind="event", site=site, zone=ALARM_ZONE, name=alarm.code, time=datetime.now(UTC),
                  fields={"state": alarm.state, "message": alarm.message, "dropped": alarm.dropped,
                          "bytes": alarm.bytes, "max_bytes": alarm.max_bytes})
    return lineproto.encode(point, int_as_float=int_as_float).encode()


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        _quiet(db, "ROLLBACK")


def _quiet(db: sqlite3.Connection, sql: str) -> None:
    try:
        db.execute(sql)
    except sqlite3.Error as exc:
        log.debug("%s failed: %s", sql, exc)


def _iso(line: bytes) -> str:
    """The sample time of a line (its last token, ns) as ISO 8601."""
    ns = int(line.rsplit(b" ", 1)[1])
    return datetime.fromtimestamp(ns // 1000 / 1e6, UTC).isoformat()


def _file_bytes(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += path.with_name(path.name + suffix).stat().st_size
    return total
