"""Site files: the buses, the Modbus nodes on them, and the zones (greenhouses, tanks) they serve.

A site file says which bus, unit and slot carries each quantity and actuator of a zone. The daemons read
their zones through it; the twin serves the same file as simulated nodes, so the daemon and its plant
always agree on the wiring. Validation errors name the file and the field.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, model_validator

from farmcore.datafile import StrictFile, parse_checked, read_text
from farmcore.errors import BadInput, ConfigError
from farmcore.fieldbus.profile import builtin_profiles
from farmcore.fieldbus.url import parse_bus_url
from farmcore.gpio import FACTORIES
from farmcore.recipe.schema import QUANTITIES

ZoneKind = Literal["greenhouse", "tank"]

# What an actuator does to the plant, by zone kind (the twin moves its physics from these roles; the
# daemons choose their strategies by them).
ROLES: dict[str, frozenset[str]] = {
    "greenhouse": frozenset({"heater", "roof_vent", "side_vent", "thermal_screen", "shade_screen",
                             "co2_valve", "irrigation_pump", "circulation_fan", "lamps", "fertigation"}),
    "tank": frozenset({"aerator", "o2_valve", "heater", "chiller", "exchange_pump", "feeder"}),
}

# KS X 3267 device code for a quantity on a sensor node (Annex A.1.2); a tank's water temperature is read
# by a temperature sensor (code 1). The site may give `code` explicitly for anything else.
SENSOR_CODES: dict[str, int] = {
    "air_temperature": 1, "water_temperature": 1, "relative_humidity": 2, "dew_point": 3, "rain_detected": 4,
    "flow_volume": 5, "rain": 6, "solar_radiation": 7, "wind_speed": 8, "wind_direction": 9, "voltage": 10,
    "co2": 11, "ec": 12, "par": 13, "soil_moisture": 14, "soil_water_tension": 15, "ph": 16,
    "soil_temperature": 17, "weight": 18, "water_level_low": 19, "current": 22,
}


class SiteHead(StrictFile):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    timezone: str = "Asia/Seoul"


class BusDef(StrictFile):
    id: str = Field(min_length=1)
    url: str


class NodeDef(StrictFile):
    bus: str
    unit: int = Field(ge=1, le=247)
    profile: str
    name: str = ""


class Range(StrictFile):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.min < self.max:
            raise ValueError(f"min ({self.min:g}) must be below max ({self.max:g})")
        return self


class SensorDef(StrictFile):
    quantity: str = Field(min_length=1)
    unit: int = Field(ge=1, le=247)
    slot: int = Field(ge=1, le=200)
    code: int | None = Field(default=None, ge=1, le=99)
    source: str | None = None  # the twin's model output, when it differs from the quantity
    valid: Range | None = None  # plausible readings; outside is a bad reading (a dying probe's -1 or 850)
    stale_after_s: float | None = Field(default=None, gt=0)  # older than this: stale (default: the zone's)


# What an actuator does when the data it depends on is stale or the daemon starts or stops, by role,
# unless the site file says otherwise: heat, dosing, water and light off; vents, screens and valves where
# they are ("hold": a vent slammed shut in summer is as dangerous as one left open in rain, and the
# ventilation strategy's weather rules still close it on rain and wind); a fish tank's aeration and
# water exchange on (fish die within minutes without oxygen; anchors.md §5 gap 5 and §4.2).
FAILSAFE_BY_ROLE: dict[str, str] = {
    "heater": "off", "co2_valve": "off", "irrigation_pump": "off", "fertigation": "off", "lamps": "off",
    "circulation_fan": "on", "roof_vent": "hold", "side_vent": "hold", "thermal_screen": "hold",
    "shade_screen": "hold", "aerator": "on", "o2_valve": "on", "chiller": "off", "exchange_pump": "on",
    "feeder": "off",
}
ActuatorState = Literal["on", "off", "open", "close", "stop", "hold"]
SWITCH_STATES = frozenset({"on", "off", "hold"})
RETRACTABLE_STATES = frozenset({"open", "close", "stop", "hold"})


class ActuatorDef(StrictFile):
    id: str = Field(min_length=1)
    role: str
    unit: int = Field(ge=1, le=247)
    slot: int = Field(ge=1, le=200)
    travel_s: float = Field(default=60.0, gt=0)  # full travel of a retractable (the twin's node uses it)
    failsafe: ActuatorState | None = None  # on stale or bad data it depends on (default by role)
    start_state: ActuatorState | None = None  # when the daemon starts (default: the failsafe)
    stop_state: ActuatorState | None = None  # when the daemon stops (default: the failsafe)
    max_on_s: float | None = Field(default=None, gt=0)  # longest run in one go (pumps never run dry)
    facing: float | None = Field(default=None, ge=0, lt=360)  # vents: compass direction the opening faces
    feed_kg_per_min: float | None = Field(default=None, gt=0, le=100)  # feeders: delivery while running

    def states(self) -> tuple[str, str, str]:
        """(failsafe, start, stop), defaults filled in."""
        failsafe = self.failsafe or FAILSAFE_BY_ROLE.get(self.role, "off")
        return failsafe, self.start_state or failsafe, self.stop_state or failsafe


class ZoneTwin(StrictFile):
    model: str  # a parameter set of the greenhouse or tank model
    start: dict[str, float] = Field(default_factory=dict)  # initial state overrides


class Stocking(StrictFile):
    """A tank's stock as counted in: the start of the biomass estimate (sample weighings correct it)."""

    count: int = Field(gt=0)
    weight_g: float = Field(gt=0, le=100000)  # mean weight at stocking
    volume_m3: float | None = Field(default=None, gt=0)  # water volume (density figures)


