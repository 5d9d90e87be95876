"""Closed-form checks of the tank model (farmcore.twin.tank) against shared/reference/models.md Part B."""

import dataclasses
import math

import pytest

from farmcore.twin.tank import (
    OLIVE_FLOUNDER,
    PARAMS,
    SPECIES,
    STARRY_FLOUNDER,
    Tank,
    TankState,
    do_saturation,
    garcia_gordon_mg_l,
    kla_at,
    nh3_fraction,
    rho_cp,
)

# models.md B.2 check table: (t degC, S, P atm, C* mg/L)
SATURATION_TABLE = [
    (10, 0, 1.0, 11.288), (15, 0, 1.0, 10.084), (20, 0, 1.0, 9.092), (25, 0, 1.0, 8.263), (30, 0, 1.0, 7.559),
    (15, 32, 1.0, 8.286), (20, 32, 1.0, 7.528), (25, 32, 1.0, 6.889), (28, 30, 1.0, 6.624),
    (20, 0, 0.95, 8.627),
]


@pytest.mark.parametrize(("t", "s", "p", "expected"), SATURATION_TABLE)
def test_do_saturation_matches_check_table(t, s, p, expected):
    assert do_saturation(t, s, p) == pytest.approx(expected, abs=0.001)


@pytest.mark.parametrize(("t", "s", "p", "expected"), [row for row in SATURATION_TABLE if row[2] == 1.0])
def test_garcia_gordon_agrees_with_benson_krause_on_the_table(t, s, p, expected):
    assert garcia_gordon_mg_l(t, s) == pytest.approx(expected, abs=0.002)
    assert abs(garcia_gordon_mg_l(t, s) - do_saturation(t, s)) <= 0.001


def test_garcia_gordon_agrees_with_benson_krause_over_the_valid_range():
    worst = max(abs(garcia_gordon_mg_l(t, s) - do_saturation(t, s))
                for t in range(0, 41, 2) for s in range(0, 41, 4))
    assert worst <= 0.005


def test_pressure_correction_is_identity_at_one_atm_and_monotonic():
    assert do_saturation(18.0, 10.0, 1.0) == do_saturation(18.0, 10.0)
    assert do_saturation(18.0, 10.0, 0.9) < do_saturation(18.0, 10.0, 0.95) < do_saturation(18.0, 10.0)


@pytest.mark.parametrize(("t", "factor"), [(10, 0.789), (15, 0.888), (20, 1.000), (25, 1.126), (28, 1.209)])
def test_kla_temperature_factor_table(t, factor):
    assert kla_at(1.0, t) == pytest.approx(factor, abs=0.0005)
    assert kla_at(5.0, t) == pytest.approx(5.0 * factor, abs=0.003)


@pytest.mark.parametrize(("t", "ph", "percent"), [(20, 7.5, 1.24), (20, 8.0, 3.81), (25, 8.0, 5.37), (28, 8.0, 6.54)])
def test_unionised_ammonia_table(t, ph, percent):
    assert 100.0 * nh3_fraction(t, ph) == pytest.approx(percent, abs=0.005)


# ---- the tank ----------------------------------------------------------------------------------


def _empty_tank(t_c: float, salinity: float = 0.0, do0: float = 2.0) -> Tank:
    """No fish, no exchange, no losses to the room, no microbial demand: only aeration acts."""
    params = dataclasses.replace(
        PARAMS["trout-10m3"], salinity_psu=salinity, fish_count=0, ua_w_k=0.0, heterotrophic_o2_mg_l_h=0.0,
        nitrification_k_h=0.0, initial_tan_mg_l=0.0, initial_temperature_c=t_c)
    tank = Tank(params)
    tank.state.do_mg_l = do0
    return tank


