"""Fertigation: the supply-solution targets a KS X 3288 nutrient node gets with each irrigation event, and the
guard that stops the supply when its measured EC or pH leaves a safe band.

The EC and pH targets come from the stage's setpoints; the node mixes and doses itself, so the controller only
says when, how long and to what recipe. What the node measures while it supplies is checked against
`ec_min`-`ec_max` and `ph_min`-`ph_max` (by default the stage's target ± EC_MARGIN / PH_MARGIN): a stuck dosing
pump or an empty acid tank feeds the whole crop a wrong solution within one event, so the supply stops and
stays stopped (an alarm says why) until the node shows a good reading inside the band again, e.g. on a
technician's manual run after the tanks are fixed. Between supplies the node does not measure (its readings
are idle), so a stop cannot clear on no information. `drain_ec_max` / `correction_interval_days` need a drain
EC reading this zone does not have, so they are not acted on here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import model_validator

from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import TickInput

PARAM_KEYS = {"ec": "EC", "ph": "pH"}  # setpoint quantity -> KS X 3288 supply parameter
# [engineering choice] the band when the recipe gives none: the target ± 0.5 dS/m and ± 1.0 pH. Wider than a
# node's own dosing tolerance (it corrects within about ±0.1-0.2 by itself) so normal dosing never stops it,
# narrow enough that a runaway dosing pump is stopped within the event.
EC_MARGIN = 0.5
PH_MARGIN = 1.0
CONFIRM_S = 30.0  # [engineering choice] out of band this long before stopping: a node mixing at the start of a supply
CLEAR_DEADBAND = {"ec": 0.1, "ph": 0.1}  # [engineering choice] back inside by this much before a stop clears
UNITS = {"ec": " dS/m", "ph": ""}


class FertigationTable(StrategyTable):
    """`[strategy.fertigation]`: the supply's safe band; the drain figures are kept with the recipe."""

    UNUSED = frozenset({"drain_ec_max", "correction_interval_days"})
    drain_ec_max: float | None = param(
        None, gt=0, le=20, unit="dS/m", en="highest drain EC before the supply is corrected (kept with the recipe)",
        ko="급액을 보정하기 전까지 허용하는 배액 EC 상한(기록만 됩니다)")
    correction_interval_days: float | None = param(
        None, gt=0, le=60, unit="d", en="days between corrections of the supply (kept with the recipe)",
        ko="급액을 보정하는 간격(기록만 됩니다)")
    ec_min: float | None = param(
        None, ge=0, le=20, unit="dS/m", en="the supply stops (with an alarm) when the node measures an EC below "
        f"this; default the stage's EC target - {EC_MARGIN:g}",
        ko=f"양액기가 잰 공급 EC가 이보다 낮으면 공급을 멈추고 경보를 냅니다."
           f" 기본값은 생육 단계의 목표 EC - {EC_MARGIN:g}")
    ec_max: float | None = param(
        None, gt=0, le=20, unit="dS/m", en="the supply stops (with an alarm) when the node measures an EC above "
        f"this; default the stage's EC target + {EC_MARGIN:g}",
        ko=f"양액기가 잰 공급 EC가 이보다 높으면 공급을 멈추고 경보를 냅니다."
           f" 기본값은 생육 단계의 목표 EC + {EC_MARGIN:g}")
    ph_min: float | None = param(
        None, ge=0, le=14, unit="pH", en="the supply stops (with an alarm) when the node measures a pH below this; "
        f"default the stage's pH target - {PH_MARGIN:g}",
        ko=f"양액기가 잰 공급 pH가 이보다 낮으면 공급을 멈추고 경보를 냅니다."
           f" 기본값은 생육 단계의 목표 pH - {PH_MARGIN:g}")
    ph_max: float | None = param(
        None, ge=0, le=14, unit="pH", en="the supply stops (with an alarm) when the node measures a pH above this; "
        f"default the stage's pH target + {PH_MARGIN:g}",
        ko=f"양액기가 잰 공급 pH가 이보다 높으면 공급을 멈추고 경보를 냅니다."
           f" 기본값은 생육 단계의 목표 pH + {PH_MARGIN:g}")

    @model_validator(mode="after")
    def _bands(self) -> FertigationTable:
        for q in ("ec", "ph"):
            lo, hi = getattr(self, f"{q}_min"), getattr(self, f"{q}_max")
            if lo is not None and hi is not None and not lo < hi:
                raise ValueError(f"{q}_min ({lo:g}) must be below {q}_max ({hi:g})")
        return self


