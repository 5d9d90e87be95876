"""The node layer (`KsNode`, `VendorNode`) against the simulated demo site over real loopback sockets.

Covers KS X 3267 §6.1 discovery (with the address-offset fallback of ksx3267.md §6/§9), reading every device
with a quality (good / stale / comm_error / sensor status), OPID commands with read-back (§8.1, §8.2),
local refusal of what a node cannot take, and vendor relay outputs with emulated KS level 1, on Modbus TCP
and on RTU framing over TCP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from farmcore.errors import BadInput, CommError, DeviceError
from farmcore.fieldbus.bus import Bus, open_bus
from farmcore.fieldbus.framelog import FrameLog
from farmcore.fieldbus.node import KsNode, Reading
from farmcore.fieldbus.opid import OpidStore
from farmcore.fieldbus.profile import builtin_profiles, find_profile
from farmcore.fieldbus.vendor import VendorNode
from farmcore.twin import ksnode as sim
from farmcore.twin.bench import SERIAL_BASE, Serving, demo_site, serve_site
from farmcore.twin.registers import Table, UnitMap
from farmcore.twin.server import Fault
from farmcore.twin.vendor import VendorDevice

pytestmark = pytest.mark.timeout(10)

HOST = "127.0.0.1"
SCHEMES = ("tcp", "rtu+tcp")
QUICK: dict[str, Any] = {"timeout": 0.5, "retries": 0}  # loopback answers in well under a millisecond
FAST_READBACK: dict[str, Any] = {"readback_delay_s": 0.05, "readback_timeout_s": 0.3}

SENSOR = "ksx3267:2022/sensor-default"
ACTUATOR = "ksx3267:2022/actuator-default"
NUTRIENT = "ksx3288:2022/nutrient-default"

# what demo_site() populates (farmcore/twin/site.py)
SENSOR_CODES = {1: 1, 4: 2, 6: 4, 9: 7, 10: 8, 11: 9, 13: 11, 16: 14}
ACTUATOR_CODES = {1: 102, 2: 102, 3: 102, 4: 102, 17: 112, 18: 112, 19: 112, 20: 112}
NUTRIENT_CODES = {1: 12, 4: 16, 8: 5, 21: 202}
SWITCH_1, VENT_1, SUPPLY = 1, 17, 21


@dataclass
class Site:
    """The served demo site, its simulated devices, one frame log for every bus and a private OPID store."""

    units: UnitMap
    serving: Serving
    opids: OpidStore
    frames: FrameLog = field(default_factory=FrameLog)
    buses: list[Bus] = field(default_factory=list)

    def served(self, unit: int) -> int:
        """Replies the simulator has sent to `unit` so far."""
        return self.serving.server.served[unit]

    def sim(self, unit: int) -> sim.KsNode:
        device = self.units.devices[unit]
        assert isinstance(device, sim.KsNode)
        return device

    def board(self, unit: int) -> VendorDevice:
        device = self.units.devices[unit]
        assert isinstance(device, VendorDevice)
        return device

    def bus(self, scheme: str = "tcp", **overrides: Any) -> Bus:
        """A bus to the site (closed after the test), short timeouts unless overridden."""
        port = self.serving.tcp_port if scheme == "tcp" else self.serving.rtu_tcp_port
        bus = open_bus(f"{scheme}://{HOST}:{port}", self.frames, **{**QUICK, **overrides})
        self.buses.append(bus)
        return bus

    async def node(self, unit: int, bus: Bus | None = None, **kwargs: Any) -> KsNode:
        """Discover a KS node with this test's OPID store and a fast read-back."""
        return await KsNode.discover(bus or self.bus(), unit, opids=self.opids, **{**FAST_READBACK, **kwargs})


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Nothing here may touch the user's real state directory (the OPID counter lives there)."""
    monkeypatch.setenv("FARMCTL_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@asynccontextmanager
async def serving(units: UnitMap, opids: OpidStore) -> AsyncIterator[Site]:
    """Serve `units` on Modbus TCP and RTU-over-TCP (free ports); close every bus opened on it."""
    async with serve_site(units, tcp=(HOST, 0), rtu_tcp=(HOST, 0), tick_s=0.05) as served:
        site = Site(units, served, opids)
        try:
            yield site
        finally:
            for bus in site.buses:
                await bus.close()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """demo_site() on Modbus TCP and RTU-over-TCP, free ports, OPIDs kept under tmp_path."""
    async with serving(demo_site(), OpidStore(tmp_path / "opid")) as served:
        yield served


def by_slot(readings: list[Reading]) -> dict[int, Reading]:
    return {r.slot: r for r in readings}


# ---------------------------------------------------------------------------------------------- discovery


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_discovery_of_the_ks_units(site: Site, scheme: str) -> None:
    """Units 1-3 are found with the right profile, channel count, serial and populated device codes, and
    each reads in fewer requests than it has devices (same on RTU framing over TCP)."""
    bus = site.bus(scheme)
    expected = {
        1: (SENSOR, 1, 10, 30, SENSOR_CODES),
        2: (ACTUATOR, 2, 10, 24, ACTUATOR_CODES),
        3: (NUTRIENT, 3, 20, 21, NUTRIENT_CODES),
    }
    for unit, (profile, product_type, protocol, channels, device_codes) in expected.items():
        node = await site.node(unit, bus)
        assert node.profile.id == profile
        assert node.info is not None
        assert (node.info.product_type, node.info.protocol_version, node.info.channels) == (
            product_type, protocol, channels)
        assert node.info.default_map and node.info.address_offset == 0
        assert node.info.serial == SERIAL_BASE + unit
        assert node.device_codes == device_codes
        assert node.warnings == []

        snap = await node.read()
        assert [r.slot for r in snap.readings] == sorted(device_codes)
        assert all(r.quality == "good" and r.error is None for r in snap.readings), snap.as_dict()
        assert snap.errors == 0 and snap.node["status"] == 0
        assert 1 <= snap.requests < len(device_codes)
    readings = by_slot((await (await site.node(1, bus)).read()).readings)
    assert readings[1].value == pytest.approx(23.5)


async def test_absent_unit_raises_comm_error_quickly_and_the_bus_stays_usable(site: Site) -> None:
    """A unit nobody answers for is a CommError within about the (short) timeout, not a hang."""
    bus = site.bus(timeout=0.2)
    started = time.monotonic()
    with pytest.raises(CommError, match="unit 9"):
        await site.node(9, bus)
    assert time.monotonic() - started < 0.6
    assert (await site.node(1, bus)).profile.id == SENSOR  # the link survived the silent unit


@pytest.mark.parametrize("unit", [4, 5, 6])
async def test_vendor_units_are_not_taken_for_ks_nodes(site: Site, unit: int) -> None:
    """The DO probe, XY-MD02 and relay board have no registers 1-8: discovery refuses them at once."""
    started = time.monotonic()
    with pytest.raises(DeviceError) as caught:
        await site.node(unit)
    assert not isinstance(caught.value, CommError), caught.value  # they answered; they are just not KS
    assert time.monotonic() - started < 0.3


async def test_address_offset_fallback(tmp_path: Path) -> None:
    """Nodes that put register N at PDU address N-1 are found on the -1 retry, with a warning, and are
    then read and commanded at the shifted addresses."""
    profiles = builtin_profiles()
    sensors = sim.KsNode(profiles[SENSOR], {1: 1, 4: 2}, address_offset=-1)
    sensors.set_sensor(1, 21.25)
    sensors.set_sensor(4, 55.0)
    actuators = sim.KsNode(profiles[ACTUATOR], {1: 102, 17: 112}, address_offset=-1)
    async with serving(UnitMap({1: sensors, 2: actuators}), OpidStore(tmp_path / "opid")) as site:
        node = await site.node(1)
        assert node.info is not None and node.info.address_offset == -1
        assert node.profile.id == SENSOR and node.device_codes == {1: 1, 4: 2}
        assert any("offset -1" in w for w in node.warnings), node.warnings
        values = {r.slot: (r.value, r.quality) for r in (await node.read()).readings}
        assert values == {1: (pytest.approx(21.25), "good"), 4: (pytest.approx(55.0), "good")}

        node = await site.node(2)
        assert node.info is not None and node.info.address_offset == -1
        site.frames.clear()
        result = await node.command(SWITCH_1, "timed-on", time_s=30)
        assert result.verified, result
        assert actuators.actuator(SWITCH_1).on
        tx = [f.data for f in site.frames if f.direction == "TX"]
        assert tx[0][7:10] == bytes([0x10, 0x01, 0xF6])  # FC16 at PDU 502 = register 503 - 1 (after MBAP)


# ---------------------------------------------------------------------------------------------- reading


async def test_read_values_units_sensor_status_and_poll_plan(site: Site) -> None:
    """Values come with quantity and unit; a sensor status (102) becomes its quality; one request reads
    the eight sensors and the node status."""
    site.sim(1).set_sensor(4, 68.0, status=102)
    node = await site.node(1)
    before = site.served(1)
    snap = await node.read()
    assert site.served(1) - before == snap.requests == len(node.poll_plan())
    assert snap.requests < len(SENSOR_CODES)

    readings = by_slot(snap.readings)
    temp = readings[1]
    assert (temp.quantity, temp.unit, temp.quality, temp.status_name) == (
        "air_temperature", "degC", "good", "READY")
    assert temp.value == pytest.approx(23.5)
    assert temp.time is not None
    co2, humidity = readings[13], readings[4]
    assert (co2.quantity, co2.unit, co2.value) == ("co2", "ppm", pytest.approx(520))
    assert (humidity.quantity, humidity.unit) == ("relative_humidity", "%RH")
    assert humidity.value == pytest.approx(68)
    assert (humidity.status, humidity.status_name, humidity.quality) == (102, "NEED_CALIBRATION",
                                                                         "need_calibration")
    assert snap.as_dict()["devices"][1]["quality"] == "need_calibration"


async def test_exception_reply_gives_comm_error_readings_then_recovers(site: Site) -> None:
    """An exception reply marks every reading comm_error with the error text; read() does not raise;
    the next read after the fault is cleared is good again."""
    node = await site.node(1)
    assert all(r.quality == "good" for r in (await node.read()).readings)

    site.serving.server.faults[1] = Fault(exception=4)
    snap = await node.read()
    assert snap.errors >= 1
    assert {r.quality for r in snap.readings} == {"comm_error"}
    assert all(r.error and "exception 4" in r.error for r in snap.readings), snap.as_dict()
    assert "exception 4" in snap.node["error"]
    assert by_slot(snap.readings)[1].value == pytest.approx(23.5)  # last value kept for display, marked

    del site.serving.server.faults[1]
    snap = await node.read()
    assert snap.errors == 0
    assert {r.quality for r in snap.readings} == {"good"}
    assert all(r.error is None for r in snap.readings)


async def test_silent_node_goes_comm_error_then_stale_then_good(site: Site) -> None:
    """A silent node: comm_error while the last good value is younger than stale_after_s, stale once it is
    older (value kept), good again when the node answers."""
    stale_after_s = 0.3
    node = await site.node(1, site.bus(timeout=0.1), stale_after_s=stale_after_s)
    await node.read()
    good_at = time.monotonic()

    site.serving.server.faults[1] = Fault(silent=True)
    snap = await node.read()
    assert time.monotonic() - good_at < stale_after_s  # precondition of the next line
    temp = by_slot(snap.readings)[1]
    assert temp.quality == "comm_error"
    assert temp.error and "no response" in temp.error

    await asyncio.sleep(max(0.0, stale_after_s - (time.monotonic() - good_at)))
    snap = await node.read()
    temp = by_slot(snap.readings)[1]
    assert {r.quality for r in snap.readings} == {"stale"}
    assert temp.value == pytest.approx(23.5) and temp.error and "no response" in temp.error

    del site.serving.server.faults[1]
    snap = await node.read()
    assert {r.quality for r in snap.readings} == {"good"}


# ---------------------------------------------------------------------------------------------- commands


async def test_switch_timed_on_and_off(site: Site) -> None:
    """TIMED_ON is verified by status 201, the OPID echo and the remaining time; the sim's switch runs;
    OFF reads back READY and stops it."""
    node = await site.node(2)
    result = await node.command(SWITCH_1, "timed-on", time_s=30)
    assert result.verified, result
    assert (result.operation, result.code, result.status, result.status_name) == ("TIMED_ON", 202, 201, "ON")
    assert result.remaining_s in (29, 30)
    state = site.sim(2).actuator(SWITCH_1)
    assert state.on and state.status == 201 and state.opid == result.opid
    assert not site.sim(2).actuator(2).on  # only the commanded switch

    result = await node.command(SWITCH_1, "off")
    assert result.verified, result
    assert (result.operation, result.status, result.status_name) == ("OFF", 0, "READY")
    assert not site.sim(2).actuator(SWITCH_1).on


async def test_retractable_open_close_stop(site: Site) -> None:
    """OPEN / CLOSE / STOP on retractable 17 read back OPENING / CLOSING / READY and drive the sim."""
    node = await site.node(2)
    for op, status, name, direction in (("open", 301, "OPENING", True), ("close", 302, "CLOSING", True),
                                        ("stop", 0, "READY", False)):
        result = await node.command(VENT_1, op)
        assert result.verified, result
        assert (result.status, result.status_name) == (status, name)
        state = site.sim(2).actuator(VENT_1)
        assert (state.status, state.on) == (status, direction)
    assert not site.sim(2).actuator(18).on


async def test_opids_strictly_increase_across_a_restart(site: Site, tmp_path: Path) -> None:
    """Every command carries a new OPID, and a new OpidStore on the same file (a restart) continues."""
    node = await site.node(2)
    seen = [(await node.command(SWITCH_1, op, time_s=5 if op == "timed-on" else None)).opid
            for op in ("timed-on", "off", "on", "off")]
    seen.append((await node.command(VENT_1, "stop")).opid)

    restarted = await KsNode.discover(site.bus(), 2, opids=OpidStore(tmp_path / "opid"), **FAST_READBACK)
    result = await restarted.command(SWITCH_1, "on")
    assert result.verified, result
    seen.append(result.opid)
    assert all(isinstance(o, int) and o > 0 for o in seen)
    assert seen == sorted(set(seen)), seen  # strictly increasing
    assert site.sim(2).actuator(SWITCH_1).opid == seen[-1]
    await restarted.command(SWITCH_1, "off")


@pytest.mark.parametrize(("slot", "op", "kwargs", "message"), [
    (VENT_1, "position", {"position": 50}, "level-2"),
    (SWITCH_1, "open", {}, "switch takes"),
    (SWITCH_1, "timed-on", {}, "needs --time"),
    (SWITCH_1, "timed-on", {"time_s": 0}, "needs --time"),
    (5, "on", {}, "no device in slot 5"),
])
async def test_refused_locally_with_no_frame_sent(site: Site, slot: int, op: str, kwargs: dict[str, Any],
                                                  message: str) -> None:
    """What the device cannot take is BadInput before anything goes on the wire."""
    node = await site.node(2)
    frames, served = len(site.frames), site.served(2)
    with pytest.raises(BadInput, match=message):
        await node.command(slot, op, **kwargs)
    assert len(site.frames) == frames
    assert site.served(2) == served


async def test_node_under_local_control_ignores_the_command(site: Site) -> None:
    """Under LOCAL control the node ignores remote commands: not verified, status 299, no exception."""
    site.sim(2).set_control(sim.LOCAL)
    node = await site.node(2)
    started = time.monotonic()
    result = await node.command(SWITCH_1, "on")
    assert time.monotonic() - started < FAST_READBACK["readback_timeout_s"] + 0.3
    assert not result.verified
    assert (result.status, result.status_name) == (299, "USER_CONTROL")
    assert "299" in result.message
    assert not site.sim(2).actuator(SWITCH_1).on


async def test_nutrient_water_and_stop(site: Site) -> None:
    """The KS X 3288 supply device takes timed-on (WATER) and stop, both verified by read-back."""
    node = await site.node(3)
    result = await node.command(SUPPLY, "timed-on", time_s=30)
    assert result.verified, result
    assert (result.operation, result.code) == ("WATER", 402)
    assert result.status in (401, 402)
    supply = site.sim(3).nutrient()
    assert supply.status in (401, 402) and supply.opid == result.opid and supply.ec is None

    result = await node.command(SUPPLY, "stop")
    assert result.verified, result
    assert (result.operation, result.status, result.status_name) == ("STOP", 0, "READY")
    assert site.sim(3).nutrient().status == 0 and not site.sim(3).nutrient().supplying


# ---------------------------------------------------------------------------------------------- vendor


def slot_of(node: VendorNode, actuator_id: str) -> int:
    """Vendor slots number the points first, then the actuators; find one by its id."""
    return next(a.slot for a in node.profile.actuators if a.id == actuator_id)


def energised(board: VendorDevice) -> set[str]:
    return {name for name, on in board.outputs().items() if on}


Snapshots = list[tuple[float, set[str]]]


def record_outputs(board: VendorDevice, monkeypatch: pytest.MonkeyPatch) -> Snapshots:
    """The board's energised outputs right after every write a master makes, with the time."""
    seen: Snapshots = []
    write = board.write

    def recording(table: Table, address: int, values: list[int]) -> None:
        write(table, address, values)
        seen.append((time.monotonic(), energised(board)))

    monkeypatch.setattr(board, "write", recording)
    return seen


@pytest.fixture
async def relay8(site: Site) -> AsyncIterator[tuple[VendorNode, VendorDevice]]:
    """The relay8 opener board on unit 6 as a VendorNode and as the sim sees it; safely stopped after."""
    node = VendorNode(site.bus(), 6, find_profile("vendor:relay8-opener"))
    yield node, site.board(6)
    await node.safe_stop()


async def test_vendor_timed_open_energises_only_the_open_relay(
        relay8: tuple[VendorNode, VendorDevice]) -> None:
    """timed-open drives only the opener's open relay, and the controller's timer ends it after ~1 s."""
    node, board = relay8
    started = time.monotonic()
    result = await node.command(slot_of(node, "side_window_1"), "timed-open", time_s=1)
    assert result.verified, result
    assert (result.status_name, result.remaining_s) == ("OPENING", 1)
    assert energised(board) == {"side_window_1.open"}

    await asyncio.wait_for(node.wait_idle(), 2.0)
    assert 0.95 <= time.monotonic() - started < 1.5
    assert energised(board) == set()
    window = by_slot((await node.read()).readings)[slot_of(node, "side_window_1")]
    assert (window.status_name, window.quality) == ("READY", "good")


async def test_vendor_reversal_keeps_the_interlock_and_dead_time(
        relay8: tuple[VendorNode, VendorDevice], monkeypatch: pytest.MonkeyPatch) -> None:
    """open while closing: the close relay drops first, both are never on together, and the open relay
    comes on only after the profile's dead time (500 ms)."""
    node, board = relay8
    slot = slot_of(node, "side_window_1")
    dead_time_s = next(a.dead_time_s for a in node.profile.actuators if a.slot == slot)
    assert dead_time_s == pytest.approx(0.5)
    seen = record_outputs(board, monkeypatch)

    assert (await node.command(slot, "close")).verified
    assert energised(board) == {"side_window_1.close"}
    result = await node.command(slot, "open")
    assert result.verified and result.status_name == "OPENING", result
    assert energised(board) == {"side_window_1.open"}

    assert all(not {"side_window_1.open", "side_window_1.close"} <= on for _, on in seen), seen
    states = [("side_window_1.open" in on, "side_window_1.close" in on) for _, on in seen]
    closing = states.index((False, True))
    close_off = closing + states[closing:].index((False, False))
    open_on = states.index((True, False))
    assert closing < close_off < open_on, seen
    close_off_at, open_on_at = seen[close_off][0], seen[open_on][0]
    assert dead_time_s <= open_on_at - close_off_at < dead_time_s + 0.3


async def test_vendor_safe_stop_de_energises_everything(relay8: tuple[VendorNode, VendorDevice]) -> None:
    """safe_stop() cancels the timers and drops every relay."""
    node, board = relay8
    await node.command(slot_of(node, "side_window_1"), "open")
    await node.command(slot_of(node, "fan_1"), "on")
    await node.command(slot_of(node, "fan_2"), "timed-on", time_s=30)
    assert energised(board) == {"side_window_1.open", "fan_1.on", "fan_2.on"}
    await node.safe_stop()
    assert energised(board) == set()
    statuses = {r.extra["id"]: r.status_name for r in (await node.read()).readings if r.kind != "point"}
    assert statuses == {"side_window_1": "READY", "fan_1": "READY", "fan_2": "READY"}
    await asyncio.wait_for(node.wait_idle(), 0.5)  # no timer left behind


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_vendor_probes_read_with_units_and_local_codes(site: Site, scheme: str) -> None:
    """The DO probe (float32, low word first) and the XY-MD02 (input registers x 0.1) read their values."""
    bus = site.bus(scheme)
    probe = VendorNode(bus, 4, find_profile("vendor:do-probe"))
    do = {r.extra["id"]: r for r in (await probe.read()).readings}
    assert do["do"].value == pytest.approx(7.4, abs=1e-5)
    assert (do["do"].unit, do["do"].quantity, do["do"].quality) == ("mg/L", "dissolved_oxygen", "good")
    assert do["do"].extra["ks_code"] == "local:1001"
    assert do["temperature"].value == pytest.approx(18.5, abs=1e-5)

    probe = VendorNode(bus, 5, find_profile("vendor:xy-md02"))
    xy = {r.extra["id"]: r for r in (await probe.read()).readings}
    assert (xy["temperature"].value, xy["temperature"].unit) == (pytest.approx(22.8), "degC")
    assert (xy["humidity"].value, xy["humidity"].unit) == (pytest.approx(71.5), "%RH")
    assert {r.quality for r in xy.values()} == {"good"}

    site.board(5).set_point("temperature", -3.5)  # i16: below zero must stay signed
    xy = {r.extra["id"]: r for r in (await probe.read()).readings}
    assert xy["temperature"].value == pytest.approx(-3.5)


# ---------------------------------------------------------------------------------------------- regressions
# Bugs found while writing these tests, fixed since: concurrent commands on one opener, a lost off-write at
# the end of a timed run, and the offset -1 fallback on a node that answers its reserved registers.


async def test_concurrent_vendor_commands_never_energise_both_directions(
        relay8: tuple[VendorNode, VendorDevice], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two commands for the same opener at once (daemon + technician) must still never close both relays."""
    node, board = relay8
    slot = slot_of(node, "side_window_1")
    seen = record_outputs(board, monkeypatch)
    await node.command(slot, "close")
    await asyncio.gather(node.command(slot, "open"), node.command(slot, "close"))
    both = {"side_window_1.open", "side_window_1.close"}
    assert not both <= energised(board)
    assert all(not both <= on for _, on in seen), seen


async def test_timed_run_ends_even_if_the_off_write_fails_once(site: Site) -> None:
    """A timed run whose end falls into a short bus outage must still end once the bus is back."""
    node = VendorNode(site.bus(timeout=0.2), 6, find_profile("vendor:relay8-opener"))
    try:
        started = time.monotonic()
        await node.command(slot_of(node, "side_window_1"), "timed-open", time_s=1)
        site.serving.server.faults[6] = Fault(silent=True)  # the off-write at t = 1 s gets no answer
        await asyncio.sleep(max(0.0, started + 1.3 - time.monotonic()))
        del site.serving.server.faults[6]
        deadline = time.monotonic() + 2.0
        while energised(site.board(6)) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert energised(site.board(6)) == set()
    finally:
        await node.safe_stop()


async def test_offset_fallback_when_the_reserved_info_area_answers(tmp_path: Path) -> None:
    """A 30-channel sensor node at offset -1 that also serves the reserved registers 9-100 (as a full
    Annex A map does) must still be found on the -1 retry."""
    sensors = sim.KsNode(builtin_profiles()[SENSOR], {1: 1}, address_offset=-1)
    sensors.define("holding", 8, 92)  # registers 9-100 (reserved node-information area) at PDU 8-99
    async with serving(UnitMap({1: sensors}), OpidStore(tmp_path / "opid")) as site:
        node = await site.node(1)
        assert node.info is not None and node.info.address_offset == -1
        assert node.profile.id == SENSOR
