"""Land-based fish tank model: dissolved oxygen, water temperature, TAN and biomass of one well-mixed tank.

The demo's plant, the tests' hardware and a what-if tool ("how long until DO reaches 2 mg/L if blower 1
trips at 02:00?"). Equations and evidence are in shared/reference/models.md Part B; species figures in
agronomy.md §2. One compartment per tank (B.1), four balances per step:

* water temperature (B.5): heater, chiller, make-up/exchange water, heat loss to the room;
* feed: a feeder drops pellets into `inputs.pending_feed_kg`; fish eat them within ~15 min (slower or not at
  all when DO or temperature is out of range; what is not eaten is wasted) and digest them over hours; what
  oxygen allows of the digested feed (`Species.growth_factor`: all of it at or above the species' growth-
  limiting DO, linearly less down to the lethal DO) raises the oxygen demand (specific dynamic action),
  excretes TAN and grows biomass (feed / FCR); `growth_optimal_kg` counts what the same feed would have grown
  with oxygen never limiting, so growth lost to low DO is measurable;
* TAN (B.6): excretion from digested feed and routine metabolism, nitrification placeholder, flushing by exchange water;
* DO (B.7): KLa aeration towards C*(T, S, P), pure-O2 injection, exchange water, fish respiration
  (allometric, Q10, optional diel rhythm, oxyconforming below a critical DO), nitrification (4.57 g O2 per g
  N) and a background heterotrophic demand.

Each linear balance is advanced with its exact solution over the step (coefficients frozen at the start),
so the step is unconditionally stable (checked at dt 60 s), the re-aeration curve is exactly exponential,
and the cumulative counters close the oxygen and heat balances to rounding error. Units inside the step:
seconds, m3, g, g/m3 (= mg/L), J, W. Pure Python floats; about 20 us per step.

Left out on purpose (placeholders to calibrate are in TankParams): pH is a constant (no CO2 / alkalinity
model), evaporation is lumped into UA, blower and pump heat are ignored, wasted feed only counts (no decay
demand, no TAN), solids and a biofilter are one first-order nitrification term, the NH3 pKa is the
freshwater one (D-7), the water level is always 100 %, and fish stop growing but do not lose weight when
fasted.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------------------
# Water chemistry (closed-form, verified against the models.md check tables)
# --------------------------------------------------------------------------------------------------

ML_O2_TO_MG = 1.42905  # mg O2 per mL O2 (USGS OWQ memo 2011.03)
THETA_KLA = 1.024  # KLa temperature correction (QSDsan, models.md B.3)
O2_PER_N_NITRIFIED = 4.57  # g O2 per g TAN-N oxidised to nitrate (textbook stoichiometry) [unverified]
TAN_PER_PROTEIN = 0.092  # kg TAN-N per kg feed protein (Timmons & Ebeling rule, models.md B.6) [secondary]

# Garcia & Gordon (1992), mL/L coefficients (models.md B.2)
_GG_A = (2.00907, 3.22014, 4.05010, 4.94457, -2.56847e-1, 3.88767)
_GG_B = (-6.24523e-3, -7.37614e-3, -1.03410e-2, -8.17083e-3)
_GG_C0 = -4.88682e-7


def do_saturation(t_c: float, salinity_psu: float = 0.0, pressure_atm: float = 1.0) -> float:
    """Oxygen solubility C* (mg/L) in water in equilibrium with moist air.

    Benson & Krause (1984) at 1 atm, with the Green & Carritt (1967) water-vapour / pressure correction for
    pressure_atm != 1 (models.md B.2; valid 0-40 degC, S 0-40)."""
    tk = t_c + 273.15
    ln_c = (-139.34411 + 1.575701e5 / tk - 6.642308e7 / tk**2 + 1.243800e10 / tk**3 - 8.621949e11 / tk**4
            - salinity_psu * (0.017674 - 10.754 / tk + 2140.7 / tk**2))
    c = math.exp(ln_c)
    if pressure_atm == 1.0:
        return c
    theta = 0.000975 - 1.426e-5 * t_c + 6.436e-8 * t_c * t_c
    pwv = (1.0 - 0.000537 * salinity_psu) * math.exp(
        18.1973 * (1.0 - 373.16 / tk)
        + 3.1813e-7 * (1.0 - math.exp(26.1205 * (1.0 - tk / 373.16)))
        - 0.018726 * (1.0 - math.exp(8.03945 * (1.0 - 373.16 / tk)))
        + 5.02802 * math.log(373.16 / tk))  # water vapour pressure, atm
    p = pressure_atm
    return c * p * (1.0 - pwv / p) * (1.0 - theta * p) / ((1.0 - pwv) * (1.0 - theta))


def garcia_gordon_mg_l(t_c: float, s: float) -> float:
    """Oxygen solubility (mg/L, 1 atm) from the Garcia & Gordon (1992) fit: the independent check of
    `do_saturation` (they agree within 0.003 mg/L over 0-40 degC, S 0-40)."""
    ts = math.log((298.15 - t_c) / (273.15 + t_c))
    a0, a1, a2, a3, a4, a5 = _GG_A
    b0, b1, b2, b3 = _GG_B
    ln_c = (a0 + ts * (a1 + ts * (a2 + ts * (a3 + ts * (a4 + ts * a5))))
            + s * (b0 + ts * (b1 + ts * (b2 + ts * b3))) + _GG_C0 * s * s)
    return math.exp(ln_c) * ML_O2_TO_MG


def nh3_fraction(t_c: float, ph: float) -> float:
    """Un-ionised fraction (0..1) of total ammonia, Emerson et al. (1975), freshwater pKa.

    In seawater the pKa is higher, so this overstates NH3 by roughly 10-30 % (models.md D-7, not corrected)."""
    pka = 0.09018 + 2729.92 / (t_c + 273.15)
    return 1.0 / (1.0 + 10.0 ** (pka - ph))


def kla_at(kla20: float, t_c: float, theta: float = THETA_KLA) -> float:
    """KLa at t_c from its 20 degC value: KLa20 * theta^(t - 20) (models.md B.3)."""
    return kla20 * theta ** (t_c - 20.0)


def rho_cp(salinity_psu: float) -> float:
    """Volumetric heat capacity of water, J/(m3 K): 4.175 MJ fresh, ~4.09 MJ at S 32-35 (models.md B.5 gives
    4.1 for seawater; the linear salinity term is a fit to seawater density x cp at 20 degC) [unverified]."""
    return 4.175e6 - 2.6e3 * salinity_psu


# --------------------------------------------------------------------------------------------------
# Species
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Species:
    """What the tank model needs of a species. Figures carry their evidence tag in PARAMS comments below.

    Routine oxygen consumption (mg O2 per kg fish per hour), allometric and Q10 around one reference point:
        OCR(T, W) = ocr_ref * (W / weight_ref)^(mass_exponent - 1) * q10^((T - t_ref) / 10)
    times an optional diel factor 1 + night_amplitude * cos(2 pi hour / 24) (peak at midnight)."""

    key: str
    name: str
    ko: str
    ocr_ref_mg_kg_h: float  # routine OCR at t_ref_c and weight_ref_g
    t_ref_c: float
    weight_ref_g: float
    q10: float
    mass_exponent: float  # whole-animal exponent b (OCR per fish ~ W^b); per kg it is W^(b-1)
    night_amplitude: float  # relative diel swing of OCR, + at night (0 = none)
    fcr: float  # kg feed per kg biomass gain
    feed_protein: float  # crude protein fraction of the feed
    sda_o2_g_per_kg_feed: float  # extra O2 for digesting 1 kg feed (specific dynamic action)
    t_opt_c: tuple[float, float]
    t_feed_min_c: float  # no feeding below
    t_lethal_low_c: float
    t_lethal_high_c: float
    do_lethal_mg_l: float  # fish die below this (see mortality in Tank.step)
    do_crit_mg_l: float  # below this OCR falls in proportion to DO (oxyconformer) [unverified for all]
    do_feed_min_mg_l: float  # appetite falls to 0 at this DO, full 1 mg/L above
    do_growth_mg_l: float  # growth is not limited by oxygen at or above this DO (see growth_factor)
    feeding_table: tuple[tuple[float, float], ...] = ()  # (weight g, %BW/d) at optimum temperature
    # Endogenous TAN excretion between meals, g N per g O2 of routine respiration: a nitrogen quotient of
    # 0.05 mol N / mol O2 (rainbow trout at rest: 0.04-0.08, J. Exp. Biol. 201(22):3123 [secondary, abstract]).
    # On top of the feed rule (B.6), which is meant as a fed-day total, so TAN is slightly overstated.
    routine_tan_g_per_g_o2: float = 0.05 * 14.007 / 31.998

    def ocr_mg_kg_h(self, t_c: float, weight_g: float) -> float:
        """Routine (fasted, daily-mean) oxygen consumption in mg O2 per kg per hour."""
        w = max(weight_g, 0.01)
        return (self.ocr_ref_mg_kg_h * (w / self.weight_ref_g) ** (self.mass_exponent - 1.0)
                * self.q10 ** ((t_c - self.t_ref_c) / 10.0))

    def growth_factor(self, do_mg_l: float) -> float:
        """0..1: the share of digested feed that oxygen lets become fish (and SDA, TAN) at this DO.

        The limiting-DO form of fish bioenergetics models of aquaculture ponds (Cuenco, Stickney & Grant 1985,
        Ecol. Model. 27:191, and the pond models built on it [secondary]): food use is not limited at or above a
        critical DO and falls linearly to nothing at a minimum DO. Here the critical DO is `do_growth_mg_l` (the
        species' growth optimum or no-impairment level) and the minimum is `do_lethal_mg_l` (no growth where
        the fish die) [engineering choice]. Applied to digestion, not to the meal, so hypoxia in the hours
        after a meal costs growth too."""
        span = self.do_growth_mg_l - self.do_lethal_mg_l
        if span <= 0:
            return 1.0 if do_mg_l >= self.do_growth_mg_l else 0.0
        return _clamp01((do_mg_l - self.do_lethal_mg_l) / span)

    def feed_rate_pct_bw(self, weight_g: float) -> float | None:
        """Daily ration (%BW/d) for this weight, interpolated in the feeding table; None without a table."""
        table = self.feeding_table
        if not table:
            return None
        if weight_g <= table[0][0]:
            return table[0][1]
        for (w0, r0), (w1, r1) in itertools.pairwise(table):
            if weight_g <= w1:
                return r0 + (r1 - r0) * (weight_g - w0) / (w1 - w0)
        return table[-1][1]


# SDA: 10-15 % of ingested energy (typical for fish fed formulated diets) x ~20 MJ/kg feed / 13.6 kJ per g O2
# (oxycalorific coefficient) = 150-220 g O2 per kg feed; 150 used for all species [unverified].
_SDA = 150.0

OLIVE_FLOUNDER = Species(
    key="olive_flounder", name="olive flounder (Paralichthys olivaceus)", ko="넙치",
    # Oh S-Y et al. 2012 (models.md B.4) [secondary, abstract]: 266 g fish OCR = -52.52 + 14.73 T, i.e. 242 at
    # 20 degC if the unit is mg/kg/h (D-5: unit not confirmed). Mass exponent 0.77-0.82 -> 0.80, and with it the
    # 9 g regression (484 at 20 degC) is reproduced within 2 %. The 266 g regression gives Q10 2.07 (15-20) and
    # 1.70 (20-25) -> 1.9. Cross-check: Kim W-S 2005, >28 cm fish, ~177 mg/kg/h at 14.4 degC; this model gives
    # 168. Below ~10 degC the real fall is much steeper (6.9 mL/kg/h at 3-6 degC, Kim 2005): the model
    # overstates winter demand (conservative for alarms).
    ocr_ref_mg_kg_h=-52.52 + 14.73 * 20.0, t_ref_c=20.0, weight_ref_g=266.0, q10=1.9, mass_exponent=0.80,
    # Nocturnal; amplitude borrowed from starry flounder (day 72.4 / night 87.1 -> +-9 %) [secondary].
    night_amplitude=0.09,
    fcr=1.1, feed_protein=0.50,  # extruded pellet for flatfish [unverified, typical]
    sda_o2_g_per_kg_feed=_SDA,
    t_opt_c=(21.0, 24.0),  # agronomy.md 2.1 [secondary]
    t_feed_min_c=10.0,  # [unverified]
    t_lethal_low_c=2.0,  # [unverified]
    t_lethal_high_c=30.0,  # O2 rhythm lost > 28.4, tested to 29 degC (agronomy.md 2.1); 30 [unverified]
    do_lethal_mg_l=1.13,  # Kawana et al. 2012, 20 degC (agronomy.md 2.4) [secondary]
    do_crit_mg_l=2.5,  # [unverified]; ventilation rises below 4 mg/L (Kono 2016)
    do_feed_min_mg_l=4.0,  # suggested warning level, agronomy.md 2.4 [unverified]
    # growth optimum 6-7 mg/L, worse at 2-3 (187 g fish; oak.go.kr article_seq=17565, abstract) [secondary]
    do_growth_mg_l=6.0,
    # agronomy.md 2.2, 21-24 degC (Okorie 2014 review; oak.go.kr 14926) [secondary]
    feeding_table=((5.0, 5.35), (9.0, 4.54), (20.0, 3.49), (30.0, 3.19), (40.0, 2.81), (50.0, 2.43),
                   (317.0, 0.99)),
)

STARRY_FLOUNDER = Species(
    key="starry_flounder", name="starry flounder (Platichthys stellatus)", ko="강도다리",
    # 70.5 / 79.7 / 90.6 mg/kg/h at 15 / 20 / 25 degC (models.md B.4) [secondary] -> Q10 1.29. Fish weight not
    # given: 100 g assumed; mass exponent assumed as olive flounder [unverified].
    ocr_ref_mg_kg_h=79.7, t_ref_c=20.0, weight_ref_g=100.0, q10=1.29, mass_exponent=0.80,
    night_amplitude=0.09,  # day 72.4 vs night 87.1 at 20 degC [secondary]
    fcr=1.2, feed_protein=0.50, sda_o2_g_per_kg_feed=_SDA,  # [unverified]
    t_opt_c=(13.0, 18.0),  # no source in agronomy.md (cold-water flatfish) [unverified]
    t_feed_min_c=5.0, t_lethal_low_c=1.0, t_lethal_high_c=26.0,  # [unverified]
    do_lethal_mg_l=1.5, do_crit_mg_l=2.5, do_feed_min_mg_l=4.0,  # no sourced figure (agronomy.md 2.4) [unverified]
    do_growth_mg_l=6.0,  # olive flounder's optimum (oak.go.kr 17565) borrowed [unverified]
    feeding_table=(),  # Animals 2024, 14:3127 exists, numbers not extracted (agronomy.md 3)
)

KOREAN_ROCKFISH = Species(
    key="korean_rockfish", name="Korean rockfish (Sebastes schlegelii)", ko="조피볼락",
    # No OCR source found: olive-flounder-like figures assumed (200 mg/kg/h at 20 degC, 100 g, Q10 2) [unverified].
    ocr_ref_mg_kg_h=200.0, t_ref_c=20.0, weight_ref_g=100.0, q10=2.0, mass_exponent=0.80,
    night_amplitude=0.0,
    fcr=1.3, feed_protein=0.48, sda_o2_g_per_kg_feed=_SDA,  # [unverified]
    t_opt_c=(12.0, 21.0),  # agronomy.md 2.1 [secondary]
    t_feed_min_c=8.0, t_lethal_low_c=2.0, t_lethal_high_c=27.0,  # [unverified]
    do_lethal_mg_l=1.5, do_crit_mg_l=2.5, do_feed_min_mg_l=4.0,  # [unverified]
    do_growth_mg_l=6.0,  # olive flounder's optimum (oak.go.kr 17565) borrowed [unverified]
    # agronomy.md 2.2, 19-20 degC column (oak.go.kr 13728; Mizanur 2014) [secondary]; 93-133 g as 113 g
    feeding_table=((5.0, 4.83), (16.0, 3.75), (113.0, 1.5)),
)

RAINBOW_TROUT = Species(
    key="rainbow_trout", name="rainbow trout (Oncorhynchus mykiss)", ko="무지개송어",
    # No verified regression (models.md B.4): "Q10 ~ 2 around a measured reference". Reference assumed:
    # 250 mg/kg/h routine at 15 degC for a 100 g fish (salmonid engineering figure) [unverified; replace with the
    # site's own measurement].
    ocr_ref_mg_kg_h=250.0, t_ref_c=15.0, weight_ref_g=100.0, q10=2.0, mass_exponent=0.80,
    night_amplitude=0.0,  # diurnal fish; no figure
    fcr=1.1, feed_protein=0.42, sda_o2_g_per_kg_feed=_SDA,  # [unverified]
    t_opt_c=(5.0, 20.0),  # "thrives 5-20" (agronomy.md 2.1) [secondary]
    t_feed_min_c=3.0, t_lethal_low_c=0.5,  # [unverified]
    t_lethal_high_c=26.0,  # mortality at 26-27 degC (agronomy.md 2.1) [secondary]
    do_lethal_mg_l=3.0, do_crit_mg_l=5.0,  # "intolerant of low O2", no number [unverified]
    do_feed_min_mg_l=6.0,  # [unverified]
    # salmonids: no production impairment at 8 mg/L, slight at 6 (US EPA 1986, EPA 440/5-86-003) [secondary]
    do_growth_mg_l=8.0,
    feeding_table=(),  # none in agronomy.md
)

WHITELEG_SHRIMP = Species(
    key="whiteleg_shrimp", name="whiteleg shrimp (Litopenaeus vannamei)", ko="흰다리새우",
    # No OCR source in models.md: 400 mg/kg/h at 28 degC for 10 g shrimp, Q10 2 [unverified]. Biofloc tanks add a
    # large heterotrophic demand: raise TankParams.heterotrophic_o2_mg_l_h for them.
    ocr_ref_mg_kg_h=400.0, t_ref_c=28.0, weight_ref_g=10.0, q10=2.0, mass_exponent=0.80,
    night_amplitude=0.0,
    fcr=1.4, feed_protein=0.35, sda_o2_g_per_kg_feed=_SDA,  # [unverified]
    t_opt_c=(29.0, 31.0),  # feeding optimum (agronomy.md 2.1) [secondary]
    t_feed_min_c=18.0,  # [unverified]
    t_lethal_low_c=12.0,  # "never < 12" (CTMin 7.5-11) [secondary]
    t_lethal_high_c=38.0,  # CTMax 35.9-42.2 depending on acclimation [secondary]; 38 chosen
    do_lethal_mg_l=1.0, do_crit_mg_l=2.5,  # [unverified]
    do_feed_min_mg_l=3.0,  # pond aeration triggers 2.5-4.5 made no difference (WAS 2024) [secondary]
    do_growth_mg_l=4.8,  # marine growth criterion, fish and crustaceans (US EPA 2000, EPA-822-R-00-012) [secondary]
    feeding_table=(),  # no size table found (agronomy.md 3)
)

JAPANESE_EEL = Species(
    key="japanese_eel", name="Japanese eel (Anguilla japonica)", ko="뱀장어",
    # No OCR source: eels have a low metabolic rate; 100 mg/kg/h at 25 degC for 200 g, Q10 2 [unverified].
    ocr_ref_mg_kg_h=100.0, t_ref_c=25.0, weight_ref_g=200.0, q10=2.0, mass_exponent=0.80,
    night_amplitude=0.10,  # nocturnal [unverified]
    fcr=1.6, feed_protein=0.45, sda_o2_g_per_kg_feed=_SDA,  # formulated feed [unverified]
    t_opt_c=(23.0, 30.0),  # agronomy.md 2.1 [secondary]
    t_feed_min_c=13.0,  # no feeding < 12-13 degC (FAO) [secondary]
    t_lethal_low_c=3.0, t_lethal_high_c=35.0,  # [unverified]
    do_lethal_mg_l=1.0, do_crit_mg_l=2.0, do_feed_min_mg_l=3.0,  # [unverified]
    do_growth_mg_l=6.0,  # warm-water fish: no production impairment at 6 mg/L (US EPA 1986) [secondary]
    feeding_table=(),  # formulated feed 1.0-3.5 %BW/d, no size split (FAO) [secondary]
)

SPECIES: dict[str, Species] = {s.key: s for s in (
    OLIVE_FLOUNDER, STARRY_FLOUNDER, KOREAN_ROCKFISH, RAINBOW_TROUT, WHITELEG_SHRIMP, JAPANESE_EEL)}


# --------------------------------------------------------------------------------------------------
# Tank parameters, state and inputs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Aerator:
    """One aerator (blower + diffusers, paddle, air-lift): its share of the tank's KLa and its nameplate."""

    name: str
    kla20_h: float  # KLa contribution at 20 degC in this tank's water, 1/h (from a re-aeration test)
    power_w: float  # electric power when running
    current_a: float  # running current (what a current transducer on its feeder reads)


