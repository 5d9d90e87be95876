"""Recipe + planting date + instant + site -> the setpoints in force (pure: no I/O, no clock).

Rules:
- A period start is `HH:MM` (local wall-clock time at the site) or `sunrise±HH:MM` / `sunset±HH:MM`
  (offsets up to 12 h), resolved on each local date with `sun_times` for the site; so a
  `sunrise-01:00` start comes later in winter than in summer.
- Every period instance belongs to the local date it is resolved on, and takes the stage of that date
  (days since planting = local date - planted; the stage is the last with from_day <= days). A night period
  that starts at sunset keeps running past midnight until the next period starts, in the stage of the
  evening it started; a new stage therefore begins with its first period on its first day.
- Each quantity has its own schedule: a period that does not name a quantity leaves it as it was.
- `ramp_min` ramps linearly from the quantity's previous period value to the new one over that many minutes
  from the period's start (while ramping, `Setpoint.ramping` is true).
- Before planting the first stage applies to the history (so the first night is defined); an instant
  before the planting date is an error.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from farmcore.recipe.schema import QUANTITIES, Recipe, Stage
from farmcore.sun import sun_times

_START = re.compile(r"^\s*(?:(sunrise|sunset)\s*([+-])\s*)?(\d{1,2}):(\d{2})\s*$")
_BARE_SUN = re.compile(r"^\s*(sunrise|sunset)\s*$")


@dataclass(frozen=True)
class Start:
    anchor: str  # "clock" | "sunrise" | "sunset"
    minutes: int  # minutes after midnight (clock) or signed offset from the sun event

    def resolve(self, day: date, zone: tzinfo, sun: tuple[datetime, datetime] | None) -> datetime:
        if self.anchor == "clock":
            return datetime.combine(day, time(self.minutes // 60, self.minutes % 60), tzinfo=zone)
        assert sun is not None
        event = sun[0] if self.anchor == "sunrise" else sun[1]
        return event + timedelta(minutes=self.minutes)


@functools.lru_cache(maxsize=1024)  # every zone's strategies parse the same few texts every tick
def parse_start(text: str) -> Start:
    """`06:30`, `sunrise+01:30`, `sunset-00:30`, `sunrise` -> Start; ValueError says what is allowed."""
    allowed = "expected HH:MM (00:00-23:59) or sunrise±HH:MM / sunset±HH:MM (up to 12:00)"
    if m := _BARE_SUN.match(text):
        return Start(m.group(1), 0)
    m = _START.match(text)
    if not m:
        raise ValueError(f"{text!r}: {allowed}")
    anchor, sign, hh, mm = m.groups()
    hours, minutes = int(hh), int(mm)
    if minutes > 59:
        raise ValueError(f"{text!r}: {allowed}")
    if anchor is None:
        if hours > 23:
            raise ValueError(f"{text!r}: {allowed}")
        return Start("clock", hours * 60 + minutes)
    offset = hours * 60 + minutes
    if offset > 720:
        raise ValueError(f"{text!r}: {allowed}")
    return Start(anchor, -offset if sign == "-" else offset)


@dataclass(frozen=True)
class Setpoint:
    value: float
    unit: str
    stage: str  # name of the stage the active period belongs to
    stage_index: int
    source_period: str  # "stages[1].periods[2]" (with the period's name when it has one)
    period_name: str
    since: datetime  # when the active period started (local time of the site)
    ramping: bool
    ramp_from: float | None = None  # the value the ramp started from (while ramping)


@dataclass(frozen=True)
class _Event:
    at: datetime
    value: float
    ramp_min: float
    stage_index: int
    period_index: int


def stage_index_for(recipe: Recipe, days: int) -> int:
    """Index of the stage for `days` since planting (the first stage for negative days)."""
    index = 0
    for i, stage in enumerate(recipe.stages):
        if stage.from_day <= days:
            index = i
    return index


def stage_at(recipe: Recipe, planted: date, when: datetime, tz: str | tzinfo) -> tuple[int, Stage, int]:
    """(index, stage, days since planting) by the local date of `when`."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    days = (when.astimezone(zone).date() - planted).days
    index = stage_index_for(recipe, days)
    return index, recipe.stages[index], days


