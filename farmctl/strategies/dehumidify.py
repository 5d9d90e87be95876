"""Active dehumidification: what a grower does when the air is too moist, in the order growers use.

Above the RH limit in force (`humidity.rh_limit`: the recipe's RH, or its VPD or humidity deficit converted at
the present air temperature), in this order:

1. **heat**: the heating setpoint is raised by up to `heat_raise_max_k`, or, on a hot-water loop (the zone has
   a `mixing_valve`), minimum pipe is asked for instead. Warm air holds more water (1 K at 18 °C takes RH
   from 95 % to about 89 %) and the heat keeps the crop transpiring and its surface dry;
2. after `stage_delay_min` still over the limit: a **gap in a closed thermal screen**, up to
   `screen_gap_max_pct`, so the moist air under the screen mixes with the drier air above it at a small heat
   cost;
3. after another `stage_delay_min`: a **crack of the lee-side vents**, up to `vent_crack_max_pct`, while
   outside is warmer than `vent_crack_min_outside` (cold outside air is dry: −3 °C at RH 80 % holds
   about 3 g/m³ against about 14.6 g/m³ at 18 °C and RH 95 %). The crack is given even within 1 K of the
   heating setpoint, where the vents' humidity P-band does not vent: the raised heat pays for it.

Minimum pipe, a screen gap and lee-side venting for humidity are the tools of the Dutch climate computers
(anchors.md: Priva, Hoogendoorn; the AGC reference growers' set-point schedule `vip.csv` carries MinPipe and
VentLee set-points, agronomy.md §1.5). Each action grows with how far RH is above the off threshold, across
`p_band_rh`; dehumidifying starts when RH reaches the limit and stops, all stages at once, when RH has
fallen `band_rh` below it (hysteresis), so a reading at the limit does not switch it every tick. A stage is
added only while RH is still over the limit: once the earlier stages have brought it under, they hold it there
without the next one (on the benchmark's winter days, escalating in that band cracked the vents 188 times for
RH that never reached 90 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import model_validator

from farmcore.control.switching import Hysteresis
from farmcore.recipe.schema import StrategyTable, param
from farmctl.strategies import humidity
from farmctl.strategies.ventilation import HUMIDITY_VENT_MIN_OUTSIDE as VENT_CRACK_MIN_OUTSIDE
from farmctl.strategies.ventilation import STEP_PCT as VENT_STEP_PCT  # a crack is at least one vent step

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import TickInput

HEAT_RAISE_MAX_K = 2.0  # [engineering choice] as the example; 2 K takes RH 95 % at 18 °C to ≈ 84 %
BAND_RH = 3.0  # off 3 %RH below the limit [engineering choice]
P_BAND_RH = 10.0  # actions full 10 %RH above the off threshold [engineering choice]
STAGE_DELAY_MIN = 10.0  # heat first; the screen gap after 10 min, the lee crack after 20 min [engineering choice]
SCREEN_GAP_MAX_PCT = 6.0  # [engineering choice] a humidity gap of a few %; the old fixed gap was 5 %
VENT_CRACK_MAX_PCT = 10.0  # [engineering choice] the 5-10 %


class DehumidifyTable(StrategyTable):
    """`[strategy.dehumidify]`."""

    heat_raise_max_k: float = param(
        HEAT_RAISE_MAX_K, ge=0, le=5, unit="K",
        en="above the humidity limit the heating setpoint is raised by up to this much (a hot-water loop gets "
           "minimum pipe instead)",
        ko="습도 상한을 넘으면 난방 설정온도를 최대 이만큼 올립니다(온수 배관이 있으면 대신 최소 배관 온도를 씁니다)")
    band_rh: float = param(BAND_RH, gt=0, le=20, unit="%RH",
                           en="dehumidifying stops when RH has fallen this far below the limit",
                           ko="상대습도가 상한보다 이만큼 내려가면 제습을 멈춥니다")
    p_band_rh: float = param(P_BAND_RH, gt=0, le=50, unit="%RH",
                             en="the actions grow to their maximum over this RH band above the off point",
                             ko="제습을 멈추는 습도에서 이 폭만큼 높아지면 각 조치가 최대가 됩니다")
    stage_delay_min: float = param(
        STAGE_DELAY_MIN, ge=0, le=120, unit="min",
        en="minutes over the limit before the screen gap, and as many again before the vent crack",
        ko="습도 상한을 넘은 채 이 시간이 지나면 보온 커튼 틈을, 다시 이만큼 지나면 환기창 틈을 엽니다")
    screen_gap_max_pct: float = param(SCREEN_GAP_MAX_PCT, ge=0, le=30, unit="%",
                                      en="largest gap opened in a closed thermal screen to let moist air out",
                                      ko="닫힌 보온 커튼에 습기를 빼려고 여는 틈의 최대 크기")
    vent_crack_max_pct: float = param(VENT_CRACK_MAX_PCT, ge=0, le=30, unit="%",
                                      en="largest crack of the lee-side vents for humidity",
                                      ko="습도를 낮추려고 바람 반대쪽 환기창을 조금 여는 최대 개도")
    vent_crack_min_outside: float = param(VENT_CRACK_MIN_OUTSIDE, ge=-30, le=30, unit="°C",
                                          en="no vent crack for humidity when it is colder outside",
                                          ko="바깥 기온이 이보다 낮으면 습도 때문에 환기창을 열지 않습니다")

    @model_validator(mode="after")
    def _bands(self) -> DehumidifyTable:
        if {"band_rh", "p_band_rh"} <= self.model_fields_set and self.p_band_rh < self.band_rh:
            raise ValueError(f"p_band_rh ({self.p_band_rh:g} %RH) must not be below band_rh ({self.band_rh:g} %RH)")
        return self


@dataclass(frozen=True, slots=True)
class Action:
    """What dehumidification asks of the heating, the thermal screen and the lee vents this tick, and why."""

    stage: int  # 0 none, 1 heat, 2 heat and screen gap, 3 heat, gap and lee vent crack
    raise_k: float  # heating setpoint raise (0 on a hot-water loop, which gets min_pipe)
    min_pipe: bool  # a hot-water loop should hold its minimum pipe temperature
    gap_pct: float  # gap in a closed thermal screen (0: none)
    crack_pct: float  # lee vents at least this open (0: none)
    reason: str

    @property
    def active(self) -> bool:
        return self.stage > 0


class Dehumidifier:
    """The staged dehumidification; the stage and when it began (`since_s`) are state that survives a restart."""

    def __init__(self) -> None:
        self.stage = 0
        self.since_s: float | None = None

    def step(self, inp: TickInput, limit: tuple[float, str] | None, *, hot_water: bool) -> Action:
        """This tick's action; nothing without a good RH or a limit to judge it by."""
        rh = inp.readings.get("relative_humidity")
        if rh is None or limit is None:
            self.stage, self.since_s = 0, None
            why = "RH unknown" if rh is None else "no humidity limit"
            return Action(0, 0.0, False, 0.0, 0.0, f"no dehumidifying: {why}")
        table = inp.strategy.get("dehumidify", {})
        band = table.get("band_rh", BAND_RH)
        off_at = limit[0] - band
        switched = Hysteresis(on_above=limit[0], off_below=off_at).decide(self.stage > 0, rh)
        if not switched.on:
            self.stage, self.since_s = 0, None
            return Action(0, 0.0, False, 0.0, 0.0, f"no dehumidifying: RH {switched.reason} ({limit[1]})")
        delay = table.get("stage_delay_min", STAGE_DELAY_MIN)
        if self.stage == 0 or self.since_s is None:
            self.stage, self.since_s = 1, inp.now_s
        elif self.stage < 3 and rh > limit[0] and inp.now_s - self.since_s >= delay * 60:
            self.stage, self.since_s = self.stage + 1, inp.now_s
        stage = self.stage
        minutes = max(inp.now_s - self.since_s, 0.0) / 60
        share = min(max((rh - off_at) / table.get("p_band_rh", P_BAND_RH), 0.0), 1.0)
        parts = [f"dehumidifying stage {stage}: RH {rh:.0f} % ({limit[1]}, off at {off_at:g} %) for {minutes:.0f} "
                 f"min, {share:.0%} of full"]
        raise_k, min_pipe = 0.0, False
        if hot_water:
            min_pipe = True
            parts.append("minimum pipe on the hot-water loop")
        else:
            raise_k = round(table.get("heat_raise_max_k", HEAT_RAISE_MAX_K) * share, 1)
            parts.append(f"heating setpoint +{raise_k:g} K")
        gap = crack = 0.0
        if stage >= 2:
            gap = float(math.ceil(table.get("screen_gap_max_pct", SCREEN_GAP_MAX_PCT) * share))
            parts.append(f"screen gap {gap:g} %")
        else:
            parts.append(f"screen gap after {delay:g} min over the limit")
        if stage >= 3:
            crack, why = _crack(inp, table, share)
            parts.append(why)
        else:
            parts.append(f"lee vent crack after {delay:g} min more over the limit")
        return Action(stage, raise_k, min_pipe, gap, crack, "; ".join(parts))

    def state(self) -> dict[str, float | None]:
        return {"stage": self.stage, "since_s": self.since_s}

    def restore(self, state: dict[str, float | None]) -> None:
        since = state.get("since_s")
        self.since_s = float(since) if since is not None else None
        self.stage = int(state.get("stage") or 0) if self.since_s is not None else 0


def _crack(inp: TickInput, table: dict[str, float], share: float) -> tuple[float, str]:
    """The lee vents' crack: whole vent steps, at least one, at most the recipe's maximum (on the step grid)."""
    top = table.get("vent_crack_max_pct", VENT_CRACK_MAX_PCT)
    min_out = table.get("vent_crack_min_outside", VENT_CRACK_MIN_OUTSIDE)
    t_out = inp.weather.get("air_temperature")
    if t_out is None:
        return 0.0, "no lee vent crack: outside temperature unknown"
    if t_out < min_out:
        return 0.0, f"no lee vent crack: outside {t_out:.1f} °C < {min_out:g} °C"
    if wet := humidity.outside_no_drier(inp):
        return 0.0, f"no lee vent crack: {wet}"
    cap = math.floor(top / VENT_STEP_PCT + 1e-9) * VENT_STEP_PCT
    if cap <= 0:
        return 0.0, f"no lee vent crack: maximum {top:g} % is less than one {VENT_STEP_PCT:g} % vent step"
    crack = min(max(math.ceil(top * share / VENT_STEP_PCT - 1e-9), 1) * VENT_STEP_PCT, cap)
    return crack, f"lee vents cracked {crack:g} % (outside {t_out:.1f} °C)"
