"""The portal in a real browser on a real stack (hil_tests/portal_stack.py): Debian's chromium signs in to
`farmctl portal serve`, whose commands go through mosquitto (generated ACL, `portal` account) to `farmctl run`
and `aquactl run` driving the twin over Modbus TCP; what the browser claims is checked on the broker, where the
daemons publish what they actually do.

Tests share one stack and one browser, and run in file order: the screenshots come last, so they show a zone
with a tenant setpoint and an acknowledged alarm. Screenshots go to $FARMCTL_PORTAL_SCREENSHOTS when set (the
README's docs/screenshots/portal/ is made so), else to a temporary folder.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from farmcore.link.brokerurl import parse_broker_url
from farmcore.link.zoneclient import new_command
from hil_tests.portal_browser import PHONE, WIDE, chromium, go, main, needs_chromium, new_page, shoot, sign_in
from hil_tests.portal_stack import ALARM_ID, SITE, PortalStack, needs_mosquitto, portal_stack, wait_for
from portal.service import audit
from portal.service.accounts import MAX_FAILURES
from portal.service.commands import CommandRequest
from portal.service.errors import Denied, SignInError
from portal.service.live import LiveHub
from portal.service.model import ZoneKey
from portal.service.portal import Portal
from portal.service.store import Store
from portal.service.texts import t

pytestmark = [needs_mosquitto, needs_chromium]
stack = portal_stack()
GH1 = ZoneKey(SITE, "gh1")
APPLIED = re.compile(r"^적용되었습니다\.")  # the facade's words for an applied command (commands.explain)
NO_ACCESS = Denied("no_access").text("ko")  # the same words for a zone of another and one that does not exist


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def kim(stack: PortalStack, chrome: Browser) -> Iterator[Page]:
    """Tenant kim's browser session, signed in once for the module."""
    page = new_page(chrome)
    sign_in(page, stack.url, stack.accounts["kim"])
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def service(stack: PortalStack) -> Iterator[Portal]:
    """The service layer in this process, on the same store and broker as the served pages."""
    store = Store.open(stack.db_url)
    live = LiveHub(parse_broker_url(stack.broker.url("portal"))).start()
    wait_for("the test's hub to hear gh1", lambda: (z := live.view(GH1)) is not None and z.state is not None, 15)
    yield Portal(store, live)
    live.close()
    store.close()


def _setpoint(stack: PortalStack, quantity: str) -> dict[str, object]:
    return dict(stack.state("gh1").get("setpoints", {}).get(quantity, {}))


def _refusals(stack: PortalStack, username: str) -> int:
    """Sign-ins refused under `username` (the audit keeps the name asked for, not a person)."""
    with Store.open(stack.db_url) as store:
        return sum(1 for row in audit.query(store, action="sign_in")
                   if row.outcome != "ok" and row.username == username)


def _commands(stack: PortalStack, action: str) -> int:
    with Store.open(stack.db_url) as store:
        return len(audit.query(store, username="kim", action=action))


def test_a_tenant_signs_in_in_korean_and_sees_only_their_zones(kim: Page) -> None:
    go(kim, "myfarm")
    expect(kim.get_by_text("1동 토마토").first).to_be_visible()
    shown = main(kim)
    assert t("page:myfarm", "ko") in shown
    assert "2동 딸기" not in shown and "1번 수조" not in shown, "only the zones of kim's active leases"
    go(kim, "zone")
    kim.get_by_label(t("pick zone", "ko")).click()
    assert kim.get_by_role("option").all_inner_texts() == ["1동 토마토"], "the picker offers kim's zone alone"
    kim.keyboard.press("Escape")


def test_a_setpoint_inside_the_envelope_is_applied_in_the_zone_state(stack: PortalStack, kim: Page) -> None:
    low, high = stack.state("gh1")["envelope"]["air_temperature"]
    go(kim, "controls")
    field = kim.get_by_label(re.compile("^" + re.escape(t("new value", "ko", lo="", hi="", unit="")[:4])))
    assert (float(field.get_attribute("min") or "nan"), float(field.get_attribute("max") or "nan")) == (low, high), \
        "the widget's bounds are the envelope the zone publishes"
    field.fill("22.5")
    kim.get_by_role("button", name=t("send", "ko")).first.click()
    expect(kim.get_by_text(APPLIED)).to_be_visible()
    wait_for("the daemon's state to carry the tenant setpoint",
             lambda: _setpoint(stack, "air_temperature") == {"value": 22.5, "source": "tenant"}, 10)
    go(kim, "zone")
    expect(kim.get_by_text(t("setpoint short", "ko", v="22.5 °C")).first).to_be_visible()


