"""A zone's state written straight onto its connection reaches a real mosquitto whole and retained, small or
far larger than the socket's buffers, and paho's own publish path is not used for it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from farmcore.link import client as link_client
from farmcore.link.brokerurl import parse_broker_url
from farmcore.link.client import ZoneLink
from farmcore.link.fastpub import Written
from farmcore.link.payloads import encode
from farmcore.site import load_site
from hil_tests.mosquitto import Mosquitto, needs_mosquitto

pytestmark = needs_mosquitto
DEMO = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"
SITE, ZONE = "gyeongbuk-demo", "gh1"


async def _no_command(zone: str, payload: bytes, account: str | None) -> bytes:
    return b""


async def test_states_go_straight_onto_the_connection_whole_and_retained(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[int] = []
    real = link_client.write_packet

    def counted(sock, packet, timeout_s):  # type: ignore[no-untyped-def]
        written.append(len(packet))
        return real(sock, packet, timeout_s)

    monkeypatch.setattr(link_client, "write_packet", counted)
    with Mosquitto(load_site(DEMO), tmp_path / "broker") as broker:
        link = ZoneLink(parse_broker_url(broker.url(f"farmctl-{SITE}")), SITE, ZONE,
                        client_id=f"farmctl-{SITE}-{ZONE}", on_command=_no_command, state_min_interval_s=0.01)
        task = asyncio.create_task(link.run())
        try:
            while not link.connected:
                await asyncio.sleep(0.02)
            paho_publishes = 0
            real_publish = link._paho.publish

            def publish(*args, **kw):  # type: ignore[no-untyped-def]
                nonlocal paho_publishes
                paho_publishes += args[0].endswith("/state")
                return real_publish(*args, **kw)

            link._paho.publish = publish
            offered = [{"schema": 1, "n": n, "pad": "x" * size}
                       for n, size in enumerate((10, 3_400, 200_000, 3_000_000, 50))]
            states = [encode(state) for state in offered]
            async with parse_broker_url(broker.url("technician")).client("tech") as tech:
                await tech.subscribe(f"farm/{SITE}/{ZONE}/state", qos=0)
                got: list[bytes] = []
                for state in offered:
                    assert link.offer_state(lambda state=state: state)  # type: ignore[arg-type,return-value]
                    await asyncio.sleep(0.05)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10):
                        async for m in tech.messages:
                            got.append(bytes(m.payload))
                            if got[-1] == states[-1]:
                                break
            assert got[-len(states):] == states, "every state arrived whole and in order"
            assert len(written) == len(states) and paho_publishes == 0, "straight onto the socket, not through paho"
            async with parse_broker_url(broker.url("technician")).client("late") as late:
                await late.subscribe(f"farm/{SITE}/{ZONE}/state", qos=0)
                async with asyncio.timeout(5):
                    async for m in late.messages:
                        assert m.retain and bytes(m.payload) == states[-1]
                        break
        finally:
            link.close()
            await asyncio.wait_for(task, 5)


async def test_a_state_cut_off_mid_write_costs_the_connection_not_the_state(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream cut mid-packet cannot go on: the link drops the connection, makes it again and republishes."""
    with Mosquitto(load_site(DEMO), tmp_path / "broker") as broker:
        link = ZoneLink(parse_broker_url(broker.url(f"farmctl-{SITE}")), SITE, ZONE,
                        client_id=f"farmctl-{SITE}-{ZONE}", on_command=_no_command, backoff=(0.1, 0.5))
        task = asyncio.create_task(link.run())
        try:
            while not link.connected:
                await asyncio.sleep(0.02)
            connects = link.connects
            monkeypatch.setattr(link_client, "write_packet", lambda sock, packet, timeout_s: Written.BROKEN)
            state = {"schema": 1, "n": 1}
            assert link.offer_state(lambda: state)  # type: ignore[arg-type,return-value]
            monkeypatch.undo()
            async with asyncio.timeout(10):
                while link.connects == connects or not link.connected:
                    await asyncio.sleep(0.05)
            async with parse_broker_url(broker.url("technician")).client("tech") as tech:
                await tech.subscribe(f"farm/{SITE}/{ZONE}/state", qos=0)
                async with asyncio.timeout(5):
                    async for m in tech.messages:
                        assert m.retain and bytes(m.payload) == encode(state), "republished on the new connection"
                        break
        finally:
            link.close()
            await asyncio.wait_for(task, 5)
