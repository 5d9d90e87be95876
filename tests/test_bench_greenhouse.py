"""The greenhouse benchmark's machinery on very short runs: its JSON line, figures taken from the twin's model,
the cold waves of its weather and the climate computer's screen rule."""

from __future__ import annotations

import math
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

# appended: benchmarks/portal.py must not shadow the `portal` package for the portal tests in this process
sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))

import control_greenhouse
from gh_baselines import ClimateComputer
from gh_metrics import FIGURES, Meter, figures
from gh_weather import SEASONS, ColdSpellWeather, Season

from farmcore.runtime.controller import ActuatorView, TickInput
from farmcore.twin.greenhouse import PARAMS, Greenhouse, GreenhouseState
from farmcore.twin.weather import SyntheticWeather, WeatherSample

HOUSE = PARAMS["double-pe-curtain-1000"]
NOON = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)  # 12:00 in Seoul


def test_two_hour_run_gives_every_figure_for_every_controller(capsys: pytest.CaptureFixture[str]) -> None:
    result = control_greenhouse.main(["--seeds", "1", "--winter-days", str(2 / 24), "--shoulder-days", "0",
                                      "--summer-days", "0", "--warmup-days", "0", "--jobs", "1"])
    assert capsys.readouterr().out.count("\n") == 1  # one JSON line
    for name in ("ours", "baseline", "thermostat"):
        entry = result[name]
        for key in FIGURES:
            assert key in entry and f"{key}_range" in entry, (name, key)
        assert set(entry["seasons"]) == {"winter"}
        assert entry["heating_kwh"] > 0  # a December night is heated by all three
        assert entry["light_lost_pct"] == 0  # 00:00-02:00: no light to lose
    assert set(result["targets"]) == {"rh90_not_more", "condensation_not_more", "winter_light_lost_le_2pct",
                                      "in_band_not_less", "heating_not_more"}


def test_a_run_reads_site_and_recipe_once_so_an_edit_during_it_cannot_mix_in(
        monkeypatch: pytest.MonkeyPatch) -> None:
    control_greenhouse.load_inputs()  # what main() does before forking its workers

    def edited(*_: object) -> None:
        raise AssertionError("a job read the site or recipe files again")

    monkeypatch.setattr(control_greenhouse, "load_site", edited)
    monkeypatch.setattr(control_greenhouse, "load_recipe", edited)
    season = Season("winter", date(2025, 12, 1), 1 / 24)
    name, _, _, result, _ = control_greenhouse.job(("baseline", season, 1, 0, 10.0, SEASONS))
    assert name == "baseline" and result["sums"]["seconds"] == 3600


def _two_hours_by_day(screen: float) -> dict[str, float | None]:
    model = Greenhouse(HOUSE, GreenhouseState.at(20.0, 80.0, 420.0, dry_weight=HOUSE.initial_dry_weight))
    model.inputs.thermal_screen = screen
    meter = Meter(model)
    meter.begin()
    w = WeatherSample(NOON, 2.0, 60.0, 400.0, 2.0, 315.0, 0.0)
    for _ in range(720):
        model.step(10.0, w)
        meter.after_step(10.0, w, 20.0, 5.0, counting=True)
    return figures(meter.finish(starts=0))


def test_light_lost_to_screens_is_measured_on_the_model() -> None:
    assert _two_hours_by_day(0.0)["light_lost_pct"] == 0.0  # screens open: nothing lost
    lost = _two_hours_by_day(1.0)["light_lost_pct"]  # a drawn screen takes what it does not transmit
    assert HOUSE.screen_transmission < 1.0 and lost == pytest.approx(100 * (1 - HOUSE.screen_transmission), rel=1e-6)


