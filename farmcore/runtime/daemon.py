"""The site daemon: one asyncio process runs every zone of a site, tick by tick, safely.

One tick: read every node the zones use (buses in parallel, each bus one request at a time), fold the
readings into per-quantity tracks (good / stale / bad), compute each zone's setpoints from its recipe,
ask the zone's controller for decisions, let safety (stale or bad inputs -> failsafe, no decision ->
failsafe, hard limits, interlocks) and unexpired manual overrides win over the recipe, turn the final
targets into KS X 3267 commands, and write readings, setpoints, decisions with their reasons and events
to the historian. Then beat the watchdog. A failing node, command, historian or reload never stops the
loop: it becomes a quality, an event or a log line.

Controllers come from the caller (`controllers={"greenhouse": factory}`), so farmcore knows no crop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from farmcore.alarms import AlarmBook, AlarmEvent, AlarmKind, LimitRule, site_rules, standard_rules
from farmcore.control.arbitration import Decision, Interlock, Override, apply_interlocks, arbitrate
from farmcore.errors import BadInput, FarmError
from farmcore.fieldbus.bus import Bus
from farmcore.fieldbus.fasttcp import FastTcpBus, open_fast_bus
from farmcore.fieldbus.node import KsNode, Reading
from farmcore.fieldbus.opid import OpidStore, default_state_dir
from farmcore.fieldbus.profile import builtin_profiles
from farmcore.fieldbus.vendor import VendorNode
from farmcore.gpio import Watchdog
from farmcore.historian.base import Historian, Point
from farmcore.link.audit import audit_record
from farmcore.link.broker import ACCOUNT_PREFIX
from farmcore.link.brokerurl import BrokerUrl, parse_broker_url
from farmcore.link.client import SiteLink
from farmcore.link.commands import MAX_LIFETIME, SKEW_S, Action, CommandDesk, ZoneContext
from farmcore.link.messages import Ack, ErrorCode, iso, readable_id_of
from farmcore.recipe import zonerecipe
from farmcore.recipe.load import load_recipe
from farmcore.recipe.schema import Recipe
from farmcore.recipe.timeline import parse_start, setpoints_at, stage_at
from farmcore.runtime.actuators import Command, RetractableDriver, SupplyDriver, SwitchDriver
from farmcore.runtime.backup import CRITICAL_MG_L, BackupRule, OxygenBackup
from farmcore.runtime.clock import Clock, WallClock
from farmcore.runtime.controller import ActuatorView, Request, TickInput, ZoneController
from farmcore.runtime.manual import manual_state, restored_overrides, restored_recipe, restored_tenant
from farmcore.runtime.outside import OutsideMemory
from farmcore.runtime.plausibility import StuckWatch, flatness_for, node_measuring
from farmcore.runtime.readings import DISAGREE, combine, combined_quantities, reading_entries, sensor_points
from farmcore.runtime.safety import IDLE, Tracked, failsafe_target, judge, observe, safety_decision
from farmcore.runtime.scheduler import DAEMONS, Scheduler, interval_slot
from farmcore.runtime.state import StateStore
from farmcore.site import ActuatorDef, SiteFile, ZoneDef, actuator_kind, load_site
from farmcore.twin.weather import sun_times

log = logging.getLogger("farmcore.daemon")

ControllerFactory = Callable[[ZoneDef], ZoneController]
Driver = SwitchDriver | SupplyDriver | RetractableDriver

RECIPES_DIR = zonerecipe.RECIPES_DIR
SETPOINT_REFRESH_S = 30.0  # recipe ramps last minutes; recomputing more often buys nothing
STATE_SAVE_S = 60.0
OPID_BLOCK = 256  # OPIDs reserved per fsync: every lease renewal is a command (farmcore/fieldbus/opid.py)
COMMIT_TIMEOUT_S = 5.0  # a historian slower than this to commit (a dying disk) does not hold MQTT back longer
COMMIT_RETRY_S = 0.2  # ... and once it has failed, this long until it commits in time again
SETPOINT_LOG_S = 300.0  # a setpoint is logged on change and at least this often
INTERLOCKS: dict[str, tuple[Interlock, ...]] = {
    "greenhouse": (),
    "tank": (Interlock("chiller", "heater", "heating and cooling together waste both"),),
}
SWITCH_ON = frozenset({201})
SUPPLYING = frozenset({401, 402})
WEATHER = "weather"


def resolve_recipe_path(spec: str, site_file: Path) -> Path:
    """A zone's recipe file (found as `site check` finds it: farmcore/recipe/zonerecipe.py)."""
    return zonerecipe.resolve_recipe_path(spec, site_file)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@dataclass
class ZoneRecipe:
    recipe: Recipe
    path: Path
    stamp: tuple[int, int] | None


