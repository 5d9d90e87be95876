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

The parameters and the shipped houses (with their sources) live in houses.py, the state and inputs in
zonestate.py; this module re-exports them, so `farmcore.twin.greenhouse` still gives every name it gave.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from farmcore import canopy as crop_heat
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
from farmcore.twin.houses import (
    PARAMS,
    GreenhouseParams,
    default_params,
    dump_params,
    load_params,
    params_dict,
    params_for,
)
from farmcore.twin.watercurtain import film_temperature
from farmcore.twin.zonestate import GreenhouseInputs, GreenhouseState

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


__all__ = [
    "PARAMS", "Greenhouse", "GreenhouseInputs", "GreenhouseParams", "GreenhouseState",
    "absolute_humidity_to_rh", "co2_kg_m3_to_ppm", "co2_ppm_to_kg_m3", "default_params", "dew_point",
    "dump_params", "load_params", "params_dict", "params_for", "rh_to_absolute_humidity",
    "saturation_vapour_pressure",
]