@dataclass(frozen=True)
class TankParams:
    """Fixed description of one tank. Temperatures in degC, DO in mg/L, flows in m3/h."""

    name: str
    species: Species
    volume_m3: float
    salinity_psu: float
    fish_count: float  # stocking
    mean_weight_g: float
    aerators: tuple[Aerator, ...]
    o2_capacity_g_h: float  # pure O2 gas flow at valve 1.0
    o2_transfer_efficiency: float  # fraction of that gas that dissolves (0..1)
    heater_w: float  # heat delivered at heater 1.0 (electric = heat)
    chiller_w: float  # heat removed at chiller 1.0
    chiller_cop: float  # heat removed per electric W, for energy accounting only
    ua_w_k: float  # tank walls + open surface to the room, W/K (evaporation lumped in)
    exchange_flow_m3_h: float  # make-up / flow-through water at exchange_pump 1.0
    inflow_temperature_c: float
    inflow_do_mg_l: float
    inflow_tan_mg_l: float = 0.0
    ph: float = 7.8  # constant (no carbonate model yet)
    pressure_atm: float = 1.0
    kla_factor: float = 1.0  # alpha * F relative to the KLa20 values (fouling, oil film, feed fines)
    nitrification_k_h: float = 0.02  # first-order TAN oxidation at high DO, 1/h (walls, no biofilter) (D-8)
    k_o2_mg_l: float = 0.5  # DO half-saturation of nitrifiers and heterotrophs (D-8) [unverified]
    heterotrophic_o2_mg_l_h: float = 0.2  # biofilm + faeces demand at high DO [unverified]
    initial_temperature_c: float = 20.0
    initial_do_fraction: float = 0.9  # initial DO as a fraction of saturation
    initial_tan_mg_l: float = 0.2
    feed_eat_tau_s: float = 300.0  # fish eat the pending ration with this time constant (~95 % in 15 min)
    feed_waste_tau_s: float = 1800.0  # uneaten pellets sink / flush out with this time constant
    digestion_tau_s: float = 4 * 3600.0  # gut emptying: drives SDA, TAN excretion and growth
    hypoxia_mortality_h: float = 0.2  # fraction of fish dying per hour below do_lethal / outside T limits

    def __post_init__(self) -> None:
        if self.volume_m3 <= 0:
            raise ValueError(f"{self.name}: volume_m3 must be > 0")
        if not 0.0 <= self.o2_transfer_efficiency <= 1.0:
            raise ValueError(f"{self.name}: o2_transfer_efficiency must be within 0..1")
        if self.fish_count < 0 or self.mean_weight_g <= 0:
            raise ValueError(f"{self.name}: fish_count must be >= 0 and mean_weight_g > 0")
        if self.chiller_cop <= 0:
            raise ValueError(f"{self.name}: chiller_cop must be > 0")

    @property
    def stocking_density_kg_m3(self) -> float:
        return self.fish_count * self.mean_weight_g / 1000.0 / self.volume_m3


