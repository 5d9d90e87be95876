"""A drawing's words: an actuator or a reading put into words and placed where it belongs, and the list under the
picture of what has no place there (or whose label found no free spot), so nothing is dropped.

Names come from naming.py (`폭기기 1`, `폭기기 1 전류`), so the picture and the page's lines call a thing alike.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from farmcore import i18n
from farmcore.link.payloads import UNSET, ActuatorEntry, ReadingEntry, StateMessage
from portal.service import naming, texts
from portal.service.svgkit import (
    BAD,
    INK,
    LABEL,
    LIST_STEP,
    LIST_WIDTH,
    MAIN,
    MUTED,
    ON_HEAT,
    STEP,
    Canvas,
    Spot,
    W,
    clean,
    good,
    is_on,
    opening,
    text_width,
)

LIST_CELLS = 8  # two columns of four rows; the eighth cell says `외 N개` when there are more


def device_words(entry: ActuatorEntry, name: str, lang: str, *, pct: bool = False,
                 screen: bool = False) -> tuple[tuple[str, ...], str]:
    """(`천창`, `30%`) / (`난방기`, `켜짐`, `(수동)`) and the colour: the parts a label may split over lines, marked
    when a person or safety holds it. A screen says 열림 (its % is how far it is pulled back, not how far it
    covers the crop)."""
    value = opening(entry)
    if pct:
        state = texts.t("position unknown", lang) if value is None else \
            texts.t("open pct", lang, pct=f"{value:.0f}") if screen else f"{value:.0f}%"
    else:
        on = is_on(entry)
        state = texts.t("hold" if on is None else "on" if on else "off", lang)
    parts = [("⚠ " if entry.failed else "") + name, state]
    if entry.source in ("override", "safety"):
        parts.append(f"({texts.t('source:' + str(entry.source), lang)})")
    colour = BAD if entry.failed or entry.source == "safety" else ON_HEAT if entry.source == "override" else INK
    return tuple(parts), colour


@dataclass(frozen=True)
class Line:
    """One line of the list under the picture: a reading, or an actuator the scene had no place (or no free
    spot) for; `parent` is the actuator's group when the scene drew it."""

    words: str
    ink: str = INK
    reading: str | None = None
    actuator: tuple[str, ActuatorEntry] | None = None
    parent: ET.Element | None = None


def label_device(c: Canvas, group: ET.Element, act_id: str, entry: ActuatorEntry, spots: Sequence[Spot],
                 name: str, rest: list[Line], *, pct: bool = False, screen: bool = False) -> None:
    """A drawn device's label at the first free spot, by its role's name (where it stands tells it apart from
    another of its role); with no free spot, a line of the list by its full `name` (in the device's group)."""
    parts, ink = device_words(entry, texts.role(entry.role, c.lang), c.lang, pct=pct, screen=screen)
    if c.label(spots, parts, group, fill=ink) is None:
        full, _ = device_words(entry, name, c.lang, pct=pct, screen=screen)
        rest.append(Line(" ".join(full), ink, actuator=(act_id, entry), parent=group))


def undrawn(act_id: str, entry: ActuatorEntry, name: str, lang: str) -> Line:
    """A line of the list for an actuator of a role the picture has no place for."""
    parts, ink = device_words(entry, name, lang)
    return Line(" ".join(parts), ink, actuator=(act_id, entry))


def reading_words(name: str, entry: ReadingEntry, lang: str, *, short: bool = True,
                  actuators: Mapping[str, ActuatorEntry] | None = None) -> tuple[str, bool]:
    """`온도 23.4 °C`, or for a bad reading `온도 ⚠ 통신 오류` (its last value would mislead): (words, ok)."""
    key = f"short:{name}"
    label = texts.t(key, lang) if short and (key in texts.TEXTS or key in i18n.TEXTS) else \
        naming.reading_name(name, lang, actuators)
    if good(entry):
        return f"{label} {texts.reading(entry.value, entry.unit)}", True
    quality = f"quality:{entry.quality}"
    why = texts.t(quality, lang) if quality in texts.TEXTS else clean(entry.quality, 12)
    if entry.value is None:
        why = f"{why}, {texts.t('no value', lang)}" if entry.quality == "good" else why
    return f"{label} ⚠ {why}", False


