"""The greenhouse zone controller: one tick of every greenhouse strategy, each actuator decided by exactly one.

Strategies (farmctl/strategies/), in the order a tick runs them:

- radiation (`radiation`): the outside radiation's mean raises the heating and vent setpoints and sets the CO2
  target where the recipe asks for it;
- temperature integration (`integration`): banks degree-hours above the heating setpoint and lowers the night
  heating setpoint by up to `max_deviation_k`, never in the pre-dawn window;
- humidity (`humidity`): the RH limit in force, converted from a VPD or humidity-deficit setpoint;
- dehumidification (`dehumidify`): over that limit, heat (or minimum pipe), then a screen gap, then a lee vent
  crack, in stages with their own hysteresis; the condensation guard (`condensation`): the crop's temperature
  (leaf sensor or canopy model) and, before sunrise, a heating setpoint floor above the dew point;
- ventilation (`ventilation`) -> roof_vent, side_vent: P-band on temperature and humidity, lee side first, side
  vents shut in the cold, wind (windward before leeward) and rain caps, rate limit and 5 % deadbanded steps;
- heating (`heating`) -> heater: hysteresis, minimum on/off times and at most `max_starts_per_hour` starts
  around the setpoint raised for the condensation guard and dehumidification;
- screens (`screens`) -> thermal_screen (cold and dull outside, opened in steps, gap when dehumidifying),
  shade_screen (outside radiation);
- hot-water loop (`heatloop`) -> boiler, mixing_valve: pipe set-point by a P-band on air temperature between
  minimum and maximum pipe (minimum pipe also for the dehumidification), the valve by PID on the pipe
  temperature in steps, the boiler on while the loop runs with minimum times and a start limit;
- CO2 (`co2`) -> co2_valve: target lowered as the vents open, none beyond the maximum opening or in the dark;
- circulation fan (`humidity`) -> circulation_fan: while heating, under a closed screen or near the RH limit;
- irrigation and fertigation (`irrigation`, `fertigation`) -> irrigation_pump or fertigation: radiation-sum
  events with min/max intervals and a soil-moisture trigger, the dose steered toward the drain target where
  `drain_pct` is read, EC/pH to the nutrient node, which stops (`TickOutput.stops`, an alarm) when the
  supply's EC or pH leaves its safe band;
- lighting (`lighting`) -> lamps: photoperiod window and DLI pro rata;
- water curtain (`watercurtain`) -> water_curtain: at night below an outside temperature while the groundwater
  is warm enough, off before sunrise;
- the frost guard (`frostguard`): with no good inside temperature on a cold day or night, the degraded mode of
  the heaters (a duty by the outside temperature) and vents (shut), which the runtime's safety uses instead of
  their plain failsafe.

A strategy whose reading is missing gives no decision for its actuators (the runtime applies the failsafe).
Day sums (radiation, DLI) reset at local midnight; `state()`/`restore()` carry sums, timers and the bank.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from farmcore import canopy
from farmcore.control.arbitration import Decision
from farmcore.control.switching import MinOnOff, Switched
from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
from farmcore.site import FrostGuardDef, ZoneDef
from farmctl.strategies import co2, condensation, frostguard, heating, humidity, radiation, screens, ventilation
from farmctl.strategies.dehumidify import Dehumidifier
from farmctl.strategies.heatloop import HeatLoop
from farmctl.strategies.integration import TemperatureIntegration
from farmctl.strategies.irrigation import Irrigation
from farmctl.strategies.lighting import Lighting
from farmctl.strategies.watercurtain import WaterCurtain

STATE_VERSION = 1
DEFAULT_FROST = FrostGuardDef()  # a zone whose site file says nothing about its frost guard


def _held(d: Decision, switched: Switched) -> Decision:
    if switched.on == d.target:
        return d
    return Decision(switched.on, d.source, f"{d.reason}; {switched.reason}")


def _opening(view: ActuatorView, decided: Decision | None) -> float | None:
    """How far a vent is open for CO2's sake: the wider of where it is and where it is going this tick
    (a vent still closing from wide open vents the dose all the way), else its last target."""
    known = [float(v) for v in (decided.target if decided else None, view.position)
             if isinstance(v, int | float) and not isinstance(v, bool)]
    if known:
        return max(known)
    target = view.target
    return float(target) if isinstance(target, int | float) and not isinstance(target, bool) else None


class GreenhouseController:
    """A greenhouse zone's strategies; works with any subset of the greenhouse actuator roles."""

    def __init__(self, actuators: list[ActuatorView] | None = None) -> None:
        self._default_actuators = {a.id: a for a in actuators or []}  # used when a tick brings none
        self._day: date | None = None
        self._ti = TemperatureIntegration()
        self._vents = ventilation.Vents()
        self._heaters = heating.Heaters()
        self._irrigation = Irrigation()
        self._lighting = Lighting()
        self._co2_timers: dict[str, MinOnOff] = {}
        self._loop = HeatLoop()
        self._curtain = WaterCurtain()
        self._dehum = Dehumidifier()
        self._crop = condensation.CropTemperature()
        self._screens = screens.Screens()
        self._radiation = radiation.RadiationMean()

    def _co2_pace(self, view: ActuatorView, d: Decision, now_s: float) -> Decision:
        """A valve stops dosing at once, but opens again only after CO2_MIN_OFF_S: a closed house crosses the
        50 ppm band in about two minutes, and a valve cycling that fast wears out for nothing."""
        timer = self._co2_timers.setdefault(view.id, MinOnOff(0.0, co2.MIN_OFF_S))
        if isinstance(view.target, bool) and view.target != timer.on:
            timer.on, timer.since_s = view.target, now_s  # switched by someone else (override, failsafe)
        return _held(d, timer.request(bool(d.target), now_s))

    def tick(self, inp: TickInput) -> TickOutput:
        out = TickOutput()
        self._new_day(inp, out)
        roles: dict[str, list[ActuatorView]] = defaultdict(list)
        for view in (inp.actuators or self._default_actuators).values():
            roles[view.role].append(view)
        decide = out.decisions

        base_sp = inp.setpoints.get("air_temperature")
        self._ti.update(inp, base_sp)
        self._irrigation.accumulate(inp)
        self._lighting.accumulate(inp)
        limit = humidity.rh_limit(inp)
        rh = inp.readings.get("relative_humidity")
        sun_mean = self._radiation.update(inp)
        crop = self._crop.update(inp, condensation.screen_closure(roles["thermal_screen"]))
        dehum = self._dehum.step(inp, limit, hot_water=bool(roles["mixing_valve"]))
        out.trace["dehumidify_stage"] = float(dehum.stage)

        want = None
        heating_on = False
        if base_sp is not None:
            rad_k, rad_why = radiation.raise_k(inp, sun_mean, "heating")
            heat_sp, heat_why = self._ti.setpoint(inp, base_sp + rad_k)
            if rad_k:
                heat_why = f"{heat_why} (recipe {base_sp:.1f} °C {rad_why})"
                out.trace["radiation_heating_raise_k"] = rad_k
            out.trace["heating_setpoint"] = heat_sp
            vent_k, vent_why = radiation.raise_k(inp, sun_mean, "vent")
            if vent_k:
                out.trace["radiation_vent_raise_k"] = vent_k
            want = ventilation.demand(inp, heat_sp, limit, raise_k=vent_k, raise_why=vent_why)
            if want is not None:
                out.trace["vent_demand_pct"] = want.pct
                vents = roles["roof_vent"] + roles["side_vent"]
                share = ventilation.shares(inp, vents, want, dehum.crack_pct, dehum.reason if dehum.stage >= 3 else "")
                for view in vents:
                    decide[view.id] = self._vents.decide(inp, view, want, share[view.id])
            floor = condensation.floor(inp, crop)
            if floor is not None:
                out.trace["condensation_floor"] = floor[0]
            plan = heating.plan(heat_sp, heat_why, dehum.raise_k, dehum.reason, floor)
            out.setpoints["air_temperature"] = plan.setpoint
            for view in roles["heater"]:
                if (d := self._heaters.decide(inp, view, plan)) is not None:
                    decide[view.id] = d
                    heating_on = heating_on or d.target is True
            self._loop.decide(inp, plan, dehum.min_pipe, roles["boiler"], roles["mixing_valve"], out)
            heating_on = heating_on or any(decide[v.id].target is True for v in roles["boiler"] if v.id in decide)
            out.trace["heat_demand"] = float(heating_on)

        screened = False
        for view in roles["thermal_screen"]:
            if (d := screens.thermal(inp, view, gap_pct=dehum.gap_pct, gap_why=dehum.reason)) is not None:
                decide[view.id] = d = self._screens.pace(inp, view, d)
                screened = screened or float(d.target) < 50
        for view in roles["shade_screen"]:
            if (d := screens.shade(inp, view)) is not None:
                decide[view.id] = d

        openings = [_opening(v, decide.get(v.id)) for v in roles["roof_vent"] + roles["side_vent"]]
        known = [o for o in openings if o is not None]
        vent_pct = max(known, default=0.0) if len(known) == len(openings) else None
        for view in roles["co2_valve"]:
            d, target = co2.decide(inp, view.target is True, vent_pct, radiation.co2_target(inp, sun_mean))
            if d is not None:
                decide[view.id] = self._co2_pace(view, d, inp.now_s)
            if target is not None:
                out.trace["co2_target_ppm"] = target
                out.setpoints["co2"] = target

        for view in roles["circulation_fan"]:
            if (d := humidity.fan_decision(inp, view, heating=heating_on, screened=screened, limit=limit)) is not None:
                decide[view.id] = d

        self._irrigation.decide(inp, roles["irrigation_pump"], roles["fertigation"], out)
        for view in roles["lamps"]:
            if (d := self._lighting.decide(inp, view)) is not None:
                decide[view.id] = d
        for view in roles["water_curtain"]:
            if (d := self._curtain.decide(inp, view)) is not None:
                decide[view.id] = d

        frost = (inp.zone.frost_guard if inp.zone is not None else None) or DEFAULT_FROST  # the site's, as reloaded
        out.fallbacks, out.fallback_note = frostguard.decide(inp, frost, [v for vs in roles.values() for v in vs])
        if out.fallbacks or out.fallback_note:
            out.fallback_mode = frostguard.MODE
        if limit is not None:
            out.trace["rh_limit"] = limit[0]
            out.setpoints["relative_humidity"] = limit[0]
        if rh is not None and "air_temperature" in inp.readings:
            out.trace["vpd_kpa"] = humidity.vpd_kpa(inp.readings["air_temperature"], rh)
        out.trace["dli_mol_m2"] = self._lighting.dli_mol_m2
        out.trace["radiation_sum_j_cm2"] = self._irrigation.radiation_sum_j_cm2
        if "temperature_integration" in inp.strategy:
            out.trace["ti_bank_kh"] = self._ti.bank_kh()
        if crop is not None:
            out.trace["crop_temperature"] = crop[0]
        if rh is not None and "air_temperature" in inp.readings:
            out.trace["dew_point"] = canopy.dew_point_c(inp.readings["air_temperature"], rh)
        if sun_mean is not None:
            out.trace["radiation_mean_w_m2"] = sun_mean
        return out

    def _new_day(self, inp: TickInput, out: TickOutput) -> None:
        """Reset the day sums when the local date changes (also for a state restored from an older day)."""
        today = inp.local.date()
        if self._day is not None and today != self._day:
            out.events.append(f"new day {today.isoformat()}: radiation sum "
                              f"{self._irrigation.radiation_sum_j_cm2:.0f} J/cm2 and DLI "
                              f"{self._lighting.dli_mol_m2:.2f} mol/m2 of {self._day.isoformat()} reset")
            self._irrigation.radiation_sum_j_cm2 = 0.0
            self._lighting.dli_mol_m2 = 0.0
        self._day = today

    def state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "day": self._day.isoformat() if self._day else None,
            **self._irrigation.state(),
            **self._lighting.state(),
            "ti_bank": self._ti.state(),
            "heaters": self._heaters.state(),
            "heat_loop": self._loop.state(),
            "water_curtain": self._curtain.state(),
            "dehumidify": self._dehum.state(),
            **self._crop.state(),
            "screens_moved_s": self._screens.state(),
            **self._radiation.state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `state()` gave; missing keys keep their fresh defaults."""
        day = state.get("day")
        self._day = date.fromisoformat(day) if day else None
        self._irrigation.restore(state)
        self._lighting.restore(state)
        self._ti.restore(state.get("ti_bank", []))
        self._heaters.restore(state.get("heaters", {}))
        self._loop.restore(state.get("heat_loop", {}))
        self._curtain.restore(state.get("water_curtain", {}))
        self._dehum.restore(state.get("dehumidify", {}))
        self._crop.restore(state)
        self._screens.restore(state.get("screens_moved_s", {}))
        self._radiation.restore(state)


def for_zone(_zone: ZoneDef) -> GreenhouseController:
    """The controller of a greenhouse zone (the `farmcore.controllers` entry point); its site settings arrive
    with every tick (`TickInput.zone`), so a reload changes them."""
    return GreenhouseController()
