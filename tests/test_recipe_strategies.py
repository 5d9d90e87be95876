"""Strategy tables declared by the kind packages (farmctl, aquactl), found through `farmcore.strategies` entry
points, checked strictly, and described for the recipe editor's forms (unit, range, English and Korean)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from farmcore.errors import ConfigError
from farmcore.recipe import kinds
from farmcore.recipe.load import load_recipe, parse_recipe
from farmcore.recipe.schema import StrategyTables

ROOT = Path(__file__).resolve().parents[1]
HANGUL = re.compile(r"[\uac00-\ud7a3]")

TANK = """
[recipe]
id = "test-fish"
version = 1
kind = "tank"
species = "olive-flounder"

[envelope]
dissolved_oxygen = { min = 5, max = 9 }

[strategy.oxygen]
minimum_mg_l = 5

[[stages]]
name = "grow-out"
from_day = 0

[[stages.periods]]
start = "00:00"
dissolved_oxygen = 6.5
"""
GREENHOUSE = TANK.replace('kind = "tank"\nspecies = "olive-flounder"', 'kind = "greenhouse"\ncrop = "tomato"').replace(
    "dissolved_oxygen = { min = 5, max = 9 }", "air_temperature = { min = 10, max = 30 }").replace(
    "[strategy.oxygen]\nminimum_mg_l = 5", "[strategy.heating]\nband_k = 1").replace(
    "dissolved_oxygen = 6.5", "air_temperature = 20")


def test_each_kind_package_registers_its_tables():
    found = kinds.installed()
    assert set(found) == {"greenhouse", "tank"}
    assert found["greenhouse"].__module__ == "farmctl.strategies.schema"
    assert found["tank"].__module__ == "aquactl.strategies.schema"
    assert set(found["greenhouse"].model_fields) == {"ventilation", "heating", "screens", "co2", "humidity",
                                                      "dehumidify", "condensation", "radiation", "irrigation",
                                                      "fertigation", "lighting", "temperature_integration",
                                                      "heat_loop", "water_curtain"}
    assert set(found["tank"].model_fields) == {"oxygen", "feeding", "water"}


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(`Model.field`, property) of every model in a JSON Schema, the top one included."""
    models = [(schema.get("title", ""), schema), *((name, d) for name, d in schema.get("$defs", {}).items())]
    return [(f"{name}.{key}", prop) for name, model in models for key, prop in model.get("properties", {}).items()]


def _types(prop: dict[str, Any]) -> set[str]:
    return {prop["type"]} if "type" in prop else {t.get("type", "object") for t in prop.get("anyOf", [])}


@pytest.mark.parametrize("kind", ["greenhouse", "tank"])
def test_every_field_carries_unit_range_and_a_line_in_korean_and_english(kind: str):
    """The editor renders these schemas as forms: nothing may be left for it to guess."""
    props = _properties(kinds.installed()[kind].model_json_schema())
    assert len(props) > 10
    for where, prop in props:
        assert prop.get("description"), f"{where}: no English description"
        assert HANGUL.search(prop.get("ko", "")), f"{where}: no Korean description"
        assert "unit" in prop, f"{where}: no unit"
        if _types(prop) & {"number", "integer"}:
            keys = set(prop).union(*(set(branch) for branch in prop.get("anyOf", [])))  # optional: bounds in anyOf
            assert {"minimum", "exclusiveMinimum"} & keys, f"{where}: no lower bound"
            assert {"maximum", "exclusiveMaximum"} & keys, f"{where}: no upper bound"
            assert prop["unit"] or where.endswith(".min_aerators_on"), f"{where}: a number without a unit"


def test_defaults_are_the_strategies_own():
    """A form shows what the strategy does when a recipe leaves a key out: the strategy's own constant."""
    from aquactl.strategies import oxygen
    from farmctl.strategies import irrigation, ventilation

    gh = kinds.installed()["greenhouse"].model_json_schema()["$defs"]
    assert gh["VentilationTable"]["properties"]["offset_k"]["default"] == ventilation.OFFSET_K
    assert gh["IrrigationTable"]["properties"]["start"]["default"] == irrigation.START
    assert gh["IrrigationTable"]["properties"]["start"]["format"] == "day-time"
    tank = kinds.installed()["tank"].model_json_schema()["$defs"]
    assert tank["OxygenTable"]["properties"]["critical_mg_l"]["default"] == oxygen.CRITICAL_MG_L


def test_a_default_is_not_a_given_key():
    """Defaults must not leak into `strategy_for`: a stage's table overrides only the keys it gives."""
    text = TANK.replace("[[stages.periods]]", "[stages.strategy.oxygen]\ncritical_mg_l = 4\n\n[[stages.periods]]", 1)
    r = parse_recipe(text, "t.toml")
    assert r.strategy.tables() == {"oxygen": {"minimum_mg_l": 5}}
    assert r.strategy_for(0) == {"oxygen": {"minimum_mg_l": 5, "critical_mg_l": 4}}


