"""A PID controller with the clock passed in, so the daemon, the twin and the tests run the same maths.

The integral is kept in output units (ki is applied as the error is integrated), so retuning ki does not
bump the output, and it is clamped to the output limits: after a long saturation the output comes off the
limit as soon as the error changes sign (anti-windup). The derivative acts on the measurement by default,
so a setpoint step gives no derivative kick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class PidDebug:
    """The terms behind the last output, for the decision trace."""

    error: float
    p: float
    i: float
    d: float
    output: float
    dt_s: float
    reason: str


def _clamp(value: float, lo: float, hi: float) -> float:
    return lo if value < lo else hi if value > hi else value


class Pid:
    """PID with output limits, integral clamping, optional sample time and bumpless manual-to-auto transfer."""

    def __init__(
        self,
        kp: float,
        ki: float,
        kd: float,
        *,
        out_min: float,
        out_max: float,
        sample_time_s: float | None = None,
        derivative_on_measurement: bool = True,
    ) -> None:
        if not out_min < out_max:
            raise ValueError(f"out_min ({out_min}) must be below out_max ({out_max})")
        if sample_time_s is not None and sample_time_s <= 0:
            raise ValueError(f"sample_time_s must be positive, got {sample_time_s}")
        self.kp, self.ki, self.kd = kp, ki, kd
        self.out_min, self.out_max = out_min, out_max
        self.sample_time_s = sample_time_s
        self.derivative_on_measurement = derivative_on_measurement
        self.reset()

    def reset(self) -> None:
        """Forget the integral and the history, as on a fresh start."""
        self._integral = 0.0
        self._seed: float | None = None
        self._last_time: float | None = None
        self._last_measurement: float | None = None
        self._last_error: float | None = None
        self.debug: PidDebug | None = None

    def bumpless(self, output: float) -> None:
        """Take over from manual at `output`: the next update returns it (within limits) instead of jumping.

        The integral is seeded on the next update, once its proportional term is known, and the history is
        cleared so no derivative or integration spans the manual period.
        """
        if not math.isfinite(output):
            raise ValueError(f"bumpless output must be finite, got {output}")
        self.reset()
        self._seed = _clamp(output, self.out_min, self.out_max)

    def update(self, measurement: float, setpoint: float, now_s: float) -> float:
        """The output for this measurement and setpoint at `now_s` (a monotonic clock, seconds)."""
        if not (math.isfinite(measurement) and math.isfinite(setpoint) and math.isfinite(now_s)):
            # A NaN would poison the integral for good; stale or missing data is the safety layer's call.
            raise ValueError(f"non-finite PID input: measurement={measurement} setpoint={setpoint} now_s={now_s}")
        if self._last_time is None:
            dt = 0.0
        else:
            dt = now_s - self._last_time
            if self.sample_time_s is not None and 0 <= dt < self.sample_time_s:
                # Too soon: repeat the last output rather than integrate over a sliver of time.
                held = f"held: {dt:g} s < sample time {self.sample_time_s:g} s"
                self.debug = replace(self.debug, dt_s=dt, reason=held)
                return self.debug.output
            dt = max(dt, 0.0)  # a clock that went back: no integration, no derivative, re-anchor below

        error = setpoint - measurement
        p = self.kp * error
        d = 0.0
        if dt > 0:
            if self.derivative_on_measurement:
                d = -self.kd * (measurement - self._last_measurement) / dt
            else:
                d = self.kd * (error - self._last_error) / dt
        if self._seed is not None:
            self._integral = self._seed - p
            self._seed = None
            how = "bumpless start"
        else:
            self._integral += self.ki * error * dt
            how = "auto"
        integral = _clamp(self._integral, self.out_min, self.out_max)
        if integral != self._integral:
            how += ", integral clamped"
        self._integral = integral

        raw = p + integral + d
        output = _clamp(raw, self.out_min, self.out_max)
        limit = "" if output == raw else f", at {'out_max' if output == self.out_max else 'out_min'}"
        reason = f"{how}: e={error:+.3g} p={p:+.3g} i={integral:+.3g} d={d:+.3g} -> {output:.3g}{limit}"
        self.debug = PidDebug(error, p, integral, d, output, dt, reason)
        self._last_time, self._last_measurement, self._last_error = now_s, measurement, error
        return output
