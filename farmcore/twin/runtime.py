"""The digital twin of a site: plant models behind the site's Modbus nodes, on a simulated clock.

Each step: the weather for the simulated time; actuator states read from the simulated nodes (as the
controller's commands left them) move the plant models' inputs; the models advance; their outputs are
written into the nodes' sensor registers, through any sensor faults. The clock can be stepped
deterministically (`advance`, for tests and benchmarks) or run against the wall clock at 1x-3600x
(`run`). Faults on demand: node faults at frame level (silent, late, exception, corrupted CRC), sensor
faults (stuck, drifting, NEED_CALIBRATION) and actuator failures (commanded on, no effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from farmcore.errors import BadInput, ConfigError
from farmcore.fieldbus.profile import builtin_profiles
from farmcore.fieldbus.url import parse_bus_url
from farmcore.site import SENSOR_CODES, FaultDef, NodeDef, SiteFile, ZoneDef, sensor_code
from farmcore.twin.clock import SimClock
from farmcore.twin.greenhouse import PARAMS as GREENHOUSE_PARAMS
from farmcore.twin.greenhouse import Greenhouse
from farmcore.twin.ksnode import PREPARING, STOPPING, SUPPLYING, KsNode
from farmcore.twin.registers import RegisterDevice, UnitMap
from farmcore.twin.roles import OPENINGS, set_greenhouse_inputs
from farmcore.twin.server import Fault, Faults, ModbusServer
from farmcore.twin.tank import PARAMS as TANK_PARAMS
from farmcore.twin.tank import Tank
from farmcore.twin.transmitters import Sensor, SensorFault
from farmcore.twin.vendor import VendorDevice
from farmcore.twin.weather import WeatherSample, WeatherSource, load_weather

log = logging.getLogger(__name__)

FEED_KG_PER_MIN = 0.2  # a feeder's delivery while its switch is on, unless the site gives feed_kg_per_min
MAX_SPEED = 3600.0
SOURCE_WATER = (0.3, 7.2)  # EC dS/m and pH of plain irrigation water [assumption: typical groundwater]


@dataclass
class _Actuator:
    id: str
    role: str
    device: RegisterDevice
    slot: int
    travel_s: float
    failed: bool = False
    position: float = 0.0  # emulated retractables on vendor relay boards
    feed_kg_per_min: float = FEED_KG_PER_MIN  # feeders

    def state(self, dt_s: float) -> tuple[bool, float]:
        """(energised, position %) as the plant sees it: a failed actuator has no effect."""
        if isinstance(self.device, KsNode):
            if self.role == "fertigation":
                on, position = self.device.nutrient(self.slot).supplying, 0.0
            else:
                st = self.device.actuator(self.slot)
                on, position = st.on, st.position
        else:
            on, position = self._vendor_state(dt_s)
        return (False, position) if self.failed else (on, position)

    def _vendor_state(self, dt_s: float) -> tuple[bool, float]:
        assert isinstance(self.device, VendorDevice)
        spec = next(a for a in self.device.profile.actuators if a.slot == self.slot)
        outputs = self.device.outputs()
        if spec.kind == "switch":
            return outputs.get(f"{spec.id}.on", False), 0.0
        opening, closing = outputs.get(f"{spec.id}.open", False), outputs.get(f"{spec.id}.close", False)
        step = 100.0 * dt_s / self.travel_s
        if opening and not closing:
            self.position = min(100.0, self.position + step)
        elif closing and not opening:
            self.position = max(0.0, self.position - step)
        return opening or closing, self.position


@dataclass
class ZoneTwin:
    """One zone's plant model bound to its sensors and actuators on the simulated nodes."""

    zone: ZoneDef
    model: Greenhouse | Tank
    sensors: list[Sensor] = field(default_factory=list)
    actuators: list[_Actuator] = field(default_factory=list)

    def apply_actuators(self, dt_s: float) -> None:
        states = [(a, *a.state(dt_s)) for a in self.actuators]
        if isinstance(self.model, Tank):
            self._apply_tank(states, dt_s)
        else:
            self._apply_greenhouse(states)

    def _apply_greenhouse(self, states: list[tuple[_Actuator, bool, float]]) -> None:
        levels: dict[str, list[float]] = {}
        for a, on, position in states:
            levels.setdefault(a.role, []).append(position / 100.0 if a.role in OPENINGS else float(on))
        set_greenhouse_inputs(self.model.inputs, levels)

    def _apply_tank(self, states: list[tuple[_Actuator, bool, float]], dt_s: float) -> None:
        inputs = self.model.inputs
        aerators = [(a, on) for a, on, _p in states if a.role == "aerator"]
        inputs.aerators = [1.0 if on else 0.0 for _a, on in aerators]
        inputs.aerator_failed = [a.failed for a, _on in aerators]
        for a, on, _p in states:
            if a.role in ("o2_valve", "heater", "chiller", "exchange_pump"):
                setattr(inputs, a.role, 1.0 if on else 0.0)
            elif a.role == "feeder" and on:
                inputs.pending_feed_kg += a.feed_kg_per_min * dt_s / 60

    def publish(self, now: float) -> None:
        outputs = {**self.model.outputs(), **self._supply_line()}
        for sensor in self.sensors:
            value = outputs.get(sensor.source)
            if isinstance(value, int | float):
                sensor.publish(float(value), now)


    def _supply_line(self) -> dict[str, float]:
        """EC and pH in a KS X 3288 supply line: the solution asked for (plain water: source water) while the
        machine runs, 0.0 from probes in a drained line while it is idle (what real nodes report then)."""
        for a in self.actuators:
            if a.role == "fertigation" and isinstance(a.device, KsNode):
                state = a.device.nutrient(a.slot)
                if state.status in (PREPARING, SUPPLYING, STOPPING):
                    return {"ec": state.ec if state.ec is not None else SOURCE_WATER[0],
                            "ph": state.ph if state.ph is not None else SOURCE_WATER[1]}
                return {"ec": 0.0, "ph": 0.0}
        return {}


