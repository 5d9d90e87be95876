"""Heater: on/off around the heating setpoint with hysteresis and minimum on/off times, plus dehumidification.

While the vents are open for humidity the setpoint is raised by DEHUMIDIFY_RAISE_K: moist air is vented and
the heat keeps the house from cooling onto the setpoint, which would close the vents again (the "minimum pipe"
habit of commercial controllers, anchors.md Priva/Hoogendoorn dehumidification). Heating's `p_band_k` is for
a modulating heat supply and is not used by an on/off heater; the band is `heating.band_k`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis, MinOnOff
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput

BAND_K = 1.0  # on at setpoint - 0.5 K, off at setpoint + 0.5 K [engineering choice]
MIN_ON_S = 180.0  # minimum run, protects burner and contactor (anchors.md: min ON/OFF, Brewblox) [engineering choice]
MIN_OFF_S = 180.0  # [engineering choice]
DEHUMIDIFY_RAISE_K = 1.0  # setpoint raise while venting for humidity [engineering choice]


class HeatingTable(StrategyTable):
    """`[strategy.heating]`."""

    band_k: float = param(BAND_K, gt=0, le=10, unit="K",
                          en="on/off band around the heating setpoint: on at setpoint - band/2, off at + band/2",
                          ko="난방 설정온도를 가운데 둔 켜짐·꺼짐 폭: 설정온도-폭/2에서 켜고 +폭/2에서 끕니다")


@dataclass(frozen=True, slots=True)
class HeatPlan:
    setpoint: float  # the setpoint the heater works to now
    why: str


def plan(heat_sp: float, heat_reason: str, dehumidify: bool) -> HeatPlan:
    """The working setpoint: the heating setpoint (possibly lowered by temperature integration), raised a
    little while the vents are open for humidity."""
    if dehumidify:
        raised = heat_sp + DEHUMIDIFY_RAISE_K
        return HeatPlan(raised, f"{heat_reason} + {DEHUMIDIFY_RAISE_K:g} K dehumidifying = {raised:.1f} °C")
    return HeatPlan(heat_sp, heat_reason)


class Heaters:
    """Heater decisions with one MinOnOff per heater; the timers are state that survives a restart."""

    def __init__(self) -> None:
        self.timers: dict[str, MinOnOff] = {}

    def decide(self, inp: TickInput, view: ActuatorView, heat: HeatPlan) -> Decision | None:
        """On/off for this heater; None without a good air temperature."""
        t = inp.readings.get("air_temperature")
        if t is None:
            return None
        band = inp.strategy.get("heating", {}).get("band_k", BAND_K)
        timer = self.timers.setdefault(view.id, MinOnOff(MIN_ON_S, MIN_OFF_S))
        if isinstance(view.target, bool) and view.target != timer.on:
            # Someone else (override, failsafe) switched it: count its minimum time from now.
            timer.on, timer.since_s = view.target, inp.now_s
        wanted = Hysteresis.band(heat.setpoint, band, action="raise").decide(timer.on, t)
        allowed = timer.request(wanted.on, inp.now_s)
        state = "on" if allowed.on else "off"
        held = "" if allowed.on == wanted.on else f"; {allowed.reason}"
        return Decision(allowed.on, "recipe", f"heater {state}: {t:.1f} °C, {wanted.reason} "
                        f"(setpoint {heat.why}, band {band:g} K){held}")

    def state(self) -> dict[str, list[float | bool | None]]:
        return {k: [v.on, v.since_s] for k, v in self.timers.items()}

    def restore(self, state: dict[str, list[float | bool | None]]) -> None:
        self.timers = {k: MinOnOff(MIN_ON_S, MIN_OFF_S, on=bool(on), since_s=since) for k, (on, since) in state.items()}
