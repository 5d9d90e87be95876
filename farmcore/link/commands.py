"""Command handling without I/O: bytes in, exactly one ack (and at most one action) out.

`CommandDesk` decides; the daemon applies the `Action` and publishes the `Ack`. Keeping the decision pure
(no broker, no daemon, `now` passed in) means every rule can be tested and fuzzed, and an exception in a
rule becomes an `internal_error` ack instead of a dead control loop. Order of the checks, each failing with
its own code: size, JSON, object, duplicate id, kind, schema, times, then the kind's rules (hard limits
before the tenant envelope, so the stricter limit is the one reported).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from farmcore.link.audit import audit_record, clip
from farmcore.link.messages import (
    ACCOUNT_PATTERN,
    Ack,
    Command,
    CommandError,
    ErrorCode,
    check_kind_fields,
    iso,
    may_speak_for,
    read_payload,
    readable_id,
    validate_command,
)
from farmcore.recipe.schema import QUANTITIES
from farmcore.sitehead import DEFAULT_MAX_OVERRIDE_S

if TYPE_CHECKING:
    from farmcore.site import ZoneDef

MAX_LIFETIME = timedelta(days=1)  # issued_at -> expires_at [engineering choice]
SKEW_S = 300.0  # issued_at may lie this far in the future (clocks of the portal and the box differ)
FEED_NOW_MAX_KG = 100.0
SEEN_MAX = 10_000

ActionKind = Literal["setpoint", "override", "release_override", "release_setpoint", "recipe", "feed_now",
                     "ack_alarm"]

_ON_OFF = {"on": True, "off": False}
_OPEN_CLOSE = {"open": 100.0, "close": 0.0}



@dataclass(frozen=True)
class ZoneContext:
    """What the zone allows right now; the daemon builds one per command (cheap, all plain data)."""

    kind: str  # greenhouse | tank
    envelope: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # from the zone's recipe
    hard_limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # from the site file
    actuators: Mapping[str, str] = field(default_factory=dict)  # id -> switch | retractable | nutrient
    active_alarms: frozenset[str] = frozenset()
    known_recipes: frozenset[str] = frozenset()
    feeding_supported: bool = False
    max_override_s: float = DEFAULT_MAX_OVERRIDE_S  # the site's `[site] max_override_s`
    # the zone's own clock when it runs on another one than the commands' (a twin at 60x in the demo): an
    # override's `until` is told on the clock it will end on; expiry is still judged on the commands' clock
    zone_now: datetime | None = None
    zone: str = ""  # the zone's id: command ids are remembered per zone and account

    @classmethod
    def for_zone(cls, zone: ZoneDef, actuator_kinds: Mapping[str, str], envelope: Mapping[str, Any] | None = None,
                 active_alarms: Iterable[str] = (), known_recipes: Iterable[str] = (),
                 zone_now: datetime | None = None, max_override_s: float = DEFAULT_MAX_OVERRIDE_S) -> ZoneContext:
        """From the site file's zone, the daemon's actuator kinds, the recipe envelope (`Bound`s or pairs) and
        the site's longest override."""
        return cls(
            kind=zone.kind,
            envelope={q: _pair(b) for q, b in (envelope or {}).items()},
            hard_limits={q: (r.min, r.max) for q, r in zone.hard_limits.items()},
            actuators=dict(actuator_kinds),
            active_alarms=frozenset(active_alarms),
            known_recipes=frozenset(known_recipes),
            feeding_supported=zone.kind == "tank" and any(a.role == "feeder" for a in zone.actuators),
            max_override_s=max_override_s,
            zone_now=zone_now,
            zone=zone.id,
        )


def _pair(bound: Any) -> tuple[float, float]:
    if isinstance(bound, tuple | list):
        return float(bound[0]), float(bound[1])
    return float(bound.min), float(bound.max)


