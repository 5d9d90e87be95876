"""`farmctl twin` + `farmctl run --mqtt` as real processes on the wall clock, a real mosquitto with the site's
ACL, and independent clients: a hypothesis fuzz of command payloads through the broker (the daemon never
crashes and answers each with exactly one ack and a stable code), the last will on kill -9, and `offline`
on a clean stop."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from farmcore.link.messages import KINDS, MAX_PAYLOAD, ErrorCode
from farmcore.site import load_site
from hil_tests.mosquitto import Mosquitto, free_port, needs_mosquitto
from hil_tests.test_daemon import _wait_port, site_text

pytestmark = needs_mosquitto
EXE = [sys.executable, "-m", "farmctl.cli"]
ACK_KEYS = {"id", "ok", "error", "message", "applied"}
CODES = {str(c) for c in ErrorCode}


class Plant:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.path = folder / "site.toml"
        self.path.write_text(site_text(f"tcp://127.0.0.1:{port}", recipe="crops/tomato", tick_s=1, stale_s=10))
        self.broker = Mosquitto(load_site(self.path), folder / "broker").start()
        self.env = {**os.environ, "FARMCTL_STATE_DIR": str(folder / "state"), "PYTHONUNBUFFERED": "1"}
        self.twin = subprocess.Popen([*EXE, "twin", "--site", str(self.path)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(port)
        self.daemon: subprocess.Popen[str] | None = None

    def run(self, *extra: str) -> subprocess.Popen[str]:
        self.daemon = subprocess.Popen([*EXE, "run", "--site", str(self.path), "--mqtt",
                                        self.broker.url("farmctl-hil"), *extra], env=self.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        return self.daemon

    def status(self, count: int = 1, wait_s: float = 15) -> list[str]:
        out = subprocess.run(["mosquitto_sub", *self.broker.auth("technician"), "-t", "farm/hil/gh/status",
                              "-C", str(count), "-W", str(wait_s), "-F", "%r %p"], capture_output=True, text=True,
                             timeout=wait_s + 5)
        return out.stdout.splitlines()

    def close(self) -> None:
        for proc in (self.daemon, self.twin):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        self.broker.stop()


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    p = Plant(tmp_path_factory.mktemp("mqtt-process"))
    try:
        p.run()
        deadline = time.monotonic() + 20
        while p.status(1, 3) != ["1 online"]:
            assert time.monotonic() < deadline, "the daemon never came online"
        yield p
    finally:
        p.close()


class Acks:
    """A paho client on the technician's account: publish a payload, take the next ack."""

    def __init__(self, broker: Mosquitto) -> None:
        self.queue: queue.Queue[bytes] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fuzz-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set("technician", broker.password("technician"))
        self.client.on_message = lambda _c, _u, m: self.queue.put(m.payload)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        info = self.client.subscribe("farm/hil/gh/ack", qos=1)
        deadline = time.monotonic() + 5
        while not self.client.is_connected() or info[0] != mqtt.MQTT_ERR_SUCCESS:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)

    def send(self, payload: bytes, timeout_s: float = 10) -> dict[str, Any]:
        self.client.publish("farm/hil/gh/cmd/technician", payload, qos=1).wait_for_publish(5)
        return json.loads(self.queue.get(timeout=timeout_s))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _later(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, width=32),
                    st.text(max_size=20), st.sampled_from(["on", "off", "open", "close", "heater", "2020-01-01"]))
commands = st.fixed_dictionaries(
    {"id": st.one_of(st.uuids().map(str), st.text(max_size=70), st.integers()),
     "kind": st.one_of(st.sampled_from(KINDS), st.text(max_size=12)),
     "issued_by": st.one_of(st.sampled_from(["technician:fuzz", "portal:tenant-kim"]), scalars)},
    optional={"issued_at": st.one_of(st.builds(_now), scalars),
              "expires_at": st.one_of(st.builds(_later, st.integers(-5, 90)), scalars),
              "target": st.one_of(st.sampled_from(["heater", "vent_west", "air_temperature", "co2", "nope"]), scalars),
              "value": scalars, "duration_s": st.one_of(st.integers(-5, 100_000), scalars),
              "reason": st.text(max_size=50), "extra": scalars})
payloads = st.one_of(
    st.binary(max_size=300),
    commands.map(lambda c: json.dumps(c).encode()),
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3)).map(
        lambda v: json.dumps(v).encode()),
)


def _check(ack: dict[str, Any], payload: bytes) -> None:
    assert set(ack) == ACK_KEYS, ack
    assert isinstance(ack["ok"], bool)
    if ack["ok"]:
        assert ack["error"] is None and isinstance(ack["applied"], dict)
    else:
        assert ack["error"] in CODES, ack
    try:
        sent_id = json.loads(payload).get("id")
    except (ValueError, AttributeError, UnicodeDecodeError):
        sent_id = None
    if ack["id"] is not None:
        assert ack["id"] == sent_id


def test_fuzzed_commands_through_the_broker_get_exactly_one_ack_each(plant: Plant) -> None:
    acks = Acks(plant.broker)
    sent = 0

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
    @given(payload=payloads)
    def fuzz(payload: bytes) -> None:
        nonlocal sent
        sent += 1
        _check(acks.send(payload), payload)

    try:
        fuzz()
        for payload in (b"x" * (MAX_PAYLOAD + 1), b"\xff\xfe", b"[]", b"null", b'{"id": "a", "id": "b"}'):
            sent += 1
            ack = acks.send(payload)
            _check(ack, payload if payload[:1] == b"{" and b'"id": "b"' not in payload else b"")
            assert not ack["ok"]
        time.sleep(1.0)
        assert acks.queue.empty(), "a command was answered more than once"
    finally:
        acks.close()
    assert plant.daemon is not None and plant.daemon.poll() is None, "the daemon died under the fuzz"
    assert sent >= 150


def test_kill9_fires_the_last_will_and_a_clean_stop_says_offline(plant: Plant) -> None:
    assert plant.daemon is not None
    plant.daemon.send_signal(signal.SIGKILL)
    plant.daemon.wait(5)
    assert plant.status(1, 5) == ["1 offline"], "the broker published the zone's last will"
    watch = subprocess.Popen(["mosquitto_sub", *plant.broker.auth("technician"), "-t", "farm/hil/gh/status",
                              "-C", "3", "-W", "60", "-F", "%r %p"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    second = plant.run("--for", "5")
    assert second.wait(60) == 0, second.stderr.read() if second.stderr else ""
    out, _ = watch.communicate(timeout=30)
    assert out.splitlines() == ["1 offline", "0 online", "0 offline"], "the restarted daemon came online, and a " \
        "clean stop published offline"
    assert plant.status(1, 5) == ["1 offline"], "offline is retained after a clean stop"
