"""Issue 16, the climate strategies a grower would trust: dehumidifying on a cold humid night, the pre-dawn
condensation guard that temperature integration leaves alone, screens that keep the light and open in steps,
lee side first and no side vents in the cold, radiation-dependent set-points. Hand-built TickInputs and the
real GreenhouseController, its targets fed back tick by tick as the runtime does."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from farmcore import canopy
from farmcore.recipe.load import load_recipe
from farmcore.runtime import reasontext
from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
from farmctl.controller import GreenhouseController
from farmctl.strategies import condensation, dehumidify, heating, humidity, screens, ventilation
from farmctl.strategies.integration import TemperatureIntegration

TZ = ZoneInfo("Asia/Seoul")
DAY = date(2026, 1, 12)
ROOT = Path(__file__).resolve().parents[1]
RETRACTABLE = {"roof_vent", "side_vent", "thermal_screen", "shade_screen", "mixing_valve"}
NIGHT_OUT = {"air_temperature": -3.0, "relative_humidity": 80.0, "solar_radiation": 0.0, "wind_speed": 2.0,
             "wind_direction": 0.0, "rain_detected": 0.0}  # wind from the north: south-facing openings are lee


def at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ)


def act(aid: str, role: str, target: bool | float | None = None, facing: float | None = None) -> ActuatorView:
    kind = "retractable" if role in RETRACTABLE else "switch"
    return ActuatorView(aid, role, kind, target, facing=facing)


def tin(local: datetime, *, readings: dict[str, float], weather: dict[str, float], setpoints: dict[str, float],
        strategy: dict[str, dict[str, Any]] | None = None, actuators: Sequence[ActuatorView] = (),
        dt_s: float = 60.0) -> TickInput:
    return TickInput(now_s=local.timestamp(), utc=local.astimezone(ZoneInfo("UTC")), local=local, dt_s=dt_s,
                     readings=readings, bad={}, weather=weather, setpoints=setpoints,
                     strategy=strategy or {}, sun=(at(7, 40, local.date()), at(17, 30, local.date())),
                     actuators={a.id: a for a in actuators})


def run(ctl: GreenhouseController, start: datetime, minutes: int, views: list[ActuatorView],
        **kw: Any) -> list[TickOutput]:
    """Tick once a minute, each actuator's last target fed back as the runtime does."""
    targets = {v.id: v.target for v in views}
    outs = []
    for m in range(minutes):
        now = [ActuatorView(v.id, v.role, v.kind, targets[v.id], facing=v.facing) for v in views]
        out = ctl.tick(tin(start + timedelta(minutes=m), actuators=now, dt_s=60.0 if m else 0.0, **kw))
        targets.update({k: d.target for k, d in out.decisions.items()})
        outs.append(out)
    return outs


HOUSE = [act("h", "heater", False), act("rn", "roof_vent", 0.0, facing=0.0), act("rs", "roof_vent", 0.0, facing=180.0),
         act("sv", "side_vent", 0.0, facing=180.0), act("ts", "thermal_screen", 0.0)]


# ------------------------------------------------------------------------------------------- dehumidifying

@pytest.mark.parametrize("t_in", [17.6, 18.2])
@pytest.mark.parametrize("heat_sp", [17.5, 18.0])
def test_cold_humid_night_heats_then_gaps_the_screen_then_cracks_the_lee_vent(t_in: float, heat_sp: float):
    outs = run(GreenhouseController(), at(1), 25, HOUSE, readings={"air_temperature": t_in, "relative_humidity": 95.0},
               weather=NIGHT_OUT, setpoints={"air_temperature": heat_sp, "relative_humidity": 85.0})
    first = outs[0]
    assert first.decisions["h"].target is True, first.decisions["h"].reason
    assert first.setpoints["air_temperature"] == pytest.approx(heat_sp + dehumidify.HEAT_RAISE_MAX_K)
    assert "dehumidifying" in first.decisions["h"].reason
    assert first.decisions["ts"].target == 0, "heat first: the screen stays closed at first"
    gap = outs[12].decisions["ts"]  # the gap after 10 min, opened in steps
    assert 0 < float(gap.target) <= dehumidify.SCREEN_GAP_MAX_PCT and "gap" in gap.reason
    assert all(o.decisions["rs"].target == 0 for o in outs[:19]), "the crack comes last"
    last = outs[-1].decisions
    assert last["rs"].target == dehumidify.VENT_CRACK_MAX_PCT and "lee vents cracked" in last["rs"].reason
    assert last["rn"].target == 0 and last["sv"].target == 0, "windward roof and side vents stay shut"
    assert last["ts"].target == dehumidify.SCREEN_GAP_MAX_PCT


