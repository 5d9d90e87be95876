"""Every portal page for every role, through Streamlit's AppTest (in-process, no browser), on a real SQLite store
and a real SQLite historian, with no broker: the pages must say live data is unavailable and still work.

Pinned: the wrong-password sentence, a tenant asking for another tenant's zone by its address gets "no access"
and nothing of it, the admin page is not routable for anyone but an admin, the controls page only for tenants,
and no page shows a traceback (AppTest's `exception` stays empty)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from farmcore.historian.base import Point
from farmcore.historian.config import sqlite_url
from farmcore.historian.sqlite import SqliteHistorian
from farmcore.link.payloads import ActuatorEntry
from portal.app import common, sending, show
from portal.service import accounts, leases, sites
from portal.service.model import ZoneKey, seoul_day
from portal.service.naming import actuator_names, reading_name
from portal.service.store import Store
from portal.service.views import ReadingView, ZoneCard

MAIN = str(Path(__file__).resolve().parents[1] / "portal" / "app" / "main.py")
SITE_FILE = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"
SITE = "gyeongbuk-demo"
PASSWORD = {"kim": "kim-password-1", "lee": "lee-password-1", "park": "park-password-1",
            "choi": "choi-password-1", "admin": "admin-password-1"}
ROLE = {"kim": "tenant", "lee": "tenant", "park": "officer", "choi": "technician", "admin": "admin"}
READ_PAGES = ("myfarm.py", "zone.py", "alarms.py", "account.py")
NO_ACCESS = "이 구역에 접근할 권한이 없습니다."
LIVE_DOWN = "실시간 데이터를 받을 수 없습니다"


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """kim rents gh1 (and rented gh2 until yesterday), lee rents tank1; park (officer) and choi (technician)
    read the site; two days of gh1 and gh2 air temperature in the historian."""
    db = f"sqlite:///{tmp_path / 'portal.db'}"
    store = Store.open(db)
    for name, password in PASSWORD.items():
        accounts.create_user(store, name, ROLE[name], password, display_name=name.title())
    sites.register_site(store, SITE_FILE)
    for name in ("park", "choi"):
        accounts.assign_site(store, name, SITE)
    today = seoul_day(datetime.now(UTC))
    leases.add_lease(store, "kim", SITE, "gh1", today - timedelta(days=3), today + timedelta(days=30), "admin")
    leases.add_lease(store, "kim", SITE, "gh2", today - timedelta(days=40), today, "admin")
    leases.add_lease(store, "lee", SITE, "tank1", today - timedelta(days=3), today + timedelta(days=30), "admin")
    history = SqliteHistorian(tmp_path / "history.db")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    history.write([Point("sensor", SITE, zone, "air_temperature", now - timedelta(minutes=10 * i),
                         {"value": 20.0 + (i % 6)}, quality="good", tags={"unit": "degC"})
                   for zone in ("gh1", "gh2") for i in range(288)])
    assert history.flush(30.0)
    history.close()
    monkeypatch.setenv(common.ENV_DB, db)
    monkeypatch.setenv(common.ENV_HISTORIAN, sqlite_url(tmp_path / "history.db"))
    monkeypatch.delenv(common.ENV_BROKER, raising=False)
    yield store
    st.cache_resource.clear()  # the next test's Portal is built on its own store
    store.close()


def zone_names(store: Store) -> dict[str, str]:
    return {z.zone: z.name or z.zone for z in sites.zones(store, SITE)}


def signed_in(username: str, password: str | None = None, lang: str = "ko") -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=30)
    if lang != "ko":
        at.session_state[common.LANG] = lang
    at.run()
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(PASSWORD[username] if password is None else password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Everything a person reads on the page."""
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success", "header",
                                  "subheader", "title") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def open_page(at: AppTest, page: str, **params: str) -> AppTest:
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


# ------------------------------------------------------------------------------------------------ sign-in


def test_the_sign_in_page_is_korean_and_a_wrong_password_is_one_sentence(stack: Store) -> None:
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not at.exception and at.title[0].value == "스마트팜 임대 포털"
    at.text_input(key="sign_in_username").input("kim")
    at.text_input(key="sign_in_password").input("not-the-password")
    at.button[0].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["아이디 또는 비밀번호가 맞지 않습니다."]
    assert common.TOKEN not in at.session_state


def test_the_english_switch_and_an_unknown_user_read_alike(stack: Store) -> None:
    at = AppTest.from_file(MAIN, default_timeout=30)
    at.session_state[common.LANG] = "en"
    at.run()
    at.text_input(key="sign_in_username").input("nobody")
    at.text_input(key="sign_in_password").input("whatever-password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong username or password."]


def test_signing_in_keeps_only_a_token_in_the_session_and_opens_my_farm(stack: Store) -> None:
    at = signed_in("kim")
    token = at.session_state[common.TOKEN]
    assert isinstance(token, str) and len(token) >= 32 and PASSWORD["kim"] not in str(token)
    shown = texts(at)
    assert common.md(zone_names(stack)["gh1"]) in shown and LIVE_DOWN in shown


