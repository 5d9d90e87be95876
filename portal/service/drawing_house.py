"""A greenhouse in cross-section: an arched film house (the common Korean 비닐하우스 shape) with its vents and
screens drawn at their opening, the heating, lamps, fans, irrigation and CO2 coloured when they run, and each
reading where its sensor hangs: the air box at crop height in the middle, light above the ridge, the pipe's
temperature on the pipe. Each label has a few spots (svgkit.Canvas.label): the first free one is taken, and a
label with none, or a role the picture has no place for, is listed under it, never dropped.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from farmcore.link.payloads import ActuatorEntry, StateMessage
from portal.service.drawing_parts import (
    Line,
    label_device,
    outside,
    place_readings,
    rest_list,
    rest_readings,
    undrawn,
)
from portal.service.naming import actuator_names
from portal.service.svgkit import (
    INK,
    MUTED,
    OFF,
    ON_AIR,
    ON_HEAT,
    ON_LIGHT,
    ON_WATER,
    Canvas,
    Spot,
    W,
    is_on,
    opening,
)

X0, X1, EAVE, RIDGE, GROUND = 56.0, 304.0, 152.0, 84.0, 262.0
MID = (X0 + X1) / 2
SIDE_TOP, SIDE_BOTTOM = 170.0, 224.0  # the roll-up band of a side wall (rolled up from the bottom)
FLAP = 34.0  # a roof vent's length along the roof
FLAP_MAX_DEG = 50.0  # drawn angle of a fully open roof vent
BOX_Y = 174.0  # top of the air sensors' box, hung from the ridge at crop height

AIR = ("air_temperature", "relative_humidity", "co2", "vpd", "humidity_deficit", "dew_point")
LIGHT = ("solar_radiation", "par")
ROOT = ("soil_moisture", "soil_temperature", "ec", "ph", "drain_pct")


def roof_y(x: float) -> float:
    """The arch's height at x (the quadratic of the roof path below)."""
    u = (x - X0) / (X1 - X0)
    return EAVE - 4 * (EAVE - RIDGE) * u * (1 - u)


def colour(entry: ActuatorEntry, on_colour: str) -> str:
    return on_colour if is_on(entry) else OFF


def shell(c: Canvas) -> None:
    """Sky, ground, film and plants: the house a farmer knows."""
    c.el("rect", x=0.0, y=0.0, width=float(W), height=GROUND, fill="#f1f8ff")
    c.el("rect", x=0.0, y=GROUND, width=float(W), height=16.0, fill="#d9c3a5")
    control = 2 * RIDGE - EAVE
    c.el("path", d=f"M{X0:g},{GROUND:g} L{X0:g},{EAVE:g} Q{MID:g},{control:g} {X1:g},{EAVE:g} L{X1:g},{GROUND:g}",
         fill="#ffffff", fill_opacity=0.55, stroke="#495057", stroke_width=2.0)
    for x in (125, 160, 195, 230):
        c.el("line", x1=float(x), y1=GROUND, x2=float(x), y2=GROUND - 26, stroke="#2b8a3e", stroke_width=2.0)
        for dy, dx in ((-8, -7), (-15, 7), (-22, -6)):
            c.el("ellipse", cx=float(x + dx), cy=GROUND + dy, rx=6.0, ry=3.0, fill="#40c057")


