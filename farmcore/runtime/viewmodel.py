"""What the live view shows, read from a running daemon and put into words: a plain, typed snapshot.

Everything a person reads is decided here, once, for the terminal and the plain-text log alike: values rounded
to the sensor's resolution with their unit, readings against the setpoint the controller actually works to
(temperature integration lowers the heating setpoint: `ZoneRunner.in_force`), local times, on/off as words,
every retractable as % open (vents and both screens alike), reasons whole and in the reader's language.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from farmcore import i18n
from farmcore.runtime import reasontext
from farmcore.runtime.actuators import RetractableDriver
from farmcore.runtime.reasons_ko import WORDS

if TYPE_CHECKING:
    from farmcore.link.payloads import StateMessage
    from farmcore.runtime.daemon import SiteDaemon
    from farmcore.runtime.zone import ZoneRunner

# Display step per quantity: the resolution of the usual sensor of that kind (KS X 3267 nodes report float32
# with no resolution register) [engineering choice]; a quantity not listed shows one decimal.
RESOLUTION: dict[str, float] = {
    "air_temperature": 0.1, "water_temperature": 0.1, "soil_temperature": 0.1, "relative_humidity": 1.0,
    "co2": 1.0, "par": 1.0, "solar_radiation": 1.0, "soil_moisture": 1.0, "ec": 0.01, "ph": 0.01,
    "dissolved_oxygen": 0.01, "dissolved_oxygen_saturation": 1.0, "water_level": 1.0, "current": 0.1,
    "wind_speed": 0.1, "wind_direction": 1.0, "salinity": 0.1, "flow": 1.0,
}
UNIT_TEXT = {"degC": "°C", "%RH": "%", "deg": "°", "umol/m2/s": "umol/m2/s", "pH": ""}
DEFAULT_UNIT = {  # before a node has said its unit (KS X 3267 Annex A.1.2 units)
    "air_temperature": "degC", "water_temperature": "degC", "soil_temperature": "degC", "relative_humidity": "%RH",
    "co2": "ppm", "par": "umol/m2/s", "solar_radiation": "W/m2", "soil_moisture": "%", "ec": "dS/m",
    "dissolved_oxygen": "mg/L", "dissolved_oxygen_saturation": "%", "water_level": "%", "current": "A",
    "wind_speed": "m/s", "wind_direction": "deg",
}
KEY_READINGS = {"greenhouse": ("air_temperature", "relative_humidity", "co2", "soil_moisture"),
                "tank": ("water_temperature", "dissolved_oxygen", "dissolved_oxygen_saturation")}
COMPASS = {"ko": ("북", "북동", "동", "남동", "남", "남서", "서", "북서"),
           "en": ("N", "NE", "E", "SE", "S", "SW", "W", "NW")}
ALARM_EVENT = re.compile(r"^(?P<id>\S+) \((?P<severity>\w+)\): ")
HIDDEN_EVENTS = frozenset({"day_started"})  # the controllers' day sums as trace names: for the log, not the screen


@dataclass(frozen=True, slots=True)
class ReadingRow:
    key: str
    name: str
    short: str  # the name in the overview
    value: str  # rounded to the resolution; "-" when there is none
    unit: str
    in_force: str  # the setpoint worked to now, rounded ("" without one)
    recipe: str  # the recipe's (tenant-adjusted) value when the one in force differs, else ""
    quality: str  # in words
    good: bool


@dataclass(frozen=True, slots=True)
class ActuatorRow:
    id: str
    role: str
    label: str  # the role in words
    state: str  # on/off in words, "open 35 %", hold
    on: bool | None  # a switch's target (None: hold or a retractable)
    position: float | None  # a retractable's estimated % open
    source: str  # recipe | override | safety
    reason: str  # whole, in the reader's language


@dataclass(frozen=True, slots=True)
class ZoneView:
    id: str
    name: str
    kind: str
    recipe: str  # the recipe's name in the reader's language, and its label
    stage: str  # stage and period in words
    mode: str  # auto | override | safety
    held: int  # actuators decided by safety or an override
    alarms: tuple[str, ...]
    readings: tuple[ReadingRow, ...]
    key: tuple[ReadingRow, ...]  # the few the overview shows
    actuators: tuple[ActuatorRow, ...]
    overrides: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SiteView:
    title: str
    time: str
    ticks: str
    mqtt: str
    watch: str  # the command that watches the site on MQTT ("" without a broker)
    weather: str
    zones: tuple[ZoneView, ...]
    events: tuple[str, ...]  # newest last


def number(value: float, quantity: str) -> str:
    """`value` rounded to the quantity's display step, with as many decimals as the step has."""
    step = RESOLUTION.get(quantity, 0.1)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{round(value / step) * step:.{decimals}f}"


