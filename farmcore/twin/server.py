"""Asyncio Modbus server of our own: the simulator's transport (Modbus TCP, RTU over TCP, serial RTU).

Why not pymodbus' server: in 3.16.1 it answers unknown unit ids with exception 4 where a real
RS485 slave stays silent, its datastore API is deprecated, and the digital twin needs fault
injection at frame level (no reply, late reply, forced exception, corrupted CRC).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import serial

from farmcore.errors import CommError, ModbusExceptionReply
from farmcore.fieldbus.framing import (
    BROADCAST,
    MBAP_HEADER_SIZE,
    SERVER_DEVICE_FAILURE,
    WRITE_FCS,
    FrameError,
    Request,
    decode_request,
    exception_response,
    mbap_frame,
    mbap_header,
    rtu_frame,
    take_rtu_requests,
)

log = logging.getLogger(__name__)

Reply = bytes | None


class Handler(Protocol):
    """What the server serves: the devices behind the unit ids."""

    def serves(self, unit: int) -> bool:
        """Whether the unit exists; foreign ids get no reply at all, not even to a malformed request."""
        ...

    def handle(self, unit: int, req: Request) -> Reply | Awaitable[Reply]:
        """Reply PDU, or None to stay silent; may be a coroutine function."""
        ...


@dataclass
class Fault:
    """Misbehaviour injected for one unit; change the fields while the server runs."""

    silent: bool = False  # no reply at all
    delay_s: float = 0.0  # reply late (other TCP connections are not held up)
    exception: int | None = None  # answer every request with this exception code
    corrupt_crc: bool = False  # RTU framings only: send a wrong CRC


class Faults(dict[int, Fault]):
    """Faults per unit id; a unit without an entry behaves."""

    def of(self, unit: int) -> Fault:
        return self.get(unit) or Fault()


class ModbusServer:
    """Serves one Handler on any number of TCP listeners and serial ports at once."""

    def __init__(self, handler: Handler, faults: Faults | None = None, *, rtu_gap_s: float = 0.05) -> None:
        """`rtu_gap_s`: silence after which an incomplete RTU frame is stale and discarded."""
        self.handler = handler
        self.faults = Faults() if faults is None else faults
        self.rtu_gap_s = rtu_gap_s
        self.served: Counter[int] = Counter()  # replies sent (broadcasts executed) per unit id
        self._listeners: list[asyncio.Server] = []
        self._ports: list[_SerialPort] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ModbusServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start_tcp(
        self, host: str = "127.0.0.1", port: int = 0, framing: Literal["socket", "rtu"] = "socket"
    ) -> int:
        """Listen for TCP clients (MBAP, or RTU frames like a transparent gateway); returns the port."""
        serve = {"socket": self._serve_mbap, "rtu": self._serve_rtu_tcp}[framing]
        listener = await asyncio.start_server(self._tracked(serve), host, port)
        self._listeners.append(listener)
        return listener.sockets[0].getsockname()[1]

    async def start_serial(
        self, path: str, baudrate: int = 9600, parity: str = "N", stopbits: float = 1
    ) -> None:
        """Serve RTU on a serial port (8 data bits), e.g. one end of a socat pty pair."""
        port = _SerialPort(path, baudrate, parity, stopbits)
        self._ports.append(port)
        task = asyncio.create_task(self._serve_rtu(port.read, port.write))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Close listeners, client connections and serial ports."""
        for listener in self._listeners:
            listener.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for listener in self._listeners:
            await listener.wait_closed()
        for port in self._ports:
            port.close()
        self._listeners.clear()
        self._ports.clear()

    def _tracked(
        self, serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        """Connection callback that `stop` can cancel and that always closes its socket."""

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await serve(reader, writer)
            except (ConnectionError, asyncio.CancelledError):
                # CancelledError comes from stop(); re-raising it makes CPython 3.11's start_server
                # callback log a spurious traceback (it calls task.exception() on a cancelled task)
                pass
            finally:
                self._tasks.discard(task)
                writer.close()

        return connection

    async def _serve_mbap(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Modbus TCP: requests one after another; a bad MBAP header closes this connection only."""
        try:
            while True:
                transaction, unit, size = mbap_header(await reader.readexactly(MBAP_HEADER_SIZE))
                pdu = await reader.readexactly(size)
                reply = await self._answer(unit, pdu)
                if reply is not None:
                    writer.write(mbap_frame(transaction, unit, reply))
                    await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        except FrameError as exc:
            log.warning("closing Modbus TCP connection: %s", exc)

    async def _serve_rtu_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def write(frame: bytes) -> None:
            writer.write(frame)
            await writer.drain()

        await self._serve_rtu(lambda: reader.read(4096), write)

    async def _serve_rtu(
        self, read: Callable[[], Awaitable[bytes]], write: Callable[[bytes], Awaitable[None]]
    ) -> None:
        """RTU byte stream until EOF: cut frames, answer them in order, drop garbage."""
        loop = asyncio.get_running_loop()
        buf = bytearray()
        last = loop.time()
        while chunk := await read():
            if loop.time() - last > self.rtu_gap_s:
                buf.clear()
            buf += chunk
            for unit, pdu in take_rtu_requests(buf):
                reply = await self._answer(unit, pdu)
                if reply is not None:
                    await write(self._rtu_frame(unit, reply))
            last = loop.time()

    def _rtu_frame(self, unit: int, pdu: bytes) -> bytes:
        frame = rtu_frame(unit, pdu)
        if self.faults.of(unit).corrupt_crc:
            frame = frame[:-2] + bytes(b ^ 0xFF for b in frame[-2:])
        return frame

    async def _answer(self, unit: int, pdu: bytes) -> Reply:
        """Reply PDU for one request PDU after faults, or None for silence."""
        if unit == BROADCAST:
            await self._broadcast(pdu)
            return None
        fault = self.faults.of(unit)
        if fault.silent or not self.handler.serves(unit):
            return None
        if fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
        try:
            req = decode_request(pdu)
            if fault.exception is not None:
                raise ModbusExceptionReply(fault.exception)
            reply = await self._call(unit, req)
        except ModbusExceptionReply as exc:
            reply = exception_response(pdu[0], exc.code)
        if reply is not None:
            self.served[unit] += 1
        return reply

    async def _broadcast(self, pdu: bytes) -> None:
        """Unit 0: every device executes a write and nobody answers; anything else is ignored."""
        try:
            req = decode_request(pdu)
        except ModbusExceptionReply:
            return
        if req.fc in WRITE_FCS:
            await self._call(BROADCAST, req)
            self.served[BROADCAST] += 1

    async def _call(self, unit: int, req: Request) -> Reply:
        """The handler's reply; a crash in it becomes exception 4 instead of killing the server."""
        try:
            reply = self.handler.handle(unit, req)
            return await reply if inspect.isawaitable(reply) else reply
        except ModbusExceptionReply:
            raise
        except Exception:
            log.exception("handler failed on unit %d %s", unit, req)
            return exception_response(req.fc, SERVER_DEVICE_FAILURE)


class _SerialPort:
    """A pyserial port in non-blocking mode, read through the event loop (`add_reader`)."""

    def __init__(self, path: str, baudrate: int, parity: str, stopbits: float) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self._port = serial.Serial(
                path, baudrate, bytesize=8, parity=parity, stopbits=stopbits, timeout=0, exclusive=True
            )
        except (OSError, ValueError) as exc:  # missing device, port in use, bad setting
            raise CommError(f"cannot open serial port {path}: {exc}") from exc
        self._fd = self._port.fileno()
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            data = self._port.read(4096)  # timeout=0: whatever is there, without blocking
        except OSError as exc:  # SerialException, or EIO once the other end of a pty is gone
            log.error("serial port %s failed: %s", self._port.port, exc)
            self._loop.remove_reader(self._fd)
            self._chunks.put_nowait(b"")  # end of stream
            return
        if data:
            self._chunks.put_nowait(data)

    async def read(self) -> bytes:
        return await self._chunks.get()

    async def write(self, data: bytes) -> None:
        """Write all of data without blocking the loop: wait for the fd when the driver buffer is full."""
        view = memoryview(data)
        while view:
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(self._fd, view) :]
            if view:
                writable = self._loop.create_future()
                self._loop.add_writer(self._fd, writable.set_result, None)
                try:
                    await writable
                finally:
                    self._loop.remove_writer(self._fd)

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        self._port.close()
