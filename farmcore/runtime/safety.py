"""Safety rules that need no plant knowledge: judging readings, and the failsafe state of each actuator.

A reading is bad at once when its sensor reports a fault status or a value outside the site's plausible
range (a dying probe's -1 or 850), and bad after `stale_after_s` without a good reading (one lost frame is
not a failure; a dead node is). An actuator whose inputs are bad goes to its failsafe state; so does one
its controller gave no decision for. Everything here is pure: the clock is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from farmcore.control.arbitration import Decision
from farmcore.site import ActuatorDef

# What each actuator role depends on; "weather:" marks the outside station. An actuator goes to its
# failsafe state when one of these is bad. Irrigation and lamps are left to their controllers, which fall
# back to timers when the radiation sum or light reading is missing.
DEPENDS: dict[str, tuple[str, ...]] = {
    "heater": ("air_temperature",),
    "boiler": ("air_temperature",),
    "mixing_valve": ("air_temperature", "pipe_temperature"),  # air bad: the frost guard doses by the valve
    "water_curtain": ("weather:air_temperature",),
    "roof_vent": ("air_temperature",),
    "side_vent": ("air_temperature",),
    "co2_valve": ("co2",),
    "thermal_screen": ("weather:air_temperature",),
    "shade_screen": ("weather:solar_radiation",),
    "aerator": ("dissolved_oxygen",),
    "o2_valve": ("dissolved_oxygen",),
    "chiller": ("water_temperature",),
    "feeder": ("dissolved_oxygen", "water_temperature"),
}


IDLE = "idle"  # the device reports a value while it is not measuring (a nutrient node between supplies)
HELD = ("good", "comm_error", "stale")  # latest-read qualities under which the last good value may still be used


@dataclass
class Tracked:
    """The last good value of one quantity and when it was sampled (clock seconds), and the latest read."""

    value: float | None = None
    good_at: float | None = None
    quality: str = "comm_error"  # of the latest read
    raw: float | None = None  # the latest read's value, whatever its quality (None: no answer)
    read_at: float | None = None  # when the latest read was made


def judge(track: Tracked, now_s: float, stale_after_s: float) -> str | None:
    """Why the tracked quantity is not usable now, or None when it is. A node that stopped answering leaves
    the last good value usable until `stale_after_s` (one lost frame is not a failure; the failsafe timing
    is the site's), although that value is reported `comm_error` at once (`shown_quality`)."""
    if track.quality == IDLE:
        return "idle: the device is not measuring now"
    if track.good_at is None or track.value is None:
        return f"no good reading yet ({track.quality})"
    if track.quality not in HELD:
        return f"sensor status {track.quality}"
    age = now_s - track.good_at
    if age > stale_after_s:
        return f"stale: last good reading {age:.0f} s ago > {stale_after_s:g} s"
    return None


def shown_quality(track: Tracked, why: str | None) -> str:
    """The quality a reading is published and recorded with: the latest read's, so a value held from an
    earlier read never passes for fresh (`comm_error` from the first unanswered read), `stale` once it is."""
    if why is not None and why.startswith("stale"):
        return "stale"
    return "good" if why is None and track.quality == "good" else track.quality


def held_note(track: Tracked, now_s: float, stale_after_s: float) -> str:
    """Why a reading shown `comm_error` still drives control: its age against the stale limit."""
    age = now_s - (track.good_at if track.good_at is not None else now_s)
    return f"no answer from its node; last good value {age:.0f} s old, used until {stale_after_s:g} s"


def observe(track: Tracked, value: float | None, quality: str, now_s: float,
            valid: tuple[float, float] | None) -> None:
    """Fold one read into the track; an implausible value counts as a faulty sensor, not as data."""
    track.read_at = now_s
    track.raw = float(value) if value is not None and quality != "comm_error" and math.isfinite(value) else None
    if quality == "good" and value is not None:
        if not math.isfinite(value) or (valid is not None and not valid[0] <= value <= valid[1]):
            track.quality = "out_of_range"
            return
        track.value, track.good_at, track.quality = float(value), now_s, "good"
    elif quality == "comm_error" and track.quality not in HELD:
        return  # a faulty probe that also drops a frame stays faulty until it reads good again
    else:
        track.quality = quality


def failsafe_target(state: str, kind: str, current: bool | float | None) -> bool | float | None:
    """The target a failsafe/start/stop state means; None means hold (send nothing)."""
    if state == "hold":
        return None
    if kind == "retractable":
        return {"open": 100.0, "close": 0.0}.get(state)  # "stop": hold where it is
    return state == "on"


def safety_decision(act: ActuatorDef, kind: str, bad: dict[str, str], current: bool | float | None
                    ) -> Decision | None:
    """The failsafe decision for `act` when something it depends on is bad, else None (target None: hold)."""
    why = [f"{q.removeprefix('weather:')}{' (outside)' if q.startswith('weather:') else ''}: {bad[q]}"
           for q in DEPENDS.get(act.role, ()) if q in bad]
    if not why:
        return None
    failsafe = act.states()[0]
    return Decision(failsafe_target(failsafe, kind, current), "safety", f"failsafe {failsafe}: {'; '.join(why)}")
