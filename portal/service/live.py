"""The portal's live view of every zone: one MQTT connection per portal process, a newest-value cache, commands.

Streamlit runs each browser session in a thread of its own, so the hub is a paho-mqtt client on its own network
thread (`loop_start`) behind one lock: sessions read immutable `LiveZone` snapshots and never touch the
connection. One connection for the whole process (on the broker's `portal` account, which may read every zone
and write only its own command branch): a tenant's page costs the broker nothing, and tenancy is decided by the
facade before anything here is read or sent (this module does not decide it).

Payloads come from anyone with write access to the broker, so each is parsed with the zone client's helpers
(`farmcore.link.zoneclient.typed`): a malformed one is ignored with one log line and the previous good value
stays. The link reconnects by itself; `health()` says since when it is down and why, so a page can say "live
data unavailable since ..." and disable its controls. A command is published once (QoS 1) and awaited by its id
on the same connection: no ack in time is `no_answer`, never a silent success, and never a second publish.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from farmcore.link.brokerurl import BrokerUrl
from farmcore.link.messages import (
    Ack,
    AlarmEntry,
    AlarmListMessage,
    Command,
    EventMessage,
    MessageError,
    StateMessage,
    command_topic,
    parse_topic,
)
from farmcore.link.zoneclient import (
    AHEAD_S,
    DEFAULT_TIMEOUT_S,
    CommandResult,
    ZoneStatus,
    command_json,
    lenient,
    quote,
    state_time,
    typed,
)
from portal.service.errors import PortalError
from portal.service.model import ZoneKey
from portal.service.views import LinkHealth

log = logging.getLogger("portal.live")

LEAVES = ("status", "state", "alarms", "events", "ack")
FILTERS = [(f"farm/+/+/{leaf}", 1) for leaf in LEAVES]
EVENTS_KEPT = 50  # a zone page shows the latest events; older ones are in the historian
RECONNECT_S = (1, 10)  # paho's back-off, s: live data is back at most 10 s after the broker is
KEEPALIVE_S = 30
SENT_KEPT = timedelta(hours=1)  # an id is remembered this long after its command expired (then it cannot act)


@dataclass(frozen=True)
class LiveZone:
    """What the broker last told of one zone: immutable, so a session may keep it while the cache moves on.

    `problem` is the last payload that was ignored (one line, of leaf `problem_leaf`), until a good one of that
    leaf replaces it."""

    key: ZoneKey
    status: ZoneStatus = "unknown"
    state: StateMessage | None = None
    state_received: datetime | None = None  # when the state arrived here (UTC)
    state_taken: datetime | None = None  # the state's own time
    alarms: tuple[AlarmEntry, ...] = ()
    events: tuple[EventMessage, ...] = ()  # the last EVENTS_KEPT, oldest first
    problem: str | None = None
    problem_leaf: str | None = None

    @property
    def online(self) -> bool:
        return self.status == "online"

    def age_s(self, now: datetime) -> float | None:
        """How old the state is: from its own time, or from its arrival when its clock runs ahead of the time it
        arrived (the fast demo's twin, a wrong clock), where its own time says nothing about its age."""
        if self.state is None or self.state_received is None:
            return None
        taken = self.state_taken
        if taken is None or (taken - self.state_received).total_seconds() > AHEAD_S:
            taken = self.state_received
        return max(0.0, (now - taken).total_seconds())


class NotSent(PortalError):
    """A command the hub refused to publish (codes `link_down`, `already_sent`): nothing reached the broker."""


@dataclass
class _Waiter:
    key: ZoneKey
    done: threading.Event
    result: CommandResult | None = None


class LiveHub:
    """The process's one connection to the broker and its cache of every zone it has heard of."""

    def __init__(self, broker: BrokerUrl, *, clock: Callable[[], datetime] | None = None,
                 reconnect_s: tuple[int, int] = RECONNECT_S, client_id: str | None = None) -> None:
        self.broker = broker
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._zones: dict[ZoneKey, LiveZone] = {}
        self._waiting: dict[str, _Waiter] = {}
        self._sent: dict[str, datetime] = {}  # command id -> its expiry: an id goes out once, ever
        self._health = LinkHealth(False, self.clock(), None)
        name = client_id or f"portal-{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, clean_session=True)
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self._client.tls_set(ca_certs=broker.ca, certfile=broker.cert, keyfile=broker.key)
        self._client.reconnect_delay_set(min_delay=reconnect_s[0], max_delay=reconnect_s[1])
        self._client.on_socket_open = _no_delay
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._started = False

    @property
    def account(self) -> str:
        """The broker account commands are published as (their branch: `.../cmd/ACCOUNT`)."""
        return self.broker.username or "anonymous"

    def start(self) -> LiveHub:
        """Connect in the background (a broker down at start is retried like a lost one)."""
        if not self._started:
            self._started = True
            self._client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_S)
            self._client.loop_start()
        return self

    def close(self) -> None:
        """Disconnect and stop the network thread; commands still waiting end as `no_answer`."""
        if self._started:
            self._started = False
            self._client.disconnect()
            self._client.loop_stop()
        with self._lock:
            self._health = LinkHealth(False, self.clock(), "closed")

    def __enter__(self) -> LiveHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------- reading

    def health(self) -> LinkHealth:
        """Connected or not, since when, and the last error (for the "live data unavailable since" banner)."""
        with self._lock:
            return self._health

    def view(self, key: ZoneKey) -> LiveZone | None:
        """The zone as last heard, or None when the broker never said anything of it."""
        with self._lock:
            return self._zones.get(key)

    def seen(self) -> set[ZoneKey]:
        """Every zone heard of on the broker (the admin page lists those not registered)."""
        with self._lock:
            return set(self._zones)

    # ------------------------------------------------------------------------------------------- sending

    def send(self, key: ZoneKey, command: Command, timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Publish `command` to the zone once (QoS 1, on the portal's branch) and wait for its ack.

        NotSent when the link is down (a queued command could act minutes later) or the id was sent before (a
        command goes out once, ever); `no_answer` when no ack came in time: it may or may not have been applied,
        and it is never published again (a broker that did not confirm it may still deliver it, until it
        expires; the daemon applies an id once)."""
        now = self.clock()
        with self._lock:
            if command.id in self._sent:
                raise NotSent("already_sent", "이미 보낸 명령입니다. 같은 명령은 다시 보내지 않습니다.",
                              "this command was already sent; a command is never sent twice")
            if not self._health.connected:
                raise NotSent("link_down", "실시간 연결이 끊겨 명령을 보내지 않았습니다.",
                              "the live link is down: the command was not sent")
            for cid in [c for c, expires in self._sent.items() if expires + SENT_KEPT < now]:
                del self._sent[cid]
            self._sent[command.id] = command.expires_at
            waiter = self._waiting[command.id] = _Waiter(key, threading.Event())
        try:
            info = self._client.publish(command_topic(key.site, key.zone, self.account), command_json(command), qos=1)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                # not queued either (NO_CONN is queued by paho and goes out on reconnect: an answer may come)
                raise NotSent("link_down", "실시간 연결 오류로 명령을 보내지 않았습니다.",
                              f"the command was not sent: {mqtt.error_string(info.rc)}")
            answered = waiter.done.wait(timeout)
        finally:
            with self._lock:
                self._waiting.pop(command.id, None)
        if answered and waiter.result is not None:
            return waiter.result
        zone = self.view(key)
        return CommandResult(command.id, "no_answer", None, zone.status if zone else "unknown")

    # ------------------------------------------------------------------------------- paho's network thread

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._down(f"broker {self.broker.shown} refused the connection: {reason}")
            return
        client.subscribe(FILTERS)
        with self._lock:
            self._health = LinkHealth(True, self.clock(), self._health.error)
        log.info("live link up: %s", self.broker.shown)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._down(f"cannot connect to broker {self.broker.shown}")

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._started:  # not our own close()
            self._down(f"connection to broker {self.broker.shown} lost: {reason}")

    def _down(self, error: str) -> None:
        with self._lock:
            before = self._health
            self._health = LinkHealth(False, self.clock() if before.connected else before.since, error)
        if before.connected or error != before.error:  # one line per change, not one per retry
            log.warning("live link down: %s", error)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:  # an exception here would end paho's network thread: every payload is survived
            self._absorb(message.topic, message.payload)
        except Exception:
            log.exception("live: message on %s not handled", quote(message.topic))

    def _absorb(self, name: str, payload: bytes) -> None:
        try:
            parts = parse_topic(name)
        except ValueError:
            return  # outside the scheme (our filters only match four levels, but a broker is not us)
        key = ZoneKey(parts.site, parts.zone)
        if parts.leaf == "ack":
            self._answer(key, payload)
            return
        value, is_json = lenient(payload)
        now = self.clock()
        with self._lock:
            zone = self._zones.get(key) or LiveZone(key)
            if value == "" and parts.leaf in ("status", "state", "alarms"):  # a retained message cleared
                self._zones[key] = _cleared(zone, parts.leaf)
                return
            message, problem = typed(parts.leaf, payload, value, is_json)
            if message is None:
                if problem != zone.problem:  # one line per new problem, not one per repeat
                    log.warning("live: %s/%s ignored (the last good value stays): %s", key, parts.leaf, problem)
                self._zones[key] = replace(zone, problem=problem, problem_leaf=parts.leaf)
                return
            if zone.problem_leaf == parts.leaf:
                zone = replace(zone, problem=None, problem_leaf=None)
            self._zones[key] = _updated(zone, message, value if is_json else None, now)

    def _answer(self, key: ZoneKey, payload: bytes) -> None:
        value, is_json = lenient(payload)
        cid = value.get("id") if is_json and isinstance(value, dict) else None
        with self._lock:
            waiter = self._waiting.get(cid) if isinstance(cid, str) else None
            if waiter is None or waiter.key != key or waiter.done.is_set():
                return  # another sender's, or another zone's answer with a look-alike id
            zone = self._zones.get(key)
            status: ZoneStatus = zone.status if zone else "unknown"
            try:
                ack = Ack.from_json(payload)
                waiter.result = CommandResult(cid, "ok" if ack.ok else "rejected", ack, status)
            except MessageError as exc:
                waiter.result = CommandResult(cid, "malformed", None, status, str(exc))
            waiter.done.set()


def _updated(zone: LiveZone, message: object, raw: object, now: datetime) -> LiveZone:
    """The zone with one good message taken in."""
    if isinstance(message, str):
        return replace(zone, status="online" if message == "online" else "offline")
    if isinstance(message, StateMessage):
        taken = state_time(raw) if isinstance(raw, dict) else None
        return replace(zone, state=message, state_received=now, state_taken=taken)
    if isinstance(message, AlarmListMessage):
        return replace(zone, alarms=message.alarms)
    if isinstance(message, EventMessage):
        return replace(zone, events=(*zone.events, message)[-EVENTS_KEPT:])
    return zone


def _cleared(zone: LiveZone, leaf: str) -> LiveZone:
    """An empty retained message deletes the retained one: the zone no longer says it."""
    if leaf == "status":
        return replace(zone, status="unknown")
    if leaf == "state":
        return replace(zone, state=None, state_received=None, state_taken=None)
    return replace(zone, alarms=())


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Commands and acks are small and latency-bound: no Nagle (as farmcore.link.brokerurl.NODELAY)."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