def test_condensation_and_wet_hours_come_from_the_model() -> None:
    # a heated house on a cold night, starting humid: the canopy radiates to the cold cover and is wetted
    model = Greenhouse(HOUSE, GreenhouseState.at(10.0, 97.0, 420.0, dry_weight=HOUSE.initial_dry_weight))
    model.inputs.heating = 1.0
    meter = Meter(model)
    meter.begin()
    w = WeatherSample(NOON - timedelta(hours=12), -8.0, 90.0, 0.0, 0.5, 315.0, 0.0)
    wet_s = cond_s = 0.0
    for _ in range(720):
        model.step(10.0, w)
        meter.after_step(10.0, w, 18.0, 5.0, counting=True)
        out = model.outputs()
        wet_s += 10.0 * (out["relative_humidity"] >= 90.0)
        cond_s += 10.0 * (out.get("leaf_temperature", meter.leaf(out, w, 0.0)) < out["dew_point"])
    f = figures(meter.finish(starts=3))
    assert f["condensation_hours"] == pytest.approx(cond_s / 3600) and cond_s > 600
    assert f["rh90_hours"] == pytest.approx(wet_s / 3600) and wet_s > 600
    if hasattr(model.state, "condensation_s"):  # the twin's own counter agrees to a few steps
        assert abs(model.state.condensation_s - cond_s) <= 60.0
    assert f["actuator_starts"] == 3 and f["heating_kwh"] == pytest.approx(90.0 * 2, rel=1e-6)


def test_cold_waves_are_cold_dry_and_leave_other_days_alone() -> None:
    base = SyntheticWeather(36.35, 128.70, seed=7)
    weather = ColdSpellWeather(base, 7, [2025])
    assert 2 <= len(weather.waves) <= 3
    for wave in weather.waves:
        core = (wave.start_s + wave.end_s) / 2
        hours = [datetime.fromtimestamp(core + 3600 * h, UTC) for h in range(-24, 24)]
        samples = [weather.sample(t) for t in hours]
        assert min(s.air_temperature for s in samples) < -10.0
        assert all(s.rain == 0.0 for s in samples)
        dry = [s.relative_humidity for s in samples]
        wet = [base.sample(t).relative_humidity for t in hours]
        assert sum(dry) / len(dry) < sum(wet) / len(wet)  # dew point lowered beyond the cooling
    quiet = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)
    assert weather.sample(quiet) == base.sample(quiet)
    assert weather.waves == ColdSpellWeather(SyntheticWeather(36.35, 128.70, seed=7), 7, [2025]).waves  # seeded


def _screen_decision(outside: float, radiation: float, hour: int) -> float:
    tz = ZoneInfo("Asia/Seoul")
    local = datetime(2026, 1, 15, hour, 0, tzinfo=tz)
    sun = (local.replace(hour=7, minute=40), local.replace(hour=17, minute=35))
    view = ActuatorView("thermal_screen", "thermal_screen", "retractable", 100.0, 100.0, None, False)
    inp = TickInput(local.timestamp(), local.astimezone(UTC), local, 10.0,
                    {"air_temperature": 18.0, "relative_humidity": 70.0, "co2": 420.0}, {},
                    {"air_temperature": outside, "solar_radiation": radiation, "wind_speed": 1.0,
                     "wind_direction": 315.0, "relative_humidity": 60.0, "rain_detected": 0.0},
                    {"air_temperature": 18.0, "relative_humidity": 85.0}, {"screens": {
                        "close_below_outside_day": 5.0, "close_below_outside_night": 10.0}}, sun,
                    {"thermal_screen": view})
    target = ClimateComputer().tick(inp).decisions["thermal_screen"].target
    assert isinstance(target, float) and not math.isnan(target)
    return target


def test_climate_computer_screen_by_outside_temperature_and_radiation() -> None:
    assert _screen_decision(-5.0, 0.0, 23) == 0.0  # cold and dark: closed
    assert _screen_decision(-5.0, 300.0, 12) == 100.0  # cold but light: open
    assert _screen_decision(-5.0, 20.0, 8) == 0.0  # cold and a dull dawn: closed
    assert _screen_decision(12.0, 0.0, 23) == 100.0  # mild night: open


def test_seasons_are_a_whole_winter_a_shoulder_and_a_summer_fortnight() -> None:
    winter = next(s for s in SEASONS if s.name == "winter")
    assert winter.start == date(2025, 12, 1) and winter.days == 90
    assert {s.name: s.days for s in SEASONS if s.name != "winter"} == {"shoulder": 14, "summer": 14}
