"""Screens: the thermal screen by outside temperature (day and night thresholds), opened to a gap when the air
must be dehumidified; the shade screen by outside radiation. Positions are % open: 100 = retracted,
0 = deployed over the crop. Both switch with hysteresis so a value near the threshold does not run the motor
back and forth. Without the outside reading a screen holds where it was told to be last.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput

CLOSE_BELOW_OUTSIDE_DAY = 5.0  # thermal screen closes when outside < 5 °C by day, GreenLight [G] (agronomy.md §1.2)
CLOSE_BELOW_OUTSIDE_NIGHT = 10.0  # ... < 10 °C at night, GreenLight [G]
THERMAL_HYSTERESIS_K = 1.0  # reopens 1 K above the threshold [engineering choice]
DEHUMIDIFY_GAP_PCT = 5.0  # gap opened in a closed thermal screen to let moist air out [engineering choice]
SHADE_RETRACT_FRACTION = 0.8  # shade retracts below 80 % of its deploy radiation [engineering choice]
OPEN, CLOSED = 100.0, 0.0


class ScreensTable(StrategyTable):
    """`[strategy.screens]`."""

    close_below_outside_day: float = param(CLOSE_BELOW_OUTSIDE_DAY, ge=-30, le=40, unit="°C",
                                           en="by day the thermal screen closes when it is colder outside",
                                           ko="낮에 바깥 기온이 이보다 낮으면 보온 커튼을 닫습니다")
    close_below_outside_night: float = param(CLOSE_BELOW_OUTSIDE_NIGHT, ge=-30, le=40, unit="°C",
                                             en="at night the thermal screen closes when it is colder outside",
                                             ko="밤에 바깥 기온이 이보다 낮으면 보온 커튼을 닫습니다")
    shade_above_radiation: float | None = param(
        None, gt=0, le=1500, unit="W/m²", en="the shade screen is drawn above this outside radiation (none: never)",
        ko="바깥 일사량이 이보다 강하면 차광 커튼을 칩니다(없으면 치지 않습니다)")


def _deployed(view: ActuatorView) -> bool | None:
    """Whether the screen was last told to cover the crop (a gap counts as covering); None if unknown."""
    t = view.target
    if t is None or isinstance(t, bool):
        return None
    return t < 50


def _hold(view: ActuatorView, why: str) -> Decision | None:
    if _deployed(view) is None:
        return None
    held = float(view.target or 0.0)
    return Decision(held, "recipe", f"hold at {held:g} %: {why}")


def thermal(inp: TickInput, view: ActuatorView, *, rh_high: bool) -> Decision | None:
    """Thermal screen position: closed below the outside threshold of the time of day, with a gap if humid."""
    table = inp.strategy.get("screens", {})
    t_out = inp.weather.get("air_temperature")
    if t_out is None:
        return _hold(view, "outside temperature unknown")
    if inp.is_day:
        limit, when = table.get("close_below_outside_day", CLOSE_BELOW_OUTSIDE_DAY), "day"
    else:
        limit, when = table.get("close_below_outside_night", CLOSE_BELOW_OUTSIDE_NIGHT), "night"
    rule = Hysteresis(on_below=limit, off_above=limit + THERMAL_HYSTERESIS_K)
    closed = rule.decide(bool(_deployed(view)), t_out)
    why = f"outside {closed.reason} ({when} threshold {limit:g} °C)"
    if not closed.on:
        return Decision(OPEN, "recipe", f"thermal screen open: {why}")
    if rh_high:
        return Decision(DEHUMIDIFY_GAP_PCT, "recipe", f"thermal screen closed with {DEHUMIDIFY_GAP_PCT:g} % gap: "
                        f"{why}; RH over limit, gap lets moist air out")
    return Decision(CLOSED, "recipe", f"thermal screen closed: {why}")


def shade(inp: TickInput, view: ActuatorView) -> Decision | None:
    """Shade screen: deployed above `shade_above_radiation` W/m2 outside; retracted if the recipe sets none."""
    above = inp.strategy.get("screens", {}).get("shade_above_radiation")
    if above is None:
        return Decision(OPEN, "recipe", "shade screen open: recipe sets no shade_above_radiation")
    radiation = inp.weather.get("solar_radiation")
    if radiation is None:
        return _hold(view, "outside radiation unknown")
    rule = Hysteresis(on_above=above, off_below=above * SHADE_RETRACT_FRACTION)
    deployed = rule.decide(bool(_deployed(view)), radiation)
    state = "closed" if deployed.on else "open"
    return Decision(CLOSED if deployed.on else OPEN, "recipe", f"shade screen {state}: outside radiation W/m2 "
                    f"{deployed.reason}")
