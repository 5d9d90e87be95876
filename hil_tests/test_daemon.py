"""The greenhouse daemon driving the twin over real Modbus TCP and RTU (socat pty pair), time-accelerated.

The daemon and the twin run lockstep on the twin's simulated clock: the twin advances one tick, then the
daemon reads, decides and commands over the socket or the serial line. The kill -9 test runs the
daemon and the twin as real processes on the wall clock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from farmcore import gpio
from farmcore.historian.sqlite import SqliteHistorian
from farmcore.recipe.zonerecipe import RECIPES_DIR
from farmcore.runtime.cli import open_watchdog
from farmcore.runtime.daemon import SiteDaemon
from farmcore.runtime.scheduler import follow_clock
from farmcore.runtime.state import StateStore
from farmcore.site import FaultDef, load_site
from farmcore.twin.clock import TwinClock
from farmcore.twin.runtime import Twin
from farmcore.twin.weather import WeatherSample, load_weather
from farmctl.cli import CONTROLLERS

LAT, LON = 36.35, 128.70
ROOT = Path(__file__).resolve().parents[1]


def site_text(bus_url: str, *, recipe: str, tick_s: float = 30, stale_s: float = 90, extra: str = "",
              watchdog: bool = False) -> str:
    runtime = f"tick_s = {tick_s}\nrecipe_check_s = 60\n"
    if watchdog:
        runtime += 'watchdog_pin = 17\ngpio_factory = "mock"\n'
    return f"""
[site]
id = "hil"
latitude = {LAT}
longitude = {LON}

[runtime]
{runtime}
[[buses]]
id = "field"
url = "{bus_url}"

[weather]
source = "synthetic:7"
bus = "field"
unit = 1
[weather.sensors]
air_temperature = 1
relative_humidity = 4
rain_detected = 6
solar_radiation = 9
wind_speed = 10
wind_direction = 11

[[nodes]]
bus = "field"
unit = 1
profile = "ksx3267:2022/sensor-default"

[[nodes]]
bus = "field"
unit = 11
profile = "ksx3267:2022/sensor-default"

[[nodes]]
bus = "field"
unit = 12
profile = "ksx3267:2022/actuator-default"

[[nodes]]
bus = "field"
unit = 13
profile = "ksx3288:2022/nutrient-default"

