"""`farmctl zone status|cmd|watch` (also `aquactl zone ...`): a site's zones over MQTT, for the technician.

    zone status --site S [--zone Z]... [--json]                      retained status, state and alarms
    zone cmd    --site S --zone Z KIND [TARGET] [VALUE] [--for S] ...  one command, wait for its ack
    zone watch  --site S [--zone Z]... [--leaf L]... [--json] [--for S] [--count N]

`--site` is a site id or a site file (then its id, its zones and its time zone). The broker is `--broker URL`,
else $FARMCTL_MQTT, else the site file's `[runtime] mqtt`; use the `technician` account (it may publish any
zone's `cmd` and read the whole site). The async work lives in plain functions (`collect_status`,
`send_command`, `watch`) so tests and scripts can call them; the click commands only parse and print.
A payload that is not JSON or not the expected shape is shown as clipped text, never a crash: the broker
carries whatever anyone with write access sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import math
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiomqtt
import click

from farmcore import i18n
from farmcore.errors import BadInput, FarmError
from farmcore.link.brokerurl import BrokerUrl, parse_broker_url
from farmcore.link.messages import (
    ID_PATTERN,
    KINDS,
    MAX_DURATION_S,
    CommandError,
    command_topic,
    iso,
    parse_topic,
    topic,
    validate_command,
    zones_filter,
)
from farmcore.link.zonecheck import QUIET_S, STATUS_WAIT_S, check_zone_seen, retained_statuses
from farmcore.site import load_site
from farmcore.textui import table

BROKER_ENV = "FARMCTL_MQTT"
DEFAULT_TZ = "Asia/Seoul"
DEFAULT_TIMEOUT_S = 10.0
AHEAD_S = 5.0  # a state stamped further ahead of this machine's clock: a fast twin or a wrong clock
CLIP = 120
STATUS_LEAVES = ("status", "state", "alarms")
WATCH_LEAVES = ("status", "state", "alarms", "events", "cmd", "ack")
KEY_QUANTITIES = ("air_temperature", "relative_humidity", "co2", "water_temperature", "dissolved_oxygen", "ph",
                  "ec", "soil_moisture", "par", "solar_radiation", "water_level", "salinity")
KEY_READINGS = 4  # readings shown in a table cell or a watch line (--json has them all)

# which of target / value / --for each kind takes (the daemon checks the same; DESIGN.md § MQTT)
NEEDS: dict[str, dict[str, str]] = {
    "setpoint": {"target": "required", "value": "required", "duration_s": "no"},
    "override": {"target": "required", "value": "required", "duration_s": "required"},
    "release": {"target": "required", "value": "no", "duration_s": "no"},
    "recipe": {"target": "no", "value": "required", "duration_s": "no"},
    "feed_now": {"target": "no", "value": "optional", "duration_s": "no"},
    "ack_alarm": {"target": "required", "value": "no", "duration_s": "no"},
}
USAGE = {"setpoint": "setpoint QUANTITY NUMBER", "override": "override ACTUATOR on|off|open|close|0..100 --for S",
         "release": "release ACTUATOR|QUANTITY", "recipe": "recipe RECIPE_ID", "feed_now": "feed_now [KG]",
         "ack_alarm": "ack_alarm ALARM_ID"}


# ------------------------------------------------------------------------------------------------ where to


@dataclass(frozen=True)
class Target:
    """Broker, site id, the zones asked for, the zones the site file lists, and the local time zone."""

    broker: BrokerUrl
    site: str
    zones: tuple[str, ...]
    known: tuple[str, ...]
    tz: ZoneInfo


def _check_id(what: str, value: str) -> None:
    """Ids go into topic filters: a `+` or `#` in one would widen a subscription."""
    if not re.fullmatch(ID_PATTERN, value):
        raise BadInput(f"--{what} {value!r}: an id must match {ID_PATTERN}")


def resolve(broker_url: str | None, site_ref: str, zones: Sequence[str] = (),
            environ: dict[str, str] | None = None) -> Target:
    """The options -> a `Target`; BadInput (exit 2) naming the option that is missing or wrong."""
    env = os.environ if environ is None else environ
    site_file = None
    path = Path(site_ref).expanduser()
    if site_ref.endswith(".toml") or os.sep in site_ref or path.is_file():
        site_file = load_site(path)
        site_id = site_file.site.id
    else:
        _check_id("site", site_ref)
        site_id = site_ref
    for zone in zones:
        _check_id("zone", zone)
    known = tuple(z.id for z in site_file.zones) if site_file is not None else ()
    unknown = [z for z in zones if known and z not in known]
    if unknown:
        raise BadInput(f"--zone {unknown[0]!r}: site {site_id} has no such zone; zones: {', '.join(known)}")
    url = broker_url or env.get(BROKER_ENV) or (getattr(site_file.runtime, "mqtt", None) if site_file else None)
    if not url:
        raise BadInput(f"no broker: give --broker URL or set {BROKER_ENV} (or [runtime] mqtt in the site file)")
    tz_name = site_file.site.timezone if site_file is not None else DEFAULT_TZ
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo(DEFAULT_TZ)
    return Target(broker=parse_broker_url(url, environ=env), site=site_id, zones=tuple(dict.fromkeys(zones)),
                  known=known, tz=tz)


@contextlib.asynccontextmanager
async def connected(broker: BrokerUrl, timeout: float) -> AsyncIterator[aiomqtt.Client]:
    """A connection as a FarmError (exit 1) naming the broker when it cannot be made or is lost."""
    client = broker.client(f"zonecli-{uuid.uuid4().hex[:12]}", timeout=timeout)
    up = False
    try:
        async with client:
            up = True
            yield client
    except aiomqtt.MqttError as exc:
        what = "connection lost" if up else "cannot connect"
        raise FarmError(f"broker {broker.shown}: {what}: {exc}") from None


# --------------------------------------------------------------------------------------------- payloads


def clip(text: str, limit: int = CLIP) -> str:
    """One printable line of at most `limit` characters (payloads come from anyone with write access)."""
    flat = "".join(c if c.isprintable() else " " for c in text)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def decode(payload: Any) -> tuple[Any, bool]:
    """A message payload -> (the parsed JSON, True) or (its text, False)."""
    if isinstance(payload, bytes | bytearray):
        text = bytes(payload).decode("utf-8", "replace")
    else:
        text = "" if payload is None else str(payload)
    try:
        return json.loads(text), True
    except (ValueError, RecursionError):
        return text, False


def fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{round(value, 2):g}" if math.isfinite(value) else str(value)
    return "-" if value is None else clip(str(value), 24)


def _text(value: Any) -> str:
    """A message field that may be text or {ko, en}."""
    if isinstance(value, dict):
        value = value.get(i18n.language()) or value.get("en") or value.get("ko") or ""
    return "" if value is None else clip(str(value))


def state_time(state: dict[str, Any]) -> datetime | None:
    """When the state was taken (`time`, ISO 8601 or epoch seconds); None if absent or unreadable."""
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


def recipe_text(state: dict[str, Any]) -> str:
    """`id@version stage` from a state's recipe (an object, or an id with version and stage beside it)."""
    recipe = state.get("recipe")
    if isinstance(recipe, dict):
        rid, version, stage = recipe.get("id"), recipe.get("version"), recipe.get("stage", state.get("stage"))
    else:
        rid, version, stage = recipe, state.get("recipe_version"), state.get("stage")
    if rid in (None, ""):
        return "-"
    label = f"{rid}@{version}" if version not in (None, "") else str(rid)
    return clip(f"{label} {stage}" if stage not in (None, "") else label, 40)


