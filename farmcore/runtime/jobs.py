"""Scheduled jobs of a site: the recipe check (setpoints refreshed, a new period announced), the daily job
(meals planned, old command ids forgotten, the day's figures) and meals. A job claims its slot in the state
store first, so a slot that already ran — after a restart, or twice from a misfiring scheduler — is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from farmcore.recipe.timeline import parse_start
from farmcore.runtime.clock import Clock
from farmcore.runtime.controller import Request
from farmcore.runtime.records import Recorder
from farmcore.runtime.scheduler import Scheduler, interval_slot
from farmcore.runtime.setpoints import refresh_setpoints, strategy
from farmcore.runtime.state import StateStore
from farmcore.runtime.zone import ZoneRunner
from farmcore.site import SiteFile


class JobSite(Protocol):
    """What the jobs need of the daemon."""

    site: SiteFile
    tz: ZoneInfo
    clock: Clock
    state: StateStore
    recorder: Recorder
    scheduler: Scheduler

    @property
    def zones(self) -> Mapping[str, ZoneRunner]: ...

    def sun_for(self, day: date) -> tuple[datetime, datetime]: ...


async def run_job(d: JobSite, kind: str, zone: str | None, at: str | None, prune: Callable[[], None]) -> None:
    """Claim the job's slot, then apply the state for now to every zone (level-triggered, idempotent),
    yielding to the tick loop between zones so a site of many zones keeps its ticks."""
    now = d.clock.now()
    event = d.recorder.event
    job_id = f"{d.site.site.id}:{kind}" + (f":{zone}" if zone else "")
    if kind == "meal" and at is not None:
        slot = datetime.fromisoformat(at)
    elif kind == "daily":
        local = now.astimezone(d.tz)
        slot = datetime.combine(local.date(), datetime.min.time(), tzinfo=d.tz)
    else:
        slot = interval_slot(now, d.site.runtime.recipe_check_s)
    if not d.state.record_run(job_id, slot, now, "ran"):
        event(None, "job_duplicate", f"{kind} job for {slot.isoformat()} already ran: skipped")
        return
    if kind == "meal":
        runner = d.zones.get(zone or "")
        if runner is not None:
            runner.run.requests.append(Request("meal", None, "scheduler"))
            event(runner, "meal_due", f"meal due ({slot.astimezone(d.tz):%H:%M})")
        return
    if kind == "daily":
        plan_meals(d, now)
        prune()
    for runner in list(d.zones.values()):
        run, zone_id = runner.run, runner.zone.id
        if kind == "recipe":
            run.setpoints_at = float("-inf")
            refresh_setpoints(runner, now, d.site.site, d.tz, event)
            if run.period != d.state.get(zone_id, "period"):
                d.state.put(zone_id, "period", run.period)
                event(runner, "recipe_period", f"recipe {run.period}: " + ", ".join(
                    f"{q} {v:g}" for q, v in run.setpoints.items()))
        elif kind == "daily":
            event(runner, "day_started", f"day {now.astimezone(d.tz).date().isoformat()}: " + ", ".join(
                f"{k} {v:.4g}" for k, v in sorted(run.trace.items())))
        await asyncio.sleep(0)


def plan_meals(d: JobSite, now: datetime) -> None:
    """Schedule today's and tomorrow's meals of every zone whose recipe has meal times."""
    local = now.astimezone(d.tz)
    for runner in d.zones.values():
        if runner.run.recipe is None:
            continue
        meals = strategy(runner, now, local, d.tz).get("feeding", {}).get("meals") or []
        times = []
        for offset in (0, 1):
            day = local.date() + timedelta(days=offset)
            sun = d.sun_for(day)
            for text in meals:
                at = parse_start(str(text)).resolve(day, d.tz, sun)
                if at > now:
                    times.append(at.astimezone(UTC))
        d.scheduler.plan_meals(runner.zone.id, times)
