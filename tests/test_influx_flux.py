"""The InfluxDB back-end's Flux: the text we build, and the query path through influxdb-client's real
`query_api()` parser against annotated-CSV answers served by a local HTTP stub.

The CSV fixtures below are written by hand in InfluxDB 2's annotated-CSV format (annotation rows in the
order influxdb-client's dialect asks for: #datatype, #group, #default; CRLF line ends; a blank line between
tables of different schema) for the Flux these functions build. They are labelled RECORDED FORMAT, NOT
VERIFIED AGAINST A LIVE INFLUXDB 2: no Flux-capable server is available here (Debian ships none;
VictoriaMetrics answers /api/v2/query with 400). `test_live_influxdb2_*` runs the same calls against a real
InfluxDB 2 when INFLUXDB_URL and INFLUXDB_TOKEN are set, and skips otherwise.

The stub also answers /api/v2/write, for the sender's handling of refused lines and Retry-After.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from farmcore.errors import BadInput
from farmcore.historian.base import Latest, Point, Sample
from farmcore.historian.influx import (
    InfluxError,
    InfluxHistorian,
    flux_duration,
    flux_latest,
    flux_query,
    flux_string,
    flux_time,
    window_start,
)
from farmcore.historian.lineproto import encode
from farmcore.historian.spool import SpoolError, SpoolInUse

pytestmark = pytest.mark.timeout(60)

UTC0 = datetime(2025, 3, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- Flux text


def test_flux_string_escapes_quotes_backslashes_and_interpolation():
    assert flux_string('a "b" \\ ${x} $y 온실') == '"a \\"b\\" \\\\ \\${x} $y 온실"'
    assert flux_string("two\nlines") == '"two\\nlines"'


def test_flux_time_and_duration_literals():
    assert flux_time(UTC0) == "2025-03-01T00:00:00Z"
    assert flux_time(datetime(2025, 3, 1, 9, 0, 0, 250000, tzinfo=UTC)) == "2025-03-01T09:00:00.250000Z"
    kst = datetime(2025, 3, 1, 9, 0, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Seoul"))
    assert flux_time(kst) == "2025-03-01T09:00:00Z"
    with pytest.raises(BadInput):
        flux_time(datetime(2025, 3, 1))
    cases = {timedelta(hours=2): "2h", timedelta(minutes=15): "15m", timedelta(seconds=90): "90s",
             timedelta(milliseconds=250): "250ms", timedelta(microseconds=10): "10us", timedelta(days=1): "24h"}
    for every, text in cases.items():
        assert flux_duration(every) == text
    with pytest.raises(BadInput):
        flux_duration(timedelta(0))


def test_flux_for_a_downsampled_query():
    flux = flux_query(bucket="farm", site="s1", zone="gh1", names=["air_temperature", "relative_humidity"],
                      start=UTC0, end=UTC0 + timedelta(days=30), every=timedelta(hours=1), agg="mean",
                      kind="sensor")
    assert flux == (
        'from(bucket: "farm")\n'
        "  |> range(start: 2025-03-01T00:00:00Z, stop: 2025-03-31T00:00:00Z)\n"
        '  |> filter(fn: (r) => r._measurement == "sensor" and r.site == "s1" and r.zone == "gh1" '
        'and r._field == "value")\n'
        '  |> filter(fn: (r) => r.name == "air_temperature" or r.name == "relative_humidity")\n'
        '  |> keep(columns: ["_start", "_stop", "_time", "_value", "_measurement", "name"])\n'
        '  |> group(columns: ["_measurement", "name"])\n'
        '  |> sort(columns: ["_time"])\n'
        '  |> aggregateWindow(every: 1h, fn: mean, createEmpty: false, timeSrc: "_start")\n'
    )


@pytest.mark.parametrize("agg", ["mean", "min", "max", "last"])
def test_flux_aggregate_functions(agg):
    flux = flux_query(bucket="b", site="s", zone="z", names=["x"], start=UTC0, end=UTC0 + timedelta(days=1),
                      every=timedelta(minutes=5), agg=agg)
    assert f"aggregateWindow(every: 5m, fn: {agg}, createEmpty: false" in flux
    if agg == "mean":  # kind None: every kind, measurements by the mean and an actuator's states by the last
        assert 'data |> filter(fn: (r) => r._measurement == "actuator") |> aggregateWindow(every: 5m, fn: last' in flux
        assert 'data |> filter(fn: (r) => not (r._measurement == "actuator")) |> aggregateWindow(' in flux
    else:
        assert "_measurement ==" not in flux  # kind None: every kind, chosen per name afterwards


def test_flux_raw_query_and_escaped_names():
    flux = flux_query(bucket='my "bucket"', site="농장 1", zone='A"1', names=['co2 "in"'], start=UTC0,
                      end=UTC0 + timedelta(hours=1), field="target", kind="actuator")
    assert flux.startswith('from(bucket: "my \\"bucket\\"")\n')
    assert 'r.site == "농장 1" and r.zone == "A\\"1" and r._field == "target"' in flux
    assert 'r.name == "co2 \\"in\\""' in flux
    assert "aggregateWindow" not in flux


def test_flux_latest():
    assert flux_latest(bucket="farm", site="s1", zone="gh1", names=["a", "b"]) == (
        'from(bucket: "farm")\n'
        "  |> range(start: 0)\n"
        '  |> filter(fn: (r) => r.site == "s1" and r.zone == "gh1")\n'
        '  |> filter(fn: (r) => r.name == "a" or r.name == "b")\n'
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "_field", "_measurement", "name", "quality", "int_fields"])\n'
    )
    assert "r.name ==" not in flux_latest(bucket="farm", site="s1", zone="gh1")


def test_window_start_is_aligned_to_the_epoch():
    assert window_start(datetime(2025, 3, 1, 0, 30, tzinfo=UTC), timedelta(hours=1)) == UTC0
    assert window_start(datetime(2025, 3, 1, 0, 7, 59, tzinfo=UTC), timedelta(minutes=5)) == \
        datetime(2025, 3, 1, 0, 5, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- the stub server

# RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE INFLUXDB 2: the answer to the downsampled query of
# test_recorded_format_downsampled_query (range 00:30-04:00, every 1h, mean; the first window clipped to the
# range start by Flux; 02:00 has no data so createEmpty: false leaves it out).
RECORDED_FORMAT_MEAN_1H = """\
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string
#group,false,false,true,true,false,false,true,true
#default,_result,,,,,,,
,result,table,_start,_stop,_time,_value,_measurement,name
,,0,2025-03-01T00:30:00Z,2025-03-01T04:00:00Z,2025-03-01T00:30:00Z,20.25,sensor,air_temperature
,,0,2025-03-01T00:30:00Z,2025-03-01T04:00:00Z,2025-03-01T01:00:00Z,21.5,sensor,air_temperature
,,0,2025-03-01T00:30:00Z,2025-03-01T04:00:00Z,2025-03-01T03:00:00Z,23,sensor,air_temperature
,,1,2025-03-01T00:30:00Z,2025-03-01T04:00:00Z,2025-03-01T01:00:00Z,65.5,sensor,relative_humidity

