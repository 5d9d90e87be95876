"""The admin's desk behind the portal's gate: users, sites and zones, leases, the audit log.

Every method takes the session token, is refused unless tenancy says the person is an admin (`Op.ADMIN`, or
`Op.AUDIT` for the log), and writes what it changed to the audit log. The store modules do the work and the
checking of input; this only gates and records, so the command line (`farmctl portal`) and the admin page act
alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from portal.service import accounts, audit, leases, sites
from portal.service.model import Lease, Principal, Role, ZoneKey
from portal.service.store import Store
from portal.service.tenancy import Op
from portal.service.views import AuditRow

if TYPE_CHECKING:
    from portal.service.portal import Portal


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    username: str | None = None
    site: str | None = None
    zone: str | None = None
    action: str | None = None
    limit: int = 1000


class AdminDesk:
    """`portal.admin`: what the admin pages call."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    @property
    def store(self) -> Store:
        return self.portal.store

    def _admin(self, token: str | None) -> Principal:
        return self.portal.gate(token, None, Op.ADMIN).principal

    def _log(self, who: Principal, action: str, key: ZoneKey | None, detail: dict[str, object]) -> None:
        audit.record(self.store, who, action, key, detail, "ok", now=self.portal.clock())

    # --------------------------------------------------------------------------------------------------- users

    def users(self, token: str | None) -> list[accounts.Account]:
        self._admin(token)
        return accounts.users(self.store)

    def create_user(self, token: str | None, username: str, role: Role | str, display_name: str = "",
                    language: str = "ko") -> str:
        """Create an account with a generated password, returned once (shown to the admin, never stored)."""
        who = self._admin(token)
        password = accounts.generate_password()
        accounts.create_user(self.store, username, role, password, display_name, language)
        self._log(who, "user_add", None, {"username": username, "role": str(role)})
        return password

    def reset_password(self, token: str | None, username: str) -> str:
        """A new generated password (returned once); the user's sessions end."""
        who = self._admin(token)
        password = accounts.generate_password()
        accounts.set_password(self.store, username, password, self.portal.clock())
        self._log(who, "user_passwd", None, {"username": username})
        return password

    def set_disabled(self, token: str | None, username: str, disabled: bool) -> None:
        who = self._admin(token)
        accounts.set_disabled(self.store, username, disabled, self.portal.clock())
        self._log(who, "user_disable" if disabled else "user_enable", None, {"username": username})

    def assign_site(self, token: str | None, username: str, site: str, assigned: bool = True) -> None:
        """Give (or take) an officer or a technician the reading of a site's zones."""
        who = self._admin(token)
        accounts.assign_site(self.store, username, site, assigned)
        self._log(who, "user_assign" if assigned else "user_unassign", None, {"username": username, "site": site})

    # --------------------------------------------------------------------------------------------------- sites

    def sites(self, token: str | None) -> list[sites.Site]:
        self._admin(token)
        return sites.sites(self.store)

    def register_site(self, token: str | None, path: str | Path) -> sites.Site:
        who = self._admin(token)
        site = sites.register_site(self.store, path, self.portal.clock())
        self._log(who, "site_add", None, {"site": site.id, "zones": len(site.zones), "file": str(path)})
        return site

    def unregistered_zones(self, token: str | None) -> list[ZoneKey]:
        """Zones the live link has seen on the broker that no registered site has (a daemon nobody registered)."""
        self._admin(token)
        live = self.portal.live
        if live is None:
            return []
        known = {z.key for z in sites.zones(self.store)}
        return sorted(live.seen() - known, key=lambda k: (k.site, k.zone))

    # -------------------------------------------------------------------------------------------------- leases

    def leases(self, token: str | None, *, tenant: str | None = None, site: str | None = None,
               zone: str | None = None, active_on: date | None = None) -> list[Lease]:
        self._admin(token)
        return leases.leases(self.store, tenant=tenant, site=site, zone=zone, active_on=active_on)

    def add_lease(self, token: str | None, tenant: str, site: str, zone: str, start: date | str, end: date | str,
                  note: str = "") -> Lease:
        who = self._admin(token)
        lease = leases.add_lease(self.store, tenant, site, zone, start, end, who.username, note, self.portal.clock())
        self._log(who, "lease_add", lease.key, {"lease": lease.id, "tenant": tenant, "start": str(lease.start),
                                                "end": str(lease.end)})
        return lease

    def end_lease(self, token: str | None, lease_id: int, day: date | str) -> Lease:
        who = self._admin(token)
        lease = leases.end_lease(self.store, lease_id, day, who.username)
        self._log(who, "lease_end", lease.key, {"lease": lease.id, "ended": str(lease.ended)})
        return lease

    # --------------------------------------------------------------------------------------------------- audit

    def audit(self, token: str | None, filters: AuditFilter = AuditFilter()) -> list[AuditRow]:
        self.portal.gate(token, None, Op.AUDIT)
        return audit.query(self.store, since=filters.since, until=filters.until, username=filters.username,
                           site=filters.site, zone=filters.zone, action=filters.action, limit=filters.limit)

    def audit_csv(self, token: str | None, filters: AuditFilter = AuditFilter()) -> bytes:
        who = self.portal.gate(token, None, Op.AUDIT).principal
        rows = self.audit(token, filters)
        self._log(who, "audit_export", None, {"rows": len(rows)})
        return audit.to_csv(rows)