@pytest.mark.parametrize("t_in", [17.6, 18.2])
def test_at_rh_80_nothing_dehumidifies(t_in: float):
    outs = run(GreenhouseController(), at(1), 25, HOUSE, readings={"air_temperature": t_in, "relative_humidity": 80.0},
               weather=NIGHT_OUT, setpoints={"air_temperature": 17.5, "relative_humidity": 85.0})
    for out in outs:
        assert out.decisions["h"].target is False and out.setpoints["air_temperature"] == 17.5
        assert out.decisions["ts"].target == 0 and out.decisions["rs"].target == 0
        assert out.trace["dehumidify_stage"] == 0


def test_dehumidifying_has_its_own_hysteresis_and_asks_a_hot_water_loop_for_minimum_pipe():
    d = dehumidify.Dehumidifier()
    limit = (85.0, "RH limit 85 %")

    def step(rh: float, minute: int, hot_water: bool = False) -> dehumidify.Action:
        return d.step(tin(at(1, minute), readings={"relative_humidity": rh, "air_temperature": 18.0},
                          weather=NIGHT_OUT, setpoints={}), limit, hot_water=hot_water)

    assert not step(84.0, 0).active
    assert step(85.0, 1).active
    held = step(83.0, 2)  # below the limit, above the off point 82: still drying, a little
    assert held.active and 0 < held.raise_k < 1
    assert not step(82.0, 3).active
    loop = step(95.0, 4, hot_water=True)
    assert loop.min_pipe and loop.raise_k == 0 and "minimum pipe" in loop.reason
    assert json.loads(json.dumps(d.state())) == {"stage": 1, "since_s": at(1, 4).timestamp()}
    assert step(84.0, 30).stage == 1, "under the limit (in the band) the next stage is not added"
    assert step(86.0, 31).stage == 2 and step(86.0, 40).stage == 2 and step(86.0, 41).stage == 3
    again = dehumidify.Dehumidifier()
    again.restore(json.loads(json.dumps(d.state())))
    assert again.state() == d.state()


def test_no_vent_crack_below_the_minimum_outside_temperature():
    cold = {**NIGHT_OUT, "air_temperature": -12.0}
    out = run(GreenhouseController(), at(1), 25, HOUSE, readings={"air_temperature": 18.0, "relative_humidity": 95.0},
              weather=cold, setpoints={"air_temperature": 17.5, "relative_humidity": 85.0})[-1]
    assert out.decisions["rs"].target == 0 and "no lee vent crack: outside -12.0" in out.decisions["rs"].reason
    assert out.decisions["h"].target is True


def test_the_humidity_p_band_does_not_vent_below_the_same_cold_limit():
    """Review of issue 16: a warm house (15 °C over a 12 °C heating setpoint) at RH 95 % with −15 °C outside
    opened its lee roof vent 40 % within two minutes through the old humidity P-band, bypassing the staged
    order and the −10 °C limit of the lee crack."""
    frost = {**NIGHT_OUT, "air_temperature": -15.0, "relative_humidity": 60.0}
    outs = run(GreenhouseController(), at(1), 5, HOUSE, readings={"air_temperature": 15.0, "relative_humidity": 95.0},
               weather=frost, setpoints={"air_temperature": 12.0, "relative_humidity": 85.0})
    assert all(o.decisions[v].target == 0 for o in outs for v in ("rn", "rs", "sv")), [
        o.decisions["rs"].reason for o in outs]
    assert "< -10 °C" in outs[-1].decisions["rs"].reason
    mild = run(GreenhouseController(), at(1), 5, HOUSE, readings={"air_temperature": 15.0, "relative_humidity": 95.0},
               weather={**frost, "air_temperature": -5.0}, setpoints={"air_temperature": 12.0,
                                                                      "relative_humidity": 85.0})
    assert float(mild[-1].decisions["rs"].target) > 0, "above the limit the P-band still vents a warm house"


