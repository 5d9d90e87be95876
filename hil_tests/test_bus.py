"""`Bus` against a real pymodbus 3.16.1 server over sockets and a socat pty pair.

Covers what the daemons rely on: round trips on all three bus kinds, exception replies, bounded failure
on a dead or silent bus, recovery of the same `Bus` after a server restart, one transaction at a time,
and the TX/RX frame log.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from farmcore.errors import BadInput, CommError, ModbusExceptionReply
from farmcore.fieldbus.bus import Bus, open_bus
from farmcore.fieldbus.framelog import FrameLog

pytestmark = pytest.mark.timeout(10)

HOLDING = list(range(100, 120))  # holding registers 0-19 of every simulated unit
INPUTS = [9] * 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sim_device(unit: int) -> SimDevice:
    """Separate coil / input / holding / input-register blocks; anything else answers exception 2."""
    return SimDevice(
        id=unit,
        simdata=(
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],
            [SimData(0, values=[True, False, True] + [False] * 13, datatype=DataType.BITS)],
            [SimData(0, values=list(HOLDING), datatype=DataType.REGISTERS)],
            [SimData(0, values=list(INPUTS), datatype=DataType.REGISTERS)],
        ),
    )


StartServer = Callable[..., Awaitable[ModbusTcpServer]]


@pytest.fixture
async def tcp_server() -> AsyncIterator[StartServer]:
    """Start pymodbus TCP servers (units 1 and 2) on a given port; all are shut down after the test."""
    started: list[ModbusTcpServer] = []

    async def start(port: int, framer: FramerType = FramerType.SOCKET) -> ModbusTcpServer:
        server = ModbusTcpServer([sim_device(1), sim_device(2)], address=("127.0.0.1", port), framer=framer)
        await server.serve_forever(background=True)
        started.append(server)
        return server

    yield start
    for server in started:
        await server.shutdown()


@pytest.fixture
async def buses() -> AsyncIterator[list[Bus]]:
    """Buses appended here are closed after the test."""
    opened: list[Bus] = []
    yield opened
    for bus in opened:
        await bus.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[int, list[asyncio.StreamWriter]]]:
    """A plain asyncio TCP server on a free port; the handler may add writers to close; all close on exit."""
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await handler(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], writers
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
        await server.wait_closed()


async def tcp_bus(start: StartServer, buses: list[Bus], kind: str = "tcp", **overrides: object) -> Bus:
    port = free_port()
    await start(port, FramerType.RTU if kind == "rtu+tcp" else FramerType.SOCKET)
    bus = open_bus(f"{kind}://127.0.0.1:{port}", timeout=0.5, **overrides)
    buses.append(bus)
    return bus


async def test_tcp_read_write_round_trip(tcp_server: StartServer, buses: list[Bus]) -> None:
    bus = await tcp_bus(tcp_server, buses)
    assert await bus.read(1, 3, 0, 4) == HOLDING[:4]
    await bus.write_registers(1, 5, [1, 2, 3])
    await bus.write_register(1, 9, 0xFFFF)
    assert await bus.read(1, 3, 4, 7) == [HOLDING[4], 1, 2, 3, HOLDING[8], 0xFFFF, HOLDING[10]]
    assert await bus.read(2, 4, 0, 2) == INPUTS[:2]
    await bus.write_coil(1, 3, True)
    assert await bus.read(1, 1, 0, 5) == [0, 0, 0, 1, 0]
    assert await bus.read(1, 2, 0, 3) == [1, 0, 1]
    stats = bus.stats
    assert (stats.requests, stats.errors) == (8, 0)
    assert stats.tx_bytes > 0 and stats.rx_bytes > 0


async def test_rtu_over_tcp_sends_rtu_frames(tcp_server: StartServer, buses: list[Bus]) -> None:
    bus = await tcp_bus(tcp_server, buses, kind="rtu+tcp")
    assert await bus.read(1, 3, 1, 8) == HOLDING[1:9]
    await bus.write_registers(2, 0, [7])
    assert await bus.read(2, 3, 0, 1) == [7]
    tx, rx = bus.frame_log.recent()[:2]
    assert tx.hex == "01 03 00 01 00 08 15 CC"  # no MBAP header: RTU address, PDU and CRC
    assert rx.hex.startswith("01 03 10 00 65")


async def test_exception_reply_is_modbus_exception_2(tcp_server: StartServer, buses: list[Bus]) -> None:
    bus = await tcp_bus(tcp_server, buses)
    with pytest.raises(ModbusExceptionReply) as caught:
        await bus.read(1, 3, 500, 2)
    assert caught.value.code == 2
    assert str(caught.value) == (
        f"bus {bus.name} unit 1: FC3 read 2 at 500: Modbus exception 2 (ILLEGAL_DATA_ADDRESS)"
    )
    with pytest.raises(ModbusExceptionReply):
        await bus.write_registers(1, 19, [1, 2])  # runs past the end of the block
    assert await bus.read(1, 3, 0, 1) == HOLDING[:1]  # the bus is still fine
    assert (bus.stats.errors, bus.stats.exception_replies) == (2, 2)
    assert "ILLEGAL_DATA_ADDRESS" in bus.stats.last_error


async def test_closed_port_fails_within_the_timeout(buses: list[Bus]) -> None:
    bus = open_bus(f"tcp://127.0.0.1:{free_port()}", timeout=0.5)
    buses.append(bus)
    started = time.monotonic()
    with pytest.raises(CommError) as caught:
        await bus.read(1, 3, 0, 1)
    assert time.monotonic() - started < 0.5 + 1
    assert str(caught.value).startswith(f"bus {bus.name} unit 1: FC3 read 1 at 0: cannot connect")
    started = time.monotonic()
    with pytest.raises(CommError, match="next attempt in"):
        await bus.read(1, 3, 0, 1)  # inside the backoff: no new connect, an answer at once
    assert time.monotonic() - started < 0.05
    with pytest.raises(CommError, match="cannot connect"):
        await bus.connect()  # an explicit connect tries again now
    assert not bus.connected


async def test_connect_that_never_completes_fails_within_the_timeout(buses: list[Bus]) -> None:
    """A listener whose accept queue is full drops SYNs, like a host that is down."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        bus = open_bus(f"tcp://127.0.0.1:{port}", timeout=0.4)
        buses.append(bus)
        started = time.monotonic()
        with pytest.raises(CommError, match=r"cannot connect: no answer within 0\.4 s"):
            await bus.read(1, 3, 0, 1)
        assert time.monotonic() - started < 0.4 + 1
        for filler in fillers:
            filler.close()


