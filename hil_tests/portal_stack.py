"""A real portal stack for tests that need every piece the way it runs on a farm, shared by a module.

`farmctl twin` serves a site of two greenhouses and a fish tank over Modbus TCP on the wall clock; `farmctl run`
drives the greenhouses and `aquactl run` the tank, each on its own broker account of a real mosquitto with the
ACL `farmctl broker config` writes, both writing one SQLite historian; a portal store (SQLite) has the site
registered and the accounts a tenancy test needs; `farmctl portal serve` (Streamlit) serves the pages on a
free port. A stack takes 5-15 s to start on 2 cores, so a module starts it once (`portal_stack` fixture factory).

The accounts: tenant `kim` rents gh1 (and rented gh2 until yesterday), tenant `lee` rents tank1, officer `park`
reads the site, technician `choi` and admin `admin`. gh1's soil-moisture probe says NEED_CALIBRATION from the
twin's start, so the zone raises a stale-data alarm about 30 s after the daemon starts: an alarm to acknowledge
that disturbs nothing else (a silent node would: every tick would wait for its Modbus timeout, holding the
commands back).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from farmcore.historian.config import sqlite_url
from farmcore.site import load_site
from hil_tests.mosquitto import Mosquitto, free_port, needs_mosquitto

FARMCTL = [sys.executable, "-m", "farmctl.cli"]
AQUACTL = [sys.executable, "-m", "aquactl.cli"]
SITE = "hil"
GREENHOUSES = ("gh1", "gh2")
TANK = "tank1"
ALARM_ID = "stale_data:soil_moisture"
T = TypeVar("T")

__all__ = ["ALARM_ID", "SITE", "Account", "PortalStack", "needs_mosquitto", "portal_stack", "seoul_today",
           "wait_for"]


def seoul_today() -> date:
    return (datetime.now(UTC) + timedelta(hours=9)).date()  # Asia/Seoul has had no DST since 1988


def site_text(gh_port: int, tank_port: int, *, tick_s: float = 1.0, planted: date | None = None) -> str:
    """Two greenhouses (tomato, strawberry) and one olive-flounder tank, each planted or stocked 30 days ago."""
    planted = planted or seoul_today() - timedelta(days=30)

    def greenhouse(zone: str, recipe: str, base: int, name: str, extra_sensor: str = "") -> str:
        return f"""
[[zones]]
id = "{zone}"
kind = "greenhouse"
name = "{name}"
bus = "greenhouses"
recipe = "{recipe}"
planted = {planted}
stale_after_s = 10
twin = {{ model = "single-pe-1000" }}
sensors = [
    {{ quantity = "air_temperature", unit = {base + 1}, slot = 1, valid = {{ min = -30, max = 70 }} }},
    {{ quantity = "relative_humidity", unit = {base + 1}, slot = 4 }},
    {{ quantity = "solar_radiation", unit = {base + 1}, slot = 9 }},
    {{ quantity = "co2", unit = {base + 1}, slot = 13 }},{extra_sensor}
]
actuators = [
    {{ id = "heater", role = "heater", unit = {base + 2}, slot = 1 }},
    {{ id = "fan", role = "circulation_fan", unit = {base + 2}, slot = 2 }},
    {{ id = "co2_valve", role = "co2_valve", unit = {base + 2}, slot = 3 }},
    {{ id = "vent_west", role = "side_vent", unit = {base + 2}, slot = 17, travel_s = 120, facing = 270 }},
    {{ id = "vent_east", role = "side_vent", unit = {base + 2}, slot = 18, travel_s = 120, facing = 90 }},
    {{ id = "thermal_screen", role = "thermal_screen", unit = {base + 2}, slot = 19, travel_s = 180 }},
]
"""

    nodes = "".join(f'\n[[nodes]]\nbus = "{bus}"\nunit = {unit}\nprofile = "{profile}"\n' for bus, unit, profile in (
        ("greenhouses", 1, "ksx3267:2022/sensor-default"),
        ("greenhouses", 11, "ksx3267:2022/sensor-default"), ("greenhouses", 12, "ksx3267:2022/actuator-default"),
        ("greenhouses", 21, "ksx3267:2022/sensor-default"), ("greenhouses", 22, "ksx3267:2022/actuator-default"),
        ("tanks", 41, "ksx3267:2022/sensor-default"), ("tanks", 42, "ksx3267:2022/actuator-default"),
        ("tanks", 43, "vendor:do-probe")))
    return f"""
[site]
id = "{SITE}"
name = "HIL 임대단지"
latitude = 36.35
longitude = 128.70

