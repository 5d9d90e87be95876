"""The digital twin of the example site behind real Modbus sockets: commands move the physics, sensors
carry the model's values, faults come on demand, and the clock steps deterministically."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import farmcore.twin
from farmcore.errors import CommError
from farmcore.fieldbus.bus import Bus, open_bus
from farmcore.fieldbus.node import KsNode
from farmcore.fieldbus.opid import OpidStore
from farmcore.fieldbus.profile import find_profile
from farmcore.fieldbus.vendor import VendorNode
from farmcore.site import FaultDef, load_site
from farmcore.twin.runtime import Twin
from farmcore.twin.transmitters import NOISE_SD

EXAMPLE = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-demo.toml"
WINTER_NIGHT = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)  # 00:00 in Korea


def make_twin(start: datetime = WINTER_NIGHT) -> Twin:
    return Twin(load_site(EXAMPLE), site_file=EXAMPLE, start=start)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Twin, dict[str, Bus], OpidStore]]:
    twin = make_twin()
    async with twin.serve({"greenhouses": "tcp://127.0.0.1:0", "tanks": "tcp://127.0.0.1:0"}) as urls:
        buses = {name: open_bus(url, timeout=0.5) for name, url in urls.items()}
        try:
            yield twin, buses, OpidStore(tmp_path / "opid")
        finally:
            for bus in buses.values():
                await bus.close()


async def node(buses: dict[str, Bus], bus: str, unit: int, opids: OpidStore) -> KsNode:
    return await KsNode.discover(buses[bus], unit, opids=opids, readback_delay_s=0.02)


def reading(snapshot, slot: int):
    return next(r for r in snapshot.readings if r.slot == slot)


def test_stepping_is_deterministic() -> None:
    a, b = make_twin(), make_twin()
    a.advance(1800)
    b.advance(900)
    b.advance(900)
    assert a.zone_outputs() == b.zone_outputs()
    assert a.clock.now() == b.clock.now() == datetime(2026, 1, 15, 15, 30, tzinfo=UTC)


async def test_sensor_registers_carry_the_model_values(served) -> None:
    twin, buses, opids = served
    twin.advance(600)
    snap = await (await node(buses, "greenhouses", 11, opids)).read()
    model = twin.zones["gh1"].model.outputs()
    for slot, quantity in ((1, "air_temperature"), (4, "relative_humidity"), (13, "co2")):
        # the model's value with the transmitter's noise, within five standard deviations, and never exactly it
        value = reading(snap, slot).value
        assert value == pytest.approx(model[quantity], abs=5 * NOISE_SD[quantity]) and value != model[quantity]
    station = await (await node(buses, "greenhouses", 1, opids)).read()
    assert reading(station, 1).value == pytest.approx(twin.last_weather.air_temperature, abs=1e-4)
    probe = await VendorNode(buses["tanks"], 43, find_profile("vendor:do-probe")).read()
    tank = twin.zones["tank1"].model.outputs()
    assert reading(probe, 1).value == pytest.approx(tank["dissolved_oxygen"], abs=5 * NOISE_SD["dissolved_oxygen"])


async def test_heater_command_warms_the_house(served) -> None:
    twin, buses, opids = served
    baseline = make_twin()
    actuators = await node(buses, "greenhouses", 12, opids)
    result = await actuators.command(1, "on")
    assert result.verified
    twin.advance(3600)
    baseline.advance(3600)
    warmed = twin.zones["gh1"].model.outputs()["air_temperature"]
    cold = baseline.zones["gh1"].model.outputs()["air_temperature"]
    assert warmed > cold + 2.0
    assert twin.zones["gh1"].model.state.heating_energy_j > 0


async def test_vent_travels_with_simulated_time(served) -> None:
    twin, buses, opids = served
    actuators = await node(buses, "greenhouses", 12, opids)
    assert (await actuators.command(17, "open")).verified  # side vent left, 120 s travel
    assert (await actuators.command(18, "open")).verified
    twin.advance(60)
    assert twin.zones["gh1"].model.inputs.side_vent == pytest.approx(0.5, abs=0.1)
    twin.advance(120)
    assert twin.zones["gh1"].model.inputs.side_vent == pytest.approx(1.0)
    snap = await actuators.read()
    assert reading(snap, 17).status == 0  # the node stopped at the end of its travel


async def test_aerators_raise_dissolved_oxygen(served) -> None:
    twin, buses, opids = served
    actuators = await node(buses, "tanks", 42, opids)
    for slot in (1, 2):
        assert (await actuators.command(slot, "on")).verified
    twin.advance(1800)
    aerated = twin.zones["tank1"].model.outputs()["dissolved_oxygen"]
    unaerated = twin.zones["tank2"].model.outputs()["dissolved_oxygen"]
    assert aerated > unaerated + 2.0
    currents = await (await node(buses, "tanks", 41, opids)).read()
    assert reading(currents, 20).value > 1.0 and reading(currents, 22).value == 0.0  # aerator 3 is off


async def test_a_tripped_aerator_draws_no_current_and_adds_no_oxygen(served) -> None:
    twin, buses, opids = served
    actuators = await node(buses, "tanks", 42, opids)
    assert (await actuators.command(1, "on")).verified
    assert (await actuators.command(2, "on")).verified
    twin.inject(FaultDef(at_h=0, kind="actuator_failure", zone="tank1", actuator="aerator_1"))
    twin.advance(1800)
    one = twin.zones["tank1"].model.outputs()
    assert one["aerator_1_current"] == 0.0 and one["aerator_2_current"] > 1.0
    snap = await (await node(buses, "tanks", 42, opids)).read()
    assert reading(snap, 1).status == 201  # the node still says ON: only the current shows the trip


async def test_node_faults_on_demand(served) -> None:
    twin, buses, opids = served
    sensors = await node(buses, "greenhouses", 11, opids)
    end = twin.inject(FaultDef(at_h=0, kind="silent", bus="greenhouses", unit=11))
    snap = await sensors.read()
    assert all(r.quality == "comm_error" for r in snap.readings)
    end()
    assert all(r.quality == "good" for r in (await sensors.read()).readings)
    end = twin.inject(FaultDef(at_h=0, kind="exception", bus="greenhouses", unit=11, value=4))
    snap = await sensors.read()
    assert "exception 4" in reading(snap, 1).error
    end()
    twin.inject(FaultDef(at_h=0, kind="silent", bus="greenhouses", unit=12))
    with pytest.raises(CommError):
        await node(buses, "greenhouses", 12, opids)  # an offline node is not discovered


async def test_sensor_faults_on_demand(served) -> None:
    twin, buses, opids = served
    sensors = await node(buses, "greenhouses", 11, opids)
    twin.inject(FaultDef(at_h=0, kind="need_calibration", zone="gh1", quantity="co2"))
    stuck_end = twin.inject(FaultDef(at_h=0, kind="stuck", zone="gh1", quantity="air_temperature"))
    twin.inject(FaultDef(at_h=0, kind="drift", zone="gh1", quantity="relative_humidity", value=5.0))
    twin.advance(10)
    frozen = reading(await sensors.read(), 1).value
    twin.advance(7200)
    snap = await sensors.read()
    model = twin.zones["gh1"].model.outputs()
    assert reading(snap, 13).quality == "need_calibration"
    assert reading(snap, 1).value == frozen != pytest.approx(model["air_temperature"], abs=0.25)
    assert reading(snap, 4).value == pytest.approx(model["relative_humidity"] + 10.0,
                                                   abs=5 * NOISE_SD["relative_humidity"])  # 5 %/h for 2 h
    stuck_end()
    twin.advance(10)
    assert reading(await sensors.read(), 1).value == pytest.approx(
        twin.zones["gh1"].model.outputs()["air_temperature"], abs=5 * NOISE_SD["air_temperature"])


def test_scheduled_faults_start_and_end_on_simulated_time() -> None:
    site = load_site(EXAMPLE).model_copy(update={"faults": [
        FaultDef(at_h=1.0, duration_h=0.5, kind="actuator_failure", zone="tank1", actuator="aerator_2")]})
    twin = Twin(site, site_file=EXAMPLE, start=WINTER_NIGHT)
    aerator = next(a for a in twin.zones["tank1"].actuators if a.id == "aerator_2")
    twin.advance(3590)
    assert not aerator.failed
    twin.advance(20)
    assert aerator.failed
    twin.advance(1800)
    assert not aerator.failed


# --------------------------------------------------------------------------- the command line


def _start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "farmctl.cli", "twin", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    urls = {}
    for _ in range(2):
        line = proc.stdout.readline()
        match = re.match(r"listening: (\S+) \(bus (\w+)\)", line)
        if not match:
            proc.kill()
            pytest.fail(f"twin did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        urls[match.group(2)] = match.group(1)
    return proc, urls


def _farmctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "farmctl.cli", *args], env=env, capture_output=True, text=True,
                          timeout=30)


def test_farmctl_reads_and_drives_the_site_twin_over_tcp(tmp_path: Path) -> None:
    env = {**os.environ, "FARMCTL_STATE_DIR": str(tmp_path)}
    proc, urls = _start(["--site", str(EXAMPLE), "--speed", "60", "--serve", "greenhouses=tcp://127.0.0.1:0",
                         "--serve", "tanks=tcp://127.0.0.1:0"], env)
    try:
        scan = _farmctl(env, "bus", "scan", "--bus", urls["tanks"], "--units", "41-43", "--json")
        assert scan.returncode == 0, scan.stderr
        assert [n["unit"] for n in json.loads(scan.stdout)["nodes"]] == [41, 42]  # 43 is a vendor DO probe
        act = _farmctl(env, "actuate", "--bus", urls["greenhouses"], "--unit", "12", "--slot", "1", "on", "--json")
        assert act.returncode == 0 and json.loads(act.stdout)["verified"], act.stderr
        read = _farmctl(env, "read", "--bus", urls["greenhouses"], "--unit", "11", "--json")
        temp = next(d for d in json.loads(read.stdout)["devices"] if d["slot"] == 1)
        assert temp["quantity"] == "air_temperature" and -30 < temp["value"] < 45
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_farmctl_reads_and_drives_the_site_twin_over_rtu(tmp_path: Path) -> None:
    env = {**os.environ, "FARMCTL_STATE_DIR": str(tmp_path)}
    node_end, controller_end = tmp_path / "tty-node", tmp_path / "tty-controller"
    socat = subprocess.Popen(["socat", f"pty,raw,echo=0,link={node_end}", f"pty,raw,echo=0,link={controller_end}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not (node_end.exists() and controller_end.exists()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc, _urls = _start(["--site", str(EXAMPLE), "--serve", f"greenhouses=rtu://{node_end}?baud=9600",
                              "--serve", "tanks=tcp://127.0.0.1:0"], env)
        try:
            read = _farmctl(env, "read", "--bus", f"rtu://{controller_end}?baud=9600", "--unit", "11", "--json")
            assert read.returncode == 0, read.stderr
            assert next(d for d in json.loads(read.stdout)["devices"] if d["slot"] == 13)["quantity"] == "co2"
            act = _farmctl(env, "actuate", "--bus", f"rtu://{controller_end}?baud=9600", "--unit", "12", "--slot",
                           "19", "timed-open", "--time", "30", "--json")  # gh1's thermal screen
            assert act.returncode == 0 and json.loads(act.stdout)["verified"], act.stderr
        finally:
            proc.terminate()
            assert proc.wait(10) == 0
    finally:
        socat.terminate()
        socat.wait(5)


def test_bad_site_file_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "site.toml"
    bad.write_text(EXAMPLE.read_text("utf-8").replace('role = "o2_valve"', 'role = "o2_pump"', 1))
    result = _farmctl({**os.environ, "FARMCTL_STATE_DIR": str(tmp_path)}, "twin", "--site", str(bad))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "actuators[3].role" in result.stderr and str(bad) in result.stderr