async def test_silent_server_times_out_quietly(
    buses: list[Bus], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    async def swallow(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        while await reader.read(256):
            pass

    async with raw_server(swallow) as (port, _):
        bus = open_bus(f"tcp://127.0.0.1:{port}", timeout=0.3, retries=1)
        buses.append(bus)
        started = time.monotonic()
        with pytest.raises(CommError, match=r"unit 1: FC3 read 1 at 0: no response \(2 x 0\.3 s\)"):
            await bus.read(1, 3, 0, 1)
        assert 0.6 <= time.monotonic() - started < 0.6 + 0.5
        assert [f.direction for f in bus.frame_log] == ["TX", "TX"]  # the request and its one retry
        await bus.close()
    assert not [r for r in caplog.records if r.name.startswith("pymodbus")]
    assert capsys.readouterr() == ("", "")


async def test_same_bus_recovers_after_server_restart(tcp_server: StartServer, buses: list[Bus]) -> None:
    port = free_port()
    server = await tcp_server(port)
    bus = open_bus(f"tcp://127.0.0.1:{port}", timeout=0.5)
    buses.append(bus)
    assert await bus.read(1, 3, 0, 1) == HOLDING[:1]
    await server.shutdown()
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(CommError, match="not connected"):
        await bus.read(1, 3, 0, 1)
    assert time.monotonic() - started < 0.1  # a down bus answers at once, it does not hang
    await tcp_server(port)
    restarted = time.monotonic()
    while True:
        try:
            assert await bus.read(1, 3, 0, 1) == HOLDING[:1]
            break
        except CommError:
            assert time.monotonic() - restarted < 2.0, "the bus did not come back"
            await asyncio.sleep(0.02)


async def test_concurrent_reads_are_serialised(tcp_server: StartServer, buses: list[Bus]) -> None:
    port = free_port()
    server = await tcp_server(port)
    bus = open_bus(f"tcp://127.0.0.1:{port}")
    buses.append(bus)
    results = await asyncio.gather(*(bus.read(1 + i % 2, 3, i, 2) for i in range(8)))
    assert results == [HOLDING[i : i + 2] for i in range(8)]
    assert [f.direction for f in bus.frame_log] == ["TX", "RX"] * 8  # never two requests on the wire
    assert bus.stats.requests == 8
    # without the bus lock, pymodbus lets each of the 8 first calls open its own connection
    assert len(server.active_connections) == 1


async def test_frame_log_records_tx_rx_hex(tcp_server: StartServer, buses: list[Bus]) -> None:
    log = FrameLog()
    port = free_port()
    await tcp_server(port)
    bus = open_bus(f"tcp://127.0.0.1:{port}", frame_log=log)
    buses.append(bus)
    await bus.read(1, 3, 0, 2)
    tx, rx = log.recent()
    assert (tx.direction, tx.hex) == ("TX", "00 01 00 00 00 06 01 03 00 00 00 02")  # MBAP header + PDU
    assert (rx.direction, rx.hex) == ("RX", "00 01 00 00 00 07 01 03 04 00 64 00 65")
    assert tx.bus == rx.bus == bus.name
    assert tx.time_utc <= rx.time_utc
    assert bus.stats.tx_bytes == 12 and bus.stats.rx_bytes == 13
    record = json.loads(json.dumps(log.as_dicts()))[1]
    assert record["direction"] == "RX" and record["bus"] == bus.name and record["time_utc"].endswith("Z")


async def test_reply_arriving_in_pieces_is_one_rx_frame(tcp_server: StartServer, buses: list[Bus]) -> None:
    """pymodbus traces its whole receive buffer after every chunk; the log must still hold one RX frame."""
    upstream = free_port()
    await tcp_server(upstream, FramerType.RTU)

    async def dribble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        writers.append(up_writer)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, bytewise: bool) -> None:
            while data := await src.read(512):
                for piece in [data[i : i + 1] for i in range(len(data))] if bytewise else [data]:
                    dst.write(piece)
                    await dst.drain()
                    await asyncio.sleep(0.002 if bytewise else 0)
            dst.close()

        await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))

    async with raw_server(dribble) as (port, writers):
        bus = open_bus(f"rtu+tcp://127.0.0.1:{port}", timeout=0.5)
        buses.append(bus)
        assert await bus.read(1, 3, 0, 3) == HOLDING[:3]
        assert await bus.read(1, 3, 3, 1) == HOLDING[3:4]
        await bus.close()
    frames = bus.frame_log.recent()
    assert [f.direction for f in frames] == ["TX", "RX", "TX", "RX"]
    assert len(frames[1].data) == 5 + 2 * 3 and len(frames[3].data) == 5 + 2
    assert bus.stats.rx_bytes == 11 + 7