[[zones]]
id = "gh"
kind = "greenhouse"
bus = "field"
recipe = "{recipe}"
planted = 2025-08-20
stale_after_s = {stale_s}
twin = {{ model = "single-pe-1000" }}
sensors = [
    {{ quantity = "air_temperature", unit = 11, slot = 1, valid = {{ min = -30, max = 70 }} }},
    {{ quantity = "relative_humidity", unit = 11, slot = 4 }},
    {{ quantity = "solar_radiation", unit = 11, slot = 9 }},
    {{ quantity = "co2", unit = 11, slot = 13 }},
    {{ quantity = "par", unit = 11, slot = 15 }},
    {{ quantity = "soil_moisture", unit = 11, slot = 16 }},
]
actuators = [
    {{ id = "heater", role = "heater", unit = 12, slot = 1 }},
    {{ id = "fan", role = "circulation_fan", unit = 12, slot = 2 }},
    {{ id = "co2_valve", role = "co2_valve", unit = 12, slot = 3 }},
    {{ id = "irrigation", role = "irrigation_pump", unit = 12, slot = 4, max_on_s = 600 }},
    {{ id = "vent_west", role = "side_vent", unit = 12, slot = 17, travel_s = 120, facing = 270 }},
    {{ id = "vent_east", role = "side_vent", unit = 12, slot = 18, travel_s = 120, facing = 90 }},
    {{ id = "thermal_screen", role = "thermal_screen", unit = 12, slot = 19, travel_s = 180 }},
    {{ id = "shade_screen", role = "shade_screen", unit = 12, slot = 20, travel_s = 180 }},
]
{extra}
"""


@dataclass
class Weather:
    """Seeded Gyeongbuk weather with scripted rain and wind spells (local hours) on top."""

    rain_h: tuple[float, float] | None = None
    wind_h: tuple[float, float] | None = None
    wind_ms: float = 15.0

    def __post_init__(self) -> None:
        self.base = load_weather("synthetic:7", LAT, LON)

    def sample(self, t: datetime) -> WeatherSample:
        s = self.base.sample(t)
        hour = (t.hour + 9) % 24 + t.minute / 60  # KST
        if self.rain_h and self.rain_h[0] <= hour < self.rain_h[1]:
            s = replace(s, rain=2.0, solar_radiation=s.solar_radiation * 0.3)
        if self.wind_h and self.wind_h[0] <= hour < self.wind_h[1]:
            s = replace(s, wind_speed=self.wind_ms, wind_direction=270.0)
        return s


@dataclass
class Rig:
    twin: Twin
    daemon: SiteDaemon
    path: Path
    tick_s: float

    async def run(self, seconds: float, each: object = None) -> None:
        for _ in range(round(seconds / self.tick_s)):
            self.twin.advance(self.tick_s)
            await self.daemon.tick()
            if callable(each):
                each(self)

    def zone(self):
        return self.daemon.zones["gh"]

    def local_hour(self) -> float:
        now = self.twin.clock.now() + timedelta(hours=9)
        return now.hour + now.minute / 60


@contextlib.asynccontextmanager
async def rig(tmp: Path, url: str, start: datetime, *, weather: Weather | None = None, recipe: str = "crops/tomato",
              historian: bool | Any = False, **kw: object) -> AsyncIterator[Rig]:
    """`historian`: True for a SQLite one in `tmp`, or a historian object to use (closed by the caller)."""
    path = tmp / "site.toml"
    path.write_text(site_text(url, recipe=recipe, **kw))  # type: ignore[arg-type]
    site = load_site(path)
    twin = Twin(site, site_file=path, start=start, weather=weather or Weather())
    serve = "tcp://127.0.0.1:0" if url.startswith("tcp://") else _server_end(url)  # a free port, really
    async with twin.serve({"field": serve}) as bound:
        clock = TwinClock(twin.clock, 1.0)
        follow_clock(clock)
        h = SqliteHistorian(tmp / "history.db") if historian is True else (historian or None)
        daemon = SiteDaemon(path, controllers=CONTROLLERS, clock=clock, state_dir=tmp / "state",
                            bus_urls={"field": _client_end(bound["field"])}, historian=h)
        daemon.watchdog = open_watchdog(daemon)
        await daemon.start()
        try:
            yield Rig(twin, daemon, path, site.runtime.tick_s)
        finally:
            await daemon.stop()
            if historian is True and h is not None:
                h.close()


def _server_end(url: str) -> str:
    return url.replace("tty-ctl", "tty-node")


def _client_end(url: str) -> str:
    return url.replace("tty-node", "tty-ctl")


def free_tcp_url() -> str:
    """The site file's URL; the twin binds a free port instead and the daemon is pointed at it."""
    return "tcp://127.0.0.1:5020"


