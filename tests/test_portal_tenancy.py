"""The one tenancy decision (portal/service/tenancy.py): leases by Asia/Seoul day, history from the lease's
start, readers confined to their sites, only tenants steer, an unknown zone answered like a foreign one."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from portal.service.model import Grants, Lease, Principal, Role, ZoneKey, seoul_midnight
from portal.service.tenancy import Op, decide

GH1, GH2 = ZoneKey("gb", "gh1"), ZoneKey("gb", "gh2")
KIM = Principal(1, "kim", Role.TENANT)
LEE = Principal(2, "lee", Role.TENANT)
OFFICER = Principal(3, "park", Role.OFFICER)
TECH = Principal(4, "choi", Role.TECHNICIAN)
ADMIN = Principal(5, "admin", Role.ADMIN)
KIM_LEASE = Lease(10, "kim", "gb", "gh1", date(2026, 3, 1), date(2027, 3, 1))
# the previous tenant of the same greenhouse
LEE_LEASE = Lease(11, "lee", "gb", "gh1", date(2025, 3, 1), date(2026, 3, 1))
NOON = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


def test_a_tenant_sees_and_steers_a_zone_inside_the_lease_and_reads_history_from_its_start() -> None:
    grants = Grants(leases=(KIM_LEASE,))
    for op in (Op.VIEW, Op.HISTORY, Op.COMMAND):
        access = decide(KIM, grants, GH1, op, NOON)
        assert access.allowed and access.code == "ok"
        assert access.history_from == seoul_midnight(date(2026, 3, 1))
        assert access.history_from == datetime(2026, 2, 28, 15, 0, tzinfo=UTC)  # 00:00 KST is 15:00 UTC before


def test_the_previous_tenants_history_is_cut_off_even_in_a_window_reaching_back() -> None:
    access = decide(KIM, Grants(leases=(KIM_LEASE,)), GH1, Op.HISTORY, NOON)
    assert access.clip(datetime(2025, 6, 1, tzinfo=UTC), NOON) == (seoul_midnight(date(2026, 3, 1)), NOON)
    assert access.clip(datetime(2025, 6, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)) is None


def test_lease_days_are_seoul_days_and_access_ends_the_moment_the_lease_does() -> None:
    grants = Grants(leases=(KIM_LEASE,))
    assert not decide(KIM, grants, GH1, Op.VIEW, datetime(2026, 2, 28, 14, 59, tzinfo=UTC)).allowed
    assert decide(KIM, grants, GH1, Op.VIEW, datetime(2026, 2, 28, 15, 0, tzinfo=UTC)).allowed  # 03-01 00:00 KST
    assert decide(KIM, grants, GH1, Op.VIEW, datetime(2027, 2, 28, 14, 59, tzinfo=UTC)).allowed
    end = datetime(2027, 2, 28, 15, 0, tzinfo=UTC)  # 2027-03-01 00:00 KST: the lease's end, exclusive
    for op in (Op.VIEW, Op.HISTORY, Op.COMMAND):
        assert decide(KIM, grants, GH1, op, end).code == "no_access"


def test_an_early_end_stops_access_that_day() -> None:
    ended = Lease(10, "kim", "gb", "gh1", date(2026, 3, 1), date(2027, 3, 1), ended=date(2026, 6, 1))
    assert not decide(KIM, Grants(leases=(ended,)), GH1, Op.VIEW, NOON).allowed
    assert decide(KIM, Grants(leases=(ended,)), GH1, Op.VIEW, datetime(2026, 5, 31, 14, 59, tzinfo=UTC)).allowed


def test_a_renewal_keeps_the_tenants_own_history_but_a_gap_does_not_bridge() -> None:
    first = Lease(9, "kim", "gb", "gh1", date(2025, 3, 1), date(2026, 3, 1))
    access = decide(KIM, Grants(leases=(first, KIM_LEASE)), GH1, Op.HISTORY, NOON)
    assert access.history_from == seoul_midnight(date(2025, 3, 1))
    gap = Lease(9, "kim", "gb", "gh1", date(2025, 3, 1), date(2026, 2, 27))
    assert decide(KIM, Grants(leases=(gap, KIM_LEASE)), GH1, Op.HISTORY, NOON).history_from == \
        seoul_midnight(date(2026, 3, 1))


def test_another_tenants_zone_and_an_unknown_zone_get_the_same_answer() -> None:
    grants = Grants(leases=(KIM_LEASE,))
    for key, registered in ((GH2, True), (ZoneKey("gb", "nope"), False), (ZoneKey("other", "gh1"), True)):
        for op in Op:
            assert decide(KIM, grants, key, op, NOON, registered=registered).code == "no_access"
    assert decide(LEE, Grants(leases=(LEE_LEASE,)), GH1, Op.HISTORY, NOON).code == "no_access"


@pytest.mark.parametrize("reader", [OFFICER, TECH])
def test_officers_and_technicians_read_their_sites_only_and_never_steer(reader: Principal) -> None:
    grants = Grants(sites=frozenset({"gb"}))
    assert decide(reader, grants, GH1, Op.VIEW, NOON).allowed
    history = decide(reader, grants, GH1, Op.HISTORY, NOON)
    assert history.allowed and history.history_from is None
    assert decide(reader, grants, GH1, Op.COMMAND, NOON).code == "read_only"
    assert decide(reader, grants, ZoneKey("other", "t1"), Op.VIEW, NOON).code == "no_access"
    assert decide(reader, grants, None, Op.AUDIT, NOON).code == "no_access"
    assert decide(reader, grants, GH1, Op.VIEW, NOON, registered=False).code == "no_access"


def test_admins_read_every_registered_zone_and_the_audit_but_do_not_steer() -> None:
    assert decide(ADMIN, Grants(), GH1, Op.VIEW, NOON).allowed
    assert decide(ADMIN, Grants(), GH1, Op.COMMAND, NOON).code == "read_only"
    assert decide(ADMIN, Grants(), None, Op.AUDIT, NOON).allowed
    assert decide(ADMIN, Grants(), None, Op.ADMIN, NOON).allowed
    assert decide(ADMIN, Grants(), ZoneKey("gb", "nope"), Op.VIEW, NOON, registered=False).code == "no_access"


def test_signed_out_is_refused_everything() -> None:
    for op in Op:
        assert decide(None, Grants(leases=(KIM_LEASE,)), GH1, op, NOON).code == "signed_out"
