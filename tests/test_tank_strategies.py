"""The tank strategies and TankController, pure: plain TickInputs, a simulated clock, a toy DO balance."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aquactl.biomass import FCR, Biomass
from aquactl.controller import TankController
from aquactl.strategies import feeding, oxygen, temperature, water
from farmcore.runtime.controller import ActuatorView, Request, TickInput, TickOutput
from farmcore.site import load_site

KST = ZoneInfo("Asia/Seoul")
DAY = datetime(2026, 11, 20, 12, 0, tzinfo=KST)
SITE = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"

FLOUNDER_TABLE = [  # a grid after agronomy.md §2.2: the 21-24 °C column taken as 22 °C, a 13 °C column
    {"weight_g": 5, "temperature": 22, "pct_bw": 5.35}, {"weight_g": 50, "temperature": 22, "pct_bw": 2.43},
    {"weight_g": 317, "temperature": 22, "pct_bw": 0.99}, {"weight_g": 370, "temperature": 22, "pct_bw": 0.99},
    {"weight_g": 5, "temperature": 13, "pct_bw": 3.0}, {"weight_g": 50, "temperature": 13, "pct_bw": 1.5},
    {"weight_g": 317, "temperature": 13, "pct_bw": 0.62}, {"weight_g": 370, "temperature": 13, "pct_bw": 0.6},
]
# The first rockfish recipe's scattered table (oak.go.kr 13728): grouped by exact temperature, 113 g fish at
# 18 °C got 2.99 %BW/d where the source gives 1.2-1.5 (issue 14 item 12).
SPARSE_ROCKFISH = [
    {"weight_g": 5, "temperature": 17, "pct_bw": 4.48}, {"weight_g": 5, "temperature": 20, "pct_bw": 4.83},
    {"weight_g": 16, "temperature": 16, "pct_bw": 3.41}, {"weight_g": 16, "temperature": 20, "pct_bw": 3.75},
    {"weight_g": 16, "temperature": 24, "pct_bw": 3.34}, {"weight_g": 113, "temperature": 15, "pct_bw": 1.2},
    {"weight_g": 113, "temperature": 19, "pct_bw": 1.5},
]
STRATEGY = {
    "oxygen": {"minimum_mg_l": 5.0, "critical_mg_l": 3.0, "night_raise_mg_l": 0.5, "stage_band_mg_l": 0.5,
               "response_check_min": 10, "min_current_a": 0.5},
    "feeding": {"meals": ["08:00", "16:00"], "table": FLOUNDER_TABLE, "fcr": 1.1, "min_temperature": 10,
                "max_temperature": 28},
    "water": {"heater_band_k": 0.5, "min_cycle_min": 10, "low_level_pct": 80, "min_sump_level_pct": 40,
              "min_flow_l_min": 20},
}
SETPOINTS = {"dissolved_oxygen": 6.0, "water_temperature": 21.0}


def actuators(n_aerators: int = 3, **targets: bool | None) -> dict[str, ActuatorView]:
    ids = [(f"aerator_{k}", "aerator") for k in range(1, n_aerators + 1)] + [
        ("o2_valve", "o2_valve"), ("heater", "heater"), ("chiller", "chiller"), ("exchange_pump", "exchange_pump"),
        ("feeder", "feeder")]
    return {i: ActuatorView(i, role, "switch", targets.get(i, False),
                            feed_kg_per_min=0.2 if role == "feeder" else None) for i, role in ids}


def tick_input(local: datetime = DAY, readings: dict[str, float] | None = None, *, acts=None,
               setpoints=None, strategy=None, requests=(), bad=None, dt_s: float = 60.0) -> TickInput:
    day = local.date()
    sun = (datetime(day.year, day.month, day.day, 7, 0, tzinfo=KST),
           datetime(day.year, day.month, day.day, 17, 30, tzinfo=KST))
    return TickInput(local.timestamp(), local.astimezone(ZoneInfo("UTC")), local, dt_s,
                     dict(readings or {}), dict(bad or {}), {}, dict(SETPOINTS if setpoints is None else setpoints),
                     STRATEGY if strategy is None else strategy, sun,
                     actuators() if acts is None else acts, "grow-out", tuple(requests))


def good(do: float = 6.2, t: float = 21.0, **extra: float) -> dict[str, float]:
    """Readings of a healthy tank: every commanded-on aerator draws 4 A (set by `Rig`)."""
    return {"dissolved_oxygen": do, "water_temperature": t, **extra}


class Rig:
    """A controller plus actuator views that follow its decisions, ticked on a simulated clock."""

    def __init__(self, ctl: TankController | None = None, acts: dict[str, ActuatorView] | None = None,
                 local: datetime = DAY) -> None:
        self.ctl = ctl or TankController(demo_zone())
        self.acts = acts or actuators()
        self.local = local
        self.tripped: set[str] = set()

    def currents(self) -> dict[str, float]:
        return {f"{i}_current": (4.0 if v.target is True and i not in self.tripped else 0.0)
                for i, v in self.acts.items() if v.role == "aerator"}

    def tick(self, readings: dict[str, float], *, step_s: float = 60.0, currents: bool = True, **kw) -> TickOutput:
        values = {**(self.currents() if currents else {}), **readings}
        out = self.ctl.tick(tick_input(self.local, values, acts=self.acts, dt_s=step_s, **kw))
        for i, d in out.decisions.items():
            self.acts[i] = replace(self.acts[i], target=d.target)
        self.local += timedelta(seconds=step_s)
        return out

    def on(self, role: str) -> list[str]:
        return [i for i, v in self.acts.items() if v.role == role and v.target is True]


def demo_zone():
    return next(z for z in load_site(SITE).zones if z.kind == "tank")


# --------------------------------------------------------------------------------------------- oxygen

def test_do_target_is_the_setpoint_by_day_raised_at_night_and_defaulted():
    assert oxygen.target(tick_input(DAY))[0] == 6.0
    night = tick_input(DAY.replace(hour=23))
    assert not night.is_day and oxygen.target(night)[0] == 6.5
    assert oxygen.target(tick_input(DAY, setpoints={}))[0] == oxygen.TARGET_MG_L


@pytest.mark.parametrize(("do", "on_before", "expected"), [
    (6.6, 1, 1),  # above target + band, but one always stays on
    (5.95, 1, 1),  # stage 1's threshold is the target itself
    (5.87, 1, 2),  # target - step (band 0.5, 3 aerators: step 0.125)
    (5.74, 1, 3),  # target - band/2: all on (and pure O2 starts)
    (6.3, 2, 2),  # inside stage 2's hysteresis (5.875 .. 6.375): hold
    (6.4, 2, 1),  # stage 2 off above its on point + band
    (6.6, 3, 1),  # all but the kept one off
])
def test_aerators_stage_with_hysteresis(do, on_before, expected):
    acts = actuators(**{f"aerator_{k}": True for k in range(1, on_before + 1)})
    out = TankController().tick(tick_input(DAY, good(do), acts=acts))
    on = [i for i in ("aerator_1", "aerator_2", "aerator_3") if out.decisions[i].target]
    assert len(on) == expected and out.trace["aerators_on"] == expected
    assert on == [f"aerator_{k}" for k in range(1, expected + 1)]  # added in site order, later ones off first


def test_min_aerators_on_keeps_a_biofloc_tank_mixed_at_high_do():
    """Biofloc must stay suspended: with `min_aerators_on = 2` two aerators run however high the DO."""
    strat = {**STRATEGY, "oxygen": {**STRATEGY["oxygen"], "min_aerators_on": 2}}
    for before in (1, 3):
        acts = actuators(**{f"aerator_{k}": True for k in range(1, before + 1)})
        out = TankController().tick(tick_input(DAY, good(8.5), acts=acts, strategy=strat))
        on = [i for i in ("aerator_1", "aerator_2", "aerator_3") if out.decisions[i].target]
        assert on == ["aerator_1", "aerator_2"] and "2 kept on always" in out.decisions["aerator_1"].reason
    single = TankController().tick(tick_input(DAY, good(8.5), acts=actuators(1), strategy=strat))
    assert single.decisions["aerator_1"].target is True  # one aerator: all there is
    assert single.trace["aerators_on"] == 1


def test_min_aerators_on_is_a_typed_recipe_key_and_set_for_biofloc():
    from farmcore.errors import ConfigError
    from farmcore.recipe.load import load_recipe, parse_recipe
    path = Path(__file__).resolve().parents[1] / "recipes" / "fish" / "whiteleg-shrimp.toml"
    shrimp = load_recipe(path)
    assert all(shrimp.strategy_for(i)["oxygen"]["min_aerators_on"] >= 2 for i in range(len(shrimp.stages)))
    text = path.read_text("utf-8")
    for bad, why in (("0", "greater than or equal to 1"), ('"two"', "valid integer"), ("1.5", "valid integer")):
        with pytest.raises(ConfigError) as info:
            parse_recipe(text.replace("\nmin_aerators_on = 2", f"\nmin_aerators_on = {bad}", 1), "shrimp.toml")
        assert info.value.field == "strategy.oxygen.min_aerators_on" and why in info.value.message
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_staging_thresholds_helper_matches_the_documented_rule(n):
    band, goal = 0.5, 6.0
    s, step = oxygen.staging(n, band), band / (2 * max(n - 1, 1))
    for k in range(1, n + 1):
        on_at = goal - (k - 1) * step
        assert s.decide(k - 1, oxygen.demand(on_at - 0.01, goal, band, n)).stages == k
        assert s.decide(k - 1, oxygen.demand(on_at + 0.01, goal, band, n)).stages == k - 1
        assert s.decide(k, oxygen.demand(on_at + band - 0.01, goal, band, n)).stages == k  # hold inside the band
        assert s.decide(k, oxygen.demand(on_at + band + 0.01, goal, band, n)).stages == k - 1
    assert s.decide(0, oxygen.demand(goal - band / 2 - 0.01, goal, band, n)).stages == n


def test_missing_do_gives_no_aerator_or_valve_decision():
    out = TankController().tick(tick_input(DAY, {"water_temperature": 21.0}, bad={"dissolved_oxygen": "stale"}))
    assert not {"aerator_1", "aerator_2", "aerator_3", "o2_valve"} & out.decisions.keys()
    assert "do_target" not in out.trace


def test_aerator_with_no_current_fails_once_and_a_standby_starts():
    rig = Rig()
    rig.tick(good(6.2))
    rig.tick(good(6.2))
    assert rig.on("aerator") == ["aerator_1"]
    rig.tripped.add("aerator_1")
    out = rig.tick(good(6.2))
    assert "aerator_1 failed: current 0.0 A < 0.5 A" in out.events
    assert "standby aerator_2 started in place of failed aerator_1" in out.events
    assert out.decisions["aerator_1"].target is True and "counts for no stage" in out.decisions["aerator_1"].reason
    assert rig.on("aerator") == ["aerator_1", "aerator_2"]
    again = rig.tick(good(6.2))
    assert not [e for e in again.events if "failed" in e]  # reported once
    assert again.trace["aerators_failed"] == 1


def test_current_is_not_judged_right_after_switching_on():
    rig = Rig(acts=actuators())  # all off: the first tick switches aerator_1 on, its current lags
    rig.tick(good(6.2), currents=False)
    out = rig.tick({**good(6.2), "aerator_1_current": 0.0}, step_s=10)
    assert not [e for e in out.events if "failed" in e]
    rig.local += timedelta(seconds=30)
    out = rig.tick({**good(6.2), "aerator_1_current": 0.0})
    assert "aerator_1 failed: current 0.0 A < 0.5 A" in out.events


def test_current_failure_clears_when_the_current_is_back():
    rig = Rig(acts=actuators(aerator_1=True))
    rig.tripped.add("aerator_1")
    rig.tick(good(6.2))  # first sight: on since now, the current gets its grace time
    assert not rig.ctl.oxygen.failed
    rig.tick(good(6.2))
    assert "aerator_1" in rig.ctl.oxygen.failed
    rig.tripped.clear()
    out = rig.tick(good(6.2))
    assert "aerator_1 recovered: current good again" in out.events
    assert not rig.ctl.oxygen.failed


def test_runtime_feedback_failure_makes_an_aerator_unavailable():
    acts = actuators(aerator_1=True)
    acts["aerator_1"] = replace(acts["aerator_1"], failed=True)
    out = TankController().tick(tick_input(DAY, good(6.2), acts=acts))
    assert "aerator_1 failed: feedback does not follow its commands" in out.events
    assert out.decisions["aerator_2"].target is True


def test_aerator_without_do_response_fails_after_the_check_window():
    rig = Rig(acts=actuators(aerator_1=True, aerator_2=True))
    rig.tick(good(5.7), currents=True)  # aerator_3 starts at DO 5.7 (target 6.0, band 0.5)
    assert rig.on("aerator") == ["aerator_1", "aerator_2", "aerator_3"]
    events = []
    for minute in range(12):
        events += rig.tick(good(5.0 - 0.05 * minute)).events
    failed = [e for e in events if e.startswith("aerator_") and "failed" in e]
    assert len(failed) == 3 and all("(< minimum 5)" in e for e in failed)  # all started < 10 min before the fall
    assert "no standby aerator left for failed aerator_3: pure oxygen below target" in events


def test_no_response_failure_when_do_recovers():
    rig = Rig(acts=actuators(aerator_1=True))
    rig.tick(good(5.8))  # aerator_2 and 3 start
    events = []
    for minute in range(12):
        events += rig.tick(good(5.8 + 0.05 * minute)).events
    assert not [e for e in events if "failed" in e]


def test_o2_valve_rules():
    ctl = TankController()
    on = ctl.tick(tick_input(DAY, good(5.7), acts=actuators(aerator_1=True)))
    assert on.decisions["o2_valve"].target is True  # below target - band/2
    stay = ctl.tick(tick_input(DAY + timedelta(minutes=5), good(5.9), acts=actuators(aerator_1=True, o2_valve=True)))
    assert stay.decisions["o2_valve"].target is True  # on until the target
    off = ctl.tick(tick_input(DAY + timedelta(minutes=10), good(6.05), acts=actuators(o2_valve=True)))
    assert off.decisions["o2_valve"].target is False
    near = TankController().tick(tick_input(DAY, good(5.9), acts=actuators(aerator_1=True)))
    assert near.decisions["o2_valve"].target is False  # aerators still to come
    assert near.trace["aerators_on"] == 1
    all_on = TankController().tick(tick_input(DAY, good(5.9), acts=actuators(
        aerator_1=True, aerator_2=True, aerator_3=True)))
    assert all_on.trace["aerators_on"] == 3 and all_on.decisions["o2_valve"].target is True
    single = TankController().tick(tick_input(DAY, good(5.95), acts=actuators(1)))
    assert single.trace["aerators_on"] == 1 and single.decisions["o2_valve"].target is True


def test_o2_valve_waits_its_minimum_off_time_except_below_critical():
    ctl = TankController()
    ctl.tick(tick_input(DAY, good(6.2), acts=actuators(o2_valve=True)))  # off now
    soon = DAY + timedelta(seconds=20)
    held = ctl.tick(tick_input(soon, good(5.5), acts=actuators(aerator_1=True)))
    assert held.decisions["o2_valve"].target is False and "held" in held.decisions["o2_valve"].reason
    crit = ctl.tick(tick_input(soon, good(2.9), acts=actuators(aerator_1=True)))
    assert crit.decisions["o2_valve"].target is True and "critical 3" in crit.decisions["o2_valve"].reason


def test_all_aerators_failed_leaves_oxygen_to_the_valve():
    acts = {i: replace(v, failed=v.role == "aerator") for i, v in actuators(aerator_1=True).items()}
    out = TankController().tick(tick_input(DAY, good(5.9), acts=acts))
    assert out.trace["aerators_on"] == 0 and out.decisions["o2_valve"].target is True
    assert all(out.decisions[f"aerator_{k}"].target is True for k in (1, 2, 3))  # kept on, just in case


def test_night_simulation_stages_aerators_and_survives_a_trip_at_three():
    """Toy tank: dDO/dt = KLa_on (C* - DO) - OCR (+ pure O2), 10 m3 flounder-like figures from the twin."""
    kla_h, c_sat, ocr_day, ocr_night, o2_mg_l_h = 4.5, 7.4, 6.0, 8.0, 12.0
    rig = Rig(acts=actuators(aerator_1=True), local=DAY.replace(hour=16))
    do, trace, events = 6.4, [], []
    trip_at = DAY.replace(hour=3) + timedelta(days=1)
    while rig.local < DAY.replace(hour=6) + timedelta(days=1):
        now = rig.local
        if now >= trip_at:
            rig.tripped.add("aerator_1")  # motor protection trips: no current, no aeration
        out = rig.tick(good(do))
        events += [(now, e) for e in out.events]
        trace.append((now, out.trace["aerators_on"], out.trace["do_target"], do))
        working = [i for i in rig.on("aerator") if i not in rig.tripped]
        ddo = len(working) * kla_h * (c_sat - do) - (ocr_day if 7 <= now.hour < 17 else ocr_night)
        ddo += o2_mg_l_h if rig.acts["o2_valve"].target else 0.0
        do += ddo / 60
    assert {a for t, a, _, _ in trace if t.hour == 16} == {1}
    night = [a for t, a, _, _ in trace if DAY.replace(hour=17, minute=30) <= t < trip_at]
    assert set(night) <= {2, 3} and night[-1] == 2  # more aerators at night (target raised), two settle
    assert {g for t, _, g, _ in trace if t.hour == 1} == {6.5}  # night-raised target
    assert min(d for _, _, _, d in trace) > STRATEGY["oxygen"]["minimum_mg_l"]
    trip = [(t, e) for t, e in events if "failed:" in e]
    assert trip == [(trip_at, "aerator_1 failed: current 0.0 A < 0.5 A")]
    assert (trip_at, "standby aerator_3 started in place of failed aerator_1") in events
    assert set(rig.on("aerator")) == {"aerator_1", "aerator_2", "aerator_3"}  # the failed one kept on
    assert min(d for t, _, _, d in trace if t >= trip_at) > 6.0  # the standby holds DO


# ----------------------------------------------------------------------------------------- temperature

def temp_rig() -> tuple[temperature.WaterTemperature, dict[str, ActuatorView]]:
    acts = actuators()
    return temperature.WaterTemperature(), {"heater": acts["heater"], "chiller": acts["chiller"]}


def run_temp(ctl, acts, t, minutes) -> TickOutput:
    out = TickOutput()
    ctl.decide(tick_input(DAY + timedelta(minutes=minutes), good(t=t), acts=acts), [acts["heater"]],
               [acts["chiller"]], out)
    for i, d in out.decisions.items():
        acts[i] = replace(acts[i], target=d.target)
    return out


def test_heater_on_below_setpoint_minus_band_off_at_setpoint():
    ctl, acts = temp_rig()
    assert run_temp(ctl, acts, 20.6, 0).decisions["heater"].target is False  # neutral zone
    assert run_temp(ctl, acts, 20.5, 1).decisions["heater"].target is True
    assert run_temp(ctl, acts, 20.9, 20).decisions["heater"].target is True  # hold to the setpoint
    out = run_temp(ctl, acts, 21.0, 21)
    assert out.decisions["heater"].target is False and out.decisions["chiller"].target is False


def test_chiller_on_above_setpoint_plus_band_off_at_setpoint():
    ctl, acts = temp_rig()
    assert run_temp(ctl, acts, 21.4, 0).decisions["chiller"].target is False
    assert run_temp(ctl, acts, 21.5, 1).decisions["chiller"].target is True
    assert run_temp(ctl, acts, 21.1, 20).decisions["chiller"].target is True
    assert run_temp(ctl, acts, 21.0, 21).decisions["chiller"].target is False


def test_minimum_cycle_holds_a_change():
    ctl, acts = temp_rig()
    run_temp(ctl, acts, 20.4, 0)
    held = run_temp(ctl, acts, 21.2, 5)
    assert held.decisions["heater"].target is True and "held" in held.decisions["heater"].reason
    assert run_temp(ctl, acts, 21.2, 10).decisions["heater"].target is False


def test_heater_and_chiller_never_run_together():
    ctl, acts = temp_rig()
    run_temp(ctl, acts, 20.4, 0)
    out = run_temp(ctl, acts, 21.6, 3)  # heater held on by its minimum time, chiller wants on
    assert out.decisions["chiller"].target is True and out.decisions["heater"].target is False
    assert "never with the other side running" in out.decisions["heater"].reason
    ctl2, acts2 = temp_rig()
    run_temp(ctl2, acts2, 21.6, 0)
    acts2["heater"] = replace(acts2["heater"], target=True)  # an override turned it on meanwhile
    out2 = run_temp(ctl2, acts2, 20.4, 2)  # chiller held on by its minimum, below setpoint: heater wins
    assert out2.decisions["heater"].target is True and out2.decisions["chiller"].target is False
    for t in (19.0, 20.5, 21.0, 21.5, 23.0):
        o = run_temp(ctl2, acts2, t, 30 + t)
        assert not (o.decisions["heater"].target and o.decisions["chiller"].target)


def test_temperature_missing_gives_no_decision_and_recipe_band_applies():
    out = TankController().tick(tick_input(DAY, {"dissolved_oxygen": 6.2}))
    assert "heater" not in out.decisions and "chiller" not in out.decisions
    wide = {**STRATEGY, "water": {"heater_band_k": 2.0, "min_cycle_min": 0}}
    out = TankController().tick(tick_input(DAY, good(t=19.5), strategy=wide))
    assert out.decisions["heater"].target is False  # 19.5 > 21 - 2
    out = TankController().tick(tick_input(DAY, good(t=18.9), strategy=wide))
    assert out.decisions["heater"].target is True


# --------------------------------------------------------------------------------------------- feeding

def test_pct_bw_at_table_points_and_log_weight_interpolation():
    assert feeding.pct_bw(FLOUNDER_TABLE, 50, 22) == pytest.approx(2.43)
    assert feeding.pct_bw(FLOUNDER_TABLE, 317, 22) == pytest.approx(0.99)
    mid = math.sqrt(50 * 317)  # half-way in log(weight)
    assert feeding.pct_bw(FLOUNDER_TABLE, mid, 22) == pytest.approx((2.43 + 0.99) / 2)
    log_way = 2.43 + (0.99 - 2.43) * math.log(100 / 50) / math.log(317 / 50)
    assert feeding.pct_bw(FLOUNDER_TABLE, 100, 22) == pytest.approx(log_way)  # not 2.16, the linear value


def test_pct_bw_temperature_interpolation_and_clamping():
    cold, warm = feeding.pct_bw(FLOUNDER_TABLE, 300, 13), feeding.pct_bw(FLOUNDER_TABLE, 300, 22)
    assert feeding.pct_bw(FLOUNDER_TABLE, 300, 17.5) == pytest.approx((cold + warm) / 2)
    assert feeding.pct_bw(FLOUNDER_TABLE, 300, 30) == pytest.approx(warm)  # above the warmest row
    assert feeding.pct_bw(FLOUNDER_TABLE, 300, 5) == pytest.approx(cold)
    assert feeding.pct_bw(FLOUNDER_TABLE, 2, 22) == pytest.approx(5.35)  # below the lightest point
    assert feeding.pct_bw(FLOUNDER_TABLE, 2000, 22) == pytest.approx(0.99)
    assert feeding.pct_bw(FLOUNDER_TABLE, 2000, 13) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="empty"):
        feeding.pct_bw([], 100, 20)


def test_pct_bw_is_bilinear_between_the_four_grid_points():
    w, t = math.sqrt(50 * 317), 17.5  # half-way in log weight and in temperature
    corners = (2.43, 0.99, 1.5, 0.62)
    assert feeding.pct_bw(FLOUNDER_TABLE, w, t) == pytest.approx(sum(corners) / 4)


def test_pct_bw_refuses_a_scattered_table_where_weight_would_drop_out():
    with pytest.raises(ValueError, match=r"not a full weight x temperature grid: no rate at 5 g, 15 °C"):
        feeding.pct_bw(SPARSE_ROCKFISH, 113, 18)
    with pytest.raises(ValueError, match="two rates at 5 g, 22 °C"):
        feeding.pct_bw([*FLOUNDER_TABLE, {"weight_g": 5, "temperature": 22, "pct_bw": 5.0}], 100, 20)


def test_a_scattered_table_holds_the_meal_with_the_reason_instead_of_overfeeding():
    strat = {**STRATEGY, "feeding": {**STRATEGY["feeding"], "table": SPARSE_ROCKFISH}}
    out = TankController(demo_zone()).tick(tick_input(DAY, good(6.5, 18), strategy=strat, requests=[Request("meal")]))
    assert out.decisions["feeder"].target is False and "ration_kg_today" not in out.trace
    assert any(e.startswith("meal held: the feeding table is not a full weight x temperature grid") for e in out.events)


def test_pct_bw_takes_recipe_models():
    from aquactl.strategies.feeding import FeedRate
    rows = [FeedRate(**p) for p in FLOUNDER_TABLE]
    assert feeding.pct_bw(rows, 120, 20) == pytest.approx(feeding.pct_bw(FLOUNDER_TABLE, 120, 20))


def test_meal_ration_from_biomass_and_table_runs_the_feeder_then_stops():
    rig = Rig()  # demo tank1: 1300 fish x 300 g = 390 kg
    out = rig.tick(good(6.5, 22.0), requests=[Request("meal", None, "scheduler")], step_s=60)
    daily = 390 * feeding.pct_bw(FLOUNDER_TABLE, 300, 22) / 100
    assert out.trace["ration_kg_today"] == pytest.approx(daily)
    meal = daily / 2
    assert out.run_s["feeder"] == pytest.approx(meal / 0.2 * 60)
    assert out.decisions["feeder"].target is True and out.trace["feed_given_kg_today"] == pytest.approx(meal)
    assert any(e.startswith(f"meal started (scheduler): {meal:.2f} kg") for e in out.events)
    running = rig.tick(good(6.5, 22.0))
    assert running.decisions["feeder"].target is True and "feeder" not in running.run_s
    rig.local += timedelta(seconds=out.run_s["feeder"])
    assert rig.tick(good(6.5, 22.0)).decisions["feeder"].target is False


def test_feed_now_value_overrides_the_ration_and_feeder_rate_defaults():
    acts = actuators()
    acts["feeder"] = replace(acts["feeder"], feed_kg_per_min=None)
    out = TankController(demo_zone()).tick(tick_input(DAY, good(6.5, 22), acts=acts,
                                                      requests=[Request("feed_now", 1.5, "kim")]))
    assert out.run_s["feeder"] == pytest.approx(1.5 / feeding.FEED_KG_PER_MIN * 60)
    assert out.trace["feed_given_kg_today"] == pytest.approx(1.5)


def test_meal_held_at_low_do_and_bad_temperature():
    ctl = TankController(demo_zone())
    strat = {**STRATEGY, "feeding": {**STRATEGY["feeding"], "min_do_mg_l": 5.0}}
    out = ctl.tick(tick_input(DAY, good(3.1, 22), strategy=strat, requests=[Request("meal")]))
    assert "meal held: DO 3.1 mg/L < 5" in out.events
    assert out.decisions["feeder"].target is False and not out.run_s and out.trace["feed_given_kg_today"] == 0
    cold = ctl.tick(tick_input(DAY, good(6.5, 9.0), requests=[Request("meal")]))
    assert "meal held: water 9.0 °C < 10 °C" in cold.events
    hot = ctl.tick(tick_input(DAY, good(6.5, 29.0), requests=[Request("meal")]))
    assert "meal held: water 29.0 °C > 28 °C" in hot.events
    blind = ctl.tick(tick_input(DAY, {"water_temperature": 22}, bad={"dissolved_oxygen": "stale"},
                                requests=[Request("feed_now", 1.0, "kim")]))
    assert "feed-now held (kim): no good DO reading (stale)" in blind.events


def test_min_do_defaults_to_the_oxygen_minimum():
    out = TankController(demo_zone()).tick(tick_input(DAY, good(4.9, 22), requests=[Request("meal")]))
    assert "meal held: DO 4.9 mg/L < 5" in out.events  # oxygen.minimum_mg_l = 5


def test_no_stocking_holds_table_meals_but_not_a_feed_now_in_kg():
    ctl = TankController()
    out = ctl.tick(tick_input(DAY, good(6.5, 22), requests=[Request("meal")]))
    assert "meal held: no stocking" in out.events and "ration_kg_today" not in out.trace
    out = ctl.tick(tick_input(DAY, good(6.5, 22), requests=[Request("feed_now", 0.4)]))
    assert out.run_s["feeder"] == pytest.approx(120)


def test_meals_are_capped_at_the_days_ration():
    rig = Rig()
    rig.tick(good(6.5, 22), requests=[Request("feed_now", 3.0, "kim")])  # ~3/4 of the day's ~4 kg
    rig.local += timedelta(hours=1)
    second = rig.tick(good(6.5, 22), requests=[Request("meal")])
    assert second.trace["feed_given_kg_today"] == pytest.approx(second.trace["ration_kg_today"])  # what was left
    assert any("capped to the" in e for e in second.events)
    rig.local += timedelta(hours=2)
    third = rig.tick(good(6.5, 22), requests=[Request("meal")])
    assert any("already given" in e for e in third.events)


def test_meal_stopped_when_do_drops_and_only_delivered_feed_is_booked():
    rig = Rig()
    start = rig.tick(good(6.5, 22), requests=[Request("feed_now", 2.0)])  # 600 s at 0.2 kg/min
    assert start.run_s["feeder"] == pytest.approx(600)
    w0 = rig.ctl.biomass.mean_weight_g
    rig.local += timedelta(seconds=240)  # 5 min in: 1.0 kg delivered
    out = rig.tick(good(4.0, 22))
    assert out.decisions["feeder"].target is False
    assert "meal stopped: DO 4.0 mg/L < 5; 1.00 kg not given" in out.events
    assert out.trace["feed_given_kg_today"] == pytest.approx(1.0)
    assert rig.ctl.biomass.mean_weight_g == pytest.approx(w0 - 1.0 / 1.1 * 1000 / 1300)


def test_feed_given_resets_at_local_midnight():
    rig = Rig(local=DAY.replace(hour=23, minute=50))
    rig.tick(good(6.8, 22), requests=[Request("feed_now", 0.5)])
    out = rig.tick(good(6.8, 22), step_s=600)
    assert out.trace["feed_given_kg_today"] == pytest.approx(0.5)
    out = rig.tick(good(6.8, 22))
    assert out.trace["feed_given_kg_today"] == 0 and any(e.startswith("new day 2026-11-21") for e in out.events)


def test_a_meal_while_the_feeder_runs_is_skipped():
    rig = Rig()
    rig.tick(good(6.5, 22), requests=[Request("feed_now", 2.0)])
    out = rig.tick(good(6.5, 22), requests=[Request("meal", None, "scheduler")])
    assert "meal skipped (scheduler): the feeder is still running the last meal" in out.events


# --------------------------------------------------------------------------------------------- biomass

def test_biomass_grows_by_feed_over_fcr_and_weighing_resets_the_mean():
    b = Biomass(1000, 200.0)
    assert b.biomass_kg == pytest.approx(200)
    assert b.feed(12.0, 1.2) == pytest.approx(10.0)
    assert b.biomass_kg == pytest.approx(210) and b.mean_weight_g == pytest.approx(210)
    b.feed(1.2)
    assert b.biomass_kg == pytest.approx(210 + 1.2 / FCR)
    assert b.weigh(190.0) == pytest.approx(211.0) and b.count == 1000 and b.biomass_kg == pytest.approx(190)
    with pytest.raises(ValueError):
        b.weigh(0)
    with pytest.raises(ValueError):
        Biomass(0, 10)


def test_weighing_request_corrects_the_controller_estimate():
    rig = Rig()
    rig.tick(good(6.5, 22), requests=[Request("feed_now", 2.2)])
    assert rig.ctl.biomass.mean_weight_g == pytest.approx(300 + 2.0 * 1000 / 1300)  # 2.2 kg / FCR 1.1
    out = rig.tick(good(6.5, 22), requests=[Request("weighing", 320.0, "lee")])
    assert any(e.startswith("weighing (lee): mean weight 301.5 -> 320 g, biomass 416.0 kg") for e in out.events)
    assert out.trace["mean_weight_g"] == 320 and out.trace["biomass_kg"] == pytest.approx(416)
    bad = rig.tick(good(6.5, 22), requests=[Request("weighing", None)])
    assert any("weighing ignored" in e for e in bad.events)


# ----------------------------------------------------------------------------------------------- water

def run_water(ex, acts, readings, minutes, bad=None):
    out = TickOutput()
    ex.decide(tick_input(DAY + timedelta(minutes=minutes), readings, acts=acts, bad=bad), [acts["exchange_pump"]], out)
    for i, d in out.decisions.items():
        acts[i] = replace(acts[i], target=d.target)
    return out


def test_low_tank_level_keeps_the_inflow_on_and_says_so_once():
    """In a flow-through tank the inflow is the oxygen supply: a falling tank level must never stop it."""
    ex, acts = water.Exchange(), actuators()
    assert run_water(ex, acts, {}, 0).decisions["exchange_pump"].target is True
    low = run_water(ex, acts, {"water_level": 35}, 1)
    assert low.decisions["exchange_pump"].target is True
    assert "tank level LOW, inflow kept on" in low.decisions["exchange_pump"].reason
    assert low.events == ["tank level low: 35 % < 80 %; exchange kept on (water is leaving: check the drain and "
                          "the tank for a leak)"]
    assert run_water(ex, acts, {"water_level": 30}, 2).events == []  # said once
    assert run_water(ex, acts, {"water_level": 81}, 3).events == []  # inside the band
    back = run_water(ex, acts, {"water_level": 83}, 4)
    assert back.decisions["exchange_pump"].target is True and back.events == ["tank level back: 83 %"]


def test_exchange_pump_off_at_low_sump_level_and_back_above_the_band():
    ex, acts = water.Exchange(), actuators(exchange_pump=True)
    low = run_water(ex, acts, {"sump_level": 35, "water_level": 95}, 0)
    assert low.decisions["exchange_pump"].target is False
    assert low.events == ["exchange stopped: sump level 35 % < 40 % (pump would run dry)"]
    assert run_water(ex, acts, {"sump_level": 41}, 1).decisions["exchange_pump"].target is False  # band
    back = run_water(ex, acts, {"sump_level": 43}, 2)
    assert back.decisions["exchange_pump"].target is True and back.events == ["exchange resumed: sump level 43 %"]


def test_exchange_pump_dry_run_trips_after_a_minute_and_retries():
    ex, acts = water.Exchange(), actuators(exchange_pump=True)
    assert run_water(ex, acts, {"flow": 0.0}, 0).decisions["exchange_pump"].target is True  # priming
    trip = run_water(ex, acts, {"flow": 0.0}, 2)
    assert trip.decisions["exchange_pump"].target is False
    assert trip.events == ["exchange_pump stopped, dry run: flow 0.0 L/min < 20 L/min; retry in 30 min"]
    assert run_water(ex, acts, {"flow": 0.0}, 20).decisions["exchange_pump"].target is False
    assert run_water(ex, acts, {"flow": 0.0}, 33).decisions["exchange_pump"].target is True
    assert run_water(ex, acts, {"flow": 100.0}, 40).decisions["exchange_pump"].target is True


def test_exchange_pump_no_decision_when_its_guard_sensor_is_bad_but_a_bad_tank_level_changes_nothing():
    ex, acts = water.Exchange(), actuators(exchange_pump=True)
    assert run_water(ex, acts, {}, 0, bad={"sump_level": "comm_error"}).decisions == {}
    assert run_water(ex, acts, {}, 1, bad={"flow": "stale"}).decisions == {}
    assert run_water(ex, acts, {}, 2, bad={"water_level": "comm_error"}).decisions["exchange_pump"].target is True


def test_exchange_latches_survive_a_restart():
    ex, acts = water.Exchange(), actuators(exchange_pump=True)
    run_water(ex, acts, {"sump_level": 10, "water_level": 50}, 0)
    again = water.Exchange()
    again.restore(json.loads(json.dumps(ex.state())))
    assert again.sump_low and again.tank_low
    assert run_water(again, acts, {"sump_level": 41, "water_level": 50}, 1).events == []  # nothing said twice


# ---------------------------------------------------------------------------------------- controller

def test_state_is_json_safe_and_restores_failures_feed_and_biomass():
    rig = Rig(acts=actuators(aerator_1=True))
    rig.tripped.add("aerator_1")
    rig.tick(good(6.2, 22))
    rig.tick(good(6.2, 22), requests=[Request("feed_now", 1.1), Request("weighing", 310.0)])
    state = json.loads(json.dumps(rig.ctl.state()))
    fresh = TankController(demo_zone())
    fresh.restore(state)
    assert fresh.state() == state
    assert "aerator_1" in fresh.oxygen.failed and fresh.biomass.mean_weight_g == pytest.approx(310 + 1000 / 1300)
    assert fresh.feeding.given_kg_today == pytest.approx(1.1) and "feeder" in fresh.feeding.running
    out = fresh.tick(tick_input(rig.local, {**rig.currents(), **good(6.2, 22)}, acts=rig.acts))
    assert not [e for e in out.events if "failed" in e]  # not reported again after a restart
    assert out.decisions["feeder"].target is True  # the meal still runs


def test_restore_ignores_the_biomass_of_another_stocking():
    ctl = TankController(demo_zone())
    state = ctl.state()
    state["biomass"]["mean_weight_g"] = 999.0
    state["stocked"] = "2025-01-01|500|10"
    ctl.restore(state)
    assert ctl.biomass.mean_weight_g == 300


def test_controller_uses_the_zone_actuators_when_a_tick_brings_none():
    ctl = TankController(demo_zone())
    out = ctl.tick(replace(tick_input(DAY, good(6.2, 21)), actuators={}))
    assert {"aerator_1", "o2_valve", "heater", "chiller", "exchange_pump", "feeder"} <= out.decisions.keys()
    assert out.trace["biomass_kg"] == pytest.approx(390)
