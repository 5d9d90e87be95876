"""A zone of the daemon: its configuration, rebuilt from the site file on every reload, and its running state,
kept across reloads as one object — so a field added to the running state later cannot be lost by a reload.

`ZoneConfig` is what the site file says (frozen); `RunState` is what the zone has learned and done since the
daemon started (tracks, drivers, decisions, overrides, alarms, the controller's sums); `ZoneRunner` pairs them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from farmcore.alarms import AlarmBook, standard_rules
from farmcore.control.arbitration import Decision, Override
from farmcore.errors import FarmError
from farmcore.fieldbus.node import Reading
from farmcore.recipe.schema import Recipe
from farmcore.recipe.store import RecipeStore
from farmcore.runtime.actuators import RetractableDriver, SupplyDriver, SwitchDriver
from farmcore.runtime.controller import Request, ZoneController
from farmcore.runtime.manual import manual_state, restored_overrides, restored_recipe, restored_tenant
from farmcore.runtime.plausibility import StuckWatch, flatness_for
from farmcore.runtime.readings import combined_quantities
from farmcore.runtime.safety import Tracked
from farmcore.runtime.state import StateStore
from farmcore.site import SiteFile, ZoneDef, actuator_kind
from farmcore.sitehead import DEFAULT_MAX_OVERRIDE_S

log = logging.getLogger("farmcore.daemon")

Driver = SwitchDriver | SupplyDriver | RetractableDriver
SETPOINT_REFRESH_S = 30.0  # recipe ramps last minutes; recomputing more often buys nothing



@dataclass
class ZoneRecipe:
    recipe: Recipe
    path: Path
    stamp: tuple[int, int] | None


@dataclass(frozen=True)
class ZoneConfig:
    """What the site file says of a zone, with what follows from it; a reload builds a new one."""

    zone: ZoneDef
    kinds: Mapping[str, str]  # actuator id -> switch | retractable | nutrient
    fused: Mapping[str, tuple[str, ...]]  # combined quantity -> its sensors' readings (median)
    stale_after: Mapping[str, float]  # reading or combined quantity -> seconds
    refresh_offset: float  # staggers the zones' setpoint refreshes over SETPOINT_REFRESH_S
    max_override_s: float = DEFAULT_MAX_OVERRIDE_S  # the site's `[site] max_override_s`: the longest override

    @classmethod
    def build(cls, site: SiteFile, zone: ZoneDef, refresh_offset: float) -> ZoneConfig:
        fused = combined_quantities(zone)
        stale = {s.key: s.stale_after_s or zone.stale_after_s for s in zone.sensors}
        for key in fused:
            stale.setdefault(key, zone.stale_after_s)
        return cls(zone, MappingProxyType({a.id: actuator_kind(site, zone, a) for a in zone.actuators}),
                   MappingProxyType(fused), MappingProxyType(stale), refresh_offset, site.site.max_override_s)

    @property
    def reading_keys(self) -> list[str]:
        return [s.key for s in self.zone.sensors] + list(self.fused)


@dataclass(eq=False)
class RunState:
    """What a zone has learned and done since the daemon started. A reload keeps this object whole."""

    controller: ZoneController
    alarms: AlarmBook
    recipe: ZoneRecipe | None
    drivers: dict[str, Driver] = field(default_factory=dict)
    tracks: dict[str, Tracked] = field(default_factory=dict)
    overrides: dict[str, Override] = field(default_factory=dict)
    tenant: dict[str, float] = field(default_factory=dict)  # tenant setpoint adjustments (inside the envelope)
    switched_recipe: str | None = None  # the recipe id a command switched the zone to (kept across a restart)
    setpoints: dict[str, float] = field(default_factory=dict)
    setpoints_at: float = float("-inf")
    stage: str = ""
    day: int | None = None  # days since planting (0 on that day), from the last setpoint refresh; None before it
    period: str = ""  # "recipe@version stage/period" in force, from the last setpoint refresh
    day_cache: tuple[date, dict[str, dict[str, Any]]] | None = None  # (local date, strategy tables)
    decisions: dict[str, Decision] = field(default_factory=dict)
    wanted: dict[str, Decision] = field(default_factory=dict)  # the controller's last decisions (pre-arbitration)
    run_s: dict[str, float] = field(default_factory=dict)  # and its timed runs
    last_logged: dict[str, tuple[Any, str]] = field(default_factory=dict)
    setpoint_logged: dict[str, tuple[float, float]] = field(default_factory=dict)
    last_tick_s: float | None = None
    trace: dict[str, float] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)
    readings: dict[str, float] = field(default_factory=dict)  # the last tick's usable readings (combined included)
    feedback: dict[str, Reading] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)  # meals, feed-now, weighings since the last tick
    units: dict[str, str] = field(default_factory=dict)  # quantity -> unit, as the node reports it
    alarm_count: int = 0  # alarms in the zone's retained list (as last published)
    in_force: dict[str, float] = field(default_factory=dict)  # the controller's setpoints in force (live view)
    stuck: dict[str, StuckWatch] = field(default_factory=dict)  # reading -> its stuck-sensor watch
    flat: dict[str, float] = field(default_factory=dict)  # reading -> how long it has been stuck (last judgement)
    spread: dict[str, float] = field(default_factory=dict)  # combined quantity -> spread of its good sensors
    fallbacks: dict[str, Decision] = field(default_factory=dict)  # the controller's degraded mode, by actuator
    fallback_mode: str = ""  # its name ("frost_guard"), while it has any decision
    fallback_used: list[str] = field(default_factory=list)  # the reasons of the fallbacks safety took last time
    fallback_note: str = ""  # why the degraded mode cannot act although it should
    stops: dict[str, str] = field(default_factory=dict)  # actuators the controller stopped for safety, and why
    saved: dict[str, dict[str, Any]] = field(default_factory=dict)  # actuator -> its driver state as last stored


@dataclass(frozen=True, eq=False)
class ZoneRunner:
    """One zone as the daemon runs it: the configuration in force and the running state."""

    config: ZoneConfig
    run: RunState

    @property
    def zone(self) -> ZoneDef:
        return self.config.zone

    @property
    def kinds(self) -> Mapping[str, str]:
        return self.config.kinds


def make_driver(site: SiteFile, kind: str, act: Any) -> Driver:
    if kind == "retractable":
        return RetractableDriver(act.travel_s)
    if kind == "nutrient":
        return SupplyDriver(act.max_on_s)
    tick_s = site.runtime.tick_s
    return SwitchDriver(act.max_on_s, lease_s=act.lease_s(tick_s), renew_s=tick_s)


def restore_drivers(config: ZoneConfig, site: SiteFile, state: StateStore, now_s: float) -> dict[str, Driver]:
    """A driver per actuator, with what the state store remembers of it (positions, what was on)."""
    drivers: dict[str, Driver] = {}
    for act in config.zone.actuators:
        driver = make_driver(site, config.kinds[act.id], act)
        saved = state.get(config.zone.id, f"driver:{act.id}")
        if isinstance(driver, RetractableDriver):
            if saved:
                driver.restore(saved, now_s)
        elif saved:
            driver.restore(saved)
        drivers[act.id] = driver
    return drivers


def watch_readings(config: ZoneConfig, run: RunState, saved: Any) -> None:
    """A track per reading and combined quantity, and the stuck-sensor watches (with what they had seen, so a
    restart or a reload does not restart a stuck sensor's clock)."""
    for key in config.reading_keys:
        run.tracks.setdefault(key, Tracked())
    run.stuck = {}
    for sensor in config.zone.sensors:
        flatness = flatness_for(sensor.quantity, sensor.resolution, sensor.stuck_after_s)
        if flatness is not None:
            watch = run.stuck[sensor.key] = StuckWatch(flatness)
            if isinstance(saved, dict) and isinstance(saved.get(sensor.key), dict):
                watch.restore(saved[sensor.key])


def reconfigure(config: ZoneConfig, run: RunState, site: SiteFile) -> None:
    """Fit a zone's running state to its new settings after a reload: new readings get tracks, the stuck
    watches their new flatness, the alarm book its new rules, and a changed dead-man lease applies at once
    (an ON is sent again). Setpoints and strategy tables are recomputed at the next tick."""
    watch_readings(config, run, {k: w.state() for k, w in run.stuck.items()})
    run.alarms.set_rules(standard_rules(config.zone))
    for act in config.zone.actuators:
        driver = run.drivers[act.id]
        lease = act.lease_s(site.runtime.tick_s)
        if type(driver) is SwitchDriver and lease != driver.lease_s:
            driver.lease_s = lease
            if driver.commanded:
                driver.commanded, driver.renew_at = None, None
    run.setpoints_at, run.day_cache = float("-inf"), None


def keep_manual(state: StateStore, runner: ZoneRunner) -> None:
    """Store a zone's overrides, tenant setpoints and recipe switch (farmcore/runtime/manual.py)."""
    run = runner.run
    state.put(runner.zone.id, "manual", manual_state(run.overrides, run.tenant, run.switched_recipe))


def load_zone_recipe(store: RecipeStore, site_path: Path, site: SiteFile, zone: ZoneDef) -> ZoneRecipe:
    """The zone's recipe, by the same rules as `site check` (errors name the zone's place in the file)."""
    index = next(i for i, z in enumerate(site.zones) if z.id == zone.id)
    entry = store.zone_recipe(site_path, f"zones[{index}]", zone)
    return ZoneRecipe(entry.recipe, entry.path, entry.stamp)


def build_runner(site: SiteFile, site_path: Path, zone: ZoneDef, controller: ZoneController, state: StateStore,
                 recipes: RecipeStore, refresh_offset: float, now_s: float) -> ZoneRunner:
    """A zone as the daemon starts it: its configuration, and its running state with what the state store
    remembers (driver positions, alarms, the controller's sums, stuck-sensor watches, overrides, tenant
    setpoints and a recipe switch by command)."""
    config = ZoneConfig.build(site, zone, refresh_offset)
    alarms = AlarmBook(zone.id, standard_rules(zone))
    saved_alarms = state.get(zone.id, "alarms")
    if isinstance(saved_alarms, dict):
        alarms.restore(saved_alarms, now_s)
    run = RunState(controller, alarms, load_zone_recipe(recipes, site_path, site, zone) if zone.recipe else None,
                   drivers=restore_drivers(config, site, state, now_s))
    watch_readings(config, run, state.get(zone.id, "stuck"))
    saved_controller = state.get(zone.id, "controller")
    if isinstance(saved_controller, dict):
        controller.restore(saved_controller)
    saved = state.get(zone.id, "manual")
    recipe_id = restored_recipe(saved)
    if recipe_id:
        try:
            entry = recipes.get(zone.kind, recipe_id)
            run.recipe, run.switched_recipe = ZoneRecipe(entry.recipe, entry.path, entry.stamp), recipe_id
        except FarmError as exc:
            log.warning("zone %s: recipe %s switched to by a command is gone: %s", zone.id, recipe_id, exc)
    run.overrides = restored_overrides(saved, {a.id for a in zone.actuators}, now_s)
    envelope = {q: (b.min, b.max) for q, b in run.recipe.recipe.envelope.items()} if run.recipe else {}
    run.tenant = restored_tenant(saved, envelope, {q: (r.min, r.max) for q, r in zone.hard_limits.items()})
    return ZoneRunner(config, run)
