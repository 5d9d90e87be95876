"""The greenhouse frost guard (pure): heat by the outside temperature when no inside reading is good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from farmcore.runtime.controller import ActuatorView, TickInput
from farmcore.site import FROST_DUTY, FrostGuardDef
from farmctl.strategies import frostguard

NOW = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)  # 03:00 in Seoul
ACTUATORS = [ActuatorView("heater", "heater", "switch", None), ActuatorView("vent", "roof_vent", "retractable", 40.0),
             ActuatorView("screen", "thermal_screen", "retractable", 0.0)]


def tick(now_s: float, readings: dict[str, float], weather: dict[str, float],
         held: dict[str, tuple[float, float]] | None = None) -> TickInput:
    local = NOW + timedelta(hours=9)
    return TickInput(now_s, NOW, local, 10.0, readings, {} if readings else {"air_temperature": "stale"}, weather,
                     {"air_temperature": 16.0}, {}, (local, local), {a.id: a for a in ACTUATORS},
                     weather_held=held or {})


def test_duty_follows_the_curve_and_holds_beyond_its_ends():
    curve = [list(p) for p in FROST_DUTY]
    assert frostguard.duty_pct(curve, -30) == 100 and frostguard.duty_pct(curve, 30) == 0
    assert frostguard.duty_pct(curve, -7.5) == pytest.approx(65.0)
    assert frostguard.duty_pct(curve, 0) == 35.0


def test_with_a_good_inside_reading_or_a_mild_outside_it_does_nothing():
    spec = FrostGuardDef()
    assert frostguard.decide(tick(0, {"air_temperature": 12.0}, {"air_temperature": -10.0}), spec, ACTUATORS) == {}
    assert frostguard.decide(tick(0, {}, {"air_temperature": 12.0}), spec, ACTUATORS) == {}
    assert frostguard.decide(tick(0, {}, {"air_temperature": -10.0}), FrostGuardDef(enabled=False), ACTUATORS) == {}


def test_in_the_cold_the_heater_cycles_at_its_duty_and_the_vents_shut():
    spec = FrostGuardDef(period_s=600)  # -10 degC: 75 %, on for the first 450 s of every 600 s
    on = [frostguard.decide(tick(t, {}, {"air_temperature": -10.0}), spec, ACTUATORS)["heater"].target
          for t in range(0, 6000, 10)]
    assert sum(on) / len(on) == pytest.approx(0.75)
    decided = frostguard.decide(tick(0, {}, {"air_temperature": -10.0}), spec, ACTUATORS)
    assert decided["vent"].target == 0.0 and decided["vent"].source == "safety"
    assert "screen" not in decided, "screens keep their own rules"
    assert decided["heater"].source == "safety" and "frost guard" in decided["heater"].reason


def test_a_recent_outside_reading_still_counts_an_old_one_does_not():
    spec = FrostGuardDef(outside_max_age_s=3600)
    recent = frostguard.decide(tick(0, {}, {}, {"air_temperature": (-5.0, 1800.0)}), spec, ACTUATORS)
    assert recent["heater"].target is True and "30 min ago" in recent["heater"].reason
    assert frostguard.decide(tick(0, {}, {}, {"air_temperature": (-5.0, 7200.0)}), spec, ACTUATORS) == {}
