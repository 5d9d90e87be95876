"""The frost guard: a greenhouse that has lost every inside air temperature reading, on a cold day or night.

Without its inside temperature the heater's failsafe is `off` and the vents hold: on a -10 degC night that
kills the crop within hours. So while the outside is colder than `below_outside`, the heater runs at a duty
set by the outside temperature (a curve in the site file, `FrostGuardDef`: the heat loss of the house grows
with the difference to the outside), on and off in a fixed cycle, and the vents shut. The outside reading may
be up to `outside_max_age_s` old (the weather station may be down too); with no outside reading at all the
guard cannot tell a frost night from a summer noon and leaves the plain failsafe, and says so. The runtime
raises the zone's critical `frost_guard` alarm whenever the guard drives an actuator.

Pure: the tick's input and the site's settings in, decisions out.
"""

from __future__ import annotations

from itertools import pairwise

from farmcore.control.arbitration import Decision
from farmcore.runtime.controller import ActuatorView, TickInput
from farmcore.site import FrostGuardDef

MODE = "frost_guard"
VENT_ROLES = ("roof_vent", "side_vent")


def duty_pct(curve: list[list[float]], outside: float) -> float:
    """Heater duty at `outside` degC: linear between the curve's points, held beyond its ends."""
    if outside <= curve[0][0]:
        return curve[0][1]
    for (t0, d0), (t1, d1) in pairwise(curve):
        if outside <= t1:
            return d0 + (d1 - d0) * (outside - t0) / (t1 - t0)
    return curve[-1][1]


def outside_temperature(inp: TickInput, max_age_s: float) -> tuple[float, str] | None:
    """The outside temperature now, else the last good one if recent enough; with how it is known."""
    if "air_temperature" in inp.weather:
        return inp.weather["air_temperature"], "outside"
    held = inp.weather_held.get("air_temperature")
    if held is not None and held[1] <= max_age_s:
        return held[0], f"outside {held[1] / 60:.0f} min ago"
    return None


def decide(inp: TickInput, spec: FrostGuardDef, actuators: list[ActuatorView]) -> dict[str, Decision]:
    """Decisions for the heaters and vents while no inside air temperature is good; {} otherwise."""
    if not spec.enabled or "air_temperature" in inp.readings:
        return {}
    outside = outside_temperature(inp, spec.outside_max_age_s)
    if outside is None:
        return {}
    t_out, known = outside
    if t_out >= spec.below_outside:
        return {}
    duty = duty_pct(spec.duty, t_out)
    phase = inp.now_s % spec.period_s
    on = phase < duty / 100.0 * spec.period_s
    why = (f"frost guard: no good inside temperature; {known} {t_out:.1f} °C -> heater duty {duty:.0f} % "
           f"of {spec.period_s:.0f} s")
    out: dict[str, Decision] = {}
    for view in actuators:
        if view.role == "heater":
            out[view.id] = Decision(on, "safety", f"{why}: {'on' if on else 'off'} phase")
        elif view.role in VENT_ROLES:
            out[view.id] = Decision(0.0, "safety", f"frost guard: vents shut (outside {t_out:.1f} °C)")
    return out
