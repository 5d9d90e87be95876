"""Greenhouse climate control through a Korean year: ours against a strong climate computer and a thermostat.

Prints one JSON line. Virtual clock, one process per job (`--jobs`, default 2): the demo site's tomato zone
`gh2` (farmcore/twin/sites/gyeongbuk-demo.toml: `double-pe-curtain-1000`, the multi-span double-PE house with
a thermal curtain of the Gyeongbuk rental complexes, roof vents 2 x 90 s travel facing W and E, a side vent
facing S of 120 s, thermal and shade screens 180 s, heater, CO2 valve, fertigation node; recipe crops/tomato,
planted 2025-08-20, so the crop is in its `production` stage in every season) is stepped by the twin's
Greenhouse model in 10 s steps.

Weather (benchmarks/gh_weather.py): seeded synthetic Gyeongbuk weather (SyntheticWeather at 36.35 N 128.70 E,
Asia/Seoul) with 2-3 seeded cold waves per winter added (Siberian-high outbreaks: 3-5 days, coldest hour
−11 to −15 °C, dry air, stronger north-westerly wind). Seasons: winter = 1 December 2025 - 28 February 2026
(90 days), shoulder = 16-29 March 2026, summer = 27 July - 9 August 2026 (14 days each), each after one
warm-up day that is not counted. Three seeds (`--seeds`, default 1,2,3); every figure is the median over the
seeds with its spread `[min, max]` beside it (`<figure>_range`). `--days-scale` or `--winter-days` etc.
shorten the seasons for development and the test.

Every 10 s a controller gets a `TickInput` built as farmcore/runtime/daemon.py builds it: readings = the
model's outputs for the zone's sensors, weather = the weather station's quantities (rain_detected = rain > 0,
as the twin serves it), setpoints from `setpoints_at` refreshed every 30 s and clamped to the zone's hard
limits, the stage and its strategy tables, today's sunrise/sunset, and ActuatorViews with the drivers'
targets and dead-reckoned positions. Its decisions go through the daemon's own drivers (`make_driver`:
RetractableDriver, leased SwitchDriver, SupplyDriver; a missing decision gets the actuator's failsafe, as in
the daemon); the drivers' physical state drives the model inputs as the twin maps them
(`set_greenhouse_inputs`: vents mean opening, screens covering = 1 - opening). The same drivers, twin and
weather serve all three controllers. Not modelled: the Modbus layer (the HIL tests cover it), sensor noise,
faults, manual overrides, the daemon's 24-hour outside low (`weather_low_24h`, only read by the frost guard
when the inside temperature is missing, which never happens here).

Controllers:
- `ours`: farmctl.controller.GreenhouseController, as the daemon runs it.
- `baseline` (benchmarks/gh_baselines.py ClimateComputer): the rule-based climate computer a Korean complex
  would otherwise buy, configured from the same recipe and its set-points, WITHOUT temperature integration:
  * heating: on/off heater by hysteresis around the recipe heating set-point (band `heating.band_k`, 1 K:
    on at sp - 0.5, off at sp + 0.5) with minimum on and off times of 300 s;
  * humidity: first "minimum heating" — while RH is over the recipe RH limit (off again 3 %RH below it) the
    heating set-point is raised 1.5 K, for at least 30 min and not again within 15 min of its end — then, if
    RH is still over the limit after 15 min of it, a 5 % gap in a closed thermal screen until it ends; no
    vent crack for humidity (the spec's climate computer dries by heat and the screen only);
  * thermal screen by outside temperature AND radiation: in the dark (outside global < 10 W/m²) closed below
    the recipe's `close_below_outside_night` (10 °C); with light closed only below `close_below_outside_day`
    (5 °C) and while the outside radiation is under the recipe's `screens.close_below_radiation` (50 W/m² if
    it has none; a closed screen reopens above 1.2 x that), 1 K hysteresis on the temperatures; it opens in
    steps of 20 % every 4 min (against a cold-air drop); shade screen by the recipe's `shade_above_radiation`
    (none in tomato: open);
  * vents: P-band on temperature from the recipe (vent set-point = heating sp + `ventilation.offset_k`, full
    open over `p_band_k`), 5 % steps with a one-step deadband, every vent alike (no lee side first); side
    vents shut below the recipe's `side_vent_min_outside` (12 °C in tomato; 5 °C without it); wind caps from
    the recipe's wind keys (windward tapered shut from 4 to 8 m/s, leeward from 8 to 12 m/s by default) and
    rain (roof shut, sides ≤ 10 %);
  * CO2 to the recipe target by day (none at or below 450 ppm), 50 ppm band, only while every vent is at most
    the recipe's `co2.max_vent_opening_pct` (20 %), 180 s minimum off;
  * radiation influence as the recipe's `[strategy.radiation]` sets it (heating and vent set-points raised
    with the 10-min mean outside radiation, the CO2 target lowered in dull light): the recipe asks for it,
    and commercial computers have it (Priva's radiation influence), so the two are judged on one recipe;
  * circulation fan while heating or under a closed screen; irrigation and fertigation by the same
    radiation-sum rule as ours (farmctl's `Irrigation` object: recipe sum, window, minimum/maximum interval,
    dose); no lamps.
- `thermostat` (gh_baselines.Thermostat), a weaker second reference, what Home Assistant's generic_thermostat
  plus simple automations give: heater on at sp - 0.5 K and off at sp + 0.5 K (no minimum cycle); every vent
  fully open above sp + 2 K and shut below sp + 1 K (no wind or rain logic); thermal screen closed from sunset
  to sunrise; no shade, CO2, lamps or fan; fertigation on a clock (120 s doses: winter 8 a day 09:00-16:00,
  shoulder 11 a day 08:00-18:00, summer 16 a day 07:00-18:15), the counts the recipe's sources give.

Figures (benchmarks/gh_metrics.py; all from the twin's model, per controller over all seasons, with
`light_lost_pct_winter` beside the overall one, and per season under `seasons`):
- heating_kwh: heat delivered to the house (model counter `heating_energy_j`, whole 1000 m² house).
- kwh_per_kg: heating_kwh per kg of the twin's modelled crop DRY MATTER growth (Van Henten's structural dry
  weight, GreenhouseState.dry_weight x floor area) over the same time; not fresh fruit, not yield.
- light_lost_pct: share of the light the crop would have had under the cover without screens (transmission x
  outside global) that the screens took (the model's inside radiation), summed over the days: the share of
  daily light lost to screens. Only counts if the twin's screens block light (see `screens_block_light`).
- rh90_hours: hours with inside RH ≥ 90 %.
- condensation_hours: hours with the canopy colder than the inside air's dew point: the twin's
  `leaf_temperature` output when it has one, else farmcore.canopy run on the model's air, outside temperature,
  inside radiation and screen (`leaf_source` says which).
- in_band_pct: share of time the air is inside [sp - 1, max(sp + offset_k + 1, outside + 2)] (sp = the recipe
  heating set-point in force, offset_k = the recipe's vent offset: the band the recipe asks for widened by
  1 K; a house without cooling cannot be cooler than outside + 2 K); in_band_strict_pct without that relief.
- actuator_starts: switch/supply on transitions and off transitions of the physical state plus vent/screen
  motor starts (timed-open/timed-close commands; a stop is not a start); `--detail` gives them per actuator.
- also: below_band_h, above_band_h, dry_matter_kg, co2_kg, irrigation_l.

`targets` (issue 16) compare ours with the strong baseline on the medians: RH ≥ 90 % hours and condensation
hours not more, light lost to screens ≤ 2 % of winter daily light, in band not less, heating energy not more;
`heating_saving_pct` is the median over the seeds of each seed's saving against the baseline (spread beside).

What the figures do not show: yield or fruit quality (dry matter is the Van Henten crop's, not a tomato
model's; light lost is counted, its cost in yield is not — about 1 % yield per 1 % light, Marcelis et al.
2006 — and the crop model's own response to it is in dry_matter_kg); disease itself (RH and condensation
hours are risk proxies); a hot-water loop or water curtain (gh2 has a plain on/off heater); sensor error,
faults, overrides; a real climate computer's tuning by a grower over years; costs of CO2, electricity, wear.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# its sibling modules (gh_*.py); appended, not first: this folder holds portal.py, which must not shadow the
# `portal` package in a process that imports both (the test suite)
sys.path.append(str(Path(__file__).resolve().parent))

from gh_baselines import VENT_ROLES, ClimateComputer, Thermostat
from gh_metrics import Meter, report
from gh_weather import SEASONS, Season, benchmark_weather, scaled

import farmcore.twin
from farmcore.control.arbitration import Decision
from farmcore.recipe.load import load_recipe
from farmcore.recipe.schema import Recipe
from farmcore.recipe.timeline import setpoints_at, stage_at
from farmcore.recipe.zonerecipe import resolve_recipe_path
from farmcore.runtime.actuators import RetractableDriver
from farmcore.runtime.controller import ActuatorView, TickInput
from farmcore.runtime.safety import failsafe_target
from farmcore.runtime.zone import SETPOINT_REFRESH_S, make_driver
from farmcore.site import SiteFile, ZoneDef, actuator_kind, load_site
from farmcore.sun import sun_times
from farmcore.twin.greenhouse import PARAMS, Greenhouse, GreenhouseState
from farmcore.twin.runtime import set_greenhouse_inputs
from farmcore.twin.weather import WeatherSample
from farmctl.controller import GreenhouseController

SITE = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-demo.toml"
ZONE = "gh2"
STEP_S = 10.0  # model step
CONTROLLERS = ("ours", "baseline", "thermostat")
WEATHER_KEYS = ("air_temperature", "relative_humidity", "solar_radiation", "wind_speed", "wind_direction")


def _controller(name: str, season: str) -> Any:
    if name == "ours":
        return GreenhouseController()
    if name == "baseline":
        return ClimateComputer()
    if name == "thermostat":
        return Thermostat(season)
    raise ValueError(f"controller {name!r}: expected one of {', '.join(CONTROLLERS)}")


class Run:
    """One controller through one season (after its warm-up days) on one seed's weather."""

    def __init__(self, site: SiteFile, zone: ZoneDef, recipe: Recipe, name: str, season: Season, warmup_days: int,
                 seed: int,
                 tick_s: float, all_seasons: tuple[Season, ...]) -> None:
        s = site.site
        self.zone, self.tz = zone, ZoneInfo(s.timezone)
        self.lat, self.lon = s.latitude, s.longitude
        assert zone.recipe is not None and zone.planted is not None and zone.twin is not None
        self.recipe = recipe
        self.planted = zone.planted
        self.weather = benchmark_weather(seed, s.latitude, s.longitude, all_seasons)
        self.t0 = datetime.combine(season.start - timedelta(days=warmup_days), datetime.min.time(), tzinfo=self.tz)
        self.count_from_s = datetime.combine(season.start, datetime.min.time(), tzinfo=self.tz).timestamp()
        self.end_s = self.count_from_s + season.days * 86400
        self.tick_s = tick_s
        self.kinds = {a.id: actuator_kind(site, zone, a) for a in zone.actuators}
        self.drivers: dict[str, Any] = {}
        for act in zone.actuators:
            drv = make_driver(site, self.kinds[act.id], act)
            if isinstance(drv, RetractableDriver):
                drv.position = drv.goal = 0.0 if act.role in VENT_ROLES else 100.0  # closed vents, open screens
            self.drivers[act.id] = drv
        self.controller = _controller(name, season.name)
        params = PARAMS[zone.twin.model]
        first_sp = self._setpoints(self.t0.astimezone(UTC))["air_temperature"]
        self.model = Greenhouse(params, GreenhouseState.at(first_sp, 75.0, 420.0,
                                                           dry_weight=params.initial_dry_weight))
        self.meter = Meter(self.model)
        self.setpoints: dict[str, float] = {}
        self.setpoints_at = float("-inf")
        self.sun: dict[date, tuple[datetime, datetime]] = {}
        self.stage: dict[date, tuple[str, dict[str, dict[str, Any]]]] = {}
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

    def _stage(self, utc: datetime, day: date) -> tuple[str, dict[str, dict[str, Any]]]:
        if day not in self.stage:
            name = stage_at(self.recipe, self.planted, utc, self.tz)[0]
            self.stage[day] = (name, self.recipe.strategy_for(name))
        return self.stage[day]

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
        stage, strategy = self._stage(utc, local.date())
        inp = TickInput(now_s, utc, local, dt, readings, {}, weather, dict(self.setpoints), strategy,
                        self._sun(local.date()), views, stage=stage, zone=self.zone)
        out = self.controller.tick(inp)
        for act in self.zone.actuators:
            drv = self.drivers[act.id]
            wanted = out.decisions.get(act.id)
            if wanted is None:
                if counting:
                    self.missing[act.id] += 1
                wanted = Decision(failsafe_target(act.states()[0], self.kinds[act.id], drv.target), "safety",
                                  "no decision")
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
        now_s = self.t0.timestamp()
        ticks_every = max(1, round(self.tick_s / STEP_S))
        k = 0
        offset_k = 5.0
        while now_s < self.end_s:
            utc = datetime.fromtimestamp(now_s, UTC)
            local = utc.astimezone(self.tz)
            w = self.weather.sample(utc)
            counting = now_s >= self.count_from_s
            if counting and not self.meter.counting:
                self.meter.begin()
            if k % ticks_every == 0:
                self.tick(now_s, utc, local, w, counting)
                offset_k = self._stage(utc, local.date())[1].get("ventilation", {}).get("offset_k", 5.0)
            self.apply(now_s, counting)
            self.model.step(STEP_S, w)
            self.meter.after_step(STEP_S, w, self.setpoints["air_temperature"], offset_k, counting)
            now_s += STEP_S
            k += 1
        return {"sums": self.meter.finish(sum(self.moves.values())), "moves_by": dict(sorted(self.moves.items())),
                "no_decision_ticks": dict(self.missing)}


