"""Is a reading a measurement at all? Values a device reports while it is not measuring, and sensors stuck.

Two ways a plausible number is not data, neither of which a range check can see:

- A KS X 3288 nutrient node reports the EC and pH of its line also while its supply device is idle: then
  the probes sit in a drained or standing line and read 0.0 or whatever is left. Its readings are only
  measurements while the machine runs (PREPARING, SUPPLYING, STOPPING); otherwise they are `idle`.
- A sensor can freeze at a plausible value (a hung transmitter, a probe out of the water, a frozen
  register). A value that has not moved by more than the sensor's resolution for longer than the quantity's
  plausible flat time (what real houses show, see FLATNESS) is reported stuck: an alarm; the value is still
  used, since a well-controlled night can be flat too, and a second sensor is what takes over.

Pure: values and clock seconds in, verdicts out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from farmcore.fieldbus.node import Reading

# KS X 3288 nutrient-supply status codes while the machine runs (reference ksx3267.md, status codes:
# 401 PREPARING, 402 SUPPLYING, 403 STOPPING); READY (0) and anything else: its line is not being measured.
MACHINE_RUNNING = frozenset({401, 402, 403})


def node_measuring(readings: Iterable[Reading]) -> bool:
    """False when the node has a nutrient-supply device and it is not running (its sensors are idle)."""
    supply = [r for r in readings if r.kind == "nutrient"]
    if not supply:
        return True
    return any(r.status in MACHINE_RUNNING for r in supply if r.quality == "good")


@dataclass(frozen=True)
class Flatness:
    """How still a quantity may plausibly stay: its resolution, the longest flat stretch, and values at
    which being flat is normal (darkness for radiation, saturation for humidity)."""

    resolution: float
    flat_s: float
    normal_below: float | None = None  # at or below this, flat is normal (0 W/m2 at night)
    normal_above: float | None = None  # at or above this, flat is normal (100 %RH in fog)


# Flat times from real data: the longest stretch within one resolution step in the seven AGC-2022 lettuce
# compartment-seasons (benchmarks/sensor_flatness.py: air temperature 4.7 h within 0.1 K under a climate
# computer's night control, relative humidity 8.6 h within 0.5 %RH below 99 %, CO2 2.3 h within 2 ppm), with
# about a quarter more, so a healthy sensor of such a house never alarms. PAR and radiation are not watched by
# default: lamps hold them flat for a whole night (15.8 h in that data). The rest [engineering choice]: water and
# substrate are slow (a tank fed by ground water at a constant temperature can rest for half a day), a nutrient
# line is measured only during supplies, DO moves with the fishes' breathing and feeding.
FLATNESS: dict[str, Flatness] = {
    "air_temperature": Flatness(0.1, 6 * 3600.0),
    "relative_humidity": Flatness(0.5, 12 * 3600.0, normal_above=99.0),
    "co2": Flatness(2.0, 3 * 3600.0),
    "soil_temperature": Flatness(0.1, 12 * 3600.0),
    "soil_moisture": Flatness(0.2, 12 * 3600.0),
    "water_temperature": Flatness(0.05, 12 * 3600.0),
    "dissolved_oxygen": Flatness(0.02, 2 * 3600.0),
    "ec": Flatness(0.01, 24 * 3600.0),
    "ph": Flatness(0.01, 24 * 3600.0),
}


def flatness_for(quantity: str, resolution: float | None, stuck_after_s: float | None) -> Flatness | None:
    """The site's settings over the defaults; None when the quantity is not watched (or `stuck_after_s = 0`)."""
    base = FLATNESS.get(quantity)
    if stuck_after_s == 0 or (base is None and stuck_after_s is None):
        return None
    if base is None:
        base = Flatness(resolution or 0.0, stuck_after_s or 0.0)
    return Flatness(resolution if resolution is not None else base.resolution,
                    stuck_after_s if stuck_after_s is not None else base.flat_s, base.normal_below, base.normal_above)


@dataclass
class StuckWatch:
    """Watches the fresh good samples of one sensor: `stuck` once they stayed within one resolution step of a
    reference value for longer than the flat time (and clears as soon as the value moves)."""

    flatness: Flatness
    ref: float | None = None
    since: float | None = None  # when the value came to `ref`

    def sample(self, value: float, now_s: float) -> None:
        f = self.flatness
        normal = (f.normal_below is not None and value <= f.normal_below) or (
            f.normal_above is not None and value >= f.normal_above)
        if normal or self.ref is None or abs(value - self.ref) > f.resolution:
            self.ref, self.since = (None, None) if normal else (value, now_s)

    def stuck_for(self, now_s: float) -> float | None:
        """Seconds the value has been flat beyond the plausible time, else None."""
        if self.since is None or now_s - self.since <= self.flatness.flat_s:
            return None
        return now_s - self.since

    def state(self) -> dict[str, float | None]:
        return {"ref": self.ref, "since": self.since}

    def restore(self, state: dict[str, float | None]) -> None:
        self.ref, self.since = state.get("ref"), state.get("since")
