"""Fertigation: the supply-solution targets a KS X 3288 nutrient node gets with each irrigation event.

The EC and pH targets come from the stage's setpoints; the node mixes and doses itself, so the controller only
says when, how long and to what recipe. `fertigation.drain_ec_max` / `correction_interval_days` need a drain
EC reading this zone does not have, so they are not acted on here.
"""

from __future__ import annotations

from collections.abc import Mapping

from farmcore.recipe.schema import StrategyTable, param

PARAM_KEYS = {"ec": "EC", "ph": "pH"}  # setpoint quantity -> KS X 3288 supply parameter


class FertigationTable(StrategyTable):
    """`[strategy.fertigation]`: agronomic figures kept with the recipe; acting on them needs a drain EC sensor."""

    UNUSED = frozenset({"drain_ec_max", "correction_interval_days"})
    drain_ec_max: float | None = param(
        None, gt=0, le=20, unit="dS/m", en="highest drain EC before the supply is corrected (kept with the recipe)",
        ko="급액을 보정하기 전까지 허용하는 배액 EC 상한(기록만 됩니다)")
    correction_interval_days: float | None = param(
        None, gt=0, le=60, unit="d", en="days between corrections of the supply (kept with the recipe)",
        ko="급액을 보정하는 간격(기록만 됩니다)")


def supply_params(setpoints: Mapping[str, float]) -> dict[str, float]:
    """{"EC": .., "pH": ..} for the targets the recipe gives (a missing one is left to the node's own setting)."""
    return {param: setpoints[q] for q, param in PARAM_KEYS.items() if q in setpoints}


def describe(params: Mapping[str, float]) -> str:
    """Short text for reasons and events: "EC 3 pH 5.8", or that the node keeps its own targets."""
    return " ".join(f"{k} {v:g}" for k, v in params.items()) or "node's own EC/pH"
