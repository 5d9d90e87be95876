"""Recipe events and daily jobs on APScheduler 3.11 with a persistent SQLite job store.

Rules (libraries.md §5): one scheduler per job store; jobs added with fixed ids and `replace_existing`, so
a restart never duplicates them; `coalesce=True`, `max_instances=1` and a finite misfire grace, so a
daemon that was down runs a missed job once, not once per missed time. Jobs are level-triggered ("apply
the state for now") and each run first claims its slot (the interval slot or the local date) in the
state store: a second run of the same slot is refused before it acts and recorded as a duplicate.

Jobs are pickled by reference (`module:function` plus plain arguments), so the function finds the running
daemon through `DAEMONS`.

Simulated time: APScheduler 3 reads the wall clock inside the scheduler and the executors
(`datetime.now`). When the daemon runs on the twin's clock, `follow_clock` points those two module-level
reads at the daemon's clock (one clock per process); the field daemon never calls it.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from farmcore.runtime.clock import Clock

log = logging.getLogger(__name__)

MISFIRE_GRACE_S = 3600  # a job missed by less than this (daemon down) runs once on restart
MEAL_GRACE_S = 1800  # a meal more than 30 min late is skipped [engineering choice]


class JobTarget(Protocol):
    async def run_job(self, kind: str, zone: str | None = None, at: str | None = None) -> None: ...


DAEMONS: dict[str, JobTarget] = {}  # site id -> running daemon


async def run_site_job(site: str, kind: str, zone: str | None = None, at: str | None = None) -> None:
    """The job function every scheduled job calls (importable, picklable arguments)."""
    daemon = DAEMONS.get(site)
    if daemon is None:
        log.warning("job %s for site %s: no daemon running here", kind, site)
        return
    await daemon.run_job(kind, zone, at)


def follow_clock(clock: Clock) -> None:
    """Make APScheduler's own `datetime.now` reads return `clock`'s time (simulated runs only)."""
    import apscheduler.executors.base as executors_base
    import apscheduler.schedulers.base as schedulers_base

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            now = clock.now()
            return now.astimezone(tz) if tz is not None else now.replace(tzinfo=None)

    schedulers_base.datetime = ClockDatetime  # type: ignore[misc]
    executors_base.datetime = ClockDatetime  # type: ignore[misc]


def interval_slot(now: datetime, every_s: float) -> datetime:
    """The start of the interval slot `now` falls in (slots aligned to the UTC epoch)."""
    epoch = now.timestamp()
    return datetime.fromtimestamp(math.floor(epoch / every_s) * every_s, tz=now.tzinfo)


class Scheduler:
    def __init__(self, site: str, state_dir: Path, timezone: str, clock: Clock) -> None:
        self.site, self.clock = site, clock
        url = f"sqlite:///{(state_dir / 'jobs.sqlite').resolve()}"
        self._aps = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=url)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S},
            timezone=timezone,
        )

    def start(self, recipe_check_s: float) -> None:
        """One job per kind for the whole site (a job per zone would fire hundreds at the same instant)."""
        self._aps.start()
        now = self.clock.now()
        first = interval_slot(now, recipe_check_s) + timedelta(seconds=recipe_check_s)
        wanted = set()
        for kind, trigger in (
            ("recipe", IntervalTrigger(seconds=recipe_check_s, start_date=first)),
            ("daily", CronTrigger(hour=0, minute=0, second=30, timezone=self._aps.timezone)),
        ):
            job_id = f"{self.site}:{kind}"
            wanted.add(job_id)
            existing = self._aps.get_job(job_id)
            if existing is not None and str(existing.trigger) == str(trigger):
                continue  # keep its next run time: a restart must not reset the schedule
            self._aps.add_job(run_site_job, trigger, args=[self.site, kind], id=job_id, name=f"{self.site} {kind}",
                              replace_existing=True)
        for job in self._aps.get_jobs():  # jobs of an older layout
            if job.id.startswith(f"{self.site}:") and job.id not in wanted and ":meal:" not in job.id:
                job.remove()

    def plan_meals(self, zone: str, times: list[datetime]) -> None:
        """Today's and tomorrow's meals of a zone as one-off jobs (ids carry the time, so re-planning the same
        meal replaces it); meals no longer in the plan are removed. A meal missed while the daemon was down
        runs on restart if it is less than MEAL_GRACE_S late, else it is skipped (feeding hours late is worse
        than a missed meal)."""
        prefix = f"{self.site}:meal:{zone}:"
        wanted = {f"{prefix}{t.isoformat()}": t for t in times}
        for job in self._aps.get_jobs():
            if job.id.startswith(prefix) and job.id not in wanted:
                job.remove()
        for job_id, at in wanted.items():
            if self._aps.get_job(job_id) is None:
                self._aps.add_job(run_site_job, DateTrigger(run_date=at),
                                  args=[self.site, "meal", zone, at.isoformat()], id=job_id,
                                  name=f"{zone} meal {at:%H:%M}", misfire_grace_time=MEAL_GRACE_S)

    def wakeup(self) -> None:
        """Look for due jobs now (each tick: on an accelerated clock the timer alone would be late)."""
        if self._aps.running:
            self._aps.wakeup()

    def jobs(self) -> list[tuple[str, datetime | None]]:
        return [(j.id, j.next_run_time) for j in self._aps.get_jobs()]

    def shutdown(self) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=False)
