"""A site's live zones over MQTT, for programs: the portal's door to them, and `farmctl zone`'s.

    client = ZoneClient(parse_broker_url(url), "gyeongbuk-demo", zones=("gh1", "gh2"))
    views = await client.snapshot()          # {zone: ZoneView}: retained status, state and alarms, typed
    result = await client.send("gh1", new_command("override", issued_by="portal:kim", target="heater",
                                                  value="on", duration_s=600))
    async with contextlib.aclosing(client.watch()) as updates:
        async for update in updates: ...     # Update: one message as it comes, typed

No click and no printing. `zones` is what the caller may see: other zones' topics are neither subscribed to nor
published on (the portal decides tenancy, this enforces it on the wire). A payload that is not what it should
be is a `Problem` line, never an exception: the broker carries whatever anyone with write access sent. A
command's ack is awaited by its id; none in time is `no_answer`, never a silent success. Each call opens its
own connection (a watch holds one while it runs), so calls may run side by side. Broker trouble is a
FarmError naming the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiomqtt

from farmcore.errors import FarmError
from farmcore.link.brokerurl import BrokerUrl
from farmcore.link.messages import (
    Ack,
    AlarmEntry,
    AlarmListMessage,
    Command,
    CommandError,
    EventMessage,
    MessageError,
    StateMessage,
    check_kind_fields,
    iso,
    validate_command,
)
from farmcore.link.topics import command_topic, commands_filter, parse_topic, topic, zones_filter
from farmcore.link.zonecheck import QUIET_S, STATUS_WAIT_S, check_zone_seen, retained_statuses

ZoneStatus = Literal["online", "offline", "unknown"]
Outcome = Literal["ok", "rejected", "no_answer", "malformed"]
STATUS_LEAVES = ("status", "state", "alarms")
WATCH_LEAVES = ("status", "state", "alarms", "events", "cmd", "ack")
DEFAULT_TIMEOUT_S = 10.0
AHEAD_S = 5.0  # a state stamped further ahead of this machine's clock: a fast twin or a wrong clock
QUOTE = 60  # characters of a bad payload quoted in a problem


@dataclass(frozen=True)
class Problem:
    """A payload that is not its message. `readable`: JSON of the right kind (an object, a list) that does not
    fit the message's schema; not readable: not even that (or a status other than online/offline)."""

    leaf: str
    text: str
    readable: bool = False


@dataclass(frozen=True)
class ZoneView:
    """What the broker holds for one zone. `state`/`alarms` are the typed messages (None / () when absent or not
    valid, then `problems` says why); `raw_state`/`raw_alarms` the JSON as published, for a tool that shows
    what it can of a payload of another version."""

    zone: str
    status: ZoneStatus = "unknown"
    state: StateMessage | None = None
    alarms: tuple[AlarmEntry, ...] = ()
    state_age_s: float | None = None  # from the state's time; for a clock ahead, from when it arrived live
    clock_ahead_s: float | None = None  # the state's time is this far ahead of this machine's clock
    problems: tuple[Problem, ...] = ()
    raw_state: dict[str, Any] | None = None
    raw_alarms: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class CommandResult:
    """The answer to one command: `ok`, `rejected` (the ack says why), `no_answer` (no ack in time: the command
    may or may not have been applied) or `malformed` (an answer with our id that is not an ack)."""

    command_id: str
    outcome: Outcome
    ack: Ack | None
    zone_status: ZoneStatus  # the zone's status while we waited
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


Message = StateMessage | AlarmListMessage | EventMessage | Ack | Command | str


@dataclass(frozen=True)
class Update:
    """One message as `watch` passes it on: typed in `message` (a status is its word), or `problem`."""

    topic: str
    zone: str  # "-" for a topic outside the scheme
    leaf: str
    retained: bool
    received: datetime
    payload: Any  # the parsed JSON, or the text
    is_json: bool
    message: Message | None = None
    problem: str | None = None


