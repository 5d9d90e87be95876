"""The facade without a broker: what it does when live data, the historian or the person are missing, and what it
writes to the audit log (the isolation matrix in hil_tests runs it against a real stack)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from farmcore.historian.base import Point
from farmcore.historian.sqlite import SqliteHistorian
from portal.service import accounts, leases, sites
from portal.service.admin import AuditFilter
from portal.service.commands import CommandRequest
from portal.service.errors import Denied, SignInError
from portal.service.history import HistoryUnavailable
from portal.service.model import seoul_day
from portal.service.portal import Portal
from portal.service.store import Store

SITE_FILE = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"
SITE = "gyeongbuk-demo"
NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    store = Store.open(f"sqlite:///{tmp_path / 'portal.db'}")
    sites.register_site(store, SITE_FILE)
    for name, role in (("kim", "tenant"), ("park", "officer"), ("admin", "admin")):
        accounts.create_user(store, name, role, f"{name}-password-1")
    accounts.assign_site(store, "park", SITE)
    today = seoul_day(NOW)
    leases.add_lease(store, "kim", SITE, "gh1", today - timedelta(days=3), today + timedelta(days=30), "admin")
    history = SqliteHistorian(tmp_path / "history.db")
    history.write([Point("sensor", SITE, "gh1", "air_temperature", NOW - timedelta(days=d, minutes=1),
                         {"value": 20.0 + d}, quality="good") for d in range(10)])
    assert history.flush(30.0)
    yield Portal(store, None, history, clock=lambda: NOW)
    history.close()
    store.close()


def token(portal: Portal, name: str) -> str:
    return portal.sign_in(name, f"{name}-password-1")[0]


def test_sign_ins_are_audited_right_or_wrong(portal: Portal) -> None:
    with pytest.raises(SignInError):
        portal.sign_in("kim", "not-the-password")
    admin = token(portal, "admin")
    rows = portal.admin.audit(admin, AuditFilter(action="sign_in"))
    assert [(r.username, r.outcome) for r in rows] == [("admin", "ok"), ("kim", "wrong")]


def test_without_a_live_link_the_zone_shows_no_state_and_a_command_is_not_sent_but_audited(portal: Portal) -> None:
    kim = token(portal, "kim")
    page = portal.zone(kim, SITE, "gh1")
    assert page.state is None and not page.card.can_command and not page.link.connected
    outcome = portal.command(kim, SITE, "gh1", CommandRequest("setpoint", "air_temperature", 18.0))
    assert outcome.status == "not_sent" and outcome.code == "link_down"
    rows = portal.admin.audit(token(portal, "admin"), AuditFilter(action="command_setpoint"))
    assert [(r.username, r.outcome, r.zone) for r in rows] == [("kim", "not_sent:link_down", "gh1")]


def test_a_refused_command_is_audited_with_who_asked(portal: Portal) -> None:
    park = token(portal, "park")
    with pytest.raises(Denied) as refused:
        portal.command(park, SITE, "gh1", CommandRequest("override", "fan", "on", 60, confirmed=True))
    assert refused.value.code == "read_only"
    rows = portal.admin.audit(token(portal, "admin"), AuditFilter(action="command_override"))
    assert [(r.username, r.outcome) for r in rows] == [("park", "read_only")]


def test_history_is_cut_at_the_lease_for_the_tenant_and_whole_for_the_officer(portal: Portal) -> None:
    start = datetime.fromisoformat("2026-12-05T00:00:00+09:00")  # kim's lease: from 3 Seoul days ago
    kim = portal.history(token(portal, "kim"), SITE, "gh1", "30d")
    assert kim.start == start
    assert all(t >= start for s in kim.series for t in s.times)
    assert {v for s in kim.series for v in s.values if v is not None} == {20.0, 21.0, 22.0, 23.0}
    park = portal.history(token(portal, "park"), SITE, "gh1", "30d")
    assert {v for s in park.series for v in s.values if v is not None} == {20.0 + d for d in range(10)}


def test_exports_are_cut_at_the_lease_and_audited(portal: Portal) -> None:
    name, data = portal.export_csv(token(portal, "kim"), SITE, "gh1")
    assert name == f"{SITE}-gh1-20261205-20261208.csv"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert {float(r[2]) for r in rows[1:] if r[2]} == {20.0, 21.0, 22.0, 23.0}
    rows = portal.admin.audit(token(portal, "admin"), AuditFilter(action="export_csv"))
    assert [(r.username, r.outcome) for r in rows] == [("kim", "ok")]


def test_no_historian_is_one_sentence_not_a_trace(portal: Portal) -> None:
    bare = Portal(portal.store, None, None, clock=lambda: NOW)
    with pytest.raises(HistoryUnavailable) as missing:
        bare.history(token(bare, "kim"), SITE, "gh1", "24h")
    assert missing.value.text("ko") and missing.value.text("en")


def test_only_an_admin_administers_and_every_change_is_audited(portal: Portal) -> None:
    with pytest.raises(Denied):
        portal.admin.create_user(token(portal, "kim"), "mallory", "admin")
    admin = token(portal, "admin")
    password = portal.admin.create_user(admin, "lee", "tenant")
    assert len(password) >= 10 and portal.sign_in("lee", password)
    lease = portal.admin.add_lease(admin, "lee", SITE, "gh2", "2026-12-08", "2027-01-08")
    portal.admin.end_lease(admin, lease.id, "2026-12-20")
    actions = [r.action for r in portal.admin.audit(admin)]
    assert {"user_add", "lease_add", "lease_end"} <= set(actions)


def test_a_zone_refused_to_a_signed_in_person_is_audited(portal: Portal) -> None:
    kim = token(portal, "kim")
    for zone in ("gh2", "nowhere"):
        with pytest.raises(Denied):
            portal.zone(kim, SITE, zone)
    for _ in range(3):  # a page refreshing on a zone it lost: one row, not one a refresh
        with pytest.raises(Denied):
            portal.history(kim, SITE, "gh2", "24h")
    rows = portal.admin.audit(token(portal, "admin"))
    assert [(r.action, r.zone, r.outcome) for r in rows if r.action.startswith("denied")] == [
        ("denied_history", "gh2", "no_access"), ("denied_view", "nowhere", "no_access"),
        ("denied_view", "gh2", "no_access")]
