"""The demo site served on real sockets (`serve_site`), read by pymodbus, its node clocks ticking for real."""

from __future__ import annotations

import asyncio
import time

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient

from farmcore.fieldbus import codec
from farmcore.twin.bench import SERIAL_BASE, demo_site, serve_site
from farmcore.twin.ksnode import KsNode

pytestmark = pytest.mark.timeout(10)

HOST = "127.0.0.1"
QUICK = {"timeout": 1.0, "retries": 0}


async def test_node_info_and_golden_sensor_value_over_tcp_and_rtu_over_tcp() -> None:
    site = demo_site()
    sensors = site.devices[1]
    assert isinstance(sensors, KsNode)
    sensors.set_sensor(1, 23.2953987)  # ksx3267.md §3.1: the real node's 23.2954 degC
    async with serve_site(site, tcp=(HOST, 0), rtu_tcp=(HOST, 0)) as serving:
        assert serving.tcp_port and serving.rtu_tcp_port
        async with AsyncModbusTcpClient(HOST, port=serving.tcp_port, **QUICK) as client:
            rr = await client.read_holding_registers(1, count=8, device_id=1)
            serial = SERIAL_BASE + 1
            assert rr.registers == [0, 0, 1, 0, 10, 30, serial & 0xFFFF, serial >> 16]
            rr = await client.read_holding_registers(202, count=91, device_id=1)
            assert rr.registers[:4] == [0, 0x5CFA, 0x41BA, 0]  # node status, temp 1, its status
            rr = await client.read_holding_registers(1, count=8, device_id=4)  # a vendor probe: no KS map
            assert rr.isError() and rr.exception_code == 2
        async with AsyncModbusTcpClient(HOST, port=serving.rtu_tcp_port, framer=FramerType.RTU,
                                        **QUICK) as client:
            rr = await client.read_holding_registers(1, count=8, device_id=3)
            assert rr.registers[2:6] == [3, 0, 20, 21]  # KS X 3288 nutrient node


async def test_timed_on_counts_down_in_real_time() -> None:
    async with (
        serve_site(demo_site(), tcp=(HOST, 0), tick_s=0.05) as serving,
        AsyncModbusTcpClient(HOST, port=serving.tcp_port, **QUICK) as client,
    ):
        start = time.monotonic()
        rr = await client.write_registers(503, [202, 41, 2, 0], device_id=2)  # switch 1 TIMED_ON 2 s
        assert not rr.isError()
        seen: list[tuple[int, int, int]] = []
        while time.monotonic() - start < 2.8:
            regs = (await client.read_holding_registers(203, count=4, device_id=2)).registers
            opid, status, remain = regs[0], regs[1], codec.decode(regs[2:], "u32", word_order="little")
            if not seen or seen[-1] != (opid, status, remain):
                seen.append((opid, status, remain))
            if status == 0:
                break
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - start
    assert seen == [(41, 201, 2), (41, 201, 1), (0, 0, 0)]
    assert 1.9 < elapsed < 2.7
