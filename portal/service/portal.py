"""The portal's one door: every page asks `Portal` with its session token and gets only what that person may see.

Each call resolves the token to a Principal (the store), asks `tenancy.decide` (the only place tenancy is decided)
and only then reads the live cache, the historian or the store, or publishes a command. Site and zone ids from a
page are looked up, never trusted; a refusal is a `Denied` whose words are the same for another tenant's zone
and for one that does not exist. Administration lives in `admin.py` behind the same gate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from farmcore.historian.base import Historian
from farmcore.link.payloads import StateMessage
from portal.service import accounts, audit, commands, sites
from portal.service.admin import AdminDesk
from portal.service.errors import BadRequest, Denied, PortalError, SignInError
from portal.service.history import HistoryUnavailable, HistoryView, span_window, zone_history
from portal.service.history_csv import csv_export
from portal.service.live import LiveHub, LiveZone
from portal.service.model import SEOUL, Access, Grants, Principal, Role, ZoneKey, seoul_day, seoul_midnight
from portal.service.store import Store
from portal.service.tenancy import Op, decide
from portal.service.views import (
    MAIN_READINGS,
    AlarmRow,
    LinkHealth,
    OverrideView,
    ReadingView,
    ZoneCard,
    ZonePage,
)

EVENTS_SHOWN = 20
AUDITED_REFUSALS = (Op.VIEW, Op.HISTORY)  # commands audit their own refusals (with the request)
REFUSALS_QUIET = timedelta(minutes=10)  # the same session's same refusal is logged once in this long
OIDC_CLAIM = "preferred_username"  # the identity's claim that names the portal account (OIDC core claim)
EXPORT_DEFAULT = timedelta(days=30)  # a reader's export when no period is asked for
SEASON_FALLBACK = timedelta(days=120)  # "season" when neither planting nor lease is known


class LinkDown(PortalError):
    """The portal's MQTT link is down: controls are disabled and nothing is published."""

    def __init__(self) -> None:
        super().__init__("link_down", "실시간 연결이 끊겨 명령을 보내지 않았습니다.",
                         "the live link is down: the command was not sent")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Gate:
    """A resolved request: who asks, what they hold, and tenancy's answer for the zone asked about."""

    principal: Principal
    grants: Grants
    access: Access
    key: ZoneKey | None


