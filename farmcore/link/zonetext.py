"""`farmctl zone`'s words: the zone client's results as lines and JSON for a technician's terminal.

Shown from the JSON as published, not only the typed message, so a state of another version or shape (an
older daemon, a stand-in) still shows what it can; anything that is not the expected shape is shown as clipped
text, never a crash.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from farmcore import i18n
from farmcore.link.brokerurl import BrokerUrl
from farmcore.link.messages import Ack, iso
from farmcore.link.zoneclient import Update, ZoneView, quote
from farmcore.textui import table

CLIP = 120
KEY_QUANTITIES = ("air_temperature", "relative_humidity", "co2", "water_temperature", "dissolved_oxygen", "ph",
                  "ec", "soil_moisture", "par", "solar_radiation", "water_level", "salinity")
KEY_READINGS = 4  # readings shown in a table cell or a watch line (--json has them all)


def clip(text: str, limit: int = CLIP) -> str:
    return quote(text, limit)


def fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{round(value, 2):g}" if math.isfinite(value) else str(value)
    return "-" if value is None else clip(str(value), 24)


def message_text(value: Any) -> str:
    """A message field that may be text or {ko, en}."""
    if isinstance(value, dict):
        value = value.get(i18n.language()) or value.get("en") or value.get("ko") or ""
    return "" if value is None else clip(str(value))


def recipe_text(state: dict[str, Any]) -> str:
    """`id@version stage` from a state's recipe (an object, or an id with version and stage beside it)."""
    recipe = state.get("recipe")
    if isinstance(recipe, dict):
        rid, version, stage = recipe.get("id"), recipe.get("version"), recipe.get("stage", state.get("stage"))
    else:
        rid, version, stage = recipe, state.get("recipe_version"), state.get("stage")
    if rid in (None, ""):
        return "-"
    label = f"{rid}@{version}" if version not in (None, "") else str(rid)
    return clip(f"{label} {stage}" if stage not in (None, "") else label, 40)


def readings(state: dict[str, Any]) -> list[tuple[str, Any, str, str | None]]:
    """(quantity, value, unit, quality) from `readings` as {q: {value, unit, quality}}, {q: value} or a list."""
    raw = state.get("readings")
    items: list[tuple[str, Any]] = []
    if isinstance(raw, dict):
        items = [(str(q), r) for q, r in raw.items()]
    elif isinstance(raw, list):
        items = [(str(r.get("quantity") or r.get("name") or "?"), r) for r in raw if isinstance(r, dict)]
    out = []
    for q, r in items:
        if isinstance(r, dict):
            quality = r.get("quality")
            out.append((q, r.get("value"), str(r.get("unit") or ""), None if quality is None else str(quality)))
        else:
            out.append((q, r, "", None))
    rank = {q: n for n, q in enumerate(KEY_QUANTITIES)}
    return sorted(out, key=lambda r: rank.get(r[0], len(rank)))


def readings_text(state: dict[str, Any], limit: int = KEY_READINGS) -> str:
    parts = []
    for q, value, unit, quality in readings(state)[:limit]:
        flag = f"({quality})" if quality not in (None, "good", "ok") else ""
        parts.append(f"{q}={fmt_value(value)}{' ' + unit if unit else ''}{flag}")
    return " ".join(parts) or "-"


def active_alarms(alarms: list[Any]) -> int:
    """Active entries (the retained list also keeps cleared but unacknowledged ones)."""
    return sum(1 for a in alarms if not isinstance(a, dict) or a.get("active", True))


