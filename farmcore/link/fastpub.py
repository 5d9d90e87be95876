"""A zone's retained state written straight onto its MQTT connection, when nothing else waits to be written on it.

Every zone publishes its state once a second; at 200 zones that is the link's whole cost. Through paho the
publish path costs about 100 µs of CPU per state (its packet queue, registering and removing the socket
writer in the event loop, a completion callback that builds MQTT 5 reason codes even on a 3.1.1 connection);
writing the PUBLISH packet ourselves costs about 5 µs (benchmarks/link.py measures the daemon's whole link).
It is done only where it is equivalent: a plain TCP connection (TLS goes through paho), MQTT 3.1.1, QoS 0, and
paho with nothing queued, so the packet cannot cut into another. What the socket does not take at once (a
broker that stopped reading) is left to paho to write first, as the socket drains: the loop never waits.
"""

from __future__ import annotations

import socket
from enum import Enum

PUBLISH = 0x30
RETAIN = 0x01
MAX_REMAINING = 268_435_455  # MQTT 3.1.1 §2.2.3: four bytes of remaining length


class Written(Enum):
    SENT = "sent"  # the whole packet is on the connection
    NOT_SENT = "not_sent"  # none of it (the socket's buffer is full, or it is closed): publish another way
    PARTIAL = "partial"  # a first part: the rest must be written next, before anything else


def remaining_length(n: int) -> bytes:
    """MQTT 3.1.1 §2.2.3: seven bits a byte, least significant first, the top bit saying more follow."""
    if not 0 <= n <= MAX_REMAINING:
        raise ValueError(f"remaining length {n} outside 0..{MAX_REMAINING}")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(topic: bytes, payload: bytes, *, retain: bool) -> bytes:
    """An MQTT 3.1.1 PUBLISH packet at QoS 0 (no packet id): fixed header, topic name, payload (§3.3)."""
    if len(topic) > 0xFFFF:
        raise ValueError("topic longer than 65535 bytes")
    body_len = 2 + len(topic) + len(payload)
    header = bytes([PUBLISH | (RETAIN if retain else 0)]) + remaining_length(body_len)
    return b"".join((header, len(topic).to_bytes(2, "big"), topic, payload))


def write_packet(sock: socket.socket, packet: bytes) -> tuple[Written, int]:
    """Offer `packet` to a non-blocking socket once: (whole, not at all, or in part) and the bytes taken."""
    try:
        sent = sock.send(packet)
    except (BlockingIOError, InterruptedError):
        return Written.NOT_SENT, 0
    except OSError:
        return Written.NOT_SENT, 0  # a closed or reset connection: paho finds out on its own and reconnects
    if sent == len(packet):
        return Written.SENT, sent
    return (Written.PARTIAL, sent) if sent else (Written.NOT_SENT, 0)
