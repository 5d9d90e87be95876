"""Water exchange: the exchange pump always supplies the tank, except when the pump itself would run dry.

A flow-through tank lives on its exchange water (oxygen, heat, flushing of ammonia: twin `flounder-10m3`
turns the tank over 14 times a day), so the pump is on by default, as its failsafe is [engineering choice: no
duty cycle toward `exchange_pct_per_day` yet, which would need the pump's flow].

The dry-run guard (anchors.md: reef-pi ATO dry run) watches what the pump draws from, never the tank it feeds:
a low tank level means water is leaving (a leak, a blocked or open drain, evaporation) and stopping the inflow
then would cut the fish's oxygen supply and drain the tank further (issue 14 item 12). So:

- the source sump (reading `sump_level`, a site sensor with `source = "sump_level"`): the pump is off while
  it is below `min_sump_level_pct` (on again LEVEL_BAND_PCT above it);
- the pump's own flow (reading `flow`): off for DRY_RETRY_MIN when it has run for FLOW_CHECK_S and shows less
  than `min_flow_l_min` (a pump that moves no water supplies nothing, and burns if left on); then tried again;
- the tank's own level (reading `water_level`) below `low_level_pct`: an event once (and back), the pump
  kept on; the site's `hard_limits.water_level` turns it into an alarm.

Without a sump or flow sensor that check is skipped; a sump or flow sensor that is there but bad gives no
decision (the runtime's failsafe, on, applies). A bad tank-level reading changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aquactl.strategies.temperature import BAND_K, MIN_CYCLE_MIN
from farmcore.control.arbitration import Decision
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput

SUMP_KEY = "sump_level"  # the reading of the source sump (a site sensor's `source`)
MIN_SUMP_LEVEL_PCT = 30.0  # [engineering choice] the pump's suction must stay covered
LOW_LEVEL_PCT = 80.0  # tank level worth an event [engineering choice]; the fish recipes say the same
LEVEL_BAND_PCT = 2.0  # back on this far above the minimum, against chatter on ripples [engineering choice]
MIN_FLOW_L_MIN = 1.0  # [engineering choice] a running pump showing less is dry or blocked
FLOW_CHECK_S = 60.0  # a started pump has this long to show its flow (the brief; priming) [engineering choice]
DRY_RETRY_MIN = 30.0  # off this long after a dry-run trip, then tried again [engineering choice]
MAX_FLOW_L_MIN = 10000.0  # highest flow threshold a recipe may set: 10 m3/min, above any farm pump [engineering choice]


class WaterTable(StrategyTable):
    """`[strategy.water]`: water temperature (temperature.py) and the exchange pump (this module)."""

    UNUSED = frozenset({"exchange_pct_per_day"})  # the pump runs always: a duty cycle needs its flow
    heater_band_k: float = param(BAND_K, gt=0, le=10, unit="K",
                                 en="heater or chiller switch on this far from the water temperature setpoint",
                                 ko="수온이 설정값에서 이만큼 벗어나면 히터나 냉각기를 켭니다")
    min_cycle_min: float = param(MIN_CYCLE_MIN, ge=0, le=120, unit="min",
                                 en="shortest on and off time of the heater and the chiller",
                                 ko="히터와 냉각기를 한 번 켜거나 끄면 적어도 이 시간은 그대로 둡니다")
    low_level_pct: float = param(LOW_LEVEL_PCT, ge=0, le=100, unit="%",
                                 en="a tank level below this is an event; the inflow is kept on",
                                 ko="수조 수위가 이보다 낮으면 이벤트를 남기고 급수는 계속합니다")
    min_sump_level_pct: float = param(MIN_SUMP_LEVEL_PCT, ge=0, le=100, unit="%",
                                      en="the exchange pump stops below this sump level",
                                      ko="저수조 수위가 이보다 낮으면 환수 펌프를 멈춥니다")
    min_flow_l_min: float = param(MIN_FLOW_L_MIN, ge=0, le=MAX_FLOW_L_MIN, unit="L/min",
                                  en="a running pump showing less flow is running dry and is stopped",
                                  ko="가동 중인 펌프의 유량이 이보다 적으면 헛돌고 있는 것으로 보고 멈춥니다")
    exchange_pct_per_day: float | None = param(
        None, ge=0, le=2000, unit="%/d", en="water exchanged a day (kept with the recipe: needs the pump's flow)",
        ko="하루 환수율(기록만 됩니다: 펌프 유량을 알아야 씁니다)")


class Exchange:
    """When each pump was seen to start, the sump latch, the tank-low flag and dry-run trips (UTC epoch s)."""

    def __init__(self) -> None:
        self.on_since: dict[str, float] = {}
        self.sump_low = False
        self.tank_low = False
        self.dry_until: dict[str, float] = {}

    def _tank_level(self, inp: TickInput, out: TickOutput) -> None:
        """An event when the tank's level falls below `low_level_pct` and when it is back: the inflow stays."""
        level = inp.readings.get("water_level")
        if level is None:
            return
        low = float(inp.strategy.get("water", {}).get("low_level_pct", LOW_LEVEL_PCT))
        if level < low and not self.tank_low:
            self.tank_low = True
            out.events.append(f"tank level low: {level:.0f} % < {low:g} %; exchange kept on (water is leaving: "
                              f"check the drain and the tank for a leak)")
        elif level >= low + LEVEL_BAND_PCT and self.tank_low:
            self.tank_low = False
            out.events.append(f"tank level back: {level:.0f} %")

    def decide(self, inp: TickInput, pumps: list[ActuatorView], out: TickOutput) -> None:
        if not pumps:
            return
        self._tank_level(inp, out)
        table = inp.strategy.get("water", {})
        min_sump = float(table.get("min_sump_level_pct", MIN_SUMP_LEVEL_PCT))
        min_flow = float(table.get("min_flow_l_min", MIN_FLOW_L_MIN))
        sump, flow = inp.readings.get(SUMP_KEY), inp.readings.get("flow")
        for q in (SUMP_KEY, "flow"):
            if q in inp.bad:
                return  # a sensor that should guard the pump cannot: the runtime's failsafe decides
        if sump is not None:
            if sump < min_sump and not self.sump_low:
                out.events.append(f"exchange stopped: sump level {sump:.0f} % < {min_sump:g} % (pump would run dry)")
            elif sump >= min_sump + LEVEL_BAND_PCT and self.sump_low:
                out.events.append(f"exchange resumed: sump level {sump:.0f} %")
            self.sump_low = sump < min_sump or (self.sump_low and sump < min_sump + LEVEL_BAND_PCT)
        else:
            self.sump_low = False
        now = inp.now_s
        level = inp.readings.get("water_level")
        for view in pumps:
            if view.target is True:
                self.on_since.setdefault(view.id, now)
            else:
                self.on_since.pop(view.id, None)
            until = self.dry_until.get(view.id)
            if until is not None and now >= until:
                del self.dry_until[view.id]
                until = None
            running_s = now - self.on_since[view.id] if view.id in self.on_since else 0.0
            if self.sump_low:
                on, reason = False, (f"exchange off: sump level {sump:.0f} % below {min_sump:g} % "
                                     f"(+{LEVEL_BAND_PCT:g} to resume)")
            elif until is not None:
                on, reason = False, f"exchange off after a dry run: retry in {(until - now) / 60:.0f} min"
            elif flow is not None and running_s > FLOW_CHECK_S and flow < min_flow:
                self.dry_until[view.id] = now + DRY_RETRY_MIN * 60
                on, reason = False, f"exchange off: flow {flow:.1f} L/min < {min_flow:g} after {running_s:.0f} s"
                out.events.append(f"{view.id} stopped, dry run: flow {flow:.1f} L/min < {min_flow:g} L/min; "
                                  f"retry in {DRY_RETRY_MIN:g} min")
            else:
                on, reason = True, "exchange on: flow-through water" + (
                    ", tank level LOW, inflow kept on" if self.tank_low else "") + (
                    f", tank level {level:.0f} %" if level is not None else "") + (
                    f", sump {sump:.0f} %" if sump is not None else "") + (
                    f", flow {flow:.0f} L/min" if flow is not None else "")
            out.decisions[view.id] = Decision(on, "recipe", reason)

    def state(self) -> dict[str, Any]:
        return {"pump_on_since": dict(self.on_since), "sump_low": self.sump_low, "tank_low": self.tank_low,
                "dry_until": dict(self.dry_until)}

    def restore(self, state: dict[str, Any]) -> None:
        self.on_since = {k: float(v) for k, v in state.get("pump_on_since", {}).items()}
        self.sump_low = bool(state.get("sump_low", False))
        self.tank_low = bool(state.get("tank_low", False))
        self.dry_until = {k: float(v) for k, v in state.get("dry_until", {}).items()}