class OxygenBackupDef(StrictFile):
    """A GPIO relay for a backup blower or an emergency O2 solenoid, independent of Modbus."""

    pin: int = Field(ge=0, le=40)  # BCM pin number
    active_high: bool = True
    hang_after_s: float = Field(default=30.0, gt=0, le=600)  # daemon silent this long: engage
    release_after_s: float = Field(default=300.0, ge=0, le=7200)  # DO good this long before release


class ZoneDef(StrictFile):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: ZoneKind
    name: str = ""
    bus: str
    twin: ZoneTwin | None = None
    sensors: list[SensorDef] = Field(default_factory=list)
    actuators: list[ActuatorDef] = Field(default_factory=list)
    stale_after_s: float = Field(default=30.0, gt=0)  # a reading older than this puts dependants in failsafe
    hard_limits: dict[str, Range] = Field(default_factory=dict)  # no recipe or command may set beyond these
    recipe: str | None = None  # recipe file: relative to the site file, else to the shipped recipes/ folder
    planted: date | None = None  # planting (or stocking) date: day 0 of the recipe's stages
    stocking: Stocking | None = None  # tanks: what was stocked on `planted`
    oxygen_backup: OxygenBackupDef | None = None  # tanks: the GPIO backup path


class WeatherDef(StrictFile):
    source: str = "synthetic"  # "synthetic", "synthetic:SEED" or a CSV path relative to the site file
    bus: str | None = None
    unit: int | None = Field(default=None, ge=1, le=247)
    sensors: dict[str, int] = Field(default_factory=dict)  # quantity -> slot on the weather-station node


class FaultDef(StrictFile):
    """A fault the twin injects on its own schedule (hours after the start), for reproducible scenarios."""

    at_h: float = Field(ge=0)
    duration_h: float | None = Field(default=None, gt=0)
    kind: Literal["silent", "delay", "exception", "corrupt_crc", "stuck", "drift", "need_calibration",
                  "actuator_failure"]
    bus: str | None = None
    unit: int | None = Field(default=None, ge=1, le=247)
    zone: str | None = None
    quantity: str | None = None
    actuator: str | None = None
    value: float | None = None  # delay seconds, exception code, drift per hour


