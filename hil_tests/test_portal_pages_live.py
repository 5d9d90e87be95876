"""The portal's pages through AppTest (in-process) on a real stack: twin, `farmctl run`, `aquactl run`, mosquitto
with the generated ACL, a SQLite historian, the store (hil_tests/portal_stack.py; its Streamlit server is not
started: the pages run here). What needs live state is pinned here: the zone's drawing and actuators, a
setpoint applied and seen in the zone's state, an override that needs its confirmation, a release, feed-now,
an alarm acknowledged, and a command that is not sent again when the page reruns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from hil_tests.portal_stack import ALARM_ID, SITE, TANK, PortalStack, needs_mosquitto, portal_stack, wait_for
from portal.app import common
from portal.service import audit
from portal.service.model import ZoneKey

pytestmark = needs_mosquitto
MAIN = str(Path(__file__).resolve().parents[1] / "portal" / "app" / "main.py")
stack = portal_stack(portal=False)
GH1 = ZoneKey(SITE, "gh1")


@pytest.fixture(scope="module")
def live(stack: PortalStack) -> Iterator[PortalStack]:
    """The app's environment pointed at the stack; the cached Portal's hub connected and holding every zone."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in stack.portal_env().items():
            if name.startswith("FARMCTL_PORTAL_"):
                env.setenv(name, value)
        door = common.portal()
        wait_for("the hub's link and every zone's state", lambda: door.link().connected and all(
            (z := door.live.view(ZoneKey(SITE, zone))) is not None and z.state is not None
            for zone in ("gh1", "gh2", TANK)), 30)
        yield stack
        door.live.close()
        st.cache_resource.clear()


def signed_in(stack: PortalStack, username: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=40).run()
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(stack.accounts[username].password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def open_page(at: AppTest, page: str, zone: ZoneKey | None = None) -> AppTest:
    if zone is not None:
        at.query_params["site"], at.query_params["zone"] = zone.site, zone.zone
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "error", "warning", "info", "success")
                     for e in getattr(at, kind))


def commands(stack: PortalStack, kind: str) -> list[Any]:
    from portal.service.store import Store

    with Store.open(stack.db_url) as store:
        return [r for r in audit.query(store, action=f"command_{kind}") if r.command_id]


def test_the_zone_page_draws_the_house_and_its_actuators_live(live: PortalStack) -> None:
    at = open_page(signed_in(live, "kim"), "zone.py", GH1)
    text = shown(at)
    assert not at.error and "실시간 데이터를 받을 수 없습니다" not in text
    assert len(at.image) == 1  # the SVG drawing
    assert "🟢 연결됨" in text and "측창" in text and "vent\\_west" in text  # actuator list: role and id


def test_another_tenant_opening_that_zone_gets_no_access(live: PortalStack) -> None:
    at = open_page(signed_in(live, "lee"), "zone.py", GH1)
    assert [e.value for e in at.error] == ["이 구역에 접근할 권한이 없습니다."] and not at.image


def test_a_setpoint_inside_the_envelope_is_applied_once_and_a_rerun_sends_nothing(live: PortalStack) -> None:
    at = open_page(signed_in(live, "kim"), "controls.py", GH1)
    at.selectbox(key="portal_sp_quantity").select("air_temperature").run()
    low, high = live.state("gh1")["envelope"]["air_temperature"]
    value = round((low + high) / 2 + 0.5, 1)
    box = next(n for n in at.number_input if n.key.startswith("sp_value_"))
    assert (box.min, box.max) == (low, high)  # the widget's bounds are the envelope
    box.set_value(value)
    next(b for b in at.button if b.proto.form_id.startswith("setpoint_")).click().run()
    assert not at.exception and [e.value for e in at.success], shown(at)
    assert len(commands(live, "setpoint")) == 1
    wait_for("the tenant's setpoint in the zone's state", lambda: live.state("gh1")["setpoints"]
             ["air_temperature"] == {"value": value, "source": "tenant"}, 15)
    at.run()
    at.run()
    assert len(commands(live, "setpoint")) == 1  # reruns of the page publish nothing


def test_an_override_needs_its_confirmation_then_applies_and_is_released(live: PortalStack) -> None:
    at = open_page(signed_in(live, "kim"), "controls.py", GH1)
    at.selectbox(key="portal_ov_actuator").select("fan").run()

    def submit(confirm: bool) -> None:
        next(r for r in at.radio if r.key.startswith("ov_on_")).set_value(True)
        next(n for n in at.number_input if n.key.startswith("ov_minutes_")).set_value(1)
        next(c for c in at.checkbox if c.key.startswith("ov_confirm_")).set_value(confirm)
        next(b for b in at.button if b.proto.form_id.startswith("override_")).click().run()
        assert not at.exception

    submit(confirm=False)
    assert not commands(live, "override") and at.warning, shown(at)  # refused here: nothing published
    submit(confirm=True)
    assert [e.value for e in at.success] and len(commands(live, "override")) == 1, shown(at)
    wait_for("the fan's override in the state", lambda: "fan" in live.state("gh1")["overrides"], 15)
    at.run()
    next(b for b in at.button if b.key.startswith("release_fan_")).click().run()
    assert not at.exception and len(commands(live, "release")) == 1, shown(at)
    wait_for("the override released", lambda: "fan" not in live.state("gh1")["overrides"], 15)


def test_feed_now_on_the_tenants_tank(live: PortalStack) -> None:
    at = open_page(signed_in(live, "lee"), "controls.py", ZoneKey(SITE, TANK))
    next(b for b in at.button if b.key.startswith("feed_")).click().run()
    assert not at.exception and (at.success or at.error), shown(at)  # applied, or refused with the reason
    assert len(commands(live, "feed_now")) == 1


def test_an_alarm_is_acknowledged_from_the_alarms_page(live: PortalStack) -> None:
    wait_for("gh1's stale-data alarm", lambda: any(a["id"] == ALARM_ID and not a["acked"]
                                                   for a in live.alarms("gh1")), 90, every_s=2)
    door = common.portal()
    wait_for("the alarm in the hub", lambda: any(a.id == ALARM_ID for a in door.live.view(GH1).alarms), 15)
    at = open_page(signed_in(live, "kim"), "alarms.py")
    next(b for b in at.button if b.key.startswith(f"alarm_ack_{GH1}_{ALARM_ID}_")).click().run()
    assert not at.exception and [e.value for e in at.success], shown(at)
    wait_for("the alarm acknowledged", lambda: any(a["id"] == ALARM_ID and a["acked"] for a in live.alarms("gh1")),
             15)
