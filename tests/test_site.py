"""Site files: the shipped example validates; wiring mistakes give one line naming file and field."""

from pathlib import Path

import pytest

import farmcore.twin
from farmcore.errors import ConfigError
from farmcore.site import load_site, parse_site, sensor_code
from farmcore.siterules import shared_sensors

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


# ------------------------------------------------------------------ safety gaps (issue 14 item 2)

GH2 = ZONE.replace('id = "gh1"', 'id = "gh2"').replace("slot = 1 }]\nactuators", "slot = 2 }]\nactuators")
TANK = """
[[zones]]
id = "tank1"
kind = "tank"
bus = "b"
oxygen_backup = { pin = 22 }
"""


@pytest.mark.parametrize(("text", "field", "words"), [
    # a misspelt quantity is no limit at all: the zone would run unguarded
    (BASE + ZONE + "hard_limits = { air_temprature = { min = 5, max = 32 } }\n",
     "zones[0].hard_limits.air_temprature", "allowed: air_temperature, co2"),
    (BASE + ZONE + "hard_limits = { water_temperature = { min = 5, max = 32 } }\n",
     "zones[0].hard_limits.water_temperature", "not a quantity this greenhouse zone measures"),
    # numbers are numbers, and finite
    (BASE + ZONE + "hard_limits = { air_temperature = { min = 5, max = inf } }\n",
     "zones[0].hard_limits.air_temperature.max", "finite number"),
    (BASE + ZONE + "hard_limits = { air_temperature = { min = -inf, max = 32 } }\n",
     "zones[0].hard_limits.air_temperature.min", "finite number"),
    (BASE + ZONE + 'hard_limits = { air_temperature = { min = "5", max = 32 } }\n',
     "zones[0].hard_limits.air_temperature.min", "valid number; got '5'"),
    (BASE + ZONE + "stale_after_s = nan\n", "zones[0].stale_after_s", "finite number"),
    # one relay, two controllers: gh2's heater at gh1's unit 12 slot 1
    (BASE + ZONE + GH2, "zones[1].actuators[0].slot",
     "bus 'b' unit 12 slot 1 is already driven by actuator 'heater' of zone 'gh1'"),
    (BASE + ZONE.replace('actuators = [{ id = "heater", role = "heater", unit = 12, slot = 1 }]',
                         'actuators = [{ id = "heater", role = "heater", unit = 12, slot = 1 },\n'
                         '             { id = "heater", role = "circulation_fan", unit = 12, slot = 2 }]'),
     "zones[0].actuators[1].id", "'heater' is used by another actuator of zone 'gh1'"),
    (BASE.replace('longitude = 128.6', 'longitude = 128.6\ntimezone = "Mars/Olympus"'), "site.timezone",
     "unknown time zone 'Mars/Olympus': an IANA name such as 'Asia/Seoul'"),
    (BASE.replace('longitude = 128.6', 'longitude = 128.6\ntimezone = "Asia/Seol"'), "site.timezone",
     "did you mean 'Asia/Seoul'?"),
    (BASE + '[runtime]\ngpio_factory = "nuclear"\n', "runtime.gpio_factory",
     "unknown GPIO pin factory 'nuclear'; allowed: mock, lgpio, rpigpio, native"),
    (BASE + "[runtime]\nwatchdog_pin = 22\n" + TANK, "zones[0].oxygen_backup.pin",
     "GPIO22 is already runtime.watchdog_pin"),
    (BASE + TANK + TANK.replace('"tank1"', '"tank2"'), "zones[1].oxygen_backup.pin",
     "GPIO22 is already zones[0].oxygen_backup.pin"),
    (BASE + '[weather]\nbus = "field"\nunit = 11\n', "weather.bus", "no bus 'field'; buses: b"),
    (BASE + "[weather]\nunit = 11\n", "weather.bus", "needs its `bus`; buses: b"),
    (BASE + '[weather]\nbus = "b"\nunit = 5\n', "weather.unit", "no node with unit 5 on bus 'b'"),
])
def test_safety_gaps_are_one_line_errors(text, field, words):
    with pytest.raises(ConfigError) as info:
        parse_site(text, "farm/site.toml")
    message = str(info.value)
    assert message.startswith(f"farm/site.toml: {field}: ")
    assert words in message and "\n" not in message
    assert info.value.exit_code == 2


def test_hard_limits_on_a_measured_quantity_and_known_timezones_pass():
    text = BASE.replace('longitude = 128.6', 'longitude = 128.6\ntimezone = "UTC"') + ZONE.replace(
        "sensors = [", 'sensors = [{ quantity = "current", unit = 11, slot = 3, code = 22 }, ')
    text += "hard_limits = { current = { min = 0, max = 10 }, co2 = { min = 0, max = 1500 } }\n"
    text += '[runtime]\ngpio_factory = "LGPIO"\nwatchdog_pin = 4\n'  # gpiozero takes the name in any case
    site = parse_site(text, "s.toml")
    assert set(site.zones[0].hard_limits) == {"current", "co2"}