def tenant_envelope(envelope: Mapping[str, Any], hard_limits: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """What a tenant may set now, by quantity: the recipe's envelope cut to the site's hard limits (`Bound`s or
    pairs). The desk accepts exactly these values, so the portal's widgets and its own check use the same range;
    a quantity whose envelope lies wholly outside the limits is left out (nothing of it may be set)."""
    out = {}
    for q, bound in envelope.items():
        lo, hi = _pair(bound)
        if q in hard_limits:
            hard_lo, hard_hi = _pair(hard_limits[q])
            lo, hi = max(lo, hard_lo), min(hi, hard_hi)
        if lo <= hi:
            out[q] = (lo, hi)
    return out


@dataclass(frozen=True)
class Action:
    """What the daemon should do for an accepted command.

    setpoint: `runner.tenant[target] = value`; override: `set_override(zone, target, value, duration_s, ...)`;
    release_override / release_setpoint: drop `runner.overrides[target]` / `runner.tenant[target]`;
    recipe: switch the zone to recipe id `value`; feed_now: `request(zone, Request("feed_now", value, issued_by))`
    (value kg or None for the meal's ration); ack_alarm: acknowledge alarm `target`.
    """

    kind: ActionKind
    target: str | None
    value: float | bool | str | None
    duration_s: float | None
    issued_by: str
    reason: str
    command_id: str


class SeenStore(Protocol):
    """Optional persistence of handled ids, so a redelivery after a restart is still a duplicate."""

    def get(self, command_id: str) -> Mapping[str, Any] | None: ...

    def put(self, command_id: str, record: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class Outcome:
    ack: Ack
    action: Action | None
    command: Command | None  # None when the payload was not a valid command
    audit: dict[str, float | int | str | bool]


@dataclass
class _Progress:
    """What has been read of the payload so far (so an internal error still acks with the right id)."""

    raw: dict[str, Any] | None = None
    cid: str | None = None
    command: Command | None = None


class CommandDesk:
    """Validates commands for one daemon: one ack per payload, duplicates answered from memory, never raises."""

    def __init__(self, *, max_seen: int = SEEN_MAX, seen_store: SeenStore | None = None,
                 skew_s: float = SKEW_S) -> None:
        if max_seen < 1:
            raise ValueError("max_seen must be at least 1")
        self.max_seen = max_seen
        self.seen_store = seen_store
        self.skew_s = skew_s
        self._seen: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.store_errors = 0  # a failing store never blocks commands; the daemon may report this
        self.last_store_error: str | None = None

    def handle(self, payload: bytes, now: datetime, ctx: ZoneContext, *, account: str | None = None
               ) -> tuple[Ack, Action | None]:
        """One payload -> its ack and, if accepted, the action. `now` must be timezone-aware."""
        out = self.process(payload, now, ctx, account=account)
        return out.ack, out.action

    def process(self, payload: bytes, now: datetime, ctx: ZoneContext, *, account: str | None = None,
                remember: bool = True) -> Outcome:
        """`handle` plus the parsed command and the audit record for the historian.

        `account`: the broker account that published it (from its topic; None for an in-process caller, which
        may name anyone). `remember=False` leaves the id unused until `remember(outcome)`: a daemon remembers
        a command only once it has been applied and audited, so a fault after the decision never uses up an
        id (the retry gets a real answer, not `duplicate`)."""
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")  # a caller bug, not a payload
        now = now.astimezone(UTC)
        progress = _Progress()
        try:
            ack, action = self._decide(payload, now, ctx, progress, account)
        except Exception as exc:  # a bug in a rule must not cost the loop, nor the sender its ack
            ack = Ack(progress.cid, False, ErrorCode.INTERNAL_ERROR,
                      clip(f"internal error ({type(exc).__name__}: {exc}); not applied"))
            action = None
        if remember:
            self.remember(ack, now, zone=ctx.zone, account=account)
        return Outcome(ack, action, progress.command, audit_record(ack, progress.command, now, progress.raw, account))

    # ------------------------------------------------------------------------------------------- decision

    def _decide(self, payload: bytes, now: datetime, ctx: ZoneContext, p: _Progress,
                account: str | None) -> tuple[Ack, Action | None]:
        try:
            p.raw = read_payload(payload)
        except CommandError as exc:
            return Ack(None, False, exc.code, clip(exc.message)), None
        p.cid = readable_id(p.raw)
        if p.cid is not None:
            first = self._recall(seen_key(ctx.zone, account, p.cid))
            if first is not None:
                how = "applied" if first.get("ok") else f"rejected ({first.get('error')})"
                at = f" at {first['at']}" if isinstance(first.get("at"), str) else ""
                return Ack(p.cid, False, ErrorCode.DUPLICATE, f"command {p.cid!r} was already handled{at}: {how}",
                           _applied(first.get("applied"))), None
        try:
            p.command = validate_command(p.raw)
            _check_author(account, p.command.issued_by)
            applied, action = self._rules(p.command, now, ctx)
            ack = Ack(p.cid, True, None, _describe(applied), applied)
        except CommandError as exc:
            ack, action = Ack(p.cid, False, exc.code, clip(exc.message)), None
        return ack, action

    def _rules(self, cmd: Command, now: datetime, ctx: ZoneContext) -> tuple[dict[str, Any], Action]:
        if cmd.expires_at <= cmd.issued_at:
            raise CommandError(ErrorCode.INVALID_COMMAND,
                               f"expires_at {iso(cmd.expires_at)} is not after issued_at {iso(cmd.issued_at)}")
        if cmd.expires_at - cmd.issued_at > MAX_LIFETIME:
            raise CommandError(ErrorCode.INVALID_COMMAND, f"lives {cmd.expires_at - cmd.issued_at} from issued_at to "
                               f"expires_at; at most {MAX_LIFETIME} (a stale command must not act days later)")
        if cmd.issued_at > now + timedelta(seconds=self.skew_s):
            raise CommandError(ErrorCode.NOT_YET_VALID, f"issued_at {iso(cmd.issued_at)} is more than "
                               f"{self.skew_s:g} s after the controller's clock {iso(now)}")
        if cmd.expires_at <= now:
            raise CommandError(ErrorCode.EXPIRED, f"expired at {iso(cmd.expires_at)}; controller time {iso(now)}")
        check_kind_fields(cmd)
        applied, kind, target, value = _RULES[cmd.kind](cmd, now, ctx)
        return applied, Action(kind, target, value, cmd.duration_s if kind == "override" else None,
                               cmd.issued_by, cmd.reason, cmd.id)

    # ----------------------------------------------------------------------------------------- duplicates

    def _recall(self, cid: str) -> Mapping[str, Any] | None:
        record = self._seen.get(cid)
        if record is not None or self.seen_store is None:
            return record
        try:
            stored = self.seen_store.get(cid)
        except Exception as exc:  # a broken disk must not block an operator's override
            self._store_failed(exc)
            return None
        return stored if isinstance(stored, Mapping) else None

    def remember(self, ack: Ack, now: datetime, *, zone: str = "", account: str | None = None) -> None:
        """Note a command's final answer under its zone, account and id, so a redelivery is answered
        `duplicate` with it (and no account can use up, or read back, another's ids)."""
        if ack.id is None or ack.error in (ErrorCode.INTERNAL_ERROR, ErrorCode.DUPLICATE):
            return  # nothing was applied: a retry deserves a real answer (and a duplicate is already noted)
        cid = seen_key(zone, account, ack.id)
        record = {"ok": ack.ok, "error": None if ack.error is None else str(ack.error), "applied": ack.applied,
                  "at": iso(now)}
        self._seen[cid] = record
        while len(self._seen) > self.max_seen:
            self._seen.popitem(last=False)
        if self.seen_store is not None:
            try:
                self.seen_store.put(cid, record)
            except Exception as exc:
                self._store_failed(exc)

    def _store_failed(self, exc: Exception) -> None:
        self.store_errors += 1
        self.last_store_error = f"{type(exc).__name__}: {exc}"


# ------------------------------------------------------------------------------------------------ the rules
# One per kind: the command (its fields already checked against messages.KIND_FIELDS) -> what to ack as applied, the
# action's kind, target and value; CommandError with the stable code when the zone cannot take it.


def _setpoint(cmd: Command, now: datetime, ctx: ZoneContext) -> tuple[dict[str, Any], ActionKind, str, float]:
    q = cmd.target
    assert q is not None
    if q not in ctx.envelope and q not in QUANTITIES:
        raise CommandError(ErrorCode.UNKNOWN_TARGET, f"{q!r} is not a setpoint quantity")
    v = cmd.value
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise CommandError(ErrorCode.INVALID_VALUE, f"a {q} setpoint is a number, got {v!r}")
    v = float(v)
    if q in ctx.hard_limits:
        lo, hi = ctx.hard_limits[q]
        if not lo <= v <= hi:
            raise CommandError(ErrorCode.OUT_OF_HARD_LIMITS,
                               f"{q} {v:g} is outside the site's hard limits {lo:g}..{hi:g}")
    if q not in ctx.envelope:
        raise CommandError(ErrorCode.OUT_OF_ENVELOPE, f"the zone's recipe lets no tenant adjust {q}")
    lo, hi = ctx.envelope[q]
    if not lo <= v <= hi:
        raise CommandError(ErrorCode.OUT_OF_ENVELOPE, f"{q} {v:g} is outside the recipe's envelope {lo:g}..{hi:g}")
    return {"kind": "setpoint", "target": q, "value": v}, "setpoint", q, v


def _override(cmd: Command, now: datetime, ctx: ZoneContext) -> tuple[dict[str, Any], ActionKind, str, Any]:
    a = cmd.target
    assert a is not None and cmd.duration_s is not None
    kind = ctx.actuators.get(a)
    if kind is None:
        raise CommandError(ErrorCode.UNKNOWN_TARGET, f"no actuator {a!r} in this zone")
    if cmd.duration_s > ctx.max_override_s:
        raise CommandError(ErrorCode.INVALID_VALUE, f"an override of {cmd.duration_s:g} s is longer than this site "
                           f"allows: max_override_s = {ctx.max_override_s:g} s")
    v = cmd.value
    target: bool | float
    if kind in ("switch", "nutrient"):
        if isinstance(v, str) and v in _ON_OFF:
            target = _ON_OFF[v]
        elif isinstance(v, bool):
            target = v
        else:
            raise CommandError(ErrorCode.INVALID_VALUE, f"{a} is a {kind}: value true/false or \"on\"/\"off\", "
                               f"got {v!r}")
    elif kind == "retractable":
        if isinstance(v, str) and v in _OPEN_CLOSE:
            target = _OPEN_CLOSE[v]
        elif isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 100:
            target = float(v)
        else:
            raise CommandError(ErrorCode.INVALID_VALUE, f"{a} is retractable: value a position 0..100 % or "
                               f"\"open\"/\"close\", got {v!r}")
    else:
        raise CommandError(ErrorCode.NOT_SUPPORTED, f"{a} is a {kind!r} actuator, which cannot be overridden")
    until = (ctx.zone_now or now) + timedelta(seconds=cmd.duration_s)
    return ({"kind": "override", "target": a, "value": target, "duration_s": cmd.duration_s, "until": iso(until)},
            "override", a, target)


def _release(cmd: Command, now: datetime, ctx: ZoneContext) -> tuple[dict[str, Any], ActionKind, str, None]:
    t = cmd.target
    assert t is not None
    if t in ctx.actuators:
        return {"kind": "release", "target": t, "what": "override"}, "release_override", t, None
    if t in ctx.envelope or t in QUANTITIES:  # releasing is always safe: back to the recipe
        return {"kind": "release", "target": t, "what": "setpoint"}, "release_setpoint", t, None
    raise CommandError(ErrorCode.UNKNOWN_TARGET, f"{t!r} is neither an actuator of this zone nor a quantity")


def _recipe(cmd: Command, now: datetime, ctx: ZoneContext) -> tuple[dict[str, Any], ActionKind, None, str]:
    rid = cmd.value
    if not isinstance(rid, str):
        raise CommandError(ErrorCode.INVALID_VALUE, f"a recipe command's value is a recipe id, got {rid!r}")
    if rid not in ctx.known_recipes:
        known = ", ".join(sorted(ctx.known_recipes)[:10]) or "none"
        raise CommandError(ErrorCode.UNKNOWN_RECIPE,
                           f"recipe {rid!r} is not available to this zone (known: {known})")
    return {"kind": "recipe", "value": rid}, "recipe", None, rid


def _feed_now(cmd: Command, now: datetime, ctx: ZoneContext) -> tuple[dict[str, Any], ActionKind, None, Any]:
    if not ctx.feeding_supported:
        raise CommandError(ErrorCode.NOT_SUPPORTED, f"a {ctx.kind} zone without a feeder cannot feed")
    kg = cmd.value
    if kg is not None:
        if isinstance(kg, bool) or not isinstance(kg, int | float) or not 0 < kg <= FEED_NOW_MAX_KG:
            raise CommandError(ErrorCode.INVALID_VALUE,
                               f"feed_now value is kg, above 0 and at most {FEED_NOW_MAX_KG:g}, got {kg!r}")
        kg = float(kg)
    return {"kind": "feed_now", "value": kg}, "feed_now", None, kg


def _ack_alarm(cmd: Command, now: datetime, ctx: ZoneContext) -> tuple[dict[str, Any], ActionKind, str, None]:
    alarm = cmd.target
    assert alarm is not None
    if alarm not in ctx.active_alarms:
        raise CommandError(ErrorCode.UNKNOWN_ALARM, f"no active alarm {alarm!r} in this zone")
    return {"kind": "ack_alarm", "target": alarm}, "ack_alarm", alarm, None


Rule = Callable[[Command, datetime, ZoneContext], tuple[dict[str, Any], ActionKind, Any, Any]]
_RULES: dict[str, Rule] = {"setpoint": _setpoint, "override": _override, "release": _release, "recipe": _recipe,
                           "feed_now": _feed_now, "ack_alarm": _ack_alarm}


def seen_key(zone: str, account: str | None, cid: str) -> str:
    """Where a handled command id is remembered: per zone and broker account (`-`: an in-process caller)."""
    return f"{zone}/{account or '-'}/{cid}"


def _check_author(account: str | None, issued_by: str) -> None:
    """The broker account (from the topic) must be allowed to name `issued_by` (the portal names its users;
    any other account only itself or `account:person`)."""
    if account is None:
        return  # an in-process caller (tests, a technician's script in the daemon's process)
    if not re.fullmatch(ACCOUNT_PATTERN, account):
        raise CommandError(ErrorCode.INVALID_COMMAND, f"account {account[:64]!r} in the topic is not an account name")
    if not may_speak_for(account, issued_by):
        raise CommandError(ErrorCode.NOT_PERMITTED, f"account {account!r} may issue commands only as {account!r} "
                           f"or {account}:NAME, not as {issued_by!r}")


def _applied(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None


def _describe(applied: dict[str, Any]) -> str:
    parts = [str(applied[k]) for k in ("target", "value") if applied.get(k) is not None]
    until = f" until {applied['until']}" if "until" in applied else ""
    return clip(f"{applied['kind']} {' '.join(parts)}{until}".rstrip())