@pytest.fixture
def serial_line(tmp_path: Path) -> Iterator[str]:
    """A socat pty pair standing in for an RS485 line at 115200 8N1; yields the controller end's URL."""
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed")
    node, ctl = tmp_path / "tty-node", tmp_path / "tty-ctl"
    proc = subprocess.Popen(["socat", f"pty,raw,echo=0,link={node}", f"pty,raw,echo=0,link={ctl}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while not (node.exists() and ctl.exists()):
        assert time.monotonic() < deadline, "socat did not create the pty pair"
        time.sleep(0.02)
    try:
        yield f"rtu://{ctl}?baud=115200&timeout=0.3"
    finally:
        proc.terminate()
        proc.wait(5)


def kst(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC) - timedelta(hours=9)


def vent_positions(r: Rig) -> list[float]:
    now_s = r.twin.clock.now().timestamp()
    return [r.zone().run.drivers[a].estimate(now_s) or 0.0 for a in ("vent_west", "vent_east")]


# ---------------------------------------------------------------------------------------------------- days


async def test_winter_day_over_tcp_follows_the_recipe(tmp_path: Path) -> None:
    """A January day: heating holds the night setpoint, vents stay shut in the cold, irrigation by radiation."""
    samples: list[tuple[float, float, float, float, bool]] = []  # hour, T, heating sp, vent sp, heater

    def watch(r: Rig) -> None:
        z = r.zone()
        t = z.run.tracks["air_temperature"].value
        sp = z.run.setpoints["air_temperature"]
        samples.append((r.local_hour(), t, sp, sp + 5, bool(z.run.decisions["heater"].target)))

    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 15), historian=True, watchdog=True, tick_s=60) as r:
        await r.run(3600)  # settle the first hour
        samples.clear()
        await r.run(23 * 3600, watch)
        z = r.zone()
        events = [e for e in r.daemon.events if e["zone"] == "gh"]
        beats = gpio.mock_pin(17)
    inside = [lo - 1 <= t <= hi + 1 for _h, t, lo, hi, _on in samples]
    assert sum(inside) / len(inside) >= 0.9, "temperature left the recipe band for more than 10 % of the day"
    night = [(t, lo) for h, t, lo, _hi, _on in samples if h < 6 or h > 20]
    assert min(t - lo for t, lo in night) > -1.5, "the heating let the night fall below its setpoint"
    assert sum(on for *_x, on in samples) > 20, "a January night needs the heater"
    starts = [e for e in events if e["message"].startswith("irrigation started")]
    assert 2 <= len(starts) <= 20
    assert z.run.trace["radiation_sum_j_cm2"] >= 0
    assert r.daemon.watchdog is not None and r.daemon.watchdog.beats == r.daemon.ticks
    assert beats is not None
    with SqliteHistorian(tmp_path / "history.db", read_only=True) as h:
        latest = h.latest(site="hil", zone="gh")
    assert {"air_temperature", "heater"} <= set(latest)


async def test_summer_day_over_rtu_rain_wind_co2_and_irrigation(tmp_path: Path, serial_line: str) -> None:
    """A July day over a serial line: rain and a westerly gale close the vents, CO2 stops with wide vents,
    irrigation follows the radiation sum."""
    weather = Weather(rain_h=(12.0, 13.0), wind_h=(15.0, 16.0), wind_ms=14.0)
    seen: list[tuple[float, list[float], bool, float]] = []

    def watch(r: Rig) -> None:
        z = r.zone()
        outside = r.daemon.weather["solar_radiation"].value or 0.0
        seen.append((r.local_hour(), vent_positions(r), bool(z.run.decisions["co2_valve"].target),
                     outside * r.tick_s / 1e4))  # J/cm2 of outside radiation this tick

    async with rig(tmp_path, serial_line, kst(2026, 7, 20, 5), weather=weather, tick_s=60) as r:
        await r.run(14 * 3600, watch)
        events = [e["message"] for e in r.daemon.events if e["zone"] == "gh"]
    morning = [v for h, v, _c, _r in seen if 10.5 <= h < 12]
    assert max(max(v) for v in morning) > 30, "a July morning opens the vents"
    rain = [v for h, v, _c, _r in seen if 12.1 <= h < 13]
    assert max(max(v) for v in rain) <= 11, "rain closes the vents (side vents to a rain-safe 10 %)"
    gale = [v for h, v, _c, _r in seen if 15.1 <= h < 16]
    assert max(v[0] for v in gale) <= 1, "the windward (west) vent closes in a westerly gale"
    wide = [c for _h, v, c, _r in seen if sum(v) / 2 > 25]
    assert wide and not any(wide), "CO2 dosing stops while the vents are open wide"
    starts = [m for m in events if m.startswith("irrigation started: radiation sum")]
    sunrise, sunset = r.daemon.sun_for(kst(2026, 7, 20, 12).astimezone(r.daemon.tz).date())
    first, last = sunrise.hour + sunrise.minute / 60 + 1, sunset.hour + sunset.minute / 60 - 2  # the recipe window
    radiation = sum(j for h, _v, _c, j in seen if first <= h < last)
    expected = radiation / 100  # tomato: one irrigation per 100 J/cm2 of outside radiation
    assert expected > 5
    assert abs(len(starts) - expected) <= max(2, 0.25 * expected), (len(starts), expected)


# ---------------------------------------------------------------------------------------------------- faults


