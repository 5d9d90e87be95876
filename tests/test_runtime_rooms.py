"""The daemon's rooms on their own, without buses or a broker: a zone built from the demo site's first
greenhouse, fed by hand (farmcore/runtime/zone.py, reading.py, setpoints.py, actuation.py, alarming.py,
records.py, commanding.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest

import farmcore.twin
from farmcore.alarms import AlarmBook, AlarmKind, LimitRule, standard_rules
from farmcore.fieldbus.node import Reading
from farmcore.link.commands import ActionKind
from farmcore.recipe.store import RecipeStore
from farmcore.runtime.actuation import plan
from farmcore.runtime.actuators import SwitchDriver
from farmcore.runtime.alarming import CONDITIONS, Seen, observe_zone
from farmcore.runtime.commanding import Commands
from farmcore.runtime.reading import judge_zone
from farmcore.runtime.records import Recorder
from farmcore.runtime.safety import Tracked
from farmcore.runtime.setpoints import refresh_setpoints
from farmcore.runtime.zone import RunState, ZoneConfig, ZoneRunner, load_zone_recipe
from farmcore.site import SiteFile, load_site

SITE = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-demo.toml"
TZ = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)  # noon in Korea


class Controller:
    def tick(self, inp: Any) -> Any: ...

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None: ...


@pytest.fixture(scope="module")
def site() -> SiteFile:
    return load_site(SITE)


def zone_runner(site: SiteFile) -> ZoneRunner:
    zone = site.zones[0]
    config = ZoneConfig.build(site, zone, 0.0)
    recipe = load_zone_recipe(RecipeStore.for_site(SITE), SITE, site, zone)
    run = RunState(Controller(), AlarmBook(zone.id, standard_rules(zone)), recipe)
    for key in config.reading_keys:
        run.tracks[key] = Tracked()
    return ZoneRunner(config, run)


def good(track: Tracked, value: float, at: float) -> None:
    track.value, track.good_at, track.quality, track.read_at = value, at, "good", at


# -------------------------------------------------------------------------------------------- reading


def test_a_reading_is_usable_until_it_is_stale_and_then_says_why(site: SiteFile) -> None:
    runner = zone_runner(site)
    t = NOW.timestamp()
    good(runner.run.tracks["air_temperature"], 18.5, t)
    stale_s = runner.config.stale_after["air_temperature"]
    readings, _weather, bad = judge_zone(runner, {}, t + stale_s - 1)
    assert readings["air_temperature"] == 18.5 and "air_temperature" not in bad
    readings, _weather, bad = judge_zone(runner, {}, t + stale_s + 1)
    assert "air_temperature" not in readings and bad["air_temperature"].startswith("stale")
    assert bad["relative_humidity"].startswith("no good reading yet")


# ------------------------------------------------------------------------------------------ setpoints


def test_setpoints_take_the_tenants_value_clip_to_hard_limits_and_wait_for_their_refresh(site: SiteFile) -> None:
    runner = zone_runner(site)
    events: list[tuple[str, str]] = []
    runner.run.tenant["air_temperature"] = 40.0  # outside the hard limit of 32 °C (not the envelope's job here)
    refresh_setpoints(runner, NOW, site.site, TZ, lambda r, code, msg, **kw: events.append((code, msg)))
    assert runner.run.setpoints["air_temperature"] == 32.0 and runner.run.stage and "/" in runner.run.period
    runner.run.tenant["air_temperature"] = 20.0
    refresh_setpoints(runner, NOW, site.site, TZ, lambda *a, **kw: None)
    assert runner.run.setpoints["air_temperature"] == 32.0, "not again within SETPOINT_REFRESH_S"
    runner.run.setpoints_at = -math.inf
    refresh_setpoints(runner, NOW, site.site, TZ, lambda *a, **kw: None)
    assert runner.run.setpoints["air_temperature"] == 20.0
    assert events == []


# ------------------------------------------------------------------------------------------ actuation


def test_feedback_that_disagrees_with_a_switch_counts_and_a_timed_run_does_not_chase_it() -> None:
    driver = SwitchDriver(None)
    assert plan(driver, True, 0.0, None, None) is not None and driver.target is True
    off = Reading(slot=1, kind="switch", quality="good", status=0)
    for n in range(1, 10):
        plan(driver, True, float(n), None, off)
    assert driver.failed, "an ON the node keeps reporting OFF is a failed actuator"
    timed = SwitchDriver(None)
    plan(timed, True, 0.0, 60.0, None)
    for n in range(1, 10):
        plan(timed, True, float(n), 60.0, off)
    assert not timed.failed


# ------------------------------------------------------------------------------------------- alarming


def test_every_boolean_alarm_kind_a_zone_can_have_has_a_condition(site: SiteFile) -> None:
    kinds = {rule.kind for zone in site.zones for rule in standard_rules(zone) if not isinstance(rule, LimitRule)}
    assert kinds <= set(CONDITIONS), f"alarm kinds without a condition: {kinds - set(CONDITIONS)}"
    assert AlarmKind.STALE_DATA in kinds


def test_a_stale_reading_raises_its_alarm_after_the_delay_and_an_idle_one_never(site: SiteFile) -> None:
    runner = zone_runner(site)
    seen = Seen({"air_temperature": "stale: last good reading 999 s ago"}, {}, None)
    raised = []
    for n in range(0, 3600, 60):
        raised += [e for e in observe_zone(runner, seen, NOW.timestamp() + n) if e.kind == "raised"]
    assert [e.alarm.id for e in raised] == ["stale_data:air_temperature"]
    runner = zone_runner(site)
    runner.run.tracks["air_temperature"].quality = "idle"
    assert not any(observe_zone(runner, seen, NOW.timestamp() + n) for n in range(0, 3600, 60))


# -------------------------------------------------------------------------------------------- records


class Historian:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.on_alarm = None

    def write(self, points: Any) -> None:
        self.log.append(f"write {len(points)}")

    def commit(self, timeout: float | None = None) -> bool:
        self.log.append("commit")
        return True


async def test_what_a_block_publishes_goes_out_after_the_commit_of_what_it_recorded() -> None:
    log: list[str] = []

    class Clock:
        speed = 1.0

        def now(self) -> datetime:
            return NOW

        async def sleep(self, s: float) -> None: ...

    recorder = Recorder("s", Clock(), Historian(log))  # type: ignore[arg-type]
    async with recorder.durable_first():
        recorder.event(None, "x", "one")
        recorder.publish(lambda: log.append("published"))
        async with recorder.durable_first():  # a job interleaving with the tick
            recorder.publish(lambda: log.append("published inner"))
        assert "published inner" not in log, "held until the outer block ends too"
    assert log == ["write 1", "commit", "published", "published inner"]
    recorder.publish(lambda: log.append("now"))
    assert log[-1] == "now", "outside a block: at once"


# ---------------------------------------------------------------------------------------- commanding


def test_every_action_the_desk_can_allow_has_a_handler() -> None:
    commands = Commands("s", {}, None, None, None, None, None, None, None, None, None, None)  # type: ignore[arg-type]
    assert set(commands._apply) == set(get_args(ActionKind))


# ------------------------------------------------------------------------------------- the state message


def test_the_state_tells_a_tenant_what_they_may_set_now_for_how_long_and_the_recipes_day(site: SiteFile) -> None:
    """Issue 17: the portal bounds its widgets and checks before sending with what the daemon publishes."""
    from datetime import timedelta

    from msgspec import UNSET

    from farmcore.link.payloads import StateMessage
    from farmcore.recipe.timeline import stage_index_for
    from farmcore.runtime.statemsg import state_message
    from farmcore.runtime.zone import make_driver
    from farmcore.site import Range

    zone = site.zones[0]  # strawberry: envelope air_temperature 5..20, co2 400..800; planted 2025-09-10
    narrowed = zone.model_copy(update={"hard_limits": {**zone.hard_limits, "air_temperature": Range(min=8, max=18)}})
    strict = site.model_copy(update={"site": site.site.model_copy(update={"max_override_s": 1800.0}),
                                     "zones": [narrowed, *site.zones[1:]]})
    config = ZoneConfig.build(strict, narrowed, 0.0)
    runner = ZoneRunner(config, zone_runner(strict).run)
    runner.run.drivers = {a.id: make_driver(strict, config.kinds[a.id], a) for a in narrowed.actuators}

    def state_at(when: datetime) -> StateMessage:
        runner.run.setpoints_at = -math.inf
        refresh_setpoints(runner, when, strict.site, TZ, lambda *a, **kw: None)
        return state_message(runner, "gyeongbuk-demo", {}, when)

    state = state_at(NOW)
    assert state.envelope["air_temperature"] == (8.0, 18.0), "the recipe's 5..20 within the hard limits 8..18"
    assert state.envelope["co2"] == (400.0, 800.0) and state.max_override_s == 1800.0
    recipe = runner.run.recipe.recipe  # type: ignore[union-attr]
    assert state.recipe is not None and state.recipe.name_ko == recipe.recipe.name_ko != ""
    assert state.recipe.name_en == recipe.recipe.name_en and state.recipe.day == 128  # 2025-09-10 -> 2026-01-16
    assert recipe.stages[stage_index_for(recipe, state.recipe.day)].name == state.recipe.stage
    planting_noon = datetime(2025, 9, 10, 3, 0, tzinfo=UTC)
    first = state_at(planting_noon).recipe
    assert first is not None and (first.day, first.stage) == (0, recipe.stages[0].name), "0 on the planting day"
    before = state_at(planting_noon - timedelta(days=1)).recipe
    assert before is not None and before.day is UNSET, "before planting there is no day to tell"
