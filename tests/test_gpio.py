"""GPIO layer on gpiozero's MockFactory: polarity, watchdog pulses, safe state, and one-line errors off a Pi."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator

import pytest

from farmcore import gpio
from farmcore.errors import BadInput, DeviceError
from farmcore.gpio import (
    ENV_VAR,
    DigitalIn,
    DigitalOut,
    OutputSpec,
    SafeOutputs,
    Watchdog,
    mock_pin,
    open_input,
    open_output,
    reset_mock,
)

HAS_RPI_GPIO = importlib.util.find_spec("RPi") is not None
HAS_LGPIO = importlib.util.find_spec("lgpio") is not None


@pytest.fixture(autouse=True)
def clean_mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh mock pins per test, and no pin factory leaking in from the developer's shell."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    reset_mock()
    yield
    reset_mock()


def test_output_on_off_drives_the_pin() -> None:
    out = open_output(17, factory="mock")
    assert isinstance(out, DigitalOut)
    assert out.value is False and mock_pin(17).state is False
    out.on()
    assert out.value is True and mock_pin(17).state is True
    out.off()
    assert out.value is False and mock_pin(17).state is False


def test_initial_state_is_applied_at_open() -> None:
    out = open_output(22, initial=True, factory="mock")
    assert out.value is True and mock_pin(22).state is True


def test_active_low_relay_is_on_while_the_pin_is_low() -> None:
    relay = open_output(17, active_high=False, factory="mock")
    assert relay.value is False and mock_pin(17).state is True  # off = pin high on an active-low board
    relay.on()
    assert relay.value is True
    assert mock_pin(17).state is False


def test_env_var_selects_the_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "mock")
    out = open_output(5)
    out.on()
    assert mock_pin(5).state is True


def test_input_follows_the_driven_pin() -> None:
    door = open_input(27, factory="mock")
    assert isinstance(door, DigitalIn)
    assert door.value is False  # pulled up, contact open
    mock_pin(27).drive_low()
    assert door.value is True
    mock_pin(27).drive_high()
    assert door.value is False


def test_input_without_pull_up_is_active_high() -> None:
    sensor = open_input(4, pull_up=False, factory="mock")
    assert sensor.value is False
    mock_pin(4).drive_high()
    assert sensor.value is True


def test_watchdog_toggles_each_beat_and_stops_low() -> None:
    dog = Watchdog(open_output(18, factory="mock"))
    pin = mock_pin(18)
    levels = []
    for _ in range(4):
        dog.beat()
        levels.append(pin.state)
    assert levels == [True, False, True, False]
    assert dog.beats == 4
    dog.beat()
    assert pin.state is True
    dog.stop()
    assert pin.state is False and dog.stopped
    dog.beat()  # a stopped watchdog stays quiet so the external timer trips
    assert pin.state is False and dog.beats == 5


def test_watchdog_on_active_low_output_stops_with_output_off() -> None:
    out = open_output(18, active_high=False, initial=True, factory="mock")
    dog = Watchdog(out)
    assert out.value is False
    dog.beat()
    assert out.value is True and mock_pin(18).state is False
    dog.stop()
    assert out.value is False and mock_pin(18).state is True


def test_close_releases_the_pin_and_reopen_works() -> None:
    out = open_output(17, factory="mock")
    out.close()
    out.close()  # idempotent
    again = open_output(17, factory="mock")
    again.on()
    assert mock_pin(17).state is True
    inp = open_input(27, factory="mock")
    inp.close()
    open_input(27, factory="mock").close()


def test_pin_in_use_is_a_device_error() -> None:
    held = open_output(17, factory="mock")  # keep a reference: gpiozero releases pins of collected devices
    with pytest.raises(DeviceError, match=r"GPIO17: cannot open output with pin factory 'mock'"):
        open_output(17, factory="mock")
    held.close()


def test_use_after_close_is_a_device_error() -> None:
    out = open_output(17, factory="mock")
    out.close()
    with pytest.raises(DeviceError, match="GPIO17: on failed"):
        out.on()


def test_invalid_pin_and_unknown_factory_are_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BadInput, match="GPIO99: not a valid pin"):
        open_output(99, factory="mock")
    with pytest.raises(BadInput, match="BCM number"):
        open_output(-1, factory="mock")
    with pytest.raises(BadInput, match="unknown GPIO pin factory 'wiringpi'"):
        open_output(17, factory="wiringpi")
    monkeypatch.setenv(ENV_VAR, "bogus")
    with pytest.raises(BadInput, match=ENV_VAR):
        open_input(17)


@pytest.mark.skipif(HAS_RPI_GPIO, reason="RPi.GPIO is importable here (a Pi?)")
def test_rpigpio_off_a_pi_is_one_line_device_error() -> None:
    with pytest.raises(DeviceError) as info:
        open_output(17, factory="rpigpio")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("GPIO17: cannot open output with pin factory 'rpigpio'")
    assert f"{ENV_VAR}=mock" in text
    assert info.value.exit_code == 1


@pytest.mark.skipif(HAS_LGPIO, reason="lgpio is importable here")
def test_lgpio_from_env_off_a_pi_names_pin_and_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "lgpio")
    with pytest.raises(DeviceError, match=r"GPIO27: cannot open input with pin factory 'lgpio'.*=mock"):
        open_input(27)


def test_native_off_a_pi_is_device_error() -> None:
    try:
        open_output(17, factory="native").close()
    except DeviceError as exc:
        assert "GPIO17" in str(exc) and "'native'" in str(exc)
    else:
        pytest.skip("native factory works here (a Pi)")


@pytest.mark.skipif(HAS_LGPIO or HAS_RPI_GPIO, reason="a GPIO driver is importable here")
def test_auto_detection_without_drivers_lists_what_was_tried() -> None:
    with pytest.raises(DeviceError, match=r"GPIO17: cannot open output with pin factories lgpio/rpigpio"):
        open_output(17)


def test_safe_outputs_drive_declared_state_at_start_and_stop() -> None:
    specs = {
        "pump": OutputSpec(17),
        "heater": OutputSpec(22, active_high=False),
        "vent_close": OutputSpec(23, safe=True),  # spring-return vent: energised = closed is the safe state
    }
    with SafeOutputs.open(specs, factory="mock") as outs:
        assert {name: outs[name].value for name in outs} == {"pump": False, "heater": False, "vent_close": True}
        assert mock_pin(22).state is True  # active-low heater relay off = pin high
        outs["pump"].on()
        outs["heater"].on()
        outs["vent_close"].off()
        assert len(outs) == 3
    assert mock_pin(17).state is False and mock_pin(22).state is True and mock_pin(23).state is True
    open_output(17, factory="mock").close()  # pins were released


def test_safe_outputs_reports_every_failure_and_still_drives_the_rest() -> None:
    good = open_output(17, factory="mock")
    bad = open_output(22, factory="mock")
    good.on()
    bad.close()
    outs = SafeOutputs({"bad": bad, "good": good}, {"bad": False, "good": False})
    with pytest.raises(DeviceError, match="safe state: bad: GPIO22: off failed"):
        outs.drive_safe()
    assert good.value is False


def test_safe_outputs_requires_a_safe_state_for_every_output() -> None:
    out = open_output(17, factory="mock")
    with pytest.raises(BadInput, match="undeclared outputs \\['pump'\\]"):
        SafeOutputs({"pump": out}, {})


def test_safe_outputs_open_failure_closes_what_was_opened() -> None:
    held = open_output(23, factory="mock")  # someone else holds pin 23
    with pytest.raises(DeviceError, match="GPIO23"):
        SafeOutputs.open({"a": OutputSpec(17), "b": OutputSpec(23)}, factory="mock")
    held.close()
    open_output(17, factory="mock").close()  # 17 was released again


def test_watchdog_close_leaves_the_pin_low_and_released() -> None:
    dog = Watchdog(open_output(18, factory="mock"))
    dog.beat()
    assert mock_pin(18).state is True
    dog.close()
    assert mock_pin(18).state is False
    open_output(18, factory="mock").close()  # released: it opens again


def _finishes(fn: Callable[[], None], within_s: float = 5.0) -> bool:
    """Run `fn` in a daemon thread; False if it is still blocked after `within_s` (a deadlock)."""
    worker = threading.Thread(target=fn, daemon=True)
    worker.start()
    worker.join(within_s)
    return not worker.is_alive()


def test_a_device_closed_while_the_pin_lock_is_held_does_not_deadlock() -> None:
    """What the garbage collector does: a dropped device's __del__ closes it (release_pins) while another
    release_pins in the same thread holds gpiozero's reservation lock. With gpiozero's plain Lock that waits
    for ever (the hang seen in `tests/test_backup.py`); the factories we load use a re-entrant lock."""
    out = open_output(19, factory="mock")
    factory = gpio._mock_factory()

    def nested_release() -> None:
        with factory._res_lock:
            out.close()

    assert _finishes(nested_release), "closing a device inside another pin release deadlocked"
    open_output(19, factory="mock").close()

