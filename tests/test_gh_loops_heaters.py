"""Cycle limits of on/off heaters (issue 16 item 4): at most N starts an hour on top of the minimum on/off times,
a limit that survives a restart (farmcore/control/starts.py, farmctl/strategies/heating.py)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from farmcore.control.starts import StartLimit
from farmcore.runtime.controller import ActuatorView, TickInput
from farmctl.strategies import heating

TZ = ZoneInfo("Asia/Seoul")
T0 = datetime(2026, 1, 10, 1, 0, tzinfo=TZ)
PLAN = heating.plan(18.0, "heating setpoint 18.0 °C", False)


def tick(local: datetime, t: float, strategy: dict | None = None) -> TickInput:
    day: date = local.date()
    return TickInput(local.timestamp(), local.astimezone(ZoneInfo("UTC")), local, 30.0, {"air_temperature": t}, {},
                     {}, {"air_temperature": 18.0}, strategy or {}, (datetime.combine(day, datetime.min.time(), TZ),
                                                                       datetime.combine(day, datetime.max.time(), TZ)),
                     {})


def run(heaters: heating.Heaters, minutes: int, strategy: dict | None = None, start: datetime = T0,
        on: bool = False) -> list[float]:
    """A leaky house: +0.5 K a minute while the heater runs, -0.5 K a minute while it does not, so the 1 K band
    alone would switch it on every 3-4 min; returns the start times."""
    t, starts = 17.4, []
    for n in range(minutes * 2):
        now = start + timedelta(seconds=30 * n)
        d = heaters.decide(tick(now, t, strategy), ActuatorView("h", "heater", "switch", on), PLAN)
        assert d is not None
        if d.target and not on:
            starts.append(now.timestamp())
        on = bool(d.target)
        t += 0.25 if on else -0.25
    return starts


def most_in_an_hour(starts: list[float]) -> int:
    return max((sum(1 for s in starts if a <= s < a + 3600) for a in starts), default=0)


def test_a_heater_that_would_cycle_every_few_minutes_starts_at_most_n_times_an_hour():
    starts = run(heating.Heaters(), 240)
    assert most_in_an_hour(starts) == heating.MAX_STARTS_PER_HOUR == 6
    assert len(starts) >= 20, "the limit spaces starts out, it does not stop heating"


def test_the_recipe_sets_the_limit():
    starts = run(heating.Heaters(), 180, {"heating": {"max_starts_per_hour": 3}})
    assert most_in_an_hour(starts) == 3


def test_a_held_start_says_why_and_when_it_may_start():
    heaters = heating.Heaters()
    assert len(run(heaters, 50)) == 6
    d = heaters.decide(tick(T0 + timedelta(minutes=50), 16.0), ActuatorView("h", "heater", "switch", False), PLAN)
    assert d is not None and d.target is False
    assert "start held: 6 starts in the last 60 min (limit 6), next allowed in" in d.reason


def test_the_start_limit_survives_a_restart():
    heaters = heating.Heaters()
    starts = run(heaters, 50)
    assert len(starts) == 6
    again = heating.Heaters()
    again.restore(json.loads(json.dumps(heaters.state())))
    d = again.decide(tick(T0 + timedelta(minutes=50), 16.0), ActuatorView("h", "heater", "switch", False), PLAN)
    assert d is not None and d.target is False and "start held" in d.reason
    assert heating.Heaters().decide(tick(T0 + timedelta(minutes=50), 16.0),
                                    ActuatorView("h", "heater", "switch", False), PLAN).target is True


def test_a_state_saved_before_the_limit_existed_restores():
    heaters = heating.Heaters()
    heaters.restore({"h": [True, T0.timestamp()]})
    assert heaters.timers["h"].on and heaters.starts["h"].starts == []


def test_start_limit_sliding_window():
    limit = StartLimit(2, 600.0)
    assert limit.check(0.0)[0]
    limit.note(0.0)
    limit.note(100.0)
    ok, why = limit.check(200.0)
    assert not ok and "next allowed in 400 s" in why
    assert limit.check(600.1)[0]
    with pytest.raises(ValueError):
        StartLimit(0)