@dataclass
class ZoneRunner:
    """One zone: its tracks, drivers, overrides, recipe and controller."""

    zone: ZoneDef
    controller: ZoneController
    recipe: ZoneRecipe | None
    kinds: dict[str, str]  # actuator id -> switch | retractable | nutrient
    drivers: dict[str, Driver] = field(default_factory=dict)
    tracks: dict[str, Tracked] = field(default_factory=dict)
    overrides: dict[str, Override] = field(default_factory=dict)
    tenant: dict[str, float] = field(default_factory=dict)  # tenant setpoint adjustments (inside the envelope)
    setpoints: dict[str, float] = field(default_factory=dict)
    setpoints_at: float = float("-inf")
    stage: str = ""
    decisions: dict[str, Decision] = field(default_factory=dict)
    last_logged: dict[str, tuple[Any, str]] = field(default_factory=dict)
    setpoint_logged: dict[str, tuple[float, float]] = field(default_factory=dict)
    last_tick_s: float | None = None
    trace: dict[str, float] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)
    feedback: dict[str, Reading] = field(default_factory=dict)
    period: str = ""  # "recipe@version stage/period" in force, from the last setpoint refresh
    refresh_offset: float = 0.0  # staggers the zones' setpoint refreshes over SETPOINT_REFRESH_S
    day_cache: tuple[date, dict[str, dict[str, Any]]] | None = None  # (local date, strategy tables)
    stale_after: dict[str, float] = field(default_factory=dict)  # quantity -> seconds
    requests: list[Request] = field(default_factory=list)  # meals, feed-now, weighings since the last tick
    alarms: AlarmBook | None = None
    wanted: dict[str, Decision] = field(default_factory=dict)  # the controller's last decisions (pre-arbitration)
    run_s: dict[str, float] = field(default_factory=dict)  # and its timed runs
    units: dict[str, str] = field(default_factory=dict)  # quantity -> unit, as the node reports it
    alarm_count: int = 0  # alarms in the zone's retained list (as last published)
    in_force: dict[str, float] = field(default_factory=dict)  # the controller's setpoints in force (live view)
    fused: dict[str, tuple[str, ...]] = field(default_factory=dict)  # quantity -> its sensors' readings (median)
    stuck: dict[str, StuckWatch] = field(default_factory=dict)  # reading -> its stuck-sensor watch
    flat: dict[str, float] = field(default_factory=dict)  # reading -> how long it has been stuck (last judgement)
    readings: dict[str, float] = field(default_factory=dict)  # the last tick's usable readings (combined included)
    fallbacks: dict[str, Decision] = field(default_factory=dict)  # the controller's degraded mode, by actuator
    fallback_mode: str = ""  # its name ("frost_guard"), while it has any decision
    fallback_used: list[str] = field(default_factory=list)  # the reasons of the fallbacks safety took last time
    fallback_note: str = ""  # why the degraded mode cannot act although it should
    saved: dict[str, dict[str, Any]] = field(default_factory=dict)  # actuator -> its driver state as last stored
    spread: dict[str, float] = field(default_factory=dict)  # combined quantity -> spread of its good sensors
    switched_recipe: str | None = None  # the recipe id a command switched the zone to (kept across a restart)


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
        self.site_stamp = _stamp(self.site_path)
        self.controllers = controllers
        self.clock = clock or WallClock()
        rt = self.site.runtime
        self.state_dir = Path(state_dir or rt.state_dir or os.environ.get("FARMCTL_STATE_DIR")
                              or default_state_dir())
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.tz = ZoneInfo(self.site.site.timezone)
        self.historian = historian
        self.bus_urls = {b.id: (bus_urls or {}).get(b.id, b.url) for b in self.site.buses}
        self.opids = OpidStore(self.state_dir / "opid", block=OPID_BLOCK)
        self.state = StateStore(self.state_dir / "runtime.sqlite")
        self.scheduler = Scheduler(self.site.site.id, self.state_dir, self.site.site.timezone, self.clock)
        self.watchdog = watchdog
        self.buses: dict[str, Bus | FastTcpBus] = {}
        self.nodes: dict[tuple[str, int], KsNode | VendorNode] = {}
        self.weather: dict[str, Tracked] = {}
        self.outside = OutsideMemory()  # last good weather and the day's lows, kept across restarts
        self.outside.restore(self.state.get("_site", "outside"))
        self.zones: dict[str, ZoneRunner] = {}
        # nodes with a KS X 3288 supply device: their sensors measure only while it runs (plausibility.py)
        self._supply_nodes = {(n.bus, n.unit) for n in self.site.nodes
                              if any(s.kind == "nutrient" for s in builtin_profiles()[n.profile].slots)}
        self.backups: dict[str, OxygenBackup] = {}
        self.events: list[dict[str, Any]] = []  # recent events, newest last (for the live view)
        self._throttle: dict[tuple[str, str, str], datetime] = {}  # repeated events: once a minute
        self.desk = CommandDesk(seen_store=_SeenIds(self.state))
        self.unit_ok: dict[str, bool] = {}  # "bus/unit" (the comm_lost alarms' subject) -> answered the last read
        mqtt = mqtt or rt.mqtt or os.environ.get("FARMCTL_MQTT") or None
        self.broker: BrokerUrl | None = parse_broker_url(mqtt) if isinstance(mqtt, str) else mqtt
        self.link: SiteLink | None = None
        self.command_clock = command_clock or self.clock  # judges command expiry (the wall clock in a fast demo)
        self.link_options = link_options or {}  # ZoneLink options (backoff, queue_max) for tests and benchmarks
        self._tick_started = time.monotonic()
        self._stopped = False  # the stop states went out
        self._lock = asyncio.Lock()  # one tick or one command at a time: both move the same drivers
        self.site_alarms = AlarmBook("_site", site_rules())  # the historian spool's
        self._spool: dict[str, tuple[bool, str]] = {}  # alarm code -> (raised, detail), from the spool's thread
        self._recipe_ids: dict[str, Path] | None = None
        self.ticks = 0
        self.last_view = ""
        self.lateness_s: list[float] = []
        self._sun: dict[date, tuple[datetime, datetime]] = {}
        self._last_reload = float("-inf")
        self._last_save = float("-inf")
        self._stopping = asyncio.Event()
        self._held: list[Callable[[], None]] = []  # publications waiting for the historian's commit
        self._holders = 0  # blocks handing points to the historian now (_durable_first)
        self.commit_s: deque[float] = deque(maxlen=10000)  # wall time of each commit (tick or command)
        self.commit_failures = 0
        self._commit_failing = False
        for zone in self.site.zones:
            if zone.kind in controllers:
                self.zones[zone.id] = self._make_runner(zone)

    # ------------------------------------------------------------------ set-up

    def _make_runner(self, zone: ZoneDef) -> ZoneRunner:
        recipe = self._load_zone_recipe(zone) if zone.recipe else None
        kinds = {a.id: actuator_kind(self.site, zone, a) for a in zone.actuators}
        runner = ZoneRunner(zone, self.controllers[zone.kind](zone), recipe, kinds)
        now_s = self.clock.now().timestamp()
        for act in zone.actuators:
            kind = kinds[act.id]
            if kind == "retractable":
                driver: Driver = RetractableDriver(act.travel_s)
            elif kind == "nutrient":
                driver = SupplyDriver(act.max_on_s)
            else:
                tick_s = self.site.runtime.tick_s
                driver = SwitchDriver(act.max_on_s, lease_s=act.lease_s(tick_s), renew_s=tick_s)
            saved = self.state.get(zone.id, f"driver:{act.id}")
            if isinstance(driver, RetractableDriver):
                if saved:
                    driver.restore(saved, now_s)
            elif saved:
                driver.restore(saved)
            runner.drivers[act.id] = driver
        _watch_readings(runner, zone, self.state.get(zone.id, "stuck"))
        runner.refresh_offset = (len(self.zones) * 7.31) % SETPOINT_REFRESH_S
        runner.alarms = AlarmBook(zone.id, standard_rules(zone))
        saved_alarms = self.state.get(zone.id, "alarms")
        if isinstance(saved_alarms, dict):
            runner.alarms.restore(saved_alarms, now_s)
        saved_controller = self.state.get(zone.id, "controller")
        if isinstance(saved_controller, dict):
            runner.controller.restore(saved_controller)
        self._restore_manual(runner, now_s)
        return runner

    def _restore_manual(self, runner: ZoneRunner, now_s: float) -> None:
        """Overrides, tenant setpoints and a recipe switch from before a restart (farmcore/runtime/manual.py)."""
        zone = runner.zone
        saved = self.state.get(zone.id, "manual")
        recipe_id = restored_recipe(saved)
        path = self.recipe_ids(zone.kind).get(recipe_id) if recipe_id else None
        if path is not None:
            try:
                runner.recipe, runner.switched_recipe = ZoneRecipe(load_recipe(path), path, _stamp(path)), recipe_id
            except FarmError as exc:
                log.warning("zone %s: recipe %s switched to by a command no longer loads: %s", zone.id, recipe_id,
                            exc)
        runner.overrides = restored_overrides(saved, {a.id for a in zone.actuators}, now_s)
        envelope = {q: (b.min, b.max) for q, b in runner.recipe.recipe.envelope.items()} if runner.recipe else {}
        runner.tenant = restored_tenant(saved, envelope, {q: (r.min, r.max) for q, r in zone.hard_limits.items()})

    def _keep_manual(self, runner: ZoneRunner) -> None:
        self.state.put(runner.zone.id, "manual", manual_state(runner.overrides, runner.tenant, runner.switched_recipe))

    def _load_zone_recipe(self, zone: ZoneDef) -> ZoneRecipe:
        """The zone's recipe, by the same rules as `site check` (a zone keeps its place in the file on reload)."""
        index = next(i for i, z in enumerate(self.site.zones) if z.id == zone.id)
        recipe, path = zonerecipe.load_zone_recipe(self.site_path, f"zones[{index}]", zone)
        return ZoneRecipe(recipe, path, _stamp(path))

    def _node_key_units(self) -> set[tuple[str, int]]:
        used = set()
        for runner in self.zones.values():
            z = runner.zone
            used |= {(z.bus, e.unit) for e in (*z.sensors, *z.actuators)}
        w = self.site.weather
        if w.bus is not None and w.unit is not None and self.zones:
            used.add((w.bus, w.unit))
        return used

    async def start(self) -> None:
        """Open buses, register for jobs, put every actuator in its start state."""
        for bus_id in {b for b, _u in self._node_key_units()}:
            self.buses[bus_id] = open_fast_bus(self.bus_urls[bus_id])  # lean client on tcp:// (half the CPU)
        DAEMONS[self.site.site.id] = self
        if self.historian is not None and hasattr(self.historian, "on_alarm"):
            self.historian.on_alarm = self._spool_alarm
        self._prune_commands()
        self._start_backups()
        self.scheduler.start(self.site.runtime.recipe_check_s)
        self._plan_meals(self.clock.now())
        self.event(None, "daemon_started", f"daemon started: zones {', '.join(sorted(self.zones)) or 'none'}")
        async with self._lock:
            await self._read_all()
            for runner in self.zones.values():
                await self._apply_states(runner, "start")
        if self.broker is not None:  # after the start states: a command queued while down acts on a running zone
            sid = self.site.site.id
            self.link = SiteLink(self.broker, sid, {z: f"{ACCOUNT_PREFIX[r.zone.kind]}-{sid}-{z}"
                                                    for z, r in self.zones.items()}, on_command=self.on_command,
                                **{"state_min_interval_s": self.site.runtime.state_interval_s, **self.link_options})
            for runner in self.zones.values():
                self._publish_alarms(runner)
            self.link.start()

    async def stop(self) -> None:
        """Stop states, watchdog low, state saved, buses and job store closed. Commands that arrive from
        here on are answered `not_running` and not applied: nothing moves after the stop states."""
        async with self._lock, self._durable_first():
            self._stopped = True
            for runner in self.zones.values():
                with contextlib.suppress(Exception):
                    await self._apply_states(runner, "stop")
            self._save_state(force=True)
        if self.link is not None:
            await self.link.stop()  # pending events, then `offline` on every zone (bounded wait)
        for backup in self.backups.values():
            backup.stop(leave_engaged=backup.rule.engaged)  # an emergency outlives the daemon
        self._drain_backup_events()
        self.scheduler.shutdown()
        if self.watchdog is not None:
            self.watchdog.close()  # pin low, then released
        self.event(None, "daemon_stopped", "daemon stopped")
        if self.historian is not None:
            self.historian.flush(timeout=5)
        for bus in self.buses.values():
            await bus.close()
        DAEMONS.pop(self.site.site.id, None)
        self.state.close()

    async def _apply_states(self, runner: ZoneRunner, which: str) -> None:
        now_s = self.clock.now().timestamp()
        index = 1 if which == "start" else 2
        for act in runner.zone.actuators:
            state = act.states()[index]
            driver = runner.drivers[act.id]
            target = failsafe_target(state, driver.kind, driver.target)
            if isinstance(driver, RetractableDriver) and state == "stop":
                command = driver.stop(now_s)
            else:
                command = self._plan(driver, target, now_s, None, None)
            decision = Decision(target, "safety", f"{which} state {state}")
            runner.decisions[act.id] = decision
            if command is not None:
                await self._send(runner, act, command, decision)

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
                next_at += tick_s / getattr(self.clock, "speed", 1.0)
                wait = next_at - loop.time()
                if wait < 0:  # overran: skip the missed slots rather than bunch ticks up
                    next_at = loop.time()
                    wait = 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait)
        finally:
            from farmcore.runtime.liveview import render

            try:
                self.last_view = render(self)  # the zones as they ran, before the stop states
            except Exception:  # a display bug must never cost the stop states
                log.exception("live view failed")
            await self.stop()

    def request_stop(self) -> None:
        self._stopping.set()

    async def tick(self) -> None:
        """One read-decide-write round of every zone (tests call it directly, lockstep with the twin).
        Nothing of the tick is published on MQTT before what it handed to the historian is committed."""
        async with self._lock, self._durable_first():
            self._tick_started = time.monotonic()
            now = self.clock.now()
            self.scheduler.wakeup()
            await self._renew_leases(now.timestamp())  # before the reads: silent nodes must not delay them
            await self._read_all()
            local = now.astimezone(self.tz)
            sun = self._sun_for(local.date())
            outside = self.outside.held_ages(now.timestamp()), self.outside.lows(now.timestamp())  # once a tick
            for runner in list(self.zones.values()):
                try:
                    await self._tick_zone(runner, now, local, sun, outside)
                except Exception as exc:  # a bug in one zone's strategy must not stop the others
                    log.exception("zone %s tick failed", runner.zone.id)
                    self.event(runner, "tick_failed", f"tick failed: {type(exc).__name__}: {exc}")
            self._observe_site_alarms(now.timestamp())
            self._feed_backups(now)
            self._save_state()
            self._maybe_reload()
        if self.watchdog is not None:
            self.watchdog.beat()
        self.ticks += 1

    async def _renew_leases(self, now_s: float) -> None:
        """Renew the dead-man leases of what is on, first thing in a tick: the reads that follow may wait on
        silent nodes for a long time, and a lease must not lapse meanwhile."""
        for runner in self.zones.values():
            for act in runner.zone.actuators:
                driver = runner.drivers[act.id]
                if type(driver) is not SwitchDriver:
                    continue
                command = driver.renew(now_s)
                if command is not None:
                    decision = runner.decisions.get(act.id) or Decision(True, "safety", "dead-man lease")
                    await self._send(runner, act, command, decision)

    @contextlib.asynccontextmanager
    async def _durable_first(self) -> AsyncIterator[None]:
        """Hold what the block publishes (states, alarm lists, events) until the historian has committed
        what the block handed it: whatever a subscriber saw of a tick or a command is in the history, even
        if the daemon is killed a moment later. Blocks may overlap (a job's zones interleave with a tick):
        what they hold goes out after the commit that follows the last of them."""
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
                        self._publish(publish, now=True)

    def _publish(self, publish: Callable[[], None], *, now: bool = False) -> None:
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

    def _start_backups(self) -> None:
        from farmcore.gpio import open_output

        for runner in self.zones.values():
            spec = runner.zone.oxygen_backup
            if spec is None:
                continue
            oxygen = self._strategy(runner, self.clock.now(), self.clock.now().astimezone(self.tz)).get("oxygen", {})
            rule = BackupRule(oxygen.get("critical_mg_l", CRITICAL_MG_L), spec.release_after_s)
            out = open_output(spec.pin, active_high=spec.active_high, factory=self.site.runtime.gpio_factory)
            backup = OxygenBackup(runner.zone.id, out, rule, hang_after_s=spec.hang_after_s)
            backup.start()
            self.backups[runner.zone.id] = backup

    def _feed_backups(self, now: datetime) -> None:
        now_s = now.timestamp()
        for zone_id, backup in self.backups.items():
            runner = self.zones[zone_id]
            track = runner.tracks.get("dissolved_oxygen", Tracked())
            why = judge(track, now_s, runner.stale_after.get("dissolved_oxygen", runner.zone.stale_after_s))
            # one lost frame is not a dead bus: two reads in a row without an answer are
            silent_s = now_s - (track.good_at if track.good_at is not None else float("-inf"))
            bus_ok = not (track.quality == "comm_error" and silent_s > 1.5 * self.site.runtime.tick_s)
            backup.feed(now_s, track.value if why is None else None, bus_ok, why or "")
        self._drain_backup_events()

    def _drain_backup_events(self) -> None:
        for zone_id, backup in self.backups.items():
            while backup.events:
                code, message = backup.events.popleft()
                self.event(self.zones.get(zone_id), code, message)

    def _sun_for(self, day: date) -> tuple[datetime, datetime]:
        if day not in self._sun:
            self._sun = {day: _sun_times_or_day(self.site, day, self.tz)}
        return self._sun[day]

    # ------------------------------------------------------------------ reading

    async def _read_all(self) -> None:
        by_bus: dict[str, list[int]] = {}
        for bus_id, unit in sorted(self._node_key_units()):
            by_bus.setdefault(bus_id, []).append(unit)
        results = await asyncio.gather(*(self._read_bus(b, units) for b, units in by_bus.items()))
        now_s = self.clock.now().timestamp()
        snapshot: dict[tuple[str, int], dict[int, Reading]] = {}
        for part in results:
            snapshot.update(part)
        for key in self._node_key_units():
            readings = snapshot.get(key)
            self.unit_ok[f"{key[0]}/{key[1]}"] = bool(readings) and any(
                r.quality != "comm_error" for r in readings.values())
        measuring = {key: node_measuring(snapshot[key].values()) for key in self._supply_nodes if key in snapshot}
        for runner in self.zones.values():
            z = runner.zone
            for s in z.sensors:
                reading = snapshot.get((z.bus, s.unit), {}).get(s.slot)
                value = reading.value if reading is not None else None
                quality = reading.quality if reading is not None else "comm_error"
                if quality == "good" and not measuring.get((z.bus, s.unit), True):
                    quality = IDLE  # a nutrient node's line between supplies: not a measurement
                valid = (s.valid.min, s.valid.max) if s.valid else None
                track = runner.tracks[s.key]
                observe(track, value if isinstance(value, int | float) else None, quality, now_s, valid)
                watch = runner.stuck.get(s.key)
                if watch is not None and track.good_at == now_s and track.value is not None:
                    watch.sample(track.value, now_s)
                if s.key not in runner.units and reading is not None and reading.unit:
                    runner.units[s.key] = reading.unit
            for a in z.actuators:
                reading = snapshot.get((z.bus, a.unit), {}).get(a.slot)
                if reading is not None and reading.quality == "good":
                    runner.feedback[a.id] = reading
                else:
                    runner.feedback.pop(a.id, None)
        w = self.site.weather
        if w.bus is not None and w.unit is not None:
            station = snapshot.get((w.bus, w.unit), {})
            for quantity, slot in w.sensors.items():
                reading = station.get(slot)
                track = self.weather.setdefault(quantity, Tracked())
                value = reading.value if reading is not None else None
                observe(track, value if isinstance(value, int | float) else None,
                        reading.quality if reading is not None else "comm_error", now_s, None)
                if track.good_at == now_s and track.value is not None:
                    self.outside.note(quantity, track.value, now_s)

    async def _read_bus(self, bus_id: str, units: list[int]) -> dict[tuple[str, int], dict[int, Reading]]:
        out: dict[tuple[str, int], dict[int, Reading]] = {}
        for unit in units:
            node = await self._node(bus_id, unit)
            if node is None:
                continue
            snap = await node.read()
            out[(bus_id, unit)] = {r.slot: r for r in snap.readings}
        return out

    async def _node(self, bus_id: str, unit: int) -> KsNode | VendorNode | None:
        """The node object, made on first contact (its device codes read once); None while unreachable."""
        key = (bus_id, unit)
        if key in self.nodes:
            return self.nodes[key]
        definition = next(n for n in self.site.nodes if n.bus == bus_id and n.unit == unit)
        profile = builtin_profiles()[definition.profile]
        bus = self.buses[bus_id]
        node: KsNode | VendorNode
        if profile.kind == "vendor":
            node = VendorNode(bus, unit, profile)
        else:
            node = KsNode(bus, unit, profile, opids=self.opids, stale_after_s=1e9)
            try:
                await node.read_device_codes()
            except FarmError as exc:
                self.event(None, "node_unreachable", f"bus {bus_id} unit {unit}: {exc}", throttle=True)
                return None
        self.nodes[key] = node
        return node

    # ------------------------------------------------------------------ deciding

    def _refresh_setpoints(self, runner: ZoneRunner, now: datetime) -> None:
        now_s = now.timestamp()
        if runner.recipe is None or now_s - runner.setpoints_at < SETPOINT_REFRESH_S:
            return
        z, s = runner.zone, self.site.site
        assert z.planted is not None
        recipe = runner.recipe.recipe
        try:
            raw = setpoints_at(recipe, z.planted, now, s.latitude, s.longitude, self.tz)
        except ValueError as exc:  # before the planting date: an empty house, everything in failsafe
            runner.setpoints, runner.setpoints_at, runner.period = {}, now_s, "not planted"
            self.event(runner, "not_planted", str(exc), throttle=True)
            return
        values = {q: sp.value for q, sp in raw.items()}
        first = next(iter(raw.values()), None)
        runner.period = recipe.label if first is None else (
            f"{recipe.label} {first.stage}/{first.period_name or first.source_period}")
        for q, v in runner.tenant.items():
            values[q] = v
        for q, limit in z.hard_limits.items():
            if q in values:
                values[q] = min(limit.max, max(limit.min, values[q]))
        runner.setpoints = values
        runner.stage = stage_at(recipe, z.planted, now, self.tz)[1].name
        first_time = runner.setpoints_at == float("-inf")
        runner.setpoints_at = now_s - (runner.refresh_offset if first_time else 0.0)

    def _strategy(self, runner: ZoneRunner, now: datetime, local: datetime) -> dict[str, dict[str, Any]]:
        """The stage's strategy tables (the stage changes with the local date only)."""
        if runner.recipe is None or runner.zone.planted is None:
            return {}
        cached = runner.day_cache
        if cached is None or cached[0] != local.date():
            recipe = runner.recipe.recipe
            cached = (local.date(), recipe.strategy_for(stage_at(recipe, runner.zone.planted, now, self.tz)[0]))
            runner.day_cache = cached
        return cached[1]

    async def _tick_zone(self, runner: ZoneRunner, now: datetime, local: datetime, sun: tuple[datetime, datetime],
                         outside: tuple[dict[str, tuple[float, float]], dict[str, float]]) -> None:
        z = runner.zone
        now_s = now.timestamp()
        self._refresh_setpoints(runner, now)
        readings, weather, bad = self._judge(runner, now_s)
        strategy = self._strategy(runner, now, local)
        views = {}
        for act in z.actuators:
            driver = runner.drivers[act.id]
            position = driver.estimate(now_s) if isinstance(driver, RetractableDriver) else None
            views[act.id] = ActuatorView(act.id, act.role, runner.kinds[act.id], driver.target, position,
                                         act.facing, driver.failed, act.feed_kg_per_min)
        dt = 0.0 if runner.last_tick_s is None else now_s - runner.last_tick_s
        runner.last_tick_s = now_s
        requests, runner.requests = tuple(runner.requests), []
        inp = TickInput(now_s, now, local, dt, readings, bad, weather, dict(runner.setpoints), strategy, sun,
                        views, runner.stage, requests, *outside, z)
        out = runner.controller.tick(inp)
        runner.trace, runner.bad, runner.readings = out.trace, bad, readings
        runner.fallbacks, runner.fallback_mode, runner.fallback_note = out.fallbacks, out.fallback_mode, \
            out.fallback_note
        runner.wanted, runner.run_s = out.decisions, out.run_s
        runner.in_force = out.setpoints
        for act_id, driver in runner.drivers.items():
            if isinstance(driver, SupplyDriver):
                driver.params = out.params.get(act_id) or driver.params
        for message in out.events:
            self.event(runner, "strategy", message)
        await self._arbitrate_and_send(runner, now)
        self._write_points(runner, now, readings, bad)
        self._observe_alarms(runner, now_s, bad)
        if self.link is not None:
            link = self.link.zones.get(z.id)
            if link is not None:
                at = self._tick_started
                self._publish(lambda: link.offer_state(lambda: self.state_payload(runner, now), at))

    def _judge(self, runner: ZoneRunner, now_s: float) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
        """Usable readings and outside weather now, and why each unusable one is not (stale, faulty)."""
        bad: dict[str, str] = {}
        readings: dict[str, float] = {}
        for q, track in runner.tracks.items():
            if q in runner.fused:
                continue
            why = judge(track, now_s, runner.stale_after[q])
            if why is None:
                readings[q] = track.value  # type: ignore[assignment]
            else:
                bad[q] = why
        runner.flat = {k: flat for k, w in runner.stuck.items()  # a silent sensor is not a stuck one
                       if runner.tracks[k].quality == "good" and (flat := w.stuck_for(now_s)) is not None}
        runner.spread = combine(runner.fused, runner.tracks, readings, bad, now_s, frozenset(runner.flat))
        weather: dict[str, float] = {}
        for q, track in self.weather.items():
            why = judge(track, now_s, runner.zone.stale_after_s)
            if why is None:
                weather[q] = track.value  # type: ignore[assignment]
            else:
                bad[f"weather:{q}"] = why
        return readings, weather, bad

    async def _arbitrate_and_send(self, runner: ZoneRunner, now: datetime, *, feedback: bool = True) -> None:
        """Safety > override > the controller's last decisions, interlocks, then the commands that changed.
        Run by every tick and at once after an override or a release (the farmer sees the actuator move);
        `feedback=False` there: the feedback was read before the last write and would count as a mismatch."""
        z, bad, now_s = runner.zone, runner.bad, now.timestamp()
        decisions: dict[str, Decision] = {}
        fallback_used: list[str] = []
        for act in z.actuators:
            driver = runner.drivers[act.id]
            kind = runner.kinds[act.id]
            wanted = runner.wanted.get(act.id)
            if wanted is None:
                failsafe = act.states()[0]
                wanted = Decision(failsafe_target(failsafe, kind, driver.target), "safety",
                                  f"failsafe {failsafe}: no decision from the {z.kind} controller"
                                  f"{' (' + '; '.join(bad) + ' bad)' if bad else ''}")
            safety = safety_decision(act, kind, bad, driver.target)
            if safety is not None and act.id in runner.fallbacks:  # the controller's degraded mode, not plain off
                safety = runner.fallbacks[act.id]
                fallback_used.append(safety.reason)
            override = runner.overrides.get(act.id)
            if override is not None and now_s >= override.expires_at:
                self.event(runner, "override_ended", f"{act.id}: manual override ended")
                del runner.overrides[act.id]
                self._keep_manual(runner)
                override = None
            decisions[act.id] = arbitrate(wanted, override, safety, now_s)
        decisions = apply_interlocks(decisions, INTERLOCKS.get(z.kind, ()))
        runner.fallback_used = fallback_used

        for act in z.actuators:
            decision = decisions[act.id]
            driver = runner.drivers[act.id]
            seen = runner.feedback.get(act.id) if feedback else None
            command = self._plan(driver, decision.target, now_s, runner.run_s.get(act.id) if decision.source == "recipe"
                                 else None, seen)
            runner.decisions[act.id] = decision
            if command is not None:
                await self._send(runner, act, command, decision)
            self._log_decision(runner, act, decision, now)

    def _observe_alarms(self, runner: ZoneRunner, now_s: float, bad: dict[str, str]) -> None:
        """Feed the zone's alarm book from this tick's judgements; raised/cleared alarms become events."""
        book = runner.alarms
        if book is None:
            return
        events: list[AlarmEvent] = []
        for rule in book.rules:  # dispatched by the rule's kind and subject (standard_rules), no id parsing
            if isinstance(rule, LimitRule):
                events += book.observe_value(rule.id, runner.readings.get(rule.quantity), now_s)
                continue
            kind, subject = rule.kind, rule.subject
            if kind == AlarmKind.STALE_DATA:
                idle = subject in runner.tracks and runner.tracks[subject].quality == IDLE  # expected, not a fault
                events += book.observe(rule.id, subject in bad and not idle, now_s, bad.get(subject))
            elif kind == AlarmKind.FALLBACK:  # the degraded mode acts, or should and cannot
                mine = runner.fallback_mode == rule.subject
                why = (runner.fallback_used[0] if runner.fallback_used else runner.fallback_note) if mine else ""
                events += book.observe(rule.id, bool(why), now_s, why or None)
            elif kind == AlarmKind.SENSORS_DISAGREE:
                spread = runner.spread.get(subject)
                limit = DISAGREE.get(subject)
                events += book.observe(rule.id, spread is not None and limit is not None and spread > limit, now_s,
                                       None if spread is None else f"{spread:.2f} apart")
            elif kind == AlarmKind.STUCK_SENSOR:
                flat = runner.flat.get(subject)
                why = None if flat is None else f"{runner.stuck[subject].ref:g} for {flat / 3600:.1f} h"
                events += book.observe(rule.id, flat is not None, now_s, why)
            elif kind == AlarmKind.COMM_LOST:
                events += book.observe(rule.id, not self.unit_ok.get(subject, True), now_s)
            elif kind == AlarmKind.FEEDBACK_MISMATCH:
                driver = runner.drivers.get(subject)
                events += book.observe(rule.id, bool(driver is not None and driver.failed), now_s)
            elif kind == AlarmKind.BACKUP_ENGAGED:
                backup = self.backups.get(runner.zone.id)
                events += book.observe(rule.id, bool(backup is not None and backup.engaged), now_s)
        for ev in events:
            self._alarm_event(runner, ev)
        if events:
            self._publish_alarms(runner)

    def _publish_alarms(self, runner: ZoneRunner) -> None:
        """The retained alarm list of a zone: its own alarms, then the site's (the spool's, shared by all)."""
        if self.link is None or runner.alarms is None:
            return
        link = self.link.zones.get(runner.zone.id)
        if link is not None:
            listed = runner.alarms.to_list() + self.site_alarms.to_list()
            runner.alarm_count = len(listed)
            self._publish(lambda: link.set_alarms(listed))

    def _spool_alarm(self, alarm: Any) -> None:
        """The historian spool's alarm callback (its writer thread): noted here, turned into alarms next tick."""
        self._spool[alarm.code] = (alarm.state == "raised", f"{alarm.bytes / max(alarm.max_bytes, 1):.0%} of "
                                   f"{alarm.max_bytes / 2**20:.0f} MiB, {alarm.dropped} points dropped")

    def _observe_site_alarms(self, now_s: float) -> None:
        events: list[AlarmEvent] = []
        for rule in self.site_alarms.rules:
            raised, detail = self._spool.get(rule.id, (False, ""))
            events += self.site_alarms.observe(rule.id, raised, now_s, detail or None)
        if not events:
            return
        for runner in self.zones.values():
            for ev in events:
                self._alarm_event(runner, ev)
            self._publish_alarms(runner)

    def _alarm_event(self, runner: ZoneRunner, ev: AlarmEvent) -> None:
        self.event(runner, f"alarm_{ev.kind}", f"{ev.alarm.id} ({ev.alarm.severity}): {ev.alarm.message_en}",
                   detail={"alarm": ev.alarm.to_dict()})

    def state_payload(self, runner: ZoneRunner, now: datetime) -> dict[str, Any]:
        """The retained `state` of a zone (DESIGN.md § MQTT): readings with unit and quality, setpoints with
        their source, actuators with target, source, reason and feedback, mode, recipe, overrides."""
        now_s = now.timestamp()
        readings = reading_entries(runner.tracks, runner.bad, runner.units, runner.stale_after, runner.fused, now_s)
        actuators: dict[str, Any] = {}
        sources = set()
        kinds, decisions = runner.kinds, runner.decisions
        for act in runner.zone.actuators:
            decision = decisions.get(act.id)
            driver = runner.drivers[act.id]
            entry = {"role": act.role, "kind": kinds[act.id], "target": driver.target}
            if decision is not None:
                entry["source"], entry["reason"] = decision.source, decision.reason[:200]
                sources.add(decision.source)
            if isinstance(driver, RetractableDriver):
                entry["position"] = driver.estimate(now_s)
            feedback = runner.feedback.get(act.id)
            if feedback is not None:
                entry["feedback"] = feedback.status_name or feedback.status
            if driver.failed:
                entry["failed"] = True
            actuators[act.id] = entry
        recipe = runner.recipe.recipe.recipe if runner.recipe else None
        return {
            "time": iso(now), "site": self.site.site.id, "zone": runner.zone.id, "kind": runner.zone.kind,
            "mode": "safety" if "safety" in sources else "override" if runner.overrides else "auto",
            "recipe": None if recipe is None else {"id": recipe.id, "version": recipe.version,
                                                   "stage": runner.stage, "period": runner.period},
            "readings": readings,
            "weather": {q: t.value for q, t in self.weather.items()},
            "setpoints": {q: {"value": v, "source": "tenant" if q in runner.tenant else "recipe"}
                          for q, v in runner.setpoints.items()},
            "actuators": actuators,
            "overrides": {a: {"value": o.target, "until": iso(datetime.fromtimestamp(o.expires_at, UTC)),
                              "by": o.issued_by, "reason": o.reason} for a, o in runner.overrides.items()},
            "alarms": runner.alarm_count,
        }

    def _plan(self, driver: Driver, target: Any, now_s: float, run_s: float | None,
              feedback: Reading | None) -> Command | None:
        if isinstance(driver, RetractableDriver):
            if target is None:
                return None
            return driver.plan(float(target), now_s)
        if target is None:
            return None
        on: bool | None = None
        if feedback is not None and feedback.status is not None:
            on = feedback.status in (SUPPLYING if isinstance(driver, SupplyDriver) else SWITCH_ON)
            if isinstance(driver, SupplyDriver) or driver.run_until is not None:
                on = None  # a supply or a timed run ends on its own: no mismatch to chase
        return driver.plan(bool(target), now_s, run_s=run_s, feedback_on=on)

    async def _send(self, runner: ZoneRunner, act: ActuatorDef, command: Command, decision: Decision) -> None:
        node = await self._node(runner.zone.bus, act.unit)
        driver = runner.drivers[act.id]
        what = f"{act.id}: {command.op}{f' {command.time_s} s' if command.time_s else ''}"
        if node is None:
            self._undo(driver)
            self.event(runner, "command_failed", f"{what}: node unreachable", throttle=True)
            return
        try:
            await node.command(act.slot, command.op, time_s=command.time_s, params=command.params, verify=False)
        except FarmError as exc:
            self._undo(driver)
            self.event(runner, "command_failed", f"{what}: {exc}", throttle=True)
            return
        except asyncio.CancelledError:
            self._undo(driver)  # it may not have gone out: the next tick sends it again
            raise
        saved = driver.state()
        if runner.saved.get(act.id) != saved:  # a lease renewal changes nothing worth a write
            runner.saved[act.id] = saved
            self.state.put(runner.zone.id, f"driver:{act.id}", saved)
        log.log(logging.DEBUG if command.renewal else logging.INFO,  # a lease renewal every tick is routine
                json.dumps({"zone": runner.zone.id, "actuator": act.id, "op": command.op, "time_s": command.time_s,
                            "source": decision.source, "reason": decision.reason, "why": command.why},
                           ensure_ascii=False))

    @staticmethod
    def _undo(driver: Driver) -> None:
        """A command that did not go out: forget it, so the next tick sends it again."""
        if isinstance(driver, RetractableDriver):
            driver.move, driver.position, driver.goal = None, None, None
        else:
            driver.commanded, driver.run_until = None, None

    # ------------------------------------------------------------------ records

    def _log_decision(self, runner: ZoneRunner, act: ActuatorDef, decision: Decision, now: datetime) -> None:
        key = (decision.target, decision.source)
        if runner.last_logged.get(act.id) == key or self.historian is None:
            return
        runner.last_logged[act.id] = key
        target = decision.target
        fields: dict[str, Any] = {"source": decision.source, "reason": decision.reason[:500]}
        if target is not None:
            fields["target"] = float(target)
        feedback = runner.feedback.get(act.id)
        if feedback is not None and feedback.status is not None:
            fields["feedback"] = int(feedback.status)
        self._write([Point("actuator", self.site.site.id, runner.zone.id, act.id, now, fields,
                           tags={"role": act.role, "source": decision.source})])

    def _write_points(self, runner: ZoneRunner, now: datetime, readings: dict[str, float],
                      bad: dict[str, str]) -> None:
        if self.historian is None:
            return
        site, zone = self.site.site.id, runner.zone.id
        now_s = now.timestamp()
        points = sensor_points(site, zone, runner.tracks, now, now_s)
        label = runner.recipe.recipe.label if runner.recipe else ""
        for q, value in runner.setpoints.items():
            last = runner.setpoint_logged.get(q)
            if last is None or last[0] != value or now_s - last[1] >= SETPOINT_LOG_S:
                runner.setpoint_logged[q] = (value, now_s)
                source = "tenant" if q in runner.tenant else "recipe"
                points.append(Point("setpoint", site, zone, q, now, {"value": value},
                                    tags={"source": source, "recipe": label}))
        self._write(points)

    def _write(self, points: list[Point]) -> None:
        if self.historian is None or not points:
            return
        try:
            self.historian.write(points)
        except Exception as exc:  # the historian is never worth a stopped greenhouse
            log.warning("historian write failed: %s", exc)

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
        del self.events[:-200]
        log.info(json.dumps({"event": code, "zone": zone, "message": message}, ensure_ascii=False))
        self._write([Point("event", self.site.site.id, zone, code, now, {"message": message, "code": code})])
        if self.link is not None and runner is not None:
            link = self.link.zones.get(zone)
            if link is not None:
                event = {**record, "time": iso(now), **(detail or {})}
                self._publish(lambda: link.send_event(event))

    def _save_state(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_save < STATE_SAVE_S / getattr(self.clock, "speed", 1.0):
            return
        self._last_save = now
        for runner in self.zones.values():
            items: dict[str, Any] = {"controller": runner.controller.state()}
            if runner.alarms is not None:
                items["alarms"] = runner.alarms.state()
            items["stuck"] = {k: w.state() for k, w in runner.stuck.items()}
            for act_id, driver in runner.drivers.items():
                items[f"driver:{act_id}"] = driver.state()
            self.state.put_many(runner.zone.id, items)
        self.state.put("_site", "outside", self.outside.state())

    # ------------------------------------------------------------------ jobs

    async def run_job(self, kind: str, zone: str | None = None, at: str | None = None) -> None:
        """A scheduled job: claim its slot, then apply the state for now to every zone (level-triggered,
        idempotent), yielding to the tick loop between zones so a site of many zones keeps its ticks. What it
        records is committed before its events are published, as a tick's."""
        async with self._durable_first():
            await self._run_job(kind, zone, at)

    async def _run_job(self, kind: str, zone: str | None, at: str | None) -> None:
        now = self.clock.now()
        job_id = f"{self.site.site.id}:{kind}" + (f":{zone}" if zone else "")
        if kind == "meal" and at is not None:
            slot = datetime.fromisoformat(at)
        elif kind == "daily":
            local = now.astimezone(self.tz)
            slot = datetime.combine(local.date(), datetime.min.time(), tzinfo=self.tz)
        else:
            slot = interval_slot(now, self.site.runtime.recipe_check_s)
        if not self.state.record_run(job_id, slot, now, "ran"):
            self.event(None, "job_duplicate", f"{kind} job for {slot.isoformat()} already ran: skipped")
            return
        if kind == "meal":
            runner = self.zones.get(zone or "")
            if runner is not None:
                runner.requests.append(Request("meal", None, "scheduler"))
                self.event(runner, "meal_due", f"meal due ({slot.astimezone(self.tz):%H:%M})")
            return
        if kind == "daily":
            self._plan_meals(now)
            self._prune_commands()
        for runner in list(self.zones.values()):
            zone_id = runner.zone.id
            if kind == "recipe":
                runner.setpoints_at = float("-inf")
                self._refresh_setpoints(runner, now)
                if runner.period != self.state.get(zone_id, "period"):
                    self.state.put(zone_id, "period", runner.period)
                    self.event(runner, "recipe_period", f"recipe {runner.period}: " + ", ".join(
                        f"{q} {v:g}" for q, v in runner.setpoints.items()))
            elif kind == "daily":
                self.event(runner, "day_started", f"day {now.astimezone(self.tz).date().isoformat()}: " + ", ".join(
                    f"{k} {v:.4g}" for k, v in sorted(runner.trace.items())))
            await asyncio.sleep(0)

    def _plan_meals(self, now: datetime) -> None:
        """Schedule today's and tomorrow's meals of every zone whose recipe has meal times."""
        local = now.astimezone(self.tz)
        for runner in self.zones.values():
            if runner.recipe is None:
                continue
            meals = self._strategy(runner, now, local).get("feeding", {}).get("meals") or []
            times = []
            for offset in (0, 1):
                day = local.date() + timedelta(days=offset)
                sun = self._sun_for(day) if offset == 0 else _sun_times_or_day(self.site, day, self.tz)
                for text in meals:
                    at = parse_start(str(text)).resolve(day, self.tz, sun)
                    if at > now:
                        times.append(at.astimezone(UTC))
            self.scheduler.plan_meals(runner.zone.id, times)

    # ------------------------------------------------------------------ hot reload

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._last_reload < self.site.runtime.reload_check_s / getattr(self.clock, "speed", 1.0):
            return
        self._last_reload = now
        self.check_reload()

    def check_reload(self) -> None:
        """Reload a changed site file or recipe; a bad one is rejected with an event and the old one runs on."""
        stamp = _stamp(self.site_path)
        if stamp != self.site_stamp:
            self.site_stamp = stamp
            try:
                site = load_site(self.site_path)
                self._apply_site(site)
            except FarmError as exc:
                self.event(None, "reload_rejected", f"site file rejected, the running one is kept: {exc}")
            return
        for runner in self.zones.values():
            if runner.recipe is None:
                continue
            stamp = _stamp(runner.recipe.path)
            if stamp == runner.recipe.stamp:
                continue
            runner.recipe.stamp = stamp
            try:
                new = self._load_zone_recipe(runner.zone)
            except FarmError as exc:
                self.event(runner, "reload_rejected",
                           f"recipe rejected, {runner.recipe.recipe.label} keeps running: {exc}")
                continue
            old = runner.recipe.recipe.label
            runner.recipe, runner.setpoints_at = new, float("-inf")
            runner.day_cache = None
            self.event(runner, "recipe_changed", f"recipe {old} -> {new.recipe.label}")
            self._plan_meals(self.clock.now())

    def _apply_site(self, site: SiteFile) -> None:
        def wiring(s: SiteFile) -> object:
            return ([b.model_dump() for b in s.buses], [n.model_dump() for n in s.nodes],
                    [(z.id, z.kind, z.bus, [x.model_dump() for x in z.sensors],
                      [(a.id, a.role, a.unit, a.slot) for a in z.actuators]) for z in s.zones])

        if wiring(site) != wiring(self.site) or site.site.id != self.site.site.id \
                or site.runtime.tick_s != self.site.runtime.tick_s:
            self.event(None, "reload_rejected", "site file changes buses, nodes, wiring or the tick: restart the "
                       "daemon to apply them; the running ones are kept")
            return
        zones = {}
        for zone in site.zones:
            if zone.kind not in self.controllers:
                continue
            runner = self.zones[zone.id]
            if zone == runner.zone:
                zones[zone.id] = runner
                continue
            new = ZoneRunner(zone, runner.controller, runner.recipe, runner.kinds, runner.drivers, runner.tracks,
                             runner.overrides, runner.tenant)
            _watch_readings(new, zone, {k: w.state() for k, w in runner.stuck.items()})
            for act in zone.actuators:  # a changed dead-man setting applies at once (an ON is sent again)
                driver = new.drivers[act.id]
                lease = act.lease_s(site.runtime.tick_s)
                if type(driver) is SwitchDriver and lease != driver.lease_s:
                    driver.lease_s = lease
                    if driver.commanded:
                        driver.commanded, driver.renew_at = None, None
            new.refresh_offset, new.period = runner.refresh_offset, runner.period
            _carry(runner, new)
            if zone.recipe != runner.zone.recipe or zone.planted != runner.zone.planted:
                new.recipe = self._load_zone_recipe(zone) if zone.recipe else None
                new.switched_recipe = None  # the site file's recipe wins over an earlier switch by command
                self._keep_manual(new)
            zones[zone.id] = new
            self.event(new, "site_changed", f"zone {zone.id}: settings reloaded")
        self.site, self.zones = site, zones

    # ------------------------------------------------------------------ manual control

    def handle_command(self, zone_id: str, payload: bytes, account: str | None = None) -> Ack:
        """One command payload (from MQTT or a technician) -> exactly one ack; never raises for any payload.
        Accepted and rejected commands alike are recorded as audit events with who (the broker `account` that
        published it, from its topic, and the person it names), what, when, why and the outcome. The audit
        point is written before anything is published, and the id is used up only once the command has been
        applied and audited: a fault on the way never costs a retry its real answer."""
        now = self.clock.now()
        runner = self.zones.get(zone_id)
        if runner is None:
            return Ack(None, False, ErrorCode.UNKNOWN_TARGET, f"no zone {zone_id!r} in this daemon")
        envelope = runner.recipe.recipe.envelope if runner.recipe else {}
        active = {a.id for a in runner.alarms.active()} if runner.alarms else set()
        active |= {a.id for a in self.site_alarms.active()}
        ctx = ZoneContext.for_zone(runner.zone, runner.kinds, envelope, active, self.recipe_ids(runner.zone.kind),
                                   zone_now=now if self.command_clock is not self.clock else None)
        judged_at = self.command_clock.now()
        outcome = self.desk.process(payload, judged_at, ctx, account=account, remember=False)
        ack = outcome.ack
        if outcome.action is not None:
            try:
                self._apply_action(runner, outcome.action, now)
            except FarmError as exc:  # e.g. the recipe file went bad since the desk saw its id
                ack = Ack(ack.id, False, ErrorCode.INTERNAL_ERROR, f"accepted but not applied: {exc}")
        record = outcome.audit if ack is outcome.ack else audit_record(ack, outcome.command, now, account=account)
        self._write([Point("event", self.site.site.id, zone_id, "command_audit", now,
                           {k: v for k, v in record.items() if isinstance(v, str | int | float | bool)})])
        self.desk.remember(ack, judged_at, zone=zone_id, account=account)
        code = "command_applied" if ack.ok else "command_rejected"
        self.event(runner, code, f"{record.get('who', '?')}: {record.get('kind', '?')} {record.get('target', '')} "
                   f"{record.get('value', '')} -> {'ok' if ack.ok else ack.error}: {ack.message}"[:300],
                   detail={"command": record})
        return ack

    async def on_command(self, zone_id: str, payload: bytes, account: str | None = None) -> bytes:
        """A `cmd` message from the broker (`account`: the last level of its topic) -> its ack, after the Modbus
        write it caused (an override or a release acts at once, not at the next tick; safety still wins).
        Never raises: a fault is an `internal_error` ack, or an `ok` one saying the write is left to the next
        tick when the command was already accepted."""
        ack: Ack | None = None
        try:
            async with self._lock, self._durable_first():  # its audit committed before its ack goes out
                if self._stopped:
                    return Ack(readable_id_of(payload), False, ErrorCode.NOT_RUNNING,
                               "the daemon is stopping: not applied (send it again when the zone is online)").to_json()
                ack = self.handle_command(zone_id, payload, account)
                runner = self.zones.get(zone_id)
                applied = (ack.applied or {}) if ack.ok else {}
                if runner is not None and applied.get("kind") in ("override", "release") \
                        and runner.last_tick_s is not None:  # before the first tick, the first tick applies it
                    ack = await self._act_now(runner, ack, str(applied.get("target")))
                if applied.get("kind") == "ack_alarm":
                    for each in self.zones.values():  # a site alarm is listed in every zone
                        self._publish_alarms(each)
        except Exception as exc:  # never the daemon's end, never a command without its ack
            log.exception("command for zone %s failed", zone_id)
            if ack is not None and ack.ok:
                ack = replace(ack, message=f"{ack.message}; the actuator write failed ({type(exc).__name__}: "
                              f"{exc}) and is retried at the next tick"[:500])
            else:
                ack = Ack(None if ack is None else ack.id, False, ErrorCode.INTERNAL_ERROR,
                          f"internal error ({type(exc).__name__}: {exc})"[:500])
        return ack.to_json()

    async def _act_now(self, runner: ZoneRunner, ack: Ack, target: str) -> Ack:
        """Arbitrate the zone again with fresh judgements of its readings and write what changed; the ack
        says when safety holds the actuator or the write did not go out."""
        now = self.clock.now()
        _readings, _weather, runner.bad = self._judge(runner, now.timestamp())
        await self._arbitrate_and_send(runner, now, feedback=False)
        decision = runner.decisions.get(target)
        driver = runner.drivers.get(target)
        notes = []
        if decision is not None and decision.source == "safety" and target in runner.overrides:
            notes.append(f"held by safety for now: {decision.reason}")
        if target in runner.overrides and isinstance(driver, SwitchDriver | SupplyDriver) and driver.commanded is None:
            notes.append("the write did not go out (node unreachable?); retried every tick")  # _send undid it
        return replace(ack, message=f"{ack.message}; {'; '.join(notes)}"[:500]) if notes else ack

    def _prune_commands(self) -> None:
        """Forget handled command ids older than any command can live: a redelivery of one is `expired`."""
        horizon = iso(self.command_clock.now() - MAX_LIFETIME - timedelta(seconds=2 * SKEW_S))
        old = [cid for cid, record in self.state.items("_commands")
               if not isinstance(record, dict) or str(record.get("at", "")) < horizon]
        self.state.delete("_commands", old)

    def _apply_action(self, runner: ZoneRunner, action: Action, now: datetime) -> None:
        zone_id, target = runner.zone.id, action.target or ""
        if action.kind == "setpoint":
            runner.tenant[target] = float(action.value)  # type: ignore[arg-type]
            runner.setpoints_at = float("-inf")
            self._keep_manual(runner)
        elif action.kind == "release_setpoint":
            runner.tenant.pop(target, None)
            runner.setpoints_at = float("-inf")
            self._keep_manual(runner)
        elif action.kind == "override":
            self.set_override(zone_id, target, action.value, action.duration_s or 0.0,  # type: ignore[arg-type]
                              action.reason, action.issued_by)
        elif action.kind == "release_override":
            runner.overrides.pop(target, None)
            self._keep_manual(runner)
        elif action.kind == "recipe":
            path = self.recipe_ids(runner.zone.kind)[str(action.value)]
            recipe = load_recipe(path)
            old = runner.recipe.recipe.label if runner.recipe else "none"
            runner.recipe, runner.switched_recipe = ZoneRecipe(recipe, path, _stamp(path)), str(action.value)
            self._keep_manual(runner)
            runner.setpoints_at, runner.day_cache = float("-inf"), None
            self.event(runner, "recipe_changed", f"recipe {old} -> {recipe.label} by {action.issued_by}")
            self._plan_meals(now)
        elif action.kind == "feed_now":
            value = None if action.value is None else float(action.value)  # type: ignore[arg-type]
            self.request(zone_id, Request("feed_now", value, action.issued_by))
        elif action.kind == "ack_alarm" and runner.alarms is not None:
            book = runner.alarms if runner.alarms.get(target) is not None else self.site_alarms  # the spool's
            event, why = book.ack(target, action.issued_by, now.timestamp())
            if event is not None:
                self.event(runner, "alarm_acked", f"{target} acknowledged by {action.issued_by}")
            else:
                self.event(runner, "alarm_ack_refused", f"{target}: {why}")

    def recipe_ids(self, kind: str) -> dict[str, Path]:
        """{recipe id: file} of the recipes a zone of `kind` may switch to (next to the site file and shipped)."""
        if self._recipe_ids is None:
            found: dict[str, Path] = {}
            for folder in (self.site_path.parent, RECIPES_DIR / "crops", RECIPES_DIR / "fish"):
                for path in sorted(folder.glob("*.toml")):
                    try:
                        recipe = load_recipe(path)
                    except FarmError:
                        continue  # a site file or a broken recipe: not offered
                    found.setdefault(f"{recipe.recipe.kind}:{recipe.recipe.id}", path)
            self._recipe_ids = found
        prefix = f"{kind}:"
        return {k.removeprefix(prefix): p for k, p in self._recipe_ids.items() if k.startswith(prefix)}

    def request(self, zone_id: str, request: Request) -> None:
        """Queue a request for the zone's next tick (feed now, a sample weighing)."""
        runner = self.zones.get(zone_id)
        if runner is None:
            raise BadInput(f"no zone {zone_id!r} in this daemon")
        runner.requests.append(request)
        self.event(runner, "request", f"{request.kind}{'' if request.value is None else f' {request.value:g}'} "
                   f"by {request.by or 'unknown'}")

    def set_override(self, zone_id: str, actuator: str, target: bool | float, duration_s: float, reason: str,
                     issued_by: str = "") -> None:
        runner = self.zones[zone_id]
        if actuator not in runner.drivers:
            raise BadInput(f"zone {zone_id}: no actuator {actuator!r}")
        expires = self.clock.now().timestamp() + duration_s
        runner.overrides[actuator] = Override(target, expires, reason, issued_by)
        self._keep_manual(runner)
        self.event(runner, "override", f"{actuator}: manual {target!r} for {duration_s:g} s by {issued_by}: {reason}")


def _watch_readings(runner: ZoneRunner, zone: ZoneDef, saved: Any) -> None:
    """A track per sensor, one per combined quantity, their stale limits and the stuck-sensor watches (with
    what they had seen, so a restart does not restart a stuck sensor's clock)."""
    runner.fused = combined_quantities(zone)
    runner.stale_after = {s.key: s.stale_after_s or zone.stale_after_s for s in zone.sensors}
    for key in [s.key for s in zone.sensors] + list(runner.fused):
        runner.tracks.setdefault(key, Tracked())
        runner.stale_after.setdefault(key, zone.stale_after_s)
    runner.stuck = {}
    for sensor in zone.sensors:
        flatness = flatness_for(sensor.quantity, sensor.resolution, sensor.stuck_after_s)
        if flatness is not None:
            watch = runner.stuck[sensor.key] = StuckWatch(flatness)
            if isinstance(saved, dict) and isinstance(saved.get(sensor.key), dict):
                watch.restore(saved[sensor.key])


def _carry(old: ZoneRunner, new: ZoneRunner) -> None:
    """What a zone keeps across a reload of its settings: the last judgements and decisions (a command
    before the next tick acts on them), its alarm book, the units its nodes report."""
    new.wanted, new.run_s, new.bad, new.decisions = old.wanted, old.run_s, old.bad, old.decisions
    new.last_tick_s, new.units, new.alarm_count = old.last_tick_s, old.units, old.alarm_count
    new.requests, new.fallbacks, new.fallback_mode = old.requests, old.fallbacks, old.fallback_mode
    new.switched_recipe, new.saved = old.switched_recipe, old.saved
    new.alarms = old.alarms
    if new.alarms is not None:
        new.alarms.set_rules(standard_rules(new.zone))


def _sun_times_or_day(site: SiteFile, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Sunrise and sunset at the site; a polar day or night counts as all day."""
    try:
        return sun_times(site.site.latitude, site.site.longitude, day, tz)
    except ValueError:
        start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
        return start, start + timedelta(days=1)


class _SeenIds:
    """Handled command ids in the state store, so a redelivery after a restart is still a duplicate."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    def get(self, command_id: str) -> dict[str, Any] | None:
        return self.state.get("_commands", command_id)

    def put(self, command_id: str, record: Any) -> None:
        self.state.put("_commands", command_id, dict(record))