def readings(state: dict[str, Any]) -> list[tuple[str, Any, str, str | None]]:
    """(quantity, value, unit, quality) from `readings` as {q: {value, unit, quality}}, {q: value} or a list."""
    raw = state.get("readings")
    items: list[tuple[str, Any]] = []
    if isinstance(raw, dict):
        items = [(str(q), r) for q, r in raw.items()]
    elif isinstance(raw, list):
        items = [(str(r.get("quantity") or r.get("name") or "?"), r) for r in raw if isinstance(r, dict)]
    out = []
    for q, r in items:
        if isinstance(r, dict):
            quality = r.get("quality")
            out.append((q, r.get("value"), str(r.get("unit") or ""), None if quality is None else str(quality)))
        else:
            out.append((q, r, "", None))
    rank = {q: n for n, q in enumerate(KEY_QUANTITIES)}
    return sorted(out, key=lambda r: rank.get(r[0], len(rank)))


def readings_text(state: dict[str, Any], limit: int = KEY_READINGS) -> str:
    parts = []
    for q, value, unit, quality in readings(state)[:limit]:
        flag = f"({quality})" if quality not in (None, "good", "ok") else ""
        parts.append(f"{q}={fmt_value(value)}{' ' + unit if unit else ''}{flag}")
    return " ".join(parts) or "-"


