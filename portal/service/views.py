"""What the facade (`portal.py`) answers pages with: plain frozen dataclasses built from the live cache and the
store, already filtered by tenancy. Pages only lay these out; they never look anything up themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from farmcore.link.payloads import AlarmEntry, EventMessage, RecipeRef, StateMessage
from farmcore.link.zoneclient import ZoneStatus
from portal.service.model import Lease, ZoneKey

# The readings a card shows first, by zone kind (the rest follow in the state's order).
MAIN_READINGS = {
    "greenhouse": ("air_temperature", "relative_humidity", "co2", "soil_moisture", "solar_radiation", "ec", "ph"),
    "tank": ("water_temperature", "dissolved_oxygen", "ph", "salinity", "water_level", "flow"),
}


@dataclass(frozen=True)
class ReadingView:
    quantity: str
    value: float | None
    unit: str | None
    quality: str  # good, stale, comm_error, ...
    setpoint: float | None = None
    setpoint_source: str | None = None  # recipe | tenant
    envelope: tuple[float, float] | None = None  # what the tenant may set it to


@dataclass(frozen=True)
class OverrideView:
    actuator: str
    value: bool | float | None
    until: datetime
    left_s: float
    by: str
    reason: str


@dataclass(frozen=True)
class LinkHealth:
    """The portal's MQTT link: when it is down, pages show "live data unavailable since …" and disable controls."""

    connected: bool
    since: datetime | None = None  # down since (or up since)
    error: str | None = None


@dataclass(frozen=True)
class ZoneCard:
    key: ZoneKey
    kind: str  # greenhouse | tank
    name: str
    status: ZoneStatus
    age_s: float | None  # of the newest state
    readings: tuple[ReadingView, ...] = ()
    alarms: tuple[AlarmEntry, ...] = ()  # active ones
    overrides: tuple[OverrideView, ...] = ()
    recipe: RecipeRef | None = None
    lease: Lease | None = None
    can_command: bool = False  # a tenant in an active lease, the zone online and the link up


@dataclass(frozen=True)
class ZonePage:
    card: ZoneCard
    state: StateMessage | None
    envelope: dict[str, tuple[float, float]] = field(default_factory=dict)
    max_override_s: float = 0.0
    history_from: datetime | None = None  # the earliest time this principal may read
    events: tuple[EventMessage, ...] = ()
    link: LinkHealth = LinkHealth(False)


@dataclass(frozen=True)
class AlarmRow:
    key: ZoneKey
    alarm: AlarmEntry
    can_ack: bool


@dataclass(frozen=True)
class AuditRow:
    time: datetime
    username: str | None
    role: str | None
    action: str
    site: str | None
    zone: str | None
    outcome: str
    command_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
