"""A tank recipe's `[strategy]` tables, as farmcore checks them: registered as the `tank` entry point of
`farmcore.strategies` (pyproject.toml, farmcore/recipe/kinds.py). Each table is declared in the module of the
strategy that reads it, beside its defaults; importing them loads no runtime and no field bus."""

from __future__ import annotations

from aquactl.strategies.feeding import FeedingTable
from aquactl.strategies.oxygen import OxygenTable
from aquactl.strategies.water import WaterTable
from farmcore.recipe.schema import StrategyTables, param


class TankStrategy(StrategyTables):
    oxygen: OxygenTable | None = param(unit="", en="aeration and oxygen", ko="폭기와 산소 공급")
    feeding: FeedingTable | None = param(unit="", en="feeding", ko="급이")
    water: WaterTable | None = param(unit="", en="water temperature and exchange", ko="수온과 환수")