class RuntimeDef(StrictFile):
    """How the site's daemon runs (all optional; defaults suit a controller box)."""

    tick_s: float = Field(default=10.0, ge=0.1, le=300)  # one read-decide-write round of every zone
    state_dir: str | None = None  # job store, OPIDs, actuator positions (default $FARMCTL_STATE_DIR or ./state)
    historian: str | None = None  # historian URL (default sqlite:///<state_dir>/history.sqlite)
    recipe_check_s: float = Field(default=60.0, ge=1, le=3600)  # the "apply the recipe state for now" job
    reload_check_s: float = Field(default=5.0, ge=0.5, le=600)  # how often site and recipe files are checked
    watchdog_pin: int | None = Field(default=None, ge=0, le=40)  # GPIO (BCM) heartbeat for a hardware watchdog
    gpio_factory: str | None = None  # gpiozero pin factory: lgpio, rpigpio, native or mock (tests, benches)
    mqtt: str | None = None  # broker URL, mqtt://USER@HOST:1883?password_file=PATH (no secret here); none: no link
    state_interval_s: float = Field(default=1.0, ge=1, le=3600)  # retained state per zone at most this often


class SiteFile(StrictFile):
    site: SiteHead
    buses: list[BusDef] = Field(min_length=1)
    nodes: list[NodeDef] = Field(default_factory=list)
    zones: list[ZoneDef] = Field(default_factory=list)
    weather: WeatherDef = WeatherDef()
    faults: list[FaultDef] = Field(default_factory=list)
    runtime: RuntimeDef = RuntimeDef()


