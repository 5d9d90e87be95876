"""How long real greenhouse sensors stay flat: the ground for the stuck-sensor watch's default flat times.

Prints one JSON line: for each watched quantity, the longest stretch (hours) in which the reading stayed within
one resolution step of where it started, in each compartment of the AGC-2022 lettuce data (the Reference
compartment and the five teams, February-March; the second, summer experiment), skipping values where flat is
normal (relative humidity at 99 % and above, PAR at 2 and below), and the watch's default flat time
(farmcore.runtime.plausibility.FLATNESS) beside the longest. A default below the longest would raise a false
alarm on a healthy sensor of these houses. Reads ../shared/data (or $FARM_SHARED_DATA) in place.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime

from farmcore.runtime.plausibility import FLATNESS
from farmcore.twin.calibration import shared_data_dir

DATA = shared_data_dir()
WINTER = {"air_temperature": "Tair", "relative_humidity": "Rhair", "co2": "CO2air", "par": "PARin"}
SUMMER = {"air_temperature": "T_Air", "relative_humidity": "rh_Air", "co2": "co2_Air", "par": "par"}
NORMAL: dict[str, Callable[[float], bool]] = {"relative_humidity": lambda v: v >= 99.0, "par": lambda v: v <= 2.0}
RESOLUTION = {"air_temperature": 0.1, "relative_humidity": 0.5, "co2": 2.0, "par": 2.0}


def longest_flat(rows: list[dict[str, str]], column: str, quantity: str, time_of: Callable[[str], float],
                 time_key: str) -> float:
    best, ref, since = 0.0, None, 0.0
    for row in rows:
        try:
            value, t = float(row[column]), time_of(row[time_key])
        except (KeyError, ValueError):
            ref = None
            continue
        normal = NORMAL.get(quantity)
        if normal is not None and normal(value):
            ref = None
        elif ref is None or abs(value - ref) > RESOLUTION[quantity]:
            ref, since = value, t
        else:
            best = max(best, t - since)
    return best / 3600


def main() -> None:
    houses: dict[str, dict[str, float]] = {}
    winter = sorted(DATA.glob("agc2022-lettuce/**/GreenhouseClimate.csv"))
    for path in winter:
        rows = list(csv.DictReader(path.open()))
        name = path.parent.name if path.parent.name != "agc2022-lettuce" else "Reference"
        houses[f"winter/{name}"] = {q: round(longest_flat(rows, c, q, lambda d: datetime.strptime(
            d, "%m/%d/%Y %H:%M").timestamp(), "Date"), 2) for q, c in WINTER.items()}
    summer = DATA / "agc2022-lettuce-2" / "Reference" / "climate_data.csv"
    if summer.exists():
        rows = list(csv.DictReader(summer.open()))
        houses["summer/Reference"] = {q: round(longest_flat(rows, c, q, lambda d: datetime.strptime(
            d, "%Y-%m-%d %H:%M:%S").timestamp(), "timestamp"), 2) for q, c in SUMMER.items()}
    if not houses:
        raise SystemExit(f"no AGC-2022 data under {DATA}")
    longest = {q: max(h[q] for h in houses.values()) for q in WINTER}
    default = {q: (FLATNESS[q].flat_s / 3600 if q in FLATNESS else None) for q in WINTER}
    print(json.dumps({"compartments": len(houses), "longest_flat_h": longest, "default_flat_h": default,
                      "false_alarms_at_default": sorted(q for q in WINTER if default[q] is not None
                                                        and default[q] <= longest[q]),
                      "houses": houses}))


if __name__ == "__main__":
    main()