# -------------------------------------------------------------------------------------- condensation guard

def test_pre_dawn_heating_keeps_the_crop_above_the_dew_point():
    readings = {"air_temperature": 15.0, "relative_humidity": 95.0, "leaf_temperature": 13.5}
    dew = canopy.dew_point_c(15.0, 95.0)
    out = GreenhouseController().tick(tin(at(6, 30), readings=readings, weather=NIGHT_OUT,
                                          setpoints={"air_temperature": 14.0}, actuators=[act("h", "heater")]))
    assert out.setpoints["air_temperature"] == pytest.approx(dew + condensation.MARGIN_K + 1.5)
    assert out.decisions["h"].target is True and "condensation guard" in out.decisions["h"].reason
    night = GreenhouseController().tick(tin(at(3), readings=readings, weather=NIGHT_OUT,
                                            setpoints={"air_temperature": 14.0}, actuators=[act("h", "heater")]))
    assert night.setpoints["air_temperature"] == 14.0, "outside the pre-dawn window the guard leaves the setpoint"


def test_the_crop_estimate_lags_the_air_and_survives_a_restart():
    ctl = GreenhouseController()
    sp = {"air_temperature": 14.0}
    base = dict(weather=NIGHT_OUT, setpoints=sp, actuators=[act("ts", "thermal_screen", 0.0)])
    first = ctl.tick(tin(at(2), readings={"air_temperature": 15.0, "relative_humidity": 80.0}, dt_s=0.0, **base))
    assert first.trace["crop_temperature"] < 15.0, "a crop under a cold cover is below the air"
    warm = {"air_temperature": 20.0, "relative_humidity": 80.0}
    step = ctl.tick(tin(at(2, 1), readings=warm, **base))
    assert first.trace["crop_temperature"] < step.trace["crop_temperature"] < 18.0, "a minute later it lags"
    state = json.loads(json.dumps(ctl.state()))
    other = GreenhouseController()
    other.restore(state)
    assert other.state() == state and state["crop_c"] == pytest.approx(step.trace["crop_temperature"])


TI = {"temperature_integration": {"window_h": 24, "max_deviation_k": 2}}


def test_the_pre_dawn_ramp_survives_temperature_integration():
    ti = TemperatureIntegration()
    for minute in range(0, 8 * 60, 10):  # 8 h at 3 K above the setpoint yesterday: 24 Kh banked
        local = at(9, day=DAY - timedelta(days=1)) + timedelta(minutes=minute)
        ti.update(tin(local, readings={"air_temperature": 23.0}, weather={}, setpoints={}, strategy=TI, dt_s=600),
                  20.0)
    night = tin(at(2), readings={}, weather={}, setpoints={}, strategy=TI)
    lowered, why = ti.setpoint(night, 17.5)
    assert lowered == pytest.approx(15.5) and "pre-dawn window at 05:40" in why  # sunrise 07:40 - 2 h
    ramp = tin(at(6), readings={}, weather={}, setpoints={}, strategy=TI)  # the recipe's ramp toward 20 °C
    kept, why = ti.setpoint(ramp, 19.0)
    assert kept == 19.0 and "no lowering in the pre-dawn window" in why
    early = {"temperature_integration": TI["temperature_integration"], "condensation": {"before_sunrise_h": 4}}
    assert ti.setpoint(tin(at(4), readings={}, weather={}, setpoints={}, strategy=early), 17.5)[0] == 17.5


# ------------------------------------------------------------------------------------------------- screens

def test_the_thermal_screen_stays_open_by_day_at_0_c_with_sun_and_closes_when_dull():
    screen = [act("ts", "thermal_screen", 100.0)]
    sunny = {**NIGHT_OUT, "air_temperature": 0.0, "solar_radiation": 300.0}
    out = GreenhouseController().tick(tin(at(11), readings={"air_temperature": 18.0}, weather=sunny,
                                          setpoints={}, actuators=screen))
    assert out.decisions["ts"].target == 100 and "for the light" in out.decisions["ts"].reason
    dull = {**sunny, "solar_radiation": 30.0}
    out = GreenhouseController().tick(tin(at(11), readings={"air_temperature": 18.0}, weather=dull,
                                          setpoints={}, actuators=screen))
    assert out.decisions["ts"].target == 0


