"""The greenhouse model against closed forms and its own balances (farmcore.twin.greenhouse)."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from farmcore.errors import ConfigError
from farmcore.twin.greenhouse import (
    PARAMS,
    RHO_CP_AIR,
    Greenhouse,
    GreenhouseParams,
    GreenhouseState,
    absolute_humidity_to_rh,
    co2_kg_m3_to_ppm,
    co2_ppm_to_kg_m3,
    dew_point,
    dump_params,
    load_params,
    params_for,
    rh_to_absolute_humidity,
)
from farmcore.twin.weather import WeatherSample

T0 = datetime(2026, 1, 15, tzinfo=UTC)


def weather(temp: float = 0.0, rh: float = 80.0, sun: float = 0.0, wind: float = 2.0, co2: float = 415.0):
    return WeatherSample(time=T0, air_temperature=temp, relative_humidity=rh, solar_radiation=sun,
                         wind_speed=wind, wind_direction=270.0, rain=0.0, co2=co2)


def run(house: Greenhouse, seconds: float, w: WeatherSample, dt: float = 60.0) -> None:
    for _ in range(round(seconds / dt)):
        house.step(dt, w)


# --- parameter sets --------------------------------------------------------------------------------------

def test_parameter_sets_load_and_carry_the_korean_u_values():
    assert {"single-pe-1000", "double-pe-curtain-1000"} <= PARAMS.keys()
    single, double = PARAMS["single-pe-1000"], PARAMS["double-pe-curtain-1000"]
    assert single.u_value(0.0) == pytest.approx(4.87)
    assert single.u_value(3.0) == pytest.approx(4.87 + 0.54 * 3)  # Mihara & Hayashi
    assert single.side_vent_area > 0 and single.roof_vent_area == 0  # side roll-up vents only
    assert double.u_value(5.0) == pytest.approx(3.85)  # Kim et al. 2018, no wind term
    assert double.u_value(5.0, screen=1.0) == pytest.approx(2.76)  # with the thermal curtain
    assert double.roof_vent_area > 0 and double.side_vent_area > 0
    for p in PARAMS.values():
        assert p.heater_capacity >= 0 and p.co2_capacity > 0 and p.irrigation_rate > 0
        assert params_for(p.name) is p
        Greenhouse(p).step(10.0, weather())


def test_params_toml_round_trip_and_errors(tmp_path):
    p = replace(PARAMS["single-pe-1000"], u_cover=5.5, heat_capacity=41234.5, name="site-7")
    path = tmp_path / "p.toml"
    path.write_text(dump_params(p, "calibrated\non a test"), encoding="utf-8")
    assert load_params(path) == p
    assert params_for(str(path)) == p
    path.write_text('base = "double-pe-curtain-1000"\nleakage = 2e-4\n', encoding="utf-8")
    assert load_params(path) == replace(PARAMS["double-pe-curtain-1000"], leakage=2e-4)
    path.write_text('base = "single-pe-1000"\nu_covr = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p.toml: u_covr: unknown parameter"):
        load_params(path)
    path.write_text('base = "single-pe-1000"\ntransmission = 1.5\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"transmission"):
        load_params(path)
    path.write_text('base = "single-pe-1000"\nleakage = "a lot"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"leakage: expected a number"):
        load_params(path)
    with pytest.raises(ConfigError, match="no such parameter set"):
        params_for("glass-9000")


def test_unit_conversions():
    assert co2_kg_m3_to_ppm(1e-3, 20.0) == pytest.approx(547, abs=1)  # models.md A.7
    assert co2_ppm_to_kg_m3(co2_kg_m3_to_ppm(7.2e-4, 15.0), 15.0) == pytest.approx(7.2e-4)
    ah = rh_to_absolute_humidity(60.0, 20.0)
    assert ah == pytest.approx(10.4e-3, rel=0.02)  # 60 % of 17.3 g m-3
    assert absolute_humidity_to_rh(ah, 20.0) == pytest.approx(60.0)
    assert dew_point(20.0, 100.0) == pytest.approx(20.0, abs=1e-9)
    assert dew_point(20.0, 50.0) == pytest.approx(9.3, abs=0.1)


# --- closed-form checks ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["single-pe-1000", "double-pe-curtain-1000"])
@pytest.mark.parametrize("screen", [0.0, 1.0])
def test_heat_needed_to_hold_delta_t_is_cover_loss_plus_leakage(name, screen):
    p = PARAMS[name]
    t_out, wind, delta = -5.0, 2.0, 15.0
    loss = (p.u_value(wind, screen) * p.cover_ratio + RHO_CP_AIR * p.leakage * wind) * delta  # W m-2
    house = Greenhouse(p, GreenhouseState.at(t_out + delta, 70.0, 420.0))
    house.inputs.thermal_screen = screen
    house.inputs.heating = loss * p.floor_area / p.heater_capacity
    assert 0 < house.inputs.heating < 1
    run(house, 12 * 3600, weather(t_out, wind=wind))
    assert house.state.air_temperature == pytest.approx(t_out + delta, abs=1e-6)
    power = house.state.heating_energy_j / (12 * 3600)
    assert power == pytest.approx(loss * p.floor_area, rel=1e-9)
    # and the balance itself: heat in = cover loss + vent loss (the air temperature did not move)
    s = house.state
    assert s.heating_energy_j == pytest.approx(s.cover_loss_j + s.vent_loss_j, rel=1e-9)


def test_steady_state_with_fixed_heating_power_matches_u_a_delta_t():
    p = PARAMS["single-pe-1000"]
    house = Greenhouse(p, GreenhouseState.at(5.0, 70.0, 420.0))
    house.inputs.heating = 0.5
    run(house, 24 * 3600, weather(0.0, wind=2.0))
    coef = p.u_value(2.0) * p.cover_ratio + RHO_CP_AIR * p.leakage * 2.0
    expected = 0.5 * p.heater_capacity / p.floor_area / coef
    assert house.state.air_temperature == pytest.approx(expected, abs=1e-4)


def test_boundary_exchange_closes_the_heat_balance_and_matches_the_closed_form():
    # a compartment between heated neighbours: UA_b toward a fixed T_b on top of the cover and leakage
    p = replace(PARAMS["single-pe-1000"], boundary_coupling=3.0, boundary_temperature=18.0)
    house = Greenhouse(p, GreenhouseState.at(5.0, 70.0, 420.0))
    house.inputs.heating = 0.5
    run(house, 24 * 3600, weather(0.0, wind=2.0))
    coef = p.u_value(2.0) * p.cover_ratio + RHO_CP_AIR * p.leakage * 2.0
    q = 0.5 * p.heater_capacity / p.floor_area
    expected = (q + coef * 0.0 + 3.0 * 18.0) / (coef + 3.0)
    assert house.state.air_temperature == pytest.approx(expected, abs=1e-4)
    # hold it there another day: heat in = cover + vent + boundary loss, each from its own conductance
    s0 = replace(house.state)
    run(house, 24 * 3600, weather(0.0, wind=2.0))
    s = house.state
    heat = s.heating_energy_j - s0.heating_energy_j
    boundary = s.boundary_loss_j - s0.boundary_loss_j
    assert heat == pytest.approx(s.cover_loss_j - s0.cover_loss_j + s.vent_loss_j - s0.vent_loss_j + boundary,
                                 rel=1e-9)
    assert boundary == pytest.approx(3.0 * (expected - 18.0) * p.floor_area * 24 * 3600, rel=1e-6)
    # a house warmer than the boundary gains nothing from it; a cold one does (negative loss)
    cold = Greenhouse(p, GreenhouseState.at(-5.0, 70.0, 420.0))
    run(cold, 3600, weather(-10.0, wind=2.0))
    assert cold.state.boundary_loss_j < 0.0


def test_boundary_exchange_is_off_in_the_korean_sets():
    for name in ("single-pe-1000", "double-pe-curtain-1000"):
        assert PARAMS[name].boundary_coupling == 0.0


def test_co2_mass_balance_closes():
    p = PARAMS["double-pe-curtain-1000"]
    s0 = GreenhouseState.at(18.0, 70.0, 420.0)
    house = Greenhouse(p, replace(s0))
    house.inputs.co2_dosing = 0.6
    house.inputs.roof_vent = 0.1
    c_start = house.state.co2
    for hour in range(24):  # day and night: photosynthesis, respiration, dosing, venting
        sun = max(0.0, 600.0 * math.sin(math.pi * (hour - 6) / 12))
        run(house, 3600, weather(8.0, 60.0, sun, 2.5, 415.0), dt=30.0)
    s = house.state
    volume = p.mean_height * p.floor_area
    stored = (s.co2 - c_start) * volume
    assert s.co2_dosed_kg == pytest.approx(0.6 * p.co2_capacity * 24 * 3600)
    assert s.co2_crop_kg > 0  # net uptake over a sunny day
    assert stored == pytest.approx(s.co2_dosed_kg - s.co2_vented_kg - s.co2_crop_kg, abs=1e-9 * s.co2_dosed_kg)


def test_water_balances_close_for_air_and_substrate():
    p = PARAMS["single-pe-1000"]
    house = Greenhouse(p, GreenhouseState.at(20.0, 55.0, 420.0, substrate_water=0.55))
    h0, theta0 = house.state.humidity, house.state.substrate_water
    for hour in range(36):
        house.inputs.irrigation = 1.0 if hour % 3 == 0 else 0.0
        house.inputs.side_vent = 0.3 if 9 <= hour % 24 <= 16 else 0.0
        sun = max(0.0, 700.0 * math.sin(math.pi * (hour % 24 - 6) / 12))
        run(house, 3600, weather(12.0, 50.0, sun, 2.0), dt=60.0)
    s = house.state
    vapour_stored = (s.humidity - h0) * p.mean_height * p.floor_area
    assert vapour_stored == pytest.approx(s.transpiration_kg - s.vapour_vented_kg, abs=1e-9 * s.transpiration_kg)
    water_stored = (s.substrate_water - theta0) * p.substrate_volume * 1000.0 * p.floor_area  # L
    assert s.irrigation_l == pytest.approx(12 * p.irrigation_rate * p.floor_area)
    assert s.drain_l > 0
    assert water_stored == pytest.approx(s.irrigation_l - s.transpiration_kg - s.drain_l, abs=1e-6 * s.irrigation_l)


# --- behaviour ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,vent", [("single-pe-1000", "side_vent"), ("double-pe-curtain-1000", "roof_vent")])
def test_open_vents_bring_the_inside_toward_the_outside(name, vent):
    p = PARAMS[name]
    sunny = weather(10.0, 50.0, 700.0, 2.0)
    closed, opened = Greenhouse(p), Greenhouse(p)
    setattr(opened.inputs, vent, 1.0)
    run(closed, 4 * 3600, sunny)
    run(opened, 4 * 3600, sunny)
    t_closed, t_open = closed.state.air_temperature, opened.state.air_temperature
    assert t_closed > t_open > 10.0
    assert t_open - 10.0 < 0.5 * (t_closed - 10.0)
    o_closed, o_open = closed.outputs(), opened.outputs()
    assert abs(o_open["co2"] - 415) < abs(o_closed["co2"] - 415)  # the crop draws CO2 down less


def test_ventilation_flux_matches_the_models_md_worked_check():
    # models.md A.3: 2 x 50 m x 1.2 m side vents fully open, wind 2 m/s, 1000 m² -> 0.027 m3 m-2 s-1
    p = replace(PARAMS["single-pe-1000"], leakage=0.0)
    f = Greenhouse(p).ventilation_flux(0.0, 1.0, 0.0, 20.0, 20.0, 2.0)
    assert f == pytest.approx(0.0274, abs=5e-4)
    # roof vents 100 m² fully open, dT = 13 K, wind 2 m/s -> 0.027 (stack + wind)
    q = replace(PARAMS["double-pe-curtain-1000"], leakage=0.0, roof_vent_area=100.0, side_vent_area=0.0)
    assert Greenhouse(q).ventilation_flux(1.0, 0.0, 0.0, 23.0, 10.0, 2.0) == pytest.approx(0.027, abs=1e-3)


def test_thermal_screen_reduces_heating_energy():
    def night(screen: float) -> float:
        p = PARAMS["double-pe-curtain-1000"]
        house = Greenhouse(p, GreenhouseState.at(15.0, 80.0, 420.0))
        house.inputs.thermal_screen = screen
        for _ in range(12 * 60):  # a thermostat at 15 °C, 0 °C outside
            house.inputs.heating = min(1.0, max(0.0, (15.0 - house.state.air_temperature) * 2.0))
            house.step(60.0, weather(0.0, 85.0, 0.0, 3.0))
        assert house.state.air_temperature == pytest.approx(15.0, abs=1.0)
        return house.state.heating_energy_j

    open_j, closed_j = night(0.0), night(1.0)
    assert closed_j < 0.8 * open_j


def test_irrigation_raises_and_drain_lowers_substrate_water():
    p = PARAMS["single-pe-1000"]
    house = Greenhouse(p, GreenhouseState.at(18.0, 70.0, 420.0, substrate_water=0.5))
    dark = weather(10.0, 70.0, 0.0, 1.0)
    house.inputs.irrigation = 1.0
    run(house, 3600, dark, dt=10.0)
    wet = house.state.substrate_water
    assert wet > p.field_capacity  # 5 L m-2 on 8 L m-2 of slab tops it up beyond field capacity
    assert house.state.drain_l > 0
    house.inputs.irrigation = 0.0
    drained_before = house.state.drain_l
    run(house, 2 * 3600, dark, dt=10.0)
    assert house.state.substrate_water < wet
    assert house.state.substrate_water == pytest.approx(p.field_capacity, abs=0.01)
    assert house.state.drain_l > drained_before
    assert house.outputs()["soil_moisture"] == pytest.approx(100 * house.state.substrate_water)


def test_pipe_heat_and_the_pipe_cooling_after_the_pump_stops():
    p = PARAMS["venlo-glass-96"]
    house = Greenhouse(p, GreenhouseState.at(15.0, 80.0, 420.0))
    house.inputs.pipe_temperature = 45.0
    house.inputs.heating = 1.0  # ignored while the pipe temperature is given
    run(house, 600, weather(5.0), dt=10.0)
    assert house.state.air_temperature > 15.0
    first = house.state.heating_energy_j
    assert first == pytest.approx(p.pipe_coefficient * 30 * p.floor_area * 600, rel=0.2)
    house.inputs.pipe_temperature = 0.0  # logger reads 0: pump off, the water still gives its heat
    run(house, 1800, weather(5.0), dt=10.0)
    pipe = house.state.pipe_water_temperature
    assert house.state.air_temperature < pipe < 45.0
    assert house.state.heating_energy_j > first


def test_outputs_in_the_project_vocabulary():
    house = Greenhouse(PARAMS["venlo-glass-96"])
    house.inputs.lighting = 0.5
    house.step(10.0, weather(5.0, 80.0, 400.0))
    out = house.outputs()
    assert set(out) == {"air_temperature", "relative_humidity", "co2", "dew_point", "soil_moisture", "par",
                        "solar_radiation", "leaf_temperature", "pipe_temperature", "groundwater_temperature",
                        "drain_pct"}
    assert out["solar_radiation"] == pytest.approx(0.85 * 400)
    assert out["par"] == pytest.approx(0.85 * 400 * 2.3 + 0.5 * 325)
    assert out["dew_point"] < out["air_temperature"]
    assert 0 < out["relative_humidity"] <= 100


def test_stable_and_consistent_at_sixty_second_steps():
    p = PARAMS["double-pe-curtain-1000"]
    stormy = weather(-3.0, 90.0, 300.0, 20.0)
    fine, coarse = Greenhouse(p), Greenhouse(p)
    for house in (fine, coarse):
        house.inputs.roof_vent = house.inputs.side_vent = 1.0
        house.inputs.co2_dosing = 1.0
    run(fine, 3600, stormy, dt=1.0)
    run(coarse, 3600, stormy, dt=60.0)
    big = Greenhouse(p)
    big.inputs.roof_vent = big.inputs.side_vent = big.inputs.co2_dosing = 1.0
    big.step(3600.0, stormy)  # one long call sub-steps internally
    for house in (coarse, big):
        assert house.state.air_temperature == pytest.approx(fine.state.air_temperature, abs=0.05)
        assert house.state.co2 == pytest.approx(fine.state.co2, rel=0.01)
        assert house.state.humidity == pytest.approx(fine.state.humidity, rel=0.01)


def test_speed_one_zone_ten_second_steps():
    house = Greenhouse(PARAMS["single-pe-1000"])
    house.inputs.side_vent, house.inputs.heating = 0.3, 0.2
    w = weather(5.0, 70.0, 300.0, 2.0)
    steps = 8640  # one simulated day
    started = time.perf_counter()
    for _ in range(steps):
        house.step(10.0, w)
    rate = steps * 10.0 / (time.perf_counter() - started)
    assert rate >= 10_000, f"{rate:.0f} simulated seconds per wall second"


def test_bad_params_refused():
    with pytest.raises(ValueError, match="floor_area"):
        replace(PARAMS["single-pe-1000"], floor_area=0.0)
    with pytest.raises(ValueError, match="screen_u_reduction"):
        GreenhouseParams(**{**PARAMS["single-pe-1000"].__dict__, "screen_u_reduction": 1.5})
    with pytest.raises(ValueError):
        Greenhouse(PARAMS["single-pe-1000"]).step(-1.0, weather())
