"""Supplemental lighting: lamps within the `lighting.on`-`lighting.off` window while the day's light falls short.

PAR at the crop (sun and lamps) is integrated into the daily light integral, mol/m2 = µmol/m2/s · s / 1e6.
With a `dli` setpoint the lamps run while the DLI so far is short of the setpoint pro rata of the window
elapsed; without one they run the whole window (photoperiod lighting). They stay off while the sun outside
gives more than `off_above_radiation` W/m2. A missing `off` time is `on` + `photoperiod` hours. Lamps keep
minimum on/off times: discharge lamps must cool before restriking and frequent switching ages them.
The DLI resets at local midnight, so a window spanning midnight is judged per calendar day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from farmcore.control.arbitration import Decision
from farmcore.control.switching import Hysteresis, MinOnOff
from farmcore.recipe.schema import StrategyTable, param
from farmcore.recipe.timeline import parse_start

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput

OFF_ABOVE_RADIATION = 400.0  # W/m2 outside: sunlight then makes the lamps' share negligible [engineering choice]
RADIATION_HYSTERESIS = 0.8  # back on below 80 % of the off limit [engineering choice]
DLI_BAND_MOL = 0.2  # lamps come on when 0.2 mol/m2 behind schedule, off when on schedule [engineering choice]
MIN_ON_S = 900.0  # [engineering choice]
MIN_OFF_S = 900.0  # [engineering choice]
MAX_DT_S = 600.0  # longer gaps add no light: PAR meanwhile is unknown [engineering choice]


class LightingTable(StrategyTable):
    """`[strategy.lighting]`."""

    on: str | None = param(None, unit="", day_time=True,
                           en="lamps may run from this time: HH:MM, sunrise±HH:MM or sunset±HH:MM (none: no lamps)",
                           ko="보광등을 켤 수 있는 시작 시각: HH:MM, sunrise±HH:MM 또는 sunset±HH:MM"
                              "(없으면 보광하지 않습니다)")
    off: str | None = param(None, unit="", day_time=True,
                            en="lamps off at this time (none: on + the photoperiod setpoint)",
                            ko="보광등을 끄는 시각(없으면 시작 시각에 일장 설정값을 더한 시각)")
    off_above_radiation: float = param(OFF_ABOVE_RADIATION, gt=0, le=1500, unit="W/m²",
                                       en="lamps stay off while outside radiation is above this",
                                       ko="바깥 일사량이 이보다 강한 동안에는 보광등을 끕니다")


def window(inp: TickInput) -> tuple[datetime, datetime] | None:
    """Today's (on, off) lamp window, local; `off` may be before `on` for a window across midnight."""
    table = inp.strategy.get("lighting", {})
    if "on" not in table:
        return None
    day, zone = inp.local.date(), inp.local.tzinfo
    assert zone is not None
    on = parse_start(table["on"]).resolve(day, zone, inp.sun)
    if "off" in table:
        return on, parse_start(table["off"]).resolve(day, zone, inp.sun)
    if "photoperiod" in inp.setpoints:
        return on, on + timedelta(hours=inp.setpoints["photoperiod"])
    return None


def elapsed_share(now: datetime, on: datetime, off: datetime) -> float | None:
    """Share of the window gone at `now` (0..1), None outside it; handles windows across midnight."""
    length = (off - on).total_seconds() % 86400 or 86400.0
    gone = (now - on).total_seconds() % 86400
    return gone / length if gone < length else None


class Lighting:
    """DLI so far today and one MinOnOff per lamp group (state that survives a restart)."""

    def __init__(self) -> None:
        self.dli_mol_m2 = 0.0
        self.timers: dict[str, MinOnOff] = {}

    def accumulate(self, inp: TickInput) -> None:
        par = inp.readings.get("par")
        if par is not None and 0 < inp.dt_s <= MAX_DT_S:
            self.dli_mol_m2 += max(par, 0.0) * inp.dt_s / 1e6

    def want(self, inp: TickInput, on: bool) -> tuple[bool, str] | None:
        """(lamps wanted, why) before minimum times; None when the DLI target needs PAR and PAR is unknown."""
        win = window(inp)
        if win is None:
            return False, "lamps off: recipe gives no lighting window"
        share = elapsed_share(inp.local, *win)
        if share is None:
            return False, f"lamps off: outside window {win[0]:%H:%M}-{win[1]:%H:%M}"
        table = inp.strategy.get("lighting", {})
        limit = table.get("off_above_radiation", OFF_ABOVE_RADIATION)
        radiation = inp.weather.get("solar_radiation")
        if radiation is not None:
            sunny = Hysteresis(on_above=limit, off_below=limit * RADIATION_HYSTERESIS).decide(not on, radiation)
            if sunny.on:
                return False, f"lamps off: outside radiation W/m2 {sunny.reason}"
        dli = inp.setpoints.get("dli")
        if dli is None:
            return True, f"lamps on: inside window {win[0]:%H:%M}-{win[1]:%H:%M} (no DLI target)"
        if "par" not in inp.readings:
            return None
        due = dli * share
        behind = Hysteresis(on_below=-DLI_BAND_MOL, off_above=0.0).decide(on, self.dli_mol_m2 - due)
        state = "on" if behind.on else "off"
        return behind.on, (f"lamps {state}: DLI {self.dli_mol_m2:.2f} of {due:.2f} mol/m2 due "
                           f"({share:.0%} of window, target {dli:g}); shortfall {behind.reason}")

    def decide(self, inp: TickInput, view: ActuatorView) -> Decision | None:
        timer = self.timers.setdefault(view.id, MinOnOff(MIN_ON_S, MIN_OFF_S))
        if isinstance(view.target, bool) and view.target != timer.on:
            timer.on, timer.since_s = view.target, inp.now_s  # switched by someone else: its time starts now
        wanted = self.want(inp, timer.on)
        if wanted is None:
            return None
        allowed = timer.request(wanted[0], inp.now_s)
        held = "" if allowed.on == wanted[0] else f"; {allowed.reason}"
        return Decision(allowed.on, "recipe", wanted[1] + held)

    def state(self) -> dict[str, Any]:
        return {"dli_mol_m2": self.dli_mol_m2, "lamps": {k: [v.on, v.since_s] for k, v in self.timers.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        self.dli_mol_m2 = float(state.get("dli_mol_m2", 0.0))
        self.timers = {k: MinOnOff(MIN_ON_S, MIN_OFF_S, on=bool(on), since_s=since)
                       for k, (on, since) in state.get("lamps", {}).items()}
