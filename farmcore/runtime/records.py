"""Recording: historian points (readings, setpoints, decisions with their reasons, events) and what goes out on
MQTT, in that order — nothing of a tick, job or command is published before what it handed the historian is
committed, so whatever a subscriber saw is in the history even if the daemon is killed a moment later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from farmcore.control.arbitration import Decision
from farmcore.historian.base import Historian, Point
from farmcore.link.client import SiteLink
from farmcore.link.messages import iso
from farmcore.link.payloads import EventMessage
from farmcore.runtime.clock import Clock
from farmcore.runtime.readings import sensor_points
from farmcore.runtime.zone import ZoneRunner
from farmcore.site import ActuatorDef

log = logging.getLogger("farmcore.daemon")

COMMIT_TIMEOUT_S = 5.0  # a historian slower than this to commit (a dying disk) does not hold MQTT back longer
COMMIT_RETRY_S = 0.2  # ... and once it has failed, this long until it commits in time again
SETPOINT_LOG_S = 300.0  # a setpoint is logged on change and at least this often
EVENTS_KEPT = 200  # recent events for the live view


class Recorder:
    """The historian and the publications that wait for it, and the site's events."""

    def __init__(self, site_id: str, clock: Clock, historian: Historian | None = None) -> None:
        self.site_id = site_id
        self.clock = clock
        self.historian = historian
        self.link: SiteLink | None = None
        self.events: list[dict[str, Any]] = []  # recent events, newest last (for the live view)
        self._throttle: dict[tuple[str, str, str], datetime] = {}  # repeated events: once a minute
        self._held: list[Callable[[], None]] = []  # publications waiting for the historian's commit
        self._holders = 0  # blocks handing points to the historian now (durable_first)
        self.commit_s: deque[float] = deque(maxlen=10000)  # wall time of each commit (tick or command)
        self.commit_failures = 0
        self._commit_failing = False

    # ------------------------------------------------------------------ durable first

    @contextlib.asynccontextmanager
    async def durable_first(self) -> AsyncIterator[None]:
        """Hold what the block publishes (states, alarm lists, events) until the historian has committed
        what the block handed it. Blocks may overlap (a job's zones interleave with a tick): what they hold
        goes out after the commit that follows the last of them."""
        self._holders += 1
        try:
            yield
        finally:
            self._holders -= 1
            if self._holders == 0:
                held, self._held = self._held, []
                try:
                    await self._commit()  # covers every point handed before it
                finally:
                    for publish in held:
                        self.publish(publish, now=True)

    def publish(self, publish: Callable[[], None], *, now: bool = False) -> None:
        """Publish now, or after the commit of the tick, job or command being handled. Never raises: a bug in
        publishing must not cost a tick or a command its audit."""
        if self._holders and not now:
            self._held.append(publish)
            return
        try:
            publish()
        except Exception:
            log.exception("publishing on MQTT failed")

    async def _commit(self) -> None:
        if self.historian is None:
            return
        started = time.monotonic()
        # a historian that failed to commit in time (a dying disk) is only glanced at until it recovers:
        # waiting COMMIT_TIMEOUT_S every tick and every command would slow control itself
        timeout = COMMIT_RETRY_S if self._commit_failing else COMMIT_TIMEOUT_S
        try:
            ok = await asyncio.to_thread(self.historian.commit, timeout)
        except Exception as exc:  # a failing disk must not stop the control loop nor MQTT
            ok = False
            log.warning("historian commit failed: %s", exc)
        self.commit_s.append(time.monotonic() - started)
        if not ok:
            self.commit_failures += 1
            if not self._commit_failing:
                self.event(None, "historian_slow", f"historian commit not done in {timeout:g} s: publishing "
                                                   "without waiting for it until it catches up")
        self._commit_failing = not ok

    # ------------------------------------------------------------------ points

    def write(self, points: list[Point]) -> None:
        if self.historian is None or not points:
            return
        try:
            self.historian.write(points)
        except Exception as exc:  # the historian is never worth a stopped greenhouse
            log.warning("historian write failed: %s", exc)

    def log_decision(self, runner: ZoneRunner, act: ActuatorDef, decision: Decision, now: datetime) -> None:
        """An actuator point when the decision's target or source changed."""
        run = runner.run
        key = (decision.target, decision.source)
        if run.last_logged.get(act.id) == key or self.historian is None:
            return
        run.last_logged[act.id] = key
        target = decision.target
        fields: dict[str, Any] = {"source": decision.source, "reason": decision.reason[:500]}
        if target is not None:
            fields["target"] = float(target)
        feedback = run.feedback.get(act.id)
        if feedback is not None and feedback.status is not None:
            fields["feedback"] = int(feedback.status)
        self.write([Point("actuator", self.site_id, runner.zone.id, act.id, now, fields,
                          tags={"role": act.role, "source": decision.source})])

    def write_points(self, runner: ZoneRunner, now: datetime) -> None:
        """A tick's readings, and each setpoint on change and at least every SETPOINT_LOG_S."""
        if self.historian is None:
            return
        run, zone = runner.run, runner.zone.id
        now_s = now.timestamp()
        points = sensor_points(self.site_id, zone, run.tracks, now, now_s)
        label = run.recipe.recipe.label if run.recipe else ""
        for q, value in run.setpoints.items():
            last = run.setpoint_logged.get(q)
            if last is None or last[0] != value or now_s - last[1] >= SETPOINT_LOG_S:
                run.setpoint_logged[q] = (value, now_s)
                source = "tenant" if q in run.tenant else "recipe"
                points.append(Point("setpoint", self.site_id, zone, q, now, {"value": value},
                                    tags={"source": source, "recipe": label}))
        self.write(points)

    # ------------------------------------------------------------------ events

    def event(self, runner: ZoneRunner | None, code: str, message: str, *, throttle: bool = False,
              detail: dict[str, Any] | None = None) -> None:
        """An event: to the log, the live view, the historian and the zone's MQTT `events` (throttled ones once
        a minute per code); `detail` (an alarm, a command's audit record) goes with it on MQTT."""
        now = self.clock.now()
        zone = runner.zone.id if runner is not None else "_site"
        if throttle:
            key = (zone, code, message)
            last = self._throttle.get(key)
            if last is not None and (now - last).total_seconds() < 60:
                return
            if len(self._throttle) > 1000:
                self._throttle.clear()
            self._throttle[key] = now
        record = {"time": now.isoformat(), "zone": zone, "code": code, "message": message}
        self.events.append(record)
        del self.events[:-EVENTS_KEPT]
        log.info(json.dumps({"event": code, "zone": zone, "message": message}, ensure_ascii=False))
        self.write([Point("event", self.site_id, zone, code, now, {"message": message, "code": code})])
        if self.link is not None and runner is not None:
            link = self.link.zones.get(zone)
            if link is not None:
                try:
                    event = EventMessage(time=iso(now), zone=zone, code=code, message=message, **(detail or {}))
                except TypeError:  # a detail the message has no field for: a bug, never worth the event
                    log.exception("event %s: detail %s not in EventMessage", code, sorted(detail or {}))
                    event = EventMessage(time=iso(now), zone=zone, code=code, message=message)
                self.publish(lambda: link.send_event(event))
