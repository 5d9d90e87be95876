"""Small GPIO interface with a gpiozero adapter and a shared mock for tests.

The controller only needs on/off outputs (relays, a watchdog heartbeat) and plain inputs (door switch, float
switch, failsafe feedback), so the rest of the code sees two tiny protocols instead of gpiozero or RPi.GPIO; the
library can change (RPi.GPIO does not run on a Pi 5) without touching the control code.

Pin factories (gpiozero 2.0): ``rpigpio`` is RPi.GPIO (Pi <= 4, or rpi-lgpio on a Pi 5), ``lgpio`` works on every
Pi including the Pi 5, ``native`` is gpiozero's pure-Python fallback, ``mock`` is :class:`MockFactory` for tests and
benches without GPIO. The factory comes from the ``factory`` argument, else ``$GPIOZERO_PIN_FACTORY``, else lgpio then
rpigpio. Every failure from gpiozero or the driver below it becomes one :class:`~farmcore.errors.DeviceError` line
naming the pin and the factory; no raw traceback reaches a technician.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from farmcore.errors import BadInput, DeviceError, FarmError

if TYPE_CHECKING:
    from gpiozero.pins import Factory
    from gpiozero.pins.mock import MockFactory, MockPin

__all__ = [
    "ENV_VAR",
    "FACTORIES",
    "DigitalIn",
    "DigitalOut",
    "OutputSpec",
    "SafeOutputs",
    "Watchdog",
    "mock_pin",
    "open_input",
    "open_output",
    "reset_mock",
]

ENV_VAR = "GPIOZERO_PIN_FACTORY"
#: Factory names accepted by ``factory=`` and ``$GPIOZERO_PIN_FACTORY`` (gpiozero entry-point names).
FACTORIES: tuple[str, ...] = ("mock", "lgpio", "rpigpio", "native")
#: Tried in this order when nothing is configured: lgpio covers every Pi, rpigpio is RPi.GPIO on Pi <= 4.
#: gpiozero's own chain would end in ``native`` with warnings; we prefer a clear error instead.
_AUTO_ORDER: tuple[str, ...] = ("lgpio", "rpigpio")
_BENCH_HINT = f"on a bench without GPIO set {ENV_VAR}=mock"

_T = TypeVar("_T")


@runtime_checkable
class DigitalOut(Protocol):
    """An on/off output; ``value`` is the logical state (True = energised), whatever the wiring polarity."""

    def on(self) -> None: ...

    def off(self) -> None: ...

    @property
    def value(self) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class DigitalIn(Protocol):
    """A digital input; ``value`` is True when the input is active (closed to ground with a pull-up)."""

    @property
    def value(self) -> bool: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- pin factories

_factories: dict[str, Factory] = {}


def _one_line(exc: BaseException) -> str:
    """The exception text on one line (driver messages sometimes span several)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _resolve_name(factory: str | None) -> str | None:
    """The factory name asked for, or None for auto-detection; unknown names are a usage error."""
    name = factory if factory is not None else os.environ.get(ENV_VAR) or None
    if name is None:
        return None
    name = name.strip().lower()
    if name not in FACTORIES:
        source = "factory" if factory is not None else ENV_VAR
        raise BadInput(f"{source}: unknown GPIO pin factory {name!r} (expected one of: {', '.join(FACTORIES)})")
    return name