"""

# RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE INFLUXDB 2: a raw query with kind=None where the name is
# both a sensor and a setpoint (two tables), nanosecond times.
RECORDED_FORMAT_RAW_TWO_KINDS = """\
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string
#group,false,false,true,true,false,false,true,true
#default,_result,,,,,,,
,result,table,_start,_stop,_time,_value,_measurement,name
,,0,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,2025-03-01T00:00:10.123456789Z,22.1,sensor,air_temperature
,,0,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,2025-03-01T00:00:20Z,22.3,sensor,air_temperature
,,1,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,2025-03-01T00:00:00Z,24,setpoint,air_temperature

"""

# RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE INFLUXDB 2: `last()` of every series of a zone: tables of
# different schema (double with a quality tag, string, boolean, double without quality, double with the
# int_fields tag of integers written as floats) in separate blocks.
RECORDED_FORMAT_LATEST = """\
#datatype,string,long,dateTime:RFC3339,double,string,string,string,string
#group,false,false,false,false,true,true,true,true
#default,_result,,,,,,,
,result,table,_time,_value,_field,_measurement,name,quality
,,0,2025-03-01T11:59:00Z,23.1,value,sensor,air_temperature,good
,,1,2025-03-01T12:00:00Z,23.4,value,sensor,air_temperature,stale
,,2,2025-03-01T12:00:00Z,812,value,sensor,co2,good
,,3,2025-03-01T11:00:00Z,24,value,setpoint,air_temperature,

