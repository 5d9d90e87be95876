"""The portal store's contract, run on SQLite and on a real PostgreSQL (a throwaway cluster, tests/pgcluster.py):
accounts and sessions, leases, site registration, the audit log and the migrations behave the same on both."""

from __future__ import annotations

import csv
import io
import json
import secrets
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from argon2 import PasswordHasher, profiles
from pgcluster import PgCluster, pg_cluster  # noqa: F401  (the session fixture)
from sqlalchemy import select, text

from portal.service import accounts, audit, leases, sites
from portal.service.db import Base, DbSession, DbUser
from portal.service.errors import BadRequest, SignInError
from portal.service.migrations import current, head, migrate
from portal.service.model import SEOUL, Principal, Role, ZoneKey
from portal.service.store import Store

T0 = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 09:30 in Seoul
PASSWORD = "correct horse 1"
SHIPPED_SITE = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"
MINI = """[site]
id = "mini"
name = "작은 단지"
latitude = 36.0
longitude = 128.0
{extra}
[[buses]]
id = "b"
url = "tcp://127.0.0.1:5020"

[[zones]]
id = "gh1"
kind = "greenhouse"
name = "1동"
bus = "b"
{zones}"""
TANK = '\n[[zones]]\nid = "tank1"\nkind = "tank"\nbus = "b"\n'


def mini_site(folder: Path, extra: str = "", zones: str = TANK) -> Path:
    path = folder / "mini.toml"
    path.write_text(MINI.format(extra=extra, zones=zones), "utf-8")
    return path


