"""The crop canopy's temperature and the dew point: pure maths shared by the greenhouse strategies (the
condensation guard) and the twin (its crop temperature and condensation hours), so both judge wet leaves alike.

Water condenses on leaves and fruit when they are colder than the air's dew point: at night because the
canopy radiates to a cold cover (1-3 K below the air under a clear sky and a bare film, a few tenths of a
kelvin under a closed screen), and at sunrise because fruit warm more slowly than the air that the heating
and the sun warm and moisten. That wet surface is where grey mould (Botrytis cinerea) starts (agronomy.md).

The canopy is one node per m² of floor: convection to the air, long-wave exchange with the cover (a closed
screen between them blocks most of it), the sensible share of the radiation it absorbs, and a heat capacity
that makes it lag the air. The coefficients are round values of the right order [unverified, engineering
choice]: Stanghellini (1987) gives a leaf boundary-layer resistance of ≈ 200-300 s m⁻¹ in still greenhouse
air, i.e. 2·ρc_p/r_b ≈ 8-12 W m⁻² K⁻¹ per m² of leaf, which over a leaf area index of ≈ 2-3 (partly shading
one another) we take as 20 W m⁻² K⁻¹ per m² of floor; linearised long-wave exchange 4εσT³ ≈ 5.5 W m⁻² K⁻¹
at 290 K (ε ≈ 0.95); a film cover sits about a third of the way from the outside to the inside temperature.
The heat capacity is that of a fruiting tomato crop: ≈ 5 kg m⁻² of fruit and leaves at ≈ 3.9 kJ kg⁻¹ K⁻¹.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SIGMA = 5.670e-8  # W m-2 K-4, Stefan-Boltzmann


@dataclass(frozen=True, slots=True)
class CanopyParams:
    """The canopy's heat exchange per m² of floor (see the module docstring for where the values come from)."""

    h_conv: float = 20.0  # W m-2 K-1, convection canopy <-> air [unverified]
    emissivity: float = 0.95  # canopy and cover, long-wave
    cover_weight: float = 0.33  # the cover's temperature: outside + weight·(air - outside) [unverified]
    screen_longwave_block: float = 0.9  # share of the canopy-cover exchange a closed screen stops [unverified]
    absorbed_sensible: float = 0.25  # share of the radiation inside that warms the canopy (the rest transpires)
    heat_capacity: float = 20_000.0  # J m-2 K-1 (≈ 5 kg m-2 at 3.9 kJ kg-1 K-1) [unverified]


DEFAULT = CanopyParams()


def saturation_vapour_pressure_pa(t_c: float) -> float:
    """Pa over water (Tetens form as in Vanthoor 2011: 610.78·exp(17.2694·T/(T+238.3)))."""
    return 610.78 * math.exp(17.2694 * t_c / (t_c + 238.3))


def dew_point_c(t_c: float, rh_pct: float) -> float:
    """Dew point, °C, of air at t_c and rh_pct (the inverse of the same Tetens curve)."""
    vp = max(saturation_vapour_pressure_pa(t_c) * min(max(rh_pct, 0.0), 100.0) / 100.0, 1e-3)
    x = math.log(vp / 610.78)
    return 238.3 * x / (17.2694 - x)


def cover_temperature_c(air_c: float, outside_c: float, p: CanopyParams = DEFAULT) -> float:
    """The inside surface of a film cover: between outside and inside, nearer the outside."""
    return outside_c + p.cover_weight * (air_c - outside_c)


def equilibrium_c(air_c: float, cover_c: float, inside_radiation: float, screen: float,
                  p: CanopyParams = DEFAULT) -> float:
    """The canopy temperature the balance settles to: convection to `air_c`, long-wave exchange with the cover
    at `cover_c` (cut by a closed screen, 0..1), and the sensible share of `inside_radiation` (W m-2)."""
    t_k = 0.5 * (air_c + cover_c) + 273.15
    h_rad = 4 * p.emissivity * SIGMA * t_k ** 3 * (1.0 - min(max(screen, 0.0), 1.0) * p.screen_longwave_block)
    return (p.h_conv * air_c + h_rad * cover_c + p.absorbed_sensible * max(inside_radiation, 0.0)) / (p.h_conv + h_rad)


def lag_s(screen: float, p: CanopyParams = DEFAULT) -> float:
    """The canopy's time constant, s: its heat capacity over its exchange coefficients (≈ 13-15 min)."""
    h_rad = 4 * p.emissivity * SIGMA * 290.0 ** 3 * (1.0 - min(max(screen, 0.0), 1.0) * p.screen_longwave_block)
    return p.heat_capacity / (p.h_conv + h_rad)


def relax_c(canopy_c: float, target_c: float, dt_s: float, tau_s: float) -> float:
    """The canopy temperature after `dt_s` seconds of first-order approach to `target_c` (exact for any step)."""
    if tau_s <= 0:
        return target_c
    return target_c + (canopy_c - target_c) * math.exp(-dt_s / tau_s)
