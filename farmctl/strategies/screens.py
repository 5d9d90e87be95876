"""Screens: the thermal screen by cold and low light, opened in steps, with a gap when the air must be dried;
the shade screen by outside radiation. Positions are % open: 100 = retracted, 0 = deployed over the crop.

The thermal screen closes when it is cold outside (day and night thresholds) **and**, by day, the outside
radiation is below `close_below_radiation` (at night there is no light to keep): with sun it stays open,
because even a clear screen takes 15-25 % of the light and about 1 % of yield goes with each 1 % of light
(Marcelis et al. 2006, as quoted in issue 16). It opens in steps of `open_step_pct` with `open_pause_min`
between them up to `step_until_pct`, so the cold air above the screen does not drop onto the crop at once;
beyond that, and when closing, it moves in one go. A gap for humidity comes from the dehumidification
(dehumidify.py). Thresholds switch with hysteresis so a value near one does not run the motor back and forth;
without the outside reading a screen holds where it was told to be last.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import model_validator

from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput

CLOSE_BELOW_OUTSIDE_DAY = 5.0  # thermal screen closes when outside < 5 °C by day, GreenLight [G] (agronomy.md §1.2)
CLOSE_BELOW_OUTSIDE_NIGHT = 10.0  # ... < 10 °C at night, GreenLight [G]
THERMAL_HYSTERESIS_K = 1.0  # reopens 1 K above the threshold [engineering choice]
CLOSE_BELOW_RADIATION = 50.0  # W/m², the example: about an hour after sunrise in winter [engineering choice]
RADIATION_REOPEN_FACTOR = 1.2  # a closed screen opens above 1.2 x the close radiation [engineering choice]; 1.5 lost
#                               more light on the benchmark's winter days (0.48 against 0.32 % with 5 % steps)
OPEN_STEP_PCT = 5.0  # the 2-5 % steps, the largest: the least light lost while stepping [engineering choice]
OPEN_PAUSE_MIN = 3.0  # the example pause [engineering choice]
STEP_UNTIL_PCT = 30.0  # beyond 30 % open the air above and below has mixed: open the rest at once [engineering choice]
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
    close_below_radiation: float = param(
        CLOSE_BELOW_RADIATION, gt=0, le=1000, unit="W/m²",
        en="by day the thermal screen closes for cold only while the outside radiation is below this (it opens "
           "again above 1.2 times it), so the crop gets the daylight",
        ko="낮에는 바깥 일사량이 이보다 약할 때만 추위 때문에 보온 커튼을 닫습니다(이 값의 1.2배를 넘으면 다시 "
           "열어 작물이 햇빛을 받게 합니다)")
    open_step_pct: float = param(OPEN_STEP_PCT, gt=0, le=100, unit="%",
                                 en="the thermal screen opens by this much at a time",
                                 ko="보온 커튼을 한 번에 이만큼씩 엽니다")
    open_pause_min: float = param(OPEN_PAUSE_MIN, ge=0, le=60, unit="min",
                                  en="pause between two opening steps, so cold air above does not drop on the crop",
                                  ko="커튼 위의 찬 공기가 작물에 한꺼번에 내려앉지 않도록 여는 단계 사이에 쉬는 시간")
    step_until_pct: float = param(STEP_UNTIL_PCT, ge=0, le=100, unit="%",
                                  en="beyond this opening the thermal screen opens the rest in one go",
                                  ko="이만큼 열린 뒤에는 나머지를 한 번에 엽니다")
    shade_above_radiation: float | None = param(
        None, gt=0, le=1500, unit="W/m²", en="the shade screen is drawn above this outside radiation (none: never)",
        ko="바깥 일사량이 이보다 강하면 차광 커튼을 칩니다(없으면 치지 않습니다)")

    @model_validator(mode="after")
    def _steps(self) -> ScreensTable:
        if {"open_step_pct", "step_until_pct"} & self.model_fields_set and self.open_step_pct > self.step_until_pct:
            raise ValueError(f"open_step_pct ({self.open_step_pct:g} %) must not be above step_until_pct "
                             f"({self.step_until_pct:g} %): no step would be taken")
        return self


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


def thermal(inp: TickInput, view: ActuatorView, *, gap_pct: float = 0.0, gap_why: str = "") -> Decision | None:
    """Thermal screen target: closed when cold outside and dull, with `gap_pct` open if dehumidifying."""
    table = inp.strategy.get("screens", {})
    t_out = inp.weather.get("air_temperature")
    if t_out is None:
        return _hold(view, "outside temperature unknown")
    deployed = bool(_deployed(view))
    if inp.is_day:
        limit, when = table.get("close_below_outside_day", CLOSE_BELOW_OUTSIDE_DAY), "day"
    else:
        limit, when = table.get("close_below_outside_night", CLOSE_BELOW_OUTSIDE_NIGHT), "night"
    cold = Hysteresis(on_below=limit, off_above=limit + THERMAL_HYSTERESIS_K).decide(deployed, t_out)
    why = f"outside {cold.reason} ({when} threshold {limit:g} °C)"
    if not cold.on:
        return Decision(OPEN, "recipe", f"thermal screen open: {why}")
    close_rad = table.get("close_below_radiation", CLOSE_BELOW_RADIATION)
    sun = inp.weather.get("solar_radiation")
    dull = True  # at night there is no light to keep (and a pyranometer's night offset must not open it)
    if inp.is_day and sun is None:
        dull = deployed
        why += "; radiation unknown: holds"
    elif inp.is_day and sun is not None:
        light = Hysteresis(on_below=close_rad, off_above=close_rad * RADIATION_REOPEN_FACTOR).decide(deployed, sun)
        dull = light.on
        why += f"; radiation W/m2 {light.reason}"
    if not dull:
        return Decision(OPEN, "recipe", f"thermal screen open for the light: {why}")
    if gap_pct > 0:
        return Decision(gap_pct, "recipe", f"thermal screen closed with {gap_pct:g} % gap: {why}; {gap_why}")
    return Decision(CLOSED, "recipe", f"thermal screen closed: {why}")


class Screens:
    """Paces the thermal screen's opening; `moved_s` (when each screen last stepped) survives a restart."""

    def __init__(self) -> None:
        self.moved_s: dict[str, float] = {}

    def pace(self, inp: TickInput, view: ActuatorView, d: Decision) -> Decision:
        """`d` for a closing (at once) or an opening made in steps with pauses up to `step_until_pct`."""
        prev = view.target if isinstance(view.target, int | float) else view.position  # at start: where it is
        target = d.target
        if not isinstance(prev, int | float) or isinstance(prev, bool) or not isinstance(target, int | float):
            return d
        prev, target = float(prev), float(target)
        table = inp.strategy.get("screens", {})
        until = table.get("step_until_pct", STEP_UNTIL_PCT)
        if target <= prev:
            if target != prev:
                self.moved_s[view.id] = inp.now_s
            return d
        step = table.get("open_step_pct", OPEN_STEP_PCT)
        pause_s = table.get("open_pause_min", OPEN_PAUSE_MIN) * 60
        last = self.moved_s.get(view.id)
        if prev >= until and (last is None or inp.now_s - last >= pause_s):
            self.moved_s[view.id] = inp.now_s
            return d
        if last is not None and inp.now_s - last < pause_s:
            wait = pause_s - (inp.now_s - last)
            return Decision(prev, d.source, f"{d.reason}; opening in steps: hold {prev:g} % for {wait:.0f} s more "
                            f"({step:g} % every {pause_s / 60:g} min up to {until:g} %)")
        new = min(target, prev + step) if prev + step <= until else target
        self.moved_s[view.id] = inp.now_s
        if new == target:
            return d
        return Decision(new, d.source, f"{d.reason}; opening in steps: {prev:g} -> {new:g} % of {target:g} % "
                        f"({step:g} % every {pause_s / 60:g} min up to {until:g} %)")

    def state(self) -> dict[str, float]:
        return dict(self.moved_s)

    def restore(self, state: dict[str, float]) -> None:
        self.moved_s = {k: float(v) for k, v in state.items()}


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
