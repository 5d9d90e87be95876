"""Irrigation events by outside radiation sum, with a maximum-off safety net and a soil-moisture trigger.

The sum of outside radiation (J/cm2 = W/m2 · s / 1e4) since the last event triggers the next one at
`radiation_sum_j_cm2` (the industry norm, Lycotec; agronomy.md §1.8); `max_off_min` irrigates anyway after that
long (Link4's safety net, anchors.md), a substrate clearly drier than its setpoint irrigates early, and nothing
starts sooner than `min_off_min` after the last event nor outside the daily `start`-`stop` window. An event
runs `dose_s` seconds through the zone's nutrient node when it has one (with the stage's EC/pH), else through
its irrigation pump; a node whose supply EC or pH left its safe band stops (fertigation.SupplyGuard).

Where the zone reads `drain_pct` (the share of the last event's water that has drained so far), the dose is
steered toward `target_drain_pct`: when the next event starts, the last one's drain is judged (it has had
`min_off_min` to drain) and the dose moves one step (`drain_step_pct` of `dose_s`) up when it drained too
little, down when too much, never beyond ± `drain_adjust_max_pct`. Too little drain salts the slab up, too
much wastes water and fertiliser (agronomy.md §1.8). Without the reading the dose stays `dose_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import model_validator

from farmcore.control.arbitration import Decision
from farmcore.recipe.schema import StrategyTable, param
from farmcore.recipe.timeline import parse_start
from farmctl.strategies import fertigation

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput

RADIATION_SUM_J_CM2 = 100.0  # tomato recipe trigger, derived from hortidaily/farmnmarket (agronomy.md §1.8)
MAX_OFF_MIN = 120.0  # safety-net interval of the crop recipes (Link4 practice) [unverified value]
MIN_OFF_MIN = 20.0  # [engineering choice] lets the slab drain between events
DOSE_S = 120.0  # [engineering choice] until dose_ml_per_plant can be turned into seconds with the emitter flow
START, STOP = "sunrise+01:00", "sunset-02:00"  # window of the crop recipes [unverified there]
SOIL_MARGIN_PCT = 5.0  # irrigate early when soil moisture is this far below its setpoint [engineering choice]
MAX_DT_S = 600.0  # longer gaps add no radiation: what the sun did meanwhile is unknown [engineering choice]
DRAIN_STEP_PCT = 10.0  # [engineering choice] one event's correction: 10 % of the dose moves drain by several points
DRAIN_TOLERANCE_PCT = 5.0  # [engineering choice] drain within target ± 5 points is left alone (growers aim 20-30 %)
DRAIN_ADJUST_MAX_PCT = 50.0  # [engineering choice] the dose stays within dose_s ± 50 %: a bad drain sensor
#                              cannot starve or drown the crop


class IrrigationTable(StrategyTable):
    """`[strategy.irrigation]`."""

    UNUSED = frozenset({"dose_ml_per_plant"})  # needs the emitter flow
    radiation_sum_j_cm2: float = param(RADIATION_SUM_J_CM2, gt=0, le=2000, unit="J/cm²",
                                       en="irrigate each time this much outside radiation has added up",
                                       ko="바깥 누적 일사량이 이만큼 쌓일 때마다 관수합니다")
    max_off_min: float = param(MAX_OFF_MIN, gt=0, le=1440, unit="min",
                               en="safety net: inside the window, irrigate at least this often",
                               ko="안전장치: 관수 시간대 안에서는 적어도 이 간격마다 관수합니다")
    min_off_min: float = param(MIN_OFF_MIN, ge=0, le=1440, unit="min",
                               en="never irrigate again sooner than this after an event",
                               ko="관수한 뒤 이 시간이 지나기 전에는 다시 관수하지 않습니다")
    dose_s: float = param(DOSE_S, gt=0, le=3600, unit="s",
                          en="one event runs the pump or the nutrient node this long",
                          ko="한 번 관수할 때 펌프나 양액기를 이 시간 동안 돌립니다")
    dose_ml_per_plant: float | None = param(
        None, gt=0, le=5000, unit="mL", en="water per plant and event (kept with the recipe: needs the emitter flow)",
        ko="1회 관수 때 포기당 급액량(기록만 됩니다: 점적기 유량을 알아야 씁니다)")
    target_drain_pct: float | None = param(
        None, ge=0, le=100, unit="%", en="target share of drain water: where the zone reads drain_pct, the dose "
        "is adjusted toward it step by step (none: the dose stays dose_s)",
        ko="목표 배액률: 배액률(drain_pct) 센서가 있으면 1회 관수량을 조금씩 조절해 이 값에 맞춥니다"
           "(없으면 dose_s 그대로)")
    drain_step_pct: float = param(DRAIN_STEP_PCT, gt=0, le=50, unit="%",
                                  en="one correction of the dose toward the drain target, in % of dose_s",
                                  ko="목표 배액률에 맞추려고 한 번에 바꾸는 관수 시간(dose_s의 %)")
    drain_tolerance_pct: float = param(DRAIN_TOLERANCE_PCT, ge=0, le=50, unit="%",
                                       en="a drain this close to the target (in points) leaves the dose as it is",
                                       ko="배액률이 목표와 이만큼(%p) 안쪽으로 차이 나면 관수량을 그대로 둡니다")
    drain_adjust_max_pct: float = param(DRAIN_ADJUST_MAX_PCT, ge=0, le=90, unit="%",
                                        en="the adjusted dose stays within dose_s ± this share",
                                        ko="조절한 관수 시간은 dose_s ± 이 비율을 넘지 않습니다")
    start: str = param(START, unit="", day_time=True,
                       en="first event of the day: HH:MM, sunrise±HH:MM or sunset±HH:MM",
                       ko="하루 중 관수를 시작하는 시각: HH:MM, sunrise±HH:MM 또는 sunset±HH:MM")
    stop: str = param(STOP, unit="", day_time=True, en="last event of the day, written as start",
                      ko="하루 중 마지막으로 관수할 수 있는 시각(start와 같은 형식)")

    @model_validator(mode="after")
    def _off_order(self) -> IrrigationTable:
        if {"min_off_min", "max_off_min"} <= self.model_fields_set and self.min_off_min > self.max_off_min:
            raise ValueError(f"min_off_min ({self.min_off_min:g}) must not be above max_off_min "
                             f"({self.max_off_min:g})")
        return self


@dataclass
class Irrigation:
    """Radiation sum since the last event, when that event was, and until when it runs (UTC epoch seconds)."""

    radiation_sum_j_cm2: float = 0.0
    last_event_s: float | None = None
    running_until_s: float | None = None
    dose_factor: float = 1.0  # the dose in force / dose_s, steered by the drain (1 without a drain reading)
    guard: fertigation.SupplyGuard = field(default_factory=fertigation.SupplyGuard)

    def accumulate(self, inp: TickInput) -> None:
        """Add this tick's outside radiation; nothing when it is unknown or the tick gap is too long to trust."""
        radiation = inp.weather.get("solar_radiation")
        if radiation is not None and 0 < inp.dt_s <= MAX_DT_S:
            self.radiation_sum_j_cm2 += max(radiation, 0.0) * inp.dt_s / 1e4

    def trigger(self, inp: TickInput) -> tuple[str | None, str]:
        """(why an event starts now or None, why not); the caller checks no event is running."""
        table = inp.strategy.get("irrigation", {})
        day, zone = inp.local.date(), inp.local.tzinfo
        assert zone is not None
        start = parse_start(table.get("start", START)).resolve(day, zone, inp.sun)
        stop = parse_start(table.get("stop", STOP)).resolve(day, zone, inp.sun)
        if not start <= inp.local <= stop:
            return None, f"outside irrigation window {start:%H:%M}-{stop:%H:%M}"
        since_min = None if self.last_event_s is None else (inp.now_s - self.last_event_s) / 60
        min_off = table.get("min_off_min", MIN_OFF_MIN)
        if since_min is not None and since_min < min_off:
            return None, f"{since_min:.0f} min since last event < min_off {min_off:g} min"
        need = table.get("radiation_sum_j_cm2", RADIATION_SUM_J_CM2)
        if self.radiation_sum_j_cm2 >= need:
            return f"radiation sum {self.radiation_sum_j_cm2:.0f} J/cm2 >= {need:g}", ""
        max_off = table.get("max_off_min", MAX_OFF_MIN)
        if since_min is None or since_min >= max_off:
            ago = "no earlier event" if since_min is None else f"{since_min:.0f} min since last event"
            return f"max_off {max_off:g} min reached ({ago})", ""
        moisture, target = inp.readings.get("soil_moisture"), inp.setpoints.get("soil_moisture")
        if moisture is not None and target is not None and moisture < target - SOIL_MARGIN_PCT:
            return f"soil moisture {moisture:.0f} % < setpoint {target:g} - {SOIL_MARGIN_PCT:g}", ""
        return None, f"radiation sum {self.radiation_sum_j_cm2:.0f}/{need:g} J/cm2, {since_min:.0f} min since last"

    def steer_dose(self, inp: TickInput) -> str:
        """Move the dose one step toward the drain target, judged on the last event's drain; why, or ""."""
        table = inp.strategy.get("irrigation", {})
        target, drain = table.get("target_drain_pct"), inp.readings.get("drain_pct")
        if target is None or drain is None or self.last_event_s is None:
            return ""  # no target, no sensor, or no event of ours the reading could be about
        tolerance = table.get("drain_tolerance_pct", DRAIN_TOLERANCE_PCT)
        step = table.get("drain_step_pct", DRAIN_STEP_PCT) / 100
        span = table.get("drain_adjust_max_pct", DRAIN_ADJUST_MAX_PCT) / 100
        if drain < target - tolerance:
            factor, how = min(self.dose_factor + step, 1 + span), "too little"
        elif drain > target + tolerance:
            factor, how = max(self.dose_factor - step, 1 - span), "too much"
        else:
            return f"drain {drain:.0f} % within target {target:g} ± {tolerance:g}"
        factor = round(factor, 3)  # steps of whole percent: no float drift in the state
        held = "" if factor != self.dose_factor else f", held at the ± {span:.0%} limit"
        self.dose_factor = factor
        return f"drain {drain:.0f} % vs target {target:g} ± {tolerance:g} ({how}): dose {factor:.0%} of dose_s{held}"

    def decide(self, inp: TickInput, pumps: list[ActuatorView], nodes: list[ActuatorView], out: TickOutput) -> None:
        """Decisions for the zone's pumps and nutrient nodes, run times and EC/pH for a starting event."""
        if not pumps and not nodes:
            return
        via = nodes or pumps
        params = fertigation.supply_params(inp.setpoints) if nodes else {}
        if nodes and self._stopped(inp, pumps, nodes, out):
            return
        if self.running_until_s is not None and inp.now_s < self.running_until_s:
            left = self.running_until_s - inp.now_s
            on, reason = True, f"irrigation running, {left:.0f} s of the dose left"
        else:
            self.running_until_s = None
            why, why_not = self.trigger(inp)
            if why is None:
                on, reason = False, f"no irrigation: {why_not}"
            else:
                steered = self.steer_dose(inp)
                dose = round(float(inp.strategy.get("irrigation", {}).get("dose_s", DOSE_S)) * self.dose_factor, 1)
                self.radiation_sum_j_cm2, self.last_event_s = 0.0, inp.now_s
                self.running_until_s = inp.now_s + dose
                supply = f" ({fertigation.describe(params)})" if nodes else ""
                steered = f"; {steered}" if steered else ""
                on, reason = True, f"irrigation started for {dose:g} s{supply}: {why}{steered}"
                out.events.append(f"irrigation started: {why}")
                for view in via:
                    out.run_s[view.id] = dose
                    if params:
                        out.params[view.id] = dict(params)
        out.trace["irrigation_dose_pct"] = 100 * self.dose_factor  # the drain steering's share of dose_s
        for view in via:
            out.decisions[view.id] = Decision(on, "recipe", reason)
        if nodes:
            for view in pumps:
                out.decisions[view.id] = Decision(False, "recipe", "pump off: irrigation goes through the "
                                                  f"nutrient node {nodes[0].id}")

    def _stopped(self, inp: TickInput, pumps: list[ActuatorView], nodes: list[ActuatorView], out: TickOutput) -> bool:
        """Everything off while the supply is out of its safe band (the runtime raises the stop's alarm)."""
        stop, event = self.guard.judge(inp)
        if event:
            out.events.append(event)
        if stop is None:
            return False
        self.running_until_s = None  # a running event ends now
        for view in nodes:
            out.decisions[view.id] = Decision(False, "recipe", f"fertigation stopped: supply {stop} outside its "
                                              "safe band; stays off until the node measures it inside again")
            out.stops[view.id] = stop
        for view in pumps:
            out.decisions[view.id] = Decision(False, "recipe", f"pump off: the nutrient node {nodes[0].id} is "
                                              f"stopped ({stop})")
        return True

    def state(self) -> dict[str, Any]:
        return {"radiation_sum_j_cm2": self.radiation_sum_j_cm2, "last_irrigation_s": self.last_event_s,
                "irrigation_until_s": self.running_until_s, "irrigation_dose_factor": self.dose_factor,
                **self.guard.state()}

    def restore(self, state: dict[str, Any]) -> None:
        self.radiation_sum_j_cm2 = float(state.get("radiation_sum_j_cm2", 0.0))
        self.last_event_s = state.get("last_irrigation_s")
        self.running_until_s = state.get("irrigation_until_s")
        self.dose_factor = float(state.get("irrigation_dose_factor", 1.0))
        self.guard.restore(state)
