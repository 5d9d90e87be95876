"""`farmctl demo` serves the tenant portal beside the twin and the daemon: its health check answers, the accounts it
prints (once) sign in through the service, the portal's hub hears the zones on the demo's embedded broker, and
a tenant's browser sees their zone online."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from farmcore.link.brokerurl import parse_broker_url
from hil_tests.portal_browser import chromium, needs_chromium, new_page, sign_in
from hil_tests.portal_stack import Account, wait_for
from portal.service.live import LiveHub
from portal.service.model import Role
from portal.service.portal import Portal
from portal.service.store import Store
from portal.service.texts import t

FARMCTL = [sys.executable, "-m", "farmctl.cli"]
RUN_S = 90  # the demo's own --for: a bound, the test stops it as soon as it is done
ACCOUNT = re.compile(r"^\s+(tenant|officer|admin)\s+(\S+)\s+(\S+)(?:\s+(\S+))?$")


class Demo:
    """`farmctl demo` in the background; its stderr collected line by line (the URLs and accounts go there)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        env = {**os.environ, "FARMCTL_STATE_DIR": str(folder / "state"), "FARMCTL_LANG": "en",
               "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([*FARMCTL, "demo", "--for", str(RUN_S), "--no-live", "--state-dir", str(folder),
                                      "--mqtt-port", "0", "--portal-port", "0"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def found(self, pattern: str) -> str | None:
        return next((m.group(1) for line in self.lines if (m := re.search(pattern, line))), None)

    def accounts(self) -> dict[str, tuple[str, str, str | None]]:
        """username -> (role, password, zone) as printed."""
        return {m.group(2): (m.group(1), m.group(3), m.group(4)) for line in self.lines if (m := ACCOUNT.match(line))}

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("demo"))
    try:
        wait_for("the demo to print its portal and accounts",
                 lambda: (running.found(r"^portal (http://\S+)") and len(running.accounts()) == 4)
                 or running.proc.poll() is not None, 60)
        yield running
    finally:
        code = running.stop()
        assert code == 0, "\n".join(running.lines[-30:])  # SIGTERM: stop states, then a clean exit


def _health(url: str) -> str:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return str(answer.read().decode().strip())
    except OSError:
        return ""


def test_the_demo_serves_the_portal(demo: Demo) -> None:
    url = demo.found(r"^portal (http://\S+)")
    assert url is not None, "\n".join(demo.lines)
    wait_for("the demo portal's /_stcore/health", lambda: _health(url) == "ok", 60)
    roles = {name: role for name, (role, _, _) in demo.accounts().items()}
    assert sorted(roles.values()) == ["admin", "officer", "tenant", "tenant"]
    zones = [zone for role, _, zone in demo.accounts().values() if role == "tenant"]
    assert len(set(zones)) == 2 and all(zones), "two tenants with different zones"
    saved = demo.folder / "portal-accounts.txt"
    assert saved.stat().st_mode & 0o077 == 0, "the passwords' file is the user's alone"


def test_a_printed_account_signs_in_and_sees_its_zone_live(demo: Demo) -> None:
    broker = demo.found(r"^MQTT (mqtt://[^:\s]+:\d+)")
    assert broker is not None
    name, (_, password, zone) = next((n, a) for n, a in demo.accounts().items() if a[0] == "tenant")
    assert zone is not None
    with Store.open(f"sqlite:///{demo.folder / 'portal.db'}") as store, \
            LiveHub(parse_broker_url(broker.replace("mqtt://", "mqtt://portal@"))) as live:
        portal = Portal(store, live)
        token, principal = portal.sign_in(name, password)
        assert principal.role == Role.TENANT
        cards = wait_for("the tenant's zone online on the demo broker", lambda: [
            c for c in portal.my_zones(token) if c.status == "online"], 30, every_s=1)
        assert [str(c.key) for c in cards] == [zone], "only the tenant's own zone"


@needs_chromium
def test_the_served_portal_shows_the_tenant_their_zone_online(demo: Demo) -> None:
    """The portal process's own hub on the embedded broker (amqtt accepts the `portal` account by name)."""
    url = demo.found(r"^portal (http://\S+)")
    assert url is not None
    name, (role, password, _) = next((n, a) for n, a in demo.accounts().items() if a[0] == "tenant")
    with chromium() as browser:
        page = new_page(browser)
        sign_in(page, url, Account(name, password, role))
        expect(page.get_by_text(re.compile(t("online", "ko"))).first).to_be_visible(timeout=30_000)
