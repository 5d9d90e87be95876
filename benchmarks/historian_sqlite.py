"""The SQLite historian: query speed, ingest speed, flash wear (fsyncs and bytes written), size on disk.

Prints one JSON line (benchmarks/historian.py merges these figures in through `measure()`):
- query_ms_30d: one series over a 30-day range downsampled to 500 windows (every = 30 d / 500 = 86.4 min,
  not a whole number of minutes, so it reads the raw rows: the slow path), median of 7 runs, from a
  database holding 21 series at one point per 10 s for 30 days (259,200 points each, 5.4 million in all);
  query_ms_30d_hourly: the same range by the hour (720 windows, from the 1-hour roll-up).
- sqlite_ingest_pps: points per second through write() -> committed -> compacted with roll-ups, over the
  first 3 days of that database (544,320 points of 21 series interleaved in time; the points are built
  beforehand, as building a `Point` is not the historian's cost). The other 27 days are put into the inbox
  table directly and compacted by the historian itself, which gives the same file layout in half the time.
- write_100k_ms: how long `write()` of 100,000 points takes to return (the control loop's cost).
- db_mb_per_million_points: database size (raw rows, 1-minute and 1-hour roll-ups, after a checkpoint)
  per million points.
- fsyncs_per_1000 and write_kib_per_1000: a realistic stream (120 series at one point per 10 s, 12
  points/s, one simulated hour stepped on an injected clock, a commit every 2 s as the writer thread makes
  them) under `strace -f -c -e trace=fsync,fdatasync`, which counts the fsync and fdatasync system calls
  the process really makes; bytes written are the `wchar` of /proc/self/io (what SQLite hands to the
  kernel, i.e. what eventually reaches the card). The *_direct figures are the same stream written the
  straightforward way: every commit straight into the clustered table and its roll-ups, with
  synchronous=FULL (one fsync per commit). fsyncs_per_1000_self_count is what the historian's own
  `stats()["fsyncs"]` counted in the same run (it cannot see SQLite's calls, so it counts what it asks for:
  durable commits, checkpoints, WAL restarts; strace also sees the ~6 made once when the file is created).
Needs strace for the fsync figures (Debian: apt-get install strace); without it they are null.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from farmcore.historian.base import Point
from farmcore.historian.sqlite import SqliteHistorian

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
PUBLIC_DAYS = 3  # of which built through write() (the ingest figure)
STEP_S = 10
SERIES = 21
WINDOWS = 500
RUNS = 7
STREAM_SERIES = 120
STREAM_STEP_S = 2  # the writer commits every 2 s
STREAM_SECONDS = 3600


def fast_point(kind: str, site: str, zone: str, name: str, when: datetime, fields: dict, quality: str | None,
               tags: dict) -> Point:
    """A Point without re-running its validation (the values here are valid by construction)."""
    p = object.__new__(Point)
    p.__dict__.update(kind=kind, site=site, zone=zone, name=name, time=when, fields=fields, quality=quality,
                      tags=tags)
    return p


def _build_30_days(path: Path) -> dict[str, float]:
    """21 series, one point per 10 s for 30 days. The first PUBLIC_DAYS go through write() and give the ingest
    figure; the rest is put into the inbox table directly and compacted by the historian in chunks of the
    same size, which lays the file out exactly as write() would, without paying the Python conversion again."""
    h = SqliteHistorian(path, raw_days=None, minute_days=None, batch_max=20_000)
    steps = DAYS * 86400 // STEP_S
    public_steps = PUBLIC_DAYS * 86400 // STEP_S
    names = ["air_temperature"] + [f"other_{i:02d}" for i in range(SERIES - 1)]
    tags = {"unit": "degC"}
    value = lambda k, j: 20.0 + ((k * 7 + j * 13) % 1000) / 100  # noqa: E731
    busy = 0.0
    chunk = 2000
    for first in range(0, public_steps, chunk):
        points = []
        for k in range(first, min(public_steps, first + chunk)):
            when = T0 + timedelta(seconds=k * STEP_S)
            for j, name in enumerate(names):
                points.append(fast_point("sensor", "bench", "gh1", name, when, {"value": value(k, j)}, "good", tags))
        started = time.perf_counter()
        h.write(points)
        h.flush()
        busy += time.perf_counter() - started
    started = time.perf_counter()
    h.maintain()  # the last compaction and roll-ups belong to the ingest
    busy += time.perf_counter() - started
    with sqlite3.connect(path, isolation_level=None) as db:
        ids = dict(db.execute("SELECT name, id FROM series WHERE site = 'bench'"))
        label, unit = (db.execute("SELECT q, g FROM samples LIMIT 1").fetchone())
        t0 = int(T0.timestamp() * 1000)
        for first in range(public_steps, steps, chunk):
            rows = [(ids[name], t0 + k * STEP_S * 1000, value(k, j), label, unit)
                    for k in range(first, min(steps, first + chunk)) for j, name in enumerate(names)]
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO inbox VALUES (?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
            h.maintain()
    h.close()
    return {"points": steps * SERIES, "public_points": public_steps * SERIES, "ingest_s": busy}


def _query_ms(path: Path) -> tuple[float, float]:
    h = SqliteHistorian(path, read_only=True)
    end = T0 + timedelta(days=DAYS)
    every = (end - T0) / WINDOWS

    def timed(step: timedelta, expect: int) -> float:
        runs = []
        for _ in range(RUNS):
            started = time.perf_counter()
            got = h.query(site="bench", zone="gh1", names=["air_temperature"], start=T0, end=end, every=step)
            runs.append((time.perf_counter() - started) * 1000)
            assert len(got["air_temperature"]) == expect, len(got["air_temperature"])
        return statistics.median(runs)

    result = timed(every, WINDOWS), timed(timedelta(hours=1), DAYS * 24)
    h.close()
    return result


def _write_100k_ms(path: Path) -> float:
    h = SqliteHistorian(path, raw_days=None, minute_days=None)
    points = [fast_point("sensor", "bench", "gh1", f"s{i % 50}", T0 + timedelta(seconds=i // 50),
                         {"value": float(i)}, "good", {}) for i in range(100_000)]
    started = time.perf_counter()
    h.write(points)
    took = (time.perf_counter() - started) * 1000
    h.flush()
    h.close()
    return took


class _Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


def _wchar() -> int:
    with open("/proc/self/io", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))


def stream(path: str, mode: str) -> dict[str, float]:
    """The realistic stream, run in a child process under strace. `mode`: ours | direct."""
    clock = _Clock()
    options = {"compact_interval_s": 0, "sync_interval_s": 0} if mode == "direct" else {}
    before = _wchar()
    h = SqliteHistorian(path, clock=clock, flush_interval_s=3600, **options)  # commits come from flush() here
    points = 0
    for second in range(0, STREAM_SECONDS, STREAM_STEP_S):
        batch = []
        for j in range(STREAM_SERIES):  # each series samples once per 10 s, spread over the 10 s
            if (second + j * STREAM_STEP_S) % STEP_S == 0:
                when = T0 + timedelta(seconds=second)
                batch.append(fast_point("sensor", "bench", f"z{j // 20}", f"q{j % 20}", when,
                                        {"value": 20.0 + (second % 97) / 10}, "good", {"unit": "degC"}))
        clock.now = (T0 + timedelta(seconds=second)).timestamp()
        h.write(batch)
        h.flush()
        points += len(batch)
    clock.now += STREAM_STEP_S
    h.close()
    return {"points": points, "wchar": _wchar() - before, "fsyncs_accounted": h._fsyncs}  # the count stats() reports


def _strace_stream(directory: Path, mode: str) -> dict[str, float | None]:
    db = directory / f"stream-{mode}.db"
    child = [sys.executable, __file__, "--stream", str(db), mode]
    strace = shutil.which("strace")
    if strace is None:
        out = subprocess.run(child, capture_output=True, text=True, check=True)
        doc = json.loads(out.stdout)
        return {"fsyncs_per_1000": None, "write_kib_per_1000": round(doc["wchar"] / doc["points"] * 1000 / 1024, 1),
                "self_count_per_1000": round(doc["fsyncs_accounted"] * 1000 / doc["points"], 2)}
    summary = directory / f"strace-{mode}.txt"
    out = subprocess.run([strace, "-f", "--seccomp-bpf", "-c", "-e", "trace=fsync,fdatasync", "-o", str(summary),
                          *child], capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    calls = 0
    for line in summary.read_text().splitlines():
        parts = line.split()
        if parts and parts[-1] in ("fsync", "fdatasync"):
            calls += int(parts[3])
    return {"fsyncs_per_1000": round(calls * 1000 / doc["points"], 2),
            "write_kib_per_1000": round(doc["wchar"] / doc["points"] * 1000 / 1024, 1),
            "self_count_per_1000": round(doc["fsyncs_accounted"] * 1000 / doc["points"], 2)}


def measure() -> dict[str, object]:
    """Every figure of this benchmark, as a dict (benchmarks/historian.py merges it into its line)."""
    base = os.environ.get("HISTORIAN_BENCH_DIR")
    with tempfile.TemporaryDirectory(prefix="historian-bench-", dir=base) as tmp:
        directory = Path(tmp)
        db = directory / "30d.db"
        built = _build_30_days(db)
        query_ms, hourly_ms = _query_ms(db)
        size = db.stat().st_size
        ours = _strace_stream(directory, "ours")
        direct = _strace_stream(directory, "direct")
        write_ms = _write_100k_ms(directory / "100k.db")
    return {
        "query_ms_30d": round(query_ms, 1),
        "query_ms_30d_hourly": round(hourly_ms, 1),
        "fsyncs_per_1000": ours["fsyncs_per_1000"],
        "fsyncs_per_1000_direct": direct["fsyncs_per_1000"],
        "fsyncs_per_1000_self_count": ours["self_count_per_1000"],
        "write_kib_per_1000": ours["write_kib_per_1000"],
        "write_kib_per_1000_direct": direct["write_kib_per_1000"],
        "sqlite_ingest_pps": round(built["public_points"] / built["ingest_s"]),
        "write_100k_ms": round(write_ms, 1),
        "db_mb_per_million_points": round(size / 1e6 / (built["points"] / 1e6), 1),
        "points_30d": built["points"],
        "fsync_count_method": "strace -f -c -e trace=fsync,fdatasync" if shutil.which("strace") else None,
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--stream":
        print(json.dumps(stream(sys.argv[2], sys.argv[3])))
        return
    print(json.dumps(measure()))


if __name__ == "__main__":
    main()
