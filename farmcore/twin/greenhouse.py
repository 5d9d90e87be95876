"""Greenhouse climate model of the digital twin: Van Henten (2003) with Vanthoor (2011) ventilation.

One well-mixed zone, per m² of floor (the reference is ../shared/reference/models.md, Part A):

* states (Van Henten 2003): air temperature, absolute humidity, CO2 concentration, crop dry weight; a fifth
  state is the substrate water content (a "bucket", models.md A.6);
* ventilation (Vanthoor 2011, chapter 8): the air flux through roof and side vents from their opening, the
  wind speed and the inside-outside temperature difference, plus wind-dependent leakage. The same flux
  carries heat, vapour and CO2 (open question D-1 answered as models.md proposes: the vapour balance
  includes the vent flux, not only leakage);
* cover heat loss from Korean measured U-values (models.md A.4): U(w)·aCov/aFlr, cut by a closed thermal
  screen; a closed screen also throttles the flux through roof vents above it;
* heat from a heater (fraction of its capacity) or, when the pipe temperature is known (site history,
  calibration data), from the pipe temperature through a pipe heat-transfer coefficient. The pipe water is
  a heat store of its own: while its pump is off (recorded pipe temperature 0 or below the air) it keeps
  giving heat as it cools (time constant ≈ 1 h for Venlo rail pipes).

Extensions beyond Van Henten, each off or neutral in the Korean sets unless stated: a heat-storage mass
node (floor, structure; `mass_*`), heat exchange with a fixed-temperature boundary (heated neighbouring
compartments, corridor, soil; `boundary_*`, on in the Venlo compartment only), the sky's long-wave loss
when the weather gives it (`sky_loss_share`, site histories only), the latent heat of transpiration
(`latent_heat_share`, 0 = Van Henten), the pipe water's own heat capacity, and a shade screen. Issue 16 added:
screens that pass only their light transmission (`screen_transmission`, `shade_transmission`; counters of the
light with and without them), the crop canopy's temperature (farmcore/canopy.py) and its seconds below the dew
point, a hot-water loop behind a boiler and a mixing valve (heatloop.py), the Korean water curtain
(watercurtain.py), and the drain share of the last irrigation event.

Integration: each sub-step (at most `MAX_SUBSTEP_S`) freezes the coefficients at its start and solves the
three linear balances dX/dt = (a - b·X)/cap exactly (exponential integrator). That is stable for any step,
keeps concentrations positive, and gives the exact time integral of every flux, so the cumulative counters
close the heat, CO2 and water balances to rounding. Pure Python floats: one 10 s step takes ≈ 15 µs, i.e.
some 600 000 simulated seconds per wall second, far above the 10 000 the twin needs per zone.

Units: SI inside (°C, kg m⁻³, W, J, m s⁻¹); `outputs()` speaks the project's vocabulary (degC, %RH, ppm, ...).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from farmcore import canopy as crop_heat
from farmcore.errors import ConfigError
from farmcore.twin import heatloop
from farmcore.twin.airunits import (
    R_GAS,
    absolute_humidity_to_rh,
    co2_kg_m3_to_ppm,
    co2_ppm_to_kg_m3,
    dew_point,
    rh_to_absolute_humidity,
    saturation_vapour_pressure,
)
from farmcore.twin.exact import relax as _relax
from farmcore.twin.watercurtain import GROUNDWATER_C, film_temperature

if TYPE_CHECKING:  # the weather module is a colleague's; step() only reads the fields it names
    from farmcore.twin.weather import WeatherSample

# --- physical constants --------------------------------------------------------------------------------
RHO_CP_AIR = 1290.0  # J m-3 K-1, Van Henten c_cap_q_v
GRAVITY = 9.81  # m s-2
LATENT_HEAT = 2.45e6  # J kg-1, evaporation of water at ≈ 20 °C
PAR_PER_W_GLOBAL = 2.3  # umol J-1: PAR photons per joule of global radiation (Vanthoor etaGlobPar)

# --- Van Henten (2003) crop constants [verified, models.md A.2] --------------------------------------------
C_ALPHA_BETA = 0.544  # yield factor
C_RAD_PHOT = 3.55e-9  # kg J-1, light-use efficiency
C_CO2_1, C_CO2_2, C_CO2_3 = 5.11e-6, 2.3e-4, 6.29e-4  # temperature effect on CO2 diffusion in leaves
C_GAMMA = 5.2e-5  # kg m-3, CO2 compensation point
C_PL_D = 53.0  # m2 kg-1, effective canopy surface
C_RESP_D, C_RESP_C = 2.65e-7, 4.87e-7  # s-1, respiration (dry matter / CO2)
C_V1, C_V2, C_V3 = 9348.0, 17.4, 239.0  # saturation curve of eq. 10, kept as published (D-2)
# Van Henten's radiation input is the global radiation outside a glasshouse. Our crop sees the radiation
# inside; dividing it by this transmission keeps c_rad_phot's calibration [unverified, typical glass].
VH_TRANSMISSION = 0.7

MAX_SUBSTEP_S = 60.0  # accuracy of the frozen coefficients; the scheme itself is stable at any step


@dataclass(frozen=True)
class GreenhouseParams:
    """One house. Areas in m², fluxes per m² floor. Sources: models.md Part A (tags there)."""

    name: str
    floor_area: float  # aFlr, m²
    cover_ratio: float  # aCov/aFlr; A.5 [unverified] 1.6 single span, 1.3 multi span; Venlo 1.29 [verified]
    mean_height: float  # m; Van Henten c_cap_c = c_cap_h (volume per floor m²)
    u_cover: float  # W m-2 K-1 per cover m² at no wind (A.4)
    u_cover_wind: float  # W m-2 K-1 per (m s-1): U(w) = u_cover + u_cover_wind·w (Mihara & Hayashi 1979)
    screen_u_reduction: float  # fraction of U removed by a fully closed thermal screen (A.4)
    screen_vent_factor: float  # fraction of the roof-vent flux that passes a fully closed screen [unverified]
    heat_capacity: float  # J m-2 K-1, lumped c_cap_q (Van Henten 30 000 [verified])
    solar_gain: float  # c_rad_q: share of the radiation inside that heats the air (Van Henten 0.2)
    transmission: float  # global/PAR transmission of the cover (A.5)
    roof_vent_area: float  # aRoof, m² (fully open)
    side_vent_area: float  # aSide, m²
    vent_height: float = 0.68  # hVent, m, vertical size of one roof vent (Vanthoor [verified])
    side_roof_height: float = 0.0  # hSideRoof, m, between side and roof vent mid-points (D-3: site geometry)
    discharge_coef: float = 0.75  # cD (Vanthoor [verified])
    wind_coef: float = 0.09  # cW (Vanthoor [verified])
    leakage: float = 1e-4  # cLeakage: leakage flux = cLeakage·max(w, 0.25) m s-1 (Vanthoor [verified])
    insect_screen_porosity: float = 1.0  # zeta; 1 = no insect screen
    roof_ratio_threshold: float = 0.9  # etaRoofThr (Vanthoor [verified])
    heater_capacity: float = 0.0  # W for the whole house at heating = 1
    pipe_coefficient: float = 3.7  # W m-2 K-1 per floor m², pipe -> air (see PARAMS note)
    pipe_capacity: float = 15_800.0  # J m-2 K-1 per floor m², pipe water + steel (see PARAMS note)
    co2_capacity: float = 0.0  # kg s-1 for the whole house at co2_dosing = 1
    irrigation_rate: float = 5.0  # L m-2 h-1 at irrigation = 1 (see PARAMS note)
    substrate_volume: float = 0.008  # m³ substrate per floor m²
    field_capacity: float = 0.70  # volumetric water content above which the substrate drains
    wilting_point: float = 0.15  # volumetric water content at which uptake stops
    drain_rate: float = 1.0 / 600.0  # s-1: drain = drain_rate·(theta - field_capacity)·volume
    lamp_power: float = 0.0  # W m-2 floor, electrical, at lighting = 1
    lamp_par: float = 0.0  # umol m-2 s-1 at the crop at lighting = 1
    lamp_heat_fraction: float = 1.0  # share of lamp power that ends as sensible heat in the air
    # Optional second heat node: the floor, structure and crop mass that stores heat by day and gives it back
    # at night. 0 coupling = Van Henten's single lumped capacity. [unverified: calibrate per site]
    mass_capacity: float = 0.0  # J m-2 K-1
    mass_coupling: float = 0.0  # W m-2 K-1, mass <-> air
    mass_solar_share: float = 0.0  # share of the radiation inside absorbed by the mass (on top of solar_gain)
    # Clear skies: share of the outside net long-wave loss (a pyrgeometer's reading, per m² horizontal) that the
    # cover draws from the inside air, cut like U by a closed screen. Used only when the weather gives the
    # long-wave balance (site history); the Korean U-values already hold an average sky. [unverified]
    sky_loss_share: float = 0.3
    # Share of the transpiration's latent heat taken from the air's sensible heat. Van Henten leaves it out
    # (his c_rad_q = 0.2 is the radiation's net sensible share), so 0 reproduces his model; 1 is the full
    # physical balance (Vanthoor), for sites whose crop transpires from lamps and pipe heat too.
    latent_heat_share: float = 0.0
    # Exchange with a fixed-temperature boundary: heated neighbouring compartments, the corridor and the
    # soil below the floor, held near `boundary_temperature`. A compartment inside a block loses far less
    # to the outside than its cover ratio suggests, and gains from neighbours on cold nights. 0 = none
    # (Van Henten; the Korean stand-alone houses). [unverified: calibrate per site]
    boundary_coupling: float = 0.0  # UA_b, W m-2 K-1 per floor m²
    boundary_temperature: float = 18.0  # T_b, °C
    # Light through a fully drawn screen, 0..1: the radiation inside is cut by 1 - s·(1 - tau) at closure s.
    # The defaults keep older parameter files as they were (a clear thermal screen, an opaque shade); the sets
    # in PARAMS give the manufacturers' values (sources there).
    screen_transmission: float = 1.0
    shade_transmission: float = 0.0
    # A hot-water loop (farmcore/twin/heatloop.py, sources there); boiler_capacity 0 = none
    boiler_capacity: float = 0.0  # W
    boiler_water_capacity: float = 4.19e6  # J K-1, boiler and mains
    boiler_high_limit: float = 85.0  # °C, the boiler's own thermostat
    boiler_efficiency: float = 0.85  # fired heat per unit of fuel energy
    loop_flow: float = 2.4  # L s-1 through the pipes
    # A water curtain (farmcore/twin/watercurtain.py, sources there); curtain_flow 0 = none
    curtain_flow: float = 0.0  # L m-2 floor h-1 while its pump runs
    curtain_u_inner: float = 7.7  # W m-2 K-1 per cover m², air -> water film
    curtain_u_outer: float = 7.7  # W m-2 K-1 per cover m², water film -> outside, plus u_cover_wind·w
    curtain_pump_power: float = 5500.0  # W, electrical
    transpiration_coef: float = 3.6e-3  # c_v_pl_ai, m s-1 (Van Henten [verified]; D-2: calibrate)
    # kg m-2 for a new GreenhouseState: an established crop (canopy factor 1-exp(-53·X_d) = 0.76); Van
    # Henten's initial 2.7e-3 is a just-planted one [unverified]
    initial_dry_weight: float = 0.0272

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "name":
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{f.name}: expected a finite number, got {value!r}")
            if value < 0:
                raise ValueError(f"{f.name}: must not be negative, got {value}")
        for name in ("floor_area", "mean_height", "heat_capacity", "cover_ratio", "substrate_volume",
                     "boiler_water_capacity", "boiler_efficiency", "curtain_u_inner", "curtain_u_outer"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive")
        for name in ("screen_u_reduction", "screen_vent_factor", "transmission", "insect_screen_porosity",
                     "screen_transmission", "shade_transmission", "boiler_efficiency"):
            if getattr(self, name) > 1:
                raise ValueError(f"{name}: must be within 0..1, got {getattr(self, name)}")
        if not self.wilting_point < self.field_capacity <= 1:
            raise ValueError("need wilting_point < field_capacity <= 1")

    def u_value(self, wind_speed: float, screen: float = 0.0) -> float:
        """Cover U-value, W m-2 K-1 per cover m², at this wind and thermal-screen closure (0..1)."""
        return (self.u_cover + self.u_cover_wind * wind_speed) * (1.0 - screen * self.screen_u_reduction)

    def cover_loss_coef(self, wind_speed: float, screen: float = 0.0) -> float:
        """c_ai_ou = U(w)·aCov/aFlr, W m-2 K-1 per floor m²."""
        return self.u_value(wind_speed, screen) * self.cover_ratio


_CO2_KG_PER_S_12_8 = 12.8e-3 / 3600.0  # 12.8 g m-2 h-1 (AGC-2018 README "0.0128 Kg/h m2" [verified]) in kg m-2 s-1

PARAMS: dict[str, GreenhouseParams] = {
    # Korean single-span single-layer PE house, 1000 m² (e.g. 20 m x 50 m), side roll-up vents only.
    # U = 4.87 + 0.54·w per cover m² (Mihara & Hayashi 1979, single PVC; A.4/A.5 use it for single PE);
    # a thermal curtain: PVC + inner PE 3.15 + 0.17·w, i.e. -35 % at calm (same source).
    # Vents: 2 x 50 m x 1.2 m = 120 m² (models.md A.3 worked check). Heater: U·aCov·20 K ≈ 175 kW (A.5).
    "single-pe-1000": GreenhouseParams(
        name="single-pe-1000", floor_area=1000.0, cover_ratio=1.6, mean_height=3.25,
        u_cover=4.87, u_cover_wind=0.54, screen_u_reduction=0.35, screen_vent_factor=1.0,
        heat_capacity=25_000.0, solar_gain=0.2, transmission=0.85,
        roof_vent_area=0.0, side_vent_area=120.0, side_roof_height=0.0, leakage=2e-4,
        heater_capacity=175_000.0, co2_capacity=_CO2_KG_PER_S_12_8 * 1000.0,
        screen_transmission=0.05, shade_transmission=0.65,
    ),
    # Korean multi-span double-layer PE house with a thermal curtain, 1000 m² (e.g. 3 x 8 m x 42 m).
    # U = 3.85 without and 2.76 with the curtain (Kim H-K et al. 2018, Energies 11:578, no wind term given),
    # so the curtain removes 1 - 2.76/3.85 = 28 %. Roof vents 15 % of the floor, sides 2 x 42 m x 1 m;
    # side-roof height 2.5 m (D-3: this geometry). A closed curtain passes 30 % of the roof-vent flux
    # [unverified]. Heater ≈ 90 kW (A.5).
    "double-pe-curtain-1000": GreenhouseParams(
        name="double-pe-curtain-1000", floor_area=1000.0, cover_ratio=1.3, mean_height=4.25,
        u_cover=3.85, u_cover_wind=0.0, screen_u_reduction=1.0 - 2.76 / 3.85, screen_vent_factor=0.3,
        heat_capacity=30_000.0, solar_gain=0.2, transmission=0.70,
        roof_vent_area=150.0, side_vent_area=84.0, side_roof_height=2.5, leakage=1e-4,
        heater_capacity=90_000.0, co2_capacity=_CO2_KG_PER_S_12_8 * 1000.0,
        screen_transmission=0.83, shade_transmission=0.5,
    ),
    # Korean single-span double-layer PE house, 1000 m² (10 m x 100 m), with a water curtain on the inner film,
    # an inner multi-layer curtain and a hot-water pipe loop, no air heater. U = 3.85 (double layer, Kim H-K et
    # al. 2018, above) with the wind term of PVC + inner PE, 0.17 (Mihara & Hayashi 1979); the multi-layer
    # curtain saves 38-43 % of the fuel of a triple-covered house without one (RDA field test of inner curtains
    # for single-span houses, https://www.newsam.co.kr/news/article.html?no=2899 [secondary]) -> a 40 % U cut,
    # and passes 5 % of the light (see the screens note below). Ridge vent 100 m x 0.5 m, side roll-ups
    # 2 x 100 m x 1 m, 2.0 m apart [unverified]. Loop and curtain numbers: heatloop.py, watercurtain.py.
    "single-double-pe-watercurtain-1000": GreenhouseParams(
        name="single-double-pe-watercurtain-1000", floor_area=1000.0, cover_ratio=1.6, mean_height=3.25,
        u_cover=3.85, u_cover_wind=0.17, screen_u_reduction=0.4, screen_vent_factor=0.3,
        heat_capacity=25_000.0, solar_gain=0.2, transmission=0.70,
        roof_vent_area=50.0, side_vent_area=200.0, side_roof_height=2.0, leakage=1.5e-4,
        heater_capacity=0.0, co2_capacity=_CO2_KG_PER_S_12_8 * 1000.0,
        screen_transmission=0.05, shade_transmission=0.65,
        boiler_capacity=174_000.0, boiler_water_capacity=4.19e6, boiler_high_limit=85.0, boiler_efficiency=0.85,
        loop_flow=2.4, curtain_flow=10.0, curtain_u_inner=7.7, curtain_u_outer=7.7, curtain_pump_power=5500.0,
    ),
    # A Venlo glasshouse compartment like the AGC-2022 lettuce one (96 m², Bleiswijk): the starting point
    # for calibrating on that data. Glass U = 4.41 + 0.40·w (Mihara & Hayashi 1979); aCov/aFlr 1.29, roof
    # vents 0.1·aFlr, hVent 0.68 m, tau 0.85, hGh 4.2 m (Vanthoor Tables 8.1/8.2). The energy screen's
    # 30 % U cut is Geoola et al. 2009; its pass-through of the vent flux is a guess to calibrate.
    # Pipe: Vanthoor's 1.875 m of 51 mm pipe per floor m² (0.30 m² of pipe surface) at ≈ 12 W m-2 K-1
    # (convection 1.99·ΔT^0.32 + radiation) -> 3.7 W m-2 K-1 per floor m² [derived, unverified]; its water
    # (46.5 mm bore, 1.7 L m-1) and steel (2.25 mm wall) hold 8.4 kJ K-1 per m -> 15.8 kJ m-2 K-1 [derived].
    # CO2: Vanthoor phiExtCo2 ≈ 18.5 g m-2 h-1. Lamps: the reference compartment's LEDs give ≈ 3.25 umol
    # m-2 s-1 per % of assim_vip (measured in the data at night), ≈ 325 at full; at 2.8 umol J-1 (LED
    # efficacy [unverified]) that is 116 W m-2 electrical. The compartment sits in a block between heated
    # compartments and a corridor: glass partitions (single glass with still air on both sides ≈ 5.8 W m-2
    # K-1) round a ≈ 12 m x 8 m x 4.2 m compartment exchange ≈ 40·4.2·5.8/96 ≈ 10 W m-2 K-1 per floor m²
    # with neighbours near their ≈ 18 °C set-points [derived, geometry unverified: calibrate both]; the cover
    # ratio still counts those walls as outside cover, so a calibration lowers u_cover.
    "venlo-glass-96": GreenhouseParams(
        name="venlo-glass-96", floor_area=96.0, cover_ratio=1.29, mean_height=4.2,
        u_cover=4.41, u_cover_wind=0.40, screen_u_reduction=0.3, screen_vent_factor=0.2,
        heat_capacity=30_000.0, solar_gain=0.2, transmission=0.85,
        roof_vent_area=9.6, side_vent_area=0.0, leakage=1e-4,
        heater_capacity=0.0, co2_capacity=18.5e-3 / 3600.0 * 96.0,
        lamp_power=116.0, lamp_par=325.0, lamp_heat_fraction=1.0,
        boundary_coupling=10.0, boundary_temperature=18.0, screen_transmission=0.83, shade_transmission=0.0,
    ),
}
# Screens' light. Korean single-span houses draw a multi-layer thermal curtain (다겹보온커튼: matt georgette, PE
# foam, chemical cotton and felt, a class-1 screen as tested at https://db.koreascholar.com/Search/Result?field=k&
# query=%EB%B3%B4%EC%98%A8) at night: nearly opaque, 0.05 [unverified value, opaque by construction]. Multi-span
# houses and glasshouses: a clear energy screen of Ludvig Svensson's LUXOUS family ("energy saving combined with
# maximum light transmission", up to 89 %: NZ Grower Oct 2021, Nederhoff, https://issuu.com/hortnz/docs/
# nzgrower_october_2021_pages/s/13887707 [secondary]); 0.83 for a LUXOUS 1347 FR type [unverified: product sheet
# not read], i.e. 17 % of the light, inside the 15-25 % the issue cites for clear screens. Shade: a 35 % shade
# net on single-span houses (0.65; 35 % 차광망 as in the koreascholar listing above [secondary]), a 50 % shade
# screen on multi-span houses [unverified]; the Venlo compartment's "shade" is its blackout screen (0).
# Shared defaults above [unverified, to calibrate]: pipe_coefficient as for the Venlo house (only used when
# a pipe temperature is given); substrate: coir slabs, ≈ 8 L per floor m², field capacity 70 % v/v (slab
# WC 50-80 %, agronomy.md §1.2), drip ≈ 100 mL per plant per event of ≈ 3 min at 2.5 plants m-2 -> 5 L m-2 h-1.


def params_for(name_or_path: str) -> GreenhouseParams:
    """A shipped parameter set by id (`single-pe-1000`) or a TOML file written by `dump_params`."""
    if name_or_path in PARAMS:
        return PARAMS[name_or_path]
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return load_params(path)
    raise ConfigError(name_or_path, "", f"no such parameter set; shipped: {', '.join(PARAMS)}")


def load_params(path: str | Path) -> GreenhouseParams:
    """Parameters from TOML: optional `base = "<id>"` plus any GreenhouseParams field; unknown keys refused."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from None
    data = dict(data.get("greenhouse", data))
    base_id = data.pop("base", None)
    if base_id is not None and base_id not in PARAMS:
        raise ConfigError(str(path), "base", f"unknown parameter set {base_id!r}; shipped: {', '.join(PARAMS)}")
    base = PARAMS[base_id] if base_id else None
    known = {f.name: f for f in fields(GreenhouseParams)}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(str(path), key, "unknown parameter")
        if key != "name" and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise ConfigError(str(path), key, f"expected a number, got {value!r}")
    data = {k: (float(v) if k != "name" else str(v)) for k, v in data.items()}
    try:
        if base is not None:
            return replace(base, **data)
        missing = [n for n, f in known.items() if f.default is MISSING and n not in data]
        if missing:
            raise ConfigError(str(path), missing[0], "missing (or give base = \"<id>\")")
        return GreenhouseParams(**data)
    except (TypeError, ValueError) as exc:
        field_name = str(exc).split(":", 1)[0] if ":" in str(exc) else ""
        raise ConfigError(str(path), field_name, str(exc).split(": ", 1)[-1]) from None


