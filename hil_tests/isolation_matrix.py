"""The tenant-isolation matrix (issue 17): every service operation × every principal case → allow or deny.

Run against a real stack (hil_tests/portal_stack.py: twin, both daemons, mosquitto with the generated ACL) and
an in-process `Portal` on the portal's own store, broker account and historian. A case *leaks* when the service
allows what the matrix denies or shows data outside the window it allows: a zone in another person's list, a
point from before the tenant's lease in a chart or an export, an alarm of a zone they may not see. Used by
hil_tests/test_portal_isolation.py and by benchmarks/portal.py (`isolation_cases`, `isolation_leaks`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from portal.service.commands import CommandRequest
from portal.service.errors import Denied
from portal.service.model import ZoneKey
from portal.service.portal import Portal

OPS = ("zone_list", "live_state", "history", "csv_export", "setpoint", "override", "release", "feed_now",
       "ack_alarm", "alarms", "audit")
COMMAND_OPS = ("setpoint", "override", "release", "feed_now", "ack_alarm")
TENANT_ALLOWED = frozenset(OPS) - {"audit"}
READER_ALLOWED = frozenset({"zone_list", "live_state", "history", "csv_export", "alarms"})
PLANTED_MARK = 1234.5  # a value written before the tenant's lease began: it must never reach them


@dataclass(frozen=True)
class Case:
    """One principal case: who (a username, None signed out, "forged" a made-up token) looks at which zone."""

    name: str
    who: str | None
    zone: str  # the zone of every op but feed_now
    tank: str  # the zone feed_now is sent to
    allowed: frozenset[str]
    lease_start: datetime | None = None  # a tenant's readable history starts here


@dataclass(frozen=True)
class Outcome:
    case: str
    op: str
    expected: bool
    allowed: bool
    leak: str | None = None  # what was shown that must not be

    @property
    def ok(self) -> bool:
        return self.expected == self.allowed and self.leak is None


@dataclass
class World:
    """What the cases run against: the facade, a session token per username, the site and its zones' facts."""

    portal: Portal
    tokens: dict[str, str]
    site: str
    actuator: str  # an actuator of the tenant's greenhouse, to override and release
    setpoint: tuple[str, float]  # a quantity of that greenhouse and a value inside its envelope
    alarm_id: str  # an active alarm of that greenhouse


def cases(site: str, lease_start: datetime) -> list[Case]:
    """The ten principal cases of the acceptance: kim rents gh1 (and rented gh2 until yesterday), lee rents tank1
    and holds a lease of gh2 from tomorrow; park is an officer and choi a technician of the site."""
    none: frozenset[str] = frozenset()
    return [
        Case("own zone in lease", "kim", "gh1", "tank1-lee", TENANT_ALLOWED, lease_start),
        Case("own zone before its lease starts", "lee", "gh2", "gh2", none),
        Case("own zone after its lease ended", "kim", "gh2", "gh2", none),
        Case("another tenant's zone", "kim", "tank1", "tank1", none),
        Case("an unknown zone", "kim", "nowhere", "nowhere", none),
        Case("officer", "park", "gh1", "tank1", READER_ALLOWED),
        Case("technician", "choi", "gh1", "tank1", READER_ALLOWED),
        Case("admin", "admin", "gh1", "tank1", READER_ALLOWED | {"audit"}),
        Case("signed out", None, "gh1", "tank1", none),
        Case("forged session", "forged", "gh1", "tank1", none),
    ]


def run(world: World, case: Case, op: str) -> Outcome:
    """Ask the service for `op` as `case` says and judge what came back."""
    token = None if case.who is None else world.tokens.get(case.who, "forged-" + "x" * 40)
    if case.tank == "tank1-lee" and op == "feed_now":  # the tenant's own tank is lee's lease
        token, zone = world.tokens["lee"], "tank1"
    else:
        zone = case.tank if op == "feed_now" else case.zone
    key = ZoneKey(world.site, zone)
    try:
        leak = OPERATIONS[op](world, token, key, case)
    except Denied:
        return Outcome(case.name, op, op in case.allowed, False)
    return Outcome(case.name, op, op in case.allowed, True, leak)