def active_alarms(alarms: list[Any]) -> int:
    """Active entries (the retained list also keeps cleared but unacknowledged ones)."""
    return sum(1 for a in alarms if not isinstance(a, dict) or a.get("active", True))


def summary(leaf: str, payload: Any, is_json: bool) -> str:
    """One short line for a message of `leaf`; the raw text (clipped) when it is not the expected shape."""
    raw = clip(payload if not is_json else json.dumps(payload, ensure_ascii=False))
    if leaf == "status":
        return raw if is_json else clip(payload)
    if leaf == "alarms" and isinstance(payload, list):
        ids = [str(a.get("id")) if isinstance(a, dict) else str(a) for a in payload]
        return clip(f"{active_alarms(payload)} {i18n.t('active')} / {len(payload)}: {', '.join(ids) or '-'}")
    if not isinstance(payload, dict):
        return f"{i18n.t('raw')}: {raw}"
    if leaf == "state":
        mode = payload.get("mode")
        return clip(f"{fmt_value(mode)} {recipe_text(payload)} {readings_text(payload)}", 200)
    if leaf == "events":
        alarm = payload.get("alarm") if isinstance(payload.get("alarm"), dict) else {}
        code = payload.get("code") or payload.get("type") or payload.get("kind") or "?"
        message = _text(payload.get("message")) or " ".join(
            x for x in (str(alarm.get("id") or ""), _text(alarm.get("message"))) if x)
        return clip(f"{code} {message}".strip(), 200)
    if leaf == "ack":
        verdict = i18n.t("ok") if payload.get("ok") is True else f"{i18n.t('rejected')} {payload.get('error')}"
        return clip(f"{payload.get('id')} {verdict} {_text(payload.get('message'))}".strip(), 200)
    if leaf == "cmd":
        what = " ".join(fmt_value(payload.get(k)) for k in ("target", "value") if payload.get(k) is not None)
        extra = f" {payload['duration_s']}s" if payload.get("duration_s") is not None else ""
        return clip(f"{payload.get('id')} {payload.get('kind')} {what}{extra} by {payload.get('issued_by')}", 200)
    return raw


# ----------------------------------------------------------------------------------------------- status


def _blank() -> dict[str, Any]:
    return {"status": "unknown", "state": None, "alarms": [], "state_age_s": None, "clock_ahead_s": None,
            "notes": []}


def absorb(zones: dict[str, dict[str, Any]], leaf: str, zone: str, payload: Any) -> None:
    """One status/state/alarms message into its zone's entry; a bad payload becomes a note, not an error."""
    entry = zones.setdefault(zone, _blank())
    value, is_json = decode(payload)
    if value == "":  # an empty message clears a retained one
        entry.update({"status": "unknown"} if leaf == "status" else {"state": None} if leaf == "state"
                     else {"alarms": []})
    elif leaf == "status":
        word = str(value).strip().lower() if not is_json else ""
        entry["status"] = word if word in ("online", "offline") else "unknown"
        if entry["status"] == "unknown":
            entry["notes"].append(f"status is not online/offline: {clip(str(value), 60)}")
    elif leaf == "state":
        entry["state"] = value if is_json and isinstance(value, dict) else None
        if entry["state"] is None:
            entry["notes"].append(f"state is not a JSON object: {clip(str(value), 60)}")
    elif leaf == "alarms":
        entry["alarms"] = value if is_json and isinstance(value, list) else []
        if not (is_json and isinstance(value, list)):
            entry["notes"].append(f"alarms is not a JSON list: {clip(str(value), 60)}")