def dump_params(params: GreenhouseParams, comment: str = "") -> str:
    """TOML text that `load_params` reads back to an equal GreenhouseParams."""
    lines = [f"# {line}" for line in comment.splitlines()] if comment else []
    for f in fields(params):
        value = getattr(params, f.name)
        lines.append(f'{f.name} = "{value}"' if f.name == "name" else f"{f.name} = {float(value)!r}")
    return "\n".join(lines) + "\n"


# --- state and inputs -----------------------------------------------------------------------------------

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


def _clip(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


class Greenhouse:
    """One greenhouse zone: set `.inputs`, call `step(dt_s, weather)`, read `outputs()` or `.state`."""

    def __init__(self, params: GreenhouseParams, state: GreenhouseState | None = None) -> None:
        self.params = params
        self.inputs = GreenhouseInputs()
        self.state = state if state is not None else GreenhouseState(dry_weight=params.initial_dry_weight)
        self.max_substep_s = MAX_SUBSTEP_S
        self._inside_solar = 0.0  # W m-2 radiation inside at the last step

    # -- weather-level API -------------------------------------------------------------------------------
    def step(self, dt_s: float, weather: WeatherSample) -> None:
        """Advance dt_s seconds with this weather and the current inputs held constant."""
        self.advance(dt_s, weather.air_temperature, weather.relative_humidity, weather.solar_radiation,
                     weather.wind_speed, getattr(weather, "co2", 415.0))

    def outputs(self) -> dict[str, float]:
        """What the zone's sensors would read, in the project's quantity names and units."""
        s = self.state
        p = self.params
        t = s.air_temperature
        rh = min(100.0, absolute_humidity_to_rh(s.humidity, t))
        lamp = _clip(self.inputs.lighting) * p.lamp_par
        return {
            "air_temperature": t,
            "relative_humidity": rh,
            "co2": co2_kg_m3_to_ppm(s.co2, t),
            "dew_point": dew_point(t, rh),
            "soil_moisture": 100.0 * s.substrate_water,
            "par": self._inside_solar * PAR_PER_W_GLOBAL + lamp,
            "solar_radiation": self._inside_solar,
            "leaf_temperature": t if s.canopy_temperature is None else s.canopy_temperature,
            "pipe_temperature": t if s.pipe_water_temperature is None else s.pipe_water_temperature,
            "groundwater_temperature": self.inputs.groundwater_temperature,
            # what a drain gutter and a supply meter report: the share of the last event's water drained so far
            "drain_pct": 100.0 * s.event_drain_l / s.event_irrigation_l if s.event_irrigation_l > 0 else 0.0,
        }

    def ventilation_flux(self, roof: float, side: float, screen: float, temp_in: float, temp_out: float,
                         wind: float) -> float:
        """Air exchange through vents and leaks, m³ m-2 s-1 per floor m² (Vanthoor 2011, models.md A.3)."""
        p = self.params
        a_flr = p.floor_area
        a_roof_u = roof * p.roof_vent_area
        a_side_u = side * p.side_vent_area
        d_t = temp_in - temp_out
        t_mean = 0.5 * (temp_in + temp_out) + 273.15
        cd, cw = p.discharge_coef, p.wind_coef
        w2 = wind * wind
        roof2 = cd * a_roof_u / (2.0 * a_flr) * math.sqrt(abs(GRAVITY * p.vent_height * d_t / (2.0 * t_mean) + cw * w2))
        side2 = cd * a_side_u * wind / (2.0 * a_flr) * math.sqrt(cw)
        eta_ins = p.insect_screen_porosity * (2.0 - p.insect_screen_porosity)
        a_tot = p.roof_vent_area + p.side_vent_area
        eta_roof = p.roof_vent_area / a_tot if a_tot > 0 else 1.0
        if eta_roof >= p.roof_ratio_threshold:
            f_roof, f_side = eta_ins * roof2, eta_ins * side2
        else:
            cross = a_roof_u * a_side_u / math.sqrt(max(a_roof_u * a_roof_u + a_side_u * a_side_u, 0.01))
            rs = cd / a_flr * math.sqrt(cross * cross * abs(2.0 * GRAVITY * p.side_roof_height * d_t / t_mean)
                                        + (0.5 * (a_roof_u + a_side_u)) ** 2 * cw * w2)
            f_roof = eta_ins * (screen * roof2 + (1.0 - screen) * rs * eta_roof)
            f_side = eta_ins * (screen * side2 + (1.0 - screen) * rs * (1.0 - eta_roof))
        # roof vents sit above the screen: a closed screen lets only part of their exchange through
        f_roof *= 1.0 - screen * (1.0 - p.screen_vent_factor)
        return f_roof + f_side + p.leakage * max(wind, 0.25)

    # -- float-level API (calibration and replay drive this directly) ------------------------------------
    def advance(self, dt_s: float, outside_temperature: float, outside_humidity: float,
                solar_radiation: float, wind_speed: float, outside_co2: float = 415.0,
                longwave_net: float = 0.0) -> None:
        """`step` with the weather as floats: °C, %RH, W m-2 global, m s-1, ppm, and the net long-wave
        radiation outside (W m-2, negative = loss to the sky; 0 when unknown)."""
        if not dt_s > 0:
            if dt_s == 0:
                return
            raise ValueError(f"dt_s must be positive, got {dt_s}")
        p = self.params
        u = self.inputs
        s = self.state
        n = max(1, math.ceil(dt_s / self.max_substep_s - 1e-9))
        h = dt_s / n

        t_out = outside_temperature
        h_out = rh_to_absolute_humidity(max(0.0, min(100.0, outside_humidity)), t_out)
        c_out = co2_ppm_to_kg_m3(outside_co2, t_out)
        wind = max(0.0, wind_speed)
        iglob = max(0.0, solar_radiation)

        roof, side, screen = _clip(u.roof_vent), _clip(u.side_vent), _clip(u.thermal_screen)
        shade, light = _clip(u.shade_screen), _clip(u.lighting)
        a_flr = p.floor_area
        unscreened = p.transmission * iglob
        inside_solar = (unscreened * (1.0 - shade * (1.0 - p.shade_transmission))
                        * (1.0 - screen * (1.0 - p.screen_transmission)))
        self._inside_solar = inside_solar
        q_sol = p.solar_gain * inside_solar
        q_lamp_el = light * p.lamp_power
        q_lamp = q_lamp_el * p.lamp_heat_fraction
        phot_rad = (inside_solar + light * p.lamp_par / PAR_PER_W_GLOBAL) / VH_TRANSMISSION
        pipe = u.pipe_temperature
        q_heater = 0.0 if pipe is not None else _clip(u.heating) * p.heater_capacity / a_flr
        dose = _clip(u.co2_dosing) * p.co2_capacity / a_flr
        irrigation = _clip(u.irrigation) * p.irrigation_rate / 3600.0  # L m-2 s-1
        curtain = _clip(u.water_curtain) * p.curtain_flow  # L m-2 floor h-1
        if curtain > 0.0:  # the inside sees the water film on the inner layer, not the outer cover
            cover = p.curtain_u_inner * p.cover_ratio * (1.0 - screen * p.screen_u_reduction)
            q_sky = 0.0
        else:
            cover = p.cover_loss_coef(wind, screen)
            q_sky = p.sky_loss_share * max(0.0, -longwave_net) * (1.0 - screen * p.screen_u_reduction)
        loop = pipe is None and p.boiler_capacity > 0.0
        boiler, valve = _clip(u.boiler), _clip(u.mixing_valve)
        t_boiler = s.boiler_temperature
        t_can = s.canopy_temperature
        tau_can = crop_heat.lag_s(screen)
        fired = cond = 0.0
        if irrigation > 0.0 and not s.irrigating:  # a new irrigation event
            s.event_irrigation_l = s.event_drain_l = 0.0
        cap_q, height = p.heat_capacity, p.mean_height
        theta_fc, theta_wp = p.field_capacity, p.wilting_point
        theta_stress = theta_wp + 0.5 * (theta_fc - theta_wp)
        water_cap = p.substrate_volume * 1000.0  # L m-2 per unit of theta

        temp, hum, co2, xd, theta = s.air_temperature, s.humidity, s.co2, s.dry_weight, s.substrate_water
        t_mass = s.mass_temperature
        t_pipe = s.pipe_water_temperature
        h_mass = p.mass_coupling if p.mass_capacity > 0.0 else 0.0
        h_bnd, t_bnd = p.boundary_coupling, p.boundary_temperature
        bnd_loss = 0.0
        q_sol_mass = p.mass_solar_share * inside_solar
        mass_gain = latent = 0.0
        latent_share = p.latent_heat_share * LATENT_HEAT
        heat_in = cover_loss = vent_loss = curtain_heat = 0.0
        co2_vent = co2_crop = transp = vap_vent = drain = 0.0
        for _ in range(n):
            f = self.ventilation_flux(roof, side, screen, temp, t_out, wind)
            # the crop at the start-of-step temperature
            temp0 = temp
            canopy = 1.0 - math.exp(-C_PL_D * xd)
            resp_factor = 2.0 ** (0.1 * temp0 - 2.5)
            water_ok = 1.0 if theta >= theta_stress else max(0.0, (theta - theta_wp) / (theta_stress - theta_wp))
            k_tr = water_ok * canopy * p.transpiration_coef
            h_sat = C_V1 / (R_GAS * (temp0 + 273.15)) * math.exp(C_V2 * temp0 / (temp0 + C_V3))
            q_latent = latent_share * k_tr * (h_sat - hum) if latent_share else 0.0  # W m-2, explicit
            # temperature: cap_q·dT/dt = a - b·T
            g_vent = RHO_CP_AIR * f
            t_cov = t_out if curtain <= 0.0 else film_temperature(
                temp0, t_out, u.groundwater_temperature, p.curtain_u_inner,
                p.curtain_u_outer + p.u_cover_wind * wind, curtain / p.cover_ratio)
            a_t = (cover * t_cov + g_vent * t_out + q_sol + q_lamp + q_heater + h_mass * t_mass + h_bnd * t_bnd
                   - q_sky - q_latent)
            b_t = cover + g_vent + h_mass + h_bnd
            k_pipe = 0.0
            if pipe is not None:
                if pipe > temp:  # pump on: the pipe is at the recorded temperature
                    t_pipe = pipe
                elif t_pipe is None:
                    t_pipe = temp
                k_pipe = p.pipe_coefficient
                a_t += k_pipe * t_pipe
                b_t += k_pipe
            elif loop:  # the loop's pipes at their own water temperature
                t_pipe = temp0 if t_pipe is None else t_pipe
                t_boiler = temp0 if t_boiler is None else t_boiler
                k_pipe = p.pipe_coefficient
                a_t += k_pipe * t_pipe
                b_t += k_pipe
            temp, int_t = _relax(a_t, b_t, cap_q, temp0, h)
            latent += q_latent * h
            if k_pipe:
                heat_in += k_pipe * (t_pipe * h - int_t)
                if pipe is None:
                    heat_in += q_heater * h
                    t_pipe, t_boiler, dq = heatloop.step(p, t_pipe, t_boiler, boiler, valve, int_t / h, h)
                    fired += dq
                elif pipe <= temp0:  # pump off: the pipe water gives its heat to the air and cools
                    t_pipe, _ = _relax(k_pipe * int_t / h, k_pipe, p.pipe_capacity, t_pipe, h)
            else:
                heat_in += q_heater * h
            if curtain > 0.0:
                curtain_heat += cover * (int_t - t_cov * h)
            else:
                cover_loss += cover * (int_t - t_cov * h) + q_sky * h
            vent_loss += g_vent * (int_t - t_out * h)
            bnd_loss += h_bnd * (int_t - t_bnd * h)
            if h_mass:  # the mass sees the air's mean temperature over the sub-step (operator splitting)
                mass_gain += h_mass * (t_mass * h - int_t)
                t_mass, _ = _relax(q_sol_mass + h_mass * int_t / h, h_mass, p.mass_capacity, t_mass, h)


            # humidity: height·dh/dt = k_tr·(h_sat - h) - f·(h - h_out)      (eq. 5, 10, 11 with U_v: D-1)
            hum0 = hum
            hum, int_h = _relax(k_tr * h_sat + f * h_out, k_tr + f, height, hum0, h)
            tr = k_tr * (h_sat * h - int_h)  # kg m-2 over the sub-step
            transp += tr
            vap_vent += f * (int_h - h_out * h)

            # the canopy: toward its balance with the air, the cover it sees (the water film while the curtain
            # runs) and the radiation it absorbs, lagging by its heat capacity; wet below the dew point
            t_cover = crop_heat.cover_temperature_c(temp, t_out) if curtain <= 0.0 else t_cov
            t_can = crop_heat.relax_c(temp if t_can is None else t_can,
                                      crop_heat.equilibrium_c(temp, t_cover, inside_solar, screen), h, tau_can)
            if saturation_vapour_pressure(t_can) < hum * (temp + 273.15) / 2.1667e-3:  # below the dew point
                cond += h

            # CO2: height·dc/dt = dose + resp - k_ph·(c - Γ) - f·(c - c_out)    (eq. 3, 6, 7)
            g_t = max(0.0, -C_CO2_1 * temp0 * temp0 + C_CO2_2 * temp0 - C_CO2_3)
            excess = co2 - C_GAMMA
            k_ph = 0.0
            if phot_rad > 0.0 and excess > 0.0 and g_t > 0.0:
                light_lim = C_RAD_PHOT * phot_rad
                k_ph = canopy * light_lim * g_t / (light_lim + g_t * excess)  # φ_phot = k_ph·(c - Γ)
            resp_c = C_RESP_C * xd * resp_factor
            co2, int_c = _relax(dose + resp_c + k_ph * C_GAMMA + f * c_out, k_ph + f, height, co2, h)
            phot = k_ph * (int_c - C_GAMMA * h)  # kg m-2 CO2 fixed over the sub-step
            co2_crop += phot - resp_c * h
            co2_vent += f * (int_c - c_out * h)

            # dry weight (eq. 2), explicit: its time constant is days
            xd = max(0.0, xd + C_ALPHA_BETA * phot - C_RESP_D * xd * resp_factor * h)

            # substrate bucket: water_cap·dθ/dt = I - Tr - drain_rate·water_cap·max(0, θ - θ_fc)
            theta, d = _bucket(theta, (irrigation - tr / h), water_cap, theta_fc, p.drain_rate, h)
            drain += d

        s.air_temperature, s.humidity, s.co2, s.dry_weight, s.substrate_water = temp, hum, co2, xd, theta
        s.mass_temperature = t_mass
        s.pipe_water_temperature = t_pipe
        s.boiler_temperature, s.canopy_temperature = t_boiler, t_can
        s.condensation_s += cond
        s.light_unscreened_j_m2 += unscreened * dt_s
        s.light_inside_j_m2 += inside_solar * dt_s
        s.boiler_heat_j += fired * a_flr
        s.boiler_fuel_j += fired * a_flr / p.boiler_efficiency
        s.curtain_heat_j += curtain_heat * a_flr
        s.curtain_water_l += curtain * dt_s / 3600.0 * a_flr
        s.curtain_pump_j += _clip(u.water_curtain) * p.curtain_pump_power * dt_s if curtain > 0.0 else 0.0
        s.event_irrigation_l += irrigation * dt_s * a_flr
        s.event_drain_l += drain * a_flr
        s.irrigating = irrigation > 0.0
        s.mass_heat_j += mass_gain * a_flr
        s.latent_heat_j += latent * a_flr
        s.boundary_loss_j += bnd_loss * a_flr
        s.heating_energy_j += heat_in * a_flr
        s.co2_dosed_kg += dose * dt_s * a_flr
        s.irrigation_l += irrigation * dt_s * a_flr
        s.drain_l += drain * a_flr
        s.lamp_energy_j += q_lamp_el * dt_s * a_flr
        s.co2_vented_kg += co2_vent * a_flr
        s.co2_crop_kg += co2_crop * a_flr
        s.transpiration_kg += transp * a_flr
        s.vapour_vented_kg += vap_vent * a_flr
        s.cover_loss_j += cover_loss * a_flr
        s.vent_loss_j += vent_loss * a_flr
        s.solar_gain_j += q_sol * dt_s * a_flr
        s.elapsed_s += dt_s


def _bucket(theta: float, net_in: float, cap: float, fc: float, k: float, dt: float) -> tuple[float, float]:
    """Substrate water over dt: cap·dθ/dt = net_in - k·cap·max(0, θ - fc). Returns (θ, drain L m-2).

    Solved exactly piecewise (linear below field capacity, exponential above), so the drain is whatever
    the water balance leaves: irrigation - uptake - cap·Δθ.
    """
    theta0 = theta
    t_left = dt
    if theta <= fc:
        rise = net_in * dt / cap
        if theta + rise <= fc or net_in <= 0.0:
            return max(0.0, theta + rise), 0.0
        t_reach = (fc - theta) * cap / net_in
        theta, t_left = fc, dt - t_reach
    if k <= 0.0:
        theta = min(1.0, theta + net_in * t_left / cap)
    else:
        eq = fc + net_in / (k * cap)
        e = math.exp(-k * t_left)
        new = eq + (theta - eq) * e
        if new < fc:  # net loss: drains down to field capacity, then falls linearly
            # time to reach fc: (theta - eq)·exp(-k t) = fc - eq
            t_fc = math.log((theta - eq) / (fc - eq)) / k
            new = fc + net_in * (t_left - t_fc) / cap
        theta = min(1.0, max(0.0, new))
    drain = net_in * dt - (theta - theta0) * cap
    return theta, max(0.0, drain)


def default_params() -> GreenhouseParams:
    """The demo plant's house."""
    return PARAMS["single-pe-1000"]


def params_dict(params: GreenhouseParams) -> dict[str, Any]:
    """The parameters as a plain dict (JSON reports)."""
    return {f.name: getattr(params, f.name) for f in fields(params)}


__all__ = [
    "PARAMS", "Greenhouse", "GreenhouseInputs", "GreenhouseParams", "GreenhouseState",
    "absolute_humidity_to_rh", "co2_kg_m3_to_ppm", "co2_ppm_to_kg_m3", "default_params", "dew_point",
    "dump_params", "load_params", "params_dict", "params_for", "rh_to_absolute_humidity",
    "saturation_vapour_pressure",
]