async def test_bad_arguments_never_reach_the_wire(buses: list[Bus]) -> None:
    bus = open_bus(f"rtu+tcp://127.0.0.1:{free_port()}")
    buses.append(bus)
    for call, message in [
        (bus.read(0, 3, 0, 1), "unit must be 1-247"),
        (bus.read(1, 3, 0, 126), "count must be 1-125"),
        (bus.read(1, 1, 0, 2001), "count must be 1-2000"),
        (bus.read(1, 7, 0, 1), "read function 7 not supported"),
        (bus.read(1, 3, -1, 1), "address must be 0-65535"),
        (bus.read(1, 3, 65535, 2), "address must be 0-65534"),
        (bus.write_registers(1, 0, []), "count must be 1-123"),
        (bus.write_register(1, 0, 70000), "register values must be 0-65535"),
    ]:
        with pytest.raises(BadInput, match=message):
            await call
    assert len(bus.frame_log) == 0 and bus.stats.requests == 0


def test_frame_log_is_bounded() -> None:
    log = FrameLog(size=4)
    for i in range(10):
        log.add("tcp://a:502" if i % 2 else "tcp://b:502", "TX", bytes([i]))
    assert [f.data[0] for f in log] == [6, 7, 8, 9]
    assert [f.hex for f in log.recent(2)] == ["08", "09"]
    assert [f.hex for f in log.recent(bus="tcp://a:502")] == ["07", "09"]


