"""The benchmark's reference controllers: a strong rule-based climate computer and a generic thermostat.

Both read the same TickInput as farmctl's GreenhouseController and answer with the same Decisions, so the
daemon's drivers and the twin treat all three alike. See benchmarks/control_greenhouse.py for the rules.
"""

from __future__ import annotations

import math
from typing import Any

from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis, MinOnOff
from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
from farmctl.strategies.irrigation import Irrigation

VENT_ROLES = ("roof_vent", "side_vent")
OFF_ROLES = ("lamps",)

# -- the climate computer's own settings, each an engineering choice where the recipe gives none -------------
HEAT_BAND_K = 1.0  # on at sp - 0.5 K, off at sp + 0.5 K, unless the recipe's heating.band_k says otherwise
HEAT_MIN_ON_S = 300.0  # burner minimum run [engineering choice]
HEAT_MIN_OFF_S = 300.0  # [engineering choice]
MIN_HEAT_RAISE_K = 1.5  # "minimum heating": heating set-point raised while RH is over the limit [engineering choice]
RH_HYSTERESIS = 3.0  # dehumidifying ends 3 %RH below the limit [engineering choice]
DEHUMIDIFY_MIN_ON_S = 1800.0  # once started, minimum heating holds at least 30 min ... [engineering choice]
DEHUMIDIFY_MIN_OFF_S = 900.0  # ... and starts again no sooner than 15 min after it ended [engineering choice]
GAP_AFTER_S = 900.0  # then the screen gap, if RH is still over the limit after 15 min [engineering choice]
DARK_W_M2 = 10.0  # outside global radiation below this is night for the screen [engineering choice]
LIGHT_W_M2 = 50.0  # by day a cold screen closes below this, unless the recipe says (close_below_radiation) ...
LIGHT_REOPEN = 1.2  # ... and opens again above 1.2 x it [engineering choice]
SCREEN_GAP_PCT = 5.0  # gap in a closed screen while dehumidifying [engineering choice]
SCREEN_STEP_PCT = 20.0  # a closed screen opens in steps of this ... [engineering choice]
SCREEN_STEP_S = 240.0  # ... one every 4 min, against a cold-air drop [engineering choice]
VENT_STEP_PCT = 5.0  # vent positions are multiples of this and move by at least one step [engineering choice]
SIDE_MIN_OUTSIDE_C = 5.0  # side vents shut below this outside temperature, unless the recipe's side_vent_min_outside
WIND_TAPER_MS, WIND_CLOSE_MS, WIND_ALL_MS = 4.0, 8.0, 12.0  # windward taper / windward shut / all shut
RAIN_SIDE_PCT = 10.0  # side vents may stay this open in rain, roof vents shut
CO2_BAND_PPM = 50.0  # valve on 25 ppm below the target, off 25 ppm above
CO2_MIN_OFF_S = 180.0  # a closed valve stays closed this long
CO2_MAX_VENT_PCT = 20.0  # no dosing with vents wider than this, unless the recipe's co2.max_vent_opening_pct
NO_CO2_AT_OR_BELOW_PPM = 450.0  # a target about outside air means "do not dose" (the recipe schema)
RADIATION_MEAN_S = 600.0  # radiation influence works on a 10-min mean (first order) unless the recipe says

# -- the thermostat --------------------------------------------------------------------------------------------
THERMOSTAT_DOSE_S = 120.0  # irrigation run, as our irrigation strategy's default dose
THERMOSTAT_TIMER = {  # local clock times of the thermostat's fertigation events (7-8 a day in winter, 10-20 in summer)
    "winter": [f"{h:02d}:00" for h in range(9, 17)],
    "shoulder": [f"{h:02d}:00" for h in range(8, 19)],
    "summer": [f"{(420 + 45 * i) // 60:02d}:{(420 + 45 * i) % 60:02d}" for i in range(16)],
}


def _windward(facing: float | None, wind_from: float | None) -> bool:
    if facing is None or wind_from is None:
        return True
    return abs((wind_from - facing + 180) % 360 - 180) < 90


def _pct(view: ActuatorView, default: float) -> float:
    """The position a retractable was last told to go to."""
    t = view.target
    return float(t) if isinstance(t, int | float) and not isinstance(t, bool) else default


def _taper(speed: float, start: float, end: float) -> float:
    return min(max((end - speed) / (end - start) * 100, 0.0), 100.0)


