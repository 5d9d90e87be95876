"""The typed zone messages: the bytes the daemon published as dicts, from the structs; validated reading with one
clear line per bad payload; the command-kind table once; the exported JSON Schemas against real payloads."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import jsonschema
import orjson
import pytest
from click.testing import CliRunner

from farmcore.alarms import AlarmBook, AlarmKind, AlarmRule, Severity
from farmcore.link import commands
from farmcore.link.audit import audit_record
from farmcore.link.messages import (
    KIND_FIELDS,
    KINDS,
    SCHEMA,
    Ack,
    ActuatorEntry,
    AlarmListMessage,
    CommandError,
    ErrorCode,
    EventMessage,
    MessageError,
    ReadingEntry,
    RecipeRef,
    SetpointEntry,
    StateMessage,
    encode,
    iso,
    read_payload,
    validate_command,
)
from farmcore.link.payloads import UNSET, OverrideEntry
from farmcore.link.schemas import NAMES, schema_of
from farmcore.link.zoneclient import new_command

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
# A state as SiteDaemon.state_payload built it before the messages were typed (a greenhouse of the hil site):
# combined and held readings, a retractable with its position, a failed switch, an override.
STATE = {
    "time": "2026-01-15T04:05:00Z", "site": "hil", "zone": "gh", "kind": "greenhouse", "mode": "override",
    "recipe": {"id": "tomato-gb", "version": 1, "stage": "production", "period": "tomato-gb@1 production/day"},
    "readings": {
        "air_temperature": {"value": 19.349424362182617, "unit": "degC", "quality": "good",
                            "from": ["air_temperature_a", "air_temperature_b"]},
        "co2": {"value": 491.697021484375, "unit": "ppm", "quality": "comm_error",
                "why": "no answer from its node; last good value 4 s old, used until 90 s"},
        "par": {"value": None, "unit": None, "quality": "idle", "why": "idle: the device is not measuring now"}},
    "weather": {"air_temperature": 1.0883924961090088, "wind_speed": None},
    "setpoints": {"air_temperature": {"value": 21.0, "source": "tenant"}, "co2": {"value": 1000.0, "source": "recipe"}},
    "actuators": {
        "heater": {"role": "heater", "kind": "switch", "target": True, "source": "recipe",
                   "reason": "heater on: 19.3 °C <= 20.5", "feedback": "ON", "failed": True},
        "vent_west": {"role": "side_vent", "kind": "retractable", "target": 35.0, "source": "override",
                      "reason": "override by portal:kim", "position": 12.5, "feedback": 0},
        "fan": {"role": "circulation_fan", "kind": "switch", "target": None}},
    "overrides": {"vent_west": {"value": 35.0, "until": "2026-01-15T05:05:00Z", "by": "portal:kim",
                                "reason": "airing"}},
    "alarms": 2,
}
# What the daemon publishes since the portal (issue 17): STATE plus, compatibly, the recipe's names and day since
# planting, what a tenant may set now and the longest override; a state without them is STATE, read as before.
RECIPE_NOW = {**STATE["recipe"], "name_ko": "토마토 (경북)", "name_en": "Tomato, Gyeongbuk", "day": 148}
STATE_NOW = {**STATE, "recipe": RECIPE_NOW, "envelope": {"air_temperature": [14.0, 24.0], "co2": [400.0, 1000.0]},
             "max_override_s": 14400.0}


def typed_state() -> StateMessage:
    """STATE built as the daemon builds it now: structs, optional keys left UNSET."""
    r = STATE["readings"]
    return StateMessage(
        time="2026-01-15T04:05:00Z", site="hil", zone="gh", kind="greenhouse", mode="override",
        recipe=RecipeRef(id="tomato-gb", version=1, stage="production", period="tomato-gb@1 production/day",
                         name_ko="토마토 (경북)", name_en="Tomato, Gyeongbuk", day=148),
        readings={"air_temperature": ReadingEntry(value=r["air_temperature"]["value"], unit="degC", quality="good",
                                                  sources=["air_temperature_a", "air_temperature_b"]),
                  "co2": ReadingEntry(value=r["co2"]["value"], unit="ppm", quality="comm_error", why=r["co2"]["why"]),
                  "par": ReadingEntry(value=None, unit=None, quality="idle", why=r["par"]["why"])},
        weather={"air_temperature": 1.0883924961090088, "wind_speed": None},
        setpoints={"air_temperature": SetpointEntry(value=21.0, source="tenant"),
                   "co2": SetpointEntry(value=1000.0, source="recipe")},
        actuators={"heater": ActuatorEntry(role="heater", kind="switch", target=True, source="recipe",
                                           reason="heater on: 19.3 °C <= 20.5", feedback="ON", failed=True),
                   "vent_west": ActuatorEntry(role="side_vent", kind="retractable", target=35.0, source="override",
                                              reason="override by portal:kim", position=12.5, feedback=0),
                   "fan": ActuatorEntry(role="circulation_fan", kind="switch", target=None)},
        overrides={"vent_west": OverrideEntry(value=35.0, until="2026-01-15T05:05:00Z", by="portal:kim",
                                              reason="airing")},
        alarms=2, envelope={"air_temperature": (14.0, 24.0), "co2": (400.0, 1000.0)}, max_override_s=14400.0)


# ------------------------------------------------------------------------------------------------ state


def test_the_typed_state_publishes_the_bytes_of_the_dict_plus_its_schema_first():
    assert encode(typed_state()) == orjson.dumps({"schema": SCHEMA, **STATE_NOW})
    assert typed_state().to_json().startswith(b'{"schema":1,"time":')


def test_a_published_state_reads_back_to_the_same_message_and_bytes():
    published = orjson.dumps({"schema": 1, **STATE_NOW})
    message = StateMessage.from_json(published)
    assert message == typed_state() and message.to_json() == published
    assert message.readings["par"].why == STATE["readings"]["par"]["why"] and message.actuators["fan"].source is UNSET


def test_a_state_from_before_the_schema_field_reads_as_version_1():
    assert StateMessage.from_json(json.dumps(STATE)).schema == 1


def test_a_state_from_before_the_portal_reads_with_nothing_adjustable_and_the_default_override_limit():
    old = StateMessage.from_json(json.dumps(STATE))
    assert old.envelope == {} and old.max_override_s == 14400.0
    assert old.recipe is not None and (old.recipe.name_ko, old.recipe.name_en, old.recipe.day) == ("", "", UNSET)
    assert "day" not in json.loads(encode(old))["recipe"], "an unknown day stays absent, never null"


@pytest.mark.parametrize(("change", "words"), [
    (lambda s: s.update(envelope={"co2": [400]}), "state.envelope[...]: Expected `array` of length 2"),
    (lambda s: s.update(envelope={"co2": ["low", 900]}), "state.envelope[...][0]: Expected `float`"),
    (lambda s: s.update(max_override_s="4h"), "state.max_override_s: Expected `float`"),
    (lambda s: s["recipe"].update(day=1.5), "state.recipe.day: Expected `int`"),
])
def test_a_bad_portal_field_is_one_line_naming_it(change, words):
    bad = copy.deepcopy(STATE_NOW)
    change(bad)
    with pytest.raises(MessageError) as caught:
        StateMessage.from_json(json.dumps(bad))
    assert str(caught.value).startswith(words), str(caught.value)


@pytest.mark.parametrize(("change", "words"), [
    (lambda s: s.update(schema=2), "state.schema: version 2 is not one this reader knows (1)"),
    (lambda s: s["readings"]["co2"].update(value="high"), "state.readings[...].value: Expected `float | null`"),
    (lambda s: s.update(time="2026-01-15 04:05"), "state.time: expected an ISO 8601 time with its offset"),
    (lambda s: s.pop("actuators"), "state: Object missing required field `actuators`"),
    (lambda s: s.update(mode="manual"), "state.mode: Invalid enum value 'manual'"),
    (lambda s: s["actuators"]["heater"].update(failed="yes"), "state.actuators[...].failed: Expected `bool`"),
])
def test_a_bad_state_is_one_line_naming_the_field(change, words):
    bad = copy.deepcopy(STATE)
    change(bad)
    with pytest.raises(MessageError) as caught:
        StateMessage.from_json(json.dumps(bad))
    assert str(caught.value).startswith(words) and "\n" not in str(caught.value)


@pytest.mark.parametrize("payload", [b"", b"not json {", b"[]", b"\xff\xfe", b'{"time": NaN}', "1" * 5000])
def test_garbage_is_a_message_error_never_a_crash(payload):
    with pytest.raises(MessageError):
        StateMessage.from_json(payload)


def test_unknown_fields_are_ignored_so_adding_one_keeps_the_version():
    assert StateMessage.from_json(json.dumps({**STATE_NOW, "forecast": {"air_temperature": 20}})) == typed_state()


def test_encoding_never_raises():
    event = EventMessage(time="2026-01-15T04:05:00Z", zone="gh", code="strategy", message="bad \ud800 text")
    assert json.loads(encode(event))["message"] == "bad \ud800 text"
    assert encode({"nan": float("nan"), "thing": object}) == b'{"nan":null,"thing":"<class \'object\'>"}'


# ----------------------------------------------------------------------------------------- alarms, events


def raised_book() -> AlarmBook:
    rule = AlarmRule("stale_data:co2", AlarmKind.STALE_DATA, Severity.WARNING, subject="co2", min_repeat_s=0,
                     message_ko="{quantity} 측정값 불량: {value}", message_en="{quantity} reading bad: {value}")
    book = AlarmBook("gh", [rule])
    book.observe(rule.id, True, T0, "stale: 95 s")
    return book


# Alarm.to_dict before the entries were typed, for raised_book()'s alarm: every key, in this order
ALARM = {"id": "stale_data:co2", "zone": "gh", "kind": "stale_data", "severity": "warning",
         "status": "unacknowledged", "active": True, "acked": False, "raised_at": "2026-01-01T00:00:00Z",
         "cleared_at": None, "acked_by": None, "acked_at": None, "value": "stale: 95 s", "repeats": 0,
         "message": {"ko": "CO2 농도 측정값 불량: stale: 95 s", "en": "co2 reading bad: stale: 95 s"}}


def test_the_alarm_list_is_the_entries_the_dicts_were_and_reads_back():
    book = raised_book()
    entries = book.entries()
    assert encode(entries) == orjson.dumps([ALARM]) and book.to_list() == [ALARM]
    assert AlarmListMessage.from_json(encode(entries)).alarms == entries
    with pytest.raises(MessageError, match=r"^alarms\[0\]\.severity: Invalid enum value 'loud'"):
        AlarmListMessage.from_json(json.dumps([{**book.to_list()[0], "severity": "loud"}]))


def test_events_publish_the_bytes_of_the_dicts_with_their_detail():
    now = datetime(2026, 1, 15, 4, 5, tzinfo=UTC)
    alarm = raised_book().entries()[0]
    record = {"time": now.isoformat(), "zone": "gh", "code": "alarm_raised", "message": "stale_data:co2 (warning)"}
    as_dict = {**record, "time": iso(now), "alarm": ALARM}  # as SiteDaemon.event published it
    event = EventMessage(time=iso(now), zone="gh", code="alarm_raised", message="stale_data:co2 (warning)", alarm=alarm)
    assert encode(event) == orjson.dumps(as_dict) and EventMessage.from_json(encode(event)) == event
    command = new_command("setpoint", issued_by="portal:kim", target="air_temperature", value=22.0, now=now)
    audit = audit_record(Ack(command.id, True, None, "setpoint air_temperature 22.0", {}), command, now, None, "portal")
    event = EventMessage(time=iso(now), zone="gh", code="command_applied", message="m", command=audit)
    assert json.loads(encode(event))["command"] == audit and EventMessage.from_json(encode(event)) == event


# ---------------------------------------------------------------------------------------------------- acks


@pytest.mark.parametrize("code", [None, *ErrorCode])
def test_acks_read_back(code):
    ack = Ack("c1", code is None, code, "message", {"kind": "release", "target": "heater"} if code is None else None)
    assert Ack.from_json(ack.to_json()) == ack


def test_an_error_code_newer_than_the_reader_stays_text_and_a_bad_ack_is_one_line():
    ack = Ack.from_json(b'{"id":"c1","ok":false,"error":"rate_limited","message":"later","applied":null}')
    assert ack.error == "rate_limited" and not ack.ok
    with pytest.raises(MessageError, match=r"^ack: Object missing required field `applied`$"):
        Ack.from_json(b'{"id":"c1","ok":true,"error":null,"message":""}')


# ------------------------------------------------------------------------------------------ command kinds


def test_every_kind_has_its_fields_and_its_rule_once():
    assert tuple(KIND_FIELDS) == KINDS == tuple(commands._RULES)
    assert all(set(fields) == {"target", "value", "duration_s"} for fields in KIND_FIELDS.values())


def test_new_command_checks_the_kind_fields_as_the_desk_does():
    with pytest.raises(CommandError, match="release takes no value"):
        new_command("release", issued_by="portal:kim", target="heater", value="on")
    with pytest.raises(CommandError, match="override needs duration_s"):
        new_command("override", issued_by="portal:kim", target="heater", value="on")
    command = new_command("override", issued_by="portal:kim", target="heater", value="on", duration_s=60)
    assert validate_command(read_payload(command.model_dump_json().encode())) == command


# ------------------------------------------------------------------------------------------------ schemas


def valid(name: str, payload) -> bool:
    validator = jsonschema.Draft202012Validator(schema_of(name), format_checker=jsonschema.FormatChecker())
    return validator.is_valid(payload)


def test_every_schema_is_a_draft_2020_12_schema_with_its_version():
    for name in NAMES:
        schema = schema_of(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == f"urn:farmctl:mqtt:{name}:1"


def test_the_schemas_accept_what_is_published_and_refuse_what_is_not():
    state = json.loads(encode(typed_state()))
    assert valid("state", state) and valid("state", STATE)  # with or without its version (and the portal's keys)
    assert not valid("state", {**state, "envelope": {"co2": [400]}})
    assert not valid("state", {**state, "max_override_s": "4h"})
    assert not valid("state", {**state, "mode": "manual"}) and not valid("state", {**state, "time": "today"})
    assert valid("alarms", json.loads(encode(raised_book().entries()))) and not valid("alarms", [{"id": 1}])
    now = datetime(2026, 1, 15, 4, 5, tzinfo=UTC)
    event = EventMessage(time=iso(now), zone="gh", code="alarm_raised", message="m", alarm=raised_book().entries()[0])
    assert valid("event", json.loads(encode(event))) and not valid("event", {"zone": "gh"})
    assert valid("ack", Ack("c1", False, ErrorCode.EXPIRED, "late").to_dict()) and not valid("ack", {"id": "c1"})


@pytest.mark.parametrize(("fields", "ok"), [
    ({"kind": "override", "target": "heater", "value": "on", "duration_s": 60}, True),
    ({"kind": "override", "target": "heater", "value": "on"}, False),  # an override always ends
    ({"kind": "release", "target": "heater", "value": "on"}, False),
    ({"kind": "feed_now"}, True),
    ({"kind": "recipe", "value": "tomato-gb", "target": "gh"}, False),
    ({"kind": "open_vent", "target": "vent"}, False),
    ({"kind": "setpoint", "target": "co2", "value": 900, "colour": "red"}, False),
])
def test_the_command_schema_states_each_kinds_fields_as_the_daemon_judges_them(fields, ok):
    command = {"id": "c1", "issued_by": "portal:kim", "issued_at": "2026-01-15T04:05:00Z",
               "expires_at": "2026-01-15T04:06:00Z", **fields}
    assert valid("command", command) is ok
    try:
        commands.check_kind_fields(validate_command(command))
        daemon_ok = True
    except CommandError:
        daemon_ok = False
    assert daemon_ok is ok


@pytest.mark.parametrize("tool", ["farmctl", "aquactl"])
def test_the_schema_command_prints_the_schema(tool):
    group = __import__(f"{tool}.cli", fromlist=["cli"]).cli
    result = CliRunner().invoke(group, ["schema", "state"])
    assert result.exit_code == 0 and json.loads(result.output) == schema_of("state")
    wrong = CliRunner().invoke(group, ["schema", "states"])
    assert wrong.exit_code == 2
