"""The water curtain (수막, issue 16 item 5): on at night below an outside temperature when the groundwater can
help, off before sunrise whatever its minimum run, with hysteresis and a minimum run
(farmctl/strategies/watercurtain.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from farmcore.runtime.controller import ActuatorView, TickInput
from farmctl.strategies.watercurtain import WaterCurtain

TZ = ZoneInfo("Asia/Seoul")
EVENING = datetime(2026, 1, 10, 19, 0, tzinfo=TZ)


def tick(at: datetime, outside: float | None, ground: float | None = 15.0, strategy: dict | None = None) -> TickInput:
    sun = (at.replace(hour=7, minute=30, second=0), at.replace(hour=17, minute=30, second=0))
    weather = {} if outside is None else {"air_temperature": outside}
    readings = {} if ground is None else {"groundwater_temperature": ground}
    return TickInput(at.timestamp(), at.astimezone(ZoneInfo("UTC")), at, 60.0, readings, {}, weather, {},
                     strategy or {}, sun, {})


def pump(on: bool | None = None) -> ActuatorView:
    return ActuatorView("wc", "water_curtain", "switch", on)


def test_on_at_night_below_the_outside_temperature_and_off_by_day():
    wc = WaterCurtain()
    d = wc.decide(tick(EVENING, 2.0), pump(False))
    assert d is not None and d.target is True and "night window 17:30-07:00" in d.reason
    assert WaterCurtain().decide(tick(EVENING, 6.0), pump(False)).target is False
    noon = WaterCurtain().decide(tick(EVENING.replace(hour=12), -5.0), pump(False))
    assert noon.target is False and "outside the night window" in noon.reason


def test_off_before_sunrise_even_inside_its_minimum_run():
    wc = WaterCurtain()
    assert wc.decide(tick(EVENING.replace(hour=6, minute=50), -8.0), pump(False)).target is True
    d = wc.decide(tick(EVENING.replace(hour=7, minute=0), -8.0), pump(True))  # sunrise 07:30 - 00:30
    assert d.target is False and "film drains before light" in d.reason


def test_hysteresis_and_minimum_run():
    wc = WaterCurtain()
    assert wc.decide(tick(EVENING, 4.9), pump(False)).target is True
    warmer = wc.decide(tick(EVENING + timedelta(minutes=40), 6.5), pump(True))
    assert warmer.target is True, "inside the 2 K band it stays on"
    early = WaterCurtain()
    early.decide(tick(EVENING, 4.0), pump(False))
    held = early.decide(tick(EVENING + timedelta(minutes=10), 9.0), pump(True))
    assert held.target is True and "held" in held.reason
    assert early.decide(tick(EVENING + timedelta(minutes=31), 9.0), pump(True)).target is False


def test_cold_groundwater_keeps_it_off_and_a_missing_reading_is_assumed_warm():
    d = WaterCurtain().decide(tick(EVENING, 0.0, ground=1.0), pump(False))
    assert d.target is False and "not 2 K warmer than outside" in d.reason
    d = WaterCurtain().decide(tick(EVENING, 0.0, ground=None), pump(False))
    assert d.target is True and "assumed warm enough" in d.reason


def test_no_outside_reading_at_night_gives_no_decision_and_the_recipe_sets_the_window():
    assert WaterCurtain().decide(tick(EVENING, None), pump(False)) is None
    late = {"water_curtain": {"start": "22:00", "stop": "sunrise-01:00", "on_below_outside_c": 0}}
    assert WaterCurtain().decide(tick(EVENING, -3.0, strategy=late), pump(False)).target is False
    assert WaterCurtain().decide(tick(EVENING.replace(hour=23), -3.0, strategy=late), pump(False)).target is True
    assert WaterCurtain().decide(tick(EVENING.replace(hour=6, minute=40), -3.0, strategy=late),
                                 pump(True)).target is False


def test_the_minimum_run_survives_a_restart():
    wc = WaterCurtain()
    wc.decide(tick(EVENING, 3.0), pump(False))
    again = WaterCurtain()
    again.restore(json.loads(json.dumps(wc.state())))
    d = again.decide(tick(EVENING + timedelta(minutes=5), 12.0), pump(True))
    assert d.target is True and "held" in d.reason
