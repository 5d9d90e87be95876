"""Humidity: the RH limit in force (converted from VPD or humidity deficit when the recipe uses those) and the
circulation fan.

Recipes store one humidity quantity (agronomy.md §1.7); every strategy works on an upper RH limit, so a VPD or
humidity-deficit lower limit is turned into the RH at which it is reached at the present air temperature.
The recipe key `humidity.humidify_below_rh` has no actuator here: the greenhouse roles have no humidifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from farmcore import canopy
from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput

FAN_RH_BAND = 5.0  # fan runs from RH limit - 5 %RH up, off again 5 %RH lower [engineering choice]


class HumidityTable(StrategyTable):
    """`[strategy.humidity]`."""

    UNUSED = frozenset({"humidify_below_rh"})  # the greenhouse roles have no humidifier
    humidify_below_rh: float | None = param(
        None, ge=0, le=100, unit="%RH", en="humidify below this RH (kept with the recipe: no humidifier role yet)",
        ko="상대습도가 이보다 낮으면 가습합니다(기록만 됩니다: 아직 가습기 역할이 없습니다)")


def sat_vp_kpa(t_c: float) -> float:
    """Saturation vapour pressure, kPa: the one Tetens curve the twin and the condensation guard use (§1.7)."""
    return canopy.saturation_vapour_pressure_pa(t_c) / 1000.0


def vpd_kpa(t_c: float, rh: float) -> float:
    """Vapour-pressure deficit, kPa: es(T)·(1 - RH/100) (agronomy.md §1.7)."""
    return sat_vp_kpa(t_c) * (1 - rh / 100)


def sat_ah_g_m3(t_c: float) -> float:
    """Saturation absolute humidity, g/m3: 2.1667·es(Pa)/T(K) (agronomy.md §1.7)."""
    return 2.1667 * sat_vp_kpa(t_c) * 1000 / (t_c + 273.15)


def outside_no_drier(inp: TickInput) -> str:
    """Why venting cannot dry the air now ("" when it can, or when it cannot be told): the outside air holds as
    much water per m3 as the inside air (a humid summer night), so letting it in only cools the house and raises
    its RH."""
    t, rh = inp.readings.get("air_temperature"), inp.readings.get("relative_humidity")
    t_out, rh_out = inp.weather.get("air_temperature"), inp.weather.get("relative_humidity")
    if t is None or rh is None or t_out is None or rh_out is None:
        return ""
    inside, outside = sat_ah_g_m3(t) * rh / 100, sat_ah_g_m3(t_out) * rh_out / 100
    if outside < inside:
        return ""
    return f"outside air no drier ({outside:.1f} >= {inside:.1f} g/m3 inside)"


def rh_limit(inp: TickInput) -> tuple[float, str] | None:
    """The upper RH limit in force and how it was found; None when no humidity setpoint can be had.

    A VPD or humidity-deficit setpoint is a lower limit of dryness, i.e. an upper limit of RH at the present
    air temperature; without a good air temperature it cannot be converted, so there is no limit (never guess).
    """
    sp = inp.setpoints
    if "relative_humidity" in sp:
        return sp["relative_humidity"], f"RH limit {sp['relative_humidity']:g} %"
    t = inp.readings.get("air_temperature")
    if t is None:
        return None
    if "vpd" in sp:
        rh = 100 * (1 - sp["vpd"] / sat_vp_kpa(t))
        return max(rh, 0.0), f"RH limit {rh:.1f} % (VPD {sp['vpd']:g} kPa at {t:.1f} °C)"
    if "humidity_deficit" in sp:
        rh = 100 * (1 - sp["humidity_deficit"] / sat_ah_g_m3(t))
        return max(rh, 0.0), f"RH limit {rh:.1f} % (HD {sp['humidity_deficit']:g} g/m3 at {t:.1f} °C)"
    return None


def fan_decision(inp: TickInput, view: ActuatorView, *, heating: bool, screened: bool,
                 limit: tuple[float, str] | None) -> Decision | None:
    """Circulation fan: on while heating or under a closed screen (even out temperature and humidity, keep the
    leaves dry), or when RH nears its limit [engineering choice]; None when none of those is known to hold
    and RH cannot be judged."""
    if heating or screened:
        why = "heating" if heating else "thermal screen closed"
        return Decision(True, "recipe", f"fan on: {why} (mix air, keep leaves dry)")
    rh = inp.readings.get("relative_humidity")
    if rh is None or limit is None:
        return None
    on = view.target is True
    switched = Hysteresis(on_above=limit[0] - FAN_RH_BAND, off_below=limit[0] - 2 * FAN_RH_BAND).decide(on, rh)
    state = "on" if switched.on else "off"
    return Decision(switched.on, "recipe", f"fan {state}: RH {switched.reason} ({limit[1]})")