def test_a_value_outside_the_envelope_cannot_be_sent(stack: PortalStack, kim: Page, service: Portal) -> None:
    before = _commands(stack, "command_setpoint")
    go(kim, "controls")
    field = kim.get_by_label(re.compile("^" + re.escape(t("new value", "ko", lo="", hi="", unit="")[:4])))
    field.fill("30")
    kim.get_by_role("button", name=t("send", "ko")).first.click()
    expect(kim.get_by_text(re.compile("outside the allowed range"))).to_be_visible()
    kim.wait_for_timeout(2000)
    assert _commands(stack, "command_setpoint") == before, "the browser sent nothing (every command is audited)"
    # a crafted one, past the widget: the service refuses it before anything is published ...
    token, _ = service.sign_in("kim", stack.accounts["kim"].password)
    refused = service.command(token, SITE, "gh1", CommandRequest("setpoint", "air_temperature", 30.0))
    assert refused.status == "not_sent" and refused.command_id is None and "30" in refused.ko, refused
    assert _commands(stack, "command_setpoint") == before + 1, "the refusal is audited"
    # ... and the daemon would refuse it too, had it been published on the portal's branch
    assert service.live is not None
    crafted = new_command("setpoint", issued_by="portal:kim", target="air_temperature", value=30.0, expires_in_s=60)
    answer = service.live.send(GH1, crafted, timeout=10)
    assert answer.ack is not None and not answer.ack.ok and answer.ack.error == "out_of_envelope"
    assert _setpoint(stack, "air_temperature") == {"value": 22.5, "source": "tenant"}


def test_an_override_with_a_duration_ends_by_itself(stack: PortalStack, kim: Page, service: Portal) -> None:
    token, _ = service.sign_in("kim", stack.accounts["kim"].password)
    outcome = service.command(token, SITE, "gh1", CommandRequest("override", "fan", False, 8, "test",
                                                                 confirmed=True))
    assert outcome.status == "applied", outcome
    wait_for("the fan's override in the state", lambda: "fan" in stack.state("gh1").get("overrides", {}), 10)
    go(kim, "controls")
    release = kim.get_by_role("button", name=t("release", "ko"), exact=True)
    expect(release).to_have_count(1)
    wait_for("the override to end by itself", lambda: "fan" not in stack.state("gh1").get("overrides", {}), 40)
    assert stack.state("gh1")["actuators"]["fan"].get("source") != "override"
    go(kim, "myfarm")
    go(kim, "controls")
    expect(kim.get_by_text(t("no overrides", "ko"))).to_be_visible()


def test_an_alarm_is_acknowledged(stack: PortalStack, kim: Page) -> None:
    raised = wait_for("gh1's stale soil-moisture alarm", lambda: next(
        (a for a in stack.alarms("gh1") if a["id"] == ALARM_ID and a["active"]), None), 90, every_s=2)
    assert not raised["acked"]
    go(kim, "alarms")
    ack = kim.get_by_role("button", name=t("ack", "ko"), exact=True)
    card = kim.get_by_test_id("stVerticalBlock").filter(has_text=raised["message"]["ko"]).filter(has=ack).last
    card.get_by_role("button", name=t("ack", "ko"), exact=True).click()
    expect(kim.get_by_text(APPLIED)).to_be_visible()
    acked = wait_for("the acknowledgement in the zone's alarm list", lambda: next(
        (a for a in stack.alarms("gh1") if a["id"] == ALARM_ID and a["acked"]), None), 10)
    assert acked["acked_by"] == "portal:kim" and acked["status"] == "acknowledged"
    go(kim, "myfarm")
    go(kim, "alarms")
    expect(kim.get_by_text(t("status:acknowledged", "ko")).first).to_be_visible()


def test_another_tenant_opening_the_zone_address_gets_no_access(stack: PortalStack, chrome: Browser) -> None:
    page = new_page(chrome)
    try:
        sign_in(page, stack.url, stack.accounts["lee"], path=f"zone?site={SITE}&zone=gh1")
        expect(page.get_by_text(NO_ACCESS)).to_be_visible()
        assert "1동 토마토" not in main(page) and "heater" not in main(page)
    finally:
        page.context.close()


def test_a_lease_that_ended_yesterday_gives_no_access(stack: PortalStack, chrome: Browser) -> None:
    page = new_page(chrome)
    try:
        sign_in(page, stack.url, stack.accounts["kim"], path=f"zone?site={SITE}&zone=gh2")
        expect(page.get_by_text(NO_ACCESS)).to_be_visible()
        assert "2동 딸기" not in main(page)
    finally:
        page.context.close()


def test_a_double_click_sends_one_command(stack: PortalStack, kim: Page) -> None:
    before = _commands(stack, "command_setpoint")
    go(kim, "controls")
    kim.get_by_label(re.compile("^" + re.escape(t("new value", "ko", lo="", hi="", unit="")[:4]))).fill("21.5")
    kim.get_by_role("button", name=t("send", "ko")).first.dblclick()
    expect(kim.get_by_text(APPLIED)).to_be_visible()
    wait_for("the daemon's state", lambda: _setpoint(stack, "air_temperature").get("value") == 21.5, 10)
    kim.wait_for_timeout(2000)  # a second command would have been audited by now
    assert _commands(stack, "command_setpoint") == before + 1, "one command for a double click"


