"""Loading a recipe file: TOML -> schema -> cross-field rules, each error one line naming file and field.

`recipes/crops/tomato.toml: stages[1].periods[0].air_temperature: 35 is outside the envelope 10..30`
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from farmcore.datafile import parse_checked, read_text
from farmcore.errors import ConfigError
from farmcore.recipe.schema import HUMIDITY_QUANTITIES, QUANTITIES, Recipe
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

    _check_strategy_times(recipe.strategy.tables(), "strategy", fail)

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
        if stage.strategy is not None:
            _check_strategy_times(stage.strategy.tables(), f"{where}.strategy", fail)
        starts: set[str] = set()
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


def _check_strategy_times(
    tables: dict[str, dict[str, object]], where: str, fail: Callable[[str, str], ConfigError]
) -> None:
    for m, text in enumerate(tables.get("feeding", {}).get("meals") or []):
        try:
            parse_start(str(text))
        except ValueError as exc:
            raise fail(f"{where}.feeding.meals[{m}]", str(exc)) from None
    for table, keys in (("irrigation", ("start", "stop")), ("lighting", ("on", "off"))):
        for key in keys:
            text = tables.get(table, {}).get(key)
            if text is None:
                continue
            try:
                parse_start(str(text))
            except ValueError as exc:
                raise fail(f"{where}.{table}.{key}", str(exc)) from None


def parse_recipe(text: str, file: str) -> Recipe:
    return parse_checked(Recipe, text, file, check_recipe)


def load_recipe(path: str | Path) -> Recipe:
    return parse_recipe(read_text(path), str(path))
