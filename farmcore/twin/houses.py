"""The greenhouse model's parameters: one house (GreenhouseParams), the shipped houses (PARAMS) with the
sources of their values beside them, and their TOML loading and dumping.

Apart from the model (farmcore/twin/greenhouse.py, which re-exports every name here) because the sets and
their sources are read and edited on their own; the reference is ../shared/reference/models.md, Part A.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any

from farmcore.errors import ConfigError


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



def default_params() -> GreenhouseParams:
    """The demo plant's house."""
    return PARAMS["single-pe-1000"]


def params_dict(params: GreenhouseParams) -> dict[str, Any]:
    """The parameters as a plain dict (JSON reports)."""
    return {f.name: getattr(params, f.name) for f in fields(params)}
