"""Pure unit tests of farmcore.runtime (drivers, safety, state, scheduler helpers, log format) and of the
hold-aware parts of farmcore.control.arbitration: no sockets, sleeps or threads; clocks are plain numbers."""

from __future__ import annotations

import json
import logging
import math
import sys
from datetime import UTC, datetime, timedelta, timezone

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest

from farmcore.control.arbitration import Decision, Interlock, apply_interlocks, clamp_to_limits, is_on
from farmcore.runtime.actuators import (
    DEADBAND_PCT,
    MISMATCH_RESEND,
    Command,
    RetractableDriver,
    SupplyDriver,
    SwitchDriver,
)
from farmcore.runtime.cli import JsonLines
from farmcore.runtime.safety import Tracked, failsafe_target, judge, observe, safety_decision
from farmcore.runtime.scheduler import follow_clock, interval_slot
from farmcore.runtime.state import StateStore
from farmcore.site import ActuatorDef

# -- SwitchDriver ---------------------------------------------------------------------------------------------


def test_switch_sends_on_and_off_only_on_change():
    d = SwitchDriver()
    assert d.plan(True, 0.0) == Command("on")
    assert d.plan(True, 1.0) is None
    assert d.target is True
    assert d.plan(False, 2.0) == Command("off")
    assert d.plan(False, 3.0) is None
    assert d.target is False


def test_switch_hold_sends_nothing_and_keeps_state():
    d = SwitchDriver()
    assert d.plan(None, 0.0) is None
    assert d.commanded is None
    d.plan(True, 1.0)
    assert d.plan(None, 2.0, feedback_on=False) is None
    assert d.commanded is True and d.mismatches == 0


def test_switch_timed_run_goes_out_as_timed_on():
    d = SwitchDriver()
    assert d.plan(True, 100.0, run_s=30.0) == Command("timed-on", time_s=30)
    assert d.run_until == 130.0


def test_switch_timed_run_end_is_not_restarted_until_wish_goes_off():
    d = SwitchDriver()
    d.plan(True, 0.0, run_s=30.0)
    assert d.plan(True, 10.0, run_s=30.0) is None  # still running
    assert d.plan(True, 30.0, run_s=30.0) is None  # the node ended it: spent, not restarted
    assert d.commanded is False and d.spent and d.run_until is None
    assert d.plan(True, 60.0, run_s=30.0) is None  # the wish stays on: still spent
    assert d.plan(False, 70.0) is None  # already off: nothing to send, but no longer spent
    assert not d.spent
    assert d.plan(True, 80.0, run_s=30.0) == Command("timed-on", time_s=30)


def test_switch_max_on_s_caps_a_run():
    d = SwitchDriver(max_on_s=60.0)
    assert d.plan(True, 0.0) == Command("timed-on", time_s=60)  # a plain "on" becomes a capped run
    d2 = SwitchDriver(max_on_s=60.0)
    assert d2.plan(True, 0.0, run_s=120.0) == Command("timed-on", time_s=60)
    d3 = SwitchDriver(max_on_s=60.0)
    assert d3.plan(True, 0.0, run_s=20.0) == Command("timed-on", time_s=20)


def test_switch_off_clears_a_timed_run():
    d = SwitchDriver()
    d.plan(True, 0.0, run_s=30.0)
    assert d.plan(False, 5.0) == Command("off")
    assert d.run_until is None


def test_switch_feedback_mismatch_resends_every_mismatch_resend_reads():
    d = SwitchDriver()
    d.plan(True, 0.0)
    for t in range(1, MISMATCH_RESEND):
        assert d.plan(True, float(t), feedback_on=False) is None
    resend = d.plan(True, float(MISMATCH_RESEND), feedback_on=False)
    assert resend is not None and resend.op == "on"
    assert "resend" in resend.why


def test_switch_feedback_agreeing_resets_mismatches():
    d = SwitchDriver()
    d.plan(False, 0.0)
    assert d.plan(False, 1.0, feedback_on=True) is None
    assert d.mismatches == 1
    assert d.plan(False, 2.0, feedback_on=False) is None
    assert d.mismatches == 0 and not d.failed


def test_switch_state_restore_round_trip():
    d = SwitchDriver()
    d.plan(True, 0.0, run_s=30.0)
    e = SwitchDriver()
    e.restore(d.state())
    assert e.commanded is True and e.run_until == 30.0
    e.restore({"commanded": "yes"})  # not a bool: unknown
    assert e.commanded is None and e.run_until is None


