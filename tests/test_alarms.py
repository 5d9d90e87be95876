"""The alarm book: delays, hysteresis, acknowledgement, chatter, persistence and the standard rule set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from farmcore.alarms import (
    AlarmBook,
    AlarmKind,
    AlarmRule,
    LimitRule,
    Severity,
    iso_utc,
    site_rules,
    standard_rules,
)
from farmcore.site import load_site

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DEMO_SITE = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"

STALE = AlarmRule("stale_data:air_temperature", AlarmKind.STALE_DATA, Severity.WARNING, raise_delay_s=30,
                  clear_delay_s=60, subject="air_temperature", min_repeat_s=0,
                  message_ko="{quantity} 측정값 불량: {value}", message_en="{quantity} reading bad: {value}")
DO = LimitRule("limit:dissolved_oxygen", "dissolved_oxygen", low=4.0, high=15.0, deadband=0.5,
               severity=Severity.CRITICAL, raise_delay_s=30, clear_delay_s=60, min_repeat_s=0)
INFO = AlarmRule("note", AlarmKind.GENERIC, Severity.INFO, min_repeat_s=0)


def book(*rules) -> AlarmBook:
    return AlarmBook("tank1", list(rules or (STALE, DO, INFO)))


def kinds(events) -> list[str]:
    return [e.kind for e in events]


def test_raises_only_after_the_condition_held_for_the_raise_delay():
    b = book()
    assert b.observe(STALE.id, True, T0) == []
    assert b.observe(STALE.id, True, T0 + 29) == []
    events = b.observe(STALE.id, True, T0 + 30, "stale: 40 s")
    assert kinds(events) == ["raised"]
    assert events[0].alarm.raised_at == T0 + 30 and b.get(STALE.id).active


def test_a_condition_that_goes_away_before_the_delay_resets_the_timer():
    b = book()
    b.observe(STALE.id, True, T0)
    b.observe(STALE.id, False, T0 + 20)
    assert b.observe(STALE.id, True, T0 + 40) == []
    assert b.observe(STALE.id, True, T0 + 69) == []
    assert kinds(b.observe(STALE.id, True, T0 + 70)) == ["raised"]


def test_clears_only_after_the_condition_was_gone_for_the_clear_delay():
    b = book()
    b.observe(STALE.id, True, T0)
    b.observe(STALE.id, True, T0 + 30)
    assert b.observe(STALE.id, False, T0 + 40) == []
    assert b.observe(STALE.id, True, T0 + 50) == [], "a blip back into the condition restarts the clear delay"
    assert b.observe(STALE.id, False, T0 + 60) == []
    assert b.observe(STALE.id, False, T0 + 119) == []
    events = b.observe(STALE.id, False, T0 + 120)
    assert kinds(events) == ["cleared"] and events[0].alarm.cleared_at == T0 + 120


def test_limit_low_raises_after_the_delay_and_holds_inside_the_deadband():
    b = book()
    assert b.observe_value(DO.id, 3.9, T0) == []
    events = b.observe_value(DO.id, 3.8, T0 + 30)
    assert kinds(events) == ["raised"] and events[0].alarm.id == "limit:dissolved_oxygen:low"
    for n, v in enumerate([4.1, 3.95, 4.4, 4.5, 4.2]):  # above the limit, but not above limit + deadband
        assert b.observe_value(DO.id, v, T0 + 100 + n * 60) == []
    assert b.get("limit:dissolved_oxygen:low").active
    b.observe_value(DO.id, 4.6, T0 + 500)
    assert kinds(b.observe_value(DO.id, 4.7, T0 + 560)) == ["cleared"]


def test_limit_wobbling_on_the_threshold_does_not_chatter():
    b = book()
    events = []
    for n in range(100):  # 3.95 / 4.05 around the low limit of 4, every 10 s
        events += b.observe_value(DO.id, 3.95 if n % 2 == 0 else 4.05, T0 + n * 10)
    assert kinds(events) == ["raised"], "latched by the deadband: one raise, no clears"


def test_limit_high_side_and_deadband():
    b = book()
    b.observe_value(DO.id, 15.5, T0)
    assert kinds(b.observe_value(DO.id, 15.2, T0 + 30)) == ["raised"]
    b.observe_value(DO.id, 14.6, T0 + 40)  # below high, inside the deadband: still in the condition
    assert b.observe_value(DO.id, 14.6, T0 + 200) == []
    b.observe_value(DO.id, 14.4, T0 + 210)
    assert kinds(b.observe_value(DO.id, 14.0, T0 + 270)) == ["cleared"]
    assert b.get("limit:dissolved_oxygen:low") is None


def test_a_bad_reading_neither_raises_nor_clears_a_limit():
    b = book()
    b.observe_value(DO.id, 3.0, T0)
    assert b.observe_value(DO.id, None, T0 + 30) == []
    assert b.observe_value(DO.id, float("nan"), T0 + 31) == []
    assert kinds(b.observe_value(DO.id, 3.0, T0 + 32)) == ["raised"]


def test_ack_by_id_and_unknown_or_inactive_ids_are_refused():
    b = book()
    b.observe(STALE.id, True, T0)
    b.observe(STALE.id, True, T0 + 30)
    event, why = b.ack("nope", "kim", T0 + 40)
    assert event is None and "unknown" in why
    event, why = b.ack("limit:dissolved_oxygen:low", "kim", T0 + 40)
    assert event is None and "not active" in why
    event, why = b.ack(STALE.id, "kim", T0 + 40)
    assert why == "" and event.kind == "acked" and event.alarm.acked_by == "kim"
    assert event.alarm.to_dict()["acked_at"] == iso_utc(T0 + 40)
    again, why = b.ack(STALE.id, "lee", T0 + 41)
    assert again is None and "already acknowledged by kim" in why


def test_ack_silences_but_does_not_clear():
    b = book()
    b.observe(STALE.id, True, T0)
    b.observe(STALE.id, True, T0 + 30)
    b.ack(STALE.id, "kim", T0 + 40)
    alarm = b.get(STALE.id)
    assert alarm.active and alarm.status == "acknowledged"
    assert [a.id for a in b.active()] == [STALE.id]
    b.observe(STALE.id, False, T0 + 50)
    assert kinds(b.observe(STALE.id, False, T0 + 110)) == ["cleared"]
    assert b.active() == [], "acknowledged and cleared: off the list"


def test_return_to_normal_unacknowledged_stays_listed_until_acked():
    b = book()
    b.observe_value(DO.id, 3.0, T0)
    b.observe_value(DO.id, 3.0, T0 + 30)
    b.observe_value(DO.id, 6.0, T0 + 40)
    assert kinds(b.observe_value(DO.id, 6.0, T0 + 100)) == ["cleared"]
    listed = b.to_list()
    assert [(a["id"], a["status"], a["active"]) for a in listed] == [
        ("limit:dissolved_oxygen:low", "cleared_unacknowledged", False)]
    event, _ = b.ack("limit:dissolved_oxygen:low", "officer", T0 + 3600)
    assert event.kind == "acked" and b.active() == []


def test_info_alarms_leave_the_list_when_they_clear():
    b = book()
    b.observe(INFO.id, True, T0)
    assert [a.id for a in b.active()] == ["note"]
    b.observe(INFO.id, False, T0 + 1)
    assert b.active() == []


def test_a_new_occurrence_needs_a_new_acknowledgement():
    b = book()
    b.observe(INFO.id, True, T0)
    b.ack("note", "kim", T0 + 1)
    b.observe(INFO.id, False, T0 + 2)
    b.observe(INFO.id, True, T0 + 3)
    assert not b.get("note").acked and b.get("note").status == "unacknowledged"


def test_chattering_is_counted_not_re_raised_and_the_stream_stays_consistent():
    rule = AlarmRule("feedback_mismatch:aerator_1", AlarmKind.FEEDBACK_MISMATCH, Severity.CRITICAL,
                     min_repeat_s=600)
    b = book(rule)
    events = []
    for n in range(20):  # flips every 10 s for 200 s
        events += b.observe(rule.id, n % 2 == 0, T0 + n * 10)
    assert kinds(events) == ["raised", "cleared"]
    assert b.get(rule.id).repeats == 9
    events = b.observe(rule.id, True, T0 + 300)
    assert events == [] and b.get(rule.id).repeats == 10 and b.get(rule.id).active
    assert [a.id for a in b.active()] == [rule.id], "the retained list still shows the truth"
    events = b.observe(rule.id, True, T0 + 600)  # still active when the window ends: announced now
    assert kinds(events) == ["raised"] and events[0].alarm.repeats == 10
    assert kinds(b.observe(rule.id, False, T0 + 610)) == ["cleared"]


def test_after_the_repeat_window_a_re_raise_is_announced_again():
    rule = AlarmRule("x", AlarmKind.GENERIC, Severity.WARNING, min_repeat_s=600)
    b = book(rule)
    assert kinds(b.observe("x", True, T0)) == ["raised"]
    assert kinds(b.observe("x", False, T0 + 10)) == ["cleared"]
    events = b.observe("x", True, T0 + 700)
    assert kinds(events) == ["raised"] and events[0].alarm.repeats == 0 and events[0].alarm.raised_at == T0 + 700


def test_events_are_snapshots():
    b = book(INFO)
    (raised,) = b.observe(INFO.id, True, T0)
    b.observe(INFO.id, False, T0 + 1)
    assert raised.alarm.active and raised.alarm.cleared_at is None
    assert raised.to_dict()["type"] == "alarm_raised"


def test_active_sorted_by_severity_then_oldest_first():
    warn2 = AlarmRule("w2", AlarmKind.GENERIC, Severity.WARNING)
    crit = AlarmRule("c", AlarmKind.GENERIC, Severity.CRITICAL)
    warn1 = AlarmRule("w1", AlarmKind.GENERIC, Severity.WARNING)
    b = book(warn2, crit, warn1, INFO)
    b.observe("note", True, T0)
    b.observe("w1", True, T0 + 1)
    b.observe("w2", True, T0 + 2)
    b.observe("c", True, T0 + 3)
    assert [a.id for a in b.active()] == ["c", "w1", "w2", "note"]


def test_messages_in_korean_and_english():
    b = book()
    b.observe_value(DO.id, 3.2, T0)
    b.observe_value(DO.id, 3.2, T0 + 30)
    msg = b.to_list()[0]["message"]
    assert "용존산소" in msg["ko"] and "하한" in msg["ko"] and "3.2" in msg["ko"] and "4" in msg["ko"]
    assert msg["en"] == "dissolved_oxygen beyond low limit: 3.2 < 4"
    b.observe(STALE.id, True, T0)
    b.observe(STALE.id, True, T0 + 30, "stale: 45 s")
    stale = b.get(STALE.id)
    assert stale.message_ko == "실내 온도 측정값 불량: stale: 45 s"
    assert stale.message_en == "air_temperature reading bad: stale: 45 s"


def test_to_dict_is_json_with_iso_utc_times():
    b = book()
    b.observe(INFO.id, True, T0 + 0.4)
    d = b.to_list()[0]
    json.dumps(d)
    assert d["raised_at"] == "2026-01-01T00:00:00Z" and d["cleared_at"] is None
    assert d["kind"] == "generic" and d["severity"] == "info" and d["zone"] == "tank1"
    assert iso_utc(None) is None


def test_state_round_trip_keeps_alarms_acks_and_repeats():
    b = book()
    b.observe_value(DO.id, 3.0, T0)
    b.observe_value(DO.id, 3.0, T0 + 30)
    b.ack("limit:dissolved_oxygen:low", "kim", T0 + 40)
    b.observe(STALE.id, True, T0)
    b.observe(STALE.id, True, T0 + 30)
    b.observe(STALE.id, False, T0 + 40)
    b.observe(STALE.id, False, T0 + 100)  # cleared, unacknowledged
    saved = json.loads(json.dumps(b.state()))
    fresh = book()
    fresh.restore(saved, T0 + 200)
    assert fresh.to_list() == b.to_list()
    assert fresh.get("limit:dissolved_oxygen:low").active
    # a restored active alarm clears only after a full clear delay of good data, with one event
    assert fresh.observe_value(DO.id, 6.0, T0 + 210) == []
    assert kinds(fresh.observe_value(DO.id, 6.0, T0 + 270)) == ["cleared"]
    # and stays latched by the deadband after the restart
    fresh2 = book()
    fresh2.restore(saved, T0 + 200)
    assert fresh2.observe_value(DO.id, 4.3, T0 + 400) == []
    assert fresh2.get("limit:dissolved_oxygen:low").active


def test_restore_drops_alarms_of_rules_that_are_gone():
    b = book()
    b.observe(INFO.id, True, T0)
    fresh = book(STALE)
    fresh.restore(b.state(), T0 + 10)
    assert fresh.active() == []


def test_unknown_or_mismatched_rule_ids_are_programming_errors():
    b = book()
    with pytest.raises(KeyError):
        b.observe("nope", True, T0)
    with pytest.raises(KeyError):
        b.observe(DO.id, True, T0)
    with pytest.raises(KeyError):
        b.observe_value(STALE.id, 1.0, T0)
    with pytest.raises(ValueError, match="twice"):
        AlarmBook("z", [INFO, INFO])
    with pytest.raises(ValueError, match="neither"):
        LimitRule("limit:x", "x")


def test_set_rules_drops_alarms_of_removed_rules():
    b = book()
    b.observe(INFO.id, True, T0)
    b.set_rules([STALE, DO])
    assert b.active() == [] and b.get("note") is None


@pytest.fixture(scope="module")
def demo():
    return {z.id: z for z in load_site(DEMO_SITE).zones}


def test_standard_rules_for_a_greenhouse(demo):
    rules = {r.id: r for r in standard_rules(demo["gh1"])}
    assert rules["stale_data:air_temperature"].severity == Severity.CRITICAL
    assert rules["stale_data:par"].severity == Severity.WARNING
    assert {"comm_lost:greenhouses:11", "comm_lost:greenhouses:12", "comm_lost:greenhouses:13"} <= set(rules)
    air = rules["limit:air_temperature"]
    assert (air.low, air.high, air.deadband, air.severity) == (5, 32, 1.0, Severity.CRITICAL)
    co2 = rules["limit:co2"]
    assert co2.low is None and co2.high == 1500, "a minimum of 0 ppm is no alarm"
    assert rules["feedback_mismatch:heater"].severity == Severity.CRITICAL
    assert rules["feedback_mismatch:lamps"].severity == Severity.WARNING
    assert "backup_engaged" not in rules
    AlarmBook("gh1", list(rules.values()))  # ids are unique


def test_standard_rules_for_a_tank(demo):
    rules = {r.id: r for r in standard_rules(demo["tank1"])}
    assert {"stale_data:aerator_1_current", "stale_data:aerator_3_current", "stale_data:dissolved_oxygen"} <= set(rules)
    assert rules["stale_data:dissolved_oxygen"].raise_delay_s == 0
    do = rules["limit:dissolved_oxygen"]
    assert do.low == 5.0 and do.high is None and do.severity == Severity.CRITICAL  # the fish recipes' minimum
    assert rules["feedback_mismatch:aerator_2"].severity == Severity.CRITICAL
    assert rules["backup_engaged"].kind == AlarmKind.BACKUP_ENGAGED
    assert {"comm_lost:tanks:41", "comm_lost:tanks:42", "comm_lost:tanks:43"} <= set(rules)
    b = AlarmBook("tank1", list(rules.values()))
    b.observe_value("limit:dissolved_oxygen", 3.0, T0)
    (raised,) = b.observe_value("limit:dissolved_oxygen", 3.0, T0 + 30)
    assert raised.alarm.message_ko.startswith("용존산소 하한")


def test_every_demo_zone_gets_stale_comm_and_feedback_rules_with_both_languages(demo):
    for zone in demo.values():
        rules = standard_rules(zone)
        kinds_ = {r.kind for r in rules}
        assert {AlarmKind.STALE_DATA, AlarmKind.COMM_LOST, AlarmKind.FEEDBACK_MISMATCH,
                AlarmKind.LIMIT_EXCEEDED} <= kinds_, zone.id
        for rule in rules:
            assert rule.message_ko and rule.message_en
            assert rule.raise_delay_s >= 0 and rule.clear_delay_s >= 0


def test_site_rules_follow_the_spool_events():
    b = AlarmBook("site", site_rules())
    (raised,) = b.observe("spool_nearly_full", True, T0, "82 % of 256 MiB")
    assert raised.alarm.kind == AlarmKind.SPOOL_NEARLY_FULL and "82 %" in raised.alarm.message_en
    assert kinds(b.observe("spool_nearly_full", False, T0 + 10)) == ["cleared"]
    assert b.to_list()[0]["status"] == "cleared_unacknowledged"
