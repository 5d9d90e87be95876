"""JSON Schemas (draft 2020-12) of the zone messages, for outside tools that validate what they read or send.

Made from the types themselves (msgspec for what the daemon publishes, pydantic for the command), so they
cannot drift from the code; the command's schema also states which fields each kind takes (KIND_FIELDS).
Each schema's `$id` names its message and version: `urn:farmctl:mqtt:state:1`. Readers should accept
properties they do not know (a new field keeps the version); the command is strict, as the daemon is.
"""

from __future__ import annotations

from typing import Any

import msgspec

from farmcore.link.messages import KIND_FIELDS, SCHEMA, AckMessage, Command, ErrorCode
from farmcore.link.payloads import AlarmEntry, EventMessage, StateMessage

DIALECT = "https://json-schema.org/draft/2020-12/schema"
NAMES = ("state", "alarms", "event", "command", "ack")
TOPICS = {"state": "farm/SITE/ZONE/state (retained)", "alarms": "farm/SITE/ZONE/alarms (retained)",
          "event": "farm/SITE/ZONE/events", "command": "farm/SITE/ZONE/cmd/ACCOUNT", "ack": "farm/SITE/ZONE/ack"}
TITLES = {"state": "A zone's state", "alarms": "A zone's alarm list", "event": "A zone's event",
          "command": "A command to a zone", "ack": "The answer to a command"}


def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema of message `name` (one of NAMES); ValueError for another name."""
    if name == "state":
        body = msgspec.json.schema(StateMessage)
    elif name == "alarms":
        body = msgspec.json.schema(tuple[AlarmEntry, ...])
    elif name == "event":
        body = msgspec.json.schema(EventMessage)
    elif name == "ack":
        body = msgspec.json.schema(AckMessage)
        error = body["$defs"]["AckMessage"]["properties"]["error"]
        error["description"] += f"; today: {', '.join(code.value for code in ErrorCode)}"
    elif name == "command":
        body = _command()
    else:
        raise ValueError(f"no message {name!r}; messages: {', '.join(NAMES)}")
    about = " ".join(x for x in (f"Published on {TOPICS[name]} (DESIGN.md § MQTT).", body.pop("description", ""))
                     if x)
    body.pop("title", None)
    return {"$schema": DIALECT, "$id": f"urn:farmctl:mqtt:{name}:{SCHEMA}", "title": TITLES[name],
            "description": about, **body}


def _command() -> dict[str, Any]:
    body = Command.model_json_schema()
    rules = []
    for kind, fields in KIND_FIELDS.items():
        required = [name for name, use in fields.items() if use == "required"]
        forbidden = [name for name, use in fields.items() if use == "forbidden"]
        then: dict[str, Any] = {"required": required} if required else {}
        if forbidden:
            then["properties"] = {name: {"type": "null"} for name in forbidden}  # absent or null
        rules.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]}, "then": then})
    body["allOf"] = rules
    return body
