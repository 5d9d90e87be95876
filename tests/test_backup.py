"""The oxygen backup relay: its rule (pure) and its hang watchdog (a real thread, mock GPIO pin)."""

from __future__ import annotations

import time

import pytest

from farmcore import gpio
from farmcore.runtime.backup import BackupRule, OxygenBackup


@pytest.fixture(autouse=True)
def _mock_pins():
    gpio.reset_mock()
    yield
    gpio.reset_mock()


def test_rule_engages_on_low_bad_or_silent_do_and_releases_after_a_good_spell():
    rule = BackupRule(critical_mg_l=2.0, release_after_s=300)
    assert rule.decide(0, 6.0, True) == (False, "DO 6.00 mg/L")
    assert rule.decide(10, 1.8, True)[0]
    assert rule.decide(20, 2.5, True)[0], "not above critical + margin yet"
    assert rule.decide(30, 3.5, True)[0], "good, but not for long enough"
    engaged, why = rule.decide(331, 3.5, True)
    assert not engaged and "released" in why
    assert rule.decide(400, None, True, "stale: 40 s") == (True, "DO reading bad: stale: 40 s")
    assert rule.decide(410, 7.0, False) == (True, "DO node not answering (bus down)")


def test_guard_drives_the_relay_and_reports_events():
    out = gpio.open_output(22, factory="mock")
    guard = OxygenBackup("tank1", out, BackupRule(release_after_s=0), hang_after_s=60)
    guard.feed(0, 6.0, True)
    assert not out.value
    guard.feed(10, 1.5, True)
    assert out.value and gpio.mock_pin(22).state
    guard.feed(20, 6.0, True)
    assert not out.value
    assert [code for code, _m in guard.events] == ["backup_engaged", "backup_released"]


def test_guard_engages_by_itself_when_the_daemon_stops_feeding_it():
    """The daemon's loop hangs (no feed): the guard's own thread engages the relay."""
    out = gpio.open_output(23, factory="mock")
    guard = OxygenBackup("tank1", out, BackupRule(), hang_after_s=0.3, poll_s=0.05)
    guard.start()
    try:
        guard.feed(0, 7.0, True)
        assert not out.value
        deadline = time.monotonic() + 5
        while not out.value and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.value, "the relay engaged without the daemon"
        assert "daemon silent" in guard.why
        guard.feed(1, 7.0, True)  # the daemon is back, DO good: the release waits for the good spell
        assert out.value
    finally:
        guard.stop()
    assert not gpio.mock_pin(23).state and not guard.engaged


def test_stop_releases_the_pin_unless_an_emergency_keeps_the_relay_engaged():
    """Closed deterministically on stop: a device left to the garbage collector can deadlock gpiozero."""
    out = gpio.open_output(24, factory="mock")
    guard = OxygenBackup("tank1", out, BackupRule(), hang_after_s=60)
    guard.start()
    guard.feed(0, 7.0, True)
    guard.stop()
    gpio.open_output(24, factory="mock").close()  # the pin is free again

    out = gpio.open_output(25, factory="mock")
    guard = OxygenBackup("tank1", out, BackupRule(), hang_after_s=60)
    guard.start()
    guard.feed(0, 1.0, True)  # below critical: engaged
    guard.stop(leave_engaged=True)
    assert out.value and gpio.mock_pin(25).state, "an emergency outlives the daemon's stop"