def unit_text(unit: str | None, quantity: str) -> str:
    raw = unit if unit is not None else DEFAULT_UNIT.get(quantity, "")
    return UNIT_TEXT.get(raw, raw)


def with_unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit else text


def word(value: str, lang: str) -> str:
    """A state, quality or source word in the reader's language."""
    return WORDS.get(value, value) if lang == "ko" else value.replace("_", " ")


def named(key: str, lang: str) -> str:
    """A stage, period or quantity name; the name itself when the vocabulary does not know it."""
    return i18n.t(key, lang) if key in i18n.TEXTS else key


def readings(runner: ZoneRunner, state: StateMessage, lang: str) -> tuple[ReadingRow, ...]:
    """The zone's readings as its published state has them (value, unit, quality), against the setpoint the
    controller works to (`in_force`, which the state does not carry) and the recipe's where they differ."""
    rows = []
    for key, entry in state.readings.items():
        quantity = next((s.quantity for s in runner.zone.sensors if s.key == key), key)
        unit = unit_text(entry.unit, quantity)
        value = "-" if entry.value is None else number(entry.value, quantity)
        recipe_sp = state.setpoints[key].value if key in state.setpoints else None
        sp = runner.run.in_force.get(key, recipe_sp)
        in_force = "" if sp is None else number(sp, quantity)
        recipe = "" if recipe_sp is None or in_force == number(recipe_sp, quantity) else number(recipe_sp, quantity)
        name = named(quantity, lang)
        name = name if key == quantity else f"{key.removesuffix('_' + quantity)} {name}"  # aerator_1_current
        short = i18n.t(f"short:{key}", lang) if f"short:{key}" in i18n.TEXTS else name
        rows.append(ReadingRow(key, name, short, value, unit, in_force, recipe, word(entry.quality, lang),
                               entry.quality == "good"))
    return tuple(rows)


def _state(target: object, position: float | None, lang: str) -> str:
    if position is not None or (isinstance(target, int | float) and not isinstance(target, bool)):
        shown = position if position is not None else float(target)  # type: ignore[arg-type]
        goal = "" if position is None or not isinstance(target, int | float) or abs(float(target) - position) < 1 \
            else f"->{float(target):.0f}"
        return f"{i18n.t('position', lang)} {shown:.0f}{goal} %"
    if target is None:
        return i18n.t("hold", lang)
    return i18n.t("on" if target else "off", lang)


def actuators(daemon: SiteDaemon, runner: ZoneRunner, lang: str) -> tuple[ActuatorRow, ...]:
    now = daemon.clock.now()
    rows = []
    for act in runner.zone.actuators:
        decision = runner.run.decisions.get(act.id)
        driver = runner.run.drivers.get(act.id)
        position = driver.estimate(now.timestamp()) if isinstance(driver, RetractableDriver) else None
        target = decision.target if decision is not None else (driver.target if driver is not None else None)
        override = runner.run.overrides.get(act.id)
        until = override.expires_at if override is not None else None
        reason = "" if decision is None else reasontext.reason(decision.reason, lang, tz=daemon.tz, until_s=until,
                                                                  now=now)
        on = target if isinstance(target, bool) else None
        rows.append(ActuatorRow(act.id, act.role, named(f"role:{act.role}", lang), _state(target, position, lang),
                                on, position, decision.source if decision else "safety", reason))
    return tuple(rows)


def _stage(runner: ZoneRunner, lang: str) -> str:
    if runner.run.period == "not planted":
        return i18n.t(f"not planted {runner.zone.kind}", lang)
    period = runner.run.period.rsplit(" ", 1)[-1] if "/" in runner.run.period else ""
    stage = runner.run.stage
    parts = [named(p, lang) for p in period.split("/")] if period else ([named(stage, lang)] if stage else [])
    return " / ".join(parts)


def _overrides(daemon: SiteDaemon, state: StateMessage, lang: str) -> tuple[str, ...]:
    now = daemon.clock.now()
    out = []
    for act_id, o in state.overrides.items():
        target = i18n.t("on" if o.value else "off", lang) if isinstance(o.value, bool) or o.value is None \
            else f"{i18n.t('position', lang)} {float(o.value):.0f} %"
        until_s = datetime.fromisoformat(o.until).timestamp()
        until = i18n.t("until", lang).format(t=reasontext.local_time(until_s, daemon.tz, now))
        by = f" ({o.by})" if o.by else ""
        out.append(f"{act_id}: {target}, {until}{by}: {o.reason}")
    return tuple(out)


