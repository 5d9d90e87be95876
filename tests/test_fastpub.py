"""The state's own PUBLISH packet: the bytes paho would write, and a write that is whole, absent or broken."""

from __future__ import annotations

import socket

import paho.mqtt.client as mqtt
import pytest

from farmcore.link.fastpub import Written, publish_packet, remaining_length, write_packet

# MQTT 3.1.1 §2.2.3, Table 2.4: the bounds of one to four bytes of remaining length
SPEC = [(0, "00"), (127, "7f"), (128, "8001"), (16_383, "ff7f"), (16_384, "808001"), (2_097_151, "ffff7f"),
        (2_097_152, "80808001"), (268_435_455, "ffffff7f")]


@pytest.mark.parametrize(("n", "encoded"), SPEC)
def test_remaining_length_is_the_standards(n: int, encoded: str) -> None:
    assert remaining_length(n) == bytes.fromhex(encoded)


def test_a_remaining_length_past_four_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="268435456"):
        remaining_length(268_435_456)


class _Captured:
    """What paho writes on its socket."""

    def __init__(self) -> None:
        self.data = bytearray()

    def send(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def setblocking(self, flag: bool) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize("size", [0, 1, 100, 3_400, 20_000, 2_100_000])
@pytest.mark.parametrize("retain", [True, False])
def test_the_packet_is_the_one_paho_writes(size: int, retain: bool) -> None:
    topic, payload = b"farm/gyeongbuk-demo/gh1/state", bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    captured = _Captured()
    client._sock = captured  # type: ignore[assignment]  # paho writes straight to its socket when it has no loop
    assert client.publish(topic.decode(), payload, 0, retain).rc == mqtt.MQTT_ERR_SUCCESS
    assert publish_packet(topic, payload, retain=retain) == bytes(captured.data)


def _pair(buffer: int = 4096) -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    a.setblocking(False)
    return a, b


def _read_all(sock: socket.socket, n: int, out: bytearray) -> None:
    while len(out) < n:
        chunk = sock.recv(65536)
        if not chunk:
            return
        out += chunk


def test_a_packet_the_socket_takes_whole_is_sent() -> None:
    a, b = _pair(1 << 20)
    with a, b:
        packet = publish_packet(b"t", b"x" * 1000, retain=True)
        assert write_packet(a, packet) == (Written.SENT, len(packet))
        got = bytearray()
        _read_all(b, len(packet), got)
        assert bytes(got) == packet


def test_a_full_socket_takes_nothing_and_says_so() -> None:
    a, b = _pair()
    with a, b:
        with pytest.raises(BlockingIOError):
            while True:
                a.send(b"\0" * 65536)
        assert write_packet(a, publish_packet(b"t", b"x" * 100, retain=True)) == (Written.NOT_SENT, 0)


def test_a_packet_larger_than_the_buffers_is_taken_in_part_without_waiting() -> None:
    a, b = _pair()
    with a, b:
        packet = publish_packet(b"t", b"x" * 1_000_000, retain=True)  # nobody reads: only the buffers' worth
        written, sent = write_packet(a, packet)
        assert written is Written.PARTIAL and 0 < sent < len(packet)
        assert a.getblocking() is False


class _Paho:
    """What `ZoneLink._write_state` asks of paho, recording the publishes it is handed."""

    def __init__(self, sock: socket.socket, protocol: int) -> None:
        self.sock, self.protocol, self.published = sock, protocol, []

    def socket(self) -> socket.socket:
        return self.sock

    def want_write(self) -> bool:
        return False

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> mqtt.MQTTMessageInfo:
        self.published.append(payload)
        info = mqtt.MQTTMessageInfo(1)
        info.rc = mqtt.MQTT_ERR_SUCCESS
        return info


@pytest.mark.parametrize(("protocol", "tls", "direct"), [(mqtt.MQTTv311, False, True), (mqtt.MQTTv5, False, False),
                                                         (mqtt.MQTTv311, True, False)])
def test_only_a_plain_mqtt_311_connection_gets_the_packet_written_directly(protocol: int, tls: bool,
                                                                          direct: bool) -> None:
    """MQTT 5 puts properties after the topic, TLS has its own framing: both go through paho."""
    from farmcore.link.brokerurl import BrokerUrl
    from farmcore.link.client import ZoneLink

    async def no_command(zone: str, payload: bytes, account: str | None) -> bytes:
        return b""

    link = ZoneLink(BrokerUrl("127.0.0.1", 1, tls=tls), "s", "z", client_id="c", on_command=no_command)
    a, b = _pair(1 << 20)
    with a, b:
        paho = _Paho(a, protocol)
        assert link._write_state(paho, b"{}")
        b.setblocking(False)
        try:
            got = b.recv(1000)
        except BlockingIOError:
            got = b""
        assert (got == publish_packet(b"farm/s/z/state", b"{}", retain=True)) is direct
        assert paho.published == ([] if direct else [b"{}"])