async def collect_status(broker: BrokerUrl, site: str, zones: Sequence[str] = (), *, known: Sequence[str] = (),
                         timeout: float = DEFAULT_TIMEOUT_S, quiet: float = QUIET_S) -> dict[str, dict[str, Any]]:
    """{zone: {status, state, alarms, state_age_s, notes}} from the retained messages (only `zones` if given).

    Zones in `known` (the site file's) that sent nothing are listed as unknown, so a silent zone shows."""
    filters = ([topic(site, z, leaf) for z in zones for leaf in STATUS_LEAVES] if zones
               else [zones_filter(site, leaf) for leaf in STATUS_LEAVES])
    out = {z: _blank() for z in (zones or known)}
    live: dict[str, datetime] = {}  # zone -> when a state arrived as it was published (not a retained copy)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet_until = loop.time() + quiet
    async with connected(broker, timeout) as client:
        await client.subscribe([(f, 1) for f in filters])
        # Live states of a running site never stop coming; only retained copies extend the wait.
        while (left := min(quiet_until, deadline) - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(anext(client.messages), left)
            except TimeoutError:
                break
            if message.retain:
                quiet_until = loop.time() + quiet
            with contextlib.suppress(ValueError):
                parts = parse_topic(str(message.topic))
                if parts.site == site and parts.leaf in STATUS_LEAVES:
                    absorb(out, parts.leaf, parts.zone, message.payload)
                    if parts.leaf == "state" and not message.retain:
                        live[parts.zone] = datetime.now(UTC)
    now = datetime.now(UTC)
    for zone, entry in out.items():
        taken = state_time(entry["state"]) if entry["state"] is not None else None
        ahead = None if taken is None else (taken - now).total_seconds()
        if ahead is not None and ahead > AHEAD_S:  # a twin faster than real time, or a wrong clock
            entry["clock_ahead_s"] = round(ahead, 1)
            taken = live.get(zone)  # its own time says nothing about its age here; when it arrived does
        entry["state_age_s"] = None if taken is None else max(0.0, round((now - taken).total_seconds(), 1))
    return dict(sorted(out.items()))


def status_text(site: str, broker: BrokerUrl, zones: dict[str, dict[str, Any]]) -> str:
    head = f"{i18n.t('site')} {site}  {i18n.t('broker')} {broker.shown}"
    if not zones:
        return f"{head}\n{i18n.t('no zones seen')}"
    rows = []
    for zone, e in zones.items():
        state = e["state"] or {}
        age = e["state_age_s"]
        rows.append([zone, i18n.t(e["status"]), fmt_value(state.get("mode")), recipe_text(state),
                     "-" if age is None else f"{age:.0f}", active_alarms(e["alarms"]), readings_text(state)])
    headers = [i18n.t(h) for h in ("zone", "status", "mode", "recipe", "state age s", "alarms", "readings")]
    notes = [f"{i18n.t('warning')}: {zone}: {n}" for zone, e in zones.items() for n in e["notes"]]
    ahead = {zone: e["clock_ahead_s"] for zone, e in zones.items() if e["clock_ahead_s"] is not None}
    if ahead:  # one line for the site, not one per zone
        notes.append(f"{i18n.t('warning')}: " + i18n.t("clock ahead").format(
            zones=", ".join(ahead), seconds=f"{max(ahead.values()):.0f}"))
    return "\n".join([head, table(headers, rows), *notes])


# ---------------------------------------------------------------------------------------------- command


def parse_value(text: str) -> bool | float | str:
    """true/false -> bool, a number -> float, anything else (on, off, open, close, a recipe id) stays text."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        raise BadInput(f"value {text!r}: not a finite number")
    return number


def account_of(broker: BrokerUrl) -> str:
    """The broker account we publish as: commands go to its own branch, `.../cmd/ACCOUNT`."""
    return broker.username or "anonymous"


def login() -> str:
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):
        return "unknown"


def build_command(kind: str, args: Sequence[str], *, duration_s: float | None = None, reason: str = "",
                  issued_by: str | None = None, expires_in_s: float = 60.0, command_id: str | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """The command object of DESIGN.md § MQTT, checked here first (BadInput, exit 2: nothing is published)."""
    if kind not in KINDS:
        raise BadInput(f"unknown command kind {kind!r}; kinds: {', '.join(KINDS)}")
    need = NEEDS[kind]
    for arg in args:
        if arg.startswith("-") and isinstance(parse_value(arg), str):
            raise BadInput(f"no such option: {arg}")
    takes = [k for k in ("target", "value") if need[k] != "no"]
    if len(args) > len(takes):
        raise BadInput(f"{kind} takes {len(takes) or 'no'} argument(s), got {len(args)}; usage: zone cmd "
                       f"{USAGE[kind]}")
    given = dict(zip(takes, args, strict=False))
    for name in ("target", "value"):
        if need[name] == "required" and name not in given:
            raise BadInput(f"{kind} needs a {name.upper()}; usage: zone cmd {USAGE[kind]}")
    if need["duration_s"] == "required" and duration_s is None:
        raise BadInput(f"{kind} needs --for SECONDS (an override always ends; at most {MAX_DURATION_S:g} s)")
    if need["duration_s"] == "no" and duration_s is not None:
        raise BadInput(f"--for goes only with override, not {kind}")
    value: bool | float | str | None = None
    if "value" in given:
        value = given["value"] if kind == "recipe" else parse_value(given["value"])
        numeric = isinstance(value, float)
        if kind in ("setpoint", "feed_now") and not numeric:
            raise BadInput(f"{kind} value {given['value']!r}: expected a number")
        if kind == "feed_now" and not 0 < float(value) <= 100:
            raise BadInput(f"feed_now {given['value']} kg: above 0 and at most 100")
        if kind == "override" and not numeric and value not in (True, False, "on", "off", "open", "close"):
            raise BadInput(f"override value {given['value']!r}: on, off, true, false, open, close or 0..100")
    now = now or datetime.now(UTC)
    command: dict[str, Any] = {
        "id": command_id or uuid.uuid4().hex,
        "issued_by": issued_by or f"technician:{login()}",
        "issued_at": iso(now.replace(microsecond=0)),
        "expires_at": iso(now.replace(microsecond=0) + timedelta(seconds=expires_in_s)),
        "kind": kind,
    }
    if "target" in given:
        command["target"] = given["target"]
    if value is not None:
        command["value"] = value
    if duration_s is not None:
        command["duration_s"] = float(duration_s)
    if reason:
        command["reason"] = reason
    try:
        validate_command(command)
    except CommandError as exc:
        raise BadInput(f"command not sent: {exc.message}") from None
    return command


@dataclass(frozen=True)
class Reply:
    """The ack of our command (None when none came in time) and the zone's retained status meanwhile."""

    ack: dict[str, Any] | None
    zone_status: str


async def send_command(broker: BrokerUrl, site: str, zone: str, command: dict[str, Any], *,
                       timeout: float = DEFAULT_TIMEOUT_S, known: Sequence[str] = ()) -> Reply:
    """Check from the retained statuses that the zone exists and has connected (`check_zone_seen`), subscribe to
    its ack, publish the command (QoS 1), wait for the ack with our id."""
    async with connected(broker, timeout) as client:
        statuses = await retained_statuses(client, site, wait=min(timeout, STATUS_WAIT_S))
        check_zone_seen(broker, site, zone, statuses, known)
        status = statuses[zone]
        await client.subscribe([(topic(site, zone, "ack"), 1)])
        payload = json.dumps(command, ensure_ascii=False, separators=(",", ":")).encode()
        await client.publish(command_topic(site, zone, account_of(broker)), payload, qos=1)
        try:
            async with asyncio.timeout(timeout):
                async for message in client.messages:
                    value, is_json = decode(message.payload)
                    if str(message.topic) == topic(site, zone, "status"):
                        word = str(value).strip().lower()
                        status = word if not is_json and word in ("online", "offline") else "unknown"
                    elif is_json and isinstance(value, dict) and value.get("id") == command["id"]:
                        return Reply(value, status)
        except TimeoutError:
            pass
    return Reply(None, status)


def ack_text(ack: dict[str, Any]) -> str:
    ok = ack.get("ok") is True
    head = i18n.t("ok") if ok else f"{i18n.t('rejected')}  {ack.get('error') or '-'}"
    lines = [f"{head}  (id {ack.get('id')})"]
    if ack.get("message"):
        lines.append(f"{i18n.t('message')}: {_text(ack.get('message'))}")
    if ack.get("applied"):
        lines.append(f"{i18n.t('applied')}: {clip(json.dumps(ack['applied'], ensure_ascii=False), 300)}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ watch


@dataclass(frozen=True)
class Seen:
    """One message as `watch` passes it on."""

    topic: str
    zone: str
    leaf: str
    retained: bool
    payload: Any  # parsed JSON, or the text
    is_json: bool
    received: datetime

    def as_dict(self) -> dict[str, Any]:
        payload = self.payload if self.is_json else clip(self.payload, 4096)
        return {"topic": self.topic, "zone": self.zone, "leaf": self.leaf, "retained": self.retained,
                "time": iso(self.received), "payload": payload}

    def line(self, tz: ZoneInfo) -> str:
        local = self.received.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        mark = f" ({i18n.t('retained')})" if self.retained else ""
        return f"{local}  {self.zone:<8} {self.leaf:<7} {summary(self.leaf, self.payload, self.is_json)}{mark}"


def watch_filters(site: str, zones: Sequence[str], leaves: Sequence[str]) -> list[str]:
    return [topic(site, z, leaf) for leaf in leaves for z in zones] if zones else [
        zones_filter(site, leaf) for leaf in leaves]


async def watch(broker: BrokerUrl, site: str, zones: Sequence[str], leaves: Sequence[str],
                on_message: Callable[[Seen], None], *, seconds: float | None = None, count: int | None = None,
                timeout: float = DEFAULT_TIMEOUT_S) -> int:
    """Pass every message (retained ones first) to `on_message` until `seconds` or `count`; how many passed."""
    passed = 0
    async with connected(broker, timeout) as client:
        await client.subscribe([(f, 1) for f in watch_filters(site, zones, leaves)])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for message in client.messages:
                    text = str(message.topic)
                    try:
                        parts = parse_topic(text)
                        zone, leaf = parts.zone, parts.leaf
                    except ValueError:
                        zone, leaf = "-", "-"
                    value, is_json = decode(message.payload)
                    on_message(Seen(text, zone, leaf, bool(message.retain), value, is_json, datetime.now(UTC)))
                    passed += 1
                    if count is not None and passed >= count:
                        break
    return passed


# --------------------------------------------------------------------------------------------- commands


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--timeout", type=click.FloatRange(min=0.1, max=3600), default=DEFAULT_TIMEOUT_S,
                     show_default=True, help="seconds to connect (and, for cmd, to wait for the ack)")(f)
    f = click.option("--site", "site_ref", required=True, metavar="ID|FILE",
                     help="site id, or a site file (its id, zones and time zone)")(f)
    f = click.option("--broker", "broker_url", metavar="URL",
                     help=f"mqtt[s]://technician@HOST[:PORT]?password_file=PATH (default: ${BROKER_ENV}, "
                          "else the site file's [runtime] mqtt)")(f)
    return f


json_option = click.option("--json", "as_json", is_flag=True, help="print JSON on stdout")


@click.group("zone")
def zone() -> None:
    """A site's zones over MQTT: status, commands, live messages."""


@zone.command("status")
@_common
@click.option("--zone", "zones", multiple=True, metavar="ZONE", help="only this zone (repeatable)")
@json_option
def status_cmd(broker_url: str | None, site_ref: str, timeout: float, zones: tuple[str, ...],
               as_json: bool) -> None:
    """Each zone: online/offline, mode, recipe, state age, active alarms, key readings (retained messages)."""
    where = resolve(broker_url, site_ref, zones)
    found = _run(collect_status(where.broker, where.site, where.zones, known=where.known, timeout=timeout))
    if as_json:
        click.echo(json.dumps({"site": where.site, "broker": where.broker.shown, "zones": found},
                              ensure_ascii=False))
    else:
        click.echo(status_text(where.site, where.broker, found))


@zone.command("cmd", context_settings={"ignore_unknown_options": True})
@_common
@click.option("--zone", "zone_id", required=True, metavar="ZONE")
@click.argument("kind", metavar="KIND")  # checked by build_command: one line, not a usage page
@click.argument("args", nargs=-1, metavar="[TARGET] [VALUE]")
@click.option("--for", "duration_s", type=click.FloatRange(min=1, max=MAX_DURATION_S), metavar="SECONDS",
              help="how long an override lasts")
@click.option("--reason", default="", help="why (kept in the audit trail)")
@click.option("--by", "issued_by", metavar="WHO", help="issued_by: ACCOUNT or ACCOUNT:NAME, the broker account you "
              "connect as (default ACCOUNT:<login>)")
@click.option("--expires-in", type=click.FloatRange(min=1, max=86400), default=60.0, show_default=True,
              metavar="SECONDS", help="the daemon ignores the command after this long")
@click.option("--id", "command_id", metavar="ID", help="command id (default: a new uuid4)")
@json_option
def cmd_cmd(broker_url: str | None, site_ref: str, timeout: float, zone_id: str, kind: str, args: tuple[str, ...],
            duration_s: float | None, reason: str, issued_by: str | None, expires_in: float,
            command_id: str | None, as_json: bool) -> None:
    """Send one command to a zone and wait for its ack (exit 0 ok, 1 rejected or no ack).

    \b
    KIND (one of setpoint, override, release, recipe, feed_now, ack_alarm) and its arguments:
      setpoint QUANTITY NUMBER           release ACTUATOR|QUANTITY
      override ACTUATOR VALUE --for S    recipe RECIPE_ID
      feed_now [KG]                      ack_alarm ALARM_ID
    VALUE: true/false, on/off, open/close or a number (a position 0..100 %).
    """
    command = build_command(kind, args, duration_s=duration_s, reason=reason, issued_by=issued_by,
                            expires_in_s=expires_in, command_id=command_id)
    where = resolve(broker_url, site_ref, (zone_id,))
    if issued_by is None:  # a person under our own account: the daemon refuses any other name from us
        command["issued_by"] = f"{account_of(where.broker)}:{login()}"
    reply = _run(send_command(where.broker, where.site, zone_id, command, timeout=timeout, known=where.known))
    if reply.ack is None:
        raise FarmError(f"no ack for command {command['id']} from zone {zone_id} within {timeout:g} s "
                        f"(zone status: {reply.zone_status}; is its daemon running?)")
    click.echo(json.dumps(reply.ack, ensure_ascii=False) if as_json else ack_text(reply.ack))
    if reply.ack.get("ok") is not True:
        raise FarmError(f"zone {zone_id} rejected command {command['id']}: {reply.ack.get('error')}: "
                        f"{_text(reply.ack.get('message'))}")


@zone.command("watch")
@_common
@click.option("--zone", "zones", multiple=True, metavar="ZONE", help="only this zone (repeatable)")
@click.option("--leaf", "leaves", multiple=True, type=click.Choice(WATCH_LEAVES),
              help="only these topics (repeatable; default all)")
@click.option("--for", "seconds", type=click.FloatRange(min=0.1), metavar="SECONDS", help="stop after this long")
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="stop after N messages")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per message and line")
def watch_cmd(broker_url: str | None, site_ref: str, timeout: float, zones: tuple[str, ...],
              leaves: tuple[str, ...], seconds: float | None, count: int | None, as_json: bool) -> None:
    """Print messages as they come (retained ones first), one line each, until --for, --count or Ctrl-C."""
    where = resolve(broker_url, site_ref, zones)

    def show(seen: Seen) -> None:
        click.echo(json.dumps(seen.as_dict(), ensure_ascii=False) if as_json else seen.line(where.tz))

    with contextlib.suppress(KeyboardInterrupt):
        _run(watch(where.broker, where.site, where.zones, leaves or WATCH_LEAVES, show, seconds=seconds,
                   count=count, timeout=timeout))
