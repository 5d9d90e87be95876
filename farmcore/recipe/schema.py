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

[strategy.ventilation]      # strategy parameters: the tables of the kind's package (kinds.py), every key
offset_k = 5                #   typed and range-checked, unknown keys are errors

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

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import Field

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

DAY_TIME = "day-time"  # the `format` of a strategy key written like a period start (checked by load.py)


def param(default: Any = None, *, unit: str, en: str, ko: str, day_time: bool = False, **limits: Any) -> Any:
    """A strategy key as the recipe editor renders it in a form: the default the strategy uses when a recipe
    leaves the key out, its range (`ge`, `gt`, `le`, `lt`), its unit ("" when it has none) and one line in
    English (`description`) and Korean (`ko`); `day_time` marks period-start syntax ("06:00",
    "sunrise+01:00"). The JSON Schema of a kind's tables carries all of it."""
    extra: dict[str, Any] = {"unit": unit, "ko": ko}
    if day_time:
        extra["format"] = DAY_TIME
    return Field(default, description=en, json_schema_extra=extra, **limits)


class StrategyTable(StrictFile):
    """One strategy table (`[strategy.ventilation]`), declared by the package whose strategy reads it, beside
    that strategy's defaults (farmctl/strategies, aquactl/strategies): exactly the keys it reads, typed and
    range-checked; any other key is an error, since a misspelt key (`p_bnad_k`) would silently leave the
    strategy on its default. Only the keys a file gives count (`model_fields_set`): a stage's table overrides
    those and no others. `UNUSED` names keys kept with a recipe as agronomic data that no strategy acts on
    yet (`recipe check` says so)."""

    UNUSED: ClassVar[frozenset[str]] = frozenset()


class StrategyTables(StrictFile):
    """A zone kind's `[strategy]`: one optional `StrategyTable` field per table, declared by the package that
    runs that kind of zone and registered as a `farmcore.strategies` entry point (farmcore/recipe/kinds.py).
    farmcore declares no table itself: this base takes none."""

    @classmethod
    def period_problem(cls, tables: dict[str, dict[str, Any]], values: dict[str, float]) -> str | None:
        """Why a period's set-points cannot work with the stage's strategy tables (a kind's own cross-check, e.g.
        a target outside the band its safety stops at), else None; this base knows no such rule."""
        return None

    def tables(self) -> dict[str, dict[str, Any]]:
        """{table: {key: value}} of the keys the file gave."""
        out: dict[str, dict[str, Any]] = {}
        for name in type(self).model_fields:
            table = getattr(self, name)
            if table is not None:
                out[name] = table.model_dump(exclude_unset=True)
        return out


S = TypeVar("S", bound=StrategyTables)


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


class Stage(StrictFile, Generic[S]):
    name: str = Field(min_length=1)
    from_day: int = Field(ge=0)
    notes: str = ""
    strategy: S | None = None  # overrides [strategy] keys during this stage
    periods: list[Period] = Field(min_length=1)


class Recipe(StrictFile, Generic[S]):
    """A recipe file. `Recipe[T]` checks `[strategy]` against the tables `T` of the recipe's kind (load.py picks
    T from the kind's `farmcore.strategies` entry point); the bare `Recipe` takes no strategy table."""

    recipe: RecipeHead
    envelope: dict[str, Bound] = Field(default_factory=dict)
    strategy: S = Field(default_factory=dict, validate_default=True)  # type: ignore[assignment]
    stages: list[Stage[S]] = Field(min_length=1)

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
    """The keys a recipe gives that no strategy acts on yet (`StrategyTable.UNUSED`), as `strategy.TABLE.KEY`."""
    found = []
    for where, strategy in [("strategy", recipe.strategy)] + [
            (f"stages[{i}].strategy", stage.strategy) for i, stage in enumerate(recipe.stages)]:
        if strategy is None:
            continue
        for name in type(strategy).model_fields:
            table: StrategyTable | None = getattr(strategy, name)
            if table is not None:
                found += [f"{where}.{name}.{key}" for key in sorted(table.UNUSED & table.model_fields_set)]
    return found
