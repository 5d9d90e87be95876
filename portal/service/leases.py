"""Leases: which tenant rents which zone, over [start, end) in Asia/Seoul days; one tenant per zone at a time.

An admin may end a lease early (`ended`, the first day it no longer holds); the days after it are free to lease
again. Whether a lease lets someone see or steer a zone is decided in `tenancy.py`, never here.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.service.db import DbLease, DbUser, DbZone
from portal.service.errors import BadRequest
from portal.service.model import Lease, Role
from portal.service.store import Store, utc_now

DAY_ALLOWED = ("YYYY-MM-DD 형식의 날짜 (한국 시간)", "a date YYYY-MM-DD (Asia/Seoul)")
NOTE_MAX = 2000


def article(word: str) -> str:
    """"an officer", "an admin", "a tenant": the English article of a role's name."""
    return "an" if word[:1] in "aeiou" else "a"


def to_lease(row: DbLease, tenant: str) -> Lease:
    return Lease(row.id, tenant, row.site, row.zone, row.start, row.end, row.ended, row.note)


def parse_day(field: str, value: date | str) -> date:
    """A lease day from a `date` or "YYYY-MM-DD"; anything else names the field and the form allowed."""
    if isinstance(value, datetime):  # a datetime is a date too, but "which day" of it depends on the zone
        raise BadRequest(field, f"{value!r}: {DAY_ALLOWED[0]}", f"{value!r}: {DAY_ALLOWED[1]}")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(field, f"{value!r}: {DAY_ALLOWED[0]}", f"{value!r}: {DAY_ALLOWED[1]}") from None


def _overlapping(session: Session, site: str, zone: str, start: date, end: date) -> tuple[DbLease, str] | None:
    """A lease of the zone holding on any day of [start, end), and its tenant."""
    rows = session.execute(select(DbLease, DbUser.username).join(DbUser, DbUser.id == DbLease.tenant_id)
                           .where(DbLease.site == site, DbLease.zone == zone, DbLease.start < end)
                           .order_by(DbLease.start))
    for row, tenant in rows:
        until = to_lease(row, tenant).until
        if row.start < until and start < until:  # a lease cancelled on its first day holds no day
            return row, tenant
    return None


def add_lease(store: Store, tenant: str, site: str, zone: str, start: date | str, end: date | str, by: str,
              note: str = "", now: datetime | None = None) -> Lease:
    """Lease a registered zone to a tenant for [start, end); refused when any lease of the zone holds on one of
    those days (whoever holds it: one tenant per zone at a time)."""
    start, end = parse_day("start", start), parse_day("end", end)
    if end <= start:
        raise BadRequest("end", f"{end}: 시작일({start}) 뒤의 날짜여야 합니다 "
                                "(종료일 당일은 임대 기간에 들지 않습니다)",
                         f"{end}: a day after start ({start}); the end day itself is not leased")
    if len(note) > NOTE_MAX:
        raise BadRequest("note", f"{NOTE_MAX}자 이하", f"at most {NOTE_MAX} characters")
    with store.session() as session:
        user = session.scalars(select(DbUser).where(DbUser.username == tenant)).one_or_none()
        if user is None or user.role != Role.TENANT:
            ko, en = (f"{tenant!r} 사용자가 없습니다", f"no user {tenant!r}") if user is None else (
                f"{tenant!r}: {user.role} 계정입니다", f"{tenant!r} is {article(user.role)} {user.role}")
            raise BadRequest("tenant", f"{ko}. 임차인(tenant) 계정이어야 합니다", f"{en}: a tenant account is needed")
        # the zone's row is locked (PostgreSQL) so two admins cannot lease the same days at once; SQLite's
        # transactions are BEGIN IMMEDIATE (store.py), which serialises them already
        found = session.scalars(select(DbZone).where(DbZone.site == site, DbZone.zone == zone)
                                .with_for_update()).one_or_none()
        if found is None:
            known = ", ".join(session.scalars(select(DbZone.zone).where(DbZone.site == site).order_by(DbZone.zone)))
            raise BadRequest("zone", f"{site}/{zone}: 등록된 구역이 아닙니다 (이 사이트의 구역: {known or '없음'})",
                             f"{site}/{zone}: not a registered zone (zones of this site: {known or 'none'})")
        clash = _overlapping(session, site, zone, start, end)
        if clash is not None:
            other, holder = clash
            until = to_lease(other, holder).until
            raise BadRequest("start", f"{start}~{end}: 기간이 겹치는 임대가 있습니다 (#{other.id} {holder}, "
                                      f"{other.start}~{until}). 한 구역은 한 번에 한 임차인만 빌릴 수 있습니다",
                             f"{start}..{end} overlaps lease #{other.id} of {site}/{zone} ({holder}, "
                             f"{other.start}..{until}): one tenant per zone at a time")
        row = DbLease(tenant_id=user.id, site=site, zone=zone, start=start, end=end, created_by=by,
                      created_at=utc_now(now), note=note)
        session.add(row)
        session.flush()
        return to_lease(row, tenant)


def end_lease(store: Store, lease_id: int, day: date | str, by: str) -> Lease:
    """End a lease early: from `day` on (Asia/Seoul) it no longer holds. `day` lies in [start, until): ending it
    on its first day cancels it; a day after it ends anyway changes nothing and is refused."""
    day = parse_day("day", day)
    with store.session() as session:
        found = session.execute(select(DbLease, DbUser.username).join(DbUser, DbUser.id == DbLease.tenant_id)
                                .where(DbLease.id == lease_id).with_for_update(of=DbLease)).one_or_none()
        if found is None:
            raise BadRequest("lease", f"#{lease_id} 임대가 없습니다", f"no lease #{lease_id}")
        row, tenant = found
        until = to_lease(row, tenant).until
        if not row.start <= day < until:
            raise BadRequest("day", f"{day}: 임대 #{lease_id}의 기간 안의 날짜여야 합니다 "
                                    f"({row.start}부터 {until} 전까지)",
                             f"{day}: a day from {row.start} up to (not including) {until}, when lease "
                             f"#{lease_id} ends anyway")
        row.ended, row.ended_by = day, by
        return to_lease(row, tenant)


def leases(store: Store, *, tenant: str | None = None, site: str | None = None, zone: str | None = None,
           active_on: date | None = None) -> list[Lease]:
    """Leases by site, zone and start (filters None: any; `active_on`: holding on that Asia/Seoul day)."""
    query = (select(DbLease, DbUser.username).join(DbUser, DbUser.id == DbLease.tenant_id)
             .order_by(DbLease.site, DbLease.zone, DbLease.start))
    if tenant is not None:
        query = query.where(DbUser.username == tenant)
    if site is not None:
        query = query.where(DbLease.site == site)
    if zone is not None:
        query = query.where(DbLease.zone == zone)
    with store.session() as session:
        found = [to_lease(row, name) for row, name in session.execute(query)]
    return [lease for lease in found if active_on is None or lease.holds_on(active_on)]