def _zone_list(world: World, token: str | None, key: ZoneKey, case: Case) -> str | None:
    shown = {card.key for card in world.portal.my_zones(token)}
    if key not in shown:
        raise Denied("no_access")  # not listed is this op's "deny"
    return None


def _live(world: World, token: str | None, key: ZoneKey, case: Case) -> str | None:
    page = world.portal.zone(token, key.site, key.zone)
    if page.card.key != key:
        return f"asked for {key}, got {page.card.key}"
    early = [e for e in page.events if case.lease_start and _at(e.time) < case.lease_start]
    return f"{len(early)} events from before the lease" if early else None


def _history(world: World, token: str | None, key: ZoneKey, case: Case) -> str | None:
    view = world.portal.history(token, key.site, key.zone, "30d")
    for series in view.series:
        if case.lease_start and any(t < case.lease_start for t in series.times):
            return f"{series.name}: points from before the lease"
        if case.lease_start and PLANTED_MARK in series.values:
            return f"{series.name}: the value planted before the lease"
    if case.lease_start is None and not any(PLANTED_MARK in s.values for s in view.series):
        return "a reader does not see the whole history (the planted point is missing): the check cannot fail"
    return None


def _csv(world: World, token: str | None, key: ZoneKey, case: Case) -> str | None:
    start = datetime.now(UTC) - timedelta(days=30)
    _name, data = world.portal.export_csv(token, key.site, key.zone, start=start)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    utc = [_utc(r[1]) for r in rows[1:] if len(r) > 1 and r[1]]
    planted = any(str(PLANTED_MARK) in r for r in rows[1:])
    if case.lease_start is not None and (planted or any(t < case.lease_start for t in utc)):
        return "rows from before the lease"
    if case.lease_start is None and not planted:
        return "a reader's export lacks the planted point: the check cannot fail"
    return None


def _command(kind: str) -> Callable[[World, str | None, ZoneKey, Case], str | None]:
    def send(world: World, token: str | None, key: ZoneKey, case: Case) -> str | None:
        quantity, value = world.setpoint
        request = {
            "setpoint": CommandRequest("setpoint", quantity, value, reason="isolation matrix"),
            "override": CommandRequest("override", world.actuator, "on", 30.0, "isolation matrix", confirmed=True),
            "release": CommandRequest("release", world.actuator, reason="isolation matrix"),
            "feed_now": CommandRequest("feed_now", reason="isolation matrix"),
            "ack_alarm": CommandRequest("ack_alarm", world.alarm_id, reason="isolation matrix"),
        }[kind]
        outcome = world.portal.command(token, key.site, key.zone, request)
        return None if outcome.status == "applied" else f"allowed but {outcome.status}: {outcome.en} {outcome.detail}"
    return send


def _alarms(world: World, token: str | None, key: ZoneKey, case: Case) -> str | None:
    rows = world.portal.alarms(token)
    visible = {card.key for card in world.portal.my_zones(token)}
    foreign = [r.key for r in rows if r.key not in visible]
    if foreign:
        return f"alarms of zones not visible: {foreign}"
    if key not in {r.key for r in rows}:
        raise Denied("no_access")  # the zone's alarms are not shown: this op's "deny"
    return None


def _audit(world: World, token: str | None, key: ZoneKey, case: Case) -> str | None:
    world.portal.admin.audit(token)
    return None


def _utc(text: str) -> datetime:
    """The export's UTC column (written with or without its offset)."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


OPERATIONS: dict[str, Callable[[World, str | None, ZoneKey, Case], str | None]] = {
    "zone_list": _zone_list, "live_state": _live, "history": _history, "csv_export": _csv,
    **{kind: _command(kind) for kind in COMMAND_OPS}, "alarms": _alarms, "audit": _audit,
}
