"""A heater on a dead-man lease falls back by itself when its daemon dies (issue 14 item 7): `farmctl twin` and
`farmctl run` as processes, the heater switched on by an override over MQTT, the daemon killed with SIGKILL,
the twin's actuator node read by `farmctl read` as an independent client."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from farmcore.site import load_site
from hil_tests.mosquitto import needs_mosquitto
from hil_tests.test_mqtt_process import EXE, Plant

pytestmark = needs_mosquitto
LEASE_S = 4


def heater_status(bus: str) -> int | None:
    out = subprocess.run([*EXE, "read", "--bus", bus, "--unit", "12", "--json"], capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 0:
        return None
    return next(d["status"] for d in json.loads(out.stdout)["devices"] if d["slot"] == 1)


def override_heater_on(plant: Plant) -> None:
    now = datetime.now(UTC)
    command = {"id": f"dm-{time.monotonic_ns()}", "issued_by": "technician", "kind": "override", "target": "heater",
               "value": "on", "duration_s": 600, "issued_at": now.isoformat(),
               "expires_at": (now + timedelta(minutes=5)).isoformat(), "reason": "dead-man test"}
    subprocess.run(["mosquitto_pub", *plant.broker.auth("technician"), "-t", "farm/hil/gh/cmd/technician", "-q", "1",
                    "-m", json.dumps(command)], check=True, timeout=10)


def test_a_heater_left_on_by_a_killed_daemon_switches_off_by_itself(tmp_path: Path) -> None:
    plant = Plant(tmp_path / "site")
    text = plant.path.read_text()
    leased = text.replace('{ id = "heater", role = "heater", unit = 12, slot = 1 }',
                          f'{{ id = "heater", role = "heater", unit = 12, slot = 1, dead_man_s = {LEASE_S} }}')
    assert leased != text
    plant.path.write_text(leased)
    bus = load_site(plant.path).buses[0].url
    try:
        daemon = plant.run()
        deadline = time.monotonic() + 30
        while plant.status(1, 3) != ["1 online"]:
            assert time.monotonic() < deadline, "the daemon never came online"
        override_heater_on(plant)
        deadline = time.monotonic() + 15
        while heater_status(bus) != 201:
            assert time.monotonic() < deadline, "the override did not switch the heater on"
        time.sleep(3 * LEASE_S)  # renewed every 1 s tick: still on long after one lease
        assert heater_status(bus) == 201, "the daemon keeps renewing its lease"
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
        killed = time.monotonic()
        while heater_status(bus) == 201:
            assert time.monotonic() - killed < LEASE_S + 3, "the heater stayed on after its daemon died"
            time.sleep(0.2)
        assert time.monotonic() - killed >= LEASE_S / 2, "it ran out its lease (renewed each 1 s tick), not off at once"
    finally:
        plant.close()