async def test_sensor_node_offline_failsafe_within_two_ticks_and_recovery(tmp_path: Path) -> None:
    """The sensor node goes silent: within 2 ticks safety drives the heater (on this cold night the frost
    guard's duty cycle, not plain off) and the CO2 valve (its failsafe, off); control resumes without a
    restart when the node answers again."""
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 2), tick_s=10, stale_s=10) as r:
        await r.run(600)
        z = r.zone()
        assert z.run.decisions["heater"].source == "recipe"
        heal = r.twin.inject(FaultDef(at_h=0, kind="silent", bus="field", unit=11))
        sources = []
        for _ in range(3):
            await r.run(10)
            sources.append((z.run.decisions["heater"].source, z.run.decisions["heater"].target,
                            z.run.decisions["co2_valve"].target))
        assert sources[1][0] == "safety" and sources[1][2] is False, sources
        assert z.run.decisions["heater"].reason.startswith("frost guard: no good inside temperature")
        heater = r.twin.zones["gh"].actuators[0]
        assert heater.state(0)[0] is z.run.decisions["heater"].target, "the twin's heater does what safety decided"
        heal()
        await r.run(20)
        assert z.run.decisions["heater"].source == "recipe", z.run.decisions["heater"]


async def test_bad_recipe_pushed_by_hot_reload_is_rejected(tmp_path: Path) -> None:
    recipe = tmp_path / "tomato.toml"
    recipe.write_text((RECIPES_DIR / "crops" / "tomato.toml").read_text())
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 10), recipe="tomato.toml", tick_s=30) as r:
        await r.run(300)
        z = r.zone()
        before = (z.run.recipe.recipe.label, dict(z.run.setpoints))
        text = recipe.read_text()
        recipe.write_text(text.replace("air_temperature = 21 ", "air_temperature = 95 ", 1))
        r.daemon.check_reload()
        await r.run(120)
        assert (z.run.recipe.recipe.label, z.run.setpoints) == before
        rejected = [e for e in r.daemon.events if e["code"] == "reload_rejected"]
        assert rejected and "tomato.toml" in rejected[-1]["message"] and "air_temperature" in rejected[-1]["message"]
        recipe.write_text(text.replace("version = 1", "version = 2\nparent = 1", 1))
        r.daemon.check_reload()
        assert z.run.recipe.recipe.label == "tomato-gb@2"
        assert any(e["code"] == "recipe_changed" for e in r.daemon.events)


# ---------------------------------------------------------------------------------------------------- kill -9


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise AssertionError(f"port {port} did not open")


def _opid(state: Path) -> int:
    return int((state / "opid").read_text().strip())