def place_readings(c: Canvas, readings: Mapping[str, ReadingEntry], names: Iterable[str], x: float, y: float,
                   lang: str, *, first_bold: bool = False, anchor: str = "start", most: int = 6) -> list[str]:
    """Stack at most `most` of the readings of `names` the zone has at (x, y) downwards, each where it meets no
    label; returns the names placed (the others go to the list)."""
    placed: list[str] = []
    for name in names:
        entry = readings.get(name)
        if entry is None or len(placed) >= most:
            continue
        words, ok = reading_words(name, entry, lang)
        bold = first_bold and not placed
        at = y + STEP * len(placed) + (2 if first_bold and placed else 0)
        node = c.label([Spot(x, at, anchor)], [words], size=MAIN if bold else LABEL, bold=bold,
                       fill=INK if ok else BAD, cls="reading good" if ok else "reading bad")
        if node is not None:
            node.set("data-reading", clean(name, 60))
            placed.append(name)
    return placed


def outside(c: Canvas, state: StateMessage, lang: str) -> None:
    """The outside air temperature in the sky's corner: why the vents and the heater do what they do."""
    temp = state.weather.get("air_temperature")
    if isinstance(temp, int | float) and not isinstance(temp, bool) and math.isfinite(temp):
        c.label([Spot(6, 16)], [f"{texts.t('outside', lang)} {texts.reading(temp, 'degC')}"], fill=MUTED)


def fit(words: str, width: float, size: float = LABEL) -> str:
    """`words` cut (with …) to what `width` units hold."""
    while len(words) > 1 and text_width(words, size) > width:
        words = words[:-2] + "…"
    return words


def rest_list(c: Canvas, lines: list[Line], lang: str) -> None:
    """What has no place in the picture, in two columns under it (at most eight cells, the eighth `외 N개`);
    the canvas grows to hold them."""
    cells = lines if len(lines) <= LIST_CELLS else \
        [*lines[:LIST_CELLS - 1], Line(texts.t("more readings", lang, n=len(lines) - LIST_CELLS + 1), MUTED)]
    top = c.floor + LIST_STEP
    for i, line in enumerate(cells):
        parent = line.parent if line.parent is not None else \
            c.device(*line.actuator) if line.actuator is not None else None
        cls = None if line.reading is None else "reading bad" if line.ink == BAD else "reading good"
        node = c.text(8 + (W / 2) * (i % 2), top + LIST_STEP * (i // 2), fit(clean(line.words, 60), LIST_WIDTH),
                      parent, fill=line.ink, cls=cls, limit=60)
        if line.reading is not None:
            node.set("data-reading", clean(line.reading, 60))
    rows = (len(cells) + 1) // 2
    c.height = c.floor + (LIST_STEP * rows + 6 if rows else 4)


def rest_readings(readings: Mapping[str, ReadingEntry], placed: set[str], lang: str, *,
                  first: tuple[str, ...] = (), actuators: Mapping[str, ActuatorEntry] | None = None) -> list[Line]:
    """Readings not drawn at their sensor as list lines, `first` (where they hang, e.g. the root zone) first;
    sensor ids combined into a reading are left out (the reading is their median)."""
    combined = {s for entry in readings.values() if entry.sources is not UNSET for s in entry.sources}
    rest = [n for n in first if n in readings] + sorted(set(readings) - set(first))
    lines = []
    for name in rest:
        if name in placed or name in combined:
            continue
        words, ok = reading_words(name, readings[name], lang, short=False, actuators=actuators)
        lines.append(Line(words, INK if ok else BAD, reading=name))
    return lines
