"""An MQTT broker inside our own event loop, for the demo only.

`farmctl demo` must stay one command when no broker is configured, so it runs amqtt (pure Python, MQTT 3.1.1)
in its own loop. The field does not use this: it runs mosquitto, configured by `farmctl broker config`
(users, ACLs, TLS, persistence, keepalive-based wills). Anonymous clients are accepted, so by default the
broker only listens on a loopback address; a demo broker must not open the farm to the network.

    async with embedded_broker() as url:     # "mqtt://127.0.0.1:PORT", a free port
        broker = parse_broker_url(url)

What our link needs (retained messages and their replacement, a retained last will fired when a connection
drops without DISCONNECT, QoS 1, persistent sessions with `+` filters) works, with three workarounds for
amqtt 0.12.1, all in this module:
  * its `AnonymousAuthPlugin` marks every session anonymous, and amqtt drops the subscriptions of a
    disconnected anonymous session within a second and queues nothing for it: `clean_session=False` would
    not be persistent. `_OpenAuth` accepts every client without that mark.
  * on every CONNECT it sends the new client, at QoS 0, the retained messages matching *any* client's
    filters (not only its own). `_DemoBroker` sends retained messages only for the session's own filters,
    at their QoS, as mosquitto does on SUBSCRIBE.
  * it delivers the QoS 1 messages queued for a disconnected persistent session with the retain flag set;
    `_DemoBroker` clears it (they are ordinary messages).
Known limits (not worked around; fine on loopback, where a dead process closes its socket):
  * the keepalive is not enforced: a client that goes silent without closing its TCP connection (a pulled
    cable) is never timed out, so its will only fires when the socket closes or resets;
  * a reconnecting persistent session keeps the will *retain* flag of its first connection;
  * a QoS 1 message delivered but not yet acknowledged when a connection drops is not delivered again
    when the session resumes (mosquitto does; the daemon relies on it to lose no command);
  * messages are delivered at the subscription's QoS even when published at a lower one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from farmcore.errors import BadInput

__all__ = ["embedded_broker"]

# amqtt logs every connection at INFO (and tracebacks for routine disconnects at DEBUG): keep the demo quiet
for _name in ("amqtt", "transitions"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def _drop_noise(record: logging.LogRecord) -> bool:
    """amqtt's traceback for a failed start (we raise BadInput with its cause instead), and its warning that
    the wills of clients still connected at shutdown were not sent."""
    text = record.getMessage()
    return not (text.startswith("Broker startup failed") or text.endswith("messages not broadcasted"))


logging.getLogger("amqtt.broker").addFilter(_drop_noise)


class _OpenAuth(BaseAuthPlugin):
    """Accept every client without marking it anonymous (amqtt would then drop its persistent session)."""

    async def authenticate(self, *, session: Session) -> bool:
        return True


class _DemoBroker(Broker):
    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int],
                                                          session: Session) -> None:
        # amqtt calls this on SUBSCRIBE (for the new filter) and on every CONNECT for every filter any client
        # holds, at QoS 0; keep only the session's own filters, at the QoS it subscribed with
        topic_filter, _ = subscription
        for subscriber, qos in self._subscriptions.get(topic_filter, ()):
            if subscriber is session or subscriber.client_id == session.client_id:
                await super()._publish_retained_messages_for_subscription((topic_filter, qos), session)
                return

    async def _publish_session_retained_messages(self, session: Session) -> None:
        # what was queued for a disconnected persistent session: amqtt sends it with the retain flag set, but
        # these are ordinary messages [MQTT-3.3.1-9]
        handler = self._get_handler(session)
        sends = []
        while handler is not None and not session.retained_messages.empty():
            queued = session.retained_messages.get_nowait()
            sends.append(asyncio.ensure_future(handler.mqtt_publish(queued.topic, queued.data, queued.qos,
                                                                    retain=False)))
        if sends:
            await asyncio.wait(sends)


async def _bind_address(host: str, allow_remote: bool) -> str:
    """The one IP address to listen on; BadInput when it is not loopback and remote access is not allowed."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BadInput(f"embedded broker: host {host!r}: {exc.strerror or exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_remote and not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise BadInput(f"embedded broker: host {host!r} is not a loopback address; the demo broker accepts anonymous "
                       "clients, so it listens on loopback only (allow_remote=True to override; in the field use "
                       "mosquitto: farmctl broker config)")
    return addresses[0]


@contextlib.asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int | None = None, *,
                          allow_remote: bool = False) -> AsyncIterator[str]:
    """Run an amqtt broker in the running loop on host:port (None: a free port); yield its `mqtt://` URL.

    The broker is shut down, and its port closed, when the block exits."""
    if port is not None and not 0 <= port <= 65535:
        raise BadInput(f"embedded broker: port {port} is not in 0..65535")
    address = await _bind_address(host, allow_remote)
    config: dict[str, Any] = {
        # "::1:0" and not "[::1]:0": amqtt splits on the last colon and keeps brackets in the address
        "listeners": {"default": {"type": "tcp", "bind": f"{address}:{port or 0}"}},
        "plugins": {f"{__name__}._OpenAuth": {}},  # no $SYS plugin, no packet logger
    }
    broker = _DemoBroker(config, loop=asyncio.get_running_loop())
    try:
        await broker.start()
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise BadInput(f"embedded broker: cannot listen on {address}:{port or 0}: {cause}") from None
    try:
        # port 0 lets the kernel pick a free port without a race; read back which one
        bound = broker._servers["default"].instance.sockets[0].getsockname()[1]
        ip = ipaddress.ip_address(address)
        if ip.is_unspecified:  # listening everywhere (allow_remote): local clients use loopback
            ip = ipaddress.ip_address("::1" if ip.version == 6 else "127.0.0.1")
        yield f"mqtt://[{ip}]:{bound}" if ip.version == 6 else f"mqtt://{ip}:{bound}"
    finally:
        await broker.shutdown()
