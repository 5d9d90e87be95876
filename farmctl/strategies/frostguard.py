"""The frost guard: a greenhouse that has lost every inside air temperature reading, on a cold day or night.

Without its inside temperature the heater's (and a hot-water loop's boiler's) failsafe is `off` and the vents
hold: on a -10 degC night that kills the crop within hours. So while the outside is colder than
`below_outside`, the heater runs at a duty set by the outside temperature (a curve in the site file,
`FrostGuardDef`: the heat loss of the house grows with the difference to the outside), on and off in a fixed
cycle, and the vents shut. The outside reading may
be up to `outside_max_age_s` old (the weather station may be down too); older, at night the lowest outside
temperature of the last 24 h stands in (or, in the half year of short days with no history, 0 degC); by day
without it
the guard cannot tell a frost morning from a sunny noon in a shut house and leaves the plain failsafe. The
runtime raises the zone's critical `frost_guard` alarm whenever the guard drives an actuator, and when it
should but cannot.

Pure: the tick's input and the site's settings in, decisions out.
"""

from __future__ import annotations

from itertools import pairwise

from farmcore.control.arbitration import Decision
from farmcore.runtime.controller import ActuatorView, TickInput
from farmcore.site import FrostGuardDef

MODE = "frost_guard"
VENT_ROLES = ("roof_vent", "side_vent")
HEAT_ROLES = ("heater", "boiler")


def duty_pct(curve: list[list[float]], outside: float) -> float:
    """Heater duty at `outside` degC: linear between the curve's points, held beyond its ends."""
    if outside <= curve[0][0]:
        return curve[0][1]
    for (t0, d0), (t1, d1) in pairwise(curve):
        if outside <= t1:
            return d0 + (d1 - d0) * (outside - t0) / (t1 - t0)
    return curve[-1][1]


def cold_season(inp: TickInput) -> bool:
    """The half year of short days (autumn to spring equinox): days shorter than 12 h, whatever the hemisphere."""
    sunrise, sunset = inp.sun
    return (sunset - sunrise).total_seconds() < 12 * 3600


def outside_temperature(inp: TickInput, spec: FrostGuardDef) -> tuple[float, str] | None:
    """The outside temperature to heat against, and how it is known: now; else the last good one if recent
    enough; else, at night only (by day the sun heats a shut house whatever the air does), the lowest of the
    last 24 h, or in the cold season the curve's 0 degC when nothing is known. None: it cannot be judged."""
    if "air_temperature" in inp.weather:
        return inp.weather["air_temperature"], "outside"
    held = inp.weather_held.get("air_temperature")
    if held is not None and held[1] <= spec.outside_max_age_s:
        return held[0], f"outside {held[1] / 60:.0f} min ago"
    if inp.is_day:
        return None
    low = inp.weather_low_24h.get("air_temperature")
    if low is not None:
        return low, "outside unknown, lowest of 24 h"
    if cold_season(inp):
        return 0.0, "outside unknown, cold season: taken as"
    return None


def decide(inp: TickInput, spec: FrostGuardDef, actuators: list[ActuatorView]) -> tuple[dict[str, Decision], str]:
    """Decisions for the heaters and vents while no inside air temperature is good ({} otherwise), and why the
    guard cannot act when it should ("" when it acts or is not needed)."""
    if not spec.enabled or "air_temperature" in inp.readings or not any(v.role in HEAT_ROLES for v in actuators):
        return {}, ""
    outside = outside_temperature(inp, spec)
    if outside is None:
        return {}, "no inside and no usable outside temperature: heater left in its failsafe"
    t_out, known = outside
    if t_out >= spec.below_outside:
        return {}, ""
    duty = duty_pct(spec.duty, t_out)
    phase = inp.now_s % spec.period_s
    on = phase < duty / 100.0 * spec.period_s
    why = (f"frost guard: no good inside temperature; {known} {t_out:.1f} °C -> heater duty {duty:.0f} % "
           f"of {spec.period_s:.0f} s")
    out: dict[str, Decision] = {}
    # A hot-water loop dosed by its mixing valve keeps its boiler running (its own high-limit thermostat
    # holds the water) and opens the valve to the duty: steadier than cycling a boiler [engineering choice].
    valves = [v for v in actuators if v.role == "mixing_valve"]
    for view in actuators:
        if view.role == "heater" or (view.role == "boiler" and not valves):
            out[view.id] = Decision(on, "safety", f"{why}: {'on' if on else 'off'} phase")
        elif view.role == "boiler":
            out[view.id] = Decision(True, "safety", f"{why}: boiler on, the mixing valve doses the heat")
        elif view.role == "mixing_valve":
            out[view.id] = Decision(round(duty), "safety", f"{why}: mixing valve at {duty:.0f} %")
        elif view.role in VENT_ROLES:
            out[view.id] = Decision(0.0, "safety", f"frost guard: vents shut (outside {t_out:.1f} °C)")
    return out, ""
