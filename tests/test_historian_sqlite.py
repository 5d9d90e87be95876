"""The SQLite historian: the shared contract (twice: data still in the inbox, and compacted), then what is
SQLite's own: roll-ups and retention on an injected clock, kill -9, the queue, the command line, the URLs."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from historian_contract import *  # noqa: F403
from historian_contract import expected_windows, pairs, sensor

from farmcore.cliapp import run_cli
from farmcore.errors import BadInput
from farmcore.historian.base import Point, Sample
from farmcore.historian.cli import history, parse_every, parse_time
from farmcore.historian.config import InfluxUrl, SqliteUrl, open_historian, parse_historian_url
from farmcore.historian.sqlite import SqliteHistorian

pytestmark = pytest.mark.timeout(120)

# --------------------------------------------------------------------------- the contract, bound to SQLite


@pytest.fixture(params=["inbox", "compacted"])
def historian_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """`inbox`: the defaults (data waits in the inbox for compaction); `compacted`: compaction after every
    commit, so queries read the clustered table and the roll-ups."""
    options = {"flush_interval_s": 0.05}
    if request.param == "compacted":
        options["compact_interval_s"] = 0
    made: list[SqliteHistorian] = []

    def make(*, reopen: bool = False) -> SqliteHistorian:
        path = made[-1].path if reopen else tmp_path / f"h{len(made)}.db"
        h = SqliteHistorian(path, **options)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


# --------------------------------------------------------------------------- helpers


class Clock:
    def __init__(self, when: datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when.timestamp()


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def keep(path: Path, **options: object) -> SqliteHistorian:
    """A historian that keeps everything: the tests' fixed dates are older than any retention of today."""
    return SqliteHistorian(path, **{"raw_days": None, "minute_days": None, **options})  # type: ignore[arg-type]


