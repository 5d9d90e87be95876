"""Climate control of a tomato greenhouse: our controller against a generic_thermostat-style baseline.

Prints one JSON line. One process, virtual clock: the demo site's tomato zone `gh2`
(farmcore/twin/sites/gyeongbuk-demo.toml: `double-pe-curtain-1000`, the multi-span double-PE house with a
thermal curtain of the Gyeongbuk rental complexes, roof vents 2 x 90 s travel, side vent 120 s, thermal and
shade screens 180 s, heater, CO2 valve, fertigation node; recipe crops/tomato, planted 2025-08-20, so the crop
is in its `production` stage on both weeks) is stepped by the twin's Greenhouse model in 10 s steps under
seeded synthetic Gyeongbuk weather (`synthetic:SEED` at 36.35 N 128.70 E, Asia/Seoul), 7 days from
`--winter` and 7 days from `--summer`, each after one warm-up day that is not counted.

Every `--tick` seconds (10 s, the demo site's tick) a controller gets a `TickInput` built as
farmcore/runtime/daemon.py builds it: readings = the model's outputs for the zone's sensors, weather = the
weather station's quantities (rain_detected = rain > 0, as the twin serves it), setpoints from
`setpoints_at` refreshed every 30 s and clamped to the zone's hard limits, the stage's strategy tables,
today's sunrise/sunset, and ActuatorViews with the drivers' targets and dead-reckoned positions. Its
decisions go through the daemon's own drivers (RetractableDriver, SwitchDriver, SupplyDriver; a missing
decision gets the actuator's failsafe, as in the daemon); the drivers' physical state drives the model
inputs as ZoneTwin._apply_greenhouse maps them (vents: mean opening; screens: covering = 1 - opening). The
Modbus layer (registers, node timers, command framing) is skipped: the HIL tests cover it. No sensor noise,
no faults, no manual overrides.

Controllers:
- `ours`: farmctl.controller.GreenhouseController, as the daemon runs it.
- `baseline`: what Home Assistant's generic_thermostat plus simple automations give: heater on at
  setpoint - 0.5 K and off at setpoint + 0.5 K (1 K hysteresis, no minimum cycle) around the recipe heating
  setpoint; every vent fully open above setpoint + 2 K and closed again below setpoint + 1 K (no wind or rain
  logic); thermal screen closed from sunset to sunrise and open by day; no shade screen, no CO2, no lamps,
  circulation fan off; fertigation on a fixed clock timer with our dose (120 s): winter 8 events (09:00-16:00
  hourly), summer 16 events (07:00-18:15 every 45 min), the counts the recipe's sources give (7-8 a day in
  winter, 10-20 in summer), so plant transpiration is comparable (`irrigation_l` is reported for both).

Figures (over the 14 counted days, and per season under `winter` / `summer`):
- in_band_strict_pct: share of time the air temperature is inside the recipe's band widened by 1 K on both
  sides. The recipe's air_temperature is the HEATING setpoint sp and the vents open at sp + ventilation.offset_k,
  so the recipe asks for [sp, sp + offset_k]; in band = [sp - 1, sp + offset_k + 1], sp = the recipe value in
  force (not our controller's internal adjustments).
- in_band_pct: THE SAME BUT the upper edge is max(sp + offset_k + 1, outside + 2 K): a house without active
  cooling cannot be cooler than the outside air, and with solar load not within 2 K of it. The same
  definition is applied to both controllers. In winter this changes nothing.
- heating_kwh: heat the heater delivered to the house (model counter `heating_energy_j`, whole house);
  co2_kg: CO2 dosed (model counter); irrigation_l: water given.
- rh90_hours: hours with inside RH > 90 %.
- moves: actuator state changes: switch/supply on<->off transitions of the physical state (a timed run that
  ends on its own counts as one) plus vent/screen motor starts (timed-open/timed-close commands; a "stop" is
  not a start); `moves_by` gives them per actuator.
- below_band_h / above_band_h: hours below and above the (adjusted) band; wall_s: wall time of the run.

Caveat: the model's thermal screen cuts heat loss but not light (Greenhouse.advance: inside radiation =
transmission * (1 - shade) * global), so keeping it closed by day costs the crop nothing here; our
controller does that whenever it is below 5 °C outside by day (recipe screens.close_below_outside_day).

Targets (issue "benchmarks/control_greenhouse.py"): ours >= 95 % in band; >= 10 % less heating energy than the
baseline; rh90_hours not more than the baseline's. `targets` says which are met.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import farmcore.twin
from farmcore.control.arbitration import Decision
from farmcore.recipe.load import load_recipe
from farmcore.recipe.timeline import setpoints_at, stage_at
from farmcore.recipe.zonerecipe import resolve_recipe_path
from farmcore.runtime.actuators import RetractableDriver, SupplyDriver, SwitchDriver
from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
from farmcore.runtime.safety import failsafe_target
from farmcore.runtime.zone import SETPOINT_REFRESH_S
from farmcore.site import SiteFile, ZoneDef, actuator_kind, load_site
from farmcore.sun import sun_times
from farmcore.twin.greenhouse import PARAMS, Greenhouse, GreenhouseState
from farmcore.twin.runtime import set_greenhouse_inputs
from farmcore.twin.weather import WeatherSample, load_weather
from farmctl.controller import GreenhouseController

SITE = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-demo.toml"
ZONE = "gh2"
STEP_S = 10.0  # model step
DOSE_S = 120.0  # baseline irrigation run, as our irrigation strategy's default dose
BASELINE_TIMER = {  # local clock times of the baseline's fertigation events
    "winter": [f"{h:02d}:00" for h in range(9, 17)],
    "summer": [f"{(420 + 45 * i) // 60:02d}:{(420 + 45 * i) % 60:02d}" for i in range(16)],
}
VENT_ROLES = ("roof_vent", "side_vent")
WEATHER_KEYS = ("air_temperature", "relative_humidity", "solar_radiation", "wind_speed", "wind_direction")


class Baseline:
    """generic_thermostat-style control (see the module docstring)."""

    def __init__(self, timer: list[str]) -> None:
        self.timer = {tuple(int(x) for x in t.split(":")) for t in timer}
        self.running_until_s: float | None = None

    def tick(self, inp: TickInput) -> TickOutput:
        out = TickOutput()
        sp = inp.setpoints.get("air_temperature")
        t = inp.readings.get("air_temperature")
        for view in inp.actuators.values():
            d: Decision | None = None
            if view.role == "heater" and sp is not None and t is not None:
                on = view.target is True
                on = True if t <= sp - 0.5 else False if t >= sp + 0.5 else on
                d = Decision(on, "recipe", f"thermostat {t:.1f} vs {sp:.1f}")
            elif view.role in VENT_ROLES and sp is not None and t is not None:
                was_open = isinstance(view.target, float) and view.target > 50
                is_open = True if t > sp + 2 else False if t < sp + 1 else was_open
                d = Decision(100.0 if is_open else 0.0, "recipe", "vent thermostat")
            elif view.role == "thermal_screen":
                d = Decision(100.0 if inp.is_day else 0.0, "recipe", "screen closed at night")
            elif view.role == "shade_screen":
                d = Decision(100.0, "recipe", "no shade")
            elif view.role in ("co2_valve", "lamps", "circulation_fan", "irrigation_pump"):
                d = Decision(False, "recipe", "not used")
            elif view.role == "fertigation":
                if self.running_until_s is not None and inp.now_s < self.running_until_s:
                    d = Decision(True, "recipe", "timer run")
                elif (inp.local.hour, inp.local.minute) in self.timer and inp.local.second < inp.dt_s + 1:
                    self.running_until_s = inp.now_s + DOSE_S
                    out.run_s[view.id] = DOSE_S
                    d = Decision(True, "recipe", "timer start")
                else:
                    d = Decision(False, "recipe", "timer idle")
            if d is not None:
                out.decisions[view.id] = d
        return out


class Run:
    """One controller on one week (after a warm-up day) of one season."""

    def __init__(self, site: SiteFile, zone: ZoneDef, name: str, season: str, start: date, days: int,
                 warmup_days: int, seed: int, tick_s: float) -> None:
        s = site.site
        self.site, self.zone, self.tz = site, zone, ZoneInfo(s.timezone)
        self.lat, self.lon = s.latitude, s.longitude
        assert zone.recipe is not None and zone.planted is not None and zone.twin is not None
        self.recipe = load_recipe(resolve_recipe_path(zone.recipe, SITE))
        self.planted = zone.planted
        self.weather = load_weather(f"synthetic:{seed}", s.latitude, s.longitude)
        self.t0 = datetime.combine(start - timedelta(days=warmup_days), datetime.min.time(), tzinfo=self.tz)
        self.count_from_s = datetime.combine(start, datetime.min.time(), tzinfo=self.tz).timestamp()
        self.end_s = self.count_from_s + days * 86400
        self.tick_s = tick_s
        self.kinds = {a.id: actuator_kind(site, zone, a) for a in zone.actuators}
        self.drivers: dict[str, Any] = {}
        for act in zone.actuators:
            kind = self.kinds[act.id]
            if kind == "retractable":
                drv = RetractableDriver(act.travel_s)
                drv.position = drv.goal = 0.0 if act.role in VENT_ROLES else 100.0  # closed vents, open screens
                self.drivers[act.id] = drv
            elif kind == "nutrient":
                self.drivers[act.id] = SupplyDriver(act.max_on_s)
            else:
                self.drivers[act.id] = SwitchDriver(act.max_on_s)
        self.controller: Any = (GreenhouseController() if name == "ours" else Baseline(BASELINE_TIMER[season]))
        params = PARAMS[zone.twin.model]
        first_sp = self._setpoints(self.t0.astimezone(UTC))["air_temperature"]
        self.model = Greenhouse(params, GreenhouseState.at(first_sp, 75.0, 420.0,
                                                           dry_weight=params.initial_dry_weight))
        self.setpoints: dict[str, float] = {}
        self.setpoints_at = float("-inf")
        self.sun: dict[date, tuple[datetime, datetime]] = {}
        self.strategy: dict[date, dict[str, dict[str, Any]]] = {}
        self.last_tick_s: float | None = None
        self.missing: dict[str, int] = defaultdict(int)  # actuator -> ticks without a decision (failsafe)
        self.moves: dict[str, int] = defaultdict(int)
        self.on: dict[str, bool] = {}

    def _setpoints(self, utc: datetime) -> dict[str, float]:
        raw = setpoints_at(self.recipe, self.planted, utc, self.lat, self.lon, self.tz)
        values = {q: sp.value for q, sp in raw.items()}
        for q, limit in self.zone.hard_limits.items():
            if q in values:
                values[q] = min(limit.max, max(limit.min, values[q]))
        return values

    def _sun(self, day: date) -> tuple[datetime, datetime]:
        if day not in self.sun:
            self.sun[day] = sun_times(self.lat, self.lon, day, self.tz)
        return self.sun[day]

    def _strategy(self, utc: datetime, day: date) -> dict[str, dict[str, Any]]:
        if day not in self.strategy:
            self.strategy[day] = self.recipe.strategy_for(stage_at(self.recipe, self.planted, utc, self.tz)[0])
        return self.strategy[day]

    def switched_on(self, act_id: str, now_s: float) -> bool:
        drv = self.drivers[act_id]
        return drv.commanded is True and (drv.run_until is None or now_s < drv.run_until)

    def tick(self, now_s: float, utc: datetime, local: datetime, w: WeatherSample, counting: bool) -> None:
        if now_s - self.setpoints_at >= SETPOINT_REFRESH_S:
            self.setpoints, self.setpoints_at = self._setpoints(utc), now_s
        outputs = self.model.outputs()
        readings = {s.quantity: outputs[s.quantity] for s in self.zone.sensors if s.quantity in outputs}
        weather = {q: float(getattr(w, q)) for q in WEATHER_KEYS}
        weather["rain_detected"] = 1.0 if w.rain > 0 else 0.0
        views = {}
        for act in self.zone.actuators:
            drv = self.drivers[act.id]
            position = drv.estimate(now_s) if isinstance(drv, RetractableDriver) else None
            views[act.id] = ActuatorView(act.id, act.role, self.kinds[act.id], drv.target, position,  # type: ignore[arg-type]
                                         act.facing, drv.failed)
        dt = 0.0 if self.last_tick_s is None else now_s - self.last_tick_s
        self.last_tick_s = now_s
        inp = TickInput(now_s, utc, local, dt, readings, {}, weather, dict(self.setpoints),
                        self._strategy(utc, local.date()), self._sun(local.date()), views)
        out = self.controller.tick(inp)
        for act in self.zone.actuators:
            drv = self.drivers[act.id]
            kind = self.kinds[act.id]
            wanted = out.decisions.get(act.id)
            if wanted is None:
                if counting:
                    self.missing[act.id] += 1
                wanted = Decision(failsafe_target(act.states()[0], kind, drv.target), "safety", "no decision")
            target = wanted.target
            if target is None:
                continue
            if isinstance(drv, RetractableDriver):
                command = drv.plan(float(target), now_s)
                if counting and command is not None and command.op in ("timed-open", "timed-close"):
                    self.moves[act.id] += 1
            else:
                drv.plan(bool(target), now_s, run_s=out.run_s.get(act.id) if wanted.source == "recipe" else None)

    def apply(self, now_s: float, counting: bool) -> None:
        """The drivers' physical state over the coming step -> model inputs (the twin's own role mapping)."""
        share: dict[str, list[float]] = defaultdict(list)
        for act in self.zone.actuators:
            drv = self.drivers[act.id]
            if isinstance(drv, RetractableDriver):
                a, b = drv.estimate(now_s), drv.estimate(now_s + STEP_S)
                share[act.role].append(((a or 0.0) + (b if b is not None else a or 0.0)) / 200.0)
            else:
                on = self.switched_on(act.id, now_s)
                if counting and act.id in self.on and on != self.on[act.id]:
                    self.moves[act.id] += 1
                self.on[act.id] = on
                share[act.role].append(1.0 if on else 0.0)
        set_greenhouse_inputs(self.model.inputs, share)

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        offset_k = None
        time_s = in_band = in_strict = below = above = rh90 = 0.0
        counters0: dict[str, float] = {}
        now_s = self.t0.timestamp()
        ticks_every = max(1, round(self.tick_s / STEP_S))
        k = 0
        hourly_out: dict[int, float] = defaultdict(float)  # local hour -> out-of-band seconds
        while now_s < self.end_s:
            utc = datetime.fromtimestamp(now_s, UTC)
            local = utc.astimezone(self.tz)
            w = self.weather.sample(utc)
            counting = now_s >= self.count_from_s
            if counting and not counters0:
                st = self.model.state
                counters0 = {"heat": st.heating_energy_j, "co2": st.co2_dosed_kg, "water": st.irrigation_l}
            if k % ticks_every == 0:
                self.tick(now_s, utc, local, w, counting)
            if counting:
                out = self.model.outputs()
                t, rh = out["air_temperature"], out["relative_humidity"]
                sp = self.setpoints["air_temperature"]
                if offset_k is None:
                    offset_k = self._strategy(utc, local.date()).get("ventilation", {}).get("offset_k", 5.0)
                lo, top = sp - 1.0, sp + offset_k + 1.0
                top_adj = max(top, w.air_temperature + 2.0)
                time_s += STEP_S
                in_strict += STEP_S * (lo <= t <= top)
                ok = lo <= t <= top_adj
                in_band += STEP_S * ok
                below += STEP_S * (t < lo)
                above += STEP_S * (t > top_adj)
                if not ok:
                    hourly_out[local.hour] += STEP_S
                rh90 += STEP_S * (rh > 90.0)
            self.apply(now_s, counting)
            self.model.step(STEP_S, w)
            now_s += STEP_S
            k += 1
        st = self.model.state
        return {
            "in_band_pct": round(100 * in_band / time_s, 2),
            "in_band_strict_pct": round(100 * in_strict / time_s, 2),
            "heating_kwh": round((st.heating_energy_j - counters0["heat"]) / 3.6e6, 1),
            "co2_kg": round(st.co2_dosed_kg - counters0["co2"], 2),
            "rh90_hours": round(rh90 / 3600, 2),
            "moves": sum(self.moves.values()),
            "moves_by": dict(sorted(self.moves.items())),
            "below_band_h": round(below / 3600, 2),
            "above_band_h": round(above / 3600, 2),
            "irrigation_l": round(st.irrigation_l - counters0["water"]),
            "out_of_band_h_by_local_hour": {h: round(v / 3600, 2) for h, v in sorted(hourly_out.items())},
            "no_decision_ticks": dict(self.missing),
            "wall_s": round(time.perf_counter() - started, 1),
        }


def combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Both seasons together: time-weighted percentages (equal lengths), sums of the rest."""
    out: dict[str, Any] = {}
    for key in ("in_band_pct", "in_band_strict_pct"):
        out[key] = round(sum(p[key] for p in parts) / len(parts), 2)
    for key in ("heating_kwh", "co2_kg", "rh90_hours", "moves", "below_band_h", "above_band_h", "irrigation_l"):
        out[key] = round(sum(p[key] for p in parts), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026, help="synthetic weather seed (the demo site's)")
    ap.add_argument("--winter", type=date.fromisoformat, default=date(2026, 1, 12), help="first counted winter day")
    ap.add_argument("--summer", type=date.fromisoformat, default=date(2026, 7, 27), help="first counted summer day")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--warmup-days", type=int, default=1)
    ap.add_argument("--tick", type=float, default=10.0, help="controller tick, s (a multiple of the 10 s step)")
    ap.add_argument("--detail", action="store_true", help="also per-actuator moves, out-of-band hours by hour")
    args = ap.parse_args()

    started = time.perf_counter()
    site = load_site(SITE)
    zone = next(z for z in site.zones if z.id == ZONE)
    result: dict[str, Any] = {"house": zone.twin.model if zone.twin else None, "zone": ZONE, "seed": args.seed,
                              "tick_s": args.tick, "step_s": STEP_S}
    per: dict[str, dict[str, dict[str, Any]]] = {"ours": {}, "baseline": {}}
    for season, start in (("winter", args.winter), ("summer", args.summer)):
        for name in per:
            per[name][season] = Run(site, zone, name, season, start, args.days, args.warmup_days, args.seed,
                                    args.tick).run()
    detail_keys = ("moves_by", "out_of_band_h_by_local_hour", "no_decision_ticks")
    for name, seasons in per.items():
        entry = combine(list(seasons.values()))
        for season, figures in seasons.items():
            entry[season] = {k: v for k, v in figures.items() if args.detail or k not in detail_keys}
        result[name] = entry
    ours, base = result["ours"], result["baseline"]
    saving = 1 - ours["heating_kwh"] / base["heating_kwh"] if base["heating_kwh"] > 0 else None
    result["heating_saving_pct"] = None if saving is None else round(100 * saving, 1)
    result["targets"] = {
        "in_band_ge_95": ours["in_band_pct"] >= 95.0,
        "heating_10pct_less": saving is not None and saving >= 0.10,
        "rh90_not_more": ours["rh90_hours"] <= base["rh90_hours"],
    }
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
