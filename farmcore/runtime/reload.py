"""Hot reload: a changed site file or recipe is taken while the zones run; a bad one is rejected with an event
and the running one goes on. A zone's configuration is rebuilt from the new file and its running state is kept
whole (farmcore/runtime/zone.py); changes to buses, nodes, wiring or the tick need a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from farmcore.errors import FarmError
from farmcore.recipe.store import RecipeStore, file_stamp
from farmcore.runtime.records import Recorder
from farmcore.runtime.state import StateStore
from farmcore.runtime.zone import (
    ZoneConfig,
    ZoneRecipe,
    ZoneRunner,
    keep_manual,
    load_zone_recipe,
    reconfigure,
)
from farmcore.site import SiteFile, load_site


class ReloadSite(Protocol):
    """What a reload needs of the daemon."""

    site_path: Path
    site: SiteFile
    site_stamp: tuple[int, int] | None
    zones: dict[str, ZoneRunner]
    controllers: dict[str, object]
    state: StateStore
    recorder: Recorder
    recipes: RecipeStore



def wiring(site: SiteFile) -> object:
    """What a reload may not change: buses, nodes, zones' kinds, buses and wiring."""
    return ([b.model_dump() for b in site.buses], [n.model_dump() for n in site.nodes],
            [(z.id, z.kind, z.bus, [x.model_dump() for x in z.sensors],
              [(a.id, a.role, a.unit, a.slot) for a in z.actuators]) for z in site.zones])


def check_reload(d: ReloadSite, recipe_changed: Callable[[], None]) -> None:
    """Reload a changed site file, else any changed recipe; `recipe_changed()` replans what depends on them."""
    stamp = file_stamp(d.site_path)
    if stamp != d.site_stamp:
        d.site_stamp = stamp
        try:
            if apply_site(d, load_site(d.site_path)):
                recipe_changed()
        except FarmError as exc:
            d.recorder.event(None, "reload_rejected", f"site file rejected, the running one is kept: {exc}")
        return
    for runner in d.zones.values():
        run = runner.run
        if run.recipe is None:
            continue
        stamp = file_stamp(run.recipe.path)
        if stamp == run.recipe.stamp:
            continue
        run.recipe.stamp = stamp
        try:
            if run.switched_recipe:  # the recipe a command switched to, not the site file's
                entry = d.recipes.get(runner.zone.kind, run.switched_recipe)
                new = ZoneRecipe(entry.recipe, entry.path, entry.stamp)
            else:
                new = load_zone_recipe(d.recipes, d.site_path, d.site, runner.zone)
        except FarmError as exc:
            d.recorder.event(runner, "reload_rejected",
                             f"recipe rejected, {run.recipe.recipe.label} keeps running: {exc}")
            continue
        old = run.recipe.recipe.label
        run.recipe, run.setpoints_at, run.day_cache = new, float("-inf"), None
        d.recorder.event(runner, "recipe_changed", f"recipe {old} -> {new.recipe.label}")
        recipe_changed()


def apply_site(d: ReloadSite, site: SiteFile) -> bool:
    """Take a new site file: every changed zone gets a new configuration and keeps its running state. Whether a
    zone's recipe (or planting date) changed."""
    if wiring(site) != wiring(d.site) or site.site.id != d.site.site.id \
            or site.runtime.tick_s != d.site.runtime.tick_s:
        d.recorder.event(None, "reload_rejected", "site file changes buses, nodes, wiring or the tick: restart the "
                         "daemon to apply them; the running ones are kept")
        return False
    zones: dict[str, ZoneRunner] = {}
    plans: list[tuple[ZoneRunner, ZoneConfig, bool, ZoneRecipe | None]] = []
    for zone in site.zones:  # first everything that may fail, then nothing that may: no half-applied reload
        if zone.kind not in d.controllers:
            continue
        runner = d.zones[zone.id]
        if zone == runner.zone:
            zones[zone.id] = runner
            continue
        new_recipe = zone.recipe != runner.zone.recipe or zone.planted != runner.zone.planted
        recipe = (load_zone_recipe(d.recipes, d.site_path, site, zone) if zone.recipe else None) if new_recipe else None
        plans.append((runner, ZoneConfig.build(site, zone, runner.config.refresh_offset), new_recipe, recipe))
    changed = []
    for runner, config, new_recipe, recipe in plans:
        run = runner.run
        if new_recipe:
            run.recipe = recipe
            run.switched_recipe = None  # the site file's recipe wins over an earlier switch by command
        reconfigure(config, run, site)
        changed.append(ZoneRunner(config, run))
        zones[config.zone.id] = changed[-1]
        if new_recipe:
            keep_manual(d.state, changed[-1])
    d.site = site
    d.zones.clear()  # the same mapping: the command handler and the view hold it
    d.zones.update({z.id: zones[z.id] for z in site.zones if z.id in zones})  # in the site file's order
    for runner in changed:
        d.recorder.event(runner, "site_changed", f"zone {runner.zone.id}: settings reloaded")
    return any(new_recipe for _runner, _config, new_recipe, _recipe in plans)
