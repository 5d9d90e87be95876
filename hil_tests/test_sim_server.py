"""The simulator's Modbus server over real sockets and ptys, against pymodbus and mbpoll (libmodbus) clients.

Two independent client implementations guard against a server that only agrees with itself.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from farmcore.fieldbus import codec
from farmcore.fieldbus.framing import Request, crc16, encode_request, mbap_frame, rtu_frame
from farmcore.twin.registers import RegisterDevice, Table, UnitMap
from farmcore.twin.server import Fault, ModbusServer

HOST = "127.0.0.1"
TEMP_1 = 28.8  # KS X 3267 §4.3.3 example: registers [0x6666, 0x41E6], low word first
QUICK = {"timeout": 0.3, "retries": 0}  # pymodbus client settings that keep timeouts short

needs_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")
needs_mbpoll = pytest.mark.skipif(shutil.which("mbpoll") is None, reason="mbpoll not installed")


class ActuatorNode(RegisterDevice):
    """Refuses command codes it does not know, as a level-1 KS X 3267 actuator must (exception 3)."""

    def on_write(self, table: Table, address: int, values: list[int]) -> int | None:
        return 3 if address == 503 and values[0] not in (0, 201, 202) else None


def sensor_node() -> RegisterDevice:
    node = RegisterDevice()
    node.define("holding", 1, 8, [0, 0, 1, 7, 10, 30, 0x1234, 0])  # KS default map, sensor node
    node.define("holding", 101, 30, [1, 1, 1, 2] + [0] * 26)
    node.define("holding", 202, 91)
    node.set("holding", 203, codec.encode(TEMP_1, "f32", word_order="little"))
    node.define("coils", 0, 16, writable=True)
    node.define("discrete_inputs", 0, 8, [1, 0, 1, 1, 0, 0, 0, 1])
    node.define("input", 0, 4, [10, 20, 30, 40])
    return node


def actuator_node() -> ActuatorNode:
    node = ActuatorNode()
    node.define("holding", 1, 8, [0, 0, 2, 7, 10, 24, 0x5678, 0])
    node.define("holding", 201, 98)
    node.define("holding", 501, 98, writable=True)
    return node


@pytest.fixture
async def server() -> AsyncIterator[ModbusServer]:
    async with ModbusServer(UnitMap({1: sensor_node(), 2: actuator_node()})) as srv:
        yield srv


@pytest.fixture
async def tcp_port(server: ModbusServer) -> int:
    return await server.start_tcp(HOST, 0)


@pytest.fixture
async def rtu_tcp_port(server: ModbusServer) -> int:
    return await server.start_tcp(HOST, 0, framing="rtu")


@pytest.fixture
async def client(tcp_port: int) -> AsyncIterator[AsyncModbusTcpClient]:
    async with AsyncModbusTcpClient(HOST, port=tcp_port, **QUICK) as cli:
        yield cli


@dataclass
class PtyPair:
    """Both ends of a socat pty pair: a serial line without hardware."""

    server: str
    client: str
    socat: subprocess.Popen[bytes]


@pytest.fixture
def pty_pair(tmp_path) -> Iterator[PtyPair]:
    srv, cli = tmp_path / "tty-srv", tmp_path / "tty-cli"
    proc = subprocess.Popen(
        ["socat", "-d", "-d", f"pty,raw,echo=0,link={srv}", f"pty,raw,echo=0,link={cli}"],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 2
    while not (srv.exists() and cli.exists()):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("socat did not create the pty links")
        time.sleep(0.01)
    yield PtyPair(str(srv), str(cli), proc)
    proc.terminate()
    proc.wait(2)


async def mbpoll(*args: str) -> tuple[int, dict[int, str]]:
    """Run mbpoll once (-1, quiet); returns its exit code and the {reference: value} lines it printed."""
    proc = await asyncio.create_subprocess_exec(
        "mbpoll", "-1", "-q", "-o", "0.5", *args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 5)
    values = {int(ref): value for ref, value in re.findall(r"^\[(\d+)\]:\s+(\S+)", out.decode(), re.M)}
    return proc.returncode, values


async def exchange(port: int, data: bytes, wait_s: float = 0.3) -> bytes:
    """Send raw bytes on a fresh TCP connection; whatever comes back within wait_s (b"" on EOF)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(data)
        try:
            return await asyncio.wait_for(reader.read(1024), wait_s)
        except TimeoutError:
            return b""
    finally:
        writer.close()


