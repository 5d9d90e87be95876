"""Line protocol encoder: exact lines, escaping of tricky names, field types, and a round trip through a
parser written here from the InfluxDB 2 line-protocol reference (the real server parse is checked against
VictoriaMetrics in hil_tests/test_historian_victoriametrics.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmcore.historian.base import Point
from farmcore.historian.lineproto import encode, encode_many, tags_of, timestamp_ns

T0 = datetime(2025, 3, 1, 6, 30, 15, 123456, tzinfo=UTC)
T0_NS = 1740810615123456000


def point(**kw) -> Point:
    base = {"kind": "sensor", "site": "s1", "zone": "gh1", "name": "air_temperature", "time": T0,
            "fields": {"value": 23.4}, "quality": "good"}
    base.update(kw)
    return Point(**base)


# -- a reference parser (InfluxDB semantics: tags unescape \, \= \space only; strings \" and \\) ----------------


def _split(text: str, sep: str, *, quotes: bool = False, limit: int = -1) -> list[str]:
    parts, cur, i, quoted = [], [], 0, False
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if quotes and ch == '"':
            quoted = not quoted
        if ch == sep and not quoted and limit != 0:
            parts.append("".join(cur))
            cur = []
            limit -= 1
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text: str, chars: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in chars:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse(line: str) -> tuple[str, dict[str, str], dict[str, object], int]:
    series, rest = _split(line, " ", limit=1)  # quotes are literal in the measurement and tags
    fields_text, ts = rest.rsplit(" ", 1)
    measurement, *tag_texts = _split(series, ",")
    tags = {}
    for tag in tag_texts:
        key, value = _split(tag, "=", limit=1)
        tags[_unescape(key, ",= ")] = _unescape(value, ",= ")
    fields: dict[str, object] = {}
    for item in _split(fields_text, ",", quotes=True):
        key, value = _split(item, "=", quotes=True, limit=1)
        if value.startswith('"'):
            parsed: object = _unescape(value[1:-1], '"\\')
        elif value in ("true", "false"):
            parsed = value == "true"
        elif value.endswith("i"):
            parsed = int(value[:-1])
        else:
            parsed = float(value)
        fields[_unescape(key, ",= ")] = parsed
    return _unescape(measurement, ", "), tags, fields, int(ts)


# -- exact lines ----------------------------------------------------------------------------------------------------


def test_sensor_line_tags_sorted_and_timestamp_exact_ns():
    assert encode(point(tags={"unit": "degC", "tenant": "kim"})) == (
        "sensor,name=air_temperature,quality=good,site=s1,tenant=kim,unit=degC,zone=gh1 value=23.4 "
        f"{T0_NS}")


def test_timestamp_is_exact_integer_arithmetic():
    assert timestamp_ns(T0) == T0_NS
    assert timestamp_ns(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert timestamp_ns(datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == -1000
    far = datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=UTC)  # near the int64 ns limit
    assert timestamp_ns(far) == 9223372036854775000


def test_field_types_int_bool_string_float():
    line = encode(point(kind="actuator", name="vent_1", quality=None,
                        fields={"target": 3, "on": True, "off": False, "mode": "auto", "position": 37.5,
                                "tiny": 1e-05, "whole": 2.0}))
    assert line == (f'actuator,name=vent_1,site=s1,zone=gh1 target=3i,on=true,off=false,mode="auto",'
                    f"position=37.5,tiny=1e-05,whole=2.0 {T0_NS}")


def test_int_as_float_avoids_type_conflicts_and_names_the_ints_in_a_tag():
    line = encode(point(kind="actuator", name="heater", quality=None,
                        fields={"target": 1, "feedback": 0, "on": True, "position": 35.5}), int_as_float=True)
    assert line == (f"actuator,int_fields=feedback\\,target,name=heater,site=s1,zone=gh1 "
                    f"target=1.0,feedback=0.0,on=true,position=35.5 {T0_NS}")
    assert parse(line)[1]["int_fields"] == "feedback,target"
    assert "int_fields" not in encode(point(), int_as_float=True)  # floats only: no tag
    with pytest.raises(ValueError, match="replace"):
        encode(point(tags={"int_fields": "x"}))


def test_quality_none_and_empty_tag_values_are_left_out():
    assert encode(point(quality=None, tags={"unit": ""})).startswith("sensor,name=air_temperature,site=s1,zone=gh1 ")


def test_tricky_names_spaces_commas_equals_quotes_korean():
    p = point(site="농장 1", zone="온실,A=1", name='air "temp"', quality="need calibration",
              tags={"tenant": "김 청년농", "recipe": "tomato=v2,b"},
              fields={"value": 1.5, "memo": 'say "hi", a=b \\ done', "key with space": 1})
    line = encode(p)
    assert line == (
        'sensor,name=air\\ "temp",quality=need\\ calibration,recipe=tomato\\=v2\\,b,site=농장\\ 1,'
        'tenant=김\\ 청년농,zone=온실\\,A\\=1 value=1.5,memo="say \\"hi\\", a=b \\\\ done",key\\ with\\ space=1i '
        f"{T0_NS}")
    measurement, tags, fields, ts = parse(line)
    assert (measurement, ts) == ("sensor", T0_NS)
    assert tags == tags_of(p)
    assert fields == dict(p.fields)


def test_event_text_with_newline_becomes_a_literal_backslash_n():
    line = encode(point(kind="event", name="alarm", quality=None, fields={"message": "line 1\nline 2", "code": "E1"}))
    assert "\n" not in line
    assert 'message="line 1\\nline 2"' in line
    assert parse(line)[2]["message"] == "line 1\\nline 2"


def test_newline_and_tab_in_a_tag_are_escaped_as_influxdb_client_does():
    line = encode(point(zone="a\tb\nc"))
    assert "zone=a\\tb\\nc " in line and "\n" not in line and "\t" not in line


def test_plain_backslash_passes_but_ambiguous_ones_are_refused():
    assert "name=C:\\temp," in encode(point(name="C:\\temp"))
    for bad in ("ends\\", "a\\,b", "a\\ b", "a\\=b", "a\\\\b"):
        with pytest.raises(ValueError, match="backslash"):
            encode(point(name=bad))


def test_non_finite_fields_are_left_out_and_a_point_with_none_left_is_refused():
    assert encode(point(fields={"value": math.nan, "raw": 812})).endswith(f" raw=812i {T0_NS}")
    with pytest.raises(ValueError, match="no field with a finite value"):
        encode(point(fields={"value": math.inf}))


def test_refused_points():
    with pytest.raises(ValueError, match="int64"):
        encode(point(fields={"value": 2**63}))
    with pytest.raises(ValueError, match="replace"):
        encode(point(tags={"site": "other"}))
    with pytest.raises(ValueError, match="reserved"):
        encode(point(fields={"_value": 1.0}))
    with pytest.raises(ValueError, match="reserved"):
        encode(point(tags={"_field": "x"}))
    with pytest.raises(ValueError, match="empty"):
        encode(point(name=""))
    with pytest.raises(ValueError, match="not a number"):
        encode(point(fields={"value": [1, 2]}))


def test_encode_many_separates_refused_points():
    good, bad = point(), point(name="x\\")
    lines, refused = encode_many([good, bad, good])
    assert lines == [encode(good)] * 2
    assert [p for p, _ in refused] == [bad]


def test_the_cached_fast_path_gives_the_same_lines_as_the_general_one():
    t1 = T0 + timedelta(seconds=1)
    points = [point(time=T0, fields={"value": 1.5}), point(time=t1, fields={"value": 2.5}),
              point(time=T0, fields={"value": 3.5}, zone="gh2"), point(time=t1, fields={"value": -0.0}),
              point(time=T0, fields={"value": 4.5}, tags={"unit": "degC"})]
    expected = [f"sensor,name=air_temperature,quality=good,site=s1,zone=gh1 value=1.5 {T0_NS}",
                f"sensor,name=air_temperature,quality=good,site=s1,zone=gh1 value=2.5 {T0_NS + 10**9}",
                f"sensor,name=air_temperature,quality=good,site=s1,zone=gh2 value=3.5 {T0_NS}",
                f"sensor,name=air_temperature,quality=good,site=s1,zone=gh1 value=-0.0 {T0_NS + 10**9}",
                f"sensor,name=air_temperature,quality=good,site=s1,unit=degC,zone=gh1 value=4.5 {T0_NS}"]
    for _ in range(3):  # cold caches, then warm ones
        assert [encode(p) for p in points] == expected


def test_cached_escapes_do_not_leak_between_roles():
    encode(point(tags={"tenant": "_x"}))  # "_x" is a fine tag value ...
    with pytest.raises(ValueError, match="reserved"):
        encode(point(fields={"_x": 1.0}))  # ... but not a field key


# -- round trip -----------------------------------------------------------------------------------------------------

_text = st.text(alphabet=list('ab 가나,="\\한글-_.:/온실'), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(site=_text, zone=_text, name=_text, tag=_text, message=_text,
       value=st.floats(allow_nan=False, allow_infinity=False), count=st.integers(-(2**63), 2**63 - 1),
       micros=st.integers(0, 10**15))
def test_round_trip_through_a_reference_parser(site, zone, name, tag, message, value, count, micros):
    when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    p = Point(kind="setpoint", site=site, zone=zone, name=name, time=when,
              fields={"value": value, "count": count, "message": message}, tags={"source": tag})
    try:
        line = encode(p)
    except ValueError as exc:
        assert "backslash" in str(exc) or "reserved" in str(exc)
        return
    measurement, tags, fields, ts = parse(line)
    assert measurement == "setpoint"
    assert tags == tags_of(p)
    assert fields == {"value": value, "count": count, "message": message}
    assert ts == micros * 1000
