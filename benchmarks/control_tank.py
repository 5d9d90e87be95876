"""Night-time oxygen control of a high-density olive flounder tank, an aerator trip every night, and feeding.

Prints one JSON line. One process, virtual clock: the demo site's tank zone `tank1`
(farmcore/twin/sites/gyeongbuk-demo.toml: three aerators, O2 valve, heater, chiller, exchange pump, feeder at
0.2 kg/min; recipe fish/olive-flounder, stocked 2026-11-01 with 1300 fish x 300 g in 10 m3) is stepped by the
twin's Tank model `flounder-10m3` in 10 s steps, with the aerator list widened to the site's three aerators as
farmcore/twin/runtime.py `_model_for` does, and the room temperature from the seeded synthetic Gyeongbuk
weather (`synthetic:SEED` at 36.35 N 128.70 E, Asia/Seoul) as the twin's `_room_temperature` makes it
(15 degC + 0.4 (outside - 15)); the model's diel oxygen rhythm gets the local hour, as in the twin.

Season and density: August 2027 (default first counted day 2027-08-01; the site's stocking date 2026-11-01
puts the fish in the recipe's `grow-out` stage, meals 08:00 and 16:00). August is the hardest month for DO: the
warmest room and outside air. The water itself stays near 20-21 degC all year in this model (6 m3/h of 19 degC
well water = 6.8 kW/K dominates a 10 kW heater and a 150 W/K room coupling), so the season changes little.
"High density" is the model's and the site's stocking, 1300 x 300 g = 390 kg in 10 m3 (39 kg/m3), unchanged so
the controller's stocking record and the model agree; the fish grow on the feed (about +2.5 g a day).

The run is continuous: one warm-up day (not counted) from `--start` - 1 day 08:00, then `--nights` (30) days
from `--start` 08:00, each made of a day (08:00-18:00) and a night (18:00-08:00). Every night at 03:00 the first
aerator that is running (site order, as hil_tests/test_tank_daemon.py picks it) trips: the model gets
`aerator_failed[i] = True` (no transfer, no power, current 0 A); the operator resets it at 08:00. The warm-up
night has the trip too.

Every `--tick` seconds (default 30 s, as hil_tests/test_tank_daemon.py runs the tank daemon, which keeps the two
31-day runs under ~2 min; `--tick 10`, the demo site's tick, takes ~3 min, same figures) the controller gets a
`TickInput` built as farmcore/runtime/daemon.py builds it: readings = the model's outputs keyed by each sensor's
`source` or quantity (`aerator_k_current`, dissolved_oxygen, water_temperature, ...), weather = the station's
quantities, setpoints from `setpoints_at` refreshed every 30 s and clamped to the zone's hard limits, the stage's
strategy tables and name, today's sunrise/sunset, ActuatorViews with the drivers' targets and the site's
feed_kg_per_min, and `requests`: a `Request("meal", None, "scheduler")` at the first tick at or after each of the
recipe's meal times (the daemon's scheduler job). Its decisions go through safety (no bad readings here, so
none), the daemon's tank interlock (no heater with the chiller) and the daemon's own SwitchDrivers (a missing
decision gets the actuator's failsafe); the drivers' physical state drives the model inputs as
ZoneTwin._apply_tank maps them (aerators 1/0 with the trip in `aerator_failed`, valve/heater/chiller/pump 1/0,
the feeder adds feed_kg_per_min for the time it is on). One difference: the feeder's timed run is counted to the
second inside the 10 s step (the twin counts whole steps), since feed error is measured. The Modbus layer
(registers, node timers, command framing, feedback registers) is skipped: the HIL tests cover it; feedback is
taken as agreeing, so a trip shows only in the aerator current, as in the twin. No sensor noise.

Runs:
- `ours`: aquactl.controller.TankController(zone), as the daemon runs it.
- `always_on`: the same controller for everything except the aerators, which are all commanded on all the
  time (the energy baseline; it has the same trip at 03:00, so the same aerator stands still 03:00-08:00).

Figures (over the 30 counted days; "night" = 18:00-08:00 local):
- minutes_below_min: minutes with the model's DO < the recipe's oxygen.minimum_mg_l (5.0), whole counted run
  (day and night, trips included), 10 s resolution; `minutes_below_min_night` the nights' share.
- trip_recovery_min: the worst night's minutes from the trip (03:00) until DO is back, for good (it stays there
  until the 08:00 reset), at or above max(minimum, min(DO at the trip, target in force) - 0.5 mg/L); "target in
  force" is the controller's own DO target (its `do_target` trace: 6.5 + 0.5 at night, 6.5 from sunrise, ~05:40
  in August: without that, the planned drop to the day target after sunrise would count as "not recovered").
  0 = DO never fell below that line. Not back by 08:00 counts as 300 and shows in `trip_not_recovered`.
  `trip_recovery_mean_min`: the mean over nights; `trip_recovery_to_band_max_min`: the same against
  max(minimum, target in force - stage band) (night: 7.0 - 0.5 = 6.5). `trip_do_drop_1h_max_mg_l`: the largest
  fall of DO in the hour after a trip (DO at the trip - lowest DO within the hour); `trip_do_nadir_mg_l`: the
  lowest DO between a trip and the reset (after sunrise it is the day target's band, not the trip).
- aeration_energy_ratio: model counter `aeration_energy_j` (electric power of the running, not failed,
  aerators) of `ours` / the same of `always_on`, over the nights; `aeration_energy_ratio_24h` over whole days.
  Bought oxygen is reported beside it (`o2_gas_kg`): the controller trades aeration against pure O2.
- feed_error_pct: the worst day's |feed given - ration| / ration x 100, feed given = the model counter
  `feed_given_kg` over the farm day (08:00-08:00, both meals), ration = the table ration for the fish that are
  in the tank: sum over the day's scheduled meals of (model fish count x mean weight) x pct_bw(model mean
  weight, model water temperature at the meal) / 100 / meals a day, pct_bw computed here independently
  (recipe feeding table, a full weight x temperature grid: linear in log weight along each temperature
  column, then linear in temperature, clamped: bilinear, the recipe header's rule) and checked against aquactl's pct_bw
  (`pct_bw_max_diff`). `feed_error_total_pct` is the same over all 30 days together.
- growth_kg: the model's fish growth over the counted days (its counter `growth_kg`), which depends on DO: the
  twin lets only `Species.growth_factor(DO)` of the digested feed become fish (1 at or above the species'
  growth-limiting DO, 6 mg/L for olive flounder after oak.go.kr 17565; linearly less down to the lethal DO).
  growth_vs_optimal: growth_kg / the growth the same digested feed makes with oxygen never limiting (the
  model's `growth_optimal_kg`): the same fish kept at optimal oxygen. Aeration energy is reported beside it,
  never instead of it: a lower energy ratio bought with growth is not a gain.
- `--do-setpoint X`: a what-if run holding the DO setpoint at X mg/L (before the night raise) instead of the
  recipe's, to show what a lower target saves in energy and costs in growth.

Caveats, as the model stands: the water settles at ~20.4 degC, under the recipe's 22.5 degC, with the heater on
all the time (holding 22.5 against 6 m3/h of 19 degC water needs ~24 kW, the model's heater has 10 kW), so DO
saturation is ~7.46 mg/L; at night all three aerators run before 03:00 (the 7.0 mg/L night target is above what
three blowers hold), so the trip exercises the pure-O2 path ("no standby aerator left"), not the standby start.

Targets (issue "benchmarks/control_tank.py"): minutes_below_min 0; trip_recovery_min <= 10;
aeration_energy_ratio <= 0.7; feed_error_pct <= 2; and (issue 14 item 12: energy is never bought with growth)
growth_vs_optimal >= 0.99. `targets` says which are met.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import farmcore.twin
from aquactl.controller import TankController
from aquactl.strategies.feeding import pct_bw as aquactl_pct_bw
from farmcore.control.arbitration import Decision, apply_interlocks, arbitrate
from farmcore.recipe.load import load_recipe
from farmcore.recipe.timeline import parse_start, setpoints_at, stage_at
from farmcore.recipe.zonerecipe import resolve_recipe_path
from farmcore.runtime.actuation import INTERLOCKS
from farmcore.runtime.actuators import SwitchDriver
from farmcore.runtime.controller import ActuatorView, Request, TickInput
from farmcore.runtime.safety import failsafe_target, safety_decision
from farmcore.runtime.zone import SETPOINT_REFRESH_S
from farmcore.site import SiteFile, ZoneDef, actuator_kind, load_site
from farmcore.sun import sun_times
from farmcore.twin.runtime import _model_for, _room_temperature
from farmcore.twin.tank import Tank
from farmcore.twin.weather import WeatherSample, load_weather

SITE = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-demo.toml"
ZONE = "tank1"
STEP_S = 10.0  # model step
NIGHT_FROM_H, NIGHT_TO_H = 18, 8  # the night window, local
TRIP_H, RESET_H = 3, 8  # aerator trip and the operator's reset, local hour
RECOVERY_DROP_MG_L = 0.5  # "recovered": back within this of the DO at the trip (and above the minimum)
WEATHER_KEYS = ("air_temperature", "relative_humidity", "solar_radiation", "wind_speed", "wind_direction")


def table_pct_bw(table: list[dict[str, float]], weight_g: float, temperature: float) -> float:
    """%BW/d from the recipe table, written here independently of aquactl (rule in the module docstring)."""

    def lin(xs: list[float], ys: list[float], x: float) -> float:
        if x <= xs[0]:
            return ys[0]
        if x >= xs[-1]:
            return ys[-1]
        i = bisect.bisect_right(xs, x)
        return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - xs[i - 1]) / (xs[i] - xs[i - 1])

    rows: dict[float, list[tuple[float, float]]] = defaultdict(list)
    for p in table:
        rows[float(p["temperature"])].append((math.log(float(p["weight_g"])), float(p["pct_bw"])))
    temps = sorted(rows)
    at_weight = []
    for t in temps:
        pts = sorted(rows[t])
        at_weight.append(lin([w for w, _ in pts], [v for _, v in pts], math.log(weight_g)))
    return lin(temps, at_weight, temperature)


class Run:
    """One controller mode over the warm-up day and the counted days."""

    def __init__(self, site: SiteFile, zone: ZoneDef, mode: str, start: date, days: int, seed: int,
                 tick_s: float, do_setpoint: float | None = None) -> None:
        s = site.site
        self.site, self.zone, self.mode, self.tz = site, zone, mode, ZoneInfo(s.timezone)
        self.lat, self.lon = s.latitude, s.longitude
        assert zone.recipe is not None and zone.planted is not None
        self.recipe = load_recipe(resolve_recipe_path(zone.recipe, SITE))
        self.planted = zone.planted
        self.weather = load_weather(f"synthetic:{seed}", s.latitude, s.longitude)
        self.count_from = datetime.combine(start, datetime.min.time(), tzinfo=self.tz).replace(hour=NIGHT_TO_H)
        self.t0_s = (self.count_from - timedelta(days=1)).timestamp()
        self.count_from_s = self.count_from.timestamp()
        self.end_s = (self.count_from + timedelta(days=days)).timestamp()
        self.days = days
        self.tick_s = tick_s
        self.kinds = {a.id: actuator_kind(site, zone, a) for a in zone.actuators}
        assert all(k == "switch" for k in self.kinds.values()), self.kinds
        self.drivers = {a.id: SwitchDriver(a.max_on_s) for a in zone.actuators}
        self.controller = TankController(zone)
        model = _model_for(zone, str(SITE))  # the site's three aerators, as the twin builds the tank
        assert isinstance(model, Tank)
        self.model = model
        self.aerators = [a for a in zone.actuators if a.role == "aerator"]
        self.feeders = [a for a in zone.actuators if a.role == "feeder"]
        self.sensor_keys = [(x.key, x.source or x.quantity) for x in zone.sensors]
        self.setpoints: dict[str, float] = {}
        self.setpoints_at = float("-inf")
        self.stage = ""
        self.sun: dict[date, tuple[datetime, datetime]] = {}
        self.strategy: dict[date, dict[str, dict[str, Any]]] = {}
        self.meals_due: list[float] = []  # epoch s of meal times not yet requested
        self.meals_planned: set[float] = set()
        self.last_tick_s: float | None = None
        self.missing: dict[str, int] = defaultdict(int)
        self.events: list[str] = []
        self.do_target: float | None = None  # the controller's DO target in force (its trace)
        self.do_setpoint = do_setpoint  # what-if: this DO setpoint instead of the recipe's

    # ------------------------------------------------------------------ what the daemon gives the controller

    def _refresh(self, utc: datetime, now_s: float) -> None:
        if now_s - self.setpoints_at < SETPOINT_REFRESH_S:
            return
        raw = setpoints_at(self.recipe, self.planted, utc, self.lat, self.lon, self.tz)
        values = {q: sp.value for q, sp in raw.items()}
        if self.do_setpoint is not None:
            values["dissolved_oxygen"] = self.do_setpoint
        for q, limit in self.zone.hard_limits.items():
            if q in values:
                values[q] = min(limit.max, max(limit.min, values[q]))
        self.setpoints, self.setpoints_at = values, now_s
        self.stage = stage_at(self.recipe, self.planted, utc, self.tz)[1].name

    def _sun(self, day: date) -> tuple[datetime, datetime]:
        if day not in self.sun:
            self.sun[day] = sun_times(self.lat, self.lon, day, self.tz)
        return self.sun[day]

    def strategy_for(self, utc: datetime, day: date) -> dict[str, dict[str, Any]]:
        if day not in self.strategy:
            self.strategy[day] = self.recipe.strategy_for(stage_at(self.recipe, self.planted, utc, self.tz)[0])
            for text in self.strategy[day].get("feeding", {}).get("meals") or []:  # the daemon's _plan_meals
                at = parse_start(str(text)).resolve(day, self.tz, self._sun(day)).timestamp()
                if at >= self.t0_s and at not in self.meals_planned:
                    self.meals_planned.add(at)
                    self.meals_due.append(at)
        return self.strategy[day]

    def switched_on(self, act_id: str, now_s: float) -> bool:
        drv = self.drivers[act_id]
        return drv.commanded is True and (drv.run_until is None or now_s < drv.run_until)

    def tick(self, now_s: float, utc: datetime, local: datetime, w: WeatherSample, counting: bool) -> list[float]:
        """One daemon tick; returns the meal times whose request went out with it."""
        self._refresh(utc, now_s)
        strategy = self.strategy_for(utc, local.date())
        outputs = self.model.outputs()
        readings = {key: float(outputs[src]) for key, src in self.sensor_keys if src in outputs}
        weather = {q: float(getattr(w, q)) for q in WEATHER_KEYS}
        weather["rain_detected"] = 1.0 if w.rain > 0 else 0.0
        views = {a.id: ActuatorView(a.id, a.role, self.kinds[a.id], self.drivers[a.id].target, None,  # type: ignore[arg-type]
                                    a.facing, self.drivers[a.id].failed, a.feed_kg_per_min)
                 for a in self.zone.actuators}
        due = [t for t in self.meals_due if t <= now_s]
        self.meals_due = [t for t in self.meals_due if t > now_s]
        requests = tuple(Request("meal", None, "scheduler") for _ in due)
        dt = 0.0 if self.last_tick_s is None else now_s - self.last_tick_s
        self.last_tick_s = now_s
        inp = TickInput(now_s, utc, local, dt, readings, {}, weather, dict(self.setpoints), strategy,
                        self._sun(local.date()), views, self.stage, requests)
        out = self.controller.tick(inp)
        self.do_target = out.trace.get("do_target")
        if counting:
            self.events.extend(f"{local:%m-%d %H:%M:%S} {e}" for e in out.events)
        decisions: dict[str, Decision] = {}
        for act in self.zone.actuators:
            drv = self.drivers[act.id]
            wanted = out.decisions.get(act.id)
            if self.mode == "always_on" and act.role == "aerator":
                wanted = Decision(True, "recipe", "always-on aeration baseline")
            if wanted is None:
                if counting:
                    self.missing[act.id] += 1
                wanted = Decision(failsafe_target(act.states()[0], "switch", drv.target), "safety", "no decision")
            decisions[act.id] = arbitrate(wanted, None, safety_decision(act, "switch", {}, drv.target), now_s)
        decisions = apply_interlocks(decisions, INTERLOCKS.get(self.zone.kind, ()))
        for act in self.zone.actuators:
            d = decisions[act.id]
            if d.target is None:
                continue
            self.drivers[act.id].plan(bool(d.target), now_s,
                                      run_s=out.run_s.get(act.id) if d.source == "recipe" else None)
        return due

    def apply(self, now_s: float) -> None:
        """The drivers' physical state over the coming step -> model inputs (as ZoneTwin._apply_tank)."""
        inputs = self.model.inputs
        inputs.aerators = [1.0 if self.switched_on(a.id, now_s) else 0.0 for a in self.aerators]
        for act in self.zone.actuators:
            if act.role in ("o2_valve", "heater", "chiller", "exchange_pump"):
                setattr(inputs, act.role, 1.0 if self.switched_on(act.id, now_s) else 0.0)
            elif act.role == "feeder":
                drv = self.drivers[act.id]
                if drv.commanded is True:
                    end = now_s + STEP_S if drv.run_until is None else min(drv.run_until, now_s + STEP_S)
                    if end > now_s:
                        inputs.pending_feed_kg += (act.feed_kg_per_min or 0.2) * (end - now_s) / 60.0

    # ------------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        st = self.model.state
        ticks_every = max(1, round(self.tick_s / STEP_S))
        n_steps = round((self.end_s - self.t0_s) / STEP_S)
        oxygen = self.recipe.strategy_for(0).get("oxygen", {})
        minimum = float(oxygen.get("minimum_mg_l", 4.0))
        band = float(oxygen.get("stage_band_mg_l", 0.5))
        below_s = below_night_s = 0.0
        energy = {"night": 0.0, "all": 0.0}
        o2 = {"night": 0.0, "all": 0.0}
        nights: dict[int, dict[str, Any]] = {}
        feed_days: dict[int, dict[str, float]] = defaultdict(lambda: {"given": 0.0, "ration": 0.0, "meals": 0})
        pct_diff = 0.0
        do_min = math.inf
        trip: dict[str, Any] | None = None
        aer_on_s = 0.0
        grown0: tuple[float, float] | None = None  # the model's growth counters when counting starts
        for k in range(n_steps):
            now_s = self.t0_s + k * STEP_S
            utc = datetime.fromtimestamp(now_s, UTC)
            local = utc.astimezone(self.tz)
            w = self.weather.sample(utc)
            counting = now_s >= self.count_from_s
            day_idx = math.floor((now_s - self.count_from_s) / 86400)
            is_night = local.hour >= NIGHT_FROM_H or local.hour < NIGHT_TO_H
            # the trip at 03:00 and the reset at 08:00
            if local.hour == TRIP_H and local.minute == 0 and local.second < STEP_S and trip is None:
                running = [i for i, a in enumerate(self.aerators) if self.switched_on(a.id, now_s)]
                if running:
                    i = running[0]
                    self.model.inputs.aerator_failed[i] = True
                    trip = {"day": day_idx, "at_s": now_s, "aerator": self.aerators[i].id, "index": i,
                            "do_at_trip": st.do_mg_l, "last_below": None, "last_below_band": None,
                            "nadir": st.do_mg_l, "running_before": len(running)}
            if local.hour == RESET_H and local.minute == 0 and local.second < STEP_S and trip is not None:
                self.model.inputs.aerator_failed[trip["index"]] = False
                if 0 <= trip["day"] < self.days:
                    self._close_trip(trip, now_s, nights)
                trip = None
            if k % ticks_every == 0:
                due = self.tick(now_s, utc, local, w, counting)
                for _ in due:  # the reference ration for the fish in the tank at the meal
                    if counting and day_idx < self.days:
                        meals = len(self.strategy_for(utc, local.date()).get("feeding", {}).get("meals") or []) or 2
                        table = self.strategy_for(utc, local.date())["feeding"]["table"]
                        table = [dict(p) for p in table]
                        pct = table_pct_bw(table, st.mean_weight_g, st.temperature_c)
                        pct_diff = max(pct_diff, abs(pct - aquactl_pct_bw(table, st.mean_weight_g, st.temperature_c)))
                        fd = feed_days[day_idx]
                        fd["ration"] += st.biomass_kg * pct / 100.0 / meals
                        fd["meals"] += 1
            self.apply(now_s)
            e0, o0, f0 = st.aeration_energy_j, st.o2_gas_used_g, st.feed_given_kg
            if counting and grown0 is None:
                grown0 = (st.growth_kg, st.growth_optimal_kg)
            self.model.step(STEP_S, _room_temperature(w), hour=local.hour + local.minute / 60)
            do = st.do_mg_l
            if trip is not None:  # "recovered" against the target in force (it drops by 0.5 at sunrise)
                trip["nadir"] = min(trip["nadir"], do)
                if now_s + STEP_S - trip["at_s"] <= 3600:
                    trip["nadir_1h"] = min(trip.get("nadir_1h", do), do)
                goal = self.do_target if self.do_target is not None else trip["do_at_trip"]
                if do < max(minimum, min(trip["do_at_trip"], goal) - RECOVERY_DROP_MG_L):
                    trip["last_below"] = now_s + STEP_S
                if do < max(minimum, goal - band):
                    trip["last_below_band"] = now_s + STEP_S
            if not counting:
                continue
            de, do2 = st.aeration_energy_j - e0, st.o2_gas_used_g - o0
            energy["all"] += de
            o2["all"] += do2
            aer_on_s += STEP_S * sum(self.model.inputs.aerators)
            feed_days[day_idx]["given"] += st.feed_given_kg - f0
            do_min = min(do_min, do)
            if do < minimum:
                below_s += STEP_S
                below_night_s += STEP_S * is_night
            if is_night:
                energy["night"] += de
                o2["night"] += do2
                night = nights.setdefault(day_idx, {
                    "date": (local.date() if local.hour >= NIGHT_FROM_H else local.date() - timedelta(days=1)
                             ).isoformat(), "do_min": math.inf, "below_min_s": 0.0, "do_sum": 0.0, "n": 0,
                    "energy_kwh": 0.0, "o2_g": 0.0})
                night["do_min"] = min(night["do_min"], do)
                night["below_min_s"] += STEP_S * (do < minimum)
                night["do_sum"] += do
                night["n"] += 1
                night["energy_kwh"] += de / 3.6e6
                night["o2_g"] += do2
        if trip is not None and 0 <= trip["day"] < self.days:  # the last night's trip, reset at the end
            self._close_trip(trip, self.end_s, nights)
        days = [feed_days[d] for d in range(self.days) if d in feed_days]
        errs = [abs(d["given"] - d["ration"]) / d["ration"] * 100 for d in days if d["ration"] > 0]
        total_given, total_ration = sum(d["given"] for d in days), sum(d["ration"] for d in days)
        recov = [n["recovery_min"] for n in nights.values() if "recovery_min" in n]
        recov_band = [n["recovery_to_band_min"] for n in nights.values() if "recovery_to_band_min" in n]
        est = self.controller.biomass
        grown = st.growth_kg - grown0[0] if grown0 else 0.0
        grown_optimal = st.growth_optimal_kg - grown0[1] if grown0 else 0.0
        return {
            "growth_kg": round(grown, 2),
            "growth_optimal_kg": round(grown_optimal, 2),
            "growth_vs_optimal": round(grown / grown_optimal, 4) if grown_optimal else None,
            "minutes_below_min": round(below_s / 60, 1),
            "minutes_below_min_night": round(below_night_s / 60, 1),
            "do_min_mg_l": round(do_min, 2),
            "trips": len(recov),
            "trip_recovery_min": round(max(recov), 1) if recov else None,
            "trip_recovery_mean_min": round(sum(recov) / len(recov), 1) if recov else None,
            "trip_recovery_to_band_max_min": round(max(recov_band), 1) if recov_band else None,
            "trip_not_recovered": sum(1 for n in nights.values() if n.get("not_recovered")),
            "trip_do_nadir_mg_l": round(min(n["trip_nadir"] for n in nights.values() if "trip_nadir" in n), 2)
            if recov else None,
            "trip_do_drop_1h_max_mg_l": max(n["trip_drop_1h"] for n in nights.values() if "trip_drop_1h" in n)
            if recov else None,
            "aeration_kwh_night": round(energy["night"] / 3.6e6, 1),
            "aeration_kwh_24h": round(energy["all"] / 3.6e6, 1),
            "aerator_hours_24h": round(aer_on_s / 3600, 1),
            "o2_gas_kg_night": round(o2["night"] / 1000, 2),
            "o2_gas_kg_24h": round(o2["all"] / 1000, 2),
            "feed_error_pct": round(max(errs), 2) if errs else None,
            "feed_error_mean_pct": round(sum(errs) / len(errs), 2) if errs else None,
            "feed_error_total_pct": round(abs(total_given - total_ration) / total_ration * 100, 2)
            if total_ration else None,
            "feed_given_kg": round(total_given, 2),
            "feed_ration_kg": round(total_ration, 2),
            "meals_counted": sum(int(d["meals"]) for d in days),
            "meals_held": sum(1 for e in self.events if "held" in e),
            "pct_bw_max_diff": pct_diff,
            "fish_mean_weight_g_end": round(st.mean_weight_g, 1),
            "estimate_mean_weight_g_end": round(est.mean_weight_g, 1) if est else None,
            "fish_deaths": round(st.deaths, 2),
            "water_temperature_end_c": round(st.temperature_c, 2),
            "no_decision_ticks": dict(self.missing),
            "nights": [{"date": n["date"], "do_min": round(n["do_min"], 2),
                        "do_mean": round(n["do_sum"] / max(n["n"], 1), 2),
                        "below_min_min": round(n["below_min_s"] / 60, 1), "aeration_kwh": round(n["energy_kwh"], 2),
                        "o2_g": round(n["o2_g"]), **{k: n[k] for k in ("trip_aerator", "running_before", "do_at_trip",
                                                                      "trip_nadir", "trip_drop_1h", "recovery_min",
                                                                      "recovery_to_band_min") if k in n}}
                       for _, n in sorted(nights.items())],
            "feed_days": [{"given_kg": round(d["given"], 3), "ration_kg": round(d["ration"], 3),
                           "meals": int(d["meals"])} for d in days],
            "events_sample": [e for e in self.events if "fail" in e or "standby" in e or "held" in e][:12],
            "wall_s": round(time.perf_counter() - started, 1),
        }

    def _close_trip(self, trip: dict[str, Any], now_s: float, nights: dict[int, dict[str, Any]]) -> None:
        night = nights.get(trip["day"])  # farm days run 08:00-08:00: the 03:00 trip is in the day's night
        if night is None:
            return
        window = (now_s - trip["at_s"]) / 60
        for key, last in (("recovery_min", trip["last_below"]), ("recovery_to_band_min", trip["last_below_band"])):
            if last is None:
                night[key] = 0.0
            elif last >= now_s:
                night[key] = window
                night["not_recovered"] = True
            else:
                night[key] = round((last - trip["at_s"]) / 60, 2)
        night["trip_aerator"] = trip["aerator"]
        night["running_before"] = trip["running_before"]
        night["do_at_trip"] = round(trip["do_at_trip"], 2)
        night["trip_nadir"] = round(trip["nadir"], 2)
        night["trip_drop_1h"] = round(trip["do_at_trip"] - trip.get("nadir_1h", trip["do_at_trip"]), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026, help="synthetic weather seed (the demo site's)")
    ap.add_argument("--start", type=date.fromisoformat, default=date(2027, 8, 1), help="first counted day")
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--tick", type=float, default=30.0,
                    help="controller tick, s (a multiple of the 10 s step; 30 s as hil_tests/test_tank_daemon.py, "
                         "10 s = the demo site's tick takes ~3 min)")
    ap.add_argument("--detail", action="store_true", help="also per-night and per-day figures, event sample")
    ap.add_argument("--do-setpoint", type=float, default=None,
                    help="what-if: hold this DO setpoint (mg/L, before the night raise) instead of the recipe's")
    args = ap.parse_args()

    started = time.perf_counter()
    site = load_site(SITE)
    zone = next(z for z in site.zones if z.id == ZONE)
    runs = {mode: Run(site, zone, mode, args.start, args.nights, args.seed, args.tick, args.do_setpoint).run()
            for mode in ("ours", "always_on")}
    ours, base = runs["ours"], runs["always_on"]
    detail_keys = ("nights", "feed_days", "events_sample", "no_decision_ticks")
    stocking = zone.stocking
    result: dict[str, Any] = {
        "tank": zone.twin.model if zone.twin else None, "zone": ZONE, "seed": args.seed,
        "start": args.start.isoformat(), "nights": args.nights, "tick_s": args.tick, "step_s": STEP_S,
        "stocking_kg_m3": round(stocking.count * stocking.weight_g / 1000 / stocking.volume_m3, 1)
        if stocking and stocking.volume_m3 else None,
        "minutes_below_min": ours["minutes_below_min"],
        "trip_recovery_min": ours["trip_recovery_min"],
        "aeration_energy_ratio": round(ours["aeration_kwh_night"] / base["aeration_kwh_night"], 3)
        if base["aeration_kwh_night"] else None,
        "aeration_energy_ratio_24h": round(ours["aeration_kwh_24h"] / base["aeration_kwh_24h"], 3)
        if base["aeration_kwh_24h"] else None,
        "feed_error_pct": ours["feed_error_pct"],
        "growth_kg": ours["growth_kg"],
        "growth_vs_optimal": ours["growth_vs_optimal"],
        "do_setpoint": args.do_setpoint,
    }
    result["ours"] = {k: v for k, v in ours.items() if args.detail or k not in detail_keys}
    result["always_on"] = {k: v for k, v in base.items() if args.detail or k not in detail_keys}
    ratio = result["aeration_energy_ratio"]
    result["targets"] = {
        "minutes_below_min_0": ours["minutes_below_min"] == 0,
        "trip_recovery_le_10": ours["trip_recovery_min"] is not None and ours["trip_recovery_min"] <= 10
        and ours["trip_not_recovered"] == 0,
        "aeration_energy_ratio_le_0_7": ratio is not None and ratio <= 0.7,
        "feed_error_le_2pct": ours["feed_error_pct"] is not None and ours["feed_error_pct"] <= 2.0,
        "growth_vs_optimal_ge_0_99": ours["growth_vs_optimal"] is not None and ours["growth_vs_optimal"] >= 0.99,
    }
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
