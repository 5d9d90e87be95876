"""Simulated KS X 3267 / KS X 3288 nodes, built from the same register-map profiles the controller reads.

Because the node is generated from the profile (node information, device codes, the node and slot
blocks), the twin and the controller cannot drift apart on register numbers; only the behaviour lives
here: OPID-triggered commands (ksx3267.md §8.1), level checks and exception 3 (§2), switch and
retractable runs with remain-time (§8.2), the control right (§7.3) and the KS X 3288 supply sequence
(§5.3). Time comes from an injectable clock and advances in `tick`, so tests and the time-accelerated
twin step it deterministically; the plant model reads `actuator()` / `nutrient()` and writes
`set_sensor()`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from farmcore.errors import ModbusExceptionReply
from farmcore.fieldbus import codes
from farmcore.fieldbus.framing import ILLEGAL_DATA_VALUE
from farmcore.fieldbus.profile import Block, Item, Profile, SlotDef
from farmcore.twin.registers import TABLE_OF_FC, RegisterDevice, Table

# Annex B.2 status codes the node reports
READY, ON, USER_CONTROL, OPENING, CLOSING, MANUAL_CONTROL = 0, 201, 299, 301, 302, 399
PREPARING, SUPPLYING, STOPPING = 401, 402, 403
# Annex B.4 control right
LOCAL, REMOTE, MANUAL = 1, 2, 3
# what a channel reports while the node is not under remote control (ksx3267.md §7.3)
LOCAL_STATUS = {"switch": USER_CONTROL, "retractable": MANUAL_CONTROL, "nutrient": USER_CONTROL}
MAX_EC, MAX_PH = 10.0, 14.0  # a NUTRIENT command beyond these is refused (dS/m, pH)

OpidPolicy = Literal["zero", "keep"]


@dataclass(frozen=True)
class ActuatorState:
    """What the plant model needs of a switch or retractable: is it driving, and where is it."""

    kind: str
    status: int  # as the status register shows it (299/399 under local control)
    on: bool  # switch energised, or retractable motor running
    position: float  # retractables: 0 closed .. 100 % open; switches: 0
    opid: int
    remaining_s: int


@dataclass(frozen=True)
class NutrientState:
    """What the plant model needs of a nutrient-supply device: is it feeding which area, with what."""

    status: int
    supplying: bool
    area: int  # irrigation area being fed, 0 when not supplying
    ec: float | None  # target EC of the solution (dS/m); None for plain water
    ph: float | None
    opid: int
    remaining_s: int  # seconds left on the current area
    alert: int


def _refuse(message: str) -> ModbusExceptionReply:
    return ModbusExceptionReply(ILLEGAL_DATA_VALUE, message)


def _seconds_left(until: float | None, now: float) -> int:
    """remain-time as a node shows it: whole seconds, counting down once a second."""
    return 0 if until is None else max(0, math.ceil(until - now - 1e-9))


class _Channel:
    """Run state of one switch or retractable; a run ends at `until` (None: until told otherwise)."""

    def __init__(self, definition: SlotDef, travel_s: float, keep_opid: bool) -> None:
        self.kind, self.read = definition.kind, definition.read
        self.open_s = self.close_s = travel_s
        self.keep_opid = keep_opid
        self.status = READY
        self.opid = 0
        self.direction = 0  # switch: 1 on; retractable: +1 opening, -1 closing
        self.until: float | None = None
        self.position = 0.0
        self.target: float | None = None  # SET_POSITION goal, to land exactly on it
        self.since = 0.0  # time `position` was last brought up to date

    def check(self, name: str, params: dict[str, float]) -> None:
        if name == "SET_POSITION" and not 0 <= params["position"] <= 100:
            raise _refuse(f"position {params['position']} outside 0..100")

    def start(self, name: str, params: dict[str, float], opid: int, now: float) -> None:
        """Replace whatever runs by the operation."""
        if name in ("OFF", "STOP"):
            self._idle(opid)
        elif name == "ON":
            self._run(opid, 1, None, now)
        elif name in ("TIMED_ON", "DIRECTIONAL_ON"):
            self._run(opid, 1, params["time"], now)
        elif name in ("OPEN", "CLOSE"):  # no end-of-travel signal: run the full travel time
            self._run(opid, 1 if name == "OPEN" else -1, self.open_s if name == "OPEN" else self.close_s, now)
        elif name in ("TIMED_OPEN", "TIMED_CLOSE"):
            self._run(opid, 1 if name == "TIMED_OPEN" else -1, params["time"], now)
        elif name == "SET_POSITION":
            delta = params["position"] - self.position
            if abs(delta) < 1e-9:
                self._idle(opid)
            else:
                self._run(opid, 1 if delta > 0 else -1,
                          abs(delta) / 100.0 * (self.open_s if delta > 0 else self.close_s), now)
                self.target = float(params["position"])
        else:  # SET_CONFIG
            self.open_s, self.close_s = params["open-time"], params["close-time"]
            self._idle(opid)

    def _idle(self, opid: int) -> None:
        self.status, self.direction, self.until, self.target = READY, 0, None, None
        self.opid = opid if self.keep_opid else 0

    def _run(self, opid: int, direction: int, seconds: float | None, now: float) -> None:
        self.opid, self.direction, self.target = opid, direction, None
        self.status = ON if self.kind == "switch" else (OPENING if direction > 0 else CLOSING)
        self.until = None if seconds is None else now + seconds

    def advance(self, now: float) -> None:
        if self.kind == "retractable" and self.direction:
            end = now if self.until is None else min(now, self.until)
            rate = 100.0 / (self.open_s if self.direction > 0 else self.close_s)
            self.position = min(100.0, max(0.0, self.position + self.direction * rate * (end - self.since)))
        self.since = now
        if self.until is not None and now >= self.until:
            if self.target is not None:
                self.position = self.target
            self._idle(self.opid)

    def registers(self, status: int, now: float) -> dict[str, float]:
        return {"opid": self.opid, "status": status, "remain-time": _seconds_left(self.until, now),
                "position": round(self.position)}

    def state(self, status: int, now: float) -> ActuatorState:
        position = self.position if self.kind == "retractable" else 0.0
        return ActuatorState(self.kind, status, self.direction != 0, position, self.opid,
                             _seconds_left(self.until, now))


class _Supply:
    """KS X 3288 supply: PREPARING, SUPPLYING areas start..stop for on-sec each, STOPPING, READY."""

    def __init__(self, definition: SlotDef, areas: int, reaction_s: float, once_s: float,
                 keep_opid: bool) -> None:
        self.kind, self.read = definition.kind, definition.read
        self.areas, self.reaction_s, self.once_s, self.keep_opid = areas, reaction_s, once_s, keep_opid
        self.status = READY
        self.opid = 0
        self.area = 0
        self.alert = 0
        self.until: float | None = None  # end of the current phase
        self.stop_area = 1
        self.on_s = 0.0
        self.ec: float | None = None
        self.ph: float | None = None
        self.recipe: tuple[float, float] | None = None  # last NUTRIENT targets; ONCE feeds with them

    def check(self, name: str, params: dict[str, float]) -> None:
        if name not in ("WATER", "NUTRIENT"):
            return
        first, last = int(params["start-area"]), int(params["stop-area"])
        if not 1 <= first <= last <= self.areas:
            raise _refuse(f"areas {first}..{last}; this node feeds areas 1..{self.areas}")
        if name == "NUTRIENT" and not (0 < params["EC"] <= MAX_EC and 0 < params["pH"] <= MAX_PH):
            raise _refuse(f"EC {params['EC']} / pH {params['pH']} out of range")

    def start(self, name: str, params: dict[str, float], opid: int, now: float) -> None:
        self.opid = opid
        if name == "STOP":  # at once, so a controller's read-back sees READY
            self._finish()
            return
        if name == "ONCE":
            first, self.stop_area, self.on_s = 1, self.areas, self.once_s
            self.ec, self.ph = self.recipe or (None, None)
        else:
            first, self.stop_area = int(params["start-area"]), int(params["stop-area"])
            self.on_s = params["on-sec"]
            self.ec, self.ph = (params["EC"], params["pH"]) if name == "NUTRIENT" else (None, None)
            if name == "NUTRIENT":
                self.recipe = (params["EC"], params["pH"])
        self.status, self.area, self.until = PREPARING, first, now + self.reaction_s

    def _finish(self) -> None:
        self.status, self.area, self.until, self.ec, self.ph = READY, 0, None, None, None
        if not self.keep_opid:
            self.opid = 0

    def advance(self, now: float) -> None:
        """Every phase change due by `now`, each at its own time, so a coarse tick misses none."""
        while self.until is not None and now >= self.until:
            at = self.until
            if self.status == PREPARING:
                self.status, self.until = SUPPLYING, at + self.on_s
            elif self.status == SUPPLYING and self.area < self.stop_area:
                self.area, self.until = self.area + 1, at + self.on_s
            elif self.status == SUPPLYING:
                self.status, self.area, self.until = STOPPING, 0, at + self.reaction_s
            else:
                self._finish()

    def supplying(self) -> bool:
        return self.status == SUPPLYING

    def registers(self, status: int, now: float) -> dict[str, float]:
        left = _seconds_left(self.until, now) if self.supplying() else 0
        return {"status": status, "area": self.area if self.supplying() else 0, "alert": self.alert,
                "opid": self.opid, "remain-time": left}

    def state(self, status: int, now: float) -> NutrientState:
        regs = self.registers(status, now)
        return NutrientState(status, self.supplying(), int(regs["area"]), self.ec, self.ph, self.opid,
                             int(regs["remain-time"]), self.alert)


class KsNode(RegisterDevice):
    """A KS X 3267 sensor/actuator node or KS X 3288 nutrient node served from its profile.

    `device_codes` populates slots (code 0 or missing = empty). `address_offset=-1` serves every
    register one lower (the SL reading, ksx3267.md §6). `opid_after_completion` chooses what the
    status-block OPID shows once a command has finished (§8.1 is ambiguous; controllers must take both).
    `travel_s` gives retractables their full travel time (default `default_travel_s`). A KS X 3288
    supply device feeds areas 1..`areas`, reacts after `reaction_s` and feeds each area `once_s` on ONCE.
    """

    def __init__(
        self,
        profile: Profile,
        device_codes: Mapping[int, int],
        *,
        product_code: int = 0,
        serial: int = 0,
        protocol_version: int | None = None,
        address_offset: int = 0,
        clock: Callable[[], float] = time.monotonic,
        opid_after_completion: OpidPolicy = "zero",
        travel_s: Mapping[int, float] | None = None,
        default_travel_s: float = 60.0,
        areas: int = 4,
        reaction_s: float = 5.0,
        once_s: float = 60.0,
    ) -> None:
        super().__init__()
        self._shown: dict[int, tuple[tuple[str, float], ...]] = {}  # last values put per block start
        match = profile.match
        if profile.kind != "ks-node" or match is None or match.product_type is None:
            raise ValueError(f"profile {profile.id}: a simulated KS node needs a ks-node profile with "
                             "match.product_type")
        if opid_after_completion not in ("zero", "keep"):
            raise ValueError(f"opid_after_completion {opid_after_completion!r}; use 'zero' or 'keep'")
        self.profile = profile
        self.clock = clock
        self.offset = address_offset
        if protocol_version is None:
            protocol_version = (match.protocol_version or (10,))[0]
        self.protocol_version = protocol_version
        self.device_codes = {slot: code for slot, code in device_codes.items() if code}
        self.control = REMOTE
        self.node_opid = 0
        self._last = clock()  # the time timers were last advanced to
        keep = opid_after_completion == "keep"
        self._devices: dict[int, _Channel | _Supply] = {}
        for slot, code in self.device_codes.items():
            definition = profile.slot(slot)
            if definition is None:
                raise ValueError(f"profile {profile.id} has no slot {slot}")
            dtype = codes.device_type(code)
            if dtype is not None and dtype.kind != definition.kind:
                raise ValueError(f"slot {slot} takes a {definition.kind}; code {code} is a {dtype.kind}")
            if definition.kind in ("switch", "retractable"):
                travel = (travel_s or {}).get(slot, default_travel_s)
                if travel <= 0:
                    raise ValueError(f"slot {slot}: full travel time {travel} s must be positive")
                self._devices[slot] = _Channel(definition, travel, keep)
            elif definition.kind == "nutrient":
                self._devices[slot] = _Supply(definition, areas, reaction_s, once_s, keep)
        info = [match.cert_authority or 0, match.company_code or 0, match.product_type, product_code,
                self.protocol_version, profile.channels, serial & 0xFFFF, serial >> 16 & 0xFFFF]
        self._define(info)
        self._refresh()

    def _commands(self) -> list[tuple[SlotDef | None, Block]]:
        """Command blocks: (None, node block) and (slot, slot block)."""
        out: list[tuple[SlotDef | None, Block]] = []
        if self.profile.node_write is not None:
            out.append((None, self.profile.node_write))
        out.extend((s, s.write) for s in self.profile.slots if s.write is not None)
        return out

    def _define(self, info: list[int]) -> None:
        self.define("holding", 1 + self.offset, len(info), info)
        device_codes = [self.device_codes.get(k, 0) for k in range(1, self.profile.channels + 1)]
        self.define("holding", self.profile.codes_start + self.offset, len(device_codes), device_codes)
        reads = [s.read for s in self.profile.slots]
        if self.profile.node_read is not None:
            reads.append(self.profile.node_read)
        for block in reads:
            self.define(TABLE_OF_FC[block.fc], block.start + self.offset, block.count)
        for _slot, block in self._commands():
            if block.item("operation") is None or block.item("opid") is None:
                raise ValueError(f"profile {self.profile.id}: command block at {block.start} needs "
                                 "operation and opid items")
            self.define(TABLE_OF_FC[block.fc], block.start + self.offset, block.count, writable=True)

    # ------------------------------------------------------------------ the plant model's side

    def set_sensor(self, slot: int, value: float, status: int = READY) -> None:
        """A new measurement of a populated sensor slot (status e.g. 102 NEED_CALIBRATION)."""
        definition = self.profile.slot(slot)
        if definition is None or definition.kind != "sensor" or slot not in self.device_codes:
            raise ValueError(f"slot {slot} of {self.profile.id} holds no sensor")
        self._put(definition.read, {"value": value, "status": status})

    def set_control(self, control: int) -> None:
        """The node's own selector switch: under LOCAL or MANUAL it ignores remote device commands."""
        if control not in (LOCAL, REMOTE, MANUAL):
            raise ValueError(f"control right {control}; use 1 LOCAL, 2 REMOTE or 3 MANUAL")
        self.control = control
        self._refresh()

    def actuator(self, slot: int) -> ActuatorState:
        """A switch or retractable as of the last `tick` or command."""
        device = self._devices.get(slot)
        if not isinstance(device, _Channel):
            raise ValueError(f"slot {slot} of {self.profile.id} holds no switch or retractable")
        return device.state(self._status(device), self._last)

    def nutrient(self, slot: int | None = None) -> NutrientState:
        """A nutrient-supply device as of the last `tick` or command (the node's first one by default)."""
        supplies = {k: d for k, d in self._devices.items() if isinstance(d, _Supply)}
        device = supplies.get(min(supplies, default=0) if slot is None else slot)
        if device is None:
            raise ValueError(f"{self.profile.id}: no nutrient-supply device in slot {slot}")
        return device.state(self._status(device), self._last)

    def tick(self, now: float | None = None) -> None:
        """Advance timers to `now` (default: the clock) and refresh the status registers."""
        self._advance(self.clock() if now is None else now)
        self._refresh()

    # ------------------------------------------------------------------ the master's side

    def on_write(self, table: Table, address: int, values: list[int]) -> int | None:
        """Act on every command block whose OPID the write changes; one refusal refuses the whole write."""
        first, last = address - self.offset, address - self.offset + len(values) - 1
        self._advance(self.clock())
        actions = []
        try:
            for slot, block in self._commands():
                if TABLE_OF_FC[block.fc] != table or block.end < first or block.start > last:
                    continue
                old = self.read(table, block.start + self.offset, block.count)
                regs = [values[r - first] if first <= r <= last else v
                        for r, v in enumerate(old, start=block.start)]
                opid = int(block.decode(regs)["opid"])
                if opid in (0, block.decode(old)["opid"]):
                    continue  # same OPID: stored, not acted on (a later new OPID activates it)
                action = self._command(slot, block, regs, opid)
                if action is not None:
                    actions.append(action)
        except ModbusExceptionReply as exc:
            return exc.code
        for action in actions:
            action(self._last)
        self._refresh()
        return None

    def _command(self, slot: SlotDef | None, block: Block, regs: list[int], opid: int
                 ) -> Callable[[float], None] | None:
        """Check one activated command block: its action, or None when the node ignores it."""
        if slot is None:
            kind, level, where = "node", 1, "node"
        else:
            if self.control != REMOTE:
                return None  # local or manual control: remote device commands are ignored
            dtype = codes.device_type(self.device_codes.get(slot.slot, 0))
            kind, level, where = slot.kind, 0 if dtype is None else dtype.level or 0, f"slot {slot.slot}"
        code = int(block.decode(regs)["operation"])
        operation = next((op for op in codes.operations(kind, self.protocol_version).values()
                          if op.code == code), None)
        if operation is None or operation.level > level:
            raise _refuse(f"{where}: operation {code} is not supported at level {level}")
        params = self._params(block, regs, operation.params)
        zero = [n for n in ("time", "on-sec", "open-time", "close-time") if params.get(n, 1) <= 0]
        if zero:
            raise _refuse(f"{where}: {operation.name} with {zero[0]} 0")
        if slot is None:
            return self._control(int(params["control"]), opid)
        device = self._devices[slot.slot]
        device.check(operation.name, params)
        return lambda now: device.start(operation.name, params, opid, now)

    def _control(self, control: int, opid: int) -> Callable[[float], None] | None:
        """CONTROL (B.3 code 2); the node OPID keeps echoing it, as a control right is a state, not a run."""
        if control not in (LOCAL, REMOTE, MANUAL):
            raise _refuse(f"control right {control}")
        if self.control == MANUAL:
            return None  # MANUAL cannot be taken remotely

        def act(_now: float) -> None:
            self.control, self.node_opid = control, opid

        return act

    def _params(self, block: Block, regs: list[int], names: tuple[str, ...]) -> dict[str, float]:
        """Operation parameters from the block by name; a block that does not name them holds them right
        after the OPID (KS X 3286 per-operation layout: SET_POSITION's position in the first `time` word)."""
        if all(block.item(n) is not None for n in names):
            values = block.decode(regs)
            return {n: values[n] for n in names}
        enc = self.profile.encoding
        pos = max(i.register + i.size for i in block.items if i.name in ("operation", "opid")) - block.start
        out: dict[str, float] = {}
        for name in names:
            vocab = codes.item_type(name) or {"type": "u16"}
            item = Item(name, block.start + pos, vocab["type"], enc.byte_order, enc.word_order)
            if pos + item.size > block.count:
                raise _refuse(f"command block at {block.start} has no room for {name}")
            out[name] = item.decode(regs[pos:pos + item.size])
            pos += item.size
        return out

    # ------------------------------------------------------------------ time and registers

    def _advance(self, now: float) -> None:
        """Timers only run forward: a late or repeated `now` changes nothing."""
        self._last = max(now, self._last)
        for device in self._devices.values():
            device.advance(self._last)

    def _status(self, device: _Channel | _Supply) -> int:
        return device.status if self.control == REMOTE else LOCAL_STATUS[device.kind]

    def _refresh(self) -> None:
        """Rewrite the node and device status blocks (a real node does it about once a second)."""
        if self.profile.node_read is not None:
            node = {"status": READY, "opid": self.node_opid, "control": self.control}
            self._put(self.profile.node_read, node)
        for device in self._devices.values():
            self._put(device.read, device.registers(self._status(device), self._last))

    def _put(self, block: Block, values: Mapping[str, float]) -> None:
        shown = tuple(values.items())
        if self._shown.get(block.start) == shown:
            return  # unchanged: the time-accelerated twin refreshes thousands of times a second
        self._shown[block.start] = shown
        self.set(TABLE_OF_FC[block.fc], block.start + self.offset, block.encode(values))