def test_a_sensor_read_by_two_zones_is_allowed_but_named():
    site = parse_site(BASE + ZONE + GH2.replace("unit = 12, slot = 1", "unit = 12, slot = 2")
                      .replace("slot = 2 }]\nactuators", "slot = 1 }]\nactuators"), "s.toml")
    assert shared_sensors(site) == ["bus 'b' unit 11 slot 1 is read by zone 'gh1' (air_temperature) and zone 'gh2' "
                                    "(air_temperature)"]
    assert shared_sensors(load_site(EXAMPLE)) == []


def test_two_sensors_of_one_quantity_each_need_an_id_other_than_the_quantity() -> None:
    base = EXAMPLE.read_text()
    two = base.replace('    { quantity = "air_temperature", unit = 11, slot = 1 },',
                       '    { quantity = "air_temperature", unit = 11, slot = 1 },\n'
                       '    { quantity = "air_temperature", unit = 11, slot = 2 },', 1)
    assert two != base
    with pytest.raises(ConfigError, match=r"zones\[0\]\.sensors\[1\]\.id: reading 'air_temperature' is already "
                                          r"sensors\[0\].*each need an `id`"):
        parse_site(two, "site.toml")
    named = two.replace('slot = 1 },\n    { quantity = "air_temperature", unit = 11, slot = 2 },',
                        'slot = 1, id = "air_temperature_north" },\n'
                        '    { quantity = "air_temperature", unit = 11, slot = 2, id = "air_temperature_south" },', 1)
    zone = parse_site(named, "site.toml").zones[0]
    assert [s.key for s in zone.sensors][:2] == ["air_temperature_north", "air_temperature_south"]
    half = two.replace('slot = 2 },', 'slot = 2, id = "air_temperature_south" },', 1)
    with pytest.raises(ConfigError, match=r"sensors\[0\]\.id: 2 air_temperature sensors: give each an `id`"):
        parse_site(half, "site.toml")


def test_a_dead_man_lease_fits_only_a_switch_that_is_not_meant_to_stay_on() -> None:
    base = EXAMPLE.read_text()
    on = base.replace('{ id = "fan", role = "circulation_fan", unit = 12, slot = 2 },',
                      '{ id = "fan", role = "circulation_fan", unit = 12, slot = 2, dead_man = true },', 1)
    assert on != base
    with pytest.raises(ConfigError, match=r"actuators\[1\]\.dead_man: 'fan' is meant to stay on without the daemon"):
        parse_site(on, "site.toml")
    vent = base.replace('travel_s = 120, facing = 270 },', 'travel_s = 120, facing = 270, dead_man = true },', 1)
    with pytest.raises(ConfigError, match=r"dead_man: only a switch can run on a dead-man lease"):
        parse_site(vent, "site.toml")
    heater = parse_site(base, "site.toml").zones[0].actuators[0]
    assert heater.role == "heater" and heater.lease_s(10) == 30 and heater.lease_s(20) == 60


def test_a_frost_guard_curve_is_checked_and_belongs_to_greenhouses() -> None:
    base = EXAMPLE.read_text()
    bad = base.replace('name = "1동 딸기 (단동 PE)"', 'name = "1동 딸기 (단동 PE)"\n'
                       'frost_guard = { duty = [[0, 50], [-5, 80]] }', 1)
    assert bad != base
    with pytest.raises(ConfigError, match=r"zones\[0\]\.frost_guard.*ascending"):
        parse_site(bad, "site.toml")


def test_a_lease_shorter_than_two_ticks_is_refused_and_the_default_lease_yields_to_a_stay_on_state() -> None:
    base = EXAMPLE.read_text()
    short = base.replace('{ id = "heater", role = "heater", unit = 12, slot = 1 },',
                         '{ id = "heater", role = "heater", unit = 12, slot = 1, dead_man_s = 15 },', 1)
    assert short != base
    with pytest.raises(ConfigError, match=r"actuators\[0\]\.dead_man_s: 15 s is shorter than two ticks \(20 s"):
        parse_site(short, "site.toml")
    stays_on = base.replace('{ id = "heater", role = "heater", unit = 12, slot = 1 },',
                            '{ id = "heater", role = "heater", unit = 12, slot = 1, stop_state = "on" },', 1)
    heater = parse_site(stays_on, "site.toml").zones[0].actuators[0]
    assert heater.lease_s(10) is None, "a heater meant to stay on without the daemon is not leased by default"