_DAY_CACHE: dict[tuple[int, date, date, float, float, str], tuple[Recipe, tuple[tuple[str, _Event], ...]]] = {}
_DAY_CACHE_MAX = 4096


def _day_events(recipe: Recipe, planted: date, day: date, lat: float, lon: float, zone: tzinfo,
                uses_sun: bool) -> tuple[tuple[str, _Event], ...]:
    """The period instances of one local day, (quantity, event) in period order. A day's are the same every
    time they are asked and for every zone on the same recipe (the daemon refreshes each zone's setpoints every
    30 s, over five days each time): kept by the recipe object, which the cache holds so its id stays its own."""
    key = (id(recipe), planted, day, lat, lon, str(zone))
    hit = _DAY_CACHE.get(key)
    if hit is not None and hit[0] is recipe:
        return hit[1]
    si = stage_index_for(recipe, (day - planted).days)
    sun = sun_times(lat, lon, day, zone) if uses_sun else None
    out = []
    for pi, period in enumerate(recipe.stages[si].periods):
        at = parse_start(period.start).resolve(day, zone, sun)
        out += [(q, _Event(at, value, period.ramp_min, si, pi)) for q, value in period.values().items()]
    entry = (recipe, tuple(out))
    if len(_DAY_CACHE) >= _DAY_CACHE_MAX:
        _DAY_CACHE.clear()
    _DAY_CACHE[key] = entry  # another thread may clear the cache meanwhile: answer from our own entry
    return entry[1]


def setpoints_at(
    recipe: Recipe, planted: date, when: datetime, site_lat: float, site_lon: float, tz: str | tzinfo
) -> dict[str, Setpoint]:
    """{quantity: Setpoint} in force at `when` (an aware datetime) for a crop planted on `planted`."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("when must be an aware datetime")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = when.astimezone(zone)
    if local.date() < planted:
        raise ValueError(f"{local.isoformat()} is before the planting date {planted.isoformat()}")
    uses_sun = any(not p.start[:1].isdigit() for s in recipe.stages for p in s.periods)

    # period instances of the days around `when` (offsets reach 12 h, a period can last a whole day)
    events: dict[str, list[_Event]] = {q: [] for q in QUANTITIES}
    for delta in range(-3, 2):
        for q, event in _day_events(recipe, planted, local.date() + timedelta(days=delta), site_lat, site_lon,
                                    zone, uses_sun):
            events[q].append(event)

    out: dict[str, Setpoint] = {}
    for q, evs in events.items():
        evs.sort(key=lambda e: (e.at, e.stage_index, e.period_index))
        past = [e for e in evs if e.at <= local]
        if not past:
            continue
        active = past[-1]
        previous = past[-2] if len(past) > 1 else None
        value, ramping, ramp_from = active.value, False, None
        if previous is not None and active.ramp_min > 0 and previous.value != active.value:
            elapsed_min = (local - active.at).total_seconds() / 60.0
            if elapsed_min < active.ramp_min:
                fraction = elapsed_min / active.ramp_min
                value = previous.value + (active.value - previous.value) * fraction
                ramping, ramp_from = True, previous.value
        stage = recipe.stages[active.stage_index]
        period = stage.periods[active.period_index]
        out[q] = Setpoint(
            value=round(value, 4),
            unit=QUANTITIES[q].unit,
            stage=stage.name,
            stage_index=active.stage_index,
            source_period=f"stages[{active.stage_index}].periods[{active.period_index}]",
            period_name=period.name,
            since=active.at,
            ramping=ramping,
            ramp_from=ramp_from,
        )
    return out
