"""Fertigation: the supply-solution targets a KS X 3288 nutrient node gets with each irrigation event.

The EC and pH targets come from the stage's setpoints; the node mixes and doses itself, so the controller only
says when, how long and to what recipe. `fertigation.drain_ec_max` / `correction_interval_days` need a drain
EC reading this zone does not have, so they are not acted on here.
"""

from __future__ import annotations

from collections.abc import Mapping

PARAM_KEYS = {"ec": "EC", "ph": "pH"}  # setpoint quantity -> KS X 3288 supply parameter


def supply_params(setpoints: Mapping[str, float]) -> dict[str, float]:
    """{"EC": .., "pH": ..} for the targets the recipe gives (a missing one is left to the node's own setting)."""
    return {param: setpoints[q] for q, param in PARAM_KEYS.items() if q in setpoints}


def describe(params: Mapping[str, float]) -> str:
    """Short text for reasons and events: "EC 3 pH 5.8", or that the node keeps its own targets."""
    return " ".join(f"{k} {v:g}" for k, v in params.items()) or "node's own EC/pH"
