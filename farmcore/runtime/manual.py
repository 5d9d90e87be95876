"""What people asked of a zone, kept across a restart: live overrides, tenant setpoints and a recipe switch.

A command is answered `duplicate` after a restart (its id is remembered in the state store), so what it did
must outlive the restart too: an override that silently vanished while its sender was told "already
applied" would be a lie. Overrides keep their absolute end; a tenant setpoint comes back only while the
zone's recipe still allows it (its envelope) and the site's hard limits hold it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from farmcore.control.arbitration import Override


def manual_state(overrides: Mapping[str, Override], tenant: Mapping[str, float], recipe_id: str | None
                 ) -> dict[str, Any]:
    """JSON for the state store."""
    return {"overrides": {a: [o.target, o.expires_at, o.reason, o.issued_by] for a, o in overrides.items()},
            "tenant": dict(tenant), "recipe": recipe_id}


def restored_overrides(saved: Any, actuators: set[str], now_s: float) -> dict[str, Override]:
    """The saved overrides of actuators the zone still has, that have not ended by `now_s`."""
    out: dict[str, Override] = {}
    items = saved.get("overrides") if isinstance(saved, dict) else None
    for actuator, row in (items or {}).items():
        if actuator in actuators and isinstance(row, list) and len(row) == 4 and isinstance(row[1], int | float) \
                and row[1] > now_s and isinstance(row[0], bool | int | float):
            out[actuator] = Override(row[0], float(row[1]), str(row[2]), str(row[3]))
    return out


def restored_tenant(saved: Any, envelope: Mapping[str, tuple[float, float]],
                    hard_limits: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    """The saved tenant setpoints still inside the recipe's envelope and the site's hard limits."""
    out: dict[str, float] = {}
    items = saved.get("tenant") if isinstance(saved, dict) else None
    for quantity, value in (items or {}).items():
        if not isinstance(value, int | float) or quantity not in envelope:
            continue
        inside = [envelope[quantity], *([hard_limits[quantity]] if quantity in hard_limits else [])]
        if all(lo <= value <= hi for lo, hi in inside):
            out[quantity] = float(value)
    return out


def restored_recipe(saved: Any) -> str | None:
    """The recipe id a command switched the zone to, if any."""
    recipe = saved.get("recipe") if isinstance(saved, dict) else None
    return recipe if isinstance(recipe, str) else None
