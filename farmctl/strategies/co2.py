"""CO2 dosing: toward the setpoint, lowered as the vents open and stopped beyond `max_vent_opening_pct`.

Dosing into open vents feeds the neighbourhood, so the working target falls linearly from the full setpoint at
closed vents to outside air at `max_vent_opening_pct` (Priva Compass: the CO2 setpoint is lowered when
ventilation is needed, anchors.md), and there is no dosing beyond it nor in the dark unless `dose_in_dark`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import TickInput

NO_DOSING_AT_OR_BELOW_PPM = 450.0  # a setpoint at about outside air means "do not dose" (recipe schema)
AMBIENT_PPM = 420.0  # outside air, NOAA Mauna Loa annual mean 2023 ≈ 419 ppm
MAX_VENT_OPENING_PCT = 20.0  # as the tomato/cucumber/paprika recipes [unverified there] [engineering choice]
BAND_PPM = 50.0  # valve on 25 ppm below the target, off 25 ppm above [engineering choice]
MIN_OFF_S = 180.0  # a valve that closed stays closed this long (GreenhouseController paces it) [engineering choice]


class Co2Table(StrategyTable):
    """`[strategy.co2]`."""

    dose_in_dark: bool = param(False, unit="", en="dose CO2 in the dark too",
                               ko="어두울 때에도 CO2를 공급합니다")
    max_vent_opening_pct: float = param(
        MAX_VENT_OPENING_PCT, ge=0, le=100, unit="%",
        en="no dosing beyond this vent opening; up to it the target falls toward outside air",
        ko="환기창이 이보다 많이 열리면 CO2 공급을 멈추고, 그때까지는 목표 농도를 바깥 공기 쪽으로 낮춥니다")


def working_target(setpoint: float, vent_pct: float, max_vent: float) -> float:
    """The setpoint at closed vents, falling linearly to ambient at `max_vent` % open."""
    share = 1.0 if max_vent <= 0 else min(max(vent_pct / max_vent, 0.0), 1.0)
    return setpoint - (setpoint - AMBIENT_PPM) * share


def decide(inp: TickInput, on: bool, vent_pct: float | None,
           setpoint: tuple[float | None, str] | None = None) -> tuple[Decision | None, float | None]:
    """(valve decision, working target ppm); no decision without a good CO2 reading.

    `vent_pct` is the widest vent opening now, None when the zone has vents whose position is unknown;
    `setpoint` replaces the recipe's (radiation.py) with its reason.
    """
    ppm = inp.readings.get("co2")
    if ppm is None:
        return None, None
    table = inp.strategy.get("co2", {})
    sp, sp_why = setpoint if setpoint is not None else (inp.setpoints.get("co2"), "")
    if sp is None or sp <= NO_DOSING_AT_OR_BELOW_PPM:
        return Decision(False, "recipe", "CO2 off: no dosing target" if sp is None
                        else f"CO2 off: setpoint {sp:g} ppm is about outside air"), None
    if not inp.is_day and not table.get("dose_in_dark", False):
        return Decision(False, "recipe", "CO2 off: dark (dose_in_dark is false)"), None
    if vent_pct is None:
        return Decision(False, "recipe", "CO2 off: vent opening unknown"), None
    max_vent = table.get("max_vent_opening_pct", MAX_VENT_OPENING_PCT)
    if vent_pct > max_vent:
        return Decision(False, "recipe", f"CO2 off: vents {vent_pct:.0f} % open > {max_vent:g} %"), None
    target = working_target(sp, vent_pct, max_vent)
    if target - BAND_PPM / 2 <= AMBIENT_PPM:
        return Decision(False, "recipe", f"CO2 off: target {target:.0f} ppm at vents {vent_pct:g} % is about "
                        "outside air"), target
    switched = Hysteresis.band(target, BAND_PPM, action="raise").decide(on, ppm)
    state = "on" if switched.on else "off"
    why = f"; {sp_why}" if sp_why else ""
    return Decision(switched.on, "recipe", f"CO2 {state}: {ppm:.0f} ppm, {switched.reason} (setpoint {sp:.0f} ppm "
                    f"lowered to {target:.0f} at vents {vent_pct:g} % of max {max_vent:g} %{why})"), target