[runtime]
tick_s = {tick_s}
recipe_check_s = 60
gpio_factory = "mock"

[[buses]]
id = "greenhouses"
url = "tcp://127.0.0.1:{gh_port}?line=ethernet"

[[buses]]
id = "tanks"
url = "tcp://127.0.0.1:{tank_port}?line=ethernet"

[weather]
source = "synthetic:7"
bus = "greenhouses"
unit = 1
sensors = {{ air_temperature = 1, relative_humidity = 4, rain_detected = 6, solar_radiation = 9, wind_speed = 10, \
wind_direction = 11 }}
{nodes}
[[faults]]
at_h = 0
kind = "need_calibration"
zone = "gh1"
quantity = "soil_moisture"
{greenhouse("gh1", "crops/tomato", 10, "1동 토마토", '''
    { quantity = "soil_moisture", unit = 11, slot = 16 },''')}
{greenhouse("gh2", "crops/strawberry", 20, "2동 딸기")}
[[zones]]
id = "{TANK}"
kind = "tank"
name = "1번 수조 넙치"
bus = "tanks"
recipe = "fish/olive-flounder"
planted = {planted}
stale_after_s = 10
stocking = {{ count = 1300, weight_g = 300, volume_m3 = 10 }}
twin = {{ model = "flounder-10m3" }}
sensors = [
    {{ quantity = "water_temperature", unit = 41, slot = 1 }},
    {{ quantity = "dissolved_oxygen", unit = 43, slot = 1 }},
]
actuators = [
    {{ id = "aerator_1", role = "aerator", unit = 42, slot = 1 }},
    {{ id = "o2_valve", role = "o2_valve", unit = 42, slot = 4 }},
    {{ id = "heater", role = "heater", unit = 42, slot = 5 }},
    {{ id = "chiller", role = "chiller", unit = 42, slot = 6 }},
    {{ id = "feeder", role = "feeder", unit = 42, slot = 8, feed_kg_per_min = 0.2 }},
]
"""


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, every_s: float = 0.25) -> T:
    """The first truthy answer of `probe` within `timeout_s`; fails the test naming `what` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError, ValueError):
            found = probe()
            if found:
                return found
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting {timeout_s:g} s for {what}")
        time.sleep(every_s)


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def _stop(proc: subprocess.Popen[Any] | None, timeout_s: float = 10) -> None:
    """SIGTERM (the daemons put their actuators in stop states), then SIGKILL if it does not end in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str


ACCOUNTS = (Account("kim", "kim-password-1", "tenant"), Account("lee", "lee-password-1", "tenant"),
            Account("park", "park-password-1", "officer"), Account("choi", "choi-password-1", "technician"),
            Account("admin", "admin-password-1", "admin"))


class PortalStack:
    """Every process of the portal's world, started in order and stopped in reverse (each with a time limit)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.gh_port, self.tank_port = free_port(), free_port()
        self.site_path = folder / "site.toml"
        self.site_path.write_text(site_text(self.gh_port, self.tank_port), "utf-8")
        self.site = load_site(self.site_path)
        self.history_path = folder / "history.db"
        self.historian_url = sqlite_url(self.history_path)
        self.db_url = f"sqlite:///{folder / 'portal.db'}"
        self.accounts = {a.username: a for a in ACCOUNTS}
        self.broker = Mosquitto(self.site, folder / "broker")
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.portal_port = free_port()
        self.url = f"http://127.0.0.1:{self.portal_port}"
        self.env = {**os.environ, "FARMCTL_STATE_DIR": str(folder / "state"), "PYTHONUNBUFFERED": "1",
                    "FARMCTL_LANG": "ko"}

    # ------------------------------------------------------------------------------------------------ start

    def start(self, *, portal: bool = True) -> PortalStack:
        try:
            self.broker.start()
            self._spawn("twin", [*FARMCTL, "twin", "--site", str(self.site_path)])
            wait_for("the twin's Modbus ports", lambda: _port_open(self.gh_port) and _port_open(self.tank_port), 30)
            self._daemon("greenhouses", FARMCTL, "farmctl")
            self._daemon("tank", AQUACTL, "aquactl")
            self.prepare_store()
            wait_for("every zone online with a state", lambda: all(
                self.status(z) == "online" and self.state(z).get("setpoints") for z in (*GREENHOUSES, TANK)),
                60, every_s=1.0)
            if portal:
                self.serve_portal()
        except BaseException:
            self.close()
            raise
        return self

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        log = (self.folder / f"{name}.log").open("w")
        proc = subprocess.Popen(args, env=env or self.env, stdout=log, stderr=subprocess.STDOUT, text=True,
                                cwd=Path(__file__).resolve().parents[1])
        log.close()  # the child holds its own descriptor
        self.procs[name] = proc
        return proc

    def _daemon(self, name: str, exe: list[str], account_prefix: str) -> None:
        env = {**self.env, "FARMCTL_STATE_DIR": str(self.folder / f"state-{name}")}
        self._spawn(name, [*exe, "run", "--site", str(self.site_path), "--historian", self.historian_url,
                           "--mqtt", self.broker.url(f"{account_prefix}-{SITE}")], env)

    def log(self, name: str, tail: int = 3000) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def prepare_store(self) -> None:
        """The site registered from its file; the accounts and leases (dates in Asia/Seoul) of the module doc."""
        from portal.service import accounts, leases, sites
        from portal.service.store import Store

        today = seoul_today()
        with Store.open(self.db_url) as store:
            sites.register_site(store, self.site_path)
            for a in ACCOUNTS:
                accounts.create_user(store, a.username, a.role, a.password, display_name=a.username.title())
            for a in ACCOUNTS:
                if a.role in ("officer", "technician"):
                    accounts.assign_site(store, a.username, SITE)
            leases.add_lease(store, "kim", SITE, "gh1", today - timedelta(days=10), today + timedelta(days=60), "admin")
            leases.add_lease(store, "kim", SITE, "gh2", today - timedelta(days=40), today, "admin")  # ended yesterday
            leases.add_lease(store, "lee", SITE, TANK, today - timedelta(days=10), today + timedelta(days=60), "admin")

    def portal_env(self) -> dict[str, str]:
        """What the portal app reads (portal/app/common.py): the store, the broker (portal account), the historian."""
        return {**self.env, "FARMCTL_PORTAL_DB": self.db_url, "FARMCTL_PORTAL_BROKER": self.broker.url("portal"),
                "FARMCTL_PORTAL_HISTORIAN": self.historian_url}

    def serve_args(self) -> list[str]:
        return [*FARMCTL, "portal", "serve", "--port", str(self.portal_port), "--address", "127.0.0.1",
                "--db", self.db_url, "--broker", self.broker.url("portal"), "--historian", self.historian_url]

    def serve_portal(self) -> None:
        """`farmctl portal serve` on a free port, up when its health check answers."""
        self._spawn("portal", self.serve_args(), self.portal_env())
        wait_for("the portal's /_stcore/health", lambda: self.health() == "ok" or self._died("portal"), 60)
        if self.health() != "ok":
            pytest.fail(f"the portal did not start:\n{self.log('portal')}")

    def _died(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is not None

    # ------------------------------------------------------------------------------------------------ probes

    def health(self) -> str:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as answer:
                return str(answer.read().decode().strip())
        except OSError:
            return ""

    def retained(self, zone: str, leaf: str, account: str = "technician", wait_s: float = 5) -> str | None:
        """The retained payload of farm/hil/ZONE/LEAF (None when nothing is retained)."""
        out = subprocess.run(["mosquitto_sub", *self.broker.auth(account), "-t", f"farm/{SITE}/{zone}/{leaf}",
                              "-C", "1", "-W", str(wait_s), "--retained-only"], capture_output=True, text=True,
                             timeout=wait_s + 5)
        return out.stdout.strip() or None

    def status(self, zone: str) -> str | None:
        return self.retained(zone, "status", wait_s=2)

    def state(self, zone: str) -> dict[str, Any]:
        """The zone's retained state message as published by its daemon."""
        payload = self.retained(zone, "state")
        return json.loads(payload) if payload else {}

    def alarms(self, zone: str) -> list[dict[str, Any]]:
        payload = self.retained(zone, "alarms")
        return json.loads(payload) if payload else []

    # ------------------------------------------------------------------------------------------------- stop

    def close(self) -> None:
        for name in ("portal", "tank", "greenhouses", "twin"):
            _stop(self.procs.pop(name, None))
        self.broker.stop()


@contextlib.contextmanager
def running_stack(folder: Path, *, portal: bool = True) -> Iterator[PortalStack]:
    stack = PortalStack(folder)
    try:
        yield stack.start(portal=portal)
    finally:
        stack.close()


def portal_stack(*, portal: bool = True, scope: str = "module") -> Any:
    """A pytest fixture (module-scoped by default) yielding a started `PortalStack`; use as
    `stack = portal_stack()` at a test module's top level."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def _fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalStack]:
        with running_stack(tmp_path_factory.mktemp("portal-stack"), portal=portal) as stack:
            yield stack

    return _fixture
