"""Strategy tables by zone kind, found through the `farmcore.strategies` entry points.

farmcore knows a recipe's generic shape (head, envelope, stages, periods); the tables a kind's strategies
read, with their keys, ranges, units and defaults, are declared by the package that runs that kind of zone
(farmctl: greenhouse, aquactl: tank), which registers them as it registers its controller
(farmcore/runtime/controllers.py). farmcore never imports those packages. Each entry point names a
`StrategyTables` subclass.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points

from farmcore.recipe.schema import Recipe, StrategyTables

GROUP = "farmcore.strategies"
log = logging.getLogger(__name__)


@cache
def installed() -> dict[str, type[StrategyTables]]:
    """{zone kind: its strategy tables} of the installed packages (read once a process)."""
    found: dict[str, type[StrategyTables]] = {}
    for ep in entry_points(group=GROUP):
        try:
            schema = ep.load()
        except ImportError as exc:  # a half-installed package must not stop the other kind's recipes
            log.warning("strategy tables of %s recipes (%s) cannot be loaded: %s", ep.name, ep.value, exc)
            continue
        if not (isinstance(schema, type) and issubclass(schema, StrategyTables)):
            log.warning("strategy tables of %s recipes (%s) are not StrategyTables", ep.name, ep.value)
            continue
        found[ep.name] = schema
    return found


def recipe_model(kind: str) -> type[Recipe] | None:
    """The schema of a `kind` recipe with its strategy tables, None when no package declares them."""
    schema = installed().get(kind)
    return None if schema is None else Recipe[schema]  # type: ignore[valid-type]