@dataclass
class TankState:
    """Everything that changes. Counters are cumulative since the state was made; the o2_* and heat_* ones
    are signed flows INTO the water (g, J) so the balances can be checked:
    V*(DO - DO0) = o2_aeration_g + o2_injected_g + o2_exchange_g - o2_fish_g - o2_bio_g, and
    rho_cp*V*(T - T0) = heat_heater_j - heat_chiller_j + heat_exchange_j + heat_room_j."""

    do_mg_l: float
    temperature_c: float
    tan_mg_l: float  # total ammonia nitrogen, mg N/L
    fish_count: float  # float: mortality removes fractions
    mean_weight_g: float
    ph: float
    gut_feed_kg: float = 0.0  # eaten, not yet digested
    time_s: float = 0.0
    # energy and consumables
    aeration_energy_j: float = 0.0
    chiller_energy_j: float = 0.0  # electric
    o2_gas_used_g: float = 0.0  # pure O2 bought (dissolved or not)
    water_exchanged_m3: float = 0.0
    # oxygen balance, g
    o2_aeration_g: float = 0.0  # negative when supersaturated water degasses
    o2_injected_g: float = 0.0
    o2_exchange_g: float = 0.0
    o2_fish_g: float = 0.0
    o2_bio_g: float = 0.0  # nitrification + heterotrophs
    # heat balance, J
    heat_heater_j: float = 0.0
    heat_chiller_j: float = 0.0  # removed (positive)
    heat_exchange_j: float = 0.0
    heat_room_j: float = 0.0
    # feed, fish and ammonia
    feed_given_kg: float = 0.0
    feed_eaten_kg: float = 0.0
    feed_wasted_kg: float = 0.0
    growth_kg: float = 0.0
    growth_optimal_kg: float = 0.0  # what the digested feed would have grown with oxygen never limiting
    deaths: float = 0.0
    tan_excreted_g: float = 0.0
    tan_nitrified_g: float = 0.0
    tan_exchange_g: float = 0.0  # net TAN-N brought in by exchange water (negative: flushed out)

    @property
    def biomass_kg(self) -> float:
        return self.fish_count * self.mean_weight_g / 1000.0

    @property
    def heat_j(self) -> float:
        """Net heat added by heater and chiller, J."""
        return self.heat_heater_j - self.heat_chiller_j

    @classmethod
    def initial(cls, params: TankParams) -> TankState:
        t = params.initial_temperature_c
        return cls(
            do_mg_l=params.initial_do_fraction * do_saturation(t, params.salinity_psu, params.pressure_atm),
            temperature_c=t, tan_mg_l=params.initial_tan_mg_l, fish_count=float(params.fish_count),
            mean_weight_g=params.mean_weight_g, ph=params.ph)


