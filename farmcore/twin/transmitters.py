"""The twin's simulated transmitters: a sensor mapped onto a simulated node, its measurement noise and its faults.

Apart from the site runtime (farmcore/twin/runtime.py, which binds them) so that each module stays small.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from farmcore.twin.ksnode import KsNode
from farmcore.twin.registers import RegisterDevice
from farmcore.twin.vendor import VendorDevice

NEED_CALIBRATION = 102  # KS X 3267 Annex B.2 sensor status
# Measurement noise (standard deviation) of the simulated transmitters, so that a healthy sensor of the twin
# moves like a real one (the stuck-sensor watch sees a frozen one by the same rule) [assumption: typical
# datasheet noise of Pt100/SHT temperature and humidity, NDIR CO2 and optical DO transmitters].
NOISE_SD = {"air_temperature": 0.05, "relative_humidity": 0.3, "co2": 3.0, "water_temperature": 0.03,
            "dissolved_oxygen": 0.03, "soil_moisture": 0.1, "ec": 0.01, "ph": 0.01,
            "pipe_temperature": 0.05, "groundwater_temperature": 0.03,
            "leaf_temperature": 0.1}  # an infrared leaf sensor is noisier than a Pt100 [assumption]


@dataclass
class SensorFault:
    kind: str  # stuck | drift | need_calibration
    since: float  # simulated seconds
    value: float | None = None  # stuck: the frozen value; drift: units per hour


@dataclass
class Sensor:
    """One mapped sensor: where it lives and where its value comes from."""

    device: RegisterDevice
    slot: int
    source: str
    point_id: str | None = None  # vendor devices address points by id
    fault: SensorFault | None = None
    noise: random.Random | None = None  # seeded per sensor: reproducible runs

    def publish(self, value: float, now: float) -> None:
        status = 0
        fault = self.fault
        sd = NOISE_SD.get(self.source, 0.0)
        if self.noise is not None and sd and value:  # a real transmitter is never exactly still (0 stays 0)
            value += self.noise.gauss(0.0, sd)
        if fault is not None:
            if fault.kind == "stuck":
                if fault.value is None:
                    fault.value = value
                value = fault.value
            elif fault.kind == "drift":
                value += (fault.value or 0.0) * (now - fault.since) / 3600
            elif fault.kind == "need_calibration":
                status = NEED_CALIBRATION
        if isinstance(self.device, KsNode):
            self.device.set_sensor(self.slot, value, status)
        elif isinstance(self.device, VendorDevice) and self.point_id is not None:
            self.device.set_point(self.point_id, value)
