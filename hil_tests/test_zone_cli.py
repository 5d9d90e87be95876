"""`farmctl zone status|cmd|watch` as a real subprocess against a real mosquitto (the site's generated ACL).

A small paho client on the daemon account stands in for the zone daemon: it publishes gh1's retained status and
state and answers gh1's commands (after a decoy ack with another id, which the CLI must ignore). The real
daemon's command handling is tested elsewhere; here only the command line's side of the contract is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from farmcore.errors import BadInput
from farmcore.link.messages import Ack, ErrorCode, read_payload, validate_command
from farmcore.link.zonecli import build_command, parse_value
from farmcore.link.zonetext import readings_text, recipe_text, summary
from farmcore.site import load_site
from hil_tests.mosquitto import Mosquitto, free_port, needs_mosquitto

DEMO = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"
SITE = "gyeongbuk-demo"
DAEMON = f"farmctl-{SITE}"
STATE = {"time": "2026-01-15T00:00:00Z", "mode": "auto",
         "recipe": {"id": "tomato-winter", "version": 3, "stage": "flowering"},
         "readings": {"air_temperature": {"value": 21.46, "unit": "degC", "quality": "good"},
                      "relative_humidity": {"value": 78.0, "unit": "%RH", "quality": "good"},
                      "co2": {"value": 612.0, "unit": "ppm", "quality": "stale"}}}


class FakeDaemon:
    """gh1's daemon as far as MQTT goes: retained status/state, one ack per command (`answer` decides)."""

    def __init__(self, mosq: Mosquitto, answer: str = "ok") -> None:
        self.answer = answer  # ok | reject | silent
        self.commands: list[Any] = []  # validated Command, or the CommandError
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fake-gh1")
        self.client.username_pw_set(DAEMON, mosq.password(DAEMON))
        self.client.will_set(f"farm/{SITE}/gh1/status", "offline", qos=1, retain=True)
        self.client.on_connect = lambda c, *_: c.subscribe(f"farm/{SITE}/gh1/cmd/+", qos=1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", mosq.port)
        self.client.loop_start()
        assert self.ready.wait(5), "fake daemon did not subscribe"
        self.publish("gh1/status", "online")
        self.publish("gh1/state", json.dumps(STATE))

    def publish(self, leaf: str, payload: str, retain: bool = True) -> None:
        self.client.publish(f"farm/{SITE}/{leaf}", payload, qos=1, retain=retain).wait_for_publish(5)

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        raw = read_payload(message.payload)
        try:
            command = validate_command(raw)
            self.commands.append(command)
        except Exception as exc:
            self.commands.append(exc)
            command = None
        if self.answer == "silent":
            return
        decoy = Ack("someone-else", False, ErrorCode.EXPIRED, "not yours")
        client.publish(f"farm/{SITE}/gh1/ack", decoy.to_json(), qos=1)
        if self.answer == "ok" and command is not None:
            ack = Ack(command.id, True, None, "override roof_vent", {"kind": command.kind, "target": command.target})
        else:
            ack = Ack(raw.get("id"), False, ErrorCode.OUT_OF_ENVELOPE, "air_temperature 40 is outside 15..30")
        client.publish(f"farm/{SITE}/gh1/ack", ack.to_json(), qos=1)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mosq(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(load_site(DEMO), tmp_path / "broker") as broker:
        yield broker


@pytest.fixture
def daemon(mosq: Mosquitto) -> Iterator[FakeDaemon]:
    fake = FakeDaemon(mosq)
    try:
        yield fake
    finally:
        fake.stop()


def farmctl(*args: str, env: dict[str, str] | None = None, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FARMCTL_MQTT")}
    environ.update({"FARMCTL_LANG": "en", **(env or {})})
    return subprocess.run([sys.executable, "-m", "farmctl.cli", "zone", *args], capture_output=True, text=True,
                          env=environ, timeout=timeout)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# ------------------------------------------------------------------------------------------------ status


@needs_mosquitto
def test_status_table_shows_the_online_zone_and_the_silent_ones(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    daemon.publish("gh2/state", "not json {")  # garbage never crashes the command
    text = farmctl("status", "--site", str(DEMO), "--broker", mosq.url("technician"))
    assert text.returncode == 0, text.stderr
    rows = {line.split()[0]: line for line in text.stdout.splitlines()[3:] if line.strip()}
    assert "online" in rows["gh1"] and "tomato-winter@3 flowering" in rows["gh1"]
    assert "air_temperature=21.46 degC" in rows["gh1"] and "co2=612 ppm(stale)" in rows["gh1"]
    assert "unknown" in rows["tank1"] and "unknown" in rows["gh2"]
    assert "gh2: state is not a JSON object: not json {" in text.stdout


@needs_mosquitto
def test_status_json(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    doc = farmctl("status", "--site", str(DEMO), "--broker", mosq.url("technician"), "--json")
    assert doc.returncode == 0, doc.stderr
    zones = json.loads(doc.stdout)["zones"]
    assert json.loads(doc.stdout)["site"] == SITE
    assert set(zones) == {"gh1", "gh2", "gh3", "tank1", "tank2", "tank3"}
    assert zones["gh1"]["status"] == "online" and zones["gh1"]["state"] == STATE and zones["gh1"]["alarms"] == []
    assert zones["gh1"]["state_age_s"] > 0
    assert all(zones[z]["status"] == "unknown" and zones[z]["state"] is None for z in ("gh3", "tank1"))


@needs_mosquitto
def test_status_of_zones_whose_clock_runs_ahead_warns_once_with_sensible_ages(mosq: Mosquitto,
                                                                             daemon: FakeDaemon) -> None:
    """The fast demo's twin stamps states hours ahead: six zones gave six warnings and negative ages."""
    ahead = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    for zone in ("gh2", "gh3"):
        daemon.publish(f"{zone}/status", "online")
        daemon.publish(f"{zone}/state", json.dumps({**STATE, "time": ahead}))
    stop = threading.Event()

    def live() -> None:  # gh3's daemon keeps publishing, as a running one does (not retained)
        while not stop.is_set():
            daemon.publish("gh3/state", json.dumps({**STATE, "time": ahead}), retain=False)
            time.sleep(0.1)

    publisher = threading.Thread(target=live)
    publisher.start()
    try:
        started = time.monotonic()
        text = farmctl("status", "--site", SITE, "--broker", mosq.url("technician"))
        elapsed = time.monotonic() - started
        doc = farmctl("status", "--site", SITE, "--broker", mosq.url("technician"), "--json")
    finally:
        stop.set()
        publisher.join()
    assert text.returncode == 0, text.stderr
    warnings = [line for line in text.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: gh2, gh3: state times up to 107")
    rows = {line.split()[0]: line.split() for line in text.stdout.splitlines()[3:] if line.strip()}
    assert rows["gh2"][5] == "-" and rows["gh3"][5] == "0"  # no live state from gh2; gh3's arrived just now
    assert elapsed < 8  # live states never stop coming: only retained ones extend the wait (it took --timeout)
    zones = json.loads(doc.stdout)["zones"]
    assert zones["gh2"]["clock_ahead_s"] > 10700 and zones["gh2"]["state_age_s"] is None
    assert 0 <= zones["gh3"]["state_age_s"] < 5 and zones["gh1"]["clock_ahead_s"] is None


@needs_mosquitto
def test_status_of_one_zone_by_site_id(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    only = farmctl("status", "--site", SITE, "--zone", "gh1", "--broker", mosq.url("technician"), "--json")
    assert only.returncode == 0, only.stderr
    assert json.loads(only.stdout)["zones"]["gh1"]["status"] == "online"
    assert list(json.loads(only.stdout)["zones"]) == ["gh1"]


# ------------------------------------------------------------------------------------------------- cmd


@needs_mosquitto
def test_cmd_override_is_acked_ok(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    result = farmctl("cmd", "--site", SITE, "--zone", "gh1", "--broker", mosq.url("technician"), "override",
                     "roof_vent", "open", "--for", "600", "--reason", "hil test", "--json")
    assert result.returncode == 0, result.stderr
    ack = json.loads(result.stdout)
    assert ack["ok"] is True and ack["applied"] == {"kind": "override", "target": "roof_vent"}
    [command] = daemon.commands
    assert command.id == ack["id"] and command.kind == "override" and command.target == "roof_vent"
    assert command.value == "open" and command.duration_s == 600 and command.reason == "hil test"
    assert command.issued_by.startswith("technician:") and 59 <= (command.expires_at - command.issued_at
                                                                  ).total_seconds() <= 61


@needs_mosquitto
def test_cmd_rejected_exits_1(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    daemon.answer = "reject"
    result = farmctl("cmd", "--site", SITE, "--zone", "gh1", "--broker", mosq.url("technician"), "setpoint",
                     "air_temperature", "40", "--id", "cmd-42")
    assert result.returncode == 1
    assert "rejected" in result.stdout and "out_of_envelope" in result.stdout
    assert "cmd-42" in one_line(result.stderr) and "out_of_envelope" in result.stderr
    assert daemon.commands[0].value == 40.0


@needs_mosquitto
def test_cmd_without_an_ack_times_out(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    daemon.answer = "silent"
    result = farmctl("cmd", "--site", SITE, "--zone", "gh1", "--broker", mosq.url("technician"), "release",
                     "heater", "--timeout", "1", "--json")
    assert result.returncode == 1 and result.stdout == ""
    line = one_line(result.stderr)
    assert "no ack" in line and "gh1" in line and "within 1 s" in line and "zone status: online" in line


@needs_mosquitto
def test_cmd_to_a_zone_the_broker_has_never_seen_fails_at_once(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    """It waited the whole --timeout (10 s): the retained statuses already say which zones exist."""
    url = mosq.url("technician")
    started = time.monotonic()
    unknown = farmctl("cmd", "--site", SITE, "--zone", "gh9", "--broker", url, "release", "heater")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert one_line(unknown.stderr).endswith(f"--zone 'gh9': site {SITE} has no such zone on broker "
                                             f"mqtt://technician@127.0.0.1:{mosq.port}; zones: gh1")
    # in the site file, but its daemon has never connected: nothing would receive the command
    silent = farmctl("cmd", "--site", str(DEMO), "--zone", "tank2", "--broker", url, "feed_now")
    assert silent.returncode == 1 and "zone tank2 has no retained status" in one_line(silent.stderr)
    assert time.monotonic() - started < 8  # both together, well inside one default --timeout
    time.sleep(0.3)
    assert daemon.commands == []  # nothing was published


@needs_mosquitto
def test_cmd_when_no_zone_of_the_site_was_ever_seen_says_so(mosq: Mosquitto) -> None:
    result = farmctl("cmd", "--site", "other-site", "--zone", "gh1", "--broker", mosq.url("technician"),
                     "release", "heater")
    assert result.returncode == 1
    assert "no zone of site 'other-site' has a retained status on broker" in one_line(result.stderr)


@needs_mosquitto
def test_bad_usage_exits_2_and_publishes_nothing(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    url = mosq.url("technician")
    for args in (("override", "roof_vent", "open"), ("open_vent", "roof_vent")):  # no --for; unknown kind
        result = farmctl("cmd", "--site", SITE, "--zone", "gh1", "--broker", url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
        assert ("--for" if args[0] == "override" else "open_vent") in one_line(result.stderr)
    time.sleep(0.3)
    assert daemon.commands == []


@needs_mosquitto
def test_broker_problems_exit_1_with_one_line(mosq: Mosquitto, tmp_path: Path) -> None:
    wrong = farmctl("status", "--site", SITE, "--broker", f"mqtt://technician@127.0.0.1:{mosq.port}?password_env=PW",
                    env={"PW": "not-the-password"})
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert f"mqtt://technician@127.0.0.1:{mosq.port}" in one_line(wrong.stderr)
    assert "not-the-password" not in wrong.stderr


@needs_mosquitto
def test_no_broker_exits_1_and_a_missing_one_2() -> None:
    port = free_port()
    gone = farmctl("cmd", "--site", SITE, "--zone", "gh1", "--broker", f"mqtt://technician@127.0.0.1:{port}",
                   "ack_alarm", "gh1-high-temp", env={"FARMCTL_MQTT_PASSWORD": "x"})
    assert gone.returncode == 1 and f"127.0.0.1:{port}" in one_line(gone.stderr)

    missing = farmctl("status", "--site", SITE)
    assert missing.returncode == 2 and "--broker" in one_line(missing.stderr)


# ----------------------------------------------------------------------------------------------- watch


@needs_mosquitto
def test_watch_json_count(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    result = farmctl("watch", "--site", str(DEMO), "--zone", "gh1", "--leaf", "status", "--leaf", "state",
                     "--broker", mosq.url("technician"), "--json", "--count", "2", timeout=10)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    by_leaf = {m["leaf"]: m for m in lines}
    assert by_leaf["status"]["payload"] == "online" and by_leaf["status"]["retained"] is True
    assert by_leaf["state"]["payload"] == STATE and by_leaf["state"]["zone"] == "gh1"
    assert by_leaf["state"]["topic"] == f"farm/{SITE}/gh1/state"


@needs_mosquitto
def test_watch_text_for_seconds_shows_garbage_as_text(mosq: Mosquitto, daemon: FakeDaemon) -> None:
    daemon.publish("gh1/alarms", "\x00\x01 garbage")
    result = farmctl("watch", "--site", SITE, "--broker", mosq.url("technician"), "--for", "0.5")
    assert result.returncode == 0, result.stderr
    assert "gh1      state   auto tomato-winter@3 flowering air_temperature=21.46 degC" in result.stdout
    assert "raw:" in result.stdout and "garbage" in result.stdout


# ------------------------------------------------------------------------------------ pure helpers


@pytest.mark.parametrize("kind, args, duration", [
    ("setpoint", ["air_temperature", "warm"], None),  # not a number
    ("setpoint", ["air_temperature"], None),  # no value
    ("release", ["heater"], 60.0),  # --for only with override
    ("recipe", [], None),  # no recipe id
    ("override", ["roof_vent", "sideways"], 60.0),
    ("ack_alarm", ["a", "b"], None),  # too many
    ("feed_now", ["500"], None),  # more than 100 kg
    ("setpoint", ["air_temperature", "--bogus"], None),
    ("release", ["x" * 100], None),  # too long for the schema
])
def test_bad_commands_are_refused_before_publishing(kind: str, args: list[str], duration: float | None) -> None:
    with pytest.raises(BadInput):
        build_command(kind, args, duration_s=duration)


def test_values_and_commands_are_checked_locally() -> None:
    assert parse_value("true") is True and parse_value("off") == "off" and parse_value("-2.5") == -2.5
    command = build_command("recipe", ["2024"], issued_by="technician:kim")
    assert command["value"] == "2024" and "target" not in command  # a recipe id stays text
    assert validate_command(build_command("feed_now", [])).value is None
    assert build_command("setpoint", ["air_temperature", "-2"])["value"] == -2.0


def test_summaries_survive_odd_payloads() -> None:
    assert recipe_text({"recipe": "lettuce", "recipe_version": 2, "stage": "head"}) == "lettuce@2 head"
    assert readings_text({"readings": [{"quantity": "ph", "value": 6.1, "unit": "pH"}]}) == "ph=6.1 pH"
    assert readings_text({"readings": "oops"}) == "-"
    assert summary("events", {"type": "alarm_raised", "alarm": {"id": "gh1-hot", "message": {"en": "hot"}}},
                   True) == "alarm_raised gh1-hot hot"
    assert summary("ack", [1, 2], True).startswith("raw:")
    assert summary("alarms", [{"id": "a", "active": False}, {"id": "b"}], True) == "1 active / 2: a, b"