@dataclass
class TankInputs:
    """Actuator commands, 0..1 each (fractions act as duty / VFD speed). `aerator_failed[i]`: a tripped
    aerator: commanded on but no transfer, no power, ~0 A. A feeder adds kg to `pending_feed_kg`; the tank
    takes it down as fish eat (or the feed is wasted)."""

    aerators: list[float] = field(default_factory=list)
    aerator_failed: list[bool] = field(default_factory=list)
    o2_valve: float = 0.0
    heater: float = 0.0
    chiller: float = 0.0
    exchange_pump: float = 0.0
    pending_feed_kg: float = 0.0


def _clamp01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else float(x)


def _linear_step(x0: float, a: float, b: float, dt: float) -> tuple[float, float]:
    """Exact solution of dx/dt = a - b*x over dt (a, b constant, b >= 0): (x(dt), integral of x over dt)."""
    bdt = b * dt
    if bdt < 1e-12:
        x1 = x0 + a * dt
        return x1, 0.5 * (x0 + x1) * dt
    x_eq = a / b
    decay = -math.expm1(-bdt)  # 1 - exp(-b dt), accurate for small b dt
    return x_eq + (x0 - x_eq) * (1.0 - decay), x_eq * dt + (x0 - x_eq) * decay / b


# --------------------------------------------------------------------------------------------------
# The tank
# --------------------------------------------------------------------------------------------------


