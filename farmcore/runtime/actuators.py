"""From a wanted target to the KS X 3267 command that gets it, per actuator (pure: the clock is passed in).

- A switch is sent `on`/`off` when the wish changes or its feedback disagrees. A timed run (an
  irrigation dose, or any run of an actuator with `max_on_s`) goes out as `timed-on`, so the node itself
  stops it even if the daemon dies mid-run; after a timed run ends it is not restarted until the wish has
  been off once (a pump never runs longer than `max_on_s` in one go). A switch on a dead-man lease (heaters,
  CO2 valves, pumps by default) gets even its plain ON as a short `timed-on` renewed every tick, so it falls
  back to off by itself within the lease when the daemon is gone (kill -9, a hang, a dead box).
- A level-1 retractable (vents, screens) has no position register: its position is reckoned from the run
  times sent (`travel_s` for full travel) and kept in the state store across restarts. A move to 0 % or
  100 % overruns by 10 % of the travel to re-home against the end stop; an unknown position is homed to
  the nearer end first. Moves shorter than one second or `DEADBAND_PCT` are not made.
- A KS X 3288 nutrient supply gets `nutrient` (EC and pH targets) or `timed-on` (plain water) for a run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

DEADBAND_PCT = 2.0  # smaller moves are not worth a motor start [engineering choice]
HOMING_OVERRUN = 0.10  # of the travel, run past an end to be sure it is reached
MISMATCH_RESEND = 3  # feedback disagreeing this many reads in a row: resend, then report the actuator


@dataclass(frozen=True, slots=True)
class Command:
    op: str  # farmcore.fieldbus.node.OPERATIONS names: on, off, timed-on, timed-open, timed-close, stop, nutrient
    time_s: int | None = None
    params: dict[str, float] | None = None
    why: str = ""
    renewal: bool = False  # a dead-man lease sent again: routine, nothing changed


class SwitchDriver:
    """On/off with feedback check and self-terminating timed runs.

    With a dead-man lease (`lease_s`, renewed every `renew_s`, a tick), ON goes out as a timed run of
    `lease_s` sent again every tick: the node switches the actuator off by itself within `lease_s` of the
    daemon's last tick, whatever killed it. A timed run (a dose) is leased the same way up to its end."""

    kind = "switch"

    def __init__(self, max_on_s: float | None = None, *, lease_s: float | None = None, renew_s: float = 10.0) -> None:
        self.max_on_s = max_on_s
        self.lease_s, self.renew_s = lease_s, renew_s
        self.commanded: bool | None = None
        self.run_until: float | None = None  # end of a timed run (clock seconds)
        self.renew_at: float | None = None  # when a leased ON is sent again
        self.spent = False  # a timed run ended while the wish stayed on
        self.mismatches = 0
        self.failed = False

    @property
    def target(self) -> bool | None:
        return self.commanded

    def plan(self, want: bool | None, now_s: float, *, run_s: float | None = None,
             feedback_on: bool | None = None) -> Command | None:
        if want is None:  # hold
            return None
        if self.run_until is not None and now_s >= self.run_until:
            self.run_until = self.renew_at = None
            if self.commanded:
                self.commanded, self.spent = False, True  # the node ended the run by itself
        if not want:
            self.spent = False
        elif self.spent:
            return None
        if want != self.commanded:
            return self._switch(want, now_s, run_s)
        resend = self._count_feedback(want, feedback_on)
        if want and (renewal := self.renew(now_s)) is not None:  # a renewal is a resend as well
            return renewal
        if resend:
            count = self.mismatches
            command = self._switch(want, now_s, run_s, why=f"feedback {'on' if feedback_on else 'off'} "
                                                         f"{count} reads in a row: resend")
            self.mismatches = count  # a resend is not a change of wish: keep counting toward `failed`
            return command
        return None

    def renew(self, now_s: float) -> Command | None:
        """The lease renewal of an ON switch when it is due (the daemon sends these first in a tick), else None."""
        if self.commanded and self.renew_at is not None and now_s >= self.renew_at:
            if self.run_until is not None and now_s >= self.run_until:
                return None  # a timed run that ended: plan() settles it
            return replace(self._on(now_s, "dead-man lease renewed"), renewal=True)
        return None

    def _count_feedback(self, want: bool, feedback_on: bool | None) -> bool:
        """Count reads whose feedback disagrees with the wish (`failed` after two resends); True when a resend
        is due."""
        if feedback_on is None or feedback_on == want:
            self.mismatches, self.failed = 0, False
            return False
        self.mismatches += 1
        if self.mismatches % MISMATCH_RESEND:
            return False
        self.failed = self.mismatches >= 2 * MISMATCH_RESEND
        return True

    def _switch(self, want: bool, now_s: float, run_s: float | None, why: str = "") -> Command:
        self.commanded, self.mismatches = want, 0
        if not want:
            self.run_until = self.renew_at = None
            return Command("off", why=why)
        limit = run_s if run_s is not None else self.max_on_s
        if self.max_on_s is not None and limit is not None:
            limit = min(limit, self.max_on_s)
        self.run_until = None if limit is None else now_s + max(1, round(limit))
        return self._on(now_s, why)

    def _on(self, now_s: float, why: str) -> Command:
        """ON: without a lease plain `on` (or the timed run); with one, a timed run of the lease (or what is
        left of the timed run, if less), sent again next tick."""
        if self.lease_s is None:
            self.renew_at = None
            if self.run_until is None:
                return Command("on", why=why)
            return Command("timed-on", time_s=max(1, round(self.run_until - now_s)), why=why)
        seconds = self.lease_s if self.run_until is None else min(self.lease_s, self.run_until - now_s)
        self.renew_at = now_s + 0.5 * self.renew_s  # every tick: a tick early or late still renews in time
        return Command("timed-on", time_s=max(1, round(seconds)), why=why)

    def state(self) -> dict[str, Any]:
        return {"commanded": self.commanded, "run_until": self.run_until}

    def restore(self, state: dict[str, Any]) -> None:
        self.run_until = state.get("run_until")
        commanded = state.get("commanded")
        self.commanded = commanded if isinstance(commanded, bool) else None
        self.renew_at = None if self.lease_s is None or not self.commanded else float("-inf")  # renew at once


