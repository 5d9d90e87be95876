"""What the daemon publishes on `state`, `alarms` and `events`, as typed messages (DESIGN.md § MQTT).

msgspec structs, chosen by measurement (benchmarks/messages.py, README § MQTT): a 12-reading, 8-actuator
state is built and encoded 200 times a second at a 200-zone site, and msgspec does both in a fraction of
what the plain dict and orjson took, with validation only where it is needed. Construction is trusted (the
daemon builds from its own values; no check runs), decoding validates (`from_json`: types, required fields,
time formats; a bad payload is one `MessageError` line, never a crash).

Versioning: the state carries `"schema": 1` (SCHEMA). A new field is a compatible change (readers ignore
fields they do not know, so it keeps the number); removing, renaming or retyping one takes the next number.
A state without `schema` is read as version 1: daemons before the field existed published the same shape.
Alarms, events and acks keep their published bytes (the ack's keys are a contract, the alarm list is a JSON
array); their version is their JSON Schema's (`schema_of`, `farmctl schema`).

Optional keys are absent, not null, as they always were: `UNSET` (and `failed` false) is left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from farmcore.sitehead import DEFAULT_MAX_OVERRIDE_S  # a state without `max_override_s`: the site's default

SCHEMA = 1  # the state's `schema` field; see the module's docstring for when it changes
TIME = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
                           extra_json_schema={"format": "date-time"},
                           description="ISO 8601 UTC time, e.g. 2026-01-15T04:05:00Z")]
Target = bool | float | None  # an actuator target: on/off, a position in %, or None (hold / unknown)


class MessageError(ValueError):
    """A payload that is not the message it should be: one line naming the message, the field and why."""


class _Message(Struct, kw_only=True, frozen=True, gc=False):
    """Encoding and validated decoding for every message struct (no reference cycles: gc=False is safe)."""

    NAME: ClassVar[str] = "message"

    def to_json(self) -> bytes:
        return encode(self)

    @classmethod
    def from_json(cls: type[_M], payload: bytes | bytearray | str) -> _M:
        return decode(cls, payload, cls.NAME)


_M = TypeVar("_M", bound=_Message)


class _Entry(_Message, omit_defaults=True):
    """A part of a message whose keys at their default are left out (`failed: false`); UNSET ones always are."""


# --------------------------------------------------------------------------------------------------- state


class ReadingEntry(_Entry, kw_only=True):
    """One reading: the value driving control, its unit, the latest read's quality and why it is not good."""

    value: float | None
    unit: str | None
    quality: Annotated[str, Meta(description="of the latest read: good, comm_error, stale, idle or the sensor's "
                                             "status")]
    why: Annotated[str, Meta(description="why the quality is not good")] | UnsetType = UNSET
    sources: Annotated[list[str], Meta(description="the sensors combined into this reading")] | UnsetType = \
        msgspec.field(default=UNSET, name="from")


class RecipeRef(_Entry, kw_only=True):
    id: str
    version: int
    stage: str
    period: Annotated[str, Meta(description="the period in force: RECIPE@VERSION STAGE/PERIOD")]
    name_ko: Annotated[str, Meta(description="the recipe's Korean name (absent: none)")] = ""
    name_en: Annotated[str, Meta(description="the recipe's English name (absent: none)")] = ""
    day: Annotated[int, Meta(description="days since planting or stocking, 0 on that day (the count the "
                                         "stages' from_day use); absent before it")] | UnsetType = UNSET


class SetpointEntry(_Entry, kw_only=True):
    value: float
    source: Literal["recipe", "tenant"]


class ActuatorEntry(_Entry, kw_only=True):
    role: str
    kind: Annotated[str, Meta(description="switch, retractable or nutrient")]
    target: Annotated[Target, Meta(description="on/off, a position in %, or null (hold)")]
    source: Annotated[Literal["safety", "override", "recipe"], Meta(description="who decided the target")] \
        | UnsetType = UNSET
    reason: Annotated[str, Meta(description="why, at most 200 characters")] | UnsetType = UNSET
    position: Annotated[float | None, Meta(description="retractables: the estimated position, %")] \
        | UnsetType = UNSET
    feedback: Annotated[str | int | None, Meta(description="the node's status of the device: its name, else its "
                                                           "code")] | UnsetType = UNSET
    failed: Annotated[bool, Meta(description="its feedback disagreed too often (published only when true)")] = False


class OverrideEntry(_Entry, kw_only=True):
    value: Target
    until: TIME
    by: Annotated[str, Meta(description="issued_by of the command")]
    reason: str


