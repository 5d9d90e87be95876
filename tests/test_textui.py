"""Command-line helpers: unit lists, tables aligned for Hangul, the language switch."""

import pytest

from farmcore import i18n
from farmcore.errors import BadInput
from farmcore.techcli import parse_units
from farmcore.textui import table, width


def test_parse_units():
    assert parse_units("1-4") == [1, 2, 3, 4]
    assert parse_units("5") == [5]
    assert parse_units("1,3,10-12,3") == [1, 3, 10, 11, 12]


@pytest.mark.parametrize("text", ["0-3", "1-300", "a-b", "", "3-1"])
def test_parse_units_refuses(text):
    with pytest.raises(BadInput, match="--units"):
        parse_units(text)


def test_table_aligns_by_display_width():
    text = table(["슬롯", "값"], [[1, "23.50"], [17, "-"]])
    lines = text.splitlines()
    assert width(lines[0]) >= width("슬롯  값")
    assert lines[2].index("23.50") == lines[3].index("-")
    assert width("온도") == 4


def test_language_follows_the_environment(monkeypatch):
    monkeypatch.setenv("FARMCTL_LANG", "ko")
    assert i18n.t("quantity") == "측정항목"
    monkeypatch.setenv("FARMCTL_LANG", "en")
    assert i18n.t("quantity") == "quantity"
    monkeypatch.delenv("FARMCTL_LANG")
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert i18n.language() == "ko"
    assert i18n.t("no such key") == "no such key"


def test_every_text_has_both_languages():
    assert all(set(entry) == {"ko", "en"} for entry in i18n.TEXTS.values())


def test_the_read_table_calls_a_measurement_unit_danwi_in_korean(monkeypatch) -> None:
    """`유닛` is a Modbus unit (a node); the unit of a measurement is `단위`."""
    from farmcore.techcli import _read_text

    monkeypatch.setenv("FARMCTL_LANG", "ko")
    doc = {"unit": 11, "node": {"status": 0}, "devices": [
        {"slot": 1, "code": 1, "kind": "sensor", "quantity": "air_temperature", "unit": "degC", "value": 21.5,
         "status": 0, "status_name": "READY", "quality": "good"}]}
    header = _read_text(doc).splitlines()[1]
    assert "단위" in header and header.count("유닛") == 0