class SupplyDriver(SwitchDriver):
    """A KS X 3288 nutrient supply: a run carries the EC/pH targets when known."""

    kind = "nutrient"

    def __init__(self, max_on_s: float | None = None) -> None:
        super().__init__(max_on_s or 600.0)
        self.params: dict[str, float] | None = None

    def _switch(self, want: bool, now_s: float, run_s: float | None, why: str = "") -> Command:
        command = super()._switch(want, now_s, run_s, why)
        if command.op == "timed-on" and self.params and {"EC", "pH"} <= self.params.keys():
            return Command("nutrient", command.time_s, {"EC": self.params["EC"], "pH": self.params["pH"]}, why)
        if command.op == "off":
            return Command("stop", why=why)
        return command


@dataclass
class Move:
    start_pos: float
    end_pos: float
    start_s: float
    end_s: float


class RetractableDriver:
    """Position by dead reckoning over timed open/close runs."""

    kind = "retractable"

    def __init__(self, travel_s: float) -> None:
        self.travel_s = travel_s
        self.position: float | None = None  # known position when not moving
        self.move: Move | None = None
        self.goal: float | None = None  # what was last asked for
        self.failed = False

    @property
    def target(self) -> float | None:
        return self.goal

    def estimate(self, now_s: float) -> float | None:
        """Where it is now (during a move, by linear travel)."""
        if self.move is None:
            return self.position
        m = self.move
        if now_s >= m.end_s:
            return m.end_pos
        share = (now_s - m.start_s) / (m.end_s - m.start_s) if m.end_s > m.start_s else 1.0
        return m.start_pos + (m.end_pos - m.start_pos) * max(0.0, share)

    def _settle(self, now_s: float) -> None:
        if self.move is not None and now_s >= self.move.end_s:
            self.position, self.move = self.move.end_pos, None

    def plan(self, want: float | None, now_s: float) -> Command | None:
        self._settle(now_s)
        if want is None:  # hold
            return None
        want = min(100.0, max(0.0, float(want)))
        here = self.estimate(now_s)
        if here is None:  # unknown: home to the nearer end of the wish
            end = 0.0 if want <= 50 else 100.0
            return self._run(100.0 if end == 0 else 0.0, end, now_s, homing=True,
                             why=f"position unknown: homing {'closed' if end == 0 else 'open'}")
        if self.move is not None and abs(self.move.end_pos - want) < DEADBAND_PCT:
            return None  # already on its way
        at_end = want in (0.0, 100.0)
        if abs(want - here) < DEADBAND_PCT and not (at_end and here != want):
            if self.move is not None:  # close enough: stop here
                self.position, self.move = here, None
                self.goal = here
                return Command("stop", why=f"at {here:.0f} %")
            return None
        return self._run(here, want, now_s, homing=at_end)

    def _run(self, here: float, end: float, now_s: float, *, homing: bool, why: str = "") -> Command | None:
        seconds = abs(end - here) / 100.0 * self.travel_s + (HOMING_OVERRUN * self.travel_s if homing else 0.0)
        whole = round(seconds)
        if whole < 1:
            return None
        # what the whole seconds actually sent will do (a run rounded up goes a little further)
        reached = end if homing else min(100.0, max(0.0, here + (end - here) * whole / max(seconds, 1e-9)))
        self.move, self.goal = Move(here, reached, now_s, now_s + whole), end
        self.position = None
        op = "timed-open" if end > here else "timed-close"
        return Command(op, time_s=whole, why=why or f"{here:.0f} % -> {reached:.0f} %")

    def stop(self, now_s: float) -> Command | None:
        """Halt where it is (a failsafe 'stop')."""
        self._settle(now_s)
        if self.move is None:
            return None
        self.position, self.move = self.estimate(now_s), None
        return Command("stop", why="failsafe stop")

    def state(self) -> dict[str, Any]:
        m = self.move
        return {"position": self.position, "goal": self.goal,
                "move": None if m is None else [m.start_pos, m.end_pos, m.start_s, m.end_s]}

    def restore(self, state: dict[str, Any], now_s: float) -> None:
        """A move that had ended by now leaves the actuator at its end; one cut short leaves it unknown."""
        self.goal = state.get("goal")
        move = state.get("move")
        if move:
            self.position = move[1] if now_s >= move[3] else None
        else:
            position = state.get("position")
            self.position = float(position) if isinstance(position, int | float) else None
        self.move = None
