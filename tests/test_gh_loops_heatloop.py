"""The hot-water loop (issue 16 item 4): pipe set-point by a P-band on air temperature between minimum and
maximum pipe, the mixing valve by PID on the pipe temperature in steps, the boiler with minimum times and a
start limit, PID state across a restart (farmctl/strategies/heatloop.py)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
from farmctl.strategies import heatloop
from farmctl.strategies.heating import HeatPlan

TZ = ZoneInfo("Asia/Seoul")
T0 = datetime(2026, 1, 10, 1, 0, tzinfo=TZ)
PLAN = HeatPlan(18.0, "heating setpoint 18.0 °C")


def tick(at: datetime, readings: dict[str, float], strategy: dict | None = None) -> TickInput:
    sun = (at.replace(hour=7, minute=30), at.replace(hour=17, minute=30))
    return TickInput(at.timestamp(), at.astimezone(ZoneInfo("UTC")), at, 30.0, readings, {}, {},
                     {"air_temperature": 18.0}, strategy or {}, sun, {})


def valve(target: float | None = None) -> ActuatorView:
    return ActuatorView("mv", "mixing_valve", "retractable", target, position=target)


def boiler(on: bool | None = None) -> ActuatorView:
    return ActuatorView("b", "boiler", "switch", on)


def step(loop: heatloop.HeatLoop, at: datetime, readings: dict[str, float], v: float | None, b: bool | None,
         min_pipe: bool = False, strategy: dict | None = None) -> TickOutput:
    out = TickOutput()
    loop.decide(tick(at, readings, strategy), PLAN, min_pipe, [boiler(b)], [valve(v)], out)
    return out


def test_the_pipe_setpoint_rises_over_the_p_band_from_minimum_to_maximum_pipe():
    assert heatloop.pipe_setpoint({}, 18.0, 18.0)[0] == heatloop.MIN_PIPE_C == 40
    assert heatloop.pipe_setpoint({}, 17.0, 18.0)[0] == 60  # half of the 2 K band: halfway 40-80
    assert heatloop.pipe_setpoint({}, 10.0, 18.0)[0] == heatloop.MAX_PIPE_C == 80
    assert heatloop.pipe_setpoint({"min_pipe_c": 30, "max_pipe_c": 70, "p_band_k": 4}, 16.0, 18.0)[0] == 50


def test_the_loop_stops_above_the_setpoint_unless_the_dehumidification_asks_for_minimum_pipe():
    loop = heatloop.HeatLoop()
    out = step(loop, T0, {"air_temperature": 17.0, "pipe_temperature": 30.0}, 0.0, False)
    assert out.decisions["b"].target is True and out.setpoints["pipe_temperature"] == 60
    assert float(out.decisions["mv"].target) > 0
    held = step(loop, T0 + timedelta(minutes=1), {"air_temperature": 18.3, "pipe_temperature": 45.0}, 40.0, True)
    assert held.setpoints["pipe_temperature"] == 40, "between the setpoint and +0.5 K the loop keeps running"
    warm = step(loop, T0 + timedelta(minutes=20), {"air_temperature": 18.6, "pipe_temperature": 45.0}, 40.0, True)
    assert warm.decisions["mv"].target == 0 and warm.decisions["b"].target is False
    assert "loop off" in warm.decisions["mv"].reason and "pipe_temperature" not in warm.setpoints
    dry = step(loop, T0 + timedelta(minutes=40), {"air_temperature": 19.0, "pipe_temperature": 20.0}, 0.0, False,
               min_pipe=True)
    assert dry.setpoints["pipe_temperature"] == 40 and dry.decisions["b"].target is True
    assert "minimum pipe 40 °C for the dehumidification" in dry.decisions["b"].reason


def simulate(loop: heatloop.HeatLoop, minutes: int, air: float = 17.0, start: datetime = T0,
             pipe: float = 20.0, v: float | None = 0.0) -> tuple[list[float], list[float]]:
    """A toy pipe loop: the pipe relaxes (2 min) toward air + 0.8 K per % of valve while the boiler runs.
    Returns the pipe temperatures and the valve targets, a tick every 30 s."""
    pipes, targets, b = [], [], False
    for n in range(minutes * 2):
        out = step(loop, start + timedelta(seconds=30 * n), {"air_temperature": air, "pipe_temperature": pipe}, v, b)
        v, b = float(out.decisions["mv"].target), bool(out.decisions["b"].target)
        heat_to = air + 0.8 * v if b else air
        pipe += (heat_to - pipe) * 30 / 120
        pipes.append(pipe)
        targets.append(v)
    return pipes, targets


def test_the_valve_brings_the_pipe_to_its_setpoint_in_steps_without_nudging_every_tick():
    pipes, targets = simulate(heatloop.HeatLoop(), 60)  # air 17.0: pipe set-point 60 °C
    assert all(abs(p - 60) < 1.5 for p in pipes[-20:]), pipes[-20:]
    moves = sum(1 for a, b in itertools.pairwise(targets) if a != b)
    assert all(t % heatloop.VALVE_STEP_PCT == 0 for t in targets)
    assert moves < len(targets) / 3, f"{moves} moves in {len(targets)} ticks"


def test_without_a_pipe_reading_the_valve_gets_no_decision_and_the_boiler_still_does():
    out = step(heatloop.HeatLoop(), T0, {"air_temperature": 17.0}, 30.0, False)
    assert "mv" not in out.decisions and out.decisions["b"].target is True
    assert not TickOutput().decisions and step(heatloop.HeatLoop(), T0, {}, 30.0, False).decisions == {}


def test_the_pid_resumes_after_a_restart_without_a_bump():
    loop = heatloop.HeatLoop()
    _pipes, targets = simulate(loop, 60)
    again = heatloop.HeatLoop()
    again.restore(json.loads(json.dumps(loop.state())))
    later = T0 + timedelta(minutes=60)
    readings = {"air_temperature": 17.0, "pipe_temperature": 60.0}
    resumed = float(step(again, later, readings, None, True).decisions["mv"].target)
    assert abs(resumed - targets[-1]) <= heatloop.VALVE_STEP_PCT
    fresh = float(step(heatloop.HeatLoop(), later, readings, None, True).decisions["mv"].target)
    assert fresh < targets[-1] - 20, "a fresh PID would start from a closed valve"


def test_a_valve_moved_by_someone_else_is_taken_over_from_where_it_is():
    loop = heatloop.HeatLoop()
    simulate(loop, 30)
    out = step(loop, T0 + timedelta(minutes=30), {"air_temperature": 17.0, "pipe_temperature": 60.0}, 90.0, True)
    assert abs(float(out.decisions["mv"].target) - 90) <= heatloop.VALVE_STEP_PCT


def test_the_boiler_keeps_its_minimum_run_and_starts_at_most_n_times_an_hour():
    loop, b, starts, on_since = heatloop.HeatLoop(), False, [], None
    for n in range(240):  # 2 h, the demand flips every 2 min
        at = T0 + timedelta(seconds=30 * n)
        air = 17.0 if (n // 4) % 2 == 0 else 19.0
        d = step(loop, at, {"air_temperature": air, "pipe_temperature": 50.0}, 0.0, b).decisions["b"]
        if d.target and not b:
            starts.append(at)
            on_since = at
        if b and not d.target:
            assert on_since is not None and at - on_since >= timedelta(minutes=heatloop.BOILER_MIN_ON_MIN)
        b = bool(d.target)
    per_hour = max(sum(1 for s in starts if a <= s < a + timedelta(hours=1)) for a in starts)
    assert per_hour <= heatloop.BOILER_MAX_STARTS_PER_HOUR == 4 and len(starts) >= 4

