"""The InfluxDB back-end's `sites()`, `catalog()` and `events()`: the Flux we build, and the answers through
influxdb-client's real `query_api()` parser, served by the local HTTP stub of tests/test_influx_flux.py.

The annotated-CSV answers below are written by hand in InfluxDB 2's format for the Flux these functions build
(same conventions as tests/test_influx_flux.py). They are labelled RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE
INFLUXDB 2, and the tests that use them are named `test_stub_server_recorded_format_*`: no Flux-capable server
can run here. `test_live_influxdb2_*` writes and reads back through a real InfluxDB 2 when INFLUXDB_URL and
INFLUXDB_TOKEN are set, and skips otherwise. The write side of the same contract tests runs against
VictoriaMetrics in hil_tests/test_historian_victoriametrics.py.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from test_influx_flux import Stub

from farmcore.errors import BadInput
from farmcore.historian.base import Event, Point, SeriesInfo
from farmcore.historian.cli import history
from farmcore.historian.config import open_historian
from farmcore.historian.influx import InfluxError, InfluxHistorian, flux_query
from farmcore.historian.influx_queries import flux_catalog, flux_events, flux_sites

pytestmark = pytest.mark.timeout(60)


def _t(hh: int, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(2025, 3, 1, hh, mm, ss, us, tzinfo=UTC)


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.close()


@pytest.fixture
def historian(stub, tmp_path):
    h = InfluxHistorian(stub.url, "farm-org", "farm", "tok", tmp_path / "spool.db", close_timeout_s=2.0)
    yield h
    h.close()


# ---------------------------------------------------------------------------------------------- Flux text


def test_flux_for_sites_reads_the_tag_index_since_the_epoch():
    assert flux_sites(bucket='my "farm"') == (
        'import "influxdata/influxdb/schema"\n\n'
        'schema.tagValues(bucket: "my \\"farm\\"", tag: "site", start: 1970-01-01T00:00:00Z)\n'
    )


def test_flux_for_the_catalog_of_a_zone():
    assert flux_catalog(bucket="farm", site="농장 1", zone='A"1') == (
        'from(bucket: "farm")\n'
        "  |> range(start: 0)\n"
        '  |> filter(fn: (r) => r.site == "농장 1" and r.zone == "A\\"1")\n'
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "_field", "_measurement", "name", "unit"])\n'
    )


def test_flux_for_events_by_zone_and_code_and_of_every_zone():
    assert flux_events(bucket="farm", site="s1", zone="z1", start=_t(0), end=_t(1, 0, 0, 500000),
                       codes=["alarm_raised", "command_audit"], limit=50) == (
        'from(bucket: "farm")\n'
        "  |> range(start: 2025-03-01T00:00:00Z, stop: 2025-03-01T01:00:00.500000Z)\n"
        '  |> filter(fn: (r) => r._measurement == "event" and r.site == "s1" and r.zone == "z1")\n'
        '  |> filter(fn: (r) => r.name == "alarm_raised" or r.name == "command_audit")\n'
        "  |> tail(n: 50)\n"
        '  |> keep(columns: ["_time", "_value", "_field", "zone", "name", "int_fields"])\n'
    )
    every_zone = flux_events(bucket="farm", site="s1", zone=None, start=_t(0), end=_t(1), codes=None, limit=5)
    assert "r.zone" not in every_zone and "r.name" not in every_zone and "tail(n: 5)" in every_zone


# ---------------------------------------------------------------------------------------------- recorded answers

# RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE INFLUXDB 2: `schema.tagValues` answers one table of strings.
RECORDED_FORMAT_SITES = """\
#datatype,string,long,string
#group,false,false,false
#default,_result,,
,result,table,_value
,,0,farm-b
,,0,farm-a

"""

# RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE INFLUXDB 2: `last()` of every series of zone gh1, `keep` leaving
# the unit tag where a series has one. air_temperature is two tables (its quality changed); its unit tag was
# renamed between them, so the newer table names the unit. Tables of different schema in separate blocks.
RECORDED_FORMAT_CATALOG = """\
#datatype,string,long,dateTime:RFC3339,double,string,string,string,string
#group,false,false,false,false,true,true,true,true
#default,_result,,,,,,,
,result,table,_time,_value,_field,_measurement,name,unit
,,0,2025-03-01T12:00:00Z,23.4,value,sensor,air_temperature,degC
,,1,2025-03-01T11:59:00Z,23.1,value,sensor,air_temperature,C
,,2,2025-03-01T12:00:00Z,812,value,sensor,co2,ppm