class StateMessage(_Message, kw_only=True):
    """The retained `state` of a zone, published at most once a second (not the daemon's running state)."""

    NAME: ClassVar[str] = "state"

    schema: Annotated[Literal[1], Meta(description="version of this shape; absent: 1")] = SCHEMA
    time: TIME
    site: str
    zone: str
    kind: Annotated[str, Meta(description="greenhouse or tank")]
    mode: Annotated[Literal["auto", "override", "safety"], Meta(description="safety when any actuator is held by "
                                                                            "safety, else override when any is")]
    recipe: RecipeRef | None
    readings: Annotated[dict[str, ReadingEntry], Meta(description="by quantity (or sensor id)")]
    weather: Annotated[dict[str, float | None], Meta(description="the site's outside readings by quantity")]
    setpoints: Annotated[dict[str, SetpointEntry], Meta(description="in force, by quantity")]
    actuators: Annotated[dict[str, ActuatorEntry], Meta(description="by actuator id")]
    overrides: Annotated[dict[str, OverrideEntry], Meta(description="live manual overrides, by actuator id")]
    alarms: Annotated[int, Meta(description="entries in the zone's retained alarm list")]
    # added in schema 1 (compatible: a state without them reads as none adjustable, the default override limit)
    envelope: Annotated[dict[str, tuple[float, float]],
                        Meta(description="what a tenant may set now, by quantity: [min, max] = the recipe's "
                                         "envelope within the site's hard limits")] = msgspec.field(
        default_factory=dict)
    max_override_s: Annotated[float, Meta(description="the longest override the zone accepts, s")] = \
        DEFAULT_MAX_OVERRIDE_S


# -------------------------------------------------------------------------------------------------- alarms


class AlarmText(_Entry, kw_only=True):
    ko: str
    en: str


class AlarmEntry(_Entry, kw_only=True):
    """One entry of the retained alarm list (and the `alarm` of an alarm event)."""

    id: str
    zone: str
    kind: Annotated[str, Meta(description="stale_data, comm_lost, limit_exceeded, ... (farmcore.alarms.AlarmKind)")]
    severity: Literal["info", "warning", "critical"]
    status: Literal["unacknowledged", "acknowledged", "cleared_unacknowledged", "normal"]
    active: bool
    acked: bool
    raised_at: TIME | None
    cleared_at: TIME | None
    acked_by: str | None
    acked_at: TIME | None
    value: Annotated[float | str | None, Meta(description="the value at the raise")]
    repeats: Annotated[int, Meta(description="re-raises inside the chatter window, not announced")]
    message: AlarmText


@dataclass(frozen=True)
class AlarmListMessage:
    """The retained `alarms` of a zone: a JSON array of `AlarmEntry`, the zone's own then the site's."""

    alarms: tuple[AlarmEntry, ...] = ()

    NAME: ClassVar[str] = "alarms"

    def to_json(self) -> bytes:
        return encode(self.alarms)

    @classmethod
    def from_json(cls, payload: bytes | bytearray | str) -> AlarmListMessage:
        return cls(decode(tuple[AlarmEntry, ...], payload, cls.NAME))


# -------------------------------------------------------------------------------------------------- events

AuditValue = str | int | float | bool


class EventMessage(_Message, kw_only=True):
    """One `events` message: alarm raised/cleared/acked (with the alarm), command applied/rejected (with its
    audit record), recipe changes, strategy notes, ..."""

    NAME: ClassVar[str] = "event"

    time: TIME
    zone: str
    code: Annotated[str, Meta(description="alarm_raised, alarm_cleared, alarm_acked, command_applied, "
                                          "command_rejected, recipe_period, strategy, ...")]
    message: str
    alarm: Annotated[AlarmEntry, Meta(description="alarm events: the alarm")] | UnsetType = UNSET
    command: Annotated[dict[str, AuditValue], Meta(description="command events: the audit record")] \
        | UnsetType = UNSET


# -------------------------------------------------------------------------------------------------- coding

_encoder = msgspec.json.Encoder(enc_hook=str)  # str(): what has no JSON form (as orjson's default=str did)


def encode(message: Any) -> bytes:
    """A message (or any JSON-able value) -> compact UTF-8 JSON bytes; never raises: text UTF-8 cannot carry
    (a lone surrogate) goes out escaped by the json module."""
    try:
        return _encoder.encode(message)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return json.dumps(msgspec.to_builtins(message, enc_hook=str), default=str, separators=(",", ":")).encode()


def decode(kind: Any, payload: bytes | bytearray | str, name: str) -> Any:
    """JSON bytes -> `kind`, validated; MessageError (one line: the message, the field, the problem)."""
    if isinstance(payload, bytearray):
        payload = bytes(payload)
    try:
        return msgspec.json.decode(payload, type=kind)
    except msgspec.ValidationError as exc:
        text, _, where = str(exc).partition(" - at `")
        field = where.rstrip("`").replace("$", name, 1) if where else name
        if "matching regex" in text:
            text = "expected an ISO 8601 time with its offset, e.g. 2026-01-15T04:05:00Z"
        elif field == f"{name}.schema":
            text = f"version {text.removeprefix('Invalid enum value ')} is not one this reader knows ({SCHEMA})"
        raise MessageError(f"{field}: {text}"[:300]) from None
    except msgspec.DecodeError as exc:
        raise MessageError(f"{name}: not JSON ({exc})"[:300]) from None


SCHEMAS: dict[str, Any] = {"state": StateMessage, "alarms": tuple[AlarmEntry, ...], "event": EventMessage}
