"""Twin + daemon + a real mosquitto (the site's generated ACL), in real time or time-accelerated.

mosquitto_pub / mosquitto_sub (independent clients, the technician's account) send the commands and read
the retained topics; the daemon links on its own account. Scenarios of issue 7: an override through MQTT
moves the twin's actuator within 2 s and ends on time; a broker restart is followed by reconnection and
the retained state again; with the broker down for 10 (simulated) minutes the zone keeps its recipe, its
history has no gap and the events of the outage arrive afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from farmcore.historian.sqlite import SqliteHistorian
from farmcore.link.brokerurl import parse_broker_url
from farmcore.runtime.daemon import SiteDaemon
from farmcore.runtime.scheduler import follow_clock
from farmcore.site import load_site
from farmcore.twin.clock import TwinClock
from farmcore.twin.runtime import Twin
from farmctl.cli import CONTROLLERS
from hil_tests.mosquitto import Mosquitto, needs_mosquitto
from hil_tests.test_daemon import Weather, free_tcp_url, kst, site_text

pytestmark = needs_mosquitto
DAEMON, TECH = "farmctl-hil", "technician"
FAST = {"backoff": (0.2, 1.0)}  # reconnect quickly: the tests wait for it


@dataclass
class Live:
    twin: Twin
    daemon: SiteDaemon
    broker: Mosquitto
    speed: float

    def heater_on(self) -> bool:
        heater = next(a for a in self.twin.zones["gh"].actuators if a.id == "heater")
        return heater.state(0)[0]

    def link(self):
        assert self.daemon.link is not None
        return self.daemon.link.zones["gh"]


@contextlib.asynccontextmanager
async def live(tmp: Path, start: datetime, *, speed: float = 1.0, tick_s: float = 1.0,
               persistence: bool = False) -> AsyncIterator[Live]:
    """The twin following the wall clock at `speed`, the daemon ticking on it, both linked to mosquitto."""
    path = tmp / "site.toml"
    path.write_text(site_text(free_tcp_url(), recipe="crops/tomato", tick_s=tick_s, stale_s=30))
    site = load_site(path)
    broker = Mosquitto(site, tmp / "broker", persistence=persistence).start()
    twin = Twin(site, site_file=path, start=start, weather=Weather())
    h = SqliteHistorian(tmp / "history.db", clock=lambda: twin.clock.now().timestamp())  # retention on sim time
    try:
        async with twin.serve({"field": "tcp://127.0.0.1:0"}) as bound:
            clock = TwinClock(twin.clock, speed)
            follow_clock(clock)
            daemon = SiteDaemon(path, controllers=CONTROLLERS, clock=clock, state_dir=tmp / "state",
                                bus_urls={"field": bound["field"]}, historian=h, mqtt=broker.url(DAEMON),
                                link_options=FAST)
            plant = asyncio.create_task(twin.run(speed, tick_s=0.05))
            loop = asyncio.create_task(daemon.run())
            try:
                await _until(lambda: daemon.ticks >= 2 and daemon.link is not None and daemon.link.connected == 1,
                             10, "daemon ticking and linked")
                yield Live(twin, daemon, broker, speed)
            finally:
                daemon.request_stop()
                await asyncio.wait_for(loop, 20)
                plant.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await plant
    finally:
        h.close()
        broker.stop()


async def _until(check: Any, timeout_s: float, what: str) -> float:
    """Poll `check()` every 20 ms; the seconds it took (fails naming `what` on timeout)."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - t0


def command(now: datetime, kind: str, target: str | None = None, value: Any = None, duration_s: float | None = None,
            cid: str | None = None) -> dict[str, Any]:
    """A command issued at `now` (the twin's simulated time: the daemon judges expiry on its own clock)."""
    out = {"id": cid or uuid.uuid4().hex, "issued_by": "technician:hil", "kind": kind,
           "issued_at": now.isoformat(), "expires_at": (now + timedelta(minutes=5)).isoformat()}
    for name, v in (("target", target), ("value", value), ("duration_s", duration_s)):
        if v is not None:
            out[name] = v
    return out