@pytest.mark.parametrize(("text", "old", "new", "field", "words"), [
    # a table of the other kind is a typo too: before, a greenhouse recipe took [strategy.oxygen] silently
    (GREENHOUSE, "[strategy.heating]", "[strategy.oxygen]\nminimum_mg_l = 5\n[strategy.heating]",
     "strategy.oxygen", "unknown field (check the spelling); allowed: ventilation, heating, screens"),
    (TANK, "[strategy.oxygen]", "[strategy.ventilation]\noffset_k = 5\n[strategy.oxygen]",
     "strategy.ventilation", "allowed: oxygen, feeding, water"),
    (TANK, "minimum_mg_l = 5", "minimum_mg_l = 5\nminimum_mgl = 4", "strategy.oxygen.minimum_mgl",
     "allowed: minimum_mg_l, critical_mg_l"),
    (TANK, "[[stages.periods]]", "[stages.strategy.water]\nlow_level_pct = 80\nlow_levle_pct = 70\n\n"
                                 "[[stages.periods]]", "stages[0].strategy.water.low_levle_pct", "unknown field"),
    (TANK, "minimum_mg_l = 5", "minimum_mg_l = 5\n[strategy.water]\nmin_flow_l_min = 20000",
     "strategy.water.min_flow_l_min", "less than or equal to 10000"),
    (GREENHOUSE, "[[stages.periods]]", '[stages.strategy.lighting]\non = "dawn"\n\n[[stages.periods]]',
     "stages[0].strategy.lighting.on", "expected HH:MM"),
    (TANK, "minimum_mg_l = 5", 'minimum_mg_l = 5\n[strategy.feeding]\nmeals = ["08:00", "25:00"]',
     "strategy.feeding.meals[1]", "expected HH:MM"),
    # a cross-field rule is its own sentence: no pydantic "Value error," and no dump of the whole table
    (GREENHOUSE, "[strategy.heating]", "[strategy.fertigation]\nec_min = 2\nec_max = 1.5\nph_min = 5\n"
                                       "[strategy.heating]", "strategy.fertigation",
     "ec_min (2) must be below ec_max (1.5)"),
])
def test_strategy_errors_name_file_and_field_in_one_line(text, old, new, field, words):
    assert old in text
    with pytest.raises(ConfigError) as info:
        parse_recipe(text.replace(old, new, 1), "recipes/x.toml")
    assert str(info.value).startswith(f"recipes/x.toml: {field}: ") and words in str(info.value)
    assert "\n" not in str(info.value) and "Value error" not in str(info.value) and "got {" not in str(info.value)


def test_a_kind_whose_package_is_missing_cannot_have_its_tables_checked(monkeypatch):
    greenhouse = kinds.installed()["greenhouse"]
    monkeypatch.setattr(kinds, "installed", lambda: {"greenhouse": greenhouse})
    with pytest.raises(ConfigError) as info:
        parse_recipe(TANK, "t.toml")
    assert str(info.value) == ("t.toml: recipe.kind: no installed package declares the strategy tables of tank "
                               "recipes (farmcore.strategies entry points: greenhouse)")
    bare = parse_recipe(TANK.replace("[strategy.oxygen]\nminimum_mg_l = 5\n", ""), "t.toml")
    assert bare.strategy_for(0) == {} and isinstance(bare.strategy, StrategyTables)


def test_a_wrong_kind_is_named_before_its_tables():
    with pytest.raises(ConfigError) as info:
        parse_recipe(TANK.replace('kind = "tank"', 'kind = "orchard"'), "t.toml")
    assert info.value.field == "recipe.kind" and "'greenhouse' or 'tank'" in info.value.message


@pytest.mark.parametrize("path", sorted((ROOT / "recipes").glob("*/*.toml")), ids=lambda p: p.stem)
def test_shipped_recipes_get_their_kinds_tables(path: Path):
    r = load_recipe(path)
    assert type(r.strategy) is kinds.installed()[r.recipe.kind]
    assert all(s.strategy is None or type(s.strategy) is type(r.strategy) for s in r.stages)


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ("ec_max = 1.5 ", "ec_max = 0.5 ", "stages[0].periods[0]",
     "ec 0.6 is outside strategy.fertigation ec_min..ec_max (0.4..0.5): every supply would stop with an alarm"),
    ("open_step_pct = 5 ", "open_step_pct = 50 ", "strategy.screens",
     "open_step_pct (50 %) must not be above step_until_pct (30 %): no step would be taken"),
])
def test_strategy_tables_that_contradict_the_recipe_are_refused(old: str, new: str, field: str, words: str):
    """Issue 16 review: a fertigation band that excludes a stage's EC target (every supply stops with a critical
    alarm) and a screen step larger than the stepping range both passed `recipe check`."""
    text = (ROOT / "recipes" / "crops" / "strawberry.toml").read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(ConfigError) as info:
        parse_recipe(text.replace(old, new, 1), "recipes/x.toml")
    assert str(info.value) == f"recipes/x.toml: {field}: {words}"
