"""The water curtain (수막 재배): the pump that sprinkles groundwater over the inner film of a double-layer house
on cold nights.

Groundwater stays near 15 °C through a Korean winter; sprinkled over the inner film it keeps the inside losing
heat to a film near that temperature instead of to the frost outside, and gives heat as it cools
(smartfarmagtech.com, "수막 시스템 (Water curtain system)" [secondary]; KIGAM via the twin's
farmcore/twin/watercurtain.py for the ≈ 15 °C [secondary]). The rules, as a technician reads them:

- it runs only at night, between `start` (default sunset) and `stop` (default "sunrise-00:30"): the film
  must drain off the roof before the light comes, or it takes the morning's light and drips on the crop;
  at `stop` it goes off whatever its minimum run (forced);
- it starts when the outside falls below `on_below_outside_c` and stops when the outside is `band_k` warmer
  again (hysteresis: a temperature hovering at the threshold does not cycle the pump);
- it runs only while the groundwater (`groundwater_temperature`, where the zone reads it) is at least
  `groundwater_margin_k` warmer than the outside air: colder water brings no heat and ices the film; a zone
  without that reading is assumed to have well water warm enough (the usual case);
- once started or stopped it stays so for `min_run_min`: a film takes minutes to form and the pump's motor
  wants few starts;
- without an outside temperature it gets no decision inside the night window (the runtime holds it).

Thresholds [unverified]: 5 °C outside and a 2 K margin are engineering choices pending an RDA 수막재배 guide;
the RDA's guides were not found in the reference material.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis, MinOnOff
from farmcore.recipe.schema import StrategyTable, param
from farmcore.recipe.timeline import parse_start

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput

ON_BELOW_OUTSIDE_C = 5.0  # [unverified] outside temperature below which the curtain starts at night
BAND_K = 2.0  # [engineering choice] it stops when the outside is 2 K warmer than that
GROUNDWATER_MARGIN_K = 2.0  # [engineering choice] groundwater at least this much warmer than outside
MIN_RUN_MIN = 30.0  # [engineering choice] minimum run and pause of the pump
START, STOP = "sunset", "sunrise-00:30"  # [unverified] the film drains in under 30 min


class WaterCurtainTable(StrategyTable):
    """`[strategy.water_curtain]`: the water curtain's pump (role water_curtain)."""

    on_below_outside_c: float = param(ON_BELOW_OUTSIDE_C, ge=-30, le=20, unit="°C",
                                      en="at night the curtain starts when the outside falls below this",
                                      ko="밤에 바깥 온도가 이보다 낮아지면 수막을 켭니다")
    band_k: float = param(BAND_K, gt=0, le=10, unit="K",
                          en="it stops when the outside is this much warmer than the start temperature",
                          ko="바깥 온도가 켜는 온도보다 이만큼 올라가면 끕니다")
    groundwater_margin_k: float = param(GROUNDWATER_MARGIN_K, ge=0, le=20, unit="K",
                                        en="runs only while the groundwater is at least this much warmer than "
                                           "the outside air",
                                        ko="지하수 온도가 바깥 온도보다 적어도 이만큼 높을 때만 돌립니다")
    min_run_min: float = param(MIN_RUN_MIN, ge=0, le=240, unit="min",
                               en="shortest run and shortest pause of the pump",
                               ko="펌프를 한 번 켜거나 끈 뒤 유지하는 최소 시간")
    start: str = param(START, unit="", day_time=True,
                       en="the night window opens: HH:MM, sunrise±HH:MM or sunset±HH:MM",
                       ko="수막을 쓸 수 있는 밤 시간이 시작되는 시각: HH:MM, sunrise±HH:MM 또는 sunset±HH:MM")
    stop: str = param(STOP, unit="", day_time=True,
                      en="the curtain is off from this time on, so the film drains before light (as start)",
                      ko="이 시각부터 수막을 꺼서 해가 뜨기 전에 물이 빠지게 합니다(start와 같은 형식)")


def _in_window(inp: TickInput, table: dict[str, Any]) -> tuple[bool, str]:
    """Whether now is inside the night window (start in the evening, stop the next morning, or both on one day)."""
    day, zone = inp.local.date(), inp.local.tzinfo
    assert zone is not None
    start: datetime = parse_start(table.get("start", START)).resolve(day, zone, inp.sun)
    stop: datetime = parse_start(table.get("stop", STOP)).resolve(day, zone, inp.sun)
    inside = start <= inp.local < stop if start < stop else (inp.local >= start or inp.local < stop)
    return inside, f"night window {start:%H:%M}-{stop:%H:%M}"


class WaterCurtain:
    """The curtain pumps' decisions; their MinOnOff timers are state that survives a restart."""

    def __init__(self) -> None:
        self.timers: dict[str, MinOnOff] = {}

    def decide(self, inp: TickInput, view: ActuatorView) -> Decision | None:
        table = inp.strategy.get("water_curtain", {})
        min_run = table.get("min_run_min", MIN_RUN_MIN) * 60
        timer = self.timers.setdefault(view.id, MinOnOff(min_run, min_run))
        timer.min_on_s = timer.min_off_s = min_run
        if isinstance(view.target, bool) and view.target != timer.on:
            timer.on, timer.since_s = view.target, inp.now_s  # switched by someone else: its minimum from now
        inside, window = _in_window(inp, table)
        if not inside:
            switched = timer.request(False, inp.now_s, force=True)
            return Decision(False, "recipe", f"water curtain off: outside the {window}, the film drains before "
                            f"light ({switched.reason})")
        outside = inp.weather.get("air_temperature")
        if outside is None:
            return None  # no decision: the runtime holds the pump, and the outside reading's alarm says why
        on_below = table.get("on_below_outside_c", ON_BELOW_OUTSIDE_C)
        cold = Hysteresis(on_below=on_below, off_above=on_below + table.get("band_k", BAND_K)).decide(timer.on,
                                                                                                       outside)
        want, why = cold.on, f"outside {outside:.1f} °C ({cold.reason})"
        ground = inp.readings.get("groundwater_temperature")
        margin = table.get("groundwater_margin_k", GROUNDWATER_MARGIN_K)
        if ground is None:
            why += "; no groundwater reading: assumed warm enough"
        elif ground < outside + margin:
            want, why = False, f"{why}; groundwater {ground:.1f} °C is not {margin:g} K warmer than outside"
        else:
            why += f"; groundwater {ground:.1f} °C"
        allowed = timer.request(want, inp.now_s)
        held = "" if allowed.on == want else f"; {allowed.reason}"
        return Decision(allowed.on, "recipe", f"water curtain {'on' if allowed.on else 'off'}: {why} ({window}){held}")

    def state(self) -> dict[str, list[float | bool | None]]:
        return {k: [t.on, t.since_s] for k, t in self.timers.items()}

    def restore(self, state: dict[str, list[float | bool | None]]) -> None:
        self.timers = {k: MinOnOff(MIN_RUN_MIN * 60, MIN_RUN_MIN * 60, on=bool(on), since_s=since)  # type: ignore[arg-type]
                       for k, (on, since) in state.items()}