def test_the_thermal_screen_opens_in_steps_with_pauses_and_closes_at_once():
    morning = {**NIGHT_OUT, "air_temperature": 0.0, "solar_radiation": 200.0}
    outs = run(GreenhouseController(), at(9), 40, [act("ts", "thermal_screen", 0.0)],
               readings={"air_temperature": 18.0}, weather=morning, setpoints={})
    path = [float(o.decisions["ts"].target) for o in outs]
    moves = [(i, b - a) for i, (a, b) in enumerate(zip([0.0, *path], path, strict=False)) if b != a]
    stepped = [m for m in moves if path[m[0]] <= screens.STEP_UNTIL_PCT]
    assert stepped and all(0 < dv <= screens.OPEN_STEP_PCT for _, dv in stepped)
    assert all(b[0] - a[0] >= screens.OPEN_PAUSE_MIN for a, b in itertools.pairwise(moves))
    assert path[-1] == 100, "beyond step_until_pct the rest opens in one go"
    assert screens.STEP_UNTIL_PCT in path, "the steps reach step_until_pct before the rest (review: stopped at 25)"
    dusk = {**morning, "solar_radiation": 10.0}
    again = run(GreenhouseController(), at(17), 1, [act("ts", "thermal_screen", 100.0)],
                readings={"air_temperature": 18.0}, weather=dusk, setpoints={})
    assert again[0].decisions["ts"].target == 0


# --------------------------------------------------------------------------------------------------- vents

def test_at_minus_3_c_side_vents_stay_shut_and_the_lee_roof_vent_opens_first():
    hot = {"air_temperature": 23.8, "relative_humidity": 60.0}  # vent setpoint 18 + 5 = 23, 0.8 K of 4 K: 20 %
    out = run(GreenhouseController(), at(12), 3, HOUSE[1:4], readings=hot,
              weather={**NIGHT_OUT, "solar_radiation": 400.0}, setpoints={"air_temperature": 18.0})[-1]
    assert out.trace["vent_demand_pct"] == pytest.approx(20)
    # 20 % of the two roof vents' opening, all from the lee one
    assert out.decisions["rs"].target == 40 and "lee side first" in out.decisions["rs"].reason
    assert out.decisions["rn"].target == 0 and "windward" in out.decisions["rn"].reason
    assert out.decisions["sv"].target == 0 and "side vents shut" in out.decisions["sv"].reason


def test_windward_vents_join_beyond_the_lee_opening_and_side_vents_open_when_mild():
    want = ventilation.VentDemand(75.0, "test", False)
    mild = tin(at(12), readings={}, weather={**NIGHT_OUT, "air_temperature": 15.0}, setpoints={})
    shares = ventilation.shares(mild, HOUSE[1:4], want)  # two lee vents of three give 2/3 of the opening
    assert shares["rs"][0] == 100 and shares["sv"][0] == 100 and shares["rn"][0] == pytest.approx(25)
    half = tin(at(12), readings={}, weather={**NIGHT_OUT, "air_temperature": 15.0}, setpoints={},
               strategy={"ventilation": {"windward_above_lee_pct": 50}})
    part = ventilation.shares(half, HOUSE[1:4], ventilation.VentDemand(50.0, "test", False))
    assert part["rs"][0] == pytest.approx(62.5) and part["rn"][0] == pytest.approx(25)  # lee 50 % first, then both
    assert (2 * part["rs"][0] + part["rn"][0]) / 3 == pytest.approx(50), "the total opening is the demand"
    cold = tin(at(12), readings={}, weather=NIGHT_OUT, setpoints={})
    side_only = ventilation.shares(cold, [act("sv", "side_vent", 0.0, facing=180.0)], want)
    assert side_only["sv"][0] == 75, "a house with side vents only still sheds its heat through them"
    alike = tin(at(12), readings={}, weather=NIGHT_OUT, setpoints={},
                strategy={"ventilation": {"windward_above_lee_pct": 0, "side_vent_min_outside": -30}})
    assert {k: v[0] for k, v in ventilation.shares(alike, HOUSE[1:4], want).items()} == {"rn": 75, "rs": 75, "sv": 75}


# -------------------------------------------------------------------------------------- radiation set-points