class ClimateComputer:
    """A commercial-style rule-based climate computer configured from the recipe (module docstring of the benchmark)."""

    def __init__(self) -> None:
        self.heat = MinOnOff(HEAT_MIN_ON_S, HEAT_MIN_OFF_S)
        self.co2 = MinOnOff(0.0, CO2_MIN_OFF_S)
        self.dehumidify = MinOnOff(DEHUMIDIFY_MIN_ON_S, DEHUMIDIFY_MIN_OFF_S)
        self.gap = False
        self.screen_closed = False
        self.screen_step_at = float("-inf")
        self.irrigation = Irrigation()
        self.radiation: float | None = None  # outside radiation, mean

    def _radiation(self, inp: TickInput, table: dict[str, Any]) -> tuple[float, float, float | None]:
        """The recipe's radiation influence (`[strategy.radiation]`, all off unless set): heating and vent
        set-point raises, K, and the CO2 target, as a climate computer's radiation influence applies them."""
        rad = inp.weather["solar_radiation"]
        tau = table.get("mean_min", RADIATION_MEAN_S / 60) * 60
        self.radiation = rad if self.radiation is None else rad + (self.radiation - rad) * math.exp(-inp.dt_s / tau)
        above = max(self.radiation - table.get("above_w_m2", 200.0), 0.0) / 100
        heat = min(above * table.get("heating_k_per_100_w_m2", 0.0), table.get("heating_max_k", 2.0))
        vent = min(above * table.get("vent_k_per_100_w_m2", 0.0), table.get("vent_max_k", 2.0))
        co2 = inp.setpoints.get("co2")
        full = table.get("co2_full_above_w_m2")
        if co2 is not None and full is not None:
            low_sp, low = min(table.get("co2_low_ppm", 600.0), co2), table.get("co2_low_below_w_m2", 100.0)
            co2 = low_sp + (co2 - low_sp) * min(max((self.radiation - low) / (full - low), 0.0), 1.0)
        return heat, vent, co2

    def _screen(self, inp: TickInput, view: ActuatorView, table: dict[str, Any], rh_high: bool) -> Decision:
        t_out, rad = inp.weather["air_temperature"], inp.weather["solar_radiation"]
        light = table.get("close_below_radiation", LIGHT_W_M2)
        dark = rad < DARK_W_M2
        limit = table.get("close_below_outside_night" if dark else "close_below_outside_day", 10.0 if dark else 5.0)
        cold = Hysteresis(on_below=limit, off_above=limit + 1.0).decide(self.screen_closed, t_out).on
        bright = rad >= (LIGHT_REOPEN * light if self.screen_closed else light)
        self.screen_closed = cold and (dark or not bright)
        now = _pct(view, 100.0)
        if self.screen_closed:
            goal = SCREEN_GAP_PCT if rh_high else 0.0
            return Decision(goal, "recipe", f"screen closed: outside {t_out:.1f} °C < {limit:g}, {rad:.0f} W/m2")
        if now >= 100.0 or inp.now_s - self.screen_step_at >= SCREEN_STEP_S:
            if now < 100.0:
                self.screen_step_at = inp.now_s
            now = min(100.0, now + SCREEN_STEP_PCT) if now < 100.0 else 100.0
        return Decision(now, "recipe", f"screen opening in steps: outside {t_out:.1f} °C, {rad:.0f} W/m2")

    def _vent(self, inp: TickInput, view: ActuatorView, pct: float) -> Decision:
        w, table = inp.weather, inp.strategy.get("ventilation", {})
        wind, t_out = w["wind_speed"], w["air_temperature"]
        taper, shut = table.get("windward_taper_ms", WIND_TAPER_MS), table.get("windward_close_ms", WIND_CLOSE_MS)
        if _windward(view.facing, w.get("wind_direction")):
            cap = _taper(wind, taper, shut)
        else:
            cap = _taper(wind, shut, table.get("close_all_ms", WIND_ALL_MS))
        if w.get("rain_detected", 0.0) >= 0.5:
            cap = min(cap, RAIN_SIDE_PCT if view.role == "side_vent" else 0.0)
        side_min = table.get("side_vent_min_outside")
        if view.role == "side_vent" and t_out < (SIDE_MIN_OUTSIDE_C if side_min is None else side_min):
            cap = 0.0
        want = min(pct, cap)
        prev = _pct(view, 0.0)
        if want <= 0.0:
            stepped = 0.0
        elif abs(want - prev) < VENT_STEP_PCT and prev <= cap:
            stepped = prev  # less than a step away: no motor start
        else:
            stepped = VENT_STEP_PCT * round(want / VENT_STEP_PCT)
        return Decision(stepped, "recipe", f"P-band {pct:.0f} %, wind/rain cap {cap:.0f} %")

    def tick(self, inp: TickInput) -> TickOutput:
        out = TickOutput()
        sp, t = inp.setpoints.get("air_temperature"), inp.readings.get("air_temperature")
        rh, co2 = inp.readings.get("relative_humidity"), inp.readings.get("co2")
        limit = inp.setpoints.get("relative_humidity", 85.0)
        if sp is None or t is None or rh is None:
            return out  # the runtime's failsafe: nothing to control on
        st = inp.strategy
        vent = st.get("ventilation", {})
        humid = Hysteresis(on_above=limit, off_below=limit - RH_HYSTERESIS).decide(self.dehumidify.on, rh).on
        dehumidify = self.dehumidify.request(humid, inp.now_s).on
        since = self.dehumidify.since_s
        if not dehumidify:
            self.gap = False
        elif rh >= limit and since is not None and inp.now_s - since >= GAP_AFTER_S:
            self.gap = True  # heat alone has not brought RH down: open the screen gap too, until dehumidifying ends
        rad_heat, rad_vent, co2_target = self._radiation(inp, st.get("radiation", {}))
        heat_sp = sp + rad_heat + (MIN_HEAT_RAISE_K if dehumidify else 0.0)
        band = st.get("heating", {}).get("band_k", HEAT_BAND_K)
        wanted = Hysteresis.band(heat_sp, band, action="raise").decide(self.heat.on, t).on
        heat_on = self.heat.request(wanted, inp.now_s).on
        vent_sp = sp + rad_heat + rad_vent + vent.get("offset_k", 5.0)
        vent_pct = min(max((t - vent_sp) / vent.get("p_band_k", 4.0) * 100, 0.0), 100.0)
        self.irrigation.accumulate(inp)
        views = list(inp.actuators.values())
        decisions: dict[str, Decision] = {}
        for view in views:
            if view.role == "heater":
                decisions[view.id] = Decision(heat_on, "recipe", f"heater {t:.1f} °C vs {heat_sp:.1f}")
            elif view.role in VENT_ROLES:
                decisions[view.id] = self._vent(inp, view, vent_pct)
            elif view.role == "thermal_screen":
                decisions[view.id] = self._screen(inp, view, st.get("screens", {}), self.gap)
            elif view.role == "shade_screen":
                above = st.get("screens", {}).get("shade_above_radiation")
                rad = inp.weather["solar_radiation"]
                drawn = above is not None and Hysteresis(on_above=above, off_below=0.8 * above).decide(
                    view.target == 0.0, rad).on
                decisions[view.id] = Decision(0.0 if drawn else 100.0, "recipe", "shade by outside radiation")
            elif view.role in OFF_ROLES:
                decisions[view.id] = Decision(False, "recipe", "not used")
        vents_open = max((float(d.target) for v in views if v.role in VENT_ROLES
                          for d in [decisions[v.id]]), default=0.0)
        target = 400.0 if co2_target is None else co2_target
        max_vent = st.get("co2", {}).get("max_vent_opening_pct", CO2_MAX_VENT_PCT)
        dark_ok = st.get("co2", {}).get("dose_in_dark", False) or inp.is_day
        dose = (co2 is not None and target > NO_CO2_AT_OR_BELOW_PPM and dark_ok and vents_open <= max_vent
                and Hysteresis.band(target, CO2_BAND_PPM, action="raise").decide(self.co2.on, co2).on)
        dose_on = self.co2.request(bool(dose), inp.now_s, force=not dose).on
        screened = any(v.role == "thermal_screen" and float(decisions[v.id].target) < 50 for v in views)
        for view in views:
            if view.role == "co2_valve":
                decisions[view.id] = Decision(dose_on, "recipe", f"CO2 to {target:g} ppm, vents {vents_open:.0f} %")
            elif view.role == "circulation_fan":
                decisions[view.id] = Decision(heat_on or screened, "recipe", "fan while heating or screened")
        out.decisions.update(decisions)
        self.irrigation.decide(inp, [v for v in views if v.role == "irrigation_pump"],
                               [v for v in views if v.role == "fertigation"], out)
        return out


class Thermostat:
    """generic_thermostat-style control plus simple automations (module docstring of the benchmark)."""

    def __init__(self, season: str) -> None:
        timer = THERMOSTAT_TIMER.get(season, THERMOSTAT_TIMER["shoulder"])
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
                    self.running_until_s = inp.now_s + THERMOSTAT_DOSE_S
                    out.run_s[view.id] = THERMOSTAT_DOSE_S
                    d = Decision(True, "recipe", "timer start")
                else:
                    d = Decision(False, "recipe", "timer idle")
            if d is not None:
                out.decisions[view.id] = d
        return out