#datatype,string,long,dateTime:RFC3339,double,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_field,_measurement,name
,,3,2025-03-01T11:00:00Z,24,value,setpoint,air_temperature
,,4,2025-03-01T11:45:00Z,0,feedback,actuator,heater
,,5,2025-03-01T11:45:00Z,1,target,actuator,heater

#datatype,string,long,dateTime:RFC3339,string,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_field,_measurement,name
,,6,2025-03-01T10:15:00Z,alarm_raised,code,event,alarm_raised
,,7,2025-03-01T10:15:00Z,"high temperature, ""vent"" opened",message,event,alarm_raised

#datatype,string,long,dateTime:RFC3339,boolean,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_field,_measurement,name
,,8,2025-03-01T11:30:00Z,true,moving,actuator,roof_vent

"""

# RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE INFLUXDB 2: event rows after `tail` and `keep`, one table per
# field and tag set: a daemon event in zone _site and one in z1 (message and code), and a command audit whose
# integer duration_s was written as a float and named in int_fields (the tag is on every field of that line).
RECORDED_FORMAT_EVENTS = """\
#datatype,string,long,dateTime:RFC3339,string,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_field,name,zone
,,0,2025-03-01T00:00:00Z,daemon_started,code,daemon_started,_site
,,1,2025-03-01T00:00:00Z,"daemon started: zones z1, z2",message,daemon_started,_site
,,2,2025-03-01T00:00:10.25Z,alarm_raised,code,alarm_raised,z1
,,3,2025-03-01T00:00:10.25Z,"용존산소 낮음: 3.1 mg/L < 4.0, ""tank 2"" 확인",message,alarm_raised,z1

#datatype,string,long,dateTime:RFC3339,string,string,string,string,string
#group,false,false,false,false,true,true,true,true
#default,_result,,,,,,,
,result,table,_time,_value,_field,int_fields,name,zone
,,4,2025-03-01T00:00:30Z,command_rejected,code,duration_s,command_audit,z1
,,5,2025-03-01T00:00:30Z,kim,who,duration_s,command_audit,z1
,,6,2025-03-01T00:00:30Z,command c-17 setpoint air_temperature 22.5 by kim: rejected,message,duration_s,command_audit,z1

#datatype,string,long,dateTime:RFC3339,double,string,string,string,string
#group,false,false,false,false,true,true,true,true
#default,_result,,,,,,,
,result,table,_time,_value,_field,int_fields,name,zone
,,7,2025-03-01T00:00:30Z,22.5,value,duration_s,command_audit,z1
,,8,2025-03-01T00:00:30Z,600,duration_s,duration_s,command_audit,z1

#datatype,string,long,dateTime:RFC3339,boolean,string,string,string,string
#group,false,false,false,false,true,true,true,true
#default,_result,,,,,,,
,result,table,_time,_value,_field,int_fields,name,zone
,,9,2025-03-01T00:00:30Z,false,ok,duration_s,command_audit,z1

"""

# RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE INFLUXDB 2: `tail(n: 2)` of each table where one older event had
# a field the newer ones lack: that table's tail reaches back to it, though it is not among the newest two.
RECORDED_FORMAT_EVENTS_TAIL = """\
#datatype,string,long,dateTime:RFC3339,string,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_field,name,zone
,,0,2025-03-01T00:02:00Z,irrigation 2,message,irrigation_started,z1
,,0,2025-03-01T00:03:00Z,irrigation 3,message,irrigation_started,z1
,,1,2025-03-01T00:01:00Z,radiation sum,why,irrigation_started,z1

