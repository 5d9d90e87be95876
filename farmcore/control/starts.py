"""A start limiter: at most N starts of an actuator in any sliding window (an hour by default).

Minimum on/off times alone still allow a burner or compressor to start every `min_on + min_off` seconds; makers
state a number of starts per hour instead, since each start wears the igniter, the contactor and the motor
more than an hour of running. The limiter remembers the start times inside the window, which is what it
enforces, and gives them back as plain numbers so they survive a restart.
"""

from __future__ import annotations

from collections.abc import Iterable

from farmcore.control.switching import MinOnOff, Switched


class StartLimit:
    """Allows a start while fewer than `max_starts` starts fall inside the last `window_s` seconds."""

    def __init__(self, max_starts: int, window_s: float = 3600.0, starts: Iterable[float] = ()) -> None:
        if max_starts < 1:
            raise ValueError(f"max_starts must be at least 1, got {max_starts}")
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.max_starts, self.window_s = max_starts, window_s
        self.starts: list[float] = sorted(float(s) for s in starts)

    def _forget(self, now_s: float) -> None:
        self.starts = [s for s in self.starts if now_s - self.window_s < s <= now_s]

    def check(self, now_s: float) -> tuple[bool, str]:
        """(a start is allowed now, why or why not); a clock that went back forgets the starts 'in the future'."""
        self._forget(now_s)
        count = len(self.starts)
        if count < self.max_starts:
            return True, f"{count} of {self.max_starts} starts in the last {self.window_s / 60:g} min"
        free_at = self.starts[0] + self.window_s
        return False, (f"start held: {count} starts in the last {self.window_s / 60:g} min (limit "
                       f"{self.max_starts}), next allowed in {free_at - now_s:.0f} s")

    def note(self, now_s: float) -> None:
        """Count a start made at `now_s`."""
        self._forget(now_s)
        self.starts.append(now_s)


def paced(timer: MinOnOff, limit: StartLimit, want: bool, now_s: float) -> Switched:
    """The state allowed at `now_s`: the minimum on/off times of `timer`, and a start only while `limit` has one
    free (a start that goes through is counted)."""
    if want and not timer.on:
        free, why = limit.check(now_s)
        if not free:
            return Switched(False, why)
    was_on = timer.on
    allowed = timer.request(want, now_s)
    if allowed.on and not was_on:
        limit.note(now_s)
    return allowed


def follow(timer: MinOnOff, limit: StartLimit, target: object, now_s: float) -> None:
    """Someone else (an override, a failsafe) switched the actuator to `target`: its minimum time counts from now
    and an ON is a start like any other (the burner wears the same)."""
    if isinstance(target, bool) and target != timer.on:
        timer.on, timer.since_s = target, now_s
        if target:
            limit.note(now_s)