def new_command(kind: str, *, issued_by: str, target: str | None = None, value: bool | float | str | None = None,
                duration_s: float | None = None, reason: str = "", expires_in_s: float = 60.0,
                command_id: str | None = None, now: datetime | None = None) -> Command:
    """A command issued now (to the second) and expiring `expires_in_s` later, checked as the daemon checks its
    schema and its kind's fields; CommandError (`unknown_kind`, `invalid_command`) if it is not one."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    raw: dict[str, Any] = {"id": command_id or uuid.uuid4().hex, "issued_by": issued_by, "issued_at": iso(now),
                           "expires_at": iso(now + timedelta(seconds=expires_in_s)), "kind": kind}
    for name, given in (("target", target), ("value", value), ("duration_s", duration_s)):
        if given is not None:
            raw[name] = given
    if reason:
        raw["reason"] = reason
    command = validate_command(raw)
    check_kind_fields(command)
    return command


def command_json(command: Command) -> bytes:
    """A command as published: compact JSON without the fields it does not use."""
    return command.model_dump_json(exclude_defaults=True).encode()


def lenient(payload: Any) -> tuple[Any, bool]:
    """A payload -> (the parsed JSON, True) or (its text, False), whatever it is."""
    if isinstance(payload, bytes | bytearray):
        text = bytes(payload).decode("utf-8", "replace")
    else:
        text = "" if payload is None else str(payload)
    try:
        return json.loads(text), True
    except (ValueError, RecursionError):
        return text, False


def quote(text: str, limit: int = QUOTE) -> str:
    """One printable line of at most `limit` characters (payloads come from anyone with write access)."""
    flat = "".join(c if c.isprintable() else " " for c in text)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def state_time(state: dict[str, Any]) -> datetime | None:
    """When a state was taken (`time`, ISO 8601 or epoch seconds; older shapes: at, timestamp, ts)."""
    for key in ("time", "at", "timestamp", "ts"):
        value = state.get(key)
        try:
            if isinstance(value, str):
                t = datetime.fromisoformat(value)
                return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return None


def typed(leaf: str, payload: Any, value: Any, is_json: bool) -> tuple[Message | None, str | None]:
    """A message of `leaf` -> (its typed message, None) or (None, one line saying what is wrong with it)."""
    if leaf == "status":
        word = str(value).strip().lower() if not is_json else ""
        return (word, None) if word in ("online", "offline") else (None, f"status is not online/offline: "
                                                                          f"{quote(str(value))}")
    data = payload if isinstance(payload, bytes | bytearray | str) else b""
    try:
        if leaf == "cmd":
            return Command.from_json(data), None
        kind = {"state": StateMessage, "alarms": AlarmListMessage, "events": EventMessage, "ack": Ack}[leaf]
        return kind.from_json(data), None
    except MessageError as exc:
        return None, str(exc)
    except CommandError as exc:
        return None, f"cmd: {exc.code}: {exc.message}"


class _Zone:
    """A ZoneView being collected."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self.status: ZoneStatus = "unknown"
        self.state: StateMessage | None = None
        self.alarms: tuple[AlarmEntry, ...] = ()
        self.raw_state: dict[str, Any] | None = None
        self.raw_alarms: list[Any] = []
        self.problems: list[Problem] = []
        self.live: datetime | None = None  # when a state arrived as published (not a retained copy)

    def absorb(self, leaf: str, payload: Any) -> None:
        value, is_json = lenient(payload)
        if value == "":  # an empty message clears a retained one
            if leaf == "status":
                self.status = "unknown"
            elif leaf == "state":
                self.state, self.raw_state = None, None
            else:
                self.alarms, self.raw_alarms = (), []
            return
        message, problem = typed(leaf, payload, value, is_json)
        readable = False
        if leaf == "status":
            self.status = _status(message if isinstance(message, str) else "")
        elif leaf == "state":
            readable = is_json and isinstance(value, dict)
            self.raw_state = value if readable else None
            self.state = message if isinstance(message, StateMessage) else None
            if not readable:
                problem = f"state is not a JSON object: {quote(str(value))}"
        else:
            readable = is_json and isinstance(value, list)
            self.raw_alarms = value if readable else []
            self.alarms = message.alarms if isinstance(message, AlarmListMessage) else ()
            if not readable:
                problem = f"alarms is not a JSON list: {quote(str(value))}"
        if problem is not None:
            self.problems.append(Problem(leaf, problem, readable))

    def view(self, now: datetime) -> ZoneView:
        taken = state_time(self.raw_state) if self.raw_state is not None else None
        ahead = None if taken is None else (taken - now).total_seconds()
        clock_ahead = None
        if ahead is not None and ahead > AHEAD_S:  # a twin faster than real time, or a wrong clock
            clock_ahead = round(ahead, 1)
            taken = self.live  # its own time says nothing about its age here; when it arrived does
        age = None if taken is None else max(0.0, round((now - taken).total_seconds(), 1))
        return ZoneView(self.zone, self.status, self.state, self.alarms, age, clock_ahead, tuple(self.problems),
                        self.raw_state, self.raw_alarms)