"""


def test_stub_server_recorded_format_sites(stub, historian):
    stub.answer_csv(RECORDED_FORMAT_SITES)
    assert historian.sites() == ["farm-a", "farm-b"]
    assert stub.queries[0]["query"] == flux_sites(bucket="farm")
    assert stub.query_params[0]["org"] == ["farm-org"]


def test_stub_server_recorded_format_catalog(stub, historian):
    stub.answer_csv(RECORDED_FORMAT_CATALOG)
    assert historian.catalog(site="s1", zone="gh1") == [
        SeriesInfo("sensor", "air_temperature", "value", numeric=True, unit="degC"),
        SeriesInfo("setpoint", "air_temperature", "value", numeric=True, unit=None),
        SeriesInfo("event", "alarm_raised", "code", numeric=False, unit=None),
        SeriesInfo("event", "alarm_raised", "message", numeric=False, unit=None),
        SeriesInfo("sensor", "co2", "value", numeric=True, unit="ppm"),
        SeriesInfo("actuator", "heater", "feedback", numeric=True, unit=None),
        SeriesInfo("actuator", "heater", "target", numeric=True, unit=None),
        SeriesInfo("actuator", "roof_vent", "moving", numeric=True, unit=None),
    ]
    assert stub.queries[0]["query"] == flux_catalog(bucket="farm", site="s1", zone="gh1")


def test_stub_server_recorded_format_events_put_each_point_back_together(stub, historian):
    stub.answer_csv(RECORDED_FORMAT_EVENTS)
    events = historian.events(site="s1", start=_t(0), end=_t(1))
    assert stub.queries[0]["query"] == flux_events(bucket="farm", site="s1", zone=None, start=_t(0), end=_t(1),
                                                   codes=None, limit=1000)
    message = '용존산소 낮음: 3.1 mg/L < 4.0, "tank 2" 확인'
    assert events == [
        Event(_t(0), "s1", "_site", "daemon_started", "daemon started: zones z1, z2",
              {"code": "daemon_started", "message": "daemon started: zones z1, z2"}),
        Event(_t(0, 0, 10, 250000), "s1", "z1", "alarm_raised", message, {"code": "alarm_raised", "message": message}),
        Event(_t(0, 0, 30), "s1", "z1", "command_audit", "command c-17 setpoint air_temperature 22.5 by kim: rejected",
              {"code": "command_rejected", "who": "kim", "value": 22.5, "duration_s": 600, "ok": False,
               "message": "command c-17 setpoint air_temperature 22.5 by kim: rejected"}),
    ]
    audit = events[2].fields
    assert type(audit["duration_s"]) is int and type(audit["value"]) is float and audit["ok"] is False


def test_stub_server_recorded_format_events_limit_cuts_an_older_partial_event(stub, historian):
    stub.answer_csv(RECORDED_FORMAT_EVENTS_TAIL)
    events = historian.events(site="s1", zone="z1", start=_t(0), end=_t(1), codes=["irrigation_started"], limit=2)
    assert "tail(n: 2)" in stub.queries[0]["query"]
    assert [(e.time, dict(e.fields)) for e in events] == [(_t(0, 2), {"message": "irrigation 2"}),
                                                          (_t(0, 3), {"message": "irrigation 3"})]


def test_stub_server_error_answer_raises_influx_error(stub, historian):
    stub.answers.append((401, "application/json; charset=utf-8", b'{"code":"unauthorized","message":"no token"}'))
    with pytest.raises(InfluxError, match=r"HTTP 401.*no token"):
        historian.sites()


def test_bad_event_arguments_are_refused_before_any_request(stub, historian):
    for bad in ({"limit": 0}, {"start": datetime(2025, 3, 1)}, {"end": datetime(2025, 3, 2)}):
        with pytest.raises(BadInput):
            historian.events(**{"site": "s1", "start": _t(0), "end": _t(1), **bad})
    assert historian.events(site="s1", start=_t(1), end=_t(0)) == []
    assert historian.events(site="s1", start=_t(0), end=_t(1), codes=[]) == []
    assert stub.queries == []


# RECORDED FORMAT, NOT VERIFIED AGAINST A LIVE INFLUXDB 2: a raw query of two sensor series.
RECORDED_FORMAT_RAW = """\
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string
#group,false,false,true,true,false,false,true,true
#default,_result,,,,,,,
,result,table,_start,_stop,_time,_value,_measurement,name
,,0,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,2025-03-01T00:00:00Z,21.5,sensor,air_temperature
,,0,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,2025-03-01T00:01:00Z,21.75,sensor,air_temperature
,,1,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,2025-03-01T00:01:00Z,812,sensor,co2

