"""The daemon's lean Modbus TCP client (`FastTcpBus`) answers exactly as the pymodbus-based `Bus` does, on the
same simulated nodes over a real socket: values, exception replies, silence, writes and their texts."""

from __future__ import annotations

import pytest

from farmcore.errors import BadInput, CommError, ModbusExceptionReply
from farmcore.fieldbus.bus import open_bus
from farmcore.fieldbus.fasttcp import FastTcpBus, open_fast_bus
from farmcore.fieldbus.node import KsNode
from farmcore.twin.bench import demo_site, serve_site


async def _outcome(coro: object) -> object:
    """The value, or (error type, text)."""
    try:
        return await coro  # type: ignore[misc]
    except (CommError, ModbusExceptionReply, BadInput) as exc:
        return type(exc).__name__, str(exc)


async def test_fast_client_matches_pymodbus_client() -> None:
    async with serve_site(demo_site(), tcp=("127.0.0.1", 0), serial=None) as serving:
        url = f"tcp://127.0.0.1:{serving.tcp_port}?timeout=0.3&retries=0"
        fast, slow = open_fast_bus(url), open_bus(url)
        assert isinstance(fast, FastTcpBus)
        try:
            cases = [(1, 3, 1, 8), (2, 3, 101, 24), (1, 3, 203, 30), (2, 3, 201, 18),
                     (1, 3, 9000, 2),  # undefined registers: exception 2
                     (9, 3, 1, 8),  # a unit nobody answers for: silence
                     (1, 3, 1, 200)]  # bad count: refused before sending
            for unit, fc, address, count in cases:
                a = await _outcome(fast.read(unit, fc, address, count))
                b = await _outcome(slow.read(unit, fc, address, count))
                assert a == b, (unit, address, count)
            node_fast = await KsNode.discover(fast, 2)
            node_slow = await KsNode.discover(slow, 2)
            assert node_fast.device_codes == node_slow.device_codes
            result = await node_fast.command(1, "timed-on", time_s=5)
            assert result.verified
            snap_fast, snap_slow = await node_fast.read(), await node_slow.read()
            assert [(r.slot, r.status, r.opid) for r in snap_fast.readings] == \
                   [(r.slot, r.status, r.opid) for r in snap_slow.readings]
            assert fast.stats.requests > 0 and fast.stats.exception_replies == 1
        finally:
            await fast.close()
            await slow.close()


async def test_fast_client_reconnects_after_the_server_returns() -> None:
    async with serve_site(demo_site(), tcp=("127.0.0.1", 0), serial=None) as serving:
        port = serving.tcp_port
        bus = open_fast_bus(f"tcp://127.0.0.1:{port}?timeout=0.3&retries=0")
        assert await bus.read(1, 3, 1, 8)
    with pytest.raises(CommError):
        await bus.read(1, 3, 1, 8)
    await bus.close()
