"""On/off and stepwise actuation: hysteresis, minimum on/off times, rate limits, setpoint ramps and staging.

Hysteresis and Staging hold no state: the caller passes the actuator's present state (its last target), so
an override or a failsafe that moved the actuator can never leave a stale copy here. MinOnOff and RateLimit
remember when they last moved, because time since the last change is exactly what they enforce. All
times are seconds on a monotonic clock passed in by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Switched:
    """An on/off target and why; `hold_until_s` is when a held-back change will be allowed."""

    on: bool
    reason: str
    hold_until_s: float | None = None


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """Two-threshold switch; reaching a threshold switches, between them the present state holds.

    Give `on_below`/`off_above` for an actuator that raises the value (heater, aerator), or
    `on_above`/`off_below` for one that lowers it (chiller, vent fan).
    """

    on_below: float | None = None
    off_above: float | None = None
    on_above: float | None = None
    off_below: float | None = None

    def __post_init__(self) -> None:
        raising = self.on_below is not None and self.off_above is not None
        lowering = self.on_above is not None and self.off_below is not None
        given = sum(x is not None for x in (self.on_below, self.off_above, self.on_above, self.off_below))
        if given != 2 or not (raising or lowering):
            raise ValueError("give either on_below and off_above, or on_above and off_below")
        if raising and not self.on_below < self.off_above:
            raise ValueError(f"on_below ({self.on_below}) must be below off_above ({self.off_above})")
        if lowering and not self.off_below < self.on_above:
            raise ValueError(f"off_below ({self.off_below}) must be below on_above ({self.on_above})")

    @classmethod
    def band(cls, setpoint: float, band: float, *, action: Literal["raise", "lower"]) -> Hysteresis:
        """A switch centred on `setpoint` with `band` between its thresholds."""
        if band <= 0:
            raise ValueError(f"band must be positive, got {band}")
        lo, hi = setpoint - band / 2, setpoint + band / 2
        return cls(on_below=lo, off_above=hi) if action == "raise" else cls(on_above=hi, off_below=lo)

    def decide(self, on: bool, value: float) -> Switched:
        """The state for `value`, given the actuator is now `on`."""
        if self.on_below is not None and self.off_above is not None:
            if value <= self.on_below:
                return Switched(True, f"{value:g} <= on_below {self.on_below:g}")
            if value >= self.off_above:
                return Switched(False, f"{value:g} >= off_above {self.off_above:g}")
            return Switched(on, f"{value:g} inside ({self.on_below:g}, {self.off_above:g}): hold {_onoff(on)}")
        assert self.on_above is not None and self.off_below is not None
        if value >= self.on_above:
            return Switched(True, f"{value:g} >= on_above {self.on_above:g}")
        if value <= self.off_below:
            return Switched(False, f"{value:g} <= off_below {self.off_below:g}")
        return Switched(on, f"{value:g} inside ({self.off_below:g}, {self.on_above:g}): hold {_onoff(on)}")


def _onoff(on: bool) -> str:
    return "on" if on else "off"


class MinOnOff:
    """Holds a requested change until the actuator has been in its present state long enough.

    Protects compressors, pumps and contactors from short cycling. `since_s=None` means the present state
    is old enough to change at once (stagger start-up elsewhere); `force=True` is for safety, which must
    never wait.
    """

    def __init__(self, min_on_s: float, min_off_s: float, *, on: bool = False, since_s: float | None = None) -> None:
        if min_on_s < 0 or min_off_s < 0:
            raise ValueError(f"minimum times must not be negative, got on={min_on_s} off={min_off_s}")
        self.min_on_s, self.min_off_s = min_on_s, min_off_s
        self.on, self.since_s = on, since_s

    def request(self, want: bool, now_s: float, *, force: bool = False) -> Switched:
        """The state allowed at `now_s` when `want` is asked for."""
        if want == self.on:
            return Switched(self.on, f"already {_onoff(self.on)}")
        if force:
            self.on, self.since_s = want, now_s
            return Switched(want, f"forced {_onoff(want)}, minimum time bypassed")
        minimum = self.min_on_s if self.on else self.min_off_s
        if self.since_s is not None and now_s - self.since_s < minimum:
            until = self.since_s + minimum
            return Switched(self.on, f"{_onoff(want)} held: {_onoff(self.on)} for {now_s - self.since_s:g} s "
                            f"of minimum {minimum:g} s", hold_until_s=until)
        self.on, self.since_s = want, now_s
        return Switched(want, f"switched {_onoff(want)}")


@dataclass(frozen=True, slots=True)
class Limited:
    """A value moved toward its target, and why it is not there yet if it is not."""

    value: float
    reason: str
    limited: bool


class RateLimit:
    """Moves a value toward a target by at most `max_per_s` per second (vent position, valve opening)."""

    def __init__(self, max_per_s: float, *, value: float | None = None, now_s: float | None = None) -> None:
        if max_per_s <= 0:
            raise ValueError(f"max_per_s must be positive, got {max_per_s}")
        self.max_per_s = max_per_s
        self.value, self._last_s = value, now_s

    def seed(self, value: float, now_s: float) -> None:
        """Start from where the actuator really is (after an override or a failsafe moved it)."""
        self.value, self._last_s = value, now_s

    def step(self, target: float, now_s: float) -> Limited:
        """The value at `now_s`; the first call without a seed goes straight to the target."""
        if not math.isfinite(target):
            raise ValueError(f"target must be finite, got {target}")
        if self.value is None or self._last_s is None:
            self.seed(target, now_s)
            return Limited(target, "first value: no rate to keep", False)
        dt = max(now_s - self._last_s, 0.0)  # a clock that went back moves nothing
        room = self.max_per_s * dt
        delta = target - self.value
        self._last_s = now_s
        if abs(delta) <= room:
            self.value = target
            return Limited(target, "at target", False)
        self.value += math.copysign(room, delta)
        return Limited(self.value, f"rate limited to {self.max_per_s:g}/s toward {target:g}", True)


@dataclass(frozen=True, slots=True)
class Ramp:
    """A setpoint moving linearly from `start` to `end` over `duration_s` from `start_s` (stage changes)."""

    start: float
    end: float
    start_s: float
    duration_s: float

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be positive, got {self.duration_s}")

    def at(self, now_s: float) -> Limited:
        """The setpoint at `now_s`; before the start it is `start`, after the end it is `end`."""
        if now_s <= self.start_s:
            return Limited(self.start, "ramp not started", False)
        share = (now_s - self.start_s) / self.duration_s
        if share >= 1:
            return Limited(self.end, "ramp done", False)
        value = self.start + (self.end - self.start) * share
        return Limited(value, f"ramping {self.start:g} -> {self.end:g}: {share:.0%}", True)


@dataclass(frozen=True, slots=True)
class Staged:
    """How many stages should run, and why."""

    stages: int
    reason: str


@dataclass(frozen=True, slots=True)
class Staging:
    """Staged equipment (aerators, fans, heater banks): stages on for a demand 0..1, with hysteresis.

    Stage k (1-based) comes on when demand reaches `levels[k-1]` and goes off when demand falls below
    `levels[k-1] - hysteresis`, so a demand hovering at a level does not toggle a stage.
    """

    levels: tuple[float, ...]
    hysteresis: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))  # a list from a recipe file stays immutable
        if not self.levels:
            raise ValueError("levels must not be empty")
        if any(b <= a for a, b in zip(self.levels, self.levels[1:], strict=False)):
            raise ValueError(f"levels must rise strictly, got {self.levels}")
        if self.levels[0] <= 0 or self.levels[-1] > 1:
            raise ValueError(f"levels must lie in (0, 1], got {self.levels}")
        if not 0 <= self.hysteresis < self.levels[0]:
            # otherwise zero demand could leave the first stage running
            raise ValueError(f"hysteresis must lie in [0, {self.levels[0]}), got {self.hysteresis}")

    @classmethod
    def even(cls, n: int, hysteresis: float = 0.05) -> Staging:
        """`n` stages, stage k coming on at demand (k - 0.5) / n (the rounded share of the stages)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        return cls(tuple((k - 0.5) / n for k in range(1, n + 1)), hysteresis)

    def decide(self, stages: int, demand: float) -> Staged:
        """The stages to run for `demand`, given `stages` run now."""
        demand = min(max(demand, 0.0), 1.0)
        reach = sum(demand >= level for level in self.levels)
        keep = sum(demand >= level - self.hysteresis for level in self.levels)
        if stages < reach:
            return Staged(reach, f"demand {demand:.2f} reached level {self.levels[reach - 1]:g}: {reach} stages")
        if stages > keep:
            return Staged(keep, f"demand {demand:.2f} fell below level {self.levels[keep]:g} - "
                          f"{self.hysteresis:g}: {keep} stages")
        return Staged(stages, f"demand {demand:.2f}: hold {stages} stages")