#datatype,string,long,dateTime:RFC3339,string,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_field,_measurement,name
,,4,2025-03-01T10:15:00Z,E17,code,event,alarm
,,5,2025-03-01T10:15:00Z,"high temperature, ""vent"" opened",message,event,alarm

#datatype,string,long,dateTime:RFC3339,boolean,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_field,_measurement,name
,,6,2025-03-01T11:30:00Z,true,on,actuator,vent_1

#datatype,string,long,dateTime:RFC3339,double,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_field,_measurement,name
,,7,2025-03-01T11:30:00Z,37.5,target,actuator,vent_1
,,8,2025-03-01T11:29:00Z,35,feedback,actuator,vent_1

#datatype,string,long,dateTime:RFC3339,double,string,string,string,string
#group,false,false,false,false,true,true,true,true
#default,_result,,,,,,,
,result,table,_time,_value,_field,_measurement,name,int_fields
,,9,2025-03-01T11:45:00Z,0,feedback,actuator,heater,"feedback,target"
,,10,2025-03-01T11:45:00Z,1,target,actuator,heater,"feedback,target"

"""

# RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE INFLUXDB 2: an error raised while the query runs is sent as
# a table with the columns error and reference after a 200 status.
RECORDED_FORMAT_RUNTIME_ERROR = """\
#datatype,string,string
#group,true,true
#default,,
,error,reference
,"runtime error @7:6-7:36: group: schema collision: cannot group float and string types together",

