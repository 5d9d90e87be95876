"""A hot-water heating loop: the pipe temperature set-point from the heating demand, the mixing valve by PID on
the measured pipe temperature, the boiler (or heat pump) on/off while the loop needs heat.

How a commercial climate computer heats with pipes (anchors.md, Priva: up to four hot-water pipe systems per
zone), in steps a technician can follow:

- the loop runs while the air is at or below the working heating setpoint, and stops `OFF_ABOVE_K` above it;
  it also runs when the dehumidification asks for the minimum pipe (dehumidify.py: warm pipes dry the air and
  the crop), whatever the air temperature;
- while it runs the pipes are kept at least at `min_pipe_c`, rising linearly to `max_pipe_c` as the air falls
  `p_band_k` below the setpoint (a P-band on air temperature, as Priva's and Hoogendoorn's pipe curves);
- the mixing valve (a retractable: % of boiler water mixed into the pipes) is moved by a PID on the measured
  `pipe_temperature`; its target changes only in whole `valve_step_pct` steps, so the motor is not nudged every
  tick; without a pipe-temperature reading it gets no decision (the runtime holds it, its failsafe);
- the boiler is on while the loop runs, with minimum run and off times and at most
  `boiler_max_starts_per_hour` starts in any hour (farmcore/control/starts.py);
- the PID resumes bumplessly from its last output after a restart or when someone else moved the valve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import model_validator

from farmcore.control.arbitration import Decision
from farmcore.control.pid import Pid
from farmcore.control.starts import StartLimit, follow, paced
from farmcore.control.switching import Hysteresis, MinOnOff
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
    from farmctl.strategies.heating import HeatPlan

# [unverified] the "minimum pipe" commercial controllers keep for humidity is commonly quoted at 40-45 °C; 40 is
# the low end (anchors.md: Priva/Hoogendoorn dehumidification by minimum pipe)
MIN_PIPE_C = 40.0
MAX_PIPE_C = 80.0  # [engineering choice] below the 85-90 °C high limit of hot-water boilers (twin heatloop.py)
P_BAND_K = 2.0  # [engineering choice] 2 K below the setpoint asks for the maximum pipe
OFF_ABOVE_K = 0.5  # [engineering choice] the loop stops 0.5 K above the setpoint (half the on/off heater's band)
VALVE_KP = 4.0  # [engineering choice] % valve per K of pipe error: 10 K off opens the valve 40 %
VALVE_TI_S = 300.0  # [engineering choice] integral time: a pipe loop answers its valve within minutes
VALVE_STEP_PCT = 2.0  # [engineering choice] the valve target moves in 2 % steps (its motor is not nudged)
BOILER_MIN_ON_MIN = 10.0  # [engineering choice] a burner run short of this sooted and wasted its pre-purge
BOILER_MIN_OFF_MIN = 5.0  # [engineering choice]
BOILER_MAX_STARTS_PER_HOUR = 4  # [engineering choice] a boiler with water inertia needs fewer starts than a blower


class HeatLoopTable(StrategyTable):
    """`[strategy.heat_loop]`: a hot-water loop (roles boiler and mixing_valve)."""

    min_pipe_c: float = param(MIN_PIPE_C, ge=20, le=90, unit="°C",
                              en="pipe temperature kept while the loop runs, and asked by the dehumidification",
                              ko="난방 배관이 도는 동안, 그리고 제습할 때 유지하는 최저 배관 온도")
    max_pipe_c: float = param(MAX_PIPE_C, ge=20, le=95, unit="°C",
                              en="highest pipe temperature, reached p_band_k below the heating setpoint",
                              ko="가장 높은 배관 온도: 실내 온도가 난방 설정온도보다 p_band_k만큼 낮을 때")
    p_band_k: float = param(P_BAND_K, gt=0, le=10, unit="K",
                            en="the pipe set-point rises from minimum to maximum as the air falls this far below "
                               "the heating setpoint",
                            ko="실내 온도가 난방 설정온도보다 이만큼 낮아지는 동안 배관 설정온도가 최저에서 최고로 "
                               "올라갑니다")
    valve_kp: float = param(VALVE_KP, gt=0, le=50, unit="%/K",
                            en="mixing valve: % opening per K the pipe is below its set-point (proportional gain)",
                            ko="혼합 밸브: 배관 온도가 설정보다 1 K 낮을 때 더 여는 비율(비례 이득)")
    valve_ti_s: float = param(VALVE_TI_S, gt=0, le=7200, unit="s",
                              en="mixing valve: integral time (shorter corrects a lasting error faster)",
                              ko="혼합 밸브: 적분 시간(짧을수록 남은 오차를 빨리 없앱니다)")
    valve_step_pct: float = param(VALVE_STEP_PCT, ge=0.5, le=20, unit="%",
                                  en="mixing valve: a new position only when it differs this much from the last",
                                  ko="혼합 밸브: 위치가 이만큼 이상 달라질 때만 새로 움직입니다")
    boiler_min_on_min: float = param(BOILER_MIN_ON_MIN, ge=0, le=120, unit="min",
                                     en="boiler: shortest run once started", ko="보일러: 한 번 켜면 최소로 도는 시간")
    boiler_min_off_min: float = param(BOILER_MIN_OFF_MIN, ge=0, le=120, unit="min",
                                      en="boiler: shortest pause before it starts again",
                                      ko="보일러: 끈 뒤 다시 켜기 전까지 최소로 쉬는 시간")
    boiler_max_starts_per_hour: int = param(BOILER_MAX_STARTS_PER_HOUR, ge=1, le=60, unit="1/h",
                                            en="boiler: at most this many starts in any hour",
                                            ko="보일러: 한 시간에 켤 수 있는 최대 횟수")

    @model_validator(mode="after")
    def _pipe_order(self) -> HeatLoopTable:
        if {"min_pipe_c", "max_pipe_c"} & self.model_fields_set and not self.min_pipe_c < self.max_pipe_c:
            raise ValueError(f"min_pipe_c ({self.min_pipe_c:g}) must be below max_pipe_c ({self.max_pipe_c:g})")
        return self


def pipe_setpoint(table: dict[str, Any], air: float, heat_sp: float) -> tuple[float, str]:
    """The pipe set-point while the loop runs: minimum pipe at or above the setpoint, rising over the P-band."""
    lo, hi = table.get("min_pipe_c", MIN_PIPE_C), table.get("max_pipe_c", MAX_PIPE_C)
    band = table.get("p_band_k", P_BAND_K)
    share = min(max((heat_sp - air) / band, 0.0), 1.0)
    pipe = lo + share * (hi - lo)
    return pipe, (f"pipe set-point {pipe:.0f} °C: air {air:.1f} °C is {heat_sp - air:+.1f} K under {heat_sp:.1f} °C, "
                  f"{share:.0%} of the {band:g} K P-band between {lo:g} and {hi:g} °C")


class HeatLoop:
    """The zone's hot-water loop: whether it runs, a PID per mixing valve, timers and start limits per boiler."""

    def __init__(self) -> None:
        self.running = False
        self.pids: dict[str, Pid] = {}
        self.last: dict[str, float] = {}  # valve -> the PID's last output (unquantised), to resume from
        self.sent: dict[str, float] = {}  # valve -> the target last decided (a different one was set by someone else)
        self.timers: dict[str, MinOnOff] = {}
        self.starts: dict[str, StartLimit] = {}

    def decide(self, inp: TickInput, heat: HeatPlan, min_pipe: bool, boilers: list[ActuatorView],
               valves: list[ActuatorView], out: TickOutput) -> None:
        """Decisions for the boilers and mixing valves; none without a good air temperature (the runtime's
        failsafe: boiler off, valve held)."""
        if not boilers and not valves:
            return
        air = inp.readings.get("air_temperature")
        if air is None:
            return
        table = inp.strategy.get("heat_loop", {})
        stop_at = heat.setpoint + OFF_ABOVE_K
        by_air = Hysteresis(on_below=heat.setpoint, off_above=stop_at).decide(self.running, air)
        self.running = by_air.on or min_pipe
        if by_air.on:
            pipe, why = pipe_setpoint(table, air, heat.setpoint)
        elif min_pipe:
            pipe = table.get("min_pipe_c", MIN_PIPE_C)
            why = f"minimum pipe {pipe:g} °C for the dehumidification (air {air:.1f} °C, {by_air.reason})"
        else:
            pipe, why = None, f"loop off: air {air:.1f} °C, {by_air.reason} (setpoint {heat.why})"
        if pipe is not None:
            out.setpoints["pipe_temperature"] = pipe
            out.trace["pipe_setpoint"] = pipe
        for view in valves:
            if (d := self._valve(inp, view, table, pipe, why)) is not None:
                out.decisions[view.id] = d
        for view in boilers:
            out.decisions[view.id] = self._boiler(inp, view, table, pipe is not None, why)

    def _valve(self, inp: TickInput, view: ActuatorView, table: dict[str, Any], pipe: float | None,
               why: str) -> Decision | None:
        kp, ti = table.get("valve_kp", VALVE_KP), table.get("valve_ti_s", VALVE_TI_S)
        step = table.get("valve_step_pct", VALVE_STEP_PCT)
        now = _number(view.target)
        if now is None:
            now = _number(view.position)
        pid = self.pids.get(view.id)
        if pid is None:  # first tick, or after a restart: carry on from the last output, else from where it is
            pid = self.pids[view.id] = Pid(kp, kp / ti, 0.0, out_min=0.0, out_max=100.0)
            pid.bumpless(self.last.get(view.id, now if now is not None else 0.0))
        elif now is not None and view.id in self.sent and abs(now - self.sent[view.id]) > 1e-6:
            pid.bumpless(now)  # moved by someone else (override, failsafe): carry on from where it is
        pid.kp, pid.ki = kp, kp / ti  # a recipe change retunes without a bump (the integral is in output units)
        if pipe is None:
            pid.bumpless(0.0)
            self.last[view.id] = self.sent[view.id] = 0.0
            return Decision(0.0, "recipe", f"mixing valve closed: {why}")
        measured = inp.readings.get("pipe_temperature")
        if measured is None:
            return None  # no decision: the runtime holds the valve (its failsafe) and says the reading is bad
        raw = pid.update(measured, pipe, inp.now_s)
        self.last[view.id] = raw
        target = round(raw / step) * step
        held = now is not None and abs(raw - now) < step  # a deadband of one step around where it is
        if held:
            target = now
        self.sent[view.id] = target
        assert pid.debug is not None
        how = f"held at {now:g} % (moves in {step:g} % steps)" if held else f"to {target:g} %"
        return Decision(float(target), "recipe", f"mixing valve {how}: pipe {measured:.1f} °C for {pipe:.0f} °C, "
                        f"PID {pid.debug.reason}; {why}")

    def _boiler(self, inp: TickInput, view: ActuatorView, table: dict[str, Any], want: bool, why: str) -> Decision:
        min_on = table.get("boiler_min_on_min", BOILER_MIN_ON_MIN) * 60
        min_off = table.get("boiler_min_off_min", BOILER_MIN_OFF_MIN) * 60
        timer = self.timers.setdefault(view.id, MinOnOff(min_on, min_off))
        timer.min_on_s, timer.min_off_s = min_on, min_off
        limit = self.starts.setdefault(view.id, StartLimit(BOILER_MAX_STARTS_PER_HOUR))
        limit.max_starts = int(table.get("boiler_max_starts_per_hour", BOILER_MAX_STARTS_PER_HOUR))
        follow(timer, limit, view.target, inp.now_s)
        allowed = paced(timer, limit, want, inp.now_s)
        held = "" if allowed.on == want else f"; {allowed.reason}"
        return Decision(allowed.on, "recipe", f"boiler {'on' if allowed.on else 'off'}: "
                        f"{'the loop needs heat' if want else 'no heat needed'} ({why}){held}")

    def state(self) -> dict[str, Any]:
        return {"running": self.running, "valves": dict(self.last),
                "boilers": {k: [t.on, t.since_s, list(self.starts[k].starts) if k in self.starts else []]
                            for k, t in self.timers.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back `state()`: the valves' PIDs resume bumplessly from their last output; the boilers' minimum
        times and start limits go on counting (the recipe's values apply again on the next tick)."""
        self.running = bool(state.get("running", False))
        self.pids, self.sent, self.last = {}, {}, {k: float(v) for k, v in state.get("valves", {}).items()}
        self.timers, self.starts = {}, {}
        for k, (on, since, starts) in state.get("boilers", {}).items():
            self.timers[k] = MinOnOff(BOILER_MIN_ON_MIN * 60, BOILER_MIN_OFF_MIN * 60, on=bool(on), since_s=since)
            self.starts[k] = StartLimit(BOILER_MAX_STARTS_PER_HOUR, starts=starts)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
