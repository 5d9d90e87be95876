"""The zone drawing (portal/service/drawing.py): well-formed SVG whatever the broker sent, vents and screens at
their opening, a bad reading shown as bad, hostile text escaped, nothing dropped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from farmcore.link.payloads import ActuatorEntry, ReadingEntry, RecipeRef, StateMessage
from portal.service.drawing import zone_svg

NS = {"s": "http://www.w3.org/2000/svg"}


def house(side: float = 30.0, roof: float = 30.0, **extra: ActuatorEntry) -> StateMessage:
    a = ActuatorEntry
    actuators = {
        "heater": a(role="heater", kind="switch", target=True, source="recipe", reason="below the band"),
        "fan": a(role="circulation_fan", kind="switch", target=False),
        "lamps": a(role="lamps", kind="switch", target=True),
        "side_vent_left": a(role="side_vent", kind="retractable", target=side, position=side),
        "side_vent_right": a(role="side_vent", kind="retractable", target=side, position=side),
        "roof_vent": a(role="roof_vent", kind="retractable", target=roof, position=roof),
        "thermal_screen": a(role="thermal_screen", kind="retractable", target=70.0, position=70.0),
        "irrigation": a(role="irrigation_pump", kind="switch", target=False),
        "co2_valve": a(role="co2_valve", kind="switch", target=None),
        **extra,
    }
    return StateMessage(
        time="2026-01-15T04:05:00Z", site="gb", zone="gh1", kind="greenhouse", mode="auto",
        recipe=RecipeRef(id="tomato", version=3, stage="vegetative", period="tomato@3 vegetative/day"),
        readings={"air_temperature": ReadingEntry(value=23.44, unit="degC", quality="good"),
                  "relative_humidity": ReadingEntry(value=78.0, unit="%RH", quality="good"),
                  "co2": ReadingEntry(value=612.0, unit="ppm", quality="comm_error"),
                  "soil_moisture": ReadingEntry(value=41.0, unit="%", quality="good")},
        weather={"air_temperature": -3.2}, setpoints={}, actuators=actuators, overrides={}, alarms=0)


def tank(aerating: bool = True) -> StateMessage:
    a = ActuatorEntry
    return StateMessage(
        time="2026-01-15T04:05:00Z", site="gb", zone="tank1", kind="tank", mode="auto", recipe=None,
        readings={"water_temperature": ReadingEntry(value=18.2, unit="degC", quality="good"),
                  "dissolved_oxygen": ReadingEntry(value=6.4, unit="mg/L", quality="good")},
        weather={}, setpoints={}, overrides={}, alarms=0,
        actuators={"aerator_1": a(role="aerator", kind="switch", target=aerating),
                   "feeder": a(role="feeder", kind="switch", target=True, source="override"),
                   "o2_valve": a(role="o2_valve", kind="switch", target=False, source="safety")})


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def device(root: ET.Element, act_id: str) -> ET.Element:
    found = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-actuator") == act_id]
    assert len(found) == 1, f"{act_id}: {len(found)} groups"
    return found[0]


def reading(root: ET.Element, name: str) -> ET.Element:
    found = [n for n in root.iter("{http://www.w3.org/2000/svg}text") if n.get("data-reading") == name]
    assert len(found) == 1, f"{name}: {len(found)} texts"
    return found[0]


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("state", [house(), tank()], ids=["greenhouse", "tank"])
def test_the_drawing_is_well_formed_svg_that_fits_a_phone(state: StateMessage, lang: str) -> None:
    root = parse(zone_svg(state, lang))
    assert root.get("viewBox") == "0 0 360 300" and root.get("width") == "100%"
    assert root.find("s:title", NS) is not None


def test_a_vent_at_30_percent_is_drawn_otherwise_than_at_80() -> None:
    low, high = parse(zone_svg(house(side=30, roof=30))), parse(zone_svg(house(side=80, roof=80)))
    for act_id in ("side_vent_left", "roof_vent"):
        assert device(low, act_id).get("data-open") == "30" and device(high, act_id).get("data-open") == "80"
    film = {name: float(device(r, "side_vent_left").find("s:rect[@class='film']", NS).get("height"))
            for name, r in (("low", low), ("high", high))}
    gap = {name: float(device(r, "side_vent_left").find("s:rect[@class='opening']", NS).get("height"))
           for name, r in (("low", low), ("high", high))}
    assert film["low"] > film["high"] and gap["high"] > gap["low"]
    assert gap["high"] / gap["low"] == pytest.approx(80 / 30, rel=0.01)
    flap = {name: device(r, "roof_vent").find("s:line[@class='flap']", NS).get("y2") for name, r in
            (("low", low), ("high", high))}
    assert float(flap["high"]) < float(flap["low"])  # lifted higher (y grows downwards)
    assert "측창 30%" in ET.tostring(device(low, "side_vent_left"), encoding="unicode")


def test_a_closed_vent_has_no_opening_and_the_estimated_position_wins_over_the_target() -> None:
    moving = ActuatorEntry(role="side_vent", kind="retractable", target=100.0, position=10.0)
    root = parse(zone_svg(house(side=0, side_vent_left=moving)))
    assert device(root, "side_vent_left").get("data-open") == "10"
    assert device(root, "side_vent_right").find("s:rect[@class='opening']", NS) is None


def test_a_bad_reading_is_shown_as_bad_not_as_its_last_value() -> None:
    root = parse(zone_svg(house(), "ko"))
    co2 = reading(root, "co2")
    assert co2.get("class") == "reading bad" and "통신 오류" in co2.text and "612" not in co2.text
    temp = reading(root, "air_temperature")
    assert temp.get("class") == "reading good" and temp.text == "온도 23.4 °C"
    assert "no answer" in reading(parse(zone_svg(house(), "en")), "co2").text


def test_switches_show_on_off_and_unknown_and_who_holds_them() -> None:
    root = parse(zone_svg(house()))
    assert "on" in device(root, "heater").get("class").split()
    assert "off" in device(root, "fan").get("class").split()
    assert "unknown" in device(root, "co2_valve").get("class").split()
    assert device(root, "lamps").find("s:path[@class='glow']", NS) is not None
    water = parse(zone_svg(tank(aerating=True)))
    dry = parse(zone_svg(tank(aerating=False)))
    assert device(water, "aerator_1").findall("s:circle[@class='bubble']", NS)
    assert not device(dry, "aerator_1").findall("s:circle[@class='bubble']", NS)
    assert device(water, "feeder").findall("s:circle[@class='feed']", NS)
    text = ET.tostring(device(water, "o2_valve"), encoding="unicode")
    assert "(안전)" in text and device(water, "o2_valve").get("data-source") == "safety"


def test_an_actuator_of_a_role_the_picture_does_not_know_is_listed_not_dropped() -> None:
    odd = ActuatorEntry(role="misting", kind="switch", target=True)
    root = parse(zone_svg(house(mist=odd)))
    assert "misting" in ET.tostring(device(root, "mist"), encoding="unicode")


def test_hostile_text_from_the_broker_is_escaped_and_stays_well_formed() -> None:
    evil = '<script>alert(1)</script>"&\'\x00\x1b\ud800'
    state = house(**{evil: ActuatorEntry(role=evil, kind="switch", target=True, reason=evil)})
    state.readings[evil] = ReadingEntry(value=1.0, unit=evil, quality=evil)
    svg = zone_svg(state, "ko", name=evil)
    assert "<script" not in svg and "\x00" not in svg
    root = parse(svg)
    titles = "".join(root.find("s:title", NS).itertext())
    assert titles.startswith("<script>alert(1)")  # shown as text, not markup
    assert any(g.get("data-actuator", "").startswith("<script>") for g in root.iter("{http://www.w3.org/2000/svg}g"))


@pytest.mark.parametrize("role", ["thermal_screen", "shade_screen"])
def test_a_screen_is_drawn_across_when_closed_and_pulled_back_when_open(role: str) -> None:
    """A screen's opening is how far it is pulled back (README: a closed thermal screen is 열림 0 %): at 0 % the
    cloth covers the whole span, at 100 % none of it, at 30 % seven tenths."""
    def cloth(pct: float) -> float:
        entry = ActuatorEntry(role=role, kind="retractable", target=pct, position=pct)
        root = parse(zone_svg(house(**{role: entry})))
        return float(device(root, role).find("s:rect[@class='cloth']", NS).get("width"))

    closed, open_, partly = cloth(0.0), cloth(100.0), cloth(30.0)
    assert closed > 200 and open_ == 0.0
    assert partly == pytest.approx(closed * 0.7, rel=0.01)