def point(name: str, when: datetime, value: float, **kw: object) -> Point:
    return sensor("farm1", name, when, value, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- roll-ups and retention


def test_rollups_and_retention_on_an_injected_clock(tmp_path: Path) -> None:
    now = T0 + timedelta(days=4)
    clock = Clock(now)
    h = SqliteHistorian(tmp_path / "h.db", raw_days=1, minute_days=2, clock=clock, flush_interval_s=0.05,
                        retention_batch=97)
    data = [(T0 + timedelta(seconds=20 * i), round(math.sin(i / 50) * 10 + 20, 4)) for i in range(4 * 4320)]
    h.write([point("air_temperature", t, v) for t, v in data])
    h.write([Point("event", "farm1", "z1", "alarm", T0, {"code": "hot", "severity": 2})])
    assert h.flush(10)
    h.maintain()  # compacts (roll-ups from the raw rows), then deletes in transactions of 97 rows

    def q(start: datetime, end: datetime, every: timedelta | None = None, agg: str = "mean") -> list[Sample]:
        return h.query(site="farm1", zone="z1", names=["air_temperature"], start=start, end=end, every=every,
                       agg=agg)["air_temperature"]

    day = timedelta(days=1)
    raw_kept = [(t, v) for t, v in data if t >= now - day]
    assert pairs(q(T0, now)) == raw_kept  # raw: only the last raw_days
    for agg in ("mean", "min", "max", "last"):  # hours: all four days, exact
        assert q(T0, now, timedelta(hours=1), agg) == [
            Sample(t, pytest.approx(v)) for t, v in expected_windows(data, T0, now, timedelta(hours=1), agg)]
    # minutes: kept for minute_days, so day 3 still answers by the minute although its raw rows are gone
    got = q(now - 2 * day, now - day, timedelta(minutes=5), "max")
    assert pairs(got) == expected_windows(data, now - 2 * day, now - day, timedelta(minutes=5), "max")
    assert all(s.value is None for s in q(T0, T0 + day, timedelta(minutes=1)))  # older than minute_days
    assert h.latest(site="farm1", zone="z1")["alarm"].fields == {"code": "hot", "severity": 2}  # events kept
    with sqlite3.connect(h.path) as db:
        assert db.execute("SELECT count(*) FROM samples s JOIN series x ON x.id = s.series_id "
                          "WHERE x.kind = 'event'").fetchone()[0] == 1
        assert db.execute("SELECT min(t) FROM rollup_1m").fetchone()[0] == int((now - 2 * day).timestamp() * 1000)

    # A late point (a spool replay) older than raw retention is merged into the kept roll-ups.
    late = T0 + timedelta(hours=5, minutes=30, seconds=1)
    h.write([point("air_temperature", late, 100.0)])
    assert h.flush(10)
    h.maintain()
    hour = T0 + timedelta(hours=5)
    before = [v for t, v in data if hour <= t < hour + timedelta(hours=1)]
    (got_hour,) = q(hour, hour + timedelta(hours=1), timedelta(hours=1))
    assert got_hour.value == pytest.approx((sum(before) + 100.0) / (len(before) + 1))
    (got_max,) = q(hour, hour + timedelta(hours=1), timedelta(hours=1), "max")
    assert got_max.value == 100.0
    h.close()


def test_a_point_written_twice_counts_once(tmp_path: Path) -> None:
    h = keep(tmp_path / "h.db", compact_interval_s=0, flush_interval_s=0.05)
    batch = [point("ph", T0 + timedelta(seconds=i), float(i)) for i in range(10)]
    h.write(batch)
    h.write(batch[:5])  # replayed after a crash: same series, same time
    h.write([point("ph", T0 + timedelta(seconds=9), 99.0)])  # a correction wins
    assert h.flush(10)
    got = h.query(site="farm1", zone="z1", names=["ph"], start=T0, end=T0 + timedelta(hours=1))["ph"]
    assert [s.value for s in got] == [*map(float, range(9)), 99.0]
    (mean,) = h.query(site="farm1", zone="z1", names=["ph"], start=T0, end=T0 + timedelta(minutes=1),
                      every=timedelta(minutes=1))["ph"]
    assert mean.value == pytest.approx((sum(range(9)) + 99) / 10)
    h.close()


def test_nan_is_kept_as_a_gap_and_types_widen(tmp_path: Path) -> None:
    h = keep(tmp_path / "h.db", flush_interval_s=0.05)
    h.write([point("ec", T0, 1.5), point("ec", T0 + timedelta(seconds=1), math.nan, quality="comm_error"),
             Point("actuator", "farm1", "z1", "pump", T0, {"target": 1}),
             Point("actuator", "farm1", "z1", "pump", T0 + timedelta(seconds=1), {"target": 0.5})])
    assert h.flush(10)
    got = h.query(site="farm1", zone="z1", names=["ec"], start=T0, end=T0 + timedelta(minutes=1))["ec"]
    assert [s.value for s in got] == [1.5, None]
    assert h.query(site="farm1", zone="z1", names=["ec"], start=T0, end=T0 + timedelta(minutes=1),
                   every=timedelta(minutes=1), agg="last")["ec"] == [Sample(T0, 1.5)]
    latest = h.latest(site="farm1", zone="z1")
    assert math.isnan(latest["ec"].fields["value"]) and latest["ec"].quality == "comm_error"
    assert latest["pump"].fields == {"target": 0.5}
    h.close()


def test_commits_are_fsynced_within_sync_interval_even_when_writes_stop(tmp_path: Path) -> None:
    clock = Clock(T0)
    h = keep(tmp_path / "h.db", clock=clock, flush_interval_s=0.02, sync_interval_s=60, checkpoint_interval_s=1e9)
    h.write([point("ec", T0, 1.0)])
    assert h.flush(10)  # the first commit is a durable one (synchronous=FULL)
    clock.set(T0 + timedelta(seconds=10))
    h.write([point("ec", T0 + timedelta(seconds=10), 2.0)])
    assert h.flush(10)  # a NORMAL commit: in the WAL, not yet fsynced
    before = h.stats()
    assert (before["durable_commits"], before["commits"], before["checkpoints"]) == (1, 2, 0)
    clock.set(T0 + timedelta(seconds=71))  # nothing more is written
    deadline = time.monotonic() + 5
    while h.stats()["checkpoints"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    after = h.stats()
    assert after["checkpoints"] == 1 and after["fsyncs"] == before["fsyncs"] + 2  # the WAL, then the database
    h.close()


def test_a_value_sqlite_cannot_store_is_rejected_alone(tmp_path: Path) -> None:
    h = keep(tmp_path / "h.db", flush_interval_s=0.05)
    h.write([Point("event", "farm1", "z1", "note", T0, {"message": "bad \ud800 surrogate"}),
             Point("actuator", "farm1", "z1", "counter", T0, {"value": 2**70}),
             point("ec", T0, 1.25)])
    assert h.flush(10)
    latest = h.latest(site="farm1", zone="z1")
    assert set(latest) == {"counter", "ec"} and latest["counter"].fields["value"] == float(2**70)
    assert h.stats()["rejected"] == 1
    h.write([point("ec", T0 + timedelta(seconds=1), 2.5)])  # the writer goes on
    assert h.flush(10) and h.latest(site="farm1", zone="z1")["ec"].fields == {"value": 2.5}
    h.close()


def test_bad_queries_are_one_line_errors(tmp_path: Path) -> None:
    with SqliteHistorian(tmp_path / "h.db") as h:
        args = {"site": "s", "zone": "z", "names": ["a"], "start": T0, "end": T0 + timedelta(days=1)}
        with pytest.raises(BadInput, match="agg"):
            h.query(**args, every=timedelta(minutes=1), agg="median")  # type: ignore[arg-type]
        with pytest.raises(BadInput, match="windows"):
            h.query(**args, every=timedelta(milliseconds=1))
        with pytest.raises(BadInput, match="time zone"):
            h.query(**{**args, "start": datetime(2026, 1, 1)})
        with pytest.raises(BadInput, match="kind"):
            h.query(**args, kind="reading")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the queue and crashes


def test_a_full_queue_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    h = keep(tmp_path / "h.db", batch_max=10, max_queue=10, flush_interval_s=60)
    h.write([point("co2", T0 + timedelta(seconds=i), float(i)) for i in range(25)])  # one call: 15 too many
    assert h.flush(10)
    got = h.query(site="farm1", zone="z1", names=["co2"], start=T0, end=T0 + timedelta(hours=1))["co2"]
    assert [s.value for s in got] == [float(i) for i in range(15, 25)]
    stats = h.stats()
    assert (stats["dropped"], stats["committed"], stats["queue_depth"]) == (15, 10, 0)
    h.close()


def test_a_hundred_thousand_points_are_queued_and_all_stored(tmp_path: Path) -> None:
    h = keep(tmp_path / "h.db")
    points = [point(f"s{i % 20}", T0 + timedelta(seconds=i // 20), float(i)) for i in range(100_000)]
    h.write(points)  # returns at once; its speed is measured in benchmarks/historian_sqlite.py
    assert h.flush(30)
    assert h.stats()["points"] == 100_000
    got = h.query(site="farm1", zone="z1", names=["s7"], start=T0, end=T0 + timedelta(days=1))["s7"]
    assert [s.value for s in got] == [float(i) for i in range(7, 100_000, 20)]
    h.close()


CHILD = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime, timedelta
    from farmcore.historian.base import Point
    from farmcore.historian.sqlite import SqliteHistorian

    h = SqliteHistorian(sys.argv[1], flush_interval_s=0.02, compact_rows=700, raw_days=None, minute_days=None)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    i = 0
    while True:
        h.write([Point("sensor", "s", "z", "x", t0 + timedelta(seconds=j), {"value": float(j)})
                 for j in range(i, i + 50)])
        i += 50
        if i % 250 == 0:
            h.flush()
            print(i, flush=True)
""")


def test_kill_9_loses_nothing_that_was_flushed(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    flushed = 0
    try:
        for line in proc.stdout:
            flushed = int(line)
            if flushed >= 5_000:  # several compactions (every 700 rows) and many commits have happened
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert flushed >= 5_000
    h = keep(path)
    got = h.query(site="s", zone="z", names=["x"], start=T0, end=T0 + timedelta(days=2))["x"]
    values = [s.value for s in got]
    assert len(values) >= flushed
    assert values == [float(j) for j in range(len(values))]  # everything flushed, and a clean prefix
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    h.close()


# --------------------------------------------------------------------------- command line


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    with keep(path) as h:
        h.write([point("air_temperature", T0 + timedelta(seconds=30 * i), 20 + i / 2, tags={"unit": "degC"})
                 for i in range(8)])
        h.write([Point("setpoint", "farm1", "z1", "air_temperature", T0, {"value": 22.0})])
        h.write([Point("actuator", "farm1", "z1", "heater", T0 + timedelta(seconds=90), {"target": 1, "feedback": 0})])
        h.write([Point("event", "farm1", "z1", "alarm", T0, {"message": "hot"})])
    return path


def test_export_raw_csv(filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(history, ["export", "--historian", f"sqlite://{filled}", "--site", "farm1",
                                          "--zone", "z1", "--from", "2026-01-01T09:00", "--to", "2026-01-01T10:00",
                                          "--csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["time_utc", "time_local", "sensor:air_temperature [degC]", "setpoint:air_temperature",
                       "actuator:heater.feedback", "actuator:heater.target"]
    assert rows[1] == ["2026-01-01T00:00:00Z", "2026-01-01T09:00:00+09:00", "20", "22", "", ""]
    assert rows[4] == ["2026-01-01T00:01:30Z", "2026-01-01T09:01:30+09:00", "21.5", "", "0", "1"]
    assert len(rows) == 1 + 8


def test_export_without_site_on_a_one_site_box(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's form: `history export --zone Z --from T --to T --csv` (the only stored site is used)."""
    monkeypatch.setenv("FARMCTL_HISTORIAN", f"sqlite://{filled}")
    monkeypatch.delenv("FARMCTL_SITE", raising=False)
    result = CliRunner().invoke(history, ["export", "--zone", "z1", "--from", "2026-01-01T00:00Z",
                                          "--to", "2026-01-01T01:00Z", "--csv"])
    assert result.exit_code == 0, result.output
    assert len(list(csv.reader(io.StringIO(result.output)))) == 1 + 8


def test_export_downsampled_csv_to_stdout(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FARMCTL_HISTORIAN", f"sqlite://{filled}")
    result = CliRunner().invoke(history, ["export", "--site", "farm1", "--zone", "z1", "--from", "2026-01-01T00:00Z",
                                          "--to", "2026-01-01T00:05Z", "--every", "2m", "--agg", "max",
                                          "--names", "sensor:air_temperature,heater.target", "--tz", "UTC"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows == [
        ["time_utc", "time_local", "sensor:air_temperature [degC]", "actuator:heater.target"],
        ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00", "21.5", "1"],
        ["2026-01-01T00:02:00Z", "2026-01-01T00:02:00+00:00", "23.5", ""],
        ["2026-01-01T00:04:00Z", "2026-01-01T00:04:00+00:00", "", ""],  # no data: the gap shows
    ]


def test_stats_as_json_and_text(filled: Path) -> None:
    url = f"sqlite://{filled}"
    result = CliRunner().invoke(history, ["stats", "--historian", url, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["backend"] == "sqlite" and doc["series"] == 5 and doc["points"] == 12
    assert doc["oldest"] == "2026-01-01T00:00:00Z" and doc["newest"] == "2026-01-01T00:03:30Z"
    text = CliRunner().invoke(history, ["stats", "--historian", url])
    assert text.exit_code == 0 and "db_bytes" in text.output


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    group = click.Group("farmctl")
    group.add_command(history)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(group, argv)
    return int(exit_info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "yesterday"], "--from 'yesterday'"),
    (["--from", "2026-01-02", "--to", "2026-01-01"], "is not after"),
    (["--from", "-1d", "--every", "fortnight"], "--every 'fortnight'"),
    (["--from", "-1d", "--names", "nothing_here"], "no numeric series"),
    (["--from", "-1d", "--tz", "Mars/Olympus"], "--tz"),
])
def test_export_bad_input_is_one_line_exit_2(filled: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                             message: str) -> None:
    code, err = _run(["history", "export", "--historian", f"sqlite://{filled}", "--site", "farm1", "--zone", "z1",
                      *args], capsys)
    assert code == 2 and message in err and err.count("\n") == 1


def test_stats_of_a_missing_file_or_a_token_in_the_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["history", "stats", "--historian", f"sqlite://{tmp_path}/none.db"], capsys)
    assert code == 2 and "no history database" in err
    code, err = _run(["history", "stats", "--historian", "influxdb://h:8086?org=o&bucket=b&token=s3cret"], capsys)
    assert code == 2 and "token= is refused" in err and "s3cret" not in err
    assert not (tmp_path / "none.db").exists()


def test_time_and_length_parsing() -> None:
    from zoneinfo import ZoneInfo

    seoul = ZoneInfo("Asia/Seoul")
    now = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    assert parse_time("2026-01-15", seoul) == datetime(2026, 1, 14, 15, 0, tzinfo=UTC)  # local midnight
    assert parse_time("2026-01-15T06:00", seoul) == datetime(2026, 1, 14, 21, 0, tzinfo=UTC)
    assert parse_time("2026-01-15T06:00Z", seoul) == datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
    assert parse_time("-6h", seoul, now) == datetime(2026, 1, 14, 21, 0, tzinfo=UTC)
    assert parse_time("now", seoul, now) == now
    assert parse_every("90s") == timedelta(seconds=90) and parse_every("1d") == timedelta(days=1)
    assert parse_every("500ms") == timedelta(milliseconds=500)


# --------------------------------------------------------------------------- historian URLs


def test_sqlite_urls(tmp_path: Path) -> None:
    assert parse_historian_url("sqlite:///var/lib/farmctl/history.db") == SqliteUrl(Path("/var/lib/farmctl/history.db"))
    assert parse_historian_url("sqlite:data/h.db?raw_days=7&minute_days=none") == SqliteUrl(Path("data/h.db"), 7.0,
                                                                                            None)
    h = open_historian(f"sqlite://{tmp_path}/x/h.db?raw_days=10")
    assert isinstance(h, SqliteHistorian) and h.raw_days == 10 and h.path == tmp_path / "x" / "h.db"
    h.close()


def test_influx_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FARM_INFLUX_TOKEN", " tok-env \n")
    cfg = parse_historian_url("influxdb://db.farm.kr?org=gb&bucket=farm&token_env=FARM_INFLUX_TOKEN&tls=1")
    assert isinstance(cfg, InfluxUrl)
    assert (cfg.url, cfg.org, cfg.bucket, cfg.token) == ("https://db.farm.kr:8086", "gb", "farm", "tok-env")
    assert "tok-env" not in repr(cfg)
    token_file = tmp_path / "token"
    token_file.write_text("tok-file\n")
    cfg = parse_historian_url(f"influxdb://10.0.0.5:9999?org=gb&bucket=farm&token_file={token_file}")
    assert (cfg.url, cfg.token) == ("http://10.0.0.5:9999", "tok-file")  # type: ignore[union-attr]


@pytest.mark.parametrize(("url", "message"), [
    ("influxdb://h:8086?org=o&bucket=b&token=abc", "token= is refused"),
    ("influxdb://h:8086?org=o&bucket=b&TOKEN=abc", "token= is refused"),
    ("influxdb://h:8086?org=o&bucket=b", "exactly one of token_env"),
    ("influxdb://h:8086?org=o&bucket=b&token_env=A&token_file=/x", "exactly one of token_env"),
    ("influxdb://h:8086?org=o&bucket=b&token_env=NOT_SET_ANYWHERE_42", "'NOT_SET_ANYWHERE_42' is not set"),
    ("influxdb://h:8086?org=o&bucket=b&token_file=/nonexistent/token", "token_file '/nonexistent/token'"),
    ("influxdb://h:8086?bucket=b&token_env=HOME", "org= is required"),
    ("influxdb://h:8086?org=o&token_env=HOME", "bucket= is required"),
    ("influxdb://h:99999?org=o&bucket=b&token_env=HOME", "port"),
    ("influxdb://:8086?org=o&bucket=b&token_env=HOME", "no host"),
    ("influxdb://u:p@h:8086?org=o&bucket=b&token_env=HOME", "no user or password"),
    ("influxdb://h:8086/api?org=o&bucket=b&token_env=HOME", "no path"),
    ("influxdb://h:8086?org=o&bucket=b&token_env=HOME&tls=maybe", "tls="),
    ("influxdb://h:8086?org=o&bucket=b&token_env=HOME&precision=s", "unknown parameter 'precision'"),
    ("sqlite://host/h.db", "sqlite takes no host"),
    ("sqlite:", "no database file"),
    ("sqlite:///tmp/h.db?raw_days=0", "raw_days='0'"),
    ("sqlite:///tmp/h.db?raw_days=30&minute_days=7", "minute_days (7) must be >= raw_days (30)"),
    ("sqlite:///tmp/h.db?retention=1", "unknown parameter 'retention'"),
    ("postgres://h/db", "expected sqlite:///"),
    ("/var/lib/h.db", "expected sqlite:///"),
])
def test_bad_urls_are_one_line(url: str, message: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_historian_url(url)
    text = str(info.value)
    assert message in text and "\n" not in text and "abc" not in text


def test_an_influx_url_opens_the_influx_back_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("farmcore.historian.influx")
    monkeypatch.setenv("FARM_INFLUX_TOKEN", "tok")
    h = open_historian("influxdb://127.0.0.1:9?org=o&bucket=b&token_env=FARM_INFLUX_TOKEN", spool_dir=tmp_path)
    try:
        assert type(h).__name__ == "InfluxHistorian"
        assert Path(h.spool_path).parent == tmp_path  # type: ignore[attr-defined]
    finally:
        h.close()
