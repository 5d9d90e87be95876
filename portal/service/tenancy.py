"""Who may do what to which zone, decided here once for every page, export and command (DESIGN.md).

Pure: the principal, what the store holds for them (`Grants`), whether the zone is registered and the time in,
one `Access` out. A tenant sees and steers a zone only inside an active lease, and reads its history only from
that lease's start (earlier leases of the same tenant on the zone that run straight into it count: a renewal
keeps the tenant's own history; a previous tenant's never shows). The moment a lease ends, access ends. Officers
and technicians read every zone of the sites assigned to them, admins every zone; only a tenant steers. An
unknown zone and another tenant's zone get the same answer, so a probe learns nothing of what exists.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from portal.service.model import Access, Grants, Lease, Principal, Role, ZoneKey, seoul_day, seoul_midnight


class Op(StrEnum):
    VIEW = "view"  # the zone in a list, its live state and alarms
    HISTORY = "history"  # charts and the CSV export
    COMMAND = "command"  # setpoint, override, release, feed now, alarm acknowledge
    AUDIT = "audit"  # the whole audit log (a tenant reads their own commands through VIEW)
    ADMIN = "admin"  # sites, users, leases


READERS = (Role.OFFICER, Role.TECHNICIAN)

SIGNED_OUT = Access(False, "signed_out")
NO_ACCESS = Access(False, "no_access")
READ_ONLY = Access(False, "read_only")


def active_lease(grants: Grants, key: ZoneKey, now: datetime) -> Lease | None:
    """The tenant's lease of `key` that holds today (Asia/Seoul), if any."""
    today = seoul_day(now)
    return next((lease for lease in grants.leases if lease.key == key and lease.holds_on(today)), None)


def history_start(grants: Grants, lease: Lease) -> datetime:
    """00:00 Asia/Seoul of the first day of the unbroken run of this tenant's leases ending in `lease`."""
    start = lease.start
    earlier = {g.until: g for g in grants.leases if g.key == lease.key and g.tenant == lease.tenant}
    while start in earlier:
        start = earlier[start].start
    return seoul_midnight(start)


def decide(principal: Principal | None, grants: Grants, key: ZoneKey | None, op: Op, now: datetime, *,
           registered: bool = True) -> Access:
    """May `principal` do `op` on zone `key` (None for the site-free ops AUDIT and ADMIN) at `now`?"""
    if principal is None:
        return SIGNED_OUT
    if op in (Op.AUDIT, Op.ADMIN):
        return Access(True, "ok") if principal.role == Role.ADMIN else NO_ACCESS
    if key is None or not registered:
        return NO_ACCESS
    if principal.role == Role.TENANT:
        lease = active_lease(grants, key, now)
        if lease is None:
            return NO_ACCESS
        return Access(True, "ok", history_from=history_start(grants, lease), history_to=now, lease=lease)
    if principal.role in READERS and key.site not in grants.sites:
        return NO_ACCESS
    if op == Op.COMMAND:
        return READ_ONLY
    return Access(True, "ok", history_to=now)