def _device_for(node: NodeDef, site: SiteFile, clock: SimClock) -> RegisterDevice:
    profile = builtin_profiles()[node.profile]
    if profile.kind == "vendor":
        return VendorDevice(profile)
    device_codes: dict[int, int] = {}
    travel: dict[int, float] = {}
    for zone in site.zones:
        if zone.bus != node.bus:
            continue
        for s in zone.sensors:
            if s.unit == node.unit:
                device_codes[s.slot] = sensor_code(s)
        for a in zone.actuators:
            slot = profile.slot(a.slot)
            if a.unit == node.unit and slot is not None:  # the site file checked it is an actuator slot
                device_codes[a.slot] = {"switch": 102, "retractable": 112, "nutrient": 202}[slot.kind]
                travel[a.slot] = a.travel_s
    weather = site.weather
    if weather.bus == node.bus and weather.unit == node.unit:
        for quantity, slot in weather.sensors.items():
            device_codes[slot] = SENSOR_CODES[quantity]
    return KsNode(profile, device_codes, serial=20260000 + node.unit, travel_s=travel, clock=clock.seconds)


def _model_for(zone: ZoneDef, file: str) -> Greenhouse | Tank:
    default = "single-pe-1000" if zone.kind == "greenhouse" else "flounder-10m3"
    name = zone.twin.model if zone.twin else default
    table = GREENHOUSE_PARAMS if zone.kind == "greenhouse" else TANK_PARAMS
    if name not in table:
        raise ConfigError(file, f"zones.{zone.id}.twin.model",
                          f"unknown {zone.kind} model {name!r}; known: {', '.join(sorted(table))}")
    if zone.kind == "greenhouse":
        model: Greenhouse | Tank = Greenhouse(table[name])
    else:
        params = table[name]
        wanted = sum(1 for a in zone.actuators if a.role == "aerator")
        if wanted and wanted != len(params.aerators):  # the site says how many aerators the tank has
            params = replace(params, aerators=tuple(params.aerators[i % len(params.aerators)] for i in range(wanted)))
        model = Tank(params)
    _apply_start(model, zone, file)
    return model


def _apply_start(model: Greenhouse | Tank, zone: ZoneDef, file: str) -> None:
    """The site's `twin.start`: numbers that override the model's initial state or its fixed inputs (a
    greenhouse's `groundwater_temperature`, say)."""
    for key, value in (zone.twin.start if zone.twin else {}).items():
        target = next((obj for obj in (model.state, model.inputs) if key in {
            f.name for f in fields(obj) if f.type in ("float", "float | None")}), None)
        if target is None:
            known = sorted(f.name for obj in (model.state, model.inputs) for f in fields(obj)
                           if f.type in ("float", "float | None"))
            raise ConfigError(file, f"zones.{zone.id}.twin.start.{key}",
                              f"not a number of the {zone.kind} model's state or inputs; known: {', '.join(known)}")
        setattr(target, key, float(value))