REAL_HASHER = accounts.HASHER


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its cheapest (8 KiB, one pass): the real cost (~0.12 s a hash) would make this suite slow; the
    real parameters are checked in test_a_password_is_kept_only_as_an_argon2id_hash."""
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind (PostgreSQL: a new database in the session's cluster)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'portal.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.fresh()


@pytest.fixture
def store(db_url: str):
    with Store.open(db_url) as s:
        yield s


@pytest.fixture
def farm(store: Store, tmp_path: Path) -> Store:
    """The mini site registered, a tenant `kim`, another `lee`, an officer `park`."""
    sites.register_site(store, mini_site(tmp_path), now=T0)
    accounts.create_user(store, "kim", "tenant", PASSWORD, "김 농부", now=T0)
    accounts.create_user(store, "lee", Role.TENANT, PASSWORD, now=T0)
    accounts.create_user(store, "park", "officer", PASSWORD, language="en", now=T0)
    return store


def wrong(call) -> SignInError:
    with pytest.raises(SignInError) as caught:
        call()
    return caught.value


def bad(call) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------------------------------------- migrations


def test_a_fresh_database_is_migrated_to_head_and_matches_the_models(db_url: str) -> None:
    with Store.open(db_url) as store, store.engine.connect() as connection:
        assert current(connection) == head() == "0001"
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_migrating_twice_changes_nothing(db_url: str) -> None:
    with Store.open(db_url) as store:
        accounts.create_user(store, "kim", "tenant", PASSWORD, now=T0)
        migrate(store.engine)
    with Store.open(db_url) as store:
        with store.engine.connect() as connection:
            assert current(connection) == head()
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert [a.username for a in accounts.users(store)] == ["kim"]


def test_times_come_back_aware_utc_and_naive_ones_are_refused(store: Store) -> None:
    created = accounts.create_user(store, "kim", "tenant", PASSWORD, now=T0.astimezone(SEOUL))
    assert accounts.account(store, "kim") == created
    assert created.created_at == T0 and created.created_at.tzinfo == UTC
    with pytest.raises(ValueError, match="naive"):
        audit.record(store, None, "x", None, {}, "ok", now=datetime(2026, 1, 1))


# ---------------------------------------------------------------------------------------------- accounts


def test_a_password_is_kept_only_as_an_argon2id_hash(farm: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "HASHER", REAL_HASHER)
    accounts.create_user(farm, "choi", "tenant", PASSWORD, "최 농부", now=T0)
    with farm.session() as session:
        stored = session.scalars(select(DbUser.password_hash).where(DbUser.username == "choi")).one()
    # RFC 9106's second recommended option, argon2-cffi's default: argon2id, 64 MiB, 3 passes, 4 lanes
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and PASSWORD not in stored
    token, who = accounts.sign_in(farm, " Choi", PASSWORD, T0)  # as a phone keyboard types it
    assert (who.username, who.role, who.display_name, who.language) == ("choi", Role.TENANT, "최 농부", "ko")
    with farm.session() as session:
        hashes = list(session.scalars(select(DbSession.token_hash)))
    assert hashes == [accounts.token_hash(token)] and token not in hashes  # the token itself is never stored


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(farm: Store) -> None:
    by_password = wrong(lambda: accounts.sign_in(farm, "kim", "not the password", T0))
    by_name = wrong(lambda: accounts.sign_in(farm, "nobody", PASSWORD, T0))
    assert by_password.code == by_name.code == "wrong"
    assert by_password.text("ko") == by_name.text("ko") and by_password.text("en") == by_name.text("en")


def test_five_failures_lock_the_account_for_fifteen_minutes_even_against_the_right_password(farm: Store) -> None:
    for i in range(4):
        assert wrong(lambda i=i: accounts.sign_in(farm, "kim", "guess", T0 + timedelta(seconds=i))).code == "wrong"
    locked = wrong(lambda: accounts.sign_in(farm, "kim", "guess", T0 + timedelta(seconds=4)))
    assert locked.code == "locked" and locked.locked_until == T0 + timedelta(seconds=4, minutes=15)
    assert "09:45" in locked.text("ko") and "09:45" in locked.text("en")  # Seoul time: 09:30 + 15 min
    almost = T0 + timedelta(seconds=4, minutes=15) - timedelta(seconds=1)
    assert wrong(lambda: accounts.sign_in(farm, "kim", PASSWORD, almost)).code == "locked"
    _token, who = accounts.sign_in(farm, "kim", PASSWORD, almost + timedelta(seconds=1))
    assert who.username == "kim"
    # the count started again after the lock: four more failures do not lock
    for i in range(4):
        assert wrong(lambda i=i: accounts.sign_in(farm, "kim", "guess", T0 + timedelta(hours=1, seconds=i))).code \
            == "wrong"
    assert accounts.sign_in(farm, "kim", PASSWORD, T0 + timedelta(hours=1, minutes=1))[1].username == "kim"


def test_guesses_sent_in_parallel_are_each_counted(farm: Store) -> None:
    codes: list[str] = []
    barrier = threading.Barrier(8)

    def guess() -> None:
        barrier.wait()
        codes.append(wrong(lambda: accounts.sign_in(farm, "kim", "guess", T0)).code)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(codes) == ["locked"] * 4 + ["wrong"] * 4


def test_a_session_ends_after_twelve_idle_hours(farm: Store) -> None:
    token, _ = accounts.sign_in(farm, "kim", PASSWORD, T0)
    assert accounts.resolve(farm, token, T0 + timedelta(hours=11, minutes=59)) is not None  # use keeps it alive
    later = T0 + timedelta(hours=11, minutes=59)
    assert accounts.resolve(farm, token, later + timedelta(hours=11, minutes=59)) is not None
    last = later + timedelta(hours=11, minutes=59)
    assert accounts.resolve(farm, token, last + timedelta(hours=12)) is None


def test_a_session_ends_seven_days_after_sign_in_however_busy(farm: Store) -> None:
    token, _ = accounts.sign_in(farm, "kim", PASSWORD, T0)
    moment = T0
    while moment + timedelta(hours=11) < T0 + timedelta(days=7):
        moment += timedelta(hours=11)
        assert accounts.resolve(farm, token, moment) is not None
    assert accounts.resolve(farm, token, T0 + timedelta(days=7) - timedelta(seconds=1)) is not None
    assert accounts.resolve(farm, token, T0 + timedelta(days=7)) is None


def test_a_forged_or_ended_token_resolves_to_no_one(farm: Store) -> None:
    token, _ = accounts.sign_in(farm, "kim", PASSWORD, T0)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for forged in (secrets.token_urlsafe(32), flipped, accounts.token_hash(token), "", None):
        assert accounts.resolve(farm, forged, T0) is None
    accounts.sign_out(farm, token, T0 + timedelta(minutes=1))
    accounts.sign_out(farm, token, T0 + timedelta(minutes=2))  # twice is no error
    assert accounts.resolve(farm, token, T0 + timedelta(minutes=3)) is None


def test_a_password_change_ends_every_other_session_and_keeps_this_one(farm: Store) -> None:
    here, who = accounts.sign_in(farm, "kim", PASSWORD, T0)
    phone, _ = accounts.sign_in(farm, "kim", PASSWORD, T0)
    assert bad(lambda: accounts.change_password(farm, who, PASSWORD, "short", T0)).field == "new_password"
    assert wrong(lambda: accounts.change_password(farm, who, "not mine at all", "a new password 2", T0)).code \
        == "wrong"
    accounts.change_password(farm, who, PASSWORD, "a new password 2", T0 + timedelta(minutes=1))
    assert accounts.resolve(farm, here, T0 + timedelta(minutes=2)) == who
    assert accounts.resolve(farm, phone, T0 + timedelta(minutes=2)) is None
    assert wrong(lambda: accounts.sign_in(farm, "kim", PASSWORD, T0 + timedelta(minutes=3))).code == "wrong"
    assert accounts.sign_in(farm, "kim", "a new password 2", T0 + timedelta(minutes=3))[1].username == "kim"
    assert accounts.account(farm, "kim").password_changed_at == T0 + timedelta(minutes=1)


def test_an_admin_reset_ends_every_session_and_lifts_the_lock(farm: Store) -> None:
    token, _ = accounts.sign_in(farm, "kim", PASSWORD, T0)
    for i in range(5):
        wrong(lambda i=i: accounts.sign_in(farm, "kim", "guess", T0 + timedelta(seconds=i)))
    accounts.set_password(farm, "kim", "reset by admin 3", T0 + timedelta(minutes=1))
    assert accounts.resolve(farm, token, T0 + timedelta(minutes=1)) is None
    assert accounts.account(farm, "kim").locked_until is None
    assert accounts.sign_in(farm, "kim", "reset by admin 3", T0 + timedelta(minutes=1))[1].username == "kim"


def test_a_disabled_user_is_signed_out_at_once_and_told_only_after_the_right_password(farm: Store) -> None:
    token, _ = accounts.sign_in(farm, "kim", PASSWORD, T0)
    accounts.disable(farm, "kim", T0 + timedelta(minutes=1))
    assert accounts.resolve(farm, token, T0 + timedelta(minutes=1)) is None
    assert wrong(lambda: accounts.sign_in(farm, "kim", "guess", T0 + timedelta(minutes=2))).code == "wrong"
    assert wrong(lambda: accounts.sign_in(farm, "kim", PASSWORD, T0 + timedelta(minutes=2))).code == "disabled"
    accounts.enable(farm, "kim")
    assert accounts.resolve(farm, token, T0 + timedelta(minutes=3)) is None  # enabling revives no session
    assert accounts.sign_in(farm, "kim", PASSWORD, T0 + timedelta(minutes=3))[1].username == "kim"


def test_account_input_is_refused_with_the_field_and_what_is_allowed(farm: Store) -> None:
    assert bad(lambda: accounts.create_user(farm, "Kim Lee", "tenant", PASSWORD)).field == "username"
    role = bad(lambda: accounts.create_user(farm, "choi", "farmer", PASSWORD))
    assert role.field == "role" and "tenant, officer, technician, admin" in role.text("en")
    assert bad(lambda: accounts.create_user(farm, "choi", "tenant", "123456789")).field == "password"
    assert bad(lambda: accounts.create_user(farm, "choi", "tenant", PASSWORD, language="jp")).field == "language"
    assert "exists" in bad(lambda: accounts.create_user(farm, "kim", "tenant", PASSWORD)).text("en")
    assert bad(lambda: accounts.set_password(farm, "nobody", PASSWORD)).field == "username"


def test_grants_give_a_tenant_their_leases_a_reader_their_sites_and_an_admin_nothing(farm: Store) -> None:
    accounts.create_user(farm, "admin", "admin", PASSWORD)
    lease = leases.add_lease(farm, "kim", "mini", "gh1", date(2026, 3, 1), date(2027, 3, 1), "admin")
    leases.add_lease(farm, "lee", "mini", "tank1", date(2026, 3, 1), date(2027, 3, 1), "admin")
    accounts.assign_site(farm, "park", "mini")
    accounts.assign_site(farm, "park", "mini")  # twice is once
    kim, park, admin = (accounts.sign_in(farm, n, PASSWORD, T0)[1] for n in ("kim", "park", "admin"))
    assert accounts.grants(farm, kim).leases == (lease,) and not accounts.grants(farm, kim).sites
    assert accounts.grants(farm, park).sites == frozenset({"mini"}) and not accounts.grants(farm, park).leases
    assert accounts.grants(farm, admin).leases == () and accounts.grants(farm, admin).sites == frozenset()
    assert accounts.account(farm, "park").sites == ("mini",)
    assert bad(lambda: accounts.assign_site(farm, "kim", "mini")).field == "username"
    assert bad(lambda: accounts.assign_site(farm, "park", "nowhere")).field == "site"
    accounts.unassign_site(farm, "park", "mini")
    assert accounts.grants(farm, park).sites == frozenset()


# ---------------------------------------------------------------------------------------------- leases


def test_a_zone_has_one_tenant_at_a_time_and_the_end_day_is_free(farm: Store) -> None:
    first = leases.add_lease(farm, "kim", "mini", "gh1", "2026-03-01", "2026-06-01", "admin", note="봄 작기")
    assert (first.start, first.end, first.until, first.note) == (date(2026, 3, 1), date(2026, 6, 1),
                                                                 date(2026, 6, 1), "봄 작기")
    for start, end in (("2026-02-01", "2026-03-02"), ("2026-05-31", "2026-07-01"), ("2026-03-10", "2026-03-11"),
                       ("2026-01-01", "2027-01-01")):
        for tenant in ("kim", "lee"):
            refused = bad(lambda s=start, e=end, t=tenant: leases.add_lease(farm, t, "mini", "gh1", s, e, "admin"))
            assert refused.field == "start" and f"#{first.id}" in refused.text("en")
    assert leases.add_lease(farm, "lee", "mini", "gh1", "2026-06-01", "2026-09-01", "admin").start == date(2026, 6, 1)
    assert leases.add_lease(farm, "lee", "mini", "gh1", "2026-01-01", "2026-03-01", "admin").end == date(2026, 3, 1)
    assert leases.add_lease(farm, "lee", "mini", "tank1", "2026-03-01", "2026-06-01", "admin").zone == "tank1"
    assert [lease.tenant for lease in leases.leases(farm, zone="gh1")] == ["lee", "kim", "lee"]
    assert [lease.id for lease in leases.leases(farm, active_on=date(2026, 5, 31), tenant="kim")] == [first.id]
    assert leases.leases(farm, active_on=date(2026, 6, 1), tenant="kim") == []


def test_an_early_end_frees_the_days_after_it(farm: Store) -> None:
    lease = leases.add_lease(farm, "kim", "mini", "gh1", "2026-03-01", "2027-03-01", "admin")
    assert bad(lambda: leases.end_lease(farm, lease.id, "2026-02-28", "admin")).field == "day"
    assert bad(lambda: leases.end_lease(farm, lease.id, "2027-03-01", "admin")).field == "day"
    assert bad(lambda: leases.end_lease(farm, 999, "2026-04-01", "admin")).field == "lease"
    ended = leases.end_lease(farm, lease.id, date(2026, 4, 1), "admin")
    assert (ended.ended, ended.until, ended.holds_on(date(2026, 3, 31)), ended.holds_on(date(2026, 4, 1))) == \
        (date(2026, 4, 1), date(2026, 4, 1), True, False)
    assert bad(lambda: leases.end_lease(farm, lease.id, "2026-05-01", "admin")).field == "day"  # it ended already
    assert bad(lambda: leases.add_lease(farm, "lee", "mini", "gh1", "2026-03-31", "2026-05-01", "admin")).field \
        == "start"
    assert leases.add_lease(farm, "lee", "mini", "gh1", "2026-04-01", "2026-05-01", "admin").tenant == "lee"
    assert leases.end_lease(farm, lease.id, "2026-03-01", "admin").until == date(2026, 3, 1)  # cancelled


def test_bad_lease_input_names_the_field_and_what_is_allowed(farm: Store) -> None:
    for start, end, field in (("2026-13-01", "2027-01-01", "start"), ("2026-03-01", "next year", "end"),
                              ("2026-03-01", "2026-03-01", "end"), ("2026-03-02", "2026-03-01", "end")):
        refused = bad(lambda s=start, e=end: leases.add_lease(farm, "kim", "mini", "gh1", s, e, "admin"))
        assert refused.field == field, (start, end)
    assert "YYYY-MM-DD" in bad(lambda: leases.add_lease(farm, "kim", "mini", "gh1", "1/3/2026", "2027-01-01",
                                                        "admin")).text("ko")
    assert bad(lambda: leases.add_lease(farm, "kim", "mini", "gh1", datetime(2026, 3, 1, tzinfo=UTC),
                                        date(2027, 1, 1), "admin")).field == "start"
    assert bad(lambda: leases.add_lease(farm, "park", "mini", "gh1", "2026-03-01", "2027-01-01", "admin")).field \
        == "tenant"
    assert bad(lambda: leases.add_lease(farm, "ghost", "mini", "gh1", "2026-03-01", "2027-01-01", "admin")).field \
        == "tenant"
    unknown = bad(lambda: leases.add_lease(farm, "kim", "mini", "gh9", "2026-03-01", "2027-01-01", "admin"))
    assert unknown.field == "zone" and "gh1, tank1" in unknown.text("en")


def test_leases_added_at_once_from_many_threads_never_overlap(farm: Store) -> None:
    """Streamlit serves admins from threads: the overlap check and the insert must not interleave."""
    results: list[str] = []
    barrier = threading.Barrier(6)

    def add(tenant: str, day: int) -> None:
        barrier.wait()
        try:
            leases.add_lease(farm, tenant, "mini", "gh1", date(2026, 3, day), date(2026, 4, day), "admin")
            results.append("ok")
        except BadRequest:
            results.append("refused")

    threads = [threading.Thread(target=add, args=(("kim", "lee")[i % 2], 1 + i)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["ok"] + ["refused"] * 5
    assert len(leases.leases(farm, zone="gh1")) == 1


# ---------------------------------------------------------------------------------------------- sites


def test_a_site_file_registers_the_site_and_its_zones(store: Store, tmp_path: Path) -> None:
    shipped = sites.register_site(store, SHIPPED_SITE, now=T0)
    assert shipped.id == "gyeongbuk-demo" and shipped.max_override_s == 14400 and shipped.timezone == "Asia/Seoul"
    assert [(z.zone, z.kind) for z in shipped.zones] == [("gh1", "greenhouse"), ("gh2", "greenhouse"),
                                                         ("gh3", "greenhouse"), ("tank1", "tank"), ("tank2", "tank"),
                                                         ("tank3", "tank")]
    mini = sites.register_site(store, mini_site(tmp_path, extra="max_override_s = 3600"), now=T0)
    assert (mini.name, mini.max_override_s, mini.registered_at, mini.zones[0].name) == ("작은 단지", 3600, T0, "1동")
    assert [s.id for s in sites.sites(store)] == ["gyeongbuk-demo", "mini"]
    assert sites.zone_registered(store, ZoneKey("mini", "tank1"))
    assert not sites.zone_registered(store, ZoneKey("mini", "gh3"))
    assert [z.zone for z in sites.zones(store, "mini")] == ["gh1", "tank1"]


def test_registering_again_updates_the_zones_and_keeps_a_leased_one(store: Store, tmp_path: Path) -> None:
    sites.register_site(store, mini_site(tmp_path, zones=TANK + TANK.replace("tank1", "tank2")), now=T0)
    accounts.create_user(store, "kim", "tenant", PASSWORD)
    leases.add_lease(store, "kim", "mini", "tank1", "2026-03-01", "2026-04-01", "admin")
    again = sites.register_site(store, mini_site(tmp_path, zones=""), now=T0 + timedelta(days=1))
    assert [z.zone for z in again.zones] == ["gh1", "tank1"]  # tank2 dropped, tank1 still leased
    assert again.registered_at == T0 + timedelta(days=1)


def test_a_bad_site_file_is_one_line_naming_the_file_and_the_field(store: Store, tmp_path: Path) -> None:
    broken = mini_site(tmp_path, extra="max_override_s = 999999")
    refused = bad(lambda: sites.register_site(store, broken))
    assert refused.field == str(broken) and "max_override_s" in refused.text("en")
    assert refused.text("en").count(str(broken)) == 1  # the path once
    assert "\n" not in refused.text("en") and "\n" not in refused.text("ko")
    missing = bad(lambda: sites.register_site(store, tmp_path / "none.toml"))
    assert missing.field == str(tmp_path / "none.toml")
    assert sites.sites(store) == []


# ---------------------------------------------------------------------------------------------- audit


def test_the_audit_log_keeps_who_did_what_and_filters_it(farm: Store) -> None:
    kim = Principal(1, "kim", Role.TENANT, session="1")
    gh1 = ZoneKey("mini", "gh1")
    audit.record(farm, kim, "setpoint", gh1, {"target": "air_temperature", "value": 24.5, "reason": "더워요"},
                 "applied", command_id="c1", now=T0)
    audit.record(farm, None, "sign_in", None, {}, "wrong", now=T0 + timedelta(minutes=1), actor="lee")
    audit.record(farm, None, "lease_add", gh1, {"lease": 1}, "ok", now=T0 + timedelta(minutes=2), actor="cli:root")
    rows = audit.query(farm)
    assert [r.action for r in rows] == ["lease_add", "sign_in", "setpoint"]  # newest first
    first = rows[-1]
    assert (first.username, first.role, first.site, first.zone, first.outcome, first.command_id) == \
        ("kim", "tenant", "mini", "gh1", "applied", "c1")
    assert first.detail == {"target": "air_temperature", "value": 24.5, "reason": "더워요"}
    assert first.time == T0 and first.time.tzinfo == UTC
    assert [r.action for r in audit.query(farm, username="kim")] == ["setpoint"]
    assert [r.action for r in audit.query(farm, site="mini", zone="gh1")] == ["lease_add", "setpoint"]
    assert [r.action for r in audit.query(farm, since=T0 + timedelta(minutes=1),
                                          until=T0 + timedelta(minutes=2))] == ["sign_in"]
    assert [r.action for r in audit.query(farm, action="sign_in")] == ["sign_in"]
    assert len(audit.query(farm, limit=2)) == 2
    assert bad(lambda: audit.query(farm, limit=0)).field == "limit"


def test_the_audit_csv_opens_in_excel_with_korean_and_seoul_time_and_no_formulas(farm: Store) -> None:
    audit.record(farm, None, "=HYPERLINK(\"http://x\")", None, {"reason": "환기"}, "ok", now=T0, actor="cli:root")
    data = audit.to_csv(audit.query(farm))
    assert data.startswith(b"\xef\xbb\xbf")
    header, row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[:5] == ["time_seoul", "time_utc", "username", "role", "action"]
    assert row[:5] == ["2026-03-02T09:30:00+09:00", "2026-03-02T00:30:00+00:00", "cli:root", "",
                       "'=HYPERLINK(\"http://x\")"]
    assert json.loads(row[-1]) == {"reason": "환기"}
