"""The drawing's kit: the canvas, broker text made safe, and an actuator or a reading put into words.

Everything in a state message came over the broker, so no text is trusted: it goes through ElementTree (which
escapes `<`, `&` and quotes) after `clean` (which drops what XML 1.0 cannot hold and clips). The canvas is 360
units wide, drawn at 100 % width: on a 390-px phone (about 358 px of column) a unit is about a pixel, so labels
are 12 units (about 12 px; at 8-9 they were too small to read on the bus). The height is the scene's plus the
list under it.

Labels do not overlap: each is measured (`text_width`, on the wide side: DejaVu Sans and a full-width Hangul
glyph) and put at the first of its spots where it meets no label placed before it and stays on the canvas; a
label with no free spot goes to the list under the picture instead, never dropped and never on top of another.

Each actuator is a group `data-actuator=ID data-role=ROLE data-open=PCT` with class `actuator on|off|unknown`,
so a test or a browser check can find it; its words are in a group `data-for=ID` of the labels' layer, which is
drawn last, so no shape drawn after a label can hide it. A reading's text carries `data-reading=NAME` and class
`reading good` or `reading bad` (drawing_parts.py puts devices and readings into words).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from farmcore.link.payloads import UNSET, ActuatorEntry, ReadingEntry

W, H = 360, 300  # H: the least height; the list under the scene makes it taller
LABEL = 12.0  # label size, units (about px on a phone)
MAIN = 14.0  # the first reading of a sensor (the air temperature), bold
STEP = 15.0  # from one line of a label to the next
LIST_STEP = 17.0  # from one row of the list under the picture to the next
INK, MUTED, BAD = "#212529", "#868e96", "#c92a2a"
ON_HEAT, ON_LIGHT, ON_WATER, ON_AIR, OFF = "#e8590c", "#f59f00", "#1c7ed6", "#2f9e44", "#adb5bd"
# what XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF): dropped from broker text
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
LABEL_CHARS = 28  # a label longer than this is clipped before it is measured
LIST_WIDTH = W / 2 - 10  # a cell of the two-column list under the picture, units
# width of a glyph in em, on the wide side (DejaVu Sans, the sans-serif of Debian's chromium; Hangul full width)
_NARROW, _WIDE = frozenset(" .,:;'|!ilIjtf()[]/-°"), frozenset("%mwMW@")


def clean(text: object, limit: int = LABEL_CHARS) -> str:
    """Broker text made safe to put in XML (ElementTree escapes markup; this drops what XML forbids) and short."""
    shown = _NOT_XML.sub("", str(text))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def opening(entry: ActuatorEntry) -> float | None:
    """How open a vent or screen is, %: the estimated position, else the target; None when unknown."""
    for value in (entry.position, entry.target):
        if value is UNSET or value is None:
            continue
        if isinstance(value, bool):
            return 100.0 if value else 0.0
        if isinstance(value, int | float) and math.isfinite(value):
            return min(100.0, max(0.0, float(value)))
    return None


def is_on(entry: ActuatorEntry) -> bool | None:
    """Whether a switch (or a position, or a nutrient line) runs: None when its target is unknown (hold)."""
    pct = opening(entry)
    return None if pct is None else pct > 0


def good(entry: ReadingEntry) -> bool:
    return entry.quality == "good" and entry.value is not None and math.isfinite(entry.value)


class Canvas:
    """A thin ElementTree builder: every attribute and text goes through ET's escaping."""

    def __init__(self, title: str, lang: str = "ko") -> None:
        self.lang = lang  # the reader's language, for the scenes' words
        self.root = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {W} {H}",
                                       "width": "100%", "role": "img", "aria-label": clean(title, 80),
                                       "font-family": "sans-serif"})
        ET.SubElement(self.root, "title").text = clean(title, 80)
        self.height = float(H)
        self.floor = float(H)  # labels of the scene stay above this (the list is below)
        self.taken: list[Box] = []
        self.layer = ET.Element("g", {"class": "labels"})  # every word, over every shape
        self.words_of: dict[str, ET.Element] = {}  # actuator id -> its group in the layer

    def el(self, tag: str, parent: ET.Element | None = None, **attrs: object) -> ET.Element:
        """An element with `stroke_width=` written `stroke-width=`, `cls=` as `class=`, numbers rounded."""
        shown = {}
        for name, value in attrs.items():
            if value is None:
                continue
            key = "class" if name == "cls" else name.replace("_", "-")
            shown[key] = f"{value:.1f}".rstrip("0").rstrip(".") if isinstance(value, float) else clean(value, 100_000)
        return ET.SubElement(self.root if parent is None else parent, tag, shown)

    def text(self, x: float, y: float, words: str, parent: ET.Element | None = None, *, size: float = LABEL,
             anchor: str = "start", fill: str = INK, bold: bool = False, cls: str | None = None,
             limit: int = LABEL_CHARS) -> ET.Element:
        """A label with a white halo, readable on water, film and sky alike (not measured: see `label`); in the
        labels' layer, in the group of `parent`'s actuator when it has one."""
        node = self.el("text", self.words_group(parent), x=float(x), y=float(y), font_size=float(size),
                       text_anchor=anchor, fill=fill, font_weight="bold" if bold else None, cls=cls, stroke="#fff",
                       stroke_width=3.0, paint_order="stroke", stroke_linejoin="round")
        node.text = clean(words, limit)
        return node

    def label(self, spots: Iterable[Spot], parts: Sequence[str], parent: ET.Element | None = None, *,
              size: float = LABEL, fill: str = INK, bold: bool = False, cls: str | None = None) -> ET.Element | None:
        """`parts` (e.g. role, state, marker) at the first spot where they meet no label placed before and stay
        on the canvas, on one line or split over the spot's lines; None when no spot is free (the caller lists
        it under the picture)."""
        parts = [clean(p) for p in parts if p]
        for spot in spots:
            lines = [" ".join(parts[: len(parts) - spot.lines + 1]), *parts[len(parts) - spot.lines + 1:]] \
                if 1 < spot.lines <= len(parts) else [" ".join(parts)]
            boxes = [Box.around(spot.x, spot.y + STEP * i, line, size, spot.anchor) for i, line in enumerate(lines)]
            if not all(b.inside(self.floor) and not any(b.meets(t) for t in self.taken) for b in boxes):
                continue
            self.taken += boxes
            node = self.text(spot.x, spot.y, lines[0], parent, size=size, anchor=spot.anchor, fill=fill,
                             bold=bold, cls=cls)
            if len(lines) > 1:  # one <text>, a <tspan> a line
                node.text = None
                for i, line in enumerate(lines):
                    ET.SubElement(node, "tspan", {"x": f"{spot.x:g}", "dy": "0" if i == 0 else f"{STEP:g}"}).text = line
            return node
        return None

    def reserve(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Keep labels off a shape that matters more than the sky behind it (a heater, a pump)."""
        self.taken.append(Box(x0, y0, x1, y1))

    def words_group(self, device: ET.Element | None) -> ET.Element:
        """Where the words of `device` (an actuator's group, or None: a reading, the sky) go in the layer."""
        act_id = None if device is None else device.get("data-actuator")
        if act_id is None:
            return self.layer
        if act_id not in self.words_of:
            self.words_of[act_id] = ET.SubElement(self.layer, "g", {"class": "label", "data-for": act_id})
        return self.words_of[act_id]

    def device(self, act_id: str, entry: ActuatorEntry) -> ET.Element:
        """The group one actuator is drawn in, tagged with what a test or a browser check looks for."""
        pct, on = opening(entry), is_on(entry)
        state = "unknown" if on is None else "on" if on else "off"
        return self.el("g", cls=f"actuator {state}", data_actuator=clean(act_id, 60), data_role=clean(entry.role, 60),
                       data_open=None if pct is None else f"{pct:.0f}",
                       data_source=None if entry.source is UNSET else entry.source)

    def svg(self) -> str:
        self.root.set("viewBox", f"0 0 {W} {self.height:g}")
        if self.layer not in list(self.root):
            self.root.append(self.layer)
        return ET.tostring(self.root, encoding="unicode")


def text_width(words: str, size: float) -> float:
    """How wide `words` are drawn at `size`, on the wide side (so two labels measured apart never touch)."""
    em = 0.0
    for ch in words:
        if ord(ch) > 0x2000:  # Hangul, CJK, symbols such as ⚠: full width
            em += 1.0
        elif ch in _NARROW:
            em += 0.4
        elif ch in _WIDE:
            em += 1.0
        else:
            em += 0.72 if ch.isupper() else 0.64
    return em * size


@dataclass(frozen=True)
class Spot:
    """Where a label may go: its anchor point and how many lines its parts are split over."""

    x: float
    y: float
    anchor: str = "start"
    lines: int = 1


@dataclass(frozen=True)
class Box:
    """The room a line of text takes: a unit of air either side, ascent and descent above and below (DejaVu's
    0.76 and 0.24 em, a Hangul glyph's a little more), so lines a STEP apart just do not meet."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def around(cls, x: float, y: float, words: str, size: float, anchor: str) -> Box:
        width = text_width(words, size)
        left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
        return cls(left - 1, y - 0.85 * size, left + width + 1, y + 0.25 * size)

    def meets(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def inside(self, floor: float) -> bool:
        return self.x0 >= 0 and self.x1 <= W and self.y0 >= 0 and self.y1 <= floor
