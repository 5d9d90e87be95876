"""Vent positions: proportional to temperature and humidity demand, lee side first, then capped by wind and rain.

Vents open over `p_band_k` above the vent setpoint (heating setpoint + `offset_k`) and over `humidity_p_band`
above the RH limit; humidity venting is skipped when it would cool the house onto the heating setpoint, when
it is colder outside than `min_outside_temperature`, or when the outside air is no drier than the inside air.
The demand is rate limited so a sensor step does not swing the motor from closed to open, and quantised with a
deadband so the motor is not nudged every tick. Wind and rain caps act at once: safety never waits for a rate
limit. Wind outranks rain (Link4, anchors.md): the smaller cap wins.

Which vents open (`shares`): the lee side first, as commercial climate computers do (Priva, Link4:
windward/leeward from the weather station, anchors.md): the demand, a share of all the open vents' opening
(vents counted as equal in size), is given to the lee vents first, up to `windward_above_lee_pct`, and only
the rest to the windward ones, both reaching full opening together; wind blowing into an opening chills the
crop and drives rain and draught in. The total opening stays what the P-band asks (lee vents alone at the
demand's opening would vent half as much and let the house overheat: on the benchmark's summer days that
was 3-4 h above the band where the vents opened alike gave 1-1.6 h). Side vents stay shut while it is colder
outside than `side_vent_min_outside` (cold air pours over the crop beside them) unless the zone has no roof
vents, when they are its only way to shed heat. The humidity crack of dehumidify.py goes to the lee vents
(the roof vents when the lee side cannot be told), however near the heating setpoint the house is.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import model_validator

from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis, RateLimit
from farmcore.recipe.schema import StrategyTable, param
from farmctl.strategies import humidity

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput

OFFSET_K = 5.0  # heating/vent dead zone 5 K, GreenLight controls_katzin_2021 (agronomy.md §1.2 [G])
P_BAND_K = 4.0  # vent P-band 4 K, GreenLight [G]
HUMIDITY_P_BAND = 50.0  # RH vent P-band 50 %, GreenLight [G]
HUMIDITY_VENT_MARGIN_K = 1.0  # no humidity venting within 1 K of the heating setpoint [engineering choice]
HUMIDITY_VENT_MIN_OUTSIDE = -10.0  # no venting for humidity when colder outside: frost on the crop near the vent
#                                   [engineering choice]; dehumidify.vent_crack_min_outside's default too
WINDWARD_TAPER_MS = 4.0  # windward vents start closing above this wind speed [engineering choice]
WINDWARD_CLOSE_MS = 8.0  # windward vents closed; leeward start closing [engineering choice]
CLOSE_ALL_MS = 12.0  # every vent closed [engineering choice]
RAIN_SIDE_PCT = 10.0  # side vents may stay this open in rain (under the eaves); roof vents close [engineering choice]
UNKNOWN_WEATHER_MAX_PCT = 20.0  # cap while wind or rain is unknown [engineering choice]
STEP_PCT = 5.0  # positions are multiples of this, moved only by a full step [engineering choice]
MAX_RATE_PCT_S = 100 / 180  # comfort demand crosses the full travel in no less than 3 min [engineering choice]
WINDWARD_ABOVE_LEE_PCT = 100.0  # the lee vents give all they can before the windward ones open [engineering choice]
SIDE_VENT_MIN_OUTSIDE = 12.0  # the example: no cold air through the side vents onto the crop [engineering
#                               choice]; side vents are allowed again 1 K above it (SIDE_VENT_HYSTERESIS_K)
SIDE_VENT_HYSTERESIS_K = 1.0  # [engineering choice]


class VentilationTable(StrategyTable):
    """`[strategy.ventilation]`."""

    offset_k: float = param(OFFSET_K, ge=0, le=15, unit="K",
                            en="vents open this far above the heating setpoint",
                            ko="난방 설정온도보다 이만큼 높아지면 환기창을 엽니다")
    p_band_k: float = param(P_BAND_K, gt=0, le=20, unit="K",
                            en="vents go from closed to fully open over this temperature band",
                            ko="이 온도 폭에 걸쳐 환기창이 닫힘에서 완전 열림까지 열립니다")
    humidity_p_band: float = param(HUMIDITY_P_BAND, gt=0, le=100, unit="%RH",
                                   en="above the humidity limit, vents open fully over this RH band",
                                   ko="습도 상한을 넘으면 이 상대습도 폭에 걸쳐 환기창을 완전히 엽니다")
    min_outside_temperature: float | None = param(
        None, ge=-30, le=40, unit="°C",
        en="no venting for humidity when it is colder outside (none: dehumidify.vent_crack_min_outside, -10 °C)",
        ko="바깥 기온이 이보다 낮으면 습도를 낮추려고 환기하지 않습니다(없으면 dehumidify.vent_crack_min_outside, "
           "기본 -10 °C)")
    windward_taper_ms: float = param(WINDWARD_TAPER_MS, ge=0, le=40, unit="m/s",
                                     en="windward vents start closing above this wind speed",
                                     ko="풍속이 이보다 세지면 바람이 불어오는 쪽 환기창부터 닫기 시작합니다")
    windward_close_ms: float = param(WINDWARD_CLOSE_MS, gt=0, le=40, unit="m/s",
                                     en="windward vents are closed at this wind speed; leeward ones start closing",
                                     ko="이 풍속에서 바람이 불어오는 쪽 환기창은 다 닫히고 반대쪽이 닫히기 시작합니다")
    close_all_ms: float = param(CLOSE_ALL_MS, gt=0, le=40, unit="m/s",
                                en="every vent is closed at this wind speed",
                                ko="이 풍속이 되면 모든 환기창을 닫습니다")
    windward_above_lee_pct: float = param(
        WINDWARD_ABOVE_LEE_PCT, ge=0, le=100, unit="%",
        en="the lee vents open up to this before the windward ones open at all (0: all vents alike)",
        ko="바람 반대쪽 환기창을 이만큼 연 뒤에야 바람 부는 쪽 환기창을 열기 시작합니다(0이면 모두 같이 엽니다)")
    side_vent_min_outside: float = param(
        SIDE_VENT_MIN_OUTSIDE, ge=-30, le=40, unit="°C",
        en="side vents stay shut when it is colder outside, unless the house has no roof vents (-30: no limit)",
        ko="바깥 기온이 이보다 낮으면 측창을 닫아 둡니다. 천창이 없는 온실은 예외입니다(-30이면 제한 없음)")

    @model_validator(mode="after")
    def _wind_order(self) -> VentilationTable:
        given = [(k, getattr(self, k)) for k in ("windward_taper_ms", "windward_close_ms", "close_all_ms")
                 if k in self.model_fields_set]
        for (k1, v1), (k2, v2) in itertools.pairwise(given):
            if v1 > v2:
                raise ValueError(f"{k1} ({v1:g} m/s) must not be above {k2} ({v2:g} m/s)")
        return self


@dataclass(frozen=True, slots=True)
class VentDemand:
    """What temperature and humidity ask of the vents (before weather caps), and why."""

    pct: float
    reason: str
    humidity: bool  # the vents are asked open for humidity (dehumidifying)


def demand(inp: TickInput, heat_sp: float, limit: tuple[float, str] | None, *, raise_k: float = 0.0,
           raise_why: str = "") -> VentDemand | None:
    """The vent opening temperature and humidity ask for; None without a good air temperature. `raise_k` lifts
    the vent setpoint (radiation.py) for the reason `raise_why`."""
    t = inp.readings.get("air_temperature")
    if t is None:
        return None
    table = inp.strategy.get("ventilation", {})
    vent_sp = heat_sp + table.get("offset_k", OFFSET_K) + raise_k
    band = table.get("p_band_k", P_BAND_K)
    temp_pct = min(max((t - vent_sp) / band * 100, 0.0), 100.0)
    raised = f" ({raise_why})" if raise_k else ""
    parts = [f"{t:.1f} °C vs vent setpoint {vent_sp:.1f} °C{raised} (P-band {band:g} K) -> {temp_pct:.0f} %"]
    hum_pct = 0.0
    rh = inp.readings.get("relative_humidity")
    if rh is None:
        parts.append("RH unknown: no humidity venting")
    elif limit is not None and rh > limit[0]:
        hband = table.get("humidity_p_band", HUMIDITY_P_BAND)
        min_out = table.get("min_outside_temperature")
        if min_out is None:  # the same cold limit as the dehumidifier's lee crack: no P-band venting at −15 °C
            min_out = inp.strategy.get("dehumidify", {}).get("vent_crack_min_outside", HUMIDITY_VENT_MIN_OUTSIDE)
        t_out = inp.weather.get("air_temperature")
        if t < heat_sp + HUMIDITY_VENT_MARGIN_K:
            parts.append(f"RH {rh:.0f} % over {limit[1]} but {t:.1f} °C is near heating setpoint {heat_sp:.1f} °C")
        elif min_out is not None and t_out is None:
            parts.append(f"RH {rh:.0f} % over {limit[1]} but outside temperature unknown")
        elif min_out is not None and t_out is not None and t_out < min_out:
            parts.append(f"RH {rh:.0f} % over {limit[1]} but outside {t_out:.1f} °C < {min_out:g} °C")
        elif wet := humidity.outside_no_drier(inp):
            parts.append(f"RH {rh:.0f} % over {limit[1]} but {wet}")
        else:
            hum_pct = min((rh - limit[0]) / hband * 100, 100.0)
            parts.append(f"RH {rh:.0f} % over {limit[1]} (band {hband:g} %) -> {hum_pct:.0f} %")
    return VentDemand(max(temp_pct, hum_pct), "; ".join(parts), hum_pct > temp_pct)


def is_windward(facing: float | None, wind_from: float | None) -> bool:
    """Whether the wind blows into an opening facing `facing`: wind from within ±90°; unknown counts as windward."""
    if facing is None or wind_from is None:
        return True
    return abs((wind_from - facing + 180) % 360 - 180) < 90


def _taper(speed: float, start: float, end: float) -> float:
    """100 % at `start` m/s falling linearly to 0 % at `end`."""
    return min(max((end - speed) / (end - start) * 100, 0.0), 100.0)


def weather_cap(inp: TickInput, view: ActuatorView) -> tuple[float, str]:
    """The largest opening wind and rain allow this vent, and why (100 % and "" when nothing limits it)."""
    table = inp.strategy.get("ventilation", {})
    w = inp.weather
    caps: list[tuple[float, str]] = []
    wind = w.get("wind_speed")
    if wind is None:
        caps.append((UNKNOWN_WEATHER_MAX_PCT, f"wind unknown: at most {UNKNOWN_WEATHER_MAX_PCT:g} %"))
    else:
        windward = is_windward(view.facing, w.get("wind_direction"))
        close_all = table.get("close_all_ms", CLOSE_ALL_MS)
        ww_close = table.get("windward_close_ms", WINDWARD_CLOSE_MS)
        if windward:
            cap = _taper(wind, table.get("windward_taper_ms", WINDWARD_TAPER_MS), ww_close)
        else:
            cap = _taper(wind, ww_close, close_all)
        cap = 0.0 if wind >= close_all else cap
        if cap < 100:
            side = "windward" if windward else "leeward"
            guess = " (facing or direction unknown)" if windward and (view.facing is None
                                                                     or "wind_direction" not in w) else ""
            caps.append((cap, f"{side}{guess} limited to {_floor(cap):g} % at {wind:.1f} m/s"))
    rain = w.get("rain_detected")
    if rain is None:
        caps.append((UNKNOWN_WEATHER_MAX_PCT, f"rain unknown: at most {UNKNOWN_WEATHER_MAX_PCT:g} %"))
    elif rain >= 0.5:
        cap = RAIN_SIDE_PCT if view.role == "side_vent" else 0.0
        caps.append((cap, f"rain: at most {cap:g} %"))
    if not caps:
        return 100.0, ""
    cap = min(c for c, _ in caps)
    return cap, "; ".join(r for _, r in caps)


def _floor(pct: float) -> float:
    return math.floor(pct / STEP_PCT + 1e-9) * STEP_PCT


def quantise(raw: float, prev: float | None) -> float:
    """`raw` on the STEP_PCT grid, holding `prev` until the demand has moved a full step from it.

    Fully closed and fully open are exact, so "no demand" really closes the vent.
    """
    if raw <= 0 or raw >= 100:
        return min(max(raw, 0.0), 100.0)
    if prev is not None and abs(raw - prev) < STEP_PCT:
        return prev
    return round(raw / STEP_PCT) * STEP_PCT


def _last(view: ActuatorView) -> float | None:
    target = view.target
    return float(target) if isinstance(target, int | float) and not isinstance(target, bool) else None


def _side_shut(inp: TickInput, views: list[ActuatorView]) -> str:
    """Why the side vents stay shut now ("" when they may open)."""
    min_out = inp.strategy.get("ventilation", {}).get("side_vent_min_outside", SIDE_VENT_MIN_OUTSIDE)
    if not any(v.role == "roof_vent" for v in views):
        return ""
    t_out = inp.weather.get("air_temperature")
    if t_out is None:
        return "side vents shut: outside temperature unknown (roof vents vent)"
    shut = all(_last(v) in (None, 0.0) for v in views if v.role == "side_vent")
    rule = Hysteresis(on_below=min_out, off_above=min_out + SIDE_VENT_HYSTERESIS_K).decide(shut, t_out)
    return f"side vents shut: outside {rule.reason} (side_vent_min_outside {min_out:g} °C)" if rule.on else ""


def shares(inp: TickInput, views: list[ActuatorView], want: VentDemand, crack_pct: float = 0.0,
           crack_why: str = "") -> dict[str, tuple[float, str]]:
    """Each vent's share of the demand (before rate limit and caps), and why: lee first, side vents shut in the
    cold, the humidity crack on the lee vents (`crack_why` is given whenever dehumidifying has reached the
    crack, also when it cannot crack, so the vent's reason says why it stays shut)."""
    w = inp.weather
    side_shut = _side_shut(inp, views)
    open_views = [v for v in views if not (side_shut and v.role == "side_vent")]
    known = "wind_direction" in w and "wind_speed" in w
    lee = [v for v in open_views if known and v.facing is not None and not is_windward(v.facing,
                                                                                          w["wind_direction"])]
    lee_ids = {v.id for v in lee}
    at = inp.strategy.get("ventilation", {}).get("windward_above_lee_pct", WINDWARD_ABOVE_LEE_PCT)
    sequenced = bool(lee) and len(lee) < len(open_views) and at > 0
    crack_ids = lee_ids or {v.id for v in open_views if v.role == "roof_vent"}
    lee_pct, windward_pct = _lee_first(want.pct, len(lee) / len(open_views) if open_views else 0.0, at)
    out: dict[str, tuple[float, str]] = {}
    for v in views:
        if side_shut and v.role == "side_vent":
            out[v.id] = (0.0, side_shut)
            continue
        pct, why = want.pct, ""
        if sequenced and v.id not in lee_ids:
            pct = windward_pct
            why = f"windward: opens once the lee vents are at {at:g} % -> {pct:.0f} %"
        elif sequenced:
            pct = lee_pct
            why = f"lee side first -> {pct:.0f} %"
        if crack_pct > pct and v.id in crack_ids:
            pct, why = crack_pct, crack_why if v.id in lee_ids else f"{crack_why} (lee side unknown: roof vent)"
        elif crack_why and v.id in crack_ids:
            why = f"{why}; {crack_why}" if why else crack_why
        out[v.id] = (pct, why)
    return out


def _lee_first(demand: float, lee_share: float, lee_max: float) -> tuple[float, float]:
    """(lee, windward) positions, % open, giving `demand` (% of all the vents' opening) to the lee vents (a
    `lee_share` of them) first up to `lee_max` %, the rest to both sides so that they reach 100 % together."""
    d, f, top = demand / 100, lee_share, lee_max / 100
    if d <= f * top:
        return min(d / f, 1.0) * 100 if f > 0 else 0.0, 0.0
    s = (d - f * top) / (1 - f * top)
    return (top + (1 - top) * s) * 100, s * 100


class Vents:
    """Turns the shared vent demand into each vent's position; keeps one rate limiter per vent."""

    def __init__(self) -> None:
        self._rate: dict[str, RateLimit] = {}

    def decide(self, inp: TickInput, view: ActuatorView, want: VentDemand,
               share: tuple[float, str] | None = None) -> Decision:
        """The vent's target position (% open) and a reason a technician can follow; `share` is this vent's
        part of the demand (`shares`), the whole demand when not given."""
        prev = _last(view)
        pct, note = share if share is not None else (want.pct, "")
        limiter = self._rate.setdefault(view.id, RateLimit(MAX_RATE_PCT_S))
        if prev is not None and (limiter.value is None or abs(limiter.value - prev) >= STEP_PCT):
            limiter.seed(prev, inp.now_s - inp.dt_s)  # moved by an override, a failsafe or a cap
        limited = limiter.step(pct, inp.now_s)
        cap, cap_reason = weather_cap(inp, view)
        target = min(quantise(limited.value, prev), _floor(cap))
        reason = f"vent {target:g} %: {want.reason}" + (f"; {note}" if note else "")
        if limited.limited:
            reason += f"; movement {limited.reason}"
        if cap_reason:
            reason += f"; {cap_reason}"
        return Decision(target, "recipe", reason)