def sub(broker: Mosquitto, topic: str, count: int, wait_s: float = 10) -> subprocess.Popen[str]:
    """mosquitto_sub printing `retained topic payload` for `count` messages (or until `wait_s` of silence)."""
    proc = subprocess.Popen(["mosquitto_sub", *broker.auth(TECH), "-t", topic, "-C", str(count), "-W", str(wait_s),
                             "-F", "%r %t %p"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc


def pub(broker: Mosquitto, topic: str, payload: str | bytes) -> None:
    data = payload.encode() if isinstance(payload, str) else payload
    subprocess.run(["mosquitto_pub", *broker.auth(TECH), "-t", topic, "-q", "1", "-s"], input=data, check=True,
                   timeout=10, capture_output=True)


async def lines(proc: subprocess.Popen[str], timeout_s: float = 15) -> list[tuple[bool, str, str]]:
    out, _err = await asyncio.to_thread(proc.communicate, timeout=timeout_s)
    rows = []
    for line in out.splitlines():
        retained, topic, payload = line.split(" ", 2)
        rows.append((retained == "1", topic, payload))
    return rows


# ------------------------------------------------------------------------------------------------ commands


async def test_override_via_mosquitto_pub_moves_the_twin_within_2_s_and_ends_on_time(tmp_path: Path) -> None:
    async with live(tmp_path, kst(2026, 1, 16, 13)) as lv:
        await asyncio.sleep(1.5)
        was_on = lv.heater_on()
        acks = sub(lv.broker, "farm/hil/gh/ack", 1)
        await asyncio.sleep(0.3)  # subscribed before the command goes out
        cmd = command(lv.twin.clock.now(), "override", "heater", "off" if was_on else "on", duration_s=4, cid="ovr-1")
        t0 = time.monotonic()
        await asyncio.to_thread(pub, lv.broker, "farm/hil/gh/cmd/technician", json.dumps(cmd))
        moved = await _until(lambda: lv.heater_on() is not was_on, 2.0, "the twin's heater follows the override")
        [(_r, _t, payload)] = await lines(acks)
        ack = json.loads(payload)
        assert ack["id"] == "ovr-1" and ack["ok"] is True and ack["error"] is None, ack
        assert ack["applied"]["kind"] == "override" and ack["applied"]["duration_s"] == 4
        assert moved < 2.0
        # ends on time: back to the recipe's choice no earlier than 4 s and within a tick or two after
        ended = await _until(lambda: lv.daemon.zones["gh"].run.decisions["heater"].source != "override", 8,
                             "the override ends")
        assert 4.0 - 0.3 <= time.monotonic() - t0 <= 4.0 + 2.5, (time.monotonic() - t0, ended)
        codes = [e["code"] for e in lv.daemon.events if e["zone"] == "gh"]
        assert "command_applied" in codes and "override_ended" in codes


async def test_commands_from_mosquitto_pub_each_get_exactly_one_ack_with_stable_codes(tmp_path: Path) -> None:
    async with live(tmp_path, kst(2026, 1, 16, 13)) as lv:
        now = lv.twin.clock.now()
        payloads = [
            json.dumps(command(now, "setpoint", "air_temperature", 22.0, cid="sp-ok")),
            json.dumps(command(now, "setpoint", "air_temperature", 40.0, cid="sp-env")),
            json.dumps(command(now, "setpoint", "air_temperature", 22.0, cid="sp-ok")),  # duplicate
            json.dumps(command(now, "override", "nonexistent", "on", duration_s=10, cid="bad-target")),
            json.dumps({**command(now, "release", "heater", cid="old"),
                        "expires_at": "2020-01-01T00:00:00Z", "issued_at": "2019-12-31T23:00:00Z"}),
            "{not json",
            json.dumps(command(now, "feed_now", cid="no-feeder")),
        ]
        acks = sub(lv.broker, "farm/hil/gh/ack", len(payloads) + 1, wait_s=3)  # one more: none may come
        await asyncio.sleep(0.3)
        for p in payloads:
            await asyncio.to_thread(pub, lv.broker, "farm/hil/gh/cmd/technician", p)
        got = [json.loads(p) for _r, _t, p in await lines(acks)]
    assert [(a["id"], a["ok"], a["error"]) for a in got] == [
        ("sp-ok", True, None), ("sp-env", False, "out_of_envelope"), ("sp-ok", False, "duplicate"),
        ("bad-target", False, "unknown_target"), ("old", False, "expired"), (None, False, "malformed_json"),
        ("no-feeder", False, "not_supported")]


# ------------------------------------------------------------------------------------------ broker outages


async def test_broker_restart_reconnects_and_republishes_retained_state(tmp_path: Path) -> None:
    async with live(tmp_path, kst(2026, 1, 16, 13)) as lv:
        first = await lines(sub(lv.broker, "farm/hil/gh/status", 1, wait_s=5))
        assert first == [(True, "farm/hil/gh/status", "online")]
        lv.broker.stop()  # no persistence: the broker forgets every retained message
        await _until(lambda: not lv.link().connected, 5, "the link notices the broker is gone")
        await asyncio.sleep(1.0)
        lv.broker.start()
        await _until(lambda: lv.link().connected, 10, "reconnected")
        assert lv.link().connects == 2
        await asyncio.sleep(1.5)  # a state at most once a second: the next one is due
        state = await lines(sub(lv.broker, "farm/hil/gh/state", 1, wait_s=5))
        status = await lines(sub(lv.broker, "farm/hil/gh/status", 1, wait_s=5))
        alarms = await lines(sub(lv.broker, "farm/hil/gh/alarms", 1, wait_s=5))
    assert status == [(True, "farm/hil/gh/status", "online")]
    [(retained, _t, payload)] = state
    doc = json.loads(payload)
    assert retained and doc["zone"] == "gh" and doc["mode"] in ("auto", "safety")
    assert doc["readings"]["air_temperature"]["unit"] == "degC" and doc["readings"]["air_temperature"]["quality"]
    assert doc["recipe"]["id"] == "tomato-gb" and doc["actuators"]["heater"]["source"]
    assert alarms and alarms[0][0] and isinstance(json.loads(alarms[0][2]), list)


async def test_ten_minutes_without_broker_keep_the_recipe_and_the_history(tmp_path: Path) -> None:
    """At 40x: 10 simulated minutes without the broker. Control goes on (recipe decisions, no failsafe),
    the historian has every tick, and the events of the outage reach a persistent subscriber afterwards."""
    speed, tick_s = 40.0, 2.0
    async with live(tmp_path, kst(2026, 1, 16, 11), speed=speed, tick_s=tick_s, persistence=True) as lv:
        broker = parse_broker_url(lv.broker.url(TECH))
        listener = broker.client("hil-listener", clean_session=False)
        async with listener:  # a persistent session that survives the broker restart
            await listener.subscribe("farm/hil/gh/events", qos=1)
        zone = lv.daemon.zones["gh"]
        period = zone.run.period
        await asyncio.sleep(0.5)
        lv.broker.stop()
        t_down = lv.twin.clock.now()
        await _until(lambda: not lv.link().connected, 5, "the link notices the broker is gone")
        sources: set[str] = set()
        marker = f"outage-marker-{uuid.uuid4().hex[:6]}"
        while lv.twin.clock.now() - t_down < timedelta(minutes=10):
            sources |= {d.source for d in zone.run.decisions.values()}
            if marker not in str(lv.daemon.events[-5:]) and lv.twin.clock.now() - t_down > timedelta(minutes=5):
                lv.daemon.event(zone, "technician_note", marker)  # an event raised while the broker is away
            await asyncio.sleep(0.05)
        t_up = lv.twin.clock.now()
        assert not lv.link().connected and len(lv.link().queue) >= 1
        lv.broker.start()
        await _until(lambda: lv.link().connected, 10, "reconnected after the outage")
        got: list[dict[str, Any]] = []
        async with listener:
            async def collect() -> None:
                async for message in listener.messages:
                    got.append(json.loads(bytes(message.payload)))
                    if any(e.get("message") == marker for e in got):
                        return
            await asyncio.wait_for(collect(), 10)
        assert zone.run.period == period and zone.run.recipe is not None, "the zone kept its recipe"
        assert lv.link().dropped == 0
    assert sources == {"recipe"}, f"decisions during the outage came from {sources} (no failsafe expected)"
    with SqliteHistorian(tmp_path / "history.db", read_only=True) as h:
        series = h.query(site="hil", zone="gh", names=["air_temperature"], start=t_down - timedelta(minutes=1),
                         end=t_up + timedelta(minutes=1))["air_temperature"]
    times = [s.time.timestamp() for s in series]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[0] <= t_down.timestamp() and times[-1] >= t_up.timestamp()
    # At 40x a 0.1 s stall of a loaded machine is a 4 s (two-tick) gap: seen once before and once on a clean
    # clone run beside a benchmark (8 s). History lost to the outage would leave a gap of minutes.
    assert max(gaps) <= 6 * tick_s, f"history gap of {max(gaps):.0f} s during the broker outage"
