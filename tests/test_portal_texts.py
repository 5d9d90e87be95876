"""Every portal string exists in Korean and English, with the same fields to fill, and the Korean is Korean."""

from __future__ import annotations

import string

import pytest

from portal.service import texts

KEYS = sorted(texts.TEXTS)
# labels that are the same letters in both languages
ASCII_KO = frozenset({"span:24h", "span:7d", "span:30d", "seconds", "minutes", "hours", "days"})


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", KEYS)
def test_every_key_has_both_languages_with_the_same_fields(key: str) -> None:
    entry = texts.TEXTS[key]
    assert set(entry) == set(texts.LANGS), f"{key}: {sorted(entry)}"
    assert entry["ko"].strip() and entry["en"].strip()
    assert fields(entry["ko"]) == fields(entry["en"]), key
    assert key in ASCII_KO or not entry["ko"].isascii(), f"{key}: {entry['ko']!r} is not Korean"


def test_t_fills_fields_falls_back_to_farmcore_words_and_shows_an_unknown_key() -> None:
    assert texts.t("time left", "ko", left=texts.duration(1500, "ko")) == "25분 남음"
    assert texts.t("time left", "en", left=texts.duration(1500, "en")) == "25 min left"
    assert texts.t("air_temperature", "ko") == "온도" and texts.quantity("co2", "en") == "CO2"
    assert texts.role("roof_vent", "ko") == "천창" and texts.role("misting", "ko") == "misting"
    assert texts.t("no such key", "ko") == "no such key"
    assert texts.t("sign in", "fr") == "로그인"  # an unknown language gets Korean, the portal's default


def test_readings_are_written_as_people_write_them() -> None:
    assert texts.reading(23.44, "degC") == "23.4 °C"
    assert texts.reading(41.2, "%") == "41%"
    assert texts.reading(6.12, "pH") == "6.1"
    assert texts.reading(None, "degC") == "-" and texts.reading(float("nan"), "ppm") == "-"
    assert texts.duration(3 * 3600 + 5, "ko") == "3시간"
