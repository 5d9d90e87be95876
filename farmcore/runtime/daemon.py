"""The site daemon: one asyncio process runs every zone of a site, tick by tick, safely.

One tick: renew the dead-man leases of what is on, read every node the zones use (reading.py), then for each
zone compute its setpoints from its recipe (setpoints.py), judge its readings, ask its controller for
decisions, let safety and unexpired manual overrides win over the recipe and write the commands that changed
(actuation.py), record readings, setpoints, decisions and events (records.py) and feed its alarm book
(alarming.py). Then beat the watchdog. Commands (commanding.py), jobs (jobs.py) and reloads (reload.py) have
rooms of their own; this module holds the loop and the wiring. A failing node, command, historian or reload
never stops the loop: it becomes a quality, an event or a log line.

Controllers come from the caller (`controllers={"greenhouse": factory}`), so farmcore knows no crop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from farmcore.fieldbus.opid import OpidStore
from farmcore.gpio import Watchdog
from farmcore.historian.base import Historian
from farmcore.link.broker import ACCOUNT_PREFIX
from farmcore.link.brokerurl import BrokerUrl, parse_broker_url
from farmcore.link.client import SiteLink
from farmcore.link.messages import Ack
from farmcore.link.payloads import StateMessage
from farmcore.paths import default_state_dir
from farmcore.recipe.store import RecipeStore, file_stamp
from farmcore.runtime import jobs, reload
from farmcore.runtime.actuation import Actuation
from farmcore.runtime.actuators import RetractableDriver, SupplyDriver
from farmcore.runtime.alarming import Alarms, Seen
from farmcore.runtime.clock import Clock, WallClock
from farmcore.runtime.commanding import Commands
from farmcore.runtime.controller import ActuatorView, ControllerFactory, Request, TickInput
from farmcore.runtime.oxygenguard import OxygenGuards
from farmcore.runtime.reading import FieldReader, judge_zone, used_units
from farmcore.runtime.records import Recorder
from farmcore.runtime.scheduler import DAEMONS, Scheduler
from farmcore.runtime.setpoints import refresh_setpoints, strategy
from farmcore.runtime.state import StateStore
from farmcore.runtime.statemsg import state_message
from farmcore.runtime.zone import SETPOINT_REFRESH_S, ZoneRunner, build_runner
from farmcore.site import SiteFile, ZoneDef, load_site
from farmcore.sun import sun_times

log = logging.getLogger("farmcore.daemon")


STATE_SAVE_S = 60.0
OPID_BLOCK = 256  # OPIDs reserved per fsync: every lease renewal is a command (farmcore/fieldbus/opid.py)


class SiteDaemon:
    """Runs the zones of one site whose kind has a controller."""

    def __init__(self, site_path: str | Path, *, controllers: dict[str, ControllerFactory],
                 historian: Historian | None = None, clock: Clock | None = None,
                 state_dir: str | Path | None = None, bus_urls: dict[str, str] | None = None,
                 watchdog: Watchdog | None = None, mqtt: str | BrokerUrl | None = None,
                 link_options: dict[str, Any] | None = None, command_clock: Clock | None = None) -> None:
        """`mqtt`: the broker (URL or parsed); default the site's `[runtime] mqtt`, else $FARMCTL_MQTT, else none
        (the daemon runs alone: MQTT is for watching and steering, never needed to control)."""
        self.site_path = Path(site_path)
        self.site: SiteFile = load_site(self.site_path)
        self.site_stamp = file_stamp(self.site_path)
        self.controllers = controllers
        self.clock = clock or WallClock()
        rt = self.site.runtime
        self.state_dir = Path(state_dir or rt.state_dir or os.environ.get("FARMCTL_STATE_DIR")
                              or default_state_dir())
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.tz = ZoneInfo(self.site.site.timezone)
        self.bus_urls = {b.id: (bus_urls or {}).get(b.id, b.url) for b in self.site.buses}
        self.state = StateStore(self.state_dir / "runtime.sqlite")
        self.scheduler = Scheduler(self.site.site.id, self.state_dir, self.site.site.timezone, self.clock)
        self.watchdog = watchdog
        self.recipes = RecipeStore.for_site(self.site_path)
        self.recorder = Recorder(self.site.site.id, self.clock, historian)
        self.reader = FieldReader(self.site.nodes, self.bus_urls, OpidStore(self.state_dir / "opid", block=OPID_BLOCK),
                                  self.recorder.event)
        self.reader.outside.restore(self.state.get("_site", "outside"))
        self.actuation = Actuation(self.reader, self.state, self.recorder)
        self.alarms = Alarms(self.recorder)
        self.zones: dict[str, ZoneRunner] = {}  # one mapping for the daemon's life: a reload updates it in place
        self.guards = OxygenGuards(self.recorder.event)
        mqtt = mqtt or rt.mqtt or os.environ.get("FARMCTL_MQTT") or None
        self.broker: BrokerUrl | None = parse_broker_url(mqtt) if isinstance(mqtt, str) else mqtt
        self._lock = asyncio.Lock()  # one tick or one command at a time: both move the same drivers
        self._stopped = False  # the stop states went out
        self.commands = Commands(self.site.site.id, self.zones, self.clock, command_clock or self.clock, self.state,
                                 self.recorder, self.actuation, self.alarms, self.recipes, self.plan_meals,
                                 self._lock, lambda: self._stopped)
        self.link_options = link_options or {}  # ZoneLink options (backoff, queue_max) for tests and benchmarks
        self.before_stop: list[Callable[[], None]] = []  # e.g. the live view's last screen, before the stop states
        self._tick_started = time.monotonic()
        self.ticks = 0
        self.lateness_s: list[float] = []
        self._sun: dict[date, tuple[datetime, datetime]] = {}
        self._last_reload = float("-inf")
        self._last_save = float("-inf")
        self._stopping = asyncio.Event()
        for zone in self.site.zones:
            if zone.kind in controllers:
                self.zones[zone.id] = self._make_runner(zone)

    # ------------------------------------------------------------------ what others read

    @property
    def historian(self) -> Historian | None:
        return self.recorder.historian

    @historian.setter
    def historian(self, historian: Historian | None) -> None:
        self.recorder.historian = historian

    @property
    def link(self) -> SiteLink | None:
        return self.recorder.link

    @link.setter
    def link(self, link: SiteLink | None) -> None:
        self.recorder.link = link

    @property
    def command_clock(self) -> Clock:
        """Judges command expiry (the wall clock in a fast demo)."""
        return self.commands.command_clock

    @command_clock.setter
    def command_clock(self, clock: Clock) -> None:
        self.commands.command_clock = clock

    @property
    def events(self) -> list[dict[str, Any]]:
        """Recent events, newest last (the live view)."""
        return self.recorder.events

    @property
    def weather(self) -> dict[str, Any]:
        return self.reader.weather

    @property
    def site_alarms(self) -> Any:
        return self.alarms.site

    def event(self, runner: ZoneRunner | None, code: str, message: str, *, throttle: bool = False,
              detail: dict[str, Any] | None = None) -> None:
        self.recorder.event(runner, code, message, throttle=throttle, detail=detail)

    def state_message(self, runner: ZoneRunner, now: datetime) -> StateMessage:
        """The zone's retained state as it would be published now (farmcore/runtime/statemsg.py)."""
        return state_message(runner, self.site.site.id, self.reader.weather, now)

    # ------------------------------------------------------------------ set-up

    def _make_runner(self, zone: ZoneDef) -> ZoneRunner:
        return build_runner(self.site, self.site_path, zone, self.controllers[zone.kind](zone), self.state,
                            self.recipes, (len(self.zones) * 7.31) % SETPOINT_REFRESH_S,
                            self.clock.now().timestamp())

    async def start(self) -> None:
        """Open buses, register for jobs, put every actuator in its start state."""
        self.reader.open({b for b, _u in used_units(self.site, self.zones.values())})
        DAEMONS[self.site.site.id] = self
        if self.historian is not None:
            self.historian.on_alarm = self.alarms.spool_alarm
        self.commands.prune()
        self.guards.start(self.zones, self.site, self.clock.now(), self.tz)
        self.scheduler.start(self.site.runtime.recipe_check_s)
        self.plan_meals(self.clock.now())
        self.event(None, "daemon_started", f"daemon started: zones {', '.join(sorted(self.zones)) or 'none'}")
        async with self._lock:
            await self._read_all()
            for runner in self.zones.values():
                await self.actuation.apply_states(runner, "start", self.clock.now().timestamp())
        if self.broker is not None:  # after the start states: a command queued while down acts on a running zone
            sid = self.site.site.id
            self.recorder.link = SiteLink(
                self.broker, sid, {z: f"{ACCOUNT_PREFIX[r.zone.kind]}-{sid}-{z}" for z, r in self.zones.items()},
                on_command=self.on_command,
                **{"state_min_interval_s": self.site.runtime.state_interval_s, **self.link_options})
            for runner in self.zones.values():
                self.alarms.publish(runner)
            self.recorder.link.start()

    async def stop(self) -> None:
        """Stop states, watchdog low, state saved, buses and job store closed. Commands that arrive from
        here on are answered `not_running` and not applied: nothing moves after the stop states."""
        async with self._lock, self.recorder.durable_first():
            self._stopped = True
            for runner in self.zones.values():
                with contextlib.suppress(Exception):
                    await self.actuation.apply_states(runner, "stop", self.clock.now().timestamp())
            self._save_state(force=True)
        if self.link is not None:
            await self.link.stop()  # pending events, then `offline` on every zone (bounded wait)
        self.guards.stop(self.zones)
        self.scheduler.shutdown()
        if self.watchdog is not None:
            self.watchdog.close()  # pin low, then released
        self.event(None, "daemon_stopped", "daemon stopped")
        if self.historian is not None:
            self.historian.flush(timeout=5)
        await self.reader.close()
        DAEMONS.pop(self.site.site.id, None)
        self.state.close()

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Tick until `request_stop`; each tick starts on the tick grid, lateness measured."""
        tick_s = self.site.runtime.tick_s
        loop = asyncio.get_running_loop()
        try:
            await self.start()  # inside: a start that fails halfway still releases what it opened
            next_at = loop.time()
            while not self._stopping.is_set():
                self.lateness_s.append(max(0.0, loop.time() - next_at))
                if len(self.lateness_s) > 10000:
                    del self.lateness_s[:5000]
                await self.tick()
                next_at += tick_s / self.clock.speed
                wait = next_at - loop.time()
                if wait < 0:  # overran: skip the missed slots rather than bunch ticks up
                    next_at = loop.time()
                    wait = 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait)
        finally:
            for hook in self.before_stop:
                try:
                    hook()  # the zones as they ran, before the stop states
                except Exception:  # a display bug must never cost the stop states
                    log.exception("before-stop hook failed")
            await self.stop()

    def request_stop(self) -> None:
        self._stopping.set()

    async def tick(self) -> None:
        """One read-decide-write round of every zone (tests call it directly, lockstep with the twin).
        Nothing of the tick is published on MQTT before what it handed to the historian is committed."""
        async with self._lock, self.recorder.durable_first():
            self._tick_started = time.monotonic()
            now = self.clock.now()
            self.scheduler.wakeup()
            await self.actuation.renew_leases(self.zones.values(), now.timestamp())  # before silent nodes' reads
            await self._read_all()
            local = now.astimezone(self.tz)
            sun = self.sun_for(local.date())
            outside = self.reader.outside
            held = outside.held_ages(now.timestamp()), outside.lows(now.timestamp())  # once a tick
            for runner in list(self.zones.values()):
                try:
                    await self._tick_zone(runner, now, local, sun, held)
                except Exception as exc:  # a bug in one zone's strategy must not stop the others
                    log.exception("zone %s tick failed", runner.zone.id)
                    self.event(runner, "tick_failed", f"tick failed: {type(exc).__name__}: {exc}")
            self.alarms.observe_site(self.zones.values(), now.timestamp())
            self.guards.feed(self.zones, now.timestamp(), self.site.runtime.tick_s)
            self._save_state()
            self._maybe_reload()
        if self.watchdog is not None:
            self.watchdog.beat()
        self.ticks += 1

    async def _read_all(self) -> None:
        await self.reader.read_all(self.site, self.zones.values(), lambda: self.clock.now().timestamp())

    async def _tick_zone(self, runner: ZoneRunner, now: datetime, local: datetime, sun: tuple[datetime, datetime],
                         outside: tuple[dict[str, tuple[float, float]], dict[str, float]]) -> None:
        z, run = runner.zone, runner.run
        now_s = now.timestamp()
        refresh_setpoints(runner, now, self.site.site, self.tz, self.event)
        readings, weather, bad = judge_zone(runner, self.reader.weather, now_s)
        tables = strategy(runner, now, local, self.tz)
        views = {}
        for act in z.actuators:
            driver = run.drivers[act.id]
            position = driver.estimate(now_s) if isinstance(driver, RetractableDriver) else None
            views[act.id] = ActuatorView(act.id, act.role, runner.kinds[act.id], driver.target, position,  # type: ignore[arg-type]
                                         act.facing, driver.failed, act.feed_kg_per_min)
        dt = 0.0 if run.last_tick_s is None else now_s - run.last_tick_s
        run.last_tick_s = now_s
        requests, run.requests = tuple(run.requests), []
        inp = TickInput(now_s, now, local, dt, readings, bad, weather, dict(run.setpoints), tables, sun,
                        views, run.stage, requests, *outside, z)
        out = run.controller.tick(inp)
        run.trace, run.bad, run.readings = out.trace, bad, readings
        run.fallbacks, run.fallback_mode, run.fallback_note = out.fallbacks, out.fallback_mode, out.fallback_note
        run.stops = out.stops
        run.wanted, run.run_s = out.decisions, out.run_s
        run.in_force = out.setpoints
        for act_id, driver in run.drivers.items():
            if isinstance(driver, SupplyDriver):
                driver.params = out.params.get(act_id) or driver.params
        for message in out.events:
            self.event(runner, "strategy", message)
        await self.actuation.arbitrate_and_send(runner, now)
        self.recorder.write_points(runner, now)
        self.alarms.observe(runner, Seen(bad, self.reader.unit_ok, self.guards.backups.get(z.id)), now_s)
        link = self.link.zones.get(z.id) if self.link is not None else None
        if link is not None:
            at = self._tick_started
            self.recorder.publish(lambda: link.offer_state(lambda: self.state_message(runner, now), at))

    # ------------------------------------------------------------------ time, state, jobs, reloads

    def sun_for(self, day: date) -> tuple[datetime, datetime]:
        """Sunrise and sunset at the site (a polar day or night counts as all day), today's and tomorrow's kept."""
        if day not in self._sun:
            if len(self._sun) > 2:
                self._sun.clear()
            try:
                self._sun[day] = sun_times(self.site.site.latitude, self.site.site.longitude, day, self.tz)
            except ValueError:
                start = datetime.combine(day, datetime.min.time(), tzinfo=self.tz)
                self._sun[day] = start, start + timedelta(days=1)
        return self._sun[day]

    def _save_state(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_save < STATE_SAVE_S / self.clock.speed:
            return
        self._last_save = now
        for runner in self.zones.values():
            run = runner.run
            items: dict[str, Any] = {"controller": run.controller.state(), "alarms": run.alarms.state(),
                                     "stuck": {k: w.state() for k, w in run.stuck.items()}}
            for act_id, driver in run.drivers.items():
                items[f"driver:{act_id}"] = driver.state()
            self.state.put_many(runner.zone.id, items)
        self.state.put("_site", "outside", self.reader.outside.state())

    async def run_job(self, kind: str, zone: str | None = None, at: str | None = None) -> None:
        """A scheduled job (farmcore/runtime/jobs.py); what it records is committed before its events are
        published, as a tick's."""
        async with self.recorder.durable_first():
            await jobs.run_job(self, kind, zone, at, self.commands.prune)

    def plan_meals(self, now: datetime) -> None:
        jobs.plan_meals(self, now)

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._last_reload < self.site.runtime.reload_check_s / self.clock.speed:
            return
        self._last_reload = now
        self.check_reload()

    def check_reload(self) -> None:
        """Reload a changed site file or recipe; a bad one is rejected with an event and the old one runs on."""
        reload.check_reload(self, lambda: self.plan_meals(self.clock.now()))

    # ------------------------------------------------------------------ commands

    def handle_command(self, zone_id: str, payload: bytes, account: str | None = None) -> Ack:
        """One command payload -> exactly one ack (farmcore/runtime/commanding.py)."""
        return self.commands.handle(zone_id, payload, account)

    async def on_command(self, zone_id: str, payload: bytes, account: str | None = None) -> bytes:
        """A `cmd` message from the broker -> its ack (farmcore/runtime/commanding.py)."""
        return await self.commands.on_command(zone_id, payload, account)

    def request(self, zone_id: str, request: Request) -> None:
        """Queue a request for the zone's next tick (feed now, a sample weighing)."""
        self.commands.request(zone_id, request)

    def set_override(self, zone_id: str, actuator: str, target: bool | float, duration_s: float, reason: str,
                     issued_by: str = "") -> None:
        self.commands.set_override(zone_id, actuator, target, duration_s, reason, issued_by)
