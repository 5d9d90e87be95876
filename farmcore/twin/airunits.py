"""Conversions between the greenhouse model's units (kg m⁻³ of vapour and CO2) and the sensors' (%RH, ppm).

The saturation curve and the dew point are farmcore/canopy.py's (Tetens as in Vanthoor 2011), so the twin and
the strategies judge the dew point on one curve.
"""

from __future__ import annotations

from farmcore.canopy import dew_point_c as dew_point
from farmcore.canopy import saturation_vapour_pressure_pa as saturation_vapour_pressure

R_GAS = 8314.0  # J K-1 kmol-1 (Van Henten R)
M_CO2 = 44.01  # kg kmol-1
P_ATM = 101_325.0  # Pa


def vapour_pressure_to_absolute_humidity(vp_pa: float, temp_c: float) -> float:
    """kg m-3 (AH g m-3 = 2.1667·e/T, models.md A.7)."""
    return 2.1667e-3 * vp_pa / (temp_c + 273.15)


def rh_to_absolute_humidity(rh_pct: float, temp_c: float) -> float:
    """Relative humidity (%) at temp_c -> absolute humidity, kg m-3."""
    return vapour_pressure_to_absolute_humidity(saturation_vapour_pressure(temp_c) * rh_pct / 100.0, temp_c)


def absolute_humidity_to_rh(ah_kg_m3: float, temp_c: float) -> float:
    """Absolute humidity (kg m-3) at temp_c -> relative humidity, % (not clipped at 100)."""
    vp = ah_kg_m3 * (temp_c + 273.15) / 2.1667e-3
    return 100.0 * vp / saturation_vapour_pressure(temp_c)


def co2_ppm_to_kg_m3(ppm: float, temp_c: float, pressure_pa: float = P_ATM) -> float:
    """CO2 volume fraction (ppm) -> mass concentration, kg m-3 (models.md A.7)."""
    return ppm * 1e-6 * pressure_pa * M_CO2 / (R_GAS * (temp_c + 273.15))


def co2_kg_m3_to_ppm(c_kg_m3: float, temp_c: float, pressure_pa: float = P_ATM) -> float:
    """CO2 mass concentration, kg m-3 -> ppm. 1e-3 kg m-3 at 20 °C ≈ 547 ppm."""
    return c_kg_m3 * R_GAS * (temp_c + 273.15) / (pressure_pa * M_CO2) * 1e6


__all__ = [
    "M_CO2", "P_ATM", "R_GAS", "absolute_humidity_to_rh", "co2_kg_m3_to_ppm", "co2_ppm_to_kg_m3", "dew_point",
    "rh_to_absolute_humidity", "saturation_vapour_pressure", "vapour_pressure_to_absolute_humidity",
]
