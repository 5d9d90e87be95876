"""The daemon's side of MQTT: one connection per zone, each with its own last will.

MQTT gives a connection exactly one last will, and DESIGN.md gives every zone a retained `status` whose
will is `offline`; so each zone has its own connection (paho-mqtt under aiomqtt, all in the daemon's event
loop: no thread per connection, 200 zones are 200 sockets). The control loop never waits on the broker:
it hands over the latest state and alarms (only the newest matters, they are retained) and queues events
and acks in a bounded queue, which a sender task drains while connected. When the broker is away the link
reconnects with exponential backoff and jitter, then republishes `online`, the state and the alarm list,
and sends what the queue kept (the oldest are dropped first once it is full, and counted).

Broker URLs: farmcore/link/brokerurl.py; the messages and their encoding: farmcore/link/payloads.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
from aiomqtt.exceptions import MqttConnectError

from farmcore.link.brokerurl import BrokerUrl
from farmcore.link.fastpub import Written, publish_packet, write_packet
from farmcore.link.payloads import AlarmEntry, EventMessage, StateMessage, encode
from farmcore.link.topics import commands_filter, topic

log = logging.getLogger("farmcore.link")

QUEUE_MAX = 1000  # events and acks kept per zone while the broker is away (a 10-minute outage has ~50)
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
STATE_MIN_INTERVAL_S = 1.0  # DESIGN: retained state at most once a second per zone

PROBE_S = 1.0  # while every zone is away, the broker's port is tried this often: its return ends the backoff
HERD_SPREAD_S = 0.5  # zones woken by the broker's return reconnect spread over this much time
CommandHandler = Callable[[str, bytes, str | None], Awaitable[bytes]]  # (zone, payload, account) -> ack


class ZoneLink:
    """One zone's connection: retained status (with its will), state and alarms; events and acks; its cmd.

    Thread model: everything runs in the daemon's event loop; `offer_state`, `set_alarms` and `send_event`
    never block and never raise for a broker problem."""

    def __init__(self, broker: BrokerUrl, site: str, zone: str, *, client_id: str, on_command: CommandHandler,
                 queue_max: int = QUEUE_MAX, backoff: tuple[float, float] = (BACKOFF_MIN_S, BACKOFF_MAX_S),
                 state_min_interval_s: float = STATE_MIN_INTERVAL_S, monotonic: Callable[[], float] = time.monotonic,
                 on_connect: Callable[[str], None] | None = None) -> None:
        """`on_connect(zone)`: called on every successful connection (the site link wakes the other zones)."""
        self.broker, self.site, self.zone, self.client_id = broker, site, zone, client_id
        self.on_command = on_command
        self.on_connect = on_connect
        self.topics = {leaf: topic(site, zone, leaf) for leaf in ("status", "state", "alarms", "events", "ack")}
        self._state_topic = self.topics["state"].encode()
        self.commands = commands_filter(site, zone)  # every account's branch: farm/SITE/ZONE/cmd/ACCOUNT
        self.backoff = backoff
        self.state_min_interval_s = state_min_interval_s
        self.monotonic = monotonic
        self.queue: deque[tuple[str, bytes]] = deque()
        self.queue_max = queue_max
        self.dropped = 0  # events/acks dropped from a full queue, all time
        self.connected = False
        self.connects = 0  # successful connections, all time (the first one included)
        self.attempts = 0  # connection attempts, all time
        self.last_error: str | None = None
        self.refused = False  # the last try reached the broker, which refused it: its port opening means nothing
        self._state: bytes | None = None
        self._state_dirty = False
        self._state_at = float("-inf")  # the earliest time of the next state
        self._alarms: bytes | None = None
        self._alarms_dirty = False
        self._wake = asyncio.Event()
        self._closing = False
        self._closed = asyncio.Event()  # set by close(): ends a backoff wait at once
        self._retry = asyncio.Event()  # set by `retry_now()`: the broker answers again, end the backoff
        self._handling: set[asyncio.Task[None]] = set()  # commands being applied
        self._paho: Any = None  # the paho client under the live aiomqtt one (aiomqtt pinned: <2.6)

    # ----------------------------------------------------------------- from the control loop

    def offer_state(self, build: Callable[[], StateMessage], at: float | None = None) -> bool:
        """The zone's state, built by `build()` only when due; True if taken. `at`: when the tick that made it
        started (monotonic s, default now): zones are ticked one after the other, so their offers drift
        within a tick, while the tick's start is on the grid. The slots are a grid one interval apart with
        10 % slack, so a 1 s tick that starts a millisecond early still publishes: over any stretch of time
        the rate is at most one per interval, and two states are never closer than 0.8 interval."""
        now = self.monotonic() if at is None else at
        interval = self.state_min_interval_s
        if now < self._state_at - 0.1 * interval:
            return False
        self._state_at = max(self._state_at + interval, now + 0.9 * interval)  # the next slot
        self._state = encode(build())
        paho = self._paho
        if paho is not None and self.connected and self._write_state(paho, self._state):
            return True
        self._state_dirty = True
        self._wake.set()
        return True

    def _write_state(self, paho: Any, state: bytes) -> bool:
        """The state onto the connection now (QoS 0, retained): no task wake-up, no future per zone and tick; a
        state lost with the connection is replaced by the next one. Straight onto the socket where that is
        equivalent (farmcore/link/fastpub.py), else through paho's out queue."""
        sock = paho.socket()
        if not self.broker.tls and paho.protocol == mqtt.MQTTv311 and sock is not None and not paho.want_write():
            packet = publish_packet(self._state_topic, state, retain=True)
            written, sent = write_packet(sock, packet)
            if written is Written.SENT:
                return True
            if written is Written.PARTIAL:
                # the rest goes out first, written by paho as the socket drains (its out queue was empty). A
                # private method of paho-mqtt, pinned <2.3: hil_tests/test_state_write.py checks the bytes arrive
                # whole; command 0 is no MQTT packet type, so paho reports nothing when it is done
                paho._packet_queue(0, packet[sent:], 0, 0)
                return True
        return paho.publish(self.topics["state"], state, 0, True).rc == 0

    def set_alarms(self, alarms: Sequence[AlarmEntry]) -> None:
        """The zone's retained alarm list (its own entries, then the site's); published when it changed."""
        payload = encode(alarms)
        if payload != self._alarms:
            self._alarms, self._alarms_dirty = payload, True
            self._wake.set()

    def send_event(self, event: EventMessage) -> None:
        self._enqueue(self.topics["events"], encode(event))

    def _enqueue(self, to: str, payload: bytes, *, front: bool = False) -> None:
        if len(self.queue) >= self.queue_max:
            # make room by the oldest event; acks are kept (each command is owed exactly its answer)
            oldest_event = next((i for i, (t, _p) in enumerate(self.queue) if t == self.topics["events"]), 0)
            del self.queue[oldest_event]
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("mqtt: zone %s dropped %d queued events (broker away too long)", self.zone,
                            self.dropped)
        if front:
            self.queue.appendleft((to, payload))
        else:
            self.queue.append((to, payload))
        self._wake.set()

    # ----------------------------------------------------------------- the connection

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff, until `close()`.

        A command is acknowledged to the broker (PUBACK) only once its ack is queued (paho's manual ack): a
        command received but not yet handled when the connection drops is delivered again by the broker
        (persistent session), so none is lost. One fresh client per connection, so that outgoing messages
        have one owner, our queue (paho would otherwise resend its own unacknowledged ones as well)."""
        delay = self.backoff[0]
        will = aiomqtt.Will(self.topics["status"], b"offline", qos=1, retain=True)
        while not self._closing:
            connects = self.connects
            self.attempts += 1
            client = self.broker.client(self.client_id, will=will, clean_session=False)
            client._client.manual_ack_set(True)
            try:
                async with client:
                    self._paho = client._client
                    await self._serve(client)
                    return  # closed on purpose
            except MqttConnectError as exc:  # the broker answered and refused (credentials, limits)
                self._lost(str(exc), refused=True)
            except aiomqtt.MqttError as exc:
                self._lost(str(exc))
            except OSError as exc:
                self._lost(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug must not end the zone's link for good: log it and reconnect
                log.exception("mqtt: zone %s link failed", self.zone)
                self._lost(f"{type(exc).__name__}: {exc}")
            finally:
                self._paho, self.connected = None, False
            if self.connects > connects:
                delay = self.backoff[0]  # it was up: a new outage starts from the shortest wait
            if await self._wait(delay * random.uniform(0.8, 1.2)):
                delay = self.backoff[0]  # the broker is back: connect now, and start the next outage afresh
                await asyncio.sleep(random.uniform(0, HERD_SPREAD_S))  # not every zone in the same instant
            else:
                delay = min(delay * 2, self.backoff[1])

    async def _wait(self, seconds: float) -> bool:
        """The backoff wait; True when `retry_now()` ended it early (close() ends it too)."""
        self._retry.clear()
        closed = asyncio.ensure_future(self._closed.wait())
        retry = asyncio.ensure_future(self._retry.wait())
        try:
            await asyncio.wait({closed, retry}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (closed, retry):
                task.cancel()
        return self._retry.is_set() and not self._closing

    @property
    def closing(self) -> bool:
        return self._closing

    def retry_now(self) -> None:
        """The broker answers again (another zone connected, or its port accepts): end a backoff wait now."""
        self._retry.set()

    def _lost(self, why: str, *, refused: bool = False) -> None:
        if self.connected or self.last_error != why:
            log.warning("mqtt %s: zone %s link down: %s", self.broker.shown, self.zone, why)
        self.connected, self.last_error, self.refused = False, why, refused

    async def _serve(self, client: aiomqtt.Client) -> None:
        await client.publish(self.topics["status"], b"online", qos=1, retain=True)
        await client.subscribe(self.commands, qos=1)
        self.connected, self.last_error, self.refused = True, None, False
        self.connects += 1
        if self.on_connect is not None:
            self.on_connect(self.zone)
        # the broker may have lost its retained copies (a restart without persistence): send them again
        self._state_dirty = self._state is not None
        self._alarms_dirty = self._alarms is not None
        self._wake.set()
        receiver = asyncio.create_task(self._receive(client))
        sender = asyncio.create_task(self._send(client))
        try:
            done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (receiver, sender):
                task.cancel()
            for task in (receiver, sender):
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await task
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Commands one at a time. Each is handled in its own task, shielded: a dropped connection or a
        stop never cancels a command halfway through its Modbus write, and its ack goes out through the
        queue (after a reconnect if need be)."""
        branch = self.commands.removesuffix("+")  # farm/SITE/ZONE/cmd/
        async for message in client.messages:
            name = str(message.topic)
            if not name.startswith(branch):
                continue
            account = name.removeprefix(branch)  # judged by the command desk: whatever arrives is answered
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                payload = b"" if payload is None else str(payload).encode()
            task = asyncio.create_task(self._handle(bytes(payload), account, message.mid if message.qos else None))
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)
            await asyncio.shield(task)

    async def _handle(self, payload: bytes, account: str, mid: int | None) -> None:
        paho = self._paho
        ack = await self.on_command(self.zone, payload, account)
        self._enqueue(self.topics["ack"], ack, front=True)
        if mid is not None and paho is not None and paho is self._paho:
            paho.ack(mid, 1)  # handled: the broker may forget it (if the link dropped meanwhile, it redelivers
            # the command and the daemon answers it `duplicate` with the first outcome: at least one ack)

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._alarms_dirty and self._alarms is not None:
                self._alarms_dirty = False
                await client.publish(self.topics["alarms"], self._alarms, qos=1, retain=True)
            while self.queue:
                item = self.queue.popleft()
                try:
                    await client.publish(item[0], item[1], qos=1)
                except BaseException:
                    self.queue.appendleft(item)  # at least once: it goes again after the reconnect
                    raise
            if self._state_dirty and self._state is not None:
                self._state_dirty = False
                await client.publish(self.topics["state"], self._state, qos=0, retain=True)
            if self._closing:
                if self._handling:  # a command being applied: its ack first
                    await asyncio.wait(self._handling, timeout=5)
                    self._wake.set()
                    continue
                await client.publish(self.topics["status"], b"offline", qos=1, retain=True)
                return

    def close(self) -> None:
        """Send what is pending and `offline`, then disconnect (a clean disconnect does not fire the will)."""
        self._closing = True
        self._closed.set()
        self._wake.set()


