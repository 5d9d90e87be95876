"""The portal's live hub (portal/service/live.py) and its commands against a real mosquitto with the site's
generated ACL, on the `portal` account, and a real daemon and twin where the daemon's answer matters.

Retained payloads are published with mosquitto_pub on the daemon's own account (the only one the ACL lets write a
zone's state), so what the hub reads is what a broker really holds: the cache fills from retained messages, a
malformed retained state is ignored with one log line while the last good one stays, a broker outage is told
with since when and the hub reconnects by itself, and a command goes out once and is awaited by its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from farmcore.historian.sqlite import SqliteHistorian
from farmcore.link.brokerurl import parse_broker_url
from farmcore.link.commands import tenant_envelope
from farmcore.link.messages import ErrorCode
from farmcore.link.zoneclient import new_command
from farmcore.recipe.load import load_recipe
from farmcore.recipe.zonerecipe import RECIPES_DIR
from farmcore.runtime.clock import WallClock
from farmcore.runtime.daemon import SiteDaemon
from farmcore.runtime.scheduler import follow_clock
from farmcore.site import load_site, parse_site
from farmcore.twin.clock import TwinClock
from farmcore.twin.runtime import Twin
from farmctl.cli import CONTROLLERS
from hil_tests.mosquitto import Mosquitto, needs_mosquitto
from hil_tests.test_daemon import Weather, free_tcp_url, site_text
from portal.service.commands import ERROR_TEXTS, CommandRequest, explain, prepare
from portal.service.errors import BadRequest
from portal.service.live import LiveHub, NotSent
from portal.service.model import Principal, Role, ZoneKey, seoul_day

pytestmark = needs_mosquitto
DAEMON = "farmctl-hil"
GH = ZoneKey("hil", "gh")
KIM = Principal(1, "kim", Role.TENANT, "김청년")
FAST = (1, 2)  # the hub's reconnect back-off in these tests, s


def state_json(time_text: str = "2026-01-16T04:00:00Z", **changes: Any) -> str:
    """A zone state as a daemon since the portal publishes it (the fields the hub reads)."""
    state = {"schema": 1, "time": time_text, "site": "hil", "zone": "gh", "kind": "greenhouse", "mode": "auto",
             "recipe": None, "readings": {}, "weather": {}, "setpoints": {}, "actuators": {}, "overrides": {},
             "alarms": 1, "envelope": {"air_temperature": [14.0, 24.0]}, "max_override_s": 1800.0, **changes}
    return json.dumps(state)


ALARMS = json.dumps([{"id": "stale_data:co2", "zone": "gh", "kind": "stale_data", "severity": "warning",
                      "status": "unacknowledged", "active": True, "acked": False,
                      "raised_at": "2026-01-16T03:00:00Z", "cleared_at": None, "acked_by": None, "acked_at": None,
                      "value": "stale", "repeats": 0, "message": {"ko": "CO2 측정값 불량", "en": "co2 reading bad"}}])


def pub(broker: Mosquitto, topic: str, payload: str, *, retain: bool = True, account: str = DAEMON) -> None:
    subprocess.run(["mosquitto_pub", *broker.auth(account), "-t", topic, "-q", "1", *(["-r"] if retain else []),
                    "-m", payload], check=True, timeout=10, capture_output=True)


def until(check: Callable[[], Any], timeout_s: float, what: str) -> float:
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.02)
    return time.monotonic() - t0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    site = parse_site(site_text(free_tcp_url(), recipe="crops/tomato"), str(tmp_path / "site.toml"))
    mosquitto = Mosquitto(site, tmp_path / "broker").start()
    try:
        yield mosquitto
    finally:
        mosquitto.stop()


@contextlib.contextmanager
def hub_on(broker: Mosquitto) -> Iterator[LiveHub]:
    hub = LiveHub(parse_broker_url(broker.url("portal")), reconnect_s=FAST).start()
    try:
        until(lambda: hub.health().connected, 10, "the hub connected")
        yield hub
    finally:
        hub.close()


def commands_seen(broker: Mosquitto, seconds: float) -> subprocess.Popen[str]:
    """Every command published to any zone of the site for `seconds` (read as the technician may)."""
    return subprocess.Popen(["mosquitto_sub", *broker.auth("technician"), "-t", "farm/hil/+/cmd/+", "-W",
                             str(seconds), "-F", "%t %p"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def lines_of(proc: subprocess.Popen[str]) -> list[str]:
    out, _err = proc.communicate(timeout=30)
    return out.splitlines()


# --------------------------------------------------------------------------------------------- the cache


def test_the_cache_fills_from_retained_messages_and_a_malformed_state_leaves_the_last_good_one(
        broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="portal.live")
    pub(broker, "farm/hil/gh/status", "online")
    pub(broker, "farm/hil/gh/state", state_json())
    pub(broker, "farm/hil/gh/alarms", ALARMS)
    with hub_on(broker) as hub:
        until(lambda: (v := hub.view(GH)) is not None and v.state is not None and v.alarms, 5, "retained messages")
        zone = hub.view(GH)
        assert zone is not None and zone.online and zone.state is not None and zone.problem is None
        assert zone.state.envelope == {"air_temperature": (14.0, 24.0)} and zone.state.max_override_s == 1800
        assert [a.id for a in zone.alarms] == ["stale_data:co2"] and hub.seen() == {GH}
        assert zone.state_taken == datetime(2026, 1, 16, 4, tzinfo=UTC)
        assert zone.age_s(datetime(2026, 1, 16, 4, 0, 30, tzinfo=UTC)) == 30.0, "from the state's own time"

        for bad in ("not json {", state_json(schema=2), state_json(envelope={"co2": [400]})):
            caplog.clear()
            pub(broker, "farm/hil/gh/state", bad)
            until(lambda: (v := hub.view(GH)) is not None and v.problem is not None and caplog.records, 5,
                  f"the malformed state {bad[:20]!r} noticed")
            zone = hub.view(GH)
            assert zone is not None and zone.state is not None and zone.state.time == "2026-01-16T04:00:00Z", \
                "the last good state stays"
            assert zone.problem_leaf == "state" and zone.problem.startswith("state"), zone.problem
            [record] = caplog.records
            assert "hil/gh/state ignored" in record.getMessage() and "\n" not in record.getMessage()
        pub(broker, "farm/hil/gh/events", "[]", retain=False)  # not an event: ignored too
        pub(broker, "farm/hil/gh/events", json.dumps({"time": "2026-01-16T04:00:01Z", "zone": "gh",
                                                      "code": "strategy", "message": "vents 10 %"}), retain=False)
        until(lambda: (v := hub.view(GH)) is not None and v.events, 5, "the event")
        zone = hub.view(GH)
        assert zone is not None and [e.message for e in zone.events] == ["vents 10 %"]
        assert zone.problem is None and zone.state is not None, "a good event ends the events' problem"
        pub(broker, "farm/hil/gh/state", state_json("2026-01-16T04:00:02Z"))
        until(lambda: (v := hub.view(GH)) is not None and v.state is not None
              and v.state.time == "2026-01-16T04:00:02Z", 5, "the next good state")

    caplog.clear()
    pub(broker, "farm/hil/gh/state", "garbage")  # retained: a portal starting now finds only this
    with hub_on(broker) as fresh:
        until(lambda: (v := fresh.view(GH)) is not None and v.problem is not None, 5, "the retained garbage")
        zone = fresh.view(GH)
        assert zone is not None and zone.state is None and zone.online and zone.alarms
        assert len([r for r in caplog.records if "ignored" in r.getMessage()]) == 1


def test_a_clock_ahead_state_ages_from_its_arrival(broker: Mosquitto) -> None:
    pub(broker, "farm/hil/gh/state", state_json("2099-01-01T00:00:00Z"))  # a fast twin's clock
    with hub_on(broker) as hub:
        until(lambda: (v := hub.view(GH)) is not None and v.state is not None, 5, "the state")
        zone = hub.view(GH)
        assert zone is not None and zone.state_received is not None
        age = zone.age_s(datetime.now(UTC))
        assert age is not None and 0 <= age < 5


# ------------------------------------------------------------------------------------------ the link


def test_broker_down_is_told_since_when_nothing_is_queued_and_the_hub_reconnects(broker: Mosquitto) -> None:
    with hub_on(broker) as hub:
        up_since = hub.health().since
        broker.stop()
        stopped = datetime.now(UTC)
        until(lambda: not hub.health().connected, 10, "the hub notices the broker is gone")
        down = hub.health()
        assert down.since is not None and down.since != up_since and abs((down.since - stopped).total_seconds()) < 3
        assert down.error is not None and broker.url("portal").split("?")[0].split("@")[1] in down.error
        command = new_command("release", issued_by="portal:kim", target="heater")
        with pytest.raises(NotSent) as caught:
            hub.send(GH, command, timeout=1)
        assert caught.value.code == "link_down" and "보내지 않았습니다" in caught.value.ko
        time.sleep(2.5)  # a few failed reconnects: still down since the same moment
        assert hub.health().since == down.since and not hub.health().connected
        broker.start()
        watch = commands_seen(broker, 4)
        took = until(lambda: hub.health().connected, 10, "reconnected by itself")
        assert took < 4, f"reconnected after {took:.1f} s (back-off at most {FAST[1]} s)"
        pub(broker, "farm/hil/gh/status", "online")
        until(lambda: (v := hub.view(GH)) is not None and v.online, 5, "live data again")
        assert lines_of(watch) == [], "a command refused while down never goes out later"


def test_no_answer_is_no_answer_and_a_command_goes_out_once(broker: Mosquitto) -> None:
    ghost = ZoneKey("hil", "ghost")  # no daemon answers for it
    with hub_on(broker) as hub:
        watch = commands_seen(broker, 4)
        time.sleep(0.5)  # subscribed before the command goes out
        command = new_command("release", issued_by="portal:kim", target="heater")
        t0 = time.monotonic()
        result = hub.send(ghost, command, timeout=1.0)
        waited = time.monotonic() - t0
        assert (result.outcome, result.ack, result.command_id) == ("no_answer", None, command.id)
        assert 1.0 <= waited < 2.0
        assert explain(result).status == "no_answer"
        with pytest.raises(NotSent) as caught:
            hub.send(ghost, command, timeout=1.0)
        assert caught.value.code == "already_sent"
        sent = [line for line in lines_of(watch) if command.id in line]
        assert len(sent) == 1 and sent[0].startswith("farm/hil/ghost/cmd/portal "), sent


# ------------------------------------------------------------------------------------ a real daemon


@dataclass
class Site:
    daemon: SiteDaemon
    broker: Mosquitto


@contextlib.asynccontextmanager
async def site_live(tmp: Path, max_override_s: float) -> AsyncIterator[Site]:
    """Twin + daemon on mosquitto, the twin's clock on the wall clock (commands carry the portal's time)."""
    path = tmp / "site.toml"
    text = site_text(free_tcp_url(), recipe="crops/tomato", tick_s=1.0, stale_s=30)
    path.write_text(text.replace('[site]\nid = "hil"', f'[site]\nid = "hil"\nmax_override_s = {max_override_s}'))
    site = load_site(path)
    broker = Mosquitto(site, tmp / "broker").start()
    twin = Twin(site, site_file=path, start=datetime.now(UTC).replace(microsecond=0), weather=Weather())
    history = SqliteHistorian(tmp / "history.db")
    try:
        async with twin.serve({"field": "tcp://127.0.0.1:0"}) as bound:
            clock = TwinClock(twin.clock, 1.0)
            follow_clock(clock)
            daemon = SiteDaemon(path, controllers=CONTROLLERS, clock=clock, state_dir=tmp / "state",
                                bus_urls={"field": bound["field"]}, historian=history, mqtt=broker.url(DAEMON),
                                link_options={"backoff": (0.2, 1.0)}, command_clock=WallClock())
            plant = asyncio.create_task(twin.run(1.0, tick_s=0.05))
            loop = asyncio.create_task(daemon.run())
            try:
                t0 = time.monotonic()
                while not (daemon.ticks >= 2 and daemon.link is not None and daemon.link.connected == 1):
                    assert time.monotonic() - t0 < 15, "daemon ticking and linked"
                    await asyncio.sleep(0.05)
                yield Site(daemon, broker)
            finally:
                daemon.request_stop()
                await asyncio.wait_for(loop, 20)
                plant.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await plant
    finally:
        history.close()
        broker.stop()


async def wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> None:
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < timeout_s, f"not within {timeout_s} s: {what}"
        await asyncio.sleep(0.05)


async def test_a_tenants_commands_through_the_hub_to_a_real_daemon(tmp_path: Path) -> None:
    async with site_live(tmp_path, 1800) as s:
        hub = LiveHub(parse_broker_url(s.broker.url("portal")), reconnect_s=FAST).start()
        try:
            await wait_for(lambda: (v := hub.view(GH)) is not None and v.online and v.state is not None, 10,
                           "the daemon's retained status and state")
            zone = hub.view(GH)
            assert zone is not None and zone.state is not None and zone.state.recipe is not None
            tomato = load_recipe(RECIPES_DIR / "crops" / "tomato.toml")
            assert zone.state.envelope == tenant_envelope(tomato.envelope, {}) and zone.state.max_override_s == 1800
            assert zone.state.recipe.name_ko == tomato.recipe.name_ko != ""
            assert zone.state.recipe.day == (seoul_day(datetime.now(UTC)) - datetime(2025, 8, 20).date()).days

            async def send(command: Any) -> Any:  # the hub blocks its caller: not the daemon's event loop
                return await asyncio.to_thread(hub.send, GH, command, 5.0)

            now = datetime.now(UTC)
            ok = await send(prepare(KIM, zone, CommandRequest("setpoint", "air_temperature", 22.5), now))
            outcome = explain(ok)
            assert (ok.outcome, outcome.status, outcome.ko) == ("ok", "applied", "적용되었습니다."), ok
            assert s.daemon.zones["gh"].run.tenant["air_temperature"] == 22.5
            await wait_for(lambda: (v := hub.view(GH)) is not None and v.state is not None
                           and v.state.setpoints["air_temperature"].source == "tenant", 5, "the tenant's setpoint")

            with pytest.raises(BadRequest) as caught:  # the page's widget cannot go there; a crafted request...
                prepare(KIM, zone, CommandRequest("setpoint", "air_temperature", 30.0), now)
            assert caught.value.field == "value" and "14~24°C" in caught.value.ko
            crafted = await send(new_command("setpoint", issued_by="portal:kim", target="air_temperature",
                                             value=30.0))  # ...sent raw past the portal's check
            refused = explain(crafted)
            assert (crafted.outcome, refused.status, refused.code) == ("rejected", "refused", "out_of_envelope")
            assert refused.ko == ERROR_TEXTS[ErrorCode.OUT_OF_ENVELOPE][0] and "envelope" in refused.detail

            with pytest.raises(BadRequest) as caught:
                prepare(KIM, zone, CommandRequest("override", "heater", True, 3600, confirmed=True), now)
            assert caught.value.field == "duration_s" and "30분" in caught.value.ko
            too_long = await send(new_command("override", issued_by="portal:kim", target="heater", value=True,
                                              duration_s=3600))
            assert too_long.ack is not None and too_long.ack.error == ErrorCode.INVALID_VALUE
            assert "max_override_s = 1800 s" in too_long.ack.message and "최대 시간" in explain(too_long).ko

            heater = not s.daemon.zones["gh"].run.drivers["heater"].target
            command = prepare(KIM, zone, CommandRequest("override", "heater", heater, 600, confirmed=True),
                              datetime.now(UTC))
            applied = await send(command)
            assert applied.ok and "까지 유지됩니다" in explain(applied).ko, applied
            assert s.daemon.zones["gh"].run.overrides["heater"].issued_by == "portal:kim"
            with pytest.raises(NotSent):
                await send(command)
            audits = [e for e in s.daemon.events if e["code"] in ("command_applied", "command_rejected")]
            assert len(audits) == 4, "each command reached the daemon once"
        finally:
            hub.close()
