"""The winter example site (one water-curtain strawberry house with a hot-water loop) as the twin builds it: the
site file passes the daemon's checks, its nodes hold the new actuators and sensors, and the new roles move the
model's inputs. No sockets here; hil_tests/test_twin_winter_modbus.py drives the same site over Modbus TCP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import farmcore.twin
from farmcore.errors import ConfigError
from farmcore.site import load_site, parse_site
from farmcore.sitecheck import check_site
from farmcore.twin.greenhouse import GreenhouseInputs
from farmcore.twin.ksnode import KsNode
from farmcore.twin.runtime import Twin, set_greenhouse_inputs

WINTER = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-winter.toml"
NIGHT = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)  # 00:00 in Korea


def make_twin() -> Twin:
    return Twin(load_site(WINTER), site_file=WINTER, start=NIGHT)


def test_the_winter_site_passes_site_check() -> None:
    report = check_site(WINTER, ("greenhouse",))
    (zone,) = report.zones
    assert zone.recipe is not None and report.warnings == []
    roles = {a.role for a in report.site.zones[0].actuators}
    assert {"boiler", "mixing_valve", "water_curtain", "thermal_screen", "roof_vent", "side_vent",
            "circulation_fan"} <= roles
    assert all(a.facing is not None for a in report.site.zones[0].actuators if a.role.endswith("_vent"))


def test_its_nodes_serve_the_new_sensors_and_actuators() -> None:
    twin = make_twin()
    sensors, actuators = twin.devices["greenhouses"][11], twin.devices["greenhouses"][12]
    assert isinstance(sensors, KsNode) and isinstance(actuators, KsNode)
    for slot in (2, 3, 20):  # pipe, leaf and groundwater temperature: KS temperature sensors
        assert sensors.device_codes[slot] == 1
    assert {actuators.device_codes[s] for s in (1, 2, 3, 4)} == {102}  # boiler, curtain pump, fan, irrigation
    assert {actuators.device_codes[s] for s in range(17, 22)} == {112}  # mixing valve, screen, vents
    zone = twin.zones["gh1"]
    assert zone.model.params.name == "single-double-pe-watercurtain-1000"
    assert zone.model.inputs.groundwater_temperature == 15.0  # twin.start of the site file
    assert {s.source for s in zone.sensors} >= {"pipe_temperature", "leaf_temperature", "groundwater_temperature",
                                                "drain_pct"}


def test_roles_map_to_the_models_inputs() -> None:
    inputs = GreenhouseInputs()
    set_greenhouse_inputs(inputs, {"boiler": [1.0], "mixing_valve": [0.4], "water_curtain": [1.0, 0.0],
                                   "thermal_screen": [0.25]})
    assert (inputs.boiler, inputs.mixing_valve, inputs.water_curtain) == (1.0, 0.4, 0.5)
    assert inputs.thermal_screen == 0.75  # a screen's opening is retracted; a valve's is its share
    set_greenhouse_inputs(inputs, {})
    assert inputs.mixing_valve == 0.4  # roles absent leave inputs be


def test_the_actuators_move_the_loop_and_the_curtain() -> None:
    twin = make_twin()
    zone = twin.zones["gh1"]
    by_id = {a.id: a for a in zone.actuators}
    channels = {name: by_id[name].device._devices[by_id[name].slot]  # type: ignore[union-attr]
                for name in ("boiler", "water_curtain", "mixing_valve")}
    now = twin.clock.elapsed
    channels["boiler"].start("ON", {}, 1, now)
    channels["water_curtain"].start("ON", {}, 2, now)
    channels["mixing_valve"].start("OPEN", {}, 3, now)
    twin.advance(60)
    inputs = zone.model.inputs
    assert inputs.boiler == 1.0 and inputs.water_curtain == 1.0
    assert inputs.mixing_valve == pytest.approx(0.5, abs=0.1)  # 120 s of travel, half way
    twin.advance(3600)
    state = zone.model.state
    assert state.boiler_heat_j > 0 and state.curtain_water_l > 0
    out = zone.model.outputs()
    assert out["pipe_temperature"] > out["air_temperature"] + 10


def test_a_start_key_the_model_lacks_is_one_clear_line() -> None:
    text = WINTER.read_text(encoding="utf-8").replace("groundwater_temperature = 15.0", "groundwatr = 15.0")
    site = parse_site(text, "winter.toml")
    with pytest.raises(ConfigError, match=r"zones\.gh1\.twin\.start\.groundwatr.*groundwater_temperature"):
        Twin(site, site_file="winter.toml", start=NIGHT)


@pytest.mark.parametrize(("old", "new", "line"), [
    ('{ id = "mixing_valve", role = "mixing_valve", unit = 12, slot = 17, travel_s = 120 },',
     '{ id = "mixing_valve", role = "mixing_valve", unit = 12, slot = 5 },',
     r"actuators\[4\]\.slot: a mixing_valve needs a retractable output; slot 5 of .* is a switch"),
    ('{ id = "boiler", role = "boiler", unit = 12, slot = 1 },',
     '{ id = "boiler", role = "boiler", unit = 12, slot = 22, travel_s = 60 },',
     r"actuators\[0\]\.slot: a boiler needs a switch output; slot 22 of .* is a retractable"),
    ('    { quantity = "pipe_temperature", unit = 11, slot = 2 },\n', '',
     r"actuators\[4\]\.role: a mixing_valve is steered by the pipe temperature: the zone needs a pipe_temperature"),
])
def test_a_loop_on_the_wrong_output_or_without_its_pipe_sensor_is_refused(old: str, new: str, line: str) -> None:
    """Issue 16 review: a mixing valve on a switch slot was sent "off", and one without a pipe sensor held shut
    while the house cooled, with no alarm; `site check` passed both."""
    text = WINTER.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(ConfigError, match=line):
        parse_site(text.replace(old, new), "winter.toml")
