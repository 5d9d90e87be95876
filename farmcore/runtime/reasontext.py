"""Decision reasons and event messages as a person reads them: numbers rounded, code names in words, Korean.

The strategies write their reasons in English and the historian keeps them exactly so (history, exports and
MQTT stay one language and comparable). Only what is shown changes here: floats printed with `:g` (`17.5787
>= off_above 8.46643`) are rounded, quantity code names become words, and in Korean every fragment found in
the phrase table (`reasons_ko.PHRASES`) is replaced by its Korean form. A fragment not in the table stays
English; `leftover_english` finds such words (the tests run it over the reasons a simulated day produces).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from functools import cache, lru_cache

from farmcore import i18n
from farmcore.runtime.reasons_ko import EVENT_PHRASES, PHRASES, WORDS

NUMBER = r"[-+]?\d+(?:\.\d+)?"
PLACEHOLDERS = {
    "{n}": f"({NUMBER})",
    "{s}": r"(on|off|hold|open|close|closed|stop|True|False)",  # a state word (repr'd targets included)
    "{w}": r"([\w.:-]+)",  # an identifier: an actuator id, a quality, a source
    "{t}": r"(\d\d:\d\d)",  # a local clock time
    "{x}": r"(.+?)",  # any text, as short as possible
}
LONG_FLOAT = re.compile(r"(?<![\w.:])([-+]?\d+\.\d{3,})(?![\d.])")  # `:g` output: 6 significant digits
ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")
EXPONENT = re.compile(r"(?<![\w.])([-+]?\d+(?:\.\d+)?e[-+]\d+)(?![\w.])")
OVERRIDE = re.compile(r"manual override(?: by (?P<by>.+?))? until (?P<until>\S+?): ")
QUANTITY_CODES = ("air_temperature", "relative_humidity", "co2", "soil_moisture", "soil_temperature", "par",
                  "solar_radiation", "water_temperature", "dissolved_oxygen_saturation", "dissolved_oxygen",
                  "water_level", "wind_speed", "wind_direction", "rain_detected", "ec", "ph", "flow", "current",
                  "salinity", "humidity_deficit", "vpd")
CODE_NAME = re.compile(r"\b(?:weather:)?(" + "|".join(QUANTITY_CODES) + r")\b")
EVENTS_EN = (("{x} is before the planting date {x}$", "before the planting date {1}"),)  # a time each minute
# words a Korean reason may keep: units, abbreviations growers use as they are, recipe ids (checked by tests)
KEPT_WORDS = frozenset({"CO2", "O2", "DO", "EC", "pH", "VPD", "DLI", "PAR", "ppm", "mg", "L", "min", "K", "h", "s",
                        "kPa", "Kh", "W", "m2", "J", "cm2", "g", "m3", "mol", "A", "m", "kg", "d", "BW", "KST", "dS"})


def round_number(text: str) -> str:
    """A float printed with more than two decimals, shown with one (two below 1): what a sensor can tell."""
    value = float(text)
    digits = 2 if abs(value) < 1 else 1
    return f"{value:.{digits}f}"


def tidy(text: str) -> str:
    """Rounded numbers and quantity names for code names (English; the language-neutral part)."""
    text = LONG_FLOAT.sub(lambda m: round_number(m.group(1)), text)
    return CODE_NAME.sub(lambda m: i18n.t(m.group(1), "en") + (" (outside)" if m.group(0).startswith("weather:")
                                                                  else ""), text)


def local_time(epoch_s: float, tz: tzinfo, today: datetime | None = None) -> str:
    """`14:05`, or `01-16 14:05` when not on `today`'s local date."""
    at = datetime.fromtimestamp(epoch_s, tz)
    if today is not None and at.date() == today.astimezone(tz).date():
        return f"{at:%H:%M}"
    return f"{at:%m-%d %H:%M}"


def _override_text(reason: str, lang: str, tz: tzinfo, until_s: float | None, now: datetime | None) -> str:
    """`manual override by kim until 2026-01-15T05:05:30Z: ...` -> the end as local time."""
    m = OVERRIDE.search(reason)
    if m is None:
        return reason
    try:
        end = until_s if until_s is not None else datetime.fromisoformat(m.group("until")).timestamp()
    except ValueError:
        return reason
    when = local_time(end, tz, now)
    by = m.group("by")
    if lang == "ko":
        head = f"수동 조작{f' ({by})' if by else ''}, {when}까지: "
    else:
        head = f"manual override{f' by {by}' if by else ''} until {when}: "
    return reason[:m.start()] + head + reason[m.end():]


@cache
def _compiled(table: tuple[tuple[str, str], ...]) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for pattern, korean in table:
        anchored = pattern.endswith("$")  # the fragment ends the text (a trailing {x} takes all of the rest)
        parts = re.split(r"(\{[nswtx]\})", pattern.removesuffix("$"))
        regex = "".join(PLACEHOLDERS.get(p, re.escape(p)) for p in parts) + ("$" if anchored else "")
        out.append((re.compile(regex), korean))
    return out


def _word(value: str) -> str:
    """A captured word in Korean: states, qualities, sources and quantity names; anything else as it is."""
    if value in WORDS:
        return WORDS[value]
    named = i18n.t(value, "ko")
    return named if value in i18n.TEXTS else value


def _apply(text: str, table: tuple[tuple[str, str], ...], word: Callable[[str], str] = _word) -> str:
    for regex, template in _compiled(table):
        text = regex.sub(_substitute(template, word), text)
    return text


def _substitute(template: str, word: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        return template.format(*(word(g) for g in m.groups()))
    return sub


@lru_cache(maxsize=2048)  # a zone's reasons repeat tick after tick; the table is ~150 expressions
def _korean(text: str) -> str:
    text = _apply(text, PHRASES)
    return CODE_NAME.sub(lambda m: ("외부 " if m.group(0).startswith("weather:") else "") + i18n.t(m.group(1), "ko"),
                         text)


def reason(text: str, lang: str | None = None, *, tz: tzinfo, until_s: float | None = None,
           now: datetime | None = None) -> str:
    """A decision's reason for the screen: rounded, override end in local time, Korean when `lang` is ko.
    `until_s`: the override's exact end (the reason's own `until` is printed with six digits only)."""
    lang = lang or i18n.language()
    text = LONG_FLOAT.sub(lambda m: round_number(m.group(1)), text)
    text = _override_text(text, lang, tz, until_s, now)
    return _korean(text) if lang == "ko" else tidy(text)


def event(message: str, lang: str | None = None) -> str:
    """An event message for the screen (the common ones in Korean, like reasons)."""
    lang = lang or i18n.language()
    text = ISO_TIME.sub(r"\1 \2", message)  # the daemon's local ISO times, without fraction and offset
    text = LONG_FLOAT.sub(lambda m: round_number(m.group(1)), text)
    text = EXPONENT.sub(lambda m: round_number(m.group(1)), text)
    if lang != "ko":
        return tidy(_apply(text, EVENTS_EN, str))
    return _korean(_apply(text, EVENT_PHRASES))


def leftover_english(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """Latin words of a Korean text that are neither kept abbreviations and units nor `allowed` (ids)."""
    keep = KEPT_WORDS | set(allowed)
    words = re.findall(r"[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*", text.replace("°C", ""))
    return [w for w in words if w not in keep and not re.fullmatch(r"[A-Za-z]+\d+", w)]
