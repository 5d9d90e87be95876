"""Loading a recipe file: TOML -> schema -> cross-field rules, each error one line naming file and field.

`recipes/crops/tomato.toml: stages[1].periods[0].air_temperature: 35 is outside the envelope 10..30`
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from farmcore.datafile import parse_toml, read_text, validate
from farmcore.errors import ConfigError
from farmcore.recipe import kinds
from farmcore.recipe.schema import DAY_TIME, HUMIDITY_QUANTITIES, QUANTITIES, Recipe, StrategyTables, ZoneKind
from farmcore.recipe.timeline import parse_start


def _num(x: float) -> str:
    return f"{x:g}"


def check_recipe(recipe: Recipe, file: str) -> None:
    """Cross-field rules the schema cannot express; raises the first ConfigError."""

    def fail(field: str, message: str) -> ConfigError:
        return ConfigError(file, field, message)

    head = recipe.recipe
    kind = head.kind
    if kind == "greenhouse" and not head.crop:
        raise fail("recipe.crop", "a greenhouse recipe names its crop")
    if kind == "tank" and not head.species:
        raise fail("recipe.species", "a tank recipe names its species")
    if head.crop and head.species:
        raise fail("recipe.species" if kind == "greenhouse" else "recipe.crop", "give crop or species, not both")
    if head.parent is not None and head.parent >= head.version:
        raise fail("recipe.parent", f"{head.parent} must be lower than version {head.version}")

    for q, bound in recipe.envelope.items():
        spec = QUANTITIES.get(q)
        if spec is None:
            raise fail(f"envelope.{q}", f"unknown quantity (known: {', '.join(QUANTITIES)})")
        if kind not in spec.kinds:
            raise fail(f"envelope.{q}", f"not a {kind} quantity")
        if bound.min > bound.max:
            raise fail(f"envelope.{q}", f"min {_num(bound.min)} is above max {_num(bound.max)}")
        for side, v in (("min", bound.min), ("max", bound.max)):
            if not spec.lo <= v <= spec.hi:
                raise fail(f"envelope.{q}.{side}", f"{_num(v)} {spec.unit} is outside {_num(spec.lo)}..{_num(spec.hi)}")

    _check_day_times(recipe.strategy, "strategy", fail)

    humidity_used: tuple[str, str] | None = None  # (quantity, first field using it)
    names: set[str] = set()
    for si, stage in enumerate(recipe.stages):
        where = f"stages[{si}]"
        if si == 0 and stage.from_day != 0:
            raise fail(f"{where}.from_day", f"the first stage starts on day 0; got {stage.from_day}")
        if si > 0 and stage.from_day <= recipe.stages[si - 1].from_day:
            prev = recipe.stages[si - 1].from_day
            raise fail(f"{where}.from_day", f"{stage.from_day} must be after the previous stage's day {prev}")
        if stage.name in names:
            raise fail(f"{where}.name", f"{stage.name!r} is used by another stage")
        names.add(stage.name)
        _check_day_times(stage.strategy, f"{where}.strategy", fail)
        starts: set[str] = set()
        tables = recipe.strategy_for(si)
        for pi, period in enumerate(stage.periods):
            pwhere = f"{where}.periods[{pi}]"
            try:
                parse_start(period.start)
            except ValueError as exc:
                raise fail(f"{pwhere}.start", str(exc)) from None
            key = period.start.replace(" ", "")
            if key in starts:
                raise fail(f"{pwhere}.start", f"{period.start!r} is the start of another period of this stage")
            starts.add(key)
            if (problem := type(recipe.strategy).period_problem(tables, period.values())) is not None:
                raise fail(pwhere, problem)
            for q, value in period.values().items():
                field = f"{pwhere}.{q}"
                spec = QUANTITIES[q]
                if kind not in spec.kinds:
                    raise fail(field, f"not a {kind} quantity")
                if not spec.lo <= value <= spec.hi:
                    raise fail(field, f"{_num(value)} {spec.unit} is outside {_num(spec.lo)}..{_num(spec.hi)}")
                bound = recipe.envelope.get(q)
                if bound is None:
                    raise fail(field, f"no envelope for {q}; add {q} = {{ min = .., max = .. }} to [envelope]")
                if not bound.min <= value <= bound.max:
                    raise fail(field, f"{_num(value)} is outside the envelope {_num(bound.min)}..{_num(bound.max)}")
                if q in HUMIDITY_QUANTITIES:
                    if humidity_used is None:
                        humidity_used = (q, field)
                    elif humidity_used[0] != q:
                        raise fail(field, f"a recipe uses one humidity quantity; {humidity_used[1]} uses "
                                          f"{humidity_used[0]}")


def _check_day_times(
    strategy: StrategyTables | None, where: str, fail: Callable[[str, str], ConfigError]
) -> None:
    """Every key a table marks as period-start syntax (`param(day_time=True)`), a text or a list of them."""
    for name in type(strategy).model_fields if strategy is not None else ():
        table = getattr(strategy, name)
        if table is None:
            continue
        for key, field in type(table).model_fields.items():
            extra = field.json_schema_extra
            if key not in table.model_fields_set or not isinstance(extra, dict) or extra.get("format") != DAY_TIME:
                continue
            value = getattr(table, key)
            texts = [(f"{where}.{name}.{key}", value)] if isinstance(value, str) else [
                (f"{where}.{name}.{key}[{i}]", text) for i, text in enumerate(value or [])]
            for field_path, text in texts:
                try:
                    parse_start(str(text))
                except ValueError as exc:
                    raise fail(field_path, str(exc)) from None


def schema_for(data: dict[str, Any], file: str) -> type[Recipe]:
    """The schema to check a recipe's data with: its kind's strategy tables (farmcore/recipe/kinds.py); the
    bare shape when the kind is wrong (its error comes first) or the recipe has no strategy table."""
    head = data.get("recipe")
    kind = head.get("kind") if isinstance(head, dict) else None
    model = kinds.recipe_model(kind) if isinstance(kind, str) else None
    if model is not None:
        return model
    stages = data.get("stages")
    tables = "strategy" in data or any(isinstance(s, dict) and "strategy" in s for s in
                                       (stages if isinstance(stages, list) else []))
    if tables and kind in get_args(ZoneKind):
        installed = ", ".join(kinds.installed()) or "none"
        raise ConfigError(file, "recipe.kind", f"no installed package declares the strategy tables of {kind} "
                                               f"recipes ({kinds.GROUP} entry points: {installed})")
    return Recipe


def recipe_from_data(data: dict[str, Any], file: str) -> Recipe:
    """TOML data -> the recipe, checked against its kind's tables and the cross-field rules."""
    recipe = validate(schema_for(data, file), data, file)
    check_recipe(recipe, file)
    return recipe


def parse_recipe(text: str, file: str) -> Recipe:
    return recipe_from_data(parse_toml(text, file), file)


def load_recipe(path: str | Path) -> Recipe:
    return parse_recipe(read_text(path), str(path))