# -- SupplyDriver ---------------------------------------------------------------------------------------------


def test_supply_run_with_params_is_a_nutrient_op():
    d = SupplyDriver()
    d.params = {"EC": 1.8, "pH": 6.0, "extra": 1.0}
    assert d.plan(True, 0.0, run_s=120.0) == Command("nutrient", 120, {"EC": 1.8, "pH": 6.0})


def test_supply_run_without_params_is_timed_on_with_default_cap():
    d = SupplyDriver()
    assert d.max_on_s == 600.0
    assert d.plan(True, 0.0) == Command("timed-on", time_s=600)
    d2 = SupplyDriver()
    d2.params = {"EC": 1.8}  # pH missing: plain water
    assert d2.plan(True, 0.0, run_s=60.0) == Command("timed-on", time_s=60)


def test_supply_off_is_stop():
    d = SupplyDriver()
    d.plan(True, 0.0, run_s=60.0)
    assert d.plan(False, 10.0) == Command("stop")


# -- RetractableDriver ----------------------------------------------------------------------------------------


def known(position: float, travel_s: float = 120.0) -> RetractableDriver:
    d = RetractableDriver(travel_s)
    d.position = position
    return d


def test_retractable_dead_reckoning_half_open():
    d = known(0.0)
    assert d.plan(50.0, 0.0) == Command("timed-open", time_s=60, why="0 % -> 50 %")
    assert d.target == 50.0
    assert d.estimate(30.0) == pytest.approx(25.0)
    assert d.estimate(60.0) == pytest.approx(50.0)
    assert d.plan(50.0, 61.0) is None  # arrived: settled at 50
    assert d.position == 50.0 and d.move is None


@pytest.mark.parametrize(("start", "want", "op", "seconds"), [
    (50.0, 100.0, "timed-open", 60 + 12),
    (50.0, 0.0, "timed-close", 60 + 12),
    (1.0, 0.0, "timed-close", 1 + 12),  # within the deadband, but an end is re-homed
])
def test_retractable_moves_to_an_end_overrun_by_ten_percent(start, want, op, seconds):
    d = known(start)
    command = d.plan(want, 0.0)
    assert command is not None and command.op == op and command.time_s == round(seconds)
    assert d.estimate(1000.0) == want


def test_retractable_at_an_end_already_sends_nothing():
    assert known(0.0).plan(0.0, 0.0) is None
    assert known(100.0).plan(100.0, 0.0) is None


@pytest.mark.parametrize(("want", "op", "end"), [(30.0, "timed-close", 0.0), (50.0, "timed-close", 0.0),
                                                 (70.0, "timed-open", 100.0)])
def test_retractable_unknown_position_homes_to_nearer_end_of_wish(want, op, end):
    d = RetractableDriver(120.0)
    command = d.plan(want, 0.0)
    assert command is not None and command.op == op
    assert command.time_s == 120 + 12  # full travel plus overrun
    assert "homing" in command.why
    assert d.estimate(200.0) == end
    assert d.plan(want, 200.0) is not None  # known now: the real move follows


def test_retractable_deadband_sends_nothing():
    d = known(50.0)
    assert d.plan(50.0 + DEADBAND_PCT * 0.9, 0.0) is None
    assert d.plan(50.0 - DEADBAND_PCT * 0.9, 0.0) is None
    assert d.move is None and d.position == 50.0


def test_retractable_new_wish_mid_move_replans_from_estimate():
    d = known(0.0)
    d.plan(50.0, 0.0)
    assert d.plan(50.5, 10.0) is None  # already on its way there
    command = d.plan(10.0, 30.0)  # estimated at 25 %
    assert command == Command("timed-close", time_s=18, why="25 % -> 10 %")  # 15 % of 120 s
    assert d.estimate(48.0) == pytest.approx(10.0)


def test_retractable_wish_at_estimate_mid_move_stops_there():
    d = known(0.0)
    d.plan(50.0, 0.0)
    command = d.plan(25.5, 30.0)
    assert command is not None and command.op == "stop"
    assert d.move is None and d.position == pytest.approx(25.0)


def test_retractable_stop_mid_move_fixes_estimate():
    d = known(0.0)
    d.plan(50.0, 0.0)
    assert d.stop(30.0) == Command("stop", why="failsafe stop")
    assert d.move is None and d.position == pytest.approx(25.0)
    assert d.estimate(100.0) == pytest.approx(25.0)
    assert d.stop(40.0) is None  # not moving: nothing to stop


