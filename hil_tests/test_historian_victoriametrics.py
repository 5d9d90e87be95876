"""The line-protocol write path against a real server: Debian's VictoriaMetrics, started here on loopback.

VictoriaMetrics accepts InfluxDB v2 line protocol at /api/v2/write and stores `m,tag=.. f=..` as the series
`m_f{tag=..}` (milliseconds; strings as 0, bools as 0/1); we read it back through /api/v1/export after
/internal/force_flush. It cannot answer Flux (/api/v2/query gives 400), so what this proves is the write
path: influxdb-client, our line protocol and escaping, batching, the spool, retries, replay after an outage
and after kill -9. The query path is tested against recorded annotated CSV in tests/test_influx_flux.py.

Deduplication: VictoriaMetrics keeps two samples with the same series and timestamp unless it runs with
`-dedup.minScrapeInterval`; InfluxDB keeps one. The outage test runs WITHOUT deduplication, so "exactly once"
there means we sent nothing twice; the accepted-but-not-acked test runs with `-dedup.minScrapeInterval=1ms`,
the InfluxDB behaviour our replay relies on.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from farmcore.historian.base import Point
from farmcore.historian.influx import InfluxHistorian
from farmcore.historian.lineproto import encode, tags_of
from farmcore.historian.spool import Spool

ROOT = Path(__file__).resolve().parents[1]
VM = shutil.which("victoria-metrics")
pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(VM is None, reason="victoria-metrics is not installed (Debian package victoria-metrics; "
                                          ".ci/run installs it)"),
]
T0 = datetime(2025, 6, 1, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VictoriaMetrics:
    """One victoria-metrics process on loopback; stop() and start() again keep its data directory."""

    def __init__(self, data: Path, *, dedup: bool = False, port: int | None = None) -> None:
        self.data, self.dedup = data, dedup
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> VictoriaMetrics:
        args = [VM, f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={self.data}",
                "-retentionPeriod=100y", "-loggerLevel=WARN"]
        if self.dedup:
            args.append("-dedup.minScrapeInterval=1ms")
        log = open(self.data.parent / f"vm-{self.port}.log", "ab")  # noqa: SIM115 - kept open by the process
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"victoria-metrics did not start on {self.url}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # graceful: finishes requests in flight, flushes to disk
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def export(self, match: str) -> list[dict]:
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=30) as r:
            return [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]

    def samples(self, match: str) -> list[tuple[dict, int, float]]:
        return [(s["metric"], t, v) for s in self.export(match) for t, v in zip(s["timestamps"], s["values"],
                                                                                strict=True)]

    def wait_for(self, match: str, count: int, timeout: float = 15.0) -> list[tuple[dict, int, float]]:
        """Samples once at least `count` are searchable (a new series takes a moment to be indexed)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.samples(match)
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.2)


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    server = VictoriaMetrics(tmp_path_factory.mktemp("vm") / "data").start()
    yield server
    server.stop()


