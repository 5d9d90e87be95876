"""A greenhouse recipe's `[strategy]` tables, as farmcore checks them: registered as the `greenhouse` entry point
of `farmcore.strategies` (pyproject.toml, farmcore/recipe/kinds.py). Each table is declared in the module of
the strategy that reads it, beside its defaults; importing them loads no runtime and no field bus."""

from __future__ import annotations

from typing import Any

from farmcore.recipe.schema import StrategyTables, param
from farmctl.strategies.co2 import Co2Table
from farmctl.strategies.condensation import CondensationTable
from farmctl.strategies.dehumidify import DehumidifyTable
from farmctl.strategies.fertigation import FertigationTable
from farmctl.strategies.heating import HeatingTable
from farmctl.strategies.heatloop import HeatLoopTable
from farmctl.strategies.humidity import HumidityTable
from farmctl.strategies.integration import TemperatureIntegrationTable
from farmctl.strategies.irrigation import IrrigationTable
from farmctl.strategies.lighting import LightingTable
from farmctl.strategies.radiation import RadiationTable
from farmctl.strategies.screens import ScreensTable
from farmctl.strategies.ventilation import VentilationTable
from farmctl.strategies.watercurtain import WaterCurtainTable


class GreenhouseStrategy(StrategyTables):
    ventilation: VentilationTable | None = param(unit="", en="roof and side vents", ko="천창과 측창 환기")
    heating: HeatingTable | None = param(unit="", en="heater", ko="난방기")
    screens: ScreensTable | None = param(unit="", en="thermal and shade screens", ko="보온 커튼과 차광 커튼")
    co2: Co2Table | None = param(unit="", en="CO2 dosing", ko="CO2 공급")
    humidity: HumidityTable | None = param(unit="", en="humidity", ko="습도")
    dehumidify: DehumidifyTable | None = param(unit="", en="dehumidifying: heat, screen gap, lee vent crack",
                                               ko="제습: 난방, 보온 커튼 틈, 바람 반대쪽 환기창 틈")
    condensation: CondensationTable | None = param(unit="", en="pre-dawn condensation guard",
                                                   ko="해 뜨기 전 결로 방지")
    radiation: RadiationTable | None = param(unit="", en="setpoints raised with radiation",
                                             ko="일사량에 따른 설정값 조정")
    irrigation: IrrigationTable | None = param(unit="", en="irrigation events", ko="관수")
    fertigation: FertigationTable | None = param(unit="", en="nutrient solution", ko="양액")
    lighting: LightingTable | None = param(unit="", en="supplemental lighting", ko="보광")
    temperature_integration: TemperatureIntegrationTable | None = param(
        unit="", en="temperature integration (the table turns it on)", ko="온도 적산 제어(표가 있으면 켜집니다)")
    heat_loop: HeatLoopTable | None = param(unit="", en="hot-water heating loop: boiler and mixing valve",
                                            ko="온수 난방: 보일러와 혼합 밸브")
    water_curtain: WaterCurtainTable | None = param(unit="", en="water curtain (groundwater over the inner film)",
                                                    ko="수막 보온(지하수를 속비닐 위에 뿌림)")

    @classmethod
    def period_problem(cls, tables: dict[str, dict[str, Any]], values: dict[str, float]) -> str | None:
        """A supply EC or pH target outside the fertigation band: every supply would stop with an alarm."""
        fert = tables.get("fertigation", {})
        for q in ("ec", "ph"):
            lo, hi, value = fert.get(f"{q}_min"), fert.get(f"{q}_max"), values.get(q)
            if value is None:
                continue
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                band = f"{'' if lo is None else f'{lo:g}'}..{'' if hi is None else f'{hi:g}'}"
                return (f"{q} {value:g} is outside strategy.fertigation {q}_min..{q}_max ({band}): every supply "
                        "would stop with an alarm")
        return None