def side_vent(c: Canvas, act_id: str, entry: ActuatorEntry, index: int, name: str, rest: list[Line]) -> None:
    """The film rolled up from the bottom of the wall: the open band is the gap under the roll."""
    g = c.device(act_id, entry)
    left = index % 2 == 0
    x = X0 if left else X1
    top = SIDE_TOP + 26 * (index // 2)
    band = SIDE_BOTTOM - SIDE_TOP
    pct = opening(entry)
    film_bottom = top + band * (1 - (pct or 0) / 100)
    if pct:
        c.el("rect", g, x=x - 3, y=film_bottom, width=6.0, height=top + band - film_bottom, fill="#a5d8ff",
             cls="opening")
        arrow = 12 if left else -12
        mid = (film_bottom + top + band) / 2
        head = arrow / 3  # the arrow's head points into the house: air comes in through the gap
        c.el("path", g, d=f"M{x:g},{mid:g} L{x + arrow:g},{mid:g} m{-head:g},-3 l{head:g},3 l{-head:g},3",
             stroke=ON_WATER, stroke_width=1.5, fill="none", cls="airflow")
    c.el("rect", g, x=x - 3, y=top, width=6.0, height=film_bottom - top, fill="#dee2e6", stroke="#495057",
         stroke_width=0.5, cls="film")
    c.el("circle", g, cx=x, cy=film_bottom, r=3.5, fill="#495057", cls="roll")
    edge, anchor, middle = (2.0, "start", X0 / 2) if left else (W - 2.0, "end", (X1 + W) / 2)
    label_device(c, g, act_id, entry, [Spot(edge, top - 6, anchor), Spot(middle, top - 6, "middle", 2),
                                       Spot(middle, top - 6, "middle", 3), Spot(middle, top + 40, "middle", 3)],
                 name, rest, pct=True)


def roof_vent(c: Canvas, act_id: str, entry: ActuatorEntry, index: int, name: str, rest: list[Line]) -> None:
    """A flap hinged at the ridge whose lower edge lifts with the opening."""
    g = c.device(act_id, entry)
    left = index % 2 == 0
    sign = -1 if left else 1
    end_x = MID + sign * FLAP
    closed = math.atan2(roof_y(end_x) - RIDGE, end_x - MID)
    lift = math.radians(FLAP_MAX_DEG * (opening(entry) or 0) / 100)
    angle = closed + lift if left else closed - lift
    tip = (MID + FLAP * math.cos(angle), RIDGE + FLAP * math.sin(angle))
    if opening(entry):
        c.el("line", g, x1=MID, y1=RIDGE, x2=end_x, y2=roof_y(end_x), stroke="#a5d8ff", stroke_width=3.0,
             cls="opening")
    c.el("line", g, x1=MID, y1=RIDGE, x2=tip[0], y2=tip[1], stroke="#495057", stroke_width=3.0, cls="flap")
    x, anchor = (MID + sign * 40, "end" if left else "start")
    y = RIDGE - 14 - 15 * (index // 2)
    label_device(c, g, act_id, entry, [Spot(x, y, anchor), Spot(x + sign * 30, y + 15, anchor)], name, rest,
                 pct=True)


def screen(c: Canvas, act_id: str, entry: ActuatorEntry, name: str, rest: list[Line], *, thermal: bool) -> None:
    """A curtain drawn from the left wall over the crop. Its opening is how far it is pulled back (a closed
    thermal screen is 열림 0 %, README), so the cloth covers 100 - opening % of the span; unknown: none drawn."""
    g = c.device(act_id, entry)
    y = EAVE - 3 if thermal else EAVE - 13
    span = (X0 + 4, X1 - 4) if thermal else (X0 + 18, X1 - 18)
    pct = opening(entry)
    covered = 0.0 if pct is None else (100 - pct) / 100
    c.el("line", g, x1=span[0], y1=y, x2=span[1], y2=y, stroke=MUTED, stroke_width=0.8, stroke_dasharray="3 3")
    c.el("rect", g, x=span[0], y=y - 2, width=(span[1] - span[0]) * covered, height=4.0,
         fill="#7950f2" if thermal else "#5c940d", fill_opacity=0.8, cls="cloth")
    spots = [Spot(X0 + 8, EAVE + 15 + 15 * k, "start", lines) for k in range(4) for lines in (1, 2)]
    label_device(c, g, act_id, entry, spots[0 if thermal else 2:], name, rest, pct=True, screen=True)


def shape(c: Canvas, g: ET.Element, entry: ActuatorEntry, x: float, y: float, kind: str) -> None:
    """A device that runs or not, at (x, y), coloured when on."""
    if kind == "heat":
        c.el("rect", g, x=x - 11, y=y - 10, width=22.0, height=20.0, rx=3.0, fill=colour(entry, ON_HEAT))
        c.el("path", g, d=f"M{x - 4:g},{y + 6:g} Q{x:g},{y - 12:g} {x + 4:g},{y + 6:g}", fill="#fff3bf")
    elif kind == "lamp":
        c.el("rect", g, x=x - 8, y=y - 3, width=16.0, height=5.0, fill=colour(entry, ON_LIGHT))
        if is_on(entry):
            c.el("path", g, d=f"M{x - 7:g},{y + 2:g} L{x - 16:g},{y + 22:g} L{x + 16:g},{y + 22:g} "
                              f"L{x + 7:g},{y + 2:g} Z", fill="#ffe066", fill_opacity=0.35, cls="glow")
    elif kind == "fan":
        c.el("circle", g, cx=x, cy=y, r=8.0, fill="none", stroke=colour(entry, ON_AIR), stroke_width=2.0)
        for a in (0, 120, 240):
            r = math.radians(a)
            c.el("line", g, x1=x, y1=y, x2=x + 7 * math.cos(r), y2=y + 7 * math.sin(r),
                 stroke=colour(entry, ON_AIR), stroke_width=2.0)
    elif kind == "co2":
        c.el("rect", g, x=x - 5, y=y - 14, width=10.0, height=26.0, rx=4.0, fill=colour(entry, "#868e96"))
        if is_on(entry):
            for i in range(3):
                c.el("circle", g, cx=x + 4 * i - 4, cy=y - 20 - 5 * i, r=2.5, fill=ON_AIR, fill_opacity=0.6)
    elif kind == "curtain":
        c.el("rect", g, x=x - 10, y=y - 10, width=20.0, height=20.0, rx=2.0, fill=colour(entry, ON_WATER))
        if is_on(entry):  # water running down the roof
            c.el("path", g, d=f"M{MID:g},{RIDGE - 3:g} Q{X1 - 40:g},{RIDGE + 4:g} {X1 + 3:g},{EAVE:g}", fill="none",
                 stroke=ON_WATER, stroke_width=2.0, stroke_dasharray="4 3", cls="curtain-water")
    else:  # a pump or a nutrient line: a water box
        c.el("rect", g, x=x - 10, y=y - 10, width=20.0, height=20.0, rx=2.0, fill=colour(entry, ON_WATER))


def switch(c: Canvas, act_id: str, entry: ActuatorEntry, slot: Slot, name: str, rest: list[Line]) -> None:
    """One switched device at its spots (a bank of lamps or fans is one actuator drawn at each), labelled once."""
    g = c.device(act_id, entry)
    for x, y in slot.spots:
        shape(c, g, entry, x, y, slot.kind)
    label_device(c, g, act_id, entry, slot.labels, name, rest)


def heating_pipe(c: Canvas, state: StateMessage) -> bool:
    """The hot-water pipe along the floor (boiler outside, mixing valve at the wall), red while water flows;
    True when the zone has one."""
    boiler = [e for e in state.actuators.values() if e.role == "boiler"]
    valve = [e for e in state.actuators.values() if e.role == "mixing_valve"]
    if not boiler and not valve and "pipe_temperature" not in state.readings:
        return False
    hot = any(is_on(e) for e in boiler) and all((opening(e) or 0) > 0 for e in valve)
    c.el("line", x1=X0, y1=GROUND - 5, x2=X1 - 24, y2=GROUND - 5, stroke=ON_HEAT if hot else OFF,
         stroke_width=3.0, cls="pipe hot" if hot else "pipe")
    return True


def mixing_valve(c: Canvas, act_id: str, entry: ActuatorEntry, name: str, rest: list[Line]) -> None:
    """The valve at the wall where the boiler's water enters the house, its opening in its label."""
    g = c.device(act_id, entry)
    y = GROUND - 5
    c.el("path", g, d=f"M{X0 + 2:g},{y - 5:g} L{X0 + 12:g},{y + 5:g} L{X0 + 12:g},{y - 5:g} "
                      f"L{X0 + 2:g},{y + 5:g} Z", fill=colour(entry, ON_HEAT))
    label_device(c, g, act_id, entry, [Spot(X0 + 16, y - 6 - 15 * k) for k in range(4)], name, rest, pct=True)


# how far a shape reaches round its spot (left, up, right, down), kept free of labels
REACH = {"heat": (11, 10, 11, 10), "co2": (5, 32, 5, 12), "water": (10, 10, 10, 10), "curtain": (10, 10, 10, 10),
         "lamp": (8, 3, 8, 2), "fan": (8, 8, 8, 8)}


def reserve_shapes(c: Canvas, by_role: dict[str, list[tuple[str, ActuatorEntry]]]) -> None:
    """Keep every label off the devices standing in the house (they are drawn before or after a label)."""
    for role, slots in SLOTS.items():
        for _, slot in zip(by_role.get(role, ()), slots, strict=False):
            left, up, right, down = REACH[slot.kind]
            for x, y in slot.spots:
                c.reserve(x - left, y - up, x + right, y + down)
    if by_role.get("mixing_valve"):
        c.reserve(X0 + 1, GROUND - 11, X0 + 13, GROUND + 1)


def draw(c: Canvas, state: StateMessage) -> None:
    """The house, the readings at their sensors (placed first: they matter most), every part with its label,
    then what had no place."""
    shell(c)
    piped = heating_pipe(c, state)
    c.el("line", x1=MID, y1=EAVE - 3, x2=MID, y2=BOX_Y, stroke=MUTED, stroke_width=0.8)
    c.el("rect", x=MID - 7, y=BOX_Y, width=14.0, height=10.0, rx=2.0, fill="#f8f9fa", stroke=INK,
         stroke_width=0.8, cls="sensor-box")
    by_role: dict[str, list[tuple[str, ActuatorEntry]]] = {}
    for act_id, entry in state.actuators.items():
        by_role.setdefault(entry.role, []).append((act_id, entry))
    reserve_shapes(c, by_role)
    c.reserve(MID - 8, BOX_Y - 1, MID + 8, BOX_Y + 11)  # the sensor box
    outside(c, state, c.lang)
    placed = place_readings(c, state.readings, AIR, MID + 12, BOX_Y + 11, c.lang, first_bold=True, most=3)
    placed += place_readings(c, state.readings, LIGHT, MID, 16, c.lang, anchor="middle")
    if piped:
        placed += place_readings(c, state.readings, ("pipe_temperature",), MID + 20, GROUND - 9, c.lang,
                                 anchor="middle")
    placed += place_readings(c, state.readings, ("leaf_temperature",), X0 + 14, GROUND - 30, c.lang)
    names = actuator_names(state.actuators, c.lang)
    rest: list[Line] = []
    drawn: set[str] = set()
    for role, draw_one in (("side_vent", side_vent), ("roof_vent", roof_vent)):
        for i, (act_id, entry) in enumerate(by_role.get(role, ())):
            draw_one(c, act_id, entry, i, names[act_id], rest)
            drawn.add(act_id)
    for role in ("thermal_screen", "shade_screen"):
        for act_id, entry in by_role.get(role, ())[:1]:
            screen(c, act_id, entry, names[act_id], rest, thermal=role == "thermal_screen")
            drawn.add(act_id)
    for act_id, entry in by_role.get("mixing_valve", ())[:1]:
        mixing_valve(c, act_id, entry, names[act_id], rest)
        drawn.add(act_id)
    for role, slots in SLOTS.items():
        for (act_id, entry), slot in zip(by_role.get(role, ()), slots, strict=False):
            switch(c, act_id, entry, slot, names[act_id], rest)
            drawn.add(act_id)
    if any(is_on(e) for _, e in by_role.get("irrigation_pump", ())):
        c.el("line", x1=110.0, y1=GROUND - 2, x2=250.0, y2=GROUND - 2, stroke=ON_WATER, stroke_width=2.0,
             stroke_dasharray="2 6", cls="drip")
    lines = rest_readings(state.readings, set(placed), c.lang, first=ROOT, actuators=state.actuators) + rest
    lines += [undrawn(a, e, names[a], c.lang) for a, e in state.actuators.items() if a not in drawn]
    c.floor = GROUND + 16
    rest_list(c, lines, c.lang)


@dataclass(frozen=True)
class Slot:
    """Where a switched device stands and the spots its label may take (first free one wins)."""

    kind: str
    spots: tuple[tuple[float, float], ...]
    labels: tuple[Spot, ...]


_GROUND_ROW = GROUND + 12  # labels on the ground band
# by role, one slot per actuator of the role (a role with more actuators than slots lists the rest under it)
SLOTS: dict[str, tuple[Slot, ...]] = {
    "lamps": (Slot("lamp", ((124.0, 116.0), (236.0, 116.0)), (Spot(MID, 112, "middle"), Spot(MID, 97, "middle"))),),
    "circulation_fan": (Slot("fan", ((94.0, 132.0), (266.0, 132.0)),
                             (Spot(MID, 128, "middle"), Spot(112, 136, "start"))),),
    "heater": (Slot("heat", ((X0 + 50, GROUND - 16),), (Spot(X0 + 50, _GROUND_ROW, "middle"),
                                                        Spot(X0 + 36, GROUND - 30, "start"))),
               Slot("heat", ((X1 - 50, GROUND - 16),), (Spot(X1 - 50, _GROUND_ROW, "middle"),
                                                        Spot(X1 - 36, GROUND - 30, "end")))),
    "co2_valve": (Slot("co2", ((X1 - 20, GROUND - 16),), (Spot(X1 - 20, _GROUND_ROW, "middle"),
                                                          Spot(X1 - 8, GROUND - 36, "end"))),),
    "boiler": (Slot("heat", ((X0 / 2, GROUND - 16),), (Spot(2, _GROUND_ROW), Spot(X0 / 2, GROUND - 44, "middle", 2))),),
    "water_curtain": (Slot("curtain", ((332.0, 112.0),), (Spot(W - 2, 94, "end"), Spot(W - 2, 80, "end", 2))),),
    "fertigation": (Slot("water", ((328.0, 198.0),), (Spot(W - 2, 184, "end"), Spot(W - 2, 223, "end"),
                                                      Spot(W - 2, 184, "end", 2))),),
    "irrigation_pump": (Slot("water", ((328.0, 244.0),), (Spot(W - 2, 230, "end"), Spot(W - 2, _GROUND_ROW, "end"),
                                                          Spot(W - 2, 230, "end", 2))),),
}