@pytest.mark.parametrize(("t_c", "salinity", "dt"), [(10.0, 0.0, 10.0), (25.0, 0.0, 60.0), (20.0, 32.0, 30.0)])
def test_reaeration_curve_is_exponential_with_the_configured_kla(t_c, salinity, dt):
    tank = _empty_tank(t_c, salinity)
    tank.inputs.aerators = [1.0, 0.0]
    c_sat = do_saturation(t_c, salinity)
    c0 = tank.state.do_mg_l
    ts, ys = [], []
    for _ in range(30):  # 30 samples, one every 2 min
        tank.advance(120.0, room_temperature_c=t_c, dt_s=dt)
        ts.append(tank.state.time_s / 3600.0)
        ys.append(math.log((c_sat - tank.state.do_mg_l) / (c_sat - c0)))
    kla_fit = -sum(t * y for t, y in zip(ts, ys, strict=True)) / sum(t * t for t in ts)  # slope through 0
    expected = kla_at(tank.params.aerators[0].kla20_h, t_c)
    assert kla_fit == pytest.approx(expected, rel=0.01)
    assert kla_fit == pytest.approx(tank.kla_h(), rel=1e-9)
    assert tank.state.temperature_c == t_c


def _busy_flounder_tank() -> Tank:
    """A run that exercises every oxygen, heat and TAN flow, including hypoxia and supersaturation."""
    tank = Tank(PARAMS["flounder-10m3"])
    inp = tank.inputs
    inp.aerators, inp.exchange_pump, inp.heater, inp.o2_valve = [1.0, 1.0], 1.0, 0.6, 0.5
    inp.pending_feed_kg = 1.3
    tank.advance(3 * 3600, room_temperature_c=15.0, dt_s=30.0, hour=20.0)
    inp.aerators, inp.o2_valve, inp.heater, inp.chiller = [0.0, 0.0], 0.0, 0.0, 1.0  # to hypoxia
    tank.advance(2 * 3600, room_temperature_c=25.0, dt_s=60.0, hour=23.0)
    inp.o2_valve, inp.exchange_pump, inp.chiller = 1.0, 0.0, 0.0  # pure O2 + one blower: supersaturated,
    inp.aerators = [1.0, 0.0]  # the blower strips the excess
    tank.advance(3 * 3600, room_temperature_c=25.0, dt_s=20.0, hour=1.0)
    assert tank.state.do_mg_l > do_saturation(tank.state.temperature_c, tank.params.salinity_psu)
    return tank


def test_oxygen_heat_tan_and_feed_balances_close():
    tank = _busy_flounder_tank()
    s0, s, vol = TankState.initial(tank.params), tank.state, tank.params.volume_m3
    assert s.o2_fish_g > 0 and s.o2_bio_g > 0 and s.o2_injected_g > 0 and s.o2_exchange_g != 0
    assert s.o2_aeration_g != 0 and s.deaths > 0  # the hypoxic phase killed fish
    o2_in = s.o2_aeration_g + s.o2_injected_g + s.o2_exchange_g - s.o2_fish_g - s.o2_bio_g
    assert vol * (s.do_mg_l - s0.do_mg_l) == pytest.approx(o2_in, abs=1e-6 * s.o2_fish_g)

    heat_in = s.heat_heater_j - s.heat_chiller_j + s.heat_exchange_j + s.heat_room_j
    stored = rho_cp(tank.params.salinity_psu) * vol * (s.temperature_c - s0.temperature_c)
    assert stored == pytest.approx(heat_in, abs=1e-6 * s.heat_heater_j)
    assert s.heat_j == s.heat_heater_j - s.heat_chiller_j

    tan_in = s.tan_excreted_g - s.tan_nitrified_g + s.tan_exchange_g
    assert vol * (s.tan_mg_l - s0.tan_mg_l) == pytest.approx(tan_in, abs=1e-6 * s.tan_excreted_g)

    assert s.feed_given_kg == pytest.approx(1.3)
    assert s.feed_eaten_kg + s.feed_wasted_kg + tank.inputs.pending_feed_kg == pytest.approx(1.3)
    assert s.feed_eaten_kg == pytest.approx(s.gut_feed_kg + s.growth_optimal_kg * OLIVE_FLOUNDER.fcr)
    assert s.growth_kg < s.growth_optimal_kg  # the hypoxic phase cost growth

    # consumables: O2 gas at capacity x valve, water at flow x pump, blower energy at power x time
    assert s.o2_gas_used_g == pytest.approx(200.0 * (3 * 0.5 + 3 * 1.0))
    assert s.o2_injected_g == pytest.approx(0.6 * s.o2_gas_used_g)
    assert s.water_exchanged_m3 == pytest.approx(6.0 * 5)
    assert s.aeration_energy_j == pytest.approx(2 * 750.0 * 3 * 3600 + 750.0 * 3 * 3600)
    assert s.chiller_energy_j == pytest.approx(8000.0 / 3.0 * 2 * 3600)


