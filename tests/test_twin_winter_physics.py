"""The twin's winter physics (issue 16): screens that take light by their transmission, the crop canopy's
temperature and its wet hours, a hot-water loop behind a mixing valve, the Korean water curtain, the drain
reading of the last irrigation event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from farmcore.twin.greenhouse import PARAMS, Greenhouse, GreenhouseState, dew_point
from farmcore.twin.weather import WeatherSample

T0 = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
CURTAIN_HOUSE = PARAMS["single-double-pe-watercurtain-1000"]


def weather(temp: float, rh: float = 80.0, sun: float = 0.0, wind: float = 1.0) -> WeatherSample:
    return WeatherSample(time=T0, air_temperature=temp, relative_humidity=rh, solar_radiation=sun,
                         wind_speed=wind, wind_direction=0.0, rain=0.0)


def run(house: Greenhouse, seconds: float, w: WeatherSample, dt: float = 10.0) -> None:
    for _ in range(round(seconds / dt)):
        house.step(dt, w)


# ------------------------------------------------------------------------------------------------ screens

@pytest.mark.parametrize("name", ["single-pe-1000", "double-pe-curtain-1000", "single-double-pe-watercurtain-1000"])
def test_a_drawn_thermal_screen_passes_only_its_transmission(name: str) -> None:
    p = PARAMS[name]
    assert p.screen_transmission < 0.9  # every shipped house's screen takes light
    house = Greenhouse(p)
    house.inputs.thermal_screen = 1.0
    house.step(60.0, weather(0.0, sun=400.0))
    assert house.outputs()["solar_radiation"] == pytest.approx(p.transmission * p.screen_transmission * 400.0)


def test_half_drawn_screens_and_the_light_counters() -> None:
    p = PARAMS["double-pe-curtain-1000"]  # clear energy screen 0.83, 50 % shade screen
    house = Greenhouse(p)
    house.inputs.thermal_screen, house.inputs.shade_screen = 0.5, 0.5
    run(house, 3600.0, weather(2.0, sun=300.0))
    inside = p.transmission * 300.0 * (1 - 0.5 * (1 - 0.83)) * (1 - 0.5 * (1 - 0.5))
    assert house.outputs()["solar_radiation"] == pytest.approx(inside)
    s = house.state
    assert s.light_unscreened_j_m2 == pytest.approx(p.transmission * 300.0 * 3600.0)
    assert s.light_inside_j_m2 == pytest.approx(inside * 3600.0)
    lost_pct = 100 * (1 - s.light_inside_j_m2 / s.light_unscreened_j_m2)
    assert lost_pct == pytest.approx(100 * (1 - 0.915 * 0.75))
    house.inputs.thermal_screen = house.inputs.shade_screen = 0.0  # open: the counters grow alike
    run(house, 600.0, weather(2.0, sun=300.0))
    assert s.light_inside_j_m2 - inside * 3600.0 == pytest.approx(s.light_unscreened_j_m2 - p.transmission * 300 * 3600)


# ------------------------------------------------------------------------------------------------ canopy

def test_canopy_below_the_air_under_a_bare_film_on_a_clear_cold_night() -> None:
    house = Greenhouse(PARAMS["single-pe-1000"], GreenhouseState.at(12.0, 80.0, 450.0))
    house.inputs.heating = 0.6
    run(house, 7200.0, weather(-8.0, wind=0.5))
    out = house.outputs()
    assert out["air_temperature"] - out["leaf_temperature"] > 1.0


def test_canopy_near_the_air_under_a_closed_screen() -> None:
    house = Greenhouse(PARAMS["single-pe-1000"], GreenhouseState.at(12.0, 80.0, 450.0))
    house.inputs.heating, house.inputs.thermal_screen = 0.6, 1.0
    run(house, 7200.0, weather(-8.0, wind=0.5))
    out = house.outputs()
    assert 0.0 <= out["air_temperature"] - out["leaf_temperature"] < 0.5


def test_sun_warms_the_canopy_above_the_air() -> None:
    house = Greenhouse(PARAMS["single-pe-1000"], GreenhouseState.at(18.0, 70.0, 450.0))
    house.inputs.side_vent = 0.3
    run(house, 3600.0, weather(5.0, sun=600.0))
    assert house.outputs()["leaf_temperature"] > house.outputs()["air_temperature"]


def test_condensation_seconds_count_while_the_canopy_is_below_the_dew_point() -> None:
    house = Greenhouse(PARAMS["single-pe-1000"], GreenhouseState.at(12.0, 97.0, 450.0))
    house.inputs.heating = 0.6
    run(house, 1800.0, weather(-8.0, rh=90.0, wind=0.5))
    out = house.outputs()  # cooling humid air over a canopy colder still: wet leaves
    assert out["leaf_temperature"] < dew_point(out["air_temperature"], out["relative_humidity"])
    assert 1000.0 < house.state.condensation_s <= 1800.0
    dry = Greenhouse(PARAMS["single-pe-1000"], GreenhouseState.at(12.0, 60.0, 450.0))
    dry.inputs.heating, dry.inputs.thermal_screen = 0.6, 1.0
    run(dry, 3600.0, weather(-8.0, rh=60.0, wind=0.5))
    assert dry.state.condensation_s == 0.0


# ------------------------------------------------------------------------------------------------ hot-water loop

def loop_house(**kw: float) -> Greenhouse:
    house = Greenhouse(CURTAIN_HOUSE, GreenhouseState.at(10.0, 80.0, 450.0, **kw))
    house.inputs.boiler = 1.0
    return house


def test_a_closed_mixing_valve_gives_no_heat() -> None:
    hot, cold = loop_house(boiler_temperature=80.0), loop_house(boiler_temperature=10.0)
    for house in (hot, cold):
        house.inputs.mixing_valve = 0.0
        run(house, 3600.0, weather(-5.0))
    s = hot.state
    assert s.air_temperature == pytest.approx(cold.state.air_temperature)  # the boiler's heat stays in the boiler
    assert s.pipe_water_temperature < 10.0  # the pipes only follow the cooling air
    held = CURTAIN_HOUSE.pipe_capacity * CURTAIN_HOUSE.floor_area * (10.0 - s.pipe_water_temperature)
    assert s.heating_energy_j == pytest.approx(held, rel=0.05)  # what the pipes' own water held, no more
    assert s.boiler_temperature == pytest.approx(CURTAIN_HOUSE.boiler_high_limit)
    p = PARAMS["single-pe-1000"]  # a house without a loop (or a curtain) is what it was: commands change nothing
    plain, commanded = Greenhouse(p), Greenhouse(p)
    commanded.inputs.boiler = commanded.inputs.mixing_valve = commanded.inputs.water_curtain = 1.0
    for house in (plain, commanded):
        run(house, 3600.0, weather(-2.0))
    assert commanded.state == plain.state and plain.state.boiler_temperature is None


def test_the_loop_heats_the_air_through_the_pipes_only() -> None:
    cold, warm = loop_house(boiler_temperature=80.0), loop_house(boiler_temperature=80.0)
    warm.inputs.mixing_valve = 1.0
    for house in (cold, warm):
        run(house, 3600.0, weather(-5.0))
    s = warm.state
    assert s.pipe_water_temperature > 30.0
    assert warm.state.air_temperature > cold.state.air_temperature + 3.0
    assert s.heating_energy_j > 50 * 3.6e6  # kWh into the air: pipe_coefficient·(T_pipe - T_air)
    assert s.boiler_heat_j > s.heating_energy_j * 0.8
    assert s.boiler_fuel_j == pytest.approx(s.boiler_heat_j / CURTAIN_HOUSE.boiler_efficiency)
    no_boiler = loop_house(boiler_temperature=80.0)  # the boiler off: its hot water runs out
    no_boiler.inputs.boiler, no_boiler.inputs.mixing_valve = 0.0, 1.0
    run(no_boiler, 3 * 3600.0, weather(-5.0))
    assert no_boiler.state.boiler_heat_j == 0.0 and no_boiler.state.boiler_temperature < 30.0


def test_the_boilers_high_limit_holds() -> None:
    house = loop_house()
    house.inputs.mixing_valve = 0.05
    hottest = 0.0
    for _ in range(2 * 360):
        house.step(10.0, weather(5.0))
        hottest = max(hottest, house.state.boiler_temperature or 0.0)
    assert hottest == pytest.approx(CURTAIN_HOUSE.boiler_high_limit)
    # at the limit it fires only what the pipes take, far below its capacity
    before = house.state.boiler_heat_j
    run(house, 3600.0, weather(5.0))
    assert 0 < house.state.boiler_heat_j - before < 0.5 * CURTAIN_HOUSE.boiler_capacity * 3600


# ------------------------------------------------------------------------------------------------ water curtain

def heat_to_keep(house: Greenhouse, setpoint: float, hours: float, w: WeatherSample) -> float:
    """kWh the loop gave the air to hold `setpoint` (valve by a simple on/off thermostat)."""
    for _ in range(round(hours * 360)):
        house.inputs.mixing_valve = 1.0 if house.state.air_temperature < setpoint else 0.0
        house.step(10.0, w)
    return house.state.heating_energy_j / 3.6e6


def test_the_water_curtain_cuts_the_heat_of_a_minus_ten_night() -> None:
    bare = loop_house(boiler_temperature=80.0, pipe_water_temperature=40.0)
    curtain = loop_house(boiler_temperature=80.0, pipe_water_temperature=40.0)
    curtain.inputs.water_curtain = 1.0
    night = weather(-10.0, rh=70.0)
    without, with_curtain = heat_to_keep(bare, 8.0, 12, night), heat_to_keep(curtain, 8.0, 12, night)
    assert with_curtain < 0.6 * without
    for house in (bare, curtain):
        assert 7.5 < house.state.air_temperature < 9.0
    s = curtain.state
    assert s.curtain_water_l == pytest.approx(CURTAIN_HOUSE.curtain_flow * 12 * CURTAIN_HOUSE.floor_area)
    assert s.curtain_pump_j == pytest.approx(CURTAIN_HOUSE.curtain_pump_power * 12 * 3600)
    assert s.curtain_heat_j > 0 and bare.state.curtain_heat_j == 0.0
    # the canopy sees the film (warmer than a bare cover): nearer the air than under the bare double film
    gap = {id(h): h.outputs()["air_temperature"] - h.outputs()["leaf_temperature"] for h in (bare, curtain)}
    assert gap[id(curtain)] < gap[id(bare)]


def test_the_film_warms_an_unheated_house_toward_groundwater() -> None:
    bare, curtain = Greenhouse(CURTAIN_HOUSE), Greenhouse(CURTAIN_HOUSE)
    curtain.inputs.water_curtain = 1.0
    for house in (bare, curtain):
        run(house, 12 * 3600.0, weather(-10.0))
    assert bare.state.air_temperature < -8.0
    assert curtain.state.air_temperature > 2.0
    before = curtain.state.curtain_heat_j
    run(curtain, 3600.0, weather(-10.0))
    assert curtain.state.curtain_heat_j < before  # settled: the film gives the heat the leaks take
    assert curtain.outputs()["groundwater_temperature"] == 15.0
    colder = Greenhouse(CURTAIN_HOUSE)
    colder.inputs.water_curtain, colder.inputs.groundwater_temperature = 1.0, 10.0
    run(colder, 12 * 3600.0, weather(-10.0))
    assert colder.state.air_temperature < curtain.state.air_temperature - 1.0


# ------------------------------------------------------------------------------------------------ drain

def test_drain_pct_of_the_last_irrigation_event() -> None:
    p = replace(PARAMS["single-pe-1000"], drain_rate=1.0 / 300.0)
    house = Greenhouse(p, GreenhouseState(substrate_water=0.69))
    assert house.outputs()["drain_pct"] == 0.0  # no event yet
    house.inputs.irrigation = 1.0
    run(house, 600.0, weather(10.0))
    house.inputs.irrigation = 0.0
    during = house.outputs()["drain_pct"]
    run(house, 1800.0, weather(10.0))
    after = house.outputs()["drain_pct"]
    s = house.state
    assert 0.0 < during < after < 100.0
    assert after == pytest.approx(100.0 * s.event_drain_l / s.event_irrigation_l)
    assert s.event_irrigation_l == pytest.approx(p.irrigation_rate * 600 / 3600 * p.floor_area)
    house.inputs.irrigation = 1.0  # the next event starts its own count
    house.step(10.0, weather(10.0))
    assert house.state.event_irrigation_l == pytest.approx(p.irrigation_rate * 10 / 3600 * p.floor_area)
    assert house.outputs()["drain_pct"] < after