# --------------------------------------------------------------------------- serial RTU on a pty pair


@pytest.fixture
async def serial_url(tmp_path: Path) -> AsyncIterator[str]:
    """A socat pty pair with a pymodbus RTU server (units 1 and 2, 9600 8N1) on one end."""
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed")
    server_end, client_end = tmp_path / "tty-srv", tmp_path / "tty-cli"
    socat = subprocess.Popen(
        ["socat", "-d", "-d", f"pty,raw,echo=0,link={server_end}", f"pty,raw,echo=0,link={client_end}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 2
        while not (os.path.exists(server_end) and os.path.exists(client_end)):
            assert time.monotonic() < deadline, "socat did not create the pty pair"
            await asyncio.sleep(0.01)
        server = ModbusSerialServer(
            [sim_device(1), sim_device(2)], port=str(server_end), framer=FramerType.RTU, baudrate=9600
        )
        await server.serve_forever(background=True)
        yield f"rtu://{client_end}?baud=9600&parity=N&stopbits=1"
        await server.shutdown()
    finally:
        socat.terminate()
        socat.wait(timeout=2)


async def test_serial_rtu_round_trip(serial_url: str, buses: list[Bus]) -> None:
    bus = open_bus(serial_url)
    buses.append(bus)
    assert bus.config.timeout_s == 0.5 and bus.config.baud == 9600
    assert await bus.read(1, 3, 1, 8) == HOLDING[1:9]
    await bus.write_registers(2, 0, [42, 43])
    assert await bus.read(2, 3, 0, 2) == [42, 43]
    with pytest.raises(ModbusExceptionReply) as caught:
        await bus.read(1, 3, 300, 1)
    assert caught.value.code == 2
    assert bus.frame_log.recent()[0].hex == "01 03 00 01 00 08 15 CC"
    assert [f.direction for f in bus.frame_log] == ["TX", "RX"] * 4


async def test_serial_concurrent_reads_keep_the_frame_gap(serial_url: str, buses: list[Bus]) -> None:
    bus = open_bus(serial_url)
    buses.append(bus)
    results = await asyncio.gather(*(bus.read(1 + i % 2, 3, i, 1) for i in range(6)))
    assert results == [[HOLDING[i]] for i in range(6)]
    frames = bus.frame_log.recent()
    assert [f.direction for f in frames] == ["TX", "RX"] * 6
    replies, next_requests = frames[1:-1:2], frames[2::2]
    gaps = [(b.time_utc - a.time_utc).total_seconds() for a, b in zip(replies, next_requests, strict=True)]
    assert min(gaps) >= bus.config.frame_gap_s * 0.9  # 3.5 characters of silence, 3.6 ms at 9600


async def test_missing_serial_port_fails_at_once(tmp_path: Path, buses: list[Bus]) -> None:
    bus = open_bus(f"rtu://{tmp_path}/ttyUSB9")
    buses.append(bus)
    started = time.monotonic()
    with pytest.raises(CommError, match=r"cannot open serial port .*ttyUSB9: no such device"):
        await bus.read(1, 3, 0, 1)
    assert time.monotonic() - started < 0.2
