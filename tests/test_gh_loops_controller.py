"""The hot-water loop and the water curtain inside the greenhouse controller (issue 16 items 4 and 5): the
dehumidification's minimum pipe reaches the loop, the curtain is decided, their state survives a restart
(farmctl/controller.py)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
from farmctl.controller import GreenhouseController
from farmctl.strategies import heatloop

TZ = ZoneInfo("Asia/Seoul")
T0 = datetime(2026, 1, 10, 1, 0, tzinfo=TZ)
VIEWS = [ActuatorView("mv", "mixing_valve", "retractable", 0.0, position=0.0),
         ActuatorView("b", "boiler", "switch", False), ActuatorView("wc", "water_curtain", "switch", False)]


def controller_tick(ctl: GreenhouseController, at: datetime, readings: dict[str, float],
                    views: list[ActuatorView]) -> TickOutput:
    sun = (at.replace(hour=7, minute=30), at.replace(hour=17, minute=30))
    inp = TickInput(at.timestamp(), at.astimezone(ZoneInfo("UTC")), at, 30.0, readings, {},
                    {"air_temperature": -3.0, "solar_radiation": 0.0, "wind_speed": 1.0, "rain_detected": 0.0},
                    {"air_temperature": 18.0, "relative_humidity": 85.0}, {}, sun, {v.id: v for v in views})
    return ctl.tick(inp)


def test_the_controller_runs_the_loop_at_minimum_pipe_when_the_humidity_asks_and_keeps_its_state():
    ctl, views = GreenhouseController(), VIEWS
    warm_and_humid = {"air_temperature": 19.5, "relative_humidity": 95.0, "pipe_temperature": 25.0}
    out = controller_tick(ctl, T0, warm_and_humid, views)
    assert out.decisions["b"].target is True and out.setpoints["pipe_temperature"] == heatloop.MIN_PIPE_C
    assert float(out.decisions["mv"].target) > 0 and out.decisions["wc"].target is True  # -3 °C at 01:00
    dry = controller_tick(GreenhouseController(), T0, {**warm_and_humid, "relative_humidity": 60.0}, views)
    assert dry.decisions["b"].target is False and dry.decisions["mv"].target == 0
    again = GreenhouseController()
    again.restore(json.loads(json.dumps(ctl.state())))
    for key in ("heat_loop", "water_curtain"):
        assert again.state()[key] == ctl.state()[key] and ctl.state()[key]
