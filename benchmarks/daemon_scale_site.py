"""A generated site of N tomato greenhouse zones for benchmarks/daemon_scale.py.

Each zone has a KS X 3267 default-map sensor node (air temperature, RH, radiation, CO2, soil moisture)
and actuator node (heater, fan, CO2 valve, irrigation pump, two side vents, thermal screen); the zones
are spread over several Modbus TCP buses (`zones_per_bus` zones each; a real site has several RS485
lines or gateways, and a bus holds at most 247 units). A weather station sits on the first bus.
"""

from __future__ import annotations

from datetime import date, timedelta

SENSORS = (("air_temperature", 1), ("relative_humidity", 4), ("solar_radiation", 9), ("co2", 13),
           ("soil_moisture", 16))
ACTUATORS = (
    'id = "heater", role = "heater", slot = 1',
    'id = "fan", role = "circulation_fan", slot = 2',
    'id = "co2_valve", role = "co2_valve", slot = 3',
    'id = "irrigation", role = "irrigation_pump", slot = 4',
    'id = "side_vent_left", role = "side_vent", slot = 17, travel_s = 120, facing = 270',
    'id = "side_vent_right", role = "side_vent", slot = 18, travel_s = 120, facing = 90',
    'id = "thermal_screen", role = "thermal_screen", slot = 19, travel_s = 180',
)
WEATHER = ("air_temperature = 1, relative_humidity = 4, rain_detected = 6, solar_radiation = 9, "
           "wind_speed = 10, wind_direction = 11")


def bus_count(zones: int, zones_per_bus: int) -> int:
    return max(1, -(-zones // zones_per_bus))


def site_toml(zones: int, ports: list[int], *, zones_per_bus: int = 40, tick_s: float = 1.0,
              host: str = "127.0.0.1") -> str:
    """The site file text; `ports` has one TCP port per bus (see `bus_count`)."""
    if not 1 <= zones_per_bus <= 123:
        raise ValueError("zones_per_bus must be 1-123 (two units per zone, unit 1 is the weather station)")
    if len(ports) != bus_count(zones, zones_per_bus):
        raise ValueError("one port per bus")
    planted = (date.today() - timedelta(days=60)).isoformat()
    out = [
        "[site]", 'id = "daemon-scale"', "latitude = 36.35", "longitude = 128.70", 'timezone = "Asia/Seoul"', "",
        "[runtime]", f"tick_s = {tick_s:g}", "",
    ]
    for b, port in enumerate(ports):
        out += ["[[buses]]", f'id = "line{b + 1}"', f'url = "tcp://{host}:{port}?line=ethernet"', ""]
    out += ["[weather]", 'source = "synthetic:2026"', 'bus = "line1"', "unit = 1",
            f"sensors = {{ {WEATHER} }}", "",
            "[[nodes]]", 'bus = "line1"', "unit = 1", 'profile = "ksx3267:2022/sensor-default"', ""]
    zone_blocks = []
    for z in range(zones):
        bus = f"line{z // zones_per_bus + 1}"
        sensor_unit = 2 + 2 * (z % zones_per_bus)
        actuator_unit = sensor_unit + 1
        out += ["[[nodes]]", f'bus = "{bus}"', f"unit = {sensor_unit}", 'profile = "ksx3267:2022/sensor-default"',
                "", "[[nodes]]", f'bus = "{bus}"', f"unit = {actuator_unit}",
                'profile = "ksx3267:2022/actuator-default"', ""]
        sensors = ",\n".join(f'    {{ quantity = "{q}", unit = {sensor_unit}, slot = {s} }}' for q, s in SENSORS)
        actuators = ",\n".join(f"    {{ {a}, unit = {actuator_unit} }}" for a in ACTUATORS)
        zone_blocks += [
            "[[zones]]", f'id = "gh{z + 1:03d}"', 'kind = "greenhouse"', 'recipe = "crops/tomato"',
            f"planted = {planted}",
            "hard_limits = { air_temperature = { min = 5, max = 32 }, co2 = { min = 0, max = 1500 } }",
            f'bus = "{bus}"', 'twin = { model = "single-pe-1000" }',
            f"sensors = [\n{sensors},\n]", f"actuators = [\n{actuators},\n]", "",
        ]
    return "\n".join(out + zone_blocks)