def test_register_device_declares_areas_strictly() -> None:
    """Mistakes in a simulated node's map fail at build time, not as odd replies later."""
    node = sensor_node()
    with pytest.raises(ValueError, match="already defined"):
        node.define("holding", 290, 5)
    with pytest.raises(ValueError, match="outside"):
        node.define("coils", 100, 2, [1, 2])
    with pytest.raises(KeyError):
        node.set("holding", 300, [1])
    node.set("holding", 1, [9])  # the plant model may change read-only registers
    assert node.read("holding", 1, 2) == [9, 0]
    assert node.handle(Request(3, 0, 1)) == bytes.fromhex("83 02")


# --- Modbus TCP ---------------------------------------------------------------------------------


async def test_tcp_reads_and_writes_every_table(client: AsyncModbusTcpClient) -> None:
    rr = await client.read_holding_registers(1, count=8, device_id=1)
    assert rr.registers == [0, 0, 1, 7, 10, 30, 0x1234, 0]
    rr = await client.read_holding_registers(203, count=2, device_id=1)
    assert codec.decode(rr.registers, "f32", word_order="little") == pytest.approx(TEMP_1)

    assert not (await client.write_registers(503, [202, 7, 60, 0], device_id=2)).isError()
    assert (await client.read_holding_registers(503, count=4, device_id=2)).registers == [202, 7, 60, 0]
    assert not (await client.write_register(510, 0xBEEF, device_id=2)).isError()
    assert (await client.read_holding_registers(510, count=1, device_id=2)).registers == [0xBEEF]

    assert not (await client.write_coil(3, True, device_id=1)).isError()
    assert not (await client.write_coils(8, [True, False, True], device_id=1)).isError()
    coils = (await client.read_coils(0, count=16, device_id=1)).bits
    assert [i for i, on in enumerate(coils) if on] == [3, 8, 10]
    inputs = (await client.read_discrete_inputs(0, count=8, device_id=1)).bits
    assert inputs == [True, False, True, True, False, False, False, True]
    assert (await client.read_input_registers(0, count=4, device_id=1)).registers == [10, 20, 30, 40]


