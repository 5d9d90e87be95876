"""The zone as a picture: an SVG of the greenhouse or the tank in its current state, from its `state` message.

Why a picture: a farmer on the bus recognises "the side vents are a third open, the heater is on" at a glance,
where a table of twelve actuators takes reading. Pure (a StateMessage and a language in, SVG text out), so it
is unit-tested without a browser, and the page only shows it (`st.image`: an <img>, where no script can run).
The kit (svgkit.py) makes broker text safe and keeps labels apart, drawing_parts.py puts things into words, the
scenes (drawing_house.py, drawing_tank.py) place the parts.
"""

from __future__ import annotations

from farmcore.link.payloads import StateMessage
from portal.service import drawing_house, drawing_tank, texts
from portal.service.svgkit import Canvas


def zone_svg(state: StateMessage, lang: str = "ko", *, name: str | None = None) -> str:
    """The picture of the zone in `state`: a tank, else a greenhouse (the two kinds a site file knows)."""
    lang = texts.lang_of(lang)
    kind = "tank" if state.kind == "tank" else "greenhouse"
    title = texts.t("drawing title", lang, zone=name or state.zone, kind=texts.t(f"kind:{kind}", lang))
    canvas = Canvas(title, lang)
    (drawing_tank.draw if kind == "tank" else drawing_house.draw)(canvas, state)
    return canvas.svg()