"""


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


class Stub:
    """A tiny InfluxDB 2 stand-in: /api/v2/query answers the queued fixtures, /api/v2/write calls `on_write`."""

    def __init__(self) -> None:
        self.queries: list[dict] = []
        self.query_params: list[dict] = []
        self.writes: list[bytes] = []
        self.answers: list[tuple[int, str, bytes]] = []
        self.on_write: Callable[[bytes], tuple[int, dict[str, str], bytes]] = lambda body: (204, {}, b"")
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = urlsplit(self.path)
                if path.path == "/api/v2/query":
                    stub.queries.append(json.loads(body))
                    stub.query_params.append(parse_qs(path.query))
                    status, ctype, data = stub.answers.pop(0)
                    headers = {"Content-Type": ctype}
                elif path.path == "/api/v2/write":
                    status, headers, data = stub.on_write(body)
                    if status < 300:
                        stub.writes.append(body)
                else:
                    status, headers, data = 404, {}, b""
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def answer_csv(self, text: str) -> None:
        self.answers.append((200, "text/csv; charset=utf-8", _crlf(text)))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.close()


@pytest.fixture
def historian(stub, tmp_path):
    h = InfluxHistorian(stub.url, "farm-org", "farm", "tok", tmp_path / "spool.db", retry_initial_s=0.05,
                        retry_max_s=0.2, flush_interval_s=0.05, close_timeout_s=2.0)
    yield h
    h.close()


def _t(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2025, 3, 1, hh, mm, ss, tzinfo=UTC)


def test_recorded_format_downsampled_query_fills_gaps_and_aligns_windows(stub, historian):
    stub.answer_csv(RECORDED_FORMAT_MEAN_1H)
    names = ["air_temperature", "relative_humidity", "co2"]
    result = historian.query(site="s1", zone="gh1", names=names, start=_t(0, 30), end=_t(4),
                             every=timedelta(hours=1), agg="mean", kind="sensor")
    sent = stub.queries[0]
    assert sent["query"] == flux_query(bucket="farm", site="s1", zone="gh1", names=names, start=_t(0, 30),
                                       end=_t(4), every=timedelta(hours=1), agg="mean", kind="sensor")
    assert sent["dialect"]["annotations"] == ["datatype", "group", "default"]
    assert stub.query_params[0]["org"] == ["farm-org"]
    assert result == {
        "air_temperature": [Sample(_t(0), 20.25), Sample(_t(1), 21.5), Sample(_t(2), None), Sample(_t(3), 23.0)],
        "relative_humidity": [Sample(_t(0), None), Sample(_t(1), 65.5), Sample(_t(2), None), Sample(_t(3), None)],
        "co2": [],  # no data in the range at all
    }


def test_recorded_format_raw_query_picks_the_first_kind_and_keeps_nanosecond_text(stub, historian):
    stub.answer_csv(RECORDED_FORMAT_RAW_TWO_KINDS)
    result = historian.query(site="s1", zone="gh1", names=["air_temperature"], start=_t(0), end=_t(1))
    assert result == {"air_temperature": [Sample(datetime(2025, 3, 1, 0, 0, 10, 123456, tzinfo=UTC), 22.1),
                                          Sample(_t(0, 0, 20), 22.3)]}


def test_recorded_format_latest(stub, historian):
    stub.answer_csv(RECORDED_FORMAT_LATEST)
    result = historian.latest(site="s1", zone="gh1")
    assert stub.queries[0]["query"] == flux_latest(bucket="farm", site="s1", zone="gh1")
    assert result == {
        # sensor before setpoint; the stale series is the newer one, so its quality is the answer
        "air_temperature": Latest(time=_t(12), fields={"value": 23.4}, quality="stale"),
        "co2": Latest(time=_t(12), fields={"value": 812.0}, quality="good"),
        "alarm": Latest(time=_t(10, 15), fields={"code": "E17", "message": 'high temperature, "vent" opened'},
                        quality=None),
        "vent_1": Latest(time=_t(11, 30), fields={"on": True, "target": 37.5}, quality=None),
        "heater": Latest(time=_t(11, 45), fields={"feedback": 0, "target": 1}, quality=None),
    }
    heater = result["heater"].fields
    assert type(heater["target"]) is int and type(heater["feedback"]) is int  # written as floats, read as ints
    assert type(result["vent_1"].fields["target"]) is float


def test_recorded_format_runtime_error_in_the_csv_raises_influx_error(stub, historian):
    stub.answer_csv(RECORDED_FORMAT_RUNTIME_ERROR)
    with pytest.raises(InfluxError, match="schema collision"):
        historian.query(site="s1", zone="gh1", names=["x"], start=_t(0), end=_t(1))


def test_http_error_answer_raises_influx_error(stub, historian):
    body = json.dumps({"code": "invalid", "message": "compilation failed: undefined identifier"}).encode()
    stub.answers.append((400, "application/json; charset=utf-8", body))
    with pytest.raises(InfluxError, match=r"HTTP 400.*compilation failed"):
        historian.query(site="s1", zone="gh1", names=["x"], start=_t(0), end=_t(1))


def test_unreachable_server_raises_influx_error(tmp_path):
    with InfluxHistorian("http://127.0.0.1:9", "o", "b", "t", tmp_path / "s.db", timeout_s=1.0,
                         close_timeout_s=0.1) as h, pytest.raises(InfluxError, match="no answer"):
        h.latest(site="s1", zone="gh1")


def test_bad_arguments_are_refused_before_any_request(stub, historian):
    with pytest.raises(BadInput):
        historian.query(site="s", zone="z", names=["x"], start=_t(0), end=_t(1), agg="median")
    with pytest.raises(BadInput):
        historian.query(site="s", zone="z", names=["x"], start=_t(0), end=_t(1), kind="weather")
    with pytest.raises(BadInput):
        historian.query(site="s", zone="z", names=["x"], start=datetime(2025, 1, 1), end=_t(1))
    assert historian.query(site="s", zone="z", names=["x"], start=_t(1), end=_t(0)) == {"x": []}
    assert historian.query(site="s", zone="z", names=[], start=_t(0), end=_t(1)) == {}
    assert historian.latest(site="s", zone="z", names=[]) == {}
    assert stub.queries == []


# ---------------------------------------------------------------------------------------------- the sender


def _points(n: int, *, name: str = "air_temperature") -> list[Point]:
    return [Point(kind="sensor", site="s1", zone="gh1", name=name, time=_t(0) + timedelta(seconds=i),
                  fields={"value": float(i)}, quality="good") for i in range(n)]


def test_a_line_refused_for_good_is_set_aside_and_the_rest_delivered_once_in_order(stub, historian):
    def on_write(body: bytes):
        if b"poison" in body:
            return 400, {"Content-Type": "application/json"}, b'{"code":"invalid","message":"field type conflict"}'
        return 204, {}, b""

    stub.on_write = on_write
    points = _points(10)
    points[6] = Point(kind="sensor", site="s1", zone="gh1", name="poison", time=_t(1), fields={"value": 1.0})
    historian.write(points)
    assert historian.flush(10)
    delivered = b"\n".join(stub.writes).decode().split("\n")
    assert len(delivered) == 9 and len(set(delivered)) == 9
    assert delivered == [encode(p, int_as_float=True) for p in points if p.name != "poison"]
    stats = historian.stats()
    assert stats["rejected"] == 1 and stats["spool_depth"] == 0 and stats["sent"] == 9


def test_retry_after_is_honoured_and_nothing_is_lost(stub, historian):
    calls = []

    def on_write(body: bytes):
        calls.append(body)
        if len(calls) <= 2:
            return 503, {"Retry-After": "0"}, b'{"code":"unavailable","message":"busy"}'
        return 204, {}, b""

    stub.on_write = on_write
    historian.write(_points(5))
    assert historian.flush(10)
    stats = historian.stats()
    assert stats["failures"] == 2 and stats["sent"] == 5 and stats["last_error"].startswith("HTTP 503")
    assert len(stub.writes) == 1


def test_write_returns_at_once_while_the_server_hangs(stub, tmp_path):
    """The control loop's write() only touches the local spool, even while a post hangs for seconds."""
    release = threading.Event()

    def on_write(body: bytes):
        release.wait(10)  # the server takes its time
        return 204, {}, b""

    stub.on_write = on_write
    with InfluxHistorian(stub.url, "o", "farm", "tok", tmp_path / "s.db", timeout_s=20, flush_interval_s=0.01,
                         close_timeout_s=10) as h:
        h.write(_points(10))
        time.sleep(0.2)  # the sender is now blocked in its post
        slowest = 0.0
        for tick in range(20):
            started = time.monotonic()
            h.write(_points(200, name=f"tick{tick}"))
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 1.0
        assert h.stats()["spool_depth"] >= 4000
        release.set()
        assert h.flush(20)
    assert len(b"\n".join(stub.writes).split(b"\n")) == 4010


