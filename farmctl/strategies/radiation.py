"""Radiation-dependent setpoints: warmer and more CO2 when there is light to use them, less when it is dull.

A crop in bright light photosynthesises more and can use a warmer day and more CO2; in dull light a high CO2
target is wasted and a warm house only burns assimilates. Commercial climate computers raise the heating and
vent setpoints with radiation and lower the CO2 setpoint as radiation drops (Priva Compass, anchors.md). All
of it is off unless the recipe's `[strategy.radiation]` sets it:

- heating setpoint + `heating_k_per_100_w_m2` per 100 W/m² of outside radiation above `above_w_m2`, at most
  `heating_max_k`;
- vent setpoint + `vent_k_per_100_w_m2` per 100 W/m² above `above_w_m2`, at most `vent_max_k` (on top of
  the heating raise, which the vent setpoint follows);
- CO2: the recipe's target at or above `co2_full_above_w_m2`, falling linearly to `co2_low_ppm` at or below
  `co2_low_below_w_m2` (never above the recipe's own target).

The radiation used is the outside radiation averaged over `mean_min` minutes, so a passing cloud does not
move the setpoints (and switch the heater) every tick.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import model_validator

from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import TickInput

ABOVE_W_M2 = 200.0  # [engineering choice] below this the light does not justify a warmer house
MAX_K = 2.0  # [engineering choice]
CO2_LOW_BELOW_W_M2 = 100.0  # [engineering choice]
CO2_LOW_PPM = 600.0  # [engineering choice] about the AGC-2022 grower's lit-period CO2 set-point (agronomy.md §1.6)
MEAN_MIN = 10.0  # [engineering choice] clouds pass in minutes
MAX_GAP_S = 1800.0  # a longer gap restarts the mean from the present reading [engineering choice]


class RadiationTable(StrategyTable):
    """`[strategy.radiation]`: every influence is off unless set."""

    above_w_m2: float = param(ABOVE_W_M2, ge=0, le=1200, unit="W/m²",
                              en="heating and vent setpoints rise with outside radiation above this",
                              ko="바깥 일사량이 이보다 강하면 난방·환기 설정온도를 올립니다")
    heating_k_per_100_w_m2: float = param(0.0, ge=0, le=3, unit="K per 100 W/m²",
                                          en="heating setpoint raise per 100 W/m² above the threshold (0: off)",
                                          ko="기준을 넘는 일사 100 W/m²마다 난방 설정온도를 올리는 폭(0이면 끔)")
    heating_max_k: float = param(MAX_K, ge=0, le=10, unit="K", en="largest radiation raise of the heating setpoint",
                                 ko="일사에 따라 난방 설정온도를 올리는 최대 폭")
    vent_k_per_100_w_m2: float = param(0.0, ge=0, le=3, unit="K per 100 W/m²",
                                       en="vent setpoint raise per 100 W/m² above the threshold (0: off)",
                                       ko="기준을 넘는 일사 100 W/m²마다 환기 설정온도를 올리는 폭(0이면 끔)")
    vent_max_k: float = param(MAX_K, ge=0, le=10, unit="K", en="largest radiation raise of the vent setpoint",
                              ko="일사에 따라 환기 설정온도를 올리는 최대 폭")
    co2_full_above_w_m2: float | None = param(
        None, gt=0, le=1500, unit="W/m²", en="the full CO2 target applies above this radiation (none: always)",
        ko="일사량이 이보다 강할 때 CO2 목표 농도를 그대로 씁니다(없으면 늘 그대로)")
    co2_low_below_w_m2: float = param(CO2_LOW_BELOW_W_M2, ge=0, le=1500, unit="W/m²",
                                      en="at or below this radiation the CO2 target is the low one",
                                      ko="일사량이 이 이하이면 낮춘 CO2 목표 농도를 씁니다")
    co2_low_ppm: float = param(CO2_LOW_PPM, ge=0, le=2000, unit="ppm", en="the CO2 target in low light",
                               ko="빛이 약할 때의 CO2 목표 농도")
    mean_min: float = param(MEAN_MIN, gt=0, le=120, unit="min",
                            en="radiation is averaged over this many minutes before it moves a setpoint",
                            ko="일사량을 이 시간 동안 평균한 뒤 설정값에 반영합니다")

    @model_validator(mode="after")
    def _co2_order(self) -> RadiationTable:
        if self.co2_full_above_w_m2 is not None and self.co2_low_below_w_m2 >= self.co2_full_above_w_m2:
            raise ValueError(f"co2_low_below_w_m2 ({self.co2_low_below_w_m2:g} W/m²) must be below "
                             f"co2_full_above_w_m2 ({self.co2_full_above_w_m2:g} W/m²)")
        return self


class RadiationMean:
    """The outside radiation averaged over `mean_min` (first order); `w_m2` is state that survives a restart."""

    def __init__(self) -> None:
        self.w_m2: float | None = None

    def update(self, inp: TickInput) -> float | None:
        """The mean after this tick; None while the outside radiation is unknown."""
        sun = inp.weather.get("solar_radiation")
        if sun is None:
            return None
        tau = inp.strategy.get("radiation", {}).get("mean_min", MEAN_MIN) * 60
        if self.w_m2 is None or not 0 < inp.dt_s <= MAX_GAP_S:
            self.w_m2 = sun
        else:
            self.w_m2 = sun + (self.w_m2 - sun) * math.exp(-inp.dt_s / tau)
        return self.w_m2

    def state(self) -> dict[str, float | None]:
        return {"radiation_mean_w_m2": self.w_m2}

    def restore(self, state: dict[str, float | None]) -> None:
        v = state.get("radiation_mean_w_m2")
        self.w_m2 = float(v) if v is not None else None


def raise_k(inp: TickInput, mean: float | None, which: str) -> tuple[float, str]:
    """The raise of the `which` ("heating" or "vent") setpoint for the mean radiation, and why ("" when none)."""
    table = inp.strategy.get("radiation", {})
    per_100 = table.get(f"{which}_k_per_100_w_m2", 0.0)
    if per_100 <= 0 or mean is None:
        return 0.0, ""
    above = table.get("above_w_m2", ABOVE_W_M2)
    top = table.get(f"{which}_max_k", MAX_K)
    k = min(max(mean - above, 0.0) / 100 * per_100, top)
    if k <= 0:
        return 0.0, ""
    return k, (f"+{k:.1f} K for radiation {mean:.0f} W/m2 ({per_100:g} K per 100 W/m2 above {above:g}, "
               f"max {top:g} K)")


def co2_target(inp: TickInput, mean: float | None) -> tuple[float | None, str]:
    """The CO2 target for the mean radiation (the recipe's when no radiation influence is set), and why."""
    sp = inp.setpoints.get("co2")
    table = inp.strategy.get("radiation", {})
    full = table.get("co2_full_above_w_m2")
    if sp is None or full is None:
        return sp, ""
    low_sp = min(table.get("co2_low_ppm", CO2_LOW_PPM), sp)
    if mean is None:
        return low_sp, f"CO2 target {low_sp:g} ppm: outside radiation unknown (low-light target)"
    low = table.get("co2_low_below_w_m2", CO2_LOW_BELOW_W_M2)
    share = min(max((mean - low) / (full - low), 0.0), 1.0)
    target = low_sp + (sp - low_sp) * share
    return target, (f"CO2 target {target:.0f} ppm for radiation {mean:.0f} W/m2 ({low_sp:g} ppm at {low:g}, "
                    f"{sp:g} ppm from {full:g} W/m2)")