class Portal:
    """Store (accounts, leases, sites, audit), live hub (MQTT) and historian, each used only after tenancy said
    yes. `live` or `historian` may be None (not configured): the pages then say live data or history is
    unavailable. Thread-safe: Streamlit calls it from every session's thread."""

    def __init__(self, store: Store, live: LiveHub | None = None, historian: Historian | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.live, self.historian, self.clock = store, live, historian, clock
        self.admin = AdminDesk(self)
        self._refused: dict[tuple[str, ZoneKey, Op], datetime] = {}
        self._refused_lock = threading.Lock()

    # ------------------------------------------------------------------------------------------------ sign-in

    def sign_in(self, username: str, password: str) -> tuple[str, Principal]:
        """A new session token and its principal; SignInError (wrong | locked | disabled), audited either way."""
        now = self.clock()
        try:
            token, principal = accounts.sign_in(self.store, username, password, now)
        except Exception as exc:
            audit.record(self.store, None, "sign_in", None, {}, getattr(exc, "code", "error"), now=now,
                         actor=str(username)[:64])
            raise
        audit.record(self.store, principal, "sign_in", None, {}, "ok", now=now)
        return token, principal

    def sign_in_vouched(self, claims: Mapping[str, object], claim: str = OIDC_CLAIM) -> tuple[str, Principal]:
        """A session for a person the province's identity provider signed in (Streamlit's `st.login`): the claim
        `claim` of their verified identity names an existing portal account. Audited as `sign_in_oidc`."""
        now = self.clock()
        name = claims.get(claim)
        username = name.strip().lower() if isinstance(name, str) else ""
        try:
            if not username:
                raise SignInError("not_registered")
            token, principal = accounts.sign_in_vouched(self.store, username, now)
        except SignInError as exc:
            audit.record(self.store, None, "sign_in_oidc", None, {"claim": claim}, exc.code, now=now,
                         actor=username[:64] or None)
            raise
        audit.record(self.store, principal, "sign_in_oidc", None, {"claim": claim}, "ok", now=now)
        return token, principal

    def principal(self, token: str | None) -> Principal | None:
        """The signed-in person of a token (None when absent, forged, expired, ended or disabled)."""
        return accounts.resolve(self.store, token, self.clock()) if token else None

    def sign_out(self, token: str | None) -> None:
        principal = self.principal(token)
        if principal is not None and token:
            accounts.sign_out(self.store, token, self.clock())
            audit.record(self.store, principal, "sign_out", None, {}, "ok", now=self.clock())

    def change_password(self, token: str | None, old: str, new: str) -> None:
        principal = self._who(token)
        accounts.change_password(self.store, principal, old, new, self.clock())
        audit.record(self.store, principal, "change_password", None, {}, "ok", now=self.clock())

    # ------------------------------------------------------------------------------------------------- gates

    def _who(self, token: str | None) -> Principal:
        principal = self.principal(token)
        if principal is None:
            raise Denied("signed_out")
        return principal

    def gate(self, token: str | None, key: ZoneKey | None, op: Op, *, now: datetime | None = None) -> Gate:
        """Tenancy's answer for this token, zone and operation; Denied unless allowed."""
        now = now or self.clock()
        principal = self.principal(token)
        grants = accounts.grants(self.store, principal) if principal is not None else Grants()
        registered = key is not None and sites.zone_registered(self.store, key)
        access = decide(principal, grants, key, op, now, registered=registered)
        if not access.allowed:
            if principal is not None and key is not None and op in AUDITED_REFUSALS and self._first_refusal(
                    (principal.session, key, op), now):
                # a signed-in person asking for a zone they may not see (a guessed address): worth an admin's look
                audit.record(self.store, principal, f"denied_{op}", key, {}, access.code, now=now)
            raise Denied(access.code)
        assert principal is not None
        return Gate(principal, grants, access, key)

    def _first_refusal(self, what: tuple[str, ZoneKey, Op], now: datetime) -> bool:
        """Whether this session's refusal is new (not logged in the last REFUSALS_QUIET): a page refreshing every
        2 s after a lease ended is one audit row, not 1,800 an hour."""
        with self._refused_lock:
            last = self._refused.get(what)
            if last is not None and now - last < REFUSALS_QUIET:
                return False
            if len(self._refused) > 10_000:  # bounded: forget the oldest half
                for old in sorted(self._refused, key=self._refused.__getitem__)[:5_000]:
                    del self._refused[old]
            self._refused[what] = now
            return True

    def _visible(self, token: str | None, now: datetime) -> list[tuple[Gate, sites.Zone]]:
        """Every zone this person may see now, sorted, each with tenancy's answer: the person, their grants and
        the registered zones read once (a province admin lists hundreds of zones), then decided zone by zone."""
        principal = self._who(token)
        grants = accounts.grants(self.store, principal)
        registered = {z.key: z for z in sites.zones(self.store)}
        if principal.role == Role.TENANT:
            candidates = sorted({lease.key for lease in grants.leases}, key=lambda k: (k.site, k.zone))
        else:
            candidates = list(registered)  # sites.zones is sorted by site and zone
        out = []
        for key in candidates:
            access = decide(principal, grants, key, Op.VIEW, now, registered=key in registered)
            if access.allowed:
                out.append((Gate(principal, grants, access, key), registered[key]))
        return out

    def visible_zones(self, token: str | None) -> list[ZoneKey]:
        """The registered zones this person may see now, sorted: a tenant's leased ones, a reader's sites'."""
        return [gate.key for gate, _zone in self._visible(token, self.clock()) if gate.key is not None]

    # --------------------------------------------------------------------------------------------- live data

    def link(self) -> LinkHealth:
        """The MQTT link's health (tenancy-free: it says nothing of any zone)."""
        if self.live is None:
            return LinkHealth(False, None, "not configured")
        return self.live.health()

    def _live(self, key: ZoneKey) -> LiveZone | None:
        return None if self.live is None else self.live.view(key)

    def _card(self, gate: Gate, now: datetime, info: sites.Zone | None = None) -> ZoneCard:
        key = gate.key
        assert key is not None
        if info is None:
            info = next((z for z in sites.zones(self.store, key.site) if z.zone == key.zone), None)
        live = self._live(key)
        state = live.state if live is not None else None
        status = live.status if live is not None else "unknown"
        link_up = self.live is not None and self.live.health().connected
        can_command = (gate.principal.role == Role.TENANT and status == "online" and link_up
                       and state is not None)
        return ZoneCard(
            key=key, kind=info.kind if info else (state.kind if state else "greenhouse"),
            name=info.name if info and info.name else key.zone, status=status,
            age_s=live.age_s(now) if live is not None else None,
            readings=_readings(state), alarms=tuple(a for a in (live.alarms if live else ()) if a.active),
            overrides=_overrides(state, now), recipe=state.recipe if state else None, lease=gate.access.lease,
            can_command=can_command)

    def my_zones(self, token: str | None) -> list[ZoneCard]:
        """A card per zone this person may see (for a tenant: per active lease)."""
        now = self.clock()
        return [self._card(gate, now, info) for gate, info in self._visible(token, now)]

    def zone(self, token: str | None, site: str, zone: str) -> ZonePage:
        """One zone's live page: its card, the state, what may be set, recent events since the history start."""
        now = self.clock()
        gate = self.gate(token, ZoneKey(site, zone), Op.VIEW, now=now)
        card = self._card(gate, now)
        live = self._live(card.key)
        state = live.state if live is not None else None
        since = gate.access.history_from
        events = tuple(e for e in (live.events if live else ()) if since is None or _at(e.time) >= since)
        return ZonePage(card=card, state=state, envelope=_envelope(state), max_override_s=_max_override(state),
                        history_from=since, events=events[-EVENTS_SHOWN:], link=self.link())

    def alarms(self, token: str | None) -> list[AlarmRow]:
        """Active and recent alarms of every zone this person may see; a tenant may acknowledge their own."""
        now = self.clock()
        rows: list[AlarmRow] = []
        for gate, info in self._visible(token, now):
            key = info.key
            live = self._live(key)
            for alarm in live.alarms if live is not None else ():
                rows.append(AlarmRow(key, alarm, can_ack=gate.principal.role == Role.TENANT and not alarm.acked))
        return rows

    # ----------------------------------------------------------------------------------------------- history

    def _historian(self) -> Historian:
        if self.historian is None:
            raise HistoryUnavailable()
        return self.historian

    def _season_start(self, gate: Gate, now: datetime) -> datetime | None:
        """A season's chart starts at the planting or stocking (the recipe's day count), else the lease's start;
        tenancy's clip then keeps a tenant inside their own lease either way."""
        live = self._live(gate.key) if gate.key is not None else None
        recipe = live.state.recipe if live is not None and live.state is not None else None
        day = getattr(recipe, "day", None)
        if isinstance(day, int) and day >= 0:
            return seoul_midnight(seoul_day(now) - timedelta(days=day))
        return gate.access.history_from

    def history(self, token: str | None, site: str, zone: str, span: str = "24h") -> HistoryView:
        """The zone's charts over a span, cut to what this person may read (a tenant: from their lease's start)."""
        now = self.clock()
        key = ZoneKey(site, zone)
        gate = self.gate(token, key, Op.HISTORY, now=now)
        start, end = span_window(span, now, self._season_start(gate, now) or now - SEASON_FALLBACK)
        window = gate.access.clip(start, end)
        if window is None:  # the span lies wholly before what this person may read
            return HistoryView(key, end, end, timedelta(minutes=1))
        live = self._live(key)
        state = live.state if live is not None else None
        return zone_history(self._historian(), key, *window, envelope=_envelope(state), units=_units(state))

    def export_csv(self, token: str | None, site: str, zone: str, *, start: datetime | None = None,
                   end: datetime | None = None, lang: str = "ko") -> tuple[str, bytes]:
        """(file name, CSV bytes) of the zone's history: by default what this person may read (a tenant: their
        lease's whole period so far; a reader: the last 30 days). Audited."""
        now = self.clock()
        key = ZoneKey(site, zone)
        gate = self.gate(token, key, Op.HISTORY, now=now)
        lo = start or gate.access.history_from or now - EXPORT_DEFAULT
        window = gate.access.clip(lo, min(end or now, now))
        detail = {"start": lo.isoformat(), "end": (end or now).isoformat()}
        if window is None:
            audit.record(self.store, gate.principal, "export_csv", key, detail, "empty", now=now)
            raise BadRequest("start", "읽을 수 있는 기간이 아닙니다.", "no readable history in that period")
        live = self._live(key)
        data = csv_export(self._historian(), key, *window, lang, units=_units(live.state if live else None))
        audit.record(self.store, gate.principal, "export_csv", key, detail, "ok", now=now)
        local = window[0].astimezone(SEOUL).strftime("%Y%m%d")
        return f"{site}-{zone}-{local}-{now.astimezone(SEOUL).strftime('%Y%m%d')}.csv", data

    # -------------------------------------------------------------------------------------------- commands

    def command(self, token: str | None, site: str, zone: str,
                request: commands.CommandRequest) -> commands.CommandOutcome:
        """Check, publish once, await the ack: applied, refused (the daemon's code, explained), no answer or not
        sent. Refusals by tenancy are audited too; nothing is published unless everything holds."""
        key = ZoneKey(site, zone)
        now = self.clock()
        try:
            gate = self.gate(token, key, Op.COMMAND, now=now)
        except Denied as exc:
            audit.record(self.store, self.principal(token), f"command_{request.kind}", key,
                         _request_detail(request), exc.code, now=now)
            raise
        try:
            if self.live is None or not self.live.health().connected:
                raise LinkDown()
            command = commands.prepare(gate.principal, self._live(key), request, now)
        except PortalError as exc:
            outcome = commands.not_sent(exc)
            audit.record(self.store, gate.principal, f"command_{request.kind}", key, _request_detail(request),
                         f"not_sent:{exc.code}", now=now)
            return outcome
        try:
            outcome = commands.explain(self.live.send(key, command))
        except PortalError as exc:  # the link dropped just now, or this id went out before: never sent twice
            outcome = commands.not_sent(exc)
        detail = {**_request_detail(request), **({"answer": outcome.detail} if outcome.detail else {})}
        audit.record(self.store, gate.principal, f"command_{request.kind}", key, detail,
                     outcome.status if outcome.code is None else f"{outcome.status}:{outcome.code}",
                     command_id=command.id, now=self.clock())
        return outcome


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _readings(state: StateMessage | None) -> tuple[ReadingView, ...]:
    """The state's readings, the kind's main ones first, each with its setpoint and envelope where it has them."""
    if state is None:
        return ()
    first = MAIN_READINGS.get(state.kind, ())
    order = [q for q in first if q in state.readings] + [q for q in state.readings if q not in first]
    envelope = _envelope(state)
    out = []
    for q in order:
        r = state.readings[q]
        sp = state.setpoints.get(q)
        out.append(ReadingView(q, r.value, r.unit, r.quality, None if sp is None else sp.value,
                               None if sp is None else sp.source, envelope.get(q)))
    return tuple(out)


def _overrides(state: StateMessage | None, now: datetime) -> tuple[OverrideView, ...]:
    if state is None:
        return ()
    out = []
    for actuator, o in state.overrides.items():
        until = _at(o.until)
        out.append(OverrideView(actuator, o.value, until, max(0.0, (until - now).total_seconds()), o.by, o.reason))
    return tuple(out)


def _envelope(state: StateMessage | None) -> dict[str, tuple[float, float]]:
    raw = getattr(state, "envelope", None) or {}
    return {q: (float(b[0]), float(b[1])) for q, b in raw.items()}


def _units(state: StateMessage | None) -> dict[str, str]:
    return {q: r.unit for q, r in state.readings.items() if r.unit} if state is not None else {}


def _max_override(state: StateMessage | None) -> float:
    value = getattr(state, "max_override_s", None)
    return float(value) if isinstance(value, int | float) else 0.0


def _request_detail(request: commands.CommandRequest) -> dict[str, object]:
    return {k: v for k, v in (("kind", request.kind), ("target", request.target), ("value", request.value),
                              ("duration_s", request.duration_s), ("reason", request.reason)) if v is not None}