def test_kill9_and_restart_no_duplicate_job_runs_and_opids_increase(tmp_path: Path) -> None:
    port = _free_port()
    path = tmp_path / "site.toml"
    text = site_text(f"tcp://127.0.0.1:{port}", recipe="crops/tomato", tick_s=1, stale_s=5)
    path.write_text(text.replace("recipe_check_s = 60", "recipe_check_s = 1"))
    state = tmp_path / "state"
    env = {**os.environ, "FARMCTL_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1"}
    exe = [sys.executable, "-m", "farmctl.cli"]
    twin = subprocess.Popen([*exe, "twin", "--site", str(path), "--speed", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        first = subprocess.Popen([*exe, "run", "--site", str(path)], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        time.sleep(6)
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        killed_at = _opid(state)
        runs_before = len(StateStore(state / "runtime.sqlite").runs())
        assert killed_at > 0 and runs_before >= 2
        time.sleep(2)  # slots pass while the daemon is down
        second = subprocess.run([*exe, "run", "--site", str(path), "--for", "6"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert second.returncode == 0, second.stderr[-2000:]
    finally:
        twin.terminate()
        twin.wait(5)
    assert _opid(state) > killed_at, "OPIDs keep increasing across kill -9"
    store = StateStore(state / "runtime.sqlite")
    runs = store.runs("hil:recipe")
    slots = [r[1] for r in runs]
    assert len(slots) == len(set(slots)), "a slot ran twice"
    assert len(runs) > runs_before
    start = datetime.fromisoformat(slots[0])
    end = datetime.fromisoformat(slots[-1])
    assert len(runs) <= (end - start).total_seconds() + 1, "more runs than slots: a catch-up burst"
    assert "job_duplicate" not in second.stderr
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    jobs = SQLAlchemyJobStore(url=f"sqlite:///{state / 'jobs.sqlite'}").get_all_jobs()
    assert sorted(j.id for j in jobs) == ["hil:daily", "hil:recipe"]


async def test_site_file_hot_reload_applies_limits_and_rejects_bad_files(tmp_path: Path) -> None:
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 10), tick_s=30) as r:
        await r.run(120)
        z = r.zone()
        assert z.run.setpoints["air_temperature"] == 21
        text = r.path.read_text()
        r.path.write_text(text.replace("stale_after_s = 90", "stale_after_s = 90\nhard_limits = { air_temperature "
                                       "= { min = 5, max = 18 } }"))
        r.daemon.check_reload()
        z = r.zone()
        z.run.setpoints_at = float("-inf")
        await r.run(30)
        assert z.run.setpoints["air_temperature"] == 18, "a hard limit from the reloaded site file caps the recipe"
        r.path.write_text(text.replace('role = "heater"', 'role = "furnace"'))
        r.daemon.check_reload()
        rejected = [e["message"] for e in r.daemon.events if e["code"] == "reload_rejected"]
        assert rejected and "role" in rejected[-1] and "furnace" in rejected[-1]
        await r.run(60)
        assert r.zone().run.decisions["heater"].source in ("recipe", "safety")
        assert r.daemon.site.zones[0].hard_limits["air_temperature"].max == 18, "the last good file keeps running"


async def test_start_and_stop_states_reach_the_actuators(tmp_path: Path) -> None:
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 12), tick_s=30) as r:
        fan = next(a for a in r.twin.zones["gh"].actuators if a.id == "fan")
        assert fan.state(0)[0], "the fan's start state (its failsafe, on) is applied at start"
        assert r.zone().run.decisions["irrigation"].reason.startswith("start state")
        daemon, twin = r.daemon, r.twin
    heater = twin.zones["gh"].actuators[0]
    assert not heater.state(0)[0], "stop state off"
    assert all(d.reason.startswith("stop state") for d in daemon.zones["gh"].run.decisions.values())


def command(cid: str, now: datetime, kind: str, target: str | None = None, value: object = None,
            duration_s: float | None = None, by: str = "kim") -> bytes:
    import json

    body = {"id": cid, "issued_by": by, "issued_at": now.isoformat(),
            "expires_at": (now + timedelta(minutes=5)).isoformat(), "kind": kind, "reason": "test"}
    if target is not None:
        body["target"] = target
    if value is not None:
        body["value"] = value
    if duration_s is not None:
        body["duration_s"] = duration_s
    return json.dumps(body).encode()


async def test_commands_override_setpoint_duplicate_and_audit(tmp_path: Path) -> None:
    """Commands as the MQTT link will deliver them: an override moves the twin's heater and ends on time; a
    setpoint outside the envelope is refused; a duplicate is not applied twice; every command is audited."""
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 13), tick_s=10, historian=True) as r:
        await r.run(120)
        d = r.daemon
        now = r.twin.clock.now()
        heater = next(a for a in r.twin.zones["gh"].actuators if a.id == "heater")
        was_on = heater.state(0)[0]
        ack = d.handle_command("gh", command("c1", now, "override", "heater", not was_on, duration_s=60))
        assert ack.ok, ack
        await r.run(10)
        assert heater.state(0)[0] is (not was_on), "the override reached the twin's heater within a tick"
        assert r.zone().run.decisions["heater"].source == "override"
        await r.run(70)
        assert r.zone().run.decisions["heater"].source != "override", "the override ended on time"
        again = d.handle_command("gh", command("c1", now, "override", "heater", not was_on, duration_s=60))
        assert not again.ok and again.error == "duplicate"
        high = d.handle_command("gh", command("c2", now, "setpoint", "air_temperature", 40))
        assert not high.ok and high.error == "out_of_envelope", high
        ok = d.handle_command("gh", command("c3", now, "setpoint", "air_temperature", 22))
        assert ok.ok
        await r.run(40)
        assert r.zone().run.setpoints["air_temperature"] == 22
        junk = d.handle_command("gh", b"\xff{not json")
        assert not junk.ok and junk.error == "malformed_json"
        codes = [e["code"] for e in d.events if e["code"].startswith("command_")]
        assert codes.count("command_applied") == 2 and codes.count("command_rejected") == 3


