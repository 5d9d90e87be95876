"""The InfluxDB 2 historian: line protocol through influxdb-client, behind a durable local spool.

Write path. `write(points)` encodes the points (farmcore.historian.lineproto) and appends them to the spool
(farmcore.historian.spool) in one SQLite transaction: when it returns the points are on the local disk and
survive kill -9 or a power cut. It never waits for the network; it costs one fsync (the daemon calls it
once per tick). A sender thread takes the oldest `batch` lines, posts them with influxdb-client's
synchronous write API (`/api/v2/write`, precision ns, every line with its explicit sample time) and deletes
them from the spool only after the server has answered 2xx. On a network or server error it keeps them and
retries with exponential backoff (`retry_initial_s` doubling up to `retry_max_s`, with jitter, or the
server's Retry-After); after an outage it replays the backlog in order, in full batches. A line the server
refuses for good (HTTP 400/422: e.g. a field whose type conflicts with what the bucket already holds) is
found by halving the batch, moved to the spool's `rejected` table and counted; it never blocks the lines
behind it. 401/403/404 (token, org, bucket) are treated as transient: the points wait until the
configuration is fixed. A resend after a crash between the server's answer and the local ack is the same
line (same series and timestamp), which InfluxDB stores once (see the spool's docstring).

Integers are written as floats by default (`int_as_float=True`), their field names listed in the tag
`int_fields`: InfluxDB gives a field one type per measurement and shard, and our measurements are the point
kinds, so an actuator `target` of 1 for a heater and 35.5 for a vent (or a setpoint `value` of 800 and 22.5)
would otherwise be refused as a type conflict. `latest()` reads the tag and gives those fields back as ints.

Query path. Flux through influxdb-client's `query_api()`; the Flux text is built by the small pure
functions `flux_query()` and `flux_latest()` below, and for `sites()`, `catalog()` and `events()` in
farmcore.historian.influx_queries. The results follow the SQLite back-end's contract: every
requested name is a key; with `every`, windows are aligned to multiples of `every` since the epoch, stamped
with the window start, and a window inside the series' span with no data is a Sample with value None (Flux
is asked with `createEmpty: false` and the gaps are filled here, so the server sends only real windows);
with `kind=None`, a name kept under several kinds answers for the first kind in KINDS order. Differences
from SQLite: InfluxDB keeps nanoseconds where SQLite keeps milliseconds, and a NaN reading cannot be
written in line protocol, so it is not stored at all (SQLite gives it back as None).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from farmcore.errors import BadInput, FarmError
from farmcore.historian import lineproto
from farmcore.historian.base import (
    KINDS,
    STATE_KINDS,
    Aggregate,
    Event,
    FieldValue,
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
from farmcore.historian.influx_queries import (
    any_of,
    catalog_from_tables,
    events_from_tables,
    field_value,
    flux_catalog,
    flux_duration,
    flux_events,
    flux_sites,
    flux_string,
    flux_time,
    sites_from_tables,
)
from farmcore.historian.lineproto import INT_FIELDS_TAG
from farmcore.historian.spool import TIER_CHAR, Spool, SpoolError, SpoolInUse

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_KIND_RANK = {k: i for i, k in enumerate(KINDS)}
REFUSED_FOR_GOOD = (400, 422)
MAX_WINDOWS = 1_000_000


class InfluxError(FarmError):
    """The InfluxDB server could not answer a query (unreachable, refused, or an error in the answer)."""


class HistorianClosed(SpoolError, RuntimeError):
    """The historian has been closed."""


# ---------------------------------------------------------------------------------------------- Flux, pure


def flux_query(*, bucket: str, site: str, zone: str, names: Sequence[str], start: datetime, end: datetime,
               every: timedelta | None = None, agg: Aggregate = "mean", field: str = "value",
               kind: Kind | None = None) -> str:
    """Flux for `Historian.query`: one table per (kind, name) in time order, aggregated per window with
    `every`. Series that differ only in quality or other tags are merged (group by measurement and name)."""
    where = [f"r.site == {flux_string(site)}", f"r.zone == {flux_string(zone)}",
             f"r._field == {flux_string(field)}"]
    if kind is not None:
        where.insert(0, f"r._measurement == {flux_string(kind)}")
    lines = [
        f"from(bucket: {flux_string(bucket)})",
        f"  |> range(start: {flux_time(start)}, stop: {flux_time(end)})",
        f"  |> filter(fn: (r) => {' and '.join(where)})",
        f"  |> filter(fn: (r) => {any_of('name', names)})",
        '  |> keep(columns: ["_start", "_stop", "_time", "_value", "_measurement", "name"])',
        '  |> group(columns: ["_measurement", "name"])',
        '  |> sort(columns: ["_time"])',
    ]
    if every is None:
        return "\n".join(lines) + "\n"

    def window(fn: str) -> str:
        return f'aggregateWindow(every: {flux_duration(every)}, fn: {fn}, createEmpty: false, timeSrc: "_start")'

    fn, state_fn = window_agg(kind, field, agg), window_agg(next(iter(STATE_KINDS)), field, agg)
    if kind is not None or fn == state_fn:
        return "\n".join([*lines, f"  |> {window(fn)}"]) + "\n"
    states = any_of("_measurement", sorted(STATE_KINDS))  # every kind asked: states by `last`, as window_agg says
    return "\n".join(["data = " + lines[0], *lines[1:], "union(tables: [",
                      f"  data |> filter(fn: (r) => not ({states})) |> {window(fn)},",
                      f"  data |> filter(fn: (r) => {states}) |> {window(state_fn)}", "])"]) + "\n"


def flux_latest(*, bucket: str, site: str, zone: str, names: Sequence[str] | None = None) -> str:
    """Flux for `Historian.latest`: the last value of every series (name, field, quality, ...) of the zone."""
    lines = [
        f"from(bucket: {flux_string(bucket)})",
        "  |> range(start: 0)",
        f"  |> filter(fn: (r) => r.site == {flux_string(site)} and r.zone == {flux_string(zone)})",
    ]
    if names is not None:
        lines.append(f"  |> filter(fn: (r) => {any_of('name', names)})")
    lines += [
        "  |> last()",
        f'  |> keep(columns: ["_time", "_value", "_field", "_measurement", "name", "quality", "{INT_FIELDS_TAG}"])',
    ]
    return "\n".join(lines) + "\n"


def window_start(when: datetime, every: timedelta) -> datetime:
    """The start of the window of `every` (aligned to the epoch) that holds `when`."""
    return EPOCH + ((when - EPOCH) // every) * every


def _number(value: Any) -> float | None:
    if isinstance(value, bool | int | float):
        return float(value)
    return None


def samples_from_tables(tables: Iterable[Any], names: Sequence[str], *, start: datetime, end: datetime,
                        every: timedelta | None) -> dict[str, list[Sample]]:
    """Parse the tables of `flux_query` (influxdb-client FluxTables) into the Historian result."""
    by_kind: dict[str, dict[str, dict[datetime, float | None]]] = {}
    for table in tables:
        for record in table.records:
            name = record.values.get("name")
            kind = record.values.get("_measurement")
            when = record.get_time()
            if name is None or when is None:
                continue
            if every is not None:
                when = window_start(when, every)
            by_kind.setdefault(name, {}).setdefault(kind, {})[when] = _number(record.get_value())
    out: dict[str, list[Sample]] = {name: [] for name in names}
    for name, kinds in by_kind.items():
        if name not in out:
            continue
        kind = min(kinds, key=lambda k: _KIND_RANK.get(k, 99))
        values = kinds[kind]
        if every is None:
            out[name] = [Sample(t, values[t]) for t in sorted(values)]
        else:
            first, last = window_start(start, every), window_start(end - _US, every)
            out[name] = []
            t = first
            while t <= last:
                out[name].append(Sample(t, values.get(t)))
                t += every
    return out


def latest_from_tables(tables: Iterable[Any]) -> dict[str, Latest]:
    """Parse the tables of `flux_latest`: per name, the fields stamped with its newest time."""
    rows: dict[str, dict[str, list[tuple[datetime, str, FieldValue, str | None]]]] = {}
    for table in tables:
        for record in table.records:
            name, kind = record.values.get("name"), record.values.get("_measurement")
            when, field = record.get_time(), record.get_field()
            if name is None or when is None or field is None:
                continue
            rows.setdefault(name, {}).setdefault(kind, []).append((when, field, field_value(record),
                                                                   record.values.get("quality")))
    result: dict[str, Latest] = {}
    for name, kinds in rows.items():
        found = kinds[min(kinds, key=lambda k: _KIND_RANK.get(k, 99))]
        newest = max(r[0] for r in found)
        at = [r for r in found if r[0] == newest]
        quality = next((r[3] for r in at if r[3]), None)
        result[name] = Latest(time=newest, fields={r[1]: r[2] for r in at}, quality=quality)
    return result


# ---------------------------------------------------------------------------------------------- the back-end


class InfluxHistorian:
    """`Historian` on InfluxDB 2 (or any server of the /api/v2/write line protocol, for writing)."""

    backend = "influxdb"

    def __init__(self, url: str, org: str, bucket: str, token: str, spool_path: str | Path, *,
                 batch: int = 5000, spool_max_bytes: int = 256 * 2**20, timeout_s: float = 10.0,
                 flush_interval_s: float = 1.0, retry_initial_s: float = 0.5, retry_max_s: float = 30.0,
                 close_timeout_s: float = 10.0, int_as_float: bool = True, gzip: bool = False,
                 on_alarm: Callable[[SpoolAlarm], None] | None = None, read_only: bool | None = None) -> None:
        """`read_only`: False = the writer (raises SpoolInUse if another process writes this spool); True = only
        query and look at the spool (the command line beside a running daemon); None = the writer if the spool
        is free, else read-only."""
        if batch < 1:
            raise BadInput("historian: batch must be >= 1")
        self.url, self.org, self.bucket = url, org, bucket
        self._batch = batch
        self._timeout_s = timeout_s
        self._flush_interval_s = flush_interval_s
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._close_timeout_s = close_timeout_s
        self._int_as_float = int_as_float
        self.on_alarm = on_alarm  # the daemon sets it to raise its spool alarms (called from the writer thread)
        spool_options = {"max_bytes": spool_max_bytes, "on_full": self._spool_alarm, "int_as_float": int_as_float}
        if read_only:
            self._spool = Spool(spool_path, read_only=True, **spool_options)
        else:
            try:
                self._spool = Spool(spool_path, **spool_options)
            except SpoolInUse:
                if read_only is False:
                    raise
                log.info("historian: spool %s is in use by another process: opened read-only", spool_path)
                self._spool = Spool(spool_path, read_only=True, **spool_options)
        self.read_only = self._spool.read_only
        kwargs = {"url": url, "token": token, "org": org, "timeout": int(timeout_s * 1000), "enable_gzip": gzip}
        try:
            self._write_client = InfluxDBClient(**kwargs)
            self._query_client = InfluxDBClient(**kwargs)
            self._write_api = self._write_client.write_api(write_options=SYNCHRONOUS)
        except Exception:
            self._spool.close()
            raise

        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._written = self._sent = self._batches = self._failures = self._consecutive = 0
        self._invalid = self._rejected = 0
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._last_sent_at: datetime | None = None
        self._last_invalid: str | None = None
        self._thread: threading.Thread | None = None
        if not self.read_only:
            self._thread = threading.Thread(target=self._run, name=f"historian-influx:{Path(spool_path).name}",
                                            daemon=True)
            self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def spool_path(self) -> Path:
        return self._spool.path

    # -- Historian: write side ---------------------------------------------------------------------------------

    def write(self, points: Sequence[Point]) -> None:
        """Store the points in the spool (durable when this returns) and return; the sender posts them.
        A point that cannot be written in line protocol is skipped and counted (`invalid_points`); a spool
        that cannot store raises SpoolError."""
        if self._closed:
            raise HistorianClosed(f"historian {self.url} is closed")
        if self.read_only:
            raise SpoolError(f"historian {self.url}: read-only (the spool {self.spool_path} is another process's)")
        if not points:
            return
        lines: list[str] = []
        tiers: list[str] = []
        invalid = []
        encode, int_as_float = lineproto.encode, self._int_as_float
        for point in points:
            try:
                lines.append(encode(point, int_as_float=int_as_float))
                tiers.append(TIER_CHAR[point.kind])
            except ValueError as exc:
                invalid.append(str(exc))
        if invalid:
            log.warning("historian: %d point(s) not written: %s", len(invalid), invalid[0])
            with self._lock:
                self._invalid += len(invalid)
                self._last_invalid = invalid[0]
        if lines:
            self._spool.append_lines(lines, "".join(tiers), site=points[0].site)
            with self._lock:
                self._written += len(lines)
            if self._spool.depth() >= self._batch and not self._consecutive:  # never cuts a backoff short
                self._wake.set()

    def commit(self, timeout: float | None = None) -> bool:
        """Nothing to wait for: `write()` returns only once the points are in the durable spool."""
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the server has acknowledged every point written before this call; False on timeout
        (e.g. while the server is down: the points stay in the spool)."""
        if self._thread is None:  # read-only: this instance wrote nothing
            return True
        if self._closed:
            return self._spool_empty_up_to(None)
        target = self._spool.last_seq()
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        while not self._spool_empty_up_to(target):
            if not self._thread.is_alive():
                return False
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            with self._progress:
                self._progress.wait(0.05 if remaining is None else min(remaining, 0.05))
        return True

    def _spool_empty_up_to(self, target: int | None) -> bool:
        try:
            head = self._spool.head_seq()
        except SpoolError:
            return False
        return head is None or (target is not None and head > target)

    def close(self) -> None:
        """Try to deliver what is queued (up to `close_timeout_s`), then stop the sender and release the
        spool and connections. Whatever was not delivered stays in the spool for the next start."""
        if self._closed:
            return
        delivered = self.flush(self._close_timeout_s)
        if not delivered and not self.read_only:
            log.warning("historian: closing with %d point(s) still in the spool %s (sent at the next start)",
                        self._spool.depth(), self._spool.path)
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout_s + 2.0)
            if self._thread.is_alive():
                log.error("historian: the sender did not stop within %.0f s", self._timeout_s + 2.0)
        for client in (self._write_client, self._query_client):
            try:
                client.close()
            except Exception as exc:  # closing a pool must not stop the rest of the shutdown
                log.debug("closing the InfluxDB client: %s", exc)
        self._spool.close()

    def __enter__(self) -> InfluxHistorian:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Historian: read side ----------------------------------------------------------------------------------

    def query(self, *, site: str, zone: str, names: Sequence[str], start: datetime, end: datetime,
              every: timedelta | None = None, agg: Aggregate = "mean", field: str = "value",
              kind: Kind | None = None) -> dict[str, list[Sample]]:
        names = query_names(names, agg, kind)
        flux_time(start), flux_time(end)  # checks the time zones
        out: dict[str, list[Sample]] = {name: [] for name in names}
        if end <= start or not names:
            return out
        if every is not None:
            flux_duration(every)
            if (end - start) // every > MAX_WINDOWS:
                raise BadInput(f"every {every}: more than {MAX_WINDOWS} windows in the range; ask for wider windows")
        flux = flux_query(bucket=self.bucket, site=site, zone=zone, names=names, start=start, end=end,
                          every=every, agg=agg, field=field, kind=kind)
        return samples_from_tables(self._run_query(flux), names, start=start, end=end, every=every)

    def latest(self, *, site: str, zone: str, names: Sequence[str] | None = None) -> dict[str, Latest]:
        if isinstance(names, str):
            names = [names]
        if names is not None:
            names = list(dict.fromkeys(names))
            if not names:
                return {}
        return latest_from_tables(self._run_query(flux_latest(bucket=self.bucket, site=site, zone=zone,
                                                              names=names)))

    def sites(self) -> list[str]:
        return sites_from_tables(self._run_query(flux_sites(bucket=self.bucket)))

    def catalog(self, *, site: str, zone: str) -> list[SeriesInfo]:
        return catalog_from_tables(self._run_query(flux_catalog(bucket=self.bucket, site=site, zone=zone)))

    def events(self, *, site: str, zone: str | None = None, start: datetime, end: datetime,
               codes: Sequence[str] | None = None, limit: int = 1000) -> list[Event]:
        names = event_args(start, end, codes, limit)
        if end <= start or names == []:
            return []
        flux = flux_events(bucket=self.bucket, site=site, zone=zone, start=start, end=end, codes=names, limit=limit)
        return events_from_tables(self._run_query(flux), site=site, limit=limit)

    def _run_query(self, flux: str) -> Any:
        if self._closed:
            raise HistorianClosed(f"historian {self.url} is closed")
        try:
            return self._query_client.query_api().query(flux, org=self.org)
        except ApiException as exc:
            raise InfluxError(f"InfluxDB {self.url}: query refused (HTTP {exc.status}): {_message(exc)}") from None
        except Exception as exc:  # urllib3 connection errors, timeouts, a broken answer
            raise InfluxError(f"InfluxDB {self.url}: no answer to the query: {_message(exc)}") from None

    def stats(self) -> dict[str, object]:
        with self._lock:
            out: dict[str, object] = {
                "backend": self.backend,
                "url": self.url,
                "org": self.org,
                "bucket": self.bucket,
                "written": self._written,
                "sent": self._sent,
                "batches": self._batches,
                "failures": self._failures,
                "consecutive_failures": self._consecutive,
                "connected": self._last_sent_at is not None and self._consecutive == 0,
                "invalid_points": self._invalid,
                "last_invalid": self._last_invalid,
                "rejected": self._rejected,
                "last_error": self._last_error,
                "last_error_at": self._last_error_at,
                "last_sent_at": self._last_sent_at,
                "sender_alive": self._thread is not None and self._thread.is_alive(),
                "read_only": self.read_only,
            }
        try:
            out.update(self._spool.stats())
        except SpoolError as exc:
            out["spool_error"] = str(exc)
        out["queue_depth"] = out.get("spool_depth")
        return out

    # -- the sender thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._send_loop()
            except Exception as exc:  # a bug must not silently stop delivery: log, count, wait, go on
                log.exception("historian sender failed; restarting it")
                self._failed(exc)
                self._stop.wait(self._backoff(None))
        log.debug("historian sender stopped")

    def _send_loop(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            if delay > 0:
                self._wake.wait(delay)
                self._wake.clear()
                if self._stop.is_set():
                    break
            try:
                rows = self._spool.peek_raw(self._batch)
            except SpoolError as exc:
                if self._closed:
                    break
                self._failed(exc)
                delay = self._backoff(None)
                continue
            if not rows:
                self._wake.wait(self._flush_interval_s)
                self._wake.clear()
                delay = 0.0
                continue
            try:
                ok, retry_after = self._deliver(rows)
            except SpoolError as exc:  # the ack could not be stored: the batch is sent again (deduplicated)
                if self._closed:
                    break
                self._failed(exc)
                ok, retry_after = False, None
            if ok:
                self._consecutive_reset()
                # A partial batch: wait a little so that ticks coalesce, unless more is waiting or a flush.
                delay = 0.0 if len(rows) >= self._batch else self._flush_interval_s
            else:
                delay = self._backoff(retry_after)

    def _deliver(self, rows: list[tuple[int, bytes]]) -> tuple[bool, float | None]:
        """Post rows; ack what the server accepted, reject what it refuses for good. (ok, retry_after)."""
        try:
            self._write_api.write(bucket=self.bucket, org=self.org, record=b"\n".join(line for _, line in rows),
                                  write_precision=WritePrecision.NS)
        except ApiException as exc:
            status = exc.status
            if status in REFUSED_FOR_GOOD or (status == 413 and len(rows) > 1):
                if len(rows) == 1:
                    self._spool.reject(rows[0][0], f"HTTP {status}: {_message(exc)}")
                    with self._lock:
                        self._rejected += 1
                    log.error("historian: the server refused a line for good (HTTP %s: %s): %s", status,
                              _message(exc), rows[0][1][:200].decode(errors="replace"))
                    return True, None
                half = len(rows) // 2
                first_ok, retry_after = self._deliver(rows[:half])
                if not first_ok:
                    return False, retry_after
                return self._deliver(rows[half:])
            self._failed(exc, status)
            return False, _retry_after(exc)
        except Exception as exc:  # connection refused, timeout, DNS: the server is not reachable
            self._failed(exc)
            return False, None
        self._spool.ack(rows[-1][0])
        with self._progress:
            self._sent += len(rows)
            self._batches += 1
            self._last_sent_at = datetime.now(UTC)
            self._progress.notify_all()
        return True, None

    def _failed(self, exc: BaseException, status: int | None = None) -> None:
        text = f"HTTP {status}: {_message(exc)}" if status else _message(exc)
        with self._lock:
            self._failures += 1
            self._consecutive += 1
            first = self._consecutive == 1
            self._last_error = text
            self._last_error_at = datetime.now(UTC)
        if first:
            log.warning("historian: cannot deliver to %s (%s); keeping points in the spool and retrying",
                        self.url, text)

    def _consecutive_reset(self) -> None:
        with self._lock:
            if self._consecutive:
                log.info("historian: %s reachable again after %d failed attempt(s)", self.url, self._consecutive)
            self._consecutive = 0

    def _backoff(self, retry_after: float | None) -> float:
        with self._lock:
            n = max(self._consecutive, 1)
        delay = min(self._retry_max_s, self._retry_initial_s * 2 ** min(n - 1, 30))
        delay *= random.uniform(0.8, 1.2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._retry_max_s))
        return delay

    def _spool_alarm(self, alarm: SpoolAlarm) -> None:
        if self.on_alarm is not None:
            self.on_alarm(alarm)


def _retry_after(exc: ApiException) -> float | None:
    value = getattr(exc, "retry_after", None)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " ".join(str(text).split())[:300]
