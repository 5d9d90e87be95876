"""Site files: the buses, the Modbus nodes on them, and the zones (greenhouses, tanks) they serve.

A site file says which bus, unit and slot carries each quantity and actuator of a zone. The daemons read
their zones through it; the twin serves the same file as simulated nodes, so the daemon and its plant
always agree on the wiring. Validation errors name the file and the field.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from farmcore.datafile import StrictFile, parse_checked, read_text
from farmcore.fieldbus.profile import builtin_profiles
from farmcore.sitehead import SiteHead

ZoneKind = Literal["greenhouse", "tank"]

# What an actuator does to the plant, by zone kind (the twin moves its physics from these roles; the
# daemons choose their strategies by them).
ROLES: dict[str, frozenset[str]] = {
    "greenhouse": frozenset({"heater", "roof_vent", "side_vent", "thermal_screen", "shade_screen",
                             "co2_valve", "irrigation_pump", "circulation_fan", "lamps", "fertigation",
                             # a hot-water heating loop: the boiler (or heat pump) and its three-way mixing valve
                             # (a retractable: % of boiler water mixed into the pipes); the water curtain's pump
                             "boiler", "mixing_valve", "water_curtain"}),
    "tank": frozenset({"aerator", "o2_valve", "heater", "chiller", "exchange_pump", "feeder"}),
}

# KS X 3267 device code for a quantity on a sensor node (Annex A.1.2); a tank's water temperature is read
# by a temperature sensor (code 1). The site may give `code` explicitly for anything else.
SENSOR_CODES: dict[str, int] = {
    "air_temperature": 1, "water_temperature": 1, "relative_humidity": 2, "dew_point": 3, "rain_detected": 4,
    "flow_volume": 5, "rain": 6, "solar_radiation": 7, "wind_speed": 8, "wind_direction": 9, "voltage": 10,
    "co2": 11, "ec": 12, "par": 13, "soil_moisture": 14, "soil_water_tension": 15, "ph": 16,
    "soil_temperature": 17, "weight": 18, "water_level_low": 19, "current": 22,
    # temperatures of the heating pipes' water, of the leaves (an infrared leaf sensor) and of the water
    # curtain's groundwater are read by temperature sensors too
    "pipe_temperature": 1, "leaf_temperature": 1, "groundwater_temperature": 1,
}


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
    # the reading's own name, needed when a zone has two sensors of one quantity (they are then combined: the
    # median of the good ones, or the good one, is the zone's `quantity`)
    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_]*$")
    resolution: float | None = Field(default=None, gt=0)  # smallest step it reports (stuck-sensor watch)
    stuck_after_s: float | None = Field(default=None, ge=0)  # flat longer than this: stuck alarm (0: not watched)

    @property
    def key(self) -> str:
        """Its reading's name in the zone: `id`, else `source` (three aerator currents are three readings of one
        quantity), else the quantity."""
        return self.id or self.source or self.quantity


# What an actuator does when the data it depends on is stale or the daemon starts or stops, by role,
# unless the site file says otherwise: heat, dosing, water and light off; vents, screens and valves where
# they are ("hold": a vent slammed shut in summer is as dangerous as one left open in rain, and the
# ventilation strategy's weather rules still close it on rain and wind); a fish tank's aeration and
# water exchange on (fish die within minutes without oxygen; anchors.md §5 gap 5 and §4.2).
FAILSAFE_BY_ROLE: dict[str, str] = {
    "heater": "off", "co2_valve": "off", "irrigation_pump": "off", "fertigation": "off", "lamps": "off",
    "circulation_fan": "on", "roof_vent": "hold", "side_vent": "hold", "thermal_screen": "hold",
    "shade_screen": "hold", "aerator": "on", "o2_valve": "on", "chiller": "off", "exchange_pump": "on",
    "feeder": "off", "boiler": "off", "mixing_valve": "hold", "water_curtain": "hold",
}
# Roles whose ON goes out, by default, as a KS X 3267 timed run renewed every tick (`dead_man`): a node whose
# daemon died switches them off by itself. Heat, CO2 and irrigation left on for hours cook, gas or drown a crop;
# a tank's aeration, oxygen and water exchange must stay on (their failsafe is on), so never by default.
DEAD_MAN_ROLES = frozenset({"heater", "co2_valve", "irrigation_pump", "chiller", "boiler"})
DEAD_MAN_TICKS = 3  # [engineering choice] a lease of three ticks: one late tick never drops a heater
DEAD_MAN_MIN_S = 30.0  # [engineering choice] ... and at least 30 s, which a daemon restart fits in
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
    dead_man: bool | None = None  # ON as a timed run renewed every tick (default: by role, DEAD_MAN_ROLES)
    dead_man_s: float | None = Field(default=None, ge=2, le=3600)  # its length (default 3 ticks, at least 30 s)

    def states(self) -> tuple[str, str, str]:
        """(failsafe, start, stop), defaults filled in."""
        failsafe = self.failsafe or FAILSAFE_BY_ROLE.get(self.role, "off")
        return failsafe, self.start_state or failsafe, self.stop_state or failsafe

    def lease_s(self, tick_s: float) -> float | None:
        """The dead-man run length when ON is leased, else None. By default by role, except for an actuator
        the site means to stay on without the daemon (failsafe or stop state `on`)."""
        failsafe, _start, stop = self.states()
        by_default = self.role in DEAD_MAN_ROLES and "on" not in (failsafe, stop)
        if not (by_default if self.dead_man is None else self.dead_man):
            return None
        return self.dead_man_s or max(DEAD_MAN_TICKS * tick_s, DEAD_MAN_MIN_S)


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


# [engineering choice] heater duty against the outside temperature that keeps a greenhouse near 8 degC with no
# inside reading: heat loss is U*A*(T_in - T_out) and a heater is sized for about 30 K (18 degC inside at
# -12 degC outside), so the duty is about (8 - T_out) / 30, here with a fifth more for safety.
FROST_DUTY = ((-15.0, 100.0), (-10.0, 75.0), (-5.0, 55.0), (0.0, 35.0), (5.0, 15.0), (10.0, 0.0))


class FrostGuardDef(StrictFile):
    """A greenhouse without any good inside air temperature: heat by the outside temperature, vents shut."""

    enabled: bool = True
    below_outside: float = Field(default=10.0, ge=-20, le=30)  # only while the outside is colder (degC)
    duty: list[list[float]] = Field(default_factory=lambda: [list(p) for p in FROST_DUTY])  # [outside degC, duty %]
    period_s: float = Field(default=600.0, ge=60, le=3600)  # the heater's on/off cycle at that duty
    outside_max_age_s: float = Field(default=3600.0, gt=0)  # older: at night the lowest of the last 24 h

    @model_validator(mode="after")
    def _curve(self) -> FrostGuardDef:
        if any(len(point) != 2 for point in self.duty):
            raise ValueError("duty: points are [outside degC, heater duty %]")
        temps = [t for t, _d in self.duty]
        if len(temps) < 2 or temps != sorted(set(temps)):
            raise ValueError("duty: at least two (outside degC, duty %) points, outside temperatures ascending")
        if any(not 0 <= d <= 100 for _t, d in self.duty):
            raise ValueError("duty: duties are 0 to 100 %")
        return self


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
    frost_guard: FrostGuardDef | None = None  # greenhouses: heating without an inside reading (default: on)


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
    from farmcore.siterules import check_site  # the cross-field rules need this schema: they live apart

    return parse_checked(SiteFile, text, file, check_site)


def load_site(path: str | Path) -> SiteFile:
    return parse_site(read_text(path), str(path))
