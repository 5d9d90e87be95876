"""The condensation guard: keep the crop above the dew point at sunrise, when fruit and leaves get wet.

At sunrise the sun and the heating warm and moisten the air faster than the heavy fruit and leaves follow, so a
crop that cooled under a clear night sky ends up below the air's dew point: water condenses on it and grey
mould (Botrytis cinerea) starts there (farmcore/canopy.py). In a pre-dawn window, from `before_sunrise_h`
before sunrise to `after_sunrise_h` after it, the heating setpoint is therefore at least

    dew point of the air + `margin_k` + the crop's lag (air temperature - crop temperature, when positive),

i.e. warm enough that the crop, which trails the air, stays `margin_k` above the dew point. Temperature
integration never lowers the heating setpoint in this window (integration.py), so a recipe's pre-dawn ramp
keeps its purpose.

The crop temperature is a `leaf_temperature` reading where the zone has one; otherwise it is estimated with
the canopy model the twin uses (farmcore/canopy.py), tracked tick by tick with its lag: the cover temperature
from the outside temperature, the screen closure from the thermal screen's position, the radiation inside from
the outside radiation through the cover.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from farmcore import canopy
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput

BEFORE_SUNRISE_H = 2.0  # [engineering choice] the example: start the guard 2 h before sunrise
AFTER_SUNRISE_H = 1.0  # [engineering choice] until the fruit has caught up with the morning air
MARGIN_K = 1.0  # crop at least 1 K above the dew point [engineering choice]
COVER_TRANSMISSION = 0.7  # share of the outside radiation reaching the crop (film or glass, 0.7-0.85 in the twin's
#                           parameter sets, farmcore/twin/greenhouse.py) [unverified]: the lower end, so the
#                           estimated crop is not warmer than it is
MAX_GAP_S = 1800.0  # after a longer gap between ticks the estimate starts again from the balance [engineering choice]


class CondensationTable(StrategyTable):
    """`[strategy.condensation]`."""

    before_sunrise_h: float = param(BEFORE_SUNRISE_H, ge=0, le=6, unit="h",
                                    en="the pre-dawn guard starts this long before sunrise",
                                    ko="해 뜨기 이만큼 전부터 결로 방지 난방을 시작합니다")
    after_sunrise_h: float = param(AFTER_SUNRISE_H, ge=0, le=4, unit="h",
                                   en="the pre-dawn guard ends this long after sunrise",
                                   ko="해 뜬 뒤 이만큼 지나면 결로 방지 난방을 끝냅니다")
    margin_k: float = param(MARGIN_K, ge=0, le=5, unit="K",
                            en="in the guard window the crop is kept at least this far above the dew point",
                            ko="이 시간대에는 작물 온도를 이슬점보다 적어도 이만큼 높게 유지합니다")


def window(inp: TickInput) -> tuple[datetime, datetime]:
    """The present or next pre-dawn window (local): today's if it has not ended yet, else tomorrow's."""
    table = inp.strategy.get("condensation", {})
    before = timedelta(hours=table.get("before_sunrise_h", BEFORE_SUNRISE_H))
    after = timedelta(hours=table.get("after_sunrise_h", AFTER_SUNRISE_H))
    sunrise = inp.sun[0]
    if inp.local >= sunrise + after:
        sunrise += timedelta(days=1)  # tomorrow's sunrise differs by a minute or two: close enough for a window
    return sunrise - before, sunrise + after


def in_window(inp: TickInput) -> bool:
    start, end = window(inp)
    return start <= inp.local < end


def screen_closure(views: list[ActuatorView]) -> float:
    """How far the thermal screens cover the crop, 0..1 (position, else last target; unknown counts as open)."""
    shares = []
    for v in views:
        pos = v.position if v.position is not None else v.target
        if isinstance(pos, int | float) and not isinstance(pos, bool):
            shares.append(1.0 - min(max(float(pos), 0.0), 100.0) / 100.0)
    return max(shares, default=0.0)


class CropTemperature:
    """The crop's temperature, measured or estimated; the estimate `c` is state that survives a restart."""

    def __init__(self) -> None:
        self.c: float | None = None

    def update(self, inp: TickInput, screen: float) -> tuple[float, str] | None:
        """This tick's crop temperature and where it comes from; None when neither a leaf sensor nor the air
        and outside temperatures are good."""
        leaf = inp.readings.get("leaf_temperature")
        if leaf is not None:
            self.c = leaf
            return leaf, f"leaf sensor {leaf:.1f} °C"
        t, t_out = inp.readings.get("air_temperature"), inp.weather.get("air_temperature")
        if t is None or t_out is None:
            self.c = None
            return None
        sun = inp.weather.get("solar_radiation", 0.0)  # unknown counts as dark: the colder, safer estimate
        inside = sun * COVER_TRANSMISSION * (1.0 - screen)
        target = canopy.equilibrium_c(t, canopy.cover_temperature_c(t, t_out), inside, screen)
        if self.c is None or not 0 < inp.dt_s <= MAX_GAP_S:
            self.c = target
        else:
            self.c = canopy.relax_c(self.c, target, inp.dt_s, canopy.lag_s(screen))
        return self.c, f"estimated crop {self.c:.1f} °C (outside {t_out:.1f} °C, screen {screen:.0%} closed)"

    def state(self) -> dict[str, float | None]:
        return {"crop_c": self.c}

    def restore(self, state: dict[str, float | None]) -> None:
        c = state.get("crop_c")
        self.c = float(c) if c is not None else None


def floor(inp: TickInput, crop: tuple[float, str] | None) -> tuple[float, str] | None:
    """The lowest heating setpoint the guard allows now, and why; None outside the window or without the air
    temperature or RH. Without a crop temperature the lag is left out (and the reason says so)."""
    if not in_window(inp):
        return None
    t, rh = inp.readings.get("air_temperature"), inp.readings.get("relative_humidity")
    if t is None or rh is None:
        return None
    margin = inp.strategy.get("condensation", {}).get("margin_k", MARGIN_K)
    dew = canopy.dew_point_c(t, rh)
    lag = max(t - crop[0], 0.0) if crop is not None else 0.0
    source = crop[1] if crop is not None else "crop temperature unknown: lag left out"
    return dew + margin + lag, (f"condensation guard: dew point {dew:.1f} °C + {margin:g} K + crop lag "
                                f"{lag:.1f} K ({source})")
