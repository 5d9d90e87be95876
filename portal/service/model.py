"""The portal's typed contracts: who is asking (`Principal`), what they hold (`Grants`), and what the service
answers. Plain frozen dataclasses: the store, the tenancy rules, the pages and the tests all speak these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")  # leases are Asia/Seoul dates; storage is UTC


class Role(StrEnum):
    TENANT = "tenant"  # sees and steers the zones of their active leases
    OFFICER = "officer"  # reads every zone of the sites assigned to them
    TECHNICIAN = "technician"  # reads every zone of the sites assigned to them (steers from the command line)
    ADMIN = "admin"  # sites, users, leases, audit; reads every zone


@dataclass(frozen=True)
class Principal:
    """A signed-in person, resolved from a live session token by the store (never built from page input)."""

    user_id: int
    username: str
    role: Role
    display_name: str = ""
    language: str = "ko"
    session: str = ""  # the token's id, for the audit log (never the token itself)

    @property
    def issued_by(self) -> str:
        """The `issued_by` of this person's commands: the portal account speaks for its signed-in users."""
        return f"portal:{self.username}"


@dataclass(frozen=True)
class ZoneKey:
    site: str
    zone: str

    def __str__(self) -> str:
        return f"{self.site}/{self.zone}"


@dataclass(frozen=True)
class Lease:
    """Tenant × zone × [start, end) in Asia/Seoul dates; `ended` is the day an admin ended it early (exclusive)."""

    id: int
    tenant: str  # username
    site: str
    zone: str
    start: date
    end: date
    ended: date | None = None
    note: str = ""

    @property
    def until(self) -> date:
        """The first day it no longer holds."""
        return min(self.end, self.ended) if self.ended is not None else self.end

    def holds_on(self, day: date) -> bool:
        return self.start <= day < self.until

    @property
    def key(self) -> ZoneKey:
        return ZoneKey(self.site, self.zone)


@dataclass(frozen=True)
class Grants:
    """What the store holds for one principal: a tenant's leases, an officer's or technician's sites."""

    leases: tuple[Lease, ...] = ()
    sites: frozenset[str] = frozenset()


def seoul_day(now: datetime) -> date:
    """The Asia/Seoul calendar day of an aware time."""
    return now.astimezone(SEOUL).date()


def seoul_midnight(day: date) -> datetime:
    """00:00 Asia/Seoul of `day`, as an aware time (compare it with UTC times freely)."""
    return datetime.combine(day, time(0), SEOUL)


@dataclass(frozen=True)
class Access:
    """The one answer of `tenancy.decide`: allowed or not, why (a stable code), and the window of history the
    principal may read ([history_from, history_to); None: unbounded on that side)."""

    allowed: bool
    code: str  # ok | signed_out | no_access | read_only | disabled
    history_from: datetime | None = None
    history_to: datetime | None = None
    lease: Lease | None = None

    def clip(self, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
        """[start, end) cut to the readable window; None when nothing of it is readable."""
        if self.history_from is not None:
            start = max(start, self.history_from)
        if self.history_to is not None:
            end = min(end, self.history_to)
        return (start, end) if start < end else None

