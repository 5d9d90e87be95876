"""Fertigation safety and irrigation toward the drain target (issue 16 item 6): a supply whose EC or pH leaves
its safe band stops with an alarm that reaches the zone's alarm book; the dose steps toward the drain target
where a drain reading exists (farmctl/strategies/fertigation.py, irrigation.py, farmcore/alarms.py,
farmcore/runtime/alarming.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import farmcore.twin
from farmcore.alarms import AlarmBook, AlarmKind, standard_rules
from farmcore.runtime.alarming import Seen, observe_zone
from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
from farmcore.runtime.zone import RunState, ZoneConfig, ZoneRunner
from farmcore.site import load_site
from farmctl.controller import GreenhouseController
from farmctl.strategies import fertigation
from farmctl.strategies.irrigation import Irrigation

TZ = ZoneInfo("Asia/Seoul")
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=TZ)
SITE = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-demo.toml"
NODE = ActuatorView("n", "fertigation", "nutrient", False)
PUMP = ActuatorView("p", "irrigation_pump", "switch", False)
SUPPLY = {"ec": 3.0, "ph": 5.8}


def tin(local: datetime, readings: dict[str, float], strategy: dict[str, Any] | None = None,
        actuators: tuple[ActuatorView, ...] = ()) -> TickInput:
    sun = (local.replace(hour=6, minute=30), local.replace(hour=18, minute=30))
    return TickInput(local.timestamp(), local.astimezone(ZoneInfo("UTC")), local, 30.0, readings, {},
                     {"solar_radiation": 0.0}, dict(SUPPLY), strategy or {}, sun, {a.id: a for a in actuators})


def decide(irr: Irrigation, local: datetime, readings: dict[str, float], strategy: dict[str, Any] | None = None,
           pumps: tuple[ActuatorView, ...] = (PUMP,)) -> TickOutput:
    out = TickOutput()
    irr.decide(tin(local, readings, strategy), list(pumps), [NODE], out)
    return out


# ------------------------------------------------------------------------------------------- fertigation


def test_ec_out_of_band_stops_fertigation_and_the_pump_and_says_why():
    irr = Irrigation(radiation_sum_j_cm2=500.0)
    assert decide(irr, NOON, {"ec": 3.1, "ph": 5.9}).decisions["n"].target is True  # an event starts
    first = decide(irr, NOON + timedelta(seconds=30), {"ec": 4.2, "ph": 5.9})
    assert first.decisions["n"].target is True and not first.stops, "30 s to confirm: a node mixing is no fault"
    out = decide(irr, NOON + timedelta(seconds=60), {"ec": 4.3, "ph": 5.9})
    assert out.decisions["n"].target is False and out.decisions["p"].target is False
    assert out.stops == {"n": "EC 4.30 > 3.5 dS/m"}  # default band: target 3.0 ± 0.5
    assert "fertigation stopped" in out.decisions["n"].reason and out.events == [
        "fertigation stopped: supply EC 4.30 > 3.5 dS/m (safe band)"]


def test_the_stop_holds_while_the_node_measures_nothing_and_survives_a_restart():
    irr = Irrigation(radiation_sum_j_cm2=500.0)
    for s in (0, 30):
        decide(irr, NOON + timedelta(seconds=s), {"ph": 3.9}, {"fertigation": {"ph_min": 4.5}})
    again = Irrigation()
    again.restore(json.loads(json.dumps(irr.state())))
    later = decide(again, NOON + timedelta(hours=2), {})  # idle between supplies, radiation sum reached
    assert later.decisions["n"].target is False and later.stops == {"n": "pH 3.90 < 4.5"}
    back = decide(again, NOON + timedelta(hours=2, minutes=1), {"ph": 5.8, "ec": 3.0},
                  {"fertigation": {"ph_min": 4.5}})
    assert not back.stops and back.events[0].startswith("fertigation may run again")


def test_a_reading_just_inside_the_band_does_not_clear_a_stop():
    guard = fertigation.SupplyGuard(stop="EC 4.3 > 3.5 dS/m", stopped_by=["ec"])
    stop, _ = guard.judge(tin(NOON, {"ec": 3.45}))
    assert stop is not None, "back inside by the 0.1 dS/m deadband before it clears"
    assert guard.judge(tin(NOON, {"ec": 3.3}))[0] is None


def test_in_band_supply_is_never_stopped():
    irr = Irrigation(radiation_sum_j_cm2=500.0)
    for s in range(0, 600, 30):
        out = decide(irr, NOON + timedelta(seconds=s), {"ec": 3.4, "ph": 5.0})
        assert not out.stops


def test_a_band_without_a_target_or_recipe_bound_checks_nothing():
    assert fertigation.band("ec", {}, {}) == (None, None)
    assert fertigation.band("ph", {"ph_max": 7.0}, {"ph": 5.8}) == (4.8, 7.0)


def zone_runner() -> ZoneRunner:
    site = load_site(SITE)
    zone = site.zones[0]
    config = ZoneConfig.build(site, zone, 0.0)
    return ZoneRunner(config, RunState(GreenhouseController(), AlarmBook(zone.id, standard_rules(zone)), None))


def test_the_stop_alarm_reaches_the_zones_alarm_book_and_clears_when_the_supply_is_good():
    runner = zone_runner()
    zone = runner.zone
    assert zone.id == "gh1" and any(a.role == "fertigation" for a in zone.actuators)
    views = tuple(ActuatorView(a.id, a.role, runner.kinds[a.id], False)  # type: ignore[arg-type]
                  for a in zone.actuators if a.role in ("fertigation", "irrigation_pump"))
    controller = runner.run.controller
    seen = Seen({}, {}, None)
    strategy = {"irrigation": {"radiation_sum_j_cm2": 1.0}, "fertigation": {"ec_max": 3.3}}

    def tick(at: datetime, readings: dict[str, float]) -> list[Any]:
        out = controller.tick(tin(at, {"air_temperature": 15.0, **readings}, strategy, views))
        runner.run.stops = out.stops  # as the daemon's tick does
        return observe_zone(runner, seen, at.timestamp())

    assert not tick(NOON, {"ec": 3.4})
    events = tick(NOON + timedelta(seconds=30), {"ec": 3.4})
    raised = [e for e in events if e.kind == "raised"]
    assert [e.alarm.id for e in raised] == ["controller_stop:fertigation"]
    alarm = raised[0].alarm
    assert alarm.kind == AlarmKind.CONTROLLER_STOP and alarm.severity == "critical"
    assert "EC 3.40 > 3.3 dS/m" in alarm.message_en and "공급 중지" in alarm.message_ko
    assert not [e for e in tick(NOON + timedelta(minutes=30), {}) if e.kind == "cleared"], "no reading: still stopped"
    cleared = [e for e in tick(NOON + timedelta(minutes=31), {"ec": 3.0, "ph": 5.8}) if e.kind == "cleared"]
    assert [e.alarm.id for e in cleared] == ["controller_stop:fertigation"]


def test_only_zones_with_a_nutrient_node_get_the_stop_alarm():
    site = load_site(SITE)
    for zone in site.zones:
        ids = {r.id for r in standard_rules(zone)}
        nodes = [a.id for a in zone.actuators if a.role == "fertigation"]
        assert {i for i in ids if i.startswith("controller_stop:")} == {f"controller_stop:{n}" for n in nodes}


# ------------------------------------------------------------------------------------------------- drain

DRAIN = {"irrigation": {"target_drain_pct": 25, "dose_s": 100, "min_off_min": 20, "max_off_min": 30}}


def events_with_drain(irr: Irrigation, drains: list[float | None], strategy: dict[str, Any] = DRAIN) -> list[float]:
    """One event each 30 min (max_off); before each, the drain reading of the event before; the doses."""
    doses = []
    for n, drain in enumerate(drains):
        readings = {} if drain is None else {"drain_pct": drain}
        out = TickOutput()
        irr.decide(tin(NOON.replace(hour=8) + timedelta(minutes=30 * n), readings, strategy), [PUMP], [], out)
        doses.append(out.run_s["p"])
    return doses


def test_too_little_drain_raises_the_dose_step_by_step_within_its_limit():
    doses = events_with_drain(Irrigation(), [5.0] * 8)
    assert doses == [100, 110, 120, 130, 140, 150, 150, 150]


def test_too_much_drain_lowers_the_dose_and_on_target_holds_it():
    assert events_with_drain(Irrigation(), [None, 60.0, 60.0, 27.0, 23.0]) == [100, 90, 80, 80, 80]


def test_without_a_drain_reading_or_target_the_dose_stays():
    assert events_with_drain(Irrigation(), [None] * 4) == [DRAIN["irrigation"]["dose_s"]] * 4
    plain = {"irrigation": {k: v for k, v in DRAIN["irrigation"].items() if k != "target_drain_pct"}}
    assert events_with_drain(Irrigation(), [5.0] * 4, plain) == [100] * 4


def test_the_steered_dose_says_why_and_survives_a_restart():
    irr = Irrigation()
    events_with_drain(irr, [None, 5.0])
    again = Irrigation()
    again.restore(json.loads(json.dumps(irr.state())))
    assert again.dose_factor == 1.1
    out = TickOutput()
    again.decide(tin(NOON.replace(hour=10), {"drain_pct": 8.0}, DRAIN), [PUMP], [], out)
    assert out.run_s == {"p": 120} and "drain 8 % vs target 25 ± 5 (too little): dose 120% of dose_s" in \
        out.decisions["p"].reason
    assert out.trace["irrigation_dose_pct"] == 120  # for the historian's graphs
