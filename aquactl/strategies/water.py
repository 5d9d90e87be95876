"""Water exchange: the exchange pump runs, except when it would run dry.

A flow-through tank lives on its exchange water (oxygen, heat, flushing of ammonia: twin `flounder-10m3`
turns the tank over 14 times a day), so the pump is on by default, as its failsafe is [engineering choice: no
duty cycle toward `exchange_pct_per_day` yet, which would need the pump's flow]. Pumps never run dry
(anchors.md: reef-pi ATO dry run): the pump is off while a water level reading is below `min_level_pct` (on
again LEVEL_BAND_PCT above it), and off for DRY_RETRY_MIN when it has run for FLOW_CHECK_S and a flow
reading shows less than `min_flow_l_min`; then it is tried again. Without a level or flow sensor that check is
skipped; a level or flow sensor that is there but bad gives no decision (the runtime's failsafe applies).
"""

from __future__ import annotations

from typing import Any

from farmcore.control.arbitration import Decision
from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput

MIN_LEVEL_PCT = 30.0  # [engineering choice] the suction must stay covered
LEVEL_BAND_PCT = 2.0  # back on this far above the minimum, against chatter on ripples [engineering choice]
MIN_FLOW_L_MIN = 1.0  # [engineering choice] a running pump showing less is dry or blocked
FLOW_CHECK_S = 60.0  # a started pump has this long to show its flow (the brief; priming) [engineering choice]
DRY_RETRY_MIN = 30.0  # off this long after a dry-run trip, then tried again [engineering choice]


class Exchange:
    """When each pump was seen to start, the low-level latch and dry-run trips (UTC epoch seconds)."""

    def __init__(self) -> None:
        self.on_since: dict[str, float] = {}
        self.low_level = False
        self.dry_until: dict[str, float] = {}

    def decide(self, inp: TickInput, pumps: list[ActuatorView], out: TickOutput) -> None:
        if not pumps:
            return
        table = inp.strategy.get("water", {})
        min_level = float(table.get("min_level_pct", MIN_LEVEL_PCT))
        min_flow = float(table.get("min_flow_l_min", MIN_FLOW_L_MIN))
        level, flow = inp.readings.get("water_level"), inp.readings.get("flow")
        for q in ("water_level", "flow"):
            if q in inp.bad:
                return  # a sensor that should guard the pump cannot: the runtime's failsafe decides
        if level is not None:
            if level < min_level and not self.low_level:
                out.events.append(f"exchange stopped: water level {level:.0f} % < {min_level:g} %")
            elif level >= min_level + LEVEL_BAND_PCT and self.low_level:
                out.events.append(f"exchange resumed: water level {level:.0f} %")
            self.low_level = level < min_level or (self.low_level and level < min_level + LEVEL_BAND_PCT)
        else:
            self.low_level = False
        now = inp.now_s
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
            if self.low_level:
                on, reason = False, (f"exchange off: water level {level:.0f} % below {min_level:g} % "
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
                    f", level {level:.0f} %" if level is not None else "") + (
                    f", flow {flow:.0f} L/min" if flow is not None else "")
            out.decisions[view.id] = Decision(on, "recipe", reason)

    def state(self) -> dict[str, Any]:
        return {"pump_on_since": dict(self.on_since), "low_level": self.low_level, "dry_until": dict(self.dry_until)}

    def restore(self, state: dict[str, Any]) -> None:
        self.on_since = {k: float(v) for k, v in state.get("pump_on_since", {}).items()}
        self.low_level = bool(state.get("low_level", False))
        self.dry_until = {k: float(v) for k, v in state.get("dry_until", {}).items()}
