"""The daemon's live terminal view: per zone, readings against setpoints and every actuator with why."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from farmcore import i18n
from farmcore.textui import table

if TYPE_CHECKING:
    from farmcore.runtime.daemon import SiteDaemon

SHOWN = ("air_temperature", "relative_humidity", "co2", "soil_moisture", "par", "solar_radiation",
         "water_temperature", "dissolved_oxygen", "water_level")


def _target(value: object) -> str:
    if value is None:
        return i18n.t("hold")
    if isinstance(value, bool):
        return i18n.t("on" if value else "off")
    return f"{float(value):.0f} %"  # type: ignore[arg-type]


def render(daemon: SiteDaemon, *, events: int = 6) -> str:
    """One screen of text (no colour codes, so it can be logged or tested as it is)."""
    now = daemon.clock.now().astimezone(daemon.tz)
    out = [f"{daemon.site.site.name or daemon.site.site.id}  {now:%Y-%m-%d %H:%M:%S %Z}  tick {daemon.ticks}"]
    w = {q: t.value for q, t in daemon.weather.items() if t.value is not None}
    if w:
        out.append("outside/외부: " + ", ".join(f"{q} {v:.1f}" for q, v in sorted(w.items())))
    for zone_id, runner in daemon.zones.items():
        z = runner.zone
        label = runner.recipe.recipe.label if runner.recipe else "-"
        out.append(f"\n[{zone_id}] {z.name}  {i18n.t('recipe')} {label}  {i18n.t('stage')} {runner.stage or '-'}")
        rows = []
        for q in SHOWN:
            track = runner.tracks.get(q)
            if track is None:
                continue
            value = "-" if track.value is None else f"{track.value:.1f}"
            quality = runner.bad.get(q, "good")
            sp = runner.setpoints.get(q)
            rows.append((i18n.t(q), value, "" if sp is None else f"{sp:g}", quality[:40]))
        out.append(table((i18n.t("quantity"), i18n.t("value"), i18n.t("setpoint"), i18n.t("quality")), rows))
        rows = []
        for act in z.actuators:
            d = runner.decisions.get(act.id)
            if d is None:
                continue
            rows.append((act.id, _target(d.target), i18n.t(d.source), d.reason[:70]))
        out.append(table((i18n.t("actuator"), i18n.t("target"), i18n.t("source"), i18n.t("reason")), rows))
    recent = daemon.events[-events:]
    if recent:
        out.append(f"\n{i18n.t('events')}:")
        for e in recent:
            at = datetime.fromisoformat(e["time"]).astimezone(daemon.tz)
            out.append(f"  {at:%H:%M:%S} {e['zone']} {e['code']}: {e['message'][:90]}")
    return "\n".join(out)
