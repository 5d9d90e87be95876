"""Every portal string exists in Korean and English, with the same fields to fill, and the Korean is Korean."""

from __future__ import annotations

import string

import pytest

from farmcore.fieldbus import codes
from farmcore.link.payloads import ActuatorEntry
from portal.service import texts
from portal.service.commands import CommandRequest
from portal.service.naming import actuator_name, actuator_names, command_words, feedback, reading_name

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


def test_an_actuator_is_named_by_its_role_and_told_apart_only_where_two_share_it() -> None:
    def a(role: str) -> ActuatorEntry:
        return ActuatorEntry(role=role, kind="switch", target=True)

    zone = {"heater": a("heater"), "aerator_1": a("aerator"), "aerator_2": a("aerator"),
            "side_vent_left": a("side_vent"), "side_vent_right": a("side_vent"), "fan_a": a("circulation_fan"),
            "fan_b": a("circulation_fan")}
    assert actuator_names(zone, "ko") == {
        "heater": "난방기", "aerator_1": "폭기기 1", "aerator_2": "폭기기 2", "side_vent_left": "측창 왼쪽",
        "side_vent_right": "측창 오른쪽", "fan_a": "순환팬 (fan_a)", "fan_b": "순환팬 (fan_b)"}
    assert actuator_names(zone, "en")["aerator_2"] == "aerator 2"
    # without the zone's state (a card): named from the id where it starts with a role, else the id
    assert actuator_name("aerator_3", "ko") == "폭기기 3" and actuator_name("heater", "en") == "heater"
    assert actuator_name("vent_west", "ko") == "vent_west"


def test_a_reading_of_an_actuator_is_named_from_its_parts() -> None:
    zone = {f"aerator_{i}": ActuatorEntry(role="aerator", kind="switch", target=True) for i in (1, 2)}
    assert reading_name("aerator_1_current", "ko", zone) == "폭기기 1 전류"
    assert reading_name("aerator_2_current", "en", zone) == "aerator 2 current"
    assert reading_name("aerator_3_current", "ko") == "폭기기 3 전류"  # a card: from the id alone
    assert reading_name("air_temperature", "ko", zone) == "온도"
    assert reading_name("pump_x_current", "ko", zone) == "pump_x_current"  # nothing names it: the id


def test_every_ks_status_a_node_can_report_is_put_into_words() -> None:
    for code in codes._tables()["status"]:
        name = codes.status_name(int(code))
        for lang in texts.LANGS:
            assert feedback(name, lang) != name, f"{name} ({lang}) is shown as the standard's name"
    assert (feedback("READY", "ko"), feedback("ON", "ko"), feedback("OPENING", "en")) == ("대기", "작동 중", "opening")
    assert feedback(301, "ko") == "상태 코드 301" and feedback("UNKNOWN_77", "en") == "status code 77"
    assert feedback("SOMETHING_NEW", "ko") == "SOMETHING_NEW"


def test_a_command_is_repeated_in_words_above_its_answer() -> None:
    zone = {"fan": ActuatorEntry(role="circulation_fan", kind="switch", target=False),
            "side_vent_left": ActuatorEntry(role="side_vent", kind="retractable", target=0.0),
            "side_vent_right": ActuatorEntry(role="side_vent", kind="retractable", target=0.0)}
    said = {lang: [command_words(CommandRequest("setpoint", "air_temperature", 18.0), lang, unit_name="degC"),
                   command_words(CommandRequest("override", "fan", True, 1800.0), lang, actuators=zone),
                   command_words(CommandRequest("override", "side_vent_left", 50.0, 600.0), lang, actuators=zone),
                   command_words(CommandRequest("release", "fan"), lang, actuators=zone),
                   command_words(CommandRequest("feed_now"), lang),
                   command_words(CommandRequest("ack_alarm", "do_low"), lang, alarm="DO low")]
            for lang in texts.LANGS}
    assert said["ko"] == ["온도 설정 18.0 °C", "순환팬 켜기 · 30분 동안", "측창 왼쪽 열림 50% · 10분 동안",
                          "순환팬 수동 조작 해제", "지금 먹이 주기", "경보 확인: DO low"]
    assert said["en"] == ["Air temperature setpoint 18.0 °C", "Fan on for 30 min", "Side left open 50% for 10 min",
                          "Fan: override released", "Feed now", "Acknowledge: DO low"]


def test_every_faulty_sensor_status_reads_as_words_in_both_languages() -> None:
    """A sensor's quality is its KS X 3267 status when faulty: the Korean page must not show `need_calibration`."""
    import tomllib
    from pathlib import Path

    from portal.service.texts import t

    codes = tomllib.loads((Path(__file__).resolve().parents[1] / "farmcore" / "profiles" / "ks" / "codes.toml")
                          .read_text())["status"]
    faulty = [v["name"].lower() for k, v in codes.items() if 1 <= int(k) <= 199]
    assert "need_calibration" in faulty
    for name in faulty:
        for lang in ("ko", "en"):
            assert t(f"quality:{name}", lang) != f"quality:{name}", (name, lang)
