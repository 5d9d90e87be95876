"""The live view's pure parts: keys, values to the sensor's resolution, the overview's actuator summary.

The view of a real daemon (fit at 80x24 and 200x50, details, stop check) is in hil_tests/test_liveview_daemon.py.
"""

from __future__ import annotations

import io

import pytest
from rich.cells import cell_len
from rich.console import Console, Group

from farmcore import i18n
from farmcore.runtime.liveapp import apply_key, parse_keys
from farmcore.runtime.liveview import ViewState, actuator_summary, line, screen
from farmcore.runtime.viewmodel import ActuatorRow, ReadingRow, SiteView, ZoneView, number, unit_text


def test_keys_from_terminal_bytes() -> None:
    assert parse_keys("\x1b[A\x1b[B3\r\x1b") == ["up", "down", "3", "enter", "esc"]
    assert parse_keys("\x1b[5~\x1b[6~\x1bOCx") == ["pgup", "pgdn", "right"]


def test_keys_move_the_view() -> None:
    state = ViewState()
    apply_key(state, "down", 6, 20)
    assert (state.selected, state.detail) == (1, False)
    apply_key(state, "enter", 6, 20)
    assert state.detail
    apply_key(state, "pgdn", 6, 20)
    apply_key(state, "down", 6, 20)
    assert (state.selected, state.scroll) == (1, 21)  # in the details the arrows scroll
    apply_key(state, "right", 6, 20)
    assert (state.selected, state.scroll) == (2, 0)
    apply_key(state, "esc", 6, 20)
    assert not state.detail
    apply_key(state, "5", 6, 20)
    assert (state.selected, state.detail) == (4, True)
    apply_key(state, "9", 6, 20)  # no zone 9: nothing happens
    assert state.selected == 4
    apply_key(state, "up", 6, 20)
    assert state.scroll == 0


@pytest.mark.parametrize(("value", "quantity", "shown"), [
    (17.5787, "air_temperature", "17.6"), (85.4321, "relative_humidity", "85"), (6.3849, "dissolved_oxygen", "6.38"),
    (446.8, "co2", "447"), (5.8123, "ph", "5.81"), (3.14159, "unknown_quantity", "3.1")])
def test_values_to_the_sensor_resolution(value: float, quantity: str, shown: str) -> None:
    assert number(value, quantity) == shown


def test_units_in_words() -> None:
    assert unit_text("degC", "air_temperature") == "°C"
    assert unit_text(None, "dissolved_oxygen") == "mg/L"
    assert i18n.t("measurement unit", "ko") == "단위"


def row(aid: str, role: str, on: bool | None = None, position: float | None = None, source: str = "recipe",
        state: str = "") -> ActuatorRow:
    return ActuatorRow(aid, role, i18n.t(f"role:{role}", "ko"), state, on, position, source, "")


def test_summary_every_retractable_as_percent_open_and_what_runs() -> None:
    acts = [row("heater", "heater", on=True), row("fan", "circulation_fan", on=False, source="override", state="꺼짐"),
            row("v1", "side_vent", position=20.0), row("v2", "side_vent", position=0.0),
            row("ts", "thermal_screen", position=5.0), row("ss", "shade_screen", position=100.0),
            row("a1", "aerator", on=True), row("a2", "aerator", on=False, source="safety")]
    text = actuator_summary(acts, "ko")
    assert text == "켜짐: 난방기 폭기기! 1/2  열림 %: 측창 20/0 보온커튼 5 차광막 100  순환팬* 꺼짐"


def test_a_line_never_wraps() -> None:
    console = Console(file=io.StringIO(), width=20, record=True)
    console.print(line("온도 15.6/6.8 °C  습도 86/85 %  CO2 447/400 ppm"))
    lines = console.export_text().splitlines()
    assert len(lines) == 1 and cell_len(lines[0]) <= 20 and lines[0].endswith("…")


def site(zones: int) -> SiteView:
    reading = ReadingRow("air_temperature", "온도", "온도", "15.6", "°C", "6.8", "8.0", "정상", True)
    acts = (row("heater", "heater", on=True), row("v1", "roof_vent", position=35.0))
    views = tuple(ZoneView(f"gh{i}", f"{i}동 토마토", "greenhouse", "토마토", "착과/수확기 / 야간", "auto", 0, (),
                           (reading,), (reading,), acts, ()) for i in range(1, zones + 1))
    return SiteView("단지", "2026-01-15 03:00:00 KST", "제어 1회", "MQTT mqtt://127.0.0.1:1883", "",
                    "외부: 기온 -3.5 °C", views, ("03:00:00 gh1 관수 시작: 누적 일사 101 J/cm2 >= 100",))


@pytest.mark.parametrize(("zones", "selected"), [(6, 0), (12, 11), (40, 25)])
def test_a_big_site_still_fits_24_lines_with_the_selected_zone_shown(zones: int, selected: int) -> None:
    console = Console(file=io.StringIO(), width=80, height=24, record=True)
    state = ViewState(selected=selected)
    console.print(Group(*screen(console, site(zones), 80, 24, state, "ko")))
    lines = console.export_text().splitlines()
    assert len(lines) <= 24 and max(cell_len(x) for x in lines) <= 80
    assert any(x.startswith(f"[{selected + 1}] gh{selected + 1} ") for x in lines)
    assert ("구역" in lines[-2] and "더" in lines[-2]) == (zones > 20)  # "N more zones" when they do not all fit
