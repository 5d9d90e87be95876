"""Reading and judging: one read of every node the zones use, folded into the zones' tracks and the weather,
and each zone's readings judged usable or not (stale, faulty, stuck) for the controller and safety.

Buses are read in parallel, each bus one request at a time; a node is made on first contact (its device codes
read once) and stays unknown while it does not answer — a quality, never an exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

from farmcore.errors import FarmError
from farmcore.fieldbus.bus import Bus
from farmcore.fieldbus.fasttcp import FastTcpBus, open_fast_bus
from farmcore.fieldbus.node import KsNode, Reading
from farmcore.fieldbus.opid import OpidStore
from farmcore.fieldbus.profile import builtin_profiles
from farmcore.fieldbus.vendor import VendorNode
from farmcore.runtime.outside import OutsideMemory
from farmcore.runtime.plausibility import node_measuring
from farmcore.runtime.readings import combine
from farmcore.runtime.safety import IDLE, Tracked, judge, observe
from farmcore.runtime.zone import ZoneRunner
from farmcore.site import NodeDef, SiteFile

Node = KsNode | VendorNode
Snapshot = dict[tuple[str, int], dict[int, Reading]]
EventFn = Callable[..., None]


def used_units(site: SiteFile, zones: Iterable[ZoneRunner]) -> set[tuple[str, int]]:
    """(bus, unit) of every node the running zones use, and the weather station's when any zone runs."""
    used: set[tuple[str, int]] = set()
    runners = list(zones)
    for runner in runners:
        z = runner.zone
        used |= {(z.bus, e.unit) for e in (*z.sensors, *z.actuators)}
    w = site.weather
    if w.bus is not None and w.unit is not None and runners:
        used.add((w.bus, w.unit))
    return used


class FieldReader:
    """The site's buses and nodes, what they last said, and the weather outside."""

    def __init__(self, nodes: Iterable[NodeDef], bus_urls: Mapping[str, str], opids: OpidStore,
                 event: EventFn) -> None:
        """`nodes`: the site file's node definitions (a reload that changes them is refused, so they hold);
        `event(runner, code, message, throttle=...)`: how an unreachable node is told."""
        self.definitions = {(n.bus, n.unit): n for n in nodes}
        # nodes with a KS X 3288 supply device: their sensors measure only while it runs (plausibility.py)
        self.supply_nodes = {key for key, n in self.definitions.items()
                             if any(s.kind == "nutrient" for s in builtin_profiles()[n.profile].slots)}
        self.bus_urls = dict(bus_urls)
        self.opids = opids
        self.event = event
        self.buses: dict[str, Bus | FastTcpBus] = {}
        self.nodes: dict[tuple[str, int], Node] = {}
        self.unit_ok: dict[str, bool] = {}  # "bus/unit" (the comm_lost alarms' subject) -> answered the last read
        self.weather: dict[str, Tracked] = {}
        self.outside = OutsideMemory()  # last good weather and the day's lows, kept across restarts

    def open(self, bus_ids: Iterable[str]) -> None:
        for bus_id in bus_ids:
            self.buses[bus_id] = open_fast_bus(self.bus_urls[bus_id])  # lean client on tcp:// (half the CPU)

    async def close(self) -> None:
        for bus in self.buses.values():
            await bus.close()

    async def read_all(self, site: SiteFile, zones: Iterable[ZoneRunner], now_s: Callable[[], float]) -> None:
        """Read every used node and fold the answers into the zones' tracks, feedback and the weather.
        `now_s` is asked after the reads: a slow bus must not make fresh readings look old."""
        runners = list(zones)
        used = used_units(site, runners)
        by_bus: dict[str, list[int]] = {}
        for bus_id, unit in sorted(used):
            by_bus.setdefault(bus_id, []).append(unit)
        results = await asyncio.gather(*(self._read_bus(b, units) for b, units in by_bus.items()))
        now = now_s()
        snapshot: Snapshot = {}
        for part in results:
            snapshot.update(part)
        for key in used:
            readings = snapshot.get(key)
            self.unit_ok[f"{key[0]}/{key[1]}"] = bool(readings) and any(
                r.quality != "comm_error" for r in readings.values())
        measuring = {key: node_measuring(snapshot[key].values()) for key in self.supply_nodes if key in snapshot}
        for runner in runners:
            _fold_zone(runner, snapshot, measuring, now)
        self._fold_weather(site, snapshot, now)

    def _fold_weather(self, site: SiteFile, snapshot: Snapshot, now_s: float) -> None:
        w = site.weather
        if w.bus is None or w.unit is None:
            return
        station = snapshot.get((w.bus, w.unit), {})
        for quantity, slot in w.sensors.items():
            reading = station.get(slot)
            track = self.weather.setdefault(quantity, Tracked())
            value = reading.value if reading is not None else None
            observe(track, value if isinstance(value, int | float) else None,
                    reading.quality if reading is not None else "comm_error", now_s, None)
            if track.good_at == now_s and track.value is not None:
                self.outside.note(quantity, track.value, now_s)

    async def _read_bus(self, bus_id: str, units: list[int]) -> Snapshot:
        out: Snapshot = {}
        for unit in units:
            node = await self.node(bus_id, unit)
            if node is None:
                continue
            snap = await node.read()
            out[(bus_id, unit)] = {r.slot: r for r in snap.readings}
        return out

    async def node(self, bus_id: str, unit: int) -> Node | None:
        """The node object, made on first contact (its device codes read once); None while unreachable."""
        key = (bus_id, unit)
        if key in self.nodes:
            return self.nodes[key]
        profile = builtin_profiles()[self.definitions[key].profile]
        bus = self.buses[bus_id]
        node: Node
        if profile.kind == "vendor":
            node = VendorNode(bus, unit, profile)
        else:
            node = KsNode(bus, unit, profile, opids=self.opids, stale_after_s=1e9)
            try:
                await node.read_device_codes()
            except FarmError as exc:
                self.event(None, "node_unreachable", f"bus {bus_id} unit {unit}: {exc}", throttle=True)
                return None
        self.nodes[key] = node
        return node