RAD = {"radiation": {"above_w_m2": 200, "heating_k_per_100_w_m2": 0.5, "heating_max_k": 1,
                     "vent_k_per_100_w_m2": 1, "vent_max_k": 2, "co2_full_above_w_m2": 300,
                     "co2_low_below_w_m2": 100, "co2_low_ppm": 600}}


def test_radiation_raises_heating_vent_and_co2_set_points_only_when_the_recipe_asks():
    readings = {"air_temperature": 20.0, "relative_humidity": 60.0, "co2": 500.0}
    sp = {"air_temperature": 18.0, "co2": 1000.0}
    views = [act("h", "heater", False), act("c", "co2_valve", False), act("rs", "roof_vent", 0.0, facing=180.0)]
    bright = {**NIGHT_OUT, "solar_radiation": 400.0}
    out = run(GreenhouseController(), at(12), 1, views, readings=readings, weather=bright, setpoints=sp,
              strategy=RAD)[0]
    assert out.setpoints["air_temperature"] == pytest.approx(19.0)  # +0.5 K per 100 above 200, max 1 K
    assert out.trace["radiation_heating_raise_k"] == pytest.approx(1.0)
    assert out.trace["radiation_vent_raise_k"] == pytest.approx(2.0)
    assert "vent setpoint 26.0 °C (+2.0 K for radiation" in out.decisions["rs"].reason  # 19 + 5 + 2
    assert out.setpoints["co2"] == pytest.approx(1000)
    dim = run(GreenhouseController(), at(12), 1, views, readings=readings, weather={**bright, "solar_radiation": 200.0},
              setpoints=sp, strategy=RAD)[0]
    assert dim.setpoints["co2"] == pytest.approx(800) and dim.setpoints["air_temperature"] == 18.0
    plain = run(GreenhouseController(), at(12), 1, views, readings=readings, weather=bright, setpoints=sp)[0]
    assert plain.setpoints["air_temperature"] == 18.0 and plain.setpoints["co2"] == 1000


# ---------------------------------------------------------------------------------------------------- recipes

@pytest.mark.parametrize("crop", ["tomato", "strawberry"])
def test_shipped_recipes_carry_the_new_tables(crop: str):
    r = load_recipe(ROOT / "recipes" / "crops" / f"{crop}.toml")
    tables = r.strategy_for(0)
    assert {"dehumidify", "condensation"} <= set(tables)
    assert "close_below_radiation" in tables["screens"] and "side_vent_min_outside" in tables["ventilation"]


def test_the_rh_limit_in_force_drives_dehumidifying_from_a_humidity_deficit():
    inp = tin(at(1), readings={"air_temperature": 18.0, "relative_humidity": 92.0}, weather=NIGHT_OUT,
              setpoints={"humidity_deficit": 2.0})
    limit = humidity.rh_limit(inp)
    assert limit is not None and 86 < limit[0] < 88
    assert dehumidify.Dehumidifier().step(inp, limit, hot_water=False).active


def test_the_guard_without_a_crop_temperature_still_keeps_the_dew_point_margin():
    blind = {k: v for k, v in NIGHT_OUT.items() if k != "air_temperature"}  # no outside temperature, no leaf sensor
    out = GreenhouseController().tick(tin(at(7), readings={"air_temperature": 15.0, "relative_humidity": 97.0},
                                          weather=blind, setpoints={"air_temperature": 14.0},
                                          actuators=[act("h", "heater")]))
    floor = canopy.dew_point_c(15.0, 97.0) + condensation.MARGIN_K
    assert out.setpoints["air_temperature"] == pytest.approx(floor) and "lag left out" in out.decisions["h"].reason


def test_after_a_restart_a_closed_screen_still_opens_in_steps():
    """At start the last target is unknown; the position the driver reckons is where stepping starts from."""
    view = ActuatorView("ts", "thermal_screen", "retractable", None, position=0.0)
    sunny = {**NIGHT_OUT, "air_temperature": 0.0, "solar_radiation": 300.0}
    out = GreenhouseController().tick(tin(at(11), readings={"air_temperature": 18.0}, weather=sunny, setpoints={},
                                          actuators=[view]))
    assert out.decisions["ts"].target == screens.OPEN_STEP_PCT and "opening in steps" in out.decisions["ts"].reason


# ------------------------------------------------------------------------------------------ reasons in Korean