async def test_stale_data_alarm_raised_acked_and_cleared(tmp_path: Path) -> None:
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 2), tick_s=10, stale_s=10) as r:
        await r.run(120)
        heal = r.twin.inject(FaultDef(at_h=0, kind="silent", bus="field", unit=11))
        await r.run(120)
        book = r.zone().run.alarms
        active = {a.id for a in book.active()}
        assert "stale_data:air_temperature" in active and "comm_lost:field:11" in active
        now = r.twin.clock.now()
        ack = r.daemon.handle_command("gh", command("a1", now, "ack_alarm", "stale_data:air_temperature"))
        assert ack.ok, ack
        assert book.get("stale_data:air_temperature").acked
        heal()
        await r.run(300)
        assert "stale_data:air_temperature" not in {a.id for a in book.active()}
        assert any(e["code"] == "alarm_cleared" for e in r.daemon.events)


async def test_spool_nearly_full_becomes_an_alarm_of_every_zone(tmp_path: Path) -> None:
    """The InfluxDB back-end's spool fills while the server is away (nothing listens on port 9): its
    `spool_nearly_full` alarm reaches the zones' alarm lists and events, and can be acknowledged."""
    from farmcore.historian.influx import InfluxHistorian

    h = InfluxHistorian("http://127.0.0.1:9", "org", "bucket", "token", tmp_path / "spool.sqlite",
                        spool_max_bytes=12_000, retry_initial_s=30)
    try:
        async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 13), tick_s=10, historian=h) as r:
            await r.run(600)
            listed = {a.id for a in r.daemon.site_alarms.active()}
            assert "spool_nearly_full" in listed
            assert any(e["code"] == "alarm_raised" and "spool_nearly_full" in e["message"] and e["zone"] == "gh"
                       for e in r.daemon.events)
            now = r.twin.clock.now()
            ack = r.daemon.handle_command("gh", command("s1", now, "ack_alarm", "spool_nearly_full"))
            assert ack.ok, ack
            assert r.daemon.site_alarms.get("spool_nearly_full").acked
    finally:
        h.close()


async def test_a_command_never_beats_safety_nor_acts_after_the_stop_states(tmp_path: Path) -> None:
    """An override while the temperature probe is silent is accepted but held by safety (the ack says so; the
    heater does what safety decides, on this cold night the frost guard's cycle); a command after the stop
    states is refused `not_running` and moves nothing."""
    import json

    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 2), tick_s=10, stale_s=20) as r:
        await r.run(60)
        heal = r.twin.inject(FaultDef(at_h=0, kind="silent", bus="field", unit=11))
        await r.run(60)
        assert r.zone().run.decisions["heater"].source == "safety"
        now = r.twin.clock.now()
        ack = json.loads(await r.daemon.on_command("gh", command("b1", now, "override", "heater", "off",
                                                                  duration_s=600)))
        assert ack["ok"] and "held by safety" in ack["message"], ack
        heater = next(a for a in r.twin.zones["gh"].actuators if a.id == "heater")
        decided = r.zone().run.decisions["heater"]
        assert decided.source == "safety" and decided.reason.startswith("frost guard")
        assert heater.state(0)[0] is decided.target
        heal()
        await r.run(30)
        assert r.zone().run.decisions["heater"].source == "override", "the override applies once the probe is back"
        d = r.daemon
        await d.stop()
        d.stop = _noop  # type: ignore[method-assign]  # the rig's own stop
        after = json.loads(await d.on_command("gh", command("b2", now, "override", "heater", "on", duration_s=60)))
    assert not after["ok"] and after["error"] == "not_running" and after["id"] == "b2"


async def _noop() -> None:
    return None