class Twin:
    """A whole site simulated: its weather, its zones' plants and its buses' nodes."""

    def __init__(self, site: SiteFile, *, site_file: str | Path = "site", start: datetime | None = None,
                 step_s: float = 10.0, weather: WeatherSource | None = None) -> None:
        self.site = site
        self.file = str(site_file)
        self._tz = ZoneInfo(site.site.timezone)
        self.step_s = step_s
        self.clock = SimClock(start or datetime.now(UTC).replace(microsecond=0))
        self.weather = weather or _weather_source(site, Path(self.file).parent)
        self.devices: dict[str, dict[int, RegisterDevice]] = {b.id: {} for b in site.buses}
        for node in site.nodes:
            self.devices[node.bus][node.unit] = _device_for(node, site, self.clock)
        self.unit_maps = {bus: UnitMap(units) for bus, units in self.devices.items()}
        self.node_faults: dict[str, Faults] = {b.id: Faults() for b in site.buses}
        self.zones = {z.id: self._bind(z) for z in site.zones}
        self._station = self._bind_station()
        self._scheduled = sorted(site.faults, key=lambda f: f.at_h)
        self._active: list[tuple[float, Callable[[], None]]] = []  # (end, undo)
        self.last_weather: WeatherSample | None = None
        self._publish()

    # ------------------------------------------------------------------ binding

    def _bind(self, zone: ZoneDef) -> ZoneTwin:
        units = self.devices[zone.bus]
        twin = ZoneTwin(zone, _model_for(zone, self.file))
        for s in zone.sensors:
            device = units[s.unit]
            point_id = None
            if isinstance(device, VendorDevice):  # the site file checked the slot is a point
                point_id = next(p.id for p in device.profile.points if p.slot == s.slot)
            seed = zlib.crc32(f"{zone.id}/{s.unit}/{s.slot}".encode())
            twin.sensors.append(Sensor(device, s.slot, s.source or s.quantity, point_id, noise=random.Random(seed)))
        twin.actuators = [_Actuator(a.id, a.role, units[a.unit], a.slot, a.travel_s,
                                    feed_kg_per_min=a.feed_kg_per_min or FEED_KG_PER_MIN) for a in zone.actuators]
        return twin

    def _bind_station(self) -> list[Sensor]:
        w = self.site.weather
        if w.bus is None or w.unit is None:
            return []
        device = self.devices[w.bus][w.unit]
        return [Sensor(device, slot, quantity) for quantity, slot in w.sensors.items()]

    # ------------------------------------------------------------------ stepping

    def advance(self, seconds: float) -> None:
        """Run the site forward by `seconds` of simulated time in steps of `step_s` (deterministic)."""
        end = self.clock.elapsed + seconds
        while self.clock.elapsed < end - 1e-9:
            dt = min(self.step_s, end - self.clock.elapsed)
            self._step(dt)

    def _step(self, dt: float) -> None:
        self._run_schedule()
        for units in self.devices.values():
            for device in units.values():
                if isinstance(device, KsNode):
                    device.tick(self.clock.elapsed)
        weather = self.weather.sample(self.clock.now())
        self.last_weather = weather
        for zt in self.zones.values():
            zt.apply_actuators(dt)
            if isinstance(zt.model, Tank):
                zt.model.step(dt, _room_temperature(weather), hour=self._local_hour())
            else:
                zt.model.step(dt, weather)
        self.clock.elapsed += dt
        self._publish()

    def _local_hour(self) -> float:
        local = self.clock.now().astimezone(self._tz)
        return local.hour + local.minute / 60

    def _publish(self) -> None:
        now = self.clock.elapsed
        for zt in self.zones.values():
            zt.publish(now)
        weather = self.last_weather or self.weather.sample(self.clock.now())
        values = {"air_temperature": weather.air_temperature, "relative_humidity": weather.relative_humidity,
                  "solar_radiation": weather.solar_radiation, "wind_speed": weather.wind_speed,
                  "wind_direction": weather.wind_direction, "rain": weather.rain,
                  "rain_detected": 1.0 if weather.rain > 0 else 0.0}
        for sensor in self._station:
            if sensor.source in values:
                sensor.publish(values[sensor.source], now)

    # ------------------------------------------------------------------ faults

    def inject(self, fault: FaultDef) -> Callable[[], None]:
        """Start a fault now; returns the function that ends it."""
        kind = fault.kind
        if kind in ("silent", "delay", "exception", "corrupt_crc"):
            bus = fault.bus or (self.site.zones[0].bus if self.site.zones else self.site.buses[0].id)
            if fault.unit is None or fault.unit not in self.devices.get(bus, {}):
                raise BadInput(f"fault {kind}: give the bus and unit of a node "
                               f"(bus {bus!r}, unit {fault.unit})")
            unit = fault.unit
            self.node_faults[bus][unit] = Fault(
                silent=kind == "silent", delay_s=(fault.value or 2.0) if kind == "delay" else 0.0,
                exception=int(fault.value or 4) if kind == "exception" else None,
                corrupt_crc=kind == "corrupt_crc")
            return lambda: self.node_faults[bus].pop(unit, None)  # type: ignore[return-value]
        zone = self.zones.get(fault.zone or "")
        if zone is None:
            raise BadInput(f"fault {kind}: give the zone (one of {', '.join(self.zones)})")
        if kind == "actuator_failure":
            actuator = next((a for a in zone.actuators if a.id == fault.actuator), None)
            if actuator is None:
                raise BadInput(f"fault actuator_failure: zone {zone.zone.id} has no actuator "
                               f"{fault.actuator!r}")
            actuator.failed = True

            def undo() -> None:
                actuator.failed = False

            return undo
        sensors = [s for s in zone.sensors if s.source == fault.quantity or
                   (fault.quantity and s.source.startswith(fault.quantity))]
        if not sensors:
            raise BadInput(f"fault {kind}: zone {zone.zone.id} has no sensor {fault.quantity!r}")
        for s in sensors:
            # stuck: at the given value, else frozen at the reading it had; drift: units per hour
            s.fault = SensorFault(kind, self.clock.elapsed, fault.value if kind in ("drift", "stuck") else None)

        def clear() -> None:
            for s in sensors:
                s.fault = None

        return clear

    def _run_schedule(self) -> None:
        now = self.clock.elapsed
        while self._scheduled and self._scheduled[0].at_h * 3600 <= now:
            fault = self._scheduled.pop(0)
            undo = self.inject(fault)
            log.info("twin: fault %s started at %.0f s", fault.kind, now)
            if fault.duration_h is not None:
                self._active.append((now + fault.duration_h * 3600, undo))
        for entry in [e for e in self._active if e[0] <= now]:
            self._active.remove(entry)
            entry[1]()

    # ------------------------------------------------------------------ serving

    @contextlib.asynccontextmanager
    async def serve(self, urls: dict[str, str] | None = None) -> AsyncIterator[dict[str, str]]:
        """Serve every bus at its URL (or at `urls[bus]`); yields the URLs actually bound (port 0 -> real)."""
        servers: list[ModbusServer] = []
        bound: dict[str, str] = {}
        try:
            for bus in self.site.buses:
                url = (urls or {}).get(bus.id, bus.url)
                config = parse_bus_url(url, listen=True)
                server = ModbusServer(self.unit_maps[bus.id], self.node_faults[bus.id])
                servers.append(server)
                if config.kind == "rtu":
                    await server.start_serial(config.device, config.baud, config.parity, config.stopbits)
                    bound[bus.id] = url
                else:
                    framing = "rtu" if config.kind == "rtu+tcp" else "socket"
                    port = await server.start_tcp(config.host, config.port, framing=framing)
                    bound[bus.id] = str(replace(config, port=port))  # keeps the query (line=ethernet, ...)
            yield bound
        finally:
            for server in servers:
                await server.stop()

    async def run(self, speed: float = 1.0, tick_s: float = 0.2) -> None:
        """Follow the wall clock at `speed` times real time until cancelled."""
        if not 0 < speed <= MAX_SPEED:
            raise BadInput(f"--speed {speed}: allowed 0 < speed <= {MAX_SPEED:g}")
        start_wall, start_sim = time.monotonic(), self.clock.elapsed
        most = speed * tick_s * 2  # per tick: a slow machine lets simulated time lag, never starves the server
        while True:
            behind = start_sim + (time.monotonic() - start_wall) * speed - self.clock.elapsed
            if behind > 0:
                self.advance(min(behind, most))
            await asyncio.sleep(tick_s)

    def zone_outputs(self) -> dict[str, dict[str, Any]]:
        return {zid: zt.model.outputs() for zid, zt in self.zones.items()}


def _room_temperature(weather: WeatherSample) -> float:
    """A fish house is insulated: its air follows the outside damped toward 15 degC (assumption)."""
    return 15.0 + 0.4 * (weather.air_temperature - 15.0)


def _weather_source(site: SiteFile, site_dir: Path | None) -> WeatherSource:
    spec = site.weather.source
    if not spec.startswith("synthetic") and site_dir is not None and not Path(spec).is_absolute():
        spec = str(site_dir / spec)
    return load_weather(spec, site.site.latitude, site.site.longitude)


def nodes_table(twin: Twin) -> list[tuple[str, int, str, str]]:
    """(bus, unit, profile, what) rows for people."""
    rows = []
    for bus, units in twin.devices.items():
        for unit, device in sorted(units.items()):
            profile = device.profile.id if isinstance(device, KsNode | VendorDevice) else "-"
            users = [z.id for z in twin.site.zones if z.bus == bus and any(
                e.unit == unit for e in (*z.sensors, *z.actuators))]
            if twin.site.weather.bus == bus and twin.site.weather.unit == unit:
                users.append("weather")
            rows.append((bus, unit, profile, ", ".join(users)))
    return rows
