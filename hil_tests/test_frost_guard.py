"""A greenhouse that loses its inside temperature on a frost night (issue 14 item 12): with one of two air
sensors left it goes on as before; with none, the frost guard heats by the outside temperature, shuts the
vents and raises a critical alarm, where the plain failsafe switched the heater off. The daemon runs lockstep
against the twin over Modbus TCP; the twin's house answers with its physics."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from farmcore.site import FaultDef
from farmcore.twin.weather import WeatherSample
from hil_tests.test_daemon import Weather, kst
from hil_tests.test_reading_quality import rig

OUTSIDE = -10.0


class Frost(Weather):
    """The seeded weather, with a still, clear -10 degC night."""

    def sample(self, t: datetime) -> WeatherSample:
        return replace(super().sample(t), air_temperature=OUTSIDE, wind_speed=1.0, rain=0.0)


def second_air_sensor(text: str) -> str:
    """A second air sensor on a node of its own (unit 14): each needs an `id`."""
    text = text.replace('{ quantity = "air_temperature", unit = 11, slot = 1, valid = { min = -30, max = 70 } },',
                        '{ quantity = "air_temperature", unit = 11, slot = 1, id = "air_temperature_a" },\n'
                        '    { quantity = "air_temperature", unit = 14, slot = 1, id = "air_temperature_b" },')
    return text.replace('[[zones]]', '[[nodes]]\nbus = "field"\nunit = 14\nprofile = "ksx3267:2022/sensor-default"\n\n'
                                     '[[zones]]', 1)


def inside(r) -> float:  # type: ignore[no-untyped-def]
    return r.twin.zones["gh"].model.outputs()["air_temperature"]


async def test_with_no_inside_temperature_on_a_frost_night_the_guard_heats_and_alarms(tmp_path: Path) -> None:
    async with rig(tmp_path, kst(2026, 1, 16, 0), stale_s=60, tick_s=30, weather=Frost()) as r:
        await r.run(1800)
        start = inside(r)
        r.twin.inject(FaultDef(at_h=0, kind="silent", bus="field", unit=11))  # every inside sensor gone
        heater_on, lowest = [], start
        for _ in range(4 * 60):  # two hours of ticks
            await r.run(30)
            runner = r.daemon.zones["gh"]
            heater_on.append(runner.run.decisions["heater"].target is True)
            lowest = min(lowest, inside(r))
        heater = runner.run.decisions["heater"]
        assert heater.source == "safety" and heater.reason.startswith("frost guard"), heater
        assert all(runner.run.decisions[v].target == 0.0 for v in ("vent_west", "vent_east"))
        assert 0.6 < sum(heater_on[10:]) / len(heater_on[10:]) < 0.9, "the -10 degC duty of the curve, 75 %"
        alarm = runner.run.alarms.get("frost_guard")
        assert alarm is not None and alarm.active and alarm.severity == "critical"
        assert lowest > 5.0, f"the house fell to {lowest:.1f} °C (from {start:.1f})"


async def test_one_of_two_air_sensors_failing_changes_nothing_but_its_alarm(tmp_path: Path) -> None:
    async with rig(tmp_path, kst(2026, 1, 16, 0), stale_s=60, tick_s=30, weather=Frost(),
                   edit=second_air_sensor) as r:
        await r.run(600)
        r.twin.inject(FaultDef(at_h=0, kind="silent", bus="field", unit=11))  # sensor a (and the rest of 11)
        await r.run(600)
        runner = r.daemon.zones["gh"]
        assert "air_temperature" in runner.run.readings and "air_temperature_a" in runner.run.bad
        assert runner.run.readings["air_temperature"] == r.daemon.zones["gh"].run.tracks["air_temperature_b"].value
        assert runner.run.decisions["heater"].source == "recipe", "heating goes on from the good sensor"
        active = {a.id for a in runner.run.alarms.active()}
        assert "stale_data:air_temperature_a" in active and "frost_guard" not in active
        state = r.daemon.state_message(runner, r.twin.clock.now()).readings
        assert state["air_temperature"].quality == "good" and state["air_temperature"].sources == [
            "air_temperature_a", "air_temperature_b"]


async def test_both_air_sensors_silent_is_held_then_the_frost_guard(tmp_path: Path) -> None:
    """A combination of held values is no fresh reading: `comm_error` at once, the guard once they are stale."""
    async with rig(tmp_path, kst(2026, 1, 16, 0), stale_s=60, tick_s=30, weather=Frost(),
                   edit=second_air_sensor) as r:
        await r.run(600)
        for unit in (11, 14):
            r.twin.inject(FaultDef(at_h=0, kind="silent", bus="field", unit=unit))
        await r.run(30)
        assert r.reading("air_temperature")["quality"] == "comm_error"
        assert r.daemon.zones["gh"].run.decisions["heater"].source == "recipe", "held until stale"
        await r.run(90)
        heater = r.daemon.zones["gh"].run.decisions["heater"]
        assert heater.source == "safety" and heater.reason.startswith("frost guard"), heater