def ms(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


# ---------------------------------------------------------------------------------------------- the write path


def test_influxdb_client_writes_reach_victoriametrics_with_tricky_names(vm, tmp_path):
    site = "농장 1,동=A"  # space, comma, equals, Korean
    points = [
        Point("sensor", site, '온실 "2"', "air temperature", T0 + timedelta(seconds=i), {"value": 20.5 + i},
              quality="good", tags={"tenant": "김 청년농", "recipe": "tomato@v2=b,c", "path": "C:\\farm"})
        for i in range(5)
    ]
    points.append(Point("actuator", site, "z1", "heater", T0, {"target": 1, "position": 37.5, "on": True}))
    points.append(Point("event", site, "z1", "alarm", T0, {"code": "E17", "message": 'say "hi", a=b\nok'}))
    with InfluxHistorian(vm.url, "org", "bucket", "token", tmp_path / "spool.db") as h:
        h.write(points)
        assert h.flush(10)
        assert h.stats()["sent"] == 7 and h.stats()["spool_depth"] == 0
    match = f'{{site="{site}"}}'
    got = vm.wait_for(match, 10)
    by_series: dict[str, list[tuple[int, float]]] = {}
    labels: dict[str, dict] = {}
    for metric, t, v in got:
        key = json.dumps(metric, sort_keys=True)
        by_series.setdefault(key, []).append((t, v))
        labels[key] = metric
    names = sorted(m["__name__"] for m in labels.values())
    assert names == ["actuator_on", "actuator_position", "actuator_target", "event_code", "event_message",
                     "sensor_value"]
    sensor_key = next(k for k, m in labels.items() if m["__name__"] == "sensor_value")
    assert {k: v for k, v in labels[sensor_key].items() if k != "__name__"} == tags_of(points[0])
    assert sorted(by_series[sensor_key]) == [(ms(p.time), p.fields["value"]) for p in points[:5]]
    target_key = next(k for k, m in labels.items() if m["__name__"] == "actuator_target")
    assert labels[target_key]["int_fields"] == "target"  # written as a float, named as an int
    assert by_series[target_key] == [(ms(T0), 1.0)]
    on_key = next(k for k, m in labels.items() if m["__name__"] == "actuator_on")
    assert by_series[on_key] == [(ms(T0), 1.0)]


# ---------------------------------------------------------------------------------------------- outage and kill -9

_WRITER = textwrap.dedent("""
    import json, sys, time
    from datetime import UTC, datetime, timedelta
    from farmcore.historian.base import Point
    from farmcore.historian.influx import InfluxHistorian
    url, spool, first, count, per_tick = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), 50
    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    h = InfluxHistorian(url, "org", "bucket", "token", spool, batch=500, timeout_s=2.0, retry_initial_s=0.05,
                        retry_max_s=0.3, flush_interval_s=0.05, close_timeout_s=1.0)
    i = first
    while count < 0 or i < first + count:
        h.write([Point("sensor", "outage", f"z{k % 4}", "t", t0 + timedelta(milliseconds=10 * k),
                       {"value": float(k)}) for k in range(i, i + per_tick)])
        i += per_tick
        print("ok", i - 1, flush=True)  # every point up to i - 1 is in the spool
        time.sleep(0.01)
    print("written", flush=True)
    print("flushed", h.flush(float(sys.argv[5])), flush=True)
    print("stats", json.dumps(h.stats(), default=str), flush=True)
    h.close()
""")


def _writer(url: str, spool: Path, first: int, count: int, flush_s: float = 20.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WRITER, url, str(spool), str(first), str(count), str(flush_s)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)


def _read_until(proc: subprocess.Popen, done, timeout: float = 20.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if done(lines[-1]):
            return lines
    raise AssertionError(f"writer did not get there: {lines[-3:]}")


def _last_ok(lines: list[str]) -> int:
    return max(int(line.split()[1]) for line in lines if line.startswith("ok "))


def test_outage_kill_9_restart_replays_every_point_exactly_once(tmp_path):
    """Server up -> stop it -> the writer keeps writing (to the spool) -> kill -9 the writer -> a new writer
    starts (and writes more) while the server is still down -> start the server -> every point once."""
    vm = VictoriaMetrics(tmp_path / "vmdata").start()
    spool = tmp_path / "spool.db"
    try:
        a = _writer(vm.url, spool, 0, -1)
        _read_until(a, lambda line: line.startswith("ok ") and int(line.split()[1]) >= 400)
        assert len(vm.wait_for('{site="outage"}', 300)) >= 300  # delivered while the server was up
        vm.stop()
        at_stop = _last_ok(_read_until(a, lambda line: line.startswith("ok ")))
        lines = _read_until(a, lambda line: line.startswith("ok ") and int(line.split()[1]) >= at_stop + 1000)
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
        rest = a.stdout.read().split("\n")
        told_a = _last_ok(lines + [line for line in rest if line.startswith("ok ")])

        b = _writer(vm.url, spool, 1_000_000, 500)  # the restarted daemon: replays A's backlog, writes more
        _read_until(b, lambda line: line == "written")
        time.sleep(0.5)  # B's sender has tried and failed at least once: the server is still down
        vm.start()
        out = _read_until(b, lambda line: line.startswith("stats "), timeout=30)
        assert b.wait(10) == 0
        assert "flushed True" in out
        stats_b = json.loads(out[-1][len("stats "):])
        assert stats_b["failures"] >= 1 and stats_b["spool_depth"] == 0
        assert stats_b["sent"] > 500  # B sent A's backlog as well as its own 500 points

        expected_b = set(range(1_000_000, 1_000_500))
        got = vm.wait_for('{site="outage"}', told_a + 1 + len(expected_b), timeout=20)
    finally:
        vm.stop()
    keys = Counter((metric["zone"], t) for metric, t, _ in got)
    assert max(keys.values()) == 1, f"{sum(n > 1 for n in keys.values())} points stored twice"
    values = sorted(int(v) for _, _, v in got)
    for metric, t, v in got:  # each value sits at its own series and time
        k = int(v)
        assert metric["zone"] == f"z{k % 4}" and t == ms(T0) + 10 * k
    from_a = [k for k in values if k < 1_000_000]
    from_b = [k for k in values if k >= 1_000_000]
    assert set(from_b) == expected_b
    # A: every point it was told is stored is there; beyond that only the tick being written at the kill
    assert from_a[: told_a + 1] == list(range(told_a + 1))
    assert len(from_a) in (told_a + 1, told_a + 1 + 50)
    assert from_a == list(range(len(from_a)))


def test_replay_of_a_batch_accepted_but_not_acked_is_stored_once(tmp_path):
    """kill -9 between the server's 204 and the spool's ack: the restarted sender sends the same lines again;
    with InfluxDB's semantics (VictoriaMetrics with -dedup.minScrapeInterval) the series holds each point once."""
    vm = VictoriaMetrics(tmp_path / "vmdata", dedup=True).start()
    try:
        path = tmp_path / "spool.db"
        points = [Point("sensor", "replay", "z1", "t", T0 + timedelta(seconds=i), {"value": float(i)}, quality="good")
                  for i in range(300)]
        with Spool(path, int_as_float=True) as spool:
            spool.append(points)
            body = "\n".join(line for _, line in spool.peek(1000))
            assert body == "\n".join(encode(p, int_as_float=True) for p in points)
            # what the sender does, up to the 204 - then the process dies before ack()
            from influxdb_client import InfluxDBClient, WritePrecision
            from influxdb_client.client.write_api import SYNCHRONOUS

            with InfluxDBClient(url=vm.url, token="t", org="o") as client:
                client.write_api(write_options=SYNCHRONOUS).write("b", "o", body, write_precision=WritePrecision.NS)
        assert len(vm.wait_for('{site="replay"}', 300)) == 300
        with Spool(path) as spool:
            assert spool.depth() == 300  # nothing acked
        with InfluxHistorian(vm.url, "o", "b", "t", path) as h:  # the restart: replays the 300 lines
            assert h.flush(10)
            assert h.stats()["sent"] == 300
        got = vm.samples('{site="replay"}')
    finally:
        vm.stop()
    assert sorted(v for _, _, v in got) == [float(i) for i in range(300)]


def test_spool_full_during_an_outage_keeps_events_and_reports_the_gap(vm, tmp_path):
    """The server is unreachable long enough for the spool to fill: the oldest sensor points go, events stay,
    and the spool_full alarm reaches the server with the rest once it is back."""
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    path = tmp_path / "spool.db"
    alarms = []
    sensors = [Point("sensor", "full", "z1", "t", T0 + timedelta(seconds=i), {"value": float(i)})
               for i in range(2000)]
    events = [Point("event", "full", "z1", "door", T0 + timedelta(seconds=i), {"message": f"opened {i}"})
              for i in range(0, 2000, 100)]
    budget = sum(len(encode(p, int_as_float=True)) + 24 for p in sensors[:500] + events)
    with InfluxHistorian(down, "o", "b", "t", path, spool_max_bytes=budget, timeout_s=1.0, close_timeout_s=0.2,
                         on_alarm=alarms.append) as h:
        for i in range(0, 2000, 100):
            h.write(sensors[i:i + 100] + [e for e in events if i <= (e.time - T0).total_seconds() < i + 100])
        assert not h.flush(0.3)
        stats = h.stats()
    assert stats["spool_dropped_sensor"] >= 1400 and stats["spool_alarms"] == ["spool_full", "spool_nearly_full"]
    assert [(a.code, a.state) for a in alarms] == [("spool_nearly_full", "raised"), ("spool_full", "raised")]
    with InfluxHistorian(vm.url, "o", "b", "t", path) as h:  # the server is back
        assert h.flush(10)
    alarm_samples = 4 * 5  # nearly_full and full, raised and cleared; 5 fields each (one series per field)
    got = vm.wait_for('{site="full"}', 2000 - stats["spool_dropped_sensor"] + len(events) + alarm_samples)
    sensor_values = sorted(v for m, _, v in got if m["__name__"] == "sensor_value")
    assert sensor_values == [float(i) for i in range(2000 - len(sensor_values), 2000)]  # the newest kept
    assert len([m for m, _, _ in got if m["__name__"] == "event_message" and m["name"] == "door"]) == len(events)
    alarms_seen = sorted(m["name"] for m, _, _ in got if m["zone"] == "_historian" and m["__name__"] == "event_dropped")
    assert alarms_seen == ["spool_full", "spool_full", "spool_nearly_full", "spool_nearly_full"]


# ---------------------------------------------------------------------------------------------- the contract

sys.path.insert(0, str(ROOT / "tests"))
from historian_contract import *  # noqa: E402, F403  (tests/historian_contract.py: the shared interface suite)

NO_FLUX = ("VictoriaMetrics cannot answer Flux (/api/v2/query gives 400): the query side is checked against "
           "recorded InfluxDB 2 answers in tests/test_influx_flux.py and tests/test_influx_listings.py, and live "
           "when INFLUXDB_URL/INFLUXDB_TOKEN set")


class WriteOnlyInflux(InfluxHistorian):
    """InfluxHistorian on VictoriaMetrics: the write path runs for real, queries skip with the reason."""

    def query(self, **kwargs):
        pytest.skip(NO_FLUX)

    def latest(self, **kwargs):
        pytest.skip(NO_FLUX)

    def sites(self):
        pytest.skip(NO_FLUX)

    def catalog(self, **kwargs):
        pytest.skip(NO_FLUX)

    def events(self, **kwargs):
        pytest.skip(NO_FLUX)


@pytest.fixture
def historian_factory(vm, tmp_path):
    """Contract binding. At teardown it also checks the write path: every point written reached the server."""
    made: list[InfluxHistorian] = []

    def make(*, reopen: bool = False) -> InfluxHistorian:
        path = made[-1].spool_path if reopen else tmp_path / f"spool{len(made)}.db"
        h = WriteOnlyInflux(vm.url, "org", "bucket", "token", path, flush_interval_s=0.05)
        made.append(h)
        return h

    yield make
    for h in made:
        if h.closed:
            continue
        delivered = h.flush(30)
        stats = h.stats()
        h.close()
        assert delivered and stats["spool_depth"] == 0, stats
        assert stats["sent"] == stats["written"] and stats["rejected"] == 0 and stats["invalid_points"] == 0, stats
