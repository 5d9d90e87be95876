"""The recipe file schema (pydantic, unknown fields are errors).

```toml
[recipe]
id = "tomato-gb"            # lower-case slug
version = 3                 # a positive integer; every published change gets the next integer
parent = 2                  # the version this one was derived from (optional, < version)
kind = "greenhouse"         # greenhouse (needs crop) | tank (needs species)
crop = "tomato"

[envelope]                  # the range inside which a tenant may move each setpoint
air_temperature = { min = 10, max = 30 }

[strategy.ventilation]      # strategy parameters: every key typed and range-checked, unknown keys are errors
offset_k = 5

[[stages]]                  # by days since planting/stocking; first from_day 0, strictly increasing
name = "production"
from_day = 0
[stages.strategy.irrigation]   # optional per-stage override of [strategy] keys
radiation_sum_j_cm2 = 150

[[stages.periods]]          # setpoints by time of day: "HH:MM", "sunrise+01:30", "sunset-00:30"
name = "day"
start = "sunrise+01:00"
ramp_min = 60               # minutes to ramp linearly from the value before this period
air_temperature = 21
co2 = 1000
```

A quantity a period does not name keeps the value the previous period (in time, wrapping round the
day) gave it, so a stage-wide value such as `ec` is written once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from farmcore.datafile import StrictFile

ZoneKind = Literal["greenhouse", "tank"]


@dataclass(frozen=True)
class Quantity:
    unit: str
    lo: float  # physically sensible range; any value or envelope outside it is a typo
    hi: float
    kinds: frozenset[str]


_GH = frozenset({"greenhouse"})
_TANK = frozenset({"tank"})
_BOTH = frozenset({"greenhouse", "tank"})

# Setpoint quantities (DESIGN.md vocabulary, plus vpd / humidity_deficit / dli / photoperiod for recipes).
QUANTITIES: dict[str, Quantity] = {
    "air_temperature": Quantity("degC", -10, 45, _GH),  # heating set-point; vents open at + ventilation.offset_k
    "relative_humidity": Quantity("%RH", 30, 100, _GH),  # upper limit: dehumidify / vent above it
    "vpd": Quantity("kPa", 0, 3, _GH),  # lower limit of the vapour-pressure deficit
    "humidity_deficit": Quantity("g/m3", 0, 15, _GH),  # lower limit of the humidity deficit
    "co2": Quantity("ppm", 0, 2000, _GH),  # dosing target (a value at or below ambient means no dosing)
    "soil_moisture": Quantity("%", 0, 100, _GH),  # substrate / soil volumetric water content
    "soil_temperature": Quantity("degC", 0, 40, _GH),  # root-zone heating set-point
    "ec": Quantity("dS/m", 0, 10, _BOTH),  # supply (drip) solution EC
    "ph": Quantity("pH", 3, 10, _BOTH),  # supply solution / water pH
    "par": Quantity("umol/m2/s", 0, 2500, _GH),  # target PAR at the crop while lamps may run
    "dli": Quantity("mol/m2/d", 0, 60, _GH),  # daily light integral target (sun + lamps)
    "photoperiod": Quantity("h", 0, 24, _BOTH),
    "water_temperature": Quantity("degC", 0, 40, _TANK),
    "dissolved_oxygen": Quantity("mg/L", 0, 30, _TANK),
    "salinity": Quantity("psu", 0, 45, _TANK),
}
HUMIDITY_QUANTITIES = ("relative_humidity", "vpd", "humidity_deficit")  # a recipe uses one of them


class Bound(StrictFile):
    min: float
    max: float


class Period(StrictFile):
    name: str = ""
    start: str  # "HH:MM" | "sunrise±HH:MM" | "sunset±HH:MM" (checked in load.py, resolved in timeline.py)
    ramp_min: float = Field(default=0, ge=0, le=720)
    air_temperature: float | None = None
    relative_humidity: float | None = None
    vpd: float | None = None
    humidity_deficit: float | None = None
    co2: float | None = None
    soil_moisture: float | None = None
    soil_temperature: float | None = None
    ec: float | None = None
    ph: float | None = None
    par: float | None = None
    dli: float | None = None
    photoperiod: float | None = None
    water_temperature: float | None = None
    dissolved_oxygen: float | None = None
    salinity: float | None = None

    def values(self) -> dict[str, float]:
        """The quantities this period sets, in vocabulary order."""
        return {q: v for q in QUANTITIES if (v := getattr(self, q)) is not None}


# ------------------------------------------------------------------------------------------- strategies


class _Strategy(StrictFile):
    """A strategy table: exactly the keys its strategy reads (farmctl/strategies, aquactl/strategies), typed and
    range-checked; any other key is an error, since a misspelt key (`p_bnad_k`) would silently leave the
    strategy on its default. `UNUSED` names keys kept with a recipe as agronomic data that no strategy acts
    on yet (`recipe check` and `site check` say so)."""

    UNUSED: ClassVar[frozenset[str]] = frozenset()


class Ventilation(_Strategy):
    offset_k: float | None = Field(default=None, ge=0, le=15)  # vents open at air_temperature + offset_k
    p_band_k: float | None = Field(default=None, gt=0, le=20)  # opening goes 0 -> 100 % over this band
    humidity_p_band: float | None = Field(default=None, gt=0, le=100)  # %RH band above relative_humidity
    min_outside_temperature: float | None = Field(default=None, ge=-30, le=40)  # no humidity venting below, degC
    windward_taper_ms: float | None = Field(default=None, ge=0, le=40)  # windward vents start closing, m/s
    windward_close_ms: float | None = Field(default=None, gt=0, le=40)  # windward vents closed
    close_all_ms: float | None = Field(default=None, gt=0, le=40)  # every vent closed

    @model_validator(mode="after")
    def _wind_order(self) -> Ventilation:
        given = [(k, v) for k in ("windward_taper_ms", "windward_close_ms", "close_all_ms")
                 if (v := getattr(self, k)) is not None]
        for (k1, v1), (k2, v2) in itertools.pairwise(given):
            if v1 > v2:
                raise ValueError(f"{k1} ({v1:g} m/s) must not be above {k2} ({v2:g} m/s)")
        return self


class Heating(_Strategy):
    band_k: float | None = Field(default=None, gt=0, le=10)  # on/off hysteresis around the heating setpoint


class Screens(_Strategy):
    close_below_outside_day: float | None = Field(default=None, ge=-30, le=40)  # thermal screen closes below
    close_below_outside_night: float | None = Field(default=None, ge=-30, le=40)  # ... at night, degC outside
    shade_above_radiation: float | None = Field(default=None, gt=0, le=1500)  # W/m2 outside


class Co2(_Strategy):
    dose_in_dark: bool | None = None
    max_vent_opening_pct: float | None = Field(default=None, ge=0, le=100)  # stop dosing beyond this opening


class Humidity(_Strategy):
    UNUSED = frozenset({"humidify_below_rh"})  # the greenhouse roles have no humidifier
    humidify_below_rh: float | None = Field(default=None, ge=0, le=100)


class Irrigation(_Strategy):
    UNUSED = frozenset({"dose_ml_per_plant", "target_drain_pct"})  # need the emitter flow, a drain sensor
    radiation_sum_j_cm2: float | None = Field(default=None, gt=0, le=2000)  # irrigate every N J/cm2 outside
    max_off_min: float | None = Field(default=None, gt=0, le=1440)  # safety net: irrigate at least this often
    min_off_min: float | None = Field(default=None, ge=0, le=1440)
    dose_s: float | None = Field(default=None, gt=0, le=3600)  # one event runs the pump this long
    dose_ml_per_plant: float | None = Field(default=None, gt=0, le=5000)
    target_drain_pct: float | None = Field(default=None, ge=0, le=100)
    start: str | None = None  # first allowed event, same syntax as a period start
    stop: str | None = None  # last allowed event

    @model_validator(mode="after")
    def _off_order(self) -> Irrigation:
        if self.min_off_min is not None and self.max_off_min is not None and self.min_off_min > self.max_off_min:
            raise ValueError(f"min_off_min ({self.min_off_min:g}) must not be above max_off_min "
                             f"({self.max_off_min:g})")
        return self


class Fertigation(_Strategy):
    UNUSED = frozenset({"drain_ec_max", "correction_interval_days"})  # need a drain EC sensor
    drain_ec_max: float | None = Field(default=None, gt=0, le=20)
    correction_interval_days: float | None = Field(default=None, gt=0, le=60)


class Lighting(_Strategy):
    on: str | None = None  # same syntax as a period start
    off: str | None = None
    off_above_radiation: float | None = Field(default=None, gt=0, le=1500)  # W/m2 outside


class TemperatureIntegration(_Strategy):
    window_h: float | None = Field(default=None, gt=0, le=168)
    max_deviation_k: float | None = Field(default=None, ge=0, le=10)


class Oxygen(_Strategy):
    """Tank oxygen: the target is the `dissolved_oxygen` setpoint; these are the limits around it."""

    minimum_mg_l: float | None = Field(default=None, gt=0, le=20)  # species minimum: alarm, feed hold
    critical_mg_l: float | None = Field(default=None, gt=0, le=20)  # backup aeration / emergency O2 engage
    night_raise_mg_l: float | None = Field(default=None, ge=0, le=5)  # target raised at night (no photosynthesis)
    stage_band_mg_l: float | None = Field(default=None, gt=0, le=5)  # aerator staging hysteresis
    response_check_min: float | None = Field(default=None, gt=0, le=120)  # aerator on, DO must respond within
    min_current_a: float | None = Field(default=None, ge=0, le=100)  # a running aerator draws at least this
    min_aerators_on: int | None = Field(default=None, ge=1, le=20)  # never fewer running (biofloc keeps mixed)


class FeedRate(StrictFile):
    """One point of a feeding table: % of body weight a day at a fish weight and water temperature."""

    weight_g: float = Field(gt=0, le=100000)
    temperature: float = Field(ge=0, le=40)
    pct_bw: float = Field(ge=0, le=30)


def grid_gap(points: list[tuple[float, float]]) -> str | None:
    """Why (weight_g, temperature) points are not a full weight x temperature grid, or None when they are.

    A feeding table is a grid, as feed makers print them (weight classes x water-temperature columns): every
    weight has a rate at every temperature, so interpolation between the four corners around a fish uses
    only rates someone wrote down, and no point of the table can drop out (issue 14 item 12)."""
    seen: set[tuple[float, float]] = set()
    for point in points:
        if point in seen:
            return f"two rates at {point[0]:g} g, {point[1]:g} °C"
        seen.add(point)
    weights = sorted({w for w, _ in points})
    temps = sorted({t for _, t in points})
    for w in weights:
        for t in temps:
            if (w, t) not in seen:
                return (f"not a full weight x temperature grid: no rate at {w:g} g, {t:g} °C (every weight "
                        f"{', '.join(f'{x:g}' for x in weights)} g needs a rate at every temperature "
                        f"{', '.join(f'{x:g}' for x in temps)} °C)")
    return None


class Feeding(_Strategy):
    meals: list[str] | None = None  # meal times, same syntax as a period start ("07:00", "sunrise+01:00")
    table: list[FeedRate] | None = None  # a full weight x temperature grid (grid_gap), bilinear in log weight, T
    fcr: float | None = Field(default=None, gt=0, le=5)  # feed conversion ratio (kg feed per kg growth)
    min_temperature: float | None = Field(default=None, ge=0, le=40)  # no feeding below (e.g. eel 13 degC)
    max_temperature: float | None = Field(default=None, ge=0, le=40)  # no feeding above
    min_do_mg_l: float | None = Field(default=None, gt=0, le=20)  # no feeding below this DO

    @field_validator("table")
    @classmethod
    def _grid(cls, table: list[FeedRate] | None) -> list[FeedRate] | None:
        if table is not None:
            if not table:
                raise ValueError("an empty feeding table; leave `table` out when the ration is set by hand")
            gap = grid_gap([(p.weight_g, p.temperature) for p in table])
            if gap is not None:
                raise ValueError(gap)
        return table


class Water(_Strategy):
    UNUSED = frozenset({"exchange_pct_per_day"})  # the pump runs always: a duty cycle needs its flow
    heater_band_k: float | None = Field(default=None, gt=0, le=10)
    min_cycle_min: float | None = Field(default=None, ge=0, le=120)  # heater/chiller minimum on and off time
    low_level_pct: float | None = Field(default=None, ge=0, le=100)  # tank level below: event, inflow kept on
    min_sump_level_pct: float | None = Field(default=None, ge=0, le=100)  # pump stops below this sump level
    min_flow_l_min: float | None = Field(default=None, ge=0)  # a running pump must show at least this flow
    exchange_pct_per_day: float | None = Field(default=None, ge=0, le=2000)  # water exchange


class Strategy(StrictFile):
    ventilation: Ventilation | None = None
    heating: Heating | None = None
    screens: Screens | None = None
    co2: Co2 | None = None
    humidity: Humidity | None = None
    irrigation: Irrigation | None = None
    fertigation: Fertigation | None = None
    lighting: Lighting | None = None
    temperature_integration: TemperatureIntegration | None = None
    # tanks
    oxygen: Oxygen | None = None
    feeding: Feeding | None = None
    water: Water | None = None

    def tables(self) -> dict[str, dict[str, Any]]:
        """{table: {key: value}} of the keys the file gave."""
        out: dict[str, dict[str, Any]] = {}
        for name in type(self).model_fields:
            table = getattr(self, name)
            if table is None:
                continue
            out[name] = table.model_dump(exclude_unset=True)
        return out


# ------------------------------------------------------------------------------------------------ file


class RecipeHead(StrictFile):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    version: int = Field(ge=1)
    parent: int | None = Field(default=None, ge=1)
    kind: ZoneKind
    crop: str | None = None
    species: str | None = None
    cultivar: str = ""
    name_ko: str = ""
    name_en: str = ""
    author: str = ""
    sources: list[str] = Field(default_factory=list)
    notes: str = ""


class Stage(StrictFile):
    name: str = Field(min_length=1)
    from_day: int = Field(ge=0)
    notes: str = ""
    strategy: Strategy | None = None  # overrides [strategy] keys during this stage
    periods: list[Period] = Field(min_length=1)


class Recipe(StrictFile):
    recipe: RecipeHead
    envelope: dict[str, Bound] = Field(default_factory=dict)
    strategy: Strategy = Strategy()
    stages: list[Stage] = Field(min_length=1)

    @property
    def label(self) -> str:
        return f"{self.recipe.id}@{self.recipe.version}"

    def strategy_for(self, stage_index: int) -> dict[str, dict[str, Any]]:
        """[strategy] with the stage's overrides applied, key by key."""
        merged = self.strategy.tables()
        override = self.stages[stage_index].strategy
        for name, table in (override.tables() if override else {}).items():
            merged[name] = {**merged.get(name, {}), **table}
        return merged


def unused_keys(recipe: Recipe) -> list[str]:
    """The keys a recipe gives that no strategy acts on yet (`_Strategy.UNUSED`), as `strategy.TABLE.KEY`."""
    found = []
    for where, strategy in [("strategy", recipe.strategy)] + [
            (f"stages[{i}].strategy", stage.strategy) for i, stage in enumerate(recipe.stages)]:
        if strategy is None:
            continue
        for name in type(strategy).model_fields:
            table: _Strategy | None = getattr(strategy, name)
            if table is not None:
                found += [f"{where}.{name}.{key}" for key in sorted(table.UNUSED & table.model_fields_set)]
    return found