_LOADED: list[tuple[SiteFile, ZoneDef, Recipe]] = []


def load_inputs() -> tuple[SiteFile, ZoneDef, Recipe]:
    """The site and the zone's recipe, read once: the workers are forked after main() has read them, so a file
    edited while a run is going (colleagues tuning a recipe) cannot mix two versions into one run."""
    if not _LOADED:
        site = load_site(SITE)
        zone = next(z for z in site.zones if z.id == ZONE)
        assert zone.recipe is not None
        _LOADED.append((site, zone, load_recipe(resolve_recipe_path(zone.recipe, SITE))))
    return _LOADED[0]


def job(spec: tuple[str, Season, int, int, float, tuple[Season, ...]]) -> tuple[str, str, int, dict[str, Any], float]:
    """One (controller, season, seed) run, in a worker process."""
    name, season, seed, warmup_days, tick_s, all_seasons = spec
    started = time.perf_counter()
    site, zone, recipe = load_inputs()
    result = Run(site, zone, recipe, name, season, warmup_days, seed, tick_s, all_seasons).run()
    return name, season.name, seed, result, time.perf_counter() - started


def seasons_from(args: argparse.Namespace) -> tuple[Season, ...]:
    chosen = scaled(SEASONS, args.days_scale)
    lengths = {"winter": args.winter_days, "shoulder": args.shoulder_days, "summer": args.summer_days}
    out = tuple(Season(s.name, s.start, lengths[s.name] if lengths[s.name] is not None else s.days) for s in chosen)
    return tuple(s for s in out if s.days > 0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3", help="synthetic weather seeds, comma separated")
    ap.add_argument("--days-scale", type=float, default=1.0, help="season lengths x this (development runs)")
    ap.add_argument("--winter-days", type=float, help="winter length, days from 1 December (default 90)")
    ap.add_argument("--shoulder-days", type=float, help="shoulder length, days from 16 March (default 14; 0 = skip)")
    ap.add_argument("--summer-days", type=float, help="summer length, days from 27 July (default 14; 0 = skip)")
    ap.add_argument("--warmup-days", type=int, default=1)
    ap.add_argument("--controllers", default=",".join(CONTROLLERS), help="which of ours,baseline,thermostat")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (the machine's cores, at most)")
    ap.add_argument("--tick", type=float, default=10.0, help="controller tick, s (a multiple of the 10 s step)")
    ap.add_argument("--detail", action="store_true", help="also per-actuator starts and failsafe ticks per run")
    args = ap.parse_args(argv)
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    names = [n.strip() for n in args.controllers.split(",") if n.strip()]
    for n in names:
        if n not in CONTROLLERS:
            ap.error(f"--controllers: {n!r} is not one of {', '.join(CONTROLLERS)}")
    seasons = seasons_from(args)
    started = time.perf_counter()
    specs = [(n, s, seed, args.warmup_days, args.tick, SEASONS) for s in sorted(seasons, key=lambda s: -s.days)
             for seed in seeds for n in names]
    jobs = max(1, min(args.jobs, len(specs), os.cpu_count() or 1))
    zone = load_inputs()[1]
    if jobs == 1:
        results = [job(spec) for spec in specs]
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = list(pool.imap_unordered(job, specs))
    model = Greenhouse(PARAMS[zone.twin.model] if zone.twin else PARAMS["double-pe-curtain-1000"])
    model.inputs.thermal_screen = 1.0
    model.advance(1.0, 0.0, 50.0, 500.0, 1.0)
    result: dict[str, Any] = {
        "house": zone.twin.model if zone.twin else None, "zone": ZONE, "seeds": seeds, "tick_s": args.tick,
        "step_s": STEP_S, "seasons": {s.name: {"start": s.start.isoformat(), "days": s.days} for s in seasons},
        "warmup_days": args.warmup_days,
        "screens_block_light": model.outputs()["solar_radiation"] < model.params.transmission * 500.0 - 1e-9,
        "leaf_source": "twin" if "leaf_temperature" in model.outputs() else "farmcore.canopy on the model",
        "light_source": "twin counters" if Meter(model).twin_light else "model inside radiation",
    }
    result.update(report(results, [s.name for s in seasons], seeds, args.detail, CONTROLLERS))
    result["cpu_s"] = round(sum(r[4] for r in results), 1)
    result["jobs"] = jobs
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