async def test_tcp_exception_replies(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
    cases = [
        (client.read_holding_registers(100, count=1, device_id=1), 2),  # undefined address
        (client.read_holding_registers(290, count=5, device_id=1), 2),  # runs past the block's end
        (client.write_register(1, 5, device_id=1), 2),  # node info is read-only
        (client.write_registers(503, [203, 8, 0, 0], device_id=2), 3),  # refused by on_write
    ]
    for call, code in cases:
        rr = await call
        assert rr.isError() and rr.exception_code == code
    assert (await client.read_holding_registers(503, count=1, device_id=2)).registers == [0]  # not stored

    server.faults[1] = Fault(exception=6)
    rr = await client.read_holding_registers(1, count=8, device_id=1)
    assert rr.isError() and rr.exception_code == 6


async def test_tcp_quantity_over_limit_gets_exception_3(tcp_port: int) -> None:
    reply = await exchange(tcp_port, mbap_frame(9, 1, bytes.fromhex("03 00 CA 00 7E")))
    assert reply == mbap_frame(9, 1, bytes.fromhex("83 03"))


async def test_tcp_unknown_unit_is_silent(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(1, count=8, device_id=9)
    assert server.served[9] == 0


async def test_tcp_delay_holds_up_only_its_own_connection(server: ModbusServer, tcp_port: int) -> None:
    server.faults[1] = Fault(delay_s=0.6)
    async with (
        AsyncModbusTcpClient(HOST, port=tcp_port, **QUICK) as slow,
        AsyncModbusTcpClient(HOST, port=tcp_port, **QUICK) as fast,
    ):
        late = asyncio.create_task(slow.read_holding_registers(1, count=8, device_id=1))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        assert (await fast.read_holding_registers(1, count=8, device_id=2)).registers[2] == 2
        assert time.monotonic() - started < 0.2
        with pytest.raises(ModbusIOException):
            await late


async def test_tcp_many_clients_at_once(server: ModbusServer, tcp_port: int) -> None:
    clients = [AsyncModbusTcpClient(HOST, port=tcp_port, **QUICK) for _ in range(5)]
    try:
        assert all(await asyncio.gather(*(c.connect() for c in clients)))
        replies = await asyncio.gather(
            *(c.read_holding_registers(1, count=8, device_id=1 + i % 2) for i, c in enumerate(clients))
        )
    finally:
        for c in clients:
            c.close()
    assert [r.registers[2] for r in replies] == [1, 2, 1, 2, 1]
    assert server.served == {1: 3, 2: 2}


async def test_tcp_bad_header_closes_only_that_connection(
    tcp_port: int, client: AsyncModbusTcpClient
) -> None:
    assert not (await client.read_holding_registers(1, count=1, device_id=1)).isError()
    not_modbus = bytes.fromhex("00 01 00 07 00 06 01 03 00 01 00 08")  # protocol id 7
    assert await exchange(tcp_port, not_modbus, wait_s=1) == b""  # EOF: server closed it
    assert not (await client.read_holding_registers(1, count=1, device_id=1)).isError()


async def test_handler_may_be_async_and_crashes_become_exception_4() -> None:
    class Flaky:
        def serves(self, unit: int) -> bool:
            return unit == 1

        async def handle(self, unit: int, req: Request) -> bytes | None:
            await asyncio.sleep(0)
            if req.address == 13:
                raise RuntimeError("simulated bug")
            return bytes.fromhex("03 02 00 2A")

    async with ModbusServer(Flaky()) as srv:
        port = await srv.start_tcp()
        ok = await exchange(port, mbap_frame(1, 1, encode_request(Request(3, 0, 1))))
        crash = await exchange(port, mbap_frame(2, 1, encode_request(Request(3, 13, 1))))
    assert ok == mbap_frame(1, 1, bytes.fromhex("03 02 00 2A"))
    assert crash == mbap_frame(2, 1, bytes.fromhex("83 04"))


# --- RTU over TCP (transparent gateway) ---------------------------------------------------------


async def test_rtu_over_tcp_with_pymodbus(server: ModbusServer, rtu_tcp_port: int) -> None:
    async with AsyncModbusTcpClient(HOST, port=rtu_tcp_port, framer=FramerType.RTU, **QUICK) as cli:
        assert not (await cli.write_registers(503, [202, 7, 60, 0], device_id=2)).isError()
        assert (await cli.read_holding_registers(503, count=4, device_id=2)).registers == [202, 7, 60, 0]
        rr = await cli.read_holding_registers(100, count=2, device_id=1)
        assert rr.isError() and rr.exception_code == 2

        with pytest.raises(ModbusIOException):  # unknown unit: silent
            await cli.read_holding_registers(1, count=8, device_id=9)

        server.faults[1] = Fault(corrupt_crc=True)
        with pytest.raises(ModbusIOException):  # pymodbus drops the frame, then times out
            await cli.read_holding_registers(1, count=8, device_id=1)
        del server.faults[1]
        assert (await cli.read_holding_registers(1, count=8, device_id=1)).registers[2] == 1


async def test_rtu_over_tcp_resyncs_after_garbage(rtu_tcp_port: int) -> None:
    request = bytes.fromhex("01 03 00 01 00 08 15 CC")
    reply = await exchange(rtu_tcp_port, bytes.fromhex("FF 99 00 01 03") + request)
    assert reply == rtu_frame(1, bytes.fromhex("03 10 0000 0000 0001 0007 000A 001E 1234 0000"))


async def test_rtu_golden_write_reply_and_broadcast(server: ModbusServer, rtu_tcp_port: int) -> None:
    golden = bytes.fromhex("02 10 01 F7 00 04 08 00 CA 00 07 00 3C 00 00 5E F0")
    assert await exchange(rtu_tcp_port, golden) == bytes.fromhex("02 10 01 F7 00 04 71 F7")

    broadcast = rtu_frame(0, encode_request(Request(16, 510, 1, (42,))))
    assert await exchange(rtu_tcp_port, broadcast) == b""  # nobody answers a broadcast
    units = server.handler
    assert isinstance(units, UnitMap)
    assert units.devices[2].read("holding", 510) == [42]  # executed where the address is writable
    assert server.served[0] == 1


async def test_corrupt_crc_fault_flips_the_crc(server: ModbusServer, rtu_tcp_port: int) -> None:
    server.faults[2] = Fault(corrupt_crc=True)
    reply = await exchange(rtu_tcp_port, bytes.fromhex("02 03 00 C9 00 62 14 2E"))
    assert len(reply) == 3 + 196 + 2
    assert crc16(reply[:-2]) != int.from_bytes(reply[-2:], "little")


# --- serial RTU on a socat pty pair ---------------------------------------------------------------


@needs_socat
async def test_serial_rtu_with_pymodbus(server: ModbusServer, pty_pair: PtyPair) -> None:
    await server.start_serial(pty_pair.server, baudrate=9600)
    cli = AsyncModbusSerialClient(pty_pair.client, framer=FramerType.RTU, baudrate=9600, **QUICK)
    assert await cli.connect()
    try:
        assert (await cli.read_holding_registers(1, count=8, device_id=1)).registers[5] == 30
        assert not (await cli.write_registers(503, [201, 3, 0, 0], device_id=2)).isError()
        assert (await cli.read_holding_registers(503, count=2, device_id=2)).registers == [201, 3]
        rr = await cli.read_holding_registers(9, count=1, device_id=1)
        assert rr.isError() and rr.exception_code == 2

        with pytest.raises(ModbusIOException):  # unknown unit: silent, as on a real RS485 bus
            await cli.read_holding_registers(1, count=8, device_id=9)

        server.faults[1] = Fault(corrupt_crc=True)
        with pytest.raises(ModbusIOException):
            await cli.read_holding_registers(1, count=8, device_id=1)
        server.faults[1] = Fault(delay_s=0.5)  # later than the client's 0.3 s timeout
        with pytest.raises(ModbusIOException):
            await cli.read_holding_registers(1, count=8, device_id=1)
    finally:
        cli.close()


@needs_socat
async def test_serial_peer_gone_stops_the_port_without_spinning(
    server: ModbusServer, pty_pair: PtyPair
) -> None:
    await server.start_serial(pty_pair.server, baudrate=9600)
    pty_pair.socat.kill()  # the pty hangs up: it stays readable but every read fails
    pty_pair.socat.wait(2)
    await asyncio.sleep(0.05)
    cpu = time.process_time()
    await asyncio.sleep(0.3)
    assert time.process_time() - cpu < 0.1


# --- mbpoll (libmodbus), an independent client ------------------------------------------------------


@needs_mbpoll
async def test_mbpoll_over_tcp(tcp_port: int) -> None:
    tcp = ("-m", "tcp", "-p", str(tcp_port), "-a", "1", "-0")
    code, values = await mbpoll(*tcp, "-r", "203", "-t", "4:float", HOST)  # no -B: low word first
    assert code == 0 and float(values[203]) == pytest.approx(TEMP_1)
    code, values = await mbpoll(*tcp, "-r", "1", "-c", "8", "-t", "4", HOST)
    assert code == 0 and [int(values[r]) for r in range(1, 9)] == [0, 0, 1, 7, 10, 30, 0x1234, 0]
    code, values = await mbpoll(*tcp, "-r", "100", "-t", "4", HOST)  # undefined: exception 2
    assert code == 1 and values == {}


@needs_mbpoll
@needs_socat
async def test_mbpoll_over_serial_rtu(server: ModbusServer, pty_pair: PtyPair) -> None:
    await server.start_serial(pty_pair.server, baudrate=9600)
    rtu = ("-m", "rtu", "-b", "9600", "-P", "none", "-0")
    code, values = await mbpoll(*rtu, "-a", "1", "-r", "203", "-t", "4:float", pty_pair.client)
    assert code == 0 and float(values[203]) == pytest.approx(TEMP_1)
    code, values = await mbpoll(*rtu, "-a", "2", "-r", "3", "-c", "4", "-t", "4", pty_pair.client)
    assert code == 0 and [int(values[r]) for r in range(3, 7)] == [2, 7, 10, 24]
