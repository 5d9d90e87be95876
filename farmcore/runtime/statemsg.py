"""The retained `state` of a zone as the daemon publishes it (DESIGN.md § MQTT; the typed message is
farmcore/link/payloads.py `StateMessage`), built from its running state every time it is published."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from farmcore.link.commands import tenant_envelope
from farmcore.link.messages import iso
from farmcore.link.payloads import UNSET, ActuatorEntry, OverrideEntry, RecipeRef, SetpointEntry, StateMessage
from farmcore.runtime.actuators import RetractableDriver
from farmcore.runtime.readings import reading_entries
from farmcore.runtime.safety import Tracked
from farmcore.runtime.zone import ZoneRunner


def state_message(runner: ZoneRunner, site_id: str, weather: Mapping[str, Tracked], now: datetime) -> StateMessage:
    """Readings with unit and quality, setpoints with their source, actuators with target, source, reason and
    feedback, mode, recipe (names, day since planting), overrides, and what a tenant may set now (the envelope
    the command desk judges by, the longest override it accepts), so the portal checks before it sends."""
    config, run = runner.config, runner.run
    now_s = now.timestamp()
    actuators: dict[str, ActuatorEntry] = {}
    sources = set()
    for act in runner.zone.actuators:
        decision = run.decisions.get(act.id)
        driver = run.drivers[act.id]
        feedback = run.feedback.get(act.id)
        if decision is not None:
            sources.add(decision.source)
        actuators[act.id] = ActuatorEntry(
            role=act.role, kind=config.kinds[act.id], target=driver.target,
            source=UNSET if decision is None else decision.source,  # type: ignore[arg-type]
            reason=UNSET if decision is None else decision.reason[:200],
            position=driver.estimate(now_s) if isinstance(driver, RetractableDriver) else UNSET,
            feedback=UNSET if feedback is None else feedback.status_name or feedback.status,
            failed=driver.failed)
    recipe = run.recipe.recipe.recipe if run.recipe else None
    return StateMessage(
        time=iso(now), site=site_id, zone=runner.zone.id, kind=runner.zone.kind,
        mode="safety" if "safety" in sources else "override" if run.overrides else "auto",
        recipe=None if recipe is None else RecipeRef(
            id=recipe.id, version=recipe.version, stage=run.stage, period=run.period, name_ko=recipe.name_ko,
            name_en=recipe.name_en, day=UNSET if run.day is None else run.day),
        readings=reading_entries(run.tracks, run.bad, run.units, config.stale_after, config.fused, now_s),
        weather={q: t.value for q, t in weather.items()},
        setpoints={q: SetpointEntry(value=v, source="tenant" if q in run.tenant else "recipe")
                   for q, v in run.setpoints.items()},
        actuators=actuators,
        overrides={a: OverrideEntry(value=o.target, until=iso(datetime.fromtimestamp(o.expires_at, UTC)),
                                    by=o.issued_by, reason=o.reason) for a, o in run.overrides.items()},
        alarms=run.alarm_count,
        envelope=tenant_envelope(run.recipe.recipe.envelope, runner.zone.hard_limits) if run.recipe else {},
        max_override_s=config.max_override_s)