def test_step_is_stable_and_consistent_at_60_s():
    runs = {}
    for dt in (1.0, 60.0):
        tank = Tank(PARAMS["flounder-10m3"])
        tank.inputs.aerators, tank.inputs.exchange_pump, tank.inputs.heater = [1.0, 0.0], 1.0, 1.0
        tank.inputs.pending_feed_kg = 1.3
        tank.advance(2 * 3600, room_temperature_c=18.0, dt_s=dt, hour=6.0)
        tank.inputs.aerators = [0.0, 0.0]
        tank.advance(3600, room_temperature_c=18.0, dt_s=dt, hour=8.0)
        runs[dt] = tank.outputs()
    for key in ("dissolved_oxygen", "water_temperature", "tan", "biomass"):
        assert runs[60.0][key] == pytest.approx(runs[1.0][key], rel=0.005, abs=0.01), key


def test_tripped_aerator_gives_no_transfer_no_power_and_zero_current():
    tanks = {name: Tank(PARAMS["flounder-10m3"]) for name in ("off", "tripped", "running")}
    tanks["tripped"].inputs.aerators = [1.0, 0.0]
    tanks["tripped"].inputs.aerator_failed = [True, False]
    tanks["running"].inputs.aerators = [1.0, 0.0]
    for tank in tanks.values():
        tank.inputs.exchange_pump = 1.0
        tank.advance(1800, room_temperature_c=20.0)
    off, tripped, running = (tanks[n] for n in ("off", "tripped", "running"))
    assert tripped.state.do_mg_l == off.state.do_mg_l
    assert tripped.state.o2_aeration_g == off.state.o2_aeration_g
    assert tripped.state.aeration_energy_j == 0.0
    assert tripped.kla_h() == 0.0
    assert tripped.outputs()["aerator_1_current"] == 0.0
    assert running.outputs()["aerator_1_current"] == pytest.approx(4.0)
    assert running.outputs()["aerator_2_current"] == 0.0
    assert running.state.do_mg_l > off.state.do_mg_l + 1.0


def test_high_biomass_at_night_without_aeration_loses_do_and_recovers_with_it():
    tank = Tank(PARAMS["flounder-10m3"])
    tank.inputs.exchange_pump = 1.0
    assert tank.fish_ocr_g_h(hour=2.0) > tank.fish_ocr_g_h() > tank.fish_ocr_g_h(hour=14.0)  # nocturnal
    start = tank.state.do_mg_l
    tank.advance(1200, room_temperature_c=20.0, hour=2.0)
    assert tank.state.do_mg_l < min(start - 2.5, 4.0)  # ~9 mg/L/h net demand at 39 kg/m3: warning in 20 min
    tank.advance(600, room_temperature_c=20.0, hour=2 + 1 / 3)
    assert tank.state.do_mg_l < OLIVE_FLOUNDER.do_crit_mg_l  # critical in 30 min
    tank.inputs.aerators = [1.0, 1.0]
    tank.advance(3600, room_temperature_c=20.0, hour=2.5)
    assert tank.state.do_mg_l > 6.0
    assert tank.state.deaths == 0.0


def test_prolonged_hypoxia_kills_fish():
    tank = Tank(PARAMS["flounder-10m3"])
    tank.advance(4 * 3600, room_temperature_c=20.0)  # no aeration, no exchange
    assert tank.state.do_mg_l < OLIVE_FLOUNDER.do_lethal_mg_l
    assert tank.state.deaths > 0.1 * tank.params.fish_count
    assert tank.outputs()["biomass"] < 0.9 * tank.params.fish_count * tank.params.mean_weight_g / 1000.0


