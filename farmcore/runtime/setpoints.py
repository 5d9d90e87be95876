"""Setpoints and strategy tables from a zone's recipe: the recipe's values in force now (tenant adjustments
applied, clipped to the site's hard limits), refreshed every SETPOINT_REFRESH_S, and the stage's strategy
tables, which change with the local date only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from farmcore.recipe.timeline import setpoints_at, stage_at
from farmcore.runtime.zone import SETPOINT_REFRESH_S, ZoneRunner
from farmcore.site import SiteHead

NOT_PLANTED = "not planted"


def refresh_setpoints(runner: ZoneRunner, now: datetime, site: SiteHead, tz: ZoneInfo,
                      event: Callable[..., None]) -> None:
    """Recompute the zone's setpoints when they are due (or reset with `setpoints_at = -inf`)."""
    run = runner.run
    now_s = now.timestamp()
    if run.recipe is None or now_s - run.setpoints_at < SETPOINT_REFRESH_S:
        return
    z = runner.zone
    assert z.planted is not None
    recipe = run.recipe.recipe
    try:
        raw = setpoints_at(recipe, z.planted, now, site.latitude, site.longitude, tz)
    except ValueError as exc:  # before the planting date: an empty house, everything in failsafe
        run.setpoints, run.setpoints_at, run.period, run.day = {}, now_s, NOT_PLANTED, None
        event(runner, "not_planted", str(exc), throttle=True)
        return
    values = {q: sp.value for q, sp in raw.items()}
    first = next(iter(raw.values()), None)
    run.period = recipe.label if first is None else (
        f"{recipe.label} {first.stage}/{first.period_name or first.source_period}")
    for q, v in run.tenant.items():
        values[q] = v
    for q, limit in z.hard_limits.items():
        if q in values:
            values[q] = min(limit.max, max(limit.min, values[q]))
    run.setpoints = values
    _index, stage, run.day = stage_at(recipe, z.planted, now, tz)
    run.stage = stage.name
    first_time = run.setpoints_at == float("-inf")
    run.setpoints_at = now_s - (runner.config.refresh_offset if first_time else 0.0)


def strategy(runner: ZoneRunner, now: datetime, local: datetime, tz: ZoneInfo) -> dict[str, dict[str, Any]]:
    """The stage's strategy tables (cached for the local date)."""
    run = runner.run
    if run.recipe is None or runner.zone.planted is None:
        return {}
    cached = run.day_cache
    if cached is None or cached[0] != local.date():
        recipe = run.recipe.recipe
        cached = (local.date(), recipe.strategy_for(stage_at(recipe, runner.zone.planted, now, tz)[0]))
        run.day_cache = cached
    return cached[1]
