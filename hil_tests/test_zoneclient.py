"""The zone client (farmcore/link/zoneclient.py) against a real mosquitto with the site's generated ACL.

First against a stand-in daemon (test_zone_cli's FakeDaemon: retained status and state of gh1, one ack per command,
or none, or a malformed one), then against the real daemon over the twin: what it publishes reads as typed
messages, byte for byte, and a command sent through the client is applied, acked and told as an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from farmcore.errors import BadInput
from farmcore.link.brokerurl import parse_broker_url
from farmcore.link.messages import Ack, AlarmListMessage, Command, ErrorCode, EventMessage, StateMessage, encode
from farmcore.link.zoneclient import ZoneClient, new_command
from farmcore.site import load_site
from hil_tests.mosquitto import Mosquitto, needs_mosquitto
from hil_tests.test_zone_cli import DEMO, SITE, FakeDaemon, farmctl
from tests.test_link_messages import STATE as FULL_STATE

pytestmark = needs_mosquitto
TECH = "technician"


class OddDaemon(FakeDaemon):
    """Answers every command with a payload that carries its id but is not an ack."""

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        cid = json.loads(message.payload)["id"]
        client.publish(f"farm/{SITE}/gh1/ack", json.dumps({"id": cid, "ok": "yes"}), qos=1)


@pytest.fixture
def mosq(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(load_site(DEMO), tmp_path / "broker") as broker:
        yield broker


@pytest.fixture
def daemon(mosq: Mosquitto) -> Iterator[FakeDaemon]:
    fake = FakeDaemon(mosq)
    fake.publish("gh1/state", json.dumps({"schema": 1, **FULL_STATE, "zone": "gh1"}))
    try:
        yield fake
    finally:
        fake.stop()


def client(mosq: Mosquitto, zones: tuple[str, ...] | None = None, timeout: float = 5.0) -> ZoneClient:
    return ZoneClient(parse_broker_url(mosq.url(TECH)), SITE, zones, known=("gh1", "gh2", "gh3", "tank1"),
                      timeout=timeout)


def command(kind: str = "override", **fields: Any) -> Command:
    fields = fields or {"target": "roof_vent", "value": "open", "duration_s": 600.0}
    return new_command(kind, issued_by="technician:hil", **fields)


# -------------------------------------------------------------------------------------------- snapshot


async def test_snapshot_reads_typed_messages_and_names_each_bad_payload(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    daemon.publish("gh1/alarms", "[]")
    daemon.publish("gh2/state", "not json {")
    daemon.publish("gh3/state", json.dumps({**FULL_STATE, "readings": {"co2": {"value": "high"}}}))
    views = await client(mosq).snapshot()
    gh1 = views["gh1"]
    assert gh1.status == "online" and gh1.problems == () and gh1.alarms == ()
    assert isinstance(gh1.state, StateMessage) and gh1.state.zone == "gh1" and gh1.state.recipe is not None
    assert gh1.state.readings["co2"].quality == "comm_error" and gh1.state_age_s is not None
    [bad] = views["gh2"].problems
    assert (bad.leaf, bad.readable, bad.text) == ("state", False, "state is not a JSON object: not json {")
    [odd] = views["gh3"].problems  # a JSON object, not a state: one line naming the field, the JSON kept
    assert odd.readable and odd.text.startswith("state.readings[...]") and "\n" not in odd.text
    assert views["gh3"].state is None and views["gh3"].raw_state is not None
    assert views["tank1"].status == "unknown" and views["tank1"].state is None  # known, silent


async def test_a_client_sees_only_its_zones(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    daemon.publish("gh2/state", json.dumps({"schema": 1, **FULL_STATE, "zone": "gh2"}))
    mine = client(mosq, zones=("gh1",))
    assert list(await mine.snapshot()) == ["gh1"]  # gh2's retained state is never subscribed to
    with pytest.raises(ValueError, match="'gh2' is not among the zones this client may see"):
        await mine.snapshot(["gh2"])
    with pytest.raises(ValueError, match="not among"):
        await mine.send("gh2", command())


# ------------------------------------------------------------------------------------------------ send


async def test_a_command_is_acked_by_its_id(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    sent = command()
    result = await client(mosq).send("gh1", sent)  # the stand-in sends a decoy ack with another id first
    assert result.ok and result.outcome == "ok" and result.zone_status == "online"
    assert isinstance(result.ack, Ack) and result.ack.id == sent.id and result.ack.applied == {
        "kind": "override", "target": "roof_vent"}
    assert daemon.commands == [sent]


async def test_a_rejection_carries_its_code(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    daemon.answer = "reject"
    result = await client(mosq).send("gh1", command("setpoint", target="air_temperature", value=40.0))
    assert result.outcome == "rejected" and not result.ok
    assert result.ack is not None and result.ack.error is ErrorCode.OUT_OF_ENVELOPE


async def test_no_ack_in_time_is_no_answer_never_a_success(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    daemon.answer = "silent"
    started = time.monotonic()
    result = await client(mosq).send("gh1", command("release", target="heater"), timeout=1.0)
    assert (result.outcome, result.ok, result.ack, result.zone_status) == ("no_answer", False, None, "online")
    assert 1.0 <= time.monotonic() - started < 4


async def test_an_answer_that_is_not_an_ack_is_malformed(mosq: Mosquitto) -> None:
    odd = OddDaemon(mosq)
    try:
        result = await client(mosq).send("gh1", command("release", target="heater"))
    finally:
        odd.stop()
    assert result.outcome == "malformed" and result.ack is None
    assert result.problem == "ack.ok: Expected `bool`, got `str`"


async def test_a_zone_never_seen_is_refused_before_anything_is_sent(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    with pytest.raises(BadInput, match="no such zone on broker"):
        await client(mosq).send("gh9", command())
    await asyncio.sleep(0.2)
    assert daemon.commands == []


# ----------------------------------------------------------------------------------------------- watch


async def test_watch_yields_typed_updates(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    daemon.publish("gh1/alarms", "[]")
    got = []
    updates = client(mosq).watch(["gh1"], ("status", "state", "alarms"), count=3, seconds=5)
    async with contextlib.aclosing(updates):
        async for update in updates:
            got.append(update)
    by_leaf = {u.leaf: u for u in got}
    assert by_leaf["status"].message == "online" and by_leaf["status"].retained
    assert isinstance(by_leaf["state"].message, StateMessage) and by_leaf["state"].problem is None
    assert isinstance(by_leaf["alarms"].message, AlarmListMessage)


async def test_watch_of_a_zones_commands_and_acks(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    """`--zone Z --leaf cmd` asked topic() for a `cmd` topic, which it refuses: the watch failed at once."""
    watcher = client(mosq).watch(["gh1"], ("cmd", "ack"), count=3, seconds=8)
    got = []

    async def follow() -> None:
        async with contextlib.aclosing(watcher):
            async for update in watcher:
                got.append(update)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.5)
    sent = command()
    await client(mosq).send("gh1", sent)
    await asyncio.wait_for(task, 10)
    assert [u.leaf for u in got] == ["cmd", "ack", "ack"]  # ours, the decoy's ack, ours
    assert got[0].message == sent and isinstance(got[2].message, Ack) and got[2].message.id == sent.id
    result = farmctl("watch", "--site", SITE, "--zone", "gh1", "--leaf", "cmd", "--broker", mosq.url(TECH),
                     "--for", "0.5")
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------ the real daemon


async def test_the_daemon_publishes_typed_messages_and_answers_the_client(tmp_path: Path) -> None:
    from hil_tests.test_daemon import kst
    from hil_tests.test_mqtt_daemon import live

    async with live(tmp_path, kst(2026, 1, 16, 13)) as lv:
        zone = ZoneClient(parse_broker_url(lv.broker.url(TECH)), "hil", ("gh",), timeout=5)
        await asyncio.sleep(1.2)  # a state is due once a second
        view = (await zone.snapshot())["gh"]
        assert view.status == "online" and view.problems == () and view.state is not None
        assert view.state.zone == "gh" and view.state.readings["air_temperature"].unit == "degC"
        published = lv.link()._state
        assert published is not None
        assert published.startswith(b'{"schema":1,"time":'), "the state leads with its schema version"
        assert encode(StateMessage.from_json(published)) == published  # what it publishes, byte for byte
        events: list[Any] = []

        async def follow() -> None:
            async with contextlib.aclosing(zone.watch(leaves=("events",), seconds=10)) as updates:
                async for update in updates:
                    events.append(update)
                    if update.problem is not None or update.message.code == "command_applied":
                        return

        task = asyncio.create_task(follow())
        await asyncio.sleep(0.5)
        sent = new_command("override", issued_by="technician:hil", target="heater", value="on", duration_s=30,
                           now=lv.twin.clock.now().astimezone(UTC))
        result = await zone.send("gh", sent)
        await asyncio.wait_for(task, 12)
    assert result.ok and result.ack is not None and result.ack.applied["kind"] == "override"
    assert all(u.problem is None and isinstance(u.message, EventMessage) for u in events), events
    applied = events[-1].message
    assert applied.code == "command_applied" and applied.command["id"] == sent.id
    assert datetime.fromisoformat(applied.time).tzinfo is not None


def test_mosquitto_pub_of_a_bad_state_is_one_problem_line(mosq: Mosquitto) -> None:
    """Anyone with write access (here the daemon account) may leave garbage retained: a note, not a crash."""
    daemon_account = f"farmctl-{SITE}"
    for payload in ('{"schema": 1, "time": 5}', '{"schema": 7}'):
        subprocess.run(["mosquitto_pub", *mosq.auth(daemon_account), "-t", f"farm/{SITE}/gh1/state", "-r", "-m",
                        payload], check=True, timeout=10)
        [problem] = asyncio.run(client(mosq, zones=("gh1",)).snapshot())["gh1"].problems
        assert problem.readable and problem.text.startswith("state") and "\n" not in problem.text
    assert problem.text == "state.schema: version 7 is not one this reader knows (1)"
