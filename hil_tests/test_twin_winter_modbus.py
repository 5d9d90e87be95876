"""The winter example site's twin behind a real Modbus TCP socket: the boiler, the mixing valve and the water
curtain commanded as a controller commands them move the loop and the curtain, and the pipe, leaf and groundwater
temperatures and the drain share come back in the sensor registers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import farmcore.twin
from farmcore.fieldbus.bus import Bus, open_bus
from farmcore.fieldbus.node import KsNode
from farmcore.fieldbus.opid import OpidStore
from farmcore.site import load_site
from farmcore.twin.runtime import Twin
from farmcore.twin.transmitters import NOISE_SD

WINTER = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-winter.toml"
NIGHT = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)  # 00:00 in Korea


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Twin, Bus, OpidStore]]:
    twin = Twin(load_site(WINTER), site_file=WINTER, start=NIGHT)
    async with twin.serve({"greenhouses": "tcp://127.0.0.1:0"}) as urls:
        bus = open_bus(urls["greenhouses"], timeout=0.5)
        try:
            yield twin, bus, OpidStore(tmp_path / "opid")
        finally:
            await bus.close()


async def test_loop_and_curtain_over_modbus(served) -> None:
    twin, bus, opids = served
    actuators = await KsNode.discover(bus, 12, opids=opids, readback_delay_s=0.02)
    sensors = await KsNode.discover(bus, 11, opids=opids, readback_delay_s=0.02)
    for slot, command in ((1, "on"), (2, "on"), (17, "open")):  # boiler, curtain pump, mixing valve
        assert (await actuators.command(slot, command)).verified
    twin.advance(180)  # the valve's 120 s of travel, and a step more
    inputs = twin.zones["gh1"].model.inputs
    assert (inputs.boiler, inputs.water_curtain, inputs.mixing_valve) == (1.0, 1.0, pytest.approx(1.0))
    twin.advance(3600)
    model = twin.zones["gh1"].model.outputs()
    snap = await sensors.read()
    values = {r.slot: r.value for r in snap.readings}
    for slot, quantity in ((2, "pipe_temperature"), (3, "leaf_temperature"), (20, "groundwater_temperature")):
        # the model's value with the transmitter's noise, within five standard deviations, and never exactly it
        sd = NOISE_SD[quantity]
        assert values[slot] == pytest.approx(model[quantity], abs=5 * sd) and values[slot] != model[quantity]
    assert values[2] > model["air_temperature"] + 10 and model["groundwater_temperature"] == 15.0
    assert values[7] == 0.0  # no irrigation yet: no drain
    assert (await actuators.command(1, "off")).verified
    twin.advance(60)
    assert twin.zones["gh1"].model.inputs.boiler == 0.0