def test_retractable_hold_sends_nothing():
    d = known(40.0)
    assert d.plan(None, 0.0) is None
    assert d.position == 40.0


def test_retractable_restore_after_move_ended_leaves_end_position():
    d = known(0.0)
    d.plan(50.0, 0.0)
    saved = json.loads(json.dumps(d.state()))  # as kept in the state store
    e = RetractableDriver(120.0)
    e.restore(saved, 100.0)
    assert e.position == 50.0 and e.goal == 50.0 and e.move is None


def test_retractable_restore_of_move_cut_short_leaves_position_unknown():
    d = known(0.0)
    d.plan(50.0, 0.0)
    e = RetractableDriver(120.0)
    e.restore(d.state(), 30.0)
    assert e.position is None and e.estimate(30.0) is None
    command = e.plan(50.0, 30.0)
    assert command is not None and "homing" in command.why


def test_retractable_restore_when_at_rest():
    e = RetractableDriver(120.0)
    e.restore({"position": 40, "goal": 40.0, "move": None}, 0.0)
    assert e.position == 40.0
    e.restore({"position": "?", "goal": None, "move": None}, 0.0)
    assert e.position is None


def test_retractable_sub_second_move_is_skipped():
    d = known(50.0, travel_s=10.0)
    assert d.plan(54.0, 0.0) is None  # 4 % of 10 s: 0.4 s
    assert d.move is None and d.position == 50.0


# -- safety ---------------------------------------------------------------------------------------------------

VALID = (-10.0, 50.0)


def test_good_value_is_usable():
    t = Tracked()
    observe(t, 21.5, "good", 0.0, VALID)
    assert judge(t, 0.0, 30.0) is None
    assert t.value == 21.5 and t.good_at == 0.0


def test_no_reading_yet_is_bad():
    assert judge(Tracked(), 0.0, 30.0) == "no good reading yet (comm_error)"


def test_comm_error_keeps_last_good_value_until_stale():
    t = Tracked()
    observe(t, 21.5, "good", 0.0, VALID)
    observe(t, None, "comm_error", 10.0, VALID)
    assert t.value == 21.5
    assert judge(t, 30.0, 30.0) is None
    why = judge(t, 45.0, 30.0)
    assert why is not None and why.startswith("stale") and "45 s" in why and "30 s" in why


def test_sensor_fault_status_is_bad_at_once():
    t = Tracked()
    observe(t, 21.5, "good", 0.0, VALID)
    observe(t, 21.5, "need_calibration", 1.0, VALID)
    assert judge(t, 1.0, 30.0) == "sensor status need_calibration"
    observe(t, 22.0, "good", 2.0, VALID)  # recovers with the next good reading
    assert judge(t, 2.0, 30.0) is None


def test_out_of_range_is_bad_at_once_and_keeps_last_good_value():
    t = Tracked()
    observe(t, 21.5, "good", 0.0, VALID)
    observe(t, 850.0, "good", 1.0, VALID)
    assert judge(t, 1.0, 30.0) == "sensor status out_of_range"
    assert t.value == 21.5 and t.good_at == 0.0


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_value_is_rejected(value):
    t = Tracked()
    observe(t, value, "good", 0.0, None)
    assert t.value is None and t.quality == "out_of_range"
    assert judge(t, 0.0, 30.0) is not None


@pytest.mark.parametrize(("state", "kind", "target"), [
    ("hold", "switch", None), ("hold", "retractable", None),
    ("open", "retractable", 100.0), ("close", "retractable", 0.0), ("stop", "retractable", None),
    ("on", "switch", True), ("off", "switch", False), ("off", "nutrient", False),
])
def test_failsafe_target(state, kind, target):
    assert failsafe_target(state, kind, 42.0) == target


def actuator(role: str, **kw) -> ActuatorDef:
    return ActuatorDef(id=f"{role}-1", role=role, unit=1, slot=1, **kw)


def test_heater_with_bad_air_temperature_goes_off():
    decision = safety_decision(actuator("heater"), "switch", {"air_temperature": "stale: 99 s"}, True)
    assert decision is not None
    assert decision.target is False and decision.source == "safety"
    assert "air_temperature" in decision.reason and "failsafe off" in decision.reason


def test_heater_with_unrelated_bad_quantity_has_no_safety_decision():
    assert safety_decision(actuator("heater"), "switch", {"co2": "stale"}, True) is None


