"""A fish tank from the side: the water with its aerators bubbling while they run, the oxygen line, heater and
chiller, the exchange pump's flow, the feeder dropping feed, and the probes where they hang in the water (the
DO probe and the temperature probe; pH, salinity and EC read beside the temperature). Each label takes the
first free of its spots; one with none, or a role the picture has no place for, is listed under it, never
dropped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from farmcore.link.payloads import ActuatorEntry, StateMessage
from portal.service import texts
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
    BAD,
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
)

X0, X1, TOP, BOTTOM, SURFACE = 60.0, 300.0, 80.0, 228.0, 100.0
DO = ("dissolved_oxygen", "dissolved_oxygen_saturation")
WATER = ("water_temperature", "ph", "salinity", "ec")
FIRST = ("water_level", "ammonia", "flow")


def colour(entry: ActuatorEntry, on_colour: str) -> str:
    return on_colour if is_on(entry) else OFF


def body(c: Canvas) -> None:
    c.el("rect", x=X0, y=SURFACE, width=X1 - X0, height=BOTTOM - SURFACE, fill="#d0ebff", cls="water")
    c.el("path", d=f"M{X0:g},{TOP:g} L{X0:g},{BOTTOM:g} L{X1:g},{BOTTOM:g} L{X1:g},{TOP:g}", fill="none",
         stroke="#495057", stroke_width=2.5)
    c.el("line", x1=X0, y1=SURFACE, x2=X1, y2=SURFACE, stroke=ON_WATER, stroke_width=1.0)


def aerators(c: Canvas, items: list[tuple[str, ActuatorEntry]], names: dict[str, str], rest: list[Line]) -> None:
    """Diffusers on the floor, numbered, each with a column of bubbles while it runs; one caption for all."""
    if not items:
        return
    step = min(50.0, 150.0 / len(items))
    groups: list[ET.Element] = []
    for i, (act_id, entry) in enumerate(items):
        g = c.device(act_id, entry)
        groups.append(g)
        x = 90 + step * i
        c.el("rect", g, x=x - 8, y=BOTTOM - 7, width=16.0, height=5.0, rx=2.0, fill=colour(entry, ON_AIR))
        if is_on(entry):
            for k in range(5):
                c.el("circle", g, cx=x + (3 if k % 2 else -3), cy=BOTTOM - 18 - 24 * k, r=2.5 + k * 0.4,
                     fill="#ffffff", stroke=ON_WATER, stroke_width=0.8, cls="bubble")
        ink = BAD if entry.failed or entry.source == "safety" else ON_HEAT if entry.source == "override" else INK
        if len(items) > 1:
            c.label([Spot(x, BOTTOM + 14, "middle")], [str(i + 1)], g, fill=ink)
    if len(items) == 1:
        act_id, entry = items[0]
        label_device(c, groups[0], act_id, entry, [Spot(X0, BOTTOM + 30)], names[act_id], rest)
    else:
        running = sum(1 for _, e in items if is_on(e))
        c.label([Spot(X0, BOTTOM + 30)], [f"{texts.role('aerator', c.lang)} {texts.t('on', c.lang)} "
                                          f"{running}/{len(items)}"])


def switch(c: Canvas, act_id: str, entry: ActuatorEntry, kind: str, name: str, rest: list[Line]) -> None:
    """The other tank devices at their fixed places, coloured when they run."""
    g = c.device(act_id, entry)
    on = bool(is_on(entry))
    if kind == "o2":
        c.el("rect", g, x=20.0, y=150.0, width=16.0, height=56.0, rx=6.0, fill=colour(entry, "#748ffc"))
        c.el("path", g, d=f"M36,160 L{X0 + 6:g},160 L{X0 + 6:g},{BOTTOM - 6:g} L250,{BOTTOM - 6:g}", fill="none",
             stroke=MUTED, stroke_width=1.2)
        if on:
            for k in range(8):
                c.el("circle", g, cx=246.0 + (k % 3) * 4, cy=BOTTOM - 14 - 12 * k, r=1.4, fill="#748ffc",
                     cls="bubble")
        spots = [Spot(X0 / 2, 125, "middle", 2), Spot(X0 / 2, 112, "middle", 3)]
    elif kind == "heater":
        path = " ".join(f"L{262 + 5 * k:g},{196 + (20 if k % 2 else 0):g}" for k in range(1, 7))
        c.el("path", g, d=f"M262,196 {path}", fill="none", stroke=colour(entry, ON_HEAT), stroke_width=2.5)
        spots = [Spot(X1, BOTTOM + 14, "end"), Spot(X1, BOTTOM + 30, "end")]
    elif kind == "chiller":
        c.el("rect", g, x=318.0, y=130.0, width=34.0, height=26.0, rx=3.0, fill=colour(entry, "#4dabf7"))
        c.el("line", g, x1=318.0, y1=143.0, x2=X1, y2=143.0, stroke=MUTED, stroke_width=1.5)
        spots = [Spot(W - 2, 170, "end"), Spot(W - 2, 122, "end"), Spot(W - 2, 170, "end", 2)]
    elif kind == "exchange":
        c.el("circle", g, cx=335.0, cy=206.0, r=9.0, fill=colour(entry, ON_WATER))
        c.el("path", g, d=f"M{X1:g},218 L335,218 L335,215 M335,197 L335,90 L{X1 - 4:g},90", fill="none",
             stroke=ON_WATER if on else MUTED, stroke_width=1.5, cls="flow" if on else None)
        spots = [Spot(W - 2, 232, "end"), Spot(W - 2, 190, "end"), Spot(W - 2, 248, "end"), Spot(W - 2, 232, "end", 2)]
    else:  # feeder: a hopper over the water, dropping feed while it runs
        c.el("path", g, d="M150,40 L200,40 L185,68 L165,68 Z", fill=colour(entry, ON_LIGHT), stroke="#495057",
             stroke_width=1.0)
        if on:
            for k in range(6):
                c.el("circle", g, cx=171.0 + (k % 3) * 4, cy=74.0 + 4 * k, r=1.6, fill="#8d6e63", cls="feed")
        spots = [Spot(206, 52), Spot(206, 46, "start", 2), Spot(144, 52, "end")]
    label_device(c, g, act_id, entry, spots, name, rest)


def probe(c: Canvas, x: float, depth: float) -> None:
    """A probe on its cable from the rim down to `depth`."""
    c.el("line", x1=x, y1=TOP - 8, x2=x, y2=depth, stroke=MUTED, stroke_width=1.2)
    c.el("rect", x=x - 3, y=depth, width=6.0, height=12.0, rx=2.0, fill="#343a40", cls="probe")


def draw(c: Canvas, state: StateMessage) -> None:
    """The tank, the probes and their readings (placed first: they matter most), its devices, then what had no
    place."""
    body(c)
    outside(c, state, c.lang)
    placed: list[str] = []
    if any(n in state.readings for n in DO):
        probe(c, 90.0, 118.0)
        placed += place_readings(c, state.readings, DO, 98, 128, c.lang, first_bold=True)
    if any(n in state.readings for n in WATER):
        probe(c, 270.0, 150.0)
        placed += place_readings(c, state.readings, WATER, 262, 164, c.lang, first_bold=True, anchor="end")
    names = actuator_names(state.actuators, c.lang)
    by_role: dict[str, list[tuple[str, ActuatorEntry]]] = {}
    for act_id, entry in state.actuators.items():
        by_role.setdefault(entry.role, []).append((act_id, entry))
    rest: list[Line] = []
    aerators(c, by_role.get("aerator", []), names, rest)
    drawn = {a for a, _ in by_role.get("aerator", [])}
    for role, kind in (("o2_valve", "o2"), ("heater", "heater"), ("chiller", "chiller"),
                       ("exchange_pump", "exchange"), ("feeder", "feeder")):
        for act_id, entry in by_role.get(role, [])[:1]:
            switch(c, act_id, entry, kind, names[act_id], rest)
            drawn.add(act_id)
    lines = rest_readings(state.readings, set(placed), c.lang, first=FIRST, actuators=state.actuators) + rest
    lines += [undrawn(a, e, names[a], c.lang) for a, e in state.actuators.items() if a not in drawn]
    c.floor = BOTTOM + 38
    rest_list(c, lines, c.lang)
