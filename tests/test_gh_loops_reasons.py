"""The reasons and events of the heater start limit, the hot-water loop, the water curtain, the drain steering
and the fertigation stop read in Korean in the live view (farmcore/runtime/reasons_ko.py): real reasons from
the strategies, checked as tests/test_reasontext.py checks the others."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from farmcore.runtime import reasontext
from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
from farmctl.strategies import heating, heatloop
from farmctl.strategies.irrigation import Irrigation
from farmctl.strategies.watercurtain import WaterCurtain

TZ = ZoneInfo("Asia/Seoul")
T0 = datetime(2026, 1, 10, 1, 0, tzinfo=TZ)
IDS = {"h", "b", "mv", "wc", "n", "p"}


def tick(at: datetime, readings: dict[str, float], weather: dict[str, float] | None = None,
         strategy: dict | None = None) -> TickInput:
    sun = (at.replace(hour=7, minute=30), at.replace(hour=17, minute=30))
    return TickInput(at.timestamp(), at.astimezone(ZoneInfo("UTC")), at, 30.0, readings, {}, weather or {},
                     {"air_temperature": 18.0, "ec": 3.0, "ph": 5.8}, strategy or {}, sun, {})


def reasons() -> tuple[list[str], list[str]]:
    out: list[str] = []
    events: list[str] = []
    heaters, plan = heating.Heaters(), heating.plan(18.0, "heating setpoint 18.0 °C")
    on = False
    for n in range(120):  # a heater that would cycle every few minutes meets its start limit
        t = 17.0 if n % 8 < 4 else 19.0
        d = heaters.decide(tick(T0 + timedelta(seconds=30 * n), {"air_temperature": t}),
                           ActuatorView("h", "heater", "switch", on), plan)
        assert d is not None
        out.append(d.reason)
        on = bool(d.target)
    assert any("start held" in r for r in out)
    loop = heatloop.HeatLoop()
    for n, (air, pipe, dehum) in enumerate([(17.0, 30.0, False), (17.0, 75.0, False), (17.9, 60.0, False),
                                            (18.8, 50.0, False), (19.0, 30.0, True)]):
        res = TickOutput()
        loop.decide(tick(T0 + timedelta(minutes=n), {"air_temperature": air, "pipe_temperature": pipe}),
                    plan, dehum, [ActuatorView("b", "boiler", "switch", None)],
                    [ActuatorView("mv", "mixing_valve", "retractable", 50.0, position=50.0)], res)
        out += [d.reason for d in res.decisions.values()]
    curtain = WaterCurtain()
    for at, outside, ground in [(T0, 2.0, 15.0), (T0.replace(hour=2), 0.0, 1.0), (T0.replace(hour=3), 1.0, None),
                                (T0.replace(hour=12), -2.0, 15.0)]:
        readings = {} if ground is None else {"groundwater_temperature": ground}
        d = curtain.decide(tick(at, readings, {"air_temperature": outside}), ActuatorView("wc", "water_curtain",
                                                                                            "switch", None))
        assert d is not None
        out.append(d.reason)
    irr = Irrigation(radiation_sum_j_cm2=500.0, last_event_s=T0.timestamp() - 3600)
    node = ActuatorView("n", "fertigation", "nutrient", False)
    pump = ActuatorView("p", "irrigation_pump", "switch", False)
    strategy = {"irrigation": {"target_drain_pct": 25, "start": "00:00", "stop": "23:59"}}
    noon = T0.replace(hour=12)
    for n, readings in enumerate([{"drain_pct": 60.0}, {"ec": 4.4}, {"ec": 4.4}, {"ec": 3.0, "ph": 5.8}]):
        res = TickOutput()
        irr.decide(tick(noon + timedelta(seconds=40 * n), readings, strategy=strategy), [pump], [node], res)
        out += [d.reason for d in res.decisions.values()]
        events += res.events
    assert any("drain 60 %" in r for r in out) and any("fertigation stopped" in r for r in out)
    return out, events


def test_the_loops_reasons_and_events_read_in_korean():
    texts, events = reasons()
    left = {r: words for r in texts if (words := reasontext.leftover_english(reasontext.reason(r, "ko", tz=TZ),
                                                                              IDS))}
    assert not left
    assert len(events) == 3  # irrigation started, fertigation stopped, may run again
    left = {m: words for m in events if (words := reasontext.leftover_english(reasontext.event(m, "ko"), IDS))}
    assert not left