def test_vent_failsafe_hold_has_target_none():
    decision = safety_decision(actuator("roof_vent"), "retractable", {"air_temperature": "x"}, 30.0)
    assert decision is not None and decision.target is None and decision.source == "safety"
    opened = safety_decision(actuator("side_vent", failsafe="open"), "retractable", {"air_temperature": "x"}, 30.0)
    assert opened is not None and opened.target == 100.0


def test_screens_depend_on_outside_weather():
    decision = safety_decision(actuator("thermal_screen"), "retractable",
                               {"weather:air_temperature": "no good reading yet (comm_error)"}, 0.0)
    assert decision is not None
    assert "air_temperature (outside): no good reading yet" in decision.reason
    assert "weather:" not in decision.reason
    # the inside air temperature is not what a screen depends on
    assert safety_decision(actuator("thermal_screen"), "retractable", {"air_temperature": "x"}, 0.0) is None
    shade = safety_decision(actuator("shade_screen"), "retractable", {"weather:solar_radiation": "x"}, 0.0)
    assert shade is not None and "solar_radiation (outside)" in shade.reason


def test_role_without_dependencies_has_no_safety_decision():
    bad = {"air_temperature": "x", "co2": "x", "weather:air_temperature": "x"}
    assert safety_decision(actuator("lamps"), "switch", bad, False) is None
    assert safety_decision(actuator("irrigation_pump"), "switch", bad, False) is None


# -- StateStore -----------------------------------------------------------------------------------------------

T0 = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)


def test_state_store_put_get_round_trip(tmp_path):
    store = StateStore(tmp_path / "sub" / "state.sqlite")
    try:
        assert store.get("z1", "missing") is None
        store.put("z1", "controller", {"sum": 1.5, "list": [1, "two", None], "flag": True})
        store.put_many("z1", {"driver:vent": {"position": 40.0}, "n": 3})
        store.put("z2", "n", 4)
        assert store.get("z1", "controller") == {"sum": 1.5, "list": [1, "two", None], "flag": True}
        assert store.get("z1", "driver:vent") == {"position": 40.0}
        assert store.get("z1", "n") == 3 and store.get("z2", "n") == 4
        store.put("z1", "n", 5)  # replaces
        assert store.get("z1", "n") == 5
    finally:
        store.close()


def test_state_store_record_run_refuses_duplicate(tmp_path):
    store = StateStore(tmp_path / "state.sqlite")
    try:
        assert store.record_run("s:z1:recipe", T0, T0, "ran") is True
        assert store.record_run("s:z1:recipe", T0, T0 + timedelta(seconds=5), "ran") is False
        assert store.record_run("s:z2:recipe", T0, T0, "ran") is True  # another job, same slot
        assert len(store.runs()) == 2
    finally:
        store.close()


def test_state_store_runs_ordered_by_scheduled_and_filtered(tmp_path):
    store = StateStore(tmp_path / "state.sqlite")
    try:
        for minutes, job in ((2, "a"), (0, "b"), (1, "a")):
            slot = T0 + timedelta(minutes=minutes)
            store.record_run(job, slot, slot, "ran")
        assert [(j, s) for j, s, _, _ in store.runs()] == [
            ("b", T0.isoformat()), ("a", (T0 + timedelta(minutes=1)).isoformat()),
            ("a", (T0 + timedelta(minutes=2)).isoformat())]
        assert [r[1] for r in store.runs("a")] == [(T0 + timedelta(minutes=m)).isoformat() for m in (1, 2)]
        assert store.runs("nobody") == []
    finally:
        store.close()


def test_state_store_survives_reopen(tmp_path):
    path = tmp_path / "state.sqlite"
    store = StateStore(path)
    store.put("z1", "k", [1, 2])
    store.record_run("job", T0, T0, "ran")
    store.close()
    again = StateStore(path)
    try:
        assert again.get("z1", "k") == [1, 2]
        assert again.runs() == [("job", T0.isoformat(), T0.isoformat(), "ran")]
        assert again.record_run("job", T0, T0, "ran") is False
    finally:
        again.close()


# -- scheduler helpers ----------------------------------------------------------------------------------------


