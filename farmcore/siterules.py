"""The cross-field rules of a site file, checked on every load (the daemon's start, a reload, `site check`).

The schema (farmcore/site.py) checks each field alone; these rules check what fields say about each other:
every bus, node, unit and zone a field names exists, once; every output has one owner; hard limits name
quantities the zone has; redundant sensors are named; a dead-man actuator is not also meant to stay on;
what the daemon needs at start (time zone, GPIO). Each failure is one line naming the file and the field.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from farmcore.errors import BadInput, ConfigError
from farmcore.fieldbus.profile import builtin_profiles
from farmcore.fieldbus.url import parse_bus_url
from farmcore.gpio import FACTORIES
from farmcore.recipe.schema import QUANTITIES
from farmcore.site import (
    RETRACTABLE_STATES,
    ROLES,
    SENSOR_CODES,
    SWITCH_STATES,
    ActuatorDef,
    NodeDef,
    SiteFile,
    ZoneDef,
)

# Roles that only work on one kind of output: a mixing valve is positioned (a motor with a travel time), a
# boiler and a water curtain's pump are switched. (The older roles keep their looser mapping: sites in the field
# drive vents through vendor relays.)
ROLE_KIND = {"mixing_valve": "retractable", "boiler": "switch", "water_curtain": "switch"}


def check_site(site: SiteFile, file: str) -> None:
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
        _check_readings(zone, where, fail)
        if zone.frost_guard is not None and zone.kind != "greenhouse":
            raise fail(f"{where}.frost_guard", "only a greenhouse zone has a frost guard")
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
            if (need := ROLE_KIND.get(act.role)) is not None and kind != need:
                raise fail(f"{where}.actuators[{a}].slot", f"a {act.role} needs a {need} output; slot {act.slot} "
                                f"of {profile.id} is a {kind}")
            if act.role == "mixing_valve" and not any(s.quantity == "pipe_temperature" for s in zone.sensors):
                raise fail(f"{where}.actuators[{a}].role", "a mixing_valve is steered by the pipe temperature: "
                                "the zone needs a pipe_temperature sensor")
            allowed = SWITCH_STATES if kind in ("switch", "nutrient") else RETRACTABLE_STATES
            for name, state in zip(("failsafe", "start_state", "stop_state"), act.states(), strict=True):
                if state not in allowed:
                    raise fail(f"{where}.actuators[{a}].{name}",
                               f"{state!r} is not a {kind} state; allowed: {', '.join(sorted(allowed))}")
            _check_dead_man(act, kind, site.runtime.tick_s, f"{where}.actuators[{a}]", fail)
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


def _check_readings(zone: ZoneDef, where: str, fail: Callable[[str, str], ConfigError]) -> None:
    """Every reading of a zone has its own name. Two sensors of one quantity (a second air sensor) each need an
    `id`, other than the quantity, which names their combination (the median of the good ones)."""
    names: dict[str, int] = {}
    for e, sensor in enumerate(zone.sensors):
        if sensor.key in names:
            hint = ("; two sensors of one quantity each need an `id` (e.g. "
                    f"{sensor.quantity}_north): the zone then uses the median of the good ones as {sensor.quantity}"
                    if sensor.id is None else "")
            raise fail(f"{where}.sensors[{e}].id", f"reading {sensor.key!r} is already sensors[{names[sensor.key]}] "
                                                   f"of this zone{hint}")
        names[sensor.key] = e
    for e, sensor in enumerate(zone.sensors):
        if sensor.id is not None and sensor.id in {s.quantity for s in zone.sensors if s.source is None} \
                and sensor.id != sensor.quantity:
            raise fail(f"{where}.sensors[{e}].id", f"{sensor.id!r} names another quantity of this zone")
        redundant = [s for s in zone.sensors if s.quantity == sensor.quantity and s.source is None]
        if len(redundant) > 1 and sensor.source is None and sensor.id in (None, sensor.quantity):
            raise fail(f"{where}.sensors[{e}].id", f"{len(redundant)} {sensor.quantity} sensors: give each an `id` "
                                                   f"other than {sensor.quantity!r} (e.g. {sensor.quantity}_north); "
                                                   f"the zone uses the median of the good ones as {sensor.quantity}")


def _check_dead_man(act: ActuatorDef, kind: str, tick_s: float, where: str,
                    fail: Callable[[str, str], ConfigError]) -> None:
    """A leased ON ends by itself when the daemon dies: only a switch can be leased, not one that is meant to
    stay on when the daemon is gone (its failsafe or stop state `on`), and never for less than two ticks (one
    late tick would drop it)."""
    if act.dead_man:
        if kind != "switch":
            raise fail(f"{where}.dead_man", f"only a switch can run on a dead-man lease; {act.id!r} is a {kind}")
        failsafe, _start, stop = act.states()
        if "on" in (failsafe, stop):
            raise fail(f"{where}.dead_man", f"{act.id!r} is meant to stay on without the daemon (failsafe "
                                            f"{failsafe}, stop state {stop}), which a dead-man lease would end: "
                                            "choose one")
    lease = act.lease_s(tick_s) if kind == "switch" else None
    if lease is not None and lease < 2 * tick_s:
        raise fail(f"{where}.dead_man_s", f"{lease:g} s is shorter than two ticks ({2 * tick_s:g} s at tick_s "
                                          f"{tick_s:g}): one late tick would switch {act.id!r} off")


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