def supply_params(setpoints: Mapping[str, float]) -> dict[str, float]:
    """{"EC": .., "pH": ..} for the targets the recipe gives (a missing one is left to the node's own setting)."""
    return {param: setpoints[q] for q, param in PARAM_KEYS.items() if q in setpoints}


def describe(params: Mapping[str, float]) -> str:
    """Short text for reasons and events: "EC 3 pH 5.8", or that the node keeps its own targets."""
    return " ".join(f"{k} {v:g}" for k, v in params.items()) or "node's own EC/pH"


def band(quantity: str, table: Mapping[str, Any], setpoints: Mapping[str, float]) -> tuple[float | None, float | None]:
    """(low, high) of the safe band of "ec" or "ph": the recipe's, else the stage's target ± the margin."""
    margin = EC_MARGIN if quantity == "ec" else PH_MARGIN
    target = setpoints.get(quantity)
    lo, hi = table.get(f"{quantity}_min"), table.get(f"{quantity}_max")
    if lo is None and target is not None:
        lo = max(target - margin, 0.0)
    if hi is None and target is not None:
        hi = target + margin
    return lo, hi


@dataclass
class SupplyGuard:
    """The latched stop of a supply out of its band; state that survives a restart (a restart must not resume
    feeding a bad solution)."""

    stop: str | None = None  # why the supply is stopped ("EC 4.6 > 4 dS/m"), None while it may run
    stopped_by: list[str] = field(default_factory=list)  # the quantities that stopped it
    out_since_s: float | None = None  # when the readings first left the band (CONFIRM_S)

    def judge(self, inp: TickInput) -> tuple[str | None, str]:
        """(the stop in force or None, an event text when it starts or ends, else "")."""
        table = inp.strategy.get("fertigation", {})
        out: dict[str, str] = {}
        inside: set[str] = set()
        for q in ("ec", "ph"):
            value = inp.readings.get(q)
            if value is None:
                continue  # idle between supplies, stale or absent: nothing to judge
            lo, hi = band(q, table, inp.setpoints)
            name, unit = PARAM_KEYS[q], UNITS[q]
            if lo is not None and value < lo:
                out[q] = f"{name} {value:.2f} < {lo:g}{unit}"
            elif hi is not None and value > hi:
                out[q] = f"{name} {value:.2f} > {hi:g}{unit}"
            elif (lo is None or value >= lo + CLEAR_DEADBAND[q]) and (hi is None or value <= hi - CLEAR_DEADBAND[q]):
                inside.add(q)
        if out:
            self.out_since_s = self.out_since_s if self.out_since_s is not None else inp.now_s
            if inp.now_s - self.out_since_s < CONFIRM_S:
                return self.stop, ""
            new = self.stop is None
            self.stop = "; ".join(out.values())
            self.stopped_by = sorted(set(self.stopped_by) | set(out))
            return self.stop, f"fertigation stopped: supply {self.stop} (safe band)" if new else ""
        self.out_since_s = None
        if self.stop is not None and set(self.stopped_by) <= inside:
            was, self.stop, self.stopped_by = self.stop, None, []
            return None, f"fertigation may run again: supply back inside its safe band (was {was})"
        return self.stop, ""

    def state(self) -> dict[str, Any]:
        return {"supply_stop": self.stop, "supply_stop_by": self.stopped_by, "supply_out_since_s": self.out_since_s}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.stop = state.get("supply_stop")
        self.stopped_by = list(state.get("supply_stop_by", []))
        self.out_since_s = state.get("supply_out_since_s")
