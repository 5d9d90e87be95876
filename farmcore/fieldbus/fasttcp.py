"""A lean Modbus TCP client with `Bus`'s interface: MBAP frames of our own over an asyncio Protocol.

Why: pymodbus spends about 0.4-0.5 ms of CPU per request (benchmarks/fieldbus_scan.py) in its
transaction manager, framer, PDU classes and tracing hooks; a site daemon polling 200 zones three requests
each per second spends most of its CPU there (benchmarks/daemon_scale.py). This client builds and parses
the frames itself (farmcore.fieldbus.framing), matches replies by transaction id, and keeps `Bus`'s
behaviour where it matters: the same errors (`CommError`, `ModbusExceptionReply`, `BadInput`) with the same
one-line texts naming bus and unit, `stats`, the frame log, retries on silence, a dropped link after
`SILENT_TRANSACTIONS_BEFORE_DROP` silent transactions, and reconnection with a bounded backoff (on the
next request rather than in the background).

`max_in_flight` > 1 lets that many transactions share the link, matched by transaction id (Modbus TCP
allows it; an RS485 gateway behind the link may not, hence the default 1: one at a time, as `Bus`).
Only `tcp://` URLs: `open_fast_bus` gives a plain `Bus` for serial and RTU-over-TCP.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from time import monotonic

from farmcore.errors import BadInput, CommError, ModbusExceptionReply
from farmcore.fieldbus.bus import (
    MAX_COUNT,
    MAX_WRITE_REGISTERS,
    RECONNECT_DELAY_MAX_S,
    RECONNECT_DELAY_S,
    SILENT_TRANSACTIONS_BEFORE_DROP,
    TCP_UNITS,
    Bus,
    BusBase,
    BusStats,
    _Counters,
    check_request,
)
from farmcore.fieldbus.framelog import FrameLog
from farmcore.fieldbus.framing import MAX_PDU_SIZE, mbap_frame
from farmcore.fieldbus.url import BusConfig, parse_bus_url

_HEAD = struct.Struct(">HHHB")  # transaction, protocol, length, unit
_READ = struct.Struct(">BHH")  # FC 1-4 request, FC 5/6 request and reply, FC 15/16 reply


class _Link(asyncio.Protocol):
    """One TCP connection: cuts the byte stream into MBAP frames and hands each to its waiting request."""

    def __init__(self, bus: FastTcpBus) -> None:
        self.bus = bus
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiting: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.open = True

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while len(buf) >= 7:
            tid, protocol, length, unit = _HEAD.unpack_from(buf)
            if protocol != 0 or not 2 <= length <= MAX_PDU_SIZE + 1:  # not Modbus: drop the link
                self.bus._log_rx(bytes(buf))
                buf.clear()
                self.fail(CommError("garbled reply (not an MBAP frame); link dropped"))
                if self.transport is not None:
                    self.transport.close()
                return
            end = 6 + length
            if len(buf) < end:
                return
            frame = bytes(buf[:end])
            del buf[:end]
            self.bus._log_rx(frame)
            future = self.waiting.pop(tid, None)
            if future is not None and not future.done():  # else a late reply to a request given up on
                future.set_result((unit, frame[7:]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.fail(CommError("not connected (link lost, reconnecting)"))

    def fail(self, exc: Exception) -> None:
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(exc)


def _expire(future: asyncio.Future[tuple[int, bytes]]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class FastTcpBus(BusBase):
    """A Modbus TCP bus; the same coroutine interface as `farmcore.fieldbus.bus.Bus`."""

    def __init__(self, config: BusConfig, frame_log: FrameLog | None = None, *, max_in_flight: int = 1) -> None:
        if config.kind != "tcp":
            raise BadInput(f"bus {config.label}: the lean client speaks Modbus TCP only, not {config.kind}")
        if max_in_flight < 1:
            raise BadInput("max_in_flight must be at least 1")
        self.config = config
        self.frame_log = frame_log if frame_log is not None else FrameLog()
        self.max_in_flight = max_in_flight
        self._counters = _Counters()
        self._tx_bytes = 0
        self._rx_bytes = 0
        self._slots = asyncio.Semaphore(max_in_flight)
        self._connecting = asyncio.Lock()
        self._link: _Link | None = None
        self._tid = 0
        self._silent = 0  # transactions in a row without an answer
        self._backoff_s = RECONNECT_DELAY_S
        self._next_attempt = 0.0
        self._timeout_s = config.timeout_s

    def __repr__(self) -> str:
        return f"FastTcpBus({str(self.config)!r})"

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.open

    @property
    def stats(self) -> BusStats:
        c = self._counters
        return BusStats(c.requests, c.errors, c.exception_replies, self._tx_bytes, self._rx_bytes,
                        c.last_error, c.last_error_utc)

    async def connect(self) -> None:
        """Connect now (no backoff wait); raises `CommError` within about the timeout if that fails."""
        self._next_attempt = 0.0
        await self._ready(f"bus {self.name}")

    async def close(self) -> None:
        """Drop the link; waiting requests fail with `CommError`; a later call connects again."""
        link, self._link = self._link, None
        self._backoff_s, self._next_attempt, self._silent = RECONNECT_DELAY_S, 0.0, 0
        if link is not None:
            link.open = False
            link.fail(CommError("not connected (bus closed)"))
            if link.transport is not None:
                link.transport.close()

    # ------------------------------------------------------------------ requests

    async def read(self, unit: int, fc: int, address: int, count: int) -> list[int]:
        """Read registers (FC 3, 4) or bits as 0/1 (FC 1, 2)."""
        if fc not in MAX_COUNT:
            raise BadInput(f"bus {self.name} unit {unit}: read function {fc} not supported; allowed: 1-4")
        self._check(unit, fc, address, count, MAX_COUNT[fc])
        pdu = await self._transact(unit, fc, _READ.pack(fc, address, count), address, count, "read")
        if fc in (3, 4):
            if len(pdu) == 2 + 2 * count and pdu[1] == 2 * count:
                return list(struct.unpack_from(f">{count}H", pdu, 2))
        else:
            size = (count + 7) // 8
            if len(pdu) == 2 + size and pdu[1] == size:
                return [(pdu[2 + i // 8] >> (i % 8)) & 1 for i in range(count)]
        raise self._failed(CommError(f"bus {self.name} unit {unit}: FC{fc} read {count} at {address}: garbled "
                                     f"reply, {len(pdu)} bytes for {count} values"))

    async def write_registers(self, unit: int, address: int, values: Sequence[int]) -> None:
        """FC16, the KS X 3267 way to send a command block in one transaction."""
        count = len(values)
        self._check(unit, 16, address, count, MAX_WRITE_REGISTERS, values)
        pdu = struct.pack(f">BHHB{count}H", 16, address, count, 2 * count, *values)
        reply = await self._transact(unit, 16, pdu, address, count, "write")
        self._expect_echo(unit, 16, reply, _READ.pack(16, address, count), f"FC16 write {count} at {address}")

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """FC6, for vendor devices that do not take FC16."""
        self._check(unit, 6, address, 1, 1, [value])
        pdu = _READ.pack(6, address, value)
        reply = await self._transact(unit, 6, pdu, address, 1, "write")
        self._expect_echo(unit, 6, reply, pdu, f"FC6 write at {address}")

    async def write_coil(self, unit: int, address: int, on: bool) -> None:
        """FC5, for vendor relay boards."""
        kind = "on" if on else "off"
        self._check(unit, 5, address, 1, 1, kind=kind)
        pdu = _READ.pack(5, address, 0xFF00 if on else 0)
        reply = await self._transact(unit, 5, pdu, address, 1, kind)
        self._expect_echo(unit, 5, reply, pdu, f"FC5 write {'ON' if on else 'OFF'} at {address}")

    def _expect_echo(self, unit: int, fc: int, reply: bytes, expected: bytes, what: str) -> None:
        if reply != expected:
            raise self._failed(CommError(f"bus {self.name} unit {unit}: {what}: garbled reply "
                                         f"({reply.hex(' ').upper()})"))

    @staticmethod
    def _what(fc: int, address: int, count: int, kind: str) -> str:
        if kind == "read":
            return f"FC{fc} read {count} at {address}"
        if fc == 16:
            return f"FC16 write {count} at {address}"
        if fc == 5:
            return f"FC5 write {kind.upper()} at {address}"
        return f"FC{fc} write at {address}"

    def _check(self, unit: int, fc: int, address: int, count: int, max_count: int, values: Sequence[int] = (),
               kind: str = "") -> None:
        """Refuse locally what no node could accept (the same rules and texts as `Bus`)."""
        if unit in TCP_UNITS and 1 <= count <= max_count and 0 <= address <= 65536 - count and all(
                0 <= v <= 0xFFFF for v in values):
            return  # the common case, without building a message
        what = self._what(fc, address, count, kind or ("read" if fc < 5 else "write"))
        check_request(self.name, TCP_UNITS, unit, what, address, count, max_count, values)

    async def _transact(self, unit: int, fc: int, pdu: bytes, address: int, count: int, kind: str) -> bytes:
        """One request (retried on silence) -> the reply PDU of the same function; errors as `Bus` words them."""
        self._counters.requests += 1
        async with self._slots:
            tries = self.config.retries + 1
            for _attempt in range(tries):
                link = self._link
                if link is None or not link.open:
                    link = await self._ready_or_fail(unit, fc, address, count, kind)
                self._tid = tid = (self._tid + 1) & 0xFFFF
                loop = asyncio.get_running_loop()
                future: asyncio.Future[tuple[int, bytes]] = loop.create_future()
                link.waiting[tid] = future
                frame = mbap_frame(tid, unit, pdu)
                self._tx_bytes += len(frame)
                self.frame_log.add(self.name, "TX", frame)
                assert link.transport is not None
                link.transport.write(frame)
                timer = loop.call_later(self._timeout_s, _expire, future)
                try:
                    reply_unit, reply = await future
                except TimeoutError:
                    link.waiting.pop(tid, None)
                    self._silent += 1
                    if self._silent >= SILENT_TRANSACTIONS_BEFORE_DROP:
                        await self.close()
                        raise self._failed(CommError(
                            f"{self._context(unit, fc, address, count, kind)}: no response ({tries} x "
                            f"{self._timeout_s:g} s); link dropped, reconnecting")) from None
                    continue
                except CommError as exc:
                    raise self._failed(CommError(f"{self._context(unit, fc, address, count, kind)}: {exc}")) from None
                finally:
                    timer.cancel()
                self._silent = 0
                break
            else:
                raise self._failed(CommError(f"{self._context(unit, fc, address, count, kind)}: no response "
                                             f"({tries} x {self._timeout_s:g} s)"))
        if reply and reply[0] == fc and reply_unit == unit:
            return reply
        context = self._context(unit, fc, address, count, kind)
        if len(reply) == 2 and reply[0] == fc | 0x80:
            raise self._failed(ModbusExceptionReply(reply[1], context))
        if reply_unit != unit:
            raise self._failed(CommError(f"{context}: mismatched reply (unit {reply_unit})"))
        raise self._failed(CommError(f"{context}: mismatched reply (FC{reply[0] if reply else '?'})"))

    def _context(self, unit: int, fc: int, address: int, count: int, kind: str) -> str:
        return f"bus {self.name} unit {unit}: {self._what(fc, address, count, kind)}"

    async def _ready_or_fail(self, unit: int, fc: int, address: int, count: int, kind: str) -> _Link:
        try:
            return await self._ready(self._context(unit, fc, address, count, kind))
        except CommError as exc:
            raise self._failed(exc) from None

    async def _ready(self, context: str) -> _Link:
        """The open link, or `CommError` at once while backing off from a failed attempt."""
        async with self._connecting:
            link = self._link
            if link is not None and link.open:
                return link
            wait_s = self._next_attempt - monotonic()
            if wait_s > 0:
                raise CommError(f"{context}: not connected (next attempt in {wait_s:.1f} s)")
            cfg = self.config
            started = monotonic()
            loop = asyncio.get_running_loop()
            try:
                _transport, link = await asyncio.wait_for(
                    loop.create_connection(lambda: _Link(self), cfg.host, cfg.port), self._timeout_s)
            except (OSError, TimeoutError):
                self._next_attempt = monotonic() + self._backoff_s
                self._backoff_s = min(2 * self._backoff_s, RECONNECT_DELAY_MAX_S)
                elapsed = monotonic() - started
                why = (f"no answer within {self._timeout_s:g} s" if elapsed >= 0.9 * self._timeout_s
                       else "refused, unreachable or unknown host")
                raise CommError(f"{context}: cannot connect: {why}") from None
            self._link, self._silent = link, 0
            self._backoff_s, self._next_attempt = RECONNECT_DELAY_S, 0.0
            return link

    def _log_rx(self, frame: bytes) -> None:
        self._rx_bytes += len(frame)
        self.frame_log.add(self.name, "RX", frame)



def open_fast_bus(url: str, frame_log: FrameLog | None = None, **overrides: object) -> FastTcpBus | Bus:
    """`open_bus` with the lean client for `tcp://` URLs; other kinds get the pymodbus `Bus`."""
    config = parse_bus_url(url, **overrides)
    if config.kind == "tcp":
        return FastTcpBus(config, frame_log)
    return Bus(config, frame_log)