def _check_references(site: SiteFile, file: str) -> None:
    """Cross-field rules: every bus, node, unit and zone a field names exists, once."""

    def fail(field: str, message: str) -> ConfigError:
        return ConfigError(file, field, message)

    buses = {b.id for b in site.buses}
    if len(buses) != len(site.buses):
        raise fail("buses", "bus ids must be unique")
    for n, bus in enumerate(site.buses):
        try:
            parse_bus_url(bus.url)
        except BadInput as exc:
            raise fail(f"buses[{n}].url", str(exc)) from None
    nodes: dict[tuple[str, int], NodeDef] = {}
    for n, node in enumerate(site.nodes):
        if node.bus not in buses:
            raise fail(f"nodes[{n}].bus", f"no bus {node.bus!r}; buses: {', '.join(sorted(buses))}")
        if (node.bus, node.unit) in nodes:
            raise fail(f"nodes[{n}].unit", f"unit {node.unit} is already used on bus {node.bus!r}")
        if node.profile not in builtin_profiles():
            raise fail(f"nodes[{n}].profile", f"unknown profile {node.profile!r}; shipped: "
                            f"{', '.join(sorted(builtin_profiles()))}")
        nodes[(node.bus, node.unit)] = node
    zones = set()
    owners: dict[tuple[str, int, int], str] = {}  # an output's (bus, unit, slot) -> the actuator driving it
    for z, zone in enumerate(site.zones):
        where = f"zones[{z}]"
        if zone.id in zones:
            raise fail(f"{where}.id", f"zone {zone.id!r} appears twice")
        zones.add(zone.id)
        if zone.bus not in buses:
            raise fail(f"{where}.bus", f"no bus {zone.bus!r}; buses: {', '.join(sorted(buses))}")
        _check_limits(zone, where, fail)
        _check_owners(zone, where, owners, fail)
        used: set[tuple[int, int]] = set()
        for kind, entries in (("sensors", zone.sensors), ("actuators", zone.actuators)):
            for e, entry in enumerate(entries):
                if (zone.bus, entry.unit) not in nodes:
                    raise fail(f"{where}.{kind}[{e}].unit",
                                    f"no node with unit {entry.unit} on bus {zone.bus!r} under [[nodes]]")
                if (entry.unit, entry.slot) in used:
                    raise fail(f"{where}.{kind}[{e}].slot",
                                    f"unit {entry.unit} slot {entry.slot} is already mapped in this zone")
                used.add((entry.unit, entry.slot))
        for e, sensor in enumerate(zone.sensors):
            profile = builtin_profiles()[nodes[(zone.bus, sensor.unit)].profile]
            at = f"{where}.sensors[{e}]"
            if profile.kind == "vendor":
                if not any(p.slot == sensor.slot for p in profile.points):
                    raise fail(f"{at}.slot", f"{profile.id} has no point in slot {sensor.slot}")
            elif profile.slot(sensor.slot) is None or profile.slot(sensor.slot).kind != "sensor":
                raise fail(f"{at}.slot", f"slot {sensor.slot} of {profile.id} is not a sensor slot")
            elif sensor.code is None and sensor.quantity not in SENSOR_CODES:
                raise fail(f"{at}.code", f"no KS device code is known for {sensor.quantity!r}; give `code`")
        for a, act in enumerate(zone.actuators):
            profile = builtin_profiles()[nodes[(zone.bus, act.unit)].profile]
            slot = profile.slot(act.slot)
            is_actuator = (slot is not None and slot.kind != "sensor") or any(
                x.slot == act.slot for x in profile.actuators)
            if not is_actuator:
                raise fail(f"{where}.actuators[{a}].slot",
                           f"slot {act.slot} of {profile.id} is not an actuator")
            if act.role not in ROLES[zone.kind]:
                raise fail(f"{where}.actuators[{a}].role", f"{act.role!r} is not a {zone.kind} role; "
                                f"allowed: {', '.join(sorted(ROLES[zone.kind]))}")
            emulated = [x.kind for x in profile.actuators if x.slot == act.slot]  # vendor relay outputs
            kind = slot.kind if slot is not None else emulated[0]
            allowed = SWITCH_STATES if kind in ("switch", "nutrient") else RETRACTABLE_STATES
            for name, state in zip(("failsafe", "start_state", "stop_state"), act.states(), strict=True):
                if state not in allowed:
                    raise fail(f"{where}.actuators[{a}].{name}",
                               f"{state!r} is not a {kind} state; allowed: {', '.join(sorted(allowed))}")
    weather = site.weather
    if weather.bus is not None and weather.bus not in buses:
        raise fail("weather.bus", f"no bus {weather.bus!r}; buses: {', '.join(sorted(buses))}")
    if weather.unit is not None and weather.bus is None:
        raise fail("weather.bus", f"the weather station at unit {weather.unit} needs its `bus`; buses: "
                                  f"{', '.join(sorted(buses))}")
    if weather.unit is not None and (weather.bus, weather.unit) not in nodes:
        raise fail("weather.unit", f"no node with unit {weather.unit} on bus {weather.bus!r} under [[nodes]]")
    if weather.sensors and weather.unit is None:
        raise fail("weather.sensors", "the station's sensors need its `bus` and `unit`")
    for f, fault in enumerate(site.faults):
        if fault.zone is not None and fault.zone not in zones:
            raise fail(f"faults[{f}].zone", f"no zone {fault.zone!r}; zones: {', '.join(sorted(zones)) or 'none'}")
        if fault.bus is not None and fault.bus not in buses:
            raise fail(f"faults[{f}].bus", f"no bus {fault.bus!r}; buses: {', '.join(sorted(buses))}")
    _check_runtime(site, fail)


def _check_limits(zone: ZoneDef, where: str, fail: Callable[[str, str], ConfigError]) -> None:
    """A hard limit on a name the zone neither measures nor sets is no limit at all (a typo such as
    `air_temprature` would leave the zone unguarded), so every name must be one of those."""
    allowed = sorted({q for q, spec in QUANTITIES.items() if zone.kind in spec.kinds}
                     | {s.quantity for s in zone.sensors})
    for quantity in zone.hard_limits:
        if quantity not in allowed:
            raise fail(f"{where}.hard_limits.{quantity}",
                       f"not a quantity this {zone.kind} zone measures or has a setpoint for; allowed: "
                       f"{', '.join(allowed)}")


