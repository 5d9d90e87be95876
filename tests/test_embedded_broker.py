"""The demo's embedded amqtt broker, driven by the same aiomqtt clients as the daemon's link."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from farmcore.errors import BadInput
from farmcore.link.brokerurl import BrokerUrl, parse_broker_url
from farmcore.link.client import ZoneLink
from farmcore.link.embedded import embedded_broker
from farmcore.link.fastpub import remaining_length

pytestmark = pytest.mark.timeout(20)

Received = tuple[str, bytes, bool, int]  # topic, payload, retain, qos


@pytest.fixture
async def broker() -> AsyncIterator[BrokerUrl]:
    async with embedded_broker() as url:
        yield parse_broker_url(url)


async def receive(client: aiomqtt.Client, count: int, timeout: float = 2.0) -> list[Received]:
    """The messages that arrive until there are `count` of them or `timeout` has passed."""
    got: list[Received] = []
    if count:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                async for m in client.messages:
                    got.append((str(m.topic), bytes(m.payload), m.retain, m.qos))  # type: ignore[arg-type]
                    if len(got) >= count:
                        break
    return got


async def quiet(client: aiomqtt.Client, window: float = 0.3) -> list[Received]:
    """Whatever arrives within `window` (expected: nothing more)."""
    return await receive(client, 100, window)


def _utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: str, will_topic: str, will_payload: bytes) -> bytes:
    """An MQTT 3.1.1 CONNECT with a QoS 1 retained will and a clean session."""
    flags = 0x02 | 0x04 | (1 << 3) | 0x20  # clean session, will, will QoS 1, will retain
    body = (_utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", 30)
            + _utf8(client_id) + _utf8(will_topic) + struct.pack("!H", len(will_payload)) + will_payload)
    return bytes([0x10]) + remaining_length(len(body)) + body


async def test_url_is_loopback_with_a_picked_port(broker: BrokerUrl) -> None:
    assert broker.host == "127.0.0.1"
    assert broker.port > 0
    assert not broker.tls and broker.username is None


async def test_qos1_round_trip(broker: BrokerUrl) -> None:
    async with broker.client("sub") as sub, broker.client("pub") as pub:
        await sub.subscribe("farm/+/cmd", qos=1)
        await pub.publish("farm/z1/cmd", b"water 5", qos=1)
        assert await receive(sub, 1) == [("farm/z1/cmd", b"water 5", False, 1)]


async def test_retained_reaches_a_later_subscriber_and_is_replaced(broker: BrokerUrl) -> None:
    async with broker.client("pub") as pub:
        await pub.publish("farm/z1/state", b"v1", qos=1, retain=True)
        async with broker.client("early") as early:
            await early.subscribe("farm/+/state", qos=1)
            assert await receive(early, 1) == [("farm/z1/state", b"v1", True, 1)]
            await pub.publish("farm/z1/state", b"v2", qos=1, retain=True)
            assert await receive(early, 1) == [("farm/z1/state", b"v2", False, 1)]  # live, not from the store
        async with broker.client("late") as late:
            assert await quiet(late) == []  # nothing before it subscribes (amqtt would send `early`'s matches)
            await late.subscribe("farm/z1/state", qos=1)
            assert await receive(late, 1) == [("farm/z1/state", b"v2", True, 1)]
            assert await quiet(late) == []  # once: not v1 as well, nor a copy for `early`'s filter


@pytest.mark.parametrize("how", ["eof", "reset"])
async def test_will_fires_when_the_socket_drops(broker: BrokerUrl, how: str) -> None:
    async with broker.client("watch") as watch:
        await watch.subscribe("farm/+/status", qos=1)
        reader, writer = await asyncio.open_connection(broker.host, broker.port)
        writer.write(connect_packet("zone-z3", "farm/z3/status", b"offline"))
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(4), 2) == b"\x20\x02\x00\x00"  # CONNACK accepted
        if how == "reset":
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # no DISCONNECT: a killed process
        assert await receive(watch, 1) == [("farm/z3/status", b"offline", False, 1)]
    async with broker.client("later") as later:  # and the will was retained
        await later.subscribe("farm/z3/status", qos=1)
        assert await receive(later, 1) == [("farm/z3/status", b"offline", True, 1)]


async def test_will_of_an_aiomqtt_client_is_not_sent_on_a_clean_disconnect(broker: BrokerUrl) -> None:
    will = aiomqtt.Will("farm/z4/status", b"offline", qos=1, retain=True)
    async with broker.client("watch") as watch:
        await watch.subscribe("farm/z4/status", qos=1)
        async with broker.client("zone-z4", will=will, clean_session=False) as zone:
            await zone.publish("farm/z4/status", b"online", qos=1, retain=True)
        assert await receive(watch, 1) == [("farm/z4/status", b"online", False, 1)]
        assert await quiet(watch) == []


async def test_persistent_session_keeps_its_wildcard_subscription_and_queues_qos1(broker: BrokerUrl) -> None:
    async with broker.client("daemon-z1", clean_session=False) as daemon:
        await daemon.subscribe("farm/+/cmd", qos=1)
    await asyncio.sleep(1.2)  # amqtt reaps the sessions it considers anonymous every second
    async with broker.client("portal") as portal:
        await portal.publish("farm/z1/cmd", b"lights on", qos=1)
    async with broker.client("daemon-z1", clean_session=False) as daemon:
        # queued while away: an ordinary message, not flagged retained
        assert await receive(daemon, 1) == [("farm/z1/cmd", b"lights on", False, 1)]
        async with broker.client("portal") as portal:  # and still subscribed, without subscribing again
            await portal.publish("farm/z2/cmd", b"lights off", qos=1)
        assert await receive(daemon, 1) == [("farm/z2/cmd", b"lights off", False, 1)]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7"])
async def test_a_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(BadInput, match="not a loopback address") as info:
        async with embedded_broker(host=host):
            pytest.fail("started")
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


async def test_localhost_is_loopback() -> None:
    async with embedded_broker(host="localhost") as url:
        broker = parse_broker_url(url)
        async with broker.client("c") as c:
            await c.publish("t", b"x", qos=1)


async def test_nothing_left_behind_after_exit() -> None:
    async with embedded_broker() as url:
        broker = parse_broker_url(url)
        async with broker.client("c") as c:
            await c.publish("farm/z1/status", b"online", qos=1, retain=True)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(broker.host, broker.port)
    await asyncio.sleep(0)
    assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} == set()


async def test_a_given_port_is_used_and_a_busy_one_is_bad_input() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with embedded_broker(port=port) as url:
        assert url == f"mqtt://127.0.0.1:{port}"
        with pytest.raises(BadInput, match="cannot listen"):
            async with embedded_broker(port=port):
                pytest.fail("started twice on one port")


async def test_the_daemon_zone_link_works_against_it(broker: BrokerUrl) -> None:
    async def on_command(zone: str, payload: bytes, account: str | None) -> bytes:
        return f"ack from {account}:".encode() + payload

    link = ZoneLink(broker, "demo", "z1", client_id="daemon-z1", on_command=on_command)
    async with broker.client("portal") as portal:
        await portal.subscribe("farm/demo/+/status", qos=1)
        await portal.subscribe("farm/demo/+/ack", qos=1)
        task = asyncio.create_task(link.run())
        try:
            assert await receive(portal, 1) == [("farm/demo/z1/status", b"online", False, 1)]
            await portal.publish("farm/demo/z1/cmd/portal", b"fan on", qos=1)
            assert await receive(portal, 1) == [("farm/demo/z1/ack", b"ack from portal:fan on", False, 1)]
            await portal.publish("farm/demo/z1/cmd/No Account!", b"x", qos=1)  # no ACL here: the desk judges it
            assert await receive(portal, 1) == [("farm/demo/z1/ack", b"ack from No Account!:x", False, 1)]
            link.close()
            await asyncio.wait_for(task, 3)
        finally:
            task.cancel()
        assert await receive(portal, 1) == [("farm/demo/z1/status", b"offline", False, 1)]