def test_feed_raises_tan_oxygen_demand_and_biomass():
    fed = Tank(PARAMS["flounder-10m3"])
    fed.inputs.aerators, fed.inputs.exchange_pump = [1.0, 1.0], 1.0
    fasted = fed.clone()
    fed.inputs.pending_feed_kg = 1.3
    fed.advance(900, room_temperature_c=20.0)
    assert fed.state.feed_eaten_kg > 0.9 * 1.3  # ~95 % within 15 min
    assert fed.state.feed_wasted_kg < 1e-9
    fasted.advance(900, room_temperature_c=20.0)
    fed.advance(2 * 3600, room_temperature_c=20.0)
    fasted.advance(2 * 3600, room_temperature_c=20.0)
    assert fed.state.tan_mg_l > fasted.state.tan_mg_l + 0.3
    assert fed.outputs()["nh3"] > fasted.outputs()["nh3"]
    assert fed.state.o2_fish_g > fasted.state.o2_fish_g * 1.2  # specific dynamic action
    assert fed.state.do_mg_l < fasted.state.do_mg_l
    assert fed.state.biomass_kg > fasted.state.biomass_kg + 0.3
    assert fed.state.mean_weight_g > fasted.state.mean_weight_g


def test_fish_do_not_eat_in_low_do():
    tank = Tank(PARAMS["flounder-10m3"])
    tank.state.do_mg_l = 3.0  # below the flounder's feeding limit (4 mg/L)
    tank.inputs.o2_valve = 0.3  # roughly holds DO
    tank.inputs.pending_feed_kg = 1.0
    tank.advance(2 * 3600, room_temperature_c=20.0)
    assert tank.state.feed_eaten_kg < 0.05
    assert tank.state.feed_wasted_kg > 0.9


@pytest.mark.parametrize("species", list(SPECIES.values()), ids=lambda s: s.key)
def test_growth_factor_is_full_at_the_growth_do_and_nothing_at_the_lethal_do(species):
    assert species.growth_factor(species.do_growth_mg_l) == 1.0
    assert species.growth_factor(species.do_growth_mg_l + 3) == 1.0
    assert species.growth_factor(species.do_lethal_mg_l) == 0.0
    mid = (species.do_growth_mg_l + species.do_lethal_mg_l) / 2
    assert species.growth_factor(mid) == pytest.approx(0.5)  # linear between (Cuenco et al. 1985 form)


def _fed_flounder(do_mg_l: float) -> Tank:
    """1.3 kg fed to the flounder tank at 20 degC with DO held near `do_mg_l` by the O2 valve, 6 h."""
    tank = Tank(PARAMS["flounder-10m3"])
    tank.state.do_mg_l = do_mg_l
    tank.inputs.pending_feed_kg = 1.3
    for _ in range(6 * 360):  # a bang-bang valve on the model's own DO: a stand-in for the controller
        tank.inputs.o2_valve = 1.0 if tank.state.do_mg_l < do_mg_l else 0.0
        tank.inputs.aerators = [1.0 if tank.state.do_mg_l < do_mg_l - 0.3 else 0.0] * 2
        tank.step(10.0, room_temperature_c=20.0)
    return tank


def test_growth_falls_below_the_flounder_growth_optimum_and_is_counted_against_optimal():
    """oak.go.kr 17565: flounder grew best at 6-7 mg/L. The same meal grows less fish at 5 than at 6.5."""
    good, low = _fed_flounder(6.5), _fed_flounder(5.0)
    assert abs(good.state.do_mg_l - 6.5) < 0.3 and abs(low.state.do_mg_l - 5.0) < 0.3
    assert good.state.feed_eaten_kg == pytest.approx(low.state.feed_eaten_kg, rel=0.01)  # both ate (DO > 4)
    assert good.state.growth_kg == pytest.approx(good.state.growth_optimal_kg)  # not limited at 6.5
    share = low.state.growth_kg / low.state.growth_optimal_kg
    assert share == pytest.approx(OLIVE_FLOUNDER.growth_factor(5.0), abs=0.03)  # ~0.79
    assert low.state.growth_kg < 0.85 * good.state.growth_kg