def zone_view(daemon: SiteDaemon, runner: ZoneRunner, lang: str) -> ZoneView:
    """A zone as its published state shows it (farmcore/link/payloads.py), with what only the daemon's own
    screen has: whole reasons (the state clips them for MQTT), the setpoints in force, the recipe's names."""
    z = runner.zone
    state = daemon.state_message(runner, daemon.clock.now())
    acts = actuators(daemon, runner, lang)
    sources = {a.source for a in acts}
    mode = "safety" if "safety" in sources else "override" if state.overrides or "override" in sources else "auto"
    books = (runner.run.alarms, daemon.site_alarms)
    alarms = tuple(f"{a.severity}: {a.message_ko if lang == 'ko' else a.message_en}" for b in books
                   for a in b.active())
    head = runner.run.recipe.recipe.recipe if runner.run.recipe else None
    recipe = "-" if head is None else f"{(head.name_ko if lang == 'ko' else head.name_en) or head.id} " \
                                      f"({runner.run.recipe.recipe.label})"  # type: ignore[union-attr]
    rows = readings(runner, state, lang)
    wanted = KEY_READINGS.get(z.kind, ())
    key = tuple(r for q in wanted for r in rows if r.key == q) or rows[:3]
    return ZoneView(z.id, z.name or z.id, z.kind, recipe, _stage(runner, lang), mode,
                    sum(a.source != "recipe" for a in acts), alarms, rows, key, acts, _overrides(daemon, state, lang))


def weather(daemon: SiteDaemon, lang: str) -> str:
    w = {q: t.value for q, t in daemon.weather.items() if t.value is not None}
    parts = []
    for q in ("air_temperature", "relative_humidity", "solar_radiation", "wind_speed"):
        if q in w:
            parts.append(f"{i18n.t(f'outside:{q}', lang)} {with_unit(number(w[q], q), unit_text(None, q))}")
    if "wind_direction" in w:
        parts.append(COMPASS[lang][round(w["wind_direction"] / 45) % 8])
    if "rain_detected" in w:
        parts.append(i18n.t("rain" if w["rain_detected"] >= 0.5 else "dry", lang))
    return f"{i18n.t('outside', lang)}: {'  '.join(parts)}" if parts else ""


def event_line(daemon: SiteDaemon, record: dict[str, str], lang: str) -> str:
    at = datetime.fromisoformat(record["time"]).astimezone(daemon.tz)
    code, message = record["code"], record["message"]
    m = ALARM_EVENT.match(message)
    runner = daemon.zones.get(record["zone"])
    if m is not None and code.startswith("alarm_"):
        books = [b for b in (runner.run.alarms if runner else None, daemon.site_alarms) if b is not None]
        alarm = next((a for b in books if (a := b.get(m.group("id"))) is not None), None)
        if alarm is not None:
            message = f"{alarm.severity}: {alarm.message_ko if lang == 'ko' else alarm.message_en}"
    else:
        message = reasontext.event(message, lang)
    zone = "" if record["zone"] == "_site" else f"{record['zone']} "
    label = named(f"event:{code}", lang)
    message = message.removeprefix(label).removeprefix(": ")  # `daemon stopped` says no more than its label
    return f"{at:%H:%M:%S} {zone}{label}" + (f": {message}" if message.strip() else "")


def latest_events(daemon: SiteDaemon, lang: str, count: int) -> tuple[str, ...]:
    """The newest `count` events, oldest first; one that only repeats an earlier one (a throttled `not
    planted` a minute) replaces it instead of filling the screen."""
    lines: dict[tuple[str, str, str], str] = {}
    for record in daemon.events:
        if record["code"] in HIDDEN_EVENTS:
            continue
        text = event_line(daemon, record, lang)
        key = (record["zone"], record["code"], text.split(" ", 1)[1])
        lines.pop(key, None)
        lines[key] = text
    return tuple(lines.values())[-count:]


def snapshot(daemon: SiteDaemon, lang: str | None = None, *, events: int = 12) -> SiteView:
    """The whole site as the view shows it, now."""
    lang = lang or i18n.language()
    now = daemon.clock.now().astimezone(daemon.tz)
    site = daemon.site.site
    broker = daemon.broker
    mqtt = f"MQTT {broker.shown}" if broker is not None else ""
    watch = f"farmctl zone watch --broker {broker.shown} --site {site.id}" if broker is not None else ""
    zones = tuple(zone_view(daemon, r, lang) for r in daemon.zones.values())
    recent = latest_events(daemon, lang, events)
    return SiteView(site.name or site.id, f"{now:%Y-%m-%d %H:%M:%S %Z}",
                    i18n.t("ticks", lang).format(n=daemon.ticks), mqtt, watch, weather(daemon, lang), zones, recent)
