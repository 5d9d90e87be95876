"""`farmctl zone status|cmd|watch` (also `aquactl zone ...`): a site's zones over MQTT, for the technician.

    zone status --site S [--zone Z]... [--json]                      retained status, state and alarms
    zone cmd    --site S --zone Z KIND [TARGET] [VALUE] [--for S] ...  one command, wait for its ack
    zone watch  --site S [--zone Z]... [--leaf L]... [--json] [--for S] [--count N]

`--site` is a site id or a site file (then its id, its zones and its time zone). The broker is `--broker URL`,
else $FARMCTL_MQTT, else the site file's `[runtime] mqtt`; use the `technician` account (it may publish any
zone's `cmd` and read the whole site). A thin command line over the zone client (`zoneclient.py`, which does
the MQTT work) and its words (`zonetext.py`): here only the options are read and the results printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from farmcore.errors import BadInput, FarmError
from farmcore.link.brokerurl import BrokerUrl, parse_broker_url
from farmcore.link.messages import (
    ID_PATTERN,
    KIND_FIELDS,
    KINDS,
    MAX_DURATION_S,
    CommandError,
    validate_command,
)
from farmcore.link.zoneclient import DEFAULT_TIMEOUT_S, WATCH_LEAVES, Update, ZoneClient, command_json, new_command
from farmcore.link.zonetext import ack_text, message_text, status_text, update_dict, update_line, view_dict
from farmcore.site import load_site

BROKER_ENV = "FARMCTL_MQTT"
DEFAULT_TZ = "Asia/Seoul"
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

    def client(self, timeout: float) -> ZoneClient:
        return ZoneClient(self.broker, self.site, known=self.known, timeout=timeout)


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


def login() -> str:
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):
        return "unknown"


def build_command(kind: str, args: Sequence[str], *, duration_s: float | None = None, reason: str = "",
                  issued_by: str | None = None, expires_in_s: float = 60.0, command_id: str | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """The command object of DESIGN.md § MQTT from the command line's words, checked here first (BadInput,
    exit 2, with the kind's usage: nothing is published)."""
    if kind not in KINDS:
        raise BadInput(f"unknown command kind {kind!r}; kinds: {', '.join(KINDS)}")
    need = KIND_FIELDS[kind]
    for arg in args:
        if arg.startswith("-") and isinstance(parse_value(arg), str):
            raise BadInput(f"no such option: {arg}")
    takes = [k for k in ("target", "value") if need[k] != "forbidden"]
    if len(args) > len(takes):
        raise BadInput(f"{kind} takes {len(takes) or 'no'} argument(s), got {len(args)}; usage: zone cmd "
                       f"{USAGE[kind]}")
    given = dict(zip(takes, args, strict=False))
    for name in ("target", "value"):
        if need[name] == "required" and name not in given:
            raise BadInput(f"{kind} needs a {name.upper()}; usage: zone cmd {USAGE[kind]}")
    if need["duration_s"] == "required" and duration_s is None:
        raise BadInput(f"{kind} needs --for SECONDS (an override always ends; at most {MAX_DURATION_S:g} s)")
    if need["duration_s"] == "forbidden" and duration_s is not None:
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
    try:
        command = new_command(kind, issued_by=issued_by or f"technician:{login()}", target=given.get("target"),
                              value=value, duration_s=None if duration_s is None else float(duration_s),
                              reason=reason, expires_in_s=expires_in_s, command_id=command_id, now=now)
    except CommandError as exc:
        raise BadInput(f"command not sent: {exc.message}") from None
    return json.loads(command_json(command))


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
    views = _run(where.client(timeout).snapshot(where.zones))
    if as_json:
        found = {zone: view_dict(view) for zone, view in views.items()}
        click.echo(json.dumps({"site": where.site, "broker": where.broker.shown, "zones": found},
                              ensure_ascii=False))
    else:
        click.echo(status_text(where.site, where.broker, views))


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
    client = where.client(timeout)
    if issued_by is None:  # a person under our own account: the daemon refuses any other name from us
        command["issued_by"] = f"{client.account}:{login()}"
    try:
        typed = validate_command(command)
    except CommandError as exc:
        raise BadInput(f"command not sent: {exc.message}") from None
    result = _run(client.send(zone_id, typed))
    if result.outcome == "no_answer":
        raise FarmError(f"no ack for command {typed.id} from zone {zone_id} within {timeout:g} s "
                        f"(zone status: {result.zone_status}; is its daemon running?)")
    if result.ack is None:
        raise FarmError(f"zone {zone_id} answered command {typed.id} with a malformed ack: {result.problem}")
    click.echo(json.dumps(result.ack.to_dict(), ensure_ascii=False) if as_json else ack_text(result.ack))
    if not result.ok:
        raise FarmError(f"zone {zone_id} rejected command {typed.id}: {result.ack.error}: "
                        f"{message_text(result.ack.message)}")


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

    def show(update: Update) -> None:
        click.echo(json.dumps(update_dict(update), ensure_ascii=False) if as_json else update_line(update, where.tz))

    async def follow() -> None:
        updates = where.client(timeout).watch(where.zones, leaves or WATCH_LEAVES, seconds=seconds, count=count)
        async with contextlib.aclosing(updates):
            async for update in updates:
                show(update)

    with contextlib.suppress(KeyboardInterrupt):
        _run(follow())