def _fold_zone(runner: ZoneRunner, snapshot: Snapshot, measuring: dict[tuple[str, int], bool], now_s: float) -> None:
    z, run = runner.zone, runner.run
    for s in z.sensors:
        reading = snapshot.get((z.bus, s.unit), {}).get(s.slot)
        value = reading.value if reading is not None else None
        quality = reading.quality if reading is not None else "comm_error"
        if quality == "good" and not measuring.get((z.bus, s.unit), True):
            quality = IDLE  # a nutrient node's line between supplies: not a measurement
        valid = (s.valid.min, s.valid.max) if s.valid else None
        track = run.tracks[s.key]
        observe(track, value if isinstance(value, int | float) else None, quality, now_s, valid)
        watch = run.stuck.get(s.key)
        if watch is not None and track.good_at == now_s and track.value is not None:
            watch.sample(track.value, now_s)
        if s.key not in run.units and reading is not None and reading.unit:
            run.units[s.key] = reading.unit
    for a in z.actuators:
        reading = snapshot.get((z.bus, a.unit), {}).get(a.slot)
        if reading is not None and reading.quality == "good":
            run.feedback[a.id] = reading
        else:
            run.feedback.pop(a.id, None)


def judge_zone(runner: ZoneRunner, weather_tracks: Mapping[str, Tracked], now_s: float
               ) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """Usable readings and outside weather now, and why each unusable one is not (stale, faulty); the zone's
    stuck-sensor judgement and the spread of its combined sensors are kept for the alarms and the view."""
    config, run = runner.config, runner.run
    bad: dict[str, str] = {}
    readings: dict[str, float] = {}
    for q, track in run.tracks.items():
        if q in config.fused:
            continue
        why = judge(track, now_s, config.stale_after[q])
        if why is None:
            readings[q] = track.value  # type: ignore[assignment]
        else:
            bad[q] = why
    run.flat = {k: flat for k, w in run.stuck.items()  # a silent sensor is not a stuck one
                if run.tracks[k].quality == "good" and (flat := w.stuck_for(now_s)) is not None}
    run.spread = combine(config.fused, run.tracks, readings, bad, now_s, frozenset(run.flat))
    weather: dict[str, float] = {}
    for q, track in weather_tracks.items():
        why = judge(track, now_s, runner.zone.stale_after_s)
        if why is None:
            weather[q] = track.value  # type: ignore[assignment]
        else:
            bad[f"weather:{q}"] = why
    return readings, weather, bad


def dissolved_oxygen(runner: ZoneRunner, now_s: float) -> tuple[Tracked, str | None]:
    """The zone's oxygen track and why it is unusable (None: usable), for the GPIO oxygen backup."""
    track = runner.run.tracks.get("dissolved_oxygen", Tracked())
    stale = runner.config.stale_after.get("dissolved_oxygen", runner.zone.stale_after_s)
    return track, judge(track, now_s, stale)
