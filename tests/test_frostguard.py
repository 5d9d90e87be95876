"""The greenhouse frost guard (pure): heat by the outside temperature when no inside reading is good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from farmcore.runtime.controller import ActuatorView, TickInput
from farmcore.site import FROST_DUTY, FrostGuardDef
from farmctl.strategies import frostguard

NIGHT = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)  # 03:00 in Seoul
ACTUATORS = [ActuatorView("heater", "heater", "switch", None), ActuatorView("vent", "roof_vent", "retractable", 40.0),
             ActuatorView("screen", "thermal_screen", "retractable", 0.0)]


def tick(now_s: float, readings: dict[str, float], weather: dict[str, float],
         held: dict[str, tuple[float, float]] | None = None, low: dict[str, float] | None = None, *,
         day: bool = False, day_h: float = 10.0) -> TickInput:
    local = NIGHT + timedelta(hours=9)
    sunrise = local - timedelta(hours=1) if day else local + timedelta(hours=4)  # 07:00 at night, before now by day
    sun = (sunrise, sunrise + timedelta(hours=day_h))
    return TickInput(now_s, NIGHT, local, 10.0, readings, {} if readings else {"air_temperature": "stale"}, weather,
                     {"air_temperature": 16.0}, {}, sun, {a.id: a for a in ACTUATORS},
                     weather_held=held or {}, weather_low_24h=low or {})


def guard(inp: TickInput, spec: FrostGuardDef | None = None):
    return frostguard.decide(inp, spec or FrostGuardDef(), ACTUATORS)


def test_duty_follows_the_curve_and_holds_beyond_its_ends():
    curve = [list(p) for p in FROST_DUTY]
    assert frostguard.duty_pct(curve, -30) == 100 and frostguard.duty_pct(curve, 30) == 0
    assert frostguard.duty_pct(curve, -7.5) == pytest.approx(65.0)
    assert frostguard.duty_pct(curve, 0) == 35.0


def test_with_a_good_inside_reading_or_a_mild_outside_it_does_nothing():
    assert guard(tick(0, {"air_temperature": 12.0}, {"air_temperature": -10.0})) == ({}, "")
    assert guard(tick(0, {}, {"air_temperature": 12.0})) == ({}, "")
    assert guard(tick(0, {}, {"air_temperature": -10.0}), FrostGuardDef(enabled=False)) == ({}, "")


def test_in_the_cold_the_heater_cycles_at_its_duty_and_the_vents_shut():
    spec = FrostGuardDef(period_s=600)  # -10 degC: 75 %, on for the first 450 s of every 600 s
    on = [guard(tick(t, {}, {"air_temperature": -10.0}), spec)[0]["heater"].target for t in range(0, 6000, 10)]
    assert sum(on) / len(on) == pytest.approx(0.75)
    decided, note = guard(tick(0, {}, {"air_temperature": -10.0}), spec)
    assert decided["vent"].target == 0.0 and decided["vent"].source == "safety" and note == ""
    assert "screen" not in decided, "screens keep their own rules"
    assert decided["heater"].source == "safety" and "frost guard" in decided["heater"].reason


def test_a_recent_outside_reading_still_counts():
    decided, _ = guard(tick(0, {}, {}, {"air_temperature": (-5.0, 1800.0)}))
    assert decided["heater"].target is True and "30 min ago" in decided["heater"].reason


def test_an_old_afternoon_reading_gives_way_to_the_days_low_at_night():
    """12 degC at 15:00, the station dead since: at 03:00 the guard heats against the lowest of the last day."""
    decided, _ = guard(tick(0, {}, {}, {"air_temperature": (12.0, 12 * 3600.0)}, {"air_temperature": -8.0}))
    assert "lowest of 24 h -8.0" in decided["heater"].reason


def test_without_any_outside_reading_it_heats_at_night_in_the_short_days_and_says_so_otherwise():
    night, _ = guard(tick(0, {}, {}))
    assert night["heater"].reason.startswith("frost guard") and "0.0 °C -> heater duty 35 %" in night["heater"].reason
    assert guard(tick(0, {}, {}, day_h=14.0)) == ({}, "no inside and no usable outside temperature: heater left "
                                                      "in its failsafe"), "a summer night: cannot tell"
    by_day, note = guard(tick(0, {}, {}, {"air_temperature": (-5.0, 7200.0)}, {"air_temperature": -8.0}, day=True))
    assert by_day == {} and "no usable outside" in note, "by day the sun heats a shut house"


def test_a_hot_water_loop_keeps_its_boiler_on_and_doses_by_the_mixing_valve():
    """Issue 16: a loop's boiler had no degraded mode (failsafe off on a frost night); now the boiler runs and
    the valve opens to the curve's duty; a boiler without a valve cycles like a heater."""
    loop = [ActuatorView("boiler", "boiler", "switch", None), ActuatorView("valve", "mixing_valve", "retractable", 0.0),
            ActuatorView("vent", "roof_vent", "retractable", 40.0)]
    out, note = frostguard.decide(tick(0.0, {}, {"air_temperature": -7.5}), FrostGuardDef(), loop)
    assert note == "" and out["boiler"].target is True and out["valve"].target == 65 and out["vent"].target == 0.0
    alone = [v for v in loop if v.role != "mixing_valve"]
    out, _ = frostguard.decide(tick(599.0, {}, {"air_temperature": -7.5}), FrostGuardDef(), alone)
    assert out["boiler"].target is False, "65 % of 600 s is on, the rest of the cycle off"


def test_the_loop_roles_fall_to_their_failsafe_on_what_they_depend_on():
    from farmcore.runtime.safety import safety_decision
    from farmcore.site import ActuatorDef
    boiler, valve = ActuatorDef(id="b", role="boiler", unit=1, slot=1), ActuatorDef(id="v", role="mixing_valve",
                                                                                    unit=1, slot=2)
    assert safety_decision(boiler, "switch", {"air_temperature": "stale"}, True).target is False
    held = safety_decision(valve, "retractable", {"pipe_temperature": "stale"}, 40.0)
    assert held is not None and held.source == "safety" and "pipe_temperature" in held.reason
