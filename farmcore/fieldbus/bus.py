"""One physical Modbus bus (serial RTU, Modbus TCP, RTU over a TCP gateway); all pymodbus specifics live here.

Why a wrapper: pymodbus renames arguments between releases (`slave=` -> `device_id=` in 3.10), returns
exception replies instead of raising them, raises its own exceptions for timeouts and lost links, and its
reconnect defaults can leave a site blind for minutes (libraries.md §1). `Bus` turns all of that into
`CommError` / `ModbusExceptionReply` lines that name the bus and the unit, and holds one lock so that only
one transaction is on the wire at a time (KS X 3267 §4.1).

Addresses are PDU addresses: callers apply any `address_offset` of the bus or profile.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from time import monotonic
from typing import Self

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.base import ModbusBaseClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from farmcore.errors import BadInput, CommError, DeviceError, ModbusExceptionReply
from farmcore.fieldbus.framelog import FrameLog, PacketTracer
from farmcore.fieldbus.url import BusConfig, parse_bus_url


def _quiet_pymodbus() -> None:
    """Mute pymodbus' error lines (with frames auto-dumped since 3.11): `Bus` reports every failure itself.

    Left alone if the application has already chosen a level for the `pymodbus` logger.
    """
    logger = logging.getLogger("pymodbus")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.CRITICAL)


_quiet_pymodbus()

# pymodbus reconnects a lost link by itself, doubling the delay from the first to the second value.
# Its default ceiling of 300 s would leave a site blind for 5 minutes after a short outage.
RECONNECT_DELAY_S = 0.1
RECONNECT_DELAY_MAX_S = 10.0
# pymodbus drops a TCP link after retries + 3 silent transactions in a row. Behind an RS485 gateway a scan
# of absent units is silent without the link being at fault, so allow a full 1-32 scan before dropping.
SILENT_TRANSACTIONS_BEFORE_DROP = 32

MAX_COUNT = {1: 2000, 2: 2000, 3: 125, 4: 125}
MAX_WRITE_REGISTERS = 123
RTU_UNITS = range(1, 248)  # 0 is broadcast, which never answers
TCP_UNITS = range(256)

Request = Callable[[ModbusBaseClient], Awaitable[ModbusPDU]]


@dataclass(frozen=True)
class BusStats:
    """Counters of one bus since it was created; `errors` includes `exception_replies`."""

    requests: int = 0
    errors: int = 0
    exception_replies: int = 0
    tx_bytes: int = 0
    rx_bytes: int = 0
    last_error: str = ""
    last_error_utc: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "exception_replies": self.exception_replies,
            "tx_bytes": self.tx_bytes,
            "rx_bytes": self.rx_bytes,
            "last_error": self.last_error,
            "last_error_utc": self.last_error_utc.isoformat() if self.last_error_utc else None,
        }


@dataclass
class _Counters:
    requests: int = 0
    errors: int = 0
    exception_replies: int = 0
    last_error: str = ""
    last_error_utc: datetime | None = None


def check_request(bus: str, units: range, unit: int, what: str, address: int, count: int, max_count: int,
                  values: Sequence[int] = ()) -> None:
    """Refuse locally what no node could accept; both bus clients word it the same way."""
    where = f"bus {bus} unit {unit}: {what}"
    if unit not in units:
        raise BadInput(f"{where}: unit must be {units.start}-{units.stop - 1}")
    if not 1 <= count <= max_count:
        raise BadInput(f"{where}: count must be 1-{max_count}")
    if not 0 <= address <= 65536 - count:
        raise BadInput(f"{where}: address must be 0-{65536 - count}")
    if any(not 0 <= v <= 0xFFFF for v in values):
        raise BadInput(f"{where}: register values must be 0-65535")


class BusBase:
    """What both bus clients share: the name, the context manager and the failure counters."""

    config: BusConfig
    _counters: _Counters

    @property
    def name(self) -> str:
        return self.config.label

    async def connect(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _failed(self, exc: DeviceError) -> DeviceError:
        """Count a failure and keep it as the last error (for `stats`); returns it for raising."""
        c = self._counters
        c.errors += 1
        c.exception_replies += isinstance(exc, ModbusExceptionReply)
        c.last_error, c.last_error_utc = str(exc), datetime.now(UTC)
        return exc


class Bus(BusBase):
    """One physical connection, one transaction at a time, reconnecting by itself with a bounded backoff."""

    def __init__(self, config: BusConfig, frame_log: FrameLog | None = None) -> None:
        self.config = config
        self.frame_log = frame_log if frame_log is not None else FrameLog()
        self._tracer = PacketTracer(self.frame_log, config.label)
        self._counters = _Counters()
        self._lock = asyncio.Lock()
        self._client: ModbusBaseClient | None = None
        self._link_lost = False  # an established link dropped; pymodbus is reconnecting in the background
        self._backoff_s = RECONNECT_DELAY_S
        self._next_attempt = 0.0  # monotonic time before which no own connect attempt is made
        self._idle_since = 0.0  # monotonic end of the last transaction, for the RTU inter-frame gap
        self._generation = 0  # bumped by close(), so a dropped client's late callbacks are ignored

    def __repr__(self) -> str:
        return f"Bus({str(self.config)!r})"

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    @property
    def stats(self) -> BusStats:
        c = self._counters
        return BusStats(c.requests, c.errors, c.exception_replies, self._tracer.tx_bytes,
                        self._tracer.rx_bytes, c.last_error, c.last_error_utc)

    async def connect(self) -> None:
        """Connect now (no backoff wait); raises `CommError` within about the timeout if that fails."""
        async with self._lock:
            self._next_attempt = 0.0
            await self._ready(f"bus {self.name}")

    async def close(self) -> None:
        """Drop the link without waiting for a running transaction; a later call connects again."""
        client, self._client = self._client, None
        self._generation += 1
        self._link_lost = False
        self._backoff_s, self._next_attempt = RECONNECT_DELAY_S, 0.0
        if client is not None:
            client.close()

    async def read(self, unit: int, fc: int, address: int, count: int) -> list[int]:
        """Read registers (FC 3, 4) or bits as 0/1 (FC 1, 2)."""
        if fc not in MAX_COUNT:
            raise BadInput(f"bus {self.name} unit {unit}: read function {fc} not supported; allowed: 1-4")
        what = f"FC{fc} read {count} at {address}"
        self._check(unit, what, address, count, MAX_COUNT[fc])
        client_call = {
            1: ModbusBaseClient.read_coils,
            2: ModbusBaseClient.read_discrete_inputs,
            3: ModbusBaseClient.read_holding_registers,
            4: ModbusBaseClient.read_input_registers,
        }[fc]
        reply = await self._transact(
            unit, what, fc, lambda c: client_call(c, address, count=count, device_id=unit)
        )
        values = [int(bit) for bit in reply.bits[:count]] if fc in (1, 2) else list(reply.registers)
        if len(values) != count:
            raise self._failed(CommError(f"bus {self.name} unit {unit}: {what}: garbled reply, "
                                         f"{len(values)} values instead of {count}"))
        return values

    async def write_registers(self, unit: int, address: int, values: Sequence[int]) -> None:
        """FC16, the KS X 3267 way to send a command block in one transaction."""
        what = f"FC16 write {len(values)} at {address}"
        self._check(unit, what, address, len(values), MAX_WRITE_REGISTERS, values)
        regs = list(values)
        await self._transact(unit, what, 16, lambda c: c.write_registers(address, regs, device_id=unit))

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """FC6, for vendor devices that do not take FC16."""
        what = f"FC6 write at {address}"
        self._check(unit, what, address, 1, 1, [value])
        await self._transact(unit, what, 6, lambda c: c.write_register(address, value, device_id=unit))

    async def write_coil(self, unit: int, address: int, on: bool) -> None:
        """FC5, for vendor relay boards."""
        what = f"FC5 write {'ON' if on else 'OFF'} at {address}"
        self._check(unit, what, address, 1, 1)
        await self._transact(unit, what, 5, lambda c: c.write_coil(address, bool(on), device_id=unit))

    def _check(
        self, unit: int, what: str, address: int, count: int, max_count: int, values: Sequence[int] = ()
    ) -> None:
        """Refuse locally what no node could accept, so pymodbus never raises on arguments."""
        units = RTU_UNITS if self.config.kind != "tcp" else TCP_UNITS
        check_request(self.name, units, unit, what, address, count, max_count, values)

    async def _transact(self, unit: int, what: str, fc: int, request: Request) -> ModbusPDU:
        """Run one request under the bus lock and turn every failure into a one-line `DeviceError`."""
        context = f"bus {self.name} unit {unit}: {what}"
        async with self._lock:
            self._counters.requests += 1
            try:
                client = await self._ready(context)
                await self._keep_frame_gap()
                reply = await request(client)
            except CommError as exc:
                raise self._failed(exc) from None
            except (ModbusException, OSError) as exc:  # OSError includes TimeoutError
                raise self._failed(CommError(f"{context}: {self._describe(exc)}")) from exc
            finally:
                self._tracer.flush()
                self._idle_since = monotonic()
        if reply.isError():
            code = getattr(reply, "exception_code", 0)
            raise self._failed(ModbusExceptionReply(code, context))
        if reply.function_code != fc:  # RTU has no transaction id: a late reply to another request
            raise self._failed(CommError(f"{context}: mismatched reply (FC{reply.function_code})"))
        return reply

    async def _ready(self, context: str) -> ModbusBaseClient:
        """The connected client, or `CommError` at once while a reconnect is pending or backing off."""
        if self._client is None:
            self._client = self._new_client()
        client = self._client  # close() may drop self._client while this awaits
        if client.connected:
            return client
        if self._link_lost:
            raise CommError(f"{context}: not connected (link lost, reconnecting)")
        wait_s = self._next_attempt - monotonic()
        if wait_s > 0:
            raise CommError(f"{context}: not connected (next attempt in {wait_s:.1f} s)")
        started = monotonic()
        if await client.connect():  # bounded by the timeout inside pymodbus
            self._backoff_s = RECONNECT_DELAY_S
            return client
        self._next_attempt = monotonic() + self._backoff_s
        self._backoff_s = min(2 * self._backoff_s, RECONNECT_DELAY_MAX_S)
        raise CommError(f"{context}: {self._connect_failure(monotonic() - started)}")

    def _new_client(self) -> ModbusBaseClient:
        """pymodbus needs a running loop to build a client, so this happens on first use, not in __init__."""
        cfg = self.config
        common: dict[str, object] = {
            "name": cfg.label,
            "reconnect_delay": RECONNECT_DELAY_S,
            "reconnect_delay_max": RECONNECT_DELAY_MAX_S,
            "timeout": cfg.timeout_s,
            "retries": cfg.retries,
            "trace_packet": self._tracer.trace_packet,
            "trace_pdu": self._tracer.trace_pdu,
            "trace_connect": partial(self._on_link, self._generation),
        }
        client: ModbusBaseClient
        if cfg.is_serial:
            client = AsyncModbusSerialClient(
                cfg.device, framer=FramerType.RTU, baudrate=cfg.baud, bytesize=cfg.bytesize,
                parity=cfg.parity, stopbits=cfg.stopbits, **common,
            )
        else:
            framer = FramerType.RTU if cfg.kind == "rtu+tcp" else FramerType.SOCKET
            client = AsyncModbusTcpClient(cfg.host, port=cfg.port, framer=framer, **common)
        client.set_max_no_responses(SILENT_TRANSACTIONS_BEFORE_DROP)
        return client

    def _on_link(self, generation: int, up: bool) -> None:
        """pymodbus `trace_connect`: it reports down only for a link that dropped, then reconnects itself."""
        if generation != self._generation:
            return
        self._link_lost = not up
        if up:
            self._backoff_s, self._next_attempt = RECONNECT_DELAY_S, 0.0

    async def _keep_frame_gap(self) -> None:
        """RS485 nodes find the end of a frame by 3.5 characters of silence; never start a request sooner."""
        if self.config.is_serial:
            wait_s = self._idle_since + self.config.frame_gap_s - monotonic()
            if wait_s > 0:
                await asyncio.sleep(wait_s)

    def _connect_failure(self, elapsed_s: float) -> str:
        cfg = self.config
        if cfg.is_serial:
            if not os.path.exists(cfg.device):
                return f"cannot open serial port {cfg.device}: no such device"
            return f"cannot open serial port {cfg.device}: busy, not a tty or no permission"
        if elapsed_s >= 0.9 * cfg.timeout_s:
            return f"cannot connect: no answer within {cfg.timeout_s:g} s"
        return "cannot connect: refused, unreachable or unknown host"

    def _describe(self, exc: Exception) -> str:
        """One phrase for a pymodbus failure; its own text only as a last resort."""
        if isinstance(exc, ConnectionException):
            return "not connected (link lost, reconnecting)"
        if isinstance(exc, ModbusIOException) and "No response" in exc.string:
            tries = self.config.retries + 1
            dropped = "; link dropped, reconnecting" if "CLOSING" in exc.string else ""
            return f"no response ({tries} x {self.config.timeout_s:g} s){dropped}"
        if isinstance(exc, ModbusException):
            return f"bad reply: {exc.string.splitlines()[0]}"
        return f"{type(exc).__name__}: {exc}"


def open_bus(url: str, frame_log: FrameLog | None = None, **overrides: object) -> Bus:
    """A `Bus` for a URL; `overrides` (timeout=, retries=, baud=, ...) win over the URL's query."""
    return Bus(parse_bus_url(url, **overrides), frame_log)
