"""What a zone controller sees and returns each tick: plain data, so strategies stay pure and testable.

The runtime reads the field bus, judges every reading (good, stale, bad), asks the recipe for the
setpoints in force and hands the controller a `TickInput`. The controller answers with one `Decision` per
actuator it wants to drive (targets: `bool` for switches and nutrient supplies, position 0-100 % for
retractables) plus timed runs and supply parameters. Safety (stale data -> failsafe, hard limits,
interlocks) and manual overrides are applied by the runtime afterwards; the controller knows none of it,
except that it may offer a degraded mode for actuators whose inputs are bad (`fallbacks`), which safety
then uses instead of the failsafe state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from farmcore.control.arbitration import Decision
from farmcore.site import ZoneDef

ActuatorKind = Literal["switch", "retractable", "nutrient"]


@dataclass(frozen=True, slots=True)
class ActuatorView:
    """One actuator as the controller may know it."""

    id: str
    role: str
    kind: ActuatorKind
    target: bool | float | None  # what was last commanded (None: not yet known, e.g. at start)
    position: float | None = None  # retractables: estimated position 0-100 % (None: unknown)
    facing: float | None = None  # vents: compass direction the opening faces, degrees (None: not given)
    failed: bool = False  # feedback says it does not do what it is told
    feed_kg_per_min: float | None = None  # feeders: delivery while running (site file)


@dataclass(frozen=True, slots=True)
class Request:
    """Something asked of the zone since the last tick: a scheduled meal, a tenant's feed-now or weighing."""

    kind: str  # "meal" | "feed_now" | "weighing"
    value: float | None = None  # feed_now: kg (None: the meal's ration); weighing: mean weight in g
    by: str = ""  # "scheduler", a user name


@dataclass(frozen=True, slots=True)
class TickInput:
    now_s: float  # seconds, the UTC epoch time of this tick (simulated in the twin); persisted timers use it
    utc: datetime  # aware, UTC
    local: datetime  # aware, the site's time zone
    dt_s: float  # seconds since the previous tick (0 on the first)
    readings: dict[str, float]  # the zone's good readings by quantity
    bad: dict[str, str]  # quantity -> why it is missing (stale, comm_error, out of range, sensor status)
    weather: dict[str, float]  # outside: air_temperature, relative_humidity, solar_radiation, wind_speed,
    #                           wind_direction, rain_detected (only good readings)
    setpoints: dict[str, float]  # recipe values in force (tenant adjustments applied), by quantity
    strategy: dict[str, dict[str, Any]]  # the recipe's strategy tables for the current stage
    sun: tuple[datetime, datetime]  # today's (sunrise, sunset), local
    actuators: dict[str, ActuatorView]
    stage: str = ""
    requests: tuple[Request, ...] = ()
    # outside quantities' last good value and its age in seconds, also when no longer good (a degraded mode may
    # go on with a recent one)
    weather_held: dict[str, tuple[float, float]] = field(default_factory=dict)
    weather_low_24h: dict[str, float] = field(default_factory=dict)  # lowest good outside values of the last day
    zone: ZoneDef | None = None  # the zone's site settings as they are now (a reload changes them)

    @property
    def is_day(self) -> bool:
        return self.sun[0] <= self.local < self.sun[1]


@dataclass
class TickOutput:
    decisions: dict[str, Decision] = field(default_factory=dict)  # by actuator id
    run_s: dict[str, float] = field(default_factory=dict)  # switch/nutrient turned on now: run this long
    params: dict[str, dict[str, float]] = field(default_factory=dict)  # nutrient supply: {"EC":, "pH":}
    trace: dict[str, float] = field(default_factory=dict)  # internal figures worth logging (radiation sum ...)
    events: list[str] = field(default_factory=list)  # things worth an event record ("irrigation started: ...")
    # the setpoints the strategies work to now, by quantity, where they move or derive the recipe's (temperature
    # integration lowers the heating setpoint, a VPD becomes an RH limit): what a farmer sees as "in force"
    setpoints: dict[str, float] = field(default_factory=dict)
    # a degraded mode: decisions for actuators whose inputs are bad, which the runtime's safety takes instead of
    # the plain failsafe state (a greenhouse without an inside temperature heats by the outside one rather than
    # switching its heater off on a frost night); `fallback_mode` names it for the zone's alarm
    fallbacks: dict[str, Decision] = field(default_factory=dict)
    fallback_mode: str = ""
    fallback_note: str = ""  # why the degraded mode cannot act although it should (the alarm says so)
    # actuators the controller has stopped for safety, by id -> why ("EC 4.6 > 4 dS/m"): a nutrient supply out of
    # its safe band. The zone's `controller_stop:<id>` alarm is raised while a tick reports it, cleared when
    # a tick no longer does; the actuator's decision (off) says the same in its reason
    stops: dict[str, str] = field(default_factory=dict)


class ZoneController(Protocol):
    """A zone's strategies. `state()`/`restore()` carry what must survive a restart (sums, timers)."""

    def tick(self, inp: TickInput) -> TickOutput: ...

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


ControllerFactory = Callable[[ZoneDef], ZoneController]  # what a `farmcore.controllers` entry point names
