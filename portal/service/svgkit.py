"""The drawing's kit: the canvas, broker text made safe, and an actuator or a reading put into words.

Everything in a state message came over the broker, so no text is trusted: it goes through ElementTree (which
escapes `<`, `&` and quotes) after `clean` (which drops what XML 1.0 cannot hold and clips). The canvas is a
360 x 300 viewBox drawn at 100 % width: it fits a 390-px phone and scales up on a desk.

Each actuator is a group `data-actuator=ID data-role=ROLE data-open=PCT` with class `actuator on|off|unknown`,
so a test or a browser check can find it; a reading's text carries `data-reading=NAME` and class `reading good`
or `reading bad`.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from farmcore import i18n
from farmcore.link.payloads import UNSET, ActuatorEntry, ReadingEntry
from portal.service import texts

W, H = 360, 300
INK, MUTED, BAD = "#212529", "#868e96", "#c92a2a"
ON_HEAT, ON_LIGHT, ON_WATER, ON_AIR, OFF = "#e8590c", "#f59f00", "#1c7ed6", "#2f9e44", "#adb5bd"
# what XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF): dropped from broker text
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
LABEL_CHARS = 24  # a label longer than this is clipped: the picture is 360 units wide
LIST_CHARS = 32  # a line of the two-column list under the picture (180 units at 9 units a glyph or less)


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

    def __init__(self, title: str) -> None:
        self.root = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {W} {H}",
                                       "width": "100%", "role": "img", "aria-label": clean(title, 80),
                                       "font-family": "sans-serif"})
        ET.SubElement(self.root, "title").text = clean(title, 80)

    def el(self, tag: str, parent: ET.Element | None = None, **attrs: object) -> ET.Element:
        """An element with `stroke_width=` written `stroke-width=`, `cls=` as `class=`, numbers rounded."""
        shown = {}
        for name, value in attrs.items():
            if value is None:
                continue
            key = "class" if name == "cls" else name.replace("_", "-")
            shown[key] = f"{value:.1f}".rstrip("0").rstrip(".") if isinstance(value, float) else clean(value, 100_000)
        return ET.SubElement(self.root if parent is None else parent, tag, shown)

    def text(self, x: float, y: float, words: str, parent: ET.Element | None = None, *, size: float = 9,
             anchor: str = "start", fill: str = INK, bold: bool = False, cls: str | None = None,
             limit: int = LABEL_CHARS) -> ET.Element:
        """A label with a white halo, readable on water, film and sky alike."""
        node = self.el("text", parent, x=float(x), y=float(y), font_size=float(size), text_anchor=anchor,
                       fill=fill, font_weight="bold" if bold else None, cls=cls, stroke="#fff",
                       stroke_width=2.5, paint_order="stroke", stroke_linejoin="round")
        node.text = clean(words, limit)
        return node

    def device(self, act_id: str, entry: ActuatorEntry) -> ET.Element:
        """The group one actuator is drawn in, tagged with what a test or a browser check looks for."""
        pct, on = opening(entry), is_on(entry)
        state = "unknown" if on is None else "on" if on else "off"
        return self.el("g", cls=f"actuator {state}", data_actuator=clean(act_id, 60), data_role=clean(entry.role, 60),
                       data_open=None if pct is None else f"{pct:.0f}",
                       data_source=None if entry.source is UNSET else entry.source)

    def svg(self) -> str:
        return ET.tostring(self.root, encoding="unicode")


def device_label(entry: ActuatorEntry, lang: str, *, pct: bool = False) -> tuple[str, str]:
    """`천창 30%` / `난방기 켜짐`, marked `(수동)` or `(안전)` when a person or safety holds it; and its colour."""
    value = opening(entry)
    if pct:
        state = texts.t("position unknown", lang) if value is None else f"{value:.0f}%"
    else:
        on = is_on(entry)
        state = texts.t("hold" if on is None else "on" if on else "off", lang)
    words = f"{texts.role(entry.role, lang)} {state}"
    if entry.source in ("override", "safety"):
        words += f" ({texts.t('source:' + str(entry.source), lang)})"
    colour = BAD if entry.failed or entry.source == "safety" else ON_HEAT if entry.source == "override" else INK
    return ("⚠ " if entry.failed else "") + words, colour


def reading_words(name: str, entry: ReadingEntry, lang: str, *, short: bool = True) -> tuple[str, bool]:
    """`온도 23.4 °C`, or for a bad reading `온도 ⚠ 통신 오류` (its last value would mislead): (words, ok)."""
    key = f"short:{name}" if short and f"short:{name}" in i18n.TEXTS else name
    label = texts.t(key, lang)
    if good(entry):
        return f"{label} {texts.reading(entry.value, entry.unit)}", True
    quality = f"quality:{entry.quality}"
    why = texts.t(quality, lang) if quality in texts.TEXTS else clean(entry.quality, 12)
    if entry.value is None:
        why = f"{why}, {texts.t('no value', lang)}" if entry.quality == "good" else why
    return f"{label} ⚠ {why}", False


def place_readings(canvas: Canvas, readings: Mapping[str, ReadingEntry], names: Iterable[str], x: float,
                   y: float, lang: str, *, step: float = 12, size: float = 9, first_bold: bool = False,
                   anchor: str = "start") -> list[str]:
    """Stack the readings of `names` the zone has at (x, y) downwards; returns the names placed."""
    placed = []
    for name in names:
        entry = readings.get(name)
        if entry is None:
            continue
        words, ok = reading_words(name, entry, lang)
        canvas.text(x, y + step * len(placed), words, size=size + (2 if first_bold and not placed else 0),
                    bold=first_bold and not placed, fill=INK if ok else BAD,
                    cls="reading good" if ok else "reading bad", anchor=anchor)
        canvas.root[-1].set("data-reading", clean(name, 60))
        placed.append(name)
    return placed


@dataclass(frozen=True)
class Line:
    """One line of the list under the picture: a reading or an actuator the scene had no place for."""

    words: str
    ink: str = INK
    reading: str | None = None
    actuator: tuple[str, ActuatorEntry] | None = None


def rest_list(canvas: Canvas, lines: list[Line], lang: str, top: float) -> None:
    """What has no place in the picture, in two columns under it: at most six cells, the sixth `외 N개`."""
    cells = lines if len(lines) <= 6 else [*lines[:5], Line(texts.t("more readings", lang, n=len(lines) - 5),
                                                            MUTED)]
    for i, line in enumerate(cells):
        parent = None if line.actuator is None else canvas.device(*line.actuator)
        cls = None if line.reading is None else "reading bad" if line.ink == BAD else "reading good"
        node = canvas.text(8 + (W / 2) * (i % 2), top + 14 * (i // 2), line.words, parent, fill=line.ink, cls=cls,
                           limit=LIST_CHARS)
        if line.reading is not None:
            node.set("data-reading", clean(line.reading, 60))


def rest_readings(readings: Mapping[str, ReadingEntry], placed: set[str], lang: str, *,
                  first: tuple[str, ...] = ()) -> list[Line]:
    """Readings not drawn at their sensor as list lines, `first` (where they hang, e.g. the root zone) first;
    sensor ids combined into a reading are left out (the reading is their median)."""
    combined = {s for entry in readings.values() if entry.sources is not UNSET for s in entry.sources}
    rest = [n for n in first if n in readings] + sorted(set(readings) - set(first))
    lines = []
    for name in rest:
        if name in placed or name in combined:
            continue
        words, ok = reading_words(name, readings[name], lang, short=False)
        lines.append(Line(words, INK if ok else BAD, reading=name))
    return lines