class Tank:
    """One tank: set `inputs`, call `step(dt_s, room_temperature_c)`, read `outputs()` or `state`."""

    def __init__(self, params: TankParams, state: TankState | None = None) -> None:
        self.params = params
        self.state = state if state is not None else TankState.initial(params)
        n = len(params.aerators)
        self.inputs = TankInputs(aerators=[0.0] * n, aerator_failed=[False] * n)
        self._pending_left = 0.0  # pending feed left after the last step (to see new feed arrive)
        self._rho_cp = rho_cp(params.salinity_psu)

    def clone(self) -> Tank:
        """An independent copy (params shared, state and inputs copied): for what-if runs."""
        return copy.deepcopy(self)

    # -- derived rates, also useful to a controller or a what-if tool --------------------------------

    def kla_h(self, t_c: float | None = None) -> float:
        """Effective KLa (1/h) of the aerators as commanded now, at t_c (default: the water temperature)."""
        p, inp = self.params, self.inputs
        kla20 = sum(a.kla20_h * _clamp01(u) for a, u, failed in
                    zip(p.aerators, inp.aerators, inp.aerator_failed, strict=True) if not failed)
        return kla_at(p.kla_factor * kla20, self.state.temperature_c if t_c is None else t_c)

    def fish_ocr_g_h(self, t_c: float | None = None, hour: float | None = None) -> float:
        """Routine oxygen consumption of all fish (g O2/h), without SDA and without hypoxia limitation."""
        s, sp = self.state, self.params.species
        t = s.temperature_c if t_c is None else t_c
        diel = 1.0 if hour is None else 1.0 + sp.night_amplitude * math.cos(2.0 * math.pi * hour / 24.0)
        return s.biomass_kg * sp.ocr_mg_kg_h(t, s.mean_weight_g) * diel / 1000.0

    # -- the step ------------------------------------------------------------------------------------

    def step(self, dt_s: float, room_temperature_c: float, hour: float | None = None) -> None:
        """Advance dt_s seconds. `hour` (0-24, local time) switches on the species' diel OCR rhythm;
        None uses the daily mean."""
        if not dt_s > 0.0:
            raise ValueError("dt_s must be > 0")
        p, s, inp, sp = self.params, self.state, self.inputs, self.params.species
        n = len(p.aerators)
        if len(inp.aerators) != n or len(inp.aerator_failed) != n:
            raise ValueError(f"{p.name} has {n} aerators; inputs.aerators / aerator_failed must have {n} items")
        dt = float(dt_s)
        vol = p.volume_m3
        q = p.exchange_flow_m3_h * _clamp01(inp.exchange_pump) / 3600.0  # m3/s

        # ---- water temperature (B.5): rho_cp V dT/dt = P + rho_cp Q (T_in - T) - UA (T - T_room) ----
        rc = self._rho_cp
        heat_w = p.heater_w * _clamp01(inp.heater)
        chill_w = p.chiller_w * _clamp01(inp.chiller)
        g_ex = rc * q  # W/K
        t0 = s.temperature_c
        t1, t_int = _linear_step(
            t0, (heat_w - chill_w + g_ex * p.inflow_temperature_c + p.ua_w_k * room_temperature_c) / (rc * vol),
            (g_ex + p.ua_w_k) / (rc * vol), dt)
        s.temperature_c = t1
        s.heat_heater_j += heat_w * dt
        s.heat_chiller_j += chill_w * dt
        s.heat_exchange_j += g_ex * (p.inflow_temperature_c * dt - t_int)
        s.heat_room_j += p.ua_w_k * (room_temperature_c * dt - t_int)
        s.chiller_energy_j += chill_w / p.chiller_cop * dt
        t_m = t_int / dt  # mean water temperature over the step, drives C*, KLa and OCR

        do0 = s.do_mg_l
        fish = s.fish_count > 0.0

        # ---- feed: eaten with tau_eat scaled by appetite, else wasted; eaten feed -> gut ----
        pending = max(inp.pending_feed_kg, 0.0)
        if pending > self._pending_left:
            s.feed_given_kg += pending - self._pending_left
        eaten = 0.0
        if pending > 0.0:
            appetite = 0.0
            if fish and sp.t_feed_min_c <= t_m < sp.t_lethal_high_c:
                appetite = _clamp01(do0 - sp.do_feed_min_mg_l)  # 0 at the limit, 1 from 1 mg/L above
            k_eat = appetite / p.feed_eat_tau_s
            k_waste = (1.0 - appetite) / p.feed_waste_tau_s
            k_tot = k_eat + k_waste
            gone = pending * -math.expm1(-k_tot * dt)
            eaten = gone * k_eat / k_tot
            s.feed_eaten_kg += eaten
            s.feed_wasted_kg += gone - eaten
            pending -= gone
            if pending < 1e-9:
                s.feed_wasted_kg += pending
                pending = 0.0
        inp.pending_feed_kg = pending
        self._pending_left = pending
        # digestion: first-order gut emptying; this step's meal enters at mid-step on average
        digested = 0.0
        if s.gut_feed_kg > 0.0 or eaten > 0.0:
            tau = p.digestion_tau_s
            digested = (s.gut_feed_kg * -math.expm1(-dt / tau) + eaten * -math.expm1(-0.5 * dt / tau))
            s.gut_feed_kg += eaten - digested

        # oxygen lets only part of the digested feed become fish (Species.growth_factor); the rest leaves undigested
        used = digested * sp.growth_factor(do0) if fish else 0.0

        # ---- TAN (B.6): excretion - nitrification - flushing ----
        nit_do = do0 / (p.k_o2_mg_l + do0) if do0 > 0.0 else 0.0
        k_nit = p.nitrification_k_h / 3600.0 * nit_do
        routine_o2_g = self.fish_ocr_g_h(t_m, hour) * dt / 3600.0 if fish else 0.0
        excreted_g = (used * sp.feed_protein * TAN_PER_PROTEIN * 1000.0
                      + routine_o2_g * sp.routine_tan_g_per_g_o2)
        tan0 = s.tan_mg_l
        tan1, tan_int = _linear_step(
            tan0, excreted_g / (vol * dt) + q / vol * p.inflow_tan_mg_l, k_nit + q / vol, dt)
        s.tan_mg_l = max(tan1, 0.0)
        nitrified_g = k_nit * tan_int * vol
        s.tan_excreted_g += excreted_g
        s.tan_nitrified_g += nitrified_g
        s.tan_exchange_g += q * (p.inflow_tan_mg_l * dt - tan_int)

        # ---- DO (B.7): dC/dt = KLa (C* - C) + Q/V (C_in - C) + inj/V - fish - bio ----
        c_sat = do_saturation(t_m, p.salinity_psu, p.pressure_atm)
        kla = self.kla_h(t_m) / 3600.0  # 1/s
        inj = p.o2_capacity_g_h * _clamp01(inp.o2_valve) / 3600.0  # g/s gas
        inj_dissolved = inj * p.o2_transfer_efficiency / vol  # g/m3/s
        fish_g_s = 0.0
        if fish:
            fish_g_s = (routine_o2_g + used * sp.sda_o2_g_per_kg_feed) / dt
        bio_g_s = O2_PER_N_NITRIFIED * nitrified_g / dt + p.heterotrophic_o2_mg_l_h / 3600.0 * nit_do * vol
        q_v = q / vol
        fish_rate = fish_g_s / vol  # g/m3/s at or above do_crit
        oxyconform = do0 < sp.do_crit_mg_l
        a = kla * c_sat + q_v * p.inflow_do_mg_l + inj_dissolved - bio_g_s / vol
        b = kla + q_v
        if oxyconform:  # fish uptake = fish_rate * C / do_crit: first order in C
            b += fish_rate / sp.do_crit_mg_l
        else:
            a -= fish_rate
        do1, do_int = _linear_step(do0, a, b, dt)
        aer_g = vol * kla * (c_sat * dt - do_int)
        exch_g = vol * q_v * (p.inflow_do_mg_l * dt - do_int)
        inj_g = inj_dissolved * vol * dt
        fish_used = vol * fish_rate / sp.do_crit_mg_l * do_int if oxyconform else fish_g_s * dt
        bio_used = bio_g_s * dt
        if do1 < 0.0:  # sinks outran supply within the step: DO stops at 0, uptake is what was there
            do1 = 0.0
            available = max(aer_g + exch_g + inj_g + vol * do0, 0.0)
            scale = available / (fish_used + bio_used) if fish_used + bio_used > 0.0 else 0.0
            fish_used *= scale
            bio_used *= scale
        s.do_mg_l = do1
        s.o2_aeration_g += aer_g
        s.o2_exchange_g += exch_g
        s.o2_injected_g += inj_g
        s.o2_fish_g += fish_used
        s.o2_bio_g += bio_used
        s.o2_gas_used_g += inj * dt
        s.water_exchanged_m3 += q * dt
        s.aeration_energy_j += dt * sum(
            a_.power_w * _clamp01(u) for a_, u, failed in zip(p.aerators, inp.aerators, inp.aerator_failed,
                                                             strict=True) if not failed)

        # ---- fish: growth from digested feed, mortality in hypoxia or outside temperature limits ----
        if fish:
            growth = used / sp.fcr
            s.growth_kg += growth
            s.growth_optimal_kg += digested / sp.fcr
            s.mean_weight_g += growth * 1000.0 / s.fish_count
            if do1 < sp.do_lethal_mg_l or not sp.t_lethal_low_c <= t1 <= sp.t_lethal_high_c:
                dead = s.fish_count * -math.expm1(-p.hypoxia_mortality_h * dt / 3600.0)
                s.fish_count -= dead
                s.deaths += dead
        s.time_s += dt

    def advance(self, duration_s: float, room_temperature_c: float, dt_s: float = 10.0,
                hour: float | None = None) -> None:
        """Step for duration_s (the last step shortened to fit). With `hour`, the clock advances from it."""
        left = float(duration_s)
        while left > 1e-9:
            dt = min(dt_s, left)
            self.step(dt, room_temperature_c, hour)
            if hour is not None:
                hour = (hour + dt / 3600.0) % 24.0
            left -= dt

    # -- what the sensors see -----------------------------------------------------------------------

    def outputs(self) -> dict[str, float]:
        """Readings in the project vocabulary: DO mg/L and %, water temperature degC, salinity psu, pH,
        TAN and NH3 mg N/L, water level %, exchange flow L/min, aerator_<i>_current A, biomass kg."""
        p, s, inp = self.params, self.state, self.inputs
        c_sat = do_saturation(s.temperature_c, p.salinity_psu, p.pressure_atm)
        out = {
            "dissolved_oxygen": s.do_mg_l,
            "dissolved_oxygen_saturation": 100.0 * s.do_mg_l / c_sat,
            "water_temperature": s.temperature_c,
            "salinity": p.salinity_psu,
            "ph": s.ph,
            "tan": s.tan_mg_l,
            "nh3": s.tan_mg_l * nh3_fraction(s.temperature_c, s.ph),
            "water_level": 100.0,
            "flow": p.exchange_flow_m3_h * _clamp01(inp.exchange_pump) * 1000.0 / 60.0,
            "biomass": s.biomass_kg,
        }
        for i, (aerator, u, failed) in enumerate(
                zip(p.aerators, inp.aerators, inp.aerator_failed, strict=True), start=1):
            out[f"aerator_{i}_current"] = 0.0 if failed else aerator.current_a * _clamp01(u)
        return out


