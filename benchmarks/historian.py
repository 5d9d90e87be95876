"""The historian: the InfluxDB back-end's durable spool and its replay, plus the SQLite back-end's figures.

Prints ONE JSON line:
- spool_ingest_pps: points per second into the spool (farmcore.historian.spool.Spool.append: line-protocol
  encoding + one SQLite transaction with fsync per call), in appends of 1,000 points: one daemon tick at
  200 zones x 5 quantities; 200 ticks, 200,000 points. Building the `Point`s is not counted.
- spool_append_ms_p50 / _p99: how long one such append takes (what the control loop waits for).
- replay_pps: the same 200,000 spooled points replayed by InfluxHistorian (influxdb-client, batches of
  5,000, line protocol over loopback HTTP) to a VictoriaMetrics started here, timed from opening the spool
  until the spool is empty AND VictoriaMetrics returns all 200,000 samples from /api/v1/export (after
  /internal/force_flush); replay_send_pps stops the clock when the spool is empty (the server has answered
  204 to everything), replay_visible_lag_s is the difference.
- spool_fsyncs_per_1000: fsync + fdatasync system calls per 1,000 points for the realistic stream of
  benchmarks/historian_sqlite.py (120 series at one point per 10 s, a write every 2 s: 24 points per append)
  through the spool, each append acknowledged as the sender would; counted with
  `strace -f -c -e trace=fsync,fdatasync` (null without strace). The spool syncs every append: that is the
  price of "durable when write() returns".
- every figure of benchmarks/historian_sqlite.py `measure()` (query_ms_30d, fsyncs_per_1000, ... of the
  SQLite back-end), merged in; left out, with a note on stderr, if that benchmark cannot run.
Needs victoria-metrics (Debian: apt-get install victoria-metrics) for replay_pps; without it that is null.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from farmcore.historian.base import Point
from farmcore.historian.influx import InfluxHistorian
from farmcore.historian.spool import Spool

T0 = datetime(2025, 6, 1, tzinfo=UTC)
ZONES = 200
QUANTITIES = ("air_temperature", "relative_humidity", "co2", "solar_radiation", "soil_moisture")
TICKS = 200
SITE = "bench"
STREAM_SERIES, STREAM_STEP_S, STEP_S, STREAM_SECONDS = 120, 2, 10, 3600  # as benchmarks/historian_sqlite.py


def ticks() -> list[list[Point]]:
    out = []
    for k in range(TICKS):
        when = T0 + timedelta(seconds=k)
        out.append([Point("sensor", SITE, f"gh{z:03d}", q, when, {"value": 20.0 + (k * 7 + z * 13 + j) % 1000 / 100},
                          quality="good", tags={"unit": "degC"})
                    for z in range(ZONES) for j, q in enumerate(QUANTITIES)])
    return out


def spool_ingest(path: Path, batches: list[list[Point]]) -> dict[str, float]:
    durations = []
    with Spool(path, max_bytes=2**34, int_as_float=True) as spool:
        started = time.perf_counter()
        for batch in batches:
            t = time.perf_counter()
            spool.append(batch)
            durations.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
        assert spool.depth() == sum(len(b) for b in batches)
    durations.sort()
    return {"spool_ingest_pps": round(sum(len(b) for b in batches) / elapsed),
            "spool_append_ms_p50": round(statistics.median(durations) * 1000, 2),
            "spool_append_ms_p99": round(durations[int(len(durations) * 0.99) - 1] * 1000, 2)}


class VictoriaMetrics:
    def __init__(self, data: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([shutil.which("victoria-metrics") or "victoria-metrics",
                                      f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={data}",
                                      "-retentionPeriod=100y", "-loggerLevel=ERROR"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def count(self, match: str) -> int:
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=30).read()
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=60) as r:
            return sum(len(json.loads(line)["values"]) for line in r.read().splitlines() if line.strip())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def replay(directory: Path, spool_path: Path, expect: int) -> dict[str, float | None]:
    if shutil.which("victoria-metrics") is None:
        print("historian benchmark: victoria-metrics not installed: replay_pps is null", file=sys.stderr)
        return {"replay_pps": None}
    vm = VictoriaMetrics(directory / "vm")
    try:
        started = time.perf_counter()
        h = InfluxHistorian(vm.url, "bench", "bench", "token", spool_path, batch=5000)
        assert h.flush(300), h.stats()
        sent_s = time.perf_counter() - started
        stats = h.stats()
        h.close()
        deadline = time.monotonic() + 120
        while (count := vm.count(f'{{site="{SITE}"}}')) < expect and time.monotonic() < deadline:
            time.sleep(0.1)
        visible_s = time.perf_counter() - started
        assert count == expect, (count, expect)
        assert stats["sent"] == expect and stats["failures"] == 0, stats
    finally:
        vm.stop()
    return {"replay_pps": round(expect / visible_s), "replay_send_pps": round(expect / sent_s),
            "replay_visible_lag_s": round(visible_s - sent_s, 2)}


def spool_stream(path: str) -> None:
    """The realistic stream through the spool (run under strace by spool_fsyncs)."""
    points = 0
    with Spool(path, int_as_float=True) as spool:
        for second in range(0, STREAM_SECONDS, STREAM_STEP_S):
            batch = []
            for j in range(STREAM_SERIES):
                if (second + j * STREAM_STEP_S) % STEP_S == 0:
                    batch.append(Point("sensor", SITE, f"z{j // 20}", f"q{j % 20}", T0 + timedelta(seconds=second),
                                       {"value": 20.0 + (second % 97) / 10}, quality="good", tags={"unit": "degC"}))
            spool.append(batch)
            spool.ack(spool.last_seq())  # the sender delivered it
            points += len(batch)
    print(points)


def spool_fsyncs(directory: Path) -> dict[str, float | None]:
    if shutil.which("strace") is None:
        print("historian benchmark: strace not installed: spool_fsyncs_per_1000 is null", file=sys.stderr)
        return {"spool_fsyncs_per_1000": None}
    summary = directory / "strace.txt"
    out = subprocess.run(["strace", "-f", "-c", "-o", str(summary), "-e", "trace=fsync,fdatasync",
                          sys.executable, __file__, "--spool-stream", str(directory / "stream.db")],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    points = int(out.stdout.strip().splitlines()[-1])
    calls = 0
    for line in summary.read_text().splitlines():
        parts = line.split()
        if parts and parts[-1] in ("fsync", "fdatasync"):
            calls += int(parts[3])
    return {"spool_fsyncs_per_1000": round(calls * 1000 / points, 1)}


def sqlite_figures() -> dict[str, object]:
    sys.path.append(str(Path(__file__).resolve().parent))  # appended: benchmarks/portal.py shadows no package
    try:
        from historian_sqlite import measure  # benchmarks/historian_sqlite.py
    except ImportError as exc:
        print(f"historian benchmark: benchmarks/historian_sqlite.py not available ({exc}): "
              "query_ms_30d and fsyncs_per_1000 left out", file=sys.stderr)
        return {}
    try:
        return measure()
    except Exception as exc:  # report ours even when the other benchmark breaks
        print(f"historian benchmark: historian_sqlite.measure() failed: {exc!r}: its figures left out",
              file=sys.stderr)
        return {}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--spool-stream":
        spool_stream(sys.argv[2])
        return
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="historian-bench-", dir=os.environ.get("HISTORIAN_BENCH_DIR")) as tmp:
        directory = Path(tmp)
        batches = ticks()
        spool_path = directory / "spool.db"
        figures.update(spool_ingest(spool_path, batches))
        figures.update(replay(directory, spool_path, sum(len(b) for b in batches)))
        figures.update(spool_fsyncs(directory))
    figures["spool_points"] = TICKS * ZONES * len(QUANTITIES)
    figures["spool_batch"] = ZONES * len(QUANTITIES)
    figures.update(sqlite_figures())
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
