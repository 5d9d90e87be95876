"""Sites and zones the portal serves, registered from the site files their daemons run.

The site file is read and checked exactly as `farmctl run` reads it (`farmcore.site.load_site`), so the portal
never knows a zone the daemon does not. Registering again updates the site: new zones are added, renamed ones
renamed, and a zone gone from the file is dropped unless a lease names it (leases are history; it stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from farmcore.errors import FarmError
from farmcore.site import load_site
from portal.service.db import DbLease, DbSite, DbZone
from portal.service.errors import BadRequest
from portal.service.model import ZoneKey
from portal.service.store import Store, utc_now


@dataclass(frozen=True)
class Zone:
    site: str
    zone: str
    kind: str  # greenhouse | tank
    name: str = ""

    @property
    def key(self) -> ZoneKey:
        return ZoneKey(self.site, self.zone)


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    latitude: float
    longitude: float
    timezone: str
    max_override_s: float
    registered_at: datetime
    source_path: str
    zones: tuple[Zone, ...] = ()


def _zones(session: Session, site: str | None = None) -> list[Zone]:
    query = select(DbZone).order_by(DbZone.site, DbZone.zone)
    if site is not None:
        query = query.where(DbZone.site == site)
    return [Zone(z.site, z.zone, z.kind, z.name) for z in session.scalars(query)]


def _site(session: Session, row: DbSite) -> Site:
    return Site(row.id, row.name, row.latitude, row.longitude, row.timezone, row.max_override_s, row.registered_at,
                row.source_path, tuple(_zones(session, row.id)))


def register_site(store: Store, path: str | Path, now: datetime | None = None) -> Site:
    """Add or update a site and its zones from its site file; a bad file is one BadRequest naming the file and
    the field (the same line `farmctl site check` prints)."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
        site = load_site(path)
    except FarmError as exc:
        detail = str(exc).removeprefix(f"{path}: ")  # the field already names the file: said once
        raise BadRequest(str(path), f"사이트 파일에 오류가 있습니다: {detail}", f"not a usable site file: {detail}") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BadRequest(str(path), f"읽을 수 없습니다: {reason}", f"cannot read: {reason}") from None
    head = site.site
    with store.session() as session:
        row = session.get(DbSite, head.id, with_for_update=True)
        if row is None:
            row = DbSite(id=head.id)
            session.add(row)
        row.name, row.latitude, row.longitude, row.timezone = head.name, head.latitude, head.longitude, head.timezone
        row.max_override_s, row.registered_at = head.max_override_s, utc_now(now)
        row.source_path, row.source_text = str(path.resolve()), text
        session.flush()
        wanted = {z.id: z for z in site.zones}
        for old in session.scalars(select(DbZone).where(DbZone.site == head.id)):
            if old.zone in wanted:
                new = wanted.pop(old.zone)
                old.kind, old.name = new.kind, new.name
            elif session.scalars(select(DbLease.id).where(DbLease.site == head.id, DbLease.zone == old.zone)).first() \
                    is None:
                session.delete(old)
        session.add_all(DbZone(site=head.id, zone=z.id, kind=z.kind, name=z.name) for z in wanted.values())
        session.flush()
        return _site(session, row)


def sites(store: Store) -> list[Site]:
    """Every registered site with its zones, by id."""
    with store.session() as session:
        return [_site(session, row) for row in session.scalars(select(DbSite).order_by(DbSite.id))]


def site(store: Store, site_id: str) -> Site | None:
    with store.session() as session:
        row = session.get(DbSite, site_id)
        return None if row is None else _site(session, row)


def zones(store: Store, site_id: str | None = None) -> list[Zone]:
    """Registered zones (of one site, or all), by site and zone."""
    with store.session() as session:
        return _zones(session, site_id)


def zone_registered(store: Store, key: ZoneKey) -> bool:
    with store.session() as session:
        return session.get(DbZone, (key.site, key.zone)) is not None
