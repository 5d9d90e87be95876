"""A hot-water heating loop: an on/off boiler with its own high-limit thermostat, a three-way mixing valve and the
pipe loop that gives heat to the greenhouse air.

The boiler (or a heat pump's buffer) holds a volume of water, `boiler_water_capacity` J/K for the whole house,
and fires at `boiler_capacity` W while it is switched on and its water is below `boiler_high_limit`; at the limit
its thermostat lets it fire only what holds the water there (an on/off burner cycles faster than the model's
sub-step: its mean heat is what counts). The loop pump circulates `loop_flow` L/s through the pipes; the mixing
valve (0..1) takes that share of the flow from the boiler's supply and the rest from the pipes' return, so it
brings v·G·(T_boiler − T_pipe) into the pipes, G = ρ·c_p·flow. The pipes give pipe_coefficient·(T_pipe − T_air)
to the air (the greenhouse model adds that term to the air balance) and hold pipe_capacity of heat per m² floor.
Losses of the boiler room are left out [unverified]. Fuel = fired heat / `boiler_efficiency`.

Numbers [unverified, engineering choices for a 1000 m² Korean house, to calibrate]: an oil hot-water boiler of
150 000 kcal/h (≈ 174 kW, the size of U·A·ΔT for a double-layer single-span house at −12 °C outside), a high
limit of 85 °C (hot-water boilers' usual 80-90 °C), 1 m³ of water in boiler and mains (4.19 MJ/K), a loop flow
of 2.4 L/s (≈ 100 W m⁻² at a 10 K drop over the pipes), an efficiency of 0.85.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from farmcore.twin.exact import relax

if TYPE_CHECKING:
    from farmcore.twin.greenhouse import GreenhouseParams

RHO_CP_WATER = 4.186e6  # J m-3 K-1


def step(p: GreenhouseParams, t_pipe: float, t_boiler: float, boiler_on: bool, valve: float, t_air: float,
         dt: float) -> tuple[float, float, float]:
    """One sub-step of boiler and pipe water against the air's mean temperature over it:
    (pipe °C, boiler °C, heat fired into the boiler water J per m² floor). Operator splitting: the boiler sees
    the pipe's start temperature, the pipe the boiler's mean."""
    area = p.floor_area
    g = valve * RHO_CP_WATER * p.loop_flow / 1000.0 / area  # W m-2 K-1: boiler water mixed into the pipes
    cap_b = p.boiler_water_capacity / area
    fire = p.boiler_capacity / area if boiler_on and t_boiler < p.boiler_high_limit else 0.0
    t_b, int_b = relax(fire + g * t_pipe, g, cap_b, t_boiler, dt)
    fired = fire * dt
    if fire and t_b > p.boiler_high_limit:  # the thermostat holds the limit: only what keeps the water there
        t_b, int_b = p.boiler_high_limit, min(int_b, p.boiler_high_limit * dt)
        fired = max(0.0, cap_b * (t_b - t_boiler) + g * (int_b - t_pipe * dt))
    k = p.pipe_coefficient
    t_p, _ = relax(g * int_b / dt + k * t_air, g + k, p.pipe_capacity, t_pipe, dt)
    return t_p, t_b, fired
