"""Commands applied to zones: a payload judged by the command desk (farmcore/link/commands.py), the action it
allows applied (a dispatch table by action kind), its audit point written, and an override or a release acted
on at once. Every payload gets exactly one ack; nothing here raises for any payload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from farmcore.control.arbitration import Override
from farmcore.errors import BadInput, FarmError
from farmcore.historian.base import Point
from farmcore.link.audit import audit_record
from farmcore.link.commands import MAX_LIFETIME, SKEW_S, Action, CommandDesk, ZoneContext
from farmcore.link.messages import Ack, ErrorCode, iso, readable_id_of
from farmcore.recipe.store import RecipeStore
from farmcore.runtime.actuation import Actuation
from farmcore.runtime.actuators import SupplyDriver, SwitchDriver
from farmcore.runtime.alarming import Alarms
from farmcore.runtime.clock import Clock
from farmcore.runtime.controller import Request
from farmcore.runtime.reading import judge_zone
from farmcore.runtime.records import Recorder
from farmcore.runtime.state import StateStore
from farmcore.runtime.zone import ZoneRecipe, ZoneRunner, keep_manual

log = logging.getLogger("farmcore.daemon")


class SeenIds:
    """Handled command ids in the state store, so a redelivery after a restart is still a duplicate."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    def get(self, command_id: str) -> dict[str, Any] | None:
        return self.state.get("_commands", command_id)

    def put(self, command_id: str, record: Any) -> None:
        self.state.put("_commands", command_id, dict(record))


