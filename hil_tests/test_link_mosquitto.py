"""The zone link against a real mosquitto (the site's ACL): no command is lost when the connection drops
while one is being handled, and a stop waits for the command being applied and sends its ack first."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from farmcore.link.brokerurl import parse_broker_url
from farmcore.link.client import SiteLink, ZoneLink
from farmcore.site import load_site
from hil_tests.mosquitto import Mosquitto, needs_mosquitto

pytestmark = needs_mosquitto
DEMO = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"
SITE, ZONE = "gyeongbuk-demo", "gh1"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(load_site(DEMO), tmp_path / "broker") as mosq:
        yield mosq


async def _collect(client, n: int, timeout_s: float = 8) -> list[bytes]:
    got: list[bytes] = []
    try:
        async with asyncio.timeout(timeout_s):
            async for m in client.messages:
                got.append(bytes(m.payload))
                if len(got) >= n:
                    break
    except TimeoutError:
        pass
    return got


async def test_commands_in_flight_when_the_link_drops_are_all_answered(broker: Mosquitto) -> None:
    handled: list[bytes] = []

    async def slow(zone: str, payload: bytes, account: str | None) -> bytes:
        handled.append(payload)
        await asyncio.sleep(0.4)
        return b"ack:" + payload

    link = ZoneLink(parse_broker_url(broker.url(f"farmctl-{SITE}")), SITE, ZONE, client_id=f"farmctl-{SITE}-{ZONE}",
                    on_command=slow, backoff=(0.1, 0.5))
    task = asyncio.create_task(link.run())
    async with parse_broker_url(broker.url("technician")).client("tech") as tech:
        await tech.subscribe(f"farm/{SITE}/{ZONE}/ack", qos=1)
        while not link.connected:
            await asyncio.sleep(0.02)
        for p in (b"c1", b"c2", b"c3"):
            await tech.publish(f"farm/{SITE}/{ZONE}/cmd/technician", p, qos=1)
        await asyncio.sleep(0.15)
        link._paho.socket().shutdown(socket.SHUT_RDWR)  # the network drops while c1 is being handled
        acks = await _collect(tech, 4)
    link.close()
    await asyncio.wait_for(task, 5)
    assert link.connects == 2
    assert set(handled) == {b"c1", b"c2", b"c3"}, "a command the broker delivered was lost"
    assert {b"ack:c1", b"ack:c2", b"ack:c3"} <= set(acks)
    assert acks.count(b"ack:c2") == 1 and acks.count(b"ack:c3") == 1  # only the one in flight may repeat


async def test_a_stop_lets_the_command_being_applied_finish_and_ack(broker: Mosquitto) -> None:
    steps: list[str] = []

    async def slow(zone: str, payload: bytes, account: str | None) -> bytes:
        steps.append("start")
        await asyncio.sleep(0.5)
        steps.append("done")
        return b"ack:" + payload

    link = ZoneLink(parse_broker_url(broker.url(f"farmctl-{SITE}")), SITE, ZONE, client_id=f"farmctl-{SITE}-{ZONE}",
                    on_command=slow)
    task = asyncio.create_task(link.run())
    async with parse_broker_url(broker.url("technician")).client("tech") as tech:
        await tech.subscribe(f"farm/{SITE}/{ZONE}/ack", qos=1)
        await tech.subscribe(f"farm/{SITE}/{ZONE}/status", qos=1)
        while not link.connected:
            await asyncio.sleep(0.02)
        await _collect(tech, 1, 2)  # the retained `online`
        await tech.publish(f"farm/{SITE}/{ZONE}/cmd/technician", b"c1", qos=1)
        while steps != ["start"]:
            await asyncio.sleep(0.01)
        link.close()  # while the command is being applied
        got = await _collect(tech, 2)
    await asyncio.wait_for(task, 5)
    assert steps == ["start", "done"], "the stop cancelled the command halfway"
    assert got == [b"ack:c1", b"offline"]


async def test_zones_are_back_soon_after_the_broker_however_long_their_backoff_has_grown(broker: Mosquitto) -> None:
    """Down long enough for the backoff to reach 8-16 s; once the broker answers again every zone is back
    within a few seconds (the first to connect wakes the others; a port probe ends waits while none is)."""

    async def answer(zone: str, payload: bytes, account: str | None) -> bytes:
        return b"{}"

    zones = ("gh1", "gh2", "gh3")
    link = SiteLink(parse_broker_url(broker.url(f"farmctl-{SITE}")), SITE,
                    {z: f"farmctl-{SITE}-{z}" for z in zones}, on_command=answer, backoff=(2.0, 30.0))
    link.start()
    try:
        while link.connected < len(zones):
            await asyncio.sleep(0.05)
        broker.stop()
        await asyncio.sleep(7.5)  # waits of 2, 4, then 8 s (±20 %): the next try is 4-16 s away
        assert link.connected == 0
        broker.start()
        back = asyncio.get_running_loop().time()
        while link.connected < len(zones):
            await asyncio.sleep(0.05)
            assert asyncio.get_running_loop().time() - back < 4.0, f"{link.connected} of 3 zones back after 4 s"
    finally:
        await link.stop()


async def test_a_broker_that_refuses_the_account_is_not_hammered_once_a_second(broker: Mosquitto, tmp_path: Path
                                                                                ) -> None:
    """The port probe ends a backoff only for links that could not reach the broker: one that refuses a wrong
    password keeps the exponential backoff (2, 4, 8 s ...), it is not retried every second."""
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password")

    async def answer(zone: str, payload: bytes, account: str | None) -> bytes:
        return b"{}"

    url = f"mqtt://farmctl-{SITE}@127.0.0.1:{broker.port}?password_file={wrong}"
    link = SiteLink(parse_broker_url(url), SITE, {"gh1": f"farmctl-{SITE}-gh1"}, on_command=answer,
                    backoff=(2.0, 30.0))
    link.start()
    try:
        await asyncio.sleep(9)
        attempts = link.zones["gh1"].attempts
        assert link.zones["gh1"].refused and link.connected == 0
        assert attempts <= 4, f"{attempts} tries in 9 s: the backoff was cut short for a refusal"
    finally:
        await link.stop()