def _check_owners(zone: ZoneDef, where: str, owners: dict[tuple[str, int, int], str],
                  fail: Callable[[str, str], ConfigError]) -> None:
    """Actuator ids are unique in a zone (commands, alarms and history name them), and an output has exactly one
    owner on the whole site: two zones driving one relay would fight over it, each undoing the other's safety."""
    ids: set[str] = set()
    for a, act in enumerate(zone.actuators):
        if act.id in ids:
            raise fail(f"{where}.actuators[{a}].id", f"{act.id!r} is used by another actuator of zone {zone.id!r}; "
                                                     "actuator ids are unique in a zone")
        ids.add(act.id)
        key = (zone.bus, act.unit, act.slot)
        if key in owners:
            raise fail(f"{where}.actuators[{a}].slot",
                       f"bus {zone.bus!r} unit {act.unit} slot {act.slot} is already driven by {owners[key]}; an "
                       "output has one owner (one zone, one actuator)")
        owners[key] = f"actuator {act.id!r} of zone {zone.id!r}"


def _check_runtime(site: SiteFile, fail: Callable[[str, str], ConfigError]) -> None:
    """What the daemon needs at start: a real time zone, a known GPIO pin factory, one relay per GPIO pin."""
    problem = timezone_problem(site.site.timezone)
    if problem is not None:
        raise fail("site.timezone", problem)
    rt = site.runtime
    if rt.gpio_factory is not None and rt.gpio_factory.strip().lower() not in FACTORIES:
        raise fail("runtime.gpio_factory", f"unknown GPIO pin factory {rt.gpio_factory!r}; allowed: "
                                           f"{', '.join(FACTORIES)}")
    pins: dict[int, str] = {} if rt.watchdog_pin is None else {rt.watchdog_pin: "runtime.watchdog_pin"}
    for z, zone in enumerate(site.zones):
        if zone.oxygen_backup is None:
            continue
        pin, field = zone.oxygen_backup.pin, f"zones[{z}].oxygen_backup.pin"
        if pin in pins:
            raise fail(field, f"GPIO{pin} is already {pins[pin]}; each relay needs its own pin")
        pins[pin] = field


def timezone_problem(name: str) -> str | None:
    """Why `name` is not a time zone this machine knows (None when it is), with the closest known name."""
    try:
        ZoneInfo(name)
        return None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(name, available_timezones(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown time zone {name!r}: an IANA name such as 'Asia/Seoul'{hint}"


def shared_sensors(site: SiteFile) -> list[str]:
    """Sensor slots read by more than one zone (or a zone and the weather station). Allowed, since one probe can
    serve two zones (a shared nutrient tank, a shared sump), but usually a copy-and-paste slip: `site check`
    names them."""
    readers: dict[tuple[str, int, int], list[str]] = {}
    weather = site.weather
    if weather.bus is not None and weather.unit is not None:
        for quantity, slot in weather.sensors.items():
            readers.setdefault((weather.bus, weather.unit, slot), []).append(f"the weather station ({quantity})")
    for zone in site.zones:
        for sensor in zone.sensors:
            readers.setdefault((zone.bus, sensor.unit, sensor.slot), []).append(
                f"zone {zone.id!r} ({sensor.quantity})")
    return [f"bus {bus!r} unit {unit} slot {slot} is read by {' and '.join(who)}"
            for (bus, unit, slot), who in readers.items() if len(who) > 1]


def actuator_kind(site: SiteFile, zone: ZoneDef, act: ActuatorDef) -> str:
    """switch, retractable or nutrient: from the slot of its node's profile (a vendor relay board's emulated
    outputs included). The site file was checked on load, so the node and the slot exist."""
    node = next(n for n in site.nodes if n.bus == zone.bus and n.unit == act.unit)
    profile = builtin_profiles()[node.profile]
    slot = profile.slot(act.slot)
    if slot is not None:
        return slot.kind
    return next(a.kind for a in profile.actuators if a.slot == act.slot)


def sensor_code(sensor: SensorDef) -> int:
    """The KS device code a sensor mapping stands for (given, or by its quantity)."""
    return sensor.code or SENSOR_CODES[sensor.quantity]


def parse_site(text: str, file: str) -> SiteFile:
    return parse_checked(SiteFile, text, file, _check_references)


def load_site(path: str | Path) -> SiteFile:
    return parse_site(read_text(path), str(path))