def summary(leaf: str, payload: Any, is_json: bool) -> str:
    """One short line for a message of `leaf`; the raw text (clipped) when it is not the expected shape."""
    raw = clip(payload if not is_json else json.dumps(payload, ensure_ascii=False))
    if leaf == "status":
        return raw if is_json else clip(payload)
    if leaf == "alarms" and isinstance(payload, list):
        ids = [str(a.get("id")) if isinstance(a, dict) else str(a) for a in payload]
        return clip(f"{active_alarms(payload)} {i18n.t('active')} / {len(payload)}: {', '.join(ids) or '-'}")
    if not isinstance(payload, dict):
        return f"{i18n.t('raw')}: {raw}"
    if leaf == "state":
        mode = payload.get("mode")
        return clip(f"{fmt_value(mode)} {recipe_text(payload)} {readings_text(payload)}", 200)
    if leaf == "events":
        alarm = payload.get("alarm") if isinstance(payload.get("alarm"), dict) else {}
        code = payload.get("code") or payload.get("type") or payload.get("kind") or "?"
        message = message_text(payload.get("message")) or " ".join(
            x for x in (str(alarm.get("id") or ""), message_text(alarm.get("message"))) if x)
        return clip(f"{code} {message}".strip(), 200)
    if leaf == "ack":
        verdict = i18n.t("ok") if payload.get("ok") is True else f"{i18n.t('rejected')} {payload.get('error')}"
        return clip(f"{payload.get('id')} {verdict} {message_text(payload.get('message'))}".strip(), 200)
    if leaf == "cmd":
        what = " ".join(fmt_value(payload.get(k)) for k in ("target", "value") if payload.get(k) is not None)
        extra = f" {payload['duration_s']}s" if payload.get("duration_s") is not None else ""
        return clip(f"{payload.get('id')} {payload.get('kind')} {what}{extra} by {payload.get('issued_by')}", 200)
    return raw


# ------------------------------------------------------------------------------------------------ status


def view_dict(view: ZoneView) -> dict[str, Any]:
    """A zone of `zone status --json`: the published state and alarms, and notes on unreadable payloads."""
    return {"status": view.status, "state": view.raw_state, "alarms": view.raw_alarms,
            "state_age_s": view.state_age_s, "clock_ahead_s": view.clock_ahead_s,
            "notes": [p.text for p in view.problems if not p.readable]}


def status_text(site: str, broker: BrokerUrl, views: Mapping[str, ZoneView]) -> str:
    head = f"{i18n.t('site')} {site}  {i18n.t('broker')} {broker.shown}"
    if not views:
        return f"{head}\n{i18n.t('no zones seen')}"
    rows = []
    for zone, v in views.items():
        state = v.raw_state or {}
        age = v.state_age_s
        rows.append([zone, i18n.t(v.status), fmt_value(state.get("mode")), recipe_text(state),
                     "-" if age is None else f"{age:.0f}", active_alarms(v.raw_alarms), readings_text(state)])
    headers = [i18n.t(h) for h in ("zone", "status", "mode", "recipe", "state age s", "alarms", "readings")]
    notes = [f"{i18n.t('warning')}: {zone}: {p.text}" for zone, v in views.items() for p in v.problems
             if not p.readable]
    ahead = {zone: v.clock_ahead_s for zone, v in views.items() if v.clock_ahead_s is not None}
    if ahead:  # one line for the site, not one per zone
        notes.append(f"{i18n.t('warning')}: " + i18n.t("clock ahead").format(
            zones=", ".join(ahead), seconds=f"{max(ahead.values()):.0f}"))
    return "\n".join([head, table(headers, rows), *notes])


# ------------------------------------------------------------------------------------------ cmd and watch


def ack_text(ack: Ack) -> str:
    head = i18n.t("ok") if ack.ok else f"{i18n.t('rejected')}  {ack.error or '-'}"
    lines = [f"{head}  (id {ack.id})"]
    if ack.message:
        lines.append(f"{i18n.t('message')}: {message_text(ack.message)}")
    if ack.applied:
        lines.append(f"{i18n.t('applied')}: {clip(json.dumps(ack.applied, ensure_ascii=False), 300)}")
    return "\n".join(lines)


def update_dict(update: Update) -> dict[str, Any]:
    payload = update.payload if update.is_json else clip(update.payload, 4096)
    return {"topic": update.topic, "zone": update.zone, "leaf": update.leaf, "retained": update.retained,
            "time": iso(update.received), "payload": payload}


def update_line(update: Update, tz: ZoneInfo) -> str:
    local = update.received.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    mark = f" ({i18n.t('retained')})" if update.retained else ""
    return (f"{local}  {update.zone:<8} {update.leaf:<7} {summary(update.leaf, update.payload, update.is_json)}"
            f"{mark}")
