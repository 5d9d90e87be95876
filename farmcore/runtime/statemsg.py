"""The retained `state` of a zone as the daemon publishes it (DESIGN.md § MQTT), built from its running state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from farmcore.link.messages import iso
from farmcore.runtime.actuators import RetractableDriver
from farmcore.runtime.readings import reading_entries
from farmcore.runtime.safety import Tracked
from farmcore.runtime.zone import ZoneRunner


def state_payload(runner: ZoneRunner, site_id: str, weather: Mapping[str, Tracked], now: datetime) -> dict[str, Any]:
    """Readings with unit and quality, setpoints with their source, actuators with target, source, reason and
    feedback, mode, recipe, overrides."""
    config, run = runner.config, runner.run
    now_s = now.timestamp()
    readings = reading_entries(run.tracks, run.bad, run.units, config.stale_after, config.fused, now_s)
    actuators: dict[str, Any] = {}
    sources = set()
    kinds, decisions = config.kinds, run.decisions
    for act in runner.zone.actuators:
        decision = decisions.get(act.id)
        driver = run.drivers[act.id]
        entry = {"role": act.role, "kind": kinds[act.id], "target": driver.target}
        if decision is not None:
            entry["source"], entry["reason"] = decision.source, decision.reason[:200]
            sources.add(decision.source)
        if isinstance(driver, RetractableDriver):
            entry["position"] = driver.estimate(now_s)
        feedback = run.feedback.get(act.id)
        if feedback is not None:
            entry["feedback"] = feedback.status_name or feedback.status
        if driver.failed:
            entry["failed"] = True
        actuators[act.id] = entry
    recipe = run.recipe.recipe.recipe if run.recipe else None
    return {
        "time": iso(now), "site": site_id, "zone": runner.zone.id, "kind": runner.zone.kind,
        "mode": "safety" if "safety" in sources else "override" if run.overrides else "auto",
        "recipe": None if recipe is None else {"id": recipe.id, "version": recipe.version,
                                               "stage": run.stage, "period": run.period},
        "readings": readings,
        "weather": {q: t.value for q, t in weather.items()},
        "setpoints": {q: {"value": v, "source": "tenant" if q in run.tenant else "recipe"}
                      for q, v in run.setpoints.items()},
        "actuators": actuators,
        "overrides": {a: {"value": o.target, "until": iso(datetime.fromtimestamp(o.expires_at, UTC)),
                          "by": o.issued_by, "reason": o.reason} for a, o in run.overrides.items()},
        "alarms": run.alarm_count,
    }
