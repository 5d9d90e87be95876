"""A reload rebuilds a zone's configuration and keeps its running state whole (farmcore/runtime/zone.py): every
field of `RunState` — also one added after this test was written — is the same object after a reload."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path

from farmcore.runtime.zone import RunState
from hil_tests.test_daemon import free_tcp_url, kst, rig

# what a reload may legitimately redo: the stuck watches get the new settings (with their state), setpoints and
# strategy tables are recomputed at the next tick
RECONFIGURED = {"stuck", "setpoints_at", "day_cache"}
IMMUTABLE = (str, int, float, bool, tuple, type(None))


class Marker:
    """A value no default and no copy could produce."""


async def test_a_reload_keeps_every_part_of_a_zones_running_state(tmp_path: Path) -> None:
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 10), tick_s=30) as r:
        await r.run(120)
        r.daemon.set_override("gh", "fan", True, 3600, "reload test", "technician")
        await r.run(30)
        old = r.zone()
        saved = {f.name: getattr(old.run, f.name) for f in fields(RunState)}
        for name, value in saved.items():  # an immutable value could be equal by chance: make each unique
            if name not in RECONFIGURED and isinstance(value, IMMUTABLE):
                setattr(old.run, name, Marker())
        before = {f.name: getattr(old.run, f.name) for f in fields(RunState)}
        stuck = {k: w.state() for k, w in old.run.stuck.items()}

        text = r.path.read_text()
        r.path.write_text(text.replace("stale_after_s = 90", "stale_after_s = 90\nhard_limits = { air_temperature "
                                       "= { min = 5, max = 18 } }"))
        r.daemon.check_reload()
        new = r.zone()

        assert new.config is not old.config and new.zone.hard_limits["air_temperature"].max == 18
        lost = [name for name, value in before.items()
                if name not in RECONFIGURED and getattr(new.run, name) is not value]
        assert not lost, f"a reload lost these parts of the running state: {lost}"
        assert math.isinf(new.run.setpoints_at) and new.run.day_cache is None, "recomputed at the next tick"
        assert {k: w.state() for k, w in new.run.stuck.items()} == stuck, "the stuck watches kept what they saw"

        for name, value in saved.items():
            if name not in RECONFIGURED and isinstance(value, IMMUTABLE):
                setattr(new.run, name, value)
        await r.run(30)
        assert new.run.setpoints["air_temperature"] == 18, "the new hard limit caps the recipe"
        assert new.run.decisions["fan"].source == "override", "the override outlived the reload"


async def test_a_reload_that_fails_on_one_zone_changes_no_zone(tmp_path: Path) -> None:
    """A site file whose recipe does not load is rejected whole: the zone keeps its recipe and settings."""
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 10), tick_s=30) as r:
        await r.run(60)
        old = r.zone()
        recipe = old.run.recipe
        text = r.path.read_text()
        r.path.write_text(text.replace("stale_after_s = 90", "stale_after_s = 91").replace(
            'recipe = "crops/tomato"', 'recipe = "crops/no-such-recipe"'))
        r.daemon.check_reload()
        assert r.zone() is old and old.run.recipe is recipe and old.zone.stale_after_s == 90
        rejected = [e["message"] for e in r.daemon.events if e["code"] == "reload_rejected"]
        assert rejected and "no-such-recipe" in rejected[-1]


async def test_an_edited_recipe_a_command_switched_to_is_reloaded_as_that_recipe(tmp_path: Path) -> None:
    """A zone switched by command to a recipe keeps that recipe when its file changes (it used to fall back to
    the site file's recipe while still remembering the switch)."""
    from farmcore.recipe.zonerecipe import RECIPES_DIR
    from hil_tests.test_daemon import command

    mine = tmp_path / "tomato-mine.toml"
    mine.write_text((RECIPES_DIR / "crops" / "tomato.toml").read_text().replace('id = "tomato-gb"',
                                                                                'id = "tomato-mine"', 1))
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 10), tick_s=30) as r:
        await r.run(60)
        now = r.twin.clock.now()
        ack = r.daemon.handle_command("gh", command("switch", now, "recipe", value="tomato-mine",
                                                          by="technician"), "technician")
        assert ack.ok, ack
        assert r.zone().run.recipe.recipe.label == "tomato-mine@1"
        mine.write_text(mine.read_text().replace("version = 1", "version = 2\nparent = 1", 1))
        r.daemon.check_reload()
        zone = r.zone()
        assert zone.run.recipe.recipe.label == "tomato-mine@2" and zone.run.switched_recipe == "tomato-mine"