def test_invalid_points_are_counted_not_stored(stub, historian):
    historian.write([*_points(2), Point(kind="sensor", site="s1", zone="gh1", name="x", time=_t(0),
                                        fields={"value": math.nan})])
    assert historian.flush(10)
    stats = historian.stats()
    assert stats["invalid_points"] == 1 and "finite" in stats["last_invalid"] and stats["sent"] == 2


def test_a_second_instance_on_a_busy_spool_is_read_only(stub, historian):
    historian.write(_points(3))
    assert historian.flush(10)
    with InfluxHistorian(stub.url, "farm-org", "farm", "tok", historian.spool_path) as cli:  # the command line
        assert cli.read_only and cli.flush(1)
        with pytest.raises(SpoolError, match="read-only"):
            cli.write(_points(1))
        assert cli.stats()["spool_depth"] == 0 and cli.stats()["read_only"] is True
        stub.answer_csv(RECORDED_FORMAT_RAW_TWO_KINDS)
        assert cli.query(site="s1", zone="gh1", names=["air_temperature"], start=_t(0), end=_t(1))
    with pytest.raises(SpoolInUse):
        InfluxHistorian(stub.url, "farm-org", "farm", "tok", historian.spool_path, read_only=False)
    historian.write(_points(2))  # the writer is unaffected
    assert historian.flush(10) and historian.stats()["sent"] == 5


