"""The messages of a zone on MQTT (DESIGN.md § MQTT): the command, its ack and their stable error codes here;
the topics (`topics.py`) and what the daemon publishes on `state`, `alarms` and `events` (`payloads.py`) are
re-exported, so this module is the one door to every message shape.

The portal, technicians' scripts and the acceptance checks all send commands, so the command is strict:
unknown fields are errors, times must carry their UTC offset, and every rejection carries an `ErrorCode`
whose meaning never changes (clients branch on the code, people read the message). What the daemon
publishes is read leniently about fields a reader does not know (a new one keeps the version; payloads.py).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec
from pydantic import ConfigDict, Field, ValidationError, field_validator

from farmcore.datafile import Strict
from farmcore.link.payloads import (
    SCHEMA,
    ActuatorEntry,
    AlarmEntry,
    AlarmListMessage,
    AlarmText,
    EventMessage,
    MessageError,
    OverrideEntry,
    ReadingEntry,
    RecipeRef,
    SetpointEntry,
    StateMessage,
    decode,
    encode,
)
from farmcore.link.topics import (
    ACCOUNT_PATTERN,
    ID_PATTERN,
    LEAVES,
    PERSON_NAMING_ACCOUNTS,
    ROOT,
    TopicParts,
    command_topic,
    commands_filter,
    may_speak_for,
    parse_topic,
    topic,
    zones_filter,
)

__all__ = [
    "ACCOUNT_PATTERN", "ID_PATTERN", "KINDS", "KIND_FIELDS", "LEAVES", "MAX_DURATION_S", "MAX_PAYLOAD",
    "PERSON_NAMING_ACCOUNTS", "ROOT", "SCHEMA", "Ack", "AckMessage", "ActuatorEntry", "AlarmEntry",
    "AlarmListMessage", "AlarmText", "Command", "CommandError", "ErrorCode", "EventMessage", "MessageError",
    "OverrideEntry", "ReadingEntry", "RecipeRef", "SetpointEntry", "StateMessage", "TopicParts", "check_kind_fields",
    "command_topic", "commands_filter", "encode", "iso", "may_speak_for", "parse_topic", "read_payload", "readable_id",
    "readable_id_of", "topic", "validate_command", "zones_filter",
]

# What each command kind takes besides id, author and times: the one table. The daemon's desk enforces it,
# `farmctl zone cmd` checks it before publishing, and the command's JSON Schema states it.
Use = Literal["required", "optional", "forbidden"]
KIND_FIELDS: dict[str, dict[str, Use]] = {
    "setpoint": {"target": "required", "value": "required", "duration_s": "forbidden"},
    "override": {"target": "required", "value": "required", "duration_s": "required"},
    "release": {"target": "required", "value": "forbidden", "duration_s": "forbidden"},
    "recipe": {"target": "forbidden", "value": "required", "duration_s": "forbidden"},
    "feed_now": {"target": "forbidden", "value": "optional", "duration_s": "forbidden"},
    "ack_alarm": {"target": "required", "value": "forbidden", "duration_s": "forbidden"},
}
KINDS: tuple[str, ...] = tuple(KIND_FIELDS)
Kind = Literal["setpoint", "override", "release", "recipe", "feed_now", "ack_alarm"]  # KINDS, for the schema

MAX_PAYLOAD = 16 * 1024  # bytes; a command is a few hundred, anything this big is a mistake or an attack
MAX_ID = 64
MAX_REASON = 500
MAX_TEXT_VALUE = 128  # a string value: "on", "open", a recipe id
MAX_DURATION_S = 86400.0  # an override lasts a day at most; the recipe must not be forgotten for longer
TEXT_ID = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"  # printable, not only blanks (logged)

_TEXT_ID_RE = re.compile(TEXT_ID)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class ErrorCode(StrEnum):
    """Why a command was rejected. Published in acks: never rename or reuse a code, only add new ones."""

    TOO_LARGE = "too_large"  # payload over MAX_PAYLOAD bytes (not parsed: id null)
    MALFORMED_JSON = "malformed_json"  # not UTF-8 JSON, NaN/Infinity, duplicate keys
    INVALID_COMMAND = "invalid_command"  # not a command object: schema, missing or surplus fields, times reversed
    UNKNOWN_KIND = "unknown_kind"
    EXPIRED = "expired"  # expires_at <= now
    NOT_YET_VALID = "not_yet_valid"  # issued_at further in the future than the clock-skew tolerance
    DUPLICATE = "duplicate"  # this id was handled before; `applied` repeats the first outcome
    UNKNOWN_TARGET = "unknown_target"  # no such actuator or quantity in this zone
    OUT_OF_ENVELOPE = "out_of_envelope"  # outside what the zone's recipe lets a tenant set
    OUT_OF_HARD_LIMITS = "out_of_hard_limits"  # outside the site file's hard limits
    INVALID_VALUE = "invalid_value"  # the value's type or range does not fit the kind or the actuator
    NOT_SUPPORTED = "not_supported"  # this zone cannot do this kind (feed_now on a greenhouse)
    UNKNOWN_ALARM = "unknown_alarm"  # ack_alarm for an alarm that is not active
    UNKNOWN_RECIPE = "unknown_recipe"
    INTERNAL_ERROR = "internal_error"  # a bug in the daemon; the command was not applied
    NOT_RUNNING = "not_running"  # the zone's daemon is stopping (its stop states went out); not applied
    NOT_PERMITTED = "not_permitted"  # issued_by names a person the publishing account may not speak for


_CODES = frozenset(c.value for c in ErrorCode)


class CommandError(Exception):
    """A rejection: its stable code and a message for people."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# ----------------------------------------------------------------------------------------------- commands


