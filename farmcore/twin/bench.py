"""The commissioning bench: a fixed small site (a greenhouse and a tank) as Modbus nodes, served on real transports.

The site is a table, not code: which profile each unit uses, which slots hold which device code, and a
plausible first value for every sensor. A later plant model replaces the fixed values; until then the
demo and the hardware-in-the-loop tests read a believable site (23.5 degC, 68 %RH, 520 ppm CO2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from farmcore.fieldbus.profile import builtin_profiles
from farmcore.twin.ksnode import KsNode
from farmcore.twin.registers import RegisterDevice, UnitMap
from farmcore.twin.server import ModbusServer
from farmcore.twin.vendor import PointValue, VendorDevice

log = logging.getLogger(__name__)

# unit -> (profile, {slot: (device code, first value; None for actuators)})
KS_UNITS: dict[int, tuple[str, dict[int, tuple[int, float | None]]]] = {
    1: ("ksx3267:2022/sensor-default", {
        1: (1, 23.5),  # air temperature 1, degC
        4: (2, 68.0),  # relative humidity 1, %RH
        6: (4, 0.0),  # rain detector, 0 = dry
        9: (7, 412.0),  # pyranometer, W/m2
        10: (8, 1.8),  # wind speed, m/s
        11: (9, 225.0),  # wind direction, deg (south-west)
        13: (11, 520.0),  # CO2, ppm
        16: (14, 32.5),  # soil moisture, %
    }),
    2: ("ksx3267:2022/actuator-default", {
        1: (102, None),  # heater
        2: (102, None),  # circulation fan
        3: (102, None),  # CO2 valve
        4: (102, None),  # irrigation pump
        17: (112, None),  # roof vent left
        18: (112, None),  # roof vent right
        19: (112, None),  # side vent
        20: (112, None),  # thermal screen
    }),
    3: ("ksx3288:2022/nutrient-default", {
        1: (12, 1.8),  # EC of the mixed solution, dS/m
        4: (16, 6.1),  # pH of the mixed solution
        8: (5, 1520.0),  # cumulative flow, L
        21: (202, None),  # nutrient supply device, level 1
    }),
}
TRAVEL_S = {2: {17: 90.0, 18: 90.0, 19: 120.0, 20: 180.0}}  # full travel time of each retractable
SERIAL_BASE = 2024_0000  # serial number of unit u: SERIAL_BASE + u

VENDOR_UNITS: dict[int, tuple[str, dict[str, PointValue]]] = {
    4: ("vendor:do-probe", {"do": 7.4, "do_saturation": 86.0, "temperature": 18.5}),  # flatfish tank
    5: ("vendor:xy-md02", {"temperature": 22.8, "humidity": 71.5}),  # second greenhouse probe
    6: ("vendor:relay8-opener", {}),  # all relays off
}


def demo_site(clock: Callable[[], float] = time.monotonic) -> UnitMap:
    """Units 1-3: KS sensor, actuator and nutrient nodes; 4-6: DO probe, XY-MD02 probe, relay board.

    `clock` drives the KS nodes' timers (a simulated clock for the time-accelerated twin)."""
    profiles = builtin_profiles()
    devices: dict[int, RegisterDevice] = {}
    for unit, (profile_id, slots) in KS_UNITS.items():
        node = KsNode(profiles[profile_id], {slot: code for slot, (code, _) in slots.items()},
                      serial=SERIAL_BASE + unit, travel_s=TRAVEL_S.get(unit), clock=clock)
        for slot, (_code, value) in slots.items():
            if value is not None:
                node.set_sensor(slot, value)
        devices[unit] = node
    for unit, (profile_id, values) in VENDOR_UNITS.items():
        devices[unit] = VendorDevice(profiles[profile_id], values)
    return UnitMap(devices)


def describe(site: UnitMap) -> list[tuple[int, str, str]]:
    """(unit, kind, profile id) of every unit, for people: kind lists a KS node's device kinds."""
    rows = []
    for unit, device in sorted(site.devices.items()):
        if isinstance(device, KsNode):
            kinds = dict.fromkeys(s.kind for s in device.profile.slots if s.slot in device.device_codes)
            rows.append((unit, "KS " + "+".join(kinds), device.profile.id))
        elif isinstance(device, VendorDevice):
            rows.append((unit, "vendor", device.profile.id))
        else:
            rows.append((unit, type(device).__name__, "-"))
    return rows


@dataclass(frozen=True)
class Serving:
    """Where a site is being served; `server.faults` injects faults per unit."""

    server: ModbusServer
    tcp_port: int | None = None
    rtu_tcp_port: int | None = None
    serial: str | None = None


async def _tick(nodes: list[KsNode], every_s: float) -> None:
    while True:
        for node in nodes:
            try:
                node.tick()
            except Exception:  # one broken node must not stop the others' clocks
                log.exception("tick of %s failed", node.profile.id)
        await asyncio.sleep(every_s)


@contextlib.asynccontextmanager
async def serve_site(
    site: UnitMap,
    *,
    tcp: tuple[str, int] | None = None,
    rtu_tcp: tuple[str, int] | None = None,
    serial: str | None = None,
    baudrate: int = 9600,
    tick_s: float = 0.2,
) -> AsyncIterator[Serving]:
    """Serve a site on the requested transports (port 0 picks a free port) while ticking its KS nodes."""
    if tcp is None and rtu_tcp is None and serial is None:
        raise ValueError("serve_site needs at least one of tcp, rtu_tcp or serial")
    nodes = [d for d in site.devices.values() if isinstance(d, KsNode)]
    async with ModbusServer(site) as server:
        tcp_port = await server.start_tcp(*tcp) if tcp else None
        rtu_port = await server.start_tcp(*rtu_tcp, framing="rtu") if rtu_tcp else None
        if serial is not None:
            await server.start_serial(serial, baudrate)
        ticker = asyncio.create_task(_tick(nodes, tick_s))
        try:
            yield Serving(server, tcp_port, rtu_port, serial)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