def test_outputs_vocabulary_and_units():
    tank = Tank(PARAMS["flounder-10m3"])
    tank.inputs.exchange_pump = 0.5
    tank.inputs.aerators = [1.0, 1.0]
    out = tank.outputs()
    assert set(out) == {"dissolved_oxygen", "dissolved_oxygen_saturation", "water_temperature", "salinity", "ph",
                        "tan", "nh3", "water_level", "flow", "aerator_1_current", "aerator_2_current", "biomass"}
    assert all(isinstance(v, float) for v in out.values())
    assert out["dissolved_oxygen_saturation"] == pytest.approx(90.0)
    assert out["dissolved_oxygen"] == pytest.approx(0.9 * do_saturation(20.0, 32.0))
    assert out["flow"] == pytest.approx(6.0 * 0.5 * 1000 / 60)  # L/min
    assert out["salinity"] == 32.0 and out["water_level"] == 100.0
    assert out["nh3"] == pytest.approx(out["tan"] * nh3_fraction(out["water_temperature"], out["ph"]))
    assert out["biomass"] == pytest.approx(390.0)


def test_species_oxygen_consumption_reproduces_its_sources():
    # Oh et al. 2012 regressions (units assumed mg/kg/h, models.md D-5)
    assert OLIVE_FLOUNDER.ocr_mg_kg_h(20.0, 266.0) == pytest.approx(-52.52 + 14.73 * 20, rel=1e-12)
    assert OLIVE_FLOUNDER.ocr_mg_kg_h(20.0, 9.0) == pytest.approx(-82.06 + 28.30 * 20, rel=0.03)
    assert OLIVE_FLOUNDER.ocr_mg_kg_h(14.4, 350.0) == pytest.approx(177.0, rel=0.10)  # Kim 2005, > 28 cm
    for t_c, ocr in ((15.0, 70.5), (20.0, 79.7), (25.0, 90.6)):
        assert STARRY_FLOUNDER.ocr_mg_kg_h(t_c, 100.0) == pytest.approx(ocr, rel=0.01)
    assert set(SPECIES) == {"olive_flounder", "starry_flounder", "korean_rockfish", "rainbow_trout",
                            "whiteleg_shrimp", "japanese_eel"}
    for sp in SPECIES.values():
        assert sp.ocr_mg_kg_h(sp.t_ref_c + 10, sp.weight_ref_g) == pytest.approx(sp.ocr_ref_mg_kg_h * sp.q10)
        assert sp.ocr_mg_kg_h(sp.t_ref_c, 2 * sp.weight_ref_g) < sp.ocr_ref_mg_kg_h  # small fish use more per kg
    assert OLIVE_FLOUNDER.feed_rate_pct_bw(25.0) == pytest.approx((3.49 + 3.19) / 2)
    assert OLIVE_FLOUNDER.feed_rate_pct_bw(1000.0) == 0.99
    assert SPECIES["rainbow_trout"].feed_rate_pct_bw(100.0) is None


def test_example_tanks():
    flounder, trout = PARAMS["flounder-10m3"], PARAMS["trout-10m3"]
    assert flounder.species is OLIVE_FLOUNDER and flounder.salinity_psu == pytest.approx(32.0)
    assert flounder.stocking_density_kg_m3 > 30.0
    assert trout.species.key == "rainbow_trout" and trout.salinity_psu == 0.0
    for params in PARAMS.values():  # both aerators + exchange hold DO comfortably at the inflow temperature
        tank = Tank(params)
        tank.inputs.aerators = [1.0] * len(params.aerators)
        tank.inputs.exchange_pump = 1.0
        tank.advance(4 * 3600, room_temperature_c=params.inflow_temperature_c, dt_s=60.0)
        assert 5.5 < tank.state.do_mg_l < do_saturation(tank.state.temperature_c, params.salinity_psu)
        assert tank.state.deaths == 0.0


def test_bad_inputs_are_refused():
    tank = Tank(PARAMS["trout-10m3"])
    tank.inputs.aerators = [1.0]
    with pytest.raises(ValueError, match="aerators"):
        tank.step(10.0, 15.0)
    tank.inputs.aerators = [1.0, 1.0]
    with pytest.raises(ValueError):
        tank.step(0.0, 15.0)
    with pytest.raises(ValueError):
        dataclasses.replace(PARAMS["trout-10m3"], volume_m3=0.0)
