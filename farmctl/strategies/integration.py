"""Temperature integration: bank degree-hours above the heating setpoint, spend them at night.

Crops respond to the mean temperature over a day or more (agronomy.md §1.4: 24-h mean ≈ 18 °C), so heat banked
on a sunny day may be given back by heating less at night. The bank is the sum of (air - heating setpoint)
over the last `window_h` hours, kept in hourly buckets; at night the heating setpoint is lowered by
bank / hours left until the pre-dawn window of the condensation guard, never by more than `max_deviation_k`,
and never when the bank is empty. The lowering ends when that window starts (`before_sunrise_h` before
sunrise): the pre-dawn ramp warms the crop above the dew point before the sun and the morning moisture reach
it, and saving heat there buys grey mould (condensation.py). Time below the setpoint (including the lowered
night) draws the bank down again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from farmcore.recipe.schema import StrategyTable, param
from farmctl.strategies import condensation

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import TickInput

WINDOW_H = 24.0  # the crop-relevant mean is the 24-h mean (agronomy.md §1.4)
MAX_DEVIATION_K = 2.0  # as the crop recipes that use it [unverified there] [engineering choice]
MAX_DT_S = 600.0  # a longer gap between ticks is not counted: the temperature then is unknown [engineering choice]


class TemperatureIntegrationTable(StrategyTable):
    """`[strategy.temperature_integration]`: the table being there turns temperature integration on."""

    window_h: float = param(WINDOW_H, gt=0, le=168, unit="h",
                            en="heat above the heating setpoint is banked over this many hours",
                            ko="난방 설정온도를 넘은 온도 적산을 이 시간 동안 모아 둡니다")
    max_deviation_k: float = param(MAX_DEVIATION_K, ge=0, le=10, unit="K",
                                   en="the banked heat lowers the night heating setpoint by at most this much",
                                   ko="모아 둔 온도 적산으로 밤 난방 설정온도를 최대 이만큼까지 낮춥니다")


class TemperatureIntegration:
    """The degree-hour bank; `buckets` maps the UTC hour (epoch hours) to K·h, JSON-friendly for `state()`."""

    def __init__(self) -> None:
        self.buckets: dict[int, float] = {}

    def bank_kh(self) -> float:
        return sum(self.buckets.values())

    def update(self, inp: TickInput, base_sp: float | None) -> None:
        """Add this tick's deviation from the (unlowered) heating setpoint; forget hours older than the window."""
        table = inp.strategy.get("temperature_integration")
        if table is None:
            self.buckets.clear()
            return
        window = table.get("window_h", WINDOW_H)
        hour = int(inp.now_s // 3600)
        self.buckets = {h: v for h, v in self.buckets.items() if hour - h < window}
        t = inp.readings.get("air_temperature")
        if t is None or base_sp is None or not 0 < inp.dt_s <= MAX_DT_S:
            return
        self.buckets[hour] = self.buckets.get(hour, 0.0) + (t - base_sp) * inp.dt_s / 3600

    def setpoint(self, inp: TickInput, base_sp: float) -> tuple[float, str]:
        """The heating setpoint to use now and why (the base one unless it is night and heat is banked)."""
        table = inp.strategy.get("temperature_integration")
        if table is None:
            return base_sp, f"heating setpoint {base_sp:.1f} °C"
        bank = self.bank_kh()
        if inp.is_day or bank <= 0:
            return base_sp, f"heating setpoint {base_sp:.1f} °C (TI bank {bank:+.1f} Kh)"
        start, _ = condensation.window(inp)
        if inp.local >= start:
            return base_sp, (f"heating setpoint {base_sp:.1f} °C (TI bank {bank:+.1f} Kh kept: no lowering in the "
                             f"pre-dawn window from {start:%H:%M})")
        hours_left = max((start - inp.local).total_seconds() / 3600, 1.0)
        max_dev = table.get("max_deviation_k", MAX_DEVIATION_K)
        lower = min(bank / hours_left, max_dev)
        return base_sp - lower, (f"heating setpoint {base_sp:.1f} - {lower:.1f} K TI = {base_sp - lower:.1f} °C "
                                 f"(bank {bank:+.1f} Kh over {hours_left:.1f} h to the pre-dawn window at "
                                 f"{start:%H:%M}, max {max_dev:g} K)")

    def state(self) -> list[list[float]]:
        return [[h, v] for h, v in sorted(self.buckets.items())]

    def restore(self, state: list[list[float]]) -> None:
        self.buckets = {int(h): float(v) for h, v in state}