# ------------------------------------------------------------------------------------------- page x role


@pytest.mark.parametrize("username", list(PASSWORD))
@pytest.mark.parametrize("page", READ_PAGES)
def test_every_read_page_opens_for_every_role_without_a_traceback(stack: Store, username: str, page: str) -> None:
    at = open_page(signed_in(username), page)
    assert at.header, f"{page} for {username}: no header"
    assert not at.error, [e.value for e in at.error]  # the guard's "could not be shown" included
    if page == "zone.py":
        assert LIVE_DOWN in texts(at)


def test_a_tenant_sees_only_their_own_zones(stack: Store) -> None:
    shown = texts(signed_in("kim"))
    names = zone_names(stack)
    assert common.md(names["gh1"]) in shown
    assert common.md(names["tank1"]) not in shown and common.md(names["gh2"]) not in shown  # lee's; kim's ended


def test_an_officer_reads_every_zone_of_the_site(stack: Store) -> None:
    shown = texts(signed_in("park"))
    for zone in sites.zones(stack, SITE):
        assert common.md(zone.name or zone.zone) in shown


def test_a_tenant_asking_for_another_tenants_zone_gets_no_access_and_nothing_of_it(stack: Store) -> None:
    at = open_page(signed_in("kim"), "zone.py", site=SITE, zone="tank1")
    assert [e.value for e in at.error] == [NO_ACCESS]
    assert not at.image and not at.get("plotly_chart")
    tank = next(z for z in sites.zones(stack, SITE) if z.zone == "tank1")
    assert common.md(tank.name) not in texts(at)


@pytest.mark.parametrize("zone", ["gh2", "nowhere"])
def test_an_ended_lease_and_an_unknown_zone_read_alike(stack: Store, zone: str) -> None:
    at = open_page(signed_in("kim"), "zone.py", site=SITE, zone=zone)
    assert [e.value for e in at.error] == [NO_ACCESS]


def test_the_zone_page_charts_the_tenants_history_and_prepares_the_csv(stack: Store) -> None:
    at = open_page(signed_in("kim"), "zone.py", site=SITE, zone="gh1")
    assert not at.error
    assert len(at.get("plotly_chart")) == 1  # air temperature, the one series written
    at.button(key="portal_csv_prepare").click().run()
    assert not at.exception and not at.error
    _, name, data = at.session_state["portal_csv"]
    assert name.startswith(f"{SITE}-gh1-") and data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads Korean


@pytest.mark.parametrize("username", ["park", "choi", "admin"])
def test_controls_are_offered_only_to_tenants(stack: Store, username: str) -> None:
    with pytest.raises(ValueError, match="Could not find"):
        signed_in(username).switch_page("controls.py")


def test_controls_wait_for_live_data(stack: Store) -> None:
    at = open_page(signed_in("kim"), "controls.py")
    shown = texts(at)
    assert LIVE_DOWN in shown and "구역이 연결되어 있지 않아" in shown
    assert not at.get("form")


@pytest.mark.parametrize("username", ["kim", "park", "choi"])
def test_the_admin_page_is_not_routable_for_anyone_but_an_admin(stack: Store, username: str) -> None:
    with pytest.raises(ValueError, match="Could not find"):
        signed_in(username).switch_page("admin.py")


def test_the_admin_page_lists_sites_users_leases_and_the_audit(stack: Store) -> None:
    at = open_page(signed_in("admin"), "admin.py")
    shown = texts(at)
    assert "gyeongbuk\\-demo" in shown and "#1 · **kim**" in shown and "**lee**" in shown
    assert "sign\\_in" in shown  # the audit log has the sign-ins of this test
    at.button(key="admin_audit_csv").click().run()
    assert not at.exception and at.session_state["admin_audit_data"].startswith(b"\xef\xbb\xbf")


def test_the_admin_creates_a_user_and_sees_the_password_once(stack: Store) -> None:
    at = open_page(signed_in("admin"), "admin.py")
    at.text_input(key="admin_user_name").input("jung")
    at.text_input(key="admin_user_display").input("정청년")
    at.selectbox(key="admin_user_role").select("tenant")
    at.button(key="FormSubmitter:admin_user-만들기").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [a.username for a in accounts.users(stack) if a.username == "jung"] == ["jung"]
    assert len(at.code) == 1 and len(at.code[0].value) >= 10


# ---------------------------------------------------------------------------------------------- account


def test_signing_out_ends_the_session_everywhere(stack: Store) -> None:
    at = open_page(signed_in("kim"), "account.py")
    token = at.session_state[common.TOKEN]
    at.button(key="portal_sign_out").click().run()
    assert not at.exception and common.TOKEN not in at.session_state
    assert accounts.resolve(stack, token) is None
    assert at.text_input(key="sign_in_username") is not None


