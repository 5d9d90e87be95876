"""The zone drawing (portal/service/drawing.py): well-formed SVG whatever the broker sent, vents and screens at
their opening, a bad reading shown as bad, hostile text escaped, nothing dropped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from farmcore.link.payloads import ActuatorEntry, ReadingEntry, RecipeRef, StateMessage
from portal.service.drawing import zone_svg
from portal.service.svgkit import STEP, Box

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


def words(root: ET.Element, act_id: str) -> str:
    """Everything written for an actuator: its group's text and its group in the labels' layer (drawn last)."""
    groups = [g for g in root.iter("{http://www.w3.org/2000/svg}g")
              if act_id in (g.get("data-actuator"), g.get("data-for"))]
    return " ".join(" ".join(t.strip() for t in g.itertext() if t.strip()) for g in groups)


def reading(root: ET.Element, name: str) -> ET.Element:
    found = [n for n in root.iter("{http://www.w3.org/2000/svg}text") if n.get("data-reading") == name]
    assert len(found) == 1, f"{name}: {len(found)} texts"
    return found[0]


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("state", [house(), tank()], ids=["greenhouse", "tank"])
def test_the_drawing_is_well_formed_svg_that_fits_a_phone(state: StateMessage, lang: str) -> None:
    root = parse(zone_svg(state, lang))
    x, y, width, height = (float(v) for v in root.get("viewBox").split())
    assert (x, y, width) == (0, 0, 360) and 250 <= height <= 400 and root.get("width") == "100%"
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
    assert "측창 30%" in words(low, "side_vent_left")


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
    assert "(안전)" in words(water, "o2_valve") and device(water, "o2_valve").get("data-source") == "safety"


def test_an_actuator_of_a_role_the_picture_does_not_know_is_listed_not_dropped() -> None:
    odd = ActuatorEntry(role="misting", kind="switch", target=True)
    root = parse(zone_svg(house(mist=odd)))
    assert "misting" in words(root, "mist")


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


def winter_house() -> StateMessage:
    """Every greenhouse role at once (a hot-water loop, a water curtain, two heaters, both screens held by a
    person or safety) and every reading the picture places."""
    a = ActuatorEntry
    state = house(
        boiler=a(role="boiler", kind="switch", target=True), heater_2=a(role="heater", kind="switch", target=False),
        mixing_valve=a(role="mixing_valve", kind="retractable", target=45.0, position=45.0),
        water_curtain=a(role="water_curtain", kind="switch", target=True),
        roof_vent_2=a(role="roof_vent", kind="retractable", target=15.0, position=15.0, source="override"),
        shade_screen=a(role="shade_screen", kind="retractable", target=100.0, position=100.0, source="safety"),
        fertigation=a(role="fertigation", kind="nutrient", target=True))
    for name, value, unit in (("pipe_temperature", 48.2, "degC"), ("leaf_temperature", 15.1, "degC"),
                              ("solar_radiation", 412.0, "W/m2"), ("par", 820.0, "umol/m2/s"),
                              ("vpd", 0.65, "kPa"), ("ec", 1.82, "dS/m"), ("ph", 6.1, "pH")):
        state.readings[name] = ReadingEntry(value=value, unit=unit, quality="good")
    return state


def busy_tank() -> StateMessage:
    state = tank()
    a = ActuatorEntry
    state.actuators.update({"aerator_2": a(role="aerator", kind="switch", target=True),
                            "aerator_3": a(role="aerator", kind="switch", target=False),
                            "heater": a(role="heater", kind="switch", target=True),
                            "chiller": a(role="chiller", kind="switch", target=False),
                            "exchange_pump": a(role="exchange_pump", kind="switch", target=True)})
    for i in (1, 2, 3):
        state.readings[f"aerator_{i}_current"] = ReadingEntry(value=4.0, unit="A", quality="good")
    state.readings["ph"] = ReadingEntry(value=7.6, unit="pH", quality="good")
    return state


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("state", [house(), winter_house(), tank(), busy_tank()],
                         ids=["greenhouse", "winter", "tank", "busy-tank"])
def test_labels_are_big_enough_for_a_phone_and_none_overlaps(state: StateMessage, lang: str) -> None:
    """At 8-9 units a 390-px phone drew the labels 7-8 px high. Now every label is at least 11 units (the
    picture is 360 units drawn about 358 px wide), none meets another (each measured as the kit measures it),
    all stay on the canvas, and every actuator and reading is still written somewhere."""
    root = parse(zone_svg(state, lang))
    height = float(root.get("viewBox").split()[3])
    boxes = []
    for node in root.iter("{http://www.w3.org/2000/svg}text"):
        size = float(node.get("font-size"))
        assert size >= 11, f"{''.join(node.itertext())!r} at {size}"
        x, y, anchor = float(node.get("x")), float(node.get("y")), node.get("text-anchor")
        lines = [node.text] if node.text else [t.text for t in node]
        boxes += [(Box.around(x, y + STEP * i, line, size, anchor), line) for i, line in enumerate(lines)]
    for i, (box, line) in enumerate(boxes):
        assert box.x0 >= -1 and box.x1 <= 361 and box.y0 >= -1 and box.y1 <= height + 1, line
        assert not [other for b, other in boxes[i + 1:] if box.meets(b)], line
    for act_id in state.actuators:
        assert words(root, act_id), act_id
    written = {n.get("data-reading") for n in root.iter("{http://www.w3.org/2000/svg}text")}
    assert set(state.readings) <= written, set(state.readings) - written


def test_a_reading_of_an_actuator_is_named_in_the_picture() -> None:
    root = parse(zone_svg(busy_tank(), "ko"))
    assert reading(root, "aerator_2_current").text == "폭기기 2 전류 4.0 A"
