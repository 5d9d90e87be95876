"""Reasons as the live view shows them: rounded, in local time, in Korean; the records stay English."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from farmcore.control.arbitration import Decision, Interlock, Override, apply_interlocks, arbitrate, clamp_to_limits
from farmcore.control.switching import Hysteresis, MinOnOff, Ramp, RateLimit, Staging
from farmcore.runtime import reasontext
from farmcore.runtime.safety import Tracked, judge

SEOUL = ZoneInfo("Asia/Seoul")
IDS = {"fertigation", "aerator_1", "heater", "chiller", "kim"}

# Reasons of strategy branches a simulated winter and summer day do not reach (hil_tests/test_liveview_daemon.py
# checks every reason those days give), written as the strategies print them.
RARE = [
    "CO2 off: no dosing target",
    "CO2 off: dark (dose_in_dark is false)",
    "CO2 off: vent opening unknown",
    "CO2 off: vents 35 % open > 20 %",
    "CO2 off: target 430 ppm at vents 18 % is about outside air",
    "vent 10 %: 24.0 °C vs vent setpoint 23.0 °C (P-band 4 K) -> 25 %; RH unknown: no humidity venting; "
    "wind unknown: at most 10 %; rain unknown: at most 10 %",
    "vent 0 %: 20.1 °C vs vent setpoint 22.0 °C (P-band 4 K) -> 0 %; RH 91 % over RH limit 78.2 % (VPD 0.5 kPa "
    "at 20.1 °C) but outside temperature unknown",
    "vent 0 %: 20.1 °C vs vent setpoint 22.0 °C (P-band 4 K) -> 0 %; RH 91 % over RH limit 80.1 % (HD 3 g/m3 at "
    "20.1 °C) but outside -2.5 °C < 5 °C",
    "vent 0 %: 25.0 °C vs vent setpoint 22.0 °C (P-band 4 K) -> 75 %; leeward limited to 40 % at 12.0 m/s; "
    "windward (facing or direction unknown) limited to 0 % at 12.0 m/s",
    "hold at 100 %: outside temperature unknown",
    "hold at 0 %: outside radiation unknown",
    "shade screen closed: outside radiation W/m2 812 >= on_above 700",
    "irrigation started for 180 s (EC 1.2 pH 5.8): soil moisture 52 % < setpoint 62 - 5",
    "irrigation started for 120 s (node's own EC/pH): radiation sum 101 J/cm2 >= 100",
    "no irrigation: 12 min since last event < min_off 30 min",
    "irrigation running, 95 s of the dose left",
    "lamps off: outside window 06:00-22:00",
    "lamps on: inside window 06:00-22:00 (no DLI target)",
    "lamps on: DLI 4.20 of 7.50 mol/m2 due (45% of window, target 17); shortfall 3.3 >= on_above 0.5",
    "lamps off: outside radiation W/m2 420 >= on_above 300",
    "heater on: water 17.21 °C, 17.21 <= on_below 17.5 (setpoint 18, band 0.5 K)",
    "off: never with the other side running, water 19.40 °C below setpoint 20; wanted: chiller on: water 19.40 °C, "
    "19.4 >= on_above 19 (setpoint 20, band 1 K)",
    "aerator_1 failed (current 0.4 A < 2 A): kept on in case only its feedback failed, counts for no stage",
    "aerator_1 failed (DO fell 5.1 -> 3.9 mg/L (< minimum 4) in 12 min of running): kept on in case only its "
    "feedback failed, counts for no stage",
    "aerator_1 failed (feedback does not follow its commands): kept on in case only its feedback failed, counts "
    "for no stage",
    "aerator on: 3/3 working aerators, demand 1.00 reached level 1: 3 stages; kept 2 running after a failure; "
    "DO 4.10 mg/L, target 5.50 (setpoint 5.5), band 0.5",
    "O2 on: DO 2.90 < critical 3 mg/L",
    "O2 on: DO 4.80 mg/L, target 5.50 (setpoint 5 + night 0.5), band 0.5, all 3 working aerators on and still "
    "below target",
    "meal running, 42 s left",
    "exchange off: water level 61 % below 70 % (+5 to resume)",
    "exchange off after a dry run: retry in 15 min",
    "exchange off: flow 0.8 L/min < 5 after 60 s",
    "exchange on: flow-through water, level 88 %, flow 40 L/min",
    "failsafe off: no decision from the greenhouse controller (air_temperature; co2 bad)",
    "failsafe hold: air_temperature (outside): stale: last good reading 95 s ago > 90 s",
    "start state off",
    "stop state hold",
]


def from_primitives() -> list[str]:
    """Real reasons from the pure control primitives and the runtime's judgements."""
    out = [Hysteresis(on_below=17.0, off_above=18.0).decide(False, 16.98765).reason,
           Hysteresis(on_above=75.0, off_below=70.0).decide(True, 72.123456).reason,
           MinOnOff(180.0, 180.0).request(True, 30.0).reason,
           RateLimit(0.5555556, value=0.0, now_s=0.0).step(35.03937, 1.0).reason,
           Staging((0.4, 0.7, 1.0), 0.2).decide(1, 0.86543).reason,
           Staging((0.4, 0.7, 1.0), 0.2).decide(3, 0.123456).reason,
           Staging((0.4, 0.7, 1.0), 0.2).decide(2, 0.65).reason,
           Ramp(10.0, 30.0, 0.0, 100.0).at(25.0).reason,
           judge(Tracked(21.0, 0.0, "good"), 95.0, 90.0) or "",
           judge(Tracked(None, None, "comm_error"), 1.0, 90.0) or "",
           judge(Tracked(21.0, 0.0, "need_calibration"), 1.0, 90.0) or ""]
    timer = MinOnOff(180.0, 180.0)
    timer.request(True, 0.0)
    out.append(timer.request(False, 60.0).reason)
    out.append(timer.request(False, 60.0, force=True).reason)
    vent = "vent 37.5 %: 26.0 °C vs vent setpoint 23.0 °C (P-band 4 K) -> 75 %"
    out.append(clamp_to_limits(Decision(37.5, "recipe", vent), 0.0, 30.0).reason)
    heat = "heater on: water 19.40 °C, 19.4 <= on_below 19.5 (setpoint 20, band 0.5 K)"
    both = {"heater": Decision(True, "recipe", heat), "chiller": Decision(True, "override", "manual override")}
    out.append(apply_interlocks(both, [Interlock("chiller", "heater", "heating and cooling together waste both")]
                                )["heater"].reason)
    live = Override(True, 1.79667e9 + 1234.5, "frost check", "kim")
    failsafe = judge(Tracked(21.0, 0.0, "good"), 95.0, 90.0)
    out.append(arbitrate(Decision(False, "recipe", heat), live, Decision(False, "safety", f"failsafe off: "
                                                                         f"air_temperature: {failsafe}"), 1.7e9).reason)
    out.append(arbitrate(Decision(False, "recipe", "no meal running"), live, None, 1.8e9).reason)
    return out


