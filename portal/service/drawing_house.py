"""A greenhouse in cross-section: an arched film house (the common Korean 비닐하우스 shape) with its vents and
screens drawn at their opening, the heating, lamps, fans, irrigation and CO2 coloured when they run, and each
reading where its sensor hangs: the air box at crop height in the middle, light above the ridge, the root-zone
probes under the ground line. Roles the picture has no place for are listed under it, never dropped.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from farmcore.link.payloads import ActuatorEntry, StateMessage
from portal.service.svgkit import (
    INK,
    MUTED,
    OFF,
    ON_AIR,
    ON_HEAT,
    ON_LIGHT,
    ON_WATER,
    Canvas,
    Line,
    W,
    device_label,
    is_on,
    opening,
    place_readings,
    rest_list,
    rest_readings,
)

X0, X1, EAVE, RIDGE, GROUND = 40.0, 320.0, 132.0, 62.0, 232.0
MID = (X0 + X1) / 2
SIDE_TOP, SIDE_BOTTOM = 150.0, 205.0  # the roll-up band of a side wall (rolled up from the bottom)
FLAP = 34.0  # a roof vent's length along the roof
FLAP_MAX_DEG = 50.0  # drawn angle of a fully open roof vent

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
    for x in range(100, 270, 40):
        c.el("line", x1=float(x), y1=GROUND, x2=float(x), y2=GROUND - 30, stroke="#2b8a3e", stroke_width=2.0)
        for dy, dx in ((-10, -7), (-18, 7), (-26, -6)):
            c.el("ellipse", cx=float(x + dx), cy=GROUND + dy, rx=6.0, ry=3.0, fill="#40c057")


def side_vent(c: Canvas, act_id: str, entry: ActuatorEntry, index: int, lang: str) -> None:
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
    words, ink = device_label(entry, lang, pct=True)
    c.text(3.0 if left else W - 3.0, top - 6, words, g, anchor="start" if left else "end", size=8, fill=ink)


def roof_vent(c: Canvas, act_id: str, entry: ActuatorEntry, index: int, lang: str) -> None:
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
    words, ink = device_label(entry, lang, pct=True)
    c.text(MID + sign * 46, RIDGE - 16 - 11 * (index // 2), words, g, anchor="end" if left else "start", fill=ink)


def screen(c: Canvas, act_id: str, entry: ActuatorEntry, lang: str, *, thermal: bool) -> None:
    """A curtain drawn from the left wall over the crop. Its opening is how far it is pulled back (a closed
    thermal screen is 열림 0 %, README), so the cloth covers 100 - opening % of the span; unknown: none drawn."""
    g = c.device(act_id, entry)
    y = EAVE - 4 if thermal else EAVE - 14
    span = (X0 + 4, X1 - 4) if thermal else (X0 + 18, X1 - 18)
    pct = opening(entry)
    covered = 0.0 if pct is None else (100 - pct) / 100
    c.el("line", g, x1=span[0], y1=y, x2=span[1], y2=y, stroke=MUTED, stroke_width=0.8, stroke_dasharray="3 3")
    c.el("rect", g, x=span[0], y=y - 2, width=(span[1] - span[0]) * covered, height=4.0,
         fill="#7950f2" if thermal else "#5c940d", fill_opacity=0.8, cls="cloth")
    words, ink = device_label(entry, lang, pct=True)
    c.text(X0 + 8, EAVE + (11 if thermal else 22), words, g, fill=ink)


def shape(c: Canvas, g: ET.Element, entry: ActuatorEntry, x: float, y: float, kind: str) -> None:
    """A device that runs or not, at (x, y), coloured when on."""
    if kind == "heat":
        c.el("rect", g, x=x - 11, y=y - 10, width=22.0, height=20.0, rx=3.0, fill=colour(entry, ON_HEAT))
        c.el("path", g, d=f"M{x - 4:g},{y + 6:g} Q{x:g},{y - 12:g} {x + 4:g},{y + 6:g}", fill="#fff3bf")
    elif kind == "lamp":
        c.el("rect", g, x=x - 8, y=y - 3, width=16.0, height=5.0, fill=colour(entry, ON_LIGHT))
        if is_on(entry):
            c.el("path", g, d=f"M{x - 7:g},{y + 2:g} L{x - 16:g},{y + 26:g} L{x + 16:g},{y + 26:g} "
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
        c.el("rect", g, x=x - 10, y=y - 12, width=20.0, height=22.0, rx=2.0, fill=colour(entry, ON_WATER))


def switch(c: Canvas, act_id: str, entry: ActuatorEntry, lang: str, slot: Slot) -> None:
    """One switched device at its spots (a bank of lamps or fans is one actuator drawn at each), labelled once."""
    g = c.device(act_id, entry)
    for x, y in slot.spots:
        shape(c, g, entry, x, y, slot.kind)
    words, ink = device_label(entry, lang)
    c.text(slot.label[0], slot.label[1], words, g, anchor=slot.anchor, size=8, fill=ink)


def heating_loop(c: Canvas, state: StateMessage, lang: str) -> list[str]:
    """The hot-water pipe along the floor (boiler outside, mixing valve at the wall), red while water flows;
    returns the readings placed (the pipe's temperature sits on the pipe)."""
    boiler = [(a, e) for a, e in state.actuators.items() if e.role == "boiler"]
    valve = [(a, e) for a, e in state.actuators.items() if e.role == "mixing_valve"]
    if not boiler and not valve and "pipe_temperature" not in state.readings:
        return []
    hot = any(is_on(e) for _, e in boiler) and all((opening(e) or 0) > 0 for _, e in valve)
    c.el("line", x1=X0, y1=GROUND - 5, x2=X1 - 24, y2=GROUND - 5, stroke=ON_HEAT if hot else OFF,
         stroke_width=3.0, cls="pipe hot" if hot else "pipe")
    for act_id, entry in boiler[:1]:
        switch(c, act_id, entry, lang, Slot("heat", ((20.0, 186.0),), (2.0, 208.0), "start"))
    for act_id, entry in valve[:1]:
        g = c.device(act_id, entry)
        y = GROUND - 5
        c.el("path", g, d=f"M{X0 + 2:g},{y - 5:g} L{X0 + 12:g},{y + 5:g} L{X0 + 12:g},{y - 5:g} "
                          f"L{X0 + 2:g},{y + 5:g} Z", fill=colour(entry, ON_HEAT))
        words, ink = device_label(entry, lang, pct=True)
        c.text(2.0, 220.0, words, g, size=8, fill=ink)
    return place_readings(c, state.readings, ("pipe_temperature",), MID, GROUND - 9, lang, size=8,
                          anchor="middle")


def draw(c: Canvas, state: StateMessage, lang: str) -> None:
    """Every part of the house, then the readings at their sensors, then what had no place."""
    shell(c)
    by_role: dict[str, list[tuple[str, ActuatorEntry]]] = {}
    for act_id, entry in state.actuators.items():
        by_role.setdefault(entry.role, []).append((act_id, entry))
    for role, draw_one in (("side_vent", side_vent), ("roof_vent", roof_vent)):
        for i, (act_id, entry) in enumerate(by_role.get(role, ())):
            draw_one(c, act_id, entry, i, lang)
    for act_id, entry in by_role.get("thermal_screen", ())[:1]:
        screen(c, act_id, entry, lang, thermal=True)
    for act_id, entry in by_role.get("shade_screen", ())[:1]:
        screen(c, act_id, entry, lang, thermal=False)
    drawn = {a for role in ("side_vent", "roof_vent") for a, _ in by_role.get(role, ())}
    drawn |= {a for role in ("thermal_screen", "shade_screen", "boiler", "mixing_valve")
              for a, _ in by_role.get(role, ())[:1]}
    for role, slots in SLOTS.items():
        for (act_id, entry), slot in zip(by_role.get(role, ()), slots, strict=False):
            switch(c, act_id, entry, lang, slot)
            drawn.add(act_id)
    if any(is_on(e) for _, e in by_role.get("irrigation_pump", ())):
        c.el("line", x1=96.0, y1=GROUND - 2, x2=270.0, y2=GROUND - 2, stroke=ON_WATER, stroke_width=2.0,
             stroke_dasharray="2 6", cls="drip")
    placed = heating_loop(c, state, lang)
    c.el("line", x1=MID, y1=EAVE - 4, x2=MID, y2=146.0, stroke=MUTED, stroke_width=0.8)
    c.el("rect", x=MID - 7, y=146.0, width=14.0, height=10.0, rx=2.0, fill="#f8f9fa", stroke=INK,
         stroke_width=0.8, cls="sensor-box")
    placed += place_readings(c, state.readings, AIR, MID + 11, 155, lang, first_bold=True)
    placed += place_readings(c, state.readings, LIGHT, MID, 22, lang, anchor="middle")
    placed += place_readings(c, state.readings, ("leaf_temperature",), 100, GROUND - 36, lang, size=8)
    lines = rest_readings(state.readings, set(placed), lang, first=ROOT)
    lines += [Line(*device_label(e, lang), actuator=(a, e)) for a, e in state.actuators.items() if a not in drawn]
    rest_list(c, lines, lang, GROUND + 30)


@dataclass(frozen=True)
class Slot:
    """Where a switched device stands and where its label goes (placed so no two labels meet at 360 units)."""

    kind: str
    spots: tuple[tuple[float, float], ...]
    label: tuple[float, float]
    anchor: str = "middle"


# by role, one slot per actuator of the role (a role with more actuators than slots lists the rest under it)
SLOTS: dict[str, tuple[Slot, ...]] = {
    "lamps": (Slot("lamp", ((120.0, 100.0), (240.0, 100.0)), (120.0, 93.0)),),
    "circulation_fan": (Slot("fan", ((86.0, 112.0), (274.0, 112.0)), (98.0, 115.0), "start"),),
    "heater": (Slot("heat", ((X0 + 34, GROUND - 16),), (X0 + 34, GROUND + 10)),
               Slot("heat", ((X1 - 50, GROUND - 16),), (X1 - 50, GROUND + 10))),
    "co2_valve": (Slot("co2", ((X1 - 14, GROUND - 16),), (X1 - 14, GROUND + 10)),),
    "water_curtain": (Slot("curtain", ((340.0, 88.0),), (358.0, 110.0), "end"),),
    "fertigation": (Slot("water", ((340.0, 178.0),), (358.0, 162.0), "end"),),
    "irrigation_pump": (Slot("water", ((340.0, 214.0),), (358.0, 199.0), "end"),),
}
