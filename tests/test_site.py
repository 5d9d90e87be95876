"""Site files: the shipped example validates; wiring mistakes give one line naming file and field."""

from pathlib import Path

import pytest

import farmcore.twin
from farmcore.errors import ConfigError
from farmcore.site import load_site, parse_site, sensor_code

EXAMPLE = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-demo.toml"


def test_example_site_has_three_greenhouses_and_three_tanks():
    site = load_site(EXAMPLE)
    kinds = [z.kind for z in site.zones]
    assert kinds.count("greenhouse") == 3 and kinds.count("tank") == 3
    tank = next(z for z in site.zones if z.kind == "tank")
    assert [a.role for a in tank.actuators].count("aerator") == 3
    water = next(s for s in tank.sensors if s.quantity == "water_temperature")
    assert sensor_code(water) == 1  # read by a KS temperature sensor


BASE = """
[site]
id = "t"
latitude = 36.0
longitude = 128.6
[[buses]]
id = "b"
url = "tcp://127.0.0.1:5020"
[[nodes]]
bus = "b"
unit = 11
profile = "ksx3267:2022/sensor-default"
[[nodes]]
bus = "b"
unit = 12
profile = "ksx3267:2022/actuator-default"
"""
ZONE = """
[[zones]]
id = "gh1"
kind = "greenhouse"
bus = "b"
sensors = [{ quantity = "air_temperature", unit = 11, slot = 1 }]
actuators = [{ id = "heater", role = "heater", unit = 12, slot = 1 }]
"""


def test_failsafe_start_and_stop_states_default_by_role():
    site = load_site(EXAMPLE)
    tank = next(z for z in site.zones if z.kind == "tank")
    states = {a.role: a.states() for a in tank.actuators}
    assert states["aerator"] == ("on", "on", "on")  # fish need oxygen whatever fails
    assert states["heater"] == ("off", "off", "off")
    greenhouse = site.zones[0]
    vent = next(a for a in greenhouse.actuators if a.role == "side_vent")
    assert vent.states() == ("hold", "hold", "hold")
    assert greenhouse.stale_after_s == 30.0


def test_explicit_states_and_hard_limits():
    text = BASE + ZONE.replace('role = "heater", unit = 12, slot = 1 }',
                               'role = "heater", unit = 12, slot = 1, failsafe = "off", start_state = "on" }')
    text += "hard_limits = { air_temperature = { min = 5, max = 35 } }\n"
    zone = parse_site(text, "s.toml").zones[0]
    assert zone.actuators[0].states() == ("off", "on", "off")
    assert zone.hard_limits["air_temperature"].max == 35


def test_minimal_site_parses():
    site = parse_site(BASE + ZONE, "s.toml")
    assert site.zones[0].actuators[0].role == "heater"


@pytest.mark.parametrize(("text", "field", "words"), [
    (BASE + ZONE.replace('bus = "b"\nsensors', 'bus = "x"\nsensors'), "zones[0].bus", "no bus 'x'"),
    (BASE + ZONE.replace('role = "heater"', 'role = "aerator"'), "zones[0].actuators[0].role", "not a greenhouse"),
    (BASE + ZONE.replace("unit = 12, slot = 1", "unit = 12, slot = 30"), "zones[0].actuators[0].slot",
     "not an actuator"),
    (BASE + ZONE.replace("unit = 11, slot = 1", "unit = 13, slot = 1"), "zones[0].sensors[0].unit", "no node"),
    (BASE + ZONE.replace('quantity = "air_temperature"', 'quantity = "leaf_colour"'), "zones[0].sensors[0].code",
     "give `code`"),
    (BASE + ZONE.replace('kind = "greenhouse"', 'kind = "barn"'), "zones[0].kind", "greenhouse"),
    (BASE.replace('profile = "ksx3267:2022/sensor-default"', 'profile = "nope"'), "nodes[0].profile",
     "unknown profile"),
    (BASE.replace("unit = 12", "unit = 11"), "nodes[1].unit", "already used"),
    (BASE.replace('url = "tcp://127.0.0.1:5020"', 'url = "udp://x"'), "buses[0].url", "udp"),
    (BASE + "[weather]\nsorce = 'synthetic'\n", "weather.sorce", "unknown field"),
    (BASE.replace("latitude = 36.0", "latitude = 136.0"), "site.latitude", "90"),
    (BASE + ZONE.replace('unit = 12, slot = 1 }', 'unit = 12, slot = 1, failsafe = "open" }'),
     "zones[0].actuators[0].failsafe", "not a switch state"),
    (BASE + ZONE + "hard_limits = { air_temperature = { min = 35, max = 5 } }\n",
     "zones[0].hard_limits.air_temperature", "must be below"),
])
def test_wiring_mistakes_name_file_and_field(text, field, words):
    with pytest.raises(ConfigError) as info:
        parse_site(text, "farm/site.toml")
    message = str(info.value)
    assert message.startswith(f"farm/site.toml: {field}: ")
    assert words in message and "\n" not in message