@pytest.mark.parametrize("text", RARE + from_primitives())
def test_every_reason_reads_in_korean(text: str) -> None:
    korean = reasontext.reason(text, "ko", tz=SEOUL)
    assert not reasontext.leftover_english(korean, IDS), korean
    assert not any(w in korean for w in ("True", "False", "e+09"))


def test_floats_are_rounded_and_codes_named_in_english_too() -> None:
    text = "heater off: 17.6 °C, 17.5787 >= off_above 8.46643 (setpoint heating setpoint 8.5 °C, band 1 K)"
    shown = reasontext.reason(text, "en", tz=SEOUL)
    assert "17.6 >= off_above 8.5" in shown
    assert reasontext.reason("failsafe off: air_temperature: stale", "en", tz=SEOUL) == \
        "failsafe off: air temperature: stale"
    assert reasontext.round_number("0.714286") == "0.71"


def test_override_end_is_local_time_from_the_exact_expiry() -> None:
    end = datetime(2026, 1, 15, 14, 5, 30, tzinfo=SEOUL).timestamp()
    override = Override(True, end, "frost check", "kim")
    text = arbitrate(Decision(False, "recipe", "warm enough"), override, None, end - 60).reason
    assert text == "manual override by kim until 2026-01-15T05:05:30Z: frost check", "UTC to the second, not 1.8e+09"
    now = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    assert reasontext.reason(text, "ko", tz=SEOUL, until_s=end, now=now) == "수동 조작 (kim), 14:05까지: frost check"
    assert reasontext.reason(text, "en", tz=SEOUL, until_s=end, now=now) == \
        "manual override by kim until 14:05: frost check"
    assert reasontext.reason(text, "en", tz=SEOUL, now=now) == "manual override by kim until 14:05: frost check"


def test_events_in_korean_and_without_raw_timestamps() -> None:
    message = "2026-01-15T03:07:06.525020+09:00 is before the planting date 2026-11-01"
    assert reasontext.event(message, "ko") == "정식(입식)일 2026-11-01 전"
    assert reasontext.event(message, "en") == "before the planting date 2026-11-01"
    assert reasontext.event("tick failed at 2026-01-15T03:07:06.525020+09:00", "en") == \
        "tick failed at 2026-01-15 03:07:06"
    assert reasontext.event("irrigation started: radiation sum 101 J/cm2 >= 100", "ko") == \
        "관수 시작: 누적 일사 101 J/cm2 >= 100"
