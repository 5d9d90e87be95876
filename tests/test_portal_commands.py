"""The portal's command checks (portal/service/commands.py): nothing leaves the portal that the zone's live state
says the daemon would refuse or a person must not send, and every answer reads as a Korean sentence."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from farmcore.link.commands import CommandDesk, ZoneContext, tenant_envelope
from farmcore.link.messages import (
    Ack,
    ActuatorEntry,
    AlarmEntry,
    AlarmText,
    ErrorCode,
    ReadingEntry,
    RecipeRef,
    SetpointEntry,
    StateMessage,
)
from farmcore.link.zoneclient import CommandResult, command_json, new_command
from portal.service.commands import ERROR_TEXTS, CommandRequest, explain, not_sent, prepare
from portal.service.errors import BadRequest, PortalError
from portal.service.live import LiveZone
from portal.service.model import Principal, Role, ZoneKey

NOW = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)  # noon in Korea
KIM = Principal(1, "kim", Role.TENANT, "김청년")
RECIPE_ENVELOPE = {"air_temperature": (14.0, 24.0), "co2": (400.0, 1000.0)}
HARD_LIMITS = {"air_temperature": (5.0, 22.0)}
HANGUL = re.compile("[가-힣]")


def state(kind: str = "greenhouse", **changes: object) -> StateMessage:
    fields: dict[str, object] = dict(
        time="2026-01-16T03:00:00Z", site="s1", zone="gh1", kind=kind, mode="auto",
        recipe=RecipeRef(id="tomato-gb", version=1, stage="production", period="tomato-gb@1 production/day", day=3),
        readings={"air_temperature": ReadingEntry(value=19.0, unit="degC", quality="good")},
        weather={}, setpoints={"air_temperature": SetpointEntry(value=20.0, source="recipe")},
        actuators={"heater": ActuatorEntry(role="heater", kind="switch", target=False),
                   "vent": ActuatorEntry(role="roof_vent", kind="retractable", target=0.0),
                   "odd": ActuatorEntry(role="gizmo", kind="gizmo", target=None)},
        overrides={}, alarms=1, envelope=tenant_envelope(RECIPE_ENVELOPE, HARD_LIMITS), max_override_s=14400.0)
    if kind == "tank":
        fields["actuators"] = {"feeder": ActuatorEntry(role="feeder", kind="switch", target=False)}
    fields.update(changes)
    return StateMessage(**fields)  # type: ignore[arg-type]


def alarm(alarm_id: str = "stale_data:co2", acked_by: str | None = None) -> AlarmEntry:
    return AlarmEntry(id=alarm_id, zone="gh1", kind="stale_data", severity="warning",
                      status="acknowledged" if acked_by else "unacknowledged", active=True, acked=bool(acked_by),
                      raised_at="2026-01-16T02:00:00Z", cleared_at=None, acked_by=acked_by,
                      acked_at="2026-01-16T02:30:00Z" if acked_by else None, value="stale", repeats=0,
                      message=AlarmText(ko="CO2 측정값 불량", en="co2 reading bad"))


def zone(st: StateMessage | None = None, status: str = "online", alarms: tuple[AlarmEntry, ...] = ()) -> LiveZone:
    return LiveZone(ZoneKey("s1", "gh1"), status, st or state(), NOW, NOW, alarms)  # type: ignore[arg-type]


def refused(request: CommandRequest, live: LiveZone | None = None, field: str | None = None) -> PortalError:
    with pytest.raises(PortalError) as caught:
        prepare(KIM, zone() if live is None else live, request, NOW)
    error = caught.value
    assert HANGUL.search(error.ko) and error.en and "\n" not in error.en
    if field is not None:
        assert isinstance(error, BadRequest) and error.field == field, error
    return error


# ---------------------------------------------------------------------------------------------- setpoint


def test_a_setpoint_inside_the_envelope_becomes_the_command_the_daemon_takes():
    command = prepare(KIM, zone(), CommandRequest("setpoint", "air_temperature", 21, reason=" 추워요 "), NOW)
    assert (command.kind, command.target, command.value, command.issued_by) == (
        "setpoint", "air_temperature", 21.0, "portal:kim")
    assert command.reason == "추워요" and command.issued_at == NOW and command.expires_at == NOW + timedelta(minutes=1)


def test_a_setpoint_outside_the_envelope_names_the_value_and_the_range():
    error = refused(CommandRequest("setpoint", "air_temperature", 23.0), field="value")
    assert "온도 23°C (허용 14~22°C)" in error.ko, error.ko
    assert "23°C is outside the allowed range 14 to 22°C" in error.en, "the recipe's 24 cut to the hard limit 22"
    assert "ppm" in refused(CommandRequest("setpoint", "co2", 1200)).ko


@pytest.mark.parametrize("value", [True, "21", float("nan"), float("inf"), None])
def test_a_setpoint_is_a_finite_number(value):
    refused(CommandRequest("setpoint", "air_temperature", value), field="value")


def test_a_quantity_the_recipe_does_not_let_tenants_adjust_is_refused():
    refused(CommandRequest("setpoint", "relative_humidity", 80), field="target")
    refused(CommandRequest("setpoint", None, 20), field="target")
    old = zone(state(envelope={}))  # a daemon from before the portal publishes no envelope: nothing adjustable
    refused(CommandRequest("setpoint", "air_temperature", 20), old, field="target")


def test_the_portals_check_agrees_with_the_daemons_desk_value_for_value():
    ctx = ZoneContext(kind="greenhouse", envelope=RECIPE_ENVELOPE, hard_limits=HARD_LIMITS)
    desk = CommandDesk()
    for q in ("air_temperature", "co2", "relative_humidity"):
        for v in (4.0, 5.0, 13.99, 14.0, 18.5, 22.0, 22.01, 24.0, 80.0, 399.0, 400.0, 1000.0, 1000.5):
            try:
                prepare(KIM, zone(), CommandRequest("setpoint", q, v), NOW)
                portal_ok = True
            except BadRequest:
                portal_ok = False
            raw = new_command("setpoint", issued_by="portal:kim", target=q, value=v, now=NOW)  # as if crafted
            ack, _ = desk.handle(command_json(raw), NOW, ctx, account="portal")
            assert portal_ok is ack.ok, (q, v, ack)


# ---------------------------------------------------------------------------------------------- override


def test_an_override_needs_a_confirmation_and_a_duration_within_the_sites_limit():
    ok = prepare(KIM, zone(), CommandRequest("override", "heater", True, 600, confirmed=True), NOW)
    assert (ok.kind, ok.target, ok.value, ok.duration_s) == ("override", "heater", True, 600.0)
    refused(CommandRequest("override", "heater", True, 600), field="confirmed")
    too_long = refused(CommandRequest("override", "heater", True, 14401, confirmed=True), field="duration_s")
    assert "4시간" in too_long.ko and "4 h" in too_long.en
    ninety = zone(state(max_override_s=5400.0))
    assert "90분" in refused(CommandRequest("override", "heater", "on", 5401, confirmed=True), ninety).ko
    for duration in (0, 0.5, -5, None, True, float("nan")):
        refused(CommandRequest("override", "heater", True, duration, confirmed=True), field="duration_s")
    assert prepare(KIM, zone(), CommandRequest("override", "heater", True, 14400, confirmed=True), NOW).duration_s \
        == 14400


@pytest.mark.parametrize(("target", "value", "field"), [
    ("pump9", True, "target"), ("odd", True, "target"), (None, True, "target"),
    ("heater", 1, "value"), ("heater", "open", "value"), ("vent", True, "value"), ("vent", 100.5, "value"),
    ("vent", "on", "value"),
])
def test_an_override_names_an_actuator_of_the_zone_and_a_value_it_takes(target, value, field):
    refused(CommandRequest("override", target, value, 600, confirmed=True), field=field)


@pytest.mark.parametrize("value", [0, 35.5, 100, "open", "close"])
def test_a_retractable_takes_a_position_or_open_close(value):
    assert prepare(KIM, zone(), CommandRequest("override", "vent", value, 60, confirmed=True), NOW).value == value


# ------------------------------------------------------------------------------------ the other kinds


def test_release_names_an_actuator_or_a_setting_of_the_zone():
    assert prepare(KIM, zone(), CommandRequest("release", "heater"), NOW).target == "heater"
    assert prepare(KIM, zone(), CommandRequest("release", "air_temperature"), NOW).value is None
    refused(CommandRequest("release", "pump9"), field="target")


def test_feed_now_only_for_a_tank_with_a_feeder_and_a_sane_ration():
    tank = zone(state("tank"))
    assert prepare(KIM, tank, CommandRequest("feed_now"), NOW).value is None
    assert prepare(KIM, tank, CommandRequest("feed_now", value=1.5), NOW).value == 1.5
    refused(CommandRequest("feed_now"), field="kind")  # the greenhouse
    refused(CommandRequest("feed_now"), zone(state("tank", actuators={})), field="kind")
    for kg in (0, -1, 101, True, "lots"):
        refused(CommandRequest("feed_now", value=kg), tank, field="value")


def test_only_a_listed_unacknowledged_alarm_is_acknowledged():
    live = zone(alarms=(alarm(), alarm("limit_exceeded:co2", acked_by="portal:lee")))
    assert prepare(KIM, live, CommandRequest("ack_alarm", "stale_data:co2"), NOW).target == "stale_data:co2"
    assert "lee" in refused(CommandRequest("ack_alarm", "limit_exceeded:co2"), live, field="target").ko
    refused(CommandRequest("ack_alarm", "comm_lost"), live, field="target")


def test_the_portal_never_sends_a_recipe_or_an_unknown_kind():
    assert "레시피" in refused(CommandRequest("recipe", value="cucumber"), field="kind").ko
    refused(CommandRequest("reboot"), field="kind")


@pytest.mark.parametrize("live", [None, zone(status="offline"), zone(status="unknown"),
                                  LiveZone(ZoneKey("s1", "gh1"), "online")])
def test_nothing_is_prepared_for_a_zone_that_is_not_online_with_a_state(live):
    with pytest.raises(PortalError) as caught:
        prepare(KIM, live, CommandRequest("setpoint", "air_temperature", 20), NOW)
    assert caught.value.code == "zone_offline" and HANGUL.search(caught.value.ko)


def test_a_reason_longer_than_the_command_takes_is_refused():
    refused(CommandRequest("release", "heater", reason="x" * 501), field="reason")


# ------------------------------------------------------------------------------------------------ explain


def test_every_error_code_reads_as_its_own_korean_sentence():
    assert set(ERROR_TEXTS) == set(ErrorCode), "a code added to farmcore needs its words here"
    kos = set()
    for code in ErrorCode:
        out = explain(CommandResult("c1", "rejected", Ack("c1", False, code, "daemon words"), "online"))
        assert (out.status, out.code, out.detail) == ("refused", code.value, "daemon words")
        assert HANGUL.search(out.ko) and out.ko.endswith(".") and out.en.endswith(".")
        kos.add(out.ko)
    assert len(kos) == len(ErrorCode)


def test_an_applied_override_tells_its_end_in_seoul_time_and_no_answer_is_never_success():
    applied = {"kind": "override", "target": "heater", "value": True, "until": "2026-01-16T05:10:00Z"}
    out = explain(CommandResult("c1", "ok", Ack("c1", True, None, "override heater True", applied), "online"))
    assert (out.status, out.code, out.command_id) == ("applied", None, "c1") and "14:10까지" in out.ko
    silent = explain(CommandResult("c2", "no_answer", None, "online"))
    assert silent.status == "no_answer" and "알 수 없" in silent.ko and "may or may not" in silent.en
    assert explain(CommandResult("c3", "malformed", None, "online", "ack: bad")).code == "malformed"
    newer = explain(CommandResult("c4", "rejected", Ack("c4", False, "rate_limited", "later"), "online"))
    assert newer.status == "refused" and "rate_limited" in newer.ko


def test_a_command_refused_here_is_not_sent_with_the_errors_words():
    error = BadRequest("value", "범위 밖", "out of range")
    assert not_sent(error) == not_sent(error) and not_sent(error).status == "not_sent"
    assert (not_sent(error).code, not_sent(error).text("ko"), not_sent(error).text("en")) == (
        "bad_request", "value: 범위 밖", "value: out of range")