def test_every_new_reason_reads_in_korean():
    """The live view shows reasons in Korean through a phrase table: each new clause has its entry."""
    texts: list[str] = []
    humid = {"air_temperature": 17.8, "relative_humidity": 95.0}
    for weather in (NIGHT_OUT, {**NIGHT_OUT, "air_temperature": -12.0}):
        for out in run(GreenhouseController(), at(1), 25, HOUSE, readings=humid, weather=weather,
                       setpoints={"air_temperature": 17.5, "relative_humidity": 85.0}):
            texts += [d.reason for d in out.decisions.values()]
    dawn = GreenhouseController()
    dawn._ti.buckets = {int(at(14, day=DAY - timedelta(days=1)).timestamp() // 3600): 6.0}
    for hh in (3, 6):
        out = dawn.tick(tin(at(hh), readings={"air_temperature": 15.0, "relative_humidity": 80.0}, weather=NIGHT_OUT,
                            setpoints={"air_temperature": 14.0}, strategy=TI, actuators=[act("h", "heater", False)]))
        texts.append(out.decisions["h"].reason)
    out = GreenhouseController().tick(tin(at(6, 30), readings={"air_temperature": 15.0, "relative_humidity": 97.0,
                                                               "leaf_temperature": 13.5},
                                          weather=NIGHT_OUT, setpoints={"air_temperature": 14.0},
                                          actuators=[act("h", "heater")]))
    texts.append(out.decisions["h"].reason)
    morning = {**NIGHT_OUT, "air_temperature": 0.0, "solar_radiation": 400.0}
    views = [act("ts", "thermal_screen", 0.0), *HOUSE[1:4], act("c", "co2_valve", False), act("h", "heater", False)]
    rad = {"radiation": {**RAD["radiation"], "heating_k_per_100_w_m2": 0.5}}
    for out in run(GreenhouseController(), at(11), 5, views, readings={"air_temperature": 26.0, "co2": 500.0,
                                                                        "relative_humidity": 60.0},
                   weather=morning, setpoints={"air_temperature": 18.0, "co2": 1000.0}, strategy=rad):
        texts += [d.reason for d in out.decisions.values()]
    texts.append(str(dehumidify.Dehumidifier().step(tin(at(1), readings={"relative_humidity": 95.0}, weather={},
                                                        setpoints={}), (85.0, "RH limit 85 %"),
                                                    hot_water=True).reason))
    for needle in ("dehumidifying", "lee vents cracked", "no lee vent crack", "pre-dawn window", "condensation guard",
                   "opening in steps", "for the light", "side vents shut", "windward: opens", "for radiation"):
        assert any(needle in t for t in texts), needle
    for text in texts:
        korean = reasontext.reason(text, "ko", tz=TZ)
        assert not reasontext.leftover_english(korean, {"h", "rn", "rs", "sv", "ts", "c"}), korean


def test_the_dehumidifying_raise_and_the_condensation_floor_do_not_stack():
    plan = heating.plan(17.5, "heating setpoint 17.5 °C", 2.0, "dehumidifying", (22.7, "condensation guard"))
    assert plan.setpoint == 22.7, "both are lower bounds: the higher wins"
    assert heating.plan(17.5, "sp", 2.0, "dehumidifying", (18.0, "condensation guard")).setpoint == 19.5


def test_no_venting_for_humidity_when_the_outside_air_is_no_drier():
    """A humid summer night: outside air at 21 °C and 99 % holds more water than the house's at 22 °C and 92 %;
    letting it in cools the house and raises its RH, so neither the P-band nor the crack vents for humidity."""
    muggy = {**NIGHT_OUT, "air_temperature": 21.0, "relative_humidity": 99.0}
    outs = run(GreenhouseController(), at(1, day=date(2026, 7, 30)), 25, HOUSE,
               readings={"air_temperature": 22.0, "relative_humidity": 92.0}, weather=muggy,
               setpoints={"air_temperature": 17.5, "relative_humidity": 85.0})
    last = outs[-1].decisions
    assert outs[-1].trace["vent_demand_pct"] == 0 and "outside air no drier" in last["rs"].reason
    assert last["rs"].target == 0 and "no lee vent crack: outside air no drier" in last["rs"].reason
    for d in last.values():
        assert not reasontext.leftover_english(reasontext.reason(d.reason, "ko", tz=TZ), {"h", "rn", "rs", "sv", "ts"})