class Commands:
    """Applies commands and requests to the daemon's zones."""

    def __init__(self, site_id: str, zones: Mapping[str, ZoneRunner], clock: Clock, command_clock: Clock,
                 state: StateStore, recorder: Recorder, actuation: Actuation, alarms: Alarms,
                 recipes: RecipeStore, recipe_switched: Callable[[datetime], None],
                 lock: asyncio.Lock, stopped: Callable[[], bool]) -> None:
        """`zones`: the daemon's zones (the same mapping, updated in place on reload); `recipes`: the
        recipes a zone may switch to; `recipe_switched(now)`: replan what depends on recipes;
        `lock`: held by a tick and a command alike (both move the same drivers); `stopped()`: the stop states
        went out (nothing may move any more)."""
        self.site_id = site_id
        self.zones = zones
        self.clock = clock
        self.command_clock = command_clock  # judges command expiry (the wall clock in a fast demo)
        self.state = state
        self.recorder = recorder
        self.actuation = actuation
        self.alarms = alarms
        self.recipes = recipes
        self.recipe_switched = recipe_switched
        self.lock = lock
        self.stopped = stopped
        self.desk = CommandDesk(seen_store=SeenIds(state))
        self._apply: dict[str, Callable[[ZoneRunner, Action, datetime], None]] = {
            "setpoint": self._setpoint, "release_setpoint": self._release_setpoint,
            "override": self._override, "release_override": self._release_override,
            "recipe": self._recipe, "feed_now": self._feed_now, "ack_alarm": self._ack_alarm,
        }

    def handle(self, zone_id: str, payload: bytes, account: str | None = None) -> Ack:
        """One command payload (from MQTT or a technician) -> exactly one ack; never raises for any payload.
        Accepted and rejected commands alike are recorded as audit events with who (the broker `account` that
        published it, from its topic, and the person it names), what, when, why and the outcome. The audit
        point is written before anything is published, and the id is used up only once the command has been
        applied and audited: a fault on the way never costs a retry its real answer."""
        now = self.clock.now()
        runner = self.zones.get(zone_id)
        if runner is None:
            return Ack(None, False, ErrorCode.UNKNOWN_TARGET, f"no zone {zone_id!r} in this daemon")
        run = runner.run
        envelope = run.recipe.recipe.envelope if run.recipe else {}
        ctx = ZoneContext.for_zone(runner.zone, runner.kinds, envelope, self.alarms.active_ids(runner),
                                   self.recipes.ids(runner.zone.kind),
                                   zone_now=now if self.command_clock is not self.clock else None,
                                   max_override_s=runner.config.max_override_s)
        judged_at = self.command_clock.now()
        outcome = self.desk.process(payload, judged_at, ctx, account=account, remember=False)
        ack = outcome.ack
        if outcome.action is not None:
            try:
                self._apply[outcome.action.kind](runner, outcome.action, now)
            except FarmError as exc:  # e.g. the recipe file went bad since the desk saw its id
                ack = Ack(ack.id, False, ErrorCode.INTERNAL_ERROR, f"accepted but not applied: {exc}")
        record = outcome.audit if ack is outcome.ack else audit_record(ack, outcome.command, now, account=account)
        self.recorder.write([Point("event", self.site_id, zone_id, "command_audit", now,
                                   {k: v for k, v in record.items() if isinstance(v, str | int | float | bool)})])
        self.desk.remember(ack, judged_at, zone=zone_id, account=account)
        code = "command_applied" if ack.ok else "command_rejected"
        self.recorder.event(runner, code, f"{record.get('who', '?')}: {record.get('kind', '?')} "
                            f"{record.get('target', '')} {record.get('value', '')} -> "
                            f"{'ok' if ack.ok else ack.error}: {ack.message}"[:300], detail={"command": record})
        return ack

    async def on_command(self, zone_id: str, payload: bytes, account: str | None = None) -> bytes:
        """A `cmd` message from the broker (`account`: the last level of its topic) -> its ack, after the Modbus
        write it caused (an override or a release acts at once, not at the next tick; safety still wins).
        Never raises: a fault is an `internal_error` ack, or an `ok` one saying the write is left to the next
        tick when the command was already accepted."""
        ack: Ack | None = None
        try:
            async with self.lock, self.recorder.durable_first():  # its audit committed before its ack goes out
                if self.stopped():
                    return Ack(readable_id_of(payload), False, ErrorCode.NOT_RUNNING,
                               "the daemon is stopping: not applied (send it again when the zone is online)").to_json()
                ack = self.handle(zone_id, payload, account)
                runner = self.zones.get(zone_id)
                applied = (ack.applied or {}) if ack.ok else {}
                if runner is not None and applied.get("kind") in ("override", "release") \
                        and runner.run.last_tick_s is not None:  # before the first tick, the first tick applies it
                    ack = await self.act_now(runner, ack, str(applied.get("target")))
                if applied.get("kind") == "ack_alarm":
                    for each in self.zones.values():  # a site alarm is listed in every zone
                        self.alarms.publish(each)
        except Exception as exc:  # never the daemon's end, never a command without its ack
            log.exception("command for zone %s failed", zone_id)
            if ack is not None and ack.ok:
                ack = replace(ack, message=f"{ack.message}; the actuator write failed ({type(exc).__name__}: "
                              f"{exc}) and is retried at the next tick"[:500])
            else:
                ack = Ack(None if ack is None else ack.id, False, ErrorCode.INTERNAL_ERROR,
                          f"internal error ({type(exc).__name__}: {exc})"[:500])
        return ack.to_json()

    async def act_now(self, runner: ZoneRunner, ack: Ack, target: str) -> Ack:
        """Arbitrate the zone again with fresh judgements of its readings and write what changed; the ack
        says when safety holds the actuator or the write did not go out."""
        now = self.clock.now()
        run = runner.run
        _readings, _weather, run.bad = judge_zone(runner, self.actuation.reader.weather, now.timestamp())
        await self.actuation.arbitrate_and_send(runner, now, feedback=False)
        decision = run.decisions.get(target)
        driver = run.drivers.get(target)
        notes = []
        if decision is not None and decision.source == "safety" and target in run.overrides:
            notes.append(f"held by safety for now: {decision.reason}")
        if target in run.overrides and isinstance(driver, SwitchDriver | SupplyDriver) and driver.commanded is None:
            notes.append("the write did not go out (node unreachable?); retried every tick")  # send() undid it
        return replace(ack, message=f"{ack.message}; {'; '.join(notes)}"[:500]) if notes else ack

    def prune(self) -> None:
        """Forget handled command ids older than any command can live: a redelivery of one is `expired`."""
        horizon = iso(self.command_clock.now() - MAX_LIFETIME - timedelta(seconds=2 * SKEW_S))
        old = [cid for cid, record in self.state.items("_commands")
               if not isinstance(record, dict) or str(record.get("at", "")) < horizon]
        self.state.delete("_commands", old)

    # ------------------------------------------------------------------ the actions

    def _setpoint(self, runner: ZoneRunner, action: Action, now: datetime) -> None:
        runner.run.tenant[action.target or ""] = float(action.value)  # type: ignore[arg-type]
        runner.run.setpoints_at = float("-inf")
        keep_manual(self.state, runner)

    def _release_setpoint(self, runner: ZoneRunner, action: Action, now: datetime) -> None:
        runner.run.tenant.pop(action.target or "", None)
        runner.run.setpoints_at = float("-inf")
        keep_manual(self.state, runner)

    def _override(self, runner: ZoneRunner, action: Action, now: datetime) -> None:
        self.set_override(runner.zone.id, action.target or "", action.value,  # type: ignore[arg-type]
                          action.duration_s or 0.0, action.reason, action.issued_by)

    def _release_override(self, runner: ZoneRunner, action: Action, now: datetime) -> None:
        runner.run.overrides.pop(action.target or "", None)
        keep_manual(self.state, runner)

    def _recipe(self, runner: ZoneRunner, action: Action, now: datetime) -> None:
        run = runner.run
        entry = self.recipes.get(runner.zone.kind, str(action.value))
        recipe = entry.recipe
        old = run.recipe.recipe.label if run.recipe else "none"
        run.recipe, run.switched_recipe = ZoneRecipe(recipe, entry.path, entry.stamp), str(action.value)
        keep_manual(self.state, runner)
        run.setpoints_at, run.day_cache = float("-inf"), None
        self.recorder.event(runner, "recipe_changed", f"recipe {old} -> {recipe.label} by {action.issued_by}")
        self.recipe_switched(now)

    def _feed_now(self, runner: ZoneRunner, action: Action, now: datetime) -> None:
        value = None if action.value is None else float(action.value)  # type: ignore[arg-type]
        self.request(runner.zone.id, Request("feed_now", value, action.issued_by))

    def _ack_alarm(self, runner: ZoneRunner, action: Action, now: datetime) -> None:
        target = action.target or ""
        book = runner.run.alarms if runner.run.alarms.get(target) is not None else self.alarms.site  # the spool's
        event, why = book.ack(target, action.issued_by, now.timestamp())
        if event is not None:
            self.recorder.event(runner, "alarm_acked", f"{target} acknowledged by {action.issued_by}")
        else:
            self.recorder.event(runner, "alarm_ack_refused", f"{target}: {why}")

    # ------------------------------------------------------------------ for technicians and jobs

    def request(self, zone_id: str, request: Request) -> None:
        """Queue a request for the zone's next tick (feed now, a sample weighing)."""
        runner = self.zones.get(zone_id)
        if runner is None:
            raise BadInput(f"no zone {zone_id!r} in this daemon")
        runner.run.requests.append(request)
        self.recorder.event(runner, "request", f"{request.kind}{'' if request.value is None else f' {request.value:g}'}"
                            f" by {request.by or 'unknown'}")

    def set_override(self, zone_id: str, actuator: str, target: bool | float, duration_s: float, reason: str,
                     issued_by: str = "") -> None:
        runner = self.zones[zone_id]
        if actuator not in runner.run.drivers:
            raise BadInput(f"zone {zone_id}: no actuator {actuator!r}")
        expires = self.clock.now().timestamp() + duration_s
        runner.run.overrides[actuator] = Override(target, expires, reason, issued_by)
        keep_manual(self.state, runner)
        self.recorder.event(runner, "override", f"{actuator}: manual {target!r} for {duration_s:g} s by "
                            f"{issued_by}: {reason}")