def test_a_wrong_password_and_a_locked_account_say_so(stack: PortalStack, chrome: Browser) -> None:
    page = new_page(chrome)
    choi = stack.accounts["choi"]

    def attempt(password: str, said: str | re.Pattern[str], refusals: int) -> None:
        page.get_by_label(t("username", "ko")).fill(choi.username)
        page.get_by_label(t("password", "ko")).fill(password)
        page.get_by_role("button", name=t("sign in", "ko")).click()
        expect(page.get_by_text(said)).to_be_visible()
        wait_for(f"refusal {refusals} audited", lambda: _refusals(stack, "choi") == refusals, 10)

    locked = re.compile("계정이 .*까지 잠겼습니다")
    try:
        page.goto(stack.url)
        for n in range(1, MAX_FAILURES):
            attempt("not-the-password", SignInError("wrong").text("ko"), n)
        attempt("not-the-password", locked, MAX_FAILURES)  # the fifth failure locks
        attempt(choi.password, locked, MAX_FAILURES + 1)  # and the right password is refused meanwhile
        expect(page.get_by_text(t("signed in as", "ko", name="Choi", role=t("role name:technician", "ko")))) \
            .to_have_count(0)
        assert "Traceback" not in page.content()
    finally:
        page.context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("FARMCTL_PORTAL_SCREENSHOTS")
    return Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")


TENANT_PAGES = {"myfarm": "1동 토마토", "zone": t("live values", "ko"), "controls": t("setpoint title", "ko"),
                "alarms": t("alarms title", "ko"), "account": t("change password", "ko")}


# The phone width runs always (every page must open there); the desktop width's screenshots are made when they are
# asked for (FARMCTL_PORTAL_SCREENSHOTS=docs/screenshots/portal), to keep the suite under its 15 minutes.
SIZES = [WIDE, PHONE] if os.environ.get("FARMCTL_PORTAL_SCREENSHOTS") else [PHONE]


@pytest.mark.parametrize("size", SIZES, ids=["1280px", "390px"][-len(SIZES):])
def test_screenshots_of_every_page(stack: PortalStack, chrome: Browser, shots: Path, size: tuple[int, int]) -> None:
    page = new_page(chrome, size)
    try:
        page.goto(stack.url)
        expect(page.get_by_role("button", name=t("sign in", "ko"))).to_be_visible()
        taken = [shoot(page, shots, "signin")]
        sign_in(page, stack.url, stack.accounts["kim"])
        for key, text in TENANT_PAGES.items():
            go(page, key)
            expect(page.get_by_text(text).first).to_be_visible()
            taken.append(shoot(page, shots, key))
        admin = new_page(chrome, size)
        sign_in(admin, stack.url, stack.accounts["admin"])
        go(admin, "admin")
        expect(admin.get_by_text(t("admin sites", "ko")).first).to_be_visible()
        taken.append(shoot(admin, shots, "admin"))
        admin.context.close()
    finally:
        page.context.close()
    for path in taken:
        assert path.stat().st_size < 400_000, f"{path.name}: {path.stat().st_size} bytes, keep screenshots small"


def test_a_malformed_state_on_the_broker_is_ignored(stack: PortalStack, kim: Page) -> None:
    """Published as gh1's daemon would (its account may write the zone's state): the portal logs one line and keeps
    the last good state; the page goes on (the daemon's next state replaces the bad one on the broker)."""
    subprocess.run(["mosquitto_pub", *stack.broker.auth(f"farmctl-{SITE}"), "-t", f"farm/{SITE}/gh1/state",
                    "-r", "-m", '{"schema": 1, "zone": ['], check=True, timeout=10)
    wait_for("the portal's log line", lambda: "gh1/state ignored" in stack.log("portal", 20_000), 10)
    go(kim, "zone")
    expect(kim.get_by_text(t("live values", "ko")).first).to_be_visible()
    assert "Traceback" not in kim.content()


def test_the_broker_down_shows_the_banner_and_pauses_controls(stack: PortalStack, kim: Page) -> None:
    """Last in the module: mosquitto stops, the pages say since when live data is missing and offer no control;
    it comes back on the same port and so do the controls."""
    banner = re.escape(t("live unavailable", "ko", since="")[:12])
    stack.broker.stop()
    try:
        go(kim, "controls")
        expect(kim.get_by_text(re.compile(banner))).to_be_visible()
        expect(kim.get_by_text(t("controls off", "ko"))).to_be_visible()
        expect(kim.get_by_role("button", name=t("send", "ko"))).to_have_count(0)
        assert "Traceback" not in kim.content()
    finally:
        stack.broker.start()
    wait_for("gh1 online again", lambda: stack.status("gh1") == "online", 30)
    wait_for("the controls back", lambda: _controls_back(kim), 30, every_s=2)


def _controls_back(page: Page) -> bool:
    go(page, "myfarm")
    go(page, "controls")
    page.wait_for_timeout(500)
    return page.get_by_role("button", name=t("send", "ko")).count() > 0