# ---------------------------------------------------------------------------------------------- live InfluxDB 2

LIVE_URL, LIVE_TOKEN = os.environ.get("INFLUXDB_URL"), os.environ.get("INFLUXDB_TOKEN")
live = pytest.mark.skipif(not (LIVE_URL and LIVE_TOKEN),
                          reason="INFLUXDB_URL and INFLUXDB_TOKEN are not set: no live InfluxDB 2 to run the Flux "
                                 "query path against (set them, and INFLUXDB_ORG / INFLUXDB_BUCKET, to run it)")


@live
def test_live_influxdb2_write_query_latest(tmp_path):
    org = os.environ.get("INFLUXDB_ORG", "farmctl")
    bucket = os.environ.get("INFLUXDB_BUCKET", "farmctl-test")
    site = f"test-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    start = window_start(start, timedelta(hours=1))
    points = []
    for i in range(120):  # 2 hours of one reading a minute, the quality changing half-way
        points.append(Point(kind="sensor", site=site, zone="gh1", name="air_temperature",
                            time=start + timedelta(minutes=i), fields={"value": 20.0 + i / 10},
                            quality="good" if i < 60 else "stale"))
    points.append(Point(kind="setpoint", site=site, zone="gh1", name="air_temperature", time=start,
                        fields={"value": 24.0}, tags={"source": "recipe"}))
    points.append(Point(kind="event", site=site, zone="gh1", name="alarm", time=start + timedelta(minutes=5),
                        fields={"code": "E1", "message": 'a "quoted", message'}))
    with InfluxHistorian(LIVE_URL, org, bucket, LIVE_TOKEN, tmp_path / "spool.db") as h:
        h.write(points)
        assert h.flush(30), h.stats()
        end = start + timedelta(hours=3)
        raw = h.query(site=site, zone="gh1", names=["air_temperature"], start=start, end=end, kind="sensor")
        assert [s.value for s in raw["air_temperature"]] == pytest.approx([20.0 + i / 10 for i in range(120)])
        for agg, expect in {"mean": [22.95, 28.95], "min": [20.0, 26.0], "max": [25.9, 31.9],
                            "last": [25.9, 31.9]}.items():
            got = h.query(site=site, zone="gh1", names=["air_temperature"], start=start, end=end,
                          every=timedelta(hours=1), agg=agg, kind="sensor")["air_temperature"]
            assert [s.time for s in got] == [start + timedelta(hours=k) for k in range(3)]
            assert [s.value for s in got][:2] == pytest.approx(expect)
            assert got[2].value is None
        latest = h.latest(site=site, zone="gh1")
        assert latest["air_temperature"].quality == "stale"
        assert latest["air_temperature"].fields["value"] == pytest.approx(31.9)
        assert latest["alarm"].fields == {"code": "E1", "message": 'a "quoted", message'}