class SiteLink:
    """The zone links of one daemon, run as tasks in its loop.

    After a broker outage the zones' backoffs have grown (up to 30 s); waiting them out would leave zones
    without a status long after the broker is back. So the first zone that connects wakes every other zone,
    and while no zone is connected a probe tries the broker's port every `PROBE_S` and wakes them all when it
    accepts: every zone is back within about PROBE_S + HERD_SPREAD_S + its connect time."""

    def __init__(self, broker: BrokerUrl, site: str, client_ids: dict[str, str], *, on_command: CommandHandler,
                 probe_s: float = PROBE_S, **options: Any) -> None:
        """`client_ids`: zone -> MQTT client id (stable: the broker keeps the zone's session under it)."""
        self.broker = broker
        self.probe_s = probe_s
        self.zones = {z: ZoneLink(broker, site, z, client_id=cid, on_command=on_command, on_connect=self._connected,
                                  **options) for z, cid in client_ids.items()}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(link.run(), name=f"mqtt-{z}") for z, link in self.zones.items()]
        self._tasks.append(asyncio.create_task(self._probe(), name="mqtt-probe"))

    @property
    def connected(self) -> int:
        return sum(link.connected for link in self.zones.values())

    def _connected(self, zone: str) -> None:
        for other in self.zones.values():
            if not other.connected and not other.refused:
                other.retry_now()

    async def _probe(self) -> None:
        """While no zone is connected (and some has tried), knock on the broker's port; wake all when it opens."""
        links = list(self.zones.values())
        while not all(link.closing for link in links):
            await asyncio.sleep(self.probe_s)
            if any(link.connected for link in links) or not any(link.last_error for link in links):
                continue
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(self.broker.host, self.broker.port),
                                                   self.probe_s)
            except (OSError, TimeoutError):
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            for link in links:
                if not link.connected and not link.refused:  # a refusal keeps its backoff (a wrong password)
                    link.retry_now()

    async def stop(self, timeout_s: float = 3.0) -> None:
        """`offline` on every zone (bounded wait: a dead broker must not hold up the stop states)."""
        for link in self.zones.values():
            link.close()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._tasks = []
