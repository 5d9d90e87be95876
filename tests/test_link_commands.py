"""The MQTT command desk: every rule and error code, one ack per payload, duplicates, time zones, and a fuzz."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from farmcore.errors import ConfigError
from farmcore.link import commands
from farmcore.link.audit import audit_record
from farmcore.link.commands import CommandDesk, ZoneContext
from farmcore.link.messages import (
    KINDS,
    MAX_DURATION_S,
    MAX_PAYLOAD,
    Ack,
    ErrorCode,
    TopicParts,
    command_topic,
    commands_filter,
    parse_topic,
    topic,
    zones_filter,
)
from farmcore.recipe.schema import Bound
from farmcore.site import ZoneDef, parse_site
from farmcore.sitehead import MAX_OVERRIDE_CEILING_S

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
KST = timezone(timedelta(hours=9))

GH = ZoneContext(
    kind="greenhouse",
    envelope={"air_temperature": (10.0, 30.0), "co2": (400.0, 1200.0)},
    hard_limits={"air_temperature": (5.0, 28.0)},
    actuators={"heater": "switch", "roof_vent": "retractable", "fert": "nutrient", "odd": "gizmo"},
    active_alarms=frozenset({"hi_temp"}),
    known_recipes=frozenset({"tomato-gb", "cucumber"}),
)
TANK = ZoneContext(kind="tank", envelope={"dissolved_oxygen": (5.0, 12.0)}, actuators={"aerator": "switch"},
                   feeding_supported=True)


SITE_HEAD = """
[site]
id = "t"
latitude = 36.0
longitude = 128.6
[[buses]]
id = "b"
url = "tcp://127.0.0.1:5020"
[[nodes]]
bus = "b"
unit = 12
profile = "ksx3267:2022/actuator-default"
[[zones]]
id = "gh1"
kind = "greenhouse"
bus = "b"
actuators = [{ id = "heater", role = "heater", unit = 12, slot = 1 }]
"""


def cmd(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "c1", "issued_by": "kim", "issued_at": "2025-05-01T11:59:00Z",
                            "expires_at": "2025-05-01T12:05:00Z", "reason": "frost tonight"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def run(payload: dict[str, Any] | bytes, ctx: ZoneContext = GH, desk: CommandDesk | None = None,
        now: datetime = NOW):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return (desk or CommandDesk()).handle(raw, now, ctx)


def rejected(payload: dict[str, Any] | bytes, code: ErrorCode, ctx: ZoneContext = GH) -> Ack:
    ack, action = run(payload, ctx)
    assert (ack.ok, ack.error, action) == (False, code, None), ack
    assert ack.applied is None
    return ack


def accepted(payload: dict[str, Any], ctx: ZoneContext = GH):
    ack, action = run(payload, ctx)
    assert ack.ok and ack.error is None and action is not None, ack
    assert ack.id == payload["id"] == action.command_id
    return ack, action


# ----------------------------------------------------------------------------------------------- topics


def test_topic_round_trip():
    assert topic("gimje", "gh-1", "ack") == "farm/gimje/gh-1/ack"
    assert parse_topic("farm/gimje/gh-1/ack") == TopicParts("gimje", "gh-1", "ack")
    assert command_topic("gimje", "gh-1", "portal") == "farm/gimje/gh-1/cmd/portal"
    assert parse_topic("farm/gimje/gh-1/cmd/portal") == TopicParts("gimje", "gh-1", "cmd", "portal")
    assert commands_filter("gimje", "gh-1") == "farm/gimje/gh-1/cmd/+"
    assert zones_filter("gimje", "cmd") == "farm/gimje/+/cmd/+"
    assert zones_filter("gimje", "state") == "farm/gimje/+/state"


@pytest.mark.parametrize("args", [("Gimje", "gh1", "ack"), ("gimje", "+", "ack"), ("gimje", "gh/1", "ack"),
                                  ("gimje", "", "ack"), ("gimje", "_gh", "ack"), ("gimje", "gh1", "command"),
                                  ("gimje", "gh1", "cmd")])  # commands have an account branch: command_topic
def test_topic_rejects_bad_ids_and_leaves(args):
    with pytest.raises(ValueError):
        topic(*args)


@pytest.mark.parametrize("account", ["", "+", "#", "Portal", "a/b", "x" * 65])
def test_command_topic_rejects_accounts_that_could_widen_an_acl(account):
    with pytest.raises(ValueError):
        command_topic("gimje", "gh1", account)


@pytest.mark.parametrize("text", ["farm/gimje/gh1", "farm/gimje/gh1/cmd", "farm/gimje/gh1/ack/x",
                                  "farms/gimje/gh1/cmd/a", "farm/+/gh1/cmd/a", "farm/gimje/#/cmd/a",
                                  "farm/gimje/gh1/cmd/+", "farm/gimje/gh1/bogus", "", "/farm/gimje/gh1/cmd/a",
                                  "farm/gimje/gh1/cmd/a/b"])
def test_parse_topic_rejects(text):
    with pytest.raises(ValueError):
        parse_topic(text)


# -------------------------------------------------------------------------------------- payload and schema


def test_ack_json_is_compact_and_in_contract_order():
    ack, _ = run(cmd(kind="setpoint", target="air_temperature", value=21))
    text = ack.to_json()
    assert text.startswith(b'{"id":"c1","ok":true,"error":null,"message":')
    assert list(json.loads(text)) == ["id", "ok", "error", "message", "applied"]
    assert b", " not in text


def test_too_large_is_rejected_unread():
    payload = json.dumps(cmd(kind="setpoint", target="air_temperature", value=21, reason="x" * MAX_PAYLOAD)).encode()
    ack = rejected(payload, ErrorCode.TOO_LARGE)
    assert ack.id is None


@pytest.mark.parametrize("payload", [b"", b"{", b"\xff\xfe{}", b'{"id": NaN}', b'{"id": Infinity}', b"[1e400]",
                                     b'{"id": "a", "id": "b"}', b"[" * 5000 + b"]" * 5000, b"1" * 5000,
                                     '{"id": "\ud800"}'.encode("utf-8", "surrogatepass")])
def test_malformed_json(payload):
    ack = rejected(payload, ErrorCode.MALFORMED_JSON)
    assert ack.id is None


@pytest.mark.parametrize("payload", [b"[]", b'"setpoint"', b"null", b"42"])
def test_not_an_object(payload):
    assert "JSON object" in rejected(payload, ErrorCode.INVALID_COMMAND).message


def test_unknown_kind_wins_over_other_schema_errors():
    ack = rejected(cmd(kind="reboot", bogus=1, issued_at=...), ErrorCode.UNKNOWN_KIND)
    assert ack.id == "c1" and "reboot" in ack.message


@pytest.mark.parametrize(("fields", "field"), [
    ({"bogus": 1}, "bogus"),
    ({"issued_by": ...}, "issued_by"),
    ({"expires_at": ...}, "expires_at"),
    ({"kind": ...}, "kind"),
    ({"kind": 3}, "kind"),
    ({"issued_at": "2025-05-01T11:59:00"}, "issued_at"),  # naive: no offset
    ({"issued_at": 1746100740}, "issued_at"),  # epoch numbers are not ISO 8601
    ({"issued_at": "yesterday"}, "issued_at"),
    ({"issued_at": "0001-01-01T00:00:00+01:00"}, "issued_at"),  # out of range in UTC
    ({"duration_s": 0}, "duration_s"),
    ({"duration_s": 86401}, "duration_s"),
    ({"duration_s": True}, "duration_s"),
    ({"duration_s": "60"}, "duration_s"),
    ({"reason": "x" * 501}, "reason"),
    ({"reason": None}, "reason"),
    ({"target": ""}, "target"),
    ({"target": "a\nb"}, "target"),
    ({"value": [1]}, "value"),
    ({"value": "x" * 200}, "value"),
    ({"value": 10**30}, None),  # a huge int is still a number: the schema passes it and the rule decides
])
def test_schema_errors(fields, field):
    payload = cmd(kind="override", target="heater", value=True, duration_s=60) | fields
    payload = {k: v for k, v in payload.items() if v is not ...}
    ack, action = run(payload)
    if field is None:
        assert ack.error in (ErrorCode.INVALID_VALUE, ErrorCode.INVALID_COMMAND)
        return
    assert (ack.ok, ack.error, action) == (False, ErrorCode.INVALID_COMMAND, None)
    assert ack.message.startswith(f"{field}:"), ack.message


@pytest.mark.parametrize("cid", [None, 7, "", "x" * 65, "a\x00b"])
def test_unreadable_id_acks_with_null(cid):
    ack = rejected(cmd(id=cid, kind="ack_alarm", target="hi_temp"), ErrorCode.INVALID_COMMAND)
    assert ack.id is None


def test_missing_id_acks_with_null():
    assert rejected(cmd(id=..., kind="ack_alarm", target="hi_temp"), ErrorCode.INVALID_COMMAND).id is None


# ------------------------------------------------------------------------------------------------ times


def test_expired():
    ack = rejected(cmd(kind="ack_alarm", target="hi_temp", expires_at="2025-05-01T12:00:00Z"), ErrorCode.EXPIRED)
    assert "2025-05-01T12:00:00Z" in ack.message


def test_expires_before_issued_is_invalid():
    rejected(cmd(kind="ack_alarm", target="hi_temp", issued_at="2025-05-01T12:04:00Z",
                 expires_at="2025-05-01T12:03:00Z"), ErrorCode.INVALID_COMMAND)
    rejected(cmd(kind="ack_alarm", target="hi_temp", issued_at="2025-05-01T12:03:00Z",
                 expires_at="2025-05-01T12:03:00Z"), ErrorCode.INVALID_COMMAND)


def test_clock_skew_tolerance():
    ok = cmd(kind="ack_alarm", target="hi_temp", issued_at="2025-05-01T12:05:00Z", expires_at="2025-05-01T12:10:00Z")
    accepted(ok)
    late = cmd(kind="ack_alarm", target="hi_temp", issued_at="2025-05-01T12:05:01Z",
               expires_at="2025-05-01T12:10:00Z")
    rejected(late, ErrorCode.NOT_YET_VALID)


def test_offsets_are_honoured():
    # 20:59 KST is 11:59 UTC; expiring 21:00:30 KST is 12:00:30 UTC, still valid at NOW
    payload = cmd(kind="ack_alarm", target="hi_temp", issued_at="2025-05-01T20:59:00+09:00",
                  expires_at="2025-05-01T21:00:30+09:00")
    accepted(payload)
    ack, _ = run(payload, now=NOW.astimezone(KST))  # the caller's zone does not matter either
    assert ack.ok
    ack, _ = run(payload, now=NOW + timedelta(seconds=30))
    assert ack.error is ErrorCode.EXPIRED
    # Korean wall time stamped as UTC lies 9 hours ahead: caught, not applied early
    rejected(cmd(kind="ack_alarm", target="hi_temp", issued_at="2025-05-01T20:59:00+00:00",
                 expires_at="2025-05-01T21:10:00Z"), ErrorCode.NOT_YET_VALID)


def test_naive_now_is_a_caller_bug():
    with pytest.raises(ValueError, match="aware"):
        CommandDesk().handle(b"{}", datetime(2025, 5, 1, 12), GH)


# ------------------------------------------------------------------------------------------------- rules


def test_setpoint_accepted():
    ack, action = accepted(cmd(kind="setpoint", target="air_temperature", value=21.5))
    assert ack.applied == {"kind": "setpoint", "target": "air_temperature", "value": 21.5}
    assert (action.kind, action.target, action.value, action.duration_s) == ("setpoint", "air_temperature", 21.5, None)
    assert (action.issued_by, action.reason) == ("kim", "frost tonight")


@pytest.mark.parametrize(("value", "code"), [
    (28, None), (10, None), (28.01, ErrorCode.OUT_OF_HARD_LIMITS), (4, ErrorCode.OUT_OF_HARD_LIMITS),
    (9.9, ErrorCode.OUT_OF_ENVELOPE), (True, ErrorCode.INVALID_VALUE), ("21", ErrorCode.INVALID_VALUE),
])
def test_setpoint_limits(value, code):
    ack, action = run(cmd(kind="setpoint", target="air_temperature", value=value))
    assert ack.error is code and (action is None) == (code is not None)


def test_hard_limits_are_checked_before_the_envelope():
    ack = rejected(cmd(kind="setpoint", target="air_temperature", value=29), ErrorCode.OUT_OF_HARD_LIMITS)
    assert "29" in ack.message and "5..28" in ack.message
    ack = rejected(cmd(kind="setpoint", target="co2", value=1500), ErrorCode.OUT_OF_ENVELOPE)
    assert "1500" in ack.message and "400..1200" in ack.message


def test_setpoint_targets():
    rejected(cmd(kind="setpoint", target="flux_capacitor", value=1), ErrorCode.UNKNOWN_TARGET)
    ack = rejected(cmd(kind="setpoint", target="relative_humidity", value=80), ErrorCode.OUT_OF_ENVELOPE)
    assert "no tenant" in ack.message


@pytest.mark.parametrize(("target", "value", "expected"), [
    ("heater", True, True), ("heater", "off", False), ("fert", "on", True),
    ("roof_vent", 35, 35.0), ("roof_vent", "open", 100.0), ("roof_vent", "close", 0.0), ("roof_vent", 0, 0.0),
])
def test_override_accepted(target, value, expected):
    ack, action = accepted(cmd(kind="override", target=target, value=value, duration_s=600))
    assert action.kind == "override" and action.value == expected and action.duration_s == 600
    assert type(action.value) is type(expected)
    assert ack.applied == {"kind": "override", "target": target, "value": expected, "duration_s": 600,
                           "until": "2025-05-01T12:10:00Z"}


@pytest.mark.parametrize(("target", "value", "code"), [
    ("heater", 1, ErrorCode.INVALID_VALUE), ("heater", "open", ErrorCode.INVALID_VALUE),
    ("heater", None, ErrorCode.INVALID_COMMAND), ("roof_vent", True, ErrorCode.INVALID_VALUE),
    ("roof_vent", 100.5, ErrorCode.INVALID_VALUE), ("roof_vent", -1, ErrorCode.INVALID_VALUE),
    ("roof_vent", "on", ErrorCode.INVALID_VALUE), ("pump9", True, ErrorCode.UNKNOWN_TARGET),
    ("odd", True, ErrorCode.NOT_SUPPORTED), ("heater", 10**30, ErrorCode.INVALID_VALUE),
])
def test_override_rejected(target, value, code):
    rejected(cmd(kind="override", target=target, value=value, duration_s=600), code)


def test_override_needs_a_duration():
    ack = rejected(cmd(kind="override", target="heater", value=True), ErrorCode.INVALID_COMMAND)
    assert "duration_s" in ack.message


@pytest.mark.parametrize(("target", "kind", "what"), [("heater", "release_override", "override"),
                                                      ("air_temperature", "release_setpoint", "setpoint"),
                                                      ("relative_humidity", "release_setpoint", "setpoint")])
def test_release(target, kind, what):
    ack, action = accepted(cmd(kind="release", target=target))
    assert (action.kind, action.target, action.value) == (kind, target, None)
    assert ack.applied == {"kind": "release", "target": target, "what": what}


def test_release_rejected():
    rejected(cmd(kind="release", target="nothing"), ErrorCode.UNKNOWN_TARGET)
    rejected(cmd(kind="release", target="heater", value=True), ErrorCode.INVALID_COMMAND)
    rejected(cmd(kind="release"), ErrorCode.INVALID_COMMAND)


def test_recipe():
    ack, action = accepted(cmd(kind="recipe", value="cucumber"))
    assert (action.kind, action.value, ack.applied) == ("recipe", "cucumber", {"kind": "recipe", "value": "cucumber"})
    rejected(cmd(kind="recipe", value="banana"), ErrorCode.UNKNOWN_RECIPE)
    rejected(cmd(kind="recipe", value=3), ErrorCode.INVALID_VALUE)
    rejected(cmd(kind="recipe", target="gh1", value="cucumber"), ErrorCode.INVALID_COMMAND)
    assert "none" in rejected(cmd(kind="recipe", value="cucumber"), ErrorCode.UNKNOWN_RECIPE, TANK).message


@pytest.mark.parametrize(("value", "code"), [(None, None), (2.5, None), (100, None), (0, ErrorCode.INVALID_VALUE),
                                             (100.1, ErrorCode.INVALID_VALUE), (True, ErrorCode.INVALID_VALUE),
                                             ("lots", ErrorCode.INVALID_VALUE)])
def test_feed_now(value, code):
    ack, action = run(cmd(kind="feed_now", value=value), TANK)
    assert ack.error is code
    if code is None:
        assert (action.kind, action.value) == ("feed_now", None if value is None else float(value))


def test_feed_now_not_on_a_greenhouse():
    rejected(cmd(kind="feed_now"), ErrorCode.NOT_SUPPORTED)
    rejected(cmd(kind="feed_now", target="feeder"), ErrorCode.INVALID_COMMAND, TANK)


def test_ack_alarm():
    ack, action = accepted(cmd(kind="ack_alarm", target="hi_temp"))
    assert (action.kind, action.target) == ("ack_alarm", "hi_temp")
    assert ack.applied == {"kind": "ack_alarm", "target": "hi_temp"}
    rejected(cmd(kind="ack_alarm", target="lo_temp"), ErrorCode.UNKNOWN_ALARM)
    rejected(cmd(kind="ack_alarm", target="hi_temp", duration_s=60), ErrorCode.INVALID_COMMAND)


# ------------------------------------------------------------------------------------------- duplicates


def test_duplicate_repeats_the_first_outcome_and_applies_nothing():
    desk = CommandDesk()
    payload = cmd(kind="override", target="heater", value=True, duration_s=600)
    first, action = run(payload, desk=desk)
    assert first.ok and action is not None
    again, action = run(payload, desk=desk, now=NOW + timedelta(seconds=10))
    assert (again.ok, again.error, action, again.id) == (False, ErrorCode.DUPLICATE, None, "c1")
    assert again.applied == first.applied and "applied" in again.message
    # a different payload with the same id is the same command as far as the id goes
    other, action = run(cmd(kind="ack_alarm", target="hi_temp"), desk=desk)
    assert other.error is ErrorCode.DUPLICATE and action is None


def test_duplicate_of_a_rejection_and_after_expiry():
    desk = CommandDesk()
    payload = cmd(kind="setpoint", target="air_temperature", value=99)
    assert run(payload, desk=desk)[0].error is ErrorCode.OUT_OF_HARD_LIMITS
    again, _ = run(payload, desk=desk, now=NOW + timedelta(hours=1))  # expired by now, but it was answered
    assert again.error is ErrorCode.DUPLICATE and again.applied is None and "out_of_hard_limits" in again.message


def test_seen_ids_are_bounded():
    desk = CommandDesk(max_seen=3)
    for i in range(4):
        assert run(cmd(id=f"c{i}", kind="ack_alarm", target="hi_temp"), desk=desk)[0].ok
    assert run(cmd(id="c0", kind="ack_alarm", target="hi_temp"), desk=desk)[0].ok  # forgotten: oldest went first
    assert run(cmd(id="c3", kind="ack_alarm", target="hi_temp"), desk=desk)[0].error is ErrorCode.DUPLICATE
    with pytest.raises(ValueError):
        CommandDesk(max_seen=0)


class DictStore:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, command_id):
        return self.data.get(command_id)

    def put(self, command_id, record):
        self.data[command_id] = json.loads(json.dumps(record))  # what a disk store would keep


class BrokenStore:
    def get(self, command_id):
        raise OSError("disk gone")

    def put(self, command_id, record):
        raise OSError("disk gone")


def test_seen_store_survives_a_restart():
    store = DictStore()
    payload = cmd(kind="override", target="roof_vent", value=40, duration_s=60)
    first, _ = run(payload, desk=CommandDesk(seen_store=store))
    again, action = run(payload, desk=CommandDesk(seen_store=store))
    assert again.error is ErrorCode.DUPLICATE and action is None and again.applied == first.applied


def test_broken_store_does_not_block_commands():
    desk = CommandDesk(seen_store=BrokenStore())
    payload = cmd(kind="ack_alarm", target="hi_temp")
    assert run(payload, desk=desk)[0].ok
    assert run(payload, desk=desk)[0].error is ErrorCode.DUPLICATE  # memory still knows
    assert desk.store_errors == 2 and "OSError" in desk.last_store_error


def test_internal_error_is_acked_and_not_remembered(monkeypatch):
    desk = CommandDesk()

    def boom(*args):
        raise KeyError("bug")

    monkeypatch.setitem(commands._RULES, "ack_alarm", boom)
    out = desk.process(json.dumps(cmd(kind="ack_alarm", target="hi_temp")).encode(), NOW, GH)
    assert (out.ack.ok, out.ack.error, out.ack.id, out.action) == (False, ErrorCode.INTERNAL_ERROR, "c1", None)
    assert "KeyError" in out.ack.message and out.audit["error"] == "internal_error"
    monkeypatch.undo()
    assert run(cmd(kind="ack_alarm", target="hi_temp"), desk=desk)[0].ok  # the retry gets a real answer


# --------------------------------------------------------------------------------------------- audit


def test_audit_of_an_applied_command():
    out = CommandDesk().process(json.dumps(cmd(kind="override", target="heater", value="on", duration_s=600,
                                               issued_at="2025-05-01T20:59:00+09:00")).encode(), NOW, GH)
    a = out.audit
    assert a["code"] == "command_applied" and a["ok"] is True and "error" not in a
    assert (a["who"], a["kind"], a["target"], a["value"], a["duration_s"]) == ("kim", "override", "heater", "on", 600)
    assert (a["at"], a["issued_at"], a["why"]) == ("2025-05-01T12:00:00Z", "2025-05-01T11:59:00Z", "frost tonight")
    assert "heater" in a["message"] and "kim" in a["message"]
    assert out.command is not None and out.command.kind == "override"


def test_audit_of_a_rejection_uses_what_it_can_read():
    payload = json.dumps(cmd(kind="override", target="heater", value=True, bogus=1)).encode()
    out = CommandDesk().process(payload, NOW, GH)
    a = out.audit
    assert out.command is None
    assert (a["code"], a["ok"], a["error"], a["who"], a["kind"], a["id"]) == (
        "command_rejected", False, "invalid_command", "kim", "override", "c1")
    assert audit_record(out.ack, None, NOW)["message"].startswith("command c1")
    junk = CommandDesk().process(b"\x00", NOW, GH).audit
    assert junk["error"] == "malformed_json" and "id" not in junk and "(no id)" in junk["message"]


def test_context_from_a_site_zone():
    zone = ZoneDef.model_validate({
        "id": "tank1", "kind": "tank", "bus": "b1", "hard_limits": {"water_temperature": {"min": 10, "max": 30}},
        "actuators": [{"id": "feeder1", "role": "feeder", "unit": 2, "slot": 1},
                      {"id": "aer", "role": "aerator", "unit": 2, "slot": 2}]})
    ctx = ZoneContext.for_zone(zone, {"feeder1": "switch", "aer": "switch"},
                               {"water_temperature": Bound(min=12, max=28)}, ["do_low"], ["eel-1"])
    assert ctx.feeding_supported and ctx.hard_limits == {"water_temperature": (10.0, 30.0)}
    assert ctx.envelope == {"water_temperature": (12.0, 28.0)} and ctx.active_alarms == {"do_low"}
    assert run(cmd(kind="setpoint", target="water_temperature", value=31), ctx)[0].error is ErrorCode.OUT_OF_HARD_LIMITS
    assert run(cmd(kind="feed_now", value=1.5), ctx)[0].ok


# ------------------------------------------------------------------- the portal's limits (issue 17)


def test_an_override_longer_than_the_sites_limit_is_an_invalid_value_naming_the_limit():
    four_hours = ZoneContext(kind="greenhouse", actuators={"heater": "switch"})
    assert four_hours.max_override_s == 14400
    ack = rejected(cmd(kind="override", target="heater", value="on", duration_s=14401), ErrorCode.INVALID_VALUE,
                   four_hours)
    assert "max_override_s = 14400 s" in ack.message and "14401" in ack.message
    assert accepted(cmd(kind="override", target="heater", value="on", duration_s=14400), four_hours)[0].ok
    one_hour = ZoneContext(kind="greenhouse", actuators={"heater": "switch"}, max_override_s=3600)
    rejected(cmd(kind="override", target="heater", value="on", duration_s=3601), ErrorCode.INVALID_VALUE, one_hour)


def test_the_sites_max_override_s_reaches_the_desk_and_is_at_most_a_day():
    text = SITE_HEAD.replace("longitude = 128.6", "longitude = 128.6\nmax_override_s = 1800")
    site = parse_site(text, "s.toml")
    ctx = ZoneContext.for_zone(site.zones[0], {"heater": "switch"}, max_override_s=site.site.max_override_s)
    assert ctx.max_override_s == 1800
    assert parse_site(SITE_HEAD, "s.toml").site.max_override_s == 14400, "4 h by default"
    for bad in ("86401", "0"):
        with pytest.raises(ConfigError, match=r"^s\.toml: site\.max_override_s: "):
            parse_site(SITE_HEAD.replace("longitude = 128.6", f"longitude = 128.6\nmax_override_s = {bad}"), "s.toml")
    assert MAX_OVERRIDE_CEILING_S == MAX_DURATION_S, "no site may allow more than a command can ask"


@pytest.mark.parametrize(("envelope", "limits", "expected"), [
    ({"air_temperature": (10.0, 30.0)}, {"air_temperature": (5.0, 28.0)}, {"air_temperature": (10.0, 28.0)}),
    ({"air_temperature": Bound(min=12, max=20)}, {}, {"air_temperature": (12.0, 20.0)}),
    ({"co2": (400.0, 1200.0)}, {"co2": (1300.0, 1500.0)}, {}),  # nothing of it may be set
    ({}, {"air_temperature": (5.0, 28.0)}, {}),  # a hard limit alone lets no tenant adjust anything
])
def test_the_tenant_envelope_is_the_recipes_within_the_hard_limits(envelope, limits, expected):
    assert commands.tenant_envelope(envelope, limits) == expected


def test_the_tenant_envelope_is_exactly_what_the_desk_accepts():
    allowed = commands.tenant_envelope(GH.envelope, GH.hard_limits)
    for q, (lo, hi) in allowed.items():
        for v, ok in ((lo, True), (hi, True), (lo - 0.01, False), (hi + 0.01, False)):
            assert run(cmd(kind="setpoint", target=q, value=v))[0].ok is ok, (q, v)


# ---------------------------------------------------------------------------------------------- fuzz

_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(
    max_size=12)
_json = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                           max_size=3), max_leaves=6)
_times = st.sampled_from(["2025-05-01T11:59:00Z", "2025-05-01T12:05:00Z", "2025-05-01T20:59:00+09:00",
                          "2025-05-01T12:00:00", "2025-05-01T13:00:00+00:00", "2025-05-01", "9999-12-31T23:59:59-12:00",
                          "2025-05-01T11:00:00Z", "2025-13-01T00:00:00Z"])
_targets = st.sampled_from(["air_temperature", "co2", "heater", "roof_vent", "fert", "odd", "hi_temp", "aerator",
                            "dissolved_oxygen", "nope"])
_values = st.sampled_from([True, False, "on", "off", "open", "close", "cucumber", 0, 21, 50, 1e308, -1, 2.5])
_durations = st.sampled_from([1, 60, 600.5, 86400, 86401, 0])
_fields = {
    "id": st.sampled_from(["c1", "c2", "c3", "", "x" * 70]) | _json,
    "issued_by": st.sampled_from(["kim", "lee"]) | _json,
    "issued_at": _times | _json,
    "expires_at": _times | _json,
    "kind": st.sampled_from([*KINDS, "reboot"]) | _json,
    "target": _targets | _json,
    "value": _values | _json,
    "duration_s": _durations | _json,
    "reason": st.text(max_size=20) | _json,
    "extra": _json,
}
_good = {  # mostly well-formed values, so the fuzz reaches the rules and not only the schema
    "id": st.sampled_from(["c1", "c2", "c3"]),
    "issued_by": st.just("kim"),
    "issued_at": st.sampled_from(["2025-05-01T11:59:00Z", "2025-05-01T20:59:00+09:00", "2025-05-01T12:04:00Z"]),
    "expires_at": st.sampled_from(["2025-05-01T12:05:00Z", "2025-05-01T21:30:00+09:00", "2025-05-01T11:59:30Z"]),
}
_numbers = st.sampled_from([0, 2.5, 21, 29, 50, 101, -1, 1e308, True, "21"])
_by_kind = st.one_of(  # kind-shaped commands, so the fuzz reaches the rules and not only the schema
    st.fixed_dictionaries({"kind": st.just("setpoint"), "target": _targets, "value": _numbers}),
    st.fixed_dictionaries({"kind": st.just("override"), "target": _targets, "value": _values,
                           "duration_s": _durations}),
    st.fixed_dictionaries({"kind": st.just("release"), "target": _targets}),
    st.fixed_dictionaries({"kind": st.just("recipe"), "value": st.sampled_from(["cucumber", "banana", 3])}),
    st.fixed_dictionaries({"kind": st.just("feed_now")}, optional={"value": _numbers}),
    st.fixed_dictionaries({"kind": st.just("ack_alarm"), "target": st.sampled_from(["hi_temp", "lo_temp"])}),
)
_near_valid = st.tuples(
    st.fixed_dictionaries(_good, optional={"reason": st.text(max_size=20)}), _by_kind,
    st.sampled_from([None] * 12 + list(_fields)), _json | st.just(...),  # mostly unmutated
).map(lambda t: {k: v for k, v in (t[0] | t[1] | ({t[2]: t[3]} if t[2] else {})).items() if v is not ...})
_commands = st.fixed_dictionaries({}, optional=_fields) | _near_valid | _near_valid | _near_valid


def _payloads() -> st.SearchStrategy[bytes]:
    as_json = _commands.map(lambda d: json.dumps(d).encode())
    cut = st.tuples(as_json, st.integers(0, 400)).map(lambda t: t[0][: t[1]])
    other = _json.map(lambda v: json.dumps(v).encode())
    return st.one_of(st.binary(max_size=200), as_json, as_json, as_json, cut, other)


def _check(ack: Ack, action, payload: bytes) -> None:
    assert isinstance(ack, Ack)
    assert ack.error is None or isinstance(ack.error, ErrorCode)
    assert ack.ok == (action is not None) == (ack.error is None)
    if ack.error is not ErrorCode.DUPLICATE:  # a duplicate repeats the first `applied`
        assert ack.ok == (ack.applied is not None)
    doc = json.loads(ack.to_json())
    assert list(doc) == ["id", "ok", "error", "message", "applied"]
    assert doc["error"] is None or doc["error"] in {c.value for c in ErrorCode}
    assert ack.error is not ErrorCode.INTERNAL_ERROR, ack.message  # the rules themselves never crash


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=_payloads(), ctx=st.sampled_from([GH, TANK]), skew=st.integers(-3600, 3600))
def test_fuzz_one_ack_never_a_crash(payload, ctx, skew):
    desk = CommandDesk()
    now = NOW + timedelta(seconds=skew)
    out = desk.process(payload, now, ctx)
    _check(out.ack, out.action, payload)
    assert all(v is not None and isinstance(v, float | int | str | bool) for v in out.audit.values())
    again, action = desk.handle(payload, now, ctx)  # a redelivery: a duplicate if the id could be read
    _check(again, action, payload)
    if out.ack.id is not None:
        assert (again.error, again.id, again.applied) == (ErrorCode.DUPLICATE, out.ack.id, out.ack.applied)
    else:
        assert again == out.ack


def test_a_command_living_longer_than_a_day_or_with_a_blank_id_is_invalid() -> None:
    from datetime import UTC, datetime, timedelta

    from farmcore.link.commands import CommandDesk, ZoneContext
    from farmcore.link.messages import ErrorCode

    now = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    ctx = ZoneContext(kind="greenhouse", envelope={"air_temperature": (10.0, 30.0)}, hard_limits={},
                      actuators={"heater": "switch"}, active_alarms=set(), known_recipes=set(),
                      feeding_supported=False)

    def payload(cid: str, issued: datetime, expires: datetime) -> bytes:
        import json

        return json.dumps({"id": cid, "issued_by": "kim", "issued_at": issued.isoformat(),
                           "expires_at": expires.isoformat(), "kind": "setpoint", "target": "air_temperature",
                           "value": 20}).encode()

    desk = CommandDesk()
    ack, action = desk.handle(payload("a", now - timedelta(days=3), now + timedelta(minutes=5)), now, ctx)
    assert ack.error == ErrorCode.INVALID_COMMAND and action is None
    ack, action = desk.handle(payload("   ", now, now + timedelta(minutes=5)), now, ctx)
    assert ack.error == ErrorCode.INVALID_COMMAND and action is None
    ack, action = desk.handle(payload("b", now, now + timedelta(minutes=5)), now, ctx)
    assert ack.ok and action is not None


# ------------------------------------------------------------------- text that cannot be audited, who sent it


@pytest.mark.parametrize("raw", [
    json.dumps(cmd(kind="ack_alarm", target="hi_temp", reason="\udc80")),  # a lone low surrogate, escaped
    json.dumps(cmd(kind="ack_alarm", target="hi_temp", id="\ud800")),  # ... as the id itself
    json.dumps({**cmd(kind="ack_alarm", target="hi_temp"), "\ud800": 1}),  # ... in a key
    json.dumps(cmd(kind="override", target="heater", value="\udfff", duration_s=60)),  # ... as a value
])
def test_unpaired_surrogates_are_an_invalid_command_that_can_still_be_answered_and_audited(raw):
    assert "\\ud" in raw, "JSON carries the lone surrogate as an escape"
    out = CommandDesk().process(raw.encode(), NOW, GH)
    assert (out.ack.ok, out.ack.error, out.action) == (False, ErrorCode.INVALID_COMMAND, None)
    assert out.ack.id in (None, "c1")
    assert "surrogate" in out.ack.message
    json.loads(out.ack.to_json().decode("utf-8"))  # the ack is valid UTF-8 JSON
    json.dumps(out.audit, ensure_ascii=False).encode("utf-8")  # and so is the audit record


def test_a_surrogate_pair_written_as_escapes_is_an_ordinary_character():
    ack, _ = run(cmd(kind="ack_alarm", target="hi_temp", reason="\U0001F345 토마토"))
    assert ack.ok


def test_an_account_may_name_only_itself_or_its_own_people_and_the_portal_anyone():
    def by(account: str, who: str):
        return CommandDesk().process(json.dumps(cmd(kind="ack_alarm", target="hi_temp", issued_by=who)).encode(),
                                     NOW, GH, account=account)

    refused = by("technician", "portal:tenant-kim")
    assert (refused.ack.ok, refused.ack.error) == (False, ErrorCode.NOT_PERMITTED)
    assert refused.audit["account"] == "technician" and refused.audit["who"] == "portal:tenant-kim"
    assert "via technician" in refused.audit["message"]
    for account, who in (("technician", "technician"), ("technician", "technician:park"), ("portal", "tenant-kim"),
                         ("portal", "portal:tenant-kim")):
        out = by(account, who)
        assert out.ack.ok, (account, who, out.ack)
        assert (out.audit["account"], out.audit["who"]) == (account, who)
    assert by("technician", "technicianx").ack.error is ErrorCode.NOT_PERMITTED
    assert by("Tech/#", "x").ack.error is ErrorCode.INVALID_COMMAND


def test_remember_false_leaves_the_id_unused_until_the_caller_remembers_it():
    desk = CommandDesk()
    payload = json.dumps(cmd(kind="ack_alarm", target="hi_temp")).encode()
    first = desk.process(payload, NOW, GH, remember=False)
    assert first.ack.ok
    assert desk.process(payload, NOW, GH, remember=False).ack.ok, "not used up: applying may still fail"
    desk.remember(first.ack, NOW)
    assert desk.process(payload, NOW, GH).ack.error is ErrorCode.DUPLICATE
