"""The actuator roles a greenhouse zone's twin reads: which act by their opening, and how the levels of the
actuators of each role become the greenhouse model's inputs (shared by the runtime and the benchmark).
"""

from __future__ import annotations

from collections.abc import Mapping

from farmcore.twin.zonestate import GreenhouseInputs

# roles driven by position (a retractable's opening)
OPENINGS = frozenset({"roof_vent", "side_vent", "thermal_screen", "shade_screen", "mixing_valve"})


def set_greenhouse_inputs(inputs: GreenhouseInputs, levels: Mapping[str, list[float]]) -> None:
    """Actuator levels by role (0..1: the share of switches on, or the opening of vents and screens) -> the
    greenhouse model's inputs; several actuators of one role act as their mean. Roles absent leave inputs be."""

    def mean(role: str) -> float | None:
        values = levels.get(role)
        return sum(values) / len(values) if values else None

    for role, attr in (("heater", "heating"), ("co2_valve", "co2_dosing"), ("lamps", "lighting"),
                       ("circulation_fan", "circulation_fan"), ("roof_vent", "roof_vent"), ("side_vent", "side_vent"),
                       ("boiler", "boiler"), ("mixing_valve", "mixing_valve"), ("water_curtain", "water_curtain")):
        if (value := mean(role)) is not None:
            setattr(inputs, attr, value)
    water = [v for v in (mean("irrigation_pump"), mean("fertigation")) if v is not None]
    if water:
        inputs.irrigation = max(water)
    # a screen's "open" is retracted: the share of the house it covers is 1 - opening
    for role in ("thermal_screen", "shade_screen"):
        if (value := mean(role)) is not None:
            setattr(inputs, role, 1.0 - value)