"""


def test_stub_server_recorded_format_export_finds_the_site_and_columns_on_influxdb(stub, tmp_path, monkeypatch):
    """`history export` without --site on an InfluxDB historian: the only site from `sites()`, the columns
    (kind, unit) from `catalog()`, the same CSV as the SQLite back-end gives."""
    monkeypatch.setenv("FARMCTL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("STUB_INFLUX_TOKEN", "tok")
    monkeypatch.delenv("FARMCTL_SITE", raising=False)
    stub.answer_csv(RECORDED_FORMAT_SITES.replace(",,0,farm-b\n", ""))
    stub.answer_csv(RECORDED_FORMAT_CATALOG)
    stub.answer_csv(RECORDED_FORMAT_RAW)
    url = f"influxdb://127.0.0.1:{stub.server.server_port}?org=farm-org&bucket=farm&token_env=STUB_INFLUX_TOKEN"
    open_historian(url).close()  # the daemon's spool, which the command line opens read-only beside it
    result = CliRunner().invoke(history, ["export", "--historian", url, "--zone", "gh1", "--names",
                                          "sensor:air_temperature,co2", "--from", "2025-03-01T00:00Z",
                                          "--to", "2025-03-01T01:00Z", "--tz", "UTC"])
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.output))) == [
        ["time_utc", "time_local", "sensor:air_temperature [degC]", "sensor:co2 [ppm]"],
        ["2025-03-01T00:00:00Z", "2025-03-01T00:00:00+00:00", "21.5", ""],
        ["2025-03-01T00:01:00Z", "2025-03-01T00:01:00+00:00", "21.75", "812"],
    ]
    assert [q["query"] for q in stub.queries] == [
        flux_sites(bucket="farm"), flux_catalog(bucket="farm", site="farm-a", zone="gh1"),
        flux_query(bucket="farm", site="farm-a", zone="gh1", names=["air_temperature", "co2"], start=_t(0),
                   end=_t(1), kind="sensor")]


# ---------------------------------------------------------------------------------------------- live InfluxDB 2

LIVE_URL, LIVE_TOKEN = os.environ.get("INFLUXDB_URL"), os.environ.get("INFLUXDB_TOKEN")


@pytest.mark.skipif(not (LIVE_URL and LIVE_TOKEN),
                    reason="INFLUXDB_URL and INFLUXDB_TOKEN are not set: no live InfluxDB 2 to run sites, catalog "
                           "and events against (set them, and INFLUXDB_ORG / INFLUXDB_BUCKET, to run it)")
def test_live_influxdb2_sites_catalog_events(tmp_path):
    org = os.environ.get("INFLUXDB_ORG", "farmctl")
    bucket = os.environ.get("INFLUXDB_BUCKET", "farmctl-test")
    site = f"test-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    points = [Point("sensor", site, "gh1", "air_temperature", start, {"value": 21.0}, quality="good",
                    tags={"unit": "degC"}),
              Point("event", site, "gh1", "alarm_raised", start + timedelta(seconds=1),
                    {"message": 'a "quoted", message', "code": "alarm_raised"}),
              Point("event", site, "gh1", "command_audit", start + timedelta(seconds=2),
                    {"code": "command_applied", "ok": True, "duration_s": 600, "message": "applied"})]
    with InfluxHistorian(LIVE_URL, org, bucket, LIVE_TOKEN, tmp_path / "spool.db") as h:
        h.write(points)
        assert h.flush(30), h.stats()
        assert site in h.sites()
        assert SeriesInfo("sensor", "air_temperature", "value", True, "degC") in h.catalog(site=site, zone="gh1")
        events = h.events(site=site, start=start, end=start + timedelta(hours=1))
        assert [e.code for e in events] == ["alarm_raised", "command_audit"]
        assert events[1].fields == {"code": "command_applied", "ok": True, "duration_s": 600, "message": "applied"}
