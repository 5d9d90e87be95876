"""Vendor Modbus devices: points read through the poll plan, relay outputs with KS level-1 semantics.

A relay board knows only "coil on/off". KS level 1 adds timed operation, an end to every run (full
travel time, max run time) and, for openers, an interlock so that the open and close relays are
never energised together, with a dead time before the motor reverses (ksx3267.md §14 item 4).
The timers live in this process: the daemon keeps them; the command line waits them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from farmcore.errors import BadInput, CommError, DeviceError, ModbusExceptionReply
from farmcore.fieldbus.node import (
    COMM_ERROR,
    GOOD,
    OPERATIONS,
    BusLike,
    CommandResult,
    Reading,
    Snapshot,
    _PlannedReader,
    address_offset_for,
    line_cost_for,
)
from farmcore.fieldbus.pollplan import LineCost, Request, Span
from farmcore.fieldbus.profile import EmulatedActuator, Point, Profile, WriteTarget

log = logging.getLogger(__name__)
OFF_RETRY_FIRST_S = 0.2
OFF_RETRY_MAX_S = 5.0

# emulated statuses, as a KS node would report them (Annex B.2)
READY, ON, OPENING, CLOSING = 0, 201, 301, 302
STATUS_NAMES = {READY: "READY", ON: "ON", OPENING: "OPENING", CLOSING: "CLOSING"}


class _Output:
    """Run state of one emulated actuator."""

    def __init__(self, spec: EmulatedActuator) -> None:
        self.spec = spec
        self.status = READY
        self.until: float | None = None  # monotonic time the current run ends
        self.stopped_at = float("-inf")  # when the motor last stopped (for the dead time)
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()  # one command at a time per output, or two could defeat the interlock

    def remaining(self) -> int | None:
        return None if self.until is None else max(0, round(self.until - time.monotonic()))


class VendorNode:
    """A non-KS Modbus device described by a vendor profile."""

    def __init__(self, bus: BusLike, unit: int, profile: Profile, *, cost: LineCost | None = None) -> None:
        if profile.kind != "vendor":
            raise BadInput(f"profile {profile.id} is a {profile.kind} profile, not a vendor profile")
        self.bus, self.unit, self.profile = bus, unit, profile
        self.offset = address_offset_for(bus, profile)
        self.warnings: list[str] = []
        self._reader = _PlannedReader(bus, unit, self.offset, cost or line_cost_for(bus), None)
        self._outputs = {a.slot: _Output(a) for a in profile.actuators}

    def spans(self) -> list[Span]:
        return [Span(p.fc, p.item.register, p.register_count, p.slot) for p in self.profile.points]

    def poll_plan(self) -> list[Request]:
        return self._reader.plan_for(self.spans())

    async def read(self) -> Snapshot:
        data, errors, requests = await self._reader.run(self.spans())
        now = datetime.now(UTC)
        readings = [self._point_reading(p, data.get(p.slot), errors.get(p.slot), now)
                    for p in self.profile.points]
        for slot, out in self._outputs.items():
            readings.append(Reading(slot=slot, kind=out.spec.kind, status=out.status,
                                    status_name=STATUS_NAMES[out.status], remaining_s=out.remaining(),
                                    quality=GOOD, time=now, extra={"id": out.spec.id, "emulated": True}))
        node = {"profile": self.profile.id}
        return Snapshot(self.unit, node, readings, requests=requests, errors=len(errors))

    @staticmethod
    def _point_reading(point: Point, regs: list[int] | None, error: Exception | None,
                       now: datetime) -> Reading:
        reading = Reading(slot=point.slot, kind="sensor" if point.quantity else "point",
                          quantity=point.quantity, unit=point.item.unit, extra={"id": point.id})
        if point.ks_code:
            reading.extra["ks_code"] = point.ks_code
        if regs is None:
            reading.quality, reading.error = COMM_ERROR, str(error) if error else None
            return reading
        if point.item.type == "bits":
            reading.extra["bits"] = list(regs)
        else:
            reading.value = point.item.decode(regs)
        reading.quality, reading.time = GOOD, now
        return reading

    # ------------------------------------------------------------------ commands

    async def command(self, slot: int, op: str, *, time_s: int | None = None, position: int | None = None,
                      params: dict[str, float] | None = None, verify: bool = True) -> CommandResult:
        out = self._outputs.get(slot)
        if out is None:
            slots = ", ".join(str(s) for s in sorted(self._outputs)) or "none"
            raise BadInput(f"unit {self.unit}: slot {slot} is not an actuator of {self.profile.id} "
                           f"(actuator slots: {slots})")
        kind = out.spec.kind
        if op not in OPERATIONS[kind]:
            raise BadInput(f"unit {self.unit} slot {slot}: {kind} takes {' | '.join(OPERATIONS[kind])}, "
                           f"not {op!r}")
        if op == "position":
            raise BadInput(f"unit {self.unit} slot {slot}: SET_POSITION needs a level-2 device; emulated "
                           "relay outputs are level 1")
        if op.startswith("timed-") and (not time_s or time_s <= 0):
            raise BadInput(f"{op} needs --time S with S > 0")
        async with out.lock:
            return await self._command(out, op, time_s, verify)

    async def _command(self, out: _Output, op: str, time_s: int | None, verify: bool) -> CommandResult:
        kind = out.spec.kind
        self._cancel(out)
        if op in ("off", "stop"):
            await self._all_off(out)
            return await self._result(out, op, verify)
        direction = {"on": "on", "timed-on": "on", "open": "open", "timed-open": "open",
                     "close": "close", "timed-close": "close"}[op]
        limit = float(time_s) if op.startswith("timed-") else (
            out.spec.full_travel_s if kind == "retractable" else out.spec.max_run_s)
        await self._energise(out, direction)
        out.until = time.monotonic() + limit if limit else None
        if limit:
            out.task = asyncio.create_task(self._stop_after(out, limit))
        return await self._result(out, op, verify)

    async def _energise(self, out: _Output, direction: str) -> None:
        spec = out.spec
        if spec.kind == "retractable":
            other = spec.close if direction == "open" else spec.open
            assert other is not None
            await self._write(other, False)  # interlock: never both directions at once
            reversing = out.status == (CLOSING if direction == "open" else OPENING)
            if reversing:
                out.stopped_at = time.monotonic()
            wait = spec.dead_time_s - (time.monotonic() - out.stopped_at)
            if spec.interlock and wait > 0:
                await asyncio.sleep(wait)
        target = {"on": spec.on, "open": spec.open, "close": spec.close}[direction]
        assert target is not None
        await self._write(target, True)
        out.status = {"on": ON, "open": OPENING, "close": CLOSING}[direction]

    async def _all_off(self, out: _Output) -> None:
        for target in (out.spec.on, out.spec.open, out.spec.close):
            if target is not None:
                await self._write(target, False)
        if out.status != READY:
            out.stopped_at = time.monotonic()
        out.status, out.until = READY, None

    async def _stop_after(self, out: _Output, seconds: float) -> None:
        """End a run; a failed off-write is retried until it goes through, never left energised."""
        await asyncio.sleep(seconds)
        delay = OFF_RETRY_FIRST_S
        while True:
            async with out.lock:
                try:
                    await self._all_off(out)
                    out.task = None
                    return
                except (CommError, ModbusExceptionReply) as exc:
                    log.warning("unit %s %s: end of run not applied, retrying: %s",
                                self.unit, out.spec.id, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, OFF_RETRY_MAX_S)

    def _cancel(self, out: _Output) -> None:
        if out.task is not None and out.task is not asyncio.current_task():
            out.task.cancel()
        out.task = None

    async def _write(self, target: WriteTarget, on: bool) -> None:
        address = target.register + self.offset
        if target.fc == 5:
            await self.bus.write_coil(self.unit, address, on)
        elif target.fc == 6:
            await self.bus.write_register(self.unit, address, 1 if on else 0)
        else:
            await self.bus.write_registers(self.unit, address, [1 if on else 0])

    async def _read_state(self, target: WriteTarget) -> bool:
        fc = 1 if target.fc == 5 else 3
        (value,) = await self.bus.read(self.unit, fc, target.register + self.offset, 1)
        return bool(value)

    async def _result(self, out: _Output, op: str, verify: bool) -> CommandResult:
        verified = False
        message = ""
        if verify:
            active = {ON: out.spec.on, OPENING: out.spec.open, CLOSING: out.spec.close}.get(out.status)
            want = {t: t == active for t in (out.spec.on, out.spec.open, out.spec.close) if t is not None}
            try:
                seen = {t: await self._read_state(t) for t in want}
            except (CommError, ModbusExceptionReply) as exc:
                raise DeviceError(f"unit {self.unit} slot {out.spec.slot}: read-back failed: {exc}") from None
            verified = seen == want
            if not verified:
                message = "read-back: relay outputs differ from the command"
        return CommandResult(out.spec.slot, op.upper().replace("-", "_"), out.status, None, verified,
                             out.status, STATUS_NAMES[out.status], out.remaining(), message)

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until every timed run has ended (the command line's foreground wait)."""
        tasks = [o.task for o in self._outputs.values() if o.task is not None]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        if pending:
            raise DeviceError(f"unit {self.unit}: outputs could not be switched off at the end of the run")

    async def safe_stop(self) -> None:
        """Cancel timers and de-energise every output (Ctrl-C, daemon stop)."""
        for out in self._outputs.values():
            self._cancel(out)
            with contextlib.suppress(CommError, ModbusExceptionReply):
                await self._all_off(out)
