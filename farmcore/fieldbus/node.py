"""Nodes: discovery, reading every device with a quality, and KS X 3267 commands with read-back.

A `KsNode` is a KS X 3267/3288 node described by a profile with device slots; a `VendorNode` is a
plain Modbus device described by points, whose relay outputs get KS level-1 semantics from
`farmcore.fieldbus.emulated`. Both read through an optimal poll plan and give every reading a
quality, so one failed request never hides the others and never raises out of `read()`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from farmcore.errors import BadInput, CommError, DeviceError, FarmError, ModbusExceptionReply
from farmcore.fieldbus import codes
from farmcore.fieldbus.opid import OpidStore
from farmcore.fieldbus.pollplan import LineCost, Request, Span, plan, slice_registers
from farmcore.fieldbus.profile import Block, Profile, SlotDef, match_profile

# Product types (table 9: 1 sensor, 2 actuator, 3 integrated, 4 gateway) and the protocol versions each
# may carry (ksx3267.md §4, §9 step 2). Checking the pair, not the protocol alone, keeps a block read one
# register off (channels 30 landing on the protocol register) from passing as node information.
PLAUSIBLE: dict[int, frozenset[int]] = {
    1: frozenset({10, 101, 30, 31}),
    2: frozenset({10, 101, 30, 31}),
    3: frozenset({10, 101, 20, 30, 31}),
    4: frozenset({30, 31}),
}
INFO_FIELDS = ("cert_authority", "company_code", "product_type", "product_code", "protocol_version",
               "channels")

# Node turnaround assumed by poll plans: simple single-CPU Modbus slaves start answering 5-20 ms after a
# request (industrialmonitordirect.com knowledge base, "Modbus RTU Slave Response Time"); the low end.
TYPICAL_TURNAROUND_S = 0.010
# Nodes on Ethernet: 100 Mbit/s makes a register's wire time negligible against a request's turnaround.
ETHERNET_BAUD = 100_000_000

# Quality of a reading. A non-zero device status of a sensor (NEED_CALIBRATION, ERROR, ...) is
# reported as its lower-case status name.
GOOD, STALE, COMM_ERROR = "good", "stale", "comm_error"


class BusLike(Protocol):
    """What a node needs of a bus (farmcore.fieldbus.bus.Bus provides it)."""

    async def read(self, unit: int, fc: int, address: int, count: int) -> list[int]: ...
    async def write_registers(self, unit: int, address: int, values: list[int]) -> None: ...
    async def write_register(self, unit: int, address: int, value: int) -> None: ...
    async def write_coil(self, unit: int, address: int, on: bool) -> None: ...


@dataclass(frozen=True)
class NodeInfo:
    """Registers 1-8 of a KS node (KS X 3267 table 9)."""

    cert_authority: int
    company_code: int
    product_type: int
    product_code: int
    protocol_version: int
    channels: int
    serial: int
    address_offset: int = 0

    @classmethod
    def from_registers(cls, regs: list[int], address_offset: int = 0) -> NodeInfo:
        return cls(*regs[:6], serial=regs[6] | (regs[7] << 16), address_offset=address_offset)

    @property
    def plausible(self) -> bool:
        return self.protocol_version in PLAUSIBLE.get(self.product_type, ()) and 0 < self.channels <= 100

    @property
    def default_map(self) -> bool:
        """Both codes 0 -> Annex A default map; otherwise a KS X 3286 auto-registration node."""
        return self.cert_authority == 0 and self.company_code == 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in (*INFO_FIELDS, "serial")}


@dataclass
class Reading:
    """One device of a node as last read: value and status with their quality and sample time."""

    slot: int
    kind: str
    code: int | None = None
    quantity: str | None = None
    unit: str | None = None
    value: float | int | None = None
    status: int | None = None
    status_name: str | None = None
    opid: int | None = None
    remaining_s: int | None = None
    quality: str = COMM_ERROR
    time: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"slot": self.slot, "code": self.code, "kind": self.kind}
        for name in ("quantity", "unit", "value", "status", "status_name", "opid", "remaining_s"):
            value = getattr(self, name)
            if value is not None:
                out[name] = round(value, 4) if isinstance(value, float) else value
        out.update(self.extra)
        out["quality"] = self.quality
        if self.time is not None:
            out["time"] = self.time.isoformat().replace("+00:00", "Z")
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Snapshot:
    unit: int
    node: dict[str, Any]
    readings: list[Reading]
    requests: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "node": self.node, "devices": [r.as_dict() for r in self.readings]}


@dataclass(frozen=True)
class CommandResult:
    slot: int
    operation: str
    code: int
    opid: int | None
    verified: bool
    status: int | None = None
    status_name: str | None = None
    remaining_s: int | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


# operation name on the command line -> KS operation name, per device kind
OPERATIONS: dict[str, dict[str, str]] = {
    "switch": {"on": "on", "off": "off", "timed-on": "timed_on"},
    "retractable": {"open": "open", "close": "close", "stop": "stop", "timed-open": "timed_open",
                    "timed-close": "timed_close", "position": "set_position"},
    "nutrient": {"stop": "stop", "off": "stop", "on": "once", "timed-on": "water", "nutrient": "nutrient"},
}
# status a device shows once it accepted an operation (KS X 3267 §8.2 step 3)
EXPECTED_STATUS: dict[str, frozenset[int]] = {
    "on": frozenset({201}), "timed_on": frozenset({201}), "off": frozenset({0}),
    "open": frozenset({301}), "timed_open": frozenset({301}), "close": frozenset({302}),
    "timed_close": frozenset({302}), "stop": frozenset({0}), "set_position": frozenset({0, 301, 302}),
    "once": frozenset({401, 402}), "water": frozenset({401, 402}), "nutrient": frozenset({401, 402}),
}


def bus_address_offset(bus: object) -> int | None:
    """The `address_offset` set in a bus URL, or None when the URL leaves it at 0."""
    config = getattr(bus, "config", None)
    return config.address_offset if config is not None and config.address_offset else None


def address_offset_for(bus: object, profile: Profile) -> int:
    """PDU address = register + offset; the bus URL's setting wins over the profile's."""
    offset = bus_address_offset(bus)
    return profile.encoding.address_offset if offset is None else offset


def line_cost_for(bus: object) -> LineCost:
    """The wire-time model of a bus: its serial settings (a TCP gateway's RS485 leg too) and turnaround."""
    config = getattr(bus, "config", None)
    if config is None:
        return LineCost(turnaround_s=TYPICAL_TURNAROUND_S)
    if getattr(config, "line", "rs485") == "ethernet":  # no serial wire time: fewest requests win
        return LineCost(baud=ETHERNET_BAUD, turnaround_s=TYPICAL_TURNAROUND_S)
    return LineCost(baud=config.baud, bits_per_char=min(config.bits_per_char, 11),
                    turnaround_s=TYPICAL_TURNAROUND_S)


def _now() -> datetime:
    return datetime.now(UTC)


class _PlannedReader:
    """Reads a set of blocks through an optimal poll plan; remembers the plan."""

    def __init__(self, bus: BusLike, unit: int, offset: int, cost: LineCost,
                 readable: list[tuple[int, int, int]] | None) -> None:
        self.bus, self.unit, self.offset, self.cost, self.readable = bus, unit, offset, cost, readable
        self._plan: list[Request] | None = None

    def plan_for(self, spans: list[Span]) -> list[Request]:
        if self._plan is None:
            self._plan = plan(spans, readable=self.readable, cost=self.cost)
        return self._plan

    async def run(self, spans: list[Span]) -> tuple[dict[Any, list[int]], dict[Any, FarmError], int]:
        """Registers per span key, the error per failed span key, and the number of requests."""
        data: dict[Any, list[int]] = {}
        errors: dict[Any, FarmError] = {}
        requests = self.plan_for(spans)
        for req in requests:
            try:
                regs = await self.bus.read(self.unit, req.fc, req.start + self.offset, req.count)
            except (CommError, ModbusExceptionReply) as exc:
                for span in req.spans:
                    errors[span.key] = exc
                continue
            for span in req.spans:
                data[span.key] = slice_registers(req, regs, span)
        return data, errors, len(requests)


@dataclass(frozen=True, eq=False)
class _Layout:
    """What a KsNode reads, derived from its profile and device codes; kept because both rarely change."""

    profile: Profile
    device_codes: dict[int, int]
    devices: tuple[tuple[SlotDef, int, codes.DeviceType | None], ...]
    spans: tuple[Span, ...]


class KsNode:
    """A KS X 3267 / KS X 3288 node on a bus, read and commanded through its profile."""

    def __init__(self, bus: BusLike, unit: int, profile: Profile, *, info: NodeInfo | None = None,
                 device_codes: dict[int, int] | None = None, opids: OpidStore | None = None,
                 cost: LineCost | None = None, stale_after_s: float = 10.0,
                 readback_delay_s: float = 0.3, readback_timeout_s: float = 2.0) -> None:
        self.bus, self.unit, self.profile, self.info = bus, unit, profile, info
        self.offset = info.address_offset if info else address_offset_for(bus, profile)
        self._layout: _Layout | None = None
        self.device_codes = dict(device_codes or {})
        self.opids = opids or OpidStore()
        self._last_opid: dict[int, int] = {}  # slot -> the OPID of our last command to it
        self.stale_after_s = stale_after_s
        self.readback_delay_s = readback_delay_s
        self.readback_timeout_s = readback_timeout_s
        self.warnings: list[str] = []
        cost = cost or line_cost_for(bus)
        self._reader = _PlannedReader(bus, unit, self.offset, cost, profile.read_areas())
        self._last: dict[int, Reading] = {}
        self._last_good: dict[int, float] = {}

    # ------------------------------------------------------------------ discovery

    @classmethod
    async def discover(cls, bus: BusLike, unit: int, *, profile: Profile | None = None,
                       address_offset: int | None = None, **kwargs: Any) -> KsNode:
        """KS X 3267 §6.1 discovery: node info (offset 0, then -1), profile match, device codes.

        An offset given here, in the bus URL or in the profile is used as it is, without the fallback."""
        if address_offset is None:
            address_offset = bus_address_offset(bus)
        if address_offset is None and profile is not None and profile.encoding.address_offset:
            address_offset = profile.encoding.address_offset
        info = await read_node_info(bus, unit, address_offset)
        if profile is None:
            if not info.default_map:
                raise DeviceError(
                    f"unit {unit}: KS X 3286 auto-registration node (institution {info.cert_authority}, "
                    f"company {info.company_code}); give its profile with --profile")
            profile = match_profile(info.as_dict())
            if profile is None:
                raise DeviceError(
                    f"unit {unit}: no shipped profile for product type {info.product_type}, protocol "
                    f"{info.protocol_version}; give one with --profile")
        node = cls(bus, unit, profile, info=info, **kwargs)
        await node.read_device_codes()
        if info.protocol_version == 101:
            node.warnings.append(f"unit {unit}: protocol version 101 (KS X 3267:2018 wording); treated as 10")
        if info.address_offset:
            node.warnings.append(f"unit {unit}: node answers at register - 1 (address offset -1)")
        return node

    async def read_device_codes(self) -> dict[int, int]:
        channels = min(self.info.channels if self.info else self.profile.channels, self.profile.channels)
        regs = await self.bus.read(self.unit, 3, self.profile.codes_start + self.offset, channels)
        self.device_codes = {k + 1: code for k, code in enumerate(regs) if code}
        for slot, code in self.device_codes.items():
            definition = self.profile.slot(slot)
            if definition and definition.expect_codes and code not in definition.expect_codes:
                self.warnings.append(f"unit {self.unit} slot {slot}: device code {code}, the default map "
                                     f"expects {'/'.join(map(str, definition.expect_codes))}")
        return self.device_codes

    @property
    def device_codes(self) -> dict[int, int]:
        """Device code per populated slot; assigning it drops the cached devices and spans."""
        return self._device_codes

    @device_codes.setter
    def device_codes(self, value: dict[int, int]) -> None:
        self._device_codes = value
        self._layout = None

    def _current_layout(self) -> _Layout:
        """Devices and spans, rebuilt only when the codes (even mutated in place) or the profile changed."""
        layout = self._layout
        if layout is None or layout.profile is not self.profile or layout.device_codes != self._device_codes:
            devices = []
            for slot, code in sorted(self._device_codes.items()):
                definition = self.profile.slot(slot)
                if definition is not None:
                    devices.append((definition, code, codes.device_type(code)))
            blocks: list[tuple[Any, Block]] = []
            if self.profile.node_read is not None:
                blocks.append(("node", self.profile.node_read))
            blocks += [(definition.slot, definition.read) for definition, _code, _type in devices]
            spans = tuple(Span(b.fc, b.start, b.count, key) for key, b in blocks)
            layout = self._layout = _Layout(self.profile, dict(self._device_codes), tuple(devices), spans)
        return layout

    def devices(self) -> list[tuple[SlotDef, int, codes.DeviceType | None]]:
        """Populated slots with their device code and type."""
        return list(self._current_layout().devices)

    # ------------------------------------------------------------------ reading

    def spans(self) -> list[Span]:
        return list(self._current_layout().spans)

    def poll_plan(self) -> list[Request]:
        return self._reader.plan_for(self.spans())

    async def read(self) -> Snapshot:
        """Every populated device once; never raises for a failed request (quality says it)."""
        data, errors, requests = await self._reader.run(self.spans())
        now = _now()
        proto = self.info.protocol_version if self.info else None
        node: dict[str, Any] = {}
        if self.info:
            node.update(product_type=self.info.product_type, protocol_version=self.info.protocol_version,
                        channels=self.info.channels)
        if "node" in data and self.profile.node_read is not None:
            values = self.profile.node_read.decode(data["node"])
            node.update({k: int(v) for k, v in values.items()})
            if "status" in values:
                node["status_name"] = codes.status_name(int(values["status"]), proto)
        elif "node" in errors:
            node["error"] = str(errors["node"])
        readings = []
        for definition, code, dtype in self.devices():
            slot = definition.slot
            if slot in data:
                reading = self._decode(definition, code, dtype, data[slot], now, proto)
                self._last[slot] = reading
                self._last_good[slot] = time.monotonic()
            else:
                reading = self._failed(definition, code, dtype, errors.get(slot))
            readings.append(reading)
        return Snapshot(self.unit, node, readings, requests=requests, errors=len(errors))

    def _decode(self, definition: SlotDef, code: int, dtype: codes.DeviceType | None, regs: list[int],
                now: datetime, proto: int | None) -> Reading:
        values = definition.read.decode(regs)
        status = int(values.pop("status", 0))
        name = codes.status_name(status, proto)
        reading = Reading(slot=definition.slot, kind=definition.kind, code=code, status=status,
                          status_name=name, time=now)
        if dtype is not None and dtype.kind == "sensor":
            reading.quantity, reading.unit = dtype.quantity, dtype.unit
        if "value" in values:
            reading.value = values.pop("value")
        if "opid" in values:
            reading.opid = int(values.pop("opid"))
        if "remain-time" in values:
            reading.remaining_s = int(values.pop("remain-time"))
        reading.extra = {k.replace("-", "_"): v for k, v in values.items()}
        faulty = status in range(1, 100) or status >= 900 or (definition.kind == "sensor" and status != 0)
        reading.quality = name.lower() if faulty else GOOD
        return reading

    def _failed(self, definition: SlotDef, code: int, dtype: codes.DeviceType | None,
                error: FarmError | None) -> Reading:
        last = self._last.get(definition.slot)
        if last is None:
            reading = Reading(slot=definition.slot, kind=definition.kind, code=code)
            if dtype is not None and dtype.kind == "sensor":
                reading.quantity, reading.unit = dtype.quantity, dtype.unit
        else:  # keep the last value for display, marked
            reading = replace(last, extra=dict(last.extra))
        age = time.monotonic() - self._last_good.get(definition.slot, float("-inf"))
        reading.quality = STALE if last is not None and age > self.stale_after_s else COMM_ERROR
        reading.error = str(error) if error else None
        return reading

    # ------------------------------------------------------------------ commands

    def resolve(self, slot: int, op: str) -> tuple[SlotDef, codes.DeviceType, codes.Operation]:
        """Check a command locally before anything is sent (KS X 3267 §8.2: refuse level-2 ops)."""
        definition = self.profile.slot(slot)
        if definition is None or slot not in self.device_codes:
            populated = ", ".join(str(s) for s in sorted(self.device_codes)) or "none"
            raise BadInput(f"unit {self.unit}: no device in slot {slot} (populated slots: {populated})")
        dtype = codes.device_type(self.device_codes[slot])
        if dtype is None or dtype.kind == "sensor" or definition.write is None:
            raise BadInput(f"unit {self.unit} slot {slot}: device code {self.device_codes[slot]} is not an "
                           "actuator")
        allowed = OPERATIONS[dtype.kind]
        if op not in allowed:
            raise BadInput(f"unit {self.unit} slot {slot}: {dtype.kind} takes {' | '.join(allowed)}, "
                           f"not {op!r}")
        proto = self.info.protocol_version if self.info else None
        operation = codes.operations(dtype.kind, proto)[allowed[op]]
        level = dtype.level or 0
        if level < operation.level:
            raise BadInput(f"unit {self.unit} slot {slot}: {operation.name} needs a level-{operation.level} "
                           f"device; this {dtype.kind} (code {dtype.code}) is level {level}")
        return definition, dtype, operation

    async def command(self, slot: int, op: str, *, time_s: int | None = None, position: int | None = None,
                      params: dict[str, float] | None = None, verify: bool = True) -> CommandResult:
        """Write the whole command block in one FC16 with a fresh OPID, then read back (§8.2)."""
        definition, _dtype, operation = self.resolve(slot, op)
        values: dict[str, float] = dict(params or {})
        if "time" in operation.params or "on-sec" in operation.params:
            if not time_s or time_s <= 0:
                raise BadInput(f"{op} needs --time S with S > 0 (a node answers exception 3 to time 0)")
            values["time" if "time" in operation.params else "on-sec"] = time_s
        if "position" in operation.params:
            if position is None or not 0 <= position <= 100:
                raise BadInput(f"{op} needs --position P with 0 <= P <= 100")
            values["position"] = position
        if "start-area" in operation.params:
            values.setdefault("start-area", 1)
            values.setdefault("stop-area", 1)
        block = definition.write
        assert block is not None
        opid = self.opids.next()
        if opid == self._last_opid.get(slot):  # the counter wrapped onto this device's last one: it would not act
            opid = self.opids.next()
        self._last_opid[slot] = opid
        values.update(operation=operation.code, opid=opid)
        await self.bus.write_registers(self.unit, block.start + self.offset,
                                       _command_registers(block, operation, values))
        result = CommandResult(slot, operation.name, operation.code, opid, verified=False)
        if not verify:
            return result
        return await self._read_back(definition, operation, opid)

    async def _read_back(self, definition: SlotDef, operation: codes.Operation, opid: int) -> CommandResult:
        expected = EXPECTED_STATUS[operation.name.lower()]
        deadline = time.monotonic() + self.readback_timeout_s
        proto = self.info.protocol_version if self.info else None
        await asyncio.sleep(self.readback_delay_s)
        while True:
            regs = await self.bus.read(self.unit, definition.read.fc, definition.read.start + self.offset,
                                       definition.read.count)
            values = definition.read.decode(regs)
            status, echo = int(values.get("status", -1)), int(values.get("opid", opid))
            remaining = values.get("remain-time")
            # §8.1 ambiguity: after completion the echo may be 0 or the last OPID; accept both at READY
            ok = status in expected and (echo == opid or (status == 0 and echo == 0))
            if ok or time.monotonic() >= deadline:
                name = codes.status_name(status, proto)
                message = "" if ok else (f"read-back: status {status} {name}, OPID {echo}; expected "
                                         f"{'/'.join(map(str, sorted(expected)))} with OPID {opid}")
                return CommandResult(definition.slot, operation.name, operation.code, opid, ok, status,
                                     name, None if remaining is None else int(remaining), message)
            await asyncio.sleep(min(0.2, self.readback_delay_s or 0.05))


def _command_registers(block: Block, operation: codes.Operation, values: dict[str, float]) -> list[int]:
    """The command block's registers. Parameters the block does not name (SET_POSITION on the default
    map, whose block is [operation, opid, time]) follow the OPID in the operation's order, one u16 each,
    as KS X 3286 lays out per-operation command regions."""
    regs = block.encode(values)
    extra = [p for p in operation.params if block.item(p) is None]
    if extra:
        tail = [int(values[p]) & 0xFFFF for p in extra]
        if 2 + len(tail) > len(regs):
            raise BadInput(f"command block at {block.start} has no room for {', '.join(extra)}")
        regs[2:2 + len(tail)] = tail
    return regs


async def read_node_info(bus: BusLike, unit: int, address_offset: int | None = None) -> NodeInfo:
    """Registers 1-8, at offset 0 and then -1 unless the offset is given (ksx3267.md §9)."""
    offsets = (address_offset,) if address_offset is not None else (0, -1)
    last_error: FarmError | None = None
    for offset in offsets:
        try:
            regs = await bus.read(unit, 3, 1 + offset, 8)
        except ModbusExceptionReply as exc:
            last_error = exc
            continue
        info = NodeInfo.from_registers(regs, offset)
        if info.plausible:
            return info
        last_error = DeviceError(f"unit {unit}: registers 1-8 are not KS node information "
                                 f"(protocol version {info.protocol_version})")
    assert last_error is not None
    raise last_error
