"""Speed of the digital twin as served: plant models plus their simulated KS nodes (register encoding,
node timers, weather), stepped in 10 s steps on one core. Prints one JSON line.

Keys: greenhouse_zone_sim_s_per_s and tank_zone_sim_s_per_s (one zone with its nodes and the weather
station), site_sim_s_per_s (the shipped 3-greenhouse, 3-tank example), and the wall seconds a simulated
week of one greenhouse zone takes. Target (issue "Digital twin"): >= 10,000 simulated s per wall s per zone.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import farmcore.twin
from farmcore.site import load_site
from farmcore.twin.runtime import Twin

EXAMPLE = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-demo.toml"
START = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)


def rate(zones: list[str] | None, sim_s: float) -> float:
    site = load_site(EXAMPLE)
    if zones is not None:
        site = site.model_copy(update={"zones": [z for z in site.zones if z.id in zones]})
    twin = Twin(site, site_file=EXAMPLE, start=START)
    twin.advance(600)  # warm the weather cache and the nodes
    started = time.perf_counter()
    twin.advance(sim_s)
    return sim_s / (time.perf_counter() - started)


def main() -> None:
    greenhouse = rate(["gh1"], 2 * 86400)
    tank = rate(["tank1"], 2 * 86400)
    site = rate(None, 6 * 3600)
    print(json.dumps({
        "greenhouse_zone_sim_s_per_s": round(greenhouse),
        "tank_zone_sim_s_per_s": round(tank),
        "site_sim_s_per_s": round(site),
        "week_of_one_greenhouse_zone_wall_s": round(7 * 86400 / greenhouse, 1),
    }))


if __name__ == "__main__":
    main()