def test_interval_slot_aligns_to_epoch_multiples():
    now = datetime(2024, 5, 1, 6, 7, 42, 500000, tzinfo=UTC)
    assert interval_slot(now, 60) == datetime(2024, 5, 1, 6, 7, tzinfo=UTC)
    assert interval_slot(now, 300) == datetime(2024, 5, 1, 6, 5, tzinfo=UTC)
    assert interval_slot(now.replace(second=0, microsecond=0), 60) == datetime(2024, 5, 1, 6, 7, tzinfo=UTC)
    assert interval_slot(now, 60).tzinfo is UTC


def test_interval_slot_is_aligned_to_utc_not_local_time():
    ist = timezone(timedelta(hours=5, minutes=30))
    now = datetime(2024, 5, 1, 12, 10, tzinfo=ist)  # 06:40 UTC
    slot = interval_slot(now, 3600)
    assert slot == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    assert slot.utcoffset() == timedelta(hours=5, minutes=30) and slot.minute == 30


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


def test_follow_clock_points_apscheduler_now_at_the_clock(monkeypatch):
    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", apscheduler.schedulers.base.datetime)
    monkeypatch.setattr(apscheduler.executors.base, "datetime", apscheduler.executors.base.datetime)
    clock = FakeClock(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    follow_clock(clock)
    for module in (apscheduler.schedulers.base, apscheduler.executors.base):
        assert module.datetime.now(UTC) == clock.t
        seoul = timezone(timedelta(hours=9))
        assert module.datetime.now(seoul) == clock.t and module.datetime.now(seoul).utcoffset() == timedelta(hours=9)
        assert module.datetime.now() == datetime(2030, 1, 2, 3, 4, 5)  # naive
    clock.t += timedelta(hours=1)
    assert apscheduler.schedulers.base.datetime.now(UTC) == datetime(2030, 1, 2, 4, 4, 5, tzinfo=UTC)


# -- JsonLines ------------------------------------------------------------------------------------------------


def record(msg: str, *args: object, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("farmcore.test", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_json_lines_merges_a_json_message():
    line = JsonLines().format(record(json.dumps({"zone": "z1", "op": "on", "time_s": 30})))
    out = json.loads(line)
    assert out["zone"] == "z1" and out["op"] == "on" and out["time_s"] == 30
    assert out["level"] == "warning" and out["logger"] == "farmcore.test"
    assert "msg" not in out
    assert datetime.fromisoformat(out["ts"]).tzinfo is not None


def test_json_lines_plain_text_under_msg_on_one_line():
    line = JsonLines().format(record("온실 %s: line one\nline two", "z1"))
    assert "\n" not in line
    assert "온실" in line  # non-ASCII kept, not \u-escaped
    assert json.loads(line)["msg"] == "온실 z1: line one\nline two"


@pytest.mark.parametrize("msg", ["{not json", "[1, 2]", '{"a": 1} trailing'])
def test_json_lines_non_object_messages_go_under_msg(msg):
    assert json.loads(JsonLines().format(record(msg)))["msg"] == msg


def test_json_lines_exception_is_included():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        info = sys.exc_info()
    line = JsonLines().format(record("failed", exc_info=info))
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exc"]


# -- arbitration with hold ------------------------------------------------------------------------------------


def test_is_on_hold_is_false():
    assert is_on(None) is False
    assert is_on(True) is True and is_on(False) is False
    assert is_on(10.0) is True and is_on(0.0) is False


def test_clamp_to_limits_refuses_a_hold():
    with pytest.raises(TypeError):
        clamp_to_limits(Decision(None, "safety", "failsafe hold"), 0.0, 100.0)


def test_apply_interlocks_ignores_a_hold():
    targets = {"vent_open": Decision(None, "safety", "failsafe hold"),
               "vent_close": Decision(True, "recipe", "close")}
    out = apply_interlocks(targets, [Interlock("vent_close", "vent_open", "one motor")])
    assert out == targets
    out2 = apply_interlocks(targets, [Interlock("vent_open", "vent_close", "one motor")])
    assert out2 == targets


def test_switch_driver_reports_failed_after_two_resends() -> None:
    """A stuck actuator is resent every MISMATCH_RESEND reads and reported failed after two resends."""
    from farmcore.runtime.actuators import MISMATCH_RESEND, SwitchDriver

    d = SwitchDriver()
    d.plan(True, 0)
    resends = []
    for t in range(1, 2 * MISMATCH_RESEND + 1):
        if d.plan(True, t, feedback_on=False) is not None:
            resends.append(t)
    assert resends == [MISMATCH_RESEND, 2 * MISMATCH_RESEND]
    assert d.failed
    d.plan(True, 100, feedback_on=True)
    assert not d.failed