class ZoneClient:
    """Read, command and watch the zones of one site that the caller may see (`zones`; None: every zone).

    `known`: the zones the site should have (its site file's), listed by `snapshot` even when silent."""

    def __init__(self, broker: BrokerUrl, site: str, zones: Sequence[str] | None = None, *,
                 known: Sequence[str] = (), timeout: float = DEFAULT_TIMEOUT_S) -> None:
        zones_filter(site, "status")  # a bad site id fails here, not at the first call
        if zones is not None and not zones:
            raise ValueError("zones: name at least one zone the client may see, or None for every zone")
        self.broker, self.site, self.timeout = broker, site, timeout
        self.zones = None if zones is None else tuple(dict.fromkeys(zones))
        for zone in self.zones or ():
            topic(site, zone, "status")
        self.known = tuple(z for z in known if self.zones is None or z in self.zones)

    def _select(self, zones: Sequence[str] | None) -> tuple[str, ...]:
        """The zones asked for (default: all visible; () means the whole site); ValueError for one not visible."""
        chosen = tuple(dict.fromkeys(zones)) if zones else (self.zones or ())
        hidden = [z for z in chosen if self.zones is not None and z not in self.zones]
        if hidden:
            raise ValueError(f"zone {hidden[0]!r} is not among the zones this client may see")
        for zone in chosen:
            topic(self.site, zone, "status")  # checks the id: a `+` or `#` would widen a subscription
        return chosen

    def _filters(self, zones: tuple[str, ...], leaves: Sequence[str]) -> list[str]:
        if zones:
            return [commands_filter(self.site, z) if leaf == "cmd" else topic(self.site, z, leaf)
                    for leaf in leaves for z in zones]
        return [zones_filter(self.site, leaf) for leaf in leaves]

    @contextlib.asynccontextmanager
    async def _connected(self, timeout: float | None = None) -> AsyncIterator[aiomqtt.Client]:
        """A connection; a FarmError naming the broker when it cannot be made or is lost."""
        client = self.broker.client(f"zoneclient-{uuid.uuid4().hex[:12]}", timeout=timeout or self.timeout)
        up = False
        try:
            async with client:
                up = True
                yield client
        except aiomqtt.MqttError as exc:
            raise FarmError(f"broker {self.broker.shown}: {'connection lost' if up else 'cannot connect'}: "
                            f"{exc}") from None

    async def snapshot(self, zones: Sequence[str] | None = None, *, quiet: float = QUIET_S) -> dict[str, ZoneView]:
        """{zone: ZoneView} from the retained status, state and alarms, sorted by zone; waits until `quiet` s pass
        without a retained message (at most the client's timeout). Live states of a running site never stop
        coming, so only retained ones extend the wait."""
        chosen = self._select(zones)
        out = {z: _Zone(z) for z in (chosen or self.known)}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        quiet_until = loop.time() + quiet
        async with self._connected() as client:
            await client.subscribe([(f, 1) for f in self._filters(chosen, STATUS_LEAVES)])
            while (left := min(quiet_until, deadline) - loop.time()) > 0:
                try:
                    message = await asyncio.wait_for(anext(client.messages), left)
                except TimeoutError:
                    break
                if message.retain:
                    quiet_until = loop.time() + quiet
                with contextlib.suppress(ValueError):
                    parts = parse_topic(str(message.topic))
                    if parts.site == self.site and parts.leaf in STATUS_LEAVES and (
                            self.zones is None or parts.zone in self.zones):
                        entry = out.setdefault(parts.zone, _Zone(parts.zone))
                        entry.absorb(parts.leaf, message.payload)
                        if parts.leaf == "state" and not message.retain:
                            entry.live = datetime.now(UTC)
        now = datetime.now(UTC)
        return {zone: out[zone].view(now) for zone in sorted(out)}

    async def send(self, zone: str, command: Command, *, timeout: float | None = None) -> CommandResult:
        """Publish `command` to `zone` (QoS 1, on our account's branch) and wait for the ack with its id.

        First the retained statuses must show the zone's daemon has connected to this broker: otherwise nothing
        is sent (BadInput for a zone the site does not have, FarmError for one never seen)."""
        self._select((zone,))
        wait = timeout or self.timeout
        async with self._connected(wait) as client:
            statuses = await retained_statuses(client, self.site, wait=min(wait, STATUS_WAIT_S),
                                               zones=self.zones or ())
            check_zone_seen(self.broker, self.site, zone, statuses, self.known)
            status = _status(statuses[zone])
            status_topic = topic(self.site, zone, "status")
            await client.subscribe([(topic(self.site, zone, "ack"), 1)])
            await client.publish(command_topic(self.site, zone, self.account), command_json(command), qos=1)
            try:
                async with asyncio.timeout(wait):
                    async for message in client.messages:
                        value, is_json = lenient(message.payload)
                        if str(message.topic) == status_topic:
                            status = _status("" if is_json else str(value))
                        elif is_json and isinstance(value, dict) and value.get("id") == command.id:
                            return _answer(command.id, message.payload, status)
            except TimeoutError:
                pass
        return CommandResult(command.id, "no_answer", None, status)

    @property
    def account(self) -> str:
        """The broker account we publish as: commands go to its own branch, `.../cmd/ACCOUNT`."""
        return self.broker.username or "anonymous"

    async def watch(self, zones: Sequence[str] | None = None, leaves: Sequence[str] = WATCH_LEAVES, *,
                    seconds: float | None = None, count: int | None = None) -> AsyncIterator[Update]:
        """Every message of `leaves` of the zones (retained ones first) as an `Update`, until `seconds` or
        `count` (or the caller stops; wrap in `contextlib.aclosing` to close the connection at once)."""
        chosen = self._select(zones)
        unknown = [leaf for leaf in leaves if leaf not in WATCH_LEAVES]
        if unknown:
            raise ValueError(f"leaf {unknown[0]!r} is not one of {', '.join(WATCH_LEAVES)}")
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        passed = 0
        async with self._connected() as client:
            await client.subscribe([(f, 1) for f in self._filters(chosen, leaves)])
            while count is None or passed < count:
                left = None if deadline is None else deadline - loop.time()
                if left is not None and left <= 0:
                    return
                try:
                    message = await asyncio.wait_for(anext(client.messages), left)
                except TimeoutError:
                    return
                yield _update(message)
                passed += 1


def _status(word: str) -> ZoneStatus:
    word = word.strip().lower()
    return "online" if word == "online" else "offline" if word == "offline" else "unknown"


def _answer(command_id: str, payload: Any, status: ZoneStatus) -> CommandResult:
    try:
        ack = Ack.from_json(payload if isinstance(payload, bytes | bytearray | str) else b"")
    except MessageError as exc:
        return CommandResult(command_id, "malformed", None, status, str(exc))
    return CommandResult(command_id, "ok" if ack.ok else "rejected", ack, status)


def _update(message: aiomqtt.Message) -> Update:
    name = str(message.topic)
    try:
        parts = parse_topic(name)
        zone, leaf = parts.zone, parts.leaf
    except ValueError:
        zone, leaf = "-", "-"
    value, is_json = lenient(message.payload)
    typed_message, problem = typed(leaf, message.payload, value, is_json) if leaf != "-" else (None, None)
    return Update(name, zone, leaf, bool(message.retain), datetime.now(UTC), value, is_json, typed_message, problem)