def test_a_forged_token_is_signed_out(stack: Store) -> None:
    at = AppTest.from_file(MAIN, default_timeout=30)
    at.session_state[common.TOKEN] = "forged-" + "x" * 40
    at.run()
    assert not at.exception and common.TOKEN not in at.session_state
    assert at.text_input(key="sign_in_username") is not None


# ------------------------------------------------------------------------------------- words on the zone page


def test_actuator_and_reading_lines_read_in_words_not_ids() -> None:
    """The zone page's lines: an actuator by its role's name (its id only when two of a role cannot be told
    apart otherwise), its feedback in words, a reading of an actuator named from its parts."""
    tank = {"heater": ActuatorEntry(role="heater", kind="switch", target=True, feedback="READY"),
            "aerator_1": ActuatorEntry(role="aerator", kind="switch", target=True, feedback="ON"),
            "aerator_2": ActuatorEntry(role="aerator", kind="switch", target=False, feedback=0)}
    for lang, heater, aerator in (
            ("ko", "**난방기** · 목표 켜짐 · 응답 대기", "**폭기기 1** · 목표 켜짐 · 응답 작동 중"),
            ("en", "**heater** · target on · feedback idle", "**aerator 1** · target on · feedback running")):
        names = actuator_names(tank, lang)
        assert show.actuator_lines(names["heater"], tank["heater"], lang)[0] == heater
        assert show.actuator_lines(names["aerator_1"], tank["aerator_1"], lang)[0] == aerator
    current = ReadingView("aerator_1_current", 4.0, "A", "good")
    assert show.reading_line(current, "ko", reading_name(current.quantity, "ko", tank)) == "폭기기 1 전류 **4\\.0 A**"
    assert show.reading_line(current, "en").startswith("aerator 1 current ")  # a card, named from the id alone


def test_the_zone_picker_shows_the_zones_names_and_keeps_the_key(stack: Store) -> None:
    at = open_page(signed_in("park"), "zone.py")
    picker = at.selectbox(key="zone_pick_pick zone")
    names = zone_names(stack)
    assert picker.options == [names[zone] for zone in sorted(names)]  # 구역 선택 read `gyeongbuk-demo/gh1`
    assert picker.value == ZoneKey(SITE, sorted(names)[0])


def test_a_zone_without_a_name_shows_its_id_and_a_shared_name_its_id_too() -> None:
    def card(site: str, zone: str, name: str) -> ZoneCard:
        return ZoneCard(ZoneKey(site, zone), "greenhouse", name, "online", None)

    cards = [card("a", "gh1", "1동"), card("a", "gh2", "gh2"), card("a", "gh3", "온실"), card("b", "gh3", "온실")]
    assert list(common.zone_labels(cards).values()) == ["1동", "a/gh2", "온실 (a/gh3)", "온실 (b/gh3)"]


# ------------------------------------------------------------------------------------------ command answers


def _answers_page() -> None:
    """A form's send and the answers under two forms of gh1 and one of gh2 (run by AppTest as a page)."""
    import streamlit as st

    from portal.app import common, sending
    from portal.service.commands import CommandRequest
    from portal.service.model import ZoneKey

    ctx = common.signed_in()
    gh1 = ZoneKey("gyeongbuk-demo", "gh1")
    request = CommandRequest("setpoint", "air_temperature", 18.0)
    if st.button("send", key="go"):
        sending.send(ctx, gh1, "setpoint", "nonce-1", request, sending.said(request, unit_name="degC"))
    for form in ("override", "setpoint"):
        sending.outcome(form, ctx.lang, gh1)
    sending.outcome("setpoint", ctx.lang, ZoneKey("gyeongbuk-demo", "gh2"))


def test_an_answer_says_what_was_asked_and_replaces_an_older_success(stack: Store) -> None:
    """After "적용되었습니다." of an override, a setpoint that cannot be sent (no broker here) shows what was
    asked and why it did not go, and the override's success is gone: beside it, it read as if this went too."""
    at = AppTest.from_function(_answers_page, default_timeout=30)
    at.session_state[common.TOKEN] = accounts.sign_in(stack, "kim", PASSWORD["kim"])[0]
    at.session_state[sending.ANSWER] = sending.Shown("override", ZoneKey(SITE, "gh1"), "applied", "적용되었습니다.",
                                                     "Applied.", "순환팬 켜기 · 30분 동안", "Fan on for 30 min")
    at.run()
    assert not at.exception and [e.value for e in at.success] == ["**순환팬 켜기 · 30분 동안**\n\n적용되었습니다."]
    at.button(key="go").click().run()
    assert not at.exception and not at.success
    assert [e.value.split("\n\n")[0] for e in at.warning] == ["**온도 설정 18\\.0 °C**"]  # once: gh2 shows none
    assert at.session_state[sending.ANSWER].asked_en == "Air temperature setpoint 18.0 °C"
