"""Arbitration and actuation: safety > manual override > the controller's decision, interlocks, then the
KS X 3267 commands that changed — and the dead-man leases of what is on, renewed first thing in a tick.

A command that does not go out is forgotten by its driver, so the next tick sends it again; a failing node
is an event, never an exception out of the tick.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from farmcore.control.arbitration import Decision, Interlock, apply_interlocks, arbitrate
from farmcore.errors import FarmError
from farmcore.fieldbus.node import Reading
from farmcore.runtime.actuators import Command, RetractableDriver, SupplyDriver, SwitchDriver
from farmcore.runtime.reading import FieldReader
from farmcore.runtime.records import Recorder
from farmcore.runtime.safety import failsafe_target, safety_decision
from farmcore.runtime.state import StateStore
from farmcore.runtime.zone import Driver, ZoneRunner, keep_manual
from farmcore.site import ActuatorDef

log = logging.getLogger("farmcore.daemon")

INTERLOCKS: dict[str, tuple[Interlock, ...]] = {
    "greenhouse": (),
    "tank": (Interlock("chiller", "heater", "heating and cooling together waste both"),),
}
SWITCH_ON = frozenset({201})
SUPPLYING = frozenset({401, 402})


def plan(driver: Driver, target: Any, now_s: float, run_s: float | None, feedback: Reading | None) -> Command | None:
    """The command that brings an actuator to `target` (None: nothing to send); feedback that disagrees with
    what a switch was told counts towards its `failed` mark."""
    if target is None:
        return None
    if isinstance(driver, RetractableDriver):
        return driver.plan(float(target), now_s)
    on: bool | None = None
    if feedback is not None and feedback.status is not None:
        on = feedback.status in (SUPPLYING if isinstance(driver, SupplyDriver) else SWITCH_ON)
        if isinstance(driver, SupplyDriver) or driver.run_until is not None:
            on = None  # a supply or a timed run ends on its own: no mismatch to chase
    return driver.plan(bool(target), now_s, run_s=run_s, feedback_on=on)


def undo(driver: Driver) -> None:
    """A command that did not go out: forget it, so the next tick sends it again."""
    if isinstance(driver, RetractableDriver):
        driver.move, driver.position, driver.goal = None, None, None
    else:
        driver.commanded, driver.run_until = None, None


class Actuation:
    """Decides each actuator's final target and writes what changed to its node."""

    def __init__(self, reader: FieldReader, state: StateStore, recorder: Recorder) -> None:
        self.reader = reader
        self.state = state
        self.recorder = recorder

    async def send(self, runner: ZoneRunner, act: ActuatorDef, command: Command, decision: Decision) -> None:
        run = runner.run
        node = await self.reader.node(runner.zone.bus, act.unit)
        driver = run.drivers[act.id]
        what = f"{act.id}: {command.op}{f' {command.time_s} s' if command.time_s else ''}"
        if node is None:
            undo(driver)
            self.recorder.event(runner, "command_failed", f"{what}: node unreachable", throttle=True)
            return
        try:
            await node.command(act.slot, command.op, time_s=command.time_s, params=command.params, verify=False)
        except FarmError as exc:
            undo(driver)
            self.recorder.event(runner, "command_failed", f"{what}: {exc}", throttle=True)
            return
        except asyncio.CancelledError:
            undo(driver)  # it may not have gone out: the next tick sends it again
            raise
        saved = driver.state()
        if run.saved.get(act.id) != saved:  # a lease renewal changes nothing worth a write
            run.saved[act.id] = saved
            self.state.put(runner.zone.id, f"driver:{act.id}", saved)
        log.log(logging.DEBUG if command.renewal else logging.INFO,  # a lease renewal every tick is routine
                json.dumps({"zone": runner.zone.id, "actuator": act.id, "op": command.op, "time_s": command.time_s,
                            "source": decision.source, "reason": decision.reason, "why": command.why},
                           ensure_ascii=False))

    async def renew_leases(self, zones: Iterable[ZoneRunner], now_s: float) -> None:
        """Renew the dead-man leases of what is on, first thing in a tick: the reads that follow may wait on
        silent nodes for a long time, and a lease must not lapse meanwhile."""
        for runner in zones:
            run = runner.run
            for act in runner.zone.actuators:
                driver = run.drivers[act.id]
                if type(driver) is not SwitchDriver:
                    continue
                command = driver.renew(now_s)
                if command is not None:
                    decision = run.decisions.get(act.id) or Decision(True, "safety", "dead-man lease")
                    await self.send(runner, act, command, decision)

    async def apply_states(self, runner: ZoneRunner, which: str, now_s: float) -> None:
        """Every actuator to the state the site file gives it at `which` ("start" or "stop")."""
        index = 1 if which == "start" else 2
        for act in runner.zone.actuators:
            state = act.states()[index]
            driver = runner.run.drivers[act.id]
            target = failsafe_target(state, driver.kind, driver.target)
            if isinstance(driver, RetractableDriver) and state == "stop":
                command = driver.stop(now_s)
            else:
                command = plan(driver, target, now_s, None, None)
            decision = Decision(target, "safety", f"{which} state {state}")
            runner.run.decisions[act.id] = decision
            if command is not None:
                await self.send(runner, act, command, decision)

    def arbitrate(self, runner: ZoneRunner, now_s: float) -> dict[str, Decision]:
        """Safety (the controller's degraded mode where it has one) > override > the controller's last
        decisions (failsafe where it has none), then the kind's interlocks. Expired overrides end here."""
        z, run = runner.zone, runner.run
        bad = run.bad
        decisions: dict[str, Decision] = {}
        fallback_used: list[str] = []
        for act in z.actuators:
            driver = run.drivers[act.id]
            kind = runner.kinds[act.id]
            wanted = run.wanted.get(act.id)
            if wanted is None:
                failsafe = act.states()[0]
                wanted = Decision(failsafe_target(failsafe, kind, driver.target), "safety",
                                  f"failsafe {failsafe}: no decision from the {z.kind} controller"
                                  f"{' (' + '; '.join(bad) + ' bad)' if bad else ''}")
            safety = safety_decision(act, kind, bad, driver.target)
            if safety is not None and act.id in run.fallbacks:  # the controller's degraded mode, not plain off
                safety = run.fallbacks[act.id]
                fallback_used.append(safety.reason)
            override = run.overrides.get(act.id)
            if override is not None and now_s >= override.expires_at:
                self.recorder.event(runner, "override_ended", f"{act.id}: manual override ended")
                del run.overrides[act.id]
                keep_manual(self.state, runner)
                override = None
            decisions[act.id] = arbitrate(wanted, override, safety, now_s)
        run.fallback_used = fallback_used
        return apply_interlocks(decisions, INTERLOCKS.get(z.kind, ()))

    async def arbitrate_and_send(self, runner: ZoneRunner, now: datetime, *, feedback: bool = True) -> None:
        """Arbitrate, then send the commands that changed. Run by every tick and at once after an override or a
        release (the farmer sees the actuator move); `feedback=False` there: the feedback was read before the
        last write and would count as a mismatch."""
        run, now_s = runner.run, now.timestamp()
        decisions = self.arbitrate(runner, now_s)
        for act in runner.zone.actuators:
            decision = decisions[act.id]
            driver = run.drivers[act.id]
            seen = run.feedback.get(act.id) if feedback else None
            command = plan(driver, decision.target, now_s, run.run_s.get(act.id) if decision.source == "recipe"
                           else None, seen)
            run.decisions[act.id] = decision
            if command is not None:
                await self.send(runner, act, command, decision)
            self.recorder.log_decision(runner, act, decision, now)