# --------------------------------------------------------------------------------------------------
# Example tanks
# --------------------------------------------------------------------------------------------------

# Aerators: a 0.75 kW ring blower on fine-pore diffusers in a ~1 m deep 10 m3 tank. With models.md B.3,
# KLa20 = Q_air * SOTE * 277.65 / (V * delta * 9.09): 60 m3/h air x 2.5 % SOTE (shallow) / (10 x 1.04 x 9.09)
# = 4.4 1/h; models.md gives 2-20 1/h for such tanks [unverified; calibrate with a re-aeration test, D-6].
# 0.75 kW single-phase 220 V blower: ~4 A [unverified, typical nameplate].
_BLOWER = Aerator("blower", kla20_h=4.5, power_w=750.0, current_a=4.0)

PARAMS: dict[str, TankParams] = {
    # Olive flounder, flow-through seawater, high density. 10 m3 (~12.5 m2 x 0.8 m). 1300 fish x 300 g = 390 kg
    # (39 kg/m3, ~31 kg/m2) [unverified, typical of Korean land-based flounder farms]. Routine OCR at 20 degC
    # ~92 g O2/h plus SDA: two blowers hold DO ~6.4 mg/L (85 % sat), one ~5.3, none -> hypoxia within the hour
    # (exchange water alone cannot supply it). Exchange 6 m3/h = 14 turnovers/day from a seawater well at
    # 19 degC, 90 % saturated [unverified]. Pure O2: 200 g/h (~2.3 L/min) through ceramic diffusers, 60 %
    # dissolving [unverified]: enough on its own to keep the fish alive. Heater 10 kW, chiller 8 kW
    # (heat pump) [unverified]; the exchange water dominates the heat balance (6.8 kW/K), as models.md B.5 says.
    "flounder-10m3": TankParams(
        name="flounder-10m3", species=OLIVE_FLOUNDER, volume_m3=10.0, salinity_psu=32.0,
        fish_count=1300, mean_weight_g=300.0,
        aerators=(_BLOWER, Aerator("blower-2", 4.5, 750.0, 4.0)),
        o2_capacity_g_h=200.0, o2_transfer_efficiency=0.6,
        heater_w=10_000.0, chiller_w=8_000.0, chiller_cop=3.0, ua_w_k=150.0,
        exchange_flow_m3_h=6.0, inflow_temperature_c=19.0,
        inflow_do_mg_l=0.9 * do_saturation(19.0, 32.0),
        ph=7.9,  # seawater, slightly lowered by respiration CO2 [unverified]
        initial_temperature_c=20.0, initial_tan_mg_l=0.5),
    # Rainbow trout, freshwater flow-through (Gangwon-type spring/groundwater at 13 degC, 90 % saturated).
    # 800 fish x 350 g = 280 kg (28 kg/m3). Exchange 15 m3/h (1.5 tank volumes per hour, raceway-like)
    # [unverified]. Two 0.4 kW paddle/air-lift aerators at KLa20 3 1/h each [unverified]. With both running DO
    # stays ~9 mg/L at 13 degC; exchange alone gives ~5.5 mg/L (below the trout's comfort).
    "trout-10m3": TankParams(
        name="trout-10m3", species=RAINBOW_TROUT, volume_m3=10.0, salinity_psu=0.0,
        fish_count=800, mean_weight_g=350.0,
        aerators=(Aerator("aerator-1", 3.0, 400.0, 2.2), Aerator("aerator-2", 3.0, 400.0, 2.2)),
        o2_capacity_g_h=150.0, o2_transfer_efficiency=0.6,
        heater_w=3_000.0, chiller_w=6_000.0, chiller_cop=3.0, ua_w_k=150.0,
        exchange_flow_m3_h=15.0, inflow_temperature_c=13.0,
        inflow_do_mg_l=0.9 * do_saturation(13.0, 0.0),
        ph=7.3,  # [unverified]
        initial_temperature_c=13.0, initial_tan_mg_l=0.2),
}