def _load_factory(name: str) -> Factory:
    """One factory instance per name and process: gpiozero tracks pin reservations per factory."""
    if name in _factories:
        return _factories[name]
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        made: Factory = MockFactory()
    else:
        eps = [ep for ep in entry_points(group="gpiozero_pin_factories") if ep.name == name]
        if not eps:
            raise DeviceError(f"GPIO pin factory {name!r} is not installed with gpiozero; {_BENCH_HINT}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            made = eps[0].load()()
    # gpiozero guards its pin reservations with a plain Lock, and a device that is garbage-collected without
    # close() releases its pins from __del__. If the collector runs inside release_pins (any allocation under
    # the lock can trigger it), that __del__ waits on the lock its own thread holds: a silent deadlock (seen in
    # our test run). A re-entrant lock makes that nested release safe; our own code closes every device anyway.
    made._res_lock = threading.RLock()  # type: ignore[attr-defined]
    _factories[name] = made
    return made


def _factory_for(pin: int, what: str, factory: str | None) -> tuple[str, Factory]:
    """Pick and load the factory, turning any driver failure into one DeviceError line naming the pin."""
    name = _resolve_name(factory)
    names = (name,) if name is not None else _AUTO_ORDER
    reasons: list[str] = []
    last: Exception | None = None
    for candidate in names:
        try:
            return candidate, _load_factory(candidate)
        except FarmError:
            raise
        except Exception as exc:  # ImportError off a Pi, RuntimeError from RPi.GPIO, PinUnknownPi, OSError ...
            reasons.append(f"{candidate}: {_one_line(exc)}")
            last = exc
    tried = "pin factory " + repr(names[0]) if len(names) == 1 else "pin factories " + "/".join(names)
    raise DeviceError(f"GPIO{pin}: cannot open {what} with {tried} ({'; '.join(reasons)}); {_BENCH_HINT}") from last


def _mock_factory() -> MockFactory:
    """The process-wide mock factory (created on first use) so tests see the pins the code under test drives."""
    from gpiozero.pins.mock import MockFactory

    made = _load_factory("mock")
    assert isinstance(made, MockFactory)
    return made


def mock_pin(pin: int) -> MockPin:
    """The gpiozero mock pin behind ``pin`` (read ``.state``, call ``drive_low()`` / ``drive_high()``)."""
    return _mock_factory().pin(pin)


def reset_mock() -> None:
    """Close every device still open on the mock factory and forget its pins, so one test's open pins do not
    leak into the next. Devices dropped without close() are collected first, outside gpiozero's pin lock."""
    if "mock" not in _factories:
        return
    factory = _mock_factory()
    gc.collect()
    with factory._res_lock:  # type: ignore[attr-defined]
        devices = {dev for refs in factory._reservations.values() for r in refs if (dev := r()) is not None}
    for dev in devices:
        with contextlib.suppress(Exception):
            dev.close()
    factory.reset()


def _check_pin(pin: int) -> None:
    if isinstance(pin, bool) or not isinstance(pin, int) or pin < 0:
        raise BadInput(f"GPIO pin must be a BCM number >= 0, got {pin!r}")


def _open(pin: int, what: str, factory: str | None, build: Callable[[Factory, str], _T]) -> _T:
    _check_pin(pin)
    name, fac = _factory_for(pin, what, factory)
    from gpiozero.exc import PinInvalidPin

    try:
        return build(fac, name)
    except PinInvalidPin as exc:
        raise BadInput(f"GPIO{pin}: not a valid pin for pin factory {name!r} ({_one_line(exc)})") from exc
    except Exception as exc:  # GPIOPinInUse, permission denied on /dev/gpiochip*, RPi.GPIO RuntimeError ...
        raise DeviceError(f"GPIO{pin}: cannot open {what} with pin factory {name!r} ({_one_line(exc)})") from exc


# --------------------------------------------------------------------------- adapters


class _GpioOut:
    """DigitalOut over ``gpiozero.OutputDevice``; errors after opening become DeviceError too."""

    def __init__(self, pin: int, factory_name: str, device: object) -> None:
        self.pin = pin
        self.factory = factory_name
        self._dev = device

    def _do(self, action: str, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except Exception as exc:  # DeviceClosed, OSError from the kernel driver ...
            raise DeviceError(f"GPIO{self.pin}: {action} failed ({_one_line(exc)})") from exc

    def on(self) -> None:
        self._do("on", self._dev.on)  # type: ignore[attr-defined]

    def off(self) -> None:
        self._do("off", self._dev.off)  # type: ignore[attr-defined]

    @property
    def value(self) -> bool:
        return bool(self._do("read", lambda: self._dev.value))  # type: ignore[attr-defined]

    def close(self) -> None:
        """Release the pin (idempotent) so it can be opened again."""
        self._do("close", self._dev.close)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} GPIO{self.pin} via {self.factory}>"


class _GpioIn:
    """DigitalIn over ``gpiozero.DigitalInputDevice``."""

    def __init__(self, pin: int, factory_name: str, device: object) -> None:
        self.pin = pin
        self.factory = factory_name
        self._dev = device

    @property
    def value(self) -> bool:
        try:
            return bool(self._dev.value)  # type: ignore[attr-defined]
        except Exception as exc:
            raise DeviceError(f"GPIO{self.pin}: read failed ({_one_line(exc)})") from exc

    def close(self) -> None:
        try:
            self._dev.close()  # type: ignore[attr-defined]
        except Exception as exc:
            raise DeviceError(f"GPIO{self.pin}: close failed ({_one_line(exc)})") from exc

    def __repr__(self) -> str:
        return f"<{type(self).__name__} GPIO{self.pin} via {self.factory}>"


def open_output(pin: int, *, active_high: bool = True, initial: bool = False, factory: str | None = None) -> DigitalOut:
    """Open BCM ``pin`` as an output, driven to ``initial`` at once (no glitch to the wrong state).

    ``active_high=False`` is for the common active-low relay boards: ``on()`` pulls the pin low.
    """
    from gpiozero import OutputDevice

    def build(fac: Factory, name: str) -> DigitalOut:
        dev = OutputDevice(pin, active_high=active_high, initial_value=initial, pin_factory=fac)
        return _GpioOut(pin, name, dev)

    return _open(pin, "output", factory, build)


def open_input(pin: int, *, pull_up: bool = True, factory: str | None = None) -> DigitalIn:
    """Open BCM ``pin`` as an input; with ``pull_up`` a contact closing to ground reads True."""
    from gpiozero import DigitalInputDevice

    def build(fac: Factory, name: str) -> DigitalIn:
        dev = DigitalInputDevice(pin, pull_up=pull_up, pin_factory=fac)
        return _GpioIn(pin, name, dev)

    return _open(pin, "input", factory, build)


# --------------------------------------------------------------------------- watchdog and safe state


class Watchdog:
    """Heartbeat on a GPIO output for an external hardware watchdog.

    Why: a software watchdog lives in the process it guards. An external timer (e.g. a retriggerable relay timer in
    series with the failsafe contactor) only stays closed while it sees pulses; if the daemon hangs, deadlocks or
    the Pi freezes, ``beat()`` stops being called, the pulses stop and the timer drops the contactor, independent of
    Python. Call ``beat()`` once per *healthy* control tick, never from a separate thread that would keep beating
    while the control loop is stuck.
    """

    def __init__(self, out: DigitalOut) -> None:
        self.out = out
        self.beats = 0
        self.stopped = False
        self._level = False
        out.off()  # known start level so the first beat is a rising edge

    def beat(self) -> None:
        """Toggle the pin. Ignored after ``stop()``: a deliberately stopped watchdog must not restart by accident."""
        if self.stopped:
            return
        self._level = not self._level
        if self._level:
            self.out.on()
        else:
            self.out.off()
        self.beats += 1

    def stop(self) -> None:
        """Stop pulsing and leave the pin off, so the external timer trips (orderly shutdown or fault)."""
        self.stopped = True
        self._level = False
        self.out.off()

    def close(self) -> None:
        """Stop (pin off), then release the pin."""
        try:
            self.stop()
        finally:
            self.out.close()


@dataclass(frozen=True)
class OutputSpec:
    """One named output: its pin, its wiring polarity and the state it must have when the controller is not running."""

    pin: int
    active_high: bool = True
    safe: bool = False


class SafeOutputs(Mapping[str, DigitalOut]):
    """A set of named outputs with a declared safe state, driven at start and at stop.

    Why: after a restart or crash the hardware keeps whatever the last process left; the controller must put every
    actuator into a known safe state (pumps off, vents as declared) before it starts deciding, and again on the way
    out. ``drive_safe()`` tries every output even if one fails, then reports all failures in one line.
    """

    def __init__(self, outputs: Mapping[str, DigitalOut], safe: Mapping[str, bool]) -> None:
        missing = sorted(set(outputs) - set(safe))
        extra = sorted(set(safe) - set(outputs))
        if missing or extra:
            raise BadInput(f"safe state: undeclared outputs {missing}, unknown names {extra}")
        self._outputs = dict(outputs)
        self.safe = {name: bool(safe[name]) for name in outputs}

    @classmethod
    def open(cls, specs: Mapping[str, OutputSpec], *, factory: str | None = None) -> SafeOutputs:
        """Open every output already in its safe state; on a failure close the ones opened so far."""
        opened: dict[str, DigitalOut] = {}
        try:
            for name, spec in specs.items():
                opened[name] = open_output(spec.pin, active_high=spec.active_high, initial=spec.safe, factory=factory)
        except BaseException:
            for out in opened.values():
                with contextlib.suppress(Exception):  # keep releasing the others
                    out.close()
            raise
        return cls(opened, {name: spec.safe for name, spec in specs.items()})

    def __getitem__(self, name: str) -> DigitalOut:
        return self._outputs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)

    def drive_safe(self) -> None:
        """Drive every output to its declared safe state; raise one DeviceError listing the outputs that failed."""
        failed: list[str] = []
        for name, out in self._outputs.items():
            try:
                if self.safe[name]:
                    out.on()
                else:
                    out.off()
            except Exception as exc:
                failed.append(f"{name}: {_one_line(exc)}")
        if failed:
            raise DeviceError("could not drive to safe state: " + "; ".join(failed))

    def close(self) -> None:
        """Drive safe, then release every pin (pins are released even if driving failed)."""
        try:
            self.drive_safe()
        finally:
            for out in self._outputs.values():
                with contextlib.suppress(Exception):  # keep releasing the others
                    out.close()

    def __enter__(self) -> SafeOutputs:
        self.drive_safe()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