def iso(t: datetime) -> str:
    """UTC ISO 8601 with `Z`, to the second unless it has a fraction (acks and audit records)."""
    t = t.astimezone(UTC)
    return t.isoformat(timespec="milliseconds" if t.microsecond else "seconds").replace("+00:00", "Z")


class Command(Strict):
    """A command as published on `.../cmd`. Times are ISO 8601 text with an offset (or `Z`), kept in UTC."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    id: str = Field(min_length=1, max_length=MAX_ID, pattern=TEXT_ID)
    issued_by: str = Field(min_length=1, max_length=MAX_ID, pattern=TEXT_ID)
    issued_at: datetime
    expires_at: datetime
    kind: Kind
    target: str | None = Field(default=None, min_length=1, max_length=MAX_ID, pattern=TEXT_ID)
    value: float | bool | Annotated[str, Field(max_length=MAX_TEXT_VALUE)] | None = None
    duration_s: float | None = Field(default=None, ge=1, le=MAX_DURATION_S)
    reason: str = Field(default="", max_length=MAX_REASON)

    @classmethod
    def from_json(cls, payload: bytes | bytearray | str) -> Command:
        """A published command, judged as the daemon judges it; CommandError with its stable code."""
        return validate_command(read_payload(payload))

    @field_validator("issued_at", "expires_at", mode="before")
    @classmethod
    def _aware_text(cls, value: Any) -> datetime:
        # strict text parsing of our own: pydantic's lax mode would take epoch numbers and naive times
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError("must be ISO 8601 text with an offset, e.g. 2025-05-01T09:30:00+09:00")
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from None
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"{value!r} has no UTC offset (add Z or +09:00)")
        try:
            return t.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{value!r} is out of range") from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_payload(payload: Any) -> dict[str, Any]:
    """Bytes -> the JSON object; `too_large`, `malformed_json` or `invalid_command` (not an object)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    if isinstance(payload, bytearray | memoryview):
        payload = bytes(payload)
    if not isinstance(payload, bytes):
        raise CommandError(ErrorCode.MALFORMED_JSON, f"payload is {type(payload).__name__}, not bytes")
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(ErrorCode.TOO_LARGE, f"payload is {len(payload)} bytes; at most {MAX_PAYLOAD}")
    try:
        text = payload.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_float=_finite,
                          parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise CommandError(ErrorCode.MALFORMED_JSON, "payload is not UTF-8") from None
    except RecursionError:
        raise CommandError(ErrorCode.MALFORMED_JSON, "payload nests too deeply") from None
    except ValueError as exc:  # JSONDecodeError, our hooks, int digit limits
        raise CommandError(ErrorCode.MALFORMED_JSON, f"not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise CommandError(ErrorCode.INVALID_COMMAND, f"a command is a JSON object, got {_json_type(data)}")
    where = _unpaired_surrogate(data, "")
    if where is not None:
        raise CommandError(ErrorCode.INVALID_COMMAND, f"{where or 'a key'}: text with an unpaired UTF-16 surrogate "
                           "escape (\\ud800-\\udfff) is not Unicode; it cannot be logged, audited or answered")
    return data


def _unpaired_surrogate(value: Any, path: str) -> str | None:
    """The path of the first key or text holding a lone surrogate (JSON allows the escape, UTF-8 does not)."""
    if isinstance(value, str):
        return path if _SURROGATE_RE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE_RE.search(key):
                return path
            found = _unpaired_surrogate(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found = _unpaired_surrogate(item, f"{path}[{n}]")
            if found is not None:
                return found
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(type(value), "object")


def readable_id(raw: dict[str, Any]) -> str | None:
    """The command id if the payload has a usable one (for the ack and duplicate detection), else None."""
    cid = raw.get("id")
    if isinstance(cid, str) and 1 <= len(cid) <= MAX_ID and _TEXT_ID_RE.match(cid):
        return cid
    return None


def readable_id_of(payload: bytes) -> str | None:
    """The command id of a raw payload when it has a usable one, else None (never raises)."""
    try:
        return readable_id(read_payload(payload))
    except CommandError:
        return None


def validate_command(raw: dict[str, Any]) -> Command:
    """The JSON object -> `Command`; `unknown_kind` before any other schema error, then `invalid_command`."""
    kind = raw.get("kind")
    if isinstance(kind, str) and kind not in KINDS:
        raise CommandError(ErrorCode.UNKNOWN_KIND, f"kind {kind[:40]!r} is not one of {', '.join(KINDS)}")
    try:
        return Command.model_validate(raw)
    except ValidationError as exc:
        raise CommandError(ErrorCode.INVALID_COMMAND, _explain(exc)) from None


def check_kind_fields(command: Command) -> None:
    """The fields its kind needs are there and none it does not take (KIND_FIELDS; a stray one is a client bug):
    CommandError `invalid_command` otherwise."""
    for name, use in KIND_FIELDS[command.kind].items():
        present = getattr(command, name) is not None
        if use == "required" and not present:
            raise CommandError(ErrorCode.INVALID_COMMAND, f"{command.kind} needs {name}")
        if use == "forbidden" and present:
            raise CommandError(ErrorCode.INVALID_COMMAND, f"{command.kind} takes no {name}")


def _explain(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    name = str(err["loc"][0]) if err["loc"] else "command"
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    elif name == "value":
        msg = f"must be a number, true/false, text of at most {MAX_TEXT_VALUE} characters, or null"
    elif name == "kind":
        msg = f"must be one of {', '.join(KINDS)}"
    else:
        msg = err["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{name[:40]}: {msg}{more}"


# --------------------------------------------------------------------------------------------------- acks


class AckMessage(msgspec.Struct, frozen=True, gc=False):
    """An ack as published, for readers (`Ack.from_json`) and its JSON Schema: the keys in contract order."""

    id: str | None
    ok: bool
    error: Annotated[str | None, msgspec.Meta(description="null when ok, else a stable code (farmcore.link.messages."
                                                          "ErrorCode); codes are only ever added")]
    message: str
    applied: Annotated[dict[str, Any] | None, msgspec.Meta(description="what was done, when ok (and for a "
                                                                       "duplicate, what its first was)")]


@dataclass(frozen=True)
class Ack:
    """The one answer to a command, published on `.../ack`. `id` is null when the payload had no readable id.
    `error` is text only when read from a daemon newer than this reader (a code added since)."""

    id: str | None
    ok: bool
    error: ErrorCode | str | None = None
    message: str = ""
    applied: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, payload: bytes | bytearray | str) -> Ack:
        """A published ack, validated; MessageError (one line) when it is not one."""
        wire = decode(AckMessage, payload, "ack")
        error = ErrorCode(wire.error) if wire.error in _CODES else wire.error
        return cls(wire.id, wire.ok, error, wire.message, wire.applied)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ok": self.ok, "error": None if self.error is None else str(self.error),
                "message": self.message, "applied": self.applied}

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON, keys in contract order (never raises: text that UTF-8 cannot carry is escaped)."""
        try:
            return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        except (UnicodeEncodeError, ValueError):
            return json.dumps(self.to_dict(), separators=(",", ":"), default=str).encode()
