"""Water temperature: heater and chiller on/off with hysteresis and minimum on/off times, never both at once.

Each works toward the `water_temperature` setpoint from its own side: the heater comes on at
`setpoint - band` and goes off at the setpoint, the chiller comes on at `setpoint + band` and goes off at the
setpoint (`band` = `water.heater_band_k`). Between the two switch-on points lies a neutral zone two bands wide
where neither starts, so they never chase each other. Both keep `water.min_cycle_min` as minimum on and off
time (compressor and contactor protection, anchors.md min ON/OFF). Should both still want to run (one held on
by its minimum time while the water crossed to the other side), the heater wins below the setpoint and the
chiller above, and the loser is switched off at once: exclusivity outranks the minimum time (the runtime's
interlock also forbids the pair). A missing water temperature or setpoint gives no decision (failsafe off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis, MinOnOff

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput

BAND_K = 0.5  # [engineering choice]: a sixth of the olive flounder's 21-24 degC optimum (agronomy.md §2.1)
MIN_CYCLE_MIN = 10.0  # minimum on and off time, compressor protection [engineering choice]


class WaterTemperature:
    """Heater and chiller decisions with one MinOnOff per device; the timers survive a restart."""

    def __init__(self) -> None:
        self.timers: dict[str, MinOnOff] = {}

    def _timer(self, view: ActuatorView, now_s: float, cycle_s: float) -> MinOnOff:
        timer = self.timers.setdefault(view.id, MinOnOff(cycle_s, cycle_s))
        timer.min_on_s = timer.min_off_s = cycle_s  # the recipe may change it
        if isinstance(view.target, bool) and view.target != timer.on:
            timer.on, timer.since_s = view.target, now_s  # switched by someone else (override, failsafe)
        return timer

    def decide(self, inp: TickInput, heaters: list[ActuatorView], chillers: list[ActuatorView],
               out: TickOutput) -> None:
        """Decisions for the zone's heaters and chillers; none without a good water temperature and setpoint."""
        t, sp = inp.readings.get("water_temperature"), inp.setpoints.get("water_temperature")
        if t is None or sp is None or not (heaters or chillers):
            return
        table = inp.strategy.get("water", {})
        band = float(table.get("heater_band_k", BAND_K))
        cycle_s = float(table.get("min_cycle_min", MIN_CYCLE_MIN)) * 60
        out.trace["water_temperature_setpoint"] = sp
        rules = ((heaters, "heater", Hysteresis(on_below=sp - band, off_above=sp)),
                 (chillers, "chiller", Hysteresis(on_above=sp + band, off_below=sp)))
        allowed: dict[str, tuple[bool, str]] = {}
        for views, name, rule in rules:
            for view in views:
                timer = self._timer(view, inp.now_s, cycle_s)
                wanted = rule.decide(timer.on, t)
                got = timer.request(wanted.on, inp.now_s)
                held = "" if got.on == wanted.on else f"; {got.reason}"
                allowed[view.id] = (got.on, f"{name} {'on' if got.on else 'off'}: water {t:.2f} °C, "
                                            f"{wanted.reason} (setpoint {sp:g}, band {band:g} K){held}")
        heating = any(allowed[v.id][0] for v in heaters)
        cooling = any(allowed[v.id][0] for v in chillers)
        if heating and cooling:
            losers, side = (chillers, "below") if t < sp else (heaters, "at or above")
            for view in losers:
                if allowed[view.id][0]:
                    self.timers[view.id].request(False, inp.now_s, force=True)
                    allowed[view.id] = (False, f"off: never with the other side running, water {t:.2f} °C "
                                               f"{side} setpoint {sp:g}; wanted: {allowed[view.id][1]}")
        for view_id, (on, reason) in allowed.items():
            out.decisions[view_id] = Decision(on, "recipe", reason)
        out.trace["heating"] = float(any(allowed[v.id][0] for v in heaters))
        out.trace["cooling"] = float(any(allowed[v.id][0] for v in chillers))

    def state(self) -> dict[str, Any]:
        return {k: [v.on, v.since_s] for k, v in self.timers.items()}

    def restore(self, state: dict[str, Any]) -> None:
        cycle_s = MIN_CYCLE_MIN * 60  # the recipe's value is applied again on the next tick
        self.timers = {k: MinOnOff(cycle_s, cycle_s, on=bool(on), since_s=since) for k, (on, since) in state.items()}
