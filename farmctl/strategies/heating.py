"""Heater: on/off around the heating setpoint with hysteresis and minimum on/off times.

The setpoint the heater works to (`plan`) is the heating setpoint in force (the recipe's, raised with radiation,
lowered by temperature integration), lifted to the condensation guard's floor before sunrise
(condensation.py) and raised while dehumidifying (dehumidify.py). Heating's `p_band_k` is for a modulating heat
supply and is not used by an on/off heater; the band is `heating.band_k`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from farmcore.control.arbitration import Decision
from farmcore.control.starts import StartLimit, follow, paced
from farmcore.control.switching import Hysteresis, MinOnOff
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput

BAND_K = 1.0  # on at setpoint - 0.5 K, off at setpoint + 0.5 K [engineering choice]
MIN_ON_S = 180.0  # minimum run, protects burner and contactor (anchors.md: min ON/OFF, Brewblox) [engineering choice]
MIN_OFF_S = 180.0  # [engineering choice]
# [engineering choice] at most one start per 10 min on average: the 3 min on / 3 min off above still allow 10 an
# hour, and burner and compressor makers commonly allow 6-12 starts an hour [unverified: no maker's sheet cited]
MAX_STARTS_PER_HOUR = 6


class HeatingTable(StrategyTable):
    """`[strategy.heating]`."""

    band_k: float = param(BAND_K, gt=0, le=10, unit="K",
                          en="on/off band around the heating setpoint: on at setpoint - band/2, off at + band/2",
                          ko="난방 설정온도를 가운데 둔 켜짐·꺼짐 폭: 설정온도-폭/2에서 켜고 +폭/2에서 끕니다")
    max_starts_per_hour: int = param(MAX_STARTS_PER_HOUR, ge=1, le=60, unit="1/h",
                                     en="an on/off heater starts at most this often in any hour, on top of its "
                                        "minimum on and off times (each start wears the burner or compressor)",
                                     ko="켜고 끄는 난방기는 최소 가동·정지 시간과 별도로 한 시간에 이 횟수까지만 "
                                        "켭니다(켤 때마다 버너나 압축기가 닳습니다)")


@dataclass(frozen=True, slots=True)
class HeatPlan:
    setpoint: float  # the setpoint the heater works to now
    why: str


def plan(heat_sp: float, heat_reason: str, raise_k: float = 0.0, raise_why: str = "",
         floor: tuple[float, str] | None = None) -> HeatPlan:
    """The working setpoint: the heating setpoint in force plus the dehumidification raise `raise_k` (for
    `raise_why`), and at least the condensation guard's `floor`. Both are lower bounds, so the higher wins: a
    raise stacked on the floor heated humid summer dawns above the recipe's band for nothing."""
    sp, why = heat_sp, heat_reason
    if raise_k > 0:
        sp += raise_k
        why = f"{why} + {raise_k:g} K = {sp:.1f} °C ({raise_why})"
    if floor is not None and floor[0] > sp:
        sp, why = floor[0], f"{why}, raised to {floor[0]:.1f} °C by the {floor[1]}"
    return HeatPlan(sp, why)


class Heaters:
    """Heater decisions with one MinOnOff and one StartLimit per heater; timers and start times are state that
    survives a restart (a restart must not hand a heater a fresh hour of starts)."""

    def __init__(self) -> None:
        self.timers: dict[str, MinOnOff] = {}
        self.starts: dict[str, StartLimit] = {}

    def _limit(self, heater: str, per_hour: int) -> StartLimit:
        limit = self.starts.setdefault(heater, StartLimit(per_hour))
        limit.max_starts = per_hour  # a recipe change applies at once, the counted starts stay
        return limit

    def decide(self, inp: TickInput, view: ActuatorView, heat: HeatPlan) -> Decision | None:
        """On/off for this heater; None without a good air temperature."""
        t = inp.readings.get("air_temperature")
        if t is None:
            return None
        table = inp.strategy.get("heating", {})
        band = table.get("band_k", BAND_K)
        timer = self.timers.setdefault(view.id, MinOnOff(MIN_ON_S, MIN_OFF_S))
        limit = self._limit(view.id, int(table.get("max_starts_per_hour", MAX_STARTS_PER_HOUR)))
        follow(timer, limit, view.target, inp.now_s)
        wanted = Hysteresis.band(heat.setpoint, band, action="raise").decide(timer.on, t)
        allowed = paced(timer, limit, wanted.on, inp.now_s)
        held = "" if allowed.on == wanted.on else f"; {allowed.reason}"
        state = "on" if allowed.on else "off"
        return Decision(allowed.on, "recipe", f"heater {state}: {t:.1f} °C, {wanted.reason} "
                        f"(setpoint {heat.why}, band {band:g} K){held}")

    def state(self) -> dict[str, list[float | bool | list[float] | None]]:
        return {k: [v.on, v.since_s, list(self.starts[k].starts) if k in self.starts else []]
                for k, v in self.timers.items()}

    def restore(self, state: dict[str, list[float | bool | list[float] | None]]) -> None:
        """Take back `state()`; a state saved before the start limit existed has no start times."""
        self.timers, self.starts = {}, {}
        for k, saved in state.items():
            on, since = saved[0], saved[1]
            self.timers[k] = MinOnOff(MIN_ON_S, MIN_OFF_S, on=bool(on), since_s=since)  # type: ignore[arg-type]
            starts = saved[2] if len(saved) > 2 else []
            self.starts[k] = StartLimit(MAX_STARTS_PER_HOUR, starts=starts)  # type: ignore[arg-type]
