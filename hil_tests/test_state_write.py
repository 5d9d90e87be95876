"""A zone's state written straight onto its connection reaches a real mosquitto whole, in order and retained,
small or far larger than the socket's buffers (the rest left to paho to write first)."""

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
    written: list[Written] = []
    real = link_client.write_packet

    def counted(sock, packet):  # type: ignore[no-untyped-def]
        outcome = real(sock, packet)
        written.append(outcome[0])
        return outcome

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
                       for n, size in enumerate((10, 3_400, 200_000, 16_000_000, 50, 60))]
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
            assert written[:3] == [Written.SENT] * 3, "straight onto the socket, not through paho"
            assert written[3] is Written.PARTIAL, "16 MB is more than the socket takes at once: paho writes the rest"
            assert paho_publishes <= 2, "until the rest is written, states go through paho's queue, after it"
            async with parse_broker_url(broker.url("technician")).client("late") as late:
                await late.subscribe(f"farm/{SITE}/{ZONE}/state", qos=0)
                async with asyncio.timeout(5):
                    async for m in late.messages:
                        assert m.retain and bytes(m.payload) == states[-1]
                        break
        finally:
            link.close()
            await asyncio.wait_for(task, 5)

