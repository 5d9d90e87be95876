"""The greenhouse model's state (its states plus cumulative counters) and its inputs (actuator commands).

Apart from the model (farmcore/twin/greenhouse.py, which re-exports both) so that each module stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from farmcore.twin.airunits import co2_ppm_to_kg_m3, rh_to_absolute_humidity
from farmcore.twin.watercurtain import GROUNDWATER_C


@dataclass
class GreenhouseState:
    """The model's states plus cumulative counters (whole house, since the state was made)."""

    air_temperature: float = 18.0  # °C
    humidity: float = rh_to_absolute_humidity(75.0, 18.0)  # absolute humidity, kg m-3
    co2: float = co2_ppm_to_kg_m3(450.0, 18.0)  # kg m-3
    dry_weight: float = 0.0272  # crop dry weight, kg m-2
    substrate_water: float = 0.60  # volumetric water content, 0..1
    mass_temperature: float = 18.0  # °C, the optional heat-storage node (GreenhouseParams.mass_*)
    pipe_water_temperature: float | None = None  # °C, heating-pipe water (None: at the air temperature)
    heating_energy_j: float = 0.0  # heat delivered to the air by heater or pipes
    co2_dosed_kg: float = 0.0
    irrigation_l: float = 0.0
    drain_l: float = 0.0
    lamp_energy_j: float = 0.0  # electrical
    # balance terms, for checks and what-if reports
    co2_vented_kg: float = 0.0  # net CO2 lost through vents and leaks
    co2_crop_kg: float = 0.0  # net CO2 taken up by the crop (photosynthesis minus respiration)
    transpiration_kg: float = 0.0  # net water from the crop into the air (= taken from the substrate)
    vapour_vented_kg: float = 0.0  # net water vapour lost through vents and leaks
    cover_loss_j: float = 0.0  # heat lost through the cover
    vent_loss_j: float = 0.0  # sensible heat lost through vents and leaks
    solar_gain_j: float = 0.0  # solar heat that went into the air
    mass_heat_j: float = 0.0  # heat the air received from the heat-storage mass (negative: stored)
    latent_heat_j: float = 0.0  # sensible heat the air lost to transpiration (GreenhouseParams.latent_heat_share)
    boundary_loss_j: float = 0.0  # heat lost to the fixed-temperature boundary (negative: gained from it)
    canopy_temperature: float | None = None  # °C, the crop (farmcore/canopy.py; None: at the air)
    condensation_s: float = 0.0  # seconds the canopy spent below the air's dew point
    light_unscreened_j_m2: float = 0.0  # radiation inside the cover the crop would have had without screens
    light_inside_j_m2: float = 0.0  # ... and what it got through the screens (both J per m² floor)
    boiler_temperature: float | None = None  # °C, hot-water loop's boiler water (None: at the air)
    boiler_heat_j: float = 0.0  # heat fired into the boiler water
    boiler_fuel_j: float = 0.0  # its fuel energy (boiler_heat_j / boiler_efficiency)
    curtain_heat_j: float = 0.0  # heat the air lost to the water curtain's film (negative: gained from it)
    curtain_water_l: float = 0.0  # groundwater pumped over the film
    curtain_pump_j: float = 0.0  # electrical
    event_irrigation_l: float = 0.0  # water of the last irrigation event (from its start)
    event_drain_l: float = 0.0  # drain since that event started
    irrigating: bool = False  # irrigation on at the last step (an off -> on edge starts an event)
    elapsed_s: float = 0.0

    @classmethod
    def at(cls, temp_c: float, rh_pct: float, co2_ppm: float, **kw: Any) -> GreenhouseState:
        """A state from readings in the project's units."""
        kw.setdefault("mass_temperature", temp_c)
        return cls(air_temperature=temp_c, humidity=rh_to_absolute_humidity(rh_pct, temp_c),
                   co2=co2_ppm_to_kg_m3(co2_ppm, temp_c), **kw)


@dataclass
class GreenhouseInputs:
    """Actuator commands, each a fraction 0..1 (values outside are clipped when used)."""

    heating: float = 0.0  # of heater_capacity (ignored while pipe_temperature is given)
    roof_vent: float = 0.0
    side_vent: float = 0.0
    thermal_screen: float = 0.0  # 1 = fully closed (drawn)
    shade_screen: float = 0.0  # 1 = fully closed: blocks the share it covers of the radiation
    co2_dosing: float = 0.0  # of co2_capacity
    irrigation: float = 0.0  # of irrigation_rate
    lighting: float = 0.0  # of lamp_power / lamp_par
    circulation_fan: float = 0.0  # mixes the air; no effect in a one-zone model, kept for the node map
    # °C; when given, heat = pipe_coefficient·(Tpipe - Tair) instead of the heater. At or below the air
    # temperature (a logger's 0 when the pump stops) the pump is off and the pipe water cools on its own.
    pipe_temperature: float | None = None
    boiler: float = 0.0  # hot-water loop: share of boiler_capacity firing (switches on)
    mixing_valve: float = 0.0  # share of the pipe flow taken from the boiler
    water_curtain: float = 0.0  # share of curtain_flow (its pumps on)
    groundwater_temperature: float = GROUNDWATER_C  # °C, the water curtain's water
