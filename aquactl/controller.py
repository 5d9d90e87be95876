"""The tank zone controller: one tick of every tank strategy, each actuator decided by exactly one.

Strategies (aquactl/strategies/), in the order a tick runs them:

- weighings (`biomass`): a `weighing` request resets the estimate's mean weight;
- oxygen (`oxygen`) -> aerator, o2_valve: staged aerators toward the DO target (raised at night), at least
  `min_aerators_on` (1; biofloc 2) always on, pure O2 near and below the target and always below the
  critical DO, aerator failure by current, feedback or missing DO response, with a standby started in place
  of a failed one;
- temperature (`temperature`) -> heater, chiller: hysteresis toward the setpoint from each side, minimum
  on/off times, never both;
- feeding (`feeding`) -> feeder: meal and feed-now rations from biomass and the feeding table, held at low DO
  or out-of-range temperature, feed given per day booked into the biomass estimate;
- water (`water`) -> exchange_pump: on, except when its source sump is low or it shows no flow (a dry run); a
  low tank level is an event and keeps the inflow on.

Readings are keyed as the runtime gives them: by the sensor's `source` when the site names one (aerator
currents: `aerator_<k>_current`, k the aerator's place among the zone's aerators), else by quantity. A
strategy whose reading is missing gives no decision for its actuators (the runtime applies the failsafe).
`state()`/`restore()` carry the biomass, feed today and its day, aerator failures and all timers, JSON-safe.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aquactl.biomass import Biomass
from aquactl.strategies.feeding import Feeding
from aquactl.strategies.oxygen import Oxygen
from aquactl.strategies.temperature import WaterTemperature
from aquactl.strategies.water import Exchange
from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput
from farmcore.site import ZoneDef

STATE_VERSION = 1


class TankController:
    """A tank zone's strategies; works with any subset of the tank actuator roles."""

    def __init__(self, zone: ZoneDef | None = None) -> None:
        self.zone = zone
        # used when a tick brings no actuator views: the zone's, state unknown
        self._default_actuators = {a.id: ActuatorView(a.id, a.role, "switch", None, feed_kg_per_min=a.feed_kg_per_min)
                                   for a in (zone.actuators if zone is not None else [])}
        stocking = zone.stocking if zone is not None else None
        self.biomass: Biomass | None = Biomass(stocking.count, stocking.weight_g) if stocking else None
        # what the estimate started from: a restored estimate of another stocking is not taken back
        self._stocked = (f"{zone.planted}|{stocking.count}|{stocking.weight_g:g}"
                         if zone is not None and stocking is not None else None)
        self.oxygen = Oxygen()
        self.temperature = WaterTemperature()
        self.feeding = Feeding()
        self.water = Exchange()

    def tick(self, inp: TickInput) -> TickOutput:
        out = TickOutput()
        roles: dict[str, list[ActuatorView]] = defaultdict(list)
        for view in (inp.actuators or self._default_actuators).values():
            roles[view.role].append(view)  # dicts keep the site's order: aerator k is the k-th here

        for request in inp.requests:
            if request.kind == "weighing":
                self._weigh(request.value, request.by, out)

        self.oxygen.decide(inp, roles["aerator"], roles["o2_valve"], out)
        self.temperature.decide(inp, roles["heater"], roles["chiller"], out)
        self.feeding.decide(inp, roles["feeder"], self.biomass, out)
        self.water.decide(inp, roles["exchange_pump"], out)

        if self.biomass is not None:
            out.trace["biomass_kg"] = self.biomass.biomass_kg
            out.trace["mean_weight_g"] = self.biomass.mean_weight_g
        return out

    def _weigh(self, value: float | None, by: str, out: TickOutput) -> None:
        who = f" ({by})" if by else ""
        if self.biomass is None:
            out.events.append(f"weighing ignored{who}: no stocking record to correct")
            return
        if value is None or not value > 0:
            out.events.append(f"weighing ignored{who}: {value!r} is not a mean weight in g")
            return
        old = self.biomass.weigh(value)
        out.events.append(f"weighing{who}: mean weight {old:.1f} -> {value:g} g, biomass "
                          f"{self.biomass.biomass_kg:.1f} kg ({self.biomass.count} fish)")

    def state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "biomass": self.biomass.state() if self.biomass else None,
            "stocked": self._stocked,
            **self.feeding.state(),
            "oxygen": self.oxygen.state(),
            "temperature": self.temperature.state(),
            "water": self.water.state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `state()` gave; missing keys keep their fresh defaults."""
        if state.get("biomass") and state.get("stocked") == self._stocked:
            self.biomass = Biomass.from_state(state["biomass"])  # else: restocked since, start afresh
        self.feeding.restore(state)
        self.oxygen.restore(state.get("oxygen", {}))
        self.temperature.restore(state.get("temperature", {}))
        self.water.restore(state.get("water", {}))
