"""KS X 3267 code tables (status, operation, control, device types, item vocabulary) as data.

The tables live in `farmcore/profiles/ks/codes.toml`; names are resolved per protocol version
because KS B 7958 drafts reuse numbers (status 202 is MANUAL_WORKING there, ON-adjacent elsewhere).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

KINDS = ("sensor", "switch", "retractable", "nutrient")


@dataclass(frozen=True)
class DeviceType:
    code: int
    kind: str
    level: int | None = None
    quantity: str | None = None
    unit: str | None = None
    ko: str = ""
    tier: str = "normative"


@dataclass(frozen=True)
class Operation:
    code: int
    name: str
    level: int
    params: tuple[str, ...] = ()


@cache
def _tables() -> dict[str, Any]:
    text = resources.files("farmcore.profiles").joinpath("ks/codes.toml").read_text("utf-8")
    return tomllib.loads(text)


def item_type(name: str) -> dict[str, Any] | None:
    """The KS X 3286 item vocabulary entry (type, unit, enum) for an item name."""
    return _tables()["items"].get(name)


def _applies(entry: dict[str, Any], protocol: int | None) -> bool:
    return protocol is None or "protocols" not in entry or protocol in entry["protocols"]


@lru_cache(maxsize=4096, typed=True)
def status_name(code: int, protocol: int | None = None) -> str:
    """Annex B.2 label of a status code, as the standard writes it (cached: looked up per reading)."""
    entry = _tables()["status"].get(str(code))
    if entry and _applies(entry, protocol):
        return entry["name"]
    if 900 <= code <= 999:
        return "VENDOR_SPECIFIC_ERROR"
    return f"UNKNOWN_{code}"


@lru_cache(maxsize=4096, typed=True)
def device_type(code: int) -> DeviceType | None:
    """What a device code in registers 101+ means; None for an unknown code, 0 means an empty slot.

    Cached (the tables never change and DeviceType is frozen): nodes look it up on every read."""
    entry = _tables()["device"].get(str(code))
    if entry is None:
        return None
    return DeviceType(code=code, **entry)


def operations(kind: str, protocol: int | None = None) -> dict[str, Operation]:
    """Operations a device kind understands, by lower-case name (on, timed_on, open, ...)."""
    table = _tables()["operation"][kind]
    ops = {}
    for code, entry in table.items():
        if _applies(entry, protocol):
            op = Operation(int(code), entry["name"], entry["level"], tuple(entry.get("params", ())))
            ops[op.name.lower()] = op
    return ops
