"""What a reading is worth (issue 14 item 6), with the daemon lockstep against the twin over Modbus TCP: a
node that stops answering makes its readings `comm_error` at once (the held value still drives control
until `stale_after_s`, and is not recorded again); a nutrient node's EC and pH between supplies are `idle`,
neither good nor an alarm; a sensor frozen at a plausible value raises a stuck-sensor alarm."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from farmcore.historian.base import Point
from farmcore.runtime.daemon import SiteDaemon
from farmcore.runtime.scheduler import follow_clock
from farmcore.site import FaultDef, load_site
from farmcore.twin.clock import TwinClock
from farmcore.twin.runtime import Twin
from farmctl.cli import CONTROLLERS
from hil_tests.test_daemon import Weather, command, kst, site_text


class Handed:
    """A historian that keeps what the daemon hands it (the daemon's side of the contract is under test)."""

    def __init__(self) -> None:
        self.points: list[Point] = []

    def write(self, points) -> None:  # type: ignore[no-untyped-def]
        self.points += points

    def commit(self, timeout: float | None = None) -> bool:
        return True

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def sensor(self, name: str) -> list[Point]:
        return [p for p in self.points if p.kind == "sensor" and p.name == name]


@dataclass
class Rig:
    twin: Twin
    daemon: SiteDaemon
    history: Handed

    async def run(self, seconds: float) -> None:
        tick_s = self.daemon.site.runtime.tick_s
        for _ in range(round(seconds / tick_s)):
            self.twin.advance(tick_s)
            await self.daemon.tick()

    def reading(self, key: str) -> dict:
        """The reading as the zone's retained state carries it (the published JSON, read back)."""
        runner = self.daemon.zones["gh"]
        return msgspec.to_builtins(self.daemon.state_message(runner, self.twin.clock.now()).readings[key])


def _text(stale_s: float, stuck_after_s: float | None, tick_s: float) -> str:
    text = site_text("tcp://127.0.0.1:5020", recipe="crops/tomato", tick_s=tick_s, stale_s=stale_s)
    stuck = "" if stuck_after_s is None else f", stuck_after_s = {stuck_after_s}"
    text = text.replace('{ quantity = "soil_moisture", unit = 11, slot = 16 },',
                        '{ quantity = "soil_moisture", unit = 11, slot = 16 },\n'
                        '    { quantity = "ec", unit = 13, slot = 1 },\n    { quantity = "ph", unit = 13, slot = 4 },')
    text = text.replace('valid = { min = -30, max = 70 } }', f'valid = {{ min = -30, max = 70 }}{stuck} }}')
    return text.replace('{ id = "heater", role = "heater", unit = 12, slot = 1 },',
                        '{ id = "heater", role = "heater", unit = 12, slot = 1 },\n'
                        '    { id = "fertigation", role = "fertigation", unit = 13, slot = 21 },')


@contextlib.asynccontextmanager
async def rig(tmp: Path, start, *, stale_s: float = 60, stuck_after_s: float | None = None, tick_s: float = 10,
              edit: Callable[[str], str] | None = None, weather: Any = None) -> AsyncIterator[Rig]:
    """The test daemon's site with EC, pH and a nutrient supply; `edit` changes its text, `weather` the twin's.
    A silent node costs 0.2 s a tick (one try), not the default timeout and retries."""
    path = tmp / "site.toml"
    text = _text(stale_s, stuck_after_s, tick_s)
    path.write_text(edit(text) if edit else text)
    twin = Twin(load_site(path), site_file=path, start=start, weather=weather or Weather())
    async with twin.serve({"field": "tcp://127.0.0.1:0?timeout=0.2&retries=0"}) as bound:
        clock = TwinClock(twin.clock, 1.0)
        follow_clock(clock)
        history = Handed()
        daemon = SiteDaemon(path, controllers=CONTROLLERS, clock=clock, state_dir=tmp / "state",
                            bus_urls=bound, historian=history)  # type: ignore[arg-type]
        await daemon.start()
        try:
            yield Rig(twin, daemon, history)
        finally:
            await daemon.stop()


async def test_a_silent_node_is_comm_error_at_once_and_its_held_value_drives_control_until_stale(tmp_path):
    async with rig(tmp_path, kst(2026, 1, 16, 2), stale_s=60, stuck_after_s=30) as r:
        await r.run(60)
        assert r.reading("air_temperature")["quality"] == "good"
        recorded = len(r.history.sensor("air_temperature"))
        heal = r.twin.inject(FaultDef(at_h=0, kind="silent", bus="field", unit=11))
        await r.run(10)
        entry = r.reading("air_temperature")
        assert entry["quality"] == "comm_error" and "no answer" in entry["why"], entry
        assert r.daemon.zones["gh"].run.decisions["heater"].source != "safety", "the failsafe timing is the site's"
        assert len(r.history.sensor("air_temperature")) == recorded, "a held value is not recorded as new"
        await r.run(60)
        assert r.reading("air_temperature")["quality"] == "stale"
        assert r.daemon.zones["gh"].run.decisions["heater"].source == "safety"
        active = {a.id for a in r.daemon.zones["gh"].run.alarms.active()}
        assert "stuck:air_temperature" not in active, "silent is not stuck"
        heal()
        await r.run(20)
        assert r.reading("air_temperature")["quality"] == "good"
        assert len(r.history.sensor("air_temperature")) == recorded + 2


async def test_a_nutrient_line_between_supplies_is_idle_not_good_and_raises_no_alarm(tmp_path):
    async with rig(tmp_path, kst(2026, 1, 16, 2)) as r:
        await r.run(300)
        for key in ("ec", "ph"):
            entry = r.reading(key)
            assert entry["quality"] == "idle" and entry["value"] is None, entry
            assert all(p.quality == "idle" for p in r.history.sensor(key))
        assert not [a.id for a in r.daemon.zones["gh"].run.alarms.active() if a.id.endswith((":ec", ":ph"))]
        ack = r.daemon.handle_command("gh", command("f1", r.twin.clock.now(), "override", "fertigation", "on",
                                                    duration_s=120))
        assert ack.ok, ack
        await r.run(20)
        ec, ph = r.reading("ec"), r.reading("ph")
        assert ec["quality"] == ph["quality"] == "good", (ec, ph)
        assert ec["value"] > 0.1 and 4 < ph["value"] < 9, "the supply line's solution, not a drained probe's 0.0"


async def test_a_sensor_frozen_at_a_plausible_value_raises_a_stuck_alarm(tmp_path):
    async with rig(tmp_path, kst(2026, 1, 16, 2), stuck_after_s=600) as r:
        await r.run(120)
        heal = r.twin.inject(FaultDef(at_h=0, kind="stuck", zone="gh", quantity="air_temperature"))
        await r.run(540)
        book = r.daemon.zones["gh"].run.alarms
        assert "stuck:air_temperature" not in {a.id for a in book.active()}, "not before its flat time"
        await r.run(120)
        stuck = book.get("stuck:air_temperature")
        assert stuck is not None and stuck.active and stuck.severity == "critical"
        heal()
        await r.run(60)
        assert not book.get("stuck:air_temperature").active, "it clears once the value moves again"
